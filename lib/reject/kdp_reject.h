/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Rejecting a new flow the way kube-proxy's REJECT rule does: a TCP RST for
 * TCP, an ICMP port unreachable otherwise. Both are written over the
 * offending packet, addressed back to its sender.
 */
#ifndef KDP_REJECT_H
#define KDP_REJECT_H

#include <rte_mbuf.h>

/**
 * Turns parsed TCP segment @p m into the RST that answers it (RFC 9293
 * §3.10.7.1: seq from its ACK, or ack of its sequence space when it had
 * none), from its destination to its source. @return 0, or -EINVAL when
 * it is a RST itself (never answered).
 */
int kdp_reject_tcp_reset(struct rte_mbuf *m);

/**
 * Rejects parsed packet @p m: RST for TCP, ICMP port unreachable from
 * @p from (host order; the address the client tried) otherwise.
 * @return 0, or < 0 when nothing may be sent (RST to a RST, error about an
 * error); the caller then drops it.
 */
int kdp_reject(struct rte_mbuf *m, uint32_t from);

struct kdp_in6;

/** kdp_reject_tcp_reset() for a parsed IPv6 TCP segment (extension
 *  headers are left out of the RST). */
int kdp_reject6_tcp_reset(struct rte_mbuf *m);

/**
 * Rejects parsed IPv6 packet @p m: RST for TCP, ICMPv6 port unreachable
 * from @p from otherwise. @return as kdp_reject().
 */
int kdp_reject6(struct rte_mbuf *m, const struct kdp_in6 *from);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * ICMP messages kdp originates: errors (time exceeded, fragmentation
 * needed) written over the offending packet, and echo replies for kdp's own
 * addresses. Both work in place on the mbuf, so the error path allocates
 * nothing. RFC 792 / RFC 1812 §4.3.2: no error about an ICMP error, a later
 * fragment, or a non-unicast source.
 */
#ifndef KDP_ICMP_H
#define KDP_ICMP_H

#include <stdint.h>
#include <rte_mbuf.h>

/* RFC 792 types and codes kdp uses. */
#define KDP_ICMP_ECHO_REPLY 0
#define KDP_ICMP_DEST_UNREACH 3
#define KDP_ICMP_CODE_PORT_UNREACH 3
#define KDP_ICMP_CODE_FRAG_NEEDED 4
#define KDP_ICMP_ECHO_REQUEST 8
#define KDP_ICMP_TIME_EXCEEDED 11

/**
 * Rewrites parsed IPv4 packet @p m into an ICMP error of @p type / @p code
 * sent from @p src_ip (host order) back to the packet's source, quoting its
 * IP header and the first 8 bytes of payload. @p mtu is written for
 * fragmentation-needed (type 3 code 4), else ignored. The Ethernet header is
 * kept for the caller to rewrite.
 * @return 0, or -EPERM when RFC 1812 forbids an error about this packet.
 */
int kdp_icmp_error(struct rte_mbuf *m, uint8_t type, uint8_t code,
		   uint16_t mtu, uint32_t src_ip);

/**
 * Turns an ICMP echo request (parsed, first fragment) into its reply in
 * place: addresses swapped, TTL 64, checksums updated incrementally.
 * @return 0, or -EINVAL if it is not an echo request.
 */
int kdp_icmp_echo_reply(struct rte_mbuf *m);

/* ---- ICMPv6 (RFC 4443) ---- */

struct kdp_in6;

/* Codes kdp uses. */
#define KDP_ICMP6_CODE_PORT_UNREACH 4 /**< destination unreachable: port */

/**
 * Rewrites parsed IPv6 packet @p m into an ICMPv6 error of @p type /
 * @p code sent from @p src back to the packet's source, quoting as much of
 * the packet as fits in the IPv6 minimum MTU (1280 bytes, RFC 4443 §2.4 c).
 * @p param is the 32-bit field after the checksum (the MTU of a packet too
 * big, the pointer of a parameter problem). The Ethernet header is kept
 * for the caller to rewrite.
 * @return 0, -EPERM when RFC 4443 §2.4 (e) forbids an error about this
 * packet (an ICMPv6 error, a source that is not one unicast node), or
 * -ENOSPC when the mbuf cannot hold it.
 */
int kdp_icmp6_error(struct rte_mbuf *m, uint8_t type, uint8_t code, uint32_t param,
		    const struct kdp_in6 *src);

/**
 * Turns an ICMPv6 echo request (parsed) into its reply in place: addresses
 * swapped, hop limit 64, checksum updated incrementally.
 * @return 0, or -EINVAL if it is not an echo request.
 */
int kdp_icmp6_echo_reply(struct rte_mbuf *m);

#endif

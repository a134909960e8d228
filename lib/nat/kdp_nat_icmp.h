/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * ICMP errors about translated flows (destination unreachable, time
 * exceeded, parameter problem): the quoted packet is looked up in conntrack
 * and, with the outer header, rewritten so that each side sees its own view
 * of the flow (RFC 5508 §4.2; what Linux's nf_nat_icmp_reply_translation
 * does).
 */
#ifndef KDP_NAT_ICMP_H
#define KDP_NAT_ICMP_H

#include <rte_mbuf.h>

#include "ct/kdp_ct.h"

/** True for the ICMP types that quote a packet. */
static inline int kdp_nat_icmp_is_error(uint8_t type)
{
	return type == 3 || type == 11 || type == 12;
}

/**
 * Translates parsed ICMP error @p m if the packet it quotes belongs to a
 * translated flow of @p ct. @return 1 translated, 0 not about a tracked
 * flow (forward as is), -1 the quote is too short to use (drop).
 */
int kdp_nat_icmp_error(struct rte_mbuf *m, const struct kdp_ct *ct);

#endif

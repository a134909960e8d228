/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * NAT rewrite of IPv6 packets: addresses and ports set to a new tuple, the
 * L4 checksum fixed incrementally (RFC 1624) over the pseudo-header (RFC
 * 8200 §8.1), which for IPv6 covers ICMPv6 too. TCP, UDP and ICMPv6 echo
 * (the identifier plays the port); a partial checksum (kdp_csum.h) moves by
 * the address change only. IPv6 has no header checksum. Stateless, any
 * thread.
 */
#ifndef KDP_NAT6_H
#define KDP_NAT6_H

#include <string.h>

#include <rte_ip.h>

#include "common/kdp_csum.h"
#include "common/kdp_meta.h"
#include "ct/kdp_ct6.h"
#include "nat/kdp_nat.h"
#include "parse/kdp_parse.h"

/**
 * Rewrites parsed first-fragment IPv6 packet @p m to tuple @p to (for
 * ICMPv6 echo the identifier becomes to->sport).
 */
static inline void kdp_nat6_rewrite(struct rte_mbuf *m, const struct kdp_ct6_key *to)
{
	static const struct kdp_nat_l4 tcp = {0, 2, 16}, udp = {0, 2, 6}, icmp = {4, 4, 2};
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv6_hdr *ip = kdp_parse_ip6(m);
	uint8_t *l4 = rte_pktmbuf_mtod_offset(m, uint8_t *, md->l4_off);
	const struct kdp_nat_l4 *o = md->l4_proto == IPPROTO_TCP    ? &tcp :
				     md->l4_proto == IPPROTO_UDP    ? &udp :
				     md->l4_proto == IPPROTO_ICMPV6 ? &icmp : NULL;
	uint16_t l4c = o ? kdp_nat_get16(l4 + o->csum) : 0;
	int partial = o != NULL && kdp_csum_is_partial(m);
	int udp_nocsum = !partial && md->l4_proto == IPPROTO_UDP && l4c == 0;
	int pseudo = o != NULL && !udp_nocsum;
	int ports = o != NULL && !udp_nocsum && !partial;

	if (memcmp(ip->src_addr, to->src, 16) != 0) {
		if (partial)
			l4c = kdp_csum_partial_update128(l4c, ip->src_addr, to->src);
		else if (pseudo)
			l4c = kdp_csum_update128(l4c, ip->src_addr, to->src);
		memcpy(ip->src_addr, to->src, 16);
	}
	if (memcmp(ip->dst_addr, to->dst, 16) != 0) {
		if (partial)
			l4c = kdp_csum_partial_update128(l4c, ip->dst_addr, to->dst);
		else if (pseudo)
			l4c = kdp_csum_update128(l4c, ip->dst_addr, to->dst);
		memcpy(ip->dst_addr, to->dst, 16);
	}
	if (o == NULL)
		return;
	if (kdp_nat_get16(l4 + o->sport) != to->sport) {
		if (ports)
			l4c = kdp_csum_update16(l4c, kdp_nat_get16(l4 + o->sport), to->sport);
		kdp_nat_put16(l4 + o->sport, to->sport);
	}
	if (o->dport != o->sport && kdp_nat_get16(l4 + o->dport) != to->dport) {
		if (ports)
			l4c = kdp_csum_update16(l4c, kdp_nat_get16(l4 + o->dport), to->dport);
		kdp_nat_put16(l4 + o->dport, to->dport);
	}
	if (md->l4_proto == IPPROTO_UDP && !udp_nocsum && !partial && l4c == 0)
		l4c = 0xffff;
	kdp_nat_put16(l4 + o->csum, l4c);
}

/** kdp_nat_apply() for IPv6: @p m becomes the reverse of the other tuple. */
static inline void kdp_nat6_apply(struct rte_mbuf *m, const struct kdp_ct6_entry *e, uint8_t dir)
{
	struct kdp_ct6_key to = kdp_ct6_key_reverse(&e->key[dir ^ 1]);

	kdp_nat6_rewrite(m, &to);
}

/** True for the ICMPv6 types that quote a packet (RFC 4443 §3). */
static inline int kdp_nat6_icmp_is_error(uint8_t type)
{
	return type >= 1 && type <= 4;
}

/**
 * kdp_nat_icmp_error() for ICMPv6: translates the error @p m quoting a
 * packet of a translated flow of @p ct, outer addresses and checksum
 * included. @return 1 translated, 0 not about a tracked flow, -1 the quote
 * is too short (drop).
 */
int kdp_nat6_icmp_error(struct rte_mbuf *m, const struct kdp_ct6 *ct);

#endif

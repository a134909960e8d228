/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * NAT rewrite: sets a packet's addresses and ports to a new tuple and fixes
 * the IPv4 and L4 checksums incrementally (RFC 1624), pseudo-header
 * included. TCP, UDP (a zero UDP checksum stays zero) and ICMP echo (the
 * identifier plays the port). Stateless, any thread.
 */
#ifndef KDP_NAT_H
#define KDP_NAT_H

#include <string.h>

#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "common/kdp_csum.h"
#include "common/kdp_meta.h"
#include "ct/kdp_ct.h"
#include "parse/kdp_parse.h"

/* Offsets of the ports (or ICMP identifier) and checksum in each L4 header. */
struct kdp_nat_l4 {
	uint8_t sport, dport, csum;
};

static inline uint16_t kdp_nat_get16(const uint8_t *p)
{
	return kdp_load16(p);
}

static inline void kdp_nat_put16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

/**
 * Rewrites parsed first-fragment packet @p m to tuple @p src, @p dst,
 * @p sport, @p dport (network order; for ICMP echo the identifier becomes
 * @p sport). The tuple comes in registers: built in memory and read back
 * as a whole, a reversed key cost a failed store-to-load forward per
 * packet.
 */
static inline void kdp_nat_rewrite_to(struct rte_mbuf *m, uint32_t src, uint32_t dst,
				      uint16_t sport, uint16_t dport)
{
	static const struct kdp_nat_l4 tcp = {0, 2, 16}, udp = {0, 2, 6}, icmp = {4, 4, 2};
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv4_hdr *ip = kdp_parse_ip(m);
	uint8_t *l4 = rte_pktmbuf_mtod_offset(m, uint8_t *, md->l4_off);
	const struct kdp_nat_l4 *o = md->l4_proto == IPPROTO_TCP ? &tcp :
				     md->l4_proto == IPPROTO_UDP ? &udp :
				     md->l4_proto == IPPROTO_ICMP ? &icmp : NULL;
	uint16_t ipc = ip->hdr_checksum;
	uint16_t l4c = o ? kdp_nat_get16(l4 + o->csum) : 0;
	/* A partial checksum (kdp_csum.h) is a pseudo-header sum: addresses
	 * move it the other way, ports not at all. Parse let it through on
	 * TCP/UDP only. */
	int partial = o != NULL && kdp_csum_is_partial(m);
	/* UDP without a checksum (0) keeps none; ICMP has no pseudo-header. */
	int udp_nocsum = !partial && md->l4_proto == IPPROTO_UDP && l4c == 0;
	int pseudo = o != NULL && md->l4_proto != IPPROTO_ICMP && !udp_nocsum;
	int ports = o != NULL && !udp_nocsum && !partial;

	if (ip->src_addr != src) {
		ipc = kdp_csum_update32(ipc, ip->src_addr, src);
		if (partial)
			l4c = kdp_csum_partial_update32(l4c, ip->src_addr, src);
		else if (pseudo)
			l4c = kdp_csum_update32(l4c, ip->src_addr, src);
		ip->src_addr = src;
	}
	if (ip->dst_addr != dst) {
		ipc = kdp_csum_update32(ipc, ip->dst_addr, dst);
		if (partial)
			l4c = kdp_csum_partial_update32(l4c, ip->dst_addr, dst);
		else if (pseudo)
			l4c = kdp_csum_update32(l4c, ip->dst_addr, dst);
		ip->dst_addr = dst;
	}
	ip->hdr_checksum = ipc;
	if (o == NULL)
		return;
	if (kdp_nat_get16(l4 + o->sport) != sport) {
		if (ports)
			l4c = kdp_csum_update16(l4c, kdp_nat_get16(l4 + o->sport), sport);
		kdp_nat_put16(l4 + o->sport, sport);
	}
	if (o->dport != o->sport && kdp_nat_get16(l4 + o->dport) != dport) {
		if (ports)
			l4c = kdp_csum_update16(l4c, kdp_nat_get16(l4 + o->dport), dport);
		kdp_nat_put16(l4 + o->dport, dport);
	}
	/* RFC 768: a computed UDP checksum of zero is sent as all ones. */
	if (md->l4_proto == IPPROTO_UDP && !udp_nocsum && !partial && l4c == 0)
		l4c = 0xffff;
	kdp_nat_put16(l4 + o->csum, l4c);
}

/**
 * Applies the translation of entry @p e to a packet that matched direction
 * @p dir: it becomes the reverse of the other direction's tuple.
 */
static inline void kdp_nat_apply(struct rte_mbuf *m, const struct kdp_ct_entry *e,
				 uint8_t dir)
{
	const struct kdp_ct_key *k = &e->key[dir ^ 1];

	kdp_nat_rewrite_to(m, k->dst, k->src, k->dport, k->sport);
}

#endif

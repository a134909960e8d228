/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_icmp.h>
#include <rte_ip.h>

#include "common/kdp_csum.h"
#include "common/kdp_meta.h"
#include "parse/kdp_parse.h"
#include "kdp_nat.h"
#include "kdp_nat_icmp.h"

int kdp_nat_icmp_error(struct rte_mbuf *m, const struct kdp_ct *ct)
{
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv4_hdr *ip = kdp_parse_ip(m);
	struct rte_icmp_hdr *icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *,
							    md->l4_off);
	uint16_t icmp_len = (uint16_t)(rte_pktmbuf_data_len(m) - md->l4_off);
	struct rte_ipv4_hdr *in = (struct rte_ipv4_hdr *)(icmp + 1);
	uint8_t *inl4;
	uint16_t inl4_len, ihl;
	struct kdp_ct_key k, rk;
	struct kdp_ct_entry *e;
	const struct kdp_ct_key *to;
	uint8_t dir;

	if (icmp_len < sizeof(*icmp) + sizeof(*in) + 8)
		return -1;
	ihl = (uint16_t)((in->version_ihl & 0xf) * 4);
	if ((in->version_ihl >> 4) != 4 || ihl < sizeof(*in) ||
	    icmp_len < sizeof(*icmp) + ihl + 8)
		return -1;
	inl4 = (uint8_t *)in + ihl;
	inl4_len = (uint16_t)(icmp_len - sizeof(*icmp) - ihl);
	memset(&k, 0, sizeof(k));
	k.src = in->src_addr;
	k.dst = in->dst_addr;
	k.proto = in->next_proto_id;
	switch (k.proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		memcpy(&k.sport, inl4, 2);
		memcpy(&k.dport, inl4 + 2, 2);
		break;
	case IPPROTO_ICMP:
		if (inl4[0] != 8 && inl4[0] != 0)
			return 0;
		memcpy(&k.sport, inl4 + 4, 2);
		k.dport = k.sport;
		break;
	default:
		return 0;
	}
	/* The quoted packet went one way; its reverse is a tuple we track. */
	rk = kdp_ct_key_reverse(&k);
	kdp_ct_lookup_bulk(ct, &rk, 1, &e, &dir);
	if (e == NULL || !(e->flags & (KDP_CT_F_DNAT | KDP_CT_F_SNAT)))
		return 0;
	/* The quote becomes the other direction's tuple; the outer addresses
	 * follow when they are the flow's own. */
	to = &e->key[dir ^ 1];
	if (ip->dst_addr == e->key[dir].dst)
		ip->dst_addr = to->src;
	if (ip->src_addr == e->key[dir].src)
		ip->src_addr = to->dst;
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);

	/* Inner L4 checksum, incrementally, when the quote holds it. */
	if (k.proto == IPPROTO_UDP || (k.proto == IPPROTO_TCP && inl4_len >= 18)) {
		uint8_t off = k.proto == IPPROTO_UDP ? 6 : 16;
		uint16_t c = kdp_load16(inl4 + off);

		if (!(k.proto == IPPROTO_UDP && c == 0)) {
			c = kdp_csum_update32(c, in->src_addr, to->src);
			c = kdp_csum_update32(c, in->dst_addr, to->dst);
			c = kdp_csum_update16(c, kdp_load16(inl4), to->sport);
			c = kdp_csum_update16(c, kdp_load16(inl4 + 2), to->dport);
			memcpy(inl4 + off, &c, 2);
		}
	}
	in->src_addr = to->src;
	in->dst_addr = to->dst;
	if (k.proto == IPPROTO_ICMP) {
		memcpy(inl4 + 4, &to->sport, 2);
		/* The quoted echo's own checksum is left as it was quoted. */
	} else {
		memcpy(inl4, &to->sport, 2);
		memcpy(inl4 + 2, &to->dport, 2);
	}
	in->hdr_checksum = 0;
	in->hdr_checksum = rte_ipv4_cksum(in);
	icmp->icmp_cksum = 0;
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, icmp_len);
	return 1;
}

/* SPDX-License-Identifier: BSD-3-Clause */
#include <string.h>

#include <rte_ip.h>

#include "common/kdp_csum.h"
#include "common/kdp_meta.h"
#include "parse/kdp_parse.h"
#include "kdp_nat6.h"

int kdp_nat6_icmp_error(struct rte_mbuf *m, const struct kdp_ct6 *ct)
{
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv6_hdr *ip = kdp_parse_ip6(m);
	uint8_t *icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, md->l4_off);
	uint16_t icmp_len = (uint16_t)(rte_pktmbuf_data_len(m) - md->l4_off);
	struct rte_ipv6_hdr *in = (struct rte_ipv6_hdr *)(icmp + 8);
	uint8_t *inl4 = (uint8_t *)(in + 1);
	uint16_t inl4_len, c;
	struct kdp_ct6_key k, rk;
	struct kdp_ct6_entry *e;
	const struct kdp_ct6_key *to;
	uint8_t dir;

	/* The quoted header and 8 bytes of what follows it. */
	if (icmp_len < 8 + KDP_IP6_LEN + 8 || (((const uint8_t *)in)[0] >> 4) != 6)
		return -1;
	inl4_len = (uint16_t)(icmp_len - 8 - KDP_IP6_LEN);
	memset(&k, 0, sizeof(k));
	memcpy(k.src, in->src_addr, 16);
	memcpy(k.dst, in->dst_addr, 16);
	k.proto = in->proto; /* a quote with extension headers is left alone */
	switch (k.proto) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		memcpy(&k.sport, inl4, 2);
		memcpy(&k.dport, inl4 + 2, 2);
		break;
	case IPPROTO_ICMPV6:
		if (inl4[0] != KDP_ICMP6_ECHO_REQUEST && inl4[0] != KDP_ICMP6_ECHO_REPLY)
			return 0;
		memcpy(&k.sport, inl4 + 4, 2);
		k.dport = k.sport;
		break;
	default:
		return 0;
	}
	rk = kdp_ct6_key_reverse(&k);
	kdp_ct6_lookup_bulk(ct, &rk, 1, &e, &dir);
	if (e == NULL || !(e->flags & (KDP_CT_F_DNAT | KDP_CT_F_SNAT)))
		return 0;
	to = &e->key[dir ^ 1];
	if (memcmp(ip->dst_addr, e->key[dir].dst, 16) == 0)
		memcpy(ip->dst_addr, to->src, 16);
	if (memcmp(ip->src_addr, e->key[dir].src, 16) == 0)
		memcpy(ip->src_addr, to->dst, 16);
	/* The quoted L4 checksum, incrementally, when the quote holds it. */
	if (k.proto != IPPROTO_TCP || inl4_len >= 18) {
		uint8_t off = k.proto == IPPROTO_TCP ? 16 : k.proto == IPPROTO_UDP ? 6 : 2;

		c = kdp_load16(inl4 + off);
		if (!(k.proto == IPPROTO_UDP && c == 0)) {
			c = kdp_csum_update128(c, in->src_addr, to->src);
			c = kdp_csum_update128(c, in->dst_addr, to->dst);
			if (k.proto == IPPROTO_ICMPV6) {
				c = kdp_csum_update16(c, kdp_load16(inl4 + 4), to->sport);
			} else {
				c = kdp_csum_update16(c, kdp_load16(inl4), to->sport);
				c = kdp_csum_update16(c, kdp_load16(inl4 + 2), to->dport);
			}
			memcpy(inl4 + off, &c, 2);
		}
	}
	memcpy(in->src_addr, to->src, 16);
	memcpy(in->dst_addr, to->dst, 16);
	if (k.proto == IPPROTO_ICMPV6) {
		memcpy(inl4 + 4, &to->sport, 2);
	} else {
		memcpy(inl4, &to->sport, 2);
		memcpy(inl4 + 2, &to->dport, 2);
	}
	/* The error's own checksum covers the outer addresses too. */
	icmp[2] = icmp[3] = 0;
	c = (uint16_t)~kdp_csum_add(kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr, icmp_len,
							 IPPROTO_ICMPV6),
				    kdp_csum_sum(icmp, icmp_len));
	memcpy(icmp + 2, &c, 2);
	return 1;
}

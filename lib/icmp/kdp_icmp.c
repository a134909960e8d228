/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_icmp.h>
#include <rte_ip.h>

#include "common/kdp_csum.h"
#include "common/kdp_meta.h"
#include "parse/kdp_parse.h"
#include "kdp_icmp.h"

/* Largest quote: a 60-byte IP header and 8 bytes of its payload. */
#define QUOTE_MAX (60 + 8)

static int is_icmp_error(uint8_t type)
{
	return type == KDP_ICMP_DEST_UNREACH || type == 4 /* quench */ ||
	       type == 5 /* redirect */ || type == KDP_ICMP_TIME_EXCEEDED ||
	       type == 12 /* parameter problem */;
}

int kdp_icmp_error(struct rte_mbuf *m, uint8_t type, uint8_t code,
		   uint16_t mtu, uint32_t src_ip)
{
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv4_hdr *ip = kdp_parse_ip(m);
	uint8_t quote[QUOTE_MAX];
	uint16_t ihl = (uint16_t)((ip->version_ihl & 0xf) * 4);
	uint16_t tot = rte_be_to_cpu_16(ip->total_length);
	uint16_t qlen = RTE_MIN((uint16_t)(ihl + 8), tot);
	uint32_t dst = rte_be_to_cpu_32(ip->src_addr);
	struct rte_icmp_hdr *icmp;
	uint16_t len;

	if (md->flags & KDP_META_F_LATER_FRAG)
		return -EPERM;
	if (ip->next_proto_id == IPPROTO_ICMP) {
		const struct rte_icmp_hdr *q = (const struct rte_icmp_hdr *)
			((const uint8_t *)ip + ihl);
		if (is_icmp_error(q->icmp_type))
			return -EPERM;
	}
	if (kdp_addr_not_host(dst) || dst == 0xffffffff)
		return -EPERM;
	memcpy(quote, ip, qlen);

	len = (uint16_t)(sizeof(*ip) + sizeof(*icmp) + qlen);
	rte_pktmbuf_data_len(m) = (uint16_t)(KDP_ETH_LEN + len);
	m->pkt_len = rte_pktmbuf_data_len(m);

	memset(ip, 0, sizeof(*ip));
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16(len);
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_ICMP;
	ip->src_addr = rte_cpu_to_be_32(src_ip);
	ip->dst_addr = rte_cpu_to_be_32(dst);
	ip->hdr_checksum = rte_ipv4_cksum(ip);

	icmp = (struct rte_icmp_hdr *)(ip + 1);
	icmp->icmp_type = type;
	icmp->icmp_code = code;
	icmp->icmp_cksum = 0;
	/* Unused word; for fragmentation needed its low half is the MTU. */
	icmp->icmp_ident = 0;
	icmp->icmp_seq_nb = (type == KDP_ICMP_DEST_UNREACH && code == KDP_ICMP_CODE_FRAG_NEEDED) ?
				    rte_cpu_to_be_16(mtu) :
				    0;
	memcpy(icmp + 1, quote, qlen);
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, sizeof(*icmp) + qlen);

	md->l4_proto = IPPROTO_ICMP;
	md->l4_off = (uint16_t)(KDP_ETH_LEN + sizeof(*ip));
	md->flags = 0;
	kdp_csum_clear_partial(m); /* its own checksum is whole */
	return 0;
}

int kdp_icmp_echo_reply(struct rte_mbuf *m)
{
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv4_hdr *ip = kdp_parse_ip(m);
	struct rte_icmp_hdr *icmp;
	uint32_t a;
	uint16_t old_ttl;

	if (md->l4_proto != IPPROTO_ICMP || (md->flags & KDP_META_F_LATER_FRAG))
		return -EINVAL;
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, md->l4_off);
	if (icmp->icmp_type != RTE_IP_ICMP_ECHO_REQUEST || icmp->icmp_code != 0)
		return -EINVAL;
	/* Swapping the addresses leaves the IP checksum unchanged. */
	a = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = a;
	old_ttl = kdp_load16(&ip->time_to_live);
	ip->time_to_live = 64;
	ip->hdr_checksum = kdp_csum_update16(ip->hdr_checksum, old_ttl,
					     kdp_load16(&ip->time_to_live));
	icmp->icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	icmp->icmp_cksum = kdp_csum_update16(
		icmp->icmp_cksum, rte_cpu_to_be_16(RTE_IP_ICMP_ECHO_REQUEST << 8),
		rte_cpu_to_be_16(RTE_IP_ICMP_ECHO_REPLY << 8));
	return 0;
}

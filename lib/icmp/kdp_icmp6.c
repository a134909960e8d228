/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_icmp.h>
#include <rte_ip.h>

#include "common/kdp_addr.h"
#include "common/kdp_csum.h"
#include "common/kdp_meta.h"
#include "parse/kdp_parse.h"
#include "kdp_icmp.h"

/* An error and its quote fit the IPv6 minimum MTU. */
#define IP6_MIN_MTU 1280
#define ERR_HDRS (KDP_IP6_LEN + 8)

/* True when the packet is itself an ICMPv6 error (types below 128). */
static int is_icmp6_error(struct rte_mbuf *m)
{
	const struct kdp_meta *md = kdp_meta(m);

	if (md->l4_proto != IPPROTO_ICMPV6 || (md->flags & KDP_META_F_LATER_FRAG))
		return 0;
	return *rte_pktmbuf_mtod_offset(m, const uint8_t *, md->l4_off) < 128;
}

int kdp_icmp6_error(struct rte_mbuf *m, uint8_t type, uint8_t code, uint32_t param,
		    const struct kdp_in6 *src)
{
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv6_hdr *ip = kdp_parse_ip6(m);
	uint16_t tot = (uint16_t)(KDP_IP6_LEN + rte_be_to_cpu_16(ip->payload_len));
	uint16_t qlen = RTE_MIN(tot, (uint16_t)(IP6_MIN_MTU - ERR_HDRS));
	uint16_t need = (uint16_t)(KDP_ETH_LEN + ERR_HDRS + qlen);
	struct kdp_in6 dst;
	uint8_t *icmp;
	uint32_t p = rte_cpu_to_be_32(param);
	uint16_t c;

	memcpy(&dst, ip->src_addr, sizeof(dst));
	if (is_icmp6_error(m) || kdp_addr6_not_host(&dst))
		return -EPERM;
	if (need > rte_pktmbuf_data_len(m) &&
	    rte_pktmbuf_append(m, (uint16_t)(need - rte_pktmbuf_data_len(m))) == NULL)
		return -ENOSPC;
	icmp = (uint8_t *)ip + KDP_IP6_LEN;
	memmove(icmp + 8, ip, qlen);
	rte_pktmbuf_data_len(m) = need;
	m->pkt_len = need;

	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16((uint16_t)(8 + qlen));
	ip->proto = IPPROTO_ICMPV6;
	ip->hop_limits = 64;
	memcpy(ip->src_addr, src, 16);
	memcpy(ip->dst_addr, &dst, 16);
	icmp[0] = type;
	icmp[1] = code;
	icmp[2] = icmp[3] = 0;
	memcpy(icmp + 4, &p, 4);
	c = (uint16_t)~kdp_csum_add(kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr,
							 (uint32_t)(8 + qlen), IPPROTO_ICMPV6),
				    kdp_csum_sum(icmp, (size_t)(8 + qlen)));
	memcpy(icmp + 2, &c, 2);

	md->kind = KDP_PKT_IPV6;
	md->l4_proto = IPPROTO_ICMPV6;
	md->l4_off = (uint16_t)(KDP_ETH_LEN + KDP_IP6_LEN);
	md->flags = 0;
	kdp_csum_clear_partial(m); /* its own checksum is whole */
	return 0;
}

int kdp_icmp6_echo_reply(struct rte_mbuf *m)
{
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv6_hdr *ip = kdp_parse_ip6(m);
	uint8_t *icmp, a[16];
	uint16_t c;

	if (md->l4_proto != IPPROTO_ICMPV6 || (md->flags & KDP_META_F_FRAG6))
		return -EINVAL;
	icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, md->l4_off);
	if (icmp[0] != KDP_ICMP6_ECHO_REQUEST || icmp[1] != 0)
		return -EINVAL;
	/* Swapping the addresses leaves the pseudo-header sum unchanged. */
	memcpy(a, ip->src_addr, 16);
	memcpy(ip->src_addr, ip->dst_addr, 16);
	memcpy(ip->dst_addr, a, 16);
	ip->hop_limits = 64;
	icmp[0] = KDP_ICMP6_ECHO_REPLY;
	memcpy(&c, icmp + 2, 2);
	c = kdp_csum_update16(c, rte_cpu_to_be_16(KDP_ICMP6_ECHO_REQUEST << 8),
			      rte_cpu_to_be_16(KDP_ICMP6_ECHO_REPLY << 8));
	memcpy(icmp + 2, &c, 2);
	return 0;
}

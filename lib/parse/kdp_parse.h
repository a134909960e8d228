/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Parse stage: validates Ethernet, ARP, IPv4 and the TCP/UDP/ICMP header of
 * a received frame and fills its kdp_meta. Stateless and thread-safe.
 */
#ifndef KDP_PARSE_H
#define KDP_PARSE_H

#include <netinet/in.h>
#include <rte_arp.h>
#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "common/kdp_addr.h"
#include "common/kdp_csum.h"
#include "common/kdp_drop.h"
#include "common/kdp_meta.h"

#define KDP_ETH_LEN ((uint16_t)sizeof(struct rte_ether_hdr))

/** IPv4 header of a parsed IPv4 frame. */
static inline struct rte_ipv4_hdr *kdp_parse_ip(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, KDP_ETH_LEN);
}


/**
 * L4 header checks for a first (or only) fragment. @p partial: more
 * fragments follow, so the UDP length may exceed what is here.
 */
static inline enum kdp_drop kdp_parse_l4(const uint8_t *l4, uint16_t l4_len,
					 uint8_t proto, int partial)
{
	switch (proto) {
	case IPPROTO_TCP: {
		const struct rte_tcp_hdr *t = (const struct rte_tcp_hdr *)l4;
		if (l4_len < sizeof(*t) || (t->data_off >> 4) < 5 ||
		    (uint16_t)((t->data_off >> 4) * 4) > l4_len)
			return KDP_DROP_L4_TRUNCATED;
		break;
	}
	case IPPROTO_UDP: {
		const struct rte_udp_hdr *u = (const struct rte_udp_hdr *)l4;
		if (l4_len < sizeof(*u) ||
		    rte_be_to_cpu_16(u->dgram_len) < sizeof(*u) ||
		    (!partial && rte_be_to_cpu_16(u->dgram_len) > l4_len))
			return KDP_DROP_L4_TRUNCATED;
		break;
	}
	case IPPROTO_ICMP:
		if (l4_len < sizeof(struct rte_icmp_hdr))
			return KDP_DROP_L4_TRUNCATED;
		break;
	default:
		break;
	}
	return KDP_DROP_NONE;
}

/**
 * Validates one frame and fills kdp_meta(m): kind, l4_proto, l4_off, flags.
 * Trims Ethernet padding beyond the IPv4 total length.
 * @return KDP_DROP_NONE when the packet goes on, else the drop reason.
 */
static inline enum kdp_drop kdp_parse(struct rte_mbuf *m)
{
	struct kdp_meta *md = kdp_meta(m);
	uint16_t len = rte_pktmbuf_data_len(m);
	const struct rte_ether_hdr *eth;
	struct rte_ipv4_hdr *ip;
	uint16_t ihl, tot, frag;

	md->flags = 0;
	md->punt = KDP_PUNT_NONE;
	if (unlikely(m->nb_segs != 1))
		return KDP_DROP_MULTISEG;
	if (unlikely(len < KDP_ETH_LEN))
		return KDP_DROP_ETH_TRUNCATED;
	eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);

	if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_ARP)) {
		const struct rte_arp_hdr *a =
			(const struct rte_arp_hdr *)(eth + 1);
		if (len < KDP_ETH_LEN + sizeof(*a) ||
		    a->arp_hardware != RTE_BE16(RTE_ARP_HRD_ETHER) ||
		    a->arp_protocol != RTE_BE16(RTE_ETHER_TYPE_IPV4) ||
		    a->arp_hlen != RTE_ETHER_ADDR_LEN || a->arp_plen != 4)
			return KDP_DROP_ARP_MALFORMED;
		md->kind = KDP_PKT_ARP;
		return KDP_DROP_NONE;
	}
	if (unlikely(eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4)))
		return KDP_DROP_ETHERTYPE_UNSUPPORTED;

	if (unlikely(len < KDP_ETH_LEN + sizeof(struct rte_ipv4_hdr)))
		return KDP_DROP_IP_TRUNCATED;
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	if (unlikely((ip->version_ihl >> 4) != 4))
		return KDP_DROP_IP_BAD_VERSION;
	ihl = (uint16_t)((ip->version_ihl & 0xf) * 4);
	if (unlikely(ihl < sizeof(*ip) || KDP_ETH_LEN + ihl > len))
		return KDP_DROP_IP_BAD_IHL;
	tot = rte_be_to_cpu_16(ip->total_length);
	if (unlikely(tot < ihl || KDP_ETH_LEN + tot > len))
		return KDP_DROP_IP_BAD_TOTAL_LENGTH;
	if (unlikely(KDP_ETH_LEN + tot < len))
		rte_pktmbuf_trim(m, (uint16_t)(len - KDP_ETH_LEN - tot));
	switch (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) {
	case RTE_MBUF_F_RX_IP_CKSUM_GOOD:
		break;
	case RTE_MBUF_F_RX_IP_CKSUM_BAD:
		return KDP_DROP_IP_BAD_CHECKSUM;
	default:
		if (unlikely(!kdp_csum_ipv4_ok(ip, ihl)))
			return KDP_DROP_IP_BAD_CHECKSUM;
	}
	if (unlikely(kdp_addr_not_host(rte_be_to_cpu_32(ip->src_addr))))
		return KDP_DROP_IP_BAD_SOURCE;

	md->kind = KDP_PKT_IPV4;
	md->l4_proto = ip->next_proto_id;
	md->l4_off = (uint16_t)(KDP_ETH_LEN + ihl);
	frag = rte_be_to_cpu_16(ip->fragment_offset);
	/* A partial checksum (kdp_csum.h) only ever sits on whole TCP/UDP. */
	if (unlikely(kdp_csum_is_partial(m)) &&
	    ((frag & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)) ||
	     (md->l4_proto != IPPROTO_TCP && md->l4_proto != IPPROTO_UDP)))
		return KDP_DROP_CSUM_PARTIAL_UNSUPPORTED;
	if (frag & RTE_IPV4_HDR_OFFSET_MASK) {
		md->flags |= KDP_META_F_LATER_FRAG;
		return KDP_DROP_NONE;
	}
	return kdp_parse_l4(rte_pktmbuf_mtod_offset(m, const uint8_t *,
						    md->l4_off),
			    (uint16_t)(tot - ihl), md->l4_proto,
			    (frag & RTE_IPV4_HDR_MF_FLAG) != 0);
}

#endif

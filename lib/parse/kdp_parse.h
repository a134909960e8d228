/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Parse stage: validates Ethernet, ARP, IPv4 or IPv6 (its extension headers
 * walked, at most KDP_IP6_EXT_MAX of them in KDP_IP6_EXT_BYTES) and the
 * TCP/UDP/ICMP/ICMPv6 header of a received frame and fills its kdp_meta.
 * Stateless and thread-safe.
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
#define KDP_IP6_LEN ((uint16_t)sizeof(struct rte_ipv6_hdr))
/** Most IPv6 extension headers a packet may carry. */
#define KDP_IP6_EXT_MAX 8
/** Most bytes of IPv6 extension headers a packet may carry. */
#define KDP_IP6_EXT_BYTES 512

/* ICMPv6 types (RFC 4443, RFC 4861). */
#define KDP_ICMP6_DEST_UNREACH 1
#define KDP_ICMP6_PKT_TOO_BIG 2
#define KDP_ICMP6_TIME_EXCEEDED 3
#define KDP_ICMP6_PARAM_PROBLEM 4
#define KDP_ICMP6_ECHO_REQUEST 128
#define KDP_ICMP6_ECHO_REPLY 129
#define KDP_ICMP6_ROUTER_SOLICIT 133
#define KDP_ICMP6_ROUTER_ADVERT 134
#define KDP_ICMP6_NEIGH_SOLICIT 135
#define KDP_ICMP6_NEIGH_ADVERT 136
#define KDP_ICMP6_REDIRECT 137

/** IPv4 header of a parsed IPv4 frame. */
static inline struct rte_ipv4_hdr *kdp_parse_ip(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, KDP_ETH_LEN);
}

/** True for ICMPv6 messages that stay on their link: multicast listener
 *  discovery (RFC 2710, RFC 3810) and neighbour discovery (RFC 4861). */
static inline bool kdp_icmp6_is_link_msg(uint8_t type)
{
	return (type >= 130 && type <= 137) || type == 143;
}

/** IPv6 header of a parsed IPv6 frame. */
static inline struct rte_ipv6_hdr *kdp_parse_ip6(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, KDP_ETH_LEN);
}

/** True when parsed frame @p m is IPv6 (its metadata says so). */
static inline bool kdp_parse_is_ip6(struct rte_mbuf *m)
{
	return kdp_meta(m)->kind == KDP_PKT_IPV6;
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
	case IPPROTO_ICMPV6:
		if (l4_len < sizeof(struct rte_icmp_hdr))
			return KDP_DROP_L4_TRUNCATED;
		break;
	default:
		break;
	}
	return KDP_DROP_NONE;
}

/*
 * RFC 4861 §7.1.1 and §7.1.2 checks of a neighbour solicitation or
 * advertisement at @p l4 (@p len bytes): hop limit 255, code 0, at least
 * 24 bytes, a valid checksum, a unicast target, and a solicitation from ::
 * (duplicate address detection) going to a solicited-node address.
 */
static inline enum kdp_drop kdp_parse_nd(const struct rte_ipv6_hdr *ip, const uint8_t *l4,
					 uint16_t len)
{
	const struct kdp_in6 *target = (const struct kdp_in6 *)(l4 + 8);
	uint16_t sum;

	if (ip->hop_limits != 255 || l4[1] != 0 || len < 24 ||
	    kdp_addr6_multicast(target))
		return KDP_DROP_ND_MALFORMED;
	sum = kdp_csum_add(kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr, len,
						IPPROTO_ICMPV6),
			   kdp_csum_sum(l4, len));
	if (sum != 0xffff)
		return KDP_DROP_ND_MALFORMED;
	if (kdp_addr6_is_zero((const struct kdp_in6 *)ip->src_addr) &&
	    (l4[0] != KDP_ICMP6_NEIGH_SOLICIT || ip->dst_addr[0] != 0xff))
		return KDP_DROP_ND_MALFORMED;
	return KDP_DROP_NONE;
}

/**
 * Validates an IPv6 frame of @p len bytes (Ethernet header included) and
 * fills kdp_meta(m): the extension headers are walked to the upper-layer
 * header (l4_proto, l4_off), fragments are flagged, neighbour solicitations
 * and advertisements become KDP_PKT_ND. Called by kdp_parse().
 */
static inline enum kdp_drop kdp_parse6(struct rte_mbuf *m, uint16_t len)
{
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv6_hdr *ip;
	const uint8_t *p = rte_pktmbuf_mtod(m, const uint8_t *);
	uint16_t off = KDP_ETH_LEN + KDP_IP6_LEN, end, pl;
	uint8_t nh;
	unsigned int n = 0;
	int frag_more = 0;

	if (unlikely(len < KDP_ETH_LEN + KDP_IP6_LEN))
		return KDP_DROP_IP6_TRUNCATED;
	ip = (struct rte_ipv6_hdr *)(p + KDP_ETH_LEN);
	if (unlikely((p[KDP_ETH_LEN] >> 4) != 6))
		return KDP_DROP_IP_BAD_VERSION;
	pl = rte_be_to_cpu_16(ip->payload_len);
	/* 0 with Hop-by-Hop options is a jumbogram (RFC 2675): never on a
	 * link kdp serves. */
	if (unlikely((pl == 0 && ip->proto == IPPROTO_HOPOPTS) || (uint32_t)off + pl > len))
		return KDP_DROP_IP6_BAD_PAYLOAD_LENGTH;
	end = (uint16_t)(off + pl);
	if (unlikely(end < len))
		rte_pktmbuf_trim(m, (uint16_t)(len - end));
	/* From here on the addresses are readable (the flow monitor shows
	 * them for the drops that follow). */
	md->kind = KDP_PKT_IPV6;
	md->l4_proto = ip->proto;
	md->l4_off = off;
	if (unlikely(kdp_addr6_not_host((const struct kdp_in6 *)ip->src_addr)) &&
	    !kdp_addr6_is_zero((const struct kdp_in6 *)ip->src_addr))
		return KDP_DROP_IP6_BAD_SOURCE;

	nh = ip->proto;
	for (;;) {
		const uint8_t *x = p + off;
		uint16_t hlen;

		switch (nh) {
		case IPPROTO_HOPOPTS:
			if (unlikely(n != 0))
				return KDP_DROP_IP6_HOP_BY_HOP_MISPLACED;
			/* fall through */
		case IPPROTO_DSTOPTS:
		case IPPROTO_ROUTING:
			if (unlikely(off + 8 > end))
				return KDP_DROP_IP6_EXT_TRUNCATED;
			hlen = (uint16_t)((x[1] + 1) * 8);
			if (unlikely(nh == IPPROTO_ROUTING && x[3] != 0))
				return KDP_DROP_IP6_ROUTING_HEADER;
			break;
		case IPPROTO_AH:
			if (unlikely(off + 8 > end))
				return KDP_DROP_IP6_EXT_TRUNCATED;
			hlen = (uint16_t)((x[1] + 2) * 4);
			break;
		case IPPROTO_FRAGMENT: {
			uint16_t fo;

			if (unlikely(off + 8 > end))
				return KDP_DROP_IP6_EXT_TRUNCATED;
			fo = (uint16_t)(x[2] << 8 | x[3]);
			frag_more = fo & 1;
			if (unlikely((frag_more && (end - off - 8) % 8 != 0) ||
				     (uint32_t)(fo & 0xfff8) + (end - off - 8) > 65535))
				return KDP_DROP_IP6_FRAG_BAD;
			/* An atomic fragment (offset 0, no more) is a whole
			 * packet (RFC 6946). */
			if ((fo & 0xfff8) != 0)
				md->flags |= KDP_META_F_LATER_FRAG | KDP_META_F_FRAG6;
			else if (frag_more)
				md->flags |= KDP_META_F_FRAG6;
			hlen = 8;
			break;
		}
		default:
			goto upper;
		}
		if (unlikely(off + hlen > end))
			return KDP_DROP_IP6_EXT_TRUNCATED;
		if (unlikely(++n > KDP_IP6_EXT_MAX ||
			     off + hlen - KDP_ETH_LEN - KDP_IP6_LEN > KDP_IP6_EXT_BYTES))
			return KDP_DROP_IP6_EXT_CHAIN_TOO_LONG;
		nh = x[0];
		off = (uint16_t)(off + hlen);
		if (md->flags & KDP_META_F_LATER_FRAG)
			break; /* what follows is the middle of a payload */
	}
upper:
	md->kind = KDP_PKT_IPV6;
	md->l4_proto = nh;
	md->l4_off = off;
	/* A partial checksum (kdp_csum.h) only ever sits on whole TCP/UDP. */
	if (unlikely(kdp_csum_is_partial(m)) &&
	    ((md->flags & KDP_META_F_FRAG6) ||
	     (nh != IPPROTO_TCP && nh != IPPROTO_UDP)))
		return KDP_DROP_CSUM_PARTIAL_UNSUPPORTED;
	if (md->flags & KDP_META_F_LATER_FRAG)
		return KDP_DROP_NONE;
	{
		enum kdp_drop r = kdp_parse_l4(p + off, (uint16_t)(end - off), nh, frag_more);

		if (unlikely(r != KDP_DROP_NONE))
			return r;
	}
	if (nh == IPPROTO_ICMPV6 && unlikely(kdp_icmp6_is_link_msg(p[off]))) {
		enum kdp_drop r;

		/* Router discovery, redirects and multicast listeners are
		 * routers' business on a link; kdp routes statically. */
		if (p[off] != KDP_ICMP6_NEIGH_SOLICIT && p[off] != KDP_ICMP6_NEIGH_ADVERT)
			return KDP_DROP_ND_IGNORED;
		if (md->flags & KDP_META_F_FRAG6)
			return KDP_DROP_ND_MALFORMED;
		r = kdp_parse_nd(ip, p + off, (uint16_t)(end - off));
		if (r == KDP_DROP_NONE)
			md->kind = KDP_PKT_ND;
		return r;
	}
	if (unlikely(kdp_addr6_is_zero((const struct kdp_in6 *)ip->src_addr)))
		return KDP_DROP_IP6_BAD_SOURCE;
	return KDP_DROP_NONE;
}

/**
 * Validates one frame and fills kdp_meta(m): kind, l4_proto, l4_off, flags.
 * Trims Ethernet padding beyond the IPv4 total length (IPv6 payload length).
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
	if (unlikely(eth->ether_type != RTE_BE16(RTE_ETHER_TYPE_IPV4))) {
		if (eth->ether_type == RTE_BE16(RTE_ETHER_TYPE_IPV6))
			return kdp_parse6(m, len);
		return KDP_DROP_ETHERTYPE_UNSUPPORTED;
	}

	if (unlikely(len < KDP_ETH_LEN + sizeof(struct rte_ipv4_hdr)))
		return KDP_DROP_IP_TRUNCATED;
	ip = (struct rte_ipv4_hdr *)(eth + 1);
	md->kind = KDP_PKT_IPV4;
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

/* SPDX-License-Identifier: BSD-3-Clause */
#include <netinet/in.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_memcpy.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "common/kdp_csum.h"
#include "kdp_afp_offload.h"

#define ETH_LEN ((uint32_t)sizeof(struct rte_ether_hdr))

/* Offset of the L4 header of an unfragmented IPv4 frame, or 0. */
static uint32_t ipv4_l4_off(const uint8_t *f, uint32_t len, uint8_t *proto)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(f + ETH_LEN);
	uint16_t et, frag;
	uint32_t ihl;

	if (len < ETH_LEN + sizeof(*ip))
		return 0;
	memcpy(&et, f + 12, sizeof(et));
	if (et != RTE_BE16(RTE_ETHER_TYPE_IPV4) || (ip->version_ihl >> 4) != 4)
		return 0;
	ihl = (uint32_t)(ip->version_ihl & 0xf) * 4;
	frag = rte_be_to_cpu_16(ip->fragment_offset);
	if (ihl < sizeof(*ip) || ETH_LEN + ihl > len ||
	    (frag & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)))
		return 0;
	*proto = ip->next_proto_id;
	return ETH_LEN + ihl;
}

/* Offset of the L4 header of an IPv6 frame whose next header is TCP or UDP
 * (no extension headers: a frame with any is completed in software), or 0. */
static uint32_t ipv6_l4_off(const uint8_t *f, uint32_t len, uint8_t *proto)
{
	const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(f + ETH_LEN);
	uint16_t et;

	if (len < ETH_LEN + sizeof(*ip))
		return 0;
	memcpy(&et, f + 12, sizeof(et));
	if (et != RTE_BE16(RTE_ETHER_TYPE_IPV6) || (f[ETH_LEN] >> 4) != 6 ||
	    (ip->proto != IPPROTO_TCP && ip->proto != IPPROTO_UDP))
		return 0;
	*proto = ip->proto;
	return ETH_LEN + (uint32_t)sizeof(*ip);
}

/* The L4 offset of an IPv4 or (@p *v6 set) IPv6 frame, or 0. */
static uint32_t l4_off(const uint8_t *f, uint32_t len, uint8_t *proto, int *v6)
{
	uint32_t l4 = ipv4_l4_off(f, len, proto);

	*v6 = 0;
	if (l4 == 0) {
		l4 = ipv6_l4_off(f, len, proto);
		*v6 = l4 != 0;
	}
	return l4;
}

enum kdp_afp_refuse kdp_afp_rx_csum(uint8_t *f, uint32_t len,
				    const struct virtio_net_hdr *vh, int keep_partial,
				    uint64_t *ol_flags)
{
	uint32_t start = vh->csum_start, off = vh->csum_offset, l4;
	uint16_t c;
	uint8_t proto = 0;
	int v6;

	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID)
			*ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		return KDP_AFP_OK;
	}
	if (start + off + 2 > len)
		return KDP_AFP_CSUM_BAD_OFFSETS;
	l4 = l4_off(f, len, &proto, &v6);
	if (keep_partial && l4 != 0 && l4 == start &&
	    ((proto == IPPROTO_TCP && off == 16 && l4 + sizeof(struct rte_tcp_hdr) <= len) ||
	     (proto == IPPROTO_UDP && off == 6 && l4 + sizeof(struct rte_udp_hdr) <= len))) {
		*ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
		return KDP_AFP_OK;
	}
	/* Anything else: complete it now, over the field's pseudo-header sum
	 * and the rest of the frame, as the kernel does (0 is sent as ~0). */
	c = (uint16_t)~kdp_csum_sum(f + start, len - start);
	if (c == 0)
		c = 0xffff;
	memcpy(f + start + off, &c, sizeof(c));
	return KDP_AFP_OK;
}

enum kdp_afp_refuse kdp_afp_gso_init(struct kdp_gso *g, const uint8_t *pkt,
				     uint32_t len, const struct virtio_net_hdr *vh,
				     uint32_t room)
{
	uint8_t type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint8_t proto = type == VIRTIO_NET_HDR_GSO_UDP_L4 ? IPPROTO_UDP : IPPROTO_TCP;
	uint32_t l4 = 0;
	uint8_t v6 = 0;

	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6 &&
	    type != VIRTIO_NET_HDR_GSO_UDP_L4)
		return KDP_AFP_GSO_UNSUPPORTED;
	/* The announced family must be the frame's (UDP_L4 is either). */
	if (kdp_gso_headers(pkt, len, proto, &l4, &v6) == 0 ||
	    (type == VIRTIO_NET_HDR_GSO_TCPV4 && v6) || (type == VIRTIO_NET_HDR_GSO_TCPV6 && !v6))
		return KDP_AFP_GSO_MALFORMED;
	switch (kdp_gso_init(g, pkt, len, proto, vh->gso_size, room)) {
	case KDP_GSO_OK:
		return KDP_AFP_OK;
	case KDP_GSO_TOO_BIG:
		return KDP_AFP_GSO_TOO_BIG;
	default:
		return KDP_AFP_GSO_MALFORMED;
	}
}

enum kdp_afp_refuse kdp_afp_tso_whole(const uint8_t *pkt, uint32_t len,
				      const struct virtio_net_hdr *vh, uint32_t *hdr)
{
	uint8_t type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint32_t l4 = 0;
	uint8_t v6 = 0;

	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6)
		return KDP_AFP_GSO_UNSUPPORTED;
	*hdr = kdp_gso_headers(pkt, len, IPPROTO_TCP, &l4, &v6);
	if (*hdr == 0 || v6 != (type == VIRTIO_NET_HDR_GSO_TCPV6) || *hdr >= len ||
	    vh->gso_size == 0 ||
	    !(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || vh->csum_start != l4 ||
	    vh->csum_offset != 16)
		return KDP_AFP_GSO_MALFORMED;
	return KDP_AFP_OK;
}

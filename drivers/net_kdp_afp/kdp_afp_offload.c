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

	if (!(vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)) {
		if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID)
			*ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_GOOD;
		return KDP_AFP_OK;
	}
	int v6;

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

enum kdp_afp_refuse kdp_afp_gso_init(struct kdp_afp_gso *g, const uint8_t *pkt,
				     uint32_t len, const struct virtio_net_hdr *vh,
				     uint32_t room)
{
	uint8_t type = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	uint8_t proto = 0;
	uint32_t l4, hdr;
	int v6;

	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6 &&
	    type != VIRTIO_NET_HDR_GSO_UDP_L4)
		return KDP_AFP_GSO_UNSUPPORTED;
	l4 = l4_off(pkt, len, &proto, &v6);
	if (l4 == 0 || (type == VIRTIO_NET_HDR_GSO_TCPV4 && v6) ||
	    (type == VIRTIO_NET_HDR_GSO_TCPV6 && !v6))
		return KDP_AFP_GSO_MALFORMED;
	if (type != VIRTIO_NET_HDR_GSO_UDP_L4) {
		if (proto != IPPROTO_TCP || l4 + sizeof(struct rte_tcp_hdr) > len)
			return KDP_AFP_GSO_MALFORMED;
		hdr = l4 + (uint32_t)(pkt[l4 + 12] >> 4) * 4;
		if (hdr < l4 + sizeof(struct rte_tcp_hdr))
			return KDP_AFP_GSO_MALFORMED;
	} else {
		if (proto != IPPROTO_UDP)
			return KDP_AFP_GSO_MALFORMED;
		hdr = l4 + (uint32_t)sizeof(struct rte_udp_hdr);
	}
	if (vh->gso_size == 0 || hdr >= len)
		return KDP_AFP_GSO_MALFORMED;
	if (hdr + RTE_MIN((uint32_t)vh->gso_size, len - hdr) > room)
		return KDP_AFP_GSO_TOO_BIG;
	g->pkt = pkt;
	g->len = len;
	g->off = hdr;
	g->hdr = (uint16_t)hdr;
	g->l4 = (uint16_t)l4;
	g->mss = vh->gso_size;
	g->seg = 0;
	g->proto = proto;
	g->v6 = (uint8_t)v6;
	return KDP_AFP_OK;
}

/* The IPv6 pseudo-header sum a segment's partial checksum holds. */
static uint16_t pseudo6(const uint8_t *d, const struct kdp_afp_gso *g, uint32_t chunk)
{
	const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)(d + ETH_LEN);

	return kdp_csum_ipv6_pseudo(ip6->src_addr, ip6->dst_addr, g->hdr - g->l4 + chunk,
				    g->proto);
}

uint16_t kdp_afp_gso_next(struct kdp_afp_gso *g, struct rte_mempool *mp,
			  uint16_t port, struct rte_mbuf **out, uint16_t n)
{
	const struct rte_ipv4_hdr *ip0 =
		(const struct rte_ipv4_hdr *)(g->pkt + ETH_LEN);
	uint16_t id0 = rte_be_to_cpu_16(ip0->packet_id), k = 0;

	while (k < n && g->off < g->len) {
		uint32_t chunk = RTE_MIN((uint32_t)g->mss, g->len - g->off);
		int last = g->off + chunk >= g->len;
		struct rte_mbuf *m = rte_pktmbuf_alloc(mp);
		struct rte_ipv4_hdr *ip;
		uint8_t *d;

		if (m == NULL)
			break;
		d = rte_pktmbuf_mtod(m, uint8_t *);
		rte_memcpy(d, g->pkt, g->hdr);
		rte_memcpy(d + g->hdr, g->pkt + g->off, chunk);
		m->data_len = (uint16_t)(g->hdr + chunk);
		m->pkt_len = m->data_len;
		m->port = port;
		ip = (struct rte_ipv4_hdr *)(d + ETH_LEN);
		if (g->v6) {
			/* No ID, no header checksum: the payload length only. */
			struct rte_ipv6_hdr *ip6 = (struct rte_ipv6_hdr *)ip;

			ip6->payload_len = rte_cpu_to_be_16(
				(uint16_t)(g->hdr - ETH_LEN - sizeof(*ip6) + chunk));
		} else {
			ip->total_length = rte_cpu_to_be_16((uint16_t)(g->hdr - ETH_LEN + chunk));
			/* Each segment its own IP ID, as the kernel's segmentation. */
			ip->packet_id = rte_cpu_to_be_16((uint16_t)(id0 + g->seg));
			ip->hdr_checksum = 0;
			ip->hdr_checksum = rte_ipv4_cksum(ip);
		}
		if (g->proto == IPPROTO_TCP) {
			struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(d + g->l4);
			const struct rte_tcp_hdr *t0 =
				(const struct rte_tcp_hdr *)(g->pkt + g->l4);

			t->sent_seq = rte_cpu_to_be_32(rte_be_to_cpu_32(t0->sent_seq) +
						       (g->off - g->hdr));
			/* FIN and PSH on the last segment only, CWR on the first. */
			if (!last)
				t->tcp_flags &= (uint8_t)~(RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG);
			if (g->seg > 0)
				t->tcp_flags &= (uint8_t)~RTE_TCP_CWR_FLAG;
			t->cksum = g->v6 ? pseudo6(d, g, chunk) : rte_ipv4_phdr_cksum(ip, 0);
		} else {
			struct rte_udp_hdr *u = (struct rte_udp_hdr *)(d + g->l4);

			u->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*u) + chunk));
			u->dgram_cksum = g->v6 ? pseudo6(d, g, chunk) : rte_ipv4_phdr_cksum(ip, 0);
		}
		m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
		out[k++] = m;
		g->off += chunk;
		g->seg++;
	}
	return k;
}

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
#include "common/kdp_gso.h"

#define ETH_LEN ((uint32_t)sizeof(struct rte_ether_hdr))

/* The L4 offset of an unfragmented IPv4 frame carrying @p proto, or 0. */
static uint32_t ipv4_l4(const uint8_t *pkt, uint32_t len, uint8_t proto)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(pkt + ETH_LEN);
	uint16_t frag = rte_be_to_cpu_16(ip->fragment_offset);
	uint32_t ihl = (uint32_t)(ip->version_ihl & 0xf) * 4;

	if (len < ETH_LEN + sizeof(*ip) || (ip->version_ihl >> 4) != 4 ||
	    ip->next_proto_id != proto || ihl < sizeof(*ip) ||
	    (frag & (RTE_IPV4_HDR_OFFSET_MASK | RTE_IPV4_HDR_MF_FLAG)))
		return 0;
	return ETH_LEN + ihl;
}

/* The L4 offset of an IPv6 frame whose next header is @p proto (no
 * extension headers), or 0. */
static uint32_t ipv6_l4(const uint8_t *pkt, uint32_t len, uint8_t proto)
{
	const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(pkt + ETH_LEN);

	if (len < ETH_LEN + sizeof(*ip) || (pkt[ETH_LEN] >> 4) != 6 || ip->proto != proto)
		return 0;
	return ETH_LEN + (uint32_t)sizeof(*ip);
}

uint32_t kdp_gso_headers(const uint8_t *pkt, uint32_t len, uint8_t proto, uint32_t *l4,
			 uint8_t *v6)
{
	uint32_t hdr;
	uint16_t et;

	if (len < ETH_LEN)
		return 0;
	memcpy(&et, pkt + 12, sizeof(et));
	*v6 = et == RTE_BE16(RTE_ETHER_TYPE_IPV6);
	if (*v6)
		*l4 = ipv6_l4(pkt, len, proto);
	else if (et == RTE_BE16(RTE_ETHER_TYPE_IPV4))
		*l4 = ipv4_l4(pkt, len, proto);
	else
		return 0;
	if (*l4 == 0)
		return 0;
	if (proto == IPPROTO_TCP) {
		if (*l4 + sizeof(struct rte_tcp_hdr) > len)
			return 0;
		hdr = *l4 + (uint32_t)(pkt[*l4 + 12] >> 4) * 4;
		if (hdr < *l4 + sizeof(struct rte_tcp_hdr))
			return 0;
	} else if (proto == IPPROTO_UDP) {
		hdr = *l4 + (uint32_t)sizeof(struct rte_udp_hdr);
	} else {
		return 0;
	}
	return hdr <= len ? hdr : 0;
}

enum kdp_gso_refuse kdp_gso_init(struct kdp_gso *g, const uint8_t *pkt, uint32_t len,
				 uint8_t proto, uint16_t mss, uint32_t room)
{
	uint8_t v6 = 0;
	uint32_t l4 = 0, hdr = kdp_gso_headers(pkt, len, proto, &l4, &v6);

	if (hdr == 0 || mss == 0 || hdr >= len)
		return KDP_GSO_MALFORMED;
	if (hdr + RTE_MIN((uint32_t)mss, len - hdr) > room)
		return KDP_GSO_TOO_BIG;
	g->pkt = pkt;
	g->len = len;
	g->off = hdr;
	g->hdr = (uint16_t)hdr;
	g->l4 = (uint16_t)l4;
	g->mss = mss;
	g->seg = 0;
	g->proto = proto;
	g->v6 = v6;
	return KDP_GSO_OK;
}

/* The pseudo-header sum a segment of @p chunk payload bytes starts from. */
static uint16_t pseudo(const uint8_t *d, const struct kdp_gso *g, uint32_t chunk)
{
	const struct rte_ipv6_hdr *ip6 = (const struct rte_ipv6_hdr *)(d + ETH_LEN);

	if (!g->v6)
		return rte_ipv4_phdr_cksum((const struct rte_ipv4_hdr *)(d + ETH_LEN), 0);
	return kdp_csum_ipv6_pseudo(ip6->src_addr, ip6->dst_addr, g->hdr - g->l4 + chunk,
				    g->proto);
}

uint16_t kdp_gso_next(struct kdp_gso *g, struct rte_mempool *mp, uint16_t port,
		      struct rte_mbuf **out, uint16_t n)
{
	const struct rte_ipv4_hdr *ip0 = (const struct rte_ipv4_hdr *)(g->pkt + ETH_LEN);
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
			const struct rte_tcp_hdr *t0 = (const struct rte_tcp_hdr *)(g->pkt + g->l4);

			t->sent_seq = rte_cpu_to_be_32(rte_be_to_cpu_32(t0->sent_seq) +
						       (g->off - g->hdr));
			/* FIN and PSH on the last segment only, CWR on the first. */
			if (!last)
				t->tcp_flags &= (uint8_t)~(RTE_TCP_FIN_FLAG | RTE_TCP_PSH_FLAG);
			if (g->seg > 0)
				t->tcp_flags &= (uint8_t)~RTE_TCP_CWR_FLAG;
			t->cksum = pseudo(d, g, chunk);
		} else {
			struct rte_udp_hdr *u = (struct rte_udp_hdr *)(d + g->l4);

			u->dgram_len = rte_cpu_to_be_16((uint16_t)(sizeof(*u) + chunk));
			u->dgram_cksum = pseudo(d, g, chunk);
		}
		m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
		out[k++] = m;
		g->off += chunk;
		g->seg++;
	}
	return k;
}

/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include <rte_ip.h>
#include <rte_tcp.h>

#include "common/kdp_addr.h"
#include "common/kdp_csum.h"
#include "common/kdp_meta.h"
#include "icmp/kdp_icmp.h"
#include "parse/kdp_parse.h"
#include "kdp_reject.h"

int kdp_reject_tcp_reset(struct rte_mbuf *m)
{
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv4_hdr *ip = kdp_parse_ip(m);
	struct rte_tcp_hdr *t = rte_pktmbuf_mtod_offset(m, struct rte_tcp_hdr *, md->l4_off);
	uint16_t ihl = (uint16_t)(md->l4_off - KDP_ETH_LEN);
	uint32_t seg_len = rte_be_to_cpu_16(ip->total_length) - ihl -
			   (uint32_t)((t->data_off >> 4) * 4);
	uint8_t flags = t->tcp_flags;
	uint32_t a, seq = rte_be_to_cpu_32(t->sent_seq);
	uint16_t p;

	if (flags & RTE_TCP_RST_FLAG)
		return -EINVAL;
	if (flags & RTE_TCP_SYN_FLAG)
		seg_len++;
	if (flags & RTE_TCP_FIN_FLAG)
		seg_len++;
	a = ip->src_addr;
	ip->src_addr = ip->dst_addr;
	ip->dst_addr = a;
	p = t->src_port;
	t->src_port = t->dst_port;
	t->dst_port = p;
	if (flags & RTE_TCP_ACK_FLAG) {
		t->sent_seq = t->recv_ack;
		t->recv_ack = 0;
		t->tcp_flags = RTE_TCP_RST_FLAG;
	} else {
		t->sent_seq = 0;
		t->recv_ack = rte_cpu_to_be_32(seq + seg_len);
		t->tcp_flags = RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG;
	}
	t->data_off = 5 << 4;
	t->rx_win = 0;
	t->tcp_urp = 0;
	/* No IP options on what kdp sends. */
	if (ihl != sizeof(*ip)) {
		memmove((uint8_t *)ip + sizeof(*ip), t, sizeof(*t));
		t = (struct rte_tcp_hdr *)((uint8_t *)ip + sizeof(*ip));
		ip->version_ihl = RTE_IPV4_VHL_DEF;
		md->l4_off = KDP_ETH_LEN + sizeof(*ip);
	}
	ip->total_length = rte_cpu_to_be_16(sizeof(*ip) + sizeof(*t));
	ip->time_to_live = 64;
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	t->cksum = 0;
	t->cksum = rte_ipv4_udptcp_cksum(ip, t);
	kdp_csum_clear_partial(m); /* the RST's checksum is whole */
	rte_pktmbuf_data_len(m) = (uint16_t)(KDP_ETH_LEN + sizeof(*ip) + sizeof(*t));
	m->pkt_len = rte_pktmbuf_data_len(m);
	return 0;
}

int kdp_reject(struct rte_mbuf *m, uint32_t from)
{
	if (kdp_meta(m)->l4_proto == IPPROTO_TCP)
		return kdp_reject_tcp_reset(m);
	return kdp_icmp_error(m, KDP_ICMP_DEST_UNREACH, KDP_ICMP_CODE_PORT_UNREACH, 0,
			      from);
}

int kdp_reject6_tcp_reset(struct rte_mbuf *m)
{
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ipv6_hdr *ip = kdp_parse_ip6(m);
	struct rte_tcp_hdr *t = rte_pktmbuf_mtod_offset(m, struct rte_tcp_hdr *, md->l4_off);
	uint16_t ext = (uint16_t)(md->l4_off - KDP_ETH_LEN - KDP_IP6_LEN);
	uint32_t seg_len = rte_be_to_cpu_16(ip->payload_len) - ext -
			   (uint32_t)((t->data_off >> 4) * 4);
	uint8_t flags = t->tcp_flags, a[16];
	uint32_t seq = rte_be_to_cpu_32(t->sent_seq);
	uint16_t p, c;

	if (flags & RTE_TCP_RST_FLAG)
		return -EINVAL;
	if (flags & RTE_TCP_SYN_FLAG)
		seg_len++;
	if (flags & RTE_TCP_FIN_FLAG)
		seg_len++;
	memcpy(a, ip->src_addr, 16);
	memcpy(ip->src_addr, ip->dst_addr, 16);
	memcpy(ip->dst_addr, a, 16);
	p = t->src_port;
	t->src_port = t->dst_port;
	t->dst_port = p;
	if (flags & RTE_TCP_ACK_FLAG) {
		t->sent_seq = t->recv_ack;
		t->recv_ack = 0;
		t->tcp_flags = RTE_TCP_RST_FLAG;
	} else {
		t->sent_seq = 0;
		t->recv_ack = rte_cpu_to_be_32(seq + seg_len);
		t->tcp_flags = RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG;
	}
	t->data_off = 5 << 4;
	t->rx_win = 0;
	t->tcp_urp = 0;
	/* No extension headers on what kdp sends. */
	if (ext != 0) {
		memmove((uint8_t *)ip + KDP_IP6_LEN, t, sizeof(*t));
		t = (struct rte_tcp_hdr *)((uint8_t *)ip + KDP_IP6_LEN);
		md->l4_off = KDP_ETH_LEN + KDP_IP6_LEN;
	}
	ip->proto = IPPROTO_TCP;
	ip->payload_len = rte_cpu_to_be_16(sizeof(*t));
	ip->hop_limits = 64;
	t->cksum = 0;
	c = (uint16_t)~kdp_csum_add(kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr,
							 sizeof(*t), IPPROTO_TCP),
				    kdp_csum_sum(t, sizeof(*t)));
	t->cksum = c;
	md->flags = 0;
	kdp_csum_clear_partial(m); /* the RST's checksum is whole */
	rte_pktmbuf_data_len(m) = (uint16_t)(KDP_ETH_LEN + KDP_IP6_LEN + sizeof(*t));
	m->pkt_len = rte_pktmbuf_data_len(m);
	return 0;
}

int kdp_reject6(struct rte_mbuf *m, const struct kdp_in6 *from)
{
	if (kdp_meta(m)->l4_proto == IPPROTO_TCP)
		return kdp_reject6_tcp_reset(m);
	return kdp_icmp6_error(m, KDP_ICMP6_DEST_UNREACH, KDP_ICMP6_CODE_PORT_UNREACH, 0,
			       from);
}

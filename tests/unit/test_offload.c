/* SPDX-License-Identifier: BSD-3-Clause */
/* net_kdp_afp's offload helpers (a kernel sender's partial checksums and
 * GSO super-frames) and kdp's partial-checksum arithmetic. */
#include <string.h>

#include <CUnit/CUnit.h>
#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "common/kdp_csum.h"
#include "kdp_afp_offload.h"
#include "parse/kdp_parse.h"
#include "test_util.h"

#define SRC IP4(172, 20, 1, 236)
#define DST IP4(10, 96, 152, 212)

/* A TCP (or UDP) frame of @p payload bytes into @p buf with its L4 checksum
 * left partial, as a kernel sender with checksum offload leaves it. */
static uint32_t partial_frame(uint8_t *buf, uint8_t proto, uint32_t payload, uint8_t flags)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint32_t l4len = (proto == IPPROTO_TCP ? 20 : 8) + payload;
	uint8_t *l4 = (uint8_t *)(ip + 1);

	memset(buf, 0, 14 + 20 + l4len);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(20 + l4len));
	ip->packet_id = RTE_BE16(100);
	ip->fragment_offset = RTE_BE16(RTE_IPV4_HDR_DF_FLAG);
	ip->time_to_live = 64;
	ip->next_proto_id = proto;
	ip->src_addr = rte_cpu_to_be_32(SRC);
	ip->dst_addr = rte_cpu_to_be_32(DST);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	for (uint32_t i = 0; i < payload; i++)
		l4[l4len - payload + i] = (uint8_t)(i * 7 + 3);
	if (proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)l4;
		t->src_port = RTE_BE16(45678);
		t->dst_port = RTE_BE16(80);
		t->sent_seq = rte_cpu_to_be_32(1000);
		t->recv_ack = rte_cpu_to_be_32(5);
		t->data_off = 5 << 4;
		t->tcp_flags = flags;
		t->rx_win = RTE_BE16(512);
		t->cksum = rte_ipv4_phdr_cksum(ip, 0);
	} else {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)l4;
		u->src_port = RTE_BE16(5000);
		u->dst_port = RTE_BE16(53);
		u->dgram_len = rte_cpu_to_be_16((uint16_t)l4len);
		u->dgram_cksum = rte_ipv4_phdr_cksum(ip, 0);
	}
	return 14 + 20 + l4len;
}

static int l4_valid(const uint8_t *frame)
{
	const struct rte_ipv4_hdr *ip = (const struct rte_ipv4_hdr *)(frame + 14);
	return rte_ipv4_udptcp_cksum_verify(ip, (const uint8_t *)ip + 20) == 0;
}

static void test_rx_csum(void)
{
	uint8_t f[2048];
	uint32_t len = partial_frame(f, IPPROTO_TCP, 100, RTE_TCP_ACK_FLAG);
	struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .csum_start = 34, .csum_offset = 16};
	uint16_t psum;
	uint64_t ol = 0;

	memcpy(&psum, f + 34 + 16, 2);
	/* TCP/IPv4 at the expected place: kept partial and flagged. */
	CU_ASSERT_EQUAL(kdp_afp_rx_csum(f, len, &vh, 1, &ol), KDP_AFP_OK);
	CU_ASSERT_EQUAL(ol, RTE_MBUF_F_RX_L4_CKSUM_NONE);
	CU_ASSERT_EQUAL(memcmp(f + 50, &psum, 2), 0);
	CU_ASSERT(!l4_valid(f));
	/* Not to be kept (a tagged frame): finished here, no flag. */
	ol = 0;
	CU_ASSERT_EQUAL(kdp_afp_rx_csum(f, len, &vh, 0, &ol), KDP_AFP_OK);
	CU_ASSERT_EQUAL(ol, 0);
	CU_ASSERT(l4_valid(f));
	/* UDP: flagged likewise. Then a csum_start that is not the L4 header
	 * (a layout kdp does not know): finished where the kernel said. */
	len = partial_frame(f, IPPROTO_UDP, 33, 0);
	vh.csum_offset = 6;
	ol = 0;
	CU_ASSERT_EQUAL(kdp_afp_rx_csum(f, len, &vh, 1, &ol), KDP_AFP_OK);
	CU_ASSERT_EQUAL(ol, RTE_MBUF_F_RX_L4_CKSUM_NONE);
	vh.csum_start = 30; /* inside the IP header: unknown layout */
	ol = 0;
	{
		uint8_t g[2048];
		uint16_t c;

		memcpy(g, f, len);
		CU_ASSERT_EQUAL(kdp_afp_rx_csum(g, len, &vh, 1, &ol), KDP_AFP_OK);
		CU_ASSERT_EQUAL(ol, 0);
		c = (uint16_t)~rte_raw_cksum(f + 30, len - 30);
		CU_ASSERT_EQUAL(memcmp(g + 36, &c, 2), 0);
	}
	/* Offsets outside the frame are refused. */
	vh.csum_start = (uint16_t)(len - 4);
	vh.csum_offset = 6;
	CU_ASSERT_EQUAL(kdp_afp_rx_csum(f, len, &vh, 1, &ol), KDP_AFP_CSUM_BAD_OFFSETS);
	/* DATA_VALID: marked good, nothing else. */
	vh = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_DATA_VALID};
	ol = 0;
	CU_ASSERT_EQUAL(kdp_afp_rx_csum(f, len, &vh, 1, &ol), KDP_AFP_OK);
	CU_ASSERT_EQUAL(ol, RTE_MBUF_F_RX_L4_CKSUM_GOOD);
}

/* A 4000-byte TCP super-frame with MSS 1448 becomes 3 segments: 1448, 1448
 * and 1104 bytes, sequence numbers and IP IDs counted up, PSH/FIN on the
 * last one only, CWR on the first only, each checksum a pseudo-header sum
 * that completes to the right value. */
static void test_gso_tcp(void)
{
	static uint8_t f[8192];
	uint32_t len = partial_frame(f, IPPROTO_TCP, 4000,
				     RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG | RTE_TCP_FIN_FLAG |
					     RTE_TCP_CWR_FLAG);
	struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN,
				    .gso_size = 1448, .csum_start = 34, .csum_offset = 16};
	static const uint16_t sizes[] = {1448, 1448, 1104};
	struct rte_mbuf *seg[8];
	struct kdp_gso g;
	uint16_t n;

	CU_ASSERT_EQUAL_FATAL(kdp_afp_gso_init(&g, f, len, &vh, 2048), KDP_AFP_OK);
	n = kdp_gso_next(&g, test_pool, 7, seg, 2); /* the burst had room for 2 */
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT(!kdp_gso_done(&g));
	n = (uint16_t)(n + kdp_gso_next(&g, test_pool, 7, seg + 2, 6));
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT(kdp_gso_done(&g));
	for (unsigned int i = 0; i < 3; i++) {
		uint8_t *d = rte_pktmbuf_mtod(seg[i], uint8_t *);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + 14);
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(d + 34);
		uint8_t want = RTE_TCP_ACK_FLAG;

		CU_ASSERT_EQUAL(seg[i]->pkt_len, 54u + sizes[i]);
		CU_ASSERT_EQUAL(seg[i]->port, 7);
		CU_ASSERT_EQUAL(seg[i]->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_NONE);
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip->total_length), 40u + sizes[i]);
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip->packet_id), 100 + i);
		CU_ASSERT_EQUAL(rte_raw_cksum(ip, 20), 0xffff);
		CU_ASSERT_EQUAL(rte_be_to_cpu_32(t->sent_seq), 1000 + 1448 * i);
		CU_ASSERT_EQUAL(rte_be_to_cpu_32(t->recv_ack), 5);
		if (i == 0)
			want |= RTE_TCP_CWR_FLAG;
		if (i == 2)
			want |= RTE_TCP_PSH_FLAG | RTE_TCP_FIN_FLAG;
		CU_ASSERT_EQUAL(t->tcp_flags, want);
		CU_ASSERT_EQUAL(t->cksum, rte_ipv4_phdr_cksum(ip, 0));
		/* The payload is the right slice. */
		CU_ASSERT_EQUAL(memcmp(d + 54, f + 54 + 1448 * i, sizes[i]), 0);
		/* Finished as kdp does for a port without offload: valid. */
		kdp_meta(seg[i])->l4_off = 34;
		kdp_meta(seg[i])->l4_proto = IPPROTO_TCP;
		kdp_csum_tx_prep(seg[i], false);
		CU_ASSERT(l4_valid(d));
		CU_ASSERT_EQUAL(seg[i]->ol_flags, 0);
	}
	rte_pktmbuf_free_bulk(seg, 3);
}

/* A TCP super-frame that may travel whole (LRO): TCPv4 with its checksum
 * partial at the TCP header; UDP or a checksum elsewhere may not. */
static void test_tso_whole(void)
{
	static uint8_t f[8192];
	uint32_t len = partial_frame(f, IPPROTO_TCP, 4000, RTE_TCP_ACK_FLAG), hdr = 0;
	struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
				    .gso_size = 1448, .csum_start = 34, .csum_offset = 16};

	CU_ASSERT_EQUAL(kdp_afp_tso_whole(f, len, &vh, &hdr), KDP_AFP_OK);
	CU_ASSERT_EQUAL(hdr, 54);
	vh.csum_offset = 6;
	CU_ASSERT_EQUAL(kdp_afp_tso_whole(f, len, &vh, &hdr), KDP_AFP_GSO_MALFORMED);
	vh.csum_offset = 16;
	vh.flags = 0;
	CU_ASSERT_EQUAL(kdp_afp_tso_whole(f, len, &vh, &hdr), KDP_AFP_GSO_MALFORMED);
	vh.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4;
	CU_ASSERT_EQUAL(kdp_afp_tso_whole(f, len, &vh, &hdr), KDP_AFP_GSO_UNSUPPORTED);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	CU_ASSERT_EQUAL(kdp_afp_tso_whole(f, 40, &vh, &hdr), KDP_AFP_GSO_MALFORMED);
	/* The type must match the frame: TCPV6 on an IPv4 frame is refused. */
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	CU_ASSERT_EQUAL(kdp_afp_tso_whole(f, len, &vh, &hdr), KDP_AFP_GSO_MALFORMED);
}

/* UDP_SEGMENT: 3000 bytes at 1200 a datagram: 1200, 1200, 600, each with
 * its own UDP length. */
static void test_gso_udp(void)
{
	static uint8_t f[8192];
	uint32_t len = partial_frame(f, IPPROTO_UDP, 3000, 0);
	struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4, .gso_size = 1200,
				    .csum_start = 34, .csum_offset = 6};
	static const uint16_t sizes[] = {1200, 1200, 600};
	struct rte_mbuf *seg[4];
	struct kdp_gso g;

	CU_ASSERT_EQUAL_FATAL(kdp_afp_gso_init(&g, f, len, &vh, 2048), KDP_AFP_OK);
	CU_ASSERT_EQUAL_FATAL(kdp_gso_next(&g, test_pool, 1, seg, 4), 3);
	for (unsigned int i = 0; i < 3; i++) {
		uint8_t *d = rte_pktmbuf_mtod(seg[i], uint8_t *);
		struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + 14);
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)(d + 34);

		CU_ASSERT_EQUAL(seg[i]->pkt_len, 42u + sizes[i]);
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(u->dgram_len), 8u + sizes[i]);
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip->packet_id), 100 + i);
		CU_ASSERT_EQUAL(u->dgram_cksum, rte_ipv4_phdr_cksum(ip, 0));
		CU_ASSERT_EQUAL(memcmp(d + 42, f + 42 + 1200 * i, sizes[i]), 0);
		kdp_meta(seg[i])->l4_off = 34;
		kdp_meta(seg[i])->l4_proto = IPPROTO_UDP;
		kdp_csum_tx_prep(seg[i], false);
		CU_ASSERT(l4_valid(d));
	}
	rte_pktmbuf_free_bulk(seg, 3);
}

static void test_gso_refused(void)
{
	static uint8_t f[8192];
	uint32_t len = partial_frame(f, IPPROTO_TCP, 4000, RTE_TCP_ACK_FLAG);
	struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 1448};
	struct kdp_gso g;

	/* TCPv6 on an IPv4 frame */
	CU_ASSERT_EQUAL(kdp_afp_gso_init(&g, f, len, &vh, 2048), KDP_AFP_GSO_MALFORMED);
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP; /* UFO: IP fragments */
	CU_ASSERT_EQUAL(kdp_afp_gso_init(&g, f, len, &vh, 2048), KDP_AFP_GSO_UNSUPPORTED);
	vh.gso_type = VIRTIO_NET_HDR_GSO_UDP_L4; /* but the frame is TCP */
	CU_ASSERT_EQUAL(kdp_afp_gso_init(&g, f, len, &vh, 2048), KDP_AFP_GSO_MALFORMED);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	vh.gso_size = 0;
	CU_ASSERT_EQUAL(kdp_afp_gso_init(&g, f, len, &vh, 2048), KDP_AFP_GSO_MALFORMED);
	vh.gso_size = 3000; /* a segment larger than an mbuf */
	CU_ASSERT_EQUAL(kdp_afp_gso_init(&g, f, len, &vh, 2048), KDP_AFP_GSO_TOO_BIG);
	f[12] = 0x86; /* IPv6 ethertype on a TCPv4 super-frame */
	f[13] = 0xdd;
	vh.gso_size = 1448;
	CU_ASSERT_EQUAL(kdp_afp_gso_init(&g, f, len, &vh, 2048), KDP_AFP_GSO_MALFORMED);
}

/* An IPv6 TCP (or UDP) frame with its L4 checksum left partial. */
static uint32_t partial_frame6(uint8_t *buf, uint8_t proto, uint32_t payload, uint8_t flags)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	uint32_t l4len = (proto == IPPROTO_TCP ? 20 : 8) + payload;
	uint8_t *l4 = (uint8_t *)(ip + 1);
	struct kdp_in6 s6 = test_ip6("fd00:20:0:1::236"), d6 = test_ip6("fd00:96::98d4");

	memset(buf, 0, 14 + 40 + l4len);
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16((uint16_t)l4len);
	ip->proto = proto;
	ip->hop_limits = 64;
	memcpy(ip->src_addr, &s6, 16);
	memcpy(ip->dst_addr, &d6, 16);
	for (uint32_t i = 0; i < payload; i++)
		l4[l4len - payload + i] = (uint8_t)(i * 5 + 1);
	if (proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)l4;
		t->src_port = RTE_BE16(45678);
		t->dst_port = RTE_BE16(80);
		t->sent_seq = rte_cpu_to_be_32(1000);
		t->data_off = 5 << 4;
		t->tcp_flags = flags;
		t->cksum = kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr, l4len, proto);
	} else {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)l4;
		u->src_port = RTE_BE16(5000);
		u->dst_port = RTE_BE16(53);
		u->dgram_len = rte_cpu_to_be_16((uint16_t)l4len);
		u->dgram_cksum = kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr, l4len, proto);
	}
	return 14 + 40 + l4len;
}

static int l4_valid6(const uint8_t *frame)
{
	const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(frame + 14);
	uint16_t len = rte_be_to_cpu_16(ip->payload_len);

	return kdp_csum_add(kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr, len, ip->proto),
			    kdp_csum_sum(frame + 54, len)) == 0xffff;
}

/* A TCPv6 super-frame travels whole too (GSO_TCPV6, partial at 54/16);
 * TCPV4 on an IPv6 frame, or a partial elsewhere, may not. */
static void test_tso_whole6(void)
{
	static uint8_t f[8192];
	uint32_t len = partial_frame6(f, IPPROTO_TCP, 4000, RTE_TCP_ACK_FLAG), hdr = 0;
	struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .gso_type = VIRTIO_NET_HDR_GSO_TCPV6,
				    .gso_size = 1428, .csum_start = 54, .csum_offset = 16};

	CU_ASSERT_EQUAL(kdp_afp_tso_whole(f, len, &vh, &hdr), KDP_AFP_OK);
	CU_ASSERT_EQUAL(hdr, 74);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
	CU_ASSERT_EQUAL(kdp_afp_tso_whole(f, len, &vh, &hdr), KDP_AFP_OK);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	CU_ASSERT_EQUAL(kdp_afp_tso_whole(f, len, &vh, &hdr), KDP_AFP_GSO_MALFORMED);
	vh.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	vh.csum_start = 34;
	CU_ASSERT_EQUAL(kdp_afp_tso_whole(f, len, &vh, &hdr), KDP_AFP_GSO_MALFORMED);
}

/* IPv6: a partial checksum kept and flagged; a TCPv6 super-frame cut into
 * segments whose payload lengths, sequences and flags are right and whose
 * partial sums complete to the right checksums. */
static void test_ipv6(void)
{
	static uint8_t f[8192];
	uint32_t len = partial_frame6(f, IPPROTO_TCP, 100, RTE_TCP_ACK_FLAG);
	struct virtio_net_hdr vh = {.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				    .csum_start = 54, .csum_offset = 16};
	static const uint16_t sizes[] = {1428, 1428, 1144};
	struct rte_mbuf *seg[8];
	struct kdp_gso g;
	uint64_t ol = 0;
	uint16_t n;

	CU_ASSERT_EQUAL(kdp_afp_rx_csum(f, len, &vh, 1, &ol), KDP_AFP_OK);
	CU_ASSERT_EQUAL(ol, RTE_MBUF_F_RX_L4_CKSUM_NONE);
	CU_ASSERT(!l4_valid6(f));
	ol = 0;
	CU_ASSERT_EQUAL(kdp_afp_rx_csum(f, len, &vh, 0, &ol), KDP_AFP_OK);
	CU_ASSERT(l4_valid6(f));
	len = partial_frame6(f, IPPROTO_TCP, 4000,
			     RTE_TCP_ACK_FLAG | RTE_TCP_PSH_FLAG | RTE_TCP_CWR_FLAG);
	vh = (struct virtio_net_hdr){.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				     .gso_type = VIRTIO_NET_HDR_GSO_TCPV6, .gso_size = 1428,
				     .csum_start = 54, .csum_offset = 16};
	CU_ASSERT_EQUAL_FATAL(kdp_afp_gso_init(&g, f, len, &vh, 2048), KDP_AFP_OK);
	n = kdp_gso_next(&g, test_pool, 0, seg, 8);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	for (uint16_t i = 0; i < n; i++) {
		uint8_t *d = rte_pktmbuf_mtod(seg[i], uint8_t *);
		const struct rte_ipv6_hdr *ip = (const struct rte_ipv6_hdr *)(d + 14);
		const struct rte_tcp_hdr *t = (const struct rte_tcp_hdr *)(d + 54);

		CU_ASSERT_EQUAL(rte_pktmbuf_data_len(seg[i]), 54 + 20 + sizes[i]);
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip->payload_len), 20 + sizes[i]);
		CU_ASSERT_EQUAL(rte_be_to_cpu_32(t->sent_seq), 1000 + i * 1428);
		CU_ASSERT_EQUAL(!!(t->tcp_flags & RTE_TCP_PSH_FLAG), i == 2);
		CU_ASSERT_EQUAL(!!(t->tcp_flags & RTE_TCP_CWR_FLAG), i == 0);
		CU_ASSERT_EQUAL(seg[i]->ol_flags, RTE_MBUF_F_RX_L4_CKSUM_NONE);
		/* Parsed as IPv6, finished in software at transmit: valid. */
		CU_ASSERT_EQUAL(kdp_parse(seg[i]), KDP_DROP_NONE);
		kdp_csum_tx_prep(seg[i], false);
		CU_ASSERT(l4_valid6(d));
	}
	rte_pktmbuf_free_bulk(seg, 3);
	/* And handed to a port that finishes it: flagged IPv6, l3_len 40. */
	len = partial_frame6(f, IPPROTO_UDP, 50, 0);
	{
		struct rte_mbuf *m = test_pkt_raw(f, (uint16_t)len);

		m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
		CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
		kdp_csum_tx_prep(m, true);
		CU_ASSERT((m->ol_flags & RTE_MBUF_F_TX_IPV6) != 0);
		CU_ASSERT((m->ol_flags & RTE_MBUF_F_TX_UDP_CKSUM) != 0);
		CU_ASSERT_EQUAL(m->l3_len, 40);
		rte_pktmbuf_free(m);
	}
}

/* NAT on a partial sum: moving an address moves the sum the other way,
 * and the finished checksum equals one computed from scratch. */
static void test_partial_arith(void)
{
	uint8_t f[2048];
	uint32_t len = partial_frame(f, IPPROTO_TCP, 57, RTE_TCP_ACK_FLAG);
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(f + 14);
	struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)(f + 34);
	uint32_t to = rte_cpu_to_be_32(IP4(172, 20, 0, 130));
	struct rte_mbuf *m;
	uint16_t want;

	t->cksum = kdp_csum_partial_update32(t->cksum, ip->dst_addr, to);
	ip->dst_addr = to;
	t->src_port = RTE_BE16(33333); /* a port is data: the sum stays */
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	CU_ASSERT_EQUAL(t->cksum, rte_ipv4_phdr_cksum(ip, 0));
	m = test_pkt_raw(f, (uint16_t)len);
	m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
	kdp_meta(m)->l4_off = 34;
	kdp_meta(m)->l4_proto = IPPROTO_TCP;
	/* A port with checksum offload: flags and lengths, field untouched. */
	kdp_csum_tx_prep(m, true);
	CU_ASSERT_EQUAL(m->ol_flags, RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM);
	CU_ASSERT_EQUAL(m->l2_len, 14);
	CU_ASSERT_EQUAL(m->l3_len, 20);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod_offset(m, struct rte_tcp_hdr *, 34)->cksum,
			rte_ipv4_phdr_cksum(ip, 0));
	/* Without: finished in software, exactly the full checksum. */
	m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
	kdp_csum_tx_prep(m, false);
	t->cksum = 0;
	want = rte_ipv4_udptcp_cksum(ip, t);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod_offset(m, struct rte_tcp_hdr *, 34)->cksum, want);
	CU_ASSERT_EQUAL(m->ol_flags, 0);
	/* Any other packet: untouched. */
	kdp_csum_tx_prep(m, false);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod_offset(m, struct rte_tcp_hdr *, 34)->cksum, want);
	rte_pktmbuf_free(m);
}

/* kdp_csum_sum is rte_raw_cksum, faster: the same for every length and
 * alignment. */
static void test_csum_sum(void)
{
	static uint8_t buf[4200];
	uint32_t x = 12345;

	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (uint8_t)(x >> 16);
	}
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len < 300; len++)
			CU_ASSERT_EQUAL(kdp_csum_sum(buf + off, len), rte_raw_cksum(buf + off, len));
	CU_ASSERT_EQUAL(kdp_csum_sum(buf + 3, 4100), rte_raw_cksum(buf + 3, 4100));
	memset(buf, 0xff, sizeof(buf)); /* every carry at once */
	CU_ASSERT_EQUAL(kdp_csum_sum(buf, 4096), rte_raw_cksum(buf, 4096));
	CU_ASSERT_EQUAL(kdp_csum_sum(buf + 1, 4097), rte_raw_cksum(buf + 1, 4097));
}

void test_register_offload(void)
{
	CU_pSuite s0 = CU_add_suite("csum", NULL, NULL);
	CU_add_test(s0, "kdp_csum_sum equals rte_raw_cksum", test_csum_sum);
	CU_pSuite s = CU_add_suite("offload", NULL, NULL);
	CU_add_test(s, "partial checksum: flagged, finished or refused", test_rx_csum);
	CU_add_test(s, "TCP super-frame cut into MSS segments", test_gso_tcp);
	CU_add_test(s, "UDP_SEGMENT super-frame cut into datagrams", test_gso_udp);
	CU_add_test(s, "GSO types and frames refused", test_gso_refused);
	CU_add_test(s, "a TCP super-frame that may travel whole", test_tso_whole);
	CU_add_test(s, "a TCPv6 super-frame that may travel whole", test_tso_whole6);
	CU_add_test(s, "partial sum through NAT, finished at transmit", test_partial_arith);
	CU_add_test(s, "IPv6: partial checksums kept, TCPv6 super-frames cut", test_ipv6);
}

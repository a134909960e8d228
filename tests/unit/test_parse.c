/* SPDX-License-Identifier: BSD-3-Clause */
/* Parse stage: every malformed case has its own named reason. */
#include <string.h>

#include <rte_ip.h>

#include "parse/kdp_parse.h"
#include "test_util.h"

static const struct test_pkt base = {
	.src_mac = {{0x02, 0, 0, 0, 0, 1}},
	.dst_mac = {{0x02, 0, 0, 0, 0, 2}},
	.src = IP4(172, 20, 1, 236),
	.dst = IP4(172, 20, 0, 130),
	.proto = IPPROTO_UDP,
	.sport = 40000,
	.dport = 53,
	.payload = 10,
};

/* Parses a copy of @p p after @p mutate edits its bytes; returns reason. */
static enum kdp_drop parse_mutated(const struct test_pkt *p,
				   void (*mutate)(uint8_t *d, uint16_t *len))
{
	struct rte_mbuf *m = test_pkt_make(p);
	uint8_t buf[2048];
	uint16_t len = rte_pktmbuf_data_len(m);
	enum kdp_drop r;

	memcpy(buf, rte_pktmbuf_mtod(m, void *), len);
	rte_pktmbuf_free(m);
	if (mutate)
		mutate(buf, &len);
	m = test_pkt_raw(buf, len);
	r = kdp_parse(m);
	rte_pktmbuf_free(m);
	return r;
}

static void fix_csum(uint8_t *d)
{
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(d + 14);
	ip->hdr_checksum = 0;
	ip->hdr_checksum = rte_ipv4_cksum(ip);
}

static void m_trunc_eth(uint8_t *d, uint16_t *len) { *len = 10; }
static void m_ipv6(uint8_t *d, uint16_t *len) { d[12] = 0x86; d[13] = 0xdd; }
static void m_trunc_ip(uint8_t *d, uint16_t *len) { *len = 14 + 12; }
static void m_version(uint8_t *d, uint16_t *len) { d[14] = 0x65; fix_csum(d); }
static void m_ihl_small(uint8_t *d, uint16_t *len) { d[14] = 0x44; }
static void m_ihl_big(uint8_t *d, uint16_t *len) { d[14] = 0x4f; *len = 14 + 40; }
static void m_totlen_big(uint8_t *d, uint16_t *len) { d[16] = 0x05; fix_csum(d); }
static void m_totlen_small(uint8_t *d, uint16_t *len) { d[16] = 0; d[17] = 10; fix_csum(d); }
static void m_csum(uint8_t *d, uint16_t *len) { d[24] ^= 0x55; }
static void m_src_mcast(uint8_t *d, uint16_t *len) { d[26] = 224; fix_csum(d); }
static void m_src_loop(uint8_t *d, uint16_t *len) { d[26] = 127; fix_csum(d); }
static void m_src_zero(uint8_t *d, uint16_t *len) { memset(d + 26, 0, 4); fix_csum(d); }
static void m_udp_trunc(uint8_t *d, uint16_t *len)
{
	/* IP total length covers only 4 bytes of UDP header. */
	d[16] = 0; d[17] = 24; *len = 14 + 24; fix_csum(d);
}
static void m_udp_len_big(uint8_t *d, uint16_t *len) { d[14 + 20 + 4] = 0x10; }
static void m_udp_len_small(uint8_t *d, uint16_t *len) { d[14 + 20 + 4] = 0; d[14 + 20 + 5] = 4; }
static void m_pad(uint8_t *d, uint16_t *len) { memset(d + *len, 0xee, 20); *len += 20; }

static void test_drop_reasons(void)
{
	static const struct {
		void (*mutate)(uint8_t *, uint16_t *);
		enum kdp_drop want;
	} cases[] = {
		{NULL, KDP_DROP_NONE},
		{m_pad, KDP_DROP_NONE},
		{m_trunc_eth, KDP_DROP_ETH_TRUNCATED},
		{m_ipv6, KDP_DROP_ETHERTYPE_UNSUPPORTED},
		{m_trunc_ip, KDP_DROP_IP_TRUNCATED},
		{m_version, KDP_DROP_IP_BAD_VERSION},
		{m_ihl_small, KDP_DROP_IP_BAD_IHL},
		{m_ihl_big, KDP_DROP_IP_BAD_IHL},
		{m_totlen_big, KDP_DROP_IP_BAD_TOTAL_LENGTH},
		{m_totlen_small, KDP_DROP_IP_BAD_TOTAL_LENGTH},
		{m_csum, KDP_DROP_IP_BAD_CHECKSUM},
		{m_src_mcast, KDP_DROP_IP_BAD_SOURCE},
		{m_src_loop, KDP_DROP_IP_BAD_SOURCE},
		{m_src_zero, KDP_DROP_IP_BAD_SOURCE},
		{m_udp_trunc, KDP_DROP_L4_TRUNCATED},
		{m_udp_len_big, KDP_DROP_L4_TRUNCATED},
		{m_udp_len_small, KDP_DROP_L4_TRUNCATED},
	};
	for (size_t i = 0; i < RTE_DIM(cases); i++) {
		enum kdp_drop got = parse_mutated(&base, cases[i].mutate);
		if (got != cases[i].want)
			fprintf(stderr, "case %zu: got %s want %s\n", i,
				kdp_drop_name(got), kdp_drop_name(cases[i].want));
		CU_ASSERT_EQUAL(got, cases[i].want);
	}
}

static void test_meta_and_padding(void)
{
	struct test_pkt p = base;
	struct rte_mbuf *m;
	uint8_t buf[128];
	uint16_t len;

	p.payload = 0; /* 14 + 20 + 8 = 42 bytes: the NIC pads to 60 */
	m = test_pkt_make(&p);
	len = rte_pktmbuf_data_len(m);
	memcpy(buf, rte_pktmbuf_mtod(m, void *), len);
	memset(buf + len, 0, 60 - len);
	rte_pktmbuf_free(m);
	m = test_pkt_raw(buf, 60);
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 42); /* padding trimmed */
	CU_ASSERT_EQUAL(kdp_meta(m)->kind, KDP_PKT_IPV4);
	CU_ASSERT_EQUAL(kdp_meta(m)->l4_proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(kdp_meta(m)->l4_off, 34);
	CU_ASSERT_EQUAL(kdp_meta(m)->flags, 0);
	rte_pktmbuf_free(m);
}

static void test_fragments(void)
{
	struct test_pkt p = base;
	struct rte_mbuf *m;

	/* A later fragment: no L4 header to check, flagged. */
	p.frag = 185; /* offset 1480 bytes */
	m = test_pkt_make(&p);
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	CU_ASSERT(kdp_meta(m)->flags & KDP_META_F_LATER_FRAG);
	rte_pktmbuf_free(m);
	/* A first fragment whose UDP length covers more than this piece. */
	CU_ASSERT_EQUAL(parse_mutated(&base, m_udp_len_big), KDP_DROP_L4_TRUNCATED);
	p = base;
	p.frag = RTE_IPV4_HDR_MF_FLAG;
	m = test_pkt_make(&p);
	{
		uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
		d[14 + 20 + 4] = 0x10; /* UDP length 4096+: more fragments follow */
	}
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	CU_ASSERT_FALSE(kdp_meta(m)->flags & KDP_META_F_LATER_FRAG);
	rte_pktmbuf_free(m);
}

static void test_arp(void)
{
	uint8_t f[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 1, 0x08, 0x06,
			 0, 1, 0x08, 0, 6, 4, 0, 1};
	struct rte_mbuf *m = test_pkt_raw(f, 60);

	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(kdp_meta(m)->kind, KDP_PKT_ARP);
	rte_pktmbuf_free(m);
	f[19] = 16; /* plen 16: not IPv4 */
	m = test_pkt_raw(f, 60);
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_ARP_MALFORMED);
	rte_pktmbuf_free(m);
	m = test_pkt_raw(f, 30);
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_ARP_MALFORMED);
	rte_pktmbuf_free(m);
}

static void test_tcp_icmp(void)
{
	struct test_pkt p = base;
	struct rte_mbuf *m;

	p.proto = IPPROTO_TCP;
	m = test_pkt_make(&p);
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	/* data offset 4 (16 bytes) is below the minimum header */
	rte_pktmbuf_mtod(m, uint8_t *)[14 + 20 + 12] = 4 << 4;
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_L4_TRUNCATED);
	/* data offset 15 (60 bytes) is beyond the packet */
	rte_pktmbuf_mtod(m, uint8_t *)[14 + 20 + 12] = 15 << 4;
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_L4_TRUNCATED);
	rte_pktmbuf_free(m);
	p = base;
	p.proto = IPPROTO_ICMP;
	p.payload = 0;
	m = test_pkt_make(&p);
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	rte_pktmbuf_free(m);
}

static void test_drop_names(void)
{
	CU_ASSERT_STRING_EQUAL(kdp_drop_name(KDP_DROP_SPOOFED_SOURCE), "spoofed_source");
	CU_ASSERT_STRING_EQUAL(kdp_drop_stage(KDP_DROP_SPOOFED_SOURCE), "ingress");
	CU_ASSERT_STRING_EQUAL(kdp_drop_stage(KDP_DROP_ETH_TRUNCATED), "parse");
	CU_ASSERT_STRING_EQUAL(kdp_drop_stage(KDP_DROP_PORT_GONE), "tx");
	CU_ASSERT_STRING_EQUAL(kdp_drop_stage(KDP_DROP_NEIGH_UNRESOLVED), "neigh");
	CU_ASSERT_STRING_EQUAL(kdp_drop_name(KDP_DROP__MAX), "unknown");
	for (unsigned int i = 0; i < KDP_DROP__MAX; i++) {
		CU_ASSERT_PTR_NOT_NULL(kdp_drop_stage(i));
		CU_ASSERT(strlen(kdp_drop_help(i)) > 0);
	}
}

void test_register_parse(void)
{
	CU_pSuite s = CU_add_suite("parse", NULL, NULL);
	CU_add_test(s, "every malformed frame has its reason", test_drop_reasons);
	CU_add_test(s, "metadata and padding trim", test_meta_and_padding);
	CU_add_test(s, "fragments", test_fragments);
	CU_add_test(s, "ARP", test_arp);
	CU_add_test(s, "TCP and ICMP headers", test_tcp_icmp);
	CU_add_test(s, "drop names and stages", test_drop_names);
}

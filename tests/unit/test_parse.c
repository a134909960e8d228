/* SPDX-License-Identifier: BSD-3-Clause */
/* Parse stage: every malformed case has its own named reason. */
#include <string.h>

#include <rte_ip.h>

#include "common/kdp_csum.h"
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
static void m_ipv6(uint8_t *d, uint16_t *len) { d[12] = 0x86; d[13] = 0xdd; *len = 14 + 60; }
static void m_vlan(uint8_t *d, uint16_t *len) { d[12] = 0x81; d[13] = 0x00; }
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
		{m_ipv6, KDP_DROP_IP_BAD_VERSION}, /* an IPv4 packet under 0x86dd */
		{m_vlan, KDP_DROP_ETHERTYPE_UNSUPPORTED},
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

/* A port with RX IPv4 checksum offload (a NIC) says what its hardware
 * found: parse takes its word (GOOD: no sum of its own; BAD: dropped) and
 * sums the header itself only when the port says nothing. */
static void test_port_checked_csum(void)
{
	struct rte_mbuf *m = test_pkt_make(&base);
	uint8_t buf[128];
	uint16_t len = rte_pktmbuf_data_len(m);

	memcpy(buf, rte_pktmbuf_mtod(m, void *), len);
	rte_pktmbuf_free(m);
	/* A right header the port calls bad: dropped. */
	m = test_pkt_raw(buf, len);
	m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_BAD;
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_IP_BAD_CHECKSUM);
	rte_pktmbuf_free(m);
	/* A wrong one the port calls good: parse did not sum it again. */
	buf[24] ^= 0x55;
	m = test_pkt_raw(buf, len);
	m->ol_flags = RTE_MBUF_F_RX_IP_CKSUM_GOOD;
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	rte_pktmbuf_free(m);
	/* The same without a word from the port: summed, dropped. */
	m = test_pkt_raw(buf, len);
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_IP_BAD_CHECKSUM);
	rte_pktmbuf_free(m);
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

/* ---- IPv6 ---- */

static struct test_pkt6 base6(void)
{
	struct test_pkt6 p = {
		.src_mac = {{0x02, 0, 0, 0, 0, 1}},
		.dst_mac = {{0x02, 0, 0, 0, 0, 2}},
		.proto = IPPROTO_UDP,
		.sport = 40000,
		.dport = 53,
		.payload = 10,
	};
	p.src = test_ip6("fd00:10:1::236");
	p.dst = test_ip6("fd00:10::130");
	return p;
}

/* Parses @p p after @p mutate edits its bytes (IPv6 header at d + 14). */
static enum kdp_drop parse6_mutated(const struct test_pkt6 *p,
				    void (*mutate)(uint8_t *d, uint16_t *len),
				    struct kdp_meta *md)
{
	struct rte_mbuf *m = test_pkt6_make(p);
	uint8_t buf[2048];
	uint16_t len = rte_pktmbuf_data_len(m);
	enum kdp_drop r;

	memcpy(buf, rte_pktmbuf_mtod(m, void *), len);
	rte_pktmbuf_free(m);
	if (mutate)
		mutate(buf, &len);
	m = test_pkt_raw(buf, len);
	r = kdp_parse(m);
	if (md != NULL)
		*md = *kdp_meta(m);
	rte_pktmbuf_free(m);
	return r;
}

static void m6_trunc(uint8_t *d, uint16_t *len) { *len = 14 + 30; }
static void m6_version(uint8_t *d, uint16_t *len) { d[14] = 0x45; }
static void m6_plen_zero(uint8_t *d, uint16_t *len) { d[18] = d[19] = 0; }
static void m6_jumbo(uint8_t *d, uint16_t *len) { d[18] = d[19] = 0; d[20] = 0; }
static void m6_plen_big(uint8_t *d, uint16_t *len) { d[18] = 0x05; }
static void m6_src_mcast(uint8_t *d, uint16_t *len) { d[22] = 0xff; }
static void m6_src_loop(uint8_t *d, uint16_t *len) { memset(d + 22, 0, 16); d[37] = 1; }
static void m6_src_mapped(uint8_t *d, uint16_t *len)
{
	memset(d + 22, 0, 16);
	d[32] = d[33] = 0xff;
	d[34] = 10;
}
static void m6_src_zero(uint8_t *d, uint16_t *len) { memset(d + 22, 0, 16); }
static void m6_pad(uint8_t *d, uint16_t *len) { memset(d + *len, 0, 8); *len += 8; }

static void test6_drop_reasons(void)
{
	static const struct {
		void (*mutate)(uint8_t *, uint16_t *);
		enum kdp_drop want;
	} cases[] = {
		{NULL, KDP_DROP_NONE},
		{m6_pad, KDP_DROP_NONE},
		{m6_trunc, KDP_DROP_IP6_TRUNCATED},
		{m6_version, KDP_DROP_IP_BAD_VERSION},
		{m6_plen_zero, KDP_DROP_L4_TRUNCATED}, /* an empty payload: no UDP header */
		{m6_jumbo, KDP_DROP_IP6_BAD_PAYLOAD_LENGTH},
		{m6_plen_big, KDP_DROP_IP6_BAD_PAYLOAD_LENGTH},
		{m6_src_mcast, KDP_DROP_IP6_BAD_SOURCE},
		{m6_src_loop, KDP_DROP_IP6_BAD_SOURCE},
		{m6_src_mapped, KDP_DROP_IP6_BAD_SOURCE},
		{m6_src_zero, KDP_DROP_IP6_BAD_SOURCE},
	};
	struct test_pkt6 p = base6();
	struct kdp_meta md;

	for (size_t i = 0; i < RTE_DIM(cases); i++) {
		enum kdp_drop got = parse6_mutated(&p, cases[i].mutate, &md);
		if (got != cases[i].want)
			fprintf(stderr, "v6 case %zu: got %s want %s\n", i, kdp_drop_name(got),
				kdp_drop_name(cases[i].want));
		CU_ASSERT_EQUAL(got, cases[i].want);
	}
	CU_ASSERT_EQUAL(parse6_mutated(&p, m6_pad, &md), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(md.kind, KDP_PKT_IPV6);
	CU_ASSERT_EQUAL(md.l4_proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(md.l4_off, 54);
	CU_ASSERT_EQUAL(md.flags, 0);
	/* TCP and ICMPv6 headers are checked as for IPv4. */
	p.proto = IPPROTO_TCP;
	p.payload = 0;
	{
		struct rte_mbuf *m = test_pkt6_make(&p);

		CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
		rte_pktmbuf_mtod(m, uint8_t *)[54 + 12] = 15 << 4;
		CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_L4_TRUNCATED);
		rte_pktmbuf_free(m);
	}
	p.proto = IPPROTO_ICMPV6;
	CU_ASSERT_EQUAL(parse6_mutated(&p, NULL, &md), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(md.l4_proto, IPPROTO_ICMPV6);
	/* No next header (59): nothing to check beyond the header. */
	p.proto = 59;
	CU_ASSERT_EQUAL(parse6_mutated(&p, NULL, &md), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(md.l4_proto, 59);
}

/* An options header (Hop-by-Hop or Destination) of @p units 8-byte units
 * whose next header is @p next, padded with PadN. */
static uint16_t opts(uint8_t *b, uint8_t next, uint8_t units)
{
	uint16_t len = (uint16_t)(units * 8);

	memset(b, 0, len);
	b[0] = next;
	b[1] = (uint8_t)(units - 1);
	b[2] = 1; /* PadN */
	b[3] = (uint8_t)(len - 4);
	return len;
}

static enum kdp_drop parse_ext(const uint8_t *ext, uint16_t len, uint8_t first,
			       struct kdp_meta *md)
{
	struct test_pkt6 p = base6();

	p.ext = ext;
	p.ext_len = len;
	p.ext_first = first;
	return parse6_mutated(&p, NULL, md);
}

static void test6_ext_headers(void)
{
	uint8_t e[1200];
	struct kdp_meta md;
	uint16_t n;

	/* Hop-by-Hop, then Destination options, then UDP: walked. */
	n = opts(e, IPPROTO_DSTOPTS, 1);
	n = (uint16_t)(n + opts(e + n, IPPROTO_UDP, 2));
	CU_ASSERT_EQUAL(parse_ext(e, n, IPPROTO_HOPOPTS, &md), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(md.l4_proto, IPPROTO_UDP);
	CU_ASSERT_EQUAL(md.l4_off, 54 + 24);
	/* Hop-by-Hop anywhere but first. */
	n = opts(e, IPPROTO_HOPOPTS, 1);
	n = (uint16_t)(n + opts(e + n, IPPROTO_UDP, 1));
	CU_ASSERT_EQUAL(parse_ext(e, n, IPPROTO_DSTOPTS, &md), KDP_DROP_IP6_HOP_BY_HOP_MISPLACED);
	/* A header claiming more than the packet has. */
	n = opts(e, IPPROTO_UDP, 1);
	e[1] = 40;
	CU_ASSERT_EQUAL(parse_ext(e, n, IPPROTO_DSTOPTS, &md), KDP_DROP_IP6_EXT_TRUNCATED);
	/* Nine headers: one too many. */
	n = 0;
	for (int i = 0; i < 9; i++)
		n = (uint16_t)(n + opts(e + n, i == 8 ? IPPROTO_UDP : IPPROTO_DSTOPTS, 1));
	CU_ASSERT_EQUAL(parse_ext(e, n, IPPROTO_DSTOPTS, &md), KDP_DROP_IP6_EXT_CHAIN_TOO_LONG);
	/* Eight are fine. */
	n = 0;
	for (int i = 0; i < 8; i++)
		n = (uint16_t)(n + opts(e + n, i == 7 ? IPPROTO_UDP : IPPROTO_DSTOPTS, 1));
	CU_ASSERT_EQUAL(parse_ext(e, n, IPPROTO_DSTOPTS, &md), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(md.l4_off, 54 + 64);
	/* More than 512 bytes of them. */
	n = opts(e, IPPROTO_UDP, 65);
	CU_ASSERT_EQUAL(parse_ext(e, n, IPPROTO_DSTOPTS, &md), KDP_DROP_IP6_EXT_CHAIN_TOO_LONG);
	/* A routing header with segments left is source routing; spent is fine. */
	memset(e, 0, 24);
	e[0] = IPPROTO_UDP;
	e[1] = 2; /* 24 bytes */
	e[2] = 4; /* segment routing */
	e[3] = 1; /* segments left */
	CU_ASSERT_EQUAL(parse_ext(e, 24, IPPROTO_ROUTING, &md), KDP_DROP_IP6_ROUTING_HEADER);
	e[3] = 0;
	CU_ASSERT_EQUAL(parse_ext(e, 24, IPPROTO_ROUTING, &md), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(md.l4_off, 54 + 24);
	/* An authentication header is counted in 4-byte units (RFC 4302). */
	memset(e, 0, 24);
	e[0] = IPPROTO_UDP;
	e[1] = 4; /* (4 + 2) * 4 = 24 bytes */
	CU_ASSERT_EQUAL(parse_ext(e, 24, IPPROTO_AH, &md), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(md.l4_off, 54 + 24);
}

static void test6_fragments(void)
{
	uint8_t e[8] = {IPPROTO_UDP, 0, 0, 0, 0, 0, 0x12, 0x34};
	struct kdp_meta md;
	struct test_pkt6 p = base6();
	struct rte_mbuf *m;

	/* An atomic fragment is a whole packet (RFC 6946). */
	CU_ASSERT_EQUAL(parse_ext(e, 8, IPPROTO_FRAGMENT, &md), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(md.flags, 0);
	CU_ASSERT_EQUAL(md.l4_off, 62);
	/* A first fragment: L4 header checked, flagged. */
	p.ext = e;
	p.ext_len = 8;
	p.ext_first = IPPROTO_FRAGMENT;
	p.payload = 8; /* UDP 16 bytes: a multiple of 8 */
	e[3] = 1;      /* M */
	m = test_pkt6_make(&p);
	rte_pktmbuf_mtod(m, uint8_t *)[62 + 4] = 0x10; /* UDP length beyond: more follows */
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(kdp_meta(m)->flags, KDP_META_F_FRAG6);
	rte_pktmbuf_free(m);
	/* Not a multiple of 8 bytes with more to come. */
	p.payload = 9;
	CU_ASSERT_EQUAL(parse6_mutated(&p, NULL, &md), KDP_DROP_IP6_FRAG_BAD);
	/* A later fragment: no L4 header. */
	e[2] = 0x05;
	e[3] = 0xc8; /* offset 1480 */
	p.payload = 8;
	CU_ASSERT_EQUAL(parse6_mutated(&p, NULL, &md), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(md.flags, KDP_META_F_LATER_FRAG | KDP_META_F_FRAG6);
	CU_ASSERT_EQUAL(md.l4_proto, IPPROTO_UDP);
	/* Past 65535 bytes. */
	e[2] = 0xff;
	e[3] = 0xf8;
	CU_ASSERT_EQUAL(parse6_mutated(&p, NULL, &md), KDP_DROP_IP6_FRAG_BAD);
}

/* A neighbour solicitation from @p src for @p target (hop limit @p hop). */
static struct rte_mbuf *ns(const char *src, const char *dst, const char *target, uint8_t hop)
{
	struct test_pkt6 p = base6();
	struct rte_mbuf *m;
	uint8_t *l4;
	uint16_t c;
	struct kdp_in6 t = test_ip6(target);
	struct rte_ipv6_hdr *ip;

	p.proto = IPPROTO_ICMPV6;
	p.icmp_type = 135;
	p.payload = 16 + 8;
	p.hop = hop;
	p.src = test_ip6(src);
	p.dst = test_ip6(dst);
	m = test_pkt6_make(&p);
	ip = rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, 14);
	l4 = rte_pktmbuf_mtod_offset(m, uint8_t *, 54);
	memset(l4 + 4, 0, 28);
	memcpy(l4 + 8, &t, 16);
	l4[24] = 1;
	l4[25] = 1;
	memcpy(l4 + 26, &p.src_mac, 6);
	l4[2] = l4[3] = 0;
	c = (uint16_t)~kdp_csum_add(kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr, 32, 58),
				    kdp_csum_sum(l4, 32));
	memcpy(l4 + 2, &c, 2);
	return m;
}

static void test6_nd(void)
{
	struct rte_mbuf *m = ns("fe80::1:236", "fe80::1", "fe80::1", 255);
	uint8_t *d;

	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(kdp_meta(m)->kind, KDP_PKT_ND);
	d = rte_pktmbuf_mtod(m, uint8_t *);
	d[54 + 2] ^= 1; /* checksum */
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_ND_MALFORMED);
	rte_pktmbuf_free(m);
	m = ns("fe80::1:236", "fe80::1", "fe80::1", 64); /* not from the link */
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_ND_MALFORMED);
	rte_pktmbuf_free(m);
	m = ns("fe80::1:236", "fe80::1", "ff02::1", 255); /* multicast target */
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_ND_MALFORMED);
	rte_pktmbuf_free(m);
	/* Duplicate address detection: from :: to a solicited-node address. */
	m = ns("::", "ff02::1:ff01:236", "fd00:10:1::236", 255);
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(kdp_meta(m)->kind, KDP_PKT_ND);
	rte_pktmbuf_free(m);
	m = ns("::", "fe80::1", "fd00:10:1::236", 255);
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_ND_MALFORMED);
	rte_pktmbuf_free(m);
	/* Router advertisements are not kdp's business. */
	m = ns("fe80::1:236", "fe80::1", "fe80::1", 255);
	d = rte_pktmbuf_mtod(m, uint8_t *);
	d[54] = 134;
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_ND_IGNORED);
	rte_pktmbuf_free(m);
}

void test_register_parse(void)
{
	CU_pSuite s = CU_add_suite("parse", NULL, NULL);
	CU_add_test(s, "every malformed frame has its reason", test_drop_reasons);
	CU_add_test(s, "metadata and padding trim", test_meta_and_padding);
	CU_add_test(s, "IPv4 header checksum checked by the port (RX offload)", test_port_checked_csum);
	CU_add_test(s, "fragments", test_fragments);
	CU_add_test(s, "ARP", test_arp);
	CU_add_test(s, "TCP and ICMP headers", test_tcp_icmp);
	CU_add_test(s, "drop names and stages", test_drop_names);
	CU_add_test(s, "IPv6: every malformed frame has its reason", test6_drop_reasons);
	CU_add_test(s, "IPv6: extension headers walked and bounded", test6_ext_headers);
	CU_add_test(s, "IPv6: fragments", test6_fragments);
	CU_add_test(s, "IPv6: neighbour discovery checks", test6_nd);
}

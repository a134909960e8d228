/* SPDX-License-Identifier: BSD-3-Clause */
/* The pipeline's IPv6 lane on a hand-built dual-stack copy of node k8s-ctr:
 * port 0 uplink, port 1 curl-pod, port 2 webpod, port 3 host tap. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_ip.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "common/kdp_csum.h"
#include "kdp_ipmasq.h"
#include "parse/kdp_parse.h"
#include "nat/kdp_nat6.h"
#include "pipeline/kdp_pipeline.h"
#include "test_util.h"

static const struct rte_ether_addr kdp_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x64}};
static const struct rte_ether_addr curl_mac = {{0x02, 0x00, 0xac, 0x14, 0x01, 0xec}};
static const struct rte_ether_addr web_mac = {{0x02, 0x00, 0xac, 0x14, 0x01, 0x28}};
static const struct rte_ether_addr host_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}};
static const struct rte_ether_addr w1_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x65}};

#define NODE6 "fd00:10::100"
#define W1_6 "fd00:10::101"
#define GW6 "fe80::200"
#define CURL6 "fd00:20:0:1::236"
#define WEB6 "fd00:20:0:1::40"
#define REMOTE_WEB6 "fd00:20::130"

static struct kdp_dp dp;
static struct kdp_stats st;
static struct kdp_neigh *nt, *nt6;
static struct kdp_ct6 *ct6;
static struct kdp_pipeline_ctx ctx;

static void nop_req(void *c, uint16_t p, uint32_t ip, const struct rte_ether_addr *d) {}
static void nop_req6(void *c, uint16_t p, const struct kdp_in6 *ip,
		     const struct rte_ether_addr *d) {}
static void nop_send(void *c, struct rte_mbuf *m, const struct rte_ether_addr *a)
{
	rte_pktmbuf_free(m);
}
static void nop_drop(void *c, struct rte_mbuf *m, enum kdp_drop r)
{
	rte_pktmbuf_free(m);
}

/* An address in suite set-up, where CUnit asserts may not run. */
static struct kdp_in6 ip6(const char *s)
{
	struct kdp_in6 a;

	if (kdp_addr6_parse(s, &a) != 0)
		abort();
	return a;
}

static int route6(const char *prefix, uint8_t depth, enum kdp_route_kind kind,
		  struct kdp_nexthop6 nh)
{
	struct kdp_in6 p = ip6(prefix);

	return kdp_route6_add(dp.rt6, &p, depth, kind, &nh, "");
}

static int setup(void)
{
	struct kdp_neigh_params np = {.size = 64}, np6 = {.size = 64, .family = AF_INET6};
	struct kdp_neigh_ops ops = {nop_req, nop_send, nop_drop, NULL, nop_req6};
	struct kdp_in6 w1 = ip6(W1_6);

	memset(&dp, 0, sizeof(dp));
	dp.node_ip = IP4(192, 168, 10, 100);
	dp.node_ip6 = ip6(NODE6);
	dp.pod_gw6 = ip6("fe80::1");
	dp.mac = kdp_mac;
	dp.ports[0] = (struct kdp_dp_port){KDP_PORT_UPLINK, 1500, 0};
	dp.ports[1] = (struct kdp_dp_port){.role = KDP_PORT_POD, .mtu = 1500,
					   .pod_ip = IP4(172, 20, 1, 236), .pod_ip6 = ip6(CURL6)};
	dp.ports[2] = (struct kdp_dp_port){.role = KDP_PORT_POD, .mtu = 1500,
					   .pod_ip = IP4(172, 20, 1, 40), .pod_ip6 = ip6(WEB6)};
	dp.ports[3] = (struct kdp_dp_port){KDP_PORT_HOST, 1500, 0};
	dp.rt = kdp_route_create("test_pl6_rt", 64, 0);
	dp.rt6 = kdp_route6_create("test_pl6_rt6", 64, 0);
	if (dp.rt == NULL || dp.rt6 == NULL)
		return -1;
	if (route6("::", 0, KDP_RK_GATEWAY,
		   (struct kdp_nexthop6){.type = KDP_NH_VIA, .port = 0, .gw = ip6(GW6)}) |
	    route6("fd00:10::", 64, KDP_RK_CONNECTED,
	       (struct kdp_nexthop6){.type = KDP_NH_CONNECTED, .port = 0}) |
	    route6("fd00:20::", 64, KDP_RK_REMOTE_NODE,
	       (struct kdp_nexthop6){.type = KDP_NH_VIA, .port = 0, .gw = w1}) |
	    route6("fd00:20:0:1::", 64, KDP_RK_LOCAL_PODCIDR,
	       (struct kdp_nexthop6){.type = KDP_NH_NO_ENDPOINT}) |
	    route6(CURL6, 128, KDP_RK_ENDPOINT,
	       (struct kdp_nexthop6){.type = KDP_NH_ENDPOINT, .port = 1, .mac = curl_mac}) |
	    route6(WEB6, 128, KDP_RK_ENDPOINT,
	       (struct kdp_nexthop6){.type = KDP_NH_ENDPOINT, .port = 2, .mac = web_mac}) |
	    route6(NODE6, 128, KDP_RK_HOST,
	       (struct kdp_nexthop6){.type = KDP_NH_HOST, .port = 3, .mac = host_mac}) |
	    route6("fe80::1", 128, KDP_RK_LOCAL, (struct kdp_nexthop6){.type = KDP_NH_LOCAL}))
		return -1;
	nt = kdp_neigh_create("test_pl6_neigh", &np, &ops);
	nt6 = kdp_neigh_create("test_pl6_neigh6", &np6, &ops);
	if (nt == NULL || nt6 == NULL)
		return -1;
	kdp_neigh_learn6(nt6, &w1, 0, &w1_mac, true, 0);
	{
		struct kdp_in6 rtr = ip6("fd00:10::200");

		kdp_neigh_learn6(nt6, &rtr, 0, &w1_mac, true, 0);
	}
	memset(&st, 0, sizeof(st));
	kdp_pipeline_ctx_init(&ctx, &st, nt, NULL, 0, 40000, 40009);
	ctx.nt6 = nt6;
	{
		struct kdp_ct_params cp = {.max_flows = 1024};

		ct6 = kdp_ct6_create("test_pl6_ct6", &cp);
	}
	if (ct6 == NULL)
		return -1;
	ctx.ct6 = ct6;
	{
		/* Masquerade as the reference lab after PUT /v1/ipmasq. */
		static const char conf[] = "nonMasqueradeCIDRs: [fd00:10:1::/64]\n";
		struct kdp_in6 native = ip6("fd00:20::"), nodes[2] = {ip6(NODE6), ip6(W1_6)};
		struct kdp_ipmasq *cfg = calloc(1, sizeof(*cfg));
		struct kdp_masq_set6 *m;
		char err[KDP_ERR_LEN];

		if (cfg == NULL || kdp_ipmasq_parse(conf, sizeof(conf) - 1, cfg, err) != 0)
			return -1;
		m = kdp_masq_set6_create(kdp_ipmasq_set6_size(cfg, 2));
		if (m == NULL || kdp_ipmasq_build6(cfg, &native, 48, nodes, 2, m) != 0)
			return -1;
		free(cfg);
		dp.masq6 = m;
	}
	return 0;
}

static int teardown(void)
{
	kdp_route_free(dp.rt);
	kdp_route6_free(dp.rt6);
	kdp_neigh_free(nt);
	kdp_neigh_free(nt6);
	kdp_ct6_free(ct6);
	kdp_masq_set6_free((struct kdp_masq_set6 *)dp.masq6);
	return 0;
}

static struct test_pkt6 from_curl6(const char *dst)
{
	struct test_pkt6 p = {
		.src_mac = curl_mac, .dst_mac = kdp_mac, .proto = IPPROTO_ICMPV6,
		.sport = 7, .dport = 1, .payload = 56,
	};
	p.src = test_ip6(CURL6);
	p.dst = test_ip6(dst);
	return p;
}

/* Runs one packet; returns the single output or NULL. */
static struct rte_mbuf *run1(struct rte_mbuf *m, uint16_t in_port, int *punted)
{
	struct kdp_pipeline_out out;

	CU_ASSERT_EQUAL(kdp_pipeline_run(&ctx, &dp, in_port, &m, 1, &out), 1);
	*punted = out.n_punt;
	if (out.n_tx == 1)
		return out.tx[0];
	if (out.n_punt == 1)
		return out.punt[0];
	return NULL;
}

/* The NAT rewrite, as a router past kdp sees the packet. */
static void kdp_nat6_rewrite_for_test(struct rte_mbuf *m, const struct kdp_ct6_key *to)
{
	kdp_nat6_rewrite(m, to);
}

static struct rte_ipv6_hdr *ip6_of(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_ipv6_hdr *, 14);
}

static struct rte_ether_hdr *eth_of(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
}

static int addr_is(const uint8_t *a, const char *want)
{
	struct kdp_in6 w = test_ip6(want);
	return memcmp(a, &w, 16) == 0;
}

static void test6_remote_pod(void)
{
	struct test_pkt6 p = from_curl6(REMOTE_WEB6);
	int punted;
	struct rte_mbuf *m = run1(test_pkt6_make(&p), 1, &punted);

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(punted, 0);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 0);
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->dst_addr, &w1_mac));
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->src_addr, &kdp_mac));
	CU_ASSERT(addr_is(ip6_of(m)->src_addr, CURL6)); /* no NAT */
	CU_ASSERT(addr_is(ip6_of(m)->dst_addr, REMOTE_WEB6));
	CU_ASSERT_EQUAL(ip6_of(m)->hop_limits, 63);
	CU_ASSERT(test_l4_csum6_ok(m)); /* no checksum covers the hop limit */
	rte_pktmbuf_free(m);
}

static void test6_local_pod_host_and_punts(void)
{
	struct test_pkt6 p = from_curl6(WEB6);
	int punted;
	struct rte_mbuf *m = run1(test_pkt6_make(&p), 1, &punted);

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 2);
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->dst_addr, &web_mac));
	CU_ASSERT_EQUAL(ip6_of(m)->hop_limits, 63);
	rte_pktmbuf_free(m);
	/* From the LAN to the node's IPv6: to the host tap, hop limit kept. */
	p.src_mac = w1_mac;
	p.src = test_ip6(W1_6);
	p.dst = test_ip6(NODE6);
	m = run1(test_pkt6_make(&p), 0, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 3);
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->dst_addr, &host_mac));
	CU_ASSERT_EQUAL(ip6_of(m)->hop_limits, 64);
	rte_pktmbuf_free(m);
	/* Off the cluster: to the gateway, unresolved: punted with the next hop. */
	p = from_curl6("2001:db8::8");
	m = run1(test_pkt6_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(punted, 1);
	CU_ASSERT_EQUAL(kdp_meta(m)->punt, KDP_PUNT_NEIGH6);
	CU_ASSERT(addr_is(kdp_meta(m)->nh_ip6, GW6));
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 0);
	rte_pktmbuf_free(m);
	/* On the LAN the next hop is the destination itself. */
	p = from_curl6("fd00:10::55");
	m = run1(test_pkt6_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT(addr_is(kdp_meta(m)->nh_ip6, "fd00:10::55"));
	rte_pktmbuf_free(m);
}

static uint64_t drops(enum kdp_drop r)
{
	return st.drop[r];
}

static void expect_drop(struct rte_mbuf *m, uint16_t in_port, enum kdp_drop r)
{
	uint64_t before = drops(r);
	int punted;

	CU_ASSERT_PTR_NULL(run1(m, in_port, &punted));
	CU_ASSERT_EQUAL(drops(r), before + 1);
}

static void test6_drops(void)
{
	struct test_pkt6 p;

	/* A pod sending from another pod's address. */
	p = from_curl6(REMOTE_WEB6);
	p.src = test_ip6(WEB6);
	expect_drop(test_pkt6_make(&p), 1, KDP_DROP_SPOOFED_SOURCE);
	/* Link-local is never routed, from or to. */
	p = from_curl6(REMOTE_WEB6);
	p.src = test_ip6("fe80::1:236");
	expect_drop(test_pkt6_make(&p), 1, KDP_DROP_LINK_LOCAL);
	p = from_curl6("fe80::99");
	expect_drop(test_pkt6_make(&p), 1, KDP_DROP_LINK_LOCAL);
	/* Multicast destinations are not forwarded. */
	p = from_curl6("ff05::2");
	expect_drop(test_pkt6_make(&p), 1, KDP_DROP_DST_NOT_UNICAST);
	/* This node's pod prefix without such a pod. */
	p = from_curl6("fd00:20:0:1::99");
	expect_drop(test_pkt6_make(&p), 1, KDP_DROP_NO_ENDPOINT);
	/* Unicast to another MAC on the uplink. */
	p = from_curl6(WEB6);
	p.src = test_ip6(W1_6);
	p.dst_mac = w1_mac;
	expect_drop(test_pkt6_make(&p), 0, KDP_DROP_L2_NOT_FOR_US);
}

static void test6_hop_limit_and_mtu(void)
{
	struct test_pkt6 p = from_curl6(REMOTE_WEB6);
	struct rte_mbuf *m;
	uint8_t *icmp;
	uint32_t mtu;
	int punted;

	p.hop = 1;
	p.payload = 100;
	m = run1(test_pkt6_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(drops(KDP_DROP_TTL_EXCEEDED), 1);
	/* Time exceeded from the node's IPv6 back to curl-pod, quoting all. */
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 1);
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->dst_addr, &curl_mac));
	CU_ASSERT(addr_is(ip6_of(m)->src_addr, NODE6));
	CU_ASSERT(addr_is(ip6_of(m)->dst_addr, CURL6));
	CU_ASSERT_EQUAL(ip6_of(m)->proto, IPPROTO_ICMPV6);
	icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, 54);
	CU_ASSERT_EQUAL(icmp[0], 3);
	CU_ASSERT_EQUAL(icmp[1], 0);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip6_of(m)->payload_len), 8 + 40 + 8 + 100);
	CU_ASSERT(addr_is(icmp + 8 + 8, CURL6)); /* the quoted header */
	CU_ASSERT(test_l4_csum6_ok(m));
	rte_pktmbuf_free(m);
	/* Larger than the uplink's MTU: packet too big with the MTU, whatever
	 * the flags (IPv6 never fragments in transit); the quote stops at
	 * 1280 bytes. */
	p = from_curl6(REMOTE_WEB6);
	p.payload = 1500 - 40 - 8 + 1;
	m = run1(test_pkt6_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(drops(KDP_DROP_PKT_TOO_BIG), 1);
	icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, 54);
	CU_ASSERT_EQUAL(icmp[0], 2);
	memcpy(&mtu, icmp + 4, 4);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(mtu), 1500);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 14 + 1280);
	CU_ASSERT(test_l4_csum6_ok(m));
	rte_pktmbuf_free(m);
	/* Exactly the MTU passes. */
	p.payload--;
	m = run1(test_pkt6_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 0);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip6_of(m)->payload_len), 1460);
	rte_pktmbuf_free(m);
	/* No error about an error (this one quotes a packet of no flow). */
	p = from_curl6(REMOTE_WEB6);
	p.hop = 1;
	p.icmp_type = 1;
	m = test_pkt6_make(&p);
	rte_pktmbuf_mtod(m, uint8_t *)[54 + 8] = 0x60;
	CU_ASSERT_PTR_NULL(run1(m, 1, &punted));
	CU_ASSERT_EQUAL(drops(KDP_DROP_TTL_EXCEEDED), 2);
}

/* A TCPv6 super-frame kept whole (RTE_MBUF_F_RX_LRO): the MTU rule looks at
 * one segment (headers + tso_segsz), not at the frame; a segment over the
 * MTU still gets packet too big. */
static void test6_lro_mtu(void)
{
	struct test_pkt6 p = from_curl6(REMOTE_WEB6);
	struct rte_mbuf *m;
	uint64_t ptb = drops(KDP_DROP_PKT_TOO_BIG);
	uint32_t mtu;
	int punted;

	p.proto = IPPROTO_TCP;
	p.sport = 40000;
	p.dport = 80;
	p.tcp_flags = RTE_TCP_ACK_FLAG;
	p.payload = 1800; /* 40 + 20 + 1800 > 1500: segments of 900 fit */
	m = test_pkt6_make(&p);
	m->ol_flags |= RTE_MBUF_F_RX_LRO;
	m->tso_segsz = 900;
	m = run1(m, 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(ip6_of(m)->proto, IPPROTO_TCP); /* forwarded, not answered */
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 0);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(ip6_of(m)->payload_len), 1820);
	CU_ASSERT_EQUAL(ip6_of(m)->hop_limits, 63);
	CU_ASSERT(m->ol_flags & RTE_MBUF_F_RX_LRO);
	CU_ASSERT_EQUAL(m->tso_segsz, 900);
	CU_ASSERT_EQUAL(drops(KDP_DROP_PKT_TOO_BIG), ptb);
	/* Readied for a port with TSO: flagged IPv6, its headers' lengths. */
	kdp_csum_tx_tso(m);
	CU_ASSERT_EQUAL(m->ol_flags & (RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_IPV4 |
				       RTE_MBUF_F_TX_TCP_SEG | RTE_MBUF_F_RX_LRO),
			RTE_MBUF_F_TX_IPV6 | RTE_MBUF_F_TX_TCP_SEG);
	CU_ASSERT_EQUAL(m->l2_len, 14);
	CU_ASSERT_EQUAL(m->l3_len, 40);
	CU_ASSERT_EQUAL(m->l4_len, 20);
	rte_pktmbuf_free(m);
	/* Segments of 1441 bytes: 40 + 20 + 1441 = 1501 over the MTU. */
	m = test_pkt6_make(&p);
	m->ol_flags |= RTE_MBUF_F_RX_LRO;
	m->tso_segsz = 1441;
	m = run1(m, 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(ip6_of(m)->proto, IPPROTO_ICMPV6);
	CU_ASSERT_EQUAL(rte_pktmbuf_mtod_offset(m, uint8_t *, 54)[0], 2);
	memcpy(&mtu, rte_pktmbuf_mtod_offset(m, uint8_t *, 54 + 4), 4);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(mtu), 1500);
	CU_ASSERT_EQUAL(drops(KDP_DROP_PKT_TOO_BIG), ptb + 1);
	rte_pktmbuf_free(m);
}

static void test6_echo_and_nd(void)
{
	struct test_pkt6 p = from_curl6("fe80::1");
	struct rte_mbuf *m;
	uint8_t *icmp;
	int punted;

	/* A pod pings its gateway from its link-local address: answered. */
	p.src = test_ip6("fe80::1:236");
	m = run1(test_pkt6_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 1);
	CU_ASSERT(addr_is(ip6_of(m)->src_addr, "fe80::1"));
	CU_ASSERT(addr_is(ip6_of(m)->dst_addr, "fe80::1:236"));
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->dst_addr, &curl_mac));
	icmp = rte_pktmbuf_mtod_offset(m, uint8_t *, 54);
	CU_ASSERT_EQUAL(icmp[0], 129);
	CU_ASSERT(test_l4_csum6_ok(m));
	rte_pktmbuf_free(m);
	/* A solicitation goes to the control thread. */
	p = from_curl6("fe80::1");
	p.src = test_ip6("fe80::1:236");
	p.hop = 255;
	p.icmp_type = 135;
	p.payload = 16;
	{
		struct kdp_in6 t = test_ip6("fe80::1");
		struct rte_mbuf *n;
		uint8_t *l4;
		uint16_t c;

		n = test_pkt6_make(&p);
		l4 = rte_pktmbuf_mtod_offset(n, uint8_t *, 54);
		memset(l4 + 2, 0, 6);
		memcpy(l4 + 8, &t, 16);
		c = (uint16_t)~kdp_csum_add(kdp_csum_ipv6_pseudo(ip6_of(n)->src_addr,
								 ip6_of(n)->dst_addr, 24, 58),
					    kdp_csum_sum(l4, 24));
		memcpy(l4 + 2, &c, 2);
		m = run1(n, 1, &punted);
	}
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(punted, 1);
	CU_ASSERT_EQUAL(kdp_meta(m)->punt, KDP_PUNT_ND);
	rte_pktmbuf_free(m);
}

static void test6_mixed_burst(void)
{
	struct rte_mbuf *pkts[8];
	struct kdp_pipeline_out out;
	struct test_pkt p4 = {
		.src_mac = curl_mac, .dst_mac = kdp_mac, .src = IP4(172, 20, 1, 236),
		.dst = IP4(172, 20, 1, 40), .proto = IPPROTO_UDP, .sport = 1, .dport = 2,
	};
	struct test_pkt6 p6 = from_curl6(WEB6);
	struct kdp_route_table *rt4 = dp.rt;
	struct kdp_nexthop nh = {.type = KDP_NH_ENDPOINT, .port = 2, .mac = web_mac};

	kdp_route_add(rt4, IP4(172, 20, 1, 40), 32, KDP_RK_ENDPOINT, &nh, "");
	for (int i = 0; i < 8; i++) {
		if (i % 2) {
			p6.sport = (uint16_t)i;
			pkts[i] = test_pkt6_make(&p6);
		} else {
			p4.sport = (uint16_t)i;
			pkts[i] = test_pkt_make(&p4);
		}
	}
	CU_ASSERT_EQUAL(kdp_pipeline_run(&ctx, &dp, 1, pkts, 8, &out), 8);
	CU_ASSERT_EQUAL(out.n_tx, 8);
	CU_ASSERT_EQUAL(out.n_punt, 0);
	for (int i = 0; i < out.n_tx; i++) {
		CU_ASSERT_EQUAL(kdp_meta(out.tx[i])->out_port, 2);
		rte_pktmbuf_free(out.tx[i]);
	}
}

static struct test_pkt6 udp6(const char *src, const char *dst, uint16_t sport, uint16_t dport)
{
	struct test_pkt6 p = {
		.src_mac = curl_mac, .dst_mac = kdp_mac, .proto = IPPROTO_UDP,
		.sport = sport, .dport = dport, .payload = 20,
	};
	p.src = test_ip6(src);
	p.dst = test_ip6(dst);
	return p;
}

static void test6_masquerade(void)
{
	struct test_pkt6 p = udp6(CURL6, "fd00:10::200", 45000, 53);
	struct rte_mbuf *m;
	struct rte_udp_hdr *u;
	int punted;
	uint64_t flows = st.masq_flows, skipped = st.masq_skipped, n = kdp_ct6_count(ct6);

	/* To the router (outside the set): the node's IPv6, the pod's port. */
	m = run1(test_pkt6_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT(addr_is(ip6_of(m)->src_addr, NODE6));
	CU_ASSERT(addr_is(ip6_of(m)->dst_addr, "fd00:10::200"));
	u = rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 54);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(u->src_port), 45000 >= 40000 && 45000 <= 40009 ? 45000 :
						       rte_be_to_cpu_16(u->src_port));
	CU_ASSERT(rte_be_to_cpu_16(u->src_port) >= 40000 && rte_be_to_cpu_16(u->src_port) <= 40009);
	CU_ASSERT(test_l4_csum6_ok(m));
	CU_ASSERT_EQUAL(st.masq_flows, flows + 1);
	CU_ASSERT_EQUAL(kdp_ct6_count(ct6), n + 1);
	{
		/* The answer comes back to the node's address and port and
		 * reaches the pod as it sent it. */
		struct test_pkt6 r = udp6("fd00:10::200", NODE6, 53, rte_be_to_cpu_16(u->src_port));
		struct rte_mbuf *back;

		r.src_mac = w1_mac;
		rte_pktmbuf_free(m);
		back = run1(test_pkt6_make(&r), 0, &punted);
		CU_ASSERT_FATAL(back != NULL);
		CU_ASSERT_EQUAL(kdp_meta(back)->out_port, 1);
		CU_ASSERT(addr_is(ip6_of(back)->dst_addr, CURL6));
		u = rte_pktmbuf_mtod_offset(back, struct rte_udp_hdr *, 54);
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(u->dst_port), 45000);
		CU_ASSERT(test_l4_csum6_ok(back));
		rte_pktmbuf_free(back);
	}
	/* Inside the set (the config's CIDR, another pod): the pod's source. */
	p = udp6(CURL6, "fd00:10:1::200", 45001, 53);
	m = run1(test_pkt6_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT(addr_is(ip6_of(m)->src_addr, CURL6));
	rte_pktmbuf_free(m);
	p = udp6(CURL6, REMOTE_WEB6, 45002, 53);
	m = run1(test_pkt6_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT(addr_is(ip6_of(m)->src_addr, CURL6));
	rte_pktmbuf_free(m);
	CU_ASSERT_EQUAL(st.masq_skipped, skipped + 2);
}

static void test6_masquerade_icmp(void)
{
	struct test_pkt6 p = from_curl6("2001:db8::8");
	struct rte_mbuf *m, *err;
	uint16_t id;
	uint8_t *l4;
	int punted;

	/* An echo request: translated by identifier. */
	p.sport = 4242;
	m = run1(test_pkt6_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT(addr_is(ip6_of(m)->src_addr, NODE6));
	l4 = rte_pktmbuf_mtod_offset(m, uint8_t *, 54);
	memcpy(&id, l4 + 4, 2);
	id = rte_be_to_cpu_16(id);
	CU_ASSERT(id >= 40000 && id <= 40009);
	CU_ASSERT(test_l4_csum6_ok(m));
	rte_pktmbuf_free(m);
	/* A router on the way answers with time exceeded quoting the packet
	 * as it left: curl-pod gets it about its own packet. */
	{
		uint8_t frame[200];
		struct test_pkt6 q = from_curl6("2001:db8::8");
		struct rte_mbuf *orig;
		struct rte_ipv6_hdr *in;
		uint16_t c, qlen;

		q.sport = 4242;
		q.payload = 8;
		orig = test_pkt6_make(&q);
		/* The quote: the packet as translated. */
		kdp_parse(orig);
		in = rte_pktmbuf_mtod_offset(orig, struct rte_ipv6_hdr *, 14);
		{
			struct kdp_ct6_key to;
			memcpy(to.src, &dp.node_ip6, 16);
			memcpy(to.dst, in->dst_addr, 16);
			to.sport = to.dport = rte_cpu_to_be_16(id);
			to.proto = IPPROTO_ICMPV6;
			kdp_nat6_rewrite_for_test(orig, &to);
		}
		qlen = (uint16_t)(rte_pktmbuf_data_len(orig) - 14);
		memset(frame, 0, sizeof(frame));
		memcpy(frame, &kdp_mac, 6);
		memcpy(frame + 6, &w1_mac, 6);
		frame[12] = 0x86;
		frame[13] = 0xdd;
		frame[14] = 0x60;
		frame[18] = 0;
		frame[19] = (uint8_t)(8 + qlen);
		frame[20] = IPPROTO_ICMPV6;
		frame[21] = 64;
		{
			struct kdp_in6 rs = test_ip6("fd00:10::200");
			memcpy(frame + 22, &rs, 16);
			memcpy(frame + 38, &dp.node_ip6, 16);
		}
		frame[54] = 3; /* time exceeded */
		memcpy(frame + 62, rte_pktmbuf_mtod_offset(orig, uint8_t *, 14), qlen);
		c = (uint16_t)~kdp_csum_add(kdp_csum_ipv6_pseudo(frame + 22, frame + 38, 8 + qlen, 58),
					    kdp_csum_sum(frame + 54, 8 + qlen));
		memcpy(frame + 56, &c, 2);
		rte_pktmbuf_free(orig);
		err = run1(test_pkt_raw(frame, (uint16_t)(62 + qlen)), 0, &punted);
	}
	CU_ASSERT_FATAL(err != NULL);
	CU_ASSERT_EQUAL(kdp_meta(err)->out_port, 1);
	CU_ASSERT(addr_is(ip6_of(err)->dst_addr, CURL6));
	l4 = rte_pktmbuf_mtod_offset(err, uint8_t *, 54);
	CU_ASSERT_EQUAL(l4[0], 3);
	CU_ASSERT(addr_is(l4 + 8 + 8, CURL6)); /* the quote is the pod's own packet */
	memcpy(&id, l4 + 8 + 40 + 4, 2);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(id), 4242);
	CU_ASSERT(test_l4_csum6_ok(err));
	rte_pktmbuf_free(err);
}

void test_register_pipeline6(void)
{
	CU_pSuite s = CU_add_suite("pipeline6", setup, teardown);
	CU_add_test(s, "IPv6 pod to remote pod: native routing, no NAT", test6_remote_pod);
	CU_add_test(s, "IPv6 local pod, host tap, unresolved next hops", test6_local_pod_host_and_punts);
	CU_add_test(s, "IPv6 named drops", test6_drops);
	CU_add_test(s, "IPv6 hop limit and packet too big", test6_hop_limit_and_mtu);
	CU_add_test(s, "IPv6 TCP super-frame kept whole: the MTU rule per segment", test6_lro_mtu);
	CU_add_test(s, "IPv6 echo from the pods' gateway, ND to the slow path", test6_echo_and_nd);
	CU_add_test(s, "IPv4 and IPv6 in one burst", test6_mixed_burst);
	CU_add_test(s, "IPv6 masquerade: SNAT outside the set, pod address inside", test6_masquerade);
	CU_add_test(s, "IPv6 masquerade: ICMPv6 echo by identifier, an error translated inside",
		    test6_masquerade_icmp);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* The pipeline on a hand-built copy of node k8s-ctr of the reference lab:
 * port 0 uplink, port 1 curl-pod, port 2 webpod, port 3 host tap. */
#include <stdlib.h>
#include <string.h>

#include <rte_tcp.h>
#include <rte_udp.h>

#include <rte_icmp.h>
#include <rte_ip.h>

#include "common/kdp_csum.h"
#include "icmp/kdp_icmp.h"
#include "kdp_ipmasq.h"
#include "parse/kdp_parse.h"
#include "pipeline/kdp_pipeline.h"
#include "test_util.h"

#define NODE_IP IP4(192, 168, 10, 100)
#define W1_IP IP4(192, 168, 10, 101)
#define GW_IP IP4(192, 168, 10, 200)
#define POD_GW IP4(169, 254, 1, 1)
#define CURL IP4(172, 20, 1, 236)
#define WEB IP4(172, 20, 1, 40)
#define REMOTE_WEB IP4(172, 20, 0, 130)

static const struct rte_ether_addr kdp_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x64}};
static const struct rte_ether_addr curl_mac = {{0x02, 0x00, 0xac, 0x14, 0x01, 0xec}};
static const struct rte_ether_addr web_mac = {{0x02, 0x00, 0xac, 0x14, 0x01, 0x28}};
static const struct rte_ether_addr host_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x99}};
static const struct rte_ether_addr w1_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x65}};
static const struct rte_ether_addr other_mac = {{0x02, 0x00, 0x00, 0x00, 0x00, 0x77}};

static struct kdp_dp dp;
static struct kdp_stats st;
static struct kdp_neigh *nt;
static struct kdp_pipeline_ctx ctx;

static void nop_req(void *c, uint16_t p, uint32_t ip, const struct rte_ether_addr *d) {}
static void nop_send(void *c, struct rte_mbuf *m, const struct rte_ether_addr *a)
{
	rte_pktmbuf_free(m);
}
static void nop_drop(void *c, struct rte_mbuf *m, enum kdp_drop r)
{
	rte_pktmbuf_free(m);
}

static int setup_services(void);

static int setup(void)
{
	struct kdp_neigh_params np = {.size = 64};
	struct kdp_neigh_ops ops = {nop_req, nop_send, nop_drop, NULL};
	struct kdp_nexthop nh;

	memset(&dp, 0, sizeof(dp));
	dp.node_ip = NODE_IP;
	dp.mac = kdp_mac;
	dp.uplink_port = 0;
	dp.ports[0] = (struct kdp_dp_port){KDP_PORT_UPLINK, 1500, 0};
	dp.ports[1] = (struct kdp_dp_port){KDP_PORT_POD, 1500, CURL};
	dp.ports[2] = (struct kdp_dp_port){KDP_PORT_POD, 1500, WEB};
	dp.ports[3] = (struct kdp_dp_port){KDP_PORT_HOST, 1500, 0};
	dp.rt = kdp_route_create("test_pl_rt", 64, 0);
	if (dp.rt == NULL)
		return -1;
	memset(&nh, 0, sizeof(nh));
	nh = (struct kdp_nexthop){.type = KDP_NH_VIA, .port = 0, .gw = GW_IP};
	kdp_route_add(dp.rt, 0, 0, KDP_RK_GATEWAY, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_CONNECTED, .port = 0};
	kdp_route_add(dp.rt, NODE_IP, 24, KDP_RK_CONNECTED, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_VIA, .port = 0, .gw = W1_IP};
	kdp_route_add(dp.rt, IP4(172, 20, 0, 0), 24, KDP_RK_REMOTE_NODE, &nh, "k8s-w1");
	nh = (struct kdp_nexthop){.type = KDP_NH_NO_ENDPOINT};
	kdp_route_add(dp.rt, IP4(172, 20, 1, 0), 24, KDP_RK_LOCAL_PODCIDR, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_ENDPOINT, .port = 1, .mac = curl_mac};
	kdp_route_add(dp.rt, CURL, 32, KDP_RK_ENDPOINT, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_ENDPOINT, .port = 2, .mac = web_mac};
	kdp_route_add(dp.rt, WEB, 32, KDP_RK_ENDPOINT, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_HOST, .port = 3, .mac = host_mac};
	kdp_route_add(dp.rt, NODE_IP, 32, KDP_RK_HOST, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_LOCAL};
	kdp_route_add(dp.rt, POD_GW, 32, KDP_RK_LOCAL, &nh, "");
	nt = kdp_neigh_create("test_pl_neigh", &np, &ops);
	if (nt == NULL)
		return -1;
	kdp_neigh_learn(nt, W1_IP, 0, &w1_mac, true, 0);
	memset(&st, 0, sizeof(st));
	kdp_pipeline_ctx_init(&ctx, &st, nt, NULL, 0, 32768, 65535);
	return setup_services();
}

static struct kdp_ct *ct;

static int teardown(void)
{
	kdp_route_free(dp.rt);
	kdp_neigh_free(nt);
	kdp_svc_table_free((struct kdp_svc_table *)dp.svc);
	kdp_masq_set_free((struct kdp_masq_set *)dp.masq);
	kdp_ct_free(ct);
	return 0;
}

#define VIP IP4(10, 96, 152, 212)
#define EMPTY_VIP IP4(10, 96, 99, 99)

/* Service default/webpod: VIP:80 and NodePort 30080 -> webpod (local,
 * 172.20.1.40) and the remote webpod 172.20.0.130; default/empty has none. */
static int setup_services(void)
{
	struct kdp_ct_params cp = {.max_flows = 1024};
	struct kdp_svc_table *t = kdp_svc_table_create("test_pl_svc", 8, 8, 0);
	uint32_t addrs[] = {VIP, NODE_IP, EMPTY_VIP};
	uint16_t ports[] = {80, 30080, 80};

	if (t == NULL)
		return -1;
	for (int i = 0; i < 3; i++) {
		struct kdp_svc_fe fe;

		memset(&fe, 0, sizeof(fe));
		fe.id = (uint32_t)i + 1;
		fe.key.addr = rte_cpu_to_be_32(addrs[i]);
		fe.key.port = rte_cpu_to_be_16(ports[i]);
		fe.key.proto = IPPROTO_TCP;
		fe.gen = 1;
		fe.be = calloc(2, sizeof(*fe.be));
		if (i < 2) {
			fe.be[0] = (struct kdp_svc_backend){rte_cpu_to_be_32(REMOTE_WEB),
							    rte_cpu_to_be_16(80), KDP_BE_ACTIVE, 0};
			fe.be[1] = (struct kdp_svc_backend){rte_cpu_to_be_32(WEB),
							    rte_cpu_to_be_16(80), KDP_BE_ACTIVE, 1};
			fe.n_be = 2;
		}
		if (kdp_svc_fe_prepare(&fe, 0) != 0 || kdp_svc_table_add(t, &fe) != 0)
			return -1;
	}
	dp.svc = t;
	dp.loopback_ip = IP4(169, 254, 42, 1);
	dp.svc_cidr = IP4(10, 96, 0, 0);
	dp.svc_plen = 16;
	kdp_ct_timeouts_default(&cp.timeouts);
	ct = kdp_ct_create("test_pl_ct", &cp);
	if (ct == NULL)
		return -1;
	kdp_pipeline_ctx_init(&ctx, &st, nt, ct, 0, 40000, 40009);
	{
		/* Masquerade as the reference lab after PUT /v1/ipmasq. */
		static const char conf[] = "nonMasqueradeCIDRs: [10.10.1.0/24, 10.10.2.0/24]\n";
		uint32_t nodes[] = {NODE_IP, W1_IP};
		struct kdp_ipmasq *cfg = calloc(1, sizeof(*cfg));
		struct kdp_masq_set *m;
		char err[KDP_ERR_LEN];

		if (cfg == NULL || kdp_ipmasq_parse(conf, sizeof(conf) - 1, cfg, err) != 0)
			return -1;
		m = kdp_masq_set_create("test_pl_masq", kdp_ipmasq_set_size(cfg, 2), 0);
		if (m == NULL || kdp_ipmasq_build(cfg, IP4(172, 20, 0, 0), 16, nodes, 2, m))
			return -1;
		free(cfg);
		dp.masq = m;
	}
	return 0;
}

static struct test_pkt from_curl(uint32_t dst)
{
	struct test_pkt p = {
		.src_mac = curl_mac, .dst_mac = kdp_mac, .src = CURL, .dst = dst,
		.proto = IPPROTO_ICMP, .ttl = 64, .sport = 7, .dport = 1, .payload = 56,
	};
	return p;
}

/* Runs one packet; returns the single output or NULL (then *where says). */
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

static struct rte_ipv4_hdr *ip_of(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, 14);
}

static struct rte_ether_hdr *eth_of(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
}

static void test_remote_pod(void)
{
	struct test_pkt p = from_curl(REMOTE_WEB);
	int punted;
	struct rte_mbuf *m = run1(test_pkt_make(&p), 1, &punted);

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(punted, 0);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 0);
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->dst_addr, &w1_mac));
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->src_addr, &kdp_mac));
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), CURL); /* no NAT */
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->dst_addr), REMOTE_WEB);
	CU_ASSERT_EQUAL(ip_of(m)->time_to_live, 63);
	CU_ASSERT(test_ip_csum_ok(m));
	rte_pktmbuf_free(m);
}

static void test_unresolved_punts(void)
{
	struct test_pkt p = from_curl(IP4(8, 8, 8, 8));
	int punted;
	struct rte_mbuf *m = run1(test_pkt_make(&p), 1, &punted);

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(punted, 1);
	CU_ASSERT_EQUAL(kdp_meta(m)->punt, KDP_PUNT_NEIGH);
	CU_ASSERT_EQUAL(kdp_meta(m)->nh_ip, GW_IP);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 0);
	CU_ASSERT_EQUAL(ip_of(m)->time_to_live, 63);
	rte_pktmbuf_free(m);
	/* On the LAN the next hop is the destination itself. */
	p = from_curl(IP4(192, 168, 10, 55));
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_meta(m)->nh_ip, IP4(192, 168, 10, 55));
	rte_pktmbuf_free(m);
}

static void test_local_pod_and_host(void)
{
	struct test_pkt p = from_curl(WEB);
	int punted;
	struct rte_mbuf *m = run1(test_pkt_make(&p), 1, &punted);

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 2);
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->dst_addr, &web_mac));
	CU_ASSERT_EQUAL(ip_of(m)->time_to_live, 63);
	CU_ASSERT(test_ip_csum_ok(m));
	rte_pktmbuf_free(m);
	/* From the LAN to the node IP: to the host tap, TTL untouched. */
	p.src_mac = w1_mac;
	p.src = W1_IP;
	p.dst = NODE_IP;
	m = run1(test_pkt_make(&p), 0, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 3);
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->dst_addr, &host_mac));
	CU_ASSERT_EQUAL(ip_of(m)->time_to_live, 64);
	rte_pktmbuf_free(m);
	/* The node's stack answering a pod (from the host tap): sent, not
	 * forwarded, so its TTL stays 64 (a ping to the node IP sees 64). */
	p = (struct test_pkt){.src_mac = host_mac, .dst_mac = kdp_mac, .src = NODE_IP,
			      .dst = CURL, .proto = IPPROTO_ICMP, .icmp_type = 0, .sport = 7};
	m = run1(test_pkt_make(&p), 3, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 1);
	CU_ASSERT_EQUAL(ip_of(m)->time_to_live, 64);
	CU_ASSERT(test_ip_csum_ok(m));
	rte_pktmbuf_free(m);
	/* ... even with TTL 1 (a traceroute from the node): no time exceeded. */
	p.ttl = 1;
	m = run1(test_pkt_make(&p), 3, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 1);
	CU_ASSERT_EQUAL(ip_of(m)->time_to_live, 1);
	rte_pktmbuf_free(m);
}

static void test_drops(void)
{
	static const struct {
		uint32_t src, dst;
		uint16_t port;
		int other_mac;
		uint8_t proto;
		enum kdp_drop why;
	} t[] = {
		{IP4(172, 20, 1, 99), REMOTE_WEB, 1, 0, IPPROTO_ICMP, KDP_DROP_SPOOFED_SOURCE},
		{CURL, IP4(172, 20, 1, 99), 1, 0, IPPROTO_ICMP, KDP_DROP_NO_ENDPOINT},
		{CURL, IP4(239, 1, 1, 1), 1, 0, IPPROTO_ICMP, KDP_DROP_DST_NOT_UNICAST},
		{CURL, POD_GW, 1, 0, IPPROTO_UDP, KDP_DROP_LOCAL_UNSUPPORTED},
		{W1_IP, CURL, 0, 1, IPPROTO_ICMP, KDP_DROP_L2_NOT_FOR_US},
		{CURL, REMOTE_WEB, 5, 0, IPPROTO_ICMP, KDP_DROP_UNKNOWN_PORT},
	};
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		struct test_pkt p = from_curl(t[i].dst);
		uint64_t before = st.drop[t[i].why];
		int punted;

		p.src = t[i].src;
		p.proto = t[i].proto;
		if (t[i].other_mac)
			p.dst_mac = other_mac;
		CU_ASSERT_PTR_NULL(run1(test_pkt_make(&p), t[i].port, &punted));
		CU_ASSERT_EQUAL(st.drop[t[i].why], before + 1);
	}
}

static void test_ttl_exceeded(void)
{
	struct test_pkt p = from_curl(REMOTE_WEB);
	int punted;
	struct rte_mbuf *m;
	struct rte_icmp_hdr *icmp;
	struct rte_ipv4_hdr *inner;
	uint64_t before = st.drop[KDP_DROP_TTL_EXCEEDED];

	p.ttl = 1;
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_TTL_EXCEEDED], before + 1);
	/* Back to curl-pod, from the node IP, quoting the original header. */
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 1);
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->dst_addr, &curl_mac));
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), NODE_IP);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->dst_addr), CURL);
	CU_ASSERT_EQUAL(ip_of(m)->next_proto_id, IPPROTO_ICMP);
	CU_ASSERT(test_ip_csum_ok(m));
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, 34);
	CU_ASSERT_EQUAL(icmp->icmp_type, KDP_ICMP_TIME_EXCEEDED);
	CU_ASSERT_EQUAL(icmp->icmp_code, 0);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 14 + 20 + 8 + 20 + 8);
	CU_ASSERT(test_icmp_csum_ok(m, 34, 8 + 28));
	inner = (struct rte_ipv4_hdr *)(icmp + 1);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(inner->src_addr), CURL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(inner->dst_addr), REMOTE_WEB);
	CU_ASSERT_EQUAL(inner->time_to_live, 1);
	rte_pktmbuf_free(m);
}

static void test_mtu(void)
{
	struct test_pkt p = from_curl(REMOTE_WEB);
	struct rte_icmp_hdr *icmp;
	struct rte_mbuf *m;
	int punted;

	p.payload = 1500; /* IP total 1528 > 1500 */
	p.frag = RTE_IPV4_HDR_DF_FLAG;
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, 34);
	CU_ASSERT_EQUAL(icmp->icmp_type, KDP_ICMP_DEST_UNREACH);
	CU_ASSERT_EQUAL(icmp->icmp_code, KDP_ICMP_CODE_FRAG_NEEDED);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(icmp->icmp_seq_nb), 1500);
	CU_ASSERT(test_icmp_csum_ok(m, 34, 8 + 28));
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_FRAG_NEEDED], 1);
	rte_pktmbuf_free(m);
	p.frag = 0;
	CU_ASSERT_PTR_NULL(run1(test_pkt_make(&p), 1, &punted));
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_MTU_EXCEEDED], 1);
}

/* A TCP super-frame kept whole (RTE_MBUF_F_RX_LRO): the MTU rule looks at
 * one segment (headers + tso_segsz), not at the frame. */
static void test_lro_mtu(void)
{
	struct test_pkt p = from_curl(REMOTE_WEB);
	struct rte_mbuf *m;
	int punted;
	uint64_t fn = st.drop[KDP_DROP_FRAG_NEEDED];

	p.proto = IPPROTO_TCP;
	p.sport = 40000;
	p.dport = 80;
	p.payload = 1800; /* IP total 1840 > 1500: two segments of 900 fit */
	p.frag = RTE_IPV4_HDR_DF_FLAG;
	m = test_pkt_make(&p);
	m->ol_flags |= RTE_MBUF_F_RX_LRO;
	m->tso_segsz = 900;
	m = run1(m, 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(ip_of(m)->next_proto_id, IPPROTO_TCP); /* forwarded, not answered */
	CU_ASSERT(m->ol_flags & RTE_MBUF_F_RX_LRO);
	CU_ASSERT_EQUAL(m->tso_segsz, 900);
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_FRAG_NEEDED], fn);
	rte_pktmbuf_free(m);
	/* Segments of 1600 bytes do not fit a 1500 MTU. */
	m = test_pkt_make(&p);
	m->ol_flags |= RTE_MBUF_F_RX_LRO;
	m->tso_segsz = 1600;
	m = run1(m, 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(ip_of(m)->next_proto_id, IPPROTO_ICMP);
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_FRAG_NEEDED], fn + 1);
	rte_pktmbuf_free(m);
}

static void test_echo_gateway(void)
{
	struct test_pkt p = from_curl(POD_GW);
	struct rte_icmp_hdr *icmp;
	struct rte_mbuf *m;
	int punted;

	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 1);
	CU_ASSERT(rte_is_same_ether_addr(&eth_of(m)->dst_addr, &curl_mac));
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), POD_GW);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->dst_addr), CURL);
	CU_ASSERT(test_ip_csum_ok(m));
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, 34);
	CU_ASSERT_EQUAL(icmp->icmp_type, RTE_IP_ICMP_ECHO_REPLY);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(icmp->icmp_ident), 7);
	CU_ASSERT(test_icmp_csum_ok(m, 34, 8 + 56));
	rte_pktmbuf_free(m);
}

static void test_arp_punted(void)
{
	uint8_t f[60] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0xac, 0x14, 1, 0xec,
			 0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1};
	int punted;
	struct rte_mbuf *m = run1(test_pkt_raw(f, 60), 1, &punted);

	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(punted, 1);
	CU_ASSERT_EQUAL(kdp_meta(m)->punt, KDP_PUNT_ARP);
	CU_ASSERT_EQUAL(kdp_meta(m)->in_port, 1);
	rte_pktmbuf_free(m);
}

static void test_mixed_burst(void)
{
	struct rte_mbuf *pkts[KDP_BURST];
	struct kdp_pipeline_out out;
	uint64_t spoof = st.drop[KDP_DROP_SPOOFED_SOURCE];

	for (int i = 0; i < KDP_BURST; i++) {
		struct test_pkt p = from_curl(i % 2 ? REMOTE_WEB : WEB);
		if (i % 8 == 7)
			p.src = IP4(10, 0, 0, 1);
		pkts[i] = test_pkt_make(&p);
	}
	CU_ASSERT_EQUAL(kdp_pipeline_run(&ctx, &dp, 1, pkts, KDP_BURST, &out), KDP_BURST);
	CU_ASSERT_EQUAL(out.n_tx, KDP_BURST - 4);
	CU_ASSERT_EQUAL(out.n_punt, 0);
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_SPOOFED_SOURCE], spoof + 4);
	for (int i = 0; i < out.n_tx; i++) {
		uint32_t dst = rte_be_to_cpu_32(ip_of(out.tx[i])->dst_addr);
		CU_ASSERT_EQUAL(kdp_meta(out.tx[i])->out_port, dst == WEB ? 2 : 0);
	}
	rte_pktmbuf_free_bulk(out.tx, out.n_tx);
}

static int l4_ok(struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip = ip_of(m);
	return rte_ipv4_udptcp_cksum_verify(ip, (uint8_t *)ip + 20) == 0;
}

static struct rte_tcp_hdr *tcp_of(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_tcp_hdr *, 34);
}

static void test_clusterip_dnat_and_reply(void)
{
	struct test_pkt p = from_curl(VIP);
	struct rte_mbuf *m;
	int punted;
	uint32_t backend;
	uint64_t flows = kdp_ct_count(ct);

	p.proto = IPPROTO_TCP;
	p.sport = 45678;
	p.dport = 80;
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	backend = rte_be_to_cpu_32(ip_of(m)->dst_addr);
	CU_ASSERT(backend == WEB || backend == REMOTE_WEB);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), CURL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(tcp_of(m)->dst_port), 80);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(tcp_of(m)->src_port), 45678);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, backend == WEB ? 2 : 0);
	CU_ASSERT(test_ip_csum_ok(m));
	CU_ASSERT(l4_ok(m)); /* pseudo-header updated incrementally */
	CU_ASSERT_EQUAL(kdp_ct_count(ct), flows + 1);
	rte_pktmbuf_free(m);
	/* The same flow again: same backend, no new entry. */
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->dst_addr), backend);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), flows + 1);
	rte_pktmbuf_free(m);
	/* The backend answers: the client sees the ClusterIP. */
	p.src = backend;
	p.dst = CURL;
	p.sport = 80;
	p.dport = 45678;
	p.src_mac = backend == WEB ? web_mac : w1_mac;
	m = run1(test_pkt_make(&p), backend == WEB ? 2 : 0, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), VIP);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->dst_addr), CURL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(tcp_of(m)->src_port), 80);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 1);
	CU_ASSERT(test_ip_csum_ok(m));
	CU_ASSERT(l4_ok(m));
	rte_pktmbuf_free(m);
}

/* A full conntrack table (64 flows here): the 65th new flow to the ClusterIP
 * is dropped as ct_full, the flows already tracked keep being translated. */
static void test_ct_full(void)
{
	struct kdp_ct_params cp = {.max_flows = 64};
	struct test_pkt p = from_curl(VIP);
	uint64_t full = st.drop[KDP_DROP_CT_FULL];
	struct kdp_ct *small;
	struct rte_mbuf *m;
	int punted, fwd = 0;

	kdp_ct_timeouts_default(&cp.timeouts);
	small = kdp_ct_create("test_pl_ct_full", &cp);
	CU_ASSERT_FATAL(small != NULL);
	kdp_pipeline_ctx_init(&ctx, &st, nt, small, 0, 40000, 40009);
	p.proto = IPPROTO_TCP;
	p.dport = 80;
	for (uint16_t sp = 50000; sp < 50070; sp++) {
		p.sport = sp;
		m = run1(test_pkt_make(&p), 1, &punted);
		fwd += m != NULL;
		rte_pktmbuf_free(m);
	}
	CU_ASSERT_EQUAL(fwd, 64);
	CU_ASSERT_EQUAL(kdp_ct_count(small), 64);
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_CT_FULL], full + 6);
	/* The first flow, tracked before the table filled, is still DNATed. */
	p.sport = 50000;
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_NOT_EQUAL(rte_be_to_cpu_32(ip_of(m)->dst_addr), VIP);
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_CT_FULL], full + 6);
	rte_pktmbuf_free(m);
	kdp_pipeline_ctx_init(&ctx, &st, nt, ct, 0, 40000, 40009);
	kdp_ct_free(small);
}

static void test_syn_reuses_closed_flow(void)
{
	struct kdp_svc_table *t = (struct kdp_svc_table *)dp.svc;
	struct test_pkt p = from_curl(VIP);
	struct rte_mbuf *m;
	struct kdp_ct_entry *e;
	struct kdp_ct_key k;
	uint32_t backend;
	uint8_t dir;
	int punted, b;

	p.proto = IPPROTO_TCP;
	p.sport = 46000;
	p.dport = 80;
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	backend = ip_of(m)->dst_addr;
	rte_pktmbuf_free(m);
	k = (struct kdp_ct_key){rte_cpu_to_be_32(CURL), rte_cpu_to_be_32(VIP),
				rte_cpu_to_be_16(46000), rte_cpu_to_be_16(80), IPPROTO_TCP, {0}};
	kdp_ct_lookup_bulk(ct, &k, 1, &e, &dir);
	CU_ASSERT_FATAL(e != NULL);
	/* Closed (RST); a new SYN from the same port reopens it in place. */
	e->tcp_state = KDP_CT_TCP_CLOSING;
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(punted, 0);
	CU_ASSERT_EQUAL(ip_of(m)->dst_addr, backend);
	CU_ASSERT_EQUAL(e->tcp_state, KDP_CT_TCP_SYN);
	rte_pktmbuf_free(m);
	/* Closed again, and its backend went to maintenance: the SYN goes to
	 * the control thread, which deletes the entry and runs it again. */
	e->tcp_state = KDP_CT_TCP_CLOSING;
	b = kdp_svc_find_backend(t->by_id[1], backend, rte_cpu_to_be_16(80));
	CU_ASSERT_FATAL(b >= 0);
	t->by_id[1]->be[b].state = KDP_BE_MAINTENANCE;
	t->by_id[1]->gen++;
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(t->by_id[1], 0), 0);
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(punted, 1);
	CU_ASSERT_EQUAL(kdp_meta(m)->punt, KDP_PUNT_CT_RENEW);
	CU_ASSERT_EQUAL(ip_of(m)->dst_addr, rte_cpu_to_be_32(VIP)); /* untranslated */
	rte_pktmbuf_free(m);
	/* What the control thread does; then the SYN picks the other backend. */
	kdp_ct_delete(ct, e);
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_NOT_EQUAL(ip_of(m)->dst_addr, backend);
	rte_pktmbuf_free(m);
	t->by_id[1]->be[b].state = KDP_BE_ACTIVE;
	t->by_id[1]->gen++;
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(t->by_id[1], 0), 0);
}

static void test_reject_and_unknown(void)
{
	struct test_pkt p = from_curl(EMPTY_VIP);
	struct rte_mbuf *m;
	int punted;
	uint64_t before = st.drop[KDP_DROP_SVC_NO_BACKEND];

	p.proto = IPPROTO_TCP;
	p.sport = 50000;
	p.dport = 80;
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_SVC_NO_BACKEND], before + 1);
	/* RST+ACK from the service address back to curl-pod. */
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 1);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), EMPTY_VIP);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->dst_addr), CURL);
	CU_ASSERT_EQUAL(tcp_of(m)->tcp_flags, RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(tcp_of(m)->src_port), 80);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(tcp_of(m)->dst_port), 50000);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(tcp_of(m)->recv_ack), 57); /* 56 bytes + SYN */
	CU_ASSERT(test_ip_csum_ok(m));
	CU_ASSERT(l4_ok(m));
	rte_pktmbuf_free(m);
	/* UDP to it: ICMP port unreachable from the service address. */
	p.proto = IPPROTO_UDP;
	p.dport = 53;
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_PTR_NULL(m); /* no UDP frontend: unknown service port */
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_SVC_UNKNOWN], 1);
}

static void test_nodeport_snat(void)
{
	struct test_pkt p = {
		.src_mac = w1_mac, .dst_mac = kdp_mac, .src = GW_IP, .dst = NODE_IP,
		.proto = IPPROTO_TCP, .ttl = 64, .payload = 0,
	};
	int remote = 0, local = 0, dropped = 0;
	uint64_t exhausted = st.drop[KDP_DROP_NAT_PORT_EXHAUSTED];
	uint8_t used[10] = {0};

	/* From the router to the NodePort: a remote backend gets the node IP as
	 * source and a port from this lcore's slice (10 ports); a local one
	 * keeps the client's address. Past 10 remote flows the slice is
	 * exhausted and new remote flows are dropped and counted. */
	for (uint16_t sp = 33000; sp < 33060; sp++) {
		struct rte_mbuf *m;
		int punted;

		p.sport = sp;
		p.dport = 30080;
		m = run1(test_pkt_make(&p), 0, &punted);
		if (m == NULL) {
			dropped++;
			continue;
		}
		if (rte_be_to_cpu_32(ip_of(m)->dst_addr) == REMOTE_WEB) {
			uint16_t nport = rte_be_to_cpu_16(tcp_of(m)->src_port);
			remote++;
			CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), NODE_IP);
			CU_ASSERT(nport >= 40000 && nport <= 40009);
			if (nport >= 40000 && nport <= 40009) {
				CU_ASSERT_EQUAL(used[nport - 40000], 0); /* never twice */
				used[nport - 40000] = 1;
			}
		} else {
			local++;
			CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), GW_IP);
			CU_ASSERT_EQUAL(rte_be_to_cpu_16(tcp_of(m)->src_port), sp);
		}
		CU_ASSERT(l4_ok(m));
		rte_pktmbuf_free(m);
	}
	CU_ASSERT(local > 0);
	CU_ASSERT_EQUAL(remote, 10);
	CU_ASSERT(dropped > 0);
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_NAT_PORT_EXHAUSTED], exhausted + (uint64_t)dropped);
	/* Entries expire: the ports come back (GC with the clock moved on). */
	{
		uint64_t live = kdp_ct_count(ct);
		int again = 0;

		CU_ASSERT_EQUAL(kdp_ct_gc(ct, ctx.now_ms + 61000, 100000), live);
		CU_ASSERT_EQUAL(kdp_ct_count(ct), 0);
		/* The clock is read from the TSC, so new entries are "old": only
		 * check that the ports are free again. */
		for (uint16_t sp = 34000; sp < 34100 && again == 0; sp++) {
			struct rte_mbuf *m;
			int punted;

			p.sport = sp;
			m = run1(test_pkt_make(&p), 0, &punted);
			CU_ASSERT_FATAL(m != NULL);
			if (rte_be_to_cpu_32(ip_of(m)->dst_addr) == REMOTE_WEB)
				again = 1;
			rte_pktmbuf_free(m);
		}
		CU_ASSERT_EQUAL(again, 1);
	}
}

/* Sends a UDP datagram from curl-pod to @p dst:53 and returns what left. */
static struct rte_mbuf *curl_udp(uint32_t dst, uint16_t sport)
{
	struct test_pkt p = from_curl(dst);
	int punted;

	p.proto = IPPROTO_UDP;
	p.sport = sport;
	p.dport = 53;
	p.payload = 20;
	return run1(test_pkt_make(&p), 1, &punted);
}

static struct rte_udp_hdr *udp_of(struct rte_mbuf *m)
{
	return rte_pktmbuf_mtod_offset(m, struct rte_udp_hdr *, 34);
}

static void test_masquerade(void)
{
	uint64_t flows = st.masq_flows, skipped = st.masq_skipped;
	struct rte_mbuf *m;
	uint16_t nport;

	/* The router is not in the set: SNAT to the node IP, port kept when
	 * it is in this lcore's slice. */
	m = curl_udp(GW_IP, 40005);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), NODE_IP);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(udp_of(m)->src_port), 40005);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 0);
	CU_ASSERT(test_ip_csum_ok(m) && l4_ok(m));
	CU_ASSERT_EQUAL(st.masq_flows, flows + 1);
	rte_pktmbuf_free(m);
	/* A port outside the slice is replaced by one inside it. */
	m = curl_udp(GW_IP, 5353);
	CU_ASSERT_FATAL(m != NULL);
	nport = rte_be_to_cpu_16(udp_of(m)->src_port);
	CU_ASSERT(nport >= 40000 && nport <= 40009 && nport != 40005);
	CU_ASSERT(l4_ok(m));
	rte_pktmbuf_free(m);
	/* The router answers the node IP: back to curl-pod, port restored. */
	{
		struct test_pkt p = {.src_mac = w1_mac, .dst_mac = kdp_mac, .src = GW_IP,
				     .dst = NODE_IP, .proto = IPPROTO_UDP, .ttl = 64,
				     .sport = 53, .dport = nport, .payload = 30};
		int punted;

		m = run1(test_pkt_make(&p), 0, &punted);
		CU_ASSERT_FATAL(m != NULL);
		CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->dst_addr), CURL);
		CU_ASSERT_EQUAL(rte_be_to_cpu_16(udp_of(m)->dst_port), 5353);
		CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 1);
		CU_ASSERT(test_ip_csum_ok(m) && l4_ok(m));
		rte_pktmbuf_free(m);
	}
	/* In the set: the pod IP is kept (ip-masq-agent CIDR, native CIDR,
	 * a node IP). */
	m = curl_udp(IP4(10, 10, 1, 200), 40001);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), CURL);
	rte_pktmbuf_free(m);
	m = curl_udp(REMOTE_WEB, 40002);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), CURL);
	rte_pktmbuf_free(m);
	m = curl_udp(W1_IP, 40003);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), CURL);
	rte_pktmbuf_free(m);
	CU_ASSERT_EQUAL(st.masq_skipped, skipped + 3);
	CU_ASSERT_EQUAL(st.masq_flows, flows + 2);
}

static void test_masquerade_icmp(void)
{
	struct test_pkt p = from_curl(IP4(8, 8, 8, 8));
	struct rte_icmp_hdr *icmp;
	struct rte_mbuf *m;
	uint16_t nid;
	int punted;

	/* Echo: the identifier plays the port. The gateway is unresolved, so
	 * the packet is punted, translated. */
	p.sport = 777; /* identifier */
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, 34);
	nid = rte_be_to_cpu_16(icmp->icmp_ident);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), NODE_IP);
	CU_ASSERT(nid >= 40000 && nid <= 40009);
	CU_ASSERT(test_icmp_csum_ok(m, 34, 8 + 56));
	rte_pktmbuf_free(m);
	/* The echo reply comes back to curl-pod with its own identifier. */
	p.src = IP4(8, 8, 8, 8);
	p.dst = NODE_IP;
	p.src_mac = w1_mac;
	p.icmp_type = RTE_IP_ICMP_ECHO_REPLY;
	p.sport = nid;
	m = run1(test_pkt_make(&p), 0, &punted);
	CU_ASSERT_FATAL(m != NULL);
	icmp = rte_pktmbuf_mtod_offset(m, struct rte_icmp_hdr *, 34);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->dst_addr), CURL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(icmp->icmp_ident), 777);
	CU_ASSERT_EQUAL(kdp_meta(m)->out_port, 1);
	CU_ASSERT(test_icmp_csum_ok(m, 34, 8 + 56));
	rte_pktmbuf_free(m);
}

static void test_icmp_error_translated(void)
{
	struct rte_mbuf *m = curl_udp(GW_IP, 40007), *err;
	uint8_t frame[128];
	struct rte_ipv4_hdr *outer, *inner;
	struct rte_icmp_hdr *icmp;
	struct rte_udp_hdr *iu;
	uint16_t qlen = 20 + 8, len;
	int punted;

	/* The router answers the translated datagram with port unreachable. */
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), NODE_IP);
	memset(frame, 0, sizeof(frame));
	memcpy(frame, &w1_mac, 6);
	{
		struct rte_ether_hdr *eth = (struct rte_ether_hdr *)frame;
		eth->dst_addr = kdp_mac;
		eth->src_addr = w1_mac;
		eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	}
	outer = (struct rte_ipv4_hdr *)(frame + 14);
	icmp = (struct rte_icmp_hdr *)(outer + 1);
	len = (uint16_t)(20 + 8 + qlen);
	outer->version_ihl = RTE_IPV4_VHL_DEF;
	outer->total_length = rte_cpu_to_be_16(len);
	outer->time_to_live = 64;
	outer->next_proto_id = IPPROTO_ICMP;
	outer->src_addr = rte_cpu_to_be_32(GW_IP);
	outer->dst_addr = rte_cpu_to_be_32(NODE_IP);
	outer->hdr_checksum = rte_ipv4_cksum(outer);
	icmp->icmp_type = 3;
	icmp->icmp_code = 3;
	memcpy(icmp + 1, ip_of(m), qlen); /* quote: IP header + UDP header */
	icmp->icmp_cksum = (uint16_t)~rte_raw_cksum(icmp, 8 + qlen);
	rte_pktmbuf_free(m);
	err = run1(test_pkt_raw(frame, (uint16_t)(14 + len)), 0, &punted);
	CU_ASSERT_FATAL(err != NULL);
	outer = ip_of(err);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(outer->dst_addr), CURL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(outer->src_addr), GW_IP);
	CU_ASSERT_EQUAL(kdp_meta(err)->out_port, 1);
	CU_ASSERT(test_ip_csum_ok(err));
	icmp = rte_pktmbuf_mtod_offset(err, struct rte_icmp_hdr *, 34);
	CU_ASSERT(test_icmp_csum_ok(err, 34, 8 + qlen));
	inner = (struct rte_ipv4_hdr *)(icmp + 1);
	iu = (struct rte_udp_hdr *)(inner + 1);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(inner->src_addr), CURL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(inner->dst_addr), GW_IP);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(iu->src_port), 40007);
	CU_ASSERT_EQUAL(rte_raw_cksum(inner, 20), 0xffff);
	rte_pktmbuf_free(err);
}

/* The flow monitor on the pipeline: one event per packet, with the tuple
 * before and after translation, only while someone listens. */
static void test_monitor_events(void)
{
	struct kdp_monitor *mon = kdp_monitor_create("t_pl_mon", 1, 64, 1000, 0);
	struct kdp_monitor_event ev[8];
	struct test_pkt p = from_curl(REMOTE_WEB);
	struct rte_mbuf *pkts[3], *m;
	struct kdp_pipeline_out out;
	uint32_t backend;
	int punted;

	CU_ASSERT_FATAL(mon != NULL);
	ctx.mon = &mon->w[0];
	/* Nobody listens: nothing. */
	m = run1(test_pkt_make(&p), 1, &punted);
	rte_pktmbuf_free(m);
	CU_ASSERT_EQUAL(kdp_monitor_dequeue(mon, 0, ev, 8), 0);

	kdp_monitor_set_listening(mon, true);
	/* One burst: a spoofed packet, one forwarded as is, an echo to the
	 * pods' gateway (kdp answers it itself: no event). */
	p.src = IP4(172, 20, 1, 99);
	pkts[0] = test_pkt_make(&p);
	p.src = CURL;
	pkts[1] = test_pkt_make(&p);
	p.dst = POD_GW;
	pkts[2] = test_pkt_make(&p);
	CU_ASSERT_EQUAL(kdp_pipeline_run(&ctx, &dp, 1, pkts, 3, &out), 3);
	CU_ASSERT_EQUAL(out.n_tx, 2);
	rte_pktmbuf_free_bulk(out.tx, out.n_tx);
	CU_ASSERT_EQUAL_FATAL(kdp_monitor_dequeue(mon, 0, ev, 8), 2);
	CU_ASSERT_EQUAL(ev[0].verdict, KDP_MONITOR_DROPPED);
	CU_ASSERT_EQUAL(ev[0].reason, KDP_DROP_SPOOFED_SOURCE);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ev[0].orig.src), IP4(172, 20, 1, 99));
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ev[0].orig.dst), REMOTE_WEB);
	CU_ASSERT_EQUAL(ev[0].proto, IPPROTO_ICMP);
	CU_ASSERT_EQUAL(ev[0].icmp_type, RTE_IP_ICMP_ECHO_REQUEST);
	CU_ASSERT_EQUAL(ev[0].in_port, 1);
	CU_ASSERT_EQUAL(ev[0].out_port, UINT16_MAX);
	CU_ASSERT_EQUAL(ev[1].verdict, KDP_MONITOR_FORWARDED);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ev[1].xlat.dst), REMOTE_WEB);
	CU_ASSERT_EQUAL(ev[1].out_port, 0);

	/* A new connection to the ClusterIP: VIP before, a backend after. */
	p = from_curl(VIP);
	p.proto = IPPROTO_TCP;
	p.sport = 45999;
	p.dport = 80;
	m = run1(test_pkt_make(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	backend = rte_be_to_cpu_32(ip_of(m)->dst_addr);
	rte_pktmbuf_free(m);
	CU_ASSERT_EQUAL_FATAL(kdp_monitor_dequeue(mon, 0, ev, 8), 1);
	CU_ASSERT_EQUAL(ev[0].verdict, KDP_MONITOR_TRANSLATED);
	CU_ASSERT_EQUAL(ev[0].proto, IPPROTO_TCP);
	CU_ASSERT_EQUAL(ev[0].tcp_flags, RTE_TCP_SYN_FLAG);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ev[0].orig.src), CURL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ev[0].orig.dst), VIP);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(ev[0].orig.sport), 45999);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(ev[0].orig.dport), 80);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ev[0].xlat.src), CURL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ev[0].xlat.dst), backend);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(ev[0].xlat.dport), 80);
	CU_ASSERT_EQUAL(ev[0].out_port, backend == WEB ? 2 : 0);
	/* A TTL expiring after DNAT: one DROPPED event (the ICMP error kdp
	 * sends for it gets none), with the tuple as received. */
	p.sport = 46000;
	p.ttl = 1;
	m = run1(test_pkt_make(&p), 1, &punted);
	rte_pktmbuf_free(m);
	CU_ASSERT_EQUAL_FATAL(kdp_monitor_dequeue(mon, 0, ev, 8), 1);
	CU_ASSERT_EQUAL(ev[0].verdict, KDP_MONITOR_DROPPED);
	CU_ASSERT_EQUAL(ev[0].reason, KDP_DROP_TTL_EXCEEDED);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ev[0].orig.dst), VIP);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(ev[0].orig.sport), 46000);
	ctx.mon = NULL;
	kdp_monitor_free(mon);
}

/* @p p as a kernel sender with checksum offload sends it: the TCP/UDP
 * checksum field holds the pseudo-header sum, flagged as net_kdp_afp does. */
static struct rte_mbuf *make_partial(const struct test_pkt *p)
{
	struct rte_mbuf *m = test_pkt_make(p);
	struct rte_ipv4_hdr *ip = ip_of(m);
	uint16_t at = p->proto == IPPROTO_TCP ? 16 : 6, ps = rte_ipv4_phdr_cksum(ip, 0);

	memcpy(rte_pktmbuf_mtod_offset(m, uint8_t *, 34 + at), &ps, 2);
	m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
	return m;
}

/* The field of an output packet is still the partial sum, now of the
 * translated addresses; finished in software it is the exact checksum. */
static void check_partial_out(struct rte_mbuf *m, uint8_t proto)
{
	struct rte_ipv4_hdr *ip = ip_of(m);
	uint8_t *l4 = rte_pktmbuf_mtod_offset(m, uint8_t *, 34);
	uint16_t at = proto == IPPROTO_TCP ? 16 : 6, got, want;

	CU_ASSERT(kdp_csum_is_partial(m));
	memcpy(&got, l4 + at, 2);
	CU_ASSERT_EQUAL(got, rte_ipv4_phdr_cksum(ip, 0));
	kdp_csum_tx_prep(m, false);
	CU_ASSERT(!kdp_csum_is_partial(m));
	memcpy(&got, l4 + at, 2);
	memset(l4 + at, 0, 2);
	want = rte_ipv4_udptcp_cksum(ip, l4);
	if (proto == IPPROTO_UDP && want == 0)
		want = 0xffff;
	CU_ASSERT_EQUAL(got, want);
	memcpy(l4 + at, &got, 2);
	CU_ASSERT(test_ip_csum_ok(m) && l4_ok(m));
}

/* Partial checksums (pods with checksum offload, the kernel default)
 * through DNAT, its reply, and masquerade with a new source port. */
static void test_partial_checksums(void)
{
	struct test_pkt p = from_curl(VIP);
	struct rte_mbuf *m;
	uint32_t backend;
	uint16_t nport;
	int punted;

	p.proto = IPPROTO_TCP;
	p.sport = 47001;
	p.dport = 80;
	p.payload = 100;
	m = run1(make_partial(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	backend = rte_be_to_cpu_32(ip_of(m)->dst_addr);
	CU_ASSERT(backend == WEB || backend == REMOTE_WEB);
	check_partial_out(m, IPPROTO_TCP);
	rte_pktmbuf_free(m);
	/* The backend's answer, partial too: the client sees the ClusterIP. */
	p.src = backend;
	p.dst = CURL;
	p.sport = 80;
	p.dport = 47001;
	p.src_mac = backend == WEB ? web_mac : w1_mac;
	m = run1(make_partial(&p), backend == WEB ? 2 : 0, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), VIP);
	check_partial_out(m, IPPROTO_TCP);
	rte_pktmbuf_free(m);
	/* Masquerade to the router from a port outside this lcore's slice:
	 * new source address and port, the sum only follows the address. */
	p = from_curl(GW_IP);
	p.proto = IPPROTO_UDP;
	p.sport = 5454;
	p.dport = 53;
	p.payload = 31;
	m = run1(make_partial(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), NODE_IP);
	nport = rte_be_to_cpu_16(udp_of(m)->src_port);
	CU_ASSERT(nport >= 40000 && nport <= 40009);
	/* A port with checksum offload gets it as offload flags. */
	{
		struct rte_mbuf *c = rte_pktmbuf_copy(m, test_pool, 0, UINT32_MAX);

		CU_ASSERT_FATAL(c != NULL);
		c->ol_flags = m->ol_flags;
		*kdp_meta(c) = *kdp_meta(m);
		kdp_csum_tx_prep(c, true);
		CU_ASSERT_EQUAL(c->ol_flags, RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM);
		CU_ASSERT_EQUAL(c->l2_len, 14);
		CU_ASSERT_EQUAL(c->l3_len, 20);
		CU_ASSERT_EQUAL(udp_of(c)->dgram_cksum, rte_ipv4_phdr_cksum(ip_of(c), 0));
		rte_pktmbuf_free(c);
	}
	check_partial_out(m, IPPROTO_UDP);
	rte_pktmbuf_free(m);
}

/* What kdp answers for a partial packet carries a whole checksum; a
 * partial flag on ICMP or a fragment is refused. */
static void test_partial_refused_and_answered(void)
{
	struct test_pkt p = from_curl(EMPTY_VIP);
	uint64_t bad = st.drop[KDP_DROP_CSUM_PARTIAL_UNSUPPORTED];
	struct rte_mbuf *m;
	int punted;

	p.proto = IPPROTO_TCP;
	p.sport = 50100;
	p.dport = 80;
	m = run1(make_partial(&p), 1, &punted);
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(tcp_of(m)->tcp_flags, RTE_TCP_RST_FLAG | RTE_TCP_ACK_FLAG);
	CU_ASSERT(!kdp_csum_is_partial(m));
	CU_ASSERT(l4_ok(m));
	rte_pktmbuf_free(m);
	p = from_curl(REMOTE_WEB); /* ICMP echo */
	m = test_pkt_make(&p);
	m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
	CU_ASSERT_PTR_NULL(run1(m, 1, &punted));
	p.proto = IPPROTO_UDP;
	p.frag = RTE_IPV4_HDR_MF_FLAG;
	m = make_partial(&p);
	CU_ASSERT_PTR_NULL(run1(m, 1, &punted));
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_CSUM_PARTIAL_UNSUPPORTED], bad + 2);
}

/* The first packets of a new flow in one burst (segments of one super-frame,
 * a client's back-to-back datagrams): one entry, every packet translated
 * alike. Used to drop all but the first as ct_clash / nat_port_exhausted. */
static void test_new_flow_twice_in_a_burst(void)
{
	struct kdp_pipeline_out out;
	struct rte_mbuf *in[6];
	uint64_t flows = kdp_ct_count(ct), masq = st.masq_flows;
	uint64_t clash = st.drop[KDP_DROP_CT_CLASH], ex = st.drop[KDP_DROP_NAT_PORT_EXHAUSTED];

	for (int i = 0; i < 3; i++) {
		struct test_pkt p = from_curl(GW_IP);

		p.proto = IPPROTO_UDP;
		p.sport = 5999; /* outside the slice: a new port is picked */
		p.dport = 443;
		p.payload = (uint16_t)(100 + i);
		in[i] = test_pkt_make(&p);
		p = from_curl(VIP);
		p.proto = IPPROTO_TCP;
		p.sport = 47777;
		p.dport = 80;
		in[3 + i] = test_pkt_make(&p);
	}
	CU_ASSERT_EQUAL(kdp_pipeline_run(&ctx, &dp, 1, in, 6, &out), 6);
	CU_ASSERT_EQUAL_FATAL(out.n_tx + out.n_punt, 6);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), flows + 2);
	CU_ASSERT_EQUAL(st.masq_flows, masq + 1);
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_CT_CLASH], clash);
	CU_ASSERT_EQUAL(st.drop[KDP_DROP_NAT_PORT_EXHAUSTED], ex);
	for (int i = 0; i < out.n_tx; i++) {
		struct rte_mbuf *m = out.tx[i];

		if (ip_of(m)->next_proto_id == IPPROTO_UDP) {
			CU_ASSERT_EQUAL(rte_be_to_cpu_32(ip_of(m)->src_addr), NODE_IP);
			CU_ASSERT_EQUAL(udp_of(m)->src_port, udp_of(out.tx[0])->src_port);
		} else {
			CU_ASSERT_EQUAL(ip_of(m)->dst_addr, ip_of(out.tx[out.n_tx - 1])->dst_addr);
		}
		CU_ASSERT(l4_ok(m));
	}
	rte_pktmbuf_free_bulk(out.tx, out.n_tx);
	rte_pktmbuf_free_bulk(out.punt, out.n_punt);
}

void test_register_pipeline(void)
{
	CU_pSuite s = CU_add_suite("pipeline", setup, teardown);
	CU_add_test(s, "pod to remote pod: native routing, no NAT", test_remote_pod);
	CU_add_test(s, "unresolved next hop is punted", test_unresolved_punts);
	CU_add_test(s, "local pod and host tap", test_local_pod_and_host);
	CU_add_test(s, "named drops", test_drops);
	CU_add_test(s, "TTL expiry sends ICMP time exceeded", test_ttl_exceeded);
	CU_add_test(s, "MTU: frag needed with DF, drop without", test_mtu);
	CU_add_test(s, "a super-frame kept whole: the MTU rule on its segment size", test_lro_mtu);
	CU_add_test(s, "echo reply from the pods' gateway", test_echo_gateway);
	CU_add_test(s, "ARP goes to the slow path", test_arp_punted);
	CU_add_test(s, "a mixed burst", test_mixed_burst);
	CU_add_test(s, "ClusterIP DNAT and reverse NAT, checksums", test_clusterip_dnat_and_reply);
	CU_add_test(s, "a SYN reusing a closed flow: reopen or renew", test_syn_reuses_closed_flow);
	CU_add_test(s, "no backend: RST; unknown service port: drop", test_reject_and_unknown);
	CU_add_test(s, "NodePort from the LAN: SNAT for remote backends", test_nodeport_snat);
	CU_add_test(s, "conntrack full: new flows dropped as ct_full, old ones kept", test_ct_full);
	CU_add_test(s, "masquerade: SNAT outside the set, pod IP inside", test_masquerade);
	CU_add_test(s, "masquerade: ICMP echo by identifier", test_masquerade_icmp);
	CU_add_test(s, "ICMP error about a masqueraded flow, inner header too", test_icmp_error_translated);
	CU_add_test(s, "flow monitor: dropped, forwarded, translated events", test_monitor_events);
	CU_add_test(s, "partial checksums through DNAT, reply and masquerade", test_partial_checksums);
	CU_add_test(s, "a new flow's packets in one burst: one entry, all translated",
		    test_new_flow_twice_in_a_burst);
	CU_add_test(s, "partial checksums: refused on ICMP/fragments, RST whole", test_partial_refused_and_answered);
}

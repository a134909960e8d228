/* SPDX-License-Identifier: BSD-3-Clause */
/* The pipeline on a hand-built copy of node k8s-ctr of the reference lab:
 * port 0 uplink, port 1 curl-pod, port 2 webpod, port 3 host tap. */
#include <string.h>

#include <rte_icmp.h>
#include <rte_ip.h>

#include "icmp/kdp_icmp.h"
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
	return 0;
}

static int teardown(void)
{
	kdp_route_free(dp.rt);
	kdp_neigh_free(nt);
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

void test_register_pipeline(void)
{
	CU_pSuite s = CU_add_suite("pipeline", setup, teardown);
	CU_add_test(s, "pod to remote pod: native routing, no NAT", test_remote_pod);
	CU_add_test(s, "unresolved next hop is punted", test_unresolved_punts);
	CU_add_test(s, "local pod and host tap", test_local_pod_and_host);
	CU_add_test(s, "named drops", test_drops);
	CU_add_test(s, "TTL expiry sends ICMP time exceeded", test_ttl_exceeded);
	CU_add_test(s, "MTU: frag needed with DF, drop without", test_mtu);
	CU_add_test(s, "echo reply from the pods' gateway", test_echo_gateway);
	CU_add_test(s, "ARP goes to the slow path", test_arp_punted);
	CU_add_test(s, "a mixed burst", test_mixed_burst);
}

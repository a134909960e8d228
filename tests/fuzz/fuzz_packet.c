/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: arbitrary frames through the whole pipeline (parse →
 * conntrack → services → NAT → route → masquerade → L2) of a node set up like
 * k8s-ctr of the reference lab (dual stack), with a service, a masquerade
 * set and a neighbour of each family. The first input byte picks the port the frame arrives on
 * (uplink, pod, host tap). Conntrack state carries over between inputs, so
 * sequences of packets are explored too.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_mbuf.h>

#include "common/kdp_eal.h"
#include "common/kdp_meta.h"
#include "kdp_ipmasq.h"
#include "common/kdp_csum.h"
#include "kdp_afp_offload.h"
#include "pipeline/kdp_pipeline.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

static struct rte_mempool *pool;
static struct kdp_dp dp;
static struct kdp_stats st;
static struct kdp_pipeline_ctx ctx;
/* Tables live in DPDK memory, which LeakSanitizer does not scan: keep the
 * roots of their malloc'ed parts here too. */
static struct kdp_svc_table *svc_root;

static void nop_req(void *c, uint16_t p, uint32_t ip, const struct rte_ether_addr *d) {}
static void nop_req6(void *c, uint16_t p, const struct kdp_in6 *ip,
		     const struct rte_ether_addr *d) {}

/* An IPv6 address from text; aborts on a bad one (set-up only). */
static struct kdp_in6 ip6(const char *s)
{
	struct kdp_in6 a;

	if (kdp_addr6_parse(s, &a) != 0)
		abort();
	return a;
}

/* The IPv6 side of the node: routes and a neighbour. */
static void setup6(const struct kdp_neigh_ops *ops, const struct rte_ether_addr *peer)
{
	struct kdp_neigh_params np6 = {.size = 64, .family = AF_INET6};
	struct kdp_nexthop6 nh;
	struct kdp_in6 a;
	struct kdp_neigh *nt6;

	dp.node_ip6 = ip6("fd00:10::100");
	dp.pod_gw6 = ip6("fe80::1");
	dp.ports[1].pod_ip6 = ip6("fd00:20:0:1::236");
	dp.rt6 = kdp_route6_create("fuzz_rt6", 64, 0);
	if (dp.rt6 == NULL)
		abort();
	nh = (struct kdp_nexthop6){.type = KDP_NH_VIA, .port = 0, .gw = ip6("fd00:10::200")};
	a = ip6("::");
	kdp_route6_add(dp.rt6, &a, 0, KDP_RK_GATEWAY, &nh, "");
	nh = (struct kdp_nexthop6){.type = KDP_NH_CONNECTED, .port = 0};
	a = ip6("fd00:10::");
	kdp_route6_add(dp.rt6, &a, 64, KDP_RK_CONNECTED, &nh, "");
	nh = (struct kdp_nexthop6){.type = KDP_NH_VIA, .port = 0, .gw = ip6("fd00:10::101")};
	a = ip6("fd00:20::");
	kdp_route6_add(dp.rt6, &a, 64, KDP_RK_REMOTE_NODE, &nh, "");
	nh = (struct kdp_nexthop6){.type = KDP_NH_NO_ENDPOINT};
	a = ip6("fd00:20:0:1::");
	kdp_route6_add(dp.rt6, &a, 64, KDP_RK_LOCAL_PODCIDR, &nh, "");
	nh = (struct kdp_nexthop6){.type = KDP_NH_ENDPOINT, .port = 1, .mac = *peer};
	a = ip6("fd00:20:0:1::236");
	kdp_route6_add(dp.rt6, &a, 128, KDP_RK_ENDPOINT, &nh, "");
	nh = (struct kdp_nexthop6){.type = KDP_NH_HOST, .port = 2, .mac = *peer};
	kdp_route6_add(dp.rt6, &dp.node_ip6, 128, KDP_RK_HOST, &nh, "");
	nh = (struct kdp_nexthop6){.type = KDP_NH_LOCAL};
	kdp_route6_add(dp.rt6, &dp.pod_gw6, 128, KDP_RK_LOCAL, &nh, "");
	nt6 = kdp_neigh_create("fuzz_nt6", &np6, ops);
	if (nt6 == NULL)
		abort();
	a = ip6("fd00:10::101");
	kdp_neigh_learn6(nt6, &a, 0, peer, true, 0);
	ctx.nt6 = nt6;
}
static void nop_send(void *c, struct rte_mbuf *m, const struct rte_ether_addr *a) { rte_pktmbuf_free(m); }
static void nop_drop(void *c, struct rte_mbuf *m, enum kdp_drop r) { rte_pktmbuf_free(m); }

static char rundir[PATH_MAX];

/* libFuzzer ends with exit(): leave no runtime directory behind. */
static void at_exit(void)
{
	rte_eal_cleanup();
	kdp_eal_remove_runtime_dir(rundir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char prefix[64];
	char *eal[] = {"fuzz", "--no-pci", "--no-huge", "-m", "512", "--no-telemetry",
		       "--log-level=*:crit", "-l", "0", prefix, NULL};
	struct kdp_neigh_params np = {.size = 64};
	struct kdp_neigh_ops ops = {nop_req, nop_send, nop_drop, NULL, nop_req6};
	struct kdp_ct_params cp = {.max_flows = 4096};
	const struct rte_ether_addr mac = {{2, 0, 0, 0, 0, 0x64}}, peer = {{2, 0, 0, 0, 0, 0x65}};
	uint32_t nodes[] = {IP4(192, 168, 10, 100), IP4(192, 168, 10, 101)};
	struct kdp_svc_table *t;
	struct kdp_svc_fe fe;
	struct kdp_nexthop nh;
	struct kdp_neigh *nt;
	struct kdp_ipmasq *mc = calloc(1, sizeof(*mc));
	struct kdp_masq_set *ms;
	struct kdp_ct *ct;
	char err[256];

	snprintf(prefix, sizeof(prefix), "--file-prefix=kdp-fuzz-%d", (int)getpid());
	if (rte_eal_init(10, eal) < 0)
		abort();
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	atexit(at_exit);
	pool = rte_pktmbuf_pool_create("fuzz", 1023, 0, KDP_MBUF_PRIV_SIZE,
				       RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	dp.node_ip = nodes[0];
	dp.mac = mac;
	dp.loopback_ip = IP4(169, 254, 42, 1);
	dp.svc_cidr = IP4(10, 96, 0, 0);
	dp.svc_plen = 16;
	dp.ports[0] = (struct kdp_dp_port){KDP_PORT_UPLINK, 1500, 0};
	dp.ports[1] = (struct kdp_dp_port){KDP_PORT_POD, 1500, IP4(172, 20, 1, 236)};
	dp.ports[2] = (struct kdp_dp_port){KDP_PORT_HOST, 1500, 0};
	dp.rt = kdp_route_create("fuzz_rt", 64, 0);
	nh = (struct kdp_nexthop){.type = KDP_NH_VIA, .port = 0, .gw = IP4(192, 168, 10, 200)};
	kdp_route_add(dp.rt, 0, 0, KDP_RK_GATEWAY, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_CONNECTED, .port = 0};
	kdp_route_add(dp.rt, nodes[0], 24, KDP_RK_CONNECTED, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_VIA, .port = 0, .gw = nodes[1]};
	kdp_route_add(dp.rt, IP4(172, 20, 0, 0), 24, KDP_RK_REMOTE_NODE, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_NO_ENDPOINT};
	kdp_route_add(dp.rt, IP4(172, 20, 1, 0), 24, KDP_RK_LOCAL_PODCIDR, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_ENDPOINT, .port = 1, .mac = peer};
	kdp_route_add(dp.rt, IP4(172, 20, 1, 236), 32, KDP_RK_ENDPOINT, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_HOST, .port = 2, .mac = peer};
	kdp_route_add(dp.rt, nodes[0], 32, KDP_RK_HOST, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_LOCAL};
	kdp_route_add(dp.rt, IP4(169, 254, 1, 1), 32, KDP_RK_LOCAL, &nh, "");
	t = kdp_svc_table_create("fuzz_svc", 4, 4, 0);
	memset(&fe, 0, sizeof(fe));
	fe.id = 1;
	fe.key.addr = rte_cpu_to_be_32(IP4(10, 96, 152, 212));
	fe.key.port = rte_cpu_to_be_16(80);
	fe.key.proto = IPPROTO_TCP;
	fe.gen = 1;
	fe.be = calloc(2, sizeof(*fe.be));
	fe.be[0] = (struct kdp_svc_backend){rte_cpu_to_be_32(IP4(172, 20, 0, 130)),
					    rte_cpu_to_be_16(80), KDP_BE_ACTIVE, 0};
	fe.be[1] = (struct kdp_svc_backend){rte_cpu_to_be_32(IP4(172, 20, 1, 236)),
					    rte_cpu_to_be_16(80), KDP_BE_ACTIVE, 1};
	fe.n_be = 2;
	if (t == NULL || kdp_svc_fe_prepare(&fe, 0) || kdp_svc_table_add(t, &fe))
		abort();
	dp.svc = t;
	svc_root = t;
	if (mc == NULL || kdp_ipmasq_parse("", 0, mc, err) != 0)
		abort();
	ms = kdp_masq_set_create("fuzz_masq", kdp_ipmasq_set_size(mc, 2), 0);
	if (ms == NULL || kdp_ipmasq_build(mc, IP4(172, 20, 0, 0), 16, nodes, 2, ms))
		abort();
	dp.masq = ms;
	free(mc);
	nt = kdp_neigh_create("fuzz_nt", &np, &ops);
	kdp_neigh_learn(nt, nodes[1], 0, &peer, true, 0);
	kdp_ct_timeouts_default(&cp.timeouts);
	ct = kdp_ct_create("fuzz_ct", &cp);
	if (nt == NULL || ct == NULL)
		abort();
	kdp_pipeline_ctx_init(&ctx, &st, nt, ct, 0, 40000, 40015);
	setup6(&ops, &peer);
	return 0;
}

/* Runs @p n packets from in_port through the pipeline and the transmit
 * preparation, then frees what came out. */
static void run(struct rte_mbuf **m, uint16_t n, uint16_t in_port, bool port_csum)
{
	struct kdp_pipeline_out out;

	kdp_pipeline_run(&ctx, &dp, in_port, m, n, &out);
	for (uint16_t i = 0; i < out.n_tx; i++) {
		struct rte_mbuf *x = out.tx[i];

		if (!(x->ol_flags & RTE_MBUF_F_RX_LRO)) {
			kdp_csum_tx_prep(x, port_csum);
			continue;
		}
		/* A super-frame kept whole: to a TSO port, or cut as a worker
		 * does for any other. */
		if (port_csum) {
			kdp_csum_tx_tso(x);
		} else {
			struct kdp_gso g;
			struct rte_mbuf *seg[KDP_BURST];

			if (kdp_gso_init(&g, rte_pktmbuf_mtod(x, const uint8_t *), x->data_len,
					 IPPROTO_TCP, x->tso_segsz, kdp_afp_room(pool)) != KDP_GSO_OK)
				continue;
			while (!kdp_gso_done(&g)) {
				uint16_t k = kdp_gso_next(&g, pool, x->port, seg, KDP_BURST);

				if (k == 0)
					abort();
				for (uint16_t j = 0; j < k; j++) {
					*kdp_meta(seg[j]) = *kdp_meta(x);
					kdp_csum_tx_prep(seg[j], false);
				}
				rte_pktmbuf_free_bulk(seg, k);
			}
		}
	}
	if (out.n_tx)
		rte_pktmbuf_free_bulk(out.tx, out.n_tx);
	if (out.n_punt)
		rte_pktmbuf_free_bulk(out.punt, out.n_punt);
}

/*
 * data[0]: bits 0-1 the port (% 3), bit 7 the frame's L4 checksum flagged
 * partial, bit 6 the egress port finishes checksums, bit 5: the next 10
 * bytes are a virtio_net_hdr as the kernel puts before a frame for
 * net_kdp_afp (a pod can write any with a packet socket of its own): the
 * frame goes through the driver's checksum and GSO handling first; with bit
 * 4 a TCP super-frame is kept whole (LRO) and cut or handed to TSO after.
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t port = data[0] % 4 % 3;
	bool port_csum = (data[0] & 0x40) != 0;
	struct rte_mbuf *m;

	if (size < 1 || size > 1 + 2000)
		return 0;
	if ((data[0] & 0x20) && size >= 11) {
		static uint8_t frame[2000];
		struct virtio_net_hdr vh;
		uint32_t len = (uint32_t)size - 11;
		uint64_t ol = 0;

		memcpy(&vh, data + 1, sizeof(vh));
		memcpy(frame, data + 11, len);
		if (vh.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
			struct kdp_gso g;
			struct rte_mbuf *seg[KDP_BURST];
			uint32_t hdr;

			/* Bit 4: kept whole (LRO), as net_kdp_afp delivers a TCP one. */
			if ((data[0] & 0x10) && kdp_afp_tso_whole(frame, len, &vh, &hdr) == KDP_AFP_OK &&
			    kdp_afp_rx_csum(frame, len, &vh, 1, &ol) == KDP_AFP_OK) {
				m = rte_pktmbuf_alloc(pool);
				if (m == NULL)
					abort();
				memcpy(rte_pktmbuf_append(m, (uint16_t)len), frame, len);
				m->ol_flags = ol | RTE_MBUF_F_RX_LRO;
				m->tso_segsz = vh.gso_size;
				run(&m, 1, port, port_csum);
				return 0;
			}
			if (kdp_afp_gso_init(&g, frame, len, &vh, kdp_afp_room(pool)) != KDP_AFP_OK)
				return 0;
			while (!kdp_gso_done(&g)) {
				uint16_t n = kdp_gso_next(&g, pool, port, seg, KDP_BURST);
				if (n == 0)
					abort(); /* the pool cannot be empty here */
				run(seg, n, port, port_csum);
			}
			return 0;
		}
		if (kdp_afp_rx_csum(frame, len, &vh, 1, &ol) != KDP_AFP_OK)
			return 0;
		m = rte_pktmbuf_alloc(pool);
		if (m == NULL)
			abort();
		if (len > 0)
			memcpy(rte_pktmbuf_append(m, (uint16_t)len), frame, len);
		m->ol_flags = ol;
		run(&m, 1, port, port_csum);
		return 0;
	}
	m = rte_pktmbuf_alloc(pool);
	if (m == NULL)
		abort();
	if (size > 1)
		memcpy(rte_pktmbuf_append(m, (uint16_t)(size - 1)), data + 1, size - 1);
	if (data[0] & 0x80)
		m->ol_flags = RTE_MBUF_F_RX_L4_CKSUM_NONE;
	run(&m, 1, port, port_csum);
	return 0;
}

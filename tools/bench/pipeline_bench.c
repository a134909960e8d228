/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-bench-pipeline: the cost of one worker's pipeline, in process, on a
 * copy of node k8s-ctr: crafted 64-byte UDP frames from curl-pod (or from
 * the LAN) run through kdp_pipeline_run in bursts of 32, the output freed
 * as a TX sink would. Prints Mpps and TSC cycles per packet per scenario
 * and flow count. A benchmark, not a test: it asserts nothing.
 *
 *   kdp-bench-pipeline [-f N[,N...]] [-s SECONDS] [-M off|idle|on]
 *                      [-c full|partial|partial-sw] [-b BYTES] [-S routing|dnat|masq]
 *                      [-m MAXFLOWS] [-w 2 [-T shared|apart]] [-i port|kdp]
 *
 * -M attaches a flow monitor: idle (nobody listens: the cost kdp pays on
 * every node), on (a listener: events staged, rate-limited at the default
 * 20000/s and drained every 64 bursts).
 * -c: the UDP checksums of the frames: full (complete, as from a sender
 * without checksum offload; the default), partial (pseudo-header sums
 * flagged RTE_MBUF_F_RX_L4_CKSUM_NONE, as net_kdp_afp delivers a kernel
 * sender's offloaded frames; the egress port finishes them, TX offload),
 * partial-sw (the same, the egress port cannot: kdp finishes them in
 * software). The transmit preparation (kdp_csum_tx_prep) runs in every mode.
 * -b: frame size with FCS (64-1518; default 64).
 * -i: who checks the IPv4 header checksums: kdp (the default: parse sums
 * each header, as behind a port without RX checksum offload) or the port
 * (each mbuf flagged RX_IP_CKSUM_GOOD, as a NIC with the offload kdp asks
 * for, or net_kdp_replay, flags it).
 * -S: one scenario only (default: all three). Prints the packets of each
 * window, for per-packet counts from `perf stat`.
 * -m: the conntrack table's size (default: twice the flows, plus 1024).
 * -w 2: two workers (lcores 0 and 1), flow i on worker i mod 2, as RSS
 * spreads flows over two queues; -T shared (the default, as in kdp: one
 * conntrack table, one service table) or apart (each worker its own
 * tables, as two kdp processes would have). Prints each worker's rate and
 * the sum: what a process costs two workers, without the daemon's I/O.
 * The first pass over the flows, every packet a new flow, is timed too:
 * the "new flows" line (for DNAT, a service lookup, a Maglev pick and a
 * conntrack insert per packet).
 */
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ip.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include "common/kdp_csum.h"
#include "common/kdp_meta.h"
#include "common/kdp_eal.h"
#include "kdp_ipmasq.h"
#include "pipeline/kdp_pipeline.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))
#define NODE_IP IP4(192, 168, 10, 100)
#define W1_IP IP4(192, 168, 10, 101)
#define GW_IP IP4(192, 168, 10, 200)
#define CURL IP4(172, 20, 1, 236)
#define VIP IP4(10, 96, 152, 212) /* the first ClusterIP; the next ones follow */
#define PER_VIP 60000             /* flows per ClusterIP (source ports) */

enum csum_mode { CSUM_FULL, CSUM_PARTIAL, CSUM_PARTIAL_SW };
static enum csum_mode csum_mode;
static uint32_t frame_len = 60;   /* without FCS */
static uint32_t frame_stride = 64;
static uint32_t max_flows;        /* -m; 0: twice the flows */
static uint64_t rx_flags;         /* -i port: RTE_MBUF_F_RX_IP_CKSUM_GOOD */

static const struct rte_ether_addr kdp_mac = {{0x02, 0, 0, 0, 0, 0x64}};
static const struct rte_ether_addr peer_mac = {{0x02, 0, 0, 0, 0, 0x65}};

static void nop_req(void *c, uint16_t p, uint32_t ip, const struct rte_ether_addr *d) {}
static void nop_send(void *c, struct rte_mbuf *m, const struct rte_ether_addr *a) { rte_pktmbuf_free(m); }
static void nop_drop(void *c, struct rte_mbuf *m, enum kdp_drop r) { rte_pktmbuf_free(m); }

struct world {
	struct kdp_dp dp;
	struct kdp_neigh *nt;
	struct kdp_ct *ct;
	struct kdp_stats st;
	struct kdp_pipeline_ctx ctx;
};

static int build(struct world *w, uint32_t flows, int n)
{
	struct kdp_neigh_params np = {.size = 64};
	struct kdp_neigh_ops ops = {nop_req, nop_send, nop_drop, NULL};
	uint32_t n_vips = (flows + PER_VIP - 1) / PER_VIP;
	struct kdp_ct_params cp = {.max_flows = max_flows ? max_flows : flows * 2 + 1024,
				   .socket = 0};
	struct kdp_svc_table *t;
	struct kdp_svc_fe fe;
	struct kdp_nexthop nh;
	struct kdp_ipmasq *cfg;
	struct kdp_masq_set *m;
	uint32_t nodes[] = {NODE_IP, W1_IP};
	char name[32], err[KDP_ERR_LEN];

	memset(w, 0, sizeof(*w));
	w->dp.node_ip = NODE_IP;
	w->dp.mac = kdp_mac;
	w->dp.loopback_ip = IP4(169, 254, 42, 1);
	w->dp.ports[0] = (struct kdp_dp_port){KDP_PORT_UPLINK, 1500, 0, csum_mode == CSUM_PARTIAL};
	w->dp.ports[1] = (struct kdp_dp_port){KDP_PORT_POD, 1500, CURL, csum_mode == CSUM_PARTIAL};
	snprintf(name, sizeof(name), "b_rt%d", n);
	w->dp.rt = kdp_route_create(name, 64, 0);
	snprintf(name, sizeof(name), "b_svc%d", n);
	t = kdp_svc_table_create(name, n_vips + 4, n_vips + 4, 0);
	snprintf(name, sizeof(name), "b_nt%d", n);
	w->nt = kdp_neigh_create(name, &np, &ops);
	snprintf(name, sizeof(name), "b_ct%d", n);
	kdp_ct_timeouts_default(&cp.timeouts);
	w->ct = kdp_ct_create(name, &cp);
	if (w->dp.rt == NULL || t == NULL || w->nt == NULL || w->ct == NULL)
		return -1;
	nh = (struct kdp_nexthop){.type = KDP_NH_VIA, .port = 0, .gw = GW_IP};
	kdp_route_add(w->dp.rt, 0, 0, KDP_RK_GATEWAY, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_VIA, .port = 0, .gw = W1_IP};
	kdp_route_add(w->dp.rt, IP4(172, 20, 0, 0), 24, KDP_RK_REMOTE_NODE, &nh, "");
	nh = (struct kdp_nexthop){.type = KDP_NH_ENDPOINT, .port = 1, .mac = peer_mac};
	kdp_route_add(w->dp.rt, CURL, 32, KDP_RK_ENDPOINT, &nh, "");
	kdp_neigh_learn(w->nt, W1_IP, 0, &peer_mac, true, 0);
	kdp_neigh_learn(w->nt, GW_IP, 0, &peer_mac, true, 0);
	/* ClusterIPs with 10 backends each on the other node: one per
	 * PER_VIP flows (one client, one destination port: that many source
	 * ports). */
	for (uint32_t v = 0; v < n_vips; v++) {
		memset(&fe, 0, sizeof(fe));
		fe.id = 1 + v;
		fe.key.addr = rte_cpu_to_be_32(VIP + v);
		fe.key.port = rte_cpu_to_be_16(80);
		fe.key.proto = IPPROTO_UDP;
		fe.gen = 1;
		fe.be = calloc(10, sizeof(*fe.be));
		if (fe.be == NULL)
			return -1;
		for (int i = 0; i < 10; i++) {
			fe.be[i].ip = rte_cpu_to_be_32(IP4(172, 20, 0, 10 + i));
			fe.be[i].port = rte_cpu_to_be_16((uint16_t)(8080 + v)); /* replies apart */
		}
		fe.n_be = 10;
		if (kdp_svc_fe_prepare(&fe, 0) || kdp_svc_table_add(t, &fe))
			return -1;
	}
	w->dp.svc = t;
	cfg = calloc(1, sizeof(*cfg));
	snprintf(name, sizeof(name), "b_masq%d", n);
	if (cfg == NULL || kdp_ipmasq_parse("", 0, cfg, err) != 0)
		return -1;
	m = kdp_masq_set_create(name, kdp_ipmasq_set_size(cfg, 2), 0);
	if (m == NULL || kdp_ipmasq_build(cfg, IP4(172, 20, 0, 0), 16, nodes, 2, m))
		return -1;
	free(cfg);
	w->dp.masq = m;
	kdp_pipeline_ctx_init(&w->ctx, &w->st, w->nt, w->ct, 0, 32768, 65535);
	return 0;
}

/* A frame of flow @p i for scenario @p sc: frame_len bytes (without FCS),
 * its UDP checksum complete or a pseudo-header sum (csum_mode). */
static void frame(uint8_t *buf, int sc, uint32_t i)
{
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	struct rte_udp_hdr *u = (struct rte_udp_hdr *)(ip + 1);
	uint32_t dst = sc == 0 ? IP4(172, 20, 0, 1 + i % 250)
		       : sc == 1 ? VIP + i / PER_VIP
				 : IP4(8, 8, (i >> 8) & 255, i & 255);

	memset(buf, 0, frame_len);
	eth->dst_addr = kdp_mac;
	eth->src_addr = peer_mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(frame_len - sizeof(*eth)));
	ip->time_to_live = 64;
	ip->next_proto_id = IPPROTO_UDP;
	ip->src_addr = rte_cpu_to_be_32(CURL);
	ip->dst_addr = rte_cpu_to_be_32(dst);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	u->src_port = rte_cpu_to_be_16((uint16_t)(1024 + (i % PER_VIP)));
	u->dst_port = rte_cpu_to_be_16(sc == 1 ? 80 : (uint16_t)(2000 + i / PER_VIP));
	u->dgram_len = rte_cpu_to_be_16((uint16_t)(frame_len - sizeof(*eth) - sizeof(*ip)));
	u->dgram_cksum = csum_mode == CSUM_FULL ? rte_ipv4_udptcp_cksum(ip, u)
						: rte_ipv4_phdr_cksum(ip, 0);
}

/* One burst: build 32 frames as RX would, run them, free the output as
 * TX would. */
static int burst(struct world *w, struct rte_mempool *pool, const uint8_t *frames,
		 uint32_t flows, uint32_t *next)
{
	struct rte_mbuf *pkts[KDP_BURST];
	struct kdp_pipeline_out out;

	if (rte_pktmbuf_alloc_bulk(pool, pkts, KDP_BURST) != 0)
		return -1;
	for (int j = 0; j < KDP_BURST; j++) {
		char *d = rte_pktmbuf_append(pkts[j], (uint16_t)frame_len);
		memcpy(d, frames + (size_t)*next * frame_stride, frame_len);
		pkts[j]->ol_flags = rx_flags;
		if (csum_mode != CSUM_FULL)
			pkts[j]->ol_flags |= RTE_MBUF_F_RX_L4_CKSUM_NONE;
		if (++*next == flows)
			*next = 0;
	}
	kdp_pipeline_run(&w->ctx, &w->dp, 1, pkts, KDP_BURST, &out);
	for (uint16_t j = 0; j < out.n_tx; j++)
		kdp_csum_tx_prep(out.tx[j], w->dp.ports[kdp_meta(out.tx[j])->out_port].tx_csum);
	if (out.n_tx)
		rte_pktmbuf_free_bulk(out.tx, out.n_tx);
	if (out.n_punt)
		rte_pktmbuf_free_bulk(out.punt, out.n_punt);
	return 0;
}

static const char *const names[] = {"routing (pod -> remote pod)",
				    "ClusterIP DNAT, established",
				    "masquerade, established"};

/* One worker of -w 2: its half of the flows, its own pool. */
struct wk {
	struct world *w;
	struct rte_mempool *pool;
	const uint8_t *frames;
	uint32_t flows;
	double seconds;
	uint64_t done, cycles, new_cycles;
	int err;
} __rte_cache_aligned;

static int wk_main(void *arg)
{
	struct wk *k = arg;
	uint64_t hz = rte_get_tsc_hz(), t0, t1;
	uint32_t next = 0;

	t0 = rte_rdtsc();
	for (uint32_t b = 0; b < (k->flows + KDP_BURST - 1) / KDP_BURST; b++)
		if (burst(k->w, k->pool, k->frames, k->flows, &next) != 0)
			goto fail;
	k->new_cycles = rte_rdtsc() - t0;
	t0 = rte_rdtsc();
	do {
		for (int r = 0; r < 64; r++)
			if (burst(k->w, k->pool, k->frames, k->flows, &next) != 0)
				goto fail;
		k->done += 64 * KDP_BURST;
		t1 = rte_rdtsc();
	} while ((double)(t1 - t0) < k->seconds * (double)hz);
	k->cycles = t1 - t0;
	return 0;
fail:
	k->err = 1;
	return -1;
}

static void world_free(struct world *w)
{
	kdp_route_free(w->dp.rt);
	kdp_svc_table_free((struct kdp_svc_table *)w->dp.svc);
	kdp_masq_set_free((struct kdp_masq_set *)w->dp.masq);
	kdp_neigh_free(w->nt);
	kdp_ct_free(w->ct);
}

/* Scenario @p sc with two workers: tables shared or apart. */
static int run_two(int sc, uint32_t flows, int c, bool apart, double seconds,
		   struct rte_mempool *pools[2])
{
	struct world *w = rte_zmalloc("bench_w", 2 * sizeof(*w), RTE_CACHE_LINE_SIZE);
	struct wk *k = rte_zmalloc("bench_wk", 2 * sizeof(*k), RTE_CACHE_LINE_SIZE);
	uint64_t hz = rte_get_tsc_hz();
	double sum = 0;

	if (w == NULL || k == NULL || build(&w[0], flows, 100 + c * 6 + sc * 2) != 0)
		return -1;
	if (apart) {
		if (build(&w[1], flows, 101 + c * 6 + sc * 2) != 0)
			return -1;
	} else {
		w[1].dp = w[0].dp;
		w[1].nt = w[0].nt;
		w[1].ct = w[0].ct;
		kdp_pipeline_ctx_init(&w[1].ctx, &w[1].st, w[1].nt, w[1].ct, 0, 49152, 65535);
		kdp_pipeline_ctx_init(&w[0].ctx, &w[0].st, w[0].nt, w[0].ct, 0, 32768, 49151);
	}
	for (int q = 0; q < 2; q++) {
		uint32_t n = (flows - (uint32_t)q + 1) / 2;
		uint8_t *fr = malloc((size_t)n * frame_stride);

		if (fr == NULL)
			return -1;
		for (uint32_t i = 0; i < n; i++)
			frame(fr + (size_t)i * frame_stride, sc, 2 * i + (uint32_t)q);
		k[q] = (struct wk){.w = &w[q], .pool = pools[q], .frames = fr, .flows = n,
				   .seconds = seconds};
	}
	if (rte_eal_remote_launch(wk_main, &k[1], 1) != 0)
		return -1;
	wk_main(&k[0]);
	rte_eal_wait_lcore(1);
	for (int q = 0; q < 2; q++) {
		double mpps = (double)k[q].done / ((double)k[q].cycles / (double)hz) / 1e6;

		if (k[q].err)
			return -1;
		sum += mpps;
		printf("  worker %d (lcore %d)%-11s %10u %10.2f %12.1f %12" PRIu64
		       " packets; new flows %.2f M/s\n", q, q, "", k[q].flows, mpps,
		       (double)k[q].cycles / (double)k[q].done, k[q].done,
		       (double)k[q].flows / ((double)k[q].new_cycles / (double)hz) / 1e6);
		free((void *)k[q].frames);
	}
	printf("%-32s %10u %10.2f   (two workers, tables %s)\n", names[sc], flows, sum,
	       apart ? "apart" : "shared");
	fflush(stdout);
	world_free(&w[0]);
	if (apart)
		world_free(&w[1]);
	rte_free(w);
	rte_free(k);
	return 0;
}

int main(int argc, char **argv)
{
	char prefix[64];
	char *eal[] = {"kdp-bench", "--no-pci", "--no-huge", "-m", "2048", "--no-telemetry",
		       "--log-level=lib.*:error", "-l", "0", prefix, NULL};
	int workers = 1;
	bool apart = false;
	struct rte_mempool *pools[2];
	uint32_t flow_counts[8] = {10000, 1000000};
	int n_counts = 2;
	double seconds = 2;
	struct rte_mempool *pool;
	int opt, mon_mode = 0; /* 0 off, 1 idle, 2 on */
	int only = -1;         /* -S: one scenario */
	struct kdp_monitor *mon = NULL;

	snprintf(prefix, sizeof(prefix), "--file-prefix=kdp-bench-%d", (int)getpid());
	for (int i = 1; i + 1 < argc; i++)
		if (strcmp(argv[i], "-w") == 0 && strcmp(argv[i + 1], "2") == 0)
			eal[8] = "0,1"; /* -l */
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0)
		return 1;
	while ((opt = getopt(argc, argv, "f:s:M:c:b:S:m:w:T:i:")) != -1) {
		if (opt == 'w') {
			workers = atoi(optarg);
			if (workers != 1 && workers != 2) {
				fprintf(stderr, "-w: 1 or 2 workers\n");
				return 2;
			}
		} else if (opt == 'T') {
			if (strcmp(optarg, "shared") != 0 && strcmp(optarg, "apart") != 0) {
				fprintf(stderr, "-T: shared or apart\n");
				return 2;
			}
			apart = strcmp(optarg, "apart") == 0;
		} else if (opt == 'f') {
			char *s = optarg, *tok;
			n_counts = 0;
			while ((tok = strsep(&s, ",")) && n_counts < 8)
				flow_counts[n_counts++] = (uint32_t)atoi(tok);
		} else if (opt == 's') {
			seconds = atof(optarg);
		} else if (opt == 'M') {
			mon_mode = strcmp(optarg, "on") == 0 ? 2 : strcmp(optarg, "idle") == 0;
		} else if (opt == 'c') {
			csum_mode = strcmp(optarg, "partial") == 0      ? CSUM_PARTIAL
				    : strcmp(optarg, "partial-sw") == 0 ? CSUM_PARTIAL_SW
									: CSUM_FULL;
		} else if (opt == 'S') {
			only = strcmp(optarg, "routing") == 0 ? 0 : strcmp(optarg, "dnat") == 0 ? 1
				: strcmp(optarg, "masq") == 0 ? 2 : -2;
			if (only == -2) {
				fprintf(stderr, "-S: routing, dnat or masq\n");
				return 2;
			}
		} else if (opt == 'i') {
			if (strcmp(optarg, "port") != 0 && strcmp(optarg, "kdp") != 0) {
				fprintf(stderr, "-i: port or kdp\n");
				return 2;
			}
			rx_flags = strcmp(optarg, "port") == 0 ? RTE_MBUF_F_RX_IP_CKSUM_GOOD : 0;
		} else if (opt == 'm') {
			max_flows = (uint32_t)atoi(optarg);
		} else if (opt == 'b') {
			uint32_t b = (uint32_t)atoi(optarg);
			if (b < 64 || b > 1518) {
				fprintf(stderr, "-b: frame size 64-1518\n");
				return 2;
			}
			frame_len = b - 4;
			frame_stride = RTE_ALIGN(frame_len, 64);
		}
	}
	printf("frames of %u bytes, IPv4 header checksums checked by %s, UDP checksums %s\n",
	       frame_len + 4, rx_flags ? "the port (RX offload)" : "kdp",
	       csum_mode == CSUM_FULL ? "complete"
	       : csum_mode == CSUM_PARTIAL ? "partial, finished by the egress port (TX offload)"
					   : "partial, finished by kdp in software");
	if (mon_mode > 0) {
		mon = kdp_monitor_create("b_mon", 1, 0, 0, 0);
		if (mon == NULL)
			return 1;
		kdp_monitor_set_listening(mon, mon_mode == 2);
		printf("flow monitor attached, %s\n", mon_mode == 2 ? "listening" : "nobody listening");
	}
	{
		/* As kdp does at start (its pages in before a worker writes). */
		uint64_t t = rte_rdtsc();
		long long bytes = kdp_eal_prefault(NULL);

		printf("EAL memory faulted in: %lld MiB in %.0f ms\n", bytes >> 20,
		       (double)(rte_rdtsc() - t) * 1e3 / (double)rte_get_tsc_hz());
	}
	pool = rte_pktmbuf_pool_create("bench", 8191, 256, KDP_MBUF_PRIV_SIZE,
				       RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (pool == NULL)
		return 1;
	pools[0] = pool;
	pools[1] = workers == 2 ? rte_pktmbuf_pool_create("bench1", 8191, 256, KDP_MBUF_PRIV_SIZE,
							  RTE_MBUF_DEFAULT_BUF_SIZE, 0)
				: NULL;
	if (workers == 2 && pools[1] == NULL)
		return 1;
	printf("%-32s %10s %10s %12s\n",
	       workers == 2 ? "scenario (UDP, 2 cores)" : "scenario (UDP, 1 core)", "flows", "Mpps",
	       "cycles/pkt");
	for (int c = 0; c < n_counts; c++) {
		uint32_t flows = flow_counts[c];
		uint8_t *frames = malloc((size_t)flows * frame_stride);

		if (frames == NULL)
			return 1;
		for (int sc = 0; sc < 3; sc++) {
			struct world w;

			if (only >= 0 && sc != only)
				continue;
			if (workers == 2) {
				if (run_two(sc, flows, c, apart, seconds, pools) != 0) {
					printf("%-32s %10u  set-up failed\n", names[sc], flows);
					return 1;
				}
				continue;
			}
			uint64_t done = 0, t0, t1, hz = rte_get_tsc_hz();
			uint32_t next = 0;

			if (build(&w, flows, c * 3 + sc) != 0) {
				printf("%-32s %10u  set-up failed\n", names[sc], flows);
				continue;
			}
			if (mon != NULL)
				w.ctx.mon = &mon->w[0];
			for (uint32_t i = 0; i < flows; i++)
				frame(frames + (size_t)i * frame_stride, sc, i);
			/* Warm-up: one pass over every flow creates the conntrack
			 * entries (timed: new flows); then the timed loop sees
			 * established flows. */
			t0 = rte_rdtsc();
			for (uint32_t b = 0; b < (flows + KDP_BURST - 1) / KDP_BURST; b++)
				if (burst(&w, pool, frames, flows, &next) != 0)
					return 1;
			t1 = rte_rdtsc();
			if (sc != 0)
				printf("%-32s %10u %10.2f %12.1f %12" PRIu64 " packets, %" PRIu64 " in conntrack (of %u)\n",
				       "  new flows (first pass)",
				       flows, (double)flows / ((double)(t1 - t0) / (double)hz) / 1e6,
				       (double)(t1 - t0) / (double)flows, (uint64_t)flows,
				       kdp_ct_count(w.ct), max_flows ? max_flows : flows * 2 + 1024);
			for (int r = 0; r < KDP_DROP__MAX; r++)
				if (w.st.drop[r] != 0)
					printf("    dropped %s: %" PRIu64 "\n", kdp_drop_name(r), w.st.drop[r]);
			t0 = rte_rdtsc();
			do {
				for (int r = 0; r < 64; r++)
					if (burst(&w, pool, frames, flows, &next) != 0)
						return 1;
				done += 64 * KDP_BURST;
				if (mon_mode == 2) {
					struct kdp_monitor_event ev[KDP_MONITOR_BURST];
					while (kdp_monitor_dequeue(mon, 0, ev, KDP_MONITOR_BURST) > 0)
						;
				}
				t1 = rte_rdtsc();
			} while ((double)(t1 - t0) < seconds * (double)hz);
			printf("%-32s %10u %10.2f %12.1f %12" PRIu64 " packets\n", names[sc], flows,
			       (double)done / ((double)(t1 - t0) / (double)hz) / 1e6,
			       (double)(t1 - t0) / (double)done, done);
			fflush(stdout);
			world_free(&w);
		}
		free(frames);
	}
	printf("cycles include building each mbuf (alloc + copy of the frame) and freeing it, as RX and TX would\n");
	if (mon != NULL) {
		struct kdp_monitor_counters mc;

		kdp_monitor_counters(mon, &mc);
		printf("monitor: %" PRIu64 " events, %" PRIu64 " over the rate limit, %" PRIu64
		       " ring full\n", mc.events, mc.lost_rate, mc.lost_ring);
		kdp_monitor_free(mon);
	}
	rte_mempool_free(pool);
	rte_mempool_free(pools[1]);
	{
		char rundir[PATH_MAX];

		snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
		rte_eal_cleanup();
		kdp_eal_remove_runtime_dir(rundir);
	}
	return 0;
}

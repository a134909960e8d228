/* SPDX-License-Identifier: BSD-3-Clause */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_ethdev.h>
#include <rte_malloc.h>
#if defined(__SANITIZE_ADDRESS__)
/* libasan's (sanitizer/allocator_interface.h, not always installed). */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

#include "kdp_flowmon.h"
#include "kdp_metrics.h"

void kdp_metrics_count_request(struct kdp *k, const char *route, const char *method,
			       int code)
{
	char key[160];
	json_t *v;

	if (k->api_counts == NULL)
		return;
	snprintf(key, sizeof(key), "%s|%s|%d", route, method, code);
	v = json_object_get(k->api_counts, key);
	json_object_set_new(k->api_counts, key,
			    json_integer(v ? json_integer_value(v) + 1 : 1));
}

static void head(struct evbuffer *o, const char *name, const char *type, const char *help)
{
	evbuffer_add_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct evbuffer *o, const char *name, const char *type, const char *help,
		double v)
{
	head(o, name, type, help);
	evbuffer_add_printf(o, "%s %.17g\n", name, v);
}

/* A gauge with one sample per address family (IPv6 only when it is on). */
static void by_family_typed(struct evbuffer *o, const char *name, const char *type,
			    const char *help, double v4, bool has6, double v6)
{
	head(o, name, type, help);
	evbuffer_add_printf(o, "%s{family=\"ipv4\"} %.17g\n", name, v4);
	if (has6)
		evbuffer_add_printf(o, "%s{family=\"ipv6\"} %.17g\n", name, v6);
}

/* A gauge with an ipv4 sample and, when @p has6, an ipv6 one. */
static void by_family(struct evbuffer *o, const char *name, const char *help, double v4,
		      bool has6, double v6)
{
	by_family_typed(o, name, "gauge", help, v4, has6, v6);
}

/* One line of kdp_port_driver_total. */
struct driver_line {
	struct evbuffer *o;
	const char *port, *role;
};

static void driver_line(void *arg, const char *name, uint64_t v)
{
	const struct driver_line *dl = arg;

	evbuffer_add_printf(dl->o,
			    "kdp_port_driver_total{port=\"%s\",role=\"%s\",counter=\"%s\"} %" PRIu64 "\n",
			    dl->port, dl->role, name, v);
}


void kdp_metrics_memory(struct kdp_memory *m)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f != NULL) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	m->rss = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
#if defined(__SANITIZE_ADDRESS__)
	/* ASan's allocator stands in for glibc's (whose figures are then 0). */
	m->malloc_in_use = __sanitizer_get_current_allocated_bytes();
#else
	struct mallinfo2 mi = mallinfo2();

	m->malloc_in_use = mi.uordblks + mi.hblkhd;
#endif
	m->dpdk_heap_in_use = 0;
	for (unsigned int i = 0; i < rte_socket_count(); i++) {
		struct rte_malloc_socket_stats st;

		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &st) == 0)
			m->dpdk_heap_in_use += st.heap_allocsz_bytes;
	}
}

/* The families, each on its own. */

static void render_process(struct kdp *k, struct evbuffer *o, const struct kdp_stats *tot)
{
	head(o, "kdp_build_info", "gauge", "Version of the running kdp.");
	evbuffer_add_printf(o, "kdp_build_info{version=\"%s\",node=\"%s\"} 1\n", KDP_VERSION,
			    k->cfg.name);
	one(o, "kdp_uptime_seconds", "gauge", "Seconds since kdp started.",
	    (double)(time(NULL) - k->started));

	struct kdp_memory mem;

	kdp_metrics_memory(&mem);
	one(o, "kdp_resident_memory_bytes", "gauge", "Resident memory of the process.",
	    (double)mem.rss);
	one(o, "kdp_malloc_in_use_bytes", "gauge",
	    "Bytes the C heap has handed out (desired state, JSON trees, buffers).",
	    (double)mem.malloc_in_use);
	one(o, "kdp_dpdk_heap_in_use_bytes", "gauge",
	    "Bytes the DPDK heap has handed out (tables, snapshots, rings).",
	    (double)mem.dpdk_heap_in_use);
}

static void render_packets(struct kdp *k, struct evbuffer *o, const struct kdp_stats *tot)
{
	head(o, "kdp_packets_total", "counter", "Packets by direction, all workers.");
	evbuffer_add_printf(o, "kdp_packets_total{direction=\"rx\"} %" PRIu64 "\n", tot->rx_pkts);
	evbuffer_add_printf(o, "kdp_packets_total{direction=\"tx\"} %" PRIu64 "\n", tot->tx_pkts);
	head(o, "kdp_bytes_total", "counter", "Bytes by direction, all workers.");
	evbuffer_add_printf(o, "kdp_bytes_total{direction=\"rx\"} %" PRIu64 "\n", tot->rx_bytes);
	evbuffer_add_printf(o, "kdp_bytes_total{direction=\"tx\"} %" PRIu64 "\n", tot->tx_bytes);
	head(o, "kdp_dropped_packets_total", "counter", "Dropped packets by stage and reason.");
	for (unsigned int i = 0; i < KDP_DROP__MAX; i++)
		evbuffer_add_printf(o,
				    "kdp_dropped_packets_total{stage=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
				    kdp_drop_stage(i), kdp_drop_name(i), tot->drop[i]);
	one(o, "kdp_punted_packets_total", "counter",
	    "Packets handed to the control thread (ARP, unresolved next hops).",
	    (double)tot->punted);
	one(o, "kdp_icmp_sent_total", "counter", "ICMP errors and echo replies kdp generated.",
	    (double)tot->icmp_sent);
}

static void render_workers(struct kdp *k, struct evbuffer *o, const struct kdp_stats *tot)
{
	head(o, "kdp_worker_busy_ratio", "gauge",
	     "Share of a worker's cycles spent on packets (the rest polling or asleep).");
	for (unsigned int i = 0; i < k->cfg.workers; i++) {
		const struct kdp_stats *w = &k->stats[i];
		evbuffer_add_printf(o, "kdp_worker_busy_ratio{worker=\"%u\",lcore=\"%u\"} %.6f\n", i,
				    k->workers[i].lcore,
				    w->total_cycles ? (double)w->busy_cycles / (double)w->total_cycles
						    : 0.0);
	}
	head(o, "kdp_worker_stalls_total", "counter",
	     "Worker loop passes that ended over 100 us after the last (sleeps not counted): the CPU taken away, or one long pass.");
	for (unsigned int i = 0; i < k->cfg.workers; i++)
		evbuffer_add_printf(o, "kdp_worker_stalls_total{worker=\"%u\",lcore=\"%u\"} %" PRIu64
				    "\n", i, k->workers[i].lcore, k->stats[i].stalls);
	head(o, "kdp_worker_stall_seconds_total", "counter",
	     "Time in those passes.");
	for (unsigned int i = 0; i < k->cfg.workers; i++)
		evbuffer_add_printf(o, "kdp_worker_stall_seconds_total{worker=\"%u\",lcore=\"%u\"} %.6f\n",
				    i, k->workers[i].lcore,
				    (double)k->stats[i].stall_cycles / (double)rte_get_tsc_hz());
}

static void render_ports(struct kdp *k, struct evbuffer *o, const struct kdp_stats *tot)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} port_metrics[] = {
		{"kdp_port_rx_packets_total", "Packets the port received.",
		 offsetof(struct rte_eth_stats, ipackets)},
		{"kdp_port_tx_packets_total", "Packets the port sent.",
		 offsetof(struct rte_eth_stats, opackets)},
		{"kdp_port_rx_bytes_total", "Bytes the port received.",
		 offsetof(struct rte_eth_stats, ibytes)},
		{"kdp_port_tx_bytes_total", "Bytes the port sent.",
		 offsetof(struct rte_eth_stats, obytes)},
		{"kdp_port_rx_missed_total", "Packets the port dropped for lack of room.",
		 offsetof(struct rte_eth_stats, imissed)},
		{"kdp_port_rx_errors_total", "Receive errors.",
		 offsetof(struct rte_eth_stats, ierrors)},
		{"kdp_port_tx_errors_total", "Transmit errors.",
		 offsetof(struct rte_eth_stats, oerrors)},
	};
	/* The open ports' counters, read once (a few hundred ports: heap, not stack). */
	uint16_t ids[RTE_MAX_ETHPORTS];
	unsigned int n = 0;
	struct rte_eth_stats *es;

	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++)
		if (k->ports[p].used)
			ids[n++] = p;
	es = calloc(n ? n : 1, sizeof(*es));
	for (unsigned int i = 0; es != NULL && i < n; i++)
		if (rte_eth_stats_get(ids[i], &es[i]) != 0)
			memset(&es[i], 0, sizeof(es[i]));
	for (size_t m = 0; es != NULL && m < RTE_DIM(port_metrics); m++) {
		head(o, port_metrics[m].name, "counter", port_metrics[m].help);
		for (unsigned int i = 0; i < n; i++)
			evbuffer_add_printf(o, "%s{port=\"%s\",role=\"%s\"} %" PRIu64 "\n",
					    port_metrics[m].name, k->ports[ids[i]].name,
					    kdp_port_role_name(k->ports[ids[i]].role),
					    *(const uint64_t *)((const char *)&es[i] +
								port_metrics[m].off));
	}
	free(es);
	head(o, "kdp_port_up", "gauge", "1 when the port and its interface are up.");
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++)
		if (k->ports[p].used)
			evbuffer_add_printf(o, "kdp_port_up{port=\"%s\",role=\"%s\"} %d\n",
					    k->ports[p].name, kdp_port_role_name(k->ports[p].role),
					    kdp_port_is_up(k, p) ? 1 : 0);
	head(o, "kdp_port_driver_total", "counter",
	     "A port driver's own counters (net_kdp_afp: partial checksums, super-frames cut, drops by reason).");
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++)
		if (k->ports[p].used) {
			struct driver_line dl = {o, k->ports[p].name, kdp_port_role_name(k->ports[p].role)};
			kdp_port_driver_counters(p, driver_line, &dl);
		}
}

static void render_conntrack(struct kdp *k, struct evbuffer *o, const struct kdp_stats *tot)
{
	bool v6 = k->ct6 != NULL;

	by_family(o, "kdp_conntrack_entries", "Tracked flows, by address family.",
		  (double)kdp_ct_count(k->ct), v6, v6 ? (double)kdp_ct6_count(k->ct6) : 0);
	by_family(o, "kdp_conntrack_capacity", "Flows the table of each family holds at most.",
		  (double)k->cfg.ct_max, v6, (double)k->cfg.ct_max6);
	one(o, "kdp_conntrack_gc_runs_total", "counter", "Garbage-collection slices run.",
	    (double)k->ct->gc_runs);
	by_family_typed(o, "kdp_conntrack_gc_removed_total", "counter",
			"Entries removed by expiry, by address family.", (double)k->ct->gc_removed, v6,
			v6 ? (double)k->ct6->c.gc_removed : 0);
	by_family_typed(o, "kdp_conntrack_gc_orphaned_total", "counter",
			"Entries whose service frontend was deleted, cleared of its id by GC, by "
			"address family.", (double)k->ct->gc_orphaned, v6,
			v6 ? (double)k->ct6->c.gc_orphaned : 0);
	by_family_typed(o, "kdp_conntrack_gc_lost_races_total", "counter",
			"Entries retired because the same flow, created at once on another worker, "
			"took their original tuple, by address family.",
			(double)k->ct->gc_lost_races, v6, v6 ? (double)k->ct6->c.gc_lost_races : 0);
	head(o, "kdp_frontend_ids", "gauge",
	     "Service frontend ids: in use, reserved for frontends of the flow state file not back "
	     "yet, waiting to be reused, free.");
	evbuffer_add_printf(o, "kdp_frontend_ids{state=\"in_use\"} %u\n"
			       "kdp_frontend_ids{state=\"reserved\"} %u\n"
			       "kdp_frontend_ids{state=\"waiting\"} %u\n"
			       "kdp_frontend_ids{state=\"free\"} %u\n",
			    kdp_feid_count(&k->pub.feid, KDP_FEID_USED),
			    kdp_feid_count(&k->pub.feid, KDP_FEID_RESERVED), k->pub.feid.n_waiting,
			    k->pub.feid.n_free);
}

static void render_nat(struct kdp *k, struct evbuffer *o, const struct kdp_stats *tot)
{
	static const char *const le[] = {"0", "1", "3", "7", "15"};
	uint64_t cum = 0;

	one(o, "kdp_nat_masqueraded_flows_total", "counter",
	    "New pod flows SNATed to the node IP.", (double)tot->masq_flows);
	one(o, "kdp_nat_masqueraded_packets_total", "counter", "Packets masqueraded.",
	    (double)tot->masq_pkts);
	head(o, "kdp_nat_unmasqueraded_flows_total", "counter",
	     "New pod flows to the uplink left with the pod IP, by reason.");
	evbuffer_add_printf(o,
			    "kdp_nat_unmasqueraded_flows_total{reason=\"destination_in_non_masquerade_set\"} %" PRIu64 "\n",
			    tot->masq_skipped);
	one(o, "kdp_nat_port_exhausted_total", "counter", "New flows refused for lack of SNAT port.",
	    (double)tot->drop[KDP_DROP_NAT_PORT_EXHAUSTED]);
	head(o, "kdp_nat_port_retries", "histogram",
	     "Extra ports tried before a free SNAT port was found.");
	for (unsigned int i = 0; i < 5; i++) {
		cum += tot->nat_retry_hist[i];
		evbuffer_add_printf(o, "kdp_nat_port_retries_bucket{le=\"%s\"} %" PRIu64 "\n",
				    le[i], cum);
	}
	cum += tot->nat_retry_hist[5];
	evbuffer_add_printf(o, "kdp_nat_port_retries_bucket{le=\"+Inf\"} %" PRIu64 "\n", cum);
	evbuffer_add_printf(o, "kdp_nat_port_retries_count %" PRIu64 "\n", cum);
	/* Only the buckets are known: the sum counts each at its lower bound. */
	evbuffer_add_printf(o, "kdp_nat_port_retries_sum %" PRIu64 "\n",
			    tot->nat_retry_hist[1] + 2 * tot->nat_retry_hist[2] +
				    4 * tot->nat_retry_hist[3] + 8 * tot->nat_retry_hist[4] +
				    16 * tot->nat_retry_hist[5]);
}

static void render_tables(struct kdp *k, struct evbuffer *o, const struct kdp_stats *tot)
{
	const struct kdp_snapshot *s = atomic_load(&k->pub.snap);
	const struct kdp_svc6_table *t6 = s->dp.svc6;
	uint32_t n_be = 0, n_be6 = 0;

	for (uint32_t i = 0; i <= s->dp.svc->mask; i++)
		if (s->dp.svc->slot[i].fe != NULL)
			n_be += s->dp.svc->slot[i].fe->n_be;
	for (uint32_t i = 0; t6 != NULL && i < t6->n_fe; i++)
		n_be6 += t6->fe[i].n_be;
	one(o, "kdp_services", "gauge", "Services in the desired state.", k->state.n_svcs);
	by_family(o, "kdp_service_frontends", "Service frontends in force, by address family.",
		  s->dp.svc->n_fe, t6 != NULL, t6 ? t6->n_fe : 0);
	by_family(o, "kdp_service_backends", "Backends over all frontends, by address family.",
		  n_be, t6 != NULL, n_be6);
	one(o, "kdp_endpoints", "gauge", "Local endpoints.", k->state.n_eps);
	one(o, "kdp_nodes", "gauge", "Nodes known from IPAM.", k->state.n_nodes);
	one(o, "kdp_local_redirect_policies", "gauge", "Local Redirect Policies.",
	    k->state.n_lrps);
	by_family(o, "kdp_routes", "Routes in force, by address family.", s->dp.rt->n_routes,
		  s->dp.rt6 != NULL, s->dp.rt6 ? s->dp.rt6->n_routes : 0);
	by_family(o, "kdp_neighbours", "Neighbour entries (ARP, ND), by address family.",
		  k->nt->count, k->nt6 != NULL, k->nt6 ? k->nt6->count : 0);
}

static void render_monitor(struct kdp *k, struct evbuffer *o, const struct kdp_stats *tot)
{
	struct kdp_monitor_counters mc;
	struct kdp_flowmon_stats fs;

	kdp_monitor_counters(k->mon, &mc);
	kdp_flowmon_stats(k, &fs);
	one(o, "kdp_monitor_listeners", "gauge", "Clients streaming GET /v1/monitor.",
	    fs.listeners);
	one(o, "kdp_monitor_events_total", "counter",
	    "Flow events the workers handed to the control thread.", (double)mc.events);
	head(o, "kdp_monitor_events_lost_total", "counter", "Flow events lost, by why.");
	evbuffer_add_printf(o, "kdp_monitor_events_lost_total{reason=\"rate_limited\"} %" PRIu64 "\n",
			    mc.lost_rate);
	evbuffer_add_printf(o, "kdp_monitor_events_lost_total{reason=\"ring_full\"} %" PRIu64 "\n",
			    mc.lost_ring);
	evbuffer_add_printf(o, "kdp_monitor_events_lost_total{reason=\"slow_listener\"} %" PRIu64 "\n",
			    fs.lost_slow);
}

static void render_api(struct kdp *k, struct evbuffer *o, const struct kdp_stats *tot)
{
	const char *key;
	json_t *v;

	head(o, "kdp_api_requests_total", "counter", "Control API requests by path, method and status.");
	json_object_foreach(k->api_counts, key, v) {
		char route[128], method[16];
		int code;

		if (sscanf(key, "%127[^|]|%15[^|]|%d", route, method, &code) == 3)
			evbuffer_add_printf(o,
					    "kdp_api_requests_total{path=\"%s\",method=\"%s\",code=\"%d\"} %" JSON_INTEGER_FORMAT "\n",
					    route, method, code, json_integer_value(v));
	}
}

void kdp_metrics_render(struct kdp *k, struct evbuffer *o)
{
	static void (*const families[])(struct kdp *, struct evbuffer *, const struct kdp_stats *) = {
		render_process, render_packets, render_workers, render_ports, render_conntrack,
		render_nat,     render_tables,  render_monitor, render_api,
	};
	struct kdp_stats tot;

	memset(&tot, 0, sizeof(tot));
	for (unsigned int i = 0; i <= k->cfg.workers; i++)
		kdp_stats_add(&tot, &k->stats[i]);
	for (size_t i = 0; i < RTE_DIM(families); i++)
		families[i](k, o, &tot);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* kdp: start-up and shutdown, driven by a module table. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "kdp.h"
#include "kdp_ctl.h"
#include "kdp_telemetry.h"
#include "common/kdp_eal.h"

#define RING_SIZE 4096

static int mod_pool_init(struct kdp *k, char *err)
{
	k->pool = rte_pktmbuf_pool_create("kdp_mbuf", k->cfg.mbufs, 256,
					  KDP_MBUF_PRIV_SIZE,
					  RTE_MBUF_DEFAULT_BUF_SIZE,
					  (int)rte_socket_id());
	if (k->pool == NULL) {
		snprintf(err, KDP_ERR_LEN, "cannot create %u mbufs: %s (raise EAL -m)",
			 k->cfg.mbufs, rte_strerror(rte_errno));
		return -rte_errno;
	}
	return 0;
}

static void mod_pool_fini(struct kdp *k)
{
	rte_mempool_free(k->pool);
}

static int mod_core_init(struct kdp *k, char *err)
{
	size_t sz = rte_rcu_qsbr_get_memsize(k->cfg.workers);

	k->qsbr = rte_zmalloc("kdp_qsbr", sz, RTE_CACHE_LINE_SIZE);
	k->stats = rte_zmalloc("kdp_stats", sizeof(*k->stats) * (k->cfg.workers + 1),
			       RTE_CACHE_LINE_SIZE);
	k->rings.punt = rte_ring_create("kdp_punt", RING_SIZE, (int)rte_socket_id(),
				  RING_F_SC_DEQ);
	k->rings.inject = rte_ring_create("kdp_inject", RING_SIZE, (int)rte_socket_id(),
				    RING_F_SP_ENQ | RING_F_SC_DEQ);
	k->rings.renew = rte_ring_create("kdp_renew", 1024, (int)rte_socket_id(),
				   RING_F_SP_ENQ | RING_F_SC_DEQ);
	k->mon = kdp_monitor_create("kdp_mon", k->cfg.workers, 0, k->cfg.monitor_rate,
				    (int)rte_socket_id());
	if (k->qsbr == NULL || k->stats == NULL || k->rings.punt == NULL || k->mon == NULL ||
	    k->rings.inject == NULL || k->rings.renew == NULL || rte_rcu_qsbr_init(k->qsbr, k->cfg.workers) != 0) {
		snprintf(err, KDP_ERR_LEN, "out of memory for RCU, counters or rings");
		return -ENOMEM;
	}
	return 0;
}

static void drain(struct rte_ring *r)
{
	void *m;

	while (r != NULL && rte_ring_dequeue(r, &m) == 0)
		rte_pktmbuf_free(m);
}

static void mod_core_fini(struct kdp *k)
{
	drain(k->rings.punt);
	drain(k->rings.inject);
	drain(k->rings.renew);
	rte_ring_free(k->rings.punt);
	rte_ring_free(k->rings.inject);
	rte_ring_free(k->rings.renew);
	kdp_monitor_free(k->mon);
	rte_free(k->stats);
	rte_free(k->qsbr);
}

static int mod_neigh_init(struct kdp *k, char *err)
{
	struct kdp_neigh_params p = {
		.size = k->cfg.max_neighbours,
		.reachable_ms = k->cfg.neigh_reachable_ms,
		.socket = (int)rte_socket_id(),
		.qsbr = k->qsbr,
	};
	struct kdp_neigh_ops ops = kdp_slowpath_neigh_ops;

	ops.ctx = k;
	k->nt = kdp_neigh_create("kdp_neigh", &p, &ops);
	if (k->nt == NULL) {
		snprintf(err, KDP_ERR_LEN, "cannot create the neighbour table: %s",
			 rte_strerror(rte_errno));
		return -rte_errno;
	}
	if (k->cfg.has_ip6) {
		p.family = AF_INET6;
		k->nt6 = kdp_neigh_create("kdp_neigh6", &p, &ops);
		if (k->nt6 == NULL) {
			snprintf(err, KDP_ERR_LEN, "cannot create the IPv6 neighbour table: %s",
				 rte_strerror(rte_errno));
			return -rte_errno;
		}
	}
	return 0;
}

static void mod_neigh_fini(struct kdp *k)
{
	kdp_neigh_free(k->nt6);
	kdp_neigh_free(k->nt);
}

static void ct_entry_freed(void *arg, struct kdp_ct_entry *e)
{
	/* SNAT ports live in the conntrack tuple itself: nothing to release. */
}

static int mod_ct_init(struct kdp *k, char *err)
{
	struct kdp_ct_params p = {
		.max_flows = k->cfg.ct_max,
		.socket = (int)rte_socket_id(),
		.qsbr = k->qsbr,
		.timeouts = {
			.tcp_syn_ms = k->cfg.ct_syn_s * 1000,
			.tcp_est_ms = k->cfg.ct_est_s * 1000,
			.tcp_close_ms = k->cfg.ct_close_s * 1000,
			.other_ms = k->cfg.ct_other_s * 1000,
		},
		.on_free = ct_entry_freed,
		.on_free_arg = k,
	};

	struct rte_malloc_socket_stats before, after;

	rte_malloc_get_socket_stats(p.socket, &before);
	k->ct = kdp_ct_create("kdp_ct", &p);
	rte_malloc_get_socket_stats(p.socket, &after);
	k->ct_mem_bytes = after.heap_allocsz_bytes - before.heap_allocsz_bytes;
	if (k->ct == NULL) {
		snprintf(err, KDP_ERR_LEN, "conntrack.maxFlows %u: %s (raise EAL -m)",
			 k->cfg.ct_max, rte_strerror(rte_errno));
		return -rte_errno;
	}
	k->aff = kdp_affinity_create("kdp_affinity", k->cfg.ct_max / 4,
				     (int)rte_socket_id(), k->qsbr);
	if (k->aff == NULL) {
		snprintf(err, KDP_ERR_LEN, "session affinity table: %s",
			 rte_strerror(rte_errno));
		return -rte_errno;
	}
	if (k->cfg.has_ip6) {
		rte_malloc_get_socket_stats(p.socket, &before);
		k->ct6 = kdp_ct6_create("kdp_ct6", k->cfg.ct_max6, p.socket, &p.timeouts, k->qsbr);
		rte_malloc_get_socket_stats(p.socket, &after);
		k->ct6_mem_bytes = after.heap_allocsz_bytes - before.heap_allocsz_bytes;
		if (k->ct6 == NULL) {
			snprintf(err, KDP_ERR_LEN, "conntrack.maxFlowsIPv6 %u: %s (raise EAL -m)",
				 k->cfg.ct_max6, rte_strerror(rte_errno));
			return -rte_errno;
		}
		k->aff6 = kdp_affinity6_create("kdp_affinity6", k->cfg.ct_max6 / 4,
					       (int)rte_socket_id(), k->qsbr);
		if (k->aff6 == NULL) {
			snprintf(err, KDP_ERR_LEN, "IPv6 session affinity table: %s",
				 rte_strerror(rte_errno));
			return -rte_errno;
		}
	}
	k->pub.fe_ids = json_object();
	k->api_counts = json_object();
	return k->pub.fe_ids && k->api_counts ? 0 : -ENOMEM;
}

static void mod_ct_fini(struct kdp *k)
{
	kdp_ct_free(k->ct);
	kdp_affinity_free(k->aff);
	kdp_ct6_free(k->ct6);
	kdp_affinity6_free(k->aff6);
	json_decref(k->pub.fe_ids);
	json_decref(k->api_counts);
}

static int mod_ports_init(struct kdp *k, char *err)
{
	char perr[KDP_ERR_LEN];
	int p;

	k->uplink = KDP_NO_PORT;
	k->host = KDP_NO_PORT;
	p = kdp_port_open(k, k->cfg.uplink_devargs, KDP_PORT_UPLINK, perr);
	if (p < 0) {
		snprintf(err, KDP_ERR_LEN, "uplink.%s", perr);
		return p;
	}
	k->uplink = (uint16_t)p;
	k->mac = k->cfg.uplink_has_mac ? k->cfg.uplink_mac : k->ports[p].mac;
	if (k->cfg.host_devargs[0] != '\0') {
		p = kdp_port_open(k, k->cfg.host_devargs, KDP_PORT_HOST, perr);
		if (p < 0) {
			snprintf(err, KDP_ERR_LEN, "hostTap.%s", perr);
			return p;
		}
		k->host = (uint16_t)p;
	}
	return 0;
}

static void mod_ports_fini(struct kdp *k)
{
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++)
		kdp_port_close(k, p);
}

/* Restoring the state file publishes its own snapshot; an empty one is
 * built only when there is nothing to restore. Building one first would cost
 * ~0.14 s of a restart: rte_free zeroes what it frees, and the empty
 * snapshot's two LPM tables (64 MiB each) were never touched. */
static int mod_state_init(struct kdp *k, char *err)
{
	struct kdp_snapshot *s;
	int ret;

	k->journal.fd = -1;
	ret = kdp_state_restore(k, err);

	if (ret != 0 || atomic_load(&k->pub.snap) != NULL)
		return ret;
	s = kdp_dp_build(k, &k->state, err);
	if (s == NULL)
		return -EINVAL;
	kdp_dp_publish(k, s, NULL, 0);
	return 0;
}

static void mod_state_fini(struct kdp *k)
{
	kdp_dp_reclaim(k, true);
	kdp_dp_free(atomic_exchange(&k->pub.snap, NULL));
	kdp_persist_close(k);
	kdp_state_free(&k->state);
}

static int mod_workers_init(struct kdp *k, char *err)
{
	unsigned int lcore, n = 0;

	RTE_LCORE_FOREACH_WORKER(lcore) {
		if (n == k->cfg.workers)
			break;
		k->workers[n].id = n;
		k->workers[n].lcore = lcore;
		k->workers[n].st = &k->stats[n];
		n++;
	}
	if (n < k->cfg.workers) {
		snprintf(err, KDP_ERR_LEN,
			 "workers: %u requested but EAL gave %u worker lcores",
			 k->cfg.workers, n);
		return -EINVAL;
	}
	for (unsigned int i = 0; i < n; i++)
		rte_eal_remote_launch(kdp_worker_main, k, k->workers[i].lcore);
	return 0;
}

static void mod_workers_fini(struct kdp *k)
{
	atomic_store(&k->quit, true);
	rte_eal_mp_wait_lcore();
}

static const struct kdp_module {
	const char *name;
	int (*init)(struct kdp *k, char *err);
	void (*fini)(struct kdp *k);
} modules[] = {
	{"mbuf pool", mod_pool_init, mod_pool_fini},
	{"rcu, counters, rings", mod_core_init, mod_core_fini},
	{"neighbours", mod_neigh_init, mod_neigh_fini},
	{"conntrack", mod_ct_init, mod_ct_fini},
	{"ports", mod_ports_init, mod_ports_fini},
	{"state", mod_state_init, mod_state_fini},
	{"control", kdp_ctl_init, kdp_ctl_fini},
	{"telemetry", kdp_telemetry_init, NULL},
	{"workers", mod_workers_init, mod_workers_fini},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kdp --config FILE [--check] [-- EAL options...]\n"
		"  -c, --config FILE  node config (JSON), see conf/\n"
		"      --check        validate the config and exit\n"
		"  -V, --version      print the version\n"
		"EAL options come from the config's \"eal\" array, then after --.\n"
		"kdp adds --no-pci unless an allow-list (-a) is given, and spreads\n"
		"its lcores over the CPUs it may run on unless -l/--lcores is given.\n");
}

static bool has_arg(char **argv, int argc, const char *const *names)
{
	for (int i = 0; i < argc; i++)
		for (const char *const *n = names; *n; n++)
			if (strncmp(argv[i], *n, strlen(*n)) == 0)
				return true;
	return false;
}

/* "--lcores=(0-W)@(cpus)": every lcore may run on every allowed CPU. */
static char *lcores_arg(unsigned int workers)
{
	cpu_set_t set;
	char cpus[512] = "", *out;
	size_t off = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return NULL;
	for (int c = 0; c < CPU_SETSIZE && off < sizeof(cpus) - 8; c++)
		if (CPU_ISSET(c, &set))
			off += (size_t)snprintf(cpus + off, sizeof(cpus) - off, "%s%d",
						off ? "," : "", c);
	if (asprintf(&out, "--lcores=(0-%u)@(%s)", workers, cpus) < 0)
		return NULL;
	return out;
}

/* Builds the EAL argv: argv0, config "eal", command-line extras, safety. */
static char **eal_args(const struct kdp_config *cfg, int extra_c, char **extra_v,
		       const char *argv0, int *argc_out, char **lc)
{
	static const char *const allow[] = {"-a", "--allow", "--no-pci", "-b",
					    "--block", NULL};
	static const char *const lcore[] = {"-l", "--lcores", "-c", NULL};
	int n = 0, cap = cfg->eal_argc + extra_c + 4;
	char **v = calloc((size_t)cap + 1, sizeof(char *));

	if (v == NULL)
		return NULL;
	v[n++] = (char *)argv0;
	for (int i = 0; i < cfg->eal_argc; i++)
		v[n++] = cfg->eal_argv[i];
	for (int i = 0; i < extra_c; i++)
		v[n++] = extra_v[i];
	if (!has_arg(v + 1, n - 1, allow))
		v[n++] = (char *)"--no-pci";
	*lc = NULL;
	if (!has_arg(v + 1, n - 1, lcore)) {
		*lc = lcores_arg(cfg->workers);
		if (*lc != NULL)
			v[n++] = *lc;
	}
	*argc_out = n;
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct kdp k;
	const char *file = NULL;
	char err[KDP_ERR_LEN] = "", *lc = NULL, **ev;
	bool check = false;

	/* A large update (a whole state of 10,000 services is ~4 MiB of JSON
	 * and its trees) would otherwise be mmap'ed and unmapped each time,
	 * paying a page fault per 4 KiB: keep such blocks in the heap. */
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	size_t inited = 0;
	int opt, ec, ret = 0;

	while ((opt = getopt_long(argc, argv, "c:Vh", opts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 'k':
			check = true;
			break;
		case 'V':
			printf("kdp %s\n", KDP_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (file == NULL) {
		usage(stderr);
		return 2;
	}
	if (kdp_config_load(file, &k.cfg, err) != 0) {
		fprintf(stderr, "kdp: config %s: %s\n", file, err);
		kdp_config_free(&k.cfg);
		return 2;
	}
	if (check) {
		printf("kdp: config %s is valid (node %s)\n", file, k.cfg.name);
		kdp_config_free(&k.cfg);
		return 0;
	}
	ev = eal_args(&k.cfg, argc - optind, argv + optind, argv[0], &ec, &lc);
	if (ev == NULL || rte_eal_init(ec, ev) < 0) {
		fprintf(stderr, "kdp: EAL init failed: %s\n", rte_strerror(rte_errno));
		free(ev);
		free(lc);
		kdp_config_free(&k.cfg);
		return 1;
	}
	k.started = time(NULL);
	k.uplink = KDP_NO_PORT;
	k.host = KDP_NO_PORT;
	for (; inited < RTE_DIM(modules); inited++) {
		ret = modules[inited].init(&k, err);
		if (ret != 0) {
			fprintf(stderr, "kdp: %s: %s\n", modules[inited].name,
				err[0] ? err : rte_strerror(-ret));
			break;
		}
	}
	if (inited == RTE_DIM(modules))
		ret = kdp_ctl_run(&k);
	while (inited-- > 0)
		if (modules[inited].fini != NULL)
			modules[inited].fini(&k);
	kdp_config_free(&k.cfg);
	{
		char rundir[PATH_MAX];

		snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
		rte_eal_cleanup();
		kdp_eal_remove_runtime_dir(rundir);
	}
	free(ev);
	free(lc);
	return ret == 0 ? 0 : 1;
}

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
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>
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
#include "common/kdp_clock.h"
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
	/* Super-frames kept whole: the largest data room an mbuf has. */
	if (k->cfg.large_mbufs > 0) {
		k->pool_large = rte_pktmbuf_pool_create("kdp_mbuf_large", k->cfg.large_mbufs,
							RTE_MIN(32u, k->cfg.large_mbufs / 4),
							KDP_MBUF_PRIV_SIZE, UINT16_MAX,
							(int)rte_socket_id());
		if (k->pool_large == NULL) {
			snprintf(err, KDP_ERR_LEN,
				 "cannot create %u large mbufs (tables.largeMbufs): %s (raise EAL -m)",
				 k->cfg.large_mbufs, rte_strerror(rte_errno));
			return -rte_errno;
		}
	}
	return 0;
}

static void mod_pool_fini(struct kdp *k)
{
	rte_mempool_free(k->pool_large);
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
	k->rings.punt_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	k->rings.inject = rte_ring_create("kdp_inject", RING_SIZE, (int)rte_socket_id(),
				    RING_F_SP_ENQ | RING_F_SC_DEQ);
	k->rings.renew = rte_ring_create("kdp_renew", 1024, (int)rte_socket_id(),
				   RING_F_SP_ENQ | RING_F_SC_DEQ);
	k->mon = kdp_monitor_create("kdp_mon", k->cfg.workers, 0, k->cfg.monitor_rate,
				    (int)rte_socket_id());
	if (k->qsbr == NULL || k->stats == NULL || k->rings.punt == NULL || k->mon == NULL ||
	    k->rings.punt_fd < 0 ||
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
	if (k->rings.punt_fd >= 0)
		close(k->rings.punt_fd);
	k->rings.punt_fd = -1;
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

/* kdp --takeover: the running kdp stops taking updates (kdp_handover.h). */
static int mod_prepare_init(struct kdp *k, char *err)
{
	return k->ho.takeover ? kdp_handover_prepare(k, err) : 0;
}

static void mod_prepare_fini(struct kdp *k)
{
	kdp_handover_close(k);
}

/* The flow state file, the conntrack and affinity tables (IPv4 and IPv6)
 * over it. Its
 * flows are tracked again here, before any worker runs (in a hand-over,
 * once the running kdp is frozen). */
static int mod_flows_init(struct kdp *k, char *err)
{
	unsigned int flags = 0;
	int ret;

	if (k->ho.takeover)
		flags = KDP_FLOWSTORE_SHARED | (k->ho.force ? 0 : KDP_FLOWSTORE_NO_REFUSE);
	ret = kdp_flows_open(k, flags, err);
	if (ret == -EPROTO)
		snprintf(err + strlen(err), KDP_ERR_LEN - strlen(err),
			 ": the running kdp's flows would be lost (--takeover=force to go on)");
	if (ret != 0)
		return ret;
	k->api_counts = json_object();
	if (k->api_counts == NULL)
		return -ENOMEM;
	if (k->ho.takeover)
		return 0;
	ret = kdp_flows_import(k, err);
	if (ret == 0)
		kdp_flows_release_stale(k);
	return ret;
}

static void mod_flows_fini(struct kdp *k)
{
	kdp_flows_close(k);
	json_decref(k->api_counts);
}

static int mod_ports_init(struct kdp *k, char *err)
{
	char perr[KDP_ERR_LEN];
	int p;

	k->uplink = KDP_NO_PORT;
	k->host = KDP_NO_PORT;
	/* In a hand-over, frames queue for us from here on. */
	k->ho.t_ports = kdp_clock_mono_ms();
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
	kdp_dp_shutdown(k);
	kdp_persist_close(k);
	kdp_state_free(&k->state);
}

/* kdp --takeover, our workers running (dropping the copies of what the
 * running kdp forwards): they park and hold what arrives from now on, the
 * running kdp parks its workers, we track the flows it left in the flow
 * state file, it exits, and our workers take the frames held
 * (kdp_handover.h). */
static int mod_takeover_init(struct kdp *k, char *err)
{
	struct kdp_handover *h = &k->ho;
	int ret;

	if (!h->takeover)
		return 0;
	ret = kdp_worker_pause(k, 1000);
	if (ret != 0) {
		snprintf(err, KDP_ERR_LEN, "our workers did not stop dropping within 1 s");
		return ret;
	}
	h->t_hold = kdp_clock_mono_ms();
	h->held_lost = kdp_port_missed(k);
	ret = kdp_handover_freeze(k, err);
	/* Tests: a new kdp that dies once the old one froze (it must resume). */
	if (ret == 0 && getenv("KDP_TEST_TAKEOVER_DIE") != NULL)
		_exit(3);
	if (ret == 0)
		ret = kdp_flows_import(k, err);
	if (ret == 0)
		ret = kdp_handover_commit(k, err);
	if (ret != 0)
		return ret;
	/* What the ports could not hold meanwhile: the frames lost. */
	h->held_lost = kdp_port_missed(k) - h->held_lost;
	setpriority(PRIO_PROCESS, 0, h->nice0); /* the workers do it as they resume */
	atomic_store(&k->rings.discard, false);
	kdp_worker_resume(k);
	h->t_running = kdp_clock_mono_ms();
	/* The slots the import held (a write to each: after a long stop,
	 * most of the file's) go to the free ring as the workers run, out of
	 * the forwarding pause; the GC runs on this thread, after it. */
	kdp_flows_release_stale(k);
	h->done = true;
	h->discarded = atomic_load(&k->rings.discarded);
	kdp_handover_lock(k);
	RTE_LOG(NOTICE, USER1,
		"took over from kdp %s (pid %d): %u flows, %u affinity pins, %u neighbours; "
		"forwarding paused %llu ms (frames held in the ports' queues for %llu ms, %llu of "
		"them lost to full queues; %llu copies dropped before; the old kdp's queues dropped "
		"%llu meanwhile), updates refused %llu ms\n",
		h->from_version, (int)h->from, k->flows.ct.imported, k->flows.pins, h->neighbours,
		(unsigned long long)(h->t_running - h->t_frozen),
		(unsigned long long)(h->t_running - h->t_hold), (unsigned long long)h->held_lost,
		(unsigned long long)h->discarded, (unsigned long long)h->old_lost,
		(unsigned long long)(h->t_committed - h->t_prepare));
	return 0;
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
	/* Taking over: first drop what arrives (kdp_handover.h). */
	atomic_store(&k->rings.discard, k->ho.takeover);
	for (unsigned int i = 0; i < n; i++)
		rte_eal_remote_launch(kdp_worker_main, k, k->workers[i].lcore);
	return 0;
}

static void mod_workers_fini(struct kdp *k)
{
	atomic_store(&k->quit, true);
	rte_eal_mp_wait_lcore();
}

/* prefaultMemory's C heap reserve: what a whole state of 10,000 services
 * (95 MB) grows the heap by, rounded up. */
#define KDP_HEAP_RESERVE ((size_t)128 << 20)

/*
 * prefaultMemory, the C heap's part: the control thread's heap grown by
 * @bytes, every page of it written once, then given back to the heap, which
 * keeps it (M_TRIM_THRESHOLD above it). A first large update (a whole state
 * of 10,000 services grows the heap by about 95 MB) then finds its pages in;
 * without this, the kernel zeroing them on first touch was half of that
 * update's CPU on a VM. Returns the bytes reserved.
 */
static size_t __rte_unused heap_reserve(size_t bytes)
{
	enum { CHUNK = 16 << 20 }; /* under M_MMAP_THRESHOLD: from the heap */
	char *p[64];
	size_t n = 0;

	while (n < RTE_DIM(p) && n * CHUNK < bytes && (p[n] = malloc(CHUNK)) != NULL) {
		for (size_t off = 0; off < CHUNK; off += 4096)
			((volatile char *)p[n])[off] = 0;
		n++;
	}
	for (size_t i = n; i-- > 0;)
		free(p[i]);
	return n * CHUNK;
}

static const struct kdp_module {
	const char *name;
	int (*init)(struct kdp *k, char *err);
	void (*fini)(struct kdp *k);
} modules[] = {
	{"mbuf pool", mod_pool_init, mod_pool_fini},
	{"rcu, counters, rings", mod_core_init, mod_core_fini},
	{"neighbours", mod_neigh_init, mod_neigh_fini},
	{"hand-over", mod_prepare_init, mod_prepare_fini},
	{"flow state", mod_flows_init, mod_flows_fini},
	{"ports", mod_ports_init, mod_ports_fini},
	{"state", mod_state_init, mod_state_fini},
	{"control", kdp_ctl_init, kdp_ctl_fini},
	{"telemetry", kdp_telemetry_init, NULL},
	{"workers", mod_workers_init, mod_workers_fini},
	{"takeover", mod_takeover_init, NULL},
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kdp --config FILE [--check] [--takeover[=force]] [-- EAL options...]\n"
		"  -c, --config FILE  node config (JSON), see conf/\n"
		"      --check        validate the config and exit\n"
		"      --takeover     take over from the kdp serving the config's control socket\n"
		"                     (an upgrade without losing flows; kdpctl upgrade runs it);\n"
		"                     =force: even if its flows cannot be kept\n"
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
		       const char *argv0, bool takeover, int *argc_out, char **lc)
{
	static const char *const allow[] = {"-a", "--allow", "--no-pci", "-b",
					    "--block", NULL};
	static const char *const lcore[] = {"-l", "--lcores", "-c", NULL};
	static const char *const shconf[] = {"--no-shconf", NULL};
	int n = 0, cap = cfg->eal_argc + extra_c + 5;
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
	/* The kdp we take over is the primary process of its file prefix
	 * (same config, same prefix) until it exits: share nothing with it. */
	if (takeover && !has_arg(v + 1, n - 1, shconf))
		v[n++] = (char *)"--no-shconf";
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
		{"takeover", optional_argument, NULL, 't'},
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
	/* A pod port holds a socket per worker and one more: hundreds of
	 * pods need more descriptors than the usual soft limit of 1024. */
	{
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
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
		case 't':
			if (optarg != NULL && strcmp(optarg, "force") != 0) {
				fprintf(stderr, "kdp: --takeover=%s: only --takeover=force\n", optarg);
				return 2;
			}
			k.ho.takeover = true;
			k.ho.force = optarg != NULL;
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
	kdp_handover_init(&k, file, argc - optind, argv + optind);
	if (k.ho.takeover) {
		/* Until it takes over, this kdp's start (EAL memory, ports, the
		 * state) must not take the CPU the running kdp forwards with:
		 * a lower priority, the threads EAL makes included. */
		errno = 0;
		k.ho.nice0 = getpriority(PRIO_PROCESS, 0);
		if (errno == 0)
			setpriority(PRIO_PROCESS, 0, k.ho.nice0 + 10);
	}
	ev = eal_args(&k.cfg, argc - optind, argv + optind, argv[0], k.ho.takeover, &ec, &lc);
	if (ev == NULL || rte_eal_init(ec, ev) < 0) {
		fprintf(stderr, "kdp: EAL init failed: %s\n", rte_strerror(rte_errno));
		free(ev);
		free(lc);
		kdp_config_free(&k.cfg);
		return 1;
	}
	kdp_clock_init();
	if (k.cfg.prefault) {
		/* prefaultMemory: as hugepages are, every page in before a
		 * worker's first write to a table would fault it (--no-huge). */
		uint64_t t0 = rte_rdtsc();
		long long bytes = kdp_eal_prefault(NULL);

		RTE_LOG(INFO, USER1, "memory: %lld MiB of EAL memory faulted in, in %.0f ms\n",
			bytes >> 20, (double)(rte_rdtsc() - t0) * 1e3 / (double)rte_get_tsc_hz());
#if defined(__SANITIZE_ADDRESS__)
		/* ASan's allocator stands in for glibc's heap: nothing to keep. */
		RTE_LOG(INFO, USER1, "memory: no C heap reserve under AddressSanitizer\n");
#else
		t0 = rte_rdtsc();
		bytes = (long long)heap_reserve(KDP_HEAP_RESERVE);
		RTE_LOG(INFO, USER1, "memory: %lld MiB of C heap faulted in, in %.0f ms\n",
			bytes >> 20, (double)(rte_rdtsc() - t0) * 1e3 / (double)rte_get_tsc_hz());
#endif
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
	if (ret != 0 && k.ho.takeover && k.ho.t_committed == 0) {
		/* The running kdp goes on with its ports, tap and socket: leave
		 * them as they are (closing ours would bring the tap down). */
		kdp_handover_close(&k);
		fprintf(stderr, "kdp: takeover given up; the running kdp goes on\n");
		fflush(NULL);
		_exit(1);
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

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-bench-ct-import: what the flow state costs a restart. Fills a
 * conntrack table of maxFlows entries over a flow state file (in /dev/shm,
 * removed at the end) with DNAT-like flows, then does what a kdp that
 * starts does: maps the file again and rebuilds the hash from its slots
 * (kdp_ct_import). Prints the memory (file, hash and free ring) and the
 * time of each step. A benchmark, not a test: it asserts nothing.
 *
 *   kdp-bench-ct-import [-f FLOWS] [-n FILL]   (FLOWS 1048576; FILL: how
 *                                              many flows, default all)
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_malloc.h>

#include "common/kdp_eal.h"
#include "ct/kdp_ct.h"
#include "flowstore/kdp_flowstore.h"
#include "svc/kdp_affinity.h"

static double ms_since(uint64_t t0)
{
	return (double)(rte_rdtsc() - t0) * 1000.0 / (double)rte_get_tsc_hz();
}

static uint64_t heap_used(void)
{
	struct rte_malloc_socket_stats s;

	rte_malloc_get_socket_stats(0, &s);
	return s.heap_allocsz_bytes;
}

static struct kdp_flowstore *open_store(const char *path, uint32_t flows)
{
	struct kdp_flowstore_geom g = {
		.ct_slots = flows,
		.ct_slot_size = sizeof(struct kdp_ct_entry),
		.aff_slots = kdp_affinity_slots(flows / 4),
		.aff_slot_size = sizeof(struct kdp_affinity_slot),
		.fe_cap = 65536,
	};
	struct kdp_flowstore *fs = NULL;
	char err[KDP_FLOWSTORE_MSG_LEN];

	if (kdp_flowstore_open(path, &g, KDP_FLOWSTORE_TOUCH, &fs, err) != 0) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	return fs;
}

static struct kdp_ct *make_ct(const char *name, struct kdp_flowstore *fs, uint32_t flows)
{
	struct kdp_ct_params p = {.max_flows = flows, .slots = fs->ct};
	struct kdp_ct *ct;

	kdp_ct_timeouts_default(&p.timeouts);
	ct = kdp_ct_create(name, &p);
	if (ct == NULL) {
		fprintf(stderr, "cannot create a table of %u flows (EAL memory?)\n", flows);
		exit(1);
	}
	return ct;
}

int main(int argc, char **argv)
{
	char prefix[64], path[64], rundir[PATH_MAX];
	char *eal[] = {"kdp-bench-ct-import", "--no-pci", "--no-huge", "-m", "1024",
		       "--no-telemetry", "--log-level=lib.*:error", "-l", "0", prefix, NULL};
	uint32_t flows = 1 << 20, fill = 0, n = 0;
	struct kdp_ct_import_stats st;
	struct kdp_flowstore *fs;
	struct kdp_ct *ct;
	uint64_t t0, h0, now = 1000000;
	double t_fill, t_open, t_import;
	int opt;

	while ((opt = getopt(argc, argv, "f:n:")) != -1) {
		if (opt == 'f')
			flows = (uint32_t)strtoul(optarg, NULL, 10);
		else if (opt == 'n')
			fill = (uint32_t)strtoul(optarg, NULL, 10);
		else
			return fprintf(stderr, "usage: %s [-f FLOWS] [-n FILL]\n", argv[0]), 2;
	}
	if (fill == 0 || fill > flows)
		fill = flows;
	snprintf(prefix, sizeof(prefix), "--file-prefix=kdp-bench-cti-%d", (int)getpid());
	snprintf(path, sizeof(path), "/dev/shm/kdp-bench-cti-%d.flows", (int)getpid());
	if (rte_eal_init((int)(sizeof(eal) / sizeof(eal[0])) - 1, eal) < 0)
		return 1;
	/* As kdp with prefaultMemory: the pages in before the fill writes them. */
	kdp_eal_prefault(NULL);

	/* A running kdp: its table full of flows. */
	fs = open_store(path, flows);
	h0 = heap_used();
	ct = make_ct("bench_cti1", fs, flows);
	kdp_ct_import(ct, now, &st);
	printf("table of %u flows: flow state file %.1f MiB (entries %.1f MiB), hash and free "
	       "ring %.1f MiB: %.1f MiB\n", flows, kdp_flowstore_bytes(fs) / 1048576.0,
	       (double)flows * sizeof(struct kdp_ct_entry) / 1048576.0,
	       (heap_used() - h0) / 1048576.0,
	       ((double)flows * sizeof(struct kdp_ct_entry) + (double)(heap_used() - h0)) /
		       1048576.0);
	t0 = rte_rdtsc();
	for (uint32_t i = 0; n < fill && i < 4 * flows; i++) {
		struct kdp_ct_key o = {rte_cpu_to_be_32(0xac140000 | (i >> 16)),
				       rte_cpu_to_be_32(0x0a609800 | (i & 0xff)),
				       rte_cpu_to_be_16((uint16_t)(i & 0xffff)), RTE_BE16(80), 6, {0}};
		struct kdp_ct_key r = {rte_cpu_to_be_32(0xac140182), o.src, RTE_BE16(80), o.sport,
				       6, {0}};
		struct kdp_ct_entry *e;

		if (kdp_ct_insert(ct, &o, &r, KDP_CT_F_DNAT, 1, 1, now, &e) == 0) {
			kdp_ct_update(ct, e, KDP_CT_ORIG, 0x02, 60, now);
			n++;
		} else if (kdp_ct_count(ct) >= flows) {
			break;
		}
	}
	t_fill = ms_since(t0);
	printf("filled with %u flows in %.0f ms (%.2f M flows/s, two hash inserts each)\n", n,
	       t_fill, n / t_fill / 1000.0);
	kdp_ct_free(ct);
	kdp_flowstore_close(fs);

	/* The next kdp: map the file, rebuild the hash. */
	t0 = rte_rdtsc();
	fs = open_store(path, flows);
	t_open = ms_since(t0);
	t0 = rte_rdtsc();
	ct = make_ct("bench_cti2", fs, flows);
	kdp_ct_import(ct, now + 1000, &st);
	t_import = ms_since(t0);
	printf("restart: file mapped and checked in %.1f ms; table created and %u flows tracked "
	       "again in %.0f ms (%.2f M flows/s; import alone %.0f ms)\n",
	       t_open, st.imported, t_import, st.imported / t_import / 1000.0, st.ns / 1e6);
	kdp_ct_free(ct);
	kdp_flowstore_close(fs);
	unlink(path);
	snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	kdp_eal_remove_runtime_dir(rundir);
	return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-bench-memory: what one random memory load costs on this machine, the
 * cost that bounds a lookup in a table of a million flows. One thread per
 * CPU given, each pinned, all at once: it measures its core's clock against
 * the TSC (a chain of dependent adds, one core cycle each), then follows a
 * chain of pointers through a buffer of SIZE MiB, one 64-byte line per step
 * in a random order (so neither the caches nor the hardware prefetchers can
 * help), and reports TSC cycles and nanoseconds per load: the median, least
 * and most of its samples. Each thread has its own buffer; with two CPUs
 * given, each load waits while the other thread's loads also wait. -H asks
 * for 2 MiB pages (MADV_HUGEPAGE) to tell the cost of the page walk from
 * the memory's. -k follows CHAINS chains at once, each over its own lines,
 * each load independent of the other chains' (as a burst's lookups are):
 * the loads a core completes per microsecond then tell how far loads in
 * parallel take a memory-bound pipeline (a step, one load of each chain,
 * is reported beside one load alone, measured first). Prints one JSON
 * object. A benchmark, not a test: it asserts nothing.
 *
 *   kdp-bench-memory [-s SECONDS] [-m SIZE_MIB] [-H] [-k CHAINS] CPU [CPU ...]
 *   (SECONDS 3, SIZE_MIB 256, CHAINS 1, at most 64)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "bench_common.h"

#define MAX_CPUS 64
#define MAX_SAMPLES 4096
#define LINE 64
#define STEPS 100000 /* loads per chain per sample */
#define MAX_CHAINS 64

struct chaser {
	pthread_t th;
	int cpu, err;
	size_t bytes;
	int huge, chains;
	double secs;
	pthread_barrier_t *start;
	double clock;      /* core cycles per TSC cycle */
	double lat[MAX_SAMPLES]; /* TSC cycles per step of every chain, one per sample */
	double alone;      /* TSC cycles per load of one chain alone: the median */
	unsigned int n;
	uint64_t sink;
};

/* Core cycles per TSC cycle: the best of 20 runs of 4M dependent adds. */
static double core_clock(void)
{
	double best = 0;

	for (int r = 0; r < 20; r++) {
		uint64_t x = 0, t = __rdtsc();

		for (int i = 0; i < 1000000; i++)
			__asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
					 : "+r"(x));
		double c = 4e6 / (double)(__rdtsc() - t);

		if (c > best)
			best = c;
	}
	return best;
}

/* @p chains random cycles through the buffer's lines, each over its own
 * lines (no chain finds in the cache a line another one brought in): each
 * line's first word holds the offset, in words, of the next line of its
 * cycle. Chain j starts at @p start[j]. */
static uint64_t *make_chain(size_t bytes, int huge, unsigned int seed, int chains,
			    uint64_t *start)
{
	size_t lines = bytes / LINE, w = LINE / sizeof(uint64_t);
	uint64_t *buf;
	uint32_t *order;

	buf = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return NULL;
	if (madvise(buf, bytes, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) != 0 && huge) {
		munmap(buf, bytes);
		return NULL;
	}
	order = malloc(lines * sizeof(*order));
	if (order == NULL) {
		munmap(buf, bytes);
		return NULL;
	}
	for (size_t i = 0; i < lines; i++)
		order[i] = (uint32_t)i;
	for (size_t i = lines - 1; i > 0; i--) {
		size_t j = (size_t)rand_r(&seed) * ((size_t)RAND_MAX + 1) + (size_t)rand_r(&seed);
		uint32_t t;

		j %= i + 1;
		t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int j = 0; j < chains; j++) {
		size_t seg = lines / (size_t)chains, first = (size_t)j * seg;

		for (size_t i = first; i < first + seg; i++)
			buf[(size_t)order[i] * w] =
				(uint64_t)order[i + 1 < first + seg ? i + 1 : first] * w;
		start[j] = (uint64_t)order[first] * w;
	}
	free(order);
	return buf;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Steps @p chains chains through @p buf from @p p for @p secs; the TSC
 * cycles of a step (one load of each chain) of every sample go to @p lat,
 * sorted, their count to *@p n. */
static void run_chains(const uint64_t *buf, uint64_t *p, int chains, double secs, double hz,
		       double *lat, unsigned int *n)
{
	uint64_t end = __rdtsc() + (uint64_t)(secs * hz);

	*n = 0;
	while (*n < MAX_SAMPLES) {
		uint64_t t = __rdtsc();

		if (t >= end && *n > 0)
			break;
		for (int i = 0; i < STEPS; i++)
			for (int j = 0; j < chains; j++)
				p[j] = buf[p[j]];
		lat[(*n)++] = (double)(__rdtsc() - t) / STEPS;
	}
	qsort(lat, *n, sizeof(lat[0]), cmp_double);
}

static void *chase(void *arg)
{
	struct chaser *c = arg;
	cpu_set_t set;
	uint64_t *buf, p[MAX_CHAINS], sink = 0;
	double hz;

	CPU_ZERO(&set);
	CPU_SET(c->cpu, &set);
	c->err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	buf = c->err == 0 ? make_chain(c->bytes, c->huge, (unsigned int)c->cpu + 1, c->chains, p)
			  : NULL;
	if (c->err == 0 && buf == NULL)
		c->err = errno ? errno : ENOMEM;
	pthread_barrier_wait(c->start);
	if (c->err != 0)
		return NULL;
	c->clock = core_clock();
	hz = bench_tsc_hz();
	if (c->chains > 1) {
		/* One load at a time first: the latency the chains' rate is
		 * compared with. */
		run_chains(buf, p, 1, c->secs / 4, hz, c->lat, &c->n);
		c->alone = c->lat[c->n / 2];
	}
	run_chains(buf, p, c->chains, c->secs, hz, c->lat, &c->n);
	if (c->chains == 1)
		c->alone = c->lat[c->n / 2];
	for (int j = 0; j < c->chains; j++)
		sink += p[j];
	c->sink = sink;
	munmap(buf, c->bytes);
	return NULL;
}

int main(int argc, char **argv)
{
	static struct chaser ch[MAX_CPUS];
	pthread_barrier_t start;
	double secs = 3, hz;
	long mib = 256;
	int opt, n, huge = 0, chains = 1, cpus[MAX_CPUS];

	while ((opt = getopt(argc, argv, "s:m:Hk:h")) != -1) {
		if (opt == 's' && (secs = atof(optarg)) > 0 && secs <= 3600)
			continue;
		if (opt == 'm' && (mib = atol(optarg)) >= 1 && mib <= 65536)
			continue;
		if (opt == 'k' && (chains = atoi(optarg)) >= 1 && chains <= MAX_CHAINS)
			continue;
		if (opt == 'H') {
			huge = 1;
			continue;
		}
		fprintf(stderr, "usage: kdp-bench-memory [-s SECONDS] [-m SIZE_MIB] [-H] [-k CHAINS] CPU "
				"[CPU ...]\n");
		return opt == 'h' ? 0 : 2;
	}
	n = bench_cpus("kdp-bench-memory", argc, argv, optind, cpus, MAX_CPUS);
	if (n < 0)
		return 2;
	for (int i = 0; i < n; i++) {
		ch[i].cpu = cpus[i];
		ch[i].secs = secs;
		ch[i].bytes = (size_t)mib << 20;
		ch[i].huge = huge;
		ch[i].chains = chains;
		ch[i].start = &start;
	}
	hz = bench_tsc_hz();
	pthread_barrier_init(&start, NULL, (unsigned int)n);
	for (int i = 0; i < n; i++)
		if (pthread_create(&ch[i].th, NULL, chase, &ch[i]) != 0) {
			fprintf(stderr, "kdp-bench-memory: cannot start a thread\n");
			return 1;
		}
	for (int i = 0; i < n; i++)
		pthread_join(ch[i].th, NULL);
	printf("{\"tscGHz\": %.3f, \"bufferMiB\": %ld, \"pages\": \"%s\", \"chains\": %d, "
	       "\"cpus\": [",
	       hz / 1e9, mib, huge ? "2MiB (asked)" : "4KiB", chains);
	for (int i = 0; i < n; i++) {
		struct chaser *c = &ch[i];

		if (c->err != 0 || c->n == 0) {
			fprintf(stderr, "kdp-bench-memory: CPU %d: %s\n", c->cpu,
				c->err ? strerror(c->err) : "no sample");
			return 1;
		}
		/* A step: one load of each chain, in parallel. */
		double med = c->lat[c->n / 2], rate = c->chains * hz / med; /* loads/s */

		printf("%s{\"cpu\": %d, \"coreClockPerTsc\": %.3f, \"samples\": %u, "
		       "\"loadNs\": %.0f, \"stepNs\": {\"median\": %.0f, \"min\": %.0f, "
		       "\"max\": %.0f}, \"loadsPerUs\": %.1f}",
		       i ? ", " : "", c->cpu, c->clock, c->n, c->alone * 1e9 / hz, med * 1e9 / hz,
		       c->lat[0] * 1e9 / hz, c->lat[c->n - 1] * 1e9 / hz, rate / 1e6);
	}
	printf("]}\n");
	return 0;
}

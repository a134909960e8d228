/* SPDX-License-Identifier: BSD-3-Clause */
/* What the stand-alone benchmarks (kdp-bench-cpu-stalls, kdp-bench-memory),
 * which run without DPDK, share: their clocks and their CPU arguments. */
#ifndef KDP_BENCH_COMMON_H
#define KDP_BENCH_COMMON_H

#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <x86intrin.h>

/** Seconds of CLOCK_MONOTONIC. */
static inline double bench_now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/** TSC cycles per second, against CLOCK_MONOTONIC over 100 ms. */
static inline double bench_tsc_hz(void)
{
	double t0 = bench_now_s(), t1;
	uint64_t c0 = __rdtsc();

	while ((t1 = bench_now_s()) - t0 < 0.1)
		;
	return (double)(__rdtsc() - c0) / (t1 - t0);
}

/** The CPU numbers @p argv[@p first..@p argc - 1] (1 to @p max of them)
 *  into @p cpus; their count, or -1 after saying what is wrong as
 *  @p prog on stderr. */
static inline int bench_cpus(const char *prog, int argc, char **argv, int first, int *cpus,
			     int max)
{
	if (first == argc || argc - first > max) {
		fprintf(stderr, "%s: give 1 to %d CPUs\n", prog, max);
		return -1;
	}
	for (int i = first; i < argc; i++) {
		char *end;
		long c = strtol(argv[i], &end, 10);

		if (*argv[i] == '\0' || *end != '\0' || c < 0 || c >= CPU_SETSIZE) {
			fprintf(stderr, "%s: '%s' is not a CPU number\n", prog, argv[i]);
			return -1;
		}
		cpus[i - first] = (int)c;
	}
	return argc - first;
}

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-bench-cpu-stalls: what the machine itself takes from a thread that
 * never sleeps, as a poll-mode worker does. One thread per CPU given, each
 * pinned and reading the TSC in a tight loop for the same seconds; a gap
 * between two readings is time the thread did not run (an interrupt, another
 * thread, the hypervisor). Prints one JSON object: per CPU, the gaps over
 * 10 us, 100 us and 1 ms, their total and the longest. Run it with nothing
 * else on those CPUs. A benchmark, not a test: it asserts nothing.
 *
 *   kdp-bench-cpu-stalls [-s SECONDS] CPU [CPU ...]   (SECONDS 5)
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
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "bench_common.h"

#define MAX_CPUS 64

struct spin {
	pthread_t th;
	int cpu;
	double secs, hz;
	uint64_t over[3]; /* gaps over 10 us, 100 us, 1 ms */
	uint64_t lost, longest; /* TSC cycles */
	int err;
};

static void *spin(void *arg)
{
	struct spin *s = arg;
	cpu_set_t set;
	uint64_t lim[3], prev, end;

	CPU_ZERO(&set);
	CPU_SET(s->cpu, &set);
	s->err = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (s->err != 0)
		return NULL;
	lim[0] = (uint64_t)(s->hz / 1e5);
	lim[1] = (uint64_t)(s->hz / 1e4);
	lim[2] = (uint64_t)(s->hz / 1e3);
	prev = __rdtsc();
	end = prev + (uint64_t)(s->secs * s->hz);
	while (prev < end) {
		uint64_t t = __rdtsc(), d = t - prev;

		prev = t;
		if (d <= lim[0])
			continue;
		s->over[0]++;
		s->over[1] += d > lim[1];
		s->over[2] += d > lim[2];
		s->lost += d;
		if (d > s->longest)
			s->longest = d;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct spin sp[MAX_CPUS];
	double secs = 5, hz;
	int opt, n, cpus[MAX_CPUS];

	while ((opt = getopt(argc, argv, "s:h")) != -1) {
		if (opt == 's' && (secs = atof(optarg)) > 0 && secs <= 3600)
			continue;
		fprintf(stderr, "usage: kdp-bench-cpu-stalls [-s SECONDS] CPU [CPU ...]\n");
		return opt == 'h' ? 0 : 2;
	}
	n = bench_cpus("kdp-bench-cpu-stalls", argc, argv, optind, cpus, MAX_CPUS);
	if (n < 0)
		return 2;
	hz = bench_tsc_hz();
	memset(sp, 0, sizeof(sp));
	for (int i = 0; i < n; i++) {
		sp[i].cpu = cpus[i];
		sp[i].secs = secs;
		sp[i].hz = hz;
	}
	for (int i = 0; i < n; i++)
		if (pthread_create(&sp[i].th, NULL, spin, &sp[i]) != 0) {
			fprintf(stderr, "kdp-bench-cpu-stalls: cannot start a thread\n");
			return 1;
		}
	for (int i = 0; i < n; i++)
		pthread_join(sp[i].th, NULL);
	printf("{\"seconds\": %.1f, \"cpus\": [", secs);
	for (int i = 0; i < n; i++) {
		if (sp[i].err != 0) {
			fprintf(stderr, "kdp-bench-cpu-stalls: CPU %d: %s\n", sp[i].cpu,
				strerror(sp[i].err));
			return 1;
		}
		printf("%s{\"cpu\": %d, \"over10us\": %lu, \"over100us\": %lu, \"over1ms\": %lu, "
		       "\"lostMs\": %.2f, \"longestUs\": %.1f}",
		       i ? ", " : "", sp[i].cpu, (unsigned long)sp[i].over[0],
		       (unsigned long)sp[i].over[1], (unsigned long)sp[i].over[2],
		       (double)sp[i].lost * 1e3 / hz, (double)sp[i].longest * 1e6 / hz);
	}
	printf("]}\n");
	return 0;
}

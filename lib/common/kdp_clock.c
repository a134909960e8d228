/* SPDX-License-Identifier: BSD-3-Clause */
#include <time.h>

#include "kdp_clock.h"

struct kdp_clock kdp_clock_g;

uint64_t kdp_clock_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void kdp_clock_sync(void)
{
	uint64_t per = kdp_clock_g.tsc_per_ms;
	uint64_t t0, t1, mono;

	if (per == 0)
		return;
	/* The TSC read closest to the clock_gettime: the middle of the two. */
	t0 = rte_rdtsc();
	mono = kdp_clock_mono_ms();
	t1 = rte_rdtsc();
	__atomic_store_n(&kdp_clock_g.offset_ms,
			 (int64_t)mono - (int64_t)((t0 + (t1 - t0) / 2) / per), __ATOMIC_RELAXED);
}

void kdp_clock_init(void)
{
	uint64_t per = rte_get_tsc_hz() / 1000;

	kdp_clock_g.tsc_per_ms = per ? per : 1;
	kdp_clock_sync();
}

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The flow clock: milliseconds of CLOCK_MONOTONIC, read from the TSC.
 *
 * Flow state (conntrack lifetimes, affinity pins) outlives the process
 * (lib/flowstore), so its times must mean the same to the next kdp: the
 * monotonic clock is the machine's, the TSC divided by a calibrated rate is
 * only this process's. Workers read the TSC (a few cycles) and add an
 * offset that kdp_clock_sync() keeps equal to CLOCK_MONOTONIC; a re-anchor
 * moves the clock by at most the calibration error over the sync period
 * (well under a millisecond), either way.
 *
 * Without kdp_clock_init() (unit tests) the clock is the TSC's own
 * milliseconds.
 */
#ifndef KDP_CLOCK_H
#define KDP_CLOCK_H

#include <stdint.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>

struct kdp_clock {
	uint64_t tsc_per_ms; /**< 0 until first used */
	int64_t offset_ms;   /**< monotonic ms - TSC ms; one word, read relaxed */
};

extern struct kdp_clock kdp_clock_g;

/** Anchors the clock to CLOCK_MONOTONIC. Any thread, before the workers. */
void kdp_clock_init(void);

/** Re-anchors the clock (control thread, about once a second). */
void kdp_clock_sync(void);

/** CLOCK_MONOTONIC itself, in milliseconds (a system call: not per packet). */
uint64_t kdp_clock_mono_ms(void);

/** Now, in flow-clock milliseconds. Any thread; no system call. */
static inline uint64_t kdp_clock_now_ms(void)
{
	uint64_t per = kdp_clock_g.tsc_per_ms;

	if (unlikely(per == 0)) {
		per = rte_get_tsc_hz() / 1000;
		if (per == 0)
			per = 1;
	}
	return (uint64_t)((int64_t)(rte_rdtsc() / per) +
			  __atomic_load_n(&kdp_clock_g.offset_ms, __ATOMIC_RELAXED));
}

#endif

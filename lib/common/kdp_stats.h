/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Per-lcore packet counters. Each worker (and the control thread) owns one
 * cache-aligned block and is its only writer; readers (API, metrics) sum the
 * blocks with plain 64-bit loads, which may be one burst stale.
 */
#ifndef KDP_STATS_H
#define KDP_STATS_H

#include <stdint.h>
#include <rte_common.h>

#include "kdp_drop.h"

/** A worker's loop pass that ends longer than this after the last one is a stall. */
#define KDP_STATS_STALL_US 100

/** Counters of one lcore. */
struct kdp_stats {
	uint64_t rx_pkts;
	uint64_t rx_bytes;
	uint64_t tx_pkts;
	uint64_t tx_bytes;
	uint64_t punted;       /**< handed to the control thread (ARP, unresolved) */
	uint64_t icmp_sent;    /**< ICMP errors and echo replies generated */
	uint64_t masq_flows;   /**< new flows masqueraded to the node IP */
	uint64_t masq_pkts;    /**< packets masqueraded (both directions) */
	uint64_t masq_skipped; /**< new pod flows to the uplink whose destination is
				    in the non-masquerade set */
	/** SNAT port picks by extra tries: 0, 1, 2-3, 4-7, 8-15, 16+. */
	uint64_t nat_retry_hist[6];
	uint64_t busy_cycles;  /**< TSC cycles in loop iterations that had work */
	uint64_t total_cycles; /**< TSC cycles in the loop */
	/** Loop passes that ended more than KDP_STATS_STALL_US after the last
	 * one (an adaptive worker's sleep not counted): the CPU taken away
	 * from the worker (another thread, an interrupt, the hypervisor) or
	 * one very long pass; what a frame waiting meanwhile adds to its
	 * latency. */
	uint64_t stalls;
	uint64_t stall_cycles;     /**< TSC cycles of those passes */
	uint64_t stall_max_cycles; /**< the longest pass (a maximum, not summed) */
	uint64_t drop[KDP_DROP__MAX];
} __rte_cache_aligned;

/** Count one dropped packet. */
static inline void kdp_stats_drop(struct kdp_stats *st, enum kdp_drop reason)
{
	st->drop[reason]++;
}

/** Sum of all drop counters of one block. */
static inline uint64_t kdp_stats_drops_total(const struct kdp_stats *st)
{
	uint64_t t = 0;
	for (unsigned int i = 0; i < KDP_DROP__MAX; i++)
		t += st->drop[i];
	return t;
}

/** Adds every counter of @p src into @p dst. */
void kdp_stats_add(struct kdp_stats *dst, const struct kdp_stats *src);

#endif

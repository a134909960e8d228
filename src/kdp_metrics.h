/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * GET /metrics: the Prometheus text exposition format (version 0.0.4),
 * names prefixed kdp_, counters ending _total, base units. Control thread.
 */
#ifndef KDP_METRICS_H
#define KDP_METRICS_H

#include <event2/buffer.h>

#include "kdp.h"

/** Counts one API request, labelled by route ("/v1/nodes"), method, code. */
void kdp_metrics_count_request(struct kdp *k, const char *route, const char *method,
			       int code);

/** The process's memory, in bytes. */
struct kdp_memory {
	uint64_t rss;              /**< resident pages (/proc/self/statm) */
	uint64_t malloc_in_use;    /**< handed out by the C heap (the desired state, trees) */
	uint64_t dpdk_heap_in_use; /**< handed out by the DPDK heap (tables, snapshots, rings) */
};

/**
 * Reads the process's memory into @p m (control thread; walks the C heap's
 * arenas). A leak grows the two "in use" figures; the RSS also grows as
 * traffic first touches pages of tables allocated whole at start (with
 * --no-huge nothing is faulted in beforehand unless prefaultMemory is set).
 */
void kdp_metrics_memory(struct kdp_memory *m);

/** Writes every metric into @p out. */
void kdp_metrics_render(struct kdp *k, struct evbuffer *out);

#endif

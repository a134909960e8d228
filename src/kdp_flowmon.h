/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * GET /v1/monitor: streams the flow monitor's events (lib/monitor) to
 * listeners as newline-delimited JSON in a chunked reply. A timer on the
 * control thread drains the workers' rings, names local pods, applies each
 * listener's filters and never blocks: a listener whose connection holds
 * too much unsent output loses events (counted and reported to it).
 * Control thread only.
 */
#ifndef KDP_FLOWMON_H
#define KDP_FLOWMON_H

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "kdp.h"

/** Unsent bytes a listener may hold before its events are dropped. */
#define KDP_FLOWMON_MAX_PENDING (1u << 20)

/** Sets up the drain timer on @p base. @return 0 or -ENOMEM. */
int kdp_flowmon_init(struct kdp *k, struct event_base *base, char *err);

/** Ends every stream and frees the state (after the HTTP server is gone). */
void kdp_flowmon_fini(struct kdp *k);

/**
 * Answers GET /v1/monitor?pod=&ip=&proto=&verdict=: starts the stream and
 * returns 200, or returns 400 with @p err naming the bad parameter (the
 * caller replies).
 */
int kdp_flowmon_serve(struct kdp *k, struct evhttp_request *req, char *err);

/** What the control thread's side of the monitor counts. */
struct kdp_flowmon_stats {
	unsigned int listeners; /**< streams open now */
	uint64_t sent;          /**< event lines queued to listeners */
	uint64_t lost_slow;     /**< events a listener with too much unsent output missed */
};

/** Reads the counters of the listeners' side. */
void kdp_flowmon_stats(const struct kdp *k, struct kdp_flowmon_stats *st);

#endif

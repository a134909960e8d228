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

/** Writes every metric into @p out. */
void kdp_metrics_render(struct kdp *k, struct evbuffer *out);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Snapshots: everything workers read (routes, service frontends, the
 * non-masquerade set, port roles, which worker polls which queue), built
 * whole by the control thread and published with RCU. The publisher's
 * fields are the control thread's; workers only load the snapshot pointer.
 */
#ifndef KDP_SNAPSHOT_H
#define KDP_SNAPSHOT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "pipeline/kdp_pipeline.h"
#include "kdp_config.h"
#include "kdp_state.h"

struct kdp;

/** Snapshots waiting for their grace period at most (then updates wait). */
#define KDP_MAX_RETIRED 64

/** A (port, queue) a worker polls. */
struct kdp_rxq {
	uint16_t port;
	uint16_t queue;
};

/** What workers read, published whole through RCU. */
struct kdp_snapshot {
	struct kdp_dp dp;
	uint64_t gen;
	uint16_t n_rxq[KDP_MAX_WORKERS];
	const struct kdp_rxq *rxq[KDP_MAX_WORKERS]; /**< each worker's slice of q[] */
	struct kdp_rxq q[];                         /**< every polled queue, by worker */
};

/** A replaced snapshot waiting for its grace period. */
struct kdp_retired {
	struct kdp_snapshot *s;
	uint64_t token; /**< rte_rcu_qsbr_start() after the swap */
	uint16_t n_close;
	uint16_t *close; /**< ports to close after it (malloc'd, n_close) */
};

/** The publisher: the snapshot in force and those being retired. */
struct kdp_publisher {
	struct kdp_snapshot *_Atomic snap; /**< what workers read */
	uint64_t gen;                      /**< generation of the last one built */
	json_t *fe_ids;                    /**< "addr:port/proto" -> stable frontend id */
	uint32_t next_fe_id;
	struct kdp_retired retired[KDP_MAX_RETIRED]; /**< oldest first */
	unsigned int n_retired;
};

/**
 * Builds a snapshot from the config, @p st and the open ports.
 * @return it, or NULL with @p err set.
 */
struct kdp_snapshot *kdp_dp_build(struct kdp *k, const struct kdp_state *st,
				  char *err);
/**
 * Publishes @p s and retires the old snapshot without waiting: it is freed,
 * and the @p n_close ports in @p close are closed, by kdp_dp_reclaim() once
 * every worker has left it (RCU grace period).
 */
void kdp_dp_publish(struct kdp *k, struct kdp_snapshot *s, const uint16_t *close,
		    unsigned int n_close);
/**
 * Frees retired snapshots (and closes their ports) whose grace period is
 * over, oldest first; with @p wait, waits for all of them. Control thread.
 */
void kdp_dp_reclaim(struct kdp *k, bool wait);
/** True when a retired snapshot still has ports to close. */
bool kdp_dp_closing_ports(const struct kdp *k);
/** Frees a snapshot that was never published or is retired. */
void kdp_dp_free(struct kdp_snapshot *s);

#endif

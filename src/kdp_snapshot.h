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

#include "masq/kdp_masq.h"
#include "pipeline/kdp_pipeline.h"
#include "kdp_config.h"
#include "kdp_feid.h"
#include "kdp_state.h"

struct kdp;

/** Snapshots waiting for their grace period at most (then updates wait). */
#define KDP_MAX_RETIRED 64

/** A (port, queue) a worker polls. */
struct kdp_rxq {
	uint16_t port;
	uint16_t queue;
};

struct kdp_fe_set;

/** What workers read, published whole through RCU. */
struct kdp_snapshot {
	struct kdp_dp dp;
	struct kdp_fe_set *fes; /**< control thread: dp.svc and the groups behind it */
	struct kdp_publisher *pub; /**< where freed tables go for reuse (NULL: freed) */
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
	uint32_t next_fe_id;               /**< highest frontend id handed out */
	struct kdp_feid feid;              /**< which ids are used, waiting, free */
	struct kdp_route_table *spare_rt;  /**< a freed route table, kept for reuse */
	struct kdp_masq_set *spare_masq;   /**< a freed non-masquerade set, likewise */
	struct kdp_retired retired[KDP_MAX_RETIRED]; /**< oldest first */
	unsigned int n_retired;
};

/**
 * Builds a snapshot from the config, @p st and the open ports. Frontend ids
 * are kept by key from the snapshot in force (at start, from the flow
 * state file: kdp_flows.h), and saved in that file when new ones are
 * handed out or frontends go. When @p st is derived from the
 * state in force (kdp_state_copy()), only the frontends of what changed are
 * built (the services it added, and those whose local endpoints or
 * redirect policies changed): the rest, and the route table and the
 * non-masquerade set when nothing they depend on changed, are shared with
 * the snapshot in force. With IPv6 on, the IPv6 frontend table is built
 * whole each time (its ids kept by key from the one in force), and the
 * IPv6 routes and non-masquerade set are shared as the IPv4 ones. Two
 * services claiming one frontend (of either family), or a
 * healthCheckNodePort that is a nodePort, are errors here.
 * @return it, or NULL with @p err set.
 */
struct kdp_snapshot *kdp_dp_build(struct kdp *k, const struct kdp_state *st,
				  char *err);

/**
 * The local active backends of service @p s in the snapshot in force (what
 * its health check reports on the node IP), or with @p v6 its IPv6 ones
 * (the answer on nodeIPv6); 0 when it has no group there.
 */
unsigned int kdp_dp_svc_local_endpoints(const struct kdp_service *s, bool v6);

/** Calls @p fn for each frontend of service @p s in the snapshot in force. */
void kdp_dp_svc_frontends(const struct kdp_service *s,
			  void (*fn)(const struct kdp_svc_fe *fe, void *arg), void *arg);

/** Calls @p fn for each healthCheckNodePort of the snapshot in force and
 *  the service asking for it. */
void kdp_dp_hc_ports(const struct kdp *k,
		     void (*fn)(uint16_t port, const struct kdp_service *s, void *arg),
		     void *arg);

/** Calls @p fn for each frontend of the snapshot in force whose policy is
 *  @p ns/@p name (redirected or addressMatcher frontends). */
void kdp_dp_lrp_frontends(const struct kdp *k, const char *ns, const char *name,
			  void (*fn)(const struct kdp_svc_fe *fe, void *arg), void *arg);

/** Calls @p fn for each IPv6 frontend of the snapshot in force whose
 *  service (with @p by_lrp: whose redirecting policy) is @p ns/@p name. */
void kdp_dp_svc6_frontends(const struct kdp *k, const char *ns, const char *name, bool by_lrp,
			   void (*fn)(const struct kdp_svc6_fe *fe, void *arg), void *arg);
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
/** At shutdown: waits for the retired snapshots, frees them, the one in
 *  force and the tables kept for reuse. */
void kdp_dp_shutdown(struct kdp *k);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Session affinity (sessionAffinity: ClientIP): which backend a client was
 * given by a frontend, and when it last opened a flow. An rte_hash with
 * lock-free reads and multi-writer adds; the data word packs the backend
 * address and the last-use second, so it is read and replaced atomically.
 * Workers read and refresh it once per new flow (never per packet); the
 * control thread expires entries in slices.
 */
#ifndef KDP_AFFINITY_H
#define KDP_AFFINITY_H

#include <stdint.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include "kdp_svc.h"

struct kdp_affinity_key {
	uint32_t fe_id;
	uint32_t client; /**< network order */
};

struct kdp_affinity {
	struct rte_hash *h;
	uint32_t cursor;
};

/** Creates a table for @p size clients. NULL with rte_errno on error. */
struct kdp_affinity *kdp_affinity_create(const char *name, uint32_t size, int socket,
					 struct rte_rcu_qsbr *qsbr);
void kdp_affinity_free(struct kdp_affinity *a);

/**
 * Backend index in @p fe that @p client is pinned to, or -1 when it has none,
 * its pin expired (older than the frontend's timeout), or that backend may
 * not take new flows any more.
 */
int kdp_affinity_get(const struct kdp_affinity *a, const struct kdp_svc_fe *fe,
		     uint32_t client, uint32_t now_s);

/** Pins @p client to backend @p b of @p fe as of @p now_s. */
void kdp_affinity_set(struct kdp_affinity *a, const struct kdp_svc_fe *fe,
		      uint32_t client, int b, uint32_t now_s);

/**
 * Control thread: examines @p budget slots and deletes pins older than the
 * timeout of their frontend in @p t (or whose frontend is gone).
 * @return pins removed.
 */
uint32_t kdp_affinity_gc(struct kdp_affinity *a, const struct kdp_svc_table *t,
			 uint32_t now_s, uint32_t budget);

#endif

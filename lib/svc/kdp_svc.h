/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Service stage: frontend lookup ((address, port, protocol) → service
 * frontend) and backend selection (`random`: the flow hash over the usable
 * backends; `maglev`: the flow hash into the frontend's Maglev table, so
 * every node picks the same backend for the same flow).
 *
 * A table is built whole by the control thread and only read by workers
 * while it is published through RCU (one more part of the snapshot).
 */
#ifndef KDP_SVC_H
#define KDP_SVC_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_hash.h>

enum kdp_svc_type {
	KDP_SVC_CLUSTER_IP,
	KDP_SVC_NODE_PORT,
	KDP_SVC_EXTERNAL_IP,
	KDP_SVC_LOAD_BALANCER,
	KDP_SVC_LOCAL_REDIRECT,
};

enum kdp_svc_algo {
	KDP_SVC_RANDOM,
	KDP_SVC_MAGLEV,
};

enum kdp_be_state {
	KDP_BE_ACTIVE,
	KDP_BE_TERMINATING, /**< used only when no backend is active */
	KDP_BE_MAINTENANCE, /**< never chosen for new flows */
	KDP_BE_QUARANTINED, /**< never chosen for new flows */
};

struct kdp_svc_backend {
	uint32_t ip;   /**< network order */
	uint16_t port; /**< network order */
	uint8_t state; /**< enum kdp_be_state */
	uint8_t local; /**< a pod on this node */
};

/** Key of a frontend, fields in network order. */
struct kdp_svc_key {
	uint32_t addr;
	uint16_t port;
	uint8_t proto;
	uint8_t pad;
};

/** One frontend: an address:port/protocol of a service. */
struct kdp_svc_fe {
	uint32_t id;       /**< stable across updates, 1-based */
	struct kdp_svc_key key;
	uint8_t type;      /**< enum kdp_svc_type */
	uint8_t algo;      /**< enum kdp_svc_algo */
	uint8_t affinity;  /**< ClientIP session affinity */
	uint32_t affinity_timeout_s;
	uint32_t gen;      /**< changes when the backend set changes */
	uint16_t n_be;
	uint16_t n_sel;    /**< backends new flows may use */
	struct kdp_svc_backend *be;
	uint16_t *sel;     /**< indices into be[] */
	uint32_t m;        /**< Maglev table size (0: random) */
	uint32_t *maglev;  /**< m indices into be[] */
	char name[160];    /**< "namespace/name" */
	char port_name[64];
	char lrp[130];     /**< "namespace/name" of the redirecting policy, or "" */
};

/** Bits of the frontend-address filter (a one-hash Bloom filter, 8 KiB). */
#define KDP_SVC_FILTER_BITS (1u << 16)

/** Filter bit of a frontend address (network order). */
static inline uint32_t kdp_svc_filter_bit(uint32_t addr)
{
	return (addr * 0x9E3779B1u) >> 16;
}

struct kdp_svc_table {
	/** A set bit for every frontend address: a destination whose bit is
	 *  clear is no frontend, and skips the hash lookup. */
	uint64_t addr_bits[KDP_SVC_FILTER_BITS / 64];
	struct rte_hash *h; /**< kdp_svc_key → struct kdp_svc_fe * */
	struct kdp_svc_fe **by_id; /**< [id] for established-flow checks */
	uint32_t max_id;
	uint32_t n_fe;
	struct kdp_svc_fe *fe; /**< owned, with their arrays */
	uint32_t cap;
};

/**
 * Creates an empty table for @p cap frontends with ids up to @p max_id.
 * @return it, or NULL with rte_errno set.
 */
struct kdp_svc_table *kdp_svc_table_create(const char *name, uint32_t cap,
					   uint32_t max_id, int socket);

/**
 * Adds a frontend; the table takes ownership of fe->be, fe->sel and
 * fe->maglev (malloc'ed) even on error. Control thread.
 * @return 0, -ENOSPC, -EEXIST (same key twice), -EINVAL (bad id).
 */
int kdp_svc_table_add(struct kdp_svc_table *t, struct kdp_svc_fe *fe);

/** Frees the table and what it owns (NULL is fine). */
void kdp_svc_table_free(struct kdp_svc_table *t);

/**
 * Fills fe->sel from fe->be by state (active; else terminating) and, for
 * maglev, fe->maglev of size @p m. @return 0, -ENOMEM, -EINVAL (bad m).
 */
int kdp_svc_fe_prepare(struct kdp_svc_fe *fe, uint32_t m);

/** Bulk frontend lookup; @p out[i] is NULL when no service. */
static inline void kdp_svc_lookup_bulk(const struct kdp_svc_table *t,
				       const struct kdp_svc_key *keys,
				       unsigned int n, struct kdp_svc_fe **out)
{
	const void *kp[RTE_HASH_LOOKUP_BULK_MAX];
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint8_t at[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits = 0;
	unsigned int nc = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint32_t b = kdp_svc_filter_bit(keys[i].addr);

		out[i] = NULL;
		if (t->addr_bits[b >> 6] & (1ull << (b & 63))) {
			at[nc] = (uint8_t)i;
			kp[nc++] = &keys[i];
		}
	}
	if (nc == 0)
		return;
	rte_hash_lookup_bulk_data(t->h, kp, nc, &hits, data);
	for (unsigned int c = 0; c < nc; c++)
		if ((hits >> c) & 1)
			out[at[c]] = data[c];
}

/** Backend index for a new flow with hash @p h, or -1 when none is usable. */
static inline int kdp_svc_select(const struct kdp_svc_fe *fe, uint32_t h)
{
	if (fe->n_sel == 0)
		return -1;
	if (fe->m != 0)
		return (int)fe->maglev[h % fe->m];
	return fe->sel[h % fe->n_sel];
}

/** Index of backend ip:port (network order) in @p fe, or -1. */
static inline int kdp_svc_find_backend(const struct kdp_svc_fe *fe, uint32_t ip,
				       uint16_t port)
{
	for (uint16_t i = 0; i < fe->n_be; i++)
		if (fe->be[i].ip == ip && fe->be[i].port == port)
			return i;
	return -1;
}

/** True when backend @p b of @p fe may take new flows. */
static inline int kdp_svc_selectable(const struct kdp_svc_fe *fe, int b)
{
	for (uint16_t i = 0; i < fe->n_sel; i++)
		if (fe->sel[i] == b)
			return 1;
	return 0;
}

const char *kdp_svc_type_name(enum kdp_svc_type t);
const char *kdp_be_state_name(enum kdp_be_state s);

#endif

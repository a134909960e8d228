/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Service stage: frontend lookup ((address, port, protocol) → service
 * frontend) and backend selection (`random`: the flow hash over the usable
 * backends; `maglev`: the flow hash into the frontend's Maglev table, so
 * every node picks the same backend for the same flow).
 *
 * A frontend has two sets of backends new flows may take: every usable one
 * (`all`) and, under a Local traffic policy, those on this node (`local`);
 * which set a flow gets depends on where it comes from (KDP_SVC_LOCAL_*).
 * A frontend may also admit new flows only from some source ranges
 * (loadBalancerSourceRanges).
 *
 * The table is an open-addressed hash of frontend pointers. The control
 * thread builds one per snapshot, whole or as a clone of the one in force
 * with some frontends removed and added (the frontends themselves are
 * shared between the tables that hold them, owned by the caller); workers
 * only read a table while it is published through RCU.
 */
#ifndef KDP_SVC_H
#define KDP_SVC_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_hash_crc.h>
#include <rte_prefetch.h>

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
	uint8_t local; /**< on this node (a local pod, or nodeName is this node) */
};

/** Key of a frontend, fields in network order. */
struct kdp_svc_key {
	uint32_t addr;
	uint16_t port;
	uint8_t proto;
	uint8_t pad;
};

/** The key as one word (hashing, comparing). */
static inline uint64_t kdp_svc_key_word(const struct kdp_svc_key *k)
{
	uint64_t w;

	memcpy(&w, k, sizeof(w));
	return w;
}

/** Backends new flows may take, and how one is chosen among them. */
struct kdp_svc_pick {
	uint16_t n;       /**< how many (0: new flows are rejected) */
	uint16_t *sel;    /**< indices into be[] */
	uint32_t m;       /**< Maglev table size (0: random over sel) */
	uint32_t *maglev; /**< m indices into be[] */
};

/** Backend @p b may take new flows through pick @p p. */
static inline bool kdp_svc_pick_has(const struct kdp_svc_pick *p, int b)
{
	for (uint16_t i = 0; i < p->n; i++)
		if (p->sel[i] == b)
			return true;
	return false;
}

/** Backend index for a new flow with hash @p h through @p p, or -1 (none). */
static inline int kdp_svc_pick_select(const struct kdp_svc_pick *p, uint32_t h)
{
	if (p->n == 0)
		return -1;
	if (p->m != 0)
		return (int)p->maglev[h % p->m];
	return p->sel[h % p->n];
}

struct kdp_maglev_backend;

/**
 * How kdp_svc_picks_fill() reads backend @p i of array @p be (either
 * family's): its state, whether it is local, and (@p mb not NULL) its Maglev
 * identity (port in host order; @p mb comes zeroed).
 */
typedef void (*kdp_svc_be_view_fn)(const void *be, uint16_t i, uint8_t *state, uint8_t *local,
				   struct kdp_maglev_backend *mb);

/**
 * Fills the picks of a frontend of either family from its @p n backends
 * @p be: @p all (active ones, else terminating ones) and, when
 * @p local_only, @p local (the same among the local ones; else emptied),
 * each with its Maglev table of size @p m when @p algo is maglev.
 * @return 0, -ENOMEM, -EINVAL (bad m).
 */
int kdp_svc_picks_fill(struct kdp_svc_pick *all, struct kdp_svc_pick *local, uint8_t local_only,
		       uint8_t algo, uint32_t m, const void *be, uint16_t n,
		       kdp_svc_be_view_fn view);

/** Frees what pick @p p holds and empties it. */
void kdp_svc_pick_release(struct kdp_svc_pick *p);

/** A source range, network order. */
struct kdp_svc_range {
	uint32_t net;
	uint32_t mask;
};

/** Which new flows use the local pick (a Local traffic policy). */
#define KDP_SVC_LOCAL_INSIDE 0x1  /**< from pods and the host: internalTrafficPolicy */
#define KDP_SVC_LOCAL_OUTSIDE 0x2 /**< from the uplink: externalTrafficPolicy (or both) */

/** One frontend: an address:port/protocol of a service. */
struct kdp_svc_fe {
	uint32_t id;       /**< stable across updates, 1-based */
	struct kdp_svc_key key;
	uint8_t type;      /**< enum kdp_svc_type */
	uint8_t algo;      /**< enum kdp_svc_algo */
	uint8_t affinity;  /**< ClientIP session affinity */
	uint8_t local_only; /**< KDP_SVC_LOCAL_* */
	uint32_t affinity_timeout_s;
	uint32_t gen;      /**< changes when the backend set changes */
	uint16_t n_be;
	uint16_t n_ranges; /**< 0: any source */
	struct kdp_svc_backend *be;
	struct kdp_svc_pick all;   /**< usable backends: active, else terminating */
	struct kdp_svc_pick local; /**< the same among local ones (local_only != 0) */
	struct kdp_svc_range *ranges;
	/* Control thread only: what listings show. */
	const char *name;  /**< "namespace/name", or NULL */
	const char *lrp;   /**< "namespace/name" of the redirecting policy, or NULL */
	const void *owner; /**< whoever built it (the snapshot's groups) */
	char port_name[64];
};

/** Bits of the frontend-address filter (a one-hash Bloom filter, 8 KiB). */
#define KDP_SVC_FILTER_BITS (1u << 16)

/** Filter bit of a frontend address (network order). */
static inline uint32_t kdp_svc_filter_bit(uint32_t addr)
{
	return (addr * 0x9E3779B1u) >> 16;
}

/** A slot of the table: empty when fe is NULL. */
struct kdp_svc_slot {
	uint64_t key; /**< kdp_svc_key_word() of fe->key */
	struct kdp_svc_fe *fe;
};

struct kdp_svc_table {
	/** A set bit for every frontend address: a destination whose bit is
	 *  clear is no frontend, and skips the hash lookup. */
	uint64_t addr_bits[KDP_SVC_FILTER_BITS / 64];
	struct kdp_svc_slot *slot; /**< mask + 1 slots, linear probing */
	uint32_t mask;
	uint32_t n_fe;
	struct kdp_svc_fe **by_id; /**< [id] for established-flow checks */
	uint32_t max_id;
	/* Control thread only. */
	uint16_t *addr_count;      /**< frontends per filter bit (saturating) */
	struct kdp_svc_fe **owned; /**< frontends kdp_svc_table_add() copied */
	uint32_t n_owned;
};

/** Slot index of a key word. */
static inline uint32_t kdp_svc_slot_of(const struct kdp_svc_table *t, uint64_t w)
{
	return (uint32_t)rte_hash_crc_8byte(w, 0x5f3759df) & t->mask;
}

/**
 * Creates an empty table for about @p cap frontends with ids up to
 * @p max_id (@p name and @p socket are kept for callers; the table is in
 * the plain heap). @return it, or NULL with rte_errno set.
 */
struct kdp_svc_table *kdp_svc_table_create(const char *name, uint32_t cap,
					   uint32_t max_id, int socket);

/**
 * A copy of @p t with room for @p cap frontends and ids up to @p max_id
 * (or @p t's highest id, if higher), sharing its frontends (it owns none
 * of them). Control thread.
 * @return it, or NULL with rte_errno set.
 */
struct kdp_svc_table *kdp_svc_table_clone(const struct kdp_svc_table *t, uint32_t cap,
					  uint32_t max_id);

/**
 * Puts frontend @p fe (owned by the caller, who keeps it alive while the
 * table is) under its key and id. Control thread.
 * @return 0, -EEXIST (another frontend has the key: see
 * kdp_svc_table_get()), -EINVAL (id 0, above max_id or taken), -ENOSPC.
 */
int kdp_svc_table_insert(struct kdp_svc_table *t, struct kdp_svc_fe *fe);

/** Takes out the frontend of @p key; @return it, or NULL when none. */
struct kdp_svc_fe *kdp_svc_table_remove(struct kdp_svc_table *t, const struct kdp_svc_key *key);

/** The frontend of @p key, or NULL. Any thread that may read @p t. */
static inline struct kdp_svc_fe *kdp_svc_table_get(const struct kdp_svc_table *t,
						   const struct kdp_svc_key *key)
{
	uint64_t w = kdp_svc_key_word(key);

	for (uint32_t i = kdp_svc_slot_of(t, w);; i = (i + 1) & t->mask) {
		const struct kdp_svc_slot *s = &t->slot[i];

		if (s->fe == NULL)
			return NULL;
		if (s->key == w)
			return s->fe;
	}
}

/**
 * Adds a copy of @p fe, which the table owns with its arrays (fe->be,
 * fe->all, fe->local, fe->ranges) even on error: for callers that build a
 * table once (tests, benchmarks). @return as kdp_svc_table_insert().
 */
int kdp_svc_table_add(struct kdp_svc_table *t, struct kdp_svc_fe *fe);

/** Frees the table and the frontends it owns (NULL is fine). */
void kdp_svc_table_free(struct kdp_svc_table *t);

/** Frees what @p fe owns (be, picks, ranges), not @p fe itself. */
void kdp_svc_fe_release(struct kdp_svc_fe *fe);

/**
 * Fills the picks from fe->be by state (active; else terminating), the
 * local pick among local backends when fe->local_only is set, and for
 * maglev their tables of size @p m. @return 0, -ENOMEM, -EINVAL (bad m).
 */
int kdp_svc_fe_prepare(struct kdp_svc_fe *fe, uint32_t m);

/** Bulk frontend lookup; @p out[i] is NULL when no service. */
static inline void kdp_svc_lookup_bulk(const struct kdp_svc_table *t,
				       const struct kdp_svc_key *keys,
				       unsigned int n, struct kdp_svc_fe **out)
{
	uint64_t w[64];
	uint32_t at[64];
	uint8_t of[64];
	unsigned int nc = 0;

	for (unsigned int i = 0; i < n && i < 64; i++) {
		uint32_t b = kdp_svc_filter_bit(keys[i].addr);

		out[i] = NULL;
		if (t->addr_bits[b >> 6] & (1ull << (b & 63))) {
			w[nc] = kdp_svc_key_word(&keys[i]);
			at[nc] = kdp_svc_slot_of(t, w[nc]);
			rte_prefetch0(&t->slot[at[nc]]);
			of[nc++] = (uint8_t)i;
		}
	}
	for (unsigned int c = 0; c < nc; c++) {
		for (uint32_t i = at[c];; i = (i + 1) & t->mask) {
			const struct kdp_svc_slot *s = &t->slot[i];

			if (s->fe == NULL)
				break;
			if (s->key == w[c]) {
				out[of[c]] = s->fe;
				break;
			}
		}
	}
}

/** Of a frontend's picks (either family), the one a new flow from outside
 *  (@p outside: the uplink) or inside takes under @p local_only. */
static inline const struct kdp_svc_pick *kdp_svc_pick_of(uint8_t local_only,
							 const struct kdp_svc_pick *all,
							 const struct kdp_svc_pick *local,
							 bool outside)
{
	return local_only & (outside ? KDP_SVC_LOCAL_OUTSIDE : KDP_SVC_LOCAL_INSIDE) ? local : all;
}

/** True when backend @p b is in either pick (may take new flows from some side). */
static inline bool kdp_svc_picks_have(uint8_t local_only, const struct kdp_svc_pick *all,
				      const struct kdp_svc_pick *local, int b)
{
	return kdp_svc_pick_has(all, b) || (local_only && kdp_svc_pick_has(local, b));
}

/** The set a new flow from outside (@p outside: the uplink) or inside picks from. */
static inline const struct kdp_svc_pick *kdp_svc_pick_for(const struct kdp_svc_fe *fe,
							  bool outside)
{
	return kdp_svc_pick_of(fe->local_only, &fe->all, &fe->local, outside);
}

/** Backend index for a new flow with hash @p h, or -1 when none is usable. */
static inline int kdp_svc_select(const struct kdp_svc_fe *fe, uint32_t h, bool outside)
{
	return kdp_svc_pick_select(kdp_svc_pick_for(fe, outside), h);
}

/** True when a new flow from @p src (network order) may use @p fe. */
static inline bool kdp_svc_source_allowed(const struct kdp_svc_fe *fe, uint32_t src)
{
	for (uint16_t i = 0; i < fe->n_ranges; i++)
		if ((src & fe->ranges[i].mask) == fe->ranges[i].net)
			return true;
	return fe->n_ranges == 0;
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

/** True when backend @p b of @p fe may take new flows (from either side). */
static inline int kdp_svc_selectable(const struct kdp_svc_fe *fe, int b)
{
	return kdp_svc_picks_have(fe->local_only, &fe->all, &fe->local, b);
}

const char *kdp_svc_type_name(enum kdp_svc_type t);
const char *kdp_be_state_name(enum kdp_be_state s);

#endif

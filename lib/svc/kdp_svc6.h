/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Service frontends of IPv6 addresses: the IPv6 twin of kdp_svc.h (an
 * (address, port, protocol) → frontend hash behind a one-hash filter of
 * frontend addresses; `random` or `maglev` backend choice), with IPv6
 * backends. Frontend ids share one space with the IPv4 frontends (the
 * control thread hands them out), so a conntrack entry's svc_id names one
 * frontend of its family's table. Built whole by the control thread, read
 * by workers through RCU. Session affinity for IPv6 clients is
 * struct kdp_affinity6.
 */
#ifndef KDP_SVC6_H
#define KDP_SVC6_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include "common/kdp_addr.h"
#include "svc/kdp_affinity.h"
#include "svc/kdp_svc.h"

struct kdp_svc6_backend {
	uint8_t ip[16]; /**< network order */
	uint16_t port;  /**< network order */
	uint8_t state;  /**< enum kdp_be_state */
	uint8_t local;  /**< a pod on this node */
};

/** Key of an IPv6 frontend, fields in network order. */
struct kdp_svc6_key {
	uint8_t addr[16];
	uint16_t port;
	uint8_t proto;
	uint8_t pad;
};

/** An IPv6 source range (loadBalancerSourceRanges), host bits zero. */
struct kdp_svc6_range {
	struct kdp_in6 net;
	uint8_t plen;
};

/** An IPv6 frontend: as struct kdp_svc_fe, the same picks (all; local under
 *  a Local traffic policy) and source ranges of its family. */
struct kdp_svc6_fe {
	uint32_t id;
	struct kdp_svc6_key key;
	uint8_t type;      /**< enum kdp_svc_type */
	uint8_t algo;      /**< enum kdp_svc_algo */
	uint8_t affinity;  /**< ClientIP session affinity */
	uint8_t local_only; /**< KDP_SVC_LOCAL_* */
	uint32_t affinity_timeout_s;
	uint32_t gen;      /**< changes when the backend set changes */
	uint16_t n_be;
	uint16_t n_ranges; /**< 0: any source */
	struct kdp_svc6_backend *be;
	struct kdp_svc_pick all;   /**< usable backends: active, else terminating */
	struct kdp_svc_pick local; /**< the same among local ones (local_only != 0) */
	struct kdp_svc6_range *ranges;
	char name[160];
	char port_name[64];
	char lrp[130];
};

/** Filter bit of an IPv6 frontend address. */
static inline uint32_t kdp_svc6_filter_bit(const uint8_t *addr)
{
	uint32_t w[4];

	memcpy(w, addr, sizeof(w));
	return ((w[0] ^ w[1] ^ w[2] ^ w[3]) * 0x9E3779B1u) >> 16;
}

struct kdp_svc6_table {
	uint64_t addr_bits[KDP_SVC_FILTER_BITS / 64];
	struct rte_hash *h;
	struct kdp_svc6_fe **by_id;
	uint32_t max_id;
	uint32_t n_fe;
	struct kdp_svc6_fe *fe;
	uint32_t cap;
};

/** kdp_svc_table_create() for IPv6. */
struct kdp_svc6_table *kdp_svc6_table_create(const char *name, uint32_t cap, uint32_t max_id,
					     int socket);

/** kdp_svc_table_add() for IPv6 (takes fe->be, the picks and the ranges even
 *  on error). */
int kdp_svc6_table_add(struct kdp_svc6_table *t, struct kdp_svc6_fe *fe);

/** Frees the table (NULL is fine). */
void kdp_svc6_table_free(struct kdp_svc6_table *t);

/** kdp_svc_fe_prepare() for IPv6: the picks (all, and local under a Local
 *  policy) with their Maglev tables. */
int kdp_svc6_fe_prepare(struct kdp_svc6_fe *fe, uint32_t m);

/** Frees what @p fe owns (be, picks, ranges), not @p fe itself. */
void kdp_svc6_fe_release(struct kdp_svc6_fe *fe);

/** Bulk IPv6 frontend lookup; @p out[i] is NULL when no service. */
static inline void kdp_svc6_lookup_bulk(const struct kdp_svc6_table *t,
					const struct kdp_svc6_key *keys, unsigned int n,
					struct kdp_svc6_fe **out)
{
	const void *kp[RTE_HASH_LOOKUP_BULK_MAX];
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint8_t at[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits = 0;
	unsigned int nc = 0;

	for (unsigned int i = 0; i < n; i++) {
		uint32_t b = kdp_svc6_filter_bit(keys[i].addr);

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

/** Backend index for a new flow with hash @p h from outside (@p outside: the
 *  uplink) or inside, or -1 when none is usable. */
static inline int kdp_svc6_select(const struct kdp_svc6_fe *fe, uint32_t h, bool outside)
{
	return kdp_svc_pick_select(kdp_svc_pick_of(fe->local_only, &fe->all, &fe->local, outside),
				   h);
}

/** True when a new flow from @p src (network order) may use @p fe. */
static inline bool kdp_svc6_source_allowed(const struct kdp_svc6_fe *fe, const uint8_t *src)
{
	struct kdp_in6 a;

	memcpy(&a, src, sizeof(a));
	for (uint16_t i = 0; i < fe->n_ranges; i++)
		if (kdp_addr6_in(&a, &fe->ranges[i].net, fe->ranges[i].plen))
			return true;
	return fe->n_ranges == 0;
}

/** Index of backend @p ip / @p port (network order), or -1. */
static inline int kdp_svc6_find_backend(const struct kdp_svc6_fe *fe, const uint8_t *ip,
					uint16_t port)
{
	for (uint16_t i = 0; i < fe->n_be; i++)
		if (fe->be[i].port == port && memcmp(fe->be[i].ip, ip, 16) == 0)
			return i;
	return -1;
}

/** True when backend @p b may take new flows (from either side). */
static inline int kdp_svc6_selectable(const struct kdp_svc6_fe *fe, int b)
{
	return kdp_svc_picks_have(fe->local_only, &fe->all, &fe->local, b);
}

/* ---- session affinity for IPv6 clients ---- */

/** The IPv6 pins: a struct kdp_affinity of IPv6 slots (kdp_affinity.h),
 *  the value word packing a hash of the backend (address and port) and the
 *  last-use second. */
struct kdp_affinity6 {
	struct kdp_affinity t;
};

/** A table of @p n_slots (kdp_affinity_slots()) IPv6 pins over @p mem
 *  (struct kdp_affinity6_slot; NULL: zeroed memory of its own), hash seed
 *  @p seed. NULL with rte_errno on error. */
struct kdp_affinity6 *kdp_affinity6_create(uint32_t n_slots, void *mem, uint32_t seed);
void kdp_affinity6_free(struct kdp_affinity6 *a);

/** The backend @p client is pinned to in @p fe, or -1 (none, expired, or
 *  no longer selectable). */
int kdp_affinity6_get(const struct kdp_affinity6 *a, const struct kdp_svc6_fe *fe,
		      const uint8_t *client, uint32_t now_s);

/** Pins @p client to backend @p b of @p fe. */
void kdp_affinity6_set(struct kdp_affinity6 *a, const struct kdp_svc6_fe *fe,
		       const uint8_t *client, int b, uint32_t now_s);

/** Control thread: GC of @p budget slots against table @p t. @return removed. */
uint32_t kdp_affinity6_gc(struct kdp_affinity6 *a, const struct kdp_svc6_table *t,
			  uint32_t now_s, uint32_t budget);

#endif

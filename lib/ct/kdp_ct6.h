/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Connection tracking for IPv6: the table of kdp_ct.h (one entry per flow
 * with its original and reply tuples, both keys of one lock-free rte_hash
 * whose data points at the entry, the low bit telling the direction;
 * workers look up and create, the control thread alone deletes, through
 * RCU; entries in slots that may be a section of the flow state file, taken
 * again by kdp_ct_import()), with entries of 16-byte addresses, in a table
 * of its own so IPv4 entries keep their 96 bytes and the IPv4 table its
 * size.
 *
 * An IPv6 entry is 144 bytes: two 40-byte tuples and the same struct
 * kdp_ct_state as an IPv4 one (lifetimes, counters, flags, TCP state, life
 * mark and check), moved the same way by kdp_ct_state_update().
 */
#ifndef KDP_CT6_H
#define KDP_CT6_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <rte_common.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>

#include "ct/kdp_ct.h"

/** An IPv6 flow tuple, fields in network order. ICMPv6 echo: both ports
 *  hold the identifier. */
struct kdp_ct6_key {
	uint8_t src[16];
	uint8_t dst[16];
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t pad[3];
};

struct kdp_ct6_entry {
	struct kdp_ct6_key key[2]; /**< [KDP_CT_ORIG], [KDP_CT_REPLY] */
	union {
		struct kdp_ct_state st;
		struct {
			KDP_CT_ENTRY_FIELDS
		};
	};
}; /* 144 bytes, packed: the flow state file's layout (KDP_FLOWSTORE_VERSION) */

/** An IPv6 table: a struct kdp_ct of IPv6 entries. */
struct kdp_ct6 {
	struct kdp_ct c;
};

/**
 * kdp_ct_create() for IPv6 (@p p->max_flows 64 to 2^24; @p p->slots
 * p->max_flows struct kdp_ct6_entry, or NULL).
 * @return it, or NULL with rte_errno set.
 */
struct kdp_ct6 *kdp_ct6_create(const char *name, const struct kdp_ct_params *p);

/** Frees the table (NULL is fine). */
static inline void kdp_ct6_free(struct kdp_ct6 *ct)
{
	kdp_ct_free(ct != NULL ? &ct->c : NULL);
}

/** kdp_ct_import() of an IPv6 table. */
static inline int kdp_ct6_import(struct kdp_ct6 *ct, uint64_t now_ms,
				 struct kdp_ct_import_stats *st)
{
	return kdp_ct_import(&ct->c, now_ms, st);
}

/** The reverse of a tuple. */
static inline struct kdp_ct6_key kdp_ct6_key_reverse(const struct kdp_ct6_key *k)
{
	struct kdp_ct6_key r;

	memcpy(r.src, k->dst, 16);
	memcpy(r.dst, k->src, 16);
	r.sport = k->dport;
	r.dport = k->sport;
	r.proto = k->proto;
	r.pad[0] = r.pad[1] = r.pad[2] = 0;
	return r;
}

/** kdp_ct_lookup_bulk() for IPv6. */
static inline void kdp_ct6_lookup_bulk(const struct kdp_ct6 *ct, const struct kdp_ct6_key *keys,
				       unsigned int n, struct kdp_ct6_entry **e, uint8_t *dir)
{
	const void *kp[RTE_HASH_LOOKUP_BULK_MAX];
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits = 0;

	for (unsigned int i = 0; i < n; i++)
		kp[i] = &keys[i];
	rte_hash_lookup_bulk_data(ct->c.h, kp, n, &hits, data);
	for (unsigned int i = 0; i < n; i++) {
		uintptr_t d = (hits >> i) & 1 ? (uintptr_t)data[i] : 0;
		e[i] = (struct kdp_ct6_entry *)(d & ~(uintptr_t)1);
		dir[i] = (uint8_t)(d & 1);
	}
}

/** kdp_ct_insert() for IPv6: the same results (0, -EALREADY, -ENOSPC,
 *  -EEXIST). */
static inline int kdp_ct6_insert(struct kdp_ct6 *ct, const struct kdp_ct6_key *orig,
				 const struct kdp_ct6_key *reply, uint8_t flags, uint32_t svc_id,
				 uint32_t svc_gen, uint64_t now_ms, struct kdp_ct6_entry **out)
{
	return kdp_ct_insert_any(&ct->c, orig, reply, flags, svc_id, svc_gen, now_ms,
				 (void **)out);
}

/** kdp_ct_update() for IPv6. */
static inline void kdp_ct6_update(const struct kdp_ct6 *ct, struct kdp_ct6_entry *e, uint8_t dir,
				  uint8_t tcp_flags, uint32_t len, uint64_t now_ms)
{
	kdp_ct_state_update(&ct->c.p.timeouts, &e->st, e->key[0].proto, dir, tcp_flags, len,
			    now_ms);
}

/** Control thread: GC of up to @p budget key slots. @return entries removed. */
static inline uint32_t kdp_ct6_gc(struct kdp_ct6 *ct, uint64_t now_ms, uint32_t budget)
{
	return kdp_ct_gc(&ct->c, now_ms, budget);
}

/** Control thread: deletes one entry now (both tuples). */
static inline void kdp_ct6_delete(struct kdp_ct6 *ct, struct kdp_ct6_entry *e)
{
	kdp_ct_delete(&ct->c, e);
}

/** Control thread: calls @p fn on each entry; stops when it returns != 0. */
int kdp_ct6_foreach(struct kdp_ct6 *ct, int (*fn)(const struct kdp_ct6_entry *e, void *arg),
		    void *arg);

/** Live entries. */
static inline uint64_t kdp_ct6_count(const struct kdp_ct6 *ct)
{
	return kdp_ct_count(&ct->c);
}

#endif

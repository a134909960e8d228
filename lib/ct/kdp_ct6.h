/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Connection tracking for IPv6: the same design as kdp_ct.h (one entry per
 * flow with its original and reply tuples, both keys of one lock-free
 * rte_hash whose data points at the entry, the low bit telling the
 * direction; workers look up and create, the control thread alone deletes,
 * through RCU), in a table of its own keyed by 16-byte addresses, so IPv4
 * entries keep their 96 bytes and the IPv4 table its size.
 *
 * An IPv6 entry is 144 bytes (two 40-byte tuples and the same counters,
 * lifetimes and flags as an IPv4 one); its lifetimes, flags and TCP states
 * are those of kdp_ct.h, and kdp_ct6_update() moves them the same way.
 */
#ifndef KDP_CT6_H
#define KDP_CT6_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <rte_common.h>
#include <rte_hash.h>
#include <rte_mempool.h>
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
	uint64_t expires_ms;
	uint64_t created_ms;
	uint64_t pkts[2];
	uint64_t bytes[2];
	uint32_t svc_id;   /**< service frontend id, 0 when none */
	uint32_t svc_gen;  /**< generation the backend was checked at */
	uint8_t flags;     /**< KDP_CT_F_* */
	uint8_t tcp_state; /**< enum kdp_ct_tcp_state */
	uint8_t fin;
	uint8_t nat_port_owner;
	uint32_t pad;
}; /* 144 bytes, packed in the pool */

struct kdp_ct6 {
	struct rte_hash *h;
	struct rte_mempool *pool;
	struct kdp_ct_timeouts t;
	uint32_t max_flows;
	struct rte_rcu_qsbr *qsbr;
	uint32_t gc_cursor;
	uint64_t count;     /**< live entries (atomic adds) */
	uint64_t gc_runs;
	uint64_t gc_removed;
};

/**
 * Creates an IPv6 table for @p max_flows flows (64 to 2^24) with lifetimes
 * @p t (NULL or other_ms 0: the defaults), readers @p qsbr (NULL only in
 * single-thread tests). @p name prefixes its memzones.
 * @return it, or NULL with rte_errno set.
 */
struct kdp_ct6 *kdp_ct6_create(const char *name, uint32_t max_flows, int socket,
			       const struct kdp_ct_timeouts *t, struct rte_rcu_qsbr *qsbr);

/** Frees the table and every entry (NULL is fine). */
void kdp_ct6_free(struct kdp_ct6 *ct);

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
	rte_hash_lookup_bulk_data(ct->h, kp, n, &hits, data);
	for (unsigned int i = 0; i < n; i++) {
		uintptr_t d = (hits >> i) & 1 ? (uintptr_t)data[i] : 0;
		e[i] = (struct kdp_ct6_entry *)(d & ~(uintptr_t)1);
		dir[i] = (uint8_t)(d & 1);
	}
}

/** kdp_ct_insert() for IPv6: the same results (0, -EALREADY, -ENOSPC,
 *  -EEXIST). */
int kdp_ct6_insert(struct kdp_ct6 *ct, const struct kdp_ct6_key *orig,
		   const struct kdp_ct6_key *reply, uint8_t flags, uint32_t svc_id,
		   uint32_t svc_gen, uint64_t now_ms, struct kdp_ct6_entry **out);

/** kdp_ct_update() for IPv6. */
static inline void kdp_ct6_update(const struct kdp_ct6 *ct, struct kdp_ct6_entry *e, uint8_t dir,
				  uint8_t tcp_flags, uint32_t len, uint64_t now_ms)
{
	const struct kdp_ct_timeouts *t = &ct->t;
	uint32_t life = t->other_ms;

	e->pkts[dir]++;
	e->bytes[dir] += len;
	if (dir == KDP_CT_REPLY)
		e->flags |= KDP_CT_F_SEEN_REPLY;
	if (e->key[0].proto == 6 /* TCP */) {
		if (tcp_flags & 0x04 /* RST */) {
			e->tcp_state = KDP_CT_TCP_CLOSING;
		} else {
			if (tcp_flags & 0x01 /* FIN */)
				e->fin |= (uint8_t)(1u << dir);
			if (e->fin == 3)
				e->tcp_state = KDP_CT_TCP_CLOSING;
			else if (e->tcp_state == KDP_CT_TCP_SYN &&
				 (e->flags & KDP_CT_F_SEEN_REPLY) && dir == KDP_CT_ORIG &&
				 (tcp_flags & 0x10 /* ACK */) && !(tcp_flags & 0x02 /* SYN */))
				e->tcp_state = KDP_CT_TCP_EST;
		}
		life = e->tcp_state == KDP_CT_TCP_EST	  ? t->tcp_est_ms :
		       e->tcp_state == KDP_CT_TCP_CLOSING ? t->tcp_close_ms :
							    t->tcp_syn_ms;
	}
	if (!(e->flags & KDP_CT_F_DEAD))
		e->expires_ms = now_ms + life;
}

/** Control thread: GC of up to @p budget key slots. @return entries removed. */
uint32_t kdp_ct6_gc(struct kdp_ct6 *ct, uint64_t now_ms, uint32_t budget);

/** Control thread: deletes one entry now (both tuples). */
void kdp_ct6_delete(struct kdp_ct6 *ct, struct kdp_ct6_entry *e);

/** Control thread: calls @p fn on each entry; stops when it returns != 0. */
int kdp_ct6_foreach(struct kdp_ct6 *ct, int (*fn)(const struct kdp_ct6_entry *e, void *arg),
		    void *arg);

/** Live entries. */
static inline uint64_t kdp_ct6_count(const struct kdp_ct6 *ct)
{
	return __atomic_load_n(&ct->count, __ATOMIC_RELAXED);
}

#endif

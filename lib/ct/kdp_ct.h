/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Connection tracking: one entry per flow, found from either direction.
 *
 * Each entry has two tuples, as Linux conntrack does: the original one (as
 * the client sent it) and the reply one (as the server will answer, after
 * any NAT). Both are keys of one rte_hash (lock-free reads, multi-writer
 * adds) whose data points at the entry, the low bit telling the direction.
 * Translation needs no other state: a packet matching one tuple is rewritten
 * into the reverse of the other tuple.
 *
 * Entries live in an array of slots that may be a section of the flow state
 * file (lib/flowstore), so they outlive the process: the hash is this
 * process's index over them, rebuilt by kdp_ct_import() when a kdp starts.
 * A slot says where its entry is in its life (free, live, deleted) and a
 * check of its tuples, so an import takes exactly the flows that were live
 * and intact. Free slots are handed out from a ring of their indexes with a
 * small per-lcore cache, so no allocation call per flow.
 *
 * Workers look up in bulk and create entries; the control thread is the only
 * one that deletes (incremental GC). Deleted keys and slots are reclaimed
 * through RCU (the readers' rte_rcu_qsbr), so a worker holding an entry
 * pointer in its burst is always safe. Per-entry fields are written without
 * locks by the workers that see the flow; a lost counter update between two
 * workers is possible, never a torn pointer.
 */
#ifndef KDP_CT_H
#define KDP_CT_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_common.h>
#include <rte_hash.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "common/kdp_drop.h"

/** A flow tuple, fields in network order as they sit in the packet. For
 *  ICMP echo both ports hold the identifier. */
struct kdp_ct_key {
	uint32_t src;
	uint32_t dst;
	uint16_t sport;
	uint16_t dport;
	uint8_t proto;
	uint8_t pad[3];
};

enum kdp_ct_dir {
	KDP_CT_ORIG = 0,
	KDP_CT_REPLY = 1,
};

/* Entry flags. */
#define KDP_CT_F_DNAT 0x01       /**< destination translated (service) */
#define KDP_CT_F_SNAT 0x02       /**< source translated (masquerade, NodePort) */
#define KDP_CT_F_SEEN_REPLY 0x04 /**< a packet went the reply way */
#define KDP_CT_F_HAIRPIN 0x08    /**< client and backend are the same pod */
#define KDP_CT_F_DEAD 0x10       /**< backend gone: reject, then expire */
#define KDP_CT_F_ALL 0x1f

/* Where a slot's entry is in its life (kdp_ct_entry.slot). */
#define KDP_CT_SLOT_FREE 0     /**< no flow (a fresh slot is all zeros) */
#define KDP_CT_SLOT_LIVE 0xa5  /**< a tracked flow, complete */
#define KDP_CT_SLOT_DELETED 0x5a /**< deleted, waiting for the readers' grace period */

enum kdp_ct_tcp_state {
	KDP_CT_TCP_NONE = 0, /**< not TCP */
	KDP_CT_TCP_SYN,      /**< opening */
	KDP_CT_TCP_EST,      /**< established */
	KDP_CT_TCP_CLOSING,  /**< FIN both ways or RST */
};

/* The fields of an entry after its two tuples: the same in IPv4 and IPv6
 * entries (kdp_ct6.h), so one table code serves both families.
 *   expires_ms, created_ms: flow clock (kdp_clock.h)
 *   svc_id: service frontend id, 0 when none; svc_gen: the service
 *     generation the backend was checked at
 *   flags: KDP_CT_F_*; tcp_state: enum kdp_ct_tcp_state; fin: a bit per
 *     direction that sent FIN; nat_port_owner: lcore that owns the NAT port
 *   slot: KDP_CT_SLOT_*, live once the entry is whole and its original
 *     tuple in the table
 *   check: kdp_ct_entry_check(): the tuples and svc_id */
#define KDP_CT_ENTRY_FIELDS \
	uint64_t expires_ms; \
	uint64_t created_ms; \
	uint64_t pkts[2]; \
	uint64_t bytes[2]; \
	uint32_t svc_id; \
	uint32_t svc_gen; \
	uint8_t flags; \
	uint8_t tcp_state; \
	uint8_t fin; \
	uint8_t nat_port_owner; \
	uint8_t slot; \
	uint8_t pad; \
	uint16_t check;

/** An entry's state: what follows its tuples (64 bytes). */
struct kdp_ct_state {
	KDP_CT_ENTRY_FIELDS
};

struct kdp_ct_entry {
	struct kdp_ct_key key[2]; /**< [KDP_CT_ORIG], [KDP_CT_REPLY] */
	union {
		struct kdp_ct_state st;
		struct {
			KDP_CT_ENTRY_FIELDS
		};
	};
}; /* 96 bytes, packed: the flow state file's layout (KDP_FLOWSTORE_VERSION) */

/** Lifetimes in milliseconds [Cilium's defaults]. */
struct kdp_ct_timeouts {
	uint32_t tcp_syn_ms;   /**< [60 s] */
	uint32_t tcp_est_ms;   /**< [8000 s] */
	uint32_t tcp_close_ms; /**< [10 s] after FIN both ways or RST */
	uint32_t other_ms;     /**< [60 s] UDP, ICMP */
};

struct kdp_ct_params {
	uint32_t max_flows;
	int socket;
	struct rte_rcu_qsbr *qsbr; /**< readers; NULL only in single-thread tests */
	struct kdp_ct_timeouts timeouts;
	void (*on_free)(void *arg, void *e); /**< before reuse (NAT port release); an entry of the table's family */
	void *on_free_arg;
	/** GC: true when frontend id @p svc_id is gone for good (its id waits
	 *  to be reused): an entry naming it loses the id and dies (dead,
	 *  expired). NULL: never. */
	bool (*fe_gone)(void *arg, uint32_t svc_id);
	void *fe_gone_arg;
	/** max_flows entry slots (of the table's family) that outlive the
	 *  process (a flow state file section), taken by kdp_ct_import();
	 *  NULL: the table's own memory. */
	void *slots;
};

/** Free slot indexes an lcore keeps at hand. */
#define KDP_CT_CACHE 64

/** Lost races retired and waiting for the readers' grace period at most
 *  (kdp_ct_gc()). */
#define KDP_CT_LOST_DQ 256

struct kdp_ct_cache {
	uint32_t n;
	uint32_t idx[KDP_CT_CACHE - 1];
} __rte_cache_aligned;

/** A table of either family (kdp_ct6.h wraps it for IPv6): entries are
 *  two tuples of key_len bytes and a struct kdp_ct_state. */
struct kdp_ct {
	struct rte_hash *h;
	uint8_t *slots;              /**< p.max_flows entries of entry_size bytes */
	uint32_t key_len;            /**< bytes per tuple */
	uint32_t entry_size;         /**< bytes per entry */
	uint8_t icmp_proto;          /**< IPPROTO_ICMP, IPPROTO_ICMPV6 */
	bool own_slots;
	struct rte_ring *free;       /**< indexes of free slots (MP/MC) */
	struct kdp_ct_cache *cache;  /**< per lcore: RTE_MAX_LCORE */
	struct kdp_ct_params p;
	uint32_t gc_cursor;
	uint64_t count;     /**< live entries (atomic adds) */
	uint64_t gc_runs;   /**< GC slices run */
	uint64_t gc_removed;/**< entries removed by GC */
	uint64_t gc_passes; /**< whole passes over the entry slots finished */
	uint32_t *stale;    /**< slots live in the file that the import did not track, in order */
	uint32_t n_stale, cap_stale;
	bool holding;       /**< from the import to kdp_ct_release_stale(): live slots may not be the table's */
	uint64_t gc_orphaned; /**< entries whose frontend id was cleared (p.fe_gone) */
	uint64_t gc_lost_races; /**< entries retired that lost their original tuple to the same flow's other entry */
	struct rte_rcu_qsbr_dq *lost_dq; /**< their slots, freed after the readers' grace period */
	unsigned int lost_pending; /**< slots waiting in lost_dq */
};

/** What kdp_ct_import() found in the slots. */
struct kdp_ct_import_stats {
	uint32_t live;     /**< slots marked live */
	uint32_t imported; /**< flows tracked again */
	uint32_t expired;  /**< live but past their lifetime (freed) */
	uint32_t invalid;  /**< failed the entry checks: damaged (freed) */
	uint32_t clashes;  /**< a tuple already tracked by another entry, or the
			    *   flow's other entry with more packets (freed) */
	uint32_t no_room;  /**< no room left in this table (a smaller one) */
	uint64_t ns;       /**< time it took */
};

/**
 * Creates an IPv4 table for @p p->max_flows flows; @p name prefixes its
 * memzones.
 * With @p p->slots, the table is empty until kdp_ct_import() takes the
 * flows those slots hold.
 * @return it, or NULL with rte_errno set (EINVAL, ENOMEM, EEXIST).
 */
struct kdp_ct *kdp_ct_create(const char *name, const struct kdp_ct_params *p);

/**
 * kdp_ct_create() for entries of two @p key_len-byte tuples and a struct
 * kdp_ct_state (@p entry_size bytes), ICMP being protocol @p icmp_proto:
 * the table of another family (kdp_ct6.h).
 */
struct kdp_ct *kdp_ct_create_any(const char *name, const struct kdp_ct_params *p,
				 uint32_t key_len, uint32_t entry_size, uint8_t icmp_proto);

/**
 * Takes the live, intact, unexpired entries of the table's slots (as a
 * previous kdp left them) into the hash, and makes the free slots free for
 * this table. It writes nothing into the slots: a live slot it does not
 * track (expired, damaged, its tuple already tracked, no room) is held out
 * of use until kdp_ct_release_stale(), so a slot in the free ring never
 * says live. Of two entries of one original tuple (two workers created
 * the flow at once), the one with more packets is tracked. Call once,
 * before any worker uses the table.
 * @return 0, or -ENOMEM.
 */
int kdp_ct_import(struct kdp_ct *ct, uint64_t now_ms, struct kdp_ct_import_stats *st);

/**
 * Marks free in the file the slots kdp_ct_import() found live but did not
 * track, and puts them to use. Until then they are out of use, a next
 * import would consider them again, and the GC leaves alone every live
 * slot the table does not find. Call once nothing may go back to the
 * previous kdp (a start; a hand-over committed), on the control thread.
 */
void kdp_ct_release_stale(struct kdp_ct *ct);

/**
 * Copies the live, intact, unexpired entries of another table's @p n slots
 * @p src (a flow state file of other sizes) into this one, after
 * kdp_ct_import(). Of one flow's two live entries (a race), the one with
 * more packets is kept, in the other's slot when the table is full. Stats
 * are added to @p st. No worker may use the table meanwhile.
 */
void kdp_ct_import_from(struct kdp_ct *ct, const void *src, uint32_t n, uint64_t now_ms,
			struct kdp_ct_import_stats *st);

/** Frees the table (its own slots too). No reader may use it any more. */
void kdp_ct_free(struct kdp_ct *ct);

/** The check a live entry @p e of table @p ct carries: a CRC of its
 *  tuples and svc_id. */
uint16_t kdp_ct_entry_check(const struct kdp_ct *ct, const void *e);

/** The state of entry @p e (of either family) of table @p ct. */
static inline struct kdp_ct_state *kdp_ct_state_of(const struct kdp_ct *ct, const void *e)
{
	return (struct kdp_ct_state *)((uintptr_t)e + 2 * ct->key_len);
}

/** Default lifetimes. */
void kdp_ct_timeouts_default(struct kdp_ct_timeouts *t);

/** The reverse of a tuple (what the other side sends). */
static inline struct kdp_ct_key kdp_ct_key_reverse(const struct kdp_ct_key *k)
{
	struct kdp_ct_key r = {
		.src = k->dst, .dst = k->src, .sport = k->dport,
		.dport = k->sport, .proto = k->proto,
	};
	return r;
}

/**
 * Fast path: looks up @p n (≤ 64) tuples at once. @p e[i] gets the entry or
 * NULL, @p dir[i] the direction the tuple matched. Lock-free, any worker.
 */
static inline void kdp_ct_lookup_bulk(const struct kdp_ct *ct,
				      const struct kdp_ct_key *keys,
				      unsigned int n, struct kdp_ct_entry **e,
				      uint8_t *dir)
{
	const void *kp[RTE_HASH_LOOKUP_BULK_MAX];
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits = 0;

	for (unsigned int i = 0; i < n; i++)
		kp[i] = &keys[i];
	rte_hash_lookup_bulk_data(ct->h, kp, n, &hits, data);
	for (unsigned int i = 0; i < n; i++) {
		uintptr_t d = (hits >> i) & 1 ? (uintptr_t)data[i] : 0;
		e[i] = (struct kdp_ct_entry *)(d & ~(uintptr_t)1);
		dir[i] = (uint8_t)(d & 1);
	}
}

/**
 * Fast path: brings in the hash buckets of @p n (≤ 64) tuples about to be
 * inserted (the reply tuples of a burst's new flows), all at once, so that
 * the inserts' clash checks and adds find them in cache instead of waiting
 * for memory once per flow. Changes nothing: a hint, any worker.
 */
static inline void kdp_ct_prefetch_bulk(const struct kdp_ct *ct, const void *const *keys,
					unsigned int n)
{
	void *data[RTE_HASH_LOOKUP_BULK_MAX];
	uint64_t hits;

	if (n > 0)
		rte_hash_lookup_bulk_data(ct->h, (const void **)(uintptr_t)keys, n, &hits, data);
}

/**
 * Creates the entry of a new flow with tuples @p orig and @p reply, made by
 * service frontend @p svc_id at generation @p svc_gen (0: none).
 * @return 0 with *@p out set; -EALREADY with *@p out set to the flow that
 * @p orig already is (an earlier packet of the same burst created it); -ENOSPC
 * when the table is full (count it as ct_full); -EEXIST when a tuple is
 * already tracked as something else (a clash with another flow's
 * translation). Any worker.
 */
int kdp_ct_insert_any(struct kdp_ct *ct, const void *orig, const void *reply, uint8_t flags,
		      uint32_t svc_id, uint32_t svc_gen, uint64_t now_ms, void **out);

/** kdp_ct_insert_any() of IPv4 tuples. */
static inline int kdp_ct_insert(struct kdp_ct *ct, const struct kdp_ct_key *orig,
				const struct kdp_ct_key *reply, uint8_t flags, uint32_t svc_id,
				uint32_t svc_gen, uint64_t now_ms, struct kdp_ct_entry **out)
{
	return kdp_ct_insert_any(ct, orig, reply, flags, svc_id, svc_gen, now_ms, (void **)out);
}

/**
 * Accounts one packet of @p len bytes going direction @p dir, with TCP flags
 * @p tcp_flags (0 for other protocols), to state @p e of a flow of protocol
 * @p proto, and moves the lifetime on (timeouts @p t). Either family.
 */
static inline void kdp_ct_state_update(const struct kdp_ct_timeouts *t, struct kdp_ct_state *e,
				       uint8_t proto, uint8_t dir, uint8_t tcp_flags,
				       uint32_t len, uint64_t now_ms)
{
	uint32_t life = t->other_ms;

	e->pkts[dir]++;
	e->bytes[dir] += len;
	if (dir == KDP_CT_REPLY)
		e->flags |= KDP_CT_F_SEEN_REPLY;
	if (proto == 6 /* TCP */) {
		if (tcp_flags & 0x04 /* RST */) {
			e->tcp_state = KDP_CT_TCP_CLOSING;
		} else {
			if (tcp_flags & 0x01 /* FIN */)
				e->fin |= (uint8_t)(1u << dir);
			if (e->fin == 3)
				e->tcp_state = KDP_CT_TCP_CLOSING;
			else if (e->tcp_state == KDP_CT_TCP_SYN &&
				 (e->flags & KDP_CT_F_SEEN_REPLY) &&
				 dir == KDP_CT_ORIG && (tcp_flags & 0x10 /* ACK */) &&
				 !(tcp_flags & 0x02 /* SYN */))
				e->tcp_state = KDP_CT_TCP_EST;
		}
		life = e->tcp_state == KDP_CT_TCP_EST	  ? t->tcp_est_ms :
		       e->tcp_state == KDP_CT_TCP_CLOSING ? t->tcp_close_ms :
							    t->tcp_syn_ms;
	}
	if (!(e->flags & KDP_CT_F_DEAD))
		e->expires_ms = now_ms + life;
}

/** kdp_ct_state_update() of an IPv4 entry. */
static inline void kdp_ct_update(const struct kdp_ct *ct, struct kdp_ct_entry *e,
				 uint8_t dir, uint8_t tcp_flags, uint32_t len,
				 uint64_t now_ms)
{
	kdp_ct_state_update(&ct->p.timeouts, &e->st, e->key[0].proto, dir, tcp_flags, len, now_ms);
}

/**
 * Control thread: examines up to @p budget entry slots (of p.max_flows)
 * from where the last call stopped and deletes expired entries; an entry naming a frontend id
 * that p.fe_gone says is gone loses it (svc_id 0) and is marked dead and
 * expired, as a flow of a deleted service. Counts whole passes
 * (gc_passes). Once the import's slots are released, an expired entry the
 * table does not find by its original tuple lost it to the same flow
 * created at once on another worker: it is retired (its reply tuple
 * deleted if it still names it, its slot freed after a grace period) and
 * counted in gc_lost_races. @return entries removed (lost races included).
 */
uint32_t kdp_ct_gc(struct kdp_ct *ct, uint64_t now_ms, uint32_t budget);

/** Control thread: deletes entry @p e (of the table's family) now (both
 *  tuples). */
void kdp_ct_delete(struct kdp_ct *ct, void *e);

/** Control thread: calls @p fn on each entry (of the table's family);
 *  stops when it returns != 0. */
int kdp_ct_foreach_any(struct kdp_ct *ct, int (*fn)(const void *e, void *arg), void *arg);

/** kdp_ct_foreach_any() of an IPv4 table. */
int kdp_ct_foreach(struct kdp_ct *ct,
		   int (*fn)(const struct kdp_ct_entry *e, void *arg), void *arg);

/** Live entries. */
static inline uint64_t kdp_ct_count(const struct kdp_ct *ct)
{
	return __atomic_load_n(&ct->count, __ATOMIC_RELAXED);
}

/** Name of a TCP state ("established"). */
const char *kdp_ct_tcp_state_name(uint8_t s);

#endif

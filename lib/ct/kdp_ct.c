/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/kdp_hash.h"
#include <rte_prefetch.h>
#include <rte_random.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <netinet/in.h>

#include "kdp_ct.h"

void kdp_ct_timeouts_default(struct kdp_ct_timeouts *t)
{
	t->tcp_syn_ms = 60 * 1000;
	t->tcp_est_ms = 8000 * 1000;
	t->tcp_close_ms = 10 * 1000;
	t->other_ms = 60 * 1000;
}

_Static_assert(sizeof(struct kdp_ct_state) == 64, "entry state layout");
_Static_assert(offsetof(struct kdp_ct_key, proto) == sizeof(struct kdp_ct_key) - 4,
	       "the protocol where key_proto() looks for it");
_Static_assert(offsetof(struct kdp_ct_entry, st) == 2 * sizeof(struct kdp_ct_key) &&
	       offsetof(struct kdp_ct_entry, expires_ms) == offsetof(struct kdp_ct_entry, st) &&
	       offsetof(struct kdp_ct_entry, check) ==
		       offsetof(struct kdp_ct_entry, st) + offsetof(struct kdp_ct_state, check),
	       "entry = tuples + state");

static inline void *entry_at_index(const struct kdp_ct *ct, uint32_t idx)
{
	return ct->slots + (size_t)idx * ct->entry_size;
}

static inline uint32_t entry_index(const struct kdp_ct *ct, const void *e)
{
	return (uint32_t)(((const uint8_t *)e - ct->slots) / ct->entry_size);
}

uint16_t kdp_ct_entry_check(const struct kdp_ct *ct, const void *e)
{
	uint32_t c = kdp_hash_crc(e, 2 * ct->key_len, 0x6b6470);

	c = rte_hash_crc_4byte(kdp_ct_state_of(ct, e)->svc_id, c);
	return (uint16_t)(c ^ (c >> 16));
}

/* Brings slot @p idx's cache lines in for writing: the next insert of
 * this lcore fills it (a store to a cold line costs a memory round trip;
 * a new flow comes every few hundred cycles at most, time enough). */
static inline void slot_prefetch(const struct kdp_ct *ct, uint32_t idx)
{
	const uint8_t *e = entry_at_index(ct, idx);

	rte_prefetch0_write(e);
	rte_prefetch0_write(e + RTE_CACHE_LINE_SIZE);
	rte_prefetch0_write(e + ct->entry_size - 1);
}

/* A free slot, from this lcore's cache (refilled from the ring in bursts);
 * NULL when none is left. The next one is prefetched. */
static void *slot_get(struct kdp_ct *ct)
{
	unsigned int lc = rte_lcore_id();
	uint32_t idx;

	if (lc < RTE_MAX_LCORE) {
		struct kdp_ct_cache *c = &ct->cache[lc];

		if (c->n == 0)
			c->n = rte_ring_mc_dequeue_burst_elem(ct->free, c->idx, sizeof(uint32_t),
							      RTE_DIM(c->idx) / 2, NULL);
		if (c->n == 0)
			return NULL;
		idx = c->idx[--c->n];
		if (c->n > 0)
			slot_prefetch(ct, c->idx[c->n - 1]);
	} else if (rte_ring_mc_dequeue_elem(ct->free, &idx, sizeof(idx)) != 0) {
		return NULL;
	}
	return entry_at_index(ct, idx);
}

/* Gives slot @p e back: free in the file first, then reusable. */
static void slot_put(struct kdp_ct *ct, void *e)
{
	uint32_t idx = entry_index(ct, e);

	__atomic_store_n(&kdp_ct_state_of(ct, e)->slot, KDP_CT_SLOT_FREE, __ATOMIC_RELEASE);
	rte_ring_mp_enqueue_elem(ct->free, &idx, sizeof(idx));
}

/* Called by the hash's RCU defer queue once no reader can see a deleted
 * key: the original-direction key owns the entry. */
static void free_key_data(void *p, void *key_data)
{
	struct kdp_ct *ct = p;
	uintptr_t d = (uintptr_t)key_data;

	if (d & 1)
		return;
	if (ct->p.on_free)
		ct->p.on_free(ct->p.on_free_arg, (void *)d);
	slot_put(ct, (void *)d);
}

/* Called by the lost-race defer queue once no reader can hold the entry
 * of slot index @p idx. */
static void free_lost(void *p, void *idx, unsigned int n)
{
	struct kdp_ct *ct = p;

	for (unsigned int i = 0; i < n; i++) {
		void *e = entry_at_index(ct, ((uint32_t *)idx)[i]);

		if (ct->p.on_free)
			ct->p.on_free(ct->p.on_free_arg, e);
		slot_put(ct, e);
	}
}

struct kdp_ct *kdp_ct_create(const char *name, const struct kdp_ct_params *p)
{
	return kdp_ct_create_any(name, p, sizeof(struct kdp_ct_key), sizeof(struct kdp_ct_entry),
				 IPPROTO_ICMP);
}

struct kdp_ct *kdp_ct_create_any(const char *name, const struct kdp_ct_params *p,
				 uint32_t key_len, uint32_t entry_size, uint8_t icmp_proto)
{
	char n[RTE_MEMZONE_NAMESIZE];
	struct rte_hash_parameters hp = {
		.key_len = key_len,
		.hash_func = kdp_hash_crc,
		/* Keys come from the network: a seed per run. */
		.hash_func_init_val = (uint32_t)rte_rand(),
		.socket_id = p->socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct kdp_ct *ct;

	if (p->max_flows < 64 || p->max_flows > (1u << 26) || key_len > 64 ||
	    entry_size != 2 * key_len + sizeof(struct kdp_ct_state)) {
		rte_errno = EINVAL;
		return NULL;
	}
	ct = rte_zmalloc_socket("kdp_ct", sizeof(*ct), 0, p->socket);
	if (ct == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ct->p = *p;
	ct->key_len = key_len;
	ct->entry_size = entry_size;
	ct->icmp_proto = icmp_proto;
	/* Slots of a file: until released, a live slot may be another kdp's. */
	ct->holding = true;
	if (ct->p.timeouts.other_ms == 0)
		kdp_ct_timeouts_default(&ct->p.timeouts);
	snprintf(n, sizeof(n), "%s_h", name);
	hp.name = n;
	/* Two tuples per flow. rte_hash makes one 8-key bucket per 8 entries
	 * rounded up to a power of two: for 2 * maxFlows just below one (the
	 * default 262144 flows, 1M), a full table would fill the buckets, and
	 * near that every insert runs the cuckoo search (measured: 95 % full,
	 * 16 % of a new flow's cycles in rte_hash_cuckoo_make_space_mw). Then
	 * ask for one more: twice the buckets (at most half full), for the
	 * memory of the buckets, the extra buckets and the free-slot ring,
	 * +40 MiB per 1M flows; the key slots stay what they were. */
	hp.entries = 2 * p->max_flows;
	if (hp.entries > rte_align32pow2(hp.entries) / 4 * 3)
		hp.entries = rte_align32pow2(hp.entries) + 1;
	ct->h = rte_hash_create(&hp);
	if (ct->h == NULL)
		goto fail;
	/* Entries are packed (96 bytes, 144 for IPv6): an entry spans two
	 * or three cache lines either way, and 1M flows take 96 MiB. The free
	 * ring holds 4-byte indexes, so it costs 8 MiB per 1M flows (a power
	 * of two above). */
	ct->slots = p->slots;
	if (ct->slots == NULL) {
		ct->slots = rte_zmalloc_socket("kdp_ct_slots", (size_t)entry_size * p->max_flows,
					       0, p->socket);
		ct->own_slots = true;
	}
	snprintf(n, sizeof(n), "%s_f", name);
	ct->free = rte_ring_create_elem(n, sizeof(uint32_t), rte_align32pow2(p->max_flows + 1),
					p->socket, 0);
	ct->cache = rte_zmalloc_socket("kdp_ct_cache", sizeof(*ct->cache) * RTE_MAX_LCORE,
				       RTE_CACHE_LINE_SIZE, p->socket);
	if (ct->slots == NULL || ct->free == NULL || ct->cache == NULL)
		goto fail;
	if (p->qsbr != NULL) {
		struct rte_hash_rcu_config rc = {
			.v = p->qsbr,
			.mode = RTE_HASH_QSBR_MODE_DQ,
			.key_data_ptr = ct,
			.free_key_data_func = free_key_data,
			/* Workers pass a quiescent state every few µs, so
			 * deleted keys come back long before an eighth of the
			 * keys waits (the default, all of them, costs 64 MiB
			 * per 1M flows). */
			.dq_size = hp.entries / 8,
		};
		char dqn[RTE_RING_NAMESIZE];
		struct rte_rcu_qsbr_dq_parameters dp = {
			.name = dqn,
			.flags = RTE_RCU_QSBR_DQ_MT_UNSAFE,
			/* Lost races are rare (one flow's first packets on
			 * two workers at once); a GC slice frees what waited
			 * long enough, and puts off a retirement when full. */
			.size = KDP_CT_LOST_DQ,
			.esize = sizeof(uint32_t),
			.trigger_reclaim_limit = KDP_CT_LOST_DQ + 1,
			.free_fn = free_lost,
			.p = ct,
			.v = p->qsbr,
		};

		snprintf(dqn, sizeof(dqn), "%s_l", name);
		if (rte_hash_rcu_qsbr_add(ct->h, &rc) != 0)
			goto fail;
		ct->lost_dq = rte_rcu_qsbr_dq_create(&dp);
		if (ct->lost_dq == NULL)
			goto fail;
	}
	if (ct->own_slots) {
		if (kdp_ct_import(ct, 0, NULL) != 0)
			goto fail;
		kdp_ct_release_stale(ct);
	}
	return ct;
fail: {
	int err = rte_errno ? rte_errno : ENOMEM;
	kdp_ct_free(ct);
	rte_errno = err;
	return NULL;
}
}

void kdp_ct_free(struct kdp_ct *ct)
{
	if (ct == NULL)
		return;
	/* No reader is left: what waits in the defer queues is freed now
	 * (a queue whose reader never passed a quiescent state is left). */
	if (ct->lost_dq != NULL)
		rte_rcu_qsbr_dq_delete(ct->lost_dq);
	rte_hash_free(ct->h);
	rte_ring_free(ct->free);
	rte_free(ct->cache);
	if (ct->own_slots)
		rte_free(ct->slots);
	free(ct->stale);
	rte_free(ct);
}

/* Keeps slot @p idx, live in the file but not tracked, out of use until
 * kdp_ct_release_stale(). @return false when there is no room to. */
static bool keep_stale(struct kdp_ct *ct, uint32_t idx)
{
	if (ct->n_stale == ct->cap_stale) {
		uint32_t cap = ct->cap_stale ? ct->cap_stale * 2 : 64;
		uint32_t *l = realloc(ct->stale, sizeof(*l) * cap);

		if (l == NULL)
			return false;
		ct->stale = l;
		ct->cap_stale = cap;
	}
	ct->stale[ct->n_stale++] = idx;
	return true;
}

void kdp_ct_release_stale(struct kdp_ct *ct)
{
	for (uint32_t i = 0; i < ct->n_stale; i++)
		__atomic_store_n(&kdp_ct_state_of(ct, entry_at_index(ct, ct->stale[i]))->slot,
				 KDP_CT_SLOT_FREE, __ATOMIC_RELEASE);
	/* The ring holds every slot: there is room for them. */
	if (ct->n_stale > 0)
		rte_ring_mp_enqueue_bulk_elem(ct->free, ct->stale, sizeof(uint32_t), ct->n_stale,
					      NULL);
	free(ct->stale);
	ct->stale = NULL;
	ct->n_stale = ct->cap_stale = 0;
	ct->holding = false;
}

/* The protocol of tuple @p dir of entry @p e: the tuples of both families
 * end with proto and three bytes of padding. */
static inline uint8_t key_proto(const struct kdp_ct *ct, const void *e, unsigned int dir)
{
	return ((const uint8_t *)e)[(dir + 1) * ct->key_len - 4];
}

/* A live entry whose fields make sense. */
static bool entry_intact(const struct kdp_ct *ct, const void *entry)
{
	const struct kdp_ct_state *e = kdp_ct_state_of(ct, entry);
	uint8_t pr = key_proto(ct, entry, 0);

	return e->check == kdp_ct_entry_check(ct, entry) && pr == key_proto(ct, entry, 1) &&
	       (pr == IPPROTO_TCP || pr == IPPROTO_UDP || pr == ct->icmp_proto) &&
	       (e->flags & ~KDP_CT_F_ALL) == 0 && e->tcp_state <= KDP_CT_TCP_CLOSING &&
	       (pr == IPPROTO_TCP || e->tcp_state == KDP_CT_TCP_NONE) && e->fin <= 3;
}

/* Live entry @p e, whose original tuple entry @p x already tracks: the
 * two entries one flow gets when two workers create it at once, both still
 * live (the GC had not retired the loser when the previous kdp stopped).
 * @return true when @p e is the one to keep: the winner took every packet
 * after the race, so it has more; on a tie, the first one stays. */
static bool race_winner(const struct kdp_ct *ct, const void *e, const void *x)
{
	const struct kdp_ct_state *se = kdp_ct_state_of(ct, e), *sx = kdp_ct_state_of(ct, x);

	return se->pkts[0] + se->pkts[1] > sx->pkts[0] + sx->pkts[1];
}

/* What already tracks the original tuple of live entry @p e: 0 nothing;
 * 1, *@p x the entry of a race @p e won; -EEXIST another flow (the tuple is
 * its reply tuple) or a race's winner. */
static int tracked_before(const struct kdp_ct *ct, const void *e, void **x)
{
	if (rte_hash_lookup_data(ct->h, e, x) < 0)
		return 0;
	/* *x with its low bit set: the tuple is another flow's reply tuple. */
	return ((uintptr_t)*x & 1) || !race_winner(ct, e, *x) ? -EEXIST : 1;
}

/* Gives the flow of entry @p x (its original tuple tracked, reply tuple
 * @p x1) to live entry @p e of the same original tuple and reply tuple
 * @p k1: both tuples name @p e afterwards, @p x none. 0, or -EEXIST when
 * @p k1 is another flow's, or -ENOSPC (nothing changed then). */
static int take_over_flow(struct kdp_ct *ct, void *e, const void *k1, void *x, const void *x1)
{
	bool same_reply = memcmp(k1, x1, ct->key_len) == 0;
	int ret;

	if (!same_reply && rte_hash_lookup(ct->h, k1) >= 0)
		return -EEXIST;
	ret = rte_hash_add_key_data(ct->h, k1, (void *)((uintptr_t)e | 1));
	if (ret != 0)
		return ret;
	/* Replacing a key's data frees nothing; x's reply tuple, deleted,
	 * is not the owner's key either: x is the caller's to give back. */
	rte_hash_add_key_data(ct->h, e, e);
	if (!same_reply)
		rte_hash_del_key(ct->h, x1);
	return 0;
}

/* Indexes both tuples of live entry @p e; 0, or -EEXIST / -ENOSPC. When
 * @p e is the winner of a race whose loser was indexed first, the loser
 * gives its flow to @p e and is returned in *@p lost (0 then, and the
 * count stays). */
static int index_entry(struct kdp_ct *ct, void *e, void **lost)
{
	const uint8_t *k0 = e, *k1 = k0 + ct->key_len;
	void *x;
	int ret;

	*lost = NULL;
	ret = tracked_before(ct, e, &x);
	if (ret < 0)
		return ret;
	if (ret == 1) {
		ret = take_over_flow(ct, e, k1, x, (const uint8_t *)x + ct->key_len);
		if (ret == 0)
			*lost = x;
		return ret;
	}
	if (rte_hash_lookup(ct->h, k1) >= 0)
		return -EEXIST;
	ret = rte_hash_add_key_data(ct->h, k0, e);
	if (ret != 0)
		return ret;
	ret = rte_hash_add_key_data(ct->h, k1, (void *)((uintptr_t)e | 1));
	if (ret != 0) {
		/* Not as the owner: its deferred free must not give e back
		 * (the caller does). */
		rte_hash_add_key_data(ct->h, k0, (void *)((uintptr_t)e | 1));
		rte_hash_del_key(ct->h, k0);
		return ret;
	}
	ct->count++;
	return 0;
}

/* Indexes live entry @p e, counted in @p st: imported, or a clash or no
 * room. @return true when imported; *@p lost is then the entry it took
 * the flow from (counted as the clash), or NULL. */
static bool index_counted(struct kdp_ct *ct, void *e, struct kdp_ct_import_stats *st,
			  void **lost)
{
	int ret = index_entry(ct, e, lost);

	if (ret == 0 && *lost == NULL)
		st->imported++;
	else if (ret == 0 || ret == -EEXIST)
		st->clashes++;
	else
		st->no_room++;
	return ret == 0;
}

/* Into a full table, from a file of other sizes: live entry @p s, when it
 * won a race whose loser was copied in first, takes the loser's slot (no
 * worker runs during an import), counted as index_counted() counts a
 * takeover; otherwise counted as a clash or no room. */
static void take_over_in_place(struct kdp_ct *ct, const void *s, struct kdp_ct_import_stats *st)
{
	const uint8_t *k1 = (const uint8_t *)s + ct->key_len;
	void *x;
	int ret;

	ret = tracked_before(ct, s, &x);
	if (ret == 0) {
		st->no_room++;
		return;
	}
	if (ret == 1) {
		/* The loser's reply tuple is deleted (by its bytes, still
		 * in x) before x becomes a copy of the winner. */
		ret = take_over_flow(ct, x, k1, x, (const uint8_t *)x + ct->key_len);
		if (ret == 0)
			memcpy(x, s, ct->entry_size);
	}
	if (ret == 0 || ret == -EEXIST)
		st->clashes++;
	else
		st->no_room++;
}

int kdp_ct_import(struct kdp_ct *ct, uint64_t now_ms, struct kdp_ct_import_stats *st)
{
	struct kdp_ct_import_stats dummy;
	uint32_t batch[256], nb = 0;
	uint64_t t0 = rte_rdtsc();

	if (st == NULL)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	ct->holding = true;
	for (uint32_t i = 0; i < ct->p.max_flows; i++) {
		void *e = entry_at_index(ct, i), *lost;
		uint32_t held = i;

		if (kdp_ct_state_of(ct, e)->slot == KDP_CT_SLOT_LIVE) {
			st->live++;
			if (!entry_intact(ct, e))
				st->invalid++;
			else if (kdp_ct_state_of(ct, e)->expires_ms <= now_ms)
				st->expired++;
			else if (index_counted(ct, e, st, &lost)) {
				if (lost == NULL)
					continue;
				held = entry_index(ct, lost); /* a race's loser, indexed first */
			}
			/* Live in the file and not tracked: out of use until
			 * kdp_ct_release_stale() marks it free. The import
			 * writes nothing, so a kdp that hands over can go on
			 * if the new one gives up; and no slot of the free
			 * ring says live (the GC tells a lost race so). */
			if (!keep_stale(ct, held))
				return -ENOMEM;
			continue;
		}
		batch[nb++] = i;
		if (nb == RTE_DIM(batch)) {
			if (rte_ring_enqueue_bulk_elem(ct->free, batch, sizeof(uint32_t), nb,
						       NULL) != nb)
				return -ENOMEM;
			nb = 0;
		}
	}
	if (nb > 0 && rte_ring_enqueue_bulk_elem(ct->free, batch, sizeof(uint32_t), nb, NULL) != nb)
		return -ENOMEM;
	st->ns = (rte_rdtsc() - t0) * 1000000000ull / rte_get_tsc_hz();
	return 0;
}

void kdp_ct_import_from(struct kdp_ct *ct, const void *src, uint32_t n, uint64_t now_ms,
			struct kdp_ct_import_stats *st)
{
	uint64_t t0 = rte_rdtsc();

	for (uint32_t i = 0; i < n; i++) {
		const void *s = (const uint8_t *)src + (size_t)i * ct->entry_size;
		void *e, *lost;

		if (kdp_ct_state_of(ct, s)->slot != KDP_CT_SLOT_LIVE)
			continue;
		st->live++;
		if (!entry_intact(ct, s)) {
			st->invalid++;
			continue;
		}
		if (kdp_ct_state_of(ct, s)->expires_ms <= now_ms) {
			st->expired++;
			continue;
		}
		e = kdp_ct_count(ct) < ct->p.max_flows ? slot_get(ct) : NULL;
		if (e == NULL) {
			take_over_in_place(ct, s, st);
			continue;
		}
		kdp_ct_state_of(ct, e)->slot = KDP_CT_SLOT_FREE;
		memcpy(e, s, ct->entry_size);
		if (index_counted(ct, e, st, &lost)) {
			if (lost != NULL) /* a race's loser, copied first: no key names it */
				slot_put(ct, lost);
			continue;
		}
		slot_put(ct, e);
	}
	st->ns += (rte_rdtsc() - t0) * 1000000000ull / rte_get_tsc_hz();
}

/* Reply tuple @p reply (hash @p sr), if it names another entry of the
 * flow of original tuple @p orig than @p to, names @p to instead: the
 * entry that kept the original tuple. (An entry's memory stays mapped: a
 * slot reused meanwhile has other tuples.) */
static void repoint_reply(struct kdp_ct *ct, const void *reply, hash_sig_t sr, const void *orig,
			  void *to)
{
	void *d;

	if (rte_hash_lookup_with_hash_data(ct->h, reply, sr, &d) >= 0 && ((uintptr_t)d & 1) &&
	    d != (void *)((uintptr_t)to | 1) &&
	    memcmp((const void *)((uintptr_t)d & ~(uintptr_t)1), orig, ct->key_len) == 0)
		rte_hash_add_key_with_hash_data(ct->h, reply, sr, (void *)((uintptr_t)to | 1));
}

int kdp_ct_insert_any(struct kdp_ct *ct, const void *orig, const void *reply, uint8_t flags,
		      uint32_t svc_id, uint32_t svc_gen, uint64_t now_ms, void **out)
{
	hash_sig_t so = rte_hash_hash(ct->h, orig), sr;
	struct kdp_ct_state *st;
	uint8_t *e;
	void *found;
	int ret;

	/* The flow may be new to the burst's bulk lookup and yet exist: an
	 * earlier packet of the burst (segments of one super-frame, a UDP
	 * client's back-to-back datagrams) created it. */
	if (rte_hash_lookup_with_hash_data(ct->h, orig, so, &found) >= 0) {
		if ((uintptr_t)found & 1)
			return -EEXIST; /* it is another flow's reply */
		*out = found;
		return -EALREADY;
	}
	if (kdp_ct_count(ct) >= ct->p.max_flows || (e = slot_get(ct)) == NULL)
		return -ENOSPC;
	sr = rte_hash_hash(ct->h, reply);
	if (rte_hash_lookup_with_hash(ct->h, reply, sr) >= 0) {
		slot_put(ct, e);
		return -EEXIST;
	}
	st = kdp_ct_state_of(ct, e);
	/* Not live while it is filled (a slot of the free ring is free or
	 * deleted in the file). */
	__atomic_store_n(&st->slot, KDP_CT_SLOT_FREE, __ATOMIC_RELAXED);
	memset(e, 0, 2 * ct->key_len + offsetof(struct kdp_ct_state, slot));
	memcpy(e, orig, ct->key_len);
	memcpy(e + ct->key_len, reply, ct->key_len);
	st->flags = flags;
	st->svc_id = svc_id;
	st->svc_gen = svc_gen;
	st->created_ms = now_ms;
	st->expires_ms = now_ms + ct->p.timeouts.other_ms;
	st->tcp_state = key_proto(ct, e, 0) == IPPROTO_TCP ? KDP_CT_TCP_SYN : KDP_CT_TCP_NONE;
	st->nat_port_owner = (uint8_t)rte_lcore_id();
	st->pad = 0;
	st->check = kdp_ct_entry_check(ct, e);
	/* Whole before a reader finds it (the add publishes it). */
	ret = rte_hash_add_key_with_hash_data(ct->h, orig, so, e);
	if (ret != 0) {
		slot_put(ct, e);
		return ret == -ENOSPC ? -ENOSPC : -EEXIST;
	}
	__atomic_fetch_add(&ct->count, 1, __ATOMIC_RELAXED);
	/* Live in the file once tracked: a slot a worker gives back never
	 * says live, so the GC never acts on a slot being reused. */
	__atomic_store_n(&st->slot, KDP_CT_SLOT_LIVE, __ATOMIC_RELEASE);
	ret = rte_hash_add_key_with_hash_data(ct->h, reply, sr, (void *)((uintptr_t)e | 1));
	if (ret != 0) {
		/* A reader may hold e already: let the GC retire it, in a
		 * second (not while the same flow's other inserts may run). */
		st->flags |= KDP_CT_F_DEAD;
		__atomic_store_n(&st->expires_ms, now_ms + 1000, __ATOMIC_RELEASE);
		return ret == -ENOSPC ? -ENOSPC : -EEXIST;
	}
	/* The same flow created at this instant on another worker: the later
	 * add of the original tuple won (the GC retires the other entry).
	 * With the same reply tuple (no SNAT port of our own), our later add
	 * of it would send the winner's replies to us: they go to the
	 * winner's entry. One lookup of lines still in cache; again while
	 * the owner changes (three workers). */
	for (void *owner = e; owner != NULL;) {
		if (rte_hash_lookup_with_hash_data(ct->h, orig, so, &found) < 0 ||
		    ((uintptr_t)found & 1) || found == owner)
			break;
		owner = found;
		if (memcmp((const uint8_t *)owner + ct->key_len, reply, ct->key_len) != 0)
			break;
		repoint_reply(ct, reply, sr, orig, owner);
	}
	*out = e;
	return 0;
}

static bool retire_lost(struct kdp_ct *ct, void *e);

/* kdp_ct_delete(); @return false when put off (a lost race whose defer
 * queue is full: a next GC pass finds it again). */
static bool delete_entry(struct kdp_ct *ct, void *e)
{
	uint8_t k0[64], k1[64];
	void *d;

	/* Its original tuple taken by the same flow's entry another worker
	 * made at that instant: that one stays, and e goes as a lost race. */
	if (rte_hash_lookup_data(ct->h, e, &d) < 0 || d != e)
		return retire_lost(ct, e);
	memcpy(k0, e, ct->key_len);
	memcpy(k1, (uint8_t *)e + ct->key_len, ct->key_len);
	/* Not live in the file any more: a kdp started after a crash must not
	 * track it again (a SYN renewal may make the same tuple anew). */
	__atomic_store_n(&kdp_ct_state_of(ct, e)->slot, KDP_CT_SLOT_DELETED, __ATOMIC_RELEASE);
	/* Reply first: the original tuple's deferred free returns the entry,
	 * after a grace period that began after both keys were gone. The
	 * reply tuple only if it names e (two workers creating flows at once
	 * could give it to another flow). */
	if (rte_hash_lookup_data(ct->h, k1, &d) >= 0 && d == (void *)((uintptr_t)e | 1))
		rte_hash_del_key(ct->h, k1);
	rte_hash_del_key(ct->h, k0);
	__atomic_fetch_sub(&ct->count, 1, __ATOMIC_RELAXED);
	if (ct->p.qsbr == NULL) {
		if (ct->p.on_free)
			ct->p.on_free(ct->p.on_free_arg, e);
		slot_put(ct, e);
	}
	return true;
}

void kdp_ct_delete(struct kdp_ct *ct, void *e)
{
	delete_entry(ct, e);
}

/* True when live entry @p e is what the table finds for its original
 * tuple. A slot can be live without that: one the import holds until
 * kdp_ct_release_stale() (the GC leaves those alone), one whose tuple
 * another entry took after it was added (one flow
 * created on two workers at once: a lost race). */
static bool indexed(struct kdp_ct *ct, void *e)
{
	void *data;

	return rte_hash_lookup_data(ct->h, e, &data) >= 0 && data == e;
}

/* Entry in slot @p idx when the slot is live, else NULL. Only the control
 * thread deletes: a live slot stays so while it looks. */
static inline void *live_at(struct kdp_ct *ct, uint32_t idx)
{
	void *e = entry_at_index(ct, idx);

	if (__atomic_load_n(&kdp_ct_state_of(ct, e)->slot, __ATOMIC_ACQUIRE) != KDP_CT_SLOT_LIVE)
		return NULL;
	return e;
}

/* True when live entry @p e is past its lifetime. */
static inline bool expired(struct kdp_ct *ct, void *e, uint64_t now_ms)
{
	return __atomic_load_n(&kdp_ct_state_of(ct, e)->expires_ms, __ATOMIC_RELAXED) <= now_ms;
}

/* The frontend id live entry @p e names. */
static inline uint32_t svc_id_of(struct kdp_ct *ct, void *e)
{
	return __atomic_load_n(&kdp_ct_state_of(ct, e)->svc_id, __ATOMIC_RELAXED);
}

/* Frees the lost races' slots whose grace period is over. */
static void lost_reclaim(struct kdp_ct *ct)
{
	unsigned int freed;

	rte_rcu_qsbr_dq_reclaim(ct->lost_dq, KDP_CT_LOST_DQ, &freed, &ct->lost_pending, NULL);
}

/* Retires live entry @p e, which the table does not find by its original
 * tuple any more: the same flow, created at once on another worker, took
 * it. Its reply tuple goes if it still names @p e (the workers' SNAT ports
 * differ, so the two entries' reply tuples may), or goes to the winner if
 * the winner's reply tuple is the same; its slot is freed once no reader
 * can hold it. @return false when put off (the defer queue is full). */
static bool retire_lost(struct kdp_ct *ct, void *e)
{
	uint32_t idx = entry_index(ct, e);
	const uint8_t *k1 = (const uint8_t *)e + ct->key_len;
	void *data;

	if (ct->lost_dq != NULL) {
		lost_reclaim(ct);
		if (ct->lost_pending >= KDP_CT_LOST_DQ)
			return false; /* the next pass */
	}
	if (rte_hash_lookup_data(ct->h, k1, &data) >= 0 && data == (void *)((uintptr_t)e | 1)) {
		void *w;

		/* kdp_ct_insert_any() gives a shared reply tuple to the
		 * winner; this is in case. */
		if (rte_hash_lookup_data(ct->h, e, &w) >= 0 && !((uintptr_t)w & 1) &&
		    memcmp((const uint8_t *)w + ct->key_len, k1, ct->key_len) == 0)
			repoint_reply(ct, k1, rte_hash_hash(ct->h, k1), e, w);
		else
			rte_hash_del_key(ct->h, k1);
	}
	/* The grace period begins once no tuple names e; the queue had room
	 * (if not, a next pass finds e as it is and tries again). */
	if (ct->lost_dq != NULL && rte_rcu_qsbr_dq_enqueue(ct->lost_dq, &idx) != 0)
		return false;
	__atomic_store_n(&kdp_ct_state_of(ct, e)->slot, KDP_CT_SLOT_DELETED, __ATOMIC_RELEASE);
	/* Both workers counted their entry. */
	__atomic_fetch_sub(&ct->count, 1, __ATOMIC_RELAXED);
	ct->gc_lost_races++;
	if (ct->lost_dq == NULL)
		free_lost(ct, &idx, 1);
	else
		ct->lost_pending++;
	return true;
}

uint32_t kdp_ct_gc(struct kdp_ct *ct, uint64_t now_ms, uint32_t budget)
{
	uint32_t removed = 0;

	if (ct->lost_pending > 0)
		lost_reclaim(ct);

	/* The slots in order (a sequential read); the hash is asked only of
	 * an entry to act on. A live slot stays the same entry while the GC
	 * looks: only this thread deletes (a slot is freed once deleted), a
	 * worker marks a slot live once its original tuple is in and never
	 * gives back a live one, and no slot of the free ring says live.
	 * Until the import's slots are released, a live slot the table does
	 * not find is not the table's. */
	for (uint32_t i = 0; i < budget; i++) {
		void *e = live_at(ct, ct->gc_cursor);

		if (e != NULL) {
			struct kdp_ct_state *st = kdp_ct_state_of(ct, e);
			uint32_t id;

			if (expired(ct, e, now_ms)) {
				/* Indexed or a lost race (delete_entry() tells
				 * which); only the table's own while holding. */
				if ((!ct->holding || indexed(ct, e)) && delete_entry(ct, e))
					removed++;
			} else if ((id = svc_id_of(ct, e)) != 0 && ct->p.fe_gone != NULL &&
				   ct->p.fe_gone(ct->p.fe_gone_arg, id) &&
				   (!ct->holding || indexed(ct, e))) {
				/* A new flow never names a gone id: the entry
				 * the GC judged (a lost race's too: it dies and
				 * is retired once expired). Workers only read
				 * svc_id: this store sticks.
				 * A flags or expiry store of a worker may cross
				 * these; without the id the worker finds the
				 * entry dead on the next packet anyway. */
				__atomic_store_n(&st->svc_id, 0, __ATOMIC_RELAXED);
				__atomic_fetch_or(&st->flags, KDP_CT_F_DEAD, __ATOMIC_RELAXED);
				st->expires_ms = now_ms;
				st->check = kdp_ct_entry_check(ct, e);
				ct->gc_orphaned++;
			}
		}
		if (++ct->gc_cursor >= ct->p.max_flows) {
			ct->gc_cursor = 0;
			ct->gc_passes++;
		}
	}
	ct->gc_runs++;
	ct->gc_removed += removed;
	return removed;
}

int kdp_ct_foreach_any(struct kdp_ct *ct, int (*fn)(const void *e, void *arg), void *arg)
{
	for (uint32_t i = 0; i < ct->p.max_flows; i++) {
		void *e = live_at(ct, i);
		int ret;

		if (e == NULL || !indexed(ct, e))
			continue;
		ret = fn(e, arg);
		if (ret != 0)
			return ret;
	}
	return 0;
}

struct foreach4 {
	int (*fn)(const struct kdp_ct_entry *e, void *arg);
	void *arg;
};

static int foreach4_one(const void *e, void *arg)
{
	struct foreach4 *f = arg;

	return f->fn(e, f->arg);
}

int kdp_ct_foreach(struct kdp_ct *ct,
		   int (*fn)(const struct kdp_ct_entry *e, void *arg), void *arg)
{
	struct foreach4 f = {fn, arg};

	return kdp_ct_foreach_any(ct, foreach4_one, &f);
}

const char *kdp_ct_tcp_state_name(uint8_t s)
{
	switch (s) {
	case KDP_CT_TCP_SYN:
		return "syn";
	case KDP_CT_TCP_EST:
		return "established";
	case KDP_CT_TCP_CLOSING:
		return "closing";
	default:
		return "-";
	}
}

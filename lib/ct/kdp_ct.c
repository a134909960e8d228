/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/kdp_hash.h"
#include <rte_random.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "kdp_ct.h"

void kdp_ct_timeouts_default(struct kdp_ct_timeouts *t)
{
	t->tcp_syn_ms = 60 * 1000;
	t->tcp_est_ms = 8000 * 1000;
	t->tcp_close_ms = 10 * 1000;
	t->other_ms = 60 * 1000;
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
		ct->p.on_free(ct->p.on_free_arg, (struct kdp_ct_entry *)d);
	rte_mempool_put(ct->pool, (void *)d);
}

/* Key slots rte_hash adds for its per-lcore free-slot caches (64 each). */
#define HASH_CACHE_SLACK ((RTE_MAX_LCORE - 1) * 63 + 1)

struct kdp_ct *kdp_ct_create(const char *name, const struct kdp_ct_params *p)
{
	char n[RTE_MEMZONE_NAMESIZE];
	struct rte_hash_parameters hp = {
		.key_len = sizeof(struct kdp_ct_key),
		.hash_func = kdp_hash_crc,
		/* Keys come from the network: a seed per run. */
		.hash_func_init_val = (uint32_t)rte_rand(),
		.socket_id = p->socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct kdp_ct *ct;

	if (p->max_flows < 64 || p->max_flows > (1u << 26)) {
		rte_errno = EINVAL;
		return NULL;
	}
	ct = rte_zmalloc_socket("kdp_ct", sizeof(*ct), 0, p->socket);
	if (ct == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ct->p = *p;
	if (ct->p.timeouts.other_ms == 0)
		kdp_ct_timeouts_default(&ct->p.timeouts);
	snprintf(n, sizeof(n), "%s_h", name);
	hp.name = n;
	/* Two tuples per flow. rte_hash adds (RTE_MAX_LCORE - 1) * 63 + 1 key
	 * slots for its per-lcore caches and sizes its free-slot ring to the
	 * next power of two: asking that much less keeps the ring at
	 * 2 * maxFlows (8 MiB instead of 16 per 1M flows) for a few thousand
	 * flows less. */
	hp.entries = 2 * p->max_flows;
	if (hp.entries > 4 * HASH_CACHE_SLACK)
		hp.entries -= HASH_CACHE_SLACK;
	ct->h = rte_hash_create(&hp);
	if (ct->h == NULL)
		goto fail;
	snprintf(n, sizeof(n), "%s_e", name);
	/* The hash has per-lcore key caches, so the pool may run dry a little
	 * before the hash: both limits end in a ct_full drop. */
	/* Entries are packed (96 bytes, no cache-line padding or channel
	 * spreading): an entry spans two lines either way, and 1M flows fit
	 * in ~100 MiB instead of ~210. */
	ct->pool = rte_mempool_create(n, p->max_flows, sizeof(struct kdp_ct_entry),
				      p->max_flows >= 4096 ? 256 : 0, 0, NULL, NULL,
				      NULL, NULL, p->socket,
				      RTE_MEMPOOL_F_NO_SPREAD | RTE_MEMPOOL_F_NO_CACHE_ALIGN);
	if (ct->pool == NULL)
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
		if (rte_hash_rcu_qsbr_add(ct->h, &rc) != 0)
			goto fail;
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
	/* Entries live in the pool; freeing the pool frees them all. */
	rte_hash_free(ct->h);
	rte_mempool_free(ct->pool);
	rte_free(ct);
}

int kdp_ct_insert(struct kdp_ct *ct, const struct kdp_ct_key *orig,
		  const struct kdp_ct_key *reply, uint8_t flags, uint32_t svc_id,
		  uint32_t svc_gen, uint64_t now_ms, struct kdp_ct_entry **out)
{
	struct kdp_ct_entry *e;
	void *found;
	int ret;

	/* The flow may be new to the burst's bulk lookup and yet exist: an
	 * earlier packet of the burst (segments of one super-frame, a UDP
	 * client's back-to-back datagrams) created it. */
	if (rte_hash_lookup_data(ct->h, orig, &found) >= 0) {
		if ((uintptr_t)found & 1)
			return -EEXIST; /* it is another flow's reply */
		*out = found;
		return -EALREADY;
	}
	if (kdp_ct_count(ct) >= ct->p.max_flows ||
	    rte_mempool_get(ct->pool, (void **)&e) != 0)
		return -ENOSPC;
	memset(e, 0, sizeof(*e));
	e->key[0] = *orig;
	e->key[1] = *reply;
	e->flags = flags;
	e->svc_id = svc_id;
	e->svc_gen = svc_gen;
	e->created_ms = now_ms;
	e->expires_ms = now_ms + ct->p.timeouts.other_ms;
	e->tcp_state = orig->proto == 6 ? KDP_CT_TCP_SYN : KDP_CT_TCP_NONE;
	e->nat_port_owner = (uint8_t)rte_lcore_id();
	if (rte_hash_lookup(ct->h, reply) >= 0) {
		rte_mempool_put(ct->pool, e);
		return -EEXIST;
	}
	/* The entry is complete before a reader can find it. */
	ret = rte_hash_add_key_data(ct->h, orig, e);
	if (ret != 0) {
		rte_mempool_put(ct->pool, e);
		return ret == -ENOSPC ? -ENOSPC : -EEXIST;
	}
	__atomic_fetch_add(&ct->count, 1, __ATOMIC_RELAXED);
	ret = rte_hash_add_key_data(ct->h, reply, (void *)((uintptr_t)e | 1));
	if (ret != 0) {
		/* A reader may hold e already: let the GC retire it. */
		e->flags |= KDP_CT_F_DEAD;
		e->expires_ms = 0;
		return ret == -ENOSPC ? -ENOSPC : -EEXIST;
	}
	*out = e;
	return 0;
}

void kdp_ct_delete(struct kdp_ct *ct, struct kdp_ct_entry *e)
{
	struct kdp_ct_key k0 = e->key[0], k1 = e->key[1];

	/* Reply first: the original tuple's deferred free returns the entry,
	 * after a grace period that began after both keys were gone. */
	rte_hash_del_key(ct->h, &k1);
	rte_hash_del_key(ct->h, &k0);
	__atomic_fetch_sub(&ct->count, 1, __ATOMIC_RELAXED);
	if (ct->p.qsbr == NULL) {
		if (ct->p.on_free)
			ct->p.on_free(ct->p.on_free_arg, e);
		rte_mempool_put(ct->pool, e);
	}
}

/* Entry behind key slot @p pos if that slot holds an original tuple. */
static struct kdp_ct_entry *entry_at(struct kdp_ct *ct, int32_t pos)
{
	void *key, *data;

	if (rte_hash_get_key_with_position(ct->h, pos, &key) != 0)
		return NULL;
	if (rte_hash_lookup_data(ct->h, key, &data) < 0 || ((uintptr_t)data & 1))
		return NULL;
	return data;
}

uint32_t kdp_ct_gc(struct kdp_ct *ct, uint64_t now_ms, uint32_t budget)
{
	uint32_t max = (uint32_t)rte_hash_max_key_id(ct->h) + 1, removed = 0;

	for (uint32_t i = 0; i < budget; i++) {
		struct kdp_ct_entry *e = entry_at(ct, (int32_t)ct->gc_cursor);

		if (e != NULL && e->expires_ms <= now_ms) {
			kdp_ct_delete(ct, e);
			removed++;
		}
		if (++ct->gc_cursor >= max)
			ct->gc_cursor = 0;
	}
	ct->gc_runs++;
	ct->gc_removed += removed;
	return removed;
}

int kdp_ct_foreach(struct kdp_ct *ct,
		   int (*fn)(const struct kdp_ct_entry *e, void *arg), void *arg)
{
	int32_t max = rte_hash_max_key_id(ct->h);

	for (int32_t pos = 0; pos <= max; pos++) {
		struct kdp_ct_entry *e = entry_at(ct, pos);
		int ret;

		if (e == NULL)
			continue;
		ret = fn(e, arg);
		if (ret != 0)
			return ret;
	}
	return 0;
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

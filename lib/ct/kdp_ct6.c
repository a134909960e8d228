/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_random.h>

#include "common/kdp_hash.h"
#include "kdp_ct6.h"

_Static_assert(sizeof(struct kdp_ct6_key) == 40, "IPv6 tuple layout");
_Static_assert(sizeof(struct kdp_ct6_entry) == 144, "IPv6 entry layout");

/* The original-direction key owns the entry: freed once no reader can see
 * the deleted keys (the hash's RCU defer queue). */
static void free_key_data(void *p, void *key_data)
{
	struct kdp_ct6 *ct = p;
	uintptr_t d = (uintptr_t)key_data;

	if (!(d & 1))
		rte_mempool_put(ct->pool, (void *)d);
}

/* Key slots rte_hash adds for its per-lcore free-slot caches. */
#define HASH_CACHE_SLACK ((RTE_MAX_LCORE - 1) * 63 + 1)

struct kdp_ct6 *kdp_ct6_create(const char *name, uint32_t max_flows, int socket,
			       const struct kdp_ct_timeouts *t, struct rte_rcu_qsbr *qsbr)
{
	char n[RTE_MEMZONE_NAMESIZE];
	struct rte_hash_parameters hp = {
		.key_len = sizeof(struct kdp_ct6_key),
		.hash_func = kdp_hash_crc,
		.hash_func_init_val = (uint32_t)rte_rand(),
		.socket_id = socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct kdp_ct6 *ct;

	if (max_flows < 64 || max_flows > (1u << 24)) {
		rte_errno = EINVAL;
		return NULL;
	}
	ct = rte_zmalloc_socket("kdp_ct6", sizeof(*ct), 0, socket);
	if (ct == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	ct->max_flows = max_flows;
	ct->qsbr = qsbr;
	if (t != NULL && t->other_ms != 0)
		ct->t = *t;
	else
		kdp_ct_timeouts_default(&ct->t);
	snprintf(n, sizeof(n), "%s_h", name);
	hp.name = n;
	/* As kdp_ct_create(): two tuples per flow, the free-slot ring kept a
	 * power of two. */
	hp.entries = 2 * max_flows;
	if (hp.entries > 4 * HASH_CACHE_SLACK)
		hp.entries -= HASH_CACHE_SLACK;
	ct->h = rte_hash_create(&hp);
	if (ct->h == NULL)
		goto fail;
	snprintf(n, sizeof(n), "%s_e", name);
	ct->pool = rte_mempool_create(n, max_flows, sizeof(struct kdp_ct6_entry),
				      max_flows >= 4096 ? 256 : 0, 0, NULL, NULL, NULL, NULL,
				      socket, RTE_MEMPOOL_F_NO_SPREAD | RTE_MEMPOOL_F_NO_CACHE_ALIGN);
	if (ct->pool == NULL)
		goto fail;
	if (qsbr != NULL) {
		struct rte_hash_rcu_config rc = {
			.v = qsbr,
			.mode = RTE_HASH_QSBR_MODE_DQ,
			.key_data_ptr = ct,
			.free_key_data_func = free_key_data,
			.dq_size = hp.entries / 8,
		};
		if (rte_hash_rcu_qsbr_add(ct->h, &rc) != 0)
			goto fail;
	}
	return ct;
fail: {
	int err = rte_errno ? rte_errno : ENOMEM;
	kdp_ct6_free(ct);
	rte_errno = err;
	return NULL;
}
}

void kdp_ct6_free(struct kdp_ct6 *ct)
{
	if (ct == NULL)
		return;
	rte_hash_free(ct->h);
	rte_mempool_free(ct->pool);
	rte_free(ct);
}

int kdp_ct6_insert(struct kdp_ct6 *ct, const struct kdp_ct6_key *orig,
		   const struct kdp_ct6_key *reply, uint8_t flags, uint32_t svc_id,
		   uint32_t svc_gen, uint64_t now_ms, struct kdp_ct6_entry **out)
{
	struct kdp_ct6_entry *e;
	void *found;
	int ret;

	/* An earlier packet of the burst may have made the flow. */
	if (rte_hash_lookup_data(ct->h, orig, &found) >= 0) {
		if ((uintptr_t)found & 1)
			return -EEXIST;
		*out = found;
		return -EALREADY;
	}
	if (kdp_ct6_count(ct) >= ct->max_flows || rte_mempool_get(ct->pool, (void **)&e) != 0)
		return -ENOSPC;
	memset(e, 0, sizeof(*e));
	e->key[0] = *orig;
	e->key[1] = *reply;
	e->flags = flags;
	e->svc_id = svc_id;
	e->svc_gen = svc_gen;
	e->created_ms = now_ms;
	e->expires_ms = now_ms + ct->t.other_ms;
	e->tcp_state = orig->proto == 6 ? KDP_CT_TCP_SYN : KDP_CT_TCP_NONE;
	e->nat_port_owner = (uint8_t)rte_lcore_id();
	if (rte_hash_lookup(ct->h, reply) >= 0) {
		rte_mempool_put(ct->pool, e);
		return -EEXIST;
	}
	ret = rte_hash_add_key_data(ct->h, orig, e);
	if (ret != 0) {
		rte_mempool_put(ct->pool, e);
		return ret == -ENOSPC ? -ENOSPC : -EEXIST;
	}
	__atomic_fetch_add(&ct->count, 1, __ATOMIC_RELAXED);
	ret = rte_hash_add_key_data(ct->h, reply, (void *)((uintptr_t)e | 1));
	if (ret != 0) {
		e->flags |= KDP_CT_F_DEAD;
		e->expires_ms = 0;
		return ret == -ENOSPC ? -ENOSPC : -EEXIST;
	}
	*out = e;
	return 0;
}

void kdp_ct6_delete(struct kdp_ct6 *ct, struct kdp_ct6_entry *e)
{
	struct kdp_ct6_key k0 = e->key[0], k1 = e->key[1];

	rte_hash_del_key(ct->h, &k1);
	rte_hash_del_key(ct->h, &k0);
	__atomic_fetch_sub(&ct->count, 1, __ATOMIC_RELAXED);
	if (ct->qsbr == NULL)
		rte_mempool_put(ct->pool, e);
}

static struct kdp_ct6_entry *entry_at(struct kdp_ct6 *ct, int32_t pos)
{
	void *key, *data;

	if (rte_hash_get_key_with_position(ct->h, pos, &key) != 0)
		return NULL;
	if (rte_hash_lookup_data(ct->h, key, &data) < 0 || ((uintptr_t)data & 1))
		return NULL;
	return data;
}

uint32_t kdp_ct6_gc(struct kdp_ct6 *ct, uint64_t now_ms, uint32_t budget)
{
	uint32_t max = (uint32_t)rte_hash_max_key_id(ct->h) + 1, removed = 0;

	for (uint32_t i = 0; i < budget; i++) {
		struct kdp_ct6_entry *e = entry_at(ct, (int32_t)ct->gc_cursor);

		if (e != NULL && e->expires_ms <= now_ms) {
			kdp_ct6_delete(ct, e);
			removed++;
		}
		if (++ct->gc_cursor >= max)
			ct->gc_cursor = 0;
	}
	ct->gc_runs++;
	ct->gc_removed += removed;
	return removed;
}

int kdp_ct6_foreach(struct kdp_ct6 *ct, int (*fn)(const struct kdp_ct6_entry *e, void *arg),
		    void *arg)
{
	int32_t max = rte_hash_max_key_id(ct->h);

	for (int32_t pos = 0; pos <= max; pos++) {
		struct kdp_ct6_entry *e = entry_at(ct, pos);
		int ret;

		if (e == NULL)
			continue;
		ret = fn(e, arg);
		if (ret != 0)
			return ret;
	}
	return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "common/kdp_hash.h"
#include "kdp_affinity.h"

#define BUSY UINT64_MAX

static inline uint64_t pin_key(uint32_t fe_id, uint32_t client)
{
	return (uint64_t)fe_id << 32 | client;
}

static inline struct kdp_affinity_slot *bucket(const struct kdp_affinity *a, uint64_t key)
{
	uint32_t h = kdp_hash_crc(&key, sizeof(key), a->seed);

	return &a->slot[(h & a->mask) * KDP_AFFINITY_WAYS];
}

static inline uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* Claims slot @p s from key @p from (one try); true when it is ours. */
static inline bool claim(struct kdp_affinity_slot *s, uint64_t from)
{
	return __atomic_compare_exchange_n(&s->key, &from, BUSY, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static inline void release(struct kdp_affinity_slot *s, uint64_t key, uint64_t val)
{
	__atomic_store_n(&s->val, val, __ATOMIC_RELAXED);
	__atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
}

uint32_t kdp_affinity_slots(uint32_t clients)
{
	return rte_align32pow2(RTE_MAX(clients, 64u));
}

struct kdp_affinity *kdp_affinity_create(uint32_t n_slots, void *mem, uint32_t seed)
{
	struct kdp_affinity *a;

	if (n_slots < KDP_AFFINITY_WAYS || !rte_is_power_of_2(n_slots)) {
		rte_errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	a->slot = mem;
	if (a->slot == NULL) {
		a->slot = rte_zmalloc("kdp_affinity", sizeof(*a->slot) * n_slots,
				      RTE_CACHE_LINE_SIZE);
		a->own = true;
	}
	if (a->slot == NULL) {
		free(a);
		rte_errno = ENOMEM;
		return NULL;
	}
	a->mask = n_slots / KDP_AFFINITY_WAYS - 1;
	a->seed = seed;
	return a;
}

void kdp_affinity_free(struct kdp_affinity *a)
{
	if (a == NULL)
		return;
	if (a->own)
		rte_free(a->slot);
	free(a);
}

int kdp_affinity_get(const struct kdp_affinity *a, const struct kdp_svc_fe *fe,
		     uint32_t client, uint32_t now_s)
{
	uint64_t key = pin_key(fe->id, client);
	const struct kdp_affinity_slot *s = bucket(a, key);

	for (unsigned int w = 0; w < KDP_AFFINITY_WAYS; w++) {
		uint64_t v;
		uint32_t ip;

		if (load(&s[w].key) != key)
			continue;
		v = load(&s[w].val);
		/* Rewritten meanwhile: no pin rather than another's. */
		if (load(&s[w].key) != key)
			return -1;
		if ((int32_t)(now_s - (uint32_t)v) > (int32_t)fe->affinity_timeout_s)
			return -1;
		ip = (uint32_t)(v >> 32);
		for (uint16_t i = 0; i < fe->n_be; i++)
			if (fe->be[i].ip == ip)
				return kdp_svc_selectable(fe, i) ? i : -1;
		return -1;
	}
	return -1;
}

/* Writes pin @p key = @p val: over its own slot, else an empty one, else
 * the bucket's least recently used. A slot being written by someone else
 * is left alone (the pin is not refreshed this time). */
static bool put(struct kdp_affinity *a, uint64_t key, uint64_t val)
{
	struct kdp_affinity_slot *s = bucket(a, key);
	unsigned int victim = KDP_AFFINITY_WAYS;
	uint32_t now = (uint32_t)val, oldest = 0;

	for (unsigned int w = 0; w < KDP_AFFINITY_WAYS; w++)
		if (load(&s[w].key) == key) {
			if (claim(&s[w], key))
				release(&s[w], key, val);
			return true;
		}
	for (unsigned int w = 0; w < KDP_AFFINITY_WAYS; w++)
		if (load(&s[w].key) == 0 && claim(&s[w], 0)) {
			release(&s[w], key, val);
			return true;
		}
	for (unsigned int w = 0; w < KDP_AFFINITY_WAYS; w++) {
		uint32_t age = now - (uint32_t)load(&s[w].val);

		if (load(&s[w].key) != BUSY && (victim == KDP_AFFINITY_WAYS || age > oldest)) {
			victim = w;
			oldest = age;
		}
	}
	if (victim < KDP_AFFINITY_WAYS) {
		uint64_t k = load(&s[victim].key);

		if (k != BUSY && claim(&s[victim], k)) {
			release(&s[victim], key, val);
			__atomic_fetch_add(&a->evicted, 1, __ATOMIC_RELAXED);
			return true;
		}
	}
	return false;
}

void kdp_affinity_set(struct kdp_affinity *a, const struct kdp_svc_fe *fe,
		      uint32_t client, int b, uint32_t now_s)
{
	/* A full bucket only loses the oldest stickiness, never a flow. */
	put(a, pin_key(fe->id, client), (uint64_t)fe->be[b].ip << 32 | now_s);
}

uint32_t kdp_affinity_gc(struct kdp_affinity *a, const struct kdp_svc_table *t,
			 uint32_t now_s, uint32_t budget)
{
	uint32_t n = (a->mask + 1) * KDP_AFFINITY_WAYS, removed = 0;

	for (uint32_t i = 0; i < budget && i < n; i++) {
		struct kdp_affinity_slot *s = &a->slot[a->cursor];
		uint64_t k = load(&s->key);

		if (++a->cursor >= n)
			a->cursor = 0;
		if (k != 0 && k != BUSY) {
			uint32_t id = (uint32_t)(k >> 32);
			const struct kdp_svc_fe *fe =
				t != NULL && id <= t->max_id ? t->by_id[id] : NULL;
			uint32_t last;

			if (fe != NULL && fe->affinity &&
			    (int32_t)(now_s - (uint32_t)load(&s->val)) <=
				    (int32_t)fe->affinity_timeout_s)
				continue;
			if (!claim(s, k))
				continue;
			/* Refreshed just before the claim: keep it. */
			last = (uint32_t)load(&s->val);
			if (fe != NULL && fe->affinity &&
			    (int32_t)(now_s - last) <= (int32_t)fe->affinity_timeout_s) {
				release(s, k, s->val);
				continue;
			}
			release(s, 0, 0);
			removed++;
		}
	}
	return removed;
}

uint32_t kdp_affinity_count(const struct kdp_affinity *a)
{
	uint32_t n = (a->mask + 1) * KDP_AFFINITY_WAYS, c = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t k = load(&a->slot[i].key);
		c += k != 0 && k != BUSY;
	}
	return c;
}

uint32_t kdp_affinity_import(struct kdp_affinity *a, const struct kdp_affinity_slot *src,
			     uint32_t n)
{
	uint32_t copied = 0;

	for (uint32_t i = 0; i < n; i++)
		if (src[i].key != 0 && src[i].key != BUSY)
			copied += put(a, src[i].key, src[i].val);
	return copied;
}

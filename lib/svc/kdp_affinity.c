/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "common/kdp_hash.h"
#include "kdp_affinity.h"

#define BUSY UINT64_MAX

_Static_assert(sizeof(struct kdp_affinity_slot) == 16, "pin layout");
_Static_assert(sizeof(struct kdp_affinity6_slot) == 32, "IPv6 pin layout");

static inline uint64_t pin_key(uint32_t fe_id, uint32_t client)
{
	return (uint64_t)fe_id << 32 | client;
}

static inline struct kdp_affinity_slot *slot_at(const struct kdp_affinity *a, uint32_t i)
{
	return (struct kdp_affinity_slot *)(a->slot + (size_t)i * a->slot_size);
}

/* Way @p w of the bucket at @p s. */
static inline struct kdp_affinity_slot *way(const struct kdp_affinity *a,
					    struct kdp_affinity_slot *s, unsigned int w)
{
	return (struct kdp_affinity_slot *)((uint8_t *)s + (size_t)w * a->slot_size);
}

static inline struct kdp_affinity_slot *bucket(const struct kdp_affinity *a, uint64_t key)
{
	uint32_t h = kdp_hash_crc(&key, sizeof(key), a->seed);

	return slot_at(a, (h & a->mask) * KDP_AFFINITY_WAYS);
}

static inline uint64_t load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/* The client words of an IPv6 slot. */
static inline uint64_t *client_of(struct kdp_affinity_slot *s)
{
	return ((struct kdp_affinity6_slot *)s)->client;
}

/* True when slot @p s is of client @p c (always in tables of IPv4 slots,
 * whose key is the client). */
static inline bool same_client(const struct kdp_affinity *a, struct kdp_affinity_slot *s,
			       const uint64_t *c)
{
	const uint64_t *sc;

	if (c == NULL)
		return true;
	sc = client_of(s);
	return load(&sc[0]) == c[0] && load(&sc[1]) == c[1];
}

/* Claims slot @p s from key @p from (one try); true when it is ours. */
static inline bool claim(struct kdp_affinity_slot *s, uint64_t from)
{
	return __atomic_compare_exchange_n(&s->key, &from, BUSY, false, __ATOMIC_ACQUIRE,
					   __ATOMIC_RELAXED);
}

static inline void release(struct kdp_affinity_slot *s, uint64_t key, const uint64_t *c,
			   uint64_t val)
{
	if (c != NULL) {
		__atomic_store_n(&client_of(s)[0], c[0], __ATOMIC_RELAXED);
		__atomic_store_n(&client_of(s)[1], c[1], __ATOMIC_RELAXED);
	}
	__atomic_store_n(&s->val, val, __ATOMIC_RELAXED);
	__atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
}

/* The client words of @p client (NULL in tables of IPv4 slots). */
static inline const uint64_t *client_words(const struct kdp_affinity *a, const uint8_t *client,
					   uint64_t *buf)
{
	if (client == NULL || a->slot_size < sizeof(struct kdp_affinity6_slot))
		return NULL;
	memcpy(buf, client, 16);
	return buf;
}

uint32_t kdp_affinity_slots(uint32_t clients)
{
	return rte_align32pow2(RTE_MAX(clients, 64u));
}

struct kdp_affinity *kdp_affinity_create(uint32_t n_slots, void *mem, uint32_t seed)
{
	return kdp_affinity_create_any(n_slots, sizeof(struct kdp_affinity_slot), mem, seed);
}

struct kdp_affinity *kdp_affinity_create_any(uint32_t n_slots, uint32_t slot_size, void *mem,
					     uint32_t seed)
{
	struct kdp_affinity *a;

	if (n_slots < KDP_AFFINITY_WAYS || !rte_is_power_of_2(n_slots) ||
	    (slot_size != sizeof(struct kdp_affinity_slot) &&
	     slot_size != sizeof(struct kdp_affinity6_slot))) {
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
		a->slot = rte_zmalloc("kdp_affinity", (size_t)slot_size * n_slots,
				      RTE_CACHE_LINE_SIZE);
		a->own = true;
	}
	if (a->slot == NULL) {
		free(a);
		rte_errno = ENOMEM;
		return NULL;
	}
	a->slot_size = slot_size;
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

bool kdp_affinity_lookup(const struct kdp_affinity *a, uint64_t key, const uint8_t *client,
			 uint64_t *val)
{
	struct kdp_affinity_slot *s = bucket(a, key);
	uint64_t cbuf[2];
	const uint64_t *c = client_words(a, client, cbuf);

	for (unsigned int w = 0; w < KDP_AFFINITY_WAYS; w++) {
		struct kdp_affinity_slot *x = way(a, s, w);
		uint64_t v;
		bool mine;

		if (load(&x->key) != key)
			continue;
		v = load(&x->val);
		mine = same_client(a, x, c);
		/* Rewritten meanwhile: no pin rather than another's. */
		if (load(&x->key) != key)
			return false;
		if (mine) {
			*val = v;
			return true;
		}
	}
	return false;
}

int kdp_affinity_get(const struct kdp_affinity *a, const struct kdp_svc_fe *fe,
		     uint32_t client, uint32_t now_s)
{
	uint64_t v;
	uint32_t ip;

	if (!kdp_affinity_lookup(a, pin_key(fe->id, client), NULL, &v))
		return -1;
	if ((int32_t)(now_s - (uint32_t)v) > (int32_t)fe->affinity_timeout_s)
		return -1;
	ip = (uint32_t)(v >> 32);
	for (uint16_t i = 0; i < fe->n_be; i++)
		if (fe->be[i].ip == ip)
			return kdp_svc_selectable(fe, i) ? i : -1;
	return -1;
}

/* Writes pin @p key = @p val: over its own slot, else an empty one, else
 * the bucket's least recently used. A slot being written by someone else
 * is left alone (the pin is not refreshed this time). */
bool kdp_affinity_put(struct kdp_affinity *a, uint64_t key, const uint8_t *client, uint64_t val)
{
	struct kdp_affinity_slot *s = bucket(a, key), *x;
	unsigned int victim = KDP_AFFINITY_WAYS;
	uint32_t now = (uint32_t)val, oldest = 0;
	uint64_t cbuf[2];
	const uint64_t *c = client_words(a, client, cbuf);

	for (unsigned int w = 0; w < KDP_AFFINITY_WAYS; w++) {
		x = way(a, s, w);
		if (load(&x->key) == key && same_client(a, x, c)) {
			if (claim(x, key))
				release(x, key, c, val);
			return true;
		}
	}
	for (unsigned int w = 0; w < KDP_AFFINITY_WAYS; w++) {
		x = way(a, s, w);
		if (load(&x->key) == 0 && claim(x, 0)) {
			release(x, key, c, val);
			return true;
		}
	}
	for (unsigned int w = 0; w < KDP_AFFINITY_WAYS; w++) {
		uint32_t age;

		x = way(a, s, w);
		age = now - (uint32_t)load(&x->val);
		if (load(&x->key) != BUSY && (victim == KDP_AFFINITY_WAYS || age > oldest)) {
			victim = w;
			oldest = age;
		}
	}
	if (victim < KDP_AFFINITY_WAYS) {
		uint64_t k;

		x = way(a, s, victim);
		k = load(&x->key);
		if (k != BUSY && claim(x, k)) {
			release(x, key, c, val);
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
	kdp_affinity_put(a, pin_key(fe->id, client), NULL, (uint64_t)fe->be[b].ip << 32 | now_s);
}

uint32_t kdp_affinity_gc_any(struct kdp_affinity *a, int64_t (*timeout_of)(const void *t,
									     uint32_t fe_id),
			     const void *t, uint32_t now_s, uint32_t budget)
{
	uint32_t n = kdp_affinity_n_slots(a), removed = 0;

	for (uint32_t i = 0; i < budget && i < n; i++) {
		struct kdp_affinity_slot *s = slot_at(a, a->cursor);
		uint64_t k = load(&s->key);

		if (++a->cursor >= n) {
			a->cursor = 0;
			a->passes++;
		}
		if (k != 0 && k != BUSY) {
			int64_t timeout = timeout_of(t, (uint32_t)(k >> 32));

			if (timeout >= 0 && (int32_t)(now_s - (uint32_t)load(&s->val)) <= timeout)
				continue;
			if (!claim(s, k))
				continue;
			/* Refreshed just before the claim: keep it. */
			if (timeout >= 0 && (int32_t)(now_s - (uint32_t)load(&s->val)) <= timeout) {
				release(s, k, NULL, s->val);
				continue;
			}
			release(s, 0, NULL, 0);
			removed++;
		}
	}
	return removed;
}

/* The affinity timeout of IPv4 frontend @p id of table @p t, -1 when none. */
static int64_t timeout4(const void *t, uint32_t id)
{
	const struct kdp_svc_table *st = t;
	const struct kdp_svc_fe *fe = st != NULL && id <= st->max_id ? st->by_id[id] : NULL;

	return fe != NULL && fe->affinity ? (int64_t)fe->affinity_timeout_s : -1;
}

uint32_t kdp_affinity_gc(struct kdp_affinity *a, const struct kdp_svc_table *t,
			 uint32_t now_s, uint32_t budget)
{
	return kdp_affinity_gc_any(a, timeout4, t, now_s, budget);
}

uint32_t kdp_affinity_count(const struct kdp_affinity *a)
{
	uint32_t n = kdp_affinity_n_slots(a), c = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t k = load(&slot_at(a, i)->key);
		c += k != 0 && k != BUSY;
	}
	return c;
}

uint32_t kdp_affinity_import(struct kdp_affinity *a, const void *src, uint32_t n)
{
	uint32_t copied = 0;

	for (uint32_t i = 0; i < n; i++) {
		const struct kdp_affinity_slot *s =
			(const void *)((const uint8_t *)src + (size_t)i * a->slot_size);

		if (s->key != 0 && s->key != BUSY)
			copied += kdp_affinity_put(
				a, s->key,
				a->slot_size > sizeof(*s) ? (const uint8_t *)(s + 1) : NULL, s->val);
	}
	return copied;
}

/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_jhash.h>
#include <rte_random.h>

#include "common/kdp_hash.h"
#include "maglev/kdp_maglev.h"
#include "kdp_svc6.h"

struct kdp_svc6_table *kdp_svc6_table_create(const char *name, uint32_t cap, uint32_t max_id,
					     int socket)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = cap < 8 ? 8 : cap,
		.key_len = sizeof(struct kdp_svc6_key),
		.hash_func = kdp_hash_crc,
		.socket_id = socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct kdp_svc6_table *t = calloc(1, sizeof(*t));

	if (t == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	t->cap = cap;
	t->max_id = max_id;
	t->fe = calloc(cap ? cap : 1, sizeof(*t->fe));
	t->by_id = calloc((size_t)max_id + 1, sizeof(*t->by_id));
	t->h = rte_hash_create(&hp);
	if (t->fe == NULL || t->by_id == NULL || t->h == NULL) {
		int err = t->h == NULL ? rte_errno : ENOMEM;
		kdp_svc6_table_free(t);
		rte_errno = err;
		return NULL;
	}
	return t;
}

void kdp_svc6_fe_release(struct kdp_svc6_fe *fe)
{
	free(fe->be);
	free(fe->ranges);
	fe->be = NULL;
	fe->ranges = NULL;
	kdp_svc_pick_release(&fe->all);
	kdp_svc_pick_release(&fe->local);
}

void kdp_svc6_table_free(struct kdp_svc6_table *t)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; i < t->n_fe; i++)
		kdp_svc6_fe_release(&t->fe[i]);
	free(t->fe);
	free(t->by_id);
	rte_hash_free(t->h);
	free(t);
}

int kdp_svc6_table_add(struct kdp_svc6_table *t, struct kdp_svc6_fe *fe)
{
	struct kdp_svc6_fe *slot;
	uint32_t b;
	int ret;

	if (t->n_fe == t->cap) {
		kdp_svc6_fe_release(fe);
		return -ENOSPC;
	}
	if (fe->id == 0 || fe->id > t->max_id || t->by_id[fe->id] != NULL) {
		kdp_svc6_fe_release(fe);
		return -EINVAL;
	}
	if (rte_hash_lookup(t->h, &fe->key) >= 0) {
		kdp_svc6_fe_release(fe);
		return -EEXIST;
	}
	slot = &t->fe[t->n_fe];
	*slot = *fe;
	ret = rte_hash_add_key_data(t->h, &slot->key, slot);
	if (ret != 0) {
		kdp_svc6_fe_release(slot);
		return ret;
	}
	t->by_id[fe->id] = slot;
	t->n_fe++;
	b = kdp_svc6_filter_bit(slot->key.addr);
	t->addr_bits[b >> 6] |= 1ull << (b & 63);
	return 0;
}

static void be_view(const void *be, uint16_t i, uint8_t *state, uint8_t *local,
		    struct kdp_maglev_backend *mb)
{
	const struct kdp_svc6_backend *b = (const struct kdp_svc6_backend *)be + i;

	*state = b->state;
	*local = b->local;
	if (mb != NULL) {
		mb->is6 = 1;
		memcpy(mb->ip6, b->ip, 16);
		mb->port = rte_be_to_cpu_16(b->port);
	}
}

int kdp_svc6_fe_prepare(struct kdp_svc6_fe *fe, uint32_t m)
{
	return kdp_svc_picks_fill(&fe->all, &fe->local, fe->local_only, fe->algo, m, fe->be,
				  fe->n_be, be_view);
}

/* ---- affinity ---- */

/* What a pin remembers of its backend: a hash of its address and port. */
static uint32_t be_tag(const struct kdp_svc6_backend *be)
{
	return rte_jhash(be->ip, 16, be->port) | 1;
}

/* The key of @p client's pin of @p fe: the frontend and a hash of the
 * client (the slot holds the client itself). */
static uint64_t pin_key6(const struct kdp_affinity6 *a, const struct kdp_svc6_fe *fe,
			 const uint8_t *client)
{
	return (uint64_t)fe->id << 32 | kdp_hash_crc(client, 16, a->t.seed);
}

struct kdp_affinity6 *kdp_affinity6_create(uint32_t n_slots, void *mem, uint32_t seed)
{
	_Static_assert(offsetof(struct kdp_affinity6, t) == 0, "a struct kdp_affinity");

	return (struct kdp_affinity6 *)kdp_affinity_create_any(
		n_slots, sizeof(struct kdp_affinity6_slot), mem, seed);
}

void kdp_affinity6_free(struct kdp_affinity6 *a)
{
	kdp_affinity_free(a != NULL ? &a->t : NULL);
}

int kdp_affinity6_get(const struct kdp_affinity6 *a, const struct kdp_svc6_fe *fe,
		      const uint8_t *client, uint32_t now_s)
{
	uint64_t v;
	uint32_t tag;

	if (!kdp_affinity_lookup(&a->t, pin_key6(a, fe, client), client, &v))
		return -1;
	if ((int32_t)(now_s - (uint32_t)v) > (int32_t)fe->affinity_timeout_s)
		return -1;
	tag = (uint32_t)(v >> 32);
	for (uint16_t i = 0; i < fe->n_be; i++)
		if (be_tag(&fe->be[i]) == tag)
			return kdp_svc6_selectable(fe, i) ? i : -1;
	return -1;
}

void kdp_affinity6_set(struct kdp_affinity6 *a, const struct kdp_svc6_fe *fe,
		       const uint8_t *client, int b, uint32_t now_s)
{
	kdp_affinity_put(&a->t, pin_key6(a, fe, client), client,
			 ((uint64_t)be_tag(&fe->be[b]) << 32) | now_s);
}

/* The affinity timeout of IPv6 frontend @p id of table @p t, -1 when none. */
static int64_t timeout6(const void *t, uint32_t id)
{
	const struct kdp_svc6_table *st = t;
	const struct kdp_svc6_fe *fe = st != NULL && id <= st->max_id ? st->by_id[id] : NULL;

	return fe != NULL && fe->affinity ? (int64_t)fe->affinity_timeout_s : -1;
}

uint32_t kdp_affinity6_gc(struct kdp_affinity6 *a, const struct kdp_svc6_table *t,
			  uint32_t now_s, uint32_t budget)
{
	return kdp_affinity_gc_any(&a->t, timeout6, t, now_s, budget);
}

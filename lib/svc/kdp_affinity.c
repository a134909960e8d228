/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/kdp_hash.h"
#include <rte_random.h>
#include <rte_errno.h>

#include "kdp_affinity.h"

struct kdp_affinity *kdp_affinity_create(const char *name, uint32_t size, int socket,
					 struct rte_rcu_qsbr *qsbr)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = size < 64 ? 64 : size,
		.key_len = sizeof(struct kdp_affinity_key),
		.hash_func = kdp_hash_crc,
		/* Keys come from the network: a seed per run. */
		.hash_func_init_val = (uint32_t)rte_rand(),
		.socket_id = socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_MULTI_WRITER_ADD |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct kdp_affinity *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	a->h = rte_hash_create(&hp);
	if (a->h != NULL && qsbr != NULL) {
		struct rte_hash_rcu_config rc = {.v = qsbr, .mode = RTE_HASH_QSBR_MODE_DQ};
		if (rte_hash_rcu_qsbr_add(a->h, &rc) != 0) {
			rte_hash_free(a->h);
			a->h = NULL;
		}
	}
	if (a->h == NULL) {
		int err = rte_errno;
		free(a);
		rte_errno = err;
		return NULL;
	}
	return a;
}

void kdp_affinity_free(struct kdp_affinity *a)
{
	if (a == NULL)
		return;
	rte_hash_free(a->h);
	free(a);
}

int kdp_affinity_get(const struct kdp_affinity *a, const struct kdp_svc_fe *fe,
		     uint32_t client, uint32_t now_s)
{
	struct kdp_affinity_key k = {fe->id, client};
	void *data;
	uint64_t v;
	uint32_t ip, last;

	if (rte_hash_lookup_data(a->h, &k, &data) < 0)
		return -1;
	v = (uint64_t)(uintptr_t)data;
	ip = (uint32_t)(v >> 32);
	last = (uint32_t)v;
	if (now_s - last > fe->affinity_timeout_s)
		return -1;
	for (uint16_t i = 0; i < fe->n_be; i++)
		if (fe->be[i].ip == ip)
			return kdp_svc_selectable(fe, i) ? i : -1;
	return -1;
}

void kdp_affinity_set(struct kdp_affinity *a, const struct kdp_svc_fe *fe,
		      uint32_t client, int b, uint32_t now_s)
{
	struct kdp_affinity_key k = {fe->id, client};
	uint64_t v = ((uint64_t)fe->be[b].ip << 32) | now_s;

	/* A full table only loses stickiness, never the flow. */
	rte_hash_add_key_data(a->h, &k, (void *)(uintptr_t)v);
}

uint32_t kdp_affinity_gc(struct kdp_affinity *a, const struct kdp_svc_table *t,
			 uint32_t now_s, uint32_t budget)
{
	uint32_t max = (uint32_t)rte_hash_max_key_id(a->h) + 1, removed = 0;

	for (uint32_t i = 0; i < budget; i++) {
		const struct kdp_affinity_key *k;
		void *key, *data;

		if (rte_hash_get_key_with_position(a->h, (int32_t)a->cursor, &key) == 0 &&
		    rte_hash_lookup_data(a->h, key, &data) >= 0) {
			const struct kdp_svc_fe *fe;
			uint32_t last = (uint32_t)(uintptr_t)data;

			k = key;
			fe = k->fe_id <= t->max_id ? t->by_id[k->fe_id] : NULL;
			if (fe == NULL || !fe->affinity ||
			    now_s - last > fe->affinity_timeout_s) {
				struct kdp_affinity_key copy = *k;
				rte_hash_del_key(a->h, &copy);
				removed++;
			}
		}
		if (++a->cursor >= max)
			a->cursor = 0;
	}
	return removed;
}

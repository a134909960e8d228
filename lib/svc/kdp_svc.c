/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kdp_hash.h"
#include <rte_errno.h>
#include <rte_malloc.h>

#include "maglev/kdp_maglev.h"
#include "kdp_svc.h"

struct kdp_svc_table *kdp_svc_table_create(const char *name, uint32_t cap,
					   uint32_t max_id, int socket)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = cap < 8 ? 8 : cap,
		.key_len = sizeof(struct kdp_svc_key),
		.hash_func = kdp_hash_crc,
		.socket_id = socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	/* Plain heap: built and freed by the control thread, small, and its
	 * arrays are malloc'ed too (the hash itself is in DPDK memory). */
	struct kdp_svc_table *t = calloc(1, sizeof(*t));

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
		kdp_svc_table_free(t);
		rte_errno = err;
		return NULL;
	}
	return t;
}

static void fe_release(struct kdp_svc_fe *fe)
{
	free(fe->be);
	free(fe->sel);
	free(fe->maglev);
	fe->be = NULL;
	fe->sel = NULL;
	fe->maglev = NULL;
}

void kdp_svc_table_free(struct kdp_svc_table *t)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; i < t->n_fe; i++)
		fe_release(&t->fe[i]);
	free(t->fe);
	free(t->by_id);
	rte_hash_free(t->h);
	free(t);
}

int kdp_svc_table_add(struct kdp_svc_table *t, struct kdp_svc_fe *fe)
{
	struct kdp_svc_fe *slot;
	int ret;

	if (t->n_fe == t->cap) {
		fe_release(fe);
		return -ENOSPC;
	}
	if (fe->id == 0 || fe->id > t->max_id || t->by_id[fe->id] != NULL) {
		fe_release(fe);
		return -EINVAL;
	}
	if (rte_hash_lookup(t->h, &fe->key) >= 0) {
		fe_release(fe);
		return -EEXIST;
	}
	slot = &t->fe[t->n_fe];
	*slot = *fe;
	ret = rte_hash_add_key_data(t->h, &slot->key, slot);
	if (ret != 0) {
		fe_release(slot);
		return ret;
	}
	t->by_id[fe->id] = slot;
	t->n_fe++;
	{
		uint32_t b = kdp_svc_filter_bit(slot->key.addr);
		t->addr_bits[b >> 6] |= 1ull << (b & 63);
	}
	return 0;
}

int kdp_svc_fe_prepare(struct kdp_svc_fe *fe, uint32_t m)
{
	struct kdp_maglev_backend *mb = NULL;
	uint16_t n = 0;
	int want = KDP_BE_ACTIVE;

	free(fe->sel);
	free(fe->maglev);
	fe->sel = NULL;
	fe->maglev = NULL;
	fe->m = 0;
	fe->n_sel = 0;
	fe->sel = malloc(sizeof(*fe->sel) * (fe->n_be ? fe->n_be : 1));
	if (fe->sel == NULL)
		return -ENOMEM;
	for (int pass = 0; pass < 2 && n == 0; pass++, want = KDP_BE_TERMINATING)
		for (uint16_t i = 0; i < fe->n_be; i++)
			if (fe->be[i].state == want)
				fe->sel[n++] = i;
	fe->n_sel = n;
	if (fe->algo != KDP_SVC_MAGLEV || n == 0)
		return 0;
	if (!kdp_maglev_valid_m(m))
		return -EINVAL;
	mb = malloc(sizeof(*mb) * n);
	fe->maglev = malloc(sizeof(*fe->maglev) * m);
	if (mb == NULL || fe->maglev == NULL) {
		free(mb);
		return -ENOMEM;
	}
	/* Maglev needs its backends in canonical order: the selectable set
	 * is taken from be[], which the control thread keeps sorted. */
	for (uint16_t i = 0; i < n; i++) {
		mb[i].ip = rte_be_to_cpu_32(fe->be[fe->sel[i]].ip);
		mb[i].port = rte_be_to_cpu_16(fe->be[fe->sel[i]].port);
		mb[i].weight = 1;
	}
	if (kdp_maglev_fill(fe->maglev, m, mb, n) != 0) {
		free(mb);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < m; i++)
		fe->maglev[i] = fe->sel[fe->maglev[i]];
	fe->m = m;
	free(mb);
	return 0;
}

const char *kdp_svc_type_name(enum kdp_svc_type t)
{
	switch (t) {
	case KDP_SVC_CLUSTER_IP:
		return "ClusterIP";
	case KDP_SVC_NODE_PORT:
		return "NodePort";
	case KDP_SVC_EXTERNAL_IP:
		return "ExternalIPs";
	case KDP_SVC_LOAD_BALANCER:
		return "LoadBalancer";
	case KDP_SVC_LOCAL_REDIRECT:
		return "LocalRedirect";
	}
	return "unknown";
}

const char *kdp_be_state_name(enum kdp_be_state s)
{
	switch (s) {
	case KDP_BE_ACTIVE:
		return "active";
	case KDP_BE_TERMINATING:
		return "terminating";
	case KDP_BE_MAINTENANCE:
		return "maintenance";
	case KDP_BE_QUARANTINED:
		return "quarantined";
	}
	return "unknown";
}

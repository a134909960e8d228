/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_errno.h>

#include "maglev/kdp_maglev.h"
#include "kdp_svc.h"

/* Slots for @p n frontends: a power of two, at most half full. */
static uint32_t slots_for(uint32_t n)
{
	uint32_t s = 16;

	while (s < 2 * (uint64_t)n && s < (1u << 30))
		s <<= 1;
	return s;
}

static struct kdp_svc_table *table_alloc(uint32_t n_slots, uint32_t max_id)
{
	struct kdp_svc_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		goto nomem;
	t->mask = n_slots - 1;
	t->max_id = max_id;
	t->slot = calloc(n_slots, sizeof(*t->slot));
	t->by_id = calloc((size_t)max_id + 1, sizeof(*t->by_id));
	t->addr_count = calloc(KDP_SVC_FILTER_BITS, sizeof(*t->addr_count));
	if (t->slot == NULL || t->by_id == NULL || t->addr_count == NULL)
		goto nomem;
	return t;
nomem:
	kdp_svc_table_free(t);
	rte_errno = ENOMEM;
	return NULL;
}

struct kdp_svc_table *kdp_svc_table_create(const char *name, uint32_t cap,
					   uint32_t max_id, int socket)
{
	(void)name;
	(void)socket;
	return table_alloc(slots_for(cap), max_id);
}

/* Puts @p fe into slot order only (no id, no filter). */
static void slot_put(struct kdp_svc_table *t, uint64_t w, struct kdp_svc_fe *fe)
{
	uint32_t i = kdp_svc_slot_of(t, w);

	while (t->slot[i].fe != NULL)
		i = (i + 1) & t->mask;
	t->slot[i].key = w;
	t->slot[i].fe = fe;
}

struct kdp_svc_table *kdp_svc_table_clone(const struct kdp_svc_table *src, uint32_t cap,
					  uint32_t max_id)
{
	uint32_t n_slots = slots_for(cap > src->n_fe ? cap : src->n_fe);
	struct kdp_svc_table *t;

	/* Smaller than @p src's when its highest ids are unused (ids are
	 * reused: the range shrinks back); never below one it holds. */
	for (uint32_t id = src->max_id; id > max_id; id--)
		if (src->by_id[id] != NULL) {
			max_id = id;
			break;
		}
	t = table_alloc(n_slots, max_id);
	if (t == NULL)
		return NULL;
	memcpy(t->addr_bits, src->addr_bits, sizeof(t->addr_bits));
	memcpy(t->addr_count, src->addr_count, sizeof(*t->addr_count) * KDP_SVC_FILTER_BITS);
	memcpy(t->by_id, src->by_id,
	       sizeof(*t->by_id) * ((size_t)RTE_MIN(src->max_id, max_id) + 1));
	t->n_fe = src->n_fe;
	if (t->mask == src->mask) {
		memcpy(t->slot, src->slot, sizeof(*t->slot) * ((size_t)t->mask + 1));
		return t;
	}
	for (uint32_t i = 0; i <= src->mask; i++)
		if (src->slot[i].fe != NULL)
			slot_put(t, src->slot[i].key, src->slot[i].fe);
	return t;
}

int kdp_svc_table_insert(struct kdp_svc_table *t, struct kdp_svc_fe *fe)
{
	uint64_t w = kdp_svc_key_word(&fe->key);
	uint32_t b;

	if (fe->id == 0 || fe->id > t->max_id || t->by_id[fe->id] != NULL)
		return -EINVAL;
	if (kdp_svc_table_get(t, &fe->key) != NULL)
		return -EEXIST;
	/* At most three quarters full: probes stay short. */
	if ((uint64_t)(t->n_fe + 1) * 4 > (uint64_t)(t->mask + 1) * 3)
		return -ENOSPC;
	slot_put(t, w, fe);
	t->by_id[fe->id] = fe;
	t->n_fe++;
	b = kdp_svc_filter_bit(fe->key.addr);
	t->addr_bits[b >> 6] |= 1ull << (b & 63);
	if (t->addr_count[b] != UINT16_MAX)
		t->addr_count[b]++;
	return 0;
}

struct kdp_svc_fe *kdp_svc_table_remove(struct kdp_svc_table *t, const struct kdp_svc_key *key)
{
	uint64_t w = kdp_svc_key_word(key);
	struct kdp_svc_fe *fe;
	uint32_t i, j, b;

	for (i = kdp_svc_slot_of(t, w);; i = (i + 1) & t->mask) {
		if (t->slot[i].fe == NULL)
			return NULL;
		if (t->slot[i].key == w)
			break;
	}
	fe = t->slot[i].fe;
	/* Backward-shift deletion: later entries of the probe run move up
	 * unless their home slot lies between the hole and themselves. */
	for (j = i;;) {
		uint32_t home;

		j = (j + 1) & t->mask;
		if (t->slot[j].fe == NULL)
			break;
		home = kdp_svc_slot_of(t, t->slot[j].key);
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slot[i] = t->slot[j];
			i = j;
		}
	}
	t->slot[i].fe = NULL;
	t->slot[i].key = 0;
	if (fe->id <= t->max_id && t->by_id[fe->id] == fe)
		t->by_id[fe->id] = NULL;
	t->n_fe--;
	b = kdp_svc_filter_bit(fe->key.addr);
	if (t->addr_count[b] != UINT16_MAX && --t->addr_count[b] == 0)
		t->addr_bits[b >> 6] &= ~(1ull << (b & 63));
	return fe;
}

int kdp_svc_table_add(struct kdp_svc_table *t, struct kdp_svc_fe *fe)
{
	struct kdp_svc_fe *copy = malloc(sizeof(*copy));
	struct kdp_svc_fe **owned = realloc(t->owned, sizeof(*owned) * (t->n_owned + 1));
	int ret;

	if (owned != NULL)
		t->owned = owned;
	if (copy == NULL || owned == NULL) {
		free(copy);
		kdp_svc_fe_release(fe);
		return -ENOMEM;
	}
	*copy = *fe;
	ret = kdp_svc_table_insert(t, copy);
	if (ret != 0) {
		kdp_svc_fe_release(copy);
		free(copy);
		return ret;
	}
	t->owned[t->n_owned++] = copy;
	return 0;
}

void kdp_svc_pick_release(struct kdp_svc_pick *p)
{
	free(p->sel);
	free(p->maglev);
	memset(p, 0, sizeof(*p));
}

void kdp_svc_fe_release(struct kdp_svc_fe *fe)
{
	free(fe->be);
	free(fe->ranges);
	fe->be = NULL;
	fe->ranges = NULL;
	kdp_svc_pick_release(&fe->all);
	kdp_svc_pick_release(&fe->local);
}

void kdp_svc_table_free(struct kdp_svc_table *t)
{
	if (t == NULL)
		return;
	for (uint32_t i = 0; i < t->n_owned; i++) {
		kdp_svc_fe_release(t->owned[i]);
		free(t->owned[i]);
	}
	free(t->owned);
	free(t->slot);
	free(t->by_id);
	free(t->addr_count);
	free(t);
}

/* Fills @p p with the backends in state active (then terminating when
 * none), among the local ones only when @p local. */
static int pick_fill(struct kdp_svc_pick *p, const void *be, uint16_t n_be,
		     kdp_svc_be_view_fn view, bool local, uint8_t algo, uint32_t m)
{
	struct kdp_maglev_backend *mb;
	uint16_t n = 0;
	int want = KDP_BE_ACTIVE;

	kdp_svc_pick_release(p);
	p->sel = malloc(sizeof(*p->sel) * (n_be ? n_be : 1));
	if (p->sel == NULL)
		return -ENOMEM;
	for (int pass = 0; pass < 2 && n == 0; pass++, want = KDP_BE_TERMINATING)
		for (uint16_t i = 0; i < n_be; i++) {
			uint8_t state, is_local;

			view(be, i, &state, &is_local, NULL);
			if (state == want && (!local || is_local))
				p->sel[n++] = i;
		}
	p->n = n;
	if (algo != KDP_SVC_MAGLEV || n == 0)
		return 0;
	if (!kdp_maglev_valid_m(m))
		return -EINVAL;
	mb = calloc(n, sizeof(*mb)); /* zeroed: is6 and ip6 are part of the identity */
	p->maglev = malloc(sizeof(*p->maglev) * m);
	if (mb == NULL || p->maglev == NULL) {
		free(mb);
		return -ENOMEM;
	}
	/* Maglev needs its backends in canonical order: the selectable set
	 * is taken from be[], which the control thread keeps sorted. */
	for (uint16_t i = 0; i < n; i++) {
		uint8_t state, is_local;

		view(be, p->sel[i], &state, &is_local, &mb[i]);
		mb[i].weight = 1;
	}
	if (kdp_maglev_fill(p->maglev, m, mb, n) != 0) {
		free(mb);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < m; i++)
		p->maglev[i] = p->sel[p->maglev[i]];
	p->m = m;
	free(mb);
	return 0;
}

int kdp_svc_picks_fill(struct kdp_svc_pick *all, struct kdp_svc_pick *local, uint8_t local_only,
		       uint8_t algo, uint32_t m, const void *be, uint16_t n,
		       kdp_svc_be_view_fn view)
{
	int ret = pick_fill(all, be, n, view, false, algo, m);

	if (ret == 0 && local_only != 0)
		ret = pick_fill(local, be, n, view, true, algo, m);
	else
		kdp_svc_pick_release(local);
	return ret;
}

static void be_view(const void *be, uint16_t i, uint8_t *state, uint8_t *local,
		    struct kdp_maglev_backend *mb)
{
	const struct kdp_svc_backend *b = (const struct kdp_svc_backend *)be + i;

	*state = b->state;
	*local = b->local;
	if (mb != NULL) {
		mb->ip = rte_be_to_cpu_32(b->ip);
		mb->port = rte_be_to_cpu_16(b->port);
	}
}

int kdp_svc_fe_prepare(struct kdp_svc_fe *fe, uint32_t m)
{
	return kdp_svc_picks_fill(&fe->all, &fe->local, fe->local_only, fe->algo, m, fe->be,
				  fe->n_be, be_view);
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

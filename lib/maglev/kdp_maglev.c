/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_jhash.h>

#include "kdp_maglev.h"

/* A slot nobody has claimed yet (only during a fill). */
#define MAGLEV_FREE UINT32_MAX

/*
 * Fill state of one usable backend. The array of them is a binary min-heap
 * ordered by the virtual time of each backend's next turn, (turns + 1) / weight,
 * ties by index in b[], so the top is always the backend whose turn it is.
 */
struct maglev_state {
	uint32_t pos;    /* current slot of its permutation */
	uint32_t skip;
	uint32_t turns;  /* slots claimed so far */
	uint32_t weight; /* > 0 */
	uint32_t idx;    /* index in b[], the value written to the table */
};

bool kdp_maglev_valid_m(uint32_t m)
{
	if (m < 3 || m > KDP_MAGLEV_MAX_M || (m & 1) == 0)
		return false;
	for (uint32_t d = 3; d * d <= m; d += 2)
		if (m % d == 0)
			return false;
	return true;
}

static int backend_cmp(const void *pa, const void *pb)
{
	const struct kdp_maglev_backend *a = pa, *b = pb;

	if (a->is6 != b->is6)
		return a->is6 < b->is6 ? -1 : 1;
	if (a->is6 && memcmp(a->ip6, b->ip6, 16) != 0)
		return memcmp(a->ip6, b->ip6, 16);
	if (a->ip != b->ip)
		return a->ip < b->ip ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	if (a->weight != b->weight)
		return a->weight < b->weight ? -1 : 1;
	return 0;
}

void kdp_maglev_sort(struct kdp_maglev_backend *b, uint32_t n)
{
	if (b != NULL && n > 1)
		qsort(b, n, sizeof(*b), backend_cmp);
}

/* h1/h2 of the paper: rte_jhash over ip, port in network order (6 bytes;
 * IPv6: 18). */
static void perm_of(const struct kdp_maglev_backend *b, uint32_t m,
		    uint32_t *offset, uint32_t *skip)
{
	uint32_t key[2] = {rte_cpu_to_be_32(b->ip), 0};
	uint16_t port = rte_cpu_to_be_16(b->port);

	if (b->is6) {
		/* 18 bytes hashed in a zeroed 20: rte_jhash reads the tail as a
		 * whole 32-bit word (masked), past an 18-byte array. */
		uint32_t k6[5] = {0, 0, 0, 0, 0};

		memcpy(k6, b->ip6, 16);
		memcpy(&k6[4], &port, sizeof(port));
		*offset = rte_jhash(k6, 18, KDP_MAGLEV_SEED_OFFSET) % m;
		*skip = rte_jhash(k6, 18, KDP_MAGLEV_SEED_SKIP) % (m - 1) + 1;
		return;
	}
	memcpy(&key[1], &port, sizeof(port));
	*offset = rte_jhash(key, 6, KDP_MAGLEV_SEED_OFFSET) % m;
	*skip = rte_jhash(key, 6, KDP_MAGLEV_SEED_SKIP) % (m - 1) + 1;
}

int kdp_maglev_offset_skip(const struct kdp_maglev_backend *b, uint32_t m,
			   uint32_t *offset, uint32_t *skip)
{
	if (!kdp_maglev_valid_m(m) || b == NULL || offset == NULL || skip == NULL)
		return -EINVAL;
	perm_of(b, m, offset, skip);
	return 0;
}

/* True when a's next turn comes before b's. */
static inline bool turn_before(const struct maglev_state *a,
			       const struct maglev_state *b)
{
	uint64_t ta = (uint64_t)(a->turns + 1) * b->weight;
	uint64_t tb = (uint64_t)(b->turns + 1) * a->weight;

	return ta < tb || (ta == tb && a->idx < b->idx);
}

static void sift_down(struct maglev_state *h, uint32_t n, uint32_t i)
{
	struct maglev_state x = h[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && turn_before(&h[c + 1], &h[c]))
			c++;
		if (!turn_before(&h[c], &x))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = x;
}

/*
 * The paper's Pseudocode 1 with weighted turns: the backend at the top of the
 * heap walks its permutation to the next free slot, claims it, and goes back
 * into the heap with its next turn. m is a valid prime and every skip is in
 * [1, m-1], so each permutation visits every slot and a free one is found.
 */
static void fill_core(uint32_t *table, uint32_t m, struct maglev_state *h,
		      uint32_t nh)
{
	for (uint32_t i = 0; i < m; i++)
		table[i] = MAGLEV_FREE;
	for (uint32_t i = nh / 2; i-- > 0;)
		sift_down(h, nh, i);
	for (uint32_t filled = 0; filled < m; filled++) {
		struct maglev_state *s = &h[0];

		while (table[s->pos] != MAGLEV_FREE) {
			s->pos += s->skip;
			if (s->pos >= m)
				s->pos -= m;
		}
		table[s->pos] = s->idx;
		s->pos += s->skip;
		if (s->pos >= m)
			s->pos -= m;
		s->turns++;
		sift_down(h, nh, 0);
	}
}

int kdp_maglev_fill_perm(uint32_t *table, uint32_t m, const uint32_t *offsets,
			 const uint32_t *skips, const uint16_t *weights,
			 uint32_t n)
{
	struct maglev_state *h;
	uint32_t nh = 0;

	if (!kdp_maglev_valid_m(m) || table == NULL ||
	    (n > 0 && (offsets == NULL || skips == NULL)))
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++) {
		if (offsets[i] >= m || skips[i] == 0 || skips[i] >= m)
			return -EINVAL;
		if (weights == NULL || weights[i] > 0)
			nh++;
	}
	if (nh == 0)
		return -ENOENT;
	h = malloc(sizeof(*h) * nh);
	if (h == NULL)
		return -ENOMEM;
	nh = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (weights != NULL && weights[i] == 0)
			continue;
		h[nh++] = (struct maglev_state){
			.pos = offsets[i], .skip = skips[i], .turns = 0,
			.weight = weights == NULL ? 1 : weights[i], .idx = i};
	}
	fill_core(table, m, h, nh);
	free(h);
	return 0;
}

int kdp_maglev_fill(uint32_t *table, uint32_t m,
		    const struct kdp_maglev_backend *b, uint32_t n)
{
	struct maglev_state *h;
	uint32_t nh = 0;

	if (!kdp_maglev_valid_m(m) || table == NULL || (n > 0 && b == NULL))
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		if (b[i].weight > 0)
			nh++;
	if (nh == 0)
		return -ENOENT;
	h = malloc(sizeof(*h) * nh);
	if (h == NULL)
		return -ENOMEM;
	nh = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct maglev_state *s;

		if (b[i].weight == 0)
			continue;
		s = &h[nh++];
		perm_of(&b[i], m, &s->pos, &s->skip);
		s->turns = 0;
		s->weight = b[i].weight;
		s->idx = i;
	}
	fill_core(table, m, h, nh);
	free(h);
	return 0;
}

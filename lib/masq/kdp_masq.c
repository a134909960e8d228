/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_malloc.h>

#include "common/kdp_lpm.h"
#include "kdp_masq.h"

struct kdp_masq_set *kdp_masq_set_create(const char *name,
					 uint32_t max_prefixes, int socket)
{
	struct kdp_masq_set *s;

	if (name == NULL || max_prefixes == 0 || max_prefixes > (1u << 24)) {
		rte_errno = EINVAL;
		return NULL;
	}
	s = rte_zmalloc_socket("kdp_masq", sizeof(*s), 0, socket);
	if (s == NULL)
		goto nomem;
	s->max_entries = max_prefixes;
	s->entries = rte_zmalloc_socket("kdp_masq_list",
					sizeof(*s->entries) * max_prefixes, 0,
					socket);
	if (s->entries == NULL)
		goto nomem;
	s->lpm = kdp_lpm_create(name, max_prefixes, socket);
	if (s->lpm == NULL) {
		int err = rte_errno;
		kdp_masq_set_free(s);
		rte_errno = err;
		return NULL;
	}
	return s;
nomem:
	kdp_masq_set_free(s);
	rte_errno = ENOMEM;
	return NULL;
}

void kdp_masq_set_free(struct kdp_masq_set *s)
{
	if (s == NULL)
		return;
	rte_lpm_free(s->lpm);
	rte_free(s->entries);
	rte_free(s);
}

void kdp_masq_set_reset(struct kdp_masq_set *s)
{
	for (uint32_t i = 0; i < s->n_entries; i++)
		if (s->entries[i].depth > 0)
			rte_lpm_delete(s->lpm, s->entries[i].prefix, s->entries[i].depth);
	s->n_entries = 0;
	s->all = false;
	s->refs = 1;
	s->sig = 0;
}

int kdp_masq_set_add(struct kdp_masq_set *s, uint32_t prefix, uint8_t depth,
		     enum kdp_masq_reason why)
{
	struct kdp_masq_entry *e;
	int ret;

	if (depth > 32 || (unsigned int)why >= KDP_MASQ_R_MAX)
		return -EINVAL;
	prefix = kdp_lpm_mask(prefix, depth);
	for (uint32_t i = 0; i < s->n_entries; i++)
		if (s->entries[i].prefix == prefix && s->entries[i].depth == depth)
			return 0;
	if (s->n_entries == s->max_entries)
		return -ENOSPC;
	if (depth == 0) {
		s->all = true;
	} else {
		/* The next hop is the entry's index; only hit/miss is used. */
		ret = rte_lpm_add(s->lpm, prefix, depth, s->n_entries);
		if (ret < 0)
			return ret == -ENOSPC ? -ENOSPC : -EINVAL;
	}
	e = &s->entries[s->n_entries++];
	e->prefix = prefix;
	e->depth = depth;
	e->reason = (uint8_t)why;
	return 0;
}

const char *kdp_masq_reason_name(enum kdp_masq_reason r)
{
	static const char *const names[] = {
		[KDP_MASQ_R_NATIVE_CIDR] = "native-routing-cidr",
		[KDP_MASQ_R_NODE_IP] = "node-ip",
		[KDP_MASQ_R_CONFIG] = "config",
		[KDP_MASQ_R_LINK_LOCAL] = "link-local",
		[KDP_MASQ_R_DEFAULT_RESERVED] = "default-reserved",
	};
	return (unsigned int)r < RTE_DIM(names) ? names[r] : "unknown";
}

/* ---- IPv6 ---- */

struct kdp_masq_set6 *kdp_masq_set6_create(uint32_t max_prefixes)
{
	struct kdp_masq_set6 *s;

	if (max_prefixes == 0 || max_prefixes > (1u << 20)) {
		rte_errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		goto nomem;
	s->max_entries = max_prefixes;
	s->entries = calloc(max_prefixes, sizeof(*s->entries));
	s->cap_nodes = 16;
	s->node = calloc(s->cap_nodes, sizeof(*s->node));
	if (s->entries == NULL || s->node == NULL)
		goto nomem;
	s->n_nodes = 1; /* the root */
	return s;
nomem:
	kdp_masq_set6_free(s);
	rte_errno = ENOMEM;
	return NULL;
}

void kdp_masq_set6_free(struct kdp_masq_set6 *s)
{
	if (s == NULL)
		return;
	free(s->node);
	free(s->entries);
	free(s);
}

/* The node below word @p w of node @p n, made when missing; 0 on ENOMEM. */
static uint32_t child(struct kdp_masq_set6 *s, uint32_t n, uint8_t w)
{
	uint32_t c = s->node[n][w] & ~KDP_MASQ6_COVERED;

	if (c != 0)
		return c;
	if (s->n_nodes == s->cap_nodes) {
		uint32_t(*a)[256] = realloc(s->node, sizeof(*a) * s->cap_nodes * 2);

		if (a == NULL)
			return 0;
		memset(a + s->cap_nodes, 0, sizeof(*a) * s->cap_nodes);
		s->node = a;
		s->cap_nodes *= 2;
	}
	c = s->n_nodes++;
	s->node[n][w] |= c;
	return c;
}

int kdp_masq_set6_add(struct kdp_masq_set6 *s, const struct kdp_in6 *prefix, uint8_t depth,
		      enum kdp_masq_reason why)
{
	struct kdp_in6 p = *prefix;
	struct kdp_masq_entry6 *e;
	unsigned int last, bits;
	uint32_t n = 0;

	if (depth > 128 || (unsigned int)why >= KDP_MASQ_R_MAX)
		return -EINVAL;
	kdp_addr6_mask(&p, depth);
	for (uint32_t i = 0; i < s->n_entries; i++)
		if (s->entries[i].depth == depth && kdp_addr6_eq(&s->entries[i].prefix, &p))
			return 0;
	if (s->n_entries == s->max_entries)
		return -ENOSPC;
	if (depth == 0) {
		s->all = true;
	} else {
		/* The byte the prefix ends in, and how many of its bits count. */
		last = (depth - 1u) / 8;
		bits = depth - last * 8;
		for (unsigned int i = 0; i < last; i++) {
			n = child(s, n, p.b[i]);
			if (n == 0)
				return -ENOMEM;
		}
		for (unsigned int v = 0; v < (1u << (8 - bits)); v++)
			s->node[n][p.b[last] | v] |= KDP_MASQ6_COVERED;
	}
	e = &s->entries[s->n_entries++];
	e->prefix = p;
	e->depth = depth;
	e->reason = (uint8_t)why;
	return 0;
}

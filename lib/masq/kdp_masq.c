/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
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

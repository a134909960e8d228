/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>

#include <rte_errno.h>

#include "kdp_lpm.h"

struct rte_lpm *kdp_lpm_create(const char *name, uint32_t max_prefixes, int socket)
{
	struct rte_lpm_config cfg = {
		.max_rules = max_prefixes,
		.number_tbl8s = max_prefixes < 256 ? 256 : max_prefixes,
		.flags = 0,
	};

	if (name == NULL || max_prefixes == 0 || max_prefixes > (1u << 24)) {
		rte_errno = EINVAL;
		return NULL;
	}
	return rte_lpm_create(name, socket, &cfg);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The rte_lpm tables of kdp (routes, the non-masquerade set): one way to
 * size and fill them.
 */
#ifndef KDP_LPM_H
#define KDP_LPM_H

#include <stdint.h>
#include <rte_lpm.h>

/**
 * An rte_lpm for up to @p max_prefixes prefixes (1 to 2^24). Each prefix
 * longer than /24 takes at most one tbl8 group of its own, so max_prefixes
 * groups (at least 256) always suffice. NULL with rte_errno set.
 */
struct rte_lpm *kdp_lpm_create(const char *name, uint32_t max_prefixes, int socket);

/** @p prefix (host order) with its host bits beyond @p depth (0-32) cleared. */
static inline uint32_t kdp_lpm_mask(uint32_t prefix, uint8_t depth)
{
	return depth == 0 ? 0 : prefix & (~0u << (32 - depth));
}

#endif

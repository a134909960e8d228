/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Incremental Internet checksum updates (RFC 1624, eqn. 3):
 * HC' = ~(~HC + ~m + m'). Values are taken as they sit in the packet
 * (network order), so no byte swapping is needed.
 */
#ifndef KDP_CSUM_H
#define KDP_CSUM_H

#include <stdint.h>
#include <string.h>

/** Loads a 16-bit word from any alignment, as it sits in memory. */
static inline uint16_t kdp_load16(const void *p)
{
	uint16_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint16_t kdp_csum_fold(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

/** New checksum after a 16-bit field changed from @p old to @p new. */
static inline uint16_t kdp_csum_update16(uint16_t csum, uint16_t old,
					 uint16_t new)
{
	uint32_t s = (uint16_t)~csum;
	s += (uint16_t)~old;
	s += new;
	return (uint16_t)~kdp_csum_fold(s);
}

/** New checksum after a 32-bit field changed from @p old to @p new. */
static inline uint16_t kdp_csum_update32(uint16_t csum, uint32_t old,
					 uint32_t new)
{
	uint32_t s = (uint16_t)~csum;
	s += (uint16_t)~(old >> 16);
	s += (uint16_t)~(old & 0xffff);
	s += new >> 16;
	s += new & 0xffff;
	return (uint16_t)~kdp_csum_fold(s);
}

#endif

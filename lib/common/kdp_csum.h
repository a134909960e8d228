/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Incremental Internet checksum updates (RFC 1624, eqn. 3):
 * HC' = ~(~HC + ~m + m'). Values are taken as they sit in the packet
 * (network order), so no byte swapping is needed.
 */
#ifndef KDP_CSUM_H
#define KDP_CSUM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_ip.h>

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

/**
 * True when the IPv4 header at @p ip (@p ihl bytes, a multiple of 4 ≥ 20)
 * has a valid checksum. A 20-byte header is summed as five 32-bit words.
 */
static inline bool kdp_csum_ipv4_ok(const void *ip, uint32_t ihl)
{
	if (likely(ihl == 20)) {
		uint32_t w[5];
		uint64_t s;

		memcpy(w, ip, sizeof(w));
		s = (uint64_t)w[0] + w[1] + w[2] + w[3] + w[4];
		s = (s & 0xffffffff) + (s >> 32);
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		s = (s & 0xffff) + (s >> 16);
		return s == 0xffff;
	}
	return rte_raw_cksum(ip, ihl) == 0xffff;
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

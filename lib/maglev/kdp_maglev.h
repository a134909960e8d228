/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable
 * Software Network Load Balancer", NSDI 2016, §3.4): a lookup table of M
 * slots (M prime) that maps a flow hash to a backend so that every node
 * picks the same backend for the same flow, spreads flows evenly, and moves
 * few flows when the backend set changes.
 *
 * The control thread fills a table with kdp_maglev_fill(); workers then only
 * read it (kdp_maglev_lookup()) while it is published through RCU.
 *
 * Everything that decides a table is fixed: the hash (DPDK's rte_jhash), its
 * seeds (below), and the order of the backends, which callers make canonical
 * with kdp_maglev_sort(). rte_jhash reads its key as native 32-bit words, so
 * tables and flow hashes are identical across nodes of the same byte order
 * (every kdp target is little-endian: x86-64, arm64).
 */
#ifndef KDP_MAGLEV_H
#define KDP_MAGLEV_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <rte_jhash.h>

/** Largest table size accepted: the largest prime below 2^16. A table of
 *  that size is 256 KiB and fills in about 7 ms; the default is 16381. */
#define KDP_MAGLEV_MAX_M 65521u
/** Default table size (Cilium's default; the paper advises m >= 100 x backends). */
#define KDP_MAGLEV_DEFAULT_M 16381u

/** Seed of h1 (permutation offset): rte_jhash over the 6-byte backend key. */
#define KDP_MAGLEV_SEED_OFFSET 0x6b64706fu /* "kdpo" */
/** Seed of h2 (permutation skip): rte_jhash over the 6-byte backend key. */
#define KDP_MAGLEV_SEED_SKIP 0x6b647073u /* "kdps" */
/** Seed of the flow hash kdp_maglev_flow_hash(). */
#define KDP_MAGLEV_SEED_FLOW 0x6b647066u /* "kdpf" */

/** One backend as Maglev sees it: its identity (IPv4 host order, or IPv6,
 *  and port) and weight. */
struct kdp_maglev_backend {
	uint32_t ip;     /**< host order (IPv4) */
	uint16_t port;   /**< host order */
	uint16_t weight; /**< relative share; 0 = not in the table */
	uint8_t is6;     /**< the identity is ip6, not ip */
	uint8_t ip6[16]; /**< network order (IPv6) */
};

/** True when @p m is a prime >= 3 and <= KDP_MAGLEV_MAX_M (65521). */
bool kdp_maglev_valid_m(uint32_t m);

/**
 * Sorts @p b[0..n-1] in the canonical order kdp_maglev_fill() expects: IPv4
 * before IPv6, by address, then port, then weight (all ascending). Control
 * thread only.
 */
void kdp_maglev_sort(struct kdp_maglev_backend *b, uint32_t n);

/**
 * The permutation of backend @p b in a table of @p m slots, as in the paper:
 * the key is the 6 bytes ip, port in network order (IPv6: the 18 bytes
 * ip6, port);
 * offset = rte_jhash(key, 6, KDP_MAGLEV_SEED_OFFSET) % m,
 * skip = rte_jhash(key, 6, KDP_MAGLEV_SEED_SKIP) % (m - 1) + 1, and the
 * backend's j-th preferred slot is (offset + j * skip) % m.
 * @return 0, or -EINVAL when @p m is not valid (nothing written).
 */
int kdp_maglev_offset_skip(const struct kdp_maglev_backend *b, uint32_t m,
			   uint32_t *offset, uint32_t *skip);

/**
 * Fills @p table[0..m-1] with indices into @p b[] by the paper's permutation
 * fill: backends take turns claiming the next slot of their permutation that
 * is still free, until every slot is taken.
 *
 * Weights: turns are proportional to weight. Backend i's k-th turn
 * (k = 1, 2, ...) falls at virtual time k / weight_i; turns are taken in order
 * of virtual time, ties by index in @p b[]. With equal weights this is exactly
 * the paper's round robin (all of b[] in index order, round after round).
 * Since every turn claims one slot, backend i ends with between
 * m*w_i/W - 1 and (m+n)*w_i/W slots (W = sum of weights), e.g. 102 or 103
 * of 16381 for each of 160 equal backends. Backends with weight 0 take no
 * turn and own no slot. With more usable backends than slots, the last ones
 * in turn order get none.
 *
 * The result depends on the order of @p b[]: callers must pass backends in
 * canonical order (kdp_maglev_sort()) so that every node builds the same table.
 *
 * Cost: O(m log n) plus the paper's probing for free slots (O(m log m)
 * expected); about 1 ms for 160 backends at m = 16381. Allocates one
 * temporary per-backend array with malloc(). Control thread only.
 * @return 0; -EINVAL when @p m is not valid or a pointer is NULL; -ENOENT when
 * no backend has a weight > 0; -ENOMEM. On error @p table is untouched.
 */
int kdp_maglev_fill(uint32_t *table, uint32_t m,
		    const struct kdp_maglev_backend *b, uint32_t n);

/**
 * The fill core of kdp_maglev_fill(), with the permutations given directly
 * (backend i: @p offsets[i] < m, 1 <= @p skips[i] < m) and @p weights (NULL:
 * all 1). Exposed for tests (the paper's worked example) and tools.
 * @return as kdp_maglev_fill(); also -EINVAL for an offset or skip out of range.
 */
int kdp_maglev_fill_perm(uint32_t *table, uint32_t m, const uint32_t *offsets,
			 const uint32_t *skips, const uint16_t *weights,
			 uint32_t n);

/**
 * Flow hash of an IPv4 5-tuple, addresses and ports in network order as they
 * sit in the packet: rte_jhash over the 4 words src, dst, sport<<16|dport,
 * proto with the fixed seed KDP_MAGLEV_SEED_FLOW, so it is the same on every
 * node. Used both for `maglev` (kdp_maglev_lookup()) and for `random`.
 * Any thread.
 */
static inline uint32_t kdp_maglev_flow_hash(uint32_t src, uint32_t dst,
					    uint16_t sport, uint16_t dport,
					    uint8_t proto)
{
	const uint32_t k[4] = {src, dst,
			       ((uint32_t)sport << 16) | dport, proto};

	return rte_jhash_32b(k, 4, KDP_MAGLEV_SEED_FLOW);
}

/**
 * kdp_maglev_flow_hash() of an IPv6 5-tuple: rte_jhash over the 10 words
 * src (4), dst (4), sport<<16|dport, proto, with the same fixed seed.
 */
static inline uint32_t kdp_maglev_flow_hash6(const uint8_t *src, const uint8_t *dst,
					     uint16_t sport, uint16_t dport, uint8_t proto)
{
	uint32_t k[10];

	memcpy(k, src, 16);
	memcpy(k + 4, dst, 16);
	k[8] = ((uint32_t)sport << 16) | dport;
	k[9] = proto;
	return rte_jhash_32b(k, 10, KDP_MAGLEV_SEED_FLOW);
}

/** The backend index (into the b[] the table was filled from) for @p hash. */
static inline uint32_t kdp_maglev_lookup(const uint32_t *table, uint32_t m,
					 uint32_t hash)
{
	return table[hash % m];
}

#endif

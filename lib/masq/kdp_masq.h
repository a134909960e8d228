/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Masquerade stage: the non-masquerade sets (one per family), the destinations
 * a packet from a local pod may reach with its own source address (Cilium's ipmasq map plus
 * the native routing CIDR and the node IPs). It is an IPv4 longest-prefix
 * match structure (rte_lpm, DIR-24-8), so a lookup costs one or two memory
 * reads however many prefixes the set holds: the same for 3 or 3,000.
 *
 * A set is built whole by the control thread (kdp_masq_set_add) and then only
 * read: workers look it up without locks while it is published through RCU.
 * There is no delete; a change builds a new set and the old one is freed once
 * every worker has passed a quiescent state.
 */
#ifndef KDP_MASQ_H
#define KDP_MASQ_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_lpm.h>

#include "common/kdp_addr.h"

/** Why a prefix is in the set, for listings ("cilium-dbg bpf ipmasq list"). */
enum kdp_masq_reason {
	KDP_MASQ_R_NATIVE_CIDR,      /**< the native routing CIDR (cluster pool) */
	KDP_MASQ_R_NODE_IP,          /**< a cluster node's IP, /32 */
	KDP_MASQ_R_CONFIG,           /**< ip-masq-agent nonMasqueradeCIDRs */
	KDP_MASQ_R_LINK_LOCAL,       /**< 169.254.0.0/16, masqLinkLocal false */
	KDP_MASQ_R_DEFAULT_RESERVED, /**< reserved ranges of an empty config */
	KDP_MASQ_R_MAX,
};

/** One prefix as added, kept for listings. */
struct kdp_masq_entry {
	uint32_t prefix; /**< host order, host bits cleared */
	uint8_t depth;   /**< 0..32 */
	uint8_t reason;  /**< enum kdp_masq_reason */
};

struct kdp_masq_set {
	struct rte_lpm *lpm;            /**< depths 1..32 */
	bool all;                       /**< 0.0.0.0/0 is in the set */
	uint32_t n_entries;             /**< distinct prefixes added */
	uint32_t max_entries;
	struct kdp_masq_entry *entries; /**< in insertion order */
	uint32_t refs;                  /**< snapshots sharing it (control thread) */
	uint64_t sig;                   /**< hash of what it was built from */
};

/**
 * Creates an empty set for up to @p max_prefixes distinct prefixes on
 * @p socket. @p name must be unique among live sets (it names the LPM).
 * Note that an rte_lpm always holds a 64 MiB first-level table.
 * @return the set, or NULL with rte_errno set (EINVAL for 0 or more than
 * 2^24 prefixes, ENOMEM, EEXIST for a name in use).
 */
struct kdp_masq_set *kdp_masq_set_create(const char *name,
					 uint32_t max_prefixes, int socket);

/** Empties a set no reader uses any more, for reuse (prefixes deleted one by
 *  one: cheaper than a new 64 MiB table). refs becomes 1, sig 0. */
void kdp_masq_set_reset(struct kdp_masq_set *s);

/** Frees a set (NULL is fine). Only once no reader can still use it. */
void kdp_masq_set_free(struct kdp_masq_set *s);

/**
 * Adds prefix/@p depth (host order; host bits are cleared) with the reason
 * @p why kept for listings. Overlapping prefixes are fine (a lookup only asks
 * whether any prefix covers the address); adding a prefix already in the set
 * keeps the first entry and its reason and returns 0. Control thread only,
 * before the set is published.
 * @return 0, -ENOSPC when @p max_prefixes distinct prefixes are already in
 * (or the LPM ran out of tbl8 groups), -EINVAL for a depth above 32 or an
 * unknown reason.
 */
int kdp_masq_set_add(struct kdp_masq_set *s, uint32_t prefix, uint8_t depth,
		     enum kdp_masq_reason why);

/** Listing name of a reason ("native-routing-cidr", "node-ip", ...). */
const char *kdp_masq_reason_name(enum kdp_masq_reason r);

/** Number of distinct prefixes in the set (listing: s->entries[0..n)). */
static inline uint32_t kdp_masq_set_count(const struct kdp_masq_set *s)
{
	return s->n_entries;
}

/**
 * True when @p dst (host order) is in the set, i.e. the packet must NOT be
 * masqueraded. Lock-free, any thread; cost independent of the set's size.
 */
static inline bool kdp_masq_set_contains(const struct kdp_masq_set *s,
					 uint32_t dst)
{
	uint32_t hop;

	return s->all || rte_lpm_lookup(s->lpm, dst, &hop) == 0;
}

/** Largest @p n kdp_masq_set_contains_bulk takes. */
#define KDP_MASQ_BULK_MAX 64

/**
 * Looks up @p n (at most KDP_MASQ_BULK_MAX) destinations at once: bit i of
 * the result is set when @p dst[i] is in the set (must not be masqueraded).
 * Lock-free, any thread.
 */
static inline uint64_t kdp_masq_set_contains_bulk(const struct kdp_masq_set *s,
						  const uint32_t *dst,
						  unsigned int n)
{
	uint32_t hop[KDP_MASQ_BULK_MAX];
	uint64_t hit = 0;

	if (n > KDP_MASQ_BULK_MAX)
		n = KDP_MASQ_BULK_MAX;
	if (s->all)
		return n == 64 ? UINT64_MAX : (UINT64_C(1) << n) - 1;
	rte_lpm_lookup_bulk(s->lpm, dst, hop, n);
	for (unsigned int i = 0; i < n; i++)
		hit |= (uint64_t)((hop[i] & RTE_LPM_LOOKUP_SUCCESS) != 0) << i;
	return hit;
}

/* ---- IPv6 ---- */

/**
 * The IPv6 non-masquerade set. Only "is any prefix covering this address?"
 * is asked, so a multibit trie of stride 8 does, without rte_lpm6's 64 MiB
 * first level: a node is 256 words, one per value of the next address
 * byte, each with a "covered" bit (a prefix ends at or above it) and the
 * index of the node below. A lookup stops at the first covered word, after
 * at most 16 reads (a /64 prefix: 8), however many prefixes the set holds.
 * Built whole by the control thread, then only read (RCU), like the IPv4
 * set.
 */
#define KDP_MASQ6_COVERED 0x80000000u

struct kdp_masq_entry6 {
	struct kdp_in6 prefix; /**< host bits cleared */
	uint8_t depth;         /**< 0..128 */
	uint8_t reason;        /**< enum kdp_masq_reason */
};

struct kdp_masq_set6 {
	uint32_t (*node)[256];   /**< node 0 is the root (byte 0) */
	uint32_t n_nodes;
	uint32_t cap_nodes;
	bool all;                /**< ::/0 is in the set */
	uint32_t n_entries;
	uint32_t max_entries;
	struct kdp_masq_entry6 *entries; /**< in insertion order */
	uint32_t refs;
	uint64_t sig;
};

/** An empty IPv6 set for up to @p max_prefixes prefixes. NULL with rte_errno. */
struct kdp_masq_set6 *kdp_masq_set6_create(uint32_t max_prefixes);

/** Frees an IPv6 set (NULL is fine). */
void kdp_masq_set6_free(struct kdp_masq_set6 *s);

/**
 * kdp_masq_set_add() for IPv6: @p prefix / @p depth (0..128, host bits
 * cleared). @return 0, -ENOSPC, -ENOMEM, -EINVAL.
 */
int kdp_masq_set6_add(struct kdp_masq_set6 *s, const struct kdp_in6 *prefix, uint8_t depth,
		      enum kdp_masq_reason why);

/** True when @p dst is in the set (must NOT be masqueraded). Lock-free. */
static inline bool kdp_masq_set6_contains(const struct kdp_masq_set6 *s,
					  const struct kdp_in6 *dst)
{
	uint32_t n = 0;

	if (s->all)
		return true;
	for (unsigned int i = 0; i < 16; i++) {
		uint32_t e = s->node[n][dst->b[i]];

		if (e & KDP_MASQ6_COVERED)
			return true;
		if (e == 0)
			return false;
		n = e;
	}
	return false;
}

#endif

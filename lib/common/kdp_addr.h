/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Text forms of IPv4 addresses, prefixes and MAC addresses, strict: no
 * leading zeros, no shorthand, host bits of a prefix must be zero.
 * Addresses are returned in host byte order. All functions are thread-safe.
 */
#ifndef KDP_ADDR_H
#define KDP_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <rte_ether.h>

/** Longest text form of "255.255.255.255/32" plus NUL. */
#define KDP_ADDR_STRLEN 19

/** Parses dotted-quad @p s into @p ip. Returns 0 or -EINVAL. */
int kdp_addr_parse_ip(const char *s, uint32_t *ip);

/**
 * Parses "a.b.c.d/len" into @p ip and @p depth. With @p strict, host bits
 * set are an error (-EINVAL); otherwise they are kept (e.g. "10.0.0.5/24"
 * as an interface address). Returns 0 or -EINVAL.
 */
int kdp_addr_parse_prefix(const char *s, uint32_t *ip, uint8_t *depth,
			  bool strict);

/** Parses "aa:bb:cc:dd:ee:ff" (case-insensitive). Returns 0 or -EINVAL. */
int kdp_addr_parse_mac(const char *s, struct rte_ether_addr *mac);

/** Writes the dotted-quad of @p ip into @p buf; returns @p buf. */
char *kdp_addr_fmt_ip(uint32_t ip, char *buf, size_t len);

/** Writes "a.b.c.d/len"; returns @p buf. */
char *kdp_addr_fmt_prefix(uint32_t ip, uint8_t depth, char *buf, size_t len);

/** Longest text form of a MAC plus NUL. */
#define KDP_MAC_STRLEN 18

/** Writes "aa:bb:cc:dd:ee:ff" (lower case, as ip(8) and Kubernetes show). */
char *kdp_addr_fmt_mac(const struct rte_ether_addr *mac, char *buf, size_t len);

/** Netmask of a prefix length (0..32), host order. */
static inline uint32_t kdp_addr_mask(uint8_t depth)
{
	return depth == 0 ? 0 : ~0u << (32 - depth);
}

/** True when the two prefixes share at least one address. */
static inline bool kdp_addr_overlap(uint32_t a, uint8_t alen, uint32_t b,
				    uint8_t blen)
{
	uint32_t m = kdp_addr_mask(alen < blen ? alen : blen);
	return (a & m) == (b & m);
}

/** True for addresses no host may have: 0/8, 127/8, 224/4 and above. */
static inline bool kdp_addr_not_host(uint32_t ip)
{
	uint8_t a = (uint8_t)(ip >> 24);
	return a == 0 || a == 127 || a >= 224;
}

/** True when @p ip is inside prefix @p net / @p depth. */
static inline bool kdp_addr_in(uint32_t ip, uint32_t net, uint8_t depth)
{
	return (ip & kdp_addr_mask(depth)) == (net & kdp_addr_mask(depth));
}

#endif

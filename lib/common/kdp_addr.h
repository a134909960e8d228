/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Text forms of IPv4 and IPv6 addresses, prefixes and MAC addresses.
 * IPv4 is strict: no leading zeros, no shorthand, and IPv4 addresses are
 * returned in host byte order. IPv6 takes every RFC 4291 text form (no zone
 * index) and is kept in network order, as it sits in a packet; it is
 * written in the RFC 5952 canonical form. Host bits of a strict prefix must
 * be zero in both families. All functions are thread-safe.
 */
#ifndef KDP_ADDR_H
#define KDP_ADDR_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
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

/* ---- IPv6 ---- */

/** An IPv6 address, network order. */
struct kdp_in6 {
	uint8_t b[16];
};

/** Longest text form of an IPv6 prefix ("ffff:...:ffff/128") plus NUL. */
#define KDP_ADDR6_STRLEN 44

/** Parses IPv6 text @p s into @p a. Returns 0 or -EINVAL. */
int kdp_addr6_parse(const char *s, struct kdp_in6 *a);

/** Parses "addr/len" (len 0-128); @p strict as kdp_addr_parse_prefix. */
int kdp_addr6_parse_prefix(const char *s, struct kdp_in6 *a, uint8_t *depth,
			   bool strict);

/** Writes @p a in canonical form; returns @p buf. */
char *kdp_addr6_fmt(const struct kdp_in6 *a, char *buf, size_t len);

/** Writes "addr/len"; returns @p buf. */
char *kdp_addr6_fmt_prefix(const struct kdp_in6 *a, uint8_t depth, char *buf,
			   size_t len);

/**
 * Family of address text @p s: 4, 6, or 0 when it is neither (a quick test
 * on its characters to pick an error message; parse it to be sure).
 */
int kdp_addr_family(const char *s);

/** True when @p a and @p b are the same address. */
static inline bool kdp_addr6_eq(const struct kdp_in6 *a, const struct kdp_in6 *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/** True for :: (no address). */
static inline bool kdp_addr6_is_zero(const struct kdp_in6 *a)
{
	static const struct kdp_in6 z;
	return kdp_addr6_eq(a, &z);
}

/** Clears the bits of @p a beyond @p depth (0-128). */
static inline void kdp_addr6_mask(struct kdp_in6 *a, uint8_t depth)
{
	for (unsigned int i = 0; i < 16; i++) {
		unsigned int bits = depth > i * 8 ? depth - i * 8 : 0;
		if (bits < 8)
			a->b[i] &= (uint8_t)(0xff00u >> bits);
	}
}

/** True when @p a is inside prefix @p net / @p depth. */
static inline bool kdp_addr6_in(const struct kdp_in6 *a, const struct kdp_in6 *net,
				uint8_t depth)
{
	unsigned int full = depth / 8, rest = depth % 8;

	if (memcmp(a->b, net->b, full) != 0)
		return false;
	return rest == 0 ||
	       ((a->b[full] ^ net->b[full]) & (uint8_t)(0xff00u >> rest)) == 0;
}

/** True when the two prefixes share at least one address. */
static inline bool kdp_addr6_overlap(const struct kdp_in6 *a, uint8_t alen,
				     const struct kdp_in6 *b, uint8_t blen)
{
	return kdp_addr6_in(a, b, alen < blen ? alen : blen);
}

/** True for fe80::/10 (link-local unicast). */
static inline bool kdp_addr6_link_local(const struct kdp_in6 *a)
{
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

/** True for ff00::/8 (multicast). */
static inline bool kdp_addr6_multicast(const struct kdp_in6 *a)
{
	return a->b[0] == 0xff;
}

/**
 * True for addresses no host may have as its own: ::, ::1, multicast and
 * IPv4-mapped ::ffff:0:0/96.
 */
static inline bool kdp_addr6_not_host(const struct kdp_in6 *a)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	uint32_t w[4];

	memcpy(w, a, sizeof(w));
	if ((w[0] | w[1] | w[2]) == 0 &&
	    (w[3] == 0 || w[3] == rte_cpu_to_be_32(1)))
		return true;
	return kdp_addr6_multicast(a) || memcmp(a->b, mapped, sizeof(mapped)) == 0;
}

#endif

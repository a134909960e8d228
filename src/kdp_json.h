/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Small strict readers over jansson objects used by the node config and the
 * API: each names the offending field in @p err ("nodes[1].podCIDRs[0]:
 * not a CIDR ...") and returns -EINVAL, or 0 on success.
 */
#ifndef KDP_JSON_H
#define KDP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <rte_ether.h>

#define KDP_ERR_LEN 256

/** Sets @p err to "path: message" and returns -EINVAL. */
int kdp_json_err(char *err, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/** Fails naming the first key of @p obj not in the NULL-ended @p allowed. */
int kdp_json_only(const json_t *obj, const char *const *allowed,
		  const char *path, char *err);

/** @p obj must be an object. */
int kdp_json_object(const json_t *obj, const char *path, char *err);

/**
 * Reads string @p key of @p obj into @p out (at most @p len - 1 bytes).
 * A missing key is an error when @p required, else leaves @p out unchanged
 * and returns 1.
 */
int kdp_json_str(const json_t *obj, const char *key, bool required,
		 char *out, size_t len, const char *path, char *err);

/** Reads an integer in [min, max]; missing: as kdp_json_str. */
int kdp_json_uint(const json_t *obj, const char *key, bool required,
		  uint64_t min, uint64_t max, uint64_t *out, const char *path,
		  char *err);

/** Reads a boolean; missing: as kdp_json_str. */
int kdp_json_bool(const json_t *obj, const char *key, bool required,
		  bool *out, const char *path, char *err);

/** Reads an IPv4 address (host order); missing: as kdp_json_str. */
int kdp_json_ip(const json_t *obj, const char *key, bool required,
		uint32_t *out, const char *path, char *err);

/**
 * Reads "a.b.c.d/len". @p strict rejects host bits (a network prefix);
 * missing: as kdp_json_str.
 */
int kdp_json_prefix(const json_t *obj, const char *key, bool required,
		    bool strict, uint32_t *ip, uint8_t *depth,
		    const char *path, char *err);

struct kdp_in6;

/** Reads an IPv6 address; missing: as kdp_json_str. */
int kdp_json_ip6(const json_t *obj, const char *key, bool required,
		 struct kdp_in6 *out, const char *path, char *err);

/** Reads "addr/len" of IPv6 (strict: a network prefix); missing: as
 *  kdp_json_str. */
int kdp_json_prefix6(const json_t *obj, const char *key, bool required,
		     bool strict, struct kdp_in6 *ip, uint8_t *depth,
		     const char *path, char *err);

/** Reads a MAC; missing: as kdp_json_str. */
int kdp_json_mac(const json_t *obj, const char *key, bool required,
		 struct rte_ether_addr *out, const char *path, char *err);

/** Joins "path" and "key" into @p buf ("" path gives "key"). */
const char *kdp_json_path(char *buf, size_t len, const char *path,
			  const char *key);

/**
 * Writes @p root to @p file atomically: a temporary file in the same
 * directory, fsync, rename over @p file, fsync of the directory.
 * @return 0 or -errno.
 */
int kdp_json_save_atomic(const json_t *root, const char *file);

/** Test hook: saves kill the process half-way (KDP_TEST_CRASH_IN_SAVE, set
 *  once kdp serves its API). */
extern bool kdp_test_crash_in_save;

/** kdp_json_save_atomic() for @p len bytes of @p text already serialized. */
int kdp_file_save_atomic(const char *text, size_t len, const char *file);

/** Checks a Kubernetes name or namespace (DNS label: a-z 0-9 - ., 1-63,
 *  a letter or digit at each end); -EINVAL with @p err naming @p path. */
int kdp_json_check_name(const char *s, const char *path, char *err);

#endif

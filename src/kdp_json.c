/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/kdp_addr.h"
#include "kdp_json.h"

/* "path: message" into @p err; -EINVAL. */
static int verr(char *err, const char *path, const char *fmt, va_list ap)
{
	int n = 0;

	if (path != NULL && path[0] != '\0')
		n = snprintf(err, KDP_ERR_LEN, "%s: ", path);
	if (n < 0 || n >= KDP_ERR_LEN)
		n = 0;
	vsnprintf(err + n, KDP_ERR_LEN - (size_t)n, fmt, ap);
	return -EINVAL;
}

int kdp_json_err(char *err, const char *path, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = verr(err, path, fmt, ap);
	va_end(ap);
	return ret;
}

const char *kdp_json_path(char *buf, size_t len, const char *path,
			  const char *key)
{
	if (path == NULL || path[0] == '\0')
		snprintf(buf, len, "%s", key);
	else
		snprintf(buf, len, "%s.%s", path, key);
	return buf;
}

int kdp_json_object(const json_t *obj, const char *path, char *err)
{
	if (!json_is_object(obj))
		return kdp_json_err(err, path, "expected a JSON object");
	return 0;
}

int kdp_json_only(const json_t *obj, const char *const *allowed,
		  const char *path, char *err)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a != NULL; a++)
			if (strcmp(*a, key) == 0)
				ok = true;
		if (!ok) {
			char p[128];
			return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, key),
					    "unknown field");
		}
	}
	return 0;
}

/* kdp_json_err() for field @p key of the object at @p path: the field's
 * path is only formatted when there is an error to report (a large state
 * has hundreds of thousands of fields). */
static int field_err(char *err, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int field_err(char *err, const char *path, const char *key, const char *fmt, ...)
{
	char p[128];
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = verr(err, kdp_json_path(p, sizeof(p), path, key), fmt, ap);
	va_end(ap);
	return ret;
}

/* Finds @p key; 1 when missing and optional, error when missing and needed. */
static int get(const json_t *obj, const char *key, bool required, json_t **v,
	       const char *path, char *err)
{
	*v = json_object_get(obj, key);
	if (*v == NULL || json_is_null(*v)) {
		if (required)
			return field_err(err, path, key, "required field missing");
		return 1;
	}
	return 0;
}

int kdp_json_str(const json_t *obj, const char *key, bool required,
		 char *out, size_t len, const char *path, char *err)
{
	json_t *v;
	int ret = get(obj, key, required, &v, path, err);

	if (ret != 0)
		return ret;
	if (!json_is_string(v))
		return field_err(err, path, key, "expected a string");
	if (json_string_length(v) >= len)
		return field_err(err, path, key, "longer than %zu characters",
				 len - 1);
	if (strlen(json_string_value(v)) != json_string_length(v))
		return field_err(err, path, key, "contains a NUL character");
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

int kdp_json_uint(const json_t *obj, const char *key, bool required,
		  uint64_t min, uint64_t max, uint64_t *out, const char *path,
		  char *err)
{
	json_t *v;
	int ret = get(obj, key, required, &v, path, err);

	if (ret != 0)
		return ret;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    (uint64_t)json_integer_value(v) < min ||
	    (uint64_t)json_integer_value(v) > max)
		return field_err(err, path, key, "expected an integer from %llu to %llu",
				 (unsigned long long)min,
				 (unsigned long long)max);
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

int kdp_json_bool(const json_t *obj, const char *key, bool required,
		  bool *out, const char *path, char *err)
{
	json_t *v;
	int ret = get(obj, key, required, &v, path, err);

	if (ret != 0)
		return ret;
	if (!json_is_boolean(v))
		return field_err(err, path, key, "expected true or false");
	*out = json_is_true(v);
	return 0;
}

int kdp_json_ip(const json_t *obj, const char *key, bool required,
		uint32_t *out, const char *path, char *err)
{
	json_t *v;
	int ret = get(obj, key, required, &v, path, err);

	if (ret != 0)
		return ret;
	if (!json_is_string(v) || kdp_addr_parse_ip(json_string_value(v), out))
		return field_err(err, path, key,
				 "not an IPv4 address (like 192.168.10.101)");
	return 0;
}

int kdp_json_prefix(const json_t *obj, const char *key, bool required,
		    bool strict, uint32_t *ip, uint8_t *depth,
		    const char *path, char *err)
{
	json_t *v;
	int ret = get(obj, key, required, &v, path, err);

	if (ret != 0)
		return ret;
	if (!json_is_string(v) ||
	    kdp_addr_parse_prefix(json_string_value(v), ip, depth, strict))
		return field_err(err, path, key,
				 strict ? "not a CIDR (like 172.20.0.0/24, host bits zero)"
					: "not an address/prefix (like 192.168.10.100/24)");
	return 0;
}

int kdp_json_ip6(const json_t *obj, const char *key, bool required,
		 struct kdp_in6 *out, const char *path, char *err)
{
	json_t *v;
	int ret = get(obj, key, required, &v, path, err);

	if (ret != 0)
		return ret;
	if (!json_is_string(v) || kdp_addr6_parse(json_string_value(v), out))
		return field_err(err, path, key, "not an IPv6 address (like fd00:10::101)");
	return 0;
}

int kdp_json_prefix6(const json_t *obj, const char *key, bool required,
		     bool strict, struct kdp_in6 *ip, uint8_t *depth,
		     const char *path, char *err)
{
	json_t *v;
	int ret = get(obj, key, required, &v, path, err);

	if (ret != 0)
		return ret;
	if (!json_is_string(v) ||
	    kdp_addr6_parse_prefix(json_string_value(v), ip, depth, strict))
		return field_err(err, path, key,
				 strict ? "not an IPv6 CIDR (like fd00:20::/64, host bits zero)"
					: "not an IPv6 address/prefix (like fd00:10::100/64)");
	return 0;
}

int kdp_json_mac(const json_t *obj, const char *key, bool required,
		 struct rte_ether_addr *out, const char *path, char *err)
{
	json_t *v;
	int ret = get(obj, key, required, &v, path, err);

	if (ret != 0)
		return ret;
	if (!json_is_string(v) || kdp_addr_parse_mac(json_string_value(v), out))
		return field_err(err, path, key,
				 "not a MAC address (like 02:00:00:00:00:01)");
	if (rte_is_multicast_ether_addr(out) || rte_is_zero_ether_addr(out))
		return field_err(err, path, key, "must be a unicast, non-zero MAC");
	return 0;
}

bool kdp_test_crash_in_save;

int kdp_file_save_atomic(const char *text, size_t len, const char *file)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, dfd, ret = 0;
	bool crash;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int)getpid()) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* Test hook (tests/func/test_crash_save.py): die half-way through. */
	crash = kdp_test_crash_in_save;
	if (crash)
		len /= 2;
	for (size_t off = 0; ret == 0 && off < len;) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno != EINTR)
			ret = -errno;
		else if (w > 0)
			off += (size_t)w;
	}
	if (crash)
		raise(SIGKILL);
	if (ret == 0 && fsync(fd) != 0)
		ret = -errno;
	if (close(fd) != 0 && ret == 0)
		ret = -errno;
	if (ret == 0 && rename(tmp, file) != 0)
		ret = -errno;
	if (ret != 0) {
		unlink(tmp);
		return ret;
	}
	snprintf(dir, sizeof(dir), "%s", file);
	dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int kdp_json_save_atomic(const json_t *root, const char *file)
{
	/* One buffer, one write loop: json_dumpfd writes token by token. */
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS);
	size_t len;
	int ret;

	if (text == NULL)
		return -ENOMEM;
	len = strlen(text);
	text[len++] = '\n'; /* replaces the NUL; len is what we write */
	ret = kdp_file_save_atomic(text, len, file);
	free(text);
	return ret;
}

int kdp_json_check_name(const char *s, const char *path, char *err)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63)
		return kdp_json_err(err, path, "must be 1-63 characters");
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '.'))
			return kdp_json_err(err, path,
					    "'%s' is not a valid name (a-z, 0-9, '-', '.')",
					    s);
	}
	if (s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.')
		return kdp_json_err(err, path,
				    "'%s' must start and end with a letter or digit", s);
	return 0;
}

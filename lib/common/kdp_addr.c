/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "kdp_addr.h"

/* Reads a decimal number of 1-3 digits without a leading zero. */
static const char *parse_octet(const char *p, unsigned int *v)
{
	unsigned int n = 0, digits = 0;

	if (*p == '0' && p[1] >= '0' && p[1] <= '9')
		return NULL;
	while (*p >= '0' && *p <= '9' && digits < 4) {
		n = n * 10 + (unsigned int)(*p - '0');
		p++;
		digits++;
	}
	if (digits == 0 || digits > 3 || n > 255)
		return NULL;
	*v = n;
	return p;
}

static const char *parse_ip(const char *s, uint32_t *ip)
{
	uint32_t r = 0;
	const char *p = s;

	for (int i = 0; i < 4; i++) {
		unsigned int o;

		p = parse_octet(p, &o);
		if (p == NULL)
			return NULL;
		r = (r << 8) | o;
		if (i < 3) {
			if (*p != '.')
				return NULL;
			p++;
		}
	}
	*ip = r;
	return p;
}

int kdp_addr_parse_ip(const char *s, uint32_t *ip)
{
	const char *end;

	if (s == NULL)
		return -EINVAL;
	end = parse_ip(s, ip);
	return end != NULL && *end == '\0' ? 0 : -EINVAL;
}

int kdp_addr_parse_prefix(const char *s, uint32_t *ip, uint8_t *depth,
			  bool strict)
{
	const char *p;
	unsigned int d;
	uint32_t a;

	if (s == NULL)
		return -EINVAL;
	p = parse_ip(s, &a);
	if (p == NULL || *p != '/')
		return -EINVAL;
	p = parse_octet(p + 1, &d);
	if (p == NULL || *p != '\0' || d > 32)
		return -EINVAL;
	if (strict && (a & ~kdp_addr_mask((uint8_t)d)) != 0)
		return -EINVAL;
	*ip = a;
	*depth = (uint8_t)d;
	return 0;
}

int kdp_addr_parse_mac(const char *s, struct rte_ether_addr *mac)
{
	unsigned int b[6];
	char tail;

	if (s == NULL || strlen(s) != 17)
		return -EINVAL;
	for (int i = 0; i < 17; i++) {
		char c = s[i];
		bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			   (c >= 'A' && c <= 'F');
		if ((i % 3 == 2) ? c != ':' : !hex)
			return -EINVAL;
	}
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac->addr_bytes[i] = (uint8_t)b[i];
	return 0;
}

char *kdp_addr_fmt_ip(uint32_t ip, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff,
		 (ip >> 8) & 0xff, ip & 0xff);
	return buf;
}

char *kdp_addr_fmt_prefix(uint32_t ip, uint8_t depth, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u.%u.%u/%u", ip >> 24, (ip >> 16) & 0xff,
		 (ip >> 8) & 0xff, ip & 0xff, depth);
	return buf;
}

char *kdp_addr_fmt_mac(const struct rte_ether_addr *mac, char *buf, size_t len)
{
	const uint8_t *b = mac->addr_bytes;

	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3],
		 b[4], b[5]);
	return buf;
}

int kdp_addr6_parse(const char *s, struct kdp_in6 *a)
{
	struct kdp_in6 r;

	if (s == NULL || strlen(s) >= INET6_ADDRSTRLEN ||
	    inet_pton(AF_INET6, s, &r) != 1)
		return -EINVAL;
	*a = r;
	return 0;
}

int kdp_addr6_parse_prefix(const char *s, struct kdp_in6 *a, uint8_t *depth,
			   bool strict)
{
	char buf[INET6_ADDRSTRLEN];
	const char *slash;
	struct kdp_in6 r, m;
	unsigned int d = 0;
	const char *p;

	if (s == NULL || (slash = strchr(s, '/')) == NULL ||
	    (size_t)(slash - s) >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, (size_t)(slash - s));
	buf[slash - s] = '\0';
	if (kdp_addr6_parse(buf, &r) != 0)
		return -EINVAL;
	p = slash + 1;
	if (*p == '0' && p[1] != '\0')
		return -EINVAL;
	if (*p == '\0')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9' && d <= 128; p++)
		d = d * 10 + (unsigned int)(*p - '0');
	if (*p != '\0' || d > 128)
		return -EINVAL;
	m = r;
	kdp_addr6_mask(&m, (uint8_t)d);
	if (strict && !kdp_addr6_eq(&m, &r))
		return -EINVAL;
	*a = r;
	*depth = (uint8_t)d;
	return 0;
}

char *kdp_addr6_fmt(const struct kdp_in6 *a, char *buf, size_t len)
{
	char t[INET6_ADDRSTRLEN];

	if (inet_ntop(AF_INET6, a, t, sizeof(t)) == NULL)
		t[0] = '\0';
	snprintf(buf, len, "%s", t);
	return buf;
}

char *kdp_addr6_fmt_prefix(const struct kdp_in6 *a, uint8_t depth, char *buf,
			   size_t len)
{
	char t[INET6_ADDRSTRLEN];

	snprintf(buf, len, "%s/%u", kdp_addr6_fmt(a, t, sizeof(t)), depth);
	return buf;
}

int kdp_addr_family(const char *s)
{
	if (s == NULL || *s == '\0')
		return 0;
	if (strchr(s, ':') != NULL)
		return 6;
	return strspn(s, "0123456789./") == strlen(s) ? 4 : 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "common/kdp_addr.h"
#include "kdp_ipmasq.h"

#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

/* What an empty config gives: the ranges reserved by RFCs (Cilium's list). */
static const struct {
	uint32_t prefix;
	uint8_t depth;
} reserved[KDP_IPMASQ_N_DEFAULTS] = {
	{IP4(10, 0, 0, 0), 8},      /* RFC 1918 */
	{IP4(172, 16, 0, 0), 12},   /* RFC 1918 */
	{IP4(192, 168, 0, 0), 16},  /* RFC 1918 */
	{IP4(100, 64, 0, 0), 10},   /* RFC 6598 */
	{IP4(192, 0, 0, 0), 24},    /* RFC 6890 */
	{IP4(192, 0, 2, 0), 24},    /* RFC 5737 */
	{IP4(192, 88, 99, 0), 24},  /* RFC 7526 */
	{IP4(198, 18, 0, 0), 15},   /* RFC 6815 */
	{IP4(198, 51, 100, 0), 24}, /* RFC 5737 */
	{IP4(203, 0, 113, 0), 24},  /* RFC 5737 */
	{IP4(240, 0, 0, 0), 4},     /* RFC 1112, former class E */
};

#define LINK_LOCAL IP4(169, 254, 0, 0)

static const char *const keys[] = {"nonMasqueradeCIDRs", "masqLinkLocal",
				   "masqLinkLocalIPv6", "resyncInterval", NULL};

/* Appends CIDR text @p s to @p out; @p path names it in errors. */
static int add_cidr(struct kdp_ipmasq *out, const char *s, const char *path,
		    char *err)
{
	uint32_t ip;
	uint8_t depth;

	if (out->n_cidrs + out->n_cidrs6 == KDP_IPMASQ_MAX)
		return kdp_json_err(err, path, "more than %d CIDRs", KDP_IPMASQ_MAX);
	if (strchr(s, ':') != NULL) {
		if (out->n_cidrs6 == KDP_IPMASQ_MAX6)
			return kdp_json_err(err, path, "more than %d IPv6 CIDRs", KDP_IPMASQ_MAX6);
		if (kdp_addr6_parse_prefix(s, &out->cidr6[out->n_cidrs6], &depth, true) != 0)
			return kdp_json_err(err, path,
					    "not an IPv6 CIDR (like fd00:10:1::/64, host bits zero): \"%.48s\"",
					    s);
		out->plen6[out->n_cidrs6++] = depth;
		return 0;
	}
	if (kdp_addr_parse_prefix(s, &ip, &depth, true) != 0)
		return kdp_json_err(err, path,
				    "not a CIDR (like 10.10.1.0/24, host bits zero): \"%.48s\"",
				    s);
	out->cidr[out->n_cidrs] = ip;
	out->plen[out->n_cidrs] = depth;
	out->n_cidrs++;
	return 0;
}

/* ---- JSON ---- */

static int parse_object(const json_t *o, const char *path,
			struct kdp_ipmasq *out, char *err)
{
	char p[128], s[64];
	json_t *a, *v;
	size_t i;
	int ret;

	if ((ret = kdp_json_object(o, path, err)) ||
	    (ret = kdp_json_only(o, keys, path, err)))
		return ret;
	a = json_object_get(o, "nonMasqueradeCIDRs");
	if (a != NULL) {
		out->has_cidrs = true; /* null is the same as [] */
		if (!json_is_null(a) && !json_is_array(a))
			return kdp_json_err(err,
					    kdp_json_path(p, sizeof(p), path, "nonMasqueradeCIDRs"),
					    "expected an array of CIDRs like [\"10.0.0.0/8\"]");
		json_array_foreach(a, i, v) {
			char q[160];

			snprintf(q, sizeof(q), "%s[%zu]",
				 kdp_json_path(p, sizeof(p), path, "nonMasqueradeCIDRs"), i);
			if (!json_is_string(v))
				return kdp_json_err(err, q,
						    "expected a CIDR string like \"10.0.0.0/8\"");
			if ((ret = add_cidr(out, json_string_value(v), q, err)))
				return ret;
		}
	}
	if ((ret = kdp_json_bool(o, "masqLinkLocal", false, &out->masq_link_local,
				 path, err)) < 0 ||
	    (ret = kdp_json_bool(o, "masqLinkLocalIPv6", false,
				 &out->masq_link_local_ipv6, path, err)) < 0 ||
	    (ret = kdp_json_str(o, "resyncInterval", false, s, sizeof(s), path,
				err)) < 0)
		return ret;
	return 0;
}

/* ---- the YAML subset ---- */

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static char *trim(char *s)
{
	size_t n;

	while (blank(*s))
		s++;
	n = strlen(s);
	while (n > 0 && blank(s[n - 1]))
		s[--n] = '\0';
	return s;
}

/*
 * Removes one pair of matching quotes around @p *s, in place. No escapes:
 * nothing the agent's keys take needs them. -EINVAL for a quote left open.
 */
static int unquote(char **s)
{
	char q = **s;
	size_t n = strlen(*s);

	if (q != '"' && q != '\'')
		return 0;
	if (n < 2 || (*s)[n - 1] != q)
		return -EINVAL;
	(*s)[n - 1] = '\0';
	(*s)++;
	return strchr(*s, q) == NULL ? 0 : -EINVAL;
}

/* Cuts a '#' comment (at the start or after a blank, outside quotes). */
static void cut_comment(char *s)
{
	char q = 0;

	for (char *p = s; *p; p++) {
		if (q != 0) {
			if (*p == q)
				q = 0;
		} else if (*p == '"' || *p == '\'') {
			q = *p;
		} else if (*p == '#' && (p == s || blank(p[-1]))) {
			*p = '\0';
			return;
		}
	}
}

static int yaml_bool(const char *v, bool *out, const char *path, char *err)
{
	if (!strcmp(v, "true") || !strcmp(v, "True") || !strcmp(v, "TRUE"))
		*out = true;
	else if (!strcmp(v, "false") || !strcmp(v, "False") || !strcmp(v, "FALSE"))
		*out = false;
	else
		return kdp_json_err(err, path, "expected true or false, got \"%.32s\"", v);
	return 0;
}

/* "[a, b, c]" on one line. */
static int yaml_flow_list(char *v, struct kdp_ipmasq *out, unsigned int line,
			  char *err)
{
	size_t n = strlen(v);
	char *item, *next;
	char p[96];

	snprintf(p, sizeof(p), "line %u: nonMasqueradeCIDRs", line);
	if (n < 2 || v[n - 1] != ']')
		return kdp_json_err(err, p, "a [...] list must end on the same line");
	v[n - 1] = '\0';
	v = trim(v + 1);
	if (*v == '\0')
		return 0;
	for (item = v; item != NULL; item = next) {
		next = strchr(item, ',');
		if (next != NULL)
			*next++ = '\0';
		item = trim(item);
		snprintf(p, sizeof(p), "line %u: nonMasqueradeCIDRs[%u]", line,
			 out->n_cidrs + out->n_cidrs6);
		if (*item == '\0')
			return kdp_json_err(err, p, "empty list item");
		if (unquote(&item))
			return kdp_json_err(err, p, "unterminated quote");
		if (add_cidr(out, item, p, err))
			return -EINVAL;
	}
	return 0;
}

static int yaml_key(char *c, char **key, char **val)
{
	char *colon;

	if (*c == '"' || *c == '\'') {
		char *end = strchr(c + 1, *c);

		if (end == NULL || end[1] != ':')
			return -EINVAL;
		*end = '\0';
		*key = c + 1;
		colon = end + 1;
	} else {
		for (colon = c; *colon; colon++)
			if (*colon == ':' && (colon[1] == '\0' || blank(colon[1])))
				break;
		if (*colon == '\0')
			return -EINVAL;
		*colon = '\0';
		*key = trim(c);
	}
	if (colon[1] != '\0' && !blank(colon[1]))
		return -EINVAL;
	*val = trim(colon + 1);
	return 0;
}

/* One top-level "key: value" line. @p in_list: a block list follows. */
static int yaml_pair(char *key, char *val, unsigned int line, unsigned int *seen,
		     bool *in_list, struct kdp_ipmasq *out, char *err)
{
	char p[96];
	int k;

	snprintf(p, sizeof(p), "line %u: %.48s", line, key);
	for (k = 0; keys[k] != NULL; k++)
		if (strcmp(keys[k], key) == 0)
			break;
	if (keys[k] == NULL)
		return kdp_json_err(err, p, "unknown field");
	if (*seen & (1u << k))
		return kdp_json_err(err, p, "given twice");
	*seen |= 1u << k;
	if (k == 0) { /* nonMasqueradeCIDRs */
		out->has_cidrs = true;
		if (*val == '\0')
			*in_list = true;
		else if (*val == '[')
			return yaml_flow_list(val, out, line, err);
		else if (strcmp(val, "null") != 0 && strcmp(val, "~") != 0)
			return kdp_json_err(err, p,
					    "expected a list of CIDRs (\"- 10.0.0.0/8\" lines, or [10.0.0.0/8, ...])");
		return 0;
	}
	if (k == 1 || k == 2)
		return yaml_bool(val, k == 1 ? &out->masq_link_local
					     : &out->masq_link_local_ipv6, p, err);
	/* resyncInterval: kept for compatibility, not used (no file to poll). */
	if (*val == '\0' || unquote(&val) || *val == '\0')
		return kdp_json_err(err, p, "expected a duration such as 60s");
	return 0;
}

static int parse_yaml(char *text, struct kdp_ipmasq *out, char *err)
{
	int key_indent = -1, item_indent = -1;
	unsigned int line = 0, seen = 0;
	bool in_list = false, any = false;
	char *next;

	for (char *l = text; l != NULL; l = next) {
		char p[96], *c, *key, *val;
		int indent = 0;
		size_t n;

		line++;
		next = strchr(l, '\n');
		if (next != NULL)
			*next++ = '\0';
		n = strlen(l);
		if (n > 0 && l[n - 1] == '\r')
			l[n - 1] = '\0';
		while (l[indent] == ' ')
			indent++;
		c = l + indent;
		cut_comment(c);
		c = trim(c);
		if (*c == '\0')
			continue;
		snprintf(p, sizeof(p), "line %u", line);
		if (l[indent] == '\t')
			return kdp_json_err(err, p, "tabs are not allowed for indentation");
		if (!any && strcmp(c, "---") == 0)
			continue; /* a document start marker */
		any = true;
		if (c[0] == '-' && (c[1] == '\0' || blank(c[1]))) {
			char *v = trim(c + 1);

			if (!in_list)
				return kdp_json_err(err, p,
						    "a list item belongs to no key (only nonMasqueradeCIDRs takes a list)");
			if (item_indent < 0)
				item_indent = indent;
			if (indent < key_indent || indent != item_indent)
				return kdp_json_err(err, p,
						    "list items must be indented alike, not left of their key");
			snprintf(p, sizeof(p), "line %u: nonMasqueradeCIDRs[%u]", line,
				 out->n_cidrs + out->n_cidrs6);
			if (*v == '\0')
				return kdp_json_err(err, p, "empty list item");
			if (unquote(&v))
				return kdp_json_err(err, p, "unterminated quote");
			if (add_cidr(out, v, p, err))
				return -EINVAL;
			continue;
		}
		if (c[0] == '{' || c[0] == '[')
			return kdp_json_err(err, p,
					    "expected \"key: value\" (JSON must be the whole text)");
		in_list = false;
		item_indent = -1;
		if (key_indent < 0)
			key_indent = indent;
		if (indent != key_indent)
			return kdp_json_err(err, p,
					    "unexpected indentation (only top-level keys and list items)");
		if (yaml_key(c, &key, &val))
			return kdp_json_err(err, p, "expected \"key: value\", got \"%.40s\"", c);
		if (yaml_pair(key, val, line, &seen, &in_list, out, err))
			return -EINVAL;
	}
	if (!any)
		out->empty = true;
	return 0;
}

/* ---- entry points ---- */

int kdp_ipmasq_parse(const char *text, size_t len, struct kdp_ipmasq *out,
		     char *err)
{
	size_t i = 0;
	char *copy;
	int ret;

	memset(out, 0, sizeof(*out));
	if (text == NULL)
		len = 0;
	if (len > 0 && memchr(text, '\0', len) != NULL)
		return kdp_json_err(err, NULL, "contains a NUL character");
	while (i < len && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' ||
			   text[i] == '\r'))
		i++;
	if (i < len && text[i] == '{') {
		json_error_t je;
		json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);

		if (root == NULL)
			return kdp_json_err(err, NULL,
					    "invalid JSON at line %d column %d: %s",
					    je.line, je.column, je.text);
		ret = parse_object(root, "", out, err);
		json_decref(root);
	} else {
		copy = malloc(len + 1);
		if (copy == NULL)
			return -ENOMEM;
		if (len > 0)
			memcpy(copy, text, len);
		copy[len] = '\0';
		ret = parse_yaml(copy, out, err);
		free(copy);
	}
	if (ret != 0) {
		memset(out, 0, sizeof(*out));
		return ret;
	}
	out->present = true;
	return 0;
}

int kdp_ipmasq_parse_json(const json_t *v, const char *path,
			  struct kdp_ipmasq *out, char *err)
{
	char e[KDP_ERR_LEN];
	int ret;

	if (json_is_string(v)) {
		ret = kdp_ipmasq_parse(json_string_value(v), json_string_length(v),
				       out, e);
		if (ret == -EINVAL)
			return kdp_json_err(err, path, "%s", e);
		return ret;
	}
	memset(out, 0, sizeof(*out));
	if (!json_is_object(v))
		return kdp_json_err(err, path,
				    "expected an object with the ip-masq-agent keys, or the config file text as a string");
	ret = parse_object(v, path, out, err);
	if (ret != 0) {
		memset(out, 0, sizeof(*out));
		return ret;
	}
	out->present = true;
	return 0;
}

json_t *kdp_ipmasq_json(const struct kdp_ipmasq *cfg)
{
	json_t *o, *a;

	if (cfg == NULL || !cfg->present)
		return json_null();
	if (cfg->empty)
		return json_string("");
	o = json_object();
	if (o == NULL)
		return NULL;
	if (cfg->has_cidrs) {
		a = json_array();
		if (json_object_set_new(o, "nonMasqueradeCIDRs", a))
			goto nomem;
		for (unsigned int i = 0; i < cfg->n_cidrs; i++) {
			char buf[KDP_ADDR_STRLEN];

			if (json_array_append_new(a, json_string(kdp_addr_fmt_prefix(
							     cfg->cidr[i], cfg->plen[i], buf,
							     sizeof(buf)))))
				goto nomem;
		}
		for (unsigned int i = 0; i < cfg->n_cidrs6; i++) {
			char buf[KDP_ADDR6_STRLEN];

			if (json_array_append_new(a, json_string(kdp_addr6_fmt_prefix(
							     &cfg->cidr6[i], cfg->plen6[i], buf,
							     sizeof(buf)))))
				goto nomem;
		}
	}
	if (json_object_set_new(o, "masqLinkLocal",
				json_boolean(cfg->masq_link_local)))
		goto nomem;
	if (cfg->masq_link_local_ipv6 &&
	    json_object_set_new(o, "masqLinkLocalIPv6", json_true()))
		goto nomem;
	return o;
nomem:
	json_decref(o);
	return NULL;
}

uint32_t kdp_ipmasq_set_size(const struct kdp_ipmasq *cfg, unsigned int n_nodes)
{
	uint32_t n = 1 + n_nodes;

	if (cfg != NULL && cfg->present)
		n += (cfg->empty ? KDP_IPMASQ_N_DEFAULTS : cfg->n_cidrs) +
		     (cfg->masq_link_local ? 0 : 1);
	return n;
}

int kdp_ipmasq_build(const struct kdp_ipmasq *cfg, uint32_t native_cidr,
		     uint8_t native_plen, const uint32_t *node_ips,
		     unsigned int n_nodes, struct kdp_masq_set *out)
{
	int ret;

	ret = kdp_masq_set_add(out, native_cidr, native_plen,
			       KDP_MASQ_R_NATIVE_CIDR);
	for (unsigned int i = 0; ret == 0 && i < n_nodes; i++)
		ret = kdp_masq_set_add(out, node_ips[i], 32, KDP_MASQ_R_NODE_IP);
	if (ret != 0 || cfg == NULL || !cfg->present)
		return ret;
	if (cfg->empty) {
		for (unsigned int i = 0; ret == 0 && i < RTE_DIM(reserved); i++)
			ret = kdp_masq_set_add(out, reserved[i].prefix,
					       reserved[i].depth,
					       KDP_MASQ_R_DEFAULT_RESERVED);
	} else {
		for (unsigned int i = 0; ret == 0 && i < cfg->n_cidrs; i++)
			ret = kdp_masq_set_add(out, cfg->cidr[i], cfg->plen[i],
					       KDP_MASQ_R_CONFIG);
	}
	if (ret == 0 && !cfg->masq_link_local)
		ret = kdp_masq_set_add(out, LINK_LOCAL, 16, KDP_MASQ_R_LINK_LOCAL);
	return ret;
}

uint32_t kdp_ipmasq_set6_size(const struct kdp_ipmasq *cfg, unsigned int n_nodes)
{
	uint32_t n = 1 + n_nodes;

	if (cfg != NULL && cfg->present)
		n += cfg->n_cidrs6 + (cfg->masq_link_local_ipv6 ? 0 : 1);
	return n;
}

int kdp_ipmasq_build6(const struct kdp_ipmasq *cfg, const struct kdp_in6 *native_cidr,
		      uint8_t native_plen, const struct kdp_in6 *node_ips, unsigned int n_nodes,
		      struct kdp_masq_set6 *out)
{
	static const struct kdp_in6 link_local = {{0xfe, 0x80}};
	int ret;

	ret = kdp_masq_set6_add(out, native_cidr, native_plen, KDP_MASQ_R_NATIVE_CIDR);
	for (unsigned int i = 0; ret == 0 && i < n_nodes; i++)
		ret = kdp_masq_set6_add(out, &node_ips[i], 128, KDP_MASQ_R_NODE_IP);
	if (ret != 0 || cfg == NULL || !cfg->present)
		return ret;
	for (unsigned int i = 0; ret == 0 && !cfg->empty && i < cfg->n_cidrs6; i++)
		ret = kdp_masq_set6_add(out, &cfg->cidr6[i], cfg->plen6[i], KDP_MASQ_R_CONFIG);
	if (ret == 0 && !cfg->masq_link_local_ipv6)
		ret = kdp_masq_set6_add(out, &link_local, 10, KDP_MASQ_R_LINK_LOCAL);
	return ret;
}

/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kdp_addr.h"
#include "kdp_json.h"
#include "kdp_lrp.h"

static const char *const spec_keys[] = {"namespace", "name", "redirectFrontend",
					"redirectBackend", "skipRedirectFromBackend",
					"description", NULL};
static const char *const fe_keys[] = {"serviceMatcher", "addressMatcher", NULL};
static const char *const svcm_keys[] = {"serviceName", "namespace", "toPorts", NULL};
static const char *const addrm_keys[] = {"ip", "toPorts", NULL};
static const char *const be_keys[] = {"localEndpointSelector", "toPorts", NULL};
static const char *const sel_keys[] = {"matchLabels", "matchExpressions", NULL};
static const char *const expr_keys[] = {"key", "operator", "values", NULL};

/* matchExpressions, in normal form: {"key", "operator"[, "values"]}, values
 * only for In and NotIn (where they are required). */
static int parse_exprs(const json_t *a, const char *path, json_t **out, char *err)
{
	json_t *v;
	size_t i;

	*out = NULL;
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > 32)
		return kdp_json_err(err, path, "expected an array of at most 32 requirements");
	*out = json_array();
	if (*out == NULL)
		return -ENOMEM;
	json_array_foreach(a, i, v) {
		char q[200], key[254], op[16];
		json_t *vals, *x, *norm;
		bool with_values;
		size_t j;
		int ret;

		snprintf(q, sizeof(q), "%s[%zu]", path, i);
		if ((ret = kdp_json_object(v, q, err)) || (ret = kdp_json_only(v, expr_keys, q, err)) ||
		    (ret = kdp_json_str(v, "key", true, key, sizeof(key), q, err)) ||
		    (ret = kdp_json_str(v, "operator", true, op, sizeof(op), q, err)))
			return ret;
		if (key[0] == '\0')
			return kdp_json_err(err, q, "key: must not be empty");
		if (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0)
			with_values = true;
		else if (strcmp(op, "Exists") == 0 || strcmp(op, "DoesNotExist") == 0)
			with_values = false;
		else
			return kdp_json_err(err, q,
					    "operator: expected In, NotIn, Exists or DoesNotExist");
		vals = json_object_get(v, "values");
		if (vals != NULL && !json_is_null(vals) && !json_is_array(vals))
			return kdp_json_err(err, q, "values: expected an array of strings");
		if (with_values && json_array_size(vals) == 0)
			return kdp_json_err(err, q, "values: %s needs at least one", op);
		if (!with_values && json_array_size(vals) != 0)
			return kdp_json_err(err, q, "values: must be empty for %s", op);
		json_array_foreach(vals, j, x)
			if (!json_is_string(x) || json_string_length(x) > 63)
				return kdp_json_err(err, q, "values[%zu]: expected a string of at most 63", j);
		norm = json_pack("{s:s, s:s}", "key", key, "operator", op);
		if (norm != NULL && with_values)
			json_object_set(norm, "values", vals);
		if (norm == NULL || json_array_append_new(*out, norm) != 0)
			return -ENOMEM;
	}
	if (json_array_size(*out) == 0) {
		json_decref(*out);
		*out = NULL;
	}
	return 0;
}
static const char *const port_keys[] = {"port", "name", "protocol", NULL};

/* toPorts: [{"port": "53", "name": "dns", "protocol": "UDP"}]; the CRD
 * gives the port as a string, a number is taken too. */
static int parse_ports(const json_t *a, const char *path, struct kdp_lrp_port *out,
		       unsigned int *n, char *err)
{
	json_t *v;
	size_t i;

	*n = 0;
	if (a == NULL)
		return 0;
	if (!json_is_array(a) || json_array_size(a) > KDP_LRP_MAX_PORTS)
		return kdp_json_err(err, path, "expected an array of at most %d ports",
				    KDP_LRP_MAX_PORTS);
	json_array_foreach(a, i, v) {
		char q[160], proto[8] = "TCP";
		struct kdp_lrp_port *p = &out[i];
		json_t *port;
		long num = 0;
		int ret;

		snprintf(q, sizeof(q), "%s[%zu]", path, i);
		memset(p, 0, sizeof(*p));
		if ((ret = kdp_json_object(v, q, err)) || (ret = kdp_json_only(v, port_keys, q, err)))
			return ret;
		port = json_object_get(v, "port");
		if (json_is_integer(port)) {
			num = (long)json_integer_value(port);
		} else if (json_is_string(port)) {
			char *end;
			num = strtol(json_string_value(port), &end, 10);
			if (*end != '\0' || json_string_length(port) == 0)
				num = 0;
		}
		if (num < 1 || num > 65535) {
			char pp[180];
			snprintf(pp, sizeof(pp), "%s.port", q);
			return kdp_json_err(err, pp, "expected a port number from 1 to 65535");
		}
		p->port = (uint16_t)num;
		if ((ret = kdp_json_str(v, "name", false, p->name, sizeof(p->name), q, err)) < 0 ||
		    (ret = kdp_json_str(v, "protocol", false, proto, sizeof(proto), q, err)) < 0)
			return ret;
		if (strcmp(proto, "TCP") == 0)
			p->proto = IPPROTO_TCP;
		else if (strcmp(proto, "UDP") == 0)
			p->proto = IPPROTO_UDP;
		else {
			char pp[180];
			snprintf(pp, sizeof(pp), "%s.protocol", q);
			return kdp_json_err(err, pp, "expected \"TCP\" or \"UDP\"");
		}
		for (size_t j = 0; j < i; j++)
			if (out[j].port == p->port && out[j].proto == p->proto)
				return kdp_json_err(err, q, "same port and protocol as [%zu]", j);
		(*n)++;
	}
	return 0;
}

int kdp_lrp_parse(const json_t *o, const char *ns, const char *name, const char *path,
		  struct kdp_lrp *l, char *err)
{
	json_t *fe, *be, *m, *sel, *labels, *v;
	char p[160], q[200];
	const char *key;
	int ret;

	memset(l, 0, sizeof(*l));
	if ((ret = kdp_json_object(o, path, err)) || (ret = kdp_json_only(o, spec_keys, path, err)))
		return ret;
	if ((ret = kdp_json_str(o, "namespace", ns == NULL, l->ns, sizeof(l->ns), path, err)) < 0 ||
	    (ret = kdp_json_str(o, "name", name == NULL, l->name, sizeof(l->name), path, err)) < 0)
		return ret;
	if (ns != NULL) {
		if (l->ns[0] && strcmp(l->ns, ns) != 0)
			return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "namespace"),
					    "'%s' does not match '%s' in the URL", l->ns, ns);
		snprintf(l->ns, sizeof(l->ns), "%s", ns);
	}
	if (name != NULL) {
		if (l->name[0] && strcmp(l->name, name) != 0)
			return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "name"),
					    "'%s' does not match '%s' in the URL", l->name, name);
		snprintf(l->name, sizeof(l->name), "%s", name);
	}
	if ((ret = kdp_json_check_name(l->ns, kdp_json_path(p, sizeof(p), path, "namespace"), err)) ||
	    (ret = kdp_json_check_name(l->name, kdp_json_path(p, sizeof(p), path, "name"), err)))
		return ret;
	if ((ret = kdp_json_bool(o, "skipRedirectFromBackend", false, &l->skip_from_backend,
				 path, err)) < 0 ||
	    (ret = kdp_json_str(o, "description", false, l->description,
				sizeof(l->description), path, err)) < 0)
		return ret;

	kdp_json_path(p, sizeof(p), path, "redirectFrontend");
	fe = json_object_get(o, "redirectFrontend");
	if (fe == NULL)
		return kdp_json_err(err, p, "required field missing");
	if ((ret = kdp_json_object(fe, p, err)) || (ret = kdp_json_only(fe, fe_keys, p, err)))
		return ret;
	if ((json_object_get(fe, "serviceMatcher") != NULL) ==
	    (json_object_get(fe, "addressMatcher") != NULL))
		return kdp_json_err(err, p, "give exactly one of serviceMatcher and addressMatcher");
	if ((m = json_object_get(fe, "serviceMatcher")) != NULL) {
		snprintf(q, sizeof(q), "%s.serviceMatcher", p);
		if ((ret = kdp_json_object(m, q, err)) || (ret = kdp_json_only(m, svcm_keys, q, err)) ||
		    (ret = kdp_json_str(m, "serviceName", true, l->svc_name, sizeof(l->svc_name), q, err)) ||
		    (ret = kdp_json_str(m, "namespace", true, l->svc_ns, sizeof(l->svc_ns), q, err)))
			return ret;
		if (strcmp(l->svc_ns, l->ns) != 0)
			return kdp_json_err(err, q, "namespace: '%s' must be the policy's own namespace '%s'",
					    l->svc_ns, l->ns);
		snprintf(q, sizeof(q), "%s.serviceMatcher.toPorts", p);
		if ((ret = parse_ports(json_object_get(m, "toPorts"), q, l->fports, &l->n_fports, err)))
			return ret;
	} else {
		m = json_object_get(fe, "addressMatcher");
		l->address = true;
		snprintf(q, sizeof(q), "%s.addressMatcher", p);
		if ((ret = kdp_json_object(m, q, err)) || (ret = kdp_json_only(m, addrm_keys, q, err)))
			return ret;
		/* One address of either family, as Cilium takes. */
		v = json_object_get(m, "ip");
		l->is6 = json_is_string(v) && kdp_addr_family(json_string_value(v)) == 6;
		if ((ret = l->is6 ? kdp_json_ip6(m, "ip", true, &l->ip6, q, err)
				  : kdp_json_ip(m, "ip", true, &l->ip, q, err)))
			return ret;
		if (l->is6 ? kdp_addr6_not_host(&l->ip6) || kdp_addr6_link_local(&l->ip6)
			   : kdp_addr_not_host(l->ip)) {
			char pp[220];
			snprintf(pp, sizeof(pp), "%s.ip", q);
			return kdp_json_err(err, pp, l->is6 ? "not a global unicast IPv6 address"
							    : "not a unicast address");
		}
		snprintf(q, sizeof(q), "%s.addressMatcher.toPorts", p);
		if ((ret = parse_ports(json_object_get(m, "toPorts"), q, l->fports, &l->n_fports, err)))
			return ret;
		if (l->n_fports == 0)
			return kdp_json_err(err, q, "an addressMatcher needs at least one port");
	}

	kdp_json_path(p, sizeof(p), path, "redirectBackend");
	be = json_object_get(o, "redirectBackend");
	if (be == NULL)
		return kdp_json_err(err, p, "required field missing");
	if ((ret = kdp_json_object(be, p, err)) || (ret = kdp_json_only(be, be_keys, p, err)))
		return ret;
	snprintf(q, sizeof(q), "%s.localEndpointSelector", p);
	sel = json_object_get(be, "localEndpointSelector");
	if (sel == NULL)
		return kdp_json_err(err, q, "required field missing");
	if ((ret = kdp_json_object(sel, q, err)) || (ret = kdp_json_only(sel, sel_keys, q, err)))
		return ret;
	snprintf(q, sizeof(q), "%s.localEndpointSelector.matchExpressions", p);
	if ((ret = parse_exprs(json_object_get(sel, "matchExpressions"), q, &l->match_exprs, err)))
		return ret;
	snprintf(q, sizeof(q), "%s.localEndpointSelector.matchLabels", p);
	labels = json_object_get(sel, "matchLabels");
	if (labels != NULL && json_is_null(labels))
		labels = NULL;
	if ((labels != NULL && !json_is_object(labels)) ||
	    (json_object_size(labels) == 0 && l->match_exprs == NULL))
		return kdp_json_err(err, q,
				    "expected a non-empty object of label: value (or matchExpressions)");
	json_object_foreach(labels, key, v)
		if (!json_is_string(v))
			return kdp_json_err(err, q, "label '%s' must map to a string", key);
	snprintf(q, sizeof(q), "%s.toPorts", p);
	if ((ret = parse_ports(json_object_get(be, "toPorts"), q, l->bports, &l->n_bports, err)))
		return ret;
	if (l->n_bports == 0)
		return kdp_json_err(err, q, "at least one backend port is required");
	if (l->n_bports > 1)
		for (unsigned int i = 0; i < l->n_bports; i++)
			if (l->bports[i].name[0] == '\0')
				return kdp_json_err(err, q, "ports need names when there are several");
	l->match_labels = labels ? json_deep_copy(labels) : json_object();
	return l->match_labels ? 0 : -ENOMEM;
}

static json_t *ports_json(const struct kdp_lrp_port *p, unsigned int n)
{
	json_t *a = json_array();

	for (unsigned int i = 0; i < n; i++) {
		char port[8];
		snprintf(port, sizeof(port), "%u", p[i].port);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s}", "port", port, "name",
						   p[i].name, "protocol",
						   p[i].proto == IPPROTO_TCP ? "TCP" : "UDP"));
	}
	return a;
}

const char *kdp_lrp_ip_fmt(const struct kdp_lrp *l, char *buf, size_t len)
{
	return l->is6 ? kdp_addr6_fmt(&l->ip6, buf, len) : kdp_addr_fmt_ip(l->ip, buf, len);
}

bool kdp_lrp_same_ip(const struct kdp_lrp *a, const struct kdp_lrp *b)
{
	return a->is6 == b->is6 && (a->is6 ? kdp_addr6_eq(&a->ip6, &b->ip6) : a->ip == b->ip);
}

json_t *kdp_lrp_json(const struct kdp_lrp *l)
{
	char ip[KDP_ADDR6_STRLEN];
	json_t *fe;

	if (l->address)
		fe = json_pack("{s:{s:s, s:o}}", "addressMatcher", "ip",
			       kdp_lrp_ip_fmt(l, ip, sizeof(ip)), "toPorts",
			       ports_json(l->fports, l->n_fports));
	else
		fe = json_pack("{s:{s:s, s:s, s:o}}", "serviceMatcher", "serviceName", l->svc_name,
			       "namespace", l->svc_ns, "toPorts",
			       ports_json(l->fports, l->n_fports));
	json_t *sel = json_pack("{s:O}", "matchLabels", l->match_labels);

	if (sel != NULL && l->match_exprs != NULL)
		json_object_set(sel, "matchExpressions", l->match_exprs);
	return json_pack("{s:s, s:s, s:o, s:{s:o, s:o}, s:b, s:s}", "namespace", l->ns,
			 "name", l->name, "redirectFrontend", fe, "redirectBackend",
			 "localEndpointSelector", sel, "toPorts",
			 ports_json(l->bports, l->n_bports), "skipRedirectFromBackend",
			 l->skip_from_backend, "description", l->description);
}

static bool value_in(const json_t *values, const char *v)
{
	const json_t *x;
	size_t i;

	json_array_foreach(values, i, x)
		if (strcmp(json_string_value(x), v) == 0)
			return true;
	return false;
}

bool kdp_lrp_selects(const struct kdp_lrp *l, const json_t *labels)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(l->match_labels, key, v) {
		json_t *have = json_object_get(labels, key);
		if (!json_is_string(have) || strcmp(json_string_value(have), json_string_value(v)))
			return false;
	}
	json_array_foreach(l->match_exprs, i, v) {
		const char *op = json_string_value(json_object_get(v, "operator"));
		const json_t *have = json_object_get(labels, json_string_value(json_object_get(v, "key")));
		const json_t *vals = json_object_get(v, "values");

		switch (op[0] == 'I' ? 0 : op[0] == 'N' ? 1 : op[0] == 'E' ? 2 : 3) {
		case 0: /* In */
			if (!json_is_string(have) || !value_in(vals, json_string_value(have)))
				return false;
			break;
		case 1: /* NotIn: also when the label is absent */
			if (json_is_string(have) && value_in(vals, json_string_value(have)))
				return false;
			break;
		case 2: /* Exists */
			if (have == NULL)
				return false;
			break;
		default: /* DoesNotExist */
			if (have != NULL)
				return false;
			break;
		}
	}
	return true;
}

const struct kdp_lrp_port *kdp_lrp_backend_port(const struct kdp_lrp *l,
						const char *name, uint8_t proto)
{
	const struct kdp_lrp_port *only = NULL;
	unsigned int n = 0;

	for (unsigned int i = 0; i < l->n_bports; i++) {
		if (l->bports[i].proto != proto)
			continue;
		if (name != NULL && name[0] && l->bports[i].name[0] &&
		    strcmp(name, l->bports[i].name) == 0)
			return &l->bports[i];
		only = &l->bports[i];
		n++;
	}
	return n == 1 ? only : NULL;
}

int kdp_lrp_copy(struct kdp_lrp *dst, const struct kdp_lrp *src)
{
	*dst = *src;
	json_incref(dst->match_labels);
	json_incref(dst->match_exprs);
	return 0;
}

void kdp_lrp_free(struct kdp_lrp *l)
{
	json_decref(l->match_labels);
	json_decref(l->match_exprs);
	l->match_labels = NULL;
	l->match_exprs = NULL;
}

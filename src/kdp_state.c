/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>

#include <rte_common.h>

#include "common/kdp_addr.h"
#include "kdp_devargs.h"
#include "kdp_state.h"

static const char *const node_keys[] = {"name", "ip", "ips", "podCIDRs", NULL};
static const char *const ep_keys[] = {"namespace", "name", "ip", "ips", "mac",
				      "labels", "devargs", NULL};
static const char *const state_keys[] = {"nodes", "endpoints", "services",
					 "ipMasqAgent", "localRedirectPolicies", NULL};

/* The name in the body must match the one in the URL, when both exist. */
static int name_field(const json_t *o, const char *key, const char *given,
		      char *out, const char *path, char *err)
{
	char p[128];
	int ret;

	kdp_json_path(p, sizeof(p), path, key);
	ret = kdp_json_str(o, key, given == NULL, out, KDP_NAME_LEN, path, err);
	if (ret < 0)
		return ret;
	if (given != NULL) {
		if (ret == 0 && strcmp(out, given) != 0)
			return kdp_json_err(err, p, "'%s' does not match '%s' in the URL",
					    out, given);
		snprintf(out, KDP_NAME_LEN, "%s", given);
	}
	return kdp_json_check_name(out, p, err);
}

int kdp_state_ips_parse(const json_t *o, uint32_t ip, struct kdp_in6 *ip6, bool *has_ip6,
			const char *path, char *err)
{
	char p[128], q[160], a[KDP_ADDR_STRLEN];
	json_t *arr = json_object_get(o, "ips"), *v;
	bool has4 = false;
	size_t i;

	*has_ip6 = false;
	memset(ip6, 0, sizeof(*ip6));
	if (arr == NULL)
		return 0;
	kdp_json_path(p, sizeof(p), path, "ips");
	if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 2)
		return kdp_json_err(err, p, "expected 1 or 2 addresses, one per family");
	json_array_foreach(arr, i, v) {
		const char *s = json_is_string(v) ? json_string_value(v) : NULL;
		uint32_t v4;

		snprintf(q, sizeof(q), "%s[%zu]", p, i);
		if (s != NULL && kdp_addr_parse_ip(s, &v4) == 0) {
			if (has4)
				return kdp_json_err(err, q, "a second IPv4 address (one per family)");
			if (v4 != ip)
				return kdp_json_err(err, q, "%s is not ip %s", s,
						    kdp_addr_fmt_ip(ip, a, sizeof(a)));
			has4 = true;
		} else if (s != NULL && kdp_addr6_parse(s, ip6) == 0) {
			if (*has_ip6)
				return kdp_json_err(err, q, "a second IPv6 address (one per family)");
			if (kdp_addr6_not_host(ip6) || kdp_addr6_link_local(ip6))
				return kdp_json_err(err, q, "not a global unicast IPv6 address");
			*has_ip6 = true;
		} else {
			return kdp_json_err(err, q,
					    "not an IPv4 or IPv6 address (like 172.20.0.130 or fd00:20::130)");
		}
	}
	return 0;
}

int kdp_state_node_parse(const json_t *o, const char *name, const char *path,
			 struct kdp_node *n, char *err)
{
	size_t at4[KDP_MAX_POD_CIDRS]; /* JSON index of each IPv4 podCIDR */
	char p[128];
	json_t *a, *v;
	size_t i;
	int ret;

	memset(n, 0, sizeof(*n));
	if ((ret = kdp_json_object(o, path, err)) ||
	    (ret = kdp_json_only(o, node_keys, path, err)) ||
	    (ret = name_field(o, "name", name, n->name, path, err)) ||
	    (ret = kdp_json_ip(o, "ip", true, &n->ip, path, err)))
		return ret;
	if (kdp_addr_not_host(n->ip))
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "ip"),
				    "not a unicast address");
	if ((ret = kdp_state_ips_parse(o, n->ip, &n->ip6, &n->has_ip6, path, err)))
		return ret;
	kdp_json_path(p, sizeof(p), path, "podCIDRs");
	a = json_object_get(o, "podCIDRs");
	if (a == NULL)
		return kdp_json_err(err, p, "required field missing");
	if (!json_is_array(a) || json_array_size(a) > KDP_MAX_POD_CIDRS)
		return kdp_json_err(err, p, "expected an array of at most %d CIDRs",
				    KDP_MAX_POD_CIDRS);
	json_array_foreach(a, i, v) {
		char q[160];
		const char *s = json_is_string(v) ? json_string_value(v) : "";
		unsigned int c = n->n_cidrs, c6 = n->n_cidrs6;
		char b6[KDP_ADDR6_STRLEN];

		snprintf(q, sizeof(q), "%s[%zu]", p, i);
		if (kdp_addr_family(s) == 6) {
			if (kdp_addr6_parse_prefix(s, &n->cidr6[c6], &n->plen6[c6], true))
				return kdp_json_err(err, q,
						    "not an IPv6 CIDR (like fd00:20::/64, host bits zero)");
			if (n->plen6[c6] < 16)
				return kdp_json_err(err, q, "prefix shorter than /16");
			if (!n->has_ip6)
				return kdp_json_err(err, q,
						    "an IPv6 podCIDR needs the node's IPv6 address in ips");
			for (unsigned int j = 0; j < c6; j++)
				if (kdp_addr6_overlap(&n->cidr6[c6], n->plen6[c6], &n->cidr6[j],
						      n->plen6[j]))
					return kdp_json_err(err, q, "overlaps %s of the same node",
							    kdp_addr6_fmt_prefix(&n->cidr6[j],
										 n->plen6[j], b6,
										 sizeof(b6)));
			n->n_cidrs6++;
			continue;
		}
		if (kdp_addr_parse_prefix(s, &n->cidr[c], &n->plen[c], true))
			return kdp_json_err(err, q,
					    "not a CIDR (like 172.20.0.0/24 or fd00:20::/64, host bits zero)");
		if (n->plen[c] < 8)
			return kdp_json_err(err, q, "prefix shorter than /8");
		for (size_t j = 0; j < c; j++)
			if (kdp_addr_overlap(n->cidr[c], n->plen[c], n->cidr[j],
					     n->plen[j]))
				return kdp_json_err(err, q,
						    "overlaps %s[%zu] of the same node", p, at4[j]);
		at4[c] = i;
		n->n_cidrs++;
	}
	return 0;
}

int kdp_state_ep_parse(const json_t *o, const char *ns, const char *name,
		       const char *path, struct kdp_endpoint *ep, char *err)
{
	char p[128];
	const char *k;
	json_t *v, *labels;
	int ret;

	memset(ep, 0, sizeof(*ep));
	ep->port = -1;
	if ((ret = kdp_json_object(o, path, err)) ||
	    (ret = kdp_json_only(o, ep_keys, path, err)) ||
	    (ret = name_field(o, "namespace", ns, ep->ns, path, err)) ||
	    (ret = name_field(o, "name", name, ep->name, path, err)) ||
	    (ret = kdp_json_ip(o, "ip", true, &ep->ip, path, err)) ||
	    (ret = kdp_json_mac(o, "mac", true, &ep->mac, path, err)) ||
	    (ret = kdp_json_str(o, "devargs", true, ep->devargs,
				sizeof(ep->devargs), path, err)))
		return ret;
	if (kdp_addr_not_host(ep->ip))
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "ip"),
				    "not a unicast address");
	if ((ret = kdp_state_ips_parse(o, ep->ip, &ep->ip6, &ep->has_ip6, path, err)))
		return ret;
	kdp_json_path(p, sizeof(p), path, "labels");
	labels = json_object_get(o, "labels");
	if (labels == NULL || json_is_null(labels)) {
		ep->labels = json_object();
		return ep->labels ? 0 : -ENOMEM;
	}
	if (!json_is_object(labels))
		return kdp_json_err(err, p, "expected an object of strings");
	json_object_foreach(labels, k, v) {
		if (!json_is_string(v) || strlen(k) == 0 || strlen(k) > 253 ||
		    json_string_length(v) > 63)
			return kdp_json_err(err, p,
					    "label '%s' must map a key (1-253 chars) to a string of at most 63",
					    k);
	}
	ep->labels = json_deep_copy(labels);
	return ep->labels ? 0 : -ENOMEM;
}

static int svc_ptr_cmp(const void *a, const void *b)
{
	const struct kdp_service *x = *(struct kdp_service *const *)a;
	const struct kdp_service *y = *(struct kdp_service *const *)b;

	return kdp_service_cmp(x->ns, x->name, y->ns, y->name);
}

/* Appends a service known to be new to an array that only svc_append has
 * grown (parsing, from empty): capacity is the next power of two. */
static int svc_append(struct kdp_state *st, struct kdp_service *s)
{
	if ((st->n_svcs & (st->n_svcs - 1)) == 0) { /* 0, 1, 2, 4, 8...: full */
		struct kdp_service **a =
			realloc(st->svcs, sizeof(*a) * (st->n_svcs ? 2 * st->n_svcs : 1));
		if (a == NULL)
			return -ENOMEM;
		st->svcs = a;
	}
	st->svcs[st->n_svcs++] = s;
	return 0;
}

/* Sorts the services parsed in list order; a name listed twice is an error
 * naming the second place it is listed at. */
static int svc_sort(struct kdp_state *st, char *err)
{
	struct kdp_service **order;

	if (st->n_svcs < 2)
		return 0;
	order = malloc(sizeof(*order) * st->n_svcs);
	if (order == NULL)
		return -ENOMEM;
	memcpy(order, st->svcs, sizeof(*order) * st->n_svcs);
	qsort(st->svcs, st->n_svcs, sizeof(*st->svcs), svc_ptr_cmp);
	for (unsigned int i = 1; i < st->n_svcs; i++) {
		const struct kdp_service *a = st->svcs[i - 1], *b = st->svcs[i];
		unsigned int j, seen = 0;

		if (kdp_service_cmp(a->ns, a->name, b->ns, b->name) != 0)
			continue;
		for (j = 0; j < st->n_svcs && seen < 2; j++)
			seen += order[j] == a || order[j] == b;
		free(order);
		return kdp_json_err(err, "", "services[%u]: service '%s/%s' listed twice", j - 1,
				    a->ns, a->name);
	}
	free(order);
	return 0;
}

int kdp_state_parse(const json_t *o, const struct kdp_config *cfg,
		    struct kdp_state *st, char *err)
{
	json_t *a, *v;
	size_t i;
	int ret;

	memset(st, 0, sizeof(*st));
	if ((ret = kdp_json_object(o, "", err)) ||
	    (ret = kdp_json_only(o, state_keys, "", err)))
		return ret;
	a = json_object_get(o, "nodes");
	if (a != NULL && !json_is_array(a))
		return kdp_json_err(err, "nodes", "expected an array");
	json_array_foreach(a, i, v) {
		struct kdp_node n;
		char p[32];
		snprintf(p, sizeof(p), "nodes[%zu]", i);
		if ((ret = kdp_state_node_parse(v, NULL, p, &n, err)))
			goto fail;
		if (kdp_state_node_find(st, n.name) >= 0) {
			ret = kdp_json_err(err, p, "node '%s' listed twice", n.name);
			goto fail;
		}
		if ((ret = kdp_state_node_put(st, &n)))
			goto fail;
	}
	a = json_object_get(o, "endpoints");
	if (a != NULL && !json_is_array(a)) {
		ret = kdp_json_err(err, "endpoints", "expected an array");
		goto fail;
	}
	json_array_foreach(a, i, v) {
		struct kdp_endpoint ep;
		char p[32];
		snprintf(p, sizeof(p), "endpoints[%zu]", i);
		if ((ret = kdp_state_ep_parse(v, NULL, NULL, p, &ep, err))) {
			json_decref(ep.labels);
			goto fail;
		}
		if (kdp_state_ep_find(st, ep.ns, ep.name) >= 0) {
			json_decref(ep.labels);
			ret = kdp_json_err(err, p, "endpoint '%s/%s' listed twice",
					   ep.ns, ep.name);
			goto fail;
		}
		if ((ret = kdp_state_ep_put(st, &ep))) {
			json_decref(ep.labels);
			goto fail;
		}
	}
	a = json_object_get(o, "services");
	if (a != NULL && !json_is_array(a)) {
		ret = kdp_json_err(err, "services", "expected an array");
		goto fail;
	}
	json_array_foreach(a, i, v) {
		struct kdp_service *sv;
		char p[32];
		snprintf(p, sizeof(p), "services[%zu]", i);
		if ((sv = kdp_service_new(v, NULL, NULL, p, cfg, &ret, err)) == NULL)
			goto fail;
		if ((ret = svc_append(st, sv))) {
			kdp_service_delete(sv);
			goto fail;
		}
	}
	/* Sorted once (names listed twice found there): a sorted insert, or
	 * a linear find, per service would cost 10,000 services dearly. */
	if ((ret = svc_sort(st, err)))
		goto fail;
	a = json_object_get(o, "localRedirectPolicies");
	if (a != NULL && !json_is_array(a)) {
		ret = kdp_json_err(err, "localRedirectPolicies", "expected an array");
		goto fail;
	}
	json_array_foreach(a, i, v) {
		struct kdp_lrp l;
		char p[40];
		snprintf(p, sizeof(p), "localRedirectPolicies[%zu]", i);
		if ((ret = kdp_lrp_parse(v, NULL, NULL, p, &l, err))) {
			kdp_lrp_free(&l);
			goto fail;
		}
		if (kdp_state_lrp_find(st, l.ns, l.name) >= 0) {
			ret = kdp_json_err(err, p, "policy '%s/%s' listed twice", l.ns, l.name);
			kdp_lrp_free(&l);
			goto fail;
		}
		if ((ret = kdp_state_lrp_put(st, &l))) {
			kdp_lrp_free(&l);
			goto fail;
		}
	}
	v = json_object_get(o, "ipMasqAgent");
	if (v != NULL && !json_is_null(v) &&
	    (ret = kdp_ipmasq_parse_json(v, "ipMasqAgent", &st->ipmasq, err)))
		goto fail;
	if (json_is_string(v))
		st->ipmasq.text = json_incref(v);
	return 0;
fail:
	kdp_state_free(st);
	return ret;
}

/* An address (@p v6: a struct kdp_in6, else a host-order uint32_t) inside
 * prefix @p net / @p plen of the same family. */
static bool fam_in(bool v6, const void *a, const void *net, uint8_t plen)
{
	return v6 ? kdp_addr6_in(a, net, plen)
		  : kdp_addr_in(*(const uint32_t *)a, *(const uint32_t *)net, plen);
}

static char *fam_fmt(bool v6, const void *a, char *buf, size_t len)
{
	return v6 ? kdp_addr6_fmt(a, buf, len) : kdp_addr_fmt_ip(*(const uint32_t *)a, buf, len);
}

static char *fam_fmt_prefix(bool v6, const void *net, uint8_t plen, char *buf, size_t len)
{
	return v6 ? kdp_addr6_fmt_prefix(net, plen, buf, len)
		  : kdp_addr_fmt_prefix(*(const uint32_t *)net, plen, buf, len);
}

/* Refuses an endpoint address (@p v6: its IPv6 one, field "ips"; else "ip")
 * that cannot be a pod of this node: outside the cluster pool of its family,
 * in that family's service range or in another node's podCIDR. 0 or -EINVAL. */
static int ep_check_addr(const struct kdp_state *st, const struct kdp_config *cfg,
			 const struct kdp_endpoint *e, bool v6, const char *p, char *err)
{
	const char *field = v6 ? "ips" : "ip";
	const void *ip = v6 ? (const void *)&e->ip6 : &e->ip;
	const void *pool = v6 ? (const void *)&cfg->native_cidr6 : &cfg->native_cidr;
	const void *svc = v6 ? (const void *)&cfg->svc_cidr6 : &cfg->svc_cidr;
	uint8_t pool_plen = v6 ? cfg->native_plen6 : cfg->native_plen;
	uint8_t svc_plen = v6 ? cfg->svc_plen6 : cfg->svc_plen;
	char a[KDP_ADDR6_STRLEN], b[KDP_ADDR6_STRLEN];

	fam_fmt(v6, ip, a, sizeof(a));
	if (!fam_in(v6, ip, pool, pool_plen))
		return kdp_json_err(err, p, "%s: %s is outside the native routing CIDR %s (the pods' "
				    "addresses)", field, a,
				    fam_fmt_prefix(v6, pool, pool_plen, b, sizeof(b)));
	if (svc_plen != 0 && fam_in(v6, ip, svc, svc_plen))
		return kdp_json_err(err, p, "%s: %s is inside the service CIDR %s", field, a,
				    fam_fmt_prefix(v6, svc, svc_plen, b, sizeof(b)));
	for (unsigned int i = 0; i < st->n_nodes; i++) {
		const struct kdp_node *n = &st->nodes[i];
		unsigned int nc = v6 ? n->n_cidrs6 : n->n_cidrs;

		if (strcmp(n->name, cfg->name) == 0)
			continue;
		for (unsigned int j = 0; j < nc; j++) {
			const void *net = v6 ? (const void *)&n->cidr6[j] : &n->cidr[j];
			uint8_t plen = v6 ? n->plen6[j] : n->plen[j];

			if (fam_in(v6, ip, net, plen))
				return kdp_json_err(err, p,
						    "%s: %s is inside podCIDR %s of node %s, not this "
						    "node's", field, a,
						    fam_fmt_prefix(v6, net, plen, b, sizeof(b)),
						    n->name);
		}
	}
	return 0;
}

/* Refuses an endpoint that cannot be a pod of this node: its IPv4 address
 * placed as ep_check_addr() says; its port on the uplink's or the host
 * tap's own interface. 0 or -EINVAL. */
static int ep_check_place(const struct kdp_state *st, const struct kdp_config *cfg,
			  const struct kdp_endpoint *e, const char *p, char *err)
{
	char mine[IF_NAMESIZE + 1], other[IF_NAMESIZE + 1];

	if (ep_check_addr(st, cfg, e, false, p, err) != 0)
		return -EINVAL;
	if (!kdp_devargs_iface(e->devargs, mine, sizeof(mine)))
		return 0;
	if (kdp_devargs_iface(cfg->uplink_devargs, other, sizeof(other)) &&
	    strcmp(mine, other) == 0)
		return kdp_json_err(err, p, "devargs: iface %s is the uplink's interface, not a pod's",
				    mine);
	if (cfg->host_devargs[0] != '\0' &&
	    kdp_devargs_iface(cfg->host_devargs, other, sizeof(other)) && strcmp(mine, other) == 0)
		return kdp_json_err(err, p, "devargs: iface %s is the host tap's interface, not a pod's",
				    mine);
	return 0;
}

int kdp_state_validate(const struct kdp_state *st, const struct kdp_config *cfg,
		       unsigned int max_endpoints, char *err)
{
	char p[64], a[KDP_ADDR_STRLEN], b[KDP_ADDR_STRLEN];

	for (unsigned int i = 0; i < st->n_nodes; i++) {
		const struct kdp_node *n = &st->nodes[i];
		snprintf(p, sizeof(p), "nodes[%s]", n->name);
		if (strcmp(n->name, cfg->name) == 0 && n->ip != cfg->node_ip)
			return kdp_json_err(err, p,
					    "ip: %s is this node and its IP is %s in the node config",
					    kdp_addr_fmt_ip(n->ip, a, sizeof(a)),
					    kdp_addr_fmt_ip(cfg->node_ip, b, sizeof(b)));
		if (strcmp(n->name, cfg->name) != 0 && n->ip == cfg->node_ip)
			return kdp_json_err(err, p, "ip: %s is this node's IP",
					    kdp_addr_fmt_ip(n->ip, a, sizeof(a)));
		if (n->has_ip6) {
			bool self = strcmp(n->name, cfg->name) == 0;
			char a6[KDP_ADDR6_STRLEN], b6[KDP_ADDR6_STRLEN];

			if (self && !cfg->has_ip6)
				return kdp_json_err(err, p,
						    "ips: %s: this node has no nodeIPv6 in the node config",
						    kdp_addr6_fmt(&n->ip6, a6, sizeof(a6)));
			if (self && !kdp_addr6_eq(&n->ip6, &cfg->node_ip6))
				return kdp_json_err(err, p,
						    "ips: %s is this node and its IPv6 is %s in the node config",
						    kdp_addr6_fmt(&n->ip6, a6, sizeof(a6)),
						    kdp_addr6_fmt(&cfg->node_ip6, b6, sizeof(b6)));
			if (!self && cfg->has_ip6 && kdp_addr6_eq(&n->ip6, &cfg->node_ip6))
				return kdp_json_err(err, p, "ips: %s is this node's IPv6",
						    kdp_addr6_fmt(&n->ip6, a6, sizeof(a6)));
		}
		for (unsigned int j = 0; j < i; j++) {
			const struct kdp_node *o = &st->nodes[j];
			char a6[KDP_ADDR6_STRLEN], b6[KDP_ADDR6_STRLEN];

			if (n->has_ip6 && o->has_ip6 && kdp_addr6_eq(&n->ip6, &o->ip6))
				return kdp_json_err(err, p, "ips: %s already belongs to node %s",
						    kdp_addr6_fmt(&n->ip6, a6, sizeof(a6)), o->name);
			for (unsigned int x = 0; x < n->n_cidrs6; x++)
				for (unsigned int y = 0; y < o->n_cidrs6; y++)
					if (kdp_addr6_overlap(&n->cidr6[x], n->plen6[x],
							      &o->cidr6[y], o->plen6[y]))
						return kdp_json_err(
							err, p, "podCIDRs: %s overlaps %s of node %s",
							kdp_addr6_fmt_prefix(&n->cidr6[x], n->plen6[x], a6,
									     sizeof(a6)),
							kdp_addr6_fmt_prefix(&o->cidr6[y], o->plen6[y], b6,
									     sizeof(b6)),
							o->name);
			if (o->ip == n->ip)
				return kdp_json_err(err, p, "ip: %s already belongs to node %s",
						    kdp_addr_fmt_ip(n->ip, a, sizeof(a)),
						    o->name);
			for (unsigned int x = 0; x < n->n_cidrs; x++)
				for (unsigned int y = 0; y < o->n_cidrs; y++)
					if (kdp_addr_overlap(n->cidr[x], n->plen[x],
							     o->cidr[y], o->plen[y]))
						return kdp_json_err(
							err, p,
							"podCIDRs: %s overlaps %s of node %s",
							kdp_addr_fmt_prefix(n->cidr[x], n->plen[x], a, sizeof(a)),
							kdp_addr_fmt_prefix(o->cidr[y], o->plen[y], b, sizeof(b)),
							o->name);
		}
	}
	/* Frontends claimed twice are found when the snapshot is built
	 * (kdp_snapshot.c), where the frontends are. */
	for (unsigned int i = 0; i < st->n_lrps; i++) {
		const struct kdp_lrp *l = &st->lrps[i];
		char a6[KDP_ADDR6_STRLEN];

		if (!l->address)
			continue;
		if (l->is6 && !cfg->has_ip6)
			return kdp_json_err(err, "",
					    "localRedirectPolicies[%s/%s]: redirectFrontend.addressMatcher.ip: %s: this node has no nodeIPv6 (IPv6 is off)",
					    l->ns, l->name, kdp_lrp_ip_fmt(l, a6, sizeof(a6)));
		for (unsigned int j = 0; j < st->n_svcs; j++) {
			const struct kdp_service *s = st->svcs[j];
			bool ip = l->is6 ? s->has_cluster_ip6 && kdp_addr6_eq(&s->cluster_ip6, &l->ip6)
					 : s->cluster_ip == l->ip;
			for (unsigned int x = 0; !l->is6 && x < s->n_ext; x++)
				ip |= s->ext[x] == l->ip;
			for (unsigned int x = 0; !l->is6 && x < s->n_lb; x++)
				ip |= s->lb[x] == l->ip;
			for (unsigned int x = 0; l->is6 && x < s->n_ext6; x++)
				ip |= kdp_addr6_eq(&s->ext6[x], &l->ip6);
			for (unsigned int x = 0; l->is6 && x < s->n_lb6; x++)
				ip |= kdp_addr6_eq(&s->lb6[x], &l->ip6);
			for (unsigned int pp = 0; ip && pp < s->n_ports; pp++)
				for (unsigned int f = 0; f < l->n_fports; f++)
					if (s->ports[pp].port == l->fports[f].port &&
					    s->ports[pp].proto == l->fports[f].proto)
						return kdp_json_err(err, "",
								    l->is6 ? "localRedirectPolicies[%s/%s]: its address [%s]:%u is service %s/%s's frontend"
									   : "localRedirectPolicies[%s/%s]: its address %s:%u is service %s/%s's frontend",
								    l->ns, l->name,
								    kdp_lrp_ip_fmt(l, a6, sizeof(a6)),
								    l->fports[f].port, s->ns, s->name);
		}
		for (unsigned int j = 0; j < i; j++)
			if (st->lrps[j].address && kdp_lrp_same_ip(&st->lrps[j], l))
				return kdp_json_err(err, "",
						    "localRedirectPolicies[%s/%s]: address already redirected by %s/%s",
						    l->ns, l->name, st->lrps[j].ns, st->lrps[j].name);
	}
	if (st->n_eps > max_endpoints)
		return kdp_json_err(err, "endpoints",
				    "%u local endpoints, at most %u fit (one DPDK port each)",
				    st->n_eps, max_endpoints);
	for (unsigned int i = 0; i < st->n_eps; i++) {
		const struct kdp_endpoint *e = &st->eps[i];
		snprintf(p, sizeof(p), "endpoints[%s/%s]", e->ns, e->name);
		if (kdp_devargs_check(cfg, e->devargs, p, err) != 0)
			return -EINVAL;
		if (e->ip == cfg->node_ip || e->ip == cfg->pod_gw ||
		    e->ip == cfg->gateway)
			return kdp_json_err(err, p,
					    "ip: %s is the node, its gateway or the pods' gateway",
					    kdp_addr_fmt_ip(e->ip, a, sizeof(a)));
		if (ep_check_place(st, cfg, e, p, err) != 0)
			return -EINVAL;
		if (e->has_ip6) {
			char a6[KDP_ADDR6_STRLEN];

			if (!cfg->has_ip6)
				return kdp_json_err(err, p,
						    "ips: %s: this node has no nodeIPv6 in the node config",
						    kdp_addr6_fmt(&e->ip6, a6, sizeof(a6)));
			if (kdp_addr6_eq(&e->ip6, &cfg->node_ip6) ||
			    kdp_addr6_eq(&e->ip6, &cfg->gateway6) ||
			    kdp_addr6_eq(&e->ip6, &cfg->pod_gw6) ||
			    kdp_addr6_eq(&e->ip6, &cfg->loopback_ip6))
				return kdp_json_err(err, p,
						    "ips: %s is the node, its gateway or the pods' gateway",
						    kdp_addr6_fmt(&e->ip6, a6, sizeof(a6)));
			if (ep_check_addr(st, cfg, e, true, p, err) != 0)
				return -EINVAL;
		}
		for (unsigned int j = 0; j < i; j++) {
			const struct kdp_endpoint *o = &st->eps[j];
			char a6[KDP_ADDR6_STRLEN];

			if (e->has_ip6 && o->has_ip6 && kdp_addr6_eq(&e->ip6, &o->ip6))
				return kdp_json_err(err, p, "ips: %s already belongs to %s/%s",
						    kdp_addr6_fmt(&e->ip6, a6, sizeof(a6)), o->ns,
						    o->name);
			if (o->ip == e->ip)
				return kdp_json_err(err, p, "ip: %s already belongs to %s/%s",
						    kdp_addr_fmt_ip(e->ip, a, sizeof(a)),
						    o->ns, o->name);
			if (strcmp(o->devargs, e->devargs) == 0)
				return kdp_json_err(err, p, "devargs: already used by %s/%s",
						    o->ns, o->name);
		}
	}
	return 0;
}

/* "ips": [v4, v6], or NULL when there is no IPv6 (the field is left out). */
static json_t *ips_json(uint32_t ip, bool has_ip6, const struct kdp_in6 *ip6)
{
	char a[KDP_ADDR_STRLEN], b[KDP_ADDR6_STRLEN];

	if (!has_ip6)
		return NULL;
	return json_pack("[s, s]", kdp_addr_fmt_ip(ip, a, sizeof(a)),
			 kdp_addr6_fmt(ip6, b, sizeof(b)));
}

json_t *kdp_state_node_json(const struct kdp_node *n, const char *local)
{
	char buf[KDP_ADDR6_STRLEN];
	json_t *cidrs = json_array(), *ips;

	for (unsigned int i = 0; i < n->n_cidrs; i++)
		json_array_append_new(cidrs, json_string(kdp_addr_fmt_prefix(
						     n->cidr[i], n->plen[i], buf,
						     sizeof(buf))));
	for (unsigned int i = 0; i < n->n_cidrs6; i++)
		json_array_append_new(cidrs, json_string(kdp_addr6_fmt_prefix(
						     &n->cidr6[i], n->plen6[i], buf,
						     sizeof(buf))));
	json_t *o = json_pack("{s:s, s:s, s:o}", "name", n->name, "ip",
			      kdp_addr_fmt_ip(n->ip, buf, sizeof(buf)),
			      "podCIDRs", cidrs);
	ips = ips_json(n->ip, n->has_ip6, &n->ip6);
	if (o != NULL && ips != NULL) {
		/* Keys in the order of the request: name, ip, ips, podCIDRs. */
		json_t *c = json_incref(json_object_get(o, "podCIDRs"));

		json_object_del(o, "podCIDRs");
		json_object_set_new(o, "ips", ips);
		json_object_set_new(o, "podCIDRs", c);
	} else {
		json_decref(ips);
	}
	if (o != NULL && local != NULL)
		json_object_set_new(o, "local",
				    json_boolean(strcmp(local, n->name) == 0));
	return o;
}

json_t *kdp_state_ep_json(const struct kdp_endpoint *ep)
{
	char ip[KDP_ADDR_STRLEN], mac[KDP_MAC_STRLEN];

	json_t *ips = ips_json(ep->ip, ep->has_ip6, &ep->ip6);

	kdp_addr_fmt_mac(&ep->mac, mac, sizeof(mac));
	if (ips != NULL)
		return json_pack("{s:s, s:s, s:s, s:o, s:s, s:O, s:s}", "namespace", ep->ns,
				 "name", ep->name, "ip", kdp_addr_fmt_ip(ep->ip, ip, sizeof(ip)),
				 "ips", ips, "mac", mac, "labels", ep->labels, "devargs",
				 ep->devargs);
	return json_pack("{s:s, s:s, s:s, s:s, s:O, s:s}", "namespace", ep->ns,
			 "name", ep->name, "ip",
			 kdp_addr_fmt_ip(ep->ip, ip, sizeof(ip)), "mac", mac,
			 "labels", ep->labels, "devargs", ep->devargs);
}

json_t *kdp_state_json(const struct kdp_state *st)
{
	json_t *nodes = json_array(), *eps = json_array(), *svcs = json_array();
	json_t *lrps = json_array();

	for (unsigned int i = 0; i < st->n_nodes; i++)
		json_array_append_new(nodes, kdp_state_node_json(&st->nodes[i], NULL));
	for (unsigned int i = 0; i < st->n_eps; i++)
		json_array_append_new(eps, kdp_state_ep_json(&st->eps[i]));
	for (unsigned int i = 0; i < st->n_svcs; i++)
		json_array_append_new(svcs, kdp_service_json(st->svcs[i]));
	for (unsigned int i = 0; i < st->n_lrps; i++)
		json_array_append_new(lrps, kdp_lrp_json(&st->lrps[i]));
	/* The ip-masq-agent config as it was given: its text, else its keys. */
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "nodes", nodes, "endpoints", eps,
			 "services", svcs, "localRedirectPolicies", lrps, "ipMasqAgent",
			 st->ipmasq.present && st->ipmasq.text ? json_incref(st->ipmasq.text)
							       : kdp_ipmasq_json(&st->ipmasq));
}

int kdp_state_copy(struct kdp_state *dst, const struct kdp_state *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->derived = true;
	dst->ipmasq = src->ipmasq;
	json_incref(dst->ipmasq.text);
	if (src->n_nodes > 0) {
		dst->nodes = malloc(sizeof(*dst->nodes) * src->n_nodes);
		if (dst->nodes == NULL)
			return -ENOMEM;
		memcpy(dst->nodes, src->nodes, sizeof(*dst->nodes) * src->n_nodes);
		dst->n_nodes = src->n_nodes;
	}
	if (src->n_eps > 0) {
		dst->eps = malloc(sizeof(*dst->eps) * src->n_eps);
		if (dst->eps == NULL) {
			kdp_state_free(dst);
			return -ENOMEM;
		}
		memcpy(dst->eps, src->eps, sizeof(*dst->eps) * src->n_eps);
		dst->n_eps = src->n_eps;
		for (unsigned int i = 0; i < dst->n_eps; i++)
			json_incref(dst->eps[i].labels);
	}
	if (src->n_svcs > 0) {
		/* Shared: the copy borrows them (see struct kdp_state). */
		dst->svcs = malloc(sizeof(*dst->svcs) * src->n_svcs);
		if (dst->svcs == NULL) {
			kdp_state_free(dst);
			return -ENOMEM;
		}
		memcpy(dst->svcs, src->svcs, sizeof(*dst->svcs) * src->n_svcs);
		dst->n_svcs = src->n_svcs;
	}
	if (src->n_lrps > 0) {
		dst->lrps = calloc(src->n_lrps, sizeof(*dst->lrps));
		if (dst->lrps == NULL) {
			kdp_state_free(dst);
			return -ENOMEM;
		}
		for (unsigned int i = 0; i < src->n_lrps; i++)
			kdp_lrp_copy(&dst->lrps[i], &src->lrps[i]);
		dst->n_lrps = src->n_lrps;
	}
	return 0;
}

/*
 * The collections of a state, handled one way: objects of a fixed size in a
 * malloc'ed array, found by namespace (when namespaced) and name; release
 * frees what an object owns (NULL: nothing).
 */
struct coll {
	size_t size;
	size_t arr;   /* offset of the array pointer in struct kdp_state */
	size_t count; /* offset of its unsigned int count */
	size_t ns;    /* offset of the namespace in an object, or SIZE_MAX */
	size_t name;  /* offset of the name in an object */
	unsigned int max;
	void (*release)(void *obj);
	unsigned int bit; /* its KDP_STATE_CH_* */
};

static void release_ep(void *o) { json_decref(((struct kdp_endpoint *)o)->labels); }
static void release_lrp(void *o) { kdp_lrp_free(o); }

static const struct coll nodes_c = {sizeof(struct kdp_node), offsetof(struct kdp_state, nodes),
				    offsetof(struct kdp_state, n_nodes), SIZE_MAX,
				    offsetof(struct kdp_node, name), KDP_MAX_NODES, NULL,
				    KDP_STATE_CH_NODES};
static const struct coll eps_c = {sizeof(struct kdp_endpoint), offsetof(struct kdp_state, eps),
				  offsetof(struct kdp_state, n_eps),
				  offsetof(struct kdp_endpoint, ns),
				  offsetof(struct kdp_endpoint, name), UINT_MAX, release_ep,
				  KDP_STATE_CH_EPS};
static const struct coll lrps_c = {sizeof(struct kdp_lrp), offsetof(struct kdp_state, lrps),
				   offsetof(struct kdp_state, n_lrps), offsetof(struct kdp_lrp, ns),
				   offsetof(struct kdp_lrp, name), UINT_MAX, release_lrp,
				   KDP_STATE_CH_LRPS};
/* Services are not among them: shared and sorted (below). */
static const struct coll *const colls[] = {&nodes_c, &eps_c, &lrps_c};

static char **coll_arr(const struct kdp_state *st, const struct coll *c)
{
	return (char **)((uintptr_t)st + c->arr);
}

static unsigned int *coll_n(const struct kdp_state *st, const struct coll *c)
{
	return (unsigned int *)((uintptr_t)st + c->count);
}

static int coll_find(const struct kdp_state *st, const struct coll *c, const char *ns,
		     const char *name)
{
	char *a = *coll_arr(st, c);

	for (unsigned int i = 0; i < *coll_n(st, c); i++) {
		const char *o = a + (size_t)i * c->size;

		if (strcmp(o + c->name, name) == 0 &&
		    (c->ns == SIZE_MAX || strcmp(o + c->ns, ns) == 0))
			return (int)i;
	}
	return -1;
}

/* Replaces the object of the same name (releasing the old one) or appends;
 * the state takes what @p obj owns. 0, -ENOSPC or -ENOMEM. */
static int coll_put(struct kdp_state *st, const struct coll *c, const void *obj)
{
	const char *o = obj;
	int i = coll_find(st, c, c->ns == SIZE_MAX ? NULL : o + c->ns, o + c->name);
	char **a = coll_arr(st, c), *na;
	unsigned int *n = coll_n(st, c);

	if (i >= 0) {
		if (c->release != NULL)
			c->release(*a + (size_t)i * c->size);
		memcpy(*a + (size_t)i * c->size, obj, c->size);
		st->changed |= c->bit;
		return 0;
	}
	if (*n >= c->max)
		return -ENOSPC;
	na = realloc(*a, c->size * (*n + 1));
	if (na == NULL)
		return -ENOMEM;
	*a = na;
	memcpy(na + (size_t)(*n)++ * c->size, obj, c->size);
	st->changed |= c->bit;
	return 0;
}

static void coll_del(struct kdp_state *st, const struct coll *c, int i)
{
	char *a = *coll_arr(st, c);
	unsigned int *n = coll_n(st, c);

	if (c->release != NULL)
		c->release(a + (size_t)i * c->size);
	memmove(a + (size_t)i * c->size, a + (size_t)(i + 1) * c->size,
		c->size * (*n - (unsigned int)i - 1));
	(*n)--;
	st->changed |= c->bit;
}

/* ---- services: shared, sorted by namespace/name ---- */

/* Index of @p ns/@p name, or -(insertion point) - 1. */
static int svc_search(const struct kdp_state *st, const char *ns, const char *name)
{
	int lo = 0, hi = (int)st->n_svcs - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		const struct kdp_service *s = st->svcs[mid];
		int c = kdp_service_cmp(s->ns, s->name, ns, name);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -lo - 1;
}

static int list_push(struct kdp_service ***a, unsigned int *n, struct kdp_service *s)
{
	struct kdp_service **na = realloc(*a, sizeof(*na) * (*n + 1));

	if (na == NULL)
		return -ENOMEM;
	na[(*n)++] = s;
	*a = na;
	return 0;
}

static void list_remove(struct kdp_service **a, unsigned int *n, const struct kdp_service *s)
{
	for (unsigned int i = 0; i < *n; i++)
		if (a[i] == s) {
			a[i] = a[--(*n)];
			return;
		}
}

/* @p s leaves @p st: a derived state remembers a borrowed one (its source
 * still lists it) and frees its own at once. Out of memory for the list,
 * a borrowed one is only not freed at the commit (leaked, never freed
 * while its source may list it). */
static void svc_drop(struct kdp_state *st, struct kdp_service *s)
{
	if (st->derived && !s->fresh) {
		list_push(&st->dropped, &st->n_dropped, s);
		return;
	}
	if (st->derived)
		list_remove(st->added, &st->n_added, s);
	kdp_service_delete(s);
}

int kdp_state_svc_find(const struct kdp_state *st, const char *ns, const char *name)
{
	int i = svc_search(st, ns, name);

	return i >= 0 ? i : -1;
}

int kdp_state_svc_put(struct kdp_state *st, struct kdp_service *s)
{
	int i = svc_search(st, s->ns, s->name);

	if (st->derived) {
		if (list_push(&st->added, &st->n_added, s) != 0) {
			kdp_service_delete(s);
			return -ENOMEM;
		}
		s->fresh = true;
	}
	if (i >= 0) {
		svc_drop(st, st->svcs[i]);
		st->svcs[i] = s;
	} else {
		struct kdp_service **a = realloc(st->svcs, sizeof(*a) * (st->n_svcs + 1));

		if (a == NULL) {
			svc_drop(st, s);
			return -ENOMEM;
		}
		st->svcs = a;
		i = -i - 1;
		memmove(&a[i + 1], &a[i], sizeof(*a) * (st->n_svcs - (unsigned int)i));
		a[i] = s;
		st->n_svcs++;
	}
	st->changed |= KDP_STATE_CH_SVCS;
	return 0;
}

void kdp_state_svc_del(struct kdp_state *st, int i)
{
	struct kdp_service *s = st->svcs[i];

	memmove(&st->svcs[i], &st->svcs[i + 1], sizeof(*st->svcs) * (st->n_svcs - (unsigned int)i - 1));
	st->n_svcs--;
	st->changed |= KDP_STATE_CH_SVCS;
	svc_drop(st, s);
}

/* The services a state owns: all of them, or a derived one's own. */
static void svcs_free(struct kdp_state *st)
{
	if (st->derived) {
		for (unsigned int i = 0; i < st->n_added; i++)
			kdp_service_delete(st->added[i]);
	} else {
		for (unsigned int i = 0; i < st->n_svcs; i++)
			kdp_service_delete(st->svcs[i]);
	}
	free(st->svcs);
	free(st->added);
	free(st->dropped);
	st->svcs = st->added = st->dropped = NULL;
	st->n_svcs = st->n_added = st->n_dropped = 0;
}

static void others_free(struct kdp_state *st)
{
	for (size_t k = 0; k < RTE_DIM(colls); k++) {
		const struct coll *c = colls[k];
		char **a = coll_arr(st, c);

		for (unsigned int i = 0; c->release != NULL && i < *coll_n(st, c); i++)
			c->release(*a + (size_t)i * c->size);
		free(*a);
		*a = NULL;
		*coll_n(st, c) = 0;
	}
	json_decref(st->ipmasq.text);
	st->ipmasq.text = NULL;
	st->ipmasq.present = false;
}

void kdp_state_free(struct kdp_state *st)
{
	svcs_free(st);
	others_free(st);
	st->derived = false;
	st->changed = 0;
}

void kdp_state_commit(struct kdp_state *cur, struct kdp_state *next)
{
	if (next->derived) {
		/* @p cur's services are next's, but for those next dropped. */
		for (unsigned int i = 0; i < next->n_dropped; i++)
			kdp_service_delete(next->dropped[i]);
		for (unsigned int i = 0; i < next->n_added; i++)
			next->added[i]->fresh = false;
		free(next->dropped);
		free(next->added);
		next->dropped = next->added = NULL;
		next->n_dropped = next->n_added = 0;
		next->derived = false;
		free(cur->svcs);
		cur->svcs = NULL;
		cur->n_svcs = 0;
	}
	kdp_state_free(cur);
	next->changed = 0;
	*cur = *next;
	memset(next, 0, sizeof(*next));
}

void kdp_state_set_ipmasq(struct kdp_state *st, const struct kdp_ipmasq *cfg)
{
	json_decref(st->ipmasq.text);
	st->ipmasq = *cfg;
	st->changed |= KDP_STATE_CH_IPMASQ;
}

int kdp_state_node_find(const struct kdp_state *st, const char *name)
{
	return coll_find(st, &nodes_c, NULL, name);
}

int kdp_state_ep_find(const struct kdp_state *st, const char *ns, const char *name)
{
	return coll_find(st, &eps_c, ns, name);
}

int kdp_state_lrp_find(const struct kdp_state *st, const char *ns, const char *name)
{
	return coll_find(st, &lrps_c, ns, name);
}

int kdp_state_node_put(struct kdp_state *st, const struct kdp_node *n)
{
	return coll_put(st, &nodes_c, n);
}

int kdp_state_ep_put(struct kdp_state *st, struct kdp_endpoint *ep)
{
	return coll_put(st, &eps_c, ep);
}

int kdp_state_lrp_put(struct kdp_state *st, struct kdp_lrp *l)
{
	return coll_put(st, &lrps_c, l);
}

void kdp_state_node_del(struct kdp_state *st, int i)
{
	coll_del(st, &nodes_c, i);
}

void kdp_state_ep_del(struct kdp_state *st, int i)
{
	coll_del(st, &eps_c, i);
}

void kdp_state_lrp_del(struct kdp_state *st, int i)
{
	coll_del(st, &lrps_c, i);
}

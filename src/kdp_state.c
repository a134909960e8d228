/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kdp_addr.h"
#include "kdp_devargs.h"
#include "kdp_state.h"

static const char *const node_keys[] = {"name", "ip", "podCIDRs", NULL};
static const char *const ep_keys[] = {"namespace", "name", "ip", "mac",
				      "labels", "devargs", NULL};
static const char *const state_keys[] = {"nodes", "endpoints", "services",
					 "ipMasqAgent", "localRedirectPolicies", NULL};

int kdp_state_check_name(const char *s, const char *path, char *err)
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
	return kdp_state_check_name(out, p, err);
}

int kdp_state_node_parse(const json_t *o, const char *name, const char *path,
			 struct kdp_node *n, char *err)
{
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
	kdp_json_path(p, sizeof(p), path, "podCIDRs");
	a = json_object_get(o, "podCIDRs");
	if (a == NULL)
		return kdp_json_err(err, p, "required field missing");
	if (!json_is_array(a) || json_array_size(a) > KDP_MAX_POD_CIDRS)
		return kdp_json_err(err, p, "expected an array of at most %d CIDRs",
				    KDP_MAX_POD_CIDRS);
	json_array_foreach(a, i, v) {
		char q[160];
		snprintf(q, sizeof(q), "%s[%zu]", p, i);
		if (!json_is_string(v) ||
		    kdp_addr_parse_prefix(json_string_value(v), &n->cidr[i],
					  &n->plen[i], true))
			return kdp_json_err(err, q,
					    "not a CIDR (like 172.20.0.0/24, host bits zero)");
		if (n->plen[i] < 8)
			return kdp_json_err(err, q, "prefix shorter than /8");
		for (size_t j = 0; j < i; j++)
			if (kdp_addr_overlap(n->cidr[i], n->plen[i], n->cidr[j],
					     n->plen[j]))
				return kdp_json_err(err, q,
						    "overlaps %s[%zu] of the same node", p, j);
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

/* False when @p ns/@p name is already in @p seen (else adds it). */
static bool name_once(json_t *seen, const char *ns, const char *name)
{
	char key[2 * KDP_NAME_LEN + 2];

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if (json_object_get(seen, key) != NULL)
		return false;
	json_object_set_new(seen, key, json_true());
	return true;
}

/* Appends a service known to be new to an array that only svc_append has
 * grown (parsing, from empty): capacity is the next power of two. */
static int svc_append(struct kdp_state *st, struct kdp_service *s)
{
	if ((st->n_svcs & (st->n_svcs - 1)) == 0) { /* 0, 1, 2, 4, 8...: full */
		struct kdp_service *a =
			realloc(st->svcs, sizeof(*a) * (st->n_svcs ? 2 * st->n_svcs : 1));
		if (a == NULL)
			return -ENOMEM;
		st->svcs = a;
	}
	st->svcs[st->n_svcs++] = *s;
	return 0;
}

static int parse_all(const json_t *o, const struct kdp_config *cfg,
		     struct kdp_state *st, json_t *seen, char *err);

int kdp_state_parse(const json_t *o, const struct kdp_config *cfg,
		    struct kdp_state *st, char *err)
{
	json_t *seen = NULL;
	int ret = parse_all(o, cfg, st, seen = json_object(), err);

	json_decref(seen);
	return ret;
}

static int parse_all(const json_t *o, const struct kdp_config *cfg,
		     struct kdp_state *st, json_t *seen, char *err)
{
	json_t *a, *v;
	size_t i;
	int ret;

	memset(st, 0, sizeof(*st));
	if (seen == NULL)
		return -ENOMEM;
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
		struct kdp_service sv;
		char p[32];
		snprintf(p, sizeof(p), "services[%zu]", i);
		if ((ret = kdp_service_parse(v, NULL, NULL, p, cfg, &sv, err))) {
			kdp_service_free(&sv);
			goto fail;
		}
		/* Names seen so far in a hash: a linear find per service
		 * would make 10,000 services cost 50 million compares. */
		if (!name_once(seen, sv.ns, sv.name)) {
			ret = kdp_json_err(err, p, "service '%s/%s' listed twice", sv.ns, sv.name);
			kdp_service_free(&sv);
			goto fail;
		}
		if ((ret = svc_append(st, &sv))) {
			kdp_service_free(&sv);
			goto fail;
		}
	}
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
	return 0;
fail:
	kdp_state_free(st);
	return ret;
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
		for (unsigned int j = 0; j < i; j++) {
			const struct kdp_node *o = &st->nodes[j];
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
	if (kdp_services_validate(st->svcs, st->n_svcs, cfg->node_ip, err) != 0)
		return -EINVAL;
	for (unsigned int i = 0; i < st->n_lrps; i++) {
		const struct kdp_lrp *l = &st->lrps[i];
		if (!l->address)
			continue;
		for (unsigned int j = 0; j < st->n_svcs; j++) {
			const struct kdp_service *s = &st->svcs[j];
			bool ip = s->cluster_ip == l->ip;
			for (unsigned int x = 0; x < s->n_ext; x++)
				ip |= s->ext[x] == l->ip;
			for (unsigned int x = 0; x < s->n_lb; x++)
				ip |= s->lb[x] == l->ip;
			for (unsigned int pp = 0; ip && pp < s->n_ports; pp++)
				for (unsigned int f = 0; f < l->n_fports; f++)
					if (s->ports[pp].port == l->fports[f].port &&
					    s->ports[pp].proto == l->fports[f].proto)
						return kdp_json_err(err, "",
								    "localRedirectPolicies[%s/%s]: its address %s:%u is service %s/%s's frontend",
								    l->ns, l->name,
								    kdp_addr_fmt_ip(l->ip, a, sizeof(a)),
								    l->fports[f].port, s->ns, s->name);
		}
		for (unsigned int j = 0; j < i; j++)
			if (st->lrps[j].address && st->lrps[j].ip == l->ip)
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
		for (unsigned int j = 0; j < i; j++) {
			const struct kdp_endpoint *o = &st->eps[j];
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

json_t *kdp_state_node_json(const struct kdp_node *n, const char *local)
{
	char buf[KDP_ADDR_STRLEN];
	json_t *cidrs = json_array();

	for (unsigned int i = 0; i < n->n_cidrs; i++)
		json_array_append_new(cidrs, json_string(kdp_addr_fmt_prefix(
						     n->cidr[i], n->plen[i], buf,
						     sizeof(buf))));
	json_t *o = json_pack("{s:s, s:s, s:o}", "name", n->name, "ip",
			      kdp_addr_fmt_ip(n->ip, buf, sizeof(buf)),
			      "podCIDRs", cidrs);
	if (o != NULL && local != NULL)
		json_object_set_new(o, "local",
				    json_boolean(strcmp(local, n->name) == 0));
	return o;
}

json_t *kdp_state_ep_json(const struct kdp_endpoint *ep)
{
	char ip[KDP_ADDR_STRLEN], mac[KDP_MAC_STRLEN];

	kdp_addr_fmt_mac(&ep->mac, mac, sizeof(mac));
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
		json_array_append_new(svcs, kdp_service_json(&st->svcs[i]));
	for (unsigned int i = 0; i < st->n_lrps; i++)
		json_array_append_new(lrps, kdp_lrp_json(&st->lrps[i]));
	return json_pack("{s:o, s:o, s:o, s:o, s:o}", "nodes", nodes, "endpoints", eps,
			 "services", svcs, "localRedirectPolicies", lrps, "ipMasqAgent",
			 kdp_ipmasq_json(&st->ipmasq));
}

int kdp_state_copy(struct kdp_state *dst, const struct kdp_state *src)
{
	memset(dst, 0, sizeof(*dst));
	dst->ipmasq = src->ipmasq;
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
		dst->svcs = calloc(src->n_svcs, sizeof(*dst->svcs));
		if (dst->svcs == NULL) {
			kdp_state_free(dst);
			return -ENOMEM;
		}
		for (unsigned int i = 0; i < src->n_svcs; i++) {
			if (kdp_service_copy(&dst->svcs[i], &src->svcs[i]) != 0) {
				dst->n_svcs = i;
				kdp_state_free(dst);
				return -ENOMEM;
			}
		}
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

void kdp_state_free(struct kdp_state *st)
{
	for (unsigned int i = 0; i < st->n_eps; i++)
		json_decref(st->eps[i].labels);
	for (unsigned int i = 0; i < st->n_svcs; i++)
		kdp_service_free(&st->svcs[i]);
	for (unsigned int i = 0; i < st->n_lrps; i++)
		kdp_lrp_free(&st->lrps[i]);
	free(st->lrps);
	st->lrps = NULL;
	st->n_lrps = 0;
	free(st->nodes);
	free(st->eps);
	free(st->svcs);
	st->nodes = NULL;
	st->eps = NULL;
	st->svcs = NULL;
	st->n_nodes = st->n_eps = st->n_svcs = 0;
	st->ipmasq.present = false;
}

int kdp_state_node_find(const struct kdp_state *st, const char *name)
{
	for (unsigned int i = 0; i < st->n_nodes; i++)
		if (strcmp(st->nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

int kdp_state_ep_find(const struct kdp_state *st, const char *ns,
		      const char *name)
{
	for (unsigned int i = 0; i < st->n_eps; i++)
		if (strcmp(st->eps[i].ns, ns) == 0 &&
		    strcmp(st->eps[i].name, name) == 0)
			return (int)i;
	return -1;
}

int kdp_state_node_put(struct kdp_state *st, const struct kdp_node *n)
{
	int i = kdp_state_node_find(st, n->name);
	struct kdp_node *a;

	if (i >= 0) {
		st->nodes[i] = *n;
		return 0;
	}
	if (st->n_nodes >= KDP_MAX_NODES)
		return -ENOSPC;
	a = realloc(st->nodes, sizeof(*a) * (st->n_nodes + 1));
	if (a == NULL)
		return -ENOMEM;
	st->nodes = a;
	st->nodes[st->n_nodes++] = *n;
	return 0;
}

int kdp_state_ep_put(struct kdp_state *st, struct kdp_endpoint *ep)
{
	int i = kdp_state_ep_find(st, ep->ns, ep->name);
	struct kdp_endpoint *a;

	if (i >= 0) {
		json_decref(st->eps[i].labels);
		st->eps[i] = *ep;
		return 0;
	}
	a = realloc(st->eps, sizeof(*a) * (st->n_eps + 1));
	if (a == NULL)
		return -ENOMEM;
	st->eps = a;
	st->eps[st->n_eps++] = *ep;
	return 0;
}

void kdp_state_node_del(struct kdp_state *st, int i)
{
	memmove(&st->nodes[i], &st->nodes[i + 1],
		sizeof(*st->nodes) * (st->n_nodes - (unsigned int)i - 1));
	st->n_nodes--;
}

void kdp_state_ep_del(struct kdp_state *st, int i)
{
	json_decref(st->eps[i].labels);
	memmove(&st->eps[i], &st->eps[i + 1],
		sizeof(*st->eps) * (st->n_eps - (unsigned int)i - 1));
	st->n_eps--;
}

int kdp_state_svc_find(const struct kdp_state *st, const char *ns, const char *name)
{
	for (unsigned int i = 0; i < st->n_svcs; i++)
		if (strcmp(st->svcs[i].ns, ns) == 0 && strcmp(st->svcs[i].name, name) == 0)
			return (int)i;
	return -1;
}

int kdp_state_svc_put(struct kdp_state *st, struct kdp_service *s)
{
	int i = kdp_state_svc_find(st, s->ns, s->name);
	struct kdp_service *a;

	if (i >= 0) {
		kdp_service_free(&st->svcs[i]);
		st->svcs[i] = *s;
		return 0;
	}
	a = realloc(st->svcs, sizeof(*a) * (st->n_svcs + 1));
	if (a == NULL)
		return -ENOMEM;
	st->svcs = a;
	st->svcs[st->n_svcs++] = *s;
	return 0;
}

void kdp_state_svc_del(struct kdp_state *st, int i)
{
	kdp_service_free(&st->svcs[i]);
	memmove(&st->svcs[i], &st->svcs[i + 1],
		sizeof(*st->svcs) * (st->n_svcs - (unsigned int)i - 1));
	st->n_svcs--;
}

int kdp_state_lrp_find(const struct kdp_state *st, const char *ns, const char *name)
{
	for (unsigned int i = 0; i < st->n_lrps; i++)
		if (strcmp(st->lrps[i].ns, ns) == 0 && strcmp(st->lrps[i].name, name) == 0)
			return (int)i;
	return -1;
}

int kdp_state_lrp_put(struct kdp_state *st, struct kdp_lrp *l)
{
	int i = kdp_state_lrp_find(st, l->ns, l->name);
	struct kdp_lrp *a;

	if (i >= 0) {
		kdp_lrp_free(&st->lrps[i]);
		st->lrps[i] = *l;
		return 0;
	}
	a = realloc(st->lrps, sizeof(*a) * (st->n_lrps + 1));
	if (a == NULL)
		return -ENOMEM;
	st->lrps = a;
	st->lrps[st->n_lrps++] = *l;
	return 0;
}

void kdp_state_lrp_del(struct kdp_state *st, int i)
{
	kdp_lrp_free(&st->lrps[i]);
	memmove(&st->lrps[i], &st->lrps[i + 1],
		sizeof(*st->lrps) * (st->n_lrps - (unsigned int)i - 1));
	st->n_lrps--;
}

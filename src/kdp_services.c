/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kdp_addr.h"
#include "svc/kdp_svc.h"
#include "kdp_json.h"
#include "kdp_services.h"

static const char *const svc_keys[] = {
	"namespace", "name", "type", "clusterIP", "externalIPs", "loadBalancerIPs",
	"ports", "sessionAffinity", "sessionAffinityTimeoutSeconds", "algorithm",
	"externalTrafficPolicy", "internalTrafficPolicy", "healthCheckNodePort",
	"loadBalancerSourceRanges", "backends", NULL};
static const char *const port_keys[] = {"name", "protocol", "port", "targetPort",
					"nodePort", NULL};
static const char *const be_keys[] = {"ip", "port", "state", "nodeName", NULL};

static int parse_ips(const json_t *o, const char *key, const char *path,
		     uint32_t *out, unsigned int *n, char *err)
{
	json_t *a = json_object_get(o, key), *v;
	char p[128];
	size_t i;

	*n = 0;
	kdp_json_path(p, sizeof(p), path, key);
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > KDP_SVC_MAX_IPS)
		return kdp_json_err(err, p, "expected an array of at most %d addresses",
				    KDP_SVC_MAX_IPS);
	json_array_foreach(a, i, v) {
		char q[160];
		snprintf(q, sizeof(q), "%s[%zu]", p, i);
		if (!json_is_string(v) || kdp_addr_parse_ip(json_string_value(v), &out[i]) ||
		    kdp_addr_not_host(out[i]))
			return kdp_json_err(err, q, "not a unicast IPv4 address");
		(*n)++;
	}
	return 0;
}

static int parse_port(const json_t *o, const char *path, uint8_t type,
		      struct kdp_svc_port_cfg *pc, char *err)
{
	char proto[8] = "TCP", p[160];
	uint64_t v;
	int ret;
	json_t *tp;

	memset(pc, 0, sizeof(*pc));
	if ((ret = kdp_json_object(o, path, err)) ||
	    (ret = kdp_json_only(o, port_keys, path, err)))
		return ret;
	if ((ret = kdp_json_str(o, "name", false, pc->name, sizeof(pc->name), path, err)) < 0 ||
	    (ret = kdp_json_str(o, "protocol", false, proto, sizeof(proto), path, err)) < 0)
		return ret;
	if (strcmp(proto, "TCP") == 0)
		pc->proto = IPPROTO_TCP;
	else if (strcmp(proto, "UDP") == 0)
		pc->proto = IPPROTO_UDP;
	else if (strcmp(proto, "SCTP") == 0)
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "protocol"),
				    "SCTP is not supported yet");
	else
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "protocol"),
				    "expected \"TCP\" or \"UDP\"");
	if ((ret = kdp_json_uint(o, "port", true, 1, 65535, &v, path, err)))
		return ret;
	pc->port = (uint16_t)v;
	pc->target = pc->port;
	tp = json_object_get(o, "targetPort");
	if (tp != NULL && json_is_string(tp))
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "targetPort"),
				    "named target ports are not supported: give the number");
	if ((ret = kdp_json_uint(o, "targetPort", false, 1, 65535, &v, path, err)) < 0)
		return ret;
	if (ret == 0)
		pc->target = (uint16_t)v;
	if ((ret = kdp_json_uint(o, "nodePort", false, 30000, 32767, &v, path, err)) < 0)
		return ret;
	if (ret == 0) {
		if (type == KDP_SVC_CLUSTER_IP)
			return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "nodePort"),
					    "only NodePort and LoadBalancer services have one");
		pc->node_port = (uint16_t)v;
	} else if (type == KDP_SVC_NODE_PORT) {
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "nodePort"),
				    "required for a NodePort service (30000-32767)");
	}
	return 0;
}

/* The index + 1 of node name @p n among @p s's, added when new; 0 for "".
 * -ENOMEM, -ENOSPC. */
static int node_index(struct kdp_service *s, const char *n)
{
	char **a;

	if (n[0] == '\0')
		return 0;
	for (unsigned int i = 0; i < s->n_nodes; i++)
		if (strcmp(s->nodes[i], n) == 0)
			return (int)i + 1;
	if (s->n_nodes == UINT16_MAX)
		return -ENOSPC;
	a = realloc(s->nodes, sizeof(*a) * (s->n_nodes + 1));
	if (a == NULL)
		return -ENOMEM;
	s->nodes = a;
	if ((a[s->n_nodes] = strdup(n)) == NULL)
		return -ENOMEM;
	return (int)++s->n_nodes;
}

static int parse_backend(const json_t *o, const char *path, struct kdp_service *s,
			 struct kdp_svc_be_cfg *b, char *err)
{
	char state[16] = "active", p[160], node[KDP_SVC_NODE_NAME_MAX + 1] = "";
	unsigned int n_ports = s->n_ports;
	uint64_t v;
	int ret;

	memset(b, 0, sizeof(*b));
	if ((ret = kdp_json_object(o, path, err)) ||
	    (ret = kdp_json_only(o, be_keys, path, err)) ||
	    (ret = kdp_json_ip(o, "ip", true, &b->ip, path, err)))
		return ret;
	if (kdp_addr_not_host(b->ip))
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "ip"),
				    "not a unicast address");
	if ((ret = kdp_json_uint(o, "port", false, 1, 65535, &v, path, err)) < 0)
		return ret;
	if (ret == 0) {
		if (n_ports > 1)
			return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "port"),
					    "only for single-port services (else targetPort applies)");
		b->port = (uint16_t)v;
	}
	if ((ret = kdp_json_str(o, "state", false, state, sizeof(state), path, err)) < 0)
		return ret;
	if (strcmp(state, "active") == 0)
		b->state = KDP_BE_ACTIVE;
	else if (strcmp(state, "terminating") == 0)
		b->state = KDP_BE_TERMINATING;
	else if (strcmp(state, "maintenance") == 0)
		b->state = KDP_BE_MAINTENANCE;
	else if (strcmp(state, "quarantined") == 0)
		b->state = KDP_BE_QUARANTINED;
	else
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "state"),
				    "expected active, terminating, maintenance or quarantined");
	if ((ret = kdp_json_str(o, "nodeName", false, node, sizeof(node), path, err)) < 0)
		return ret;
	ret = node_index(s, node);
	if (ret < 0)
		return ret == -ENOMEM ? ret
				      : kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "nodeName"),
						     "too many distinct node names");
	b->node = (uint16_t)ret;
	return 0;
}

/* loadBalancerSourceRanges: canonical IPv4 CIDRs. */
static int parse_ranges(const json_t *o, const char *path, struct kdp_service *s, char *err)
{
	json_t *a = json_object_get(o, "loadBalancerSourceRanges"), *v;
	char p[128];
	size_t i;

	kdp_json_path(p, sizeof(p), path, "loadBalancerSourceRanges");
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > KDP_SVC_MAX_RANGES)
		return kdp_json_err(err, p, "expected an array of at most %d CIDRs",
				    KDP_SVC_MAX_RANGES);
	s->ranges = calloc(json_array_size(a) + 1, sizeof(*s->ranges));
	if (s->ranges == NULL)
		return -ENOMEM;
	json_array_foreach(a, i, v) {
		struct kdp_svc_range_cfg *r = &s->ranges[i];
		char q[160];

		snprintf(q, sizeof(q), "%s[%zu]", p, i);
		if (!json_is_string(v) ||
		    kdp_addr_parse_prefix(json_string_value(v), &r->net, &r->plen, true))
			return kdp_json_err(err, q,
					    "not an IPv4 CIDR (like 203.0.113.0/24, host bits zero)");
		for (size_t j = 0; j < i; j++)
			if (s->ranges[j].net == r->net && s->ranges[j].plen == r->plen)
				return kdp_json_err(err, q, "listed twice");
		s->n_ranges++;
	}
	return 0;
}

/* "Cluster" or "Local" of @p key into @p local. */
static int parse_policy(const json_t *o, const char *key, const char *path, bool *local,
			char *err)
{
	char v[16] = "Cluster", p[128];
	int ret = kdp_json_str(o, key, false, v, sizeof(v), path, err);

	if (ret < 0)
		return ret;
	if (strcmp(v, "Local") == 0)
		*local = true;
	else if (strcmp(v, "Cluster") != 0)
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, key),
				    "expected \"Cluster\" or \"Local\"");
	return 0;
}

int kdp_service_parse(const json_t *o, const char *ns, const char *name,
		      const char *path, const struct kdp_config *cfg,
		      struct kdp_service *s, char *err)
{
	char type[16] = "ClusterIP", ip[20] = "", aff[16] = "None", algo[16] = "random";
	char p[160];
	json_t *a, *v;
	uint64_t t;
	size_t i;
	int ret;

	memset(s, 0, sizeof(*s));
	s->affinity_timeout_s = 10800;
	if ((ret = kdp_json_object(o, path, err)) ||
	    (ret = kdp_json_only(o, svc_keys, path, err)))
		return ret;
	/* namespace/name: from the URL, or required in the object */
	if ((ret = kdp_json_str(o, "namespace", ns == NULL, s->ns, sizeof(s->ns), path, err)) < 0 ||
	    (ret = kdp_json_str(o, "name", name == NULL, s->name, sizeof(s->name), path, err)) < 0)
		return ret;
	if (ns != NULL) {
		if (s->ns[0] && strcmp(s->ns, ns) != 0)
			return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "namespace"),
					    "'%s' does not match '%s' in the URL", s->ns, ns);
		snprintf(s->ns, sizeof(s->ns), "%s", ns);
	}
	if (name != NULL) {
		if (s->name[0] && strcmp(s->name, name) != 0)
			return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "name"),
					    "'%s' does not match '%s' in the URL", s->name, name);
		snprintf(s->name, sizeof(s->name), "%s", name);
	}
	if ((ret = kdp_json_check_name(s->ns, kdp_json_path(p, sizeof(p), path, "namespace"), err)) ||
	    (ret = kdp_json_check_name(s->name, kdp_json_path(p, sizeof(p), path, "name"), err)))
		return ret;
	if ((ret = kdp_json_str(o, "type", false, type, sizeof(type), path, err)) < 0)
		return ret;
	if (strcmp(type, "ClusterIP") == 0)
		s->type = KDP_SVC_CLUSTER_IP;
	else if (strcmp(type, "NodePort") == 0)
		s->type = KDP_SVC_NODE_PORT;
	else if (strcmp(type, "LoadBalancer") == 0)
		s->type = KDP_SVC_LOAD_BALANCER;
	else
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "type"),
				    "expected ClusterIP, NodePort or LoadBalancer");
	if ((ret = kdp_json_str(o, "clusterIP", false, ip, sizeof(ip), path, err)) < 0)
		return ret;
	if (ip[0] != '\0' && strcmp(ip, "None") != 0) {
		kdp_json_path(p, sizeof(p), path, "clusterIP");
		if (kdp_addr_parse_ip(ip, &s->cluster_ip) || kdp_addr_not_host(s->cluster_ip))
			return kdp_json_err(err, p, "not a unicast IPv4 address (or \"None\")");
		if (cfg->svc_plen != 0 && !kdp_addr_in(s->cluster_ip, cfg->svc_cidr, cfg->svc_plen)) {
			char c[KDP_ADDR_STRLEN];
			return kdp_json_err(err, p, "%s is outside serviceCIDR %s", ip,
					    kdp_addr_fmt_prefix(cfg->svc_cidr, cfg->svc_plen, c, sizeof(c)));
		}
	}
	if ((ret = parse_ips(o, "externalIPs", path, s->ext, &s->n_ext, err)) ||
	    (ret = parse_ips(o, "loadBalancerIPs", path, s->lb, &s->n_lb, err)))
		return ret;
	if (s->n_lb > 0 && s->type != KDP_SVC_LOAD_BALANCER)
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "loadBalancerIPs"),
				    "only for type LoadBalancer");
	kdp_json_path(p, sizeof(p), path, "ports");
	a = json_object_get(o, "ports");
	if (a == NULL || !json_is_array(a) || json_array_size(a) == 0 ||
	    json_array_size(a) > KDP_SVC_MAX_PORTS)
		return kdp_json_err(err, p, "expected an array of 1 to %d ports", KDP_SVC_MAX_PORTS);
	json_array_foreach(a, i, v) {
		char q[180];
		snprintf(q, sizeof(q), "%s[%zu]", p, i);
		if ((ret = parse_port(v, q, s->type, &s->ports[i], err)))
			return ret;
		for (size_t j = 0; j < i; j++) {
			if (s->ports[j].port == s->ports[i].port &&
			    s->ports[j].proto == s->ports[i].proto)
				return kdp_json_err(err, q, "same port and protocol as %s[%zu]", p, j);
			if (json_array_size(a) > 1 && strcmp(s->ports[j].name, s->ports[i].name) == 0)
				return kdp_json_err(err, q, "ports of a multi-port service need distinct names");
		}
		s->n_ports++;
	}
	if ((ret = kdp_json_str(o, "sessionAffinity", false, aff, sizeof(aff), path, err)) < 0)
		return ret;
	if (strcmp(aff, "ClientIP") == 0)
		s->affinity = 1;
	else if (strcmp(aff, "None") != 0)
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "sessionAffinity"),
				    "expected \"None\" or \"ClientIP\"");
	if ((ret = kdp_json_uint(o, "sessionAffinityTimeoutSeconds", false, 1, 86400, &t,
				 path, err)) < 0)
		return ret;
	if (ret == 0)
		s->affinity_timeout_s = (uint32_t)t;
	if ((ret = kdp_json_str(o, "algorithm", false, algo, sizeof(algo), path, err)) < 0)
		return ret;
	if (strcmp(algo, "maglev") == 0)
		s->algo = KDP_SVC_MAGLEV;
	else if (strcmp(algo, "random") == 0)
		s->algo = KDP_SVC_RANDOM;
	else
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "algorithm"),
				    "expected \"random\" or \"maglev\"");
	if ((ret = parse_policy(o, "externalTrafficPolicy", path, &s->etp_local, err)) ||
	    (ret = parse_policy(o, "internalTrafficPolicy", path, &s->itp_local, err)))
		return ret;
	kdp_json_path(p, sizeof(p), path, "healthCheckNodePort");
	a = json_object_get(o, "healthCheckNodePort");
	if (a != NULL && (!json_is_integer(a) ||
			  (json_integer_value(a) != 0 && (json_integer_value(a) < 30000 ||
							  json_integer_value(a) > 32767))))
		return kdp_json_err(err, p, "expected 0 (none) or a port from 30000 to 32767");
	s->hc_port = a ? (uint16_t)json_integer_value(a) : 0;
	for (unsigned int j = 0; s->hc_port && j < s->n_ports; j++)
		if (s->ports[j].node_port == s->hc_port && s->ports[j].proto == IPPROTO_TCP)
			return kdp_json_err(err, p, "%u is also the nodePort of ports[%u]",
					    s->hc_port, j);
	if ((ret = parse_ranges(o, path, s, err)))
		return ret;
	kdp_json_path(p, sizeof(p), path, "backends");
	a = json_object_get(o, "backends");
	if (a != NULL && !json_is_null(a)) {
		if (!json_is_array(a) || json_array_size(a) > KDP_SVC_MAX_BACKENDS)
			return kdp_json_err(err, p, "expected an array of at most %d backends",
					    KDP_SVC_MAX_BACKENDS);
		s->be = calloc(json_array_size(a) + 1, sizeof(*s->be));
		if (s->be == NULL)
			return -ENOMEM;
		json_array_foreach(a, i, v) {
			char q[180];
			snprintf(q, sizeof(q), "%s[%zu]", p, i);
			if ((ret = parse_backend(v, q, s, &s->be[i], err)))
				return ret;
			for (size_t j = 0; j < i; j++)
				if (s->be[j].ip == s->be[i].ip && s->be[j].port == s->be[i].port)
					return kdp_json_err(err, q, "listed twice");
			s->n_be++;
		}
	}
	return 0;
}

static json_t *ip_array(const uint32_t *ips, unsigned int n)
{
	char b[KDP_ADDR_STRLEN];
	json_t *a = json_array();

	for (unsigned int i = 0; i < n; i++)
		json_array_append_new(a, json_string(kdp_addr_fmt_ip(ips[i], b, sizeof(b))));
	return a;
}

json_t *kdp_service_json(const struct kdp_service *s)
{
	static const char *const types[] = {"ClusterIP", "NodePort", "ExternalIPs",
					    "LoadBalancer"};
	char b[KDP_ADDR_STRLEN];
	json_t *ports = json_array(), *bes = json_array(), *ranges = json_array();

	for (unsigned int i = 0; i < s->n_ports; i++) {
		const struct kdp_svc_port_cfg *pc = &s->ports[i];
		json_t *o = json_pack("{s:s, s:s, s:i, s:i}", "name", pc->name, "protocol",
				      pc->proto == IPPROTO_TCP ? "TCP" : "UDP", "port",
				      pc->port, "targetPort", pc->target);
		if (pc->node_port)
			json_object_set_new(o, "nodePort", json_integer(pc->node_port));
		json_array_append_new(ports, o);
	}
	for (unsigned int i = 0; i < s->n_be; i++) {
		json_t *o = json_pack("{s:s, s:s}", "ip",
				      kdp_addr_fmt_ip(s->be[i].ip, b, sizeof(b)), "state",
				      kdp_be_state_name(s->be[i].state));
		if (s->be[i].port)
			json_object_set_new(o, "port", json_integer(s->be[i].port));
		json_object_set_new(o, "nodeName", json_string(kdp_service_be_node(s, i)));
		json_array_append_new(bes, o);
	}
	for (unsigned int i = 0; i < s->n_ranges; i++)
		json_array_append_new(ranges, json_string(kdp_addr_fmt_prefix(
						      s->ranges[i].net, s->ranges[i].plen, b,
						      sizeof(b))));
	return json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:i, s:s, s:s, s:s, s:i,"
			 " s:o, s:o}",
			 "namespace", s->ns, "name", s->name, "type", types[s->type],
			 "clusterIP",
			 s->cluster_ip ? kdp_addr_fmt_ip(s->cluster_ip, b, sizeof(b)) : "None",
			 "externalIPs", ip_array(s->ext, s->n_ext), "loadBalancerIPs",
			 ip_array(s->lb, s->n_lb), "ports", ports, "sessionAffinity",
			 s->affinity ? "ClientIP" : "None", "sessionAffinityTimeoutSeconds",
			 (int)s->affinity_timeout_s, "algorithm",
			 s->algo == KDP_SVC_MAGLEV ? "maglev" : "random", "externalTrafficPolicy",
			 s->etp_local ? "Local" : "Cluster", "internalTrafficPolicy",
			 s->itp_local ? "Local" : "Cluster", "healthCheckNodePort", (int)s->hc_port,
			 "loadBalancerSourceRanges", ranges, "backends", bes);
}

struct kdp_service *kdp_service_new(const json_t *o, const char *ns, const char *name,
				    const char *path, const struct kdp_config *cfg,
				    int *ret, char *err)
{
	struct kdp_service *s = malloc(sizeof(*s));

	if (s == NULL) {
		*ret = -ENOMEM;
		return NULL;
	}
	*ret = kdp_service_parse(o, ns, name, path, cfg, s, err);
	if (*ret != 0) {
		kdp_service_delete(s);
		return NULL;
	}
	return s;
}

void kdp_service_free(struct kdp_service *s)
{
	free(s->be);
	free(s->ranges);
	for (unsigned int i = 0; i < s->n_nodes; i++)
		free(s->nodes[i]);
	free(s->nodes);
	s->be = NULL;
	s->n_be = 0;
	s->ranges = NULL;
	s->n_ranges = 0;
	s->nodes = NULL;
	s->n_nodes = 0;
}

void kdp_service_delete(struct kdp_service *s)
{
	if (s == NULL)
		return;
	kdp_service_free(s);
	free(s);
}

int kdp_service_cmp(const char *ns_a, const char *name_a, const char *ns_b,
		    const char *name_b)
{
	int c = strcmp(ns_a, ns_b);

	return c != 0 ? c : strcmp(name_a, name_b);
}

int kdp_service_foreach_frontend(const struct kdp_service *s, uint32_t node_ip,
				 kdp_service_fe_fn fn, void *arg)
{
	for (unsigned int j = 0; j < s->n_ports; j++) {
		const struct kdp_svc_port_cfg *pc = &s->ports[j];
		int ret = 0;

		if (s->cluster_ip)
			ret = fn(s, pc, s->cluster_ip, pc->port, KDP_SVC_CLUSTER_IP, arg);
		for (unsigned int x = 0; ret == 0 && x < s->n_ext; x++)
			ret = fn(s, pc, s->ext[x], pc->port, KDP_SVC_EXTERNAL_IP, arg);
		for (unsigned int x = 0; ret == 0 && x < s->n_lb; x++)
			ret = fn(s, pc, s->lb[x], pc->port, KDP_SVC_LOAD_BALANCER, arg);
		if (ret == 0 && pc->node_port)
			ret = fn(s, pc, node_ip, pc->node_port, KDP_SVC_NODE_PORT, arg);
		if (ret != 0)
			return ret;
	}
	return 0;
}

void kdp_service_fe_name(uint32_t addr, uint16_t port, uint8_t proto, char *buf,
			 size_t len)
{
	char b[KDP_ADDR_STRLEN];

	snprintf(buf, len, "%s:%u/%s", kdp_addr_fmt_ip(addr, b, sizeof(b)), port,
		 proto == IPPROTO_TCP ? "TCP" : "UDP");
}

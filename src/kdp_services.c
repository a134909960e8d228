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
	"loadBalancerSourceRanges", "backends", "clusterIPs", "ipFamilies", "ipFamilyPolicy",
	NULL};
static const char *const port_keys[] = {"name", "protocol", "port", "targetPort",
					"nodePort", NULL};
static const char *const be_keys[] = {"ip", "port", "state", "nodeName", NULL};

/* Addresses of either family: IPv4 ones into @p out, IPv6 ones into
 * @p out6. */
static int parse_ips(const json_t *o, const char *key, const char *path,
		     uint32_t *out, unsigned int *n, struct kdp_in6 *out6, unsigned int *n6,
		     char *err)
{
	json_t *a = json_object_get(o, key), *v;
	char p[128];
	size_t i;

	*n = *n6 = 0;
	kdp_json_path(p, sizeof(p), path, key);
	if (a == NULL || json_is_null(a))
		return 0;
	if (!json_is_array(a) || json_array_size(a) > KDP_SVC_MAX_IPS)
		return kdp_json_err(err, p, "expected an array of at most %d addresses",
				    KDP_SVC_MAX_IPS);
	json_array_foreach(a, i, v) {
		const char *t = json_is_string(v) ? json_string_value(v) : "";
		char q[160];

		snprintf(q, sizeof(q), "%s[%zu]", p, i);
		if (kdp_addr_family(t) == 6) {
			if (kdp_addr6_parse(t, &out6[*n6]) || kdp_addr6_not_host(&out6[*n6]) ||
			    kdp_addr6_link_local(&out6[*n6]))
				return kdp_json_err(err, q, "not a global unicast IPv6 address");
			(*n6)++;
			continue;
		}
		if (kdp_addr_parse_ip(t, &out[*n]) || kdp_addr_not_host(out[*n]))
			return kdp_json_err(err, q, "not a unicast IPv4 or IPv6 address");
		(*n)++;
	}
	return 0;
}

/* One clusterIP text into @p s (either family); @p path names it. */
static int set_cluster_ip(const char *ip, const char *path, const struct kdp_config *cfg,
			  struct kdp_service *s, char *err)
{
	char c[KDP_ADDR6_STRLEN];

	if (kdp_addr_family(ip) == 6) {
		if (s->has_cluster_ip6)
			return kdp_json_err(err, path, "a second IPv6 address (one per family)");
		if (kdp_addr6_parse(ip, &s->cluster_ip6) || kdp_addr6_not_host(&s->cluster_ip6) ||
		    kdp_addr6_link_local(&s->cluster_ip6))
			return kdp_json_err(err, path, "not a global unicast IPv6 address");
		if (cfg->svc_plen6 != 0 &&
		    !kdp_addr6_in(&s->cluster_ip6, &cfg->svc_cidr6, cfg->svc_plen6))
			return kdp_json_err(err, path, "%s is outside serviceCIDRv6 %s", ip,
					    kdp_addr6_fmt_prefix(&cfg->svc_cidr6, cfg->svc_plen6, c,
								 sizeof(c)));
		if (!cfg->has_ip6)
			return kdp_json_err(err, path, "%s: this node has no nodeIPv6 (IPv6 is off)", ip);
		s->has_cluster_ip6 = true;
		return 0;
	}
	if (s->cluster_ip != 0)
		return kdp_json_err(err, path, "a second IPv4 address (one per family)");
	if (kdp_addr_parse_ip(ip, &s->cluster_ip) || kdp_addr_not_host(s->cluster_ip))
		return kdp_json_err(err, path, "not a unicast IPv4 or IPv6 address (or \"None\")");
	if (cfg->svc_plen != 0 && !kdp_addr_in(s->cluster_ip, cfg->svc_cidr, cfg->svc_plen))
		return kdp_json_err(err, path, "%s is outside serviceCIDR %s", ip,
				    kdp_addr_fmt_prefix(cfg->svc_cidr, cfg->svc_plen, c, sizeof(c)));
	return 0;
}

/*
 * clusterIP, clusterIPs, ipFamilies and ipFamilyPolicy, as Kubernetes
 * validates them: clusterIPs has one address per family, the first equal to
 * clusterIP; ipFamilies names the same families in the same order;
 * SingleStack has one family, RequireDualStack two. The families of the
 * frontends come from ipFamilies, else from the addresses (IPv4 for a
 * headless service that says nothing).
 */
static int parse_cluster_ips(const json_t *o, const char *path, const struct kdp_config *cfg,
			     struct kdp_service *s, char *err)
{
	char ip[KDP_ADDR6_STRLEN] = "", p[160], q[180], pol[24] = "";
	json_t *ips = json_object_get(o, "clusterIPs"), *fams = json_object_get(o, "ipFamilies"), *v;
	uint8_t order[2], n_order = 0, fam[2], n_fam = 0;
	bool headless;
	size_t i;
	int ret;

	if ((ret = kdp_json_str(o, "clusterIP", false, ip, sizeof(ip), path, err)) < 0 ||
	    (ret = kdp_json_str(o, "ipFamilyPolicy", false, pol, sizeof(pol), path, err)) < 0)
		return ret;
	if (ips != NULL && json_is_null(ips))
		ips = NULL;
	if (fams != NULL && json_is_null(fams))
		fams = NULL;
	s->families_given = ips != NULL || fams != NULL || pol[0] != '\0';
	headless = strcmp(ip, "None") == 0;
	if (ips != NULL) {
		kdp_json_path(p, sizeof(p), path, "clusterIPs");
		if (!json_is_array(ips) || json_array_size(ips) == 0 || json_array_size(ips) > 2)
			return kdp_json_err(err, p, "expected 1 or 2 addresses, one per family");
		json_array_foreach(ips, i, v) {
			const char *t = json_is_string(v) ? json_string_value(v) : "";

			snprintf(q, sizeof(q), "%s[%zu]", p, i);
			if (strcmp(t, "None") == 0) {
				if (json_array_size(ips) != 1 || (ip[0] != '\0' && !headless))
					return kdp_json_err(err, q,
							    "\"None\" only alone, with clusterIP \"None\"");
				headless = true;
				continue;
			}
			if (headless)
				return kdp_json_err(err, q,
						    "an address for a headless service (clusterIP \"None\")");
			if (i == 0 && ip[0] != '\0') {
				struct kdp_in6 a6, b6;
				uint32_t a4, b4;
				bool same = kdp_addr_family(t) == 6 ?
						    kdp_addr6_parse(t, &a6) == 0 &&
							    kdp_addr6_parse(ip, &b6) == 0 &&
							    kdp_addr6_eq(&a6, &b6) :
						    kdp_addr_parse_ip(t, &a4) == 0 &&
							    kdp_addr_parse_ip(ip, &b4) == 0 && a4 == b4;
				if (!same)
					return kdp_json_err(err, q, "'%s' is not clusterIP %s", t, ip);
			}
			if ((ret = set_cluster_ip(t, q, cfg, s, err)))
				return ret;
			order[n_order++] = kdp_addr_family(t) == 6 ? KDP_SVC_FAM_V6 : KDP_SVC_FAM_V4;
		}
	} else if (ip[0] != '\0' && !headless) {
		kdp_json_path(p, sizeof(p), path, "clusterIP");
		if ((ret = set_cluster_ip(ip, p, cfg, s, err)))
			return ret;
		order[n_order++] = kdp_addr_family(ip) == 6 ? KDP_SVC_FAM_V6 : KDP_SVC_FAM_V4;
	}
	if (fams != NULL) {
		kdp_json_path(p, sizeof(p), path, "ipFamilies");
		if (!json_is_array(fams) || json_array_size(fams) == 0 || json_array_size(fams) > 2)
			return kdp_json_err(err, p, "expected [\"IPv4\"], [\"IPv6\"] or both");
		json_array_foreach(fams, i, v) {
			const char *t = json_is_string(v) ? json_string_value(v) : "";

			snprintf(q, sizeof(q), "%s[%zu]", p, i);
			if (strcmp(t, "IPv4") == 0)
				fam[n_fam] = KDP_SVC_FAM_V4;
			else if (strcmp(t, "IPv6") == 0)
				fam[n_fam] = KDP_SVC_FAM_V6;
			else
				return kdp_json_err(err, q, "expected \"IPv4\" or \"IPv6\"");
			if (n_fam == 1 && fam[0] == fam[1])
				return kdp_json_err(err, q, "%s listed twice", t);
			if (n_fam < n_order && fam[n_fam] != order[n_fam])
				return kdp_json_err(err, q, "%s does not match the family of clusterIPs[%zu]",
						    t, i);
			n_fam++;
		}
		if (n_order != 0 && n_fam != n_order)
			return kdp_json_err(err, p, "names %u families for %u cluster IPs", n_fam,
					    n_order);
	} else {
		memcpy(fam, order, n_order);
		n_fam = n_order;
		if (n_fam == 0)
			fam[n_fam++] = KDP_SVC_FAM_V4;
	}
	s->families = fam[0] | (n_fam > 1 ? fam[1] : 0);
	s->primary6 = fam[0] == KDP_SVC_FAM_V6;
	kdp_json_path(p, sizeof(p), path, "ipFamilyPolicy");
	if (pol[0] == '\0') {
		s->family_policy = KDP_SVC_FP_UNSET;
	} else if (strcmp(pol, "SingleStack") == 0) {
		s->family_policy = KDP_SVC_FP_SINGLE;
		if (n_fam != 1)
			return kdp_json_err(err, p, "SingleStack with two families");
	} else if (strcmp(pol, "PreferDualStack") == 0) {
		s->family_policy = KDP_SVC_FP_PREFER_DUAL;
	} else if (strcmp(pol, "RequireDualStack") == 0) {
		s->family_policy = KDP_SVC_FP_REQUIRE_DUAL;
		if (n_fam != 2)
			return kdp_json_err(err, p, "RequireDualStack with one family");
	} else {
		return kdp_json_err(err, p,
				    "expected SingleStack, PreferDualStack or RequireDualStack");
	}
	if ((s->families & KDP_SVC_FAM_V6) && !cfg->has_ip6)
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "ipFamilies"),
				    "IPv6: this node has no nodeIPv6 (IPv6 is off)");
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
	    (ret = kdp_json_only(o, be_keys, path, err)))
		return ret;
	{
		const char *t = json_string_value(json_object_get(o, "ip"));

		if (t == NULL)
			return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "ip"),
					    "required field missing");
		if (kdp_addr_family(t) == 6) {
			if (kdp_addr6_parse(t, &b->ip6) || kdp_addr6_not_host(&b->ip6) ||
			    kdp_addr6_link_local(&b->ip6))
				return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "ip"),
						    "not a global unicast IPv6 address");
			b->is6 = 1;
		} else if (kdp_addr_parse_ip(t, &b->ip) || kdp_addr_not_host(b->ip)) {
			return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "ip"),
					    "not a unicast IPv4 or IPv6 address");
		}
	}
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

/* loadBalancerSourceRanges: canonical IPv4 or IPv6 CIDRs (each applies to
 * the frontends of its family). */
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
		r->is6 = json_is_string(v) && kdp_addr_family(json_string_value(v)) == 6;
		if (!json_is_string(v) ||
		    (r->is6 ? kdp_addr6_parse_prefix(json_string_value(v), &r->net6, &r->plen, true)
			    : kdp_addr_parse_prefix(json_string_value(v), &r->net, &r->plen, true)))
			return kdp_json_err(err, q, r->is6 ? "not an IPv6 CIDR (like 2001:db8::/64, "
							     "host bits zero)"
							   : "not an IPv4 CIDR (like 203.0.113.0/24, "
							     "host bits zero)");
		for (size_t j = 0; j < i; j++)
			if (s->ranges[j].is6 == r->is6 && s->ranges[j].plen == r->plen &&
			    (r->is6 ? kdp_addr6_eq(&s->ranges[j].net6, &r->net6)
				    : s->ranges[j].net == r->net))
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
	char type[16] = "ClusterIP", aff[16] = "None", algo[16] = "random";
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
	if ((ret = parse_cluster_ips(o, path, cfg, s, err)))
		return ret;
	if ((ret = parse_ips(o, "externalIPs", path, s->ext, &s->n_ext, s->ext6, &s->n_ext6,
			     err)) ||
	    (ret = parse_ips(o, "loadBalancerIPs", path, s->lb, &s->n_lb, s->lb6, &s->n_lb6, err)))
		return ret;
	if ((s->n_ext6 > 0 || s->n_lb6 > 0) && !cfg->has_ip6)
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path,
						       s->n_ext6 ? "externalIPs" : "loadBalancerIPs"),
				    "IPv6: this node has no nodeIPv6 (IPv6 is off)");
	if (s->n_lb + s->n_lb6 > 0 && s->type != KDP_SVC_LOAD_BALANCER)
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
				if (s->be[j].is6 == s->be[i].is6 && s->be[j].port == s->be[i].port &&
				    (s->be[i].is6 ? kdp_addr6_eq(&s->be[j].ip6, &s->be[i].ip6)
						  : s->be[j].ip == s->be[i].ip))
					return kdp_json_err(err, q, "listed twice");
			s->n_be++;
		}
	}
	return 0;
}

static json_t *ip_array(const uint32_t *ips, unsigned int n, const struct kdp_in6 *ips6,
			unsigned int n6)
{
	char b[KDP_ADDR6_STRLEN];
	json_t *a = json_array();

	for (unsigned int i = 0; i < n; i++)
		json_array_append_new(a, json_string(kdp_addr_fmt_ip(ips[i], b, sizeof(b))));
	for (unsigned int i = 0; i < n6; i++)
		json_array_append_new(a, json_string(kdp_addr6_fmt(&ips6[i], b, sizeof(b))));
	return a;
}

/* The dual-stack fields, when the service was given them (an IPv4-only
 * service reads as it always did). */
static void families_json(const struct kdp_service *s, json_t *o)
{
	static const char *const pols[] = {NULL, "SingleStack", "PreferDualStack",
					   "RequireDualStack"};
	char a[KDP_ADDR_STRLEN], b[KDP_ADDR6_STRLEN];
	const char *v4 = s->cluster_ip ? kdp_addr_fmt_ip(s->cluster_ip, a, sizeof(a)) : NULL;
	const char *v6 = s->has_cluster_ip6 ? kdp_addr6_fmt(&s->cluster_ip6, b, sizeof(b)) : NULL;
	json_t *ips = json_array(), *fams = json_array();

	json_object_set_new(o, "clusterIP", json_string(s->primary6 ? (v6 ? v6 : "None")
								    : (v4 ? v4 : "None")));
	if (!s->families_given && !s->has_cluster_ip6 && !(s->families & KDP_SVC_FAM_V6)) {
		json_decref(ips);
		json_decref(fams);
		return;
	}
	if (s->primary6) {
		if (v6)
			json_array_append_new(ips, json_string(v6));
		if (v4)
			json_array_append_new(ips, json_string(v4));
	} else {
		if (v4)
			json_array_append_new(ips, json_string(v4));
		if (v6)
			json_array_append_new(ips, json_string(v6));
	}
	if (json_array_size(ips) == 0)
		json_array_append_new(ips, json_string("None"));
	if (s->primary6 || !(s->families & KDP_SVC_FAM_V4))
		json_array_append_new(fams, json_string("IPv6"));
	if (s->families & KDP_SVC_FAM_V4)
		json_array_append_new(fams, json_string("IPv4"));
	if (!s->primary6 && (s->families & KDP_SVC_FAM_V6))
		json_array_append_new(fams, json_string("IPv6"));
	json_object_set_new(o, "clusterIPs", ips);
	json_object_set_new(o, "ipFamilies", fams);
	if (s->family_policy != KDP_SVC_FP_UNSET)
		json_object_set_new(o, "ipFamilyPolicy", json_string(pols[s->family_policy]));
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
		char b6[KDP_ADDR6_STRLEN];
		json_t *o = json_pack("{s:s, s:s}", "ip",
				      s->be[i].is6 ? kdp_addr6_fmt(&s->be[i].ip6, b6, sizeof(b6))
						   : kdp_addr_fmt_ip(s->be[i].ip, b, sizeof(b)),
				      "state", kdp_be_state_name(s->be[i].state));
		if (s->be[i].port)
			json_object_set_new(o, "port", json_integer(s->be[i].port));
		json_object_set_new(o, "nodeName", json_string(kdp_service_be_node(s, i)));
		json_array_append_new(bes, o);
	}
	for (unsigned int i = 0; i < s->n_ranges; i++) {
		const struct kdp_svc_range_cfg *r = &s->ranges[i];
		char b6[KDP_ADDR6_STRLEN];

		json_array_append_new(ranges, json_string(
			r->is6 ? kdp_addr6_fmt_prefix(&r->net6, r->plen, b6, sizeof(b6))
			       : kdp_addr_fmt_prefix(r->net, r->plen, b, sizeof(b))));
	}
	{
		json_t *o = json_pack("{s:s, s:s, s:s}", "namespace", s->ns, "name", s->name,
				      "type", types[s->type]);

		families_json(s, o);
		json_object_set_new(o, "externalIPs", ip_array(s->ext, s->n_ext, s->ext6, s->n_ext6));
		json_object_set_new(o, "loadBalancerIPs", ip_array(s->lb, s->n_lb, s->lb6, s->n_lb6));
		json_object_set_new(o, "ports", ports);
		json_object_set_new(o, "sessionAffinity",
				    json_string(s->affinity ? "ClientIP" : "None"));
		json_object_set_new(o, "sessionAffinityTimeoutSeconds",
				    json_integer((int)s->affinity_timeout_s));
		json_object_set_new(o, "algorithm",
				    json_string(s->algo == KDP_SVC_MAGLEV ? "maglev" : "random"));
		json_object_set_new(o, "externalTrafficPolicy",
				    json_string(s->etp_local ? "Local" : "Cluster"));
		json_object_set_new(o, "internalTrafficPolicy",
				    json_string(s->itp_local ? "Local" : "Cluster"));
		json_object_set_new(o, "healthCheckNodePort", json_integer((int)s->hc_port));
		json_object_set_new(o, "loadBalancerSourceRanges", ranges);
		json_object_set_new(o, "backends", bes);
		return o;
	}
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
		if (ret == 0 && pc->node_port && (s->families & KDP_SVC_FAM_V4))
			ret = fn(s, pc, node_ip, pc->node_port, KDP_SVC_NODE_PORT, arg);
		if (ret != 0)
			return ret;
	}
	return 0;
}

int kdp_service_foreach_frontend6(const struct kdp_service *s, const struct kdp_in6 *node_ip6,
				  kdp_service_fe6_fn fn, void *arg)
{
	for (unsigned int j = 0; j < s->n_ports; j++) {
		const struct kdp_svc_port_cfg *pc = &s->ports[j];
		int ret = 0;

		if (s->has_cluster_ip6)
			ret = fn(s, pc, &s->cluster_ip6, pc->port, KDP_SVC_CLUSTER_IP, arg);
		for (unsigned int x = 0; ret == 0 && x < s->n_ext6; x++)
			ret = fn(s, pc, &s->ext6[x], pc->port, KDP_SVC_EXTERNAL_IP, arg);
		for (unsigned int x = 0; ret == 0 && x < s->n_lb6; x++)
			ret = fn(s, pc, &s->lb6[x], pc->port, KDP_SVC_LOAD_BALANCER, arg);
		if (ret == 0 && pc->node_port && node_ip6 != NULL && (s->families & KDP_SVC_FAM_V6))
			ret = fn(s, pc, node_ip6, pc->node_port, KDP_SVC_NODE_PORT, arg);
		if (ret != 0)
			return ret;
	}
	return 0;
}

void kdp_service_fe_name6(const struct kdp_in6 *addr, uint16_t port, uint8_t proto, char *buf,
			  size_t len)
{
	char b[KDP_ADDR6_STRLEN];

	snprintf(buf, len, "[%s]:%u/%s", kdp_addr6_fmt(addr, b, sizeof(b)), port,
		 proto == IPPROTO_TCP ? "TCP" : "UDP");
}

void kdp_service_fe_name(uint32_t addr, uint16_t port, uint8_t proto, char *buf,
			 size_t len)
{
	char b[KDP_ADDR_STRLEN];

	snprintf(buf, len, "%s:%u/%s", kdp_addr_fmt_ip(addr, b, sizeof(b)), port,
		 proto == IPPROTO_TCP ? "TCP" : "UDP");
}

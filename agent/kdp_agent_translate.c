/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-agent: Kubernetes objects -> the bodies of kdp's API, in the form
 * kdp's GET shows them (every field explicit, lists in a fixed order), so
 * that what kdp holds can be compared with what the cluster wants. Pure
 * functions: no I/O, no global state.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdp_agent.h"

#define MAX_IPS 8	     /* kdp: externalIPs, loadBalancerIPs */
#define MAX_PORTS 16	     /* kdp: ports of a service */
#define MAX_BACKENDS 4096    /* kdp: backends of a service */
#define MAX_RANGES 1024     /* kdp: loadBalancerSourceRanges of a service */
#define MAX_POD_CIDRS 8	     /* kdp: podCIDRs of a node */
#define MAX_LRP_PORTS 8	     /* kdp: toPorts of a policy */
#define DESCRIPTION_LEN 127  /* kdp: description of a policy */

static void say(char *buf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(char *buf, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, KDP_AGENT_ERR_LEN, fmt, ap);
	va_end(ap);
}

/* Appends "; text" (or "text") to a warning buffer. */
static void warn_add(char *warn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn_add(char *warn, const char *fmt, ...)
{
	size_t n = strlen(warn);
	va_list ap;

	if (n + 3 >= KDP_AGENT_ERR_LEN)
		return;
	if (n > 0) {
		strcpy(warn + n, "; ");
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(warn + n, KDP_AGENT_ERR_LEN - n, fmt, ap);
	va_end(ap);
}

bool kdp_agent_name_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.'))
			return false;
	}
	return s[0] != '-' && s[0] != '.' && s[n - 1] != '-' && s[n - 1] != '.';
}

static bool ipv4(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
		return false;
	if (out != NULL)
		*out = ntohl(a.s_addr);
	return true;
}

/* A canonical IPv4 CIDR (host bits cleared, spaces trimmed) into @p out. */
static bool cidr4(const char *s, char *out, size_t len)
{
	char buf[64], *slash, *end;
	const char *b = s;
	uint32_t a;
	long plen;
	size_t n;

	if (s == NULL)
		return false;
	while (*b == ' ')
		b++;
	n = strlen(b);
	while (n > 0 && b[n - 1] == ' ')
		n--;
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, b, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (slash == NULL)
		return false;
	*slash = '\0';
	plen = strtol(slash + 1, &end, 10);
	if (*end != '\0' || slash[1] == '\0' || plen < 0 || plen > 32 || !ipv4(buf, &a))
		return false;
	a &= plen == 0 ? 0 : 0xffffffffu << (32 - plen);
	snprintf(out, len, "%u.%u.%u.%u/%ld", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
		 plen);
	return true;
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	return json_string_value(v);
}

/* ---- nodes ---- */

json_t *kdp_agent_node_body(const json_t *node, char *why)
{
	const char *name = str_at(node, "metadata", "name"), *ip = NULL, *v;
	const json_t *spec = json_object_get(node, "spec"), *a, *e;
	json_t *cidrs;
	size_t i;

	if (!kdp_agent_name_ok(name)) {
		say(why, "name '%s' is not one kdp takes (1-63 of a-z 0-9 - .)", name ? name : "");
		return NULL;
	}
	a = json_object_get(json_object_get(node, "status"), "addresses");
	for (int pass = 0; pass < 2 && ip == NULL; pass++)
		json_array_foreach(a, i, e) {
			const char *t = json_string_value(json_object_get(e, "type"));
			v = json_string_value(json_object_get(e, "address"));
			if (t != NULL && strcmp(t, pass ? "ExternalIP" : "InternalIP") == 0 &&
			    ipv4(v, NULL)) {
				ip = v;
				break;
			}
		}
	if (ip == NULL) {
		say(why, "no IPv4 InternalIP (or ExternalIP) in status.addresses");
		return NULL;
	}
	cidrs = json_array();
	a = json_object_get(spec, "podCIDRs");
	if (json_array_size(a) == 0 && json_is_string(json_object_get(spec, "podCIDR"))) {
		v = json_string_value(json_object_get(spec, "podCIDR"));
		char c[32];
		if (cidr4(v, c, sizeof(c)))
			json_array_append_new(cidrs, json_string(c));
	}
	json_array_foreach(a, i, e) {
		char c[32];
		if (cidr4(json_string_value(e), c, sizeof(c)) &&
		    json_array_size(cidrs) < MAX_POD_CIDRS)
			json_array_append_new(cidrs, json_string(c));
	}
	return json_pack("{s:s, s:s, s:o}", "name", name, "ip", ip, "podCIDRs", cidrs);
}

/* ---- services ---- */

struct be {
	uint32_t ip;
	uint16_t port;
	int rank; /* 3 active, 2 terminating, 1 maintenance */
	const char *node;
};

static int be_cmp(const void *a, const void *b)
{
	const struct be *x = a, *y = b;

	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	return (int)x->port - (int)y->port;
}

static const char *const rank_names[] = {"", "maintenance", "terminating", "active"};

/* An endpoint's conditions as a kdp backend state. ready (unknown: ready)
 * -> active; serving and terminating -> terminating (used when no active
 * backend is left, as kube-proxy does); anything else (not ready, or
 * terminating without serving) -> maintenance: no new flows, the flows it
 * has keep going, as they do through kube-proxy's conntrack. */
static int endpoint_rank(const json_t *ep)
{
	const json_t *c = json_object_get(ep, "conditions");
	const json_t *r = json_object_get(c, "ready"), *s = json_object_get(c, "serving"),
		     *t = json_object_get(c, "terminating");
	bool ready = r == NULL || json_is_null(r) || json_is_true(r);
	bool serving = s == NULL || json_is_null(s) ? ready : json_is_true(s);
	bool terminating = json_is_true(t);

	if (ready && !terminating)
		return 3;
	if (serving && terminating)
		return 2;
	return 1;
}

/* The slice's port number for the service port (@p name, @p proto), or 0. */
static int slice_port(const json_t *slice, const char *name, const char *proto)
{
	const json_t *ports = json_object_get(slice, "ports"), *p;
	size_t i;

	json_array_foreach(ports, i, p) {
		const char *n = json_string_value(json_object_get(p, "name"));
		const char *pr = json_string_value(json_object_get(p, "protocol"));
		json_int_t num = json_integer_value(json_object_get(p, "port"));

		if (strcmp(n ? n : "", name) == 0 && strcmp(pr ? pr : "TCP", proto) == 0 &&
		    num >= 1 && num <= 65535)
			return (int)num;
	}
	return 0;
}

struct svc_port {
	char name[64];
	char proto[8];
	int port;
	int node_port;
	int target;	   /* from the spec, 0 when named */
	int counts_n;
	int count_port[8]; /* port numbers seen in slices, and how many endpoints */
	int count[8];
};

static void count_port(struct svc_port *p, int num, int n)
{
	for (int i = 0; i < p->counts_n; i++)
		if (p->count_port[i] == num) {
			p->count[i] += n;
			return;
		}
	if (p->counts_n < 8) {
		p->count_port[p->counts_n] = num;
		p->count[p->counts_n++] = n;
	}
}

static int most_common(const struct svc_port *p)
{
	int best = 0;

	for (int i = 1; i < p->counts_n; i++)
		if (p->count[i] > p->count[best])
			best = i;
	return p->counts_n ? p->count_port[best] : 0;
}

static void add_be(struct be **bes, size_t *n, size_t *cap, struct be b)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct be *a = realloc(*bes, c * sizeof(*a));
		if (a == NULL)
			kdp_agent_oom();
		*bes = a;
		*cap = c;
	}
	(*bes)[(*n)++] = b;
}

/* Sorts and keeps one of each address and port (the best state: an
 * endpoint may be in two slices while it moves). Returns the count. */
static size_t sort_unique(struct be *bes, size_t n)
{
	size_t out = 0;

	if (n == 0)
		return 0; /* bes may be NULL: qsort must not see it */
	qsort(bes, n, sizeof(*bes), be_cmp);
	for (size_t i = 0; i < n; i++) {
		if (out > 0 && bes[out - 1].ip == bes[i].ip && bes[out - 1].port == bes[i].port) {
			if (bes[i].rank > bes[out - 1].rank)
				bes[out - 1] = bes[i];
			continue;
		}
		bes[out++] = bes[i];
	}
	return out;
}

static json_t *ips_of(const json_t *a, size_t max, const char *what, char *warn)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach(a, i, v) {
		const char *s = json_string_value(v);
		if (!ipv4(s, NULL))
			continue; /* IPv6: kdp is IPv4 only */
		if (json_array_size(out) == max) {
			warn_add(warn, "%s: only the first %zu IPv4 addresses kept", what, max);
			break;
		}
		json_array_append_new(out, json_string(s));
	}
	return out;
}

json_t *kdp_agent_service_body(const json_t *svc, const json_t *slices,
			       const struct kdp_agent_svc_opts *o, char *why, char *warn)
{
	const json_t *spec = json_object_get(svc, "spec"), *a, *v, *sl;
	const char *ns = str_at(svc, "metadata", "namespace"), *name = str_at(svc, "metadata", "name");
	const char *type = json_string_value(json_object_get(spec, "type")), *cip = NULL, *s;
	struct svc_port ports[MAX_PORTS];
	unsigned int n_ports = 0;
	struct be *bes = NULL;
	size_t n_be = 0, cap_be = 0, i, j;
	json_t *body, *jports, *jbes, *ext, *lb;
	bool node_ports;
	json_int_t timeout = 10800;
	const char *etp, *itp;

	warn[0] = '\0';
	if (!kdp_agent_name_ok(ns) || !kdp_agent_name_ok(name)) {
		say(why, "name not one kdp takes (1-63 of a-z 0-9 - .)");
		return NULL;
	}
	if (type == NULL)
		type = "ClusterIP";
	if (strcmp(type, "ExternalName") == 0) {
		say(why, "type ExternalName (a DNS name, nothing to load-balance)");
		return NULL;
	}
	if (strcmp(type, "ClusterIP") != 0 && strcmp(type, "NodePort") != 0 &&
	    strcmp(type, "LoadBalancer") != 0) {
		say(why, "unknown type %s", type);
		return NULL;
	}
	s = json_string_value(json_object_get(spec, "clusterIP"));
	if (s != NULL && strcmp(s, "None") == 0) {
		say(why, "headless (clusterIP None)");
		return NULL;
	}
	a = json_object_get(spec, "clusterIPs");
	json_array_foreach(a, i, v)
		if (cip == NULL && ipv4(json_string_value(v), NULL))
			cip = json_string_value(v);
	if (cip == NULL && ipv4(s, NULL))
		cip = s;
	if (cip == NULL) {
		say(why, "no IPv4 cluster IP (kdp is IPv4 only)");
		return NULL;
	}
	node_ports = strcmp(type, "ClusterIP") != 0;
	a = json_object_get(spec, "ports");
	json_array_foreach(a, i, v) {
		struct svc_port *p = &ports[n_ports];
		const char *pn = json_string_value(json_object_get(v, "name"));
		const char *pr = json_string_value(json_object_get(v, "protocol"));
		json_int_t port = json_integer_value(json_object_get(v, "port"));
		json_int_t np = json_integer_value(json_object_get(v, "nodePort"));
		const json_t *tp = json_object_get(v, "targetPort");

		if (pr == NULL)
			pr = "TCP";
		if (strcmp(pr, "TCP") != 0 && strcmp(pr, "UDP") != 0) {
			warn_add(warn, "port %s/%d: protocol %s not supported by kdp, left out",
				 pn ? pn : "", (int)port, pr);
			continue;
		}
		if (port < 1 || port > 65535)
			continue;
		if (n_ports == MAX_PORTS) {
			warn_add(warn, "more than %d ports: the rest left out", MAX_PORTS);
			break;
		}
		memset(p, 0, sizeof(*p));
		snprintf(p->name, sizeof(p->name), "%s", pn ? pn : "");
		snprintf(p->proto, sizeof(p->proto), "%s", pr);
		p->port = (int)port;
		if (node_ports && np >= 30000 && np <= 32767)
			p->node_port = (int)np;
		else if (node_ports && np != 0)
			warn_add(warn, "port %s: nodePort %d outside 30000-32767, left out", p->name,
				 (int)np);
		if (strcmp(type, "NodePort") == 0 && p->node_port == 0) {
			warn_add(warn, "port %s has no nodePort yet, left out", p->name);
			continue;
		}
		if (json_is_integer(tp))
			p->target = (int)json_integer_value(tp);
		else if (tp == NULL)
			p->target = p->port;
		n_ports++;
	}
	if (n_ports == 0) {
		say(why, "no TCP or UDP port");
		return NULL;
	}
	/* Backends from every IPv4 slice of the service. */
	json_array_foreach(slices, i, sl) {
		const char *at = json_string_value(json_object_get(sl, "addressType"));
		int num[MAX_PORTS], any = 0;
		const json_t *eps = json_object_get(sl, "endpoints"), *ep;
		size_t k;

		if (at == NULL || strcmp(at, "IPv4") != 0)
			continue;
		for (unsigned int p = 0; p < n_ports; p++) {
			num[p] = slice_port(sl, ports[p].name, ports[p].proto);
			if (num[p] != 0) {
				count_port(&ports[p], num[p], (int)json_array_size(eps));
				any = 1;
			}
		}
		if (!any)
			continue;
		json_array_foreach(eps, k, ep) {
			const json_t *addrs = json_object_get(ep, "addresses");
			struct be b = {0};

			if (!ipv4(json_string_value(json_array_get(addrs, 0)), &b.ip))
				continue;
			b.rank = endpoint_rank(ep);
			b.node = json_string_value(json_object_get(ep, "nodeName"));
			b.port = n_ports == 1 ? (uint16_t)num[0] : 0;
			add_be(&bes, &n_be, &cap_be, b);
		}
	}
	for (unsigned int p = 0; p < n_ports; p++) {
		int common = most_common(&ports[p]);

		if (common != 0) {
			if (n_ports > 1 && ports[p].counts_n > 1)
				warn_add(warn,
					 "port %s: endpoints use different target ports; kdp takes one "
					 "per port of a multi-port service: %d",
					 ports[p].name, common);
			ports[p].target = common;
		} else if (ports[p].target == 0) {
			ports[p].target = ports[p].port; /* named, and no endpoint to tell */
		}
	}
	n_be = sort_unique(bes, n_be);
	if (n_be > MAX_BACKENDS) {
		warn_add(warn, "%zu backends, kdp takes %d: the rest left out", n_be, MAX_BACKENDS);
		n_be = MAX_BACKENDS;
	}

	jports = json_array();
	for (unsigned int p = 0; p < n_ports; p++) {
		json_t *jp = json_pack("{s:s, s:s, s:i, s:i}", "name", ports[p].name, "protocol",
				       ports[p].proto, "port", ports[p].port, "targetPort",
				       ports[p].target);
		if (ports[p].node_port)
			json_object_set_new(jp, "nodePort", json_integer(ports[p].node_port));
		json_array_append_new(jports, jp);
	}
	jbes = json_array();
	for (j = 0; j < n_be; j++) {
		char ip[16];
		struct in_addr ina = {htonl(bes[j].ip)};
		json_t *jb;

		inet_ntop(AF_INET, &ina, ip, sizeof(ip));
		jb = json_pack("{s:s, s:s}", "ip", ip, "state", rank_names[bes[j].rank]);
		if (n_ports == 1 && bes[j].port != ports[0].target)
			json_object_set_new(jb, "port", json_integer(bes[j].port));
		if (o->fields == KDP_AGENT_FIELDS_EXTENDED)
			json_object_set_new(jb, "nodeName", json_string(bes[j].node ? bes[j].node : ""));
		json_array_append_new(jbes, jb);
	}
	free(bes);

	ext = ips_of(json_object_get(spec, "externalIPs"), MAX_IPS, "externalIPs", warn);
	lb = json_array();
	if (strcmp(type, "LoadBalancer") == 0) {
		a = json_object_get(json_object_get(json_object_get(svc, "status"), "loadBalancer"),
				    "ingress");
		json_array_foreach(a, i, v) {
			s = json_string_value(json_object_get(v, "ip"));
			if (ipv4(s, NULL) && json_array_size(lb) < MAX_IPS)
				json_array_append_new(lb, json_string(s));
		}
	}
	s = json_string_value(json_object_get(spec, "sessionAffinity"));
	v = json_object_get(json_object_get(json_object_get(spec, "sessionAffinityConfig"),
					    "clientIP"),
			    "timeoutSeconds");
	if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 86400)
		timeout = json_integer_value(v);
	body = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:I, s:s, s:o}", "namespace", ns,
			 "name", name, "type", type, "clusterIP", cip, "externalIPs", ext,
			 "loadBalancerIPs", lb, "ports", jports, "sessionAffinity",
			 s != NULL && strcmp(s, "ClientIP") == 0 ? "ClientIP" : "None",
			 "sessionAffinityTimeoutSeconds", timeout, "algorithm",
			 o->algorithm ? o->algorithm : "random", "backends", jbes);
	if (body == NULL)
		kdp_agent_oom();

	/* The fields kdp takes from phase 2 of issue #13 on. */
	etp = json_string_value(json_object_get(spec, "externalTrafficPolicy"));
	itp = json_string_value(json_object_get(spec, "internalTrafficPolicy"));
	etp = etp && strcmp(etp, "Local") == 0 ? "Local" : "Cluster";
	itp = itp && strcmp(itp, "Local") == 0 ? "Local" : "Cluster";
	v = json_object_get(spec, "healthCheckNodePort");
	a = json_object_get(spec, "loadBalancerSourceRanges");
	if (o->fields == KDP_AGENT_FIELDS_EXTENDED) {
		json_t *ranges = json_array();

		json_array_foreach(a, i, v) {
			char c[32];
			const json_t *x;
			size_t j;
			bool dup = false;

			/* IPv4 only, host bits cleared, each once (kdp refuses
			 * a range listed twice), at most what kdp takes. */
			if (!cidr4(json_string_value(v), c, sizeof(c)))
				continue;
			json_array_foreach(ranges, j, x)
				dup |= strcmp(json_string_value(x), c) == 0;
			if (dup)
				continue;
			if (json_array_size(ranges) == MAX_RANGES) {
				warn_add(warn, "more than %d loadBalancerSourceRanges: the rest left out",
					 MAX_RANGES);
				break;
			}
			json_array_append_new(ranges, json_string(c));
		}
		v = json_object_get(spec, "healthCheckNodePort");
		json_object_set_new(body, "externalTrafficPolicy", json_string(etp));
		json_object_set_new(body, "internalTrafficPolicy", json_string(itp));
		json_object_set_new(body, "healthCheckNodePort",
				    json_integer(json_is_integer(v) ? json_integer_value(v) : 0));
		json_object_set_new(body, "loadBalancerSourceRanges", ranges);
	} else {
		if (strcmp(etp, "Local") == 0 && node_ports)
			warn_add(warn, "externalTrafficPolicy Local not sent (kdp takes basic fields only)");
		if (strcmp(itp, "Local") == 0)
			warn_add(warn, "internalTrafficPolicy Local not sent (basic fields)");
		if (json_is_integer(v) && json_integer_value(v) != 0)
			warn_add(warn, "healthCheckNodePort %d not served (basic fields)",
				 (int)json_integer_value(v));
		if (json_array_size(a) > 0 && strcmp(type, "LoadBalancer") == 0)
			warn_add(warn, "loadBalancerSourceRanges NOT enforced (basic fields)");
	}
	return body;
}

/* ---- local redirect policies ---- */

/* toPorts in kdp's form: [{"port": "53", "name": "dns", "protocol": "UDP"}]. */
static json_t *lrp_ports(const json_t *a, const char *path, char *why)
{
	json_t *out = json_array(), *v;
	size_t i;

	json_array_foreach(a, i, v) {
		const json_t *port = json_object_get(v, "port");
		const char *n = json_string_value(json_object_get(v, "name"));
		const char *pr = json_string_value(json_object_get(v, "protocol"));
		long num = 0;
		char buf[8];

		if (json_is_integer(port))
			num = (long)json_integer_value(port);
		else if (json_is_string(port))
			num = strtol(json_string_value(port), NULL, 10);
		if (num < 1 || num > 65535 || i >= MAX_LRP_PORTS) {
			say(why, "%s[%zu]: %s", path, i,
			    i >= MAX_LRP_PORTS ? "kdp takes at most 8 ports" : "bad port");
			json_decref(out);
			return NULL;
		}
		snprintf(buf, sizeof(buf), "%ld", num);
		json_array_append_new(out, json_pack("{s:s, s:s, s:s}", "port", buf, "name",
						     n ? n : "", "protocol", pr ? pr : "TCP"));
	}
	return out;
}

/* matchExpressions in kdp's normal form ({"key", "operator"[, "values"]},
 * values for In and NotIn only): a new array, or NULL with @p why. */
static json_t *selector_exprs(const json_t *a, char *why)
{
	json_t *out = json_array(), *v;
	size_t i;

	if (out == NULL)
		kdp_agent_oom();
	json_array_foreach(a, i, v) {
		const char *key = json_string_value(json_object_get(v, "key"));
		const char *op = json_string_value(json_object_get(v, "operator"));
		const json_t *vals = json_object_get(v, "values");
		bool with = op && (strcmp(op, "In") == 0 || strcmp(op, "NotIn") == 0);
		json_t *e;

		if (key == NULL || op == NULL ||
		    (!with && strcmp(op, "Exists") != 0 && strcmp(op, "DoesNotExist") != 0)) {
			say(why, "localEndpointSelector.matchExpressions[%zu]: key and operator In, "
				 "NotIn, Exists or DoesNotExist", i);
			json_decref(out);
			return NULL;
		}
		e = json_pack("{s:s, s:s}", "key", key, "operator", op);
		if (with)
			json_object_set_new(e, "values",
					    json_is_array(vals) ? json_copy((json_t *)vals) : json_array());
		json_array_append_new(out, e);
	}
	return out;
}

json_t *kdp_agent_lrp_body(const json_t *lrp, char *why)
{
	const char *ns = str_at(lrp, "metadata", "namespace"), *name = str_at(lrp, "metadata", "name");
	const json_t *spec = json_object_get(lrp, "spec"), *fe, *be, *m, *sel;
	json_t *jfe = NULL, *fports = NULL, *bports = NULL, *labels, *exprs, *jsel;
	const char *desc;
	char d[DESCRIPTION_LEN + 1];

	if (!kdp_agent_name_ok(ns) || !kdp_agent_name_ok(name)) {
		say(why, "name not one kdp takes (1-63 of a-z 0-9 - .)");
		return NULL;
	}
	if (!json_is_object(spec)) {
		say(why, "no spec");
		return NULL;
	}
	fe = json_object_get(spec, "redirectFrontend");
	be = json_object_get(spec, "redirectBackend");
	if ((m = json_object_get(fe, "serviceMatcher")) != NULL) {
		const char *sn = json_string_value(json_object_get(m, "serviceName"));
		const char *sns = json_string_value(json_object_get(m, "namespace"));

		fports = lrp_ports(json_object_get(m, "toPorts"), "serviceMatcher.toPorts", why);
		if (fports == NULL)
			return NULL;
		jfe = json_pack("{s:{s:s, s:s, s:o}}", "serviceMatcher", "serviceName", sn ? sn : "",
				"namespace", sns ? sns : ns, "toPorts", fports);
	} else if ((m = json_object_get(fe, "addressMatcher")) != NULL) {
		const char *ip = json_string_value(json_object_get(m, "ip"));

		fports = lrp_ports(json_object_get(m, "toPorts"), "addressMatcher.toPorts", why);
		if (fports == NULL)
			return NULL;
		if (!ipv4(ip, NULL)) {
			json_decref(fports);
			say(why, "addressMatcher.ip: not an IPv4 address (kdp is IPv4 only)");
			return NULL;
		}
		jfe = json_pack("{s:{s:s, s:o}}", "addressMatcher", "ip", ip, "toPorts", fports);
	} else {
		say(why, "redirectFrontend: neither serviceMatcher nor addressMatcher");
		return NULL;
	}
	sel = json_object_get(be, "localEndpointSelector");
	exprs = selector_exprs(json_object_get(sel, "matchExpressions"), why);
	if (exprs == NULL) {
		json_decref(jfe);
		return NULL;
	}
	labels = json_object_get(sel, "matchLabels");
	if ((labels != NULL && !json_is_object(labels)) ||
	    (json_object_size(labels) == 0 && json_array_size(exprs) == 0)) {
		json_decref(jfe);
		json_decref(exprs);
		say(why, "localEndpointSelector: neither matchLabels nor matchExpressions select anything");
		return NULL;
	}
	bports = lrp_ports(json_object_get(be, "toPorts"), "redirectBackend.toPorts", why);
	if (bports == NULL) {
		json_decref(jfe);
		json_decref(exprs);
		return NULL;
	}
	desc = json_string_value(json_object_get(spec, "description"));
	snprintf(d, sizeof(d), "%s", desc ? desc : "");
	/* kdp's normal form: matchLabels always, matchExpressions when any. */
	jsel = labels ? json_pack("{s:O}", "matchLabels", labels) : json_pack("{s:{}}", "matchLabels");
	if (jsel != NULL && json_array_size(exprs) > 0)
		json_object_set(jsel, "matchExpressions", exprs);
	json_decref(exprs);
	return json_pack("{s:s, s:s, s:o, s:{s:o, s:o}, s:b, s:s}", "namespace", ns, "name",
			 name, "redirectFrontend", jfe, "redirectBackend", "localEndpointSelector",
			 jsel, "toPorts", bports, "skipRedirectFromBackend",
			 json_is_true(json_object_get(spec, "skipRedirectFromBackend")),
			 "description", d);
}

/* ---- ip-masq-agent, pods ---- */

const char *kdp_agent_ipmasq_text(const json_t *cm)
{
	return json_string_value(json_object_get(json_object_get(cm, "data"), "config"));
}

json_t *kdp_agent_pod_labels(const json_t *pod)
{
	const json_t *labels = json_object_get(json_object_get(pod, "metadata"), "labels");
	json_t *out = json_object(), *v;
	const char *k;

	json_object_foreach((json_t *)labels, k, v) {
		if (json_is_string(v) && strlen(k) >= 1 && strlen(k) <= 253 &&
		    json_string_length(v) <= 63)
			json_object_set(out, k, v);
	}
	return out;
}

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

/* The family of address @p s (4 or 6, 0: neither), its bytes (network
 * order; IPv4 in the first 4) into @p out, and its canonical text (inet_ntop,
 * as kdp shows it) into @p text when not NULL. */
static int ip_parse(const char *s, uint8_t out[16], char text[INET6_ADDRSTRLEN])
{
	uint8_t b[16] = {0};
	int fam = 0;

	if (s != NULL && inet_pton(AF_INET, s, b) == 1)
		fam = 4;
	else if (s != NULL && strchr(s, ':') != NULL && inet_pton(AF_INET6, s, b) == 1)
		fam = 6;
	if (fam != 0 && text != NULL)
		inet_ntop(fam == 4 ? AF_INET : AF_INET6, b, text, INET6_ADDRSTRLEN);
	if (out != NULL)
		memcpy(out, b, 16);
	return fam;
}

/* A canonical CIDR of either family (host bits cleared, spaces trimmed, the
 * address as inet_ntop writes it) into @p out; returns its family, 0 when
 * @p s is not one. */
static int cidr_parse(const char *s, char *out, size_t len)
{
	char buf[64], *slash, *end, t[INET6_ADDRSTRLEN];
	const char *b = s;
	uint8_t a[16];
	long plen;
	size_t n;
	int fam;

	if (s == NULL)
		return 0;
	while (*b == ' ')
		b++;
	n = strlen(b);
	while (n > 0 && b[n - 1] == ' ')
		n--;
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, b, n);
	buf[n] = '\0';
	slash = strchr(buf, '/');
	if (slash == NULL)
		return 0;
	*slash = '\0';
	plen = strtol(slash + 1, &end, 10);
	fam = ip_parse(buf, a, NULL);
	if (*end != '\0' || slash[1] == '\0' || fam == 0 || plen < 0 ||
	    plen > (fam == 4 ? 32 : 128))
		return 0;
	for (long bit = plen; bit < (fam == 4 ? 32 : 128); bit++)
		a[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
	inet_ntop(fam == 4 ? AF_INET : AF_INET6, a, t, sizeof(t));
	snprintf(out, len, "%s/%ld", t, plen);
	return fam;
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
	const json_t *v = json_object_get(o, a);

	if (b != NULL)
		v = json_object_get(v, b);
	return json_string_value(v);
}

/* ---- nodes ---- */

/* The node's first address of family @p fam: an InternalIP, else an
 * ExternalIP (canonical text into @p out), as kube-proxy picks its node IPs. */
static bool node_addr(const json_t *node, int fam, char out[INET6_ADDRSTRLEN])
{
	const json_t *a = json_object_get(json_object_get(node, "status"), "addresses"), *e;
	size_t i;

	for (int pass = 0; pass < 2; pass++)
		json_array_foreach(a, i, e) {
			const char *t = json_string_value(json_object_get(e, "type"));

			if (t != NULL && strcmp(t, pass ? "ExternalIP" : "InternalIP") == 0 &&
			    ip_parse(json_string_value(json_object_get(e, "address")), NULL, out) ==
				    fam)
				return true;
		}
	return false;
}

json_t *kdp_agent_node_body(const json_t *node, bool ipv6, char *why)
{
	const char *name = str_at(node, "metadata", "name");
	const json_t *spec = json_object_get(node, "spec"), *a, *e;
	char ip[INET6_ADDRSTRLEN], ip6[INET6_ADDRSTRLEN];
	json_t *cidrs, *body;
	bool has6;
	size_t i;

	if (!kdp_agent_name_ok(name)) {
		say(why, "name '%s' is not one kdp takes (1-63 of a-z 0-9 - .)", name ? name : "");
		return NULL;
	}
	if (!node_addr(node, 4, ip)) {
		say(why, "no IPv4 InternalIP (or ExternalIP) in status.addresses");
		return NULL;
	}
	has6 = ipv6 && node_addr(node, 6, ip6);
	/* podCIDRs (else podCIDR): the IPv4 ones, then the IPv6 ones when the
	 * node has an IPv6 address, as kdp lists them. */
	cidrs = json_array();
	a = json_object_get(spec, "podCIDRs");
	if (json_array_size(a) == 0)
		a = json_pack("[O]", json_object_get(spec, "podCIDR") ? json_object_get(spec, "podCIDR")
								       : json_null());
	else
		json_incref((json_t *)a);
	for (int fam = 4; fam <= (has6 ? 6 : 4); fam += 2)
		json_array_foreach(a, i, e) {
			char c[64];
			if (cidr_parse(json_string_value(e), c, sizeof(c)) == fam &&
			    json_array_size(cidrs) < MAX_POD_CIDRS)
				json_array_append_new(cidrs, json_string(c));
		}
	json_decref((json_t *)a);
	/* in kdp's order: name, ip, ips, podCIDRs */
	body = json_pack("{s:s, s:s}", "name", name, "ip", ip);
	if (body == NULL)
		kdp_agent_oom();
	if (has6)
		json_object_set_new(body, "ips", json_pack("[s, s]", ip, ip6));
	json_object_set_new(body, "podCIDRs", cidrs);
	return body;
}

/* ---- services ---- */

struct be {
	uint8_t fam; /* 4 or 6 */
	uint8_t ip[16];
	uint16_t port;
	int rank; /* 3 active, 2 terminating, 1 maintenance */
	const char *node;
};

static int be_cmp(const void *a, const void *b)
{
	const struct be *x = a, *y = b;
	int c = memcmp(x->ip, y->ip, 16);

	if (x->fam != y->fam)
		return x->fam < y->fam ? -1 : 1; /* IPv4 first, as kdp lists them */
	if (c != 0)
		return c;
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
		if (out > 0 && be_cmp(&bes[out - 1], &bes[i]) == 0) {
			if (bes[i].rank > bes[out - 1].rank)
				bes[out - 1] = bes[i];
			continue;
		}
		bes[out++] = bes[i];
	}
	return out;
}

/* The addresses of @p a of the families in @p fams (bit 4: IPv4, bit 6:
 * IPv6), canonical, the IPv4 ones first (kdp's order), at most @p max. */
static json_t *ips_of(const json_t *a, unsigned int fams, size_t max, const char *what,
		      char *warn)
{
	json_t *out = json_array(), *v;
	size_t i;

	for (int fam = 4; fam <= 6; fam += 2)
		json_array_foreach(a, i, v) {
			char t[INET6_ADDRSTRLEN];

			if (!(fams & (1u << fam)) || ip_parse(json_string_value(v), NULL, t) != fam)
				continue; /* a family the service (or kdp) has not */
			if (json_array_size(out) == max) {
				warn_add(warn, "%s: only the first %zu addresses kept", what, max);
				return out;
			}
			json_array_append_new(out, json_string(t));
		}
	return out;
}

/* The service's cluster IPs kdp takes: one per family, in the order of
 * clusterIPs (else clusterIP), IPv6 only when kdp has it. Their count, the
 * texts into @p ips, the families as bits (1 << 4, 1 << 6) into @p fams. */
static int cluster_ips(const json_t *spec, bool ipv6, char ips[2][INET6_ADDRSTRLEN],
		       unsigned int *fams, bool *other)
{
	const json_t *a = json_object_get(spec, "clusterIPs"), *v;
	json_t *one = NULL;
	int n = 0;
	size_t i;

	*fams = 0;
	*other = false;
	if (json_array_size(a) == 0)
		a = one = json_pack("[O]", json_object_get(spec, "clusterIP")
					     ? json_object_get(spec, "clusterIP") : json_null());
	json_array_foreach(a, i, v) {
		char t[INET6_ADDRSTRLEN];
		int fam = ip_parse(json_string_value(v), NULL, t);

		if (fam == 6 && !ipv6)
			*other = true;
		else if (fam != 0 && !(*fams & (1u << fam)) && n < 2) {
			*fams |= 1u << fam;
			memcpy(ips[n++], t, sizeof(t));
		}
	}
	json_decref(one);
	return n;
}

/* The dual-stack fields into @p body (a service with an IPv6 cluster IP):
 * clusterIPs, ipFamilies in their order, ipFamilyPolicy when it is one kdp
 * takes for that many families. */
static void families(const json_t *spec, char cips[2][INET6_ADDRSTRLEN], int n,
		     json_t *body)
{
	const char *pol = json_string_value(json_object_get(spec, "ipFamilyPolicy"));
	json_t *ips = json_array(), *fams = json_array();

	for (int i = 0; i < n; i++) {
		json_array_append_new(ips, json_string(cips[i]));
		json_array_append_new(fams, json_string(strchr(cips[i], ':') ? "IPv6" : "IPv4"));
	}
	json_object_set_new(body, "clusterIPs", ips);
	json_object_set_new(body, "ipFamilies", fams);
	if (pol != NULL && ((strcmp(pol, "SingleStack") == 0 && n == 1) ||
			    strcmp(pol, "PreferDualStack") == 0 ||
			    (strcmp(pol, "RequireDualStack") == 0 && n == 2)))
		json_object_set_new(body, "ipFamilyPolicy", json_string(pol));
}

json_t *kdp_agent_service_body(const json_t *svc, const json_t *slices,
			       const struct kdp_agent_svc_opts *o, char *why, char *warn)
{
	const json_t *spec = json_object_get(svc, "spec"), *a, *v, *sl;
	const char *ns = str_at(svc, "metadata", "namespace"), *name = str_at(svc, "metadata", "name");
	const char *type = json_string_value(json_object_get(spec, "type")), *s;
	char cips[2][INET6_ADDRSTRLEN];
	unsigned int fams;
	int n_cips;
	bool other;
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
	n_cips = cluster_ips(spec, o->ipv6, cips, &fams, &other);
	if (n_cips == 0) {
		say(why, other ? "IPv6 only, and this kdp has no nodeIPv6" : "no cluster IP");
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
	/* Backends from the slices of the service's families (kube-proxy: one
	 * slice or more per family, each family's for its frontends). */
	json_array_foreach(slices, i, sl) {
		const char *at = json_string_value(json_object_get(sl, "addressType"));
		int num[MAX_PORTS], any = 0;
		const json_t *eps = json_object_get(sl, "endpoints"), *ep;
		size_t k;

		if (at == NULL || !((strcmp(at, "IPv4") == 0 && (fams & (1u << 4))) ||
				    (strcmp(at, "IPv6") == 0 && (fams & (1u << 6)))))
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

			b.fam = (uint8_t)ip_parse(json_string_value(json_array_get(addrs, 0)), b.ip,
						  NULL);
			if (b.fam != (strcmp(at, "IPv4") == 0 ? 4 : 6))
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
		char ip[INET6_ADDRSTRLEN];
		json_t *jb;

		inet_ntop(bes[j].fam == 4 ? AF_INET : AF_INET6, bes[j].ip, ip, sizeof(ip));
		jb = json_pack("{s:s, s:s}", "ip", ip, "state", rank_names[bes[j].rank]);
		if (n_ports == 1 && bes[j].port != ports[0].target)
			json_object_set_new(jb, "port", json_integer(bes[j].port));
		if (o->fields == KDP_AGENT_FIELDS_EXTENDED)
			json_object_set_new(jb, "nodeName", json_string(bes[j].node ? bes[j].node : ""));
		json_array_append_new(jbes, jb);
	}
	free(bes);

	ext = ips_of(json_object_get(spec, "externalIPs"), fams, MAX_IPS, "externalIPs", warn);
	if (strcmp(type, "LoadBalancer") == 0) {
		json_t *in = json_array();

		a = json_object_get(json_object_get(json_object_get(svc, "status"), "loadBalancer"),
				    "ingress");
		json_array_foreach(a, i, v)
			if (json_is_string(json_object_get(v, "ip")))
				json_array_append(in, json_object_get(v, "ip"));
		lb = ips_of(in, fams, MAX_IPS, "loadBalancer ingress", warn);
		json_decref(in);
	} else {
		lb = json_array();
	}
	s = json_string_value(json_object_get(spec, "sessionAffinity"));
	v = json_object_get(json_object_get(json_object_get(spec, "sessionAffinityConfig"),
					    "clientIP"),
			    "timeoutSeconds");
	if (json_is_integer(v) && json_integer_value(v) >= 1 && json_integer_value(v) <= 86400)
		timeout = json_integer_value(v);
	body = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:I, s:s, s:o}", "namespace", ns,
			 "name", name, "type", type, "clusterIP", cips[0], "externalIPs", ext,
			 "loadBalancerIPs", lb, "ports", jports, "sessionAffinity",
			 s != NULL && strcmp(s, "ClientIP") == 0 ? "ClientIP" : "None",
			 "sessionAffinityTimeoutSeconds", timeout, "algorithm",
			 o->algorithm ? o->algorithm : "random", "backends", jbes);
	if (body == NULL)
		kdp_agent_oom();
	if (fams & (1u << 6))
		families(spec, cips, n_cips, body);

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
			char c[64];
			const json_t *x;
			size_t j;
			bool dup = false;
			int fam = cidr_parse(json_string_value(v), c, sizeof(c));

			/* Of the service's families (each family's frontends
			 * take its own, as kube-proxy's proxier of that family
			 * does), host bits cleared, each once (kdp refuses a
			 * range listed twice), at most what kdp takes. */
			if (fam == 0 || !(fams & (1u << fam)))
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

json_t *kdp_agent_lrp_body(const json_t *lrp, bool ipv6, char *why)
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
		char ip[INET6_ADDRSTRLEN];
		int fam = ip_parse(json_string_value(json_object_get(m, "ip")), NULL, ip);

		fports = lrp_ports(json_object_get(m, "toPorts"), "addressMatcher.toPorts", why);
		if (fports == NULL)
			return NULL;
		if (fam == 0 || (fam == 6 && !ipv6)) {
			json_decref(fports);
			say(why, fam == 0 ? "addressMatcher.ip: not an IP address"
					  : "addressMatcher.ip: an IPv6 address, and kdp has no IPv6 (no nodeIPv6)");
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

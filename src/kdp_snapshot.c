/* SPDX-License-Identifier: BSD-3-Clause */
/* The control thread's side of the dataplane: building a snapshot (routes,
 * service frontends, the non-masquerade set, port roles, which worker polls
 * which queue) from the desired state, publishing it with RCU, and freeing
 * retired ones (and closing their removed ports) after the grace period. */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_jhash.h>
#include <rte_log.h>
#include <rte_malloc.h>

#include "common/kdp_addr.h"
#include "kdp.h"

static int add(struct kdp_route_table *rt, uint32_t prefix, uint8_t depth,
	       enum kdp_route_kind kind, const struct kdp_nexthop *nh,
	       const char *target, const struct kdp *k, char *err)
{
	int ret = kdp_route_add(rt, prefix, depth, kind, nh, target);

	if (ret != 0)
		snprintf(err, KDP_ERR_LEN,
			 "routes: cannot add another route (tables.routes is %u): %s",
			 k->cfg.max_routes, rte_strerror(-ret));
	return ret;
}

static int build_routes(struct kdp *k, const struct kdp_state *st,
			struct kdp_route_table *rt, char *err)
{
	const struct kdp_config *c = &k->cfg;
	struct kdp_nexthop nh;
	int ret;

	memset(&nh, 0, sizeof(nh));
	nh.type = KDP_NH_VIA;
	nh.port = k->uplink;
	nh.gw = c->gateway;
	if ((ret = add(rt, 0, 0, KDP_RK_GATEWAY, &nh, "", k, err)))
		return ret;
	nh.type = KDP_NH_CONNECTED;
	if ((ret = add(rt, c->node_ip, c->node_plen, KDP_RK_CONNECTED, &nh, "", k,
		       err)))
		return ret;
	for (unsigned int i = 0; i < st->n_nodes; i++) {
		const struct kdp_node *n = &st->nodes[i];
		bool local = strcmp(n->name, c->name) == 0;

		memset(&nh, 0, sizeof(nh));
		nh.type = local ? KDP_NH_NO_ENDPOINT : KDP_NH_VIA;
		nh.port = k->uplink;
		/* A node off the LAN is reached through the gateway. */
		nh.gw = kdp_addr_in(n->ip, c->node_ip, c->node_plen) ? n->ip
								      : c->gateway;
		for (unsigned int j = 0; j < n->n_cidrs; j++)
			if ((ret = add(rt, n->cidr[j], n->plen[j],
				       local ? KDP_RK_LOCAL_PODCIDR
					     : KDP_RK_REMOTE_NODE,
				       &nh, n->name, k, err)))
				return ret;
	}
	for (unsigned int i = 0; i < st->n_eps; i++) {
		const struct kdp_endpoint *e = &st->eps[i];
		char target[2 * KDP_NAME_LEN + 2];

		if (e->port < 0)
			continue;
		memset(&nh, 0, sizeof(nh));
		nh.type = KDP_NH_ENDPOINT;
		nh.port = (uint16_t)e->port;
		nh.mac = e->mac;
		snprintf(target, sizeof(target), "%s/%s", e->ns, e->name);
		if ((ret = add(rt, e->ip, 32, KDP_RK_ENDPOINT, &nh, target, k, err)))
			return ret;
	}
	memset(&nh, 0, sizeof(nh));
	if (k->host != KDP_NO_PORT) {
		nh.type = KDP_NH_HOST;
		nh.port = k->host;
		nh.mac = k->ports[k->host].mac;
		ret = add(rt, c->node_ip, 32, KDP_RK_HOST, &nh, c->name, k, err);
	} else {
		nh.type = KDP_NH_LOCAL;
		ret = add(rt, c->node_ip, 32, KDP_RK_LOCAL, &nh, c->name, k, err);
	}
	if (ret != 0)
		return ret;
	nh.type = KDP_NH_LOCAL;
	return add(rt, c->pod_gw, 32, KDP_RK_LOCAL, &nh, "pod-gateway", k, err);
}

static int add6(struct kdp_route6_table *rt, const struct kdp_in6 *prefix, uint8_t depth,
		enum kdp_route_kind kind, const struct kdp_nexthop6 *nh, const char *target,
		const struct kdp *k, char *err)
{
	int ret = kdp_route6_add(rt, prefix, depth, kind, nh, target);

	if (ret != 0)
		snprintf(err, KDP_ERR_LEN,
			 "routes: cannot add another IPv6 route (tables.routes is %u): %s",
			 k->cfg.max_routes, rte_strerror(-ret));
	return ret;
}

/* The IPv6 routes: as the IPv4 ones, from the IPv6 half of each object. */
static int build_routes6(struct kdp *k, const struct kdp_state *st,
			 struct kdp_route6_table *rt, char *err)
{
	const struct kdp_config *c = &k->cfg;
	static const struct kdp_in6 any;
	struct kdp_nexthop6 nh;
	int ret;

	memset(&nh, 0, sizeof(nh));
	nh.type = KDP_NH_VIA;
	nh.port = k->uplink;
	nh.gw = c->gateway6;
	if ((ret = add6(rt, &any, 0, KDP_RK_GATEWAY, &nh, "", k, err)))
		return ret;
	nh.type = KDP_NH_CONNECTED;
	if ((ret = add6(rt, &c->node_ip6, c->node_plen6, KDP_RK_CONNECTED, &nh, "", k, err)))
		return ret;
	for (unsigned int i = 0; i < st->n_nodes; i++) {
		const struct kdp_node *n = &st->nodes[i];
		bool local = strcmp(n->name, c->name) == 0;

		memset(&nh, 0, sizeof(nh));
		nh.type = local ? KDP_NH_NO_ENDPOINT : KDP_NH_VIA;
		nh.port = k->uplink;
		/* A node off the LAN is reached through the gateway. */
		nh.gw = kdp_addr6_in(&n->ip6, &c->node_ip6, c->node_plen6) ? n->ip6 : c->gateway6;
		for (unsigned int j = 0; j < n->n_cidrs6; j++)
			if ((ret = add6(rt, &n->cidr6[j], n->plen6[j],
					local ? KDP_RK_LOCAL_PODCIDR : KDP_RK_REMOTE_NODE, &nh,
					n->name, k, err)))
				return ret;
	}
	for (unsigned int i = 0; i < st->n_eps; i++) {
		const struct kdp_endpoint *e = &st->eps[i];
		char target[2 * KDP_NAME_LEN + 2];

		if (e->port < 0 || !e->has_ip6)
			continue;
		memset(&nh, 0, sizeof(nh));
		nh.type = KDP_NH_ENDPOINT;
		nh.port = (uint16_t)e->port;
		nh.mac = e->mac;
		snprintf(target, sizeof(target), "%s/%s", e->ns, e->name);
		if ((ret = add6(rt, &e->ip6, 128, KDP_RK_ENDPOINT, &nh, target, k, err)))
			return ret;
	}
	memset(&nh, 0, sizeof(nh));
	if (k->host != KDP_NO_PORT) {
		nh.type = KDP_NH_HOST;
		nh.port = k->host;
		nh.mac = k->ports[k->host].mac;
		ret = add6(rt, &c->node_ip6, 128, KDP_RK_HOST, &nh, c->name, k, err);
	} else {
		nh.type = KDP_NH_LOCAL;
		ret = add6(rt, &c->node_ip6, 128, KDP_RK_LOCAL, &nh, c->name, k, err);
	}
	if (ret != 0)
		return ret;
	nh.type = KDP_NH_LOCAL;
	return add6(rt, &c->pod_gw6, 128, KDP_RK_LOCAL, &nh, "pod-gateway", k, err);
}

/* ---- services ---- */

/*
 * The frontends of one service (or of one addressMatcher policy) are built
 * together, as a group, and shared by every table that holds them: a table
 * is the one in force cloned, with the groups of what changed taken out and
 * new ones put in. Who frees a group: the set (below) that built it until
 * that set is published; then the published set, until a later set drops
 * the group; then the older set, when it is freed after its grace period
 * (its garbage). So a group lives exactly as long as a reader may see it.
 */
struct fe_group {
	struct kdp_service *svc;  /* NULL: an addressMatcher policy's */
	uint16_t local_active;    /* local active backends (the health check) */
	uint16_t local_active6;   /* of them IPv6 ones (its answer on nodeIPv6) */
	uint32_t n_fe, cap;
	char name[2 * KDP_NAME_LEN + 2];
	char (*lrp)[2 * KDP_NAME_LEN + 2]; /* per frontend: the redirecting policy
					    * (allocated for the first one) */
	struct kdp_svc_fe fe[];
};

/* A healthCheckNodePort and the group whose service asks for it. */
struct hc_port {
	uint16_t port;
	const struct fe_group *g;
};

/* The service table of a snapshot and the groups behind it. */
struct kdp_fe_set {
	struct kdp_svc_table *t;
	unsigned int refs;          /* snapshots holding it */
	bool committed;             /* published: it owns the groups it holds */
	bool superseded;            /* a later set holds them: it frees its garbage */
	const struct kdp_fe_set *base; /* cloned from (NULL: built whole) */
	struct fe_group **created;  /* built by it (owned until committed) */
	struct fe_group **dropped;  /* the base's, not kept */
	struct fe_group **garbage;  /* superseded: what its successor dropped */
	struct fe_group **lrps;     /* the addressMatcher policies' groups */
	struct hc_port *hc;         /* health check ports in use */
	uint32_t n_created, n_dropped, n_garbage, n_lrps, n_hc;
};

static void group_free(struct fe_group *g)
{
	if (g == NULL)
		return;
	for (uint32_t i = 0; i < g->n_fe; i++)
		kdp_svc_fe_release(&g->fe[i]);
	free(g->lrp);
	free(g);
}

static int push_group(struct fe_group ***a, uint32_t *n, struct fe_group *g)
{
	struct fe_group **na = realloc(*a, sizeof(*na) * (*n + 1));

	if (na == NULL)
		return -ENOMEM;
	na[(*n)++] = g;
	*a = na;
	return 0;
}

/* Every group a table holds, from its frontends, plus the policies' groups
 * and those of services without IPv4 frontends, which only the health check
 * ports hold. */
static int collect_groups(const struct kdp_fe_set *fs, struct fe_group ***out, uint32_t *n)
{
	const struct kdp_svc_table *t = fs->t;

	for (uint32_t i = 0; t != NULL && i <= t->mask; i++) {
		const struct kdp_svc_fe *fe = t->slot[i].fe;
		const struct fe_group *g = fe ? fe->owner : NULL;

		if (g != NULL && fe == &g->fe[0] && g->svc != NULL &&
		    push_group(out, n, (struct fe_group *)g) != 0)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < fs->n_lrps; i++)
		if (push_group(out, n, fs->lrps[i]) != 0)
			return -ENOMEM;
	for (uint32_t i = 0; i < fs->n_hc; i++)
		if (fs->hc[i].g->n_fe == 0 &&
		    push_group(out, n, (struct fe_group *)fs->hc[i].g) != 0)
			return -ENOMEM;
	return 0;
}

static void fe_set_free(struct kdp_fe_set *fs)
{
	struct fe_group **all = NULL;
	uint32_t n = 0;

	if (fs == NULL)
		return;
	if (fs->superseded) {
		for (uint32_t i = 0; i < fs->n_garbage; i++)
			group_free(fs->garbage[i]);
	} else if (fs->committed) {
		if (collect_groups(fs, &all, &n) != 0)
			RTE_LOG(ERR, USER1, "out of memory freeing a service table: leaked\n");
		for (uint32_t i = 0; i < n; i++)
			group_free(all[i]);
		free(all);
	} else {
		for (uint32_t i = 0; i < fs->n_created; i++)
			group_free(fs->created[i]);
	}
	free(fs->created);
	free(fs->dropped);
	free(fs->garbage);
	free(fs->lrps);
	free(fs->hc);
	kdp_svc_table_free(fs->t);
	free(fs);
}

static void fe_set_put(struct kdp_fe_set *fs)
{
	if (fs != NULL && --fs->refs == 0)
		fe_set_free(fs);
}

/* @p next is published over @p prev: it owns what it holds, @p prev only
 * what @p next dropped; the services' groups point at the new ones. */
static void fe_set_commit(struct kdp_fe_set *next, struct kdp_fe_set *prev)
{
	if (next == NULL || next == prev || next->committed)
		return;
	next->committed = true;
	for (uint32_t i = 0; i < next->n_created; i++)
		if (next->created[i]->svc != NULL)
			next->created[i]->svc->grp = next->created[i];
	free(next->created);
	next->created = NULL;
	next->n_created = 0;
	if (prev != NULL) {
		prev->superseded = true;
		if (next->base == prev) {
			prev->garbage = next->dropped;
			prev->n_garbage = next->n_dropped;
			next->dropped = NULL;
			next->n_dropped = 0;
		} else if (collect_groups(prev, &prev->garbage, &prev->n_garbage) != 0) {
			RTE_LOG(ERR, USER1, "out of memory retiring a service table: leaked\n");
		}
	}
	free(next->dropped);
	next->dropped = NULL;
	next->n_dropped = 0;
	next->base = NULL;
}

unsigned int kdp_dp_svc_local_endpoints(const struct kdp_service *s, bool v6)
{
	const struct fe_group *g = s->grp;

	return g ? v6 ? g->local_active6 : g->local_active : 0;
}

void kdp_dp_svc_frontends(const struct kdp_service *s,
			  void (*fn)(const struct kdp_svc_fe *fe, void *arg), void *arg)
{
	const struct fe_group *g = s->grp;

	for (uint32_t i = 0; g != NULL && i < g->n_fe; i++)
		fn(&g->fe[i], arg);
}

static int fe_id_cmp(const void *a, const void *b)
{
	uint32_t x = (*(const struct kdp_svc_fe *const *)a)->id;
	uint32_t y = (*(const struct kdp_svc_fe *const *)b)->id;

	return x < y ? -1 : x > y;
}

void kdp_dp_hc_ports(const struct kdp *k,
		     void (*fn)(uint16_t port, const struct kdp_service *s, void *arg),
		     void *arg)
{
	const struct kdp_snapshot *s = atomic_load(&k->pub.snap);
	const struct kdp_fe_set *fs = s ? s->fes : NULL;

	for (uint32_t i = 0; fs != NULL && i < fs->n_hc; i++)
		fn(fs->hc[i].port, fs->hc[i].g->svc, arg);
}

void kdp_dp_lrp_frontends(const struct kdp *k, const char *ns, const char *name,
			  void (*fn)(const struct kdp_svc_fe *fe, void *arg), void *arg)
{
	const struct kdp_snapshot *s = atomic_load(&k->pub.snap);
	const struct kdp_svc_table *t = s && s->fes ? s->fes->t : NULL;
	char want[2 * KDP_NAME_LEN + 2];

	const struct kdp_svc_fe **fes = NULL, **grown;
	uint32_t n = 0;

	snprintf(want, sizeof(want), "%s/%s", ns, name);
	for (uint32_t i = 0; t != NULL && i <= t->mask; i++) {
		const struct kdp_svc_fe *fe = t->slot[i].fe;

		if (fe == NULL || fe->lrp == NULL || strcmp(fe->lrp, want) != 0)
			continue;
		grown = realloc(fes, sizeof(*fes) * (n + 1));
		if (grown == NULL)
			break;
		fes = grown;
		fes[n++] = fe;
	}
	/* In id order (the order they were made in), not the table's. */
	if (n > 1)
		qsort(fes, n, sizeof(*fes), fe_id_cmp);
	for (uint32_t i = 0; i < n; i++)
		fn(fes[i], arg);
	free(fes);
}

/* What a build needs besides the state. */
struct fe_build {
	struct kdp *k;
	const struct kdp_state *st;
	struct kdp_fe_set *fs;
	const struct kdp_svc_table *ids;  /* frontends whose ids are kept, by key */
	uint32_t *local;                  /* the local endpoints' IPs (port open), sorted */
	unsigned int n_local;
	bool new_ids;                     /* ids not from the table in force */
	char *err;
};

static int be_cmp(const void *a, const void *b)
{
	const struct kdp_svc_backend *x = a, *y = b;
	uint32_t xi = rte_be_to_cpu_32(x->ip), yi = rte_be_to_cpu_32(y->ip);
	uint16_t xp = rte_be_to_cpu_16(x->port), yp = rte_be_to_cpu_16(y->port);

	if (xi != yi)
		return xi < yi ? -1 : 1;
	return xp < yp ? -1 : xp > yp;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The IPs of @p st's endpoints whose port is open, sorted. -ENOMEM. */
static int local_ips(const struct kdp_state *st, uint32_t **out, unsigned int *n)
{
	*n = 0;
	*out = malloc(sizeof(**out) * (st->n_eps + 1));
	if (*out == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < st->n_eps; i++)
		if (st->eps[i].port >= 0)
			(*out)[(*n)++] = st->eps[i].ip;
	qsort(*out, *n, sizeof(**out), u32_cmp);
	return 0;
}

static bool in_sorted(const uint32_t *a, unsigned int n, uint32_t v)
{
	return bsearch(&v, a, n, sizeof(v), u32_cmp) != NULL;
}

/* An endpoint of @p st with its port open has IPv6 address @p ip. */
static bool local_ip6(const struct kdp_state *st, const struct kdp_in6 *ip)
{
	for (unsigned int i = 0; i < st->n_eps; i++)
		if (st->eps[i].has_ip6 && st->eps[i].port >= 0 && kdp_addr6_eq(&st->eps[i].ip6, ip))
			return true;
	return false;
}

/* The id frontend @p key keeps (from the table in force, else the one the
 * flow state file had for it), or a new one. */
static uint32_t fe_id(struct fe_build *b, const struct kdp_svc_key *key)
{
	const struct kdp_svc_fe *old = b->ids ? kdp_svc_table_get(b->ids, key) : NULL;
	uint32_t id;

	if (old != NULL)
		return old->id;
	b->new_ids = true;
	id = kdp_feid_take_reserved(&b->k->pub.feid, kdp_flows_restored_fe_id(b->k, key));
	return id != 0 ? id : kdp_feid_take(&b->k->pub.feid, &b->k->pub.next_fe_id);
}

/* The local endpoints policy @p l selects, as active local backends on
 * @p port (network order). @return how many, or -ENOMEM. */
static int lrp_backends(const struct kdp_state *st, const struct kdp_lrp *l,
			uint16_t port, struct kdp_svc_backend **out)
{
	struct kdp_svc_backend *be = calloc(st->n_eps + 1, sizeof(*be));
	int n = 0;

	if (be == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < st->n_eps; i++) {
		const struct kdp_endpoint *e = &st->eps[i];
		if (e->port < 0 || !kdp_lrp_selects(l, e->labels))
			continue;
		be[n].ip = rte_cpu_to_be_32(e->ip);
		be[n].port = port;
		be[n].state = KDP_BE_ACTIVE;
		be[n].local = 1;
		n++;
	}
	*out = be;
	return n;
}

/* The serviceMatcher policy of service @p s port @p pc, and the backend
 * port it redirects to; NULL when none applies. */
static const struct kdp_lrp *lrp_for(const struct kdp_state *st, const struct kdp_service *s,
				     const struct kdp_svc_port_cfg *pc,
				     const struct kdp_lrp_port **bp)
{
	for (unsigned int i = 0; i < st->n_lrps; i++) {
		const struct kdp_lrp *l = &st->lrps[i];
		const char *name = pc->name;

		if (l->address || strcmp(l->svc_ns, s->ns) || strcmp(l->svc_name, s->name))
			continue;
		if (l->n_fports > 0) {
			const struct kdp_lrp_port *f = NULL;
			for (unsigned int j = 0; j < l->n_fports && f == NULL; j++)
				if (l->fports[j].proto == pc->proto &&
				    (l->fports[j].name[0] && pc->name[0] ?
					     strcmp(l->fports[j].name, pc->name) == 0 :
					     l->fports[j].port == pc->port))
					f = &l->fports[j];
			if (f == NULL)
				continue;
			name = f->name;
		}
		*bp = kdp_lrp_backend_port(l, name, pc->proto);
		if (*bp != NULL)
			return l;
	}
	return NULL;
}

static void copy_name(char *dst, size_t len, const char *ns, const char *name)
{
	size_t a = strnlen(ns, KDP_NAME_LEN), c = strnlen(name, KDP_NAME_LEN);

	if (a + c + 2 > len)
		a = c = 0;
	memcpy(dst, ns, a);
	dst[a] = '/';
	memcpy(dst + a + 1, name, c);
	dst[a + 1 + c] = '\0';
}

static void fe_key(struct kdp_svc_key *k, uint32_t addr, uint16_t port, uint8_t proto)
{
	k->addr = rte_cpu_to_be_32(addr);
	k->port = rte_cpu_to_be_16(port);
	k->proto = proto;
	k->pad = 0;
}

/* Puts the prepared @p fe into the table; a clash names who holds it. */
static int fe_insert(struct fe_build *b, struct kdp_svc_fe *fe, const char *what)
{
	char key[48];
	int ret = kdp_svc_table_insert(b->fs->t, fe);

	if (ret == 0)
		return 0;
	kdp_service_fe_name(rte_be_to_cpu_32(fe->key.addr), rte_be_to_cpu_16(fe->key.port),
			    fe->key.proto, key, sizeof(key));
	if (ret == -EEXIST) {
		const struct kdp_svc_fe *o = kdp_svc_table_get(b->fs->t, &fe->key);
		return kdp_json_err(b->err, "", "%s: frontend %s is already %s's", what, key,
				    o && o->name ? o->name : "another service");
	}
	snprintf(b->err, KDP_ERR_LEN, "%s: frontend %s: %s", what, key, strerror(-ret));
	return ret;
}

/* Sorts, hashes and prepares @p fe (be[] filled). */
static int fe_finish(struct fe_build *b, struct kdp_svc_fe *fe)
{
	/* Canonical order: Maglev then gives every node the same table. */
	qsort(fe->be, fe->n_be, sizeof(*fe->be), be_cmp);
	fe->gen = rte_jhash(fe->be, sizeof(*fe->be) * fe->n_be, fe->n_be) | 1;
	return kdp_svc_fe_prepare(fe, b->k->cfg.maglev_m);
}

/* The frontends of service @p s, counted. */
static int count_fe(const struct kdp_service *s, const struct kdp_svc_port_cfg *pc,
		    uint32_t addr, uint16_t port, uint8_t type, void *arg)
{
	(*(uint32_t *)arg)++;
	return 0;
}

/* The traffic policy of a frontend of @p type of @p s (KDP_SVC_LOCAL_*),
 * either family. */
static uint8_t fe_local_only(const struct kdp_service *s, uint8_t type)
{
	if (type == KDP_SVC_CLUSTER_IP)
		return s->itp_local ? KDP_SVC_LOCAL_INSIDE | KDP_SVC_LOCAL_OUTSIDE : 0;
	return s->etp_local ? KDP_SVC_LOCAL_OUTSIDE : 0;
}

/* How many of @p s's source ranges a frontend of @p type and family @p v6
 * admits new flows from: a LoadBalancer service's LoadBalancer-IP and
 * NodePort frontends, the ranges of their own family (as kube-proxy does:
 * none of a family means anyone of it). 0: any source. */
static unsigned int fe_ranges(const struct kdp_service *s, uint8_t type, bool v6)
{
	unsigned int n = 0;

	if (s->type != KDP_SVC_LOAD_BALANCER ||
	    (type != KDP_SVC_LOAD_BALANCER && type != KDP_SVC_NODE_PORT))
		return 0;
	for (unsigned int i = 0; i < s->n_ranges; i++)
		n += s->ranges[i].is6 == v6;
	return n;
}

struct fill {
	struct fe_build *b;
	struct fe_group *g;
	const struct kdp_service *s;
	int self_node; /* 1 + index of this node in s->nodes, 0: none */
};

static int fill_fe(const struct kdp_service *s, const struct kdp_svc_port_cfg *pc,
		   uint32_t addr, uint16_t port, uint8_t type, void *arg)
{
	struct fill *f = arg;
	struct fe_build *b = f->b;
	struct fe_group *g = f->g;
	struct kdp_svc_fe *fe = &g->fe[g->n_fe];
	int ret;

	memset(fe, 0, sizeof(*fe));
	fe_key(&fe->key, addr, port, pc->proto);
	fe->id = fe_id(b, &fe->key);
	fe->type = type;
	fe->algo = s->algo;
	fe->affinity = s->affinity;
	fe->affinity_timeout_s = s->affinity_timeout_s;
	fe->name = g->name;
	fe->owner = g;
	memcpy(fe->port_name, pc->name, strnlen(pc->name, sizeof(fe->port_name) - 1));
	fe->local_only = fe_local_only(s, type);
	if (fe_ranges(s, type, false) > 0) {
		fe->ranges = malloc(sizeof(*fe->ranges) * s->n_ranges);
		if (fe->ranges == NULL)
			return -ENOMEM;
		for (unsigned int i = 0; i < s->n_ranges; i++) {
			const struct kdp_svc_range_cfg *r = &s->ranges[i];
			uint32_t mask = r->plen ? ~0u << (32 - r->plen) : 0;

			if (r->is6)
				continue;
			fe->ranges[fe->n_ranges].net = rte_cpu_to_be_32(r->net);
			fe->ranges[fe->n_ranges++].mask = rte_cpu_to_be_32(mask);
		}
	}
	fe->be = calloc(s->n_be ? s->n_be : 1, sizeof(*fe->be));
	if (fe->be == NULL) {
		kdp_svc_fe_release(fe);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < s->n_be; i++) {
		const struct kdp_svc_be_cfg *c = &s->be[i];
		struct kdp_svc_backend *be = &fe->be[fe->n_be];

		if (c->is6)
			continue; /* an IPv4 frontend takes IPv4 backends */
		be->ip = rte_cpu_to_be_32(c->ip);
		be->port = rte_cpu_to_be_16(c->port ? c->port : pc->target);
		be->state = c->state;
		/* Local: nodeName is this node's; without one, a local pod. */
		be->local = c->node ? c->node == f->self_node
				    : in_sorted(b->local, b->n_local, c->ip);
		fe->n_be++;
	}
	if (type == KDP_SVC_CLUSTER_IP) {
		/* A Local Redirect Policy replaces the backends by the local
		 * endpoints it selects, while there is at least one. */
		const struct kdp_lrp_port *bp = NULL;
		const struct kdp_lrp *l = lrp_for(b->st, s, pc, &bp);
		struct kdp_svc_backend *local = NULL;
		int n = l ? lrp_backends(b->st, l, rte_cpu_to_be_16(bp->port), &local) : 0;

		if (n < 0) {
			kdp_svc_fe_release(fe);
			return n;
		}
		if (n > 0 && g->lrp == NULL &&
		    (g->lrp = calloc(g->cap, sizeof(*g->lrp))) == NULL) {
			free(local);
			kdp_svc_fe_release(fe);
			return -ENOMEM;
		}
		if (n > 0) {
			free(fe->be);
			fe->be = local;
			fe->n_be = (uint16_t)n;
			fe->type = KDP_SVC_LOCAL_REDIRECT;
			fe->local_only = 0;
			copy_name(g->lrp[g->n_fe], sizeof(g->lrp[0]), l->ns, l->name);
			fe->lrp = g->lrp[g->n_fe];
		} else {
			free(local);
		}
	}
	ret = fe_finish(b, fe);
	if (ret != 0) {
		char key[48];

		kdp_service_fe_name(addr, port, pc->proto, key, sizeof(key));
		snprintf(b->err, KDP_ERR_LEN, "services[%s]: frontend %s: %s", g->name, key,
			 strerror(-ret));
		kdp_svc_fe_release(fe);
		return ret;
	}
	g->n_fe++;
	return 0;
}

static struct fe_group *group_alloc(uint32_t n_fe)
{
	struct fe_group *g = calloc(1, sizeof(*g) + sizeof(g->fe[0]) * n_fe);

	if (g != NULL)
		g->cap = n_fe;
	return g;
}

/* Builds the group of service @p s and puts it into the table. */
static int add_service(struct fe_build *b, struct kdp_service *s)
{
	const char *self = b->k->cfg.name;
	struct fill f = {.b = b, .s = s};
	struct fe_group *g;
	uint32_t n = 0;
	bool v4 = false;
	int ret;

	kdp_service_foreach_frontend(s, b->k->cfg.node_ip, count_fe, &n);
	/* Headless: nothing to look up. A service of IPv6 frontends only has
	 * a group all the same when it has a health check port (the group
	 * holds the port and the local count). */
	if (n == 0 && (s->hc_port == 0 || !(s->families & KDP_SVC_FAM_V6)))
		return 0;
	g = group_alloc(n);
	if (g == NULL)
		return -ENOMEM;
	g->svc = s;
	copy_name(g->name, sizeof(g->name), s->ns, s->name);
	for (unsigned int i = 0; i < s->n_nodes && f.self_node == 0; i++)
		if (strcmp(s->nodes[i], self) == 0)
			f.self_node = (int)i + 1;
	/* The IPv4 backends (each pod once), or the IPv6 ones of an IPv6-only
	 * service. */
	for (unsigned int i = 0; i < s->n_be; i++)
		v4 |= !s->be[i].is6;
	for (unsigned int i = 0; i < s->n_be; i++) {
		const struct kdp_svc_be_cfg *c = &s->be[i];

		if (c->state != KDP_BE_ACTIVE ||
		    !(c->node ? c->node == f.self_node
		      : c->is6 ? local_ip6(b->st, &c->ip6) : in_sorted(b->local, b->n_local, c->ip)))
			continue;
		g->local_active += v4 ? !c->is6 : c->is6;
		g->local_active6 += c->is6;
	}
	f.g = g;
	ret = kdp_service_foreach_frontend(s, b->k->cfg.node_ip, fill_fe, &f);
	if (ret != 0) {
		if (ret == -ENOMEM)
			snprintf(b->err, KDP_ERR_LEN, "out of memory for service frontends");
		group_free(g);
		return ret;
	}
	if (push_group(&b->fs->created, &b->fs->n_created, g) != 0) {
		group_free(g);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < g->n_fe; i++) {
		char what[2 * KDP_NAME_LEN + 16];

		snprintf(what, sizeof(what), "services[%s]", g->name);
		ret = fe_insert(b, &g->fe[i], what);
		if (ret != 0)
			return ret; /* the set is thrown away, the group with it */
	}
	return 0;
}

/* Frontends of addressMatcher policies that have local endpoints. */
static int add_lrp_groups(struct fe_build *b)
{
	const struct kdp_state *st = b->st;

	for (unsigned int i = 0; i < st->n_lrps; i++) {
		const struct kdp_lrp *l = &st->lrps[i];
		struct fe_group *g;
		char what[2 * KDP_NAME_LEN + 32];

		if (!l->address || l->is6 || l->n_fports == 0)
			continue; /* (an IPv6 one's are in the IPv6 table) */
		g = group_alloc(l->n_fports);
		if (g == NULL || push_group(&b->fs->created, &b->fs->n_created, g) != 0) {
			group_free(g);
			return -ENOMEM;
		}
		if (push_group(&b->fs->lrps, &b->fs->n_lrps, g) != 0)
			return -ENOMEM;
		copy_name(g->name, sizeof(g->name), l->ns, l->name);
		snprintf(what, sizeof(what), "localRedirectPolicies[%s]", g->name);
		for (unsigned int j = 0; j < l->n_fports; j++) {
			const struct kdp_lrp_port *fp = &l->fports[j];
			const struct kdp_lrp_port *bp = kdp_lrp_backend_port(l, fp->name, fp->proto);
			struct kdp_svc_fe *fe = &g->fe[g->n_fe];
			int n, ret;

			if (bp == NULL)
				continue;
			memset(fe, 0, sizeof(*fe));
			n = lrp_backends(st, l, rte_cpu_to_be_16(bp->port), &fe->be);
			if (n <= 0) {
				free(fe->be);
				fe->be = NULL;
				if (n < 0)
					return n;
				continue; /* no local endpoint: not redirected */
			}
			fe->n_be = (uint16_t)n;
			fe_key(&fe->key, l->ip, fp->port, fp->proto);
			fe->id = fe_id(b, &fe->key);
			fe->type = KDP_SVC_LOCAL_REDIRECT;
			fe->name = g->name;
			fe->lrp = g->name;
			fe->owner = g;
			memcpy(fe->port_name, fp->name, strnlen(fp->name, sizeof(fe->port_name) - 1));
			ret = fe_finish(b, fe);
			if (ret != 0) {
				kdp_svc_fe_release(fe);
				snprintf(b->err, KDP_ERR_LEN, "%s: cannot build a frontend: %s", what,
					 strerror(-ret));
				return ret;
			}
			g->n_fe++;
			ret = fe_insert(b, fe, what);
			if (ret != 0)
				return ret;
		}
	}
	return 0;
}

/* The health check ports of the set: the kept ones, plus @p g's. A port is
 * one service's, and never a TCP nodePort (the workers would take it). */
static int add_hc(struct fe_build *b, const struct fe_group *g)
{
	struct kdp_fe_set *fs = b->fs;
	const struct kdp_service *s = g->svc;
	char oname[2 * KDP_NAME_LEN + 2];
	const char *owner = NULL;
	struct kdp_svc_key key;
	struct hc_port *a;

	/* Its nodePorts (either family's) must not be someone's health
	 * check port... */
	for (uint32_t i = 0; i < s->n_ports; i++) {
		if (s->ports[i].node_port == 0 || s->ports[i].proto != IPPROTO_TCP)
			continue;
		for (uint32_t j = 0; j < fs->n_hc; j++)
			if (fs->hc[j].port == s->ports[i].node_port)
				return kdp_json_err(b->err, "",
						    "services[%s]: nodePort %u is service %s's healthCheckNodePort",
						    g->name, fs->hc[j].port, fs->hc[j].g->name);
	}
	if (s->hc_port == 0)
		return 0;
	/* ...and its own is neither another's nor a nodePort. */
	for (uint32_t j = 0; j < fs->n_hc; j++)
		if (fs->hc[j].port == s->hc_port)
			return kdp_json_err(b->err, "",
					    "services[%s]: healthCheckNodePort %u is already service %s's",
					    g->name, s->hc_port, fs->hc[j].g->name);
	fe_key(&key, b->k->cfg.node_ip, s->hc_port, IPPROTO_TCP);
	if (kdp_svc_table_get(fs->t, &key) != NULL)
		owner = kdp_svc_table_get(fs->t, &key)->name;
	/* (The nodePorts of services without IPv4 ones are in no table yet.) */
	for (unsigned int i = 0; owner == NULL && b->k->cfg.has_ip6 && i < b->st->n_svcs; i++) {
		const struct kdp_service *o = b->st->svcs[i];

		for (unsigned int j = 0; (o->families & KDP_SVC_FAM_V6) && j < o->n_ports; j++)
			if (o->ports[j].node_port == s->hc_port && o->ports[j].proto == IPPROTO_TCP) {
				copy_name(oname, sizeof(oname), o->ns, o->name);
				owner = oname;
			}
	}
	if (owner != NULL)
		return kdp_json_err(b->err, "",
				    "services[%s]: healthCheckNodePort %u is service %s's nodePort",
				    g->name, s->hc_port, owner);
	a = realloc(fs->hc, sizeof(*a) * (fs->n_hc + 1));
	if (a == NULL)
		return -ENOMEM;
	fs->hc = a;
	a[fs->n_hc].port = s->hc_port;
	a[fs->n_hc++].g = g;
	return 0;
}

/* Takes group @p g (of the base) out of the new table. */
static int drop_group(struct fe_build *b, struct fe_group *g)
{
	struct kdp_fe_set *fs = b->fs;

	for (uint32_t i = 0; i < g->n_fe; i++)
		kdp_svc_table_remove(fs->t, &g->fe[i].key);
	for (uint32_t j = 0; j < fs->n_hc; j++)
		if (fs->hc[j].g == g)
			fs->hc[j--] = fs->hc[--fs->n_hc];
	return push_group(&fs->dropped, &fs->n_dropped, g);
}

static int ptr_cmp(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* Into @p out (room for both states' endpoints), the IPv6 addresses of the
 * endpoints of @p a and @p b whose IPv4 address is in @p changed: the
 * local endpoints that came or went, by their IPv6 address. */
static unsigned int changed_ip6(const struct kdp_state *a, const struct kdp_state *b,
				const uint32_t *changed, unsigned int n_changed,
				struct kdp_in6 *out)
{
	unsigned int n = 0;

	for (int pass = 0; pass < 2; pass++) {
		const struct kdp_state *st = pass ? b : a;

		for (unsigned int i = 0; i < st->n_eps; i++)
			if (st->eps[i].has_ip6 && in_sorted(changed, n_changed, st->eps[i].ip))
				out[n++] = st->eps[i].ip6;
	}
	return n;
}

static bool in_list6(const struct kdp_in6 *a, unsigned int n, const struct kdp_in6 *v)
{
	for (unsigned int i = 0; i < n; i++)
		if (kdp_addr6_eq(&a[i], v))
			return true;
	return false;
}

/* The services an incremental build must make again besides the added
 * ones: those with a backend whose locality changed (no nodeName, its IPv4
 * or IPv6 address a local endpoint's before and not now or the other way),
 * and those a serviceMatcher policy (before or now) names. -ENOMEM. */
static int stale_services(struct fe_build *b, const struct kdp_state *old,
			  struct kdp_service ***out, unsigned int *n)
{
	const struct kdp_state *st = b->st;
	uint32_t *was = NULL, *changed = NULL;
	struct kdp_in6 *changed6 = NULL;
	unsigned int n_was = 0, n_changed = 0, n_changed6 = 0;
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!(st->changed & (KDP_STATE_CH_EPS | KDP_STATE_CH_LRPS)))
		return 0;
	if ((ret = local_ips(old, &was, &n_was)) != 0)
		return ret;
	changed = malloc(sizeof(*changed) * (n_was + b->n_local + 1));
	*out = malloc(sizeof(**out) * (st->n_lrps + old->n_lrps + 1));
	if (changed == NULL || *out == NULL) {
		ret = -ENOMEM;
		goto done;
	}
	for (unsigned int i = 0; i < n_was; i++)
		if (!in_sorted(b->local, b->n_local, was[i]))
			changed[n_changed++] = was[i];
	for (unsigned int i = 0; i < b->n_local; i++)
		if (!in_sorted(was, n_was, b->local[i]))
			changed[n_changed++] = b->local[i];
	qsort(changed, n_changed, sizeof(*changed), u32_cmp);
	changed6 = malloc(sizeof(*changed6) * (old->n_eps + st->n_eps + 1));
	if (changed6 == NULL) {
		ret = -ENOMEM;
		goto done;
	}
	n_changed6 = changed_ip6(old, st, changed, n_changed, changed6);
	for (int pass = 0; pass < 2; pass++) {
		const struct kdp_state *ls = pass ? old : st;

		for (unsigned int i = 0; i < ls->n_lrps; i++) {
			const struct kdp_lrp *l = &ls->lrps[i];
			int at = l->address ? -1 : kdp_state_svc_find(st, l->svc_ns, l->svc_name);

			if (at >= 0)
				(*out)[(*n)++] = st->svcs[at];
		}
	}
	/* A walk over every backend, only when a local endpoint came or went. */
	for (unsigned int i = 0; n_changed > 0 && i < st->n_svcs; i++) {
		struct kdp_service *s = st->svcs[i];
		struct kdp_service **grown;

		for (unsigned int j = 0; j < s->n_be; j++) {
			if (s->be[j].node != 0 ||
			    !(s->be[j].is6 ? in_list6(changed6, n_changed6, &s->be[j].ip6)
					   : in_sorted(changed, n_changed, s->be[j].ip)))
				continue;
			grown = realloc(*out, sizeof(**out) * (*n + 1));
			if (grown == NULL) {
				ret = -ENOMEM;
				goto done;
			}
			*out = grown;
			(*out)[(*n)++] = s;
			break;
		}
	}
	/* Each once, and not the added ones (built anyway). */
	if (ret == 0 && *n > 1) {
		unsigned int m = 0;

		qsort(*out, *n, sizeof(**out), ptr_cmp);
		for (unsigned int i = 0; i < *n; i++)
			if (!(*out)[i]->fresh && (m == 0 || (*out)[m - 1] != (*out)[i]))
				(*out)[m++] = (*out)[i];
		*n = m;
	} else if (*n == 1 && (*out)[0]->fresh) {
		*n = 0;
	}
done:
	free(was);
	free(changed);
	free(changed6);
	return ret;
}

/* A table for @p st: the one in force cloned, its groups of what changed
 * replaced, when @p st derives from the state in force; else built whole. */
static struct kdp_fe_set *build_services(struct kdp *k, const struct kdp_state *st,
					 struct kdp_fe_set *cur, char *err)
{
	struct fe_build b = {.k = k, .st = st, .err = err};
	bool incr = cur != NULL && st->derived;
	struct kdp_service **stale = NULL;
	struct fe_group **going = NULL;
	unsigned int n_stale = 0;
	struct kdp_svc_table *ids = NULL;
	uint32_t n = 0, n_new = 0, n_going = 0, n_old = 0;
	int ret = -ENOMEM;

	if (incr && !(st->changed & (KDP_STATE_CH_SVCS | KDP_STATE_CH_EPS | KDP_STATE_CH_LRPS))) {
		cur->refs++;
		return cur; /* nothing it depends on changed */
	}
	b.fs = calloc(1, sizeof(*b.fs));
	if (b.fs == NULL || local_ips(st, &b.local, &b.n_local) != 0)
		goto nomem;
	b.fs->refs = 1;
	if (!incr) {
		for (unsigned int i = 0; i < st->n_svcs; i++)
			kdp_service_foreach_frontend(st->svcs[i], k->cfg.node_ip, count_fe, &n);
		for (unsigned int i = 0; i < st->n_lrps; i++)
			n += st->lrps[i].address ? st->lrps[i].n_fports : 0;
		b.ids = cur ? cur->t : NULL;
		b.fs->t = kdp_svc_table_create("", n, k->pub.next_fe_id + n, 0);
		if (b.fs->t == NULL)
			goto nomem;
		for (unsigned int i = 0; i < st->n_svcs; i++)
			if ((ret = add_service(&b, st->svcs[i])) != 0)
				goto fail;
	} else {
		/* What goes: the groups of the services dropped, of those to
		 * build again, and of the addressMatcher policies. */
		if (stale_services(&b, &k->state, &stale, &n_stale) != 0)
			goto nomem;
		for (unsigned int i = 0; i < st->n_dropped; i++)
			if (st->dropped[i]->grp != NULL &&
			    push_group(&going, &n_going, (struct fe_group *)st->dropped[i]->grp))
				goto nomem;
		for (unsigned int i = 0; i < n_stale; i++)
			if (stale[i]->grp != NULL &&
			    push_group(&going, &n_going, (struct fe_group *)stale[i]->grp))
				goto nomem;
		for (unsigned int i = 0; i < cur->n_lrps; i++)
			if (push_group(&going, &n_going, cur->lrps[i]))
				goto nomem;
		for (unsigned int i = 0; i < n_going; i++)
			n_old += going[i]->n_fe;
		for (unsigned int i = 0; i < st->n_added; i++)
			kdp_service_foreach_frontend(st->added[i], k->cfg.node_ip, count_fe, &n_new);
		for (unsigned int i = 0; i < n_stale; i++)
			kdp_service_foreach_frontend(stale[i], k->cfg.node_ip, count_fe, &n_new);
		for (unsigned int i = 0; i < st->n_lrps; i++)
			n_new += st->lrps[i].address ? st->lrps[i].n_fports : 0;
		b.fs->base = cur;
		b.fs->t = kdp_svc_table_clone(cur->t, cur->t->n_fe + n_new,
					      k->pub.next_fe_id + n_new);
		/* The ids of what goes, by key: what comes back keeps them. */
		ids = kdp_svc_table_create("", n_old, k->pub.next_fe_id, 0);
		if (b.fs->t == NULL || ids == NULL)
			goto nomem;
		b.ids = ids;
		if (cur->n_hc > 0) {
			b.fs->hc = malloc(sizeof(*b.fs->hc) * cur->n_hc);
			if (b.fs->hc == NULL)
				goto nomem;
			memcpy(b.fs->hc, cur->hc, sizeof(*b.fs->hc) * cur->n_hc);
			b.fs->n_hc = cur->n_hc;
		}
		for (unsigned int i = 0; i < n_going; i++) {
			for (uint32_t j = 0; j < going[i]->n_fe; j++)
				kdp_svc_table_insert(ids, &going[i]->fe[j]);
			if (drop_group(&b, going[i]) != 0)
				goto nomem;
		}
		/* What comes: the added services, and the stale ones again. */
		for (unsigned int i = 0; i < st->n_added; i++)
			if ((ret = add_service(&b, st->added[i])) != 0)
				goto fail;
		for (unsigned int i = 0; i < n_stale; i++)
			if ((ret = add_service(&b, stale[i])) != 0)
				goto fail;
	}
	if ((ret = add_lrp_groups(&b)) != 0)
		goto fail;
	/* Health check ports, against the frontends and each other. */
	for (uint32_t i = 0; i < b.fs->n_created; i++)
		if (b.fs->created[i]->svc != NULL && (ret = add_hc(&b, b.fs->created[i])) != 0)
			goto fail;
	/* Flows and affinity pins hold frontend ids: the ids in force are
	 * saved with them (kdp_dp_build(), before any flow can use a new one). */
	if (b.new_ids || cur == NULL || b.fs->t->n_fe != cur->t->n_fe)
		k->flows.fe_dirty = true;
	kdp_svc_table_free(ids);
	free(going);
	free(stale);
	free(b.local);
	return b.fs;
nomem:
	snprintf(err, KDP_ERR_LEN, "out of memory for the service table");
fail:
	kdp_svc_table_free(ids);
	free(going);
	free(stale);
	free(b.local);
	fe_set_free(b.fs);
	return NULL;
}

/* ---- IPv6 frontends ----
 *
 * The IPv6 table is built whole with each snapshot, from every service. A
 * frontend keeps its id from the IPv6 table in force (by key), else takes a
 * new one from the id space it shares with the IPv4 frontends. Two services
 * claiming one IPv6 frontend are found here, as the IPv4 ones are when
 * they are put into their table.
 */

struct fe6_build {
	struct kdp *k;
	const struct kdp_state *st;
	struct kdp_svc6_table *t;
	const struct kdp_svc6_table *ids; /* the IPv6 table in force (NULL: none) */
	struct kdp_in6 *local;            /* the local endpoints' IPv6 (port open), sorted */
	unsigned int n_local;
	int self_node;                    /* as struct fill's, for the service being added */
	uint32_t count;
	char *err;
};

static int in6_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct kdp_in6));
}

static int be6_cmp(const void *a, const void *b)
{
	const struct kdp_svc6_backend *x = a, *y = b;
	int r = memcmp(x->ip, y->ip, 16);

	if (r != 0)
		return r;
	return rte_be_to_cpu_16(x->port) < rte_be_to_cpu_16(y->port) ? -1
	       : rte_be_to_cpu_16(x->port) > rte_be_to_cpu_16(y->port);
}

/* lrp_backends() for IPv6: the selected local endpoints' IPv6 addresses. */
static int lrp_backends6(const struct kdp_state *st, const struct kdp_lrp *l, uint16_t port,
			 struct kdp_svc6_backend **out)
{
	struct kdp_svc6_backend *be = calloc(st->n_eps + 1, sizeof(*be));
	int n = 0;

	if (be == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < st->n_eps; i++) {
		const struct kdp_endpoint *e = &st->eps[i];

		if (e->port < 0 || !e->has_ip6 || !kdp_lrp_selects(l, e->labels))
			continue;
		memcpy(be[n].ip, &e->ip6, 16);
		be[n].port = port;
		be[n].state = KDP_BE_ACTIVE;
		be[n].local = 1;
		n++;
	}
	*out = be;
	return n;
}

static int count_fe6(const struct kdp_service *s, const struct kdp_svc_port_cfg *pc,
		     const struct kdp_in6 *addr, uint16_t port, uint8_t type, void *arg)
{
	((struct fe6_build *)arg)->count++;
	return 0;
}

/* The id IPv6 frontend @p key keeps (from the IPv6 table in force, else the
 * one the flow state file had for it), or a new one. */
static uint32_t fe6_id(struct fe6_build *b, const struct kdp_svc6_key *key)
{
	struct kdp_svc6_fe *old = NULL;
	uint32_t id;

	if (b->ids != NULL)
		kdp_svc6_lookup_bulk(b->ids, key, 1, &old);
	if (old != NULL)
		return old->id;
	b->k->flows.fe_dirty = true;
	id = kdp_feid_take_reserved(&b->k->pub.feid, kdp_flows_restored_fe_id6(b->k, key));
	return id != 0 ? id : kdp_feid_take(&b->k->pub.feid, &b->k->pub.next_fe_id);
}

/* Sorts, hashes and prepares @p fe (be[] filled) and puts it into the
 * table, which takes its arrays even on error; a clash names who holds it. */
static int fe6_finish(struct fe6_build *b, struct kdp_svc6_fe *fe, const char *what)
{
	struct kdp_svc6_fe *o = NULL;
	struct kdp_in6 a;
	char key[64];
	int ret;

	memcpy(&a, fe->key.addr, 16);
	kdp_service_fe_name6(&a, rte_be_to_cpu_16(fe->key.port), fe->key.proto, key, sizeof(key));
	kdp_svc6_lookup_bulk(b->t, &fe->key, 1, &o);
	if (o != NULL) {
		kdp_svc6_fe_release(fe);
		return kdp_json_err(b->err, "", "%s: frontend %s is already %s's", what, key,
				    o->name);
	}
	/* Canonical order: Maglev then gives every node the same table. */
	qsort(fe->be, fe->n_be, sizeof(*fe->be), be6_cmp);
	fe->gen = rte_jhash(fe->be, sizeof(*fe->be) * fe->n_be, fe->n_be) | 1;
	ret = kdp_svc6_fe_prepare(fe, b->k->cfg.maglev_m);
	if (ret == 0)
		ret = kdp_svc6_table_add(b->t, fe);
	else
		kdp_svc6_fe_release(fe);
	if (ret != 0)
		snprintf(b->err, KDP_ERR_LEN, "%s: frontend %s: %s", what, key, strerror(-ret));
	return ret;
}

static int add_fe6(const struct kdp_service *s, const struct kdp_svc_port_cfg *pc,
		   const struct kdp_in6 *addr, uint16_t port, uint8_t type, void *arg)
{
	struct fe6_build *b = arg;
	struct kdp_svc6_fe fe;
	char what[2 * KDP_NAME_LEN + 16];
	unsigned int nr;

	memset(&fe, 0, sizeof(fe));
	memcpy(fe.key.addr, addr, 16);
	fe.key.port = rte_cpu_to_be_16(port);
	fe.key.proto = pc->proto;
	fe.id = fe6_id(b, &fe.key);
	fe.type = type;
	fe.algo = s->algo;
	fe.affinity = s->affinity;
	fe.affinity_timeout_s = s->affinity_timeout_s;
	fe.local_only = fe_local_only(s, type);
	copy_name(fe.name, sizeof(fe.name), s->ns, s->name);
	snprintf(fe.port_name, sizeof(fe.port_name), "%s", pc->name);
	snprintf(what, sizeof(what), "services[%s]", fe.name);
	nr = fe_ranges(s, type, true);
	fe.be = calloc(s->n_be ? s->n_be : 1, sizeof(*fe.be));
	fe.ranges = nr > 0 ? malloc(sizeof(*fe.ranges) * nr) : NULL;
	if (fe.be == NULL || (nr > 0 && fe.ranges == NULL)) {
		kdp_svc6_fe_release(&fe);
		snprintf(b->err, KDP_ERR_LEN, "out of memory for service frontends");
		return -ENOMEM;
	}
	for (unsigned int i = 0; nr > 0 && i < s->n_ranges; i++) {
		if (!s->ranges[i].is6)
			continue;
		fe.ranges[fe.n_ranges].net = s->ranges[i].net6;
		fe.ranges[fe.n_ranges++].plen = s->ranges[i].plen;
	}
	for (unsigned int i = 0; i < s->n_be; i++) {
		const struct kdp_svc_be_cfg *c = &s->be[i];
		struct kdp_svc6_backend *be = &fe.be[fe.n_be];

		if (!c->is6)
			continue; /* an IPv6 frontend takes IPv6 backends */
		memcpy(be->ip, &c->ip6, 16);
		be->port = rte_cpu_to_be_16(c->port ? c->port : pc->target);
		be->state = c->state;
		/* Local: nodeName is this node's; without one, a local pod. */
		be->local = c->node ? c->node == b->self_node
				    : bsearch(&c->ip6, b->local, b->n_local, sizeof(*b->local),
					      in6_cmp) != NULL;
		fe.n_be++;
	}
	if (type == KDP_SVC_CLUSTER_IP) {
		/* A Local Redirect Policy replaces the backends by the local
		 * endpoints' IPv6 addresses, while there is at least one. */
		const struct kdp_lrp_port *bp = NULL;
		const struct kdp_lrp *l = lrp_for(b->st, s, pc, &bp);
		struct kdp_svc6_backend *local = NULL;
		int n = l ? lrp_backends6(b->st, l, rte_cpu_to_be_16(bp->port), &local) : 0;

		if (n < 0) {
			kdp_svc6_fe_release(&fe);
			snprintf(b->err, KDP_ERR_LEN, "out of memory for service frontends");
			return n;
		}
		if (n > 0) {
			free(fe.be);
			fe.be = local;
			fe.n_be = (uint16_t)n;
			fe.type = KDP_SVC_LOCAL_REDIRECT;
			fe.local_only = 0;
			copy_name(fe.lrp, sizeof(fe.lrp), l->ns, l->name);
		} else {
			free(local);
		}
	}
	return fe6_finish(b, &fe, what);
}

/* The frontends of IPv6 addressMatcher policy @p l that has local
 * endpoints, as add_lrp_groups() makes the IPv4 ones. */
static int add_lrp6(struct fe6_build *b, const struct kdp_lrp *l)
{
	char what[2 * KDP_NAME_LEN + 32];

	for (unsigned int j = 0; j < l->n_fports; j++) {
		const struct kdp_lrp_port *fp = &l->fports[j];
		const struct kdp_lrp_port *bp = kdp_lrp_backend_port(l, fp->name, fp->proto);
		struct kdp_svc6_fe fe;
		int n;

		if (bp == NULL)
			continue;
		memset(&fe, 0, sizeof(fe));
		n = lrp_backends6(b->st, l, rte_cpu_to_be_16(bp->port), &fe.be);
		if (n <= 0) {
			free(fe.be);
			if (n == 0)
				continue; /* no local endpoint: not redirected */
			snprintf(b->err, KDP_ERR_LEN, "out of memory for service frontends");
			return n;
		}
		fe.n_be = (uint16_t)n;
		memcpy(fe.key.addr, &l->ip6, 16);
		fe.key.port = rte_cpu_to_be_16(fp->port);
		fe.key.proto = fp->proto;
		fe.id = fe6_id(b, &fe.key);
		fe.type = KDP_SVC_LOCAL_REDIRECT;
		copy_name(fe.name, sizeof(fe.name), l->ns, l->name);
		copy_name(fe.lrp, sizeof(fe.lrp), l->ns, l->name);
		snprintf(fe.port_name, sizeof(fe.port_name), "%s", fp->name);
		snprintf(what, sizeof(what), "localRedirectPolicies[%s]", fe.name);
		if ((n = fe6_finish(b, &fe, what)) != 0)
			return n;
	}
	return 0;
}

/* The IPv6 frontend table of @p st (with IPv6 on), built whole; ids kept
 * from @p cur, the one in force. @return it, or NULL with @p err set. */
static struct kdp_svc6_table *build_services6(struct kdp *k, const struct kdp_state *st,
					      const struct kdp_svc6_table *cur, uint64_t gen,
					      char *err)
{
	struct fe6_build b = {.k = k, .st = st, .ids = cur, .err = err};
	const struct kdp_in6 *node6 = &k->cfg.node_ip6;
	char name[32];
	int ret = 0;

	b.local = malloc(sizeof(*b.local) * (st->n_eps + 1));
	if (b.local == NULL) {
		snprintf(err, KDP_ERR_LEN, "out of memory for the IPv6 service table");
		return NULL;
	}
	for (unsigned int i = 0; i < st->n_eps; i++)
		if (st->eps[i].port >= 0 && st->eps[i].has_ip6)
			b.local[b.n_local++] = st->eps[i].ip6;
	qsort(b.local, b.n_local, sizeof(*b.local), in6_cmp);
	for (unsigned int i = 0; i < st->n_svcs; i++)
		kdp_service_foreach_frontend6(st->svcs[i], node6, count_fe6, &b);
	for (unsigned int i = 0; i < st->n_lrps; i++)
		b.count += st->lrps[i].address && st->lrps[i].is6 ? st->lrps[i].n_fports : 0;
	snprintf(name, sizeof(name), "kdp_svc6_%" PRIu64, gen);
	b.t = kdp_svc6_table_create(name, b.count, k->pub.next_fe_id + b.count,
				    (int)rte_socket_id());
	if (b.t == NULL) {
		snprintf(err, KDP_ERR_LEN, "cannot create the IPv6 service table: %s",
			 rte_strerror(rte_errno));
		free(b.local);
		return NULL;
	}
	for (unsigned int i = 0; i < st->n_svcs && ret == 0; i++) {
		const struct kdp_service *s = st->svcs[i];

		b.self_node = 0;
		for (unsigned int j = 0; j < s->n_nodes && b.self_node == 0; j++)
			if (strcmp(s->nodes[j], k->cfg.name) == 0)
				b.self_node = (int)j + 1;
		ret = kdp_service_foreach_frontend6(s, node6, add_fe6, &b);
	}
	/* The IPv6 addressMatcher policies' frontends. */
	for (unsigned int i = 0; i < st->n_lrps && ret == 0; i++)
		if (st->lrps[i].address && st->lrps[i].is6)
			ret = add_lrp6(&b, &st->lrps[i]);
	free(b.local);
	if (ret != 0) {
		kdp_svc6_table_free(b.t);
		return NULL;
	}
	if (cur == NULL || cur->n_fe != b.t->n_fe)
		k->flows.fe_dirty = true;
	return b.t;
}

void kdp_dp_svc6_frontends(const struct kdp *k, const char *ns, const char *name, bool by_lrp,
			   void (*fn)(const struct kdp_svc6_fe *fe, void *arg), void *arg)
{
	const struct kdp_snapshot *s = atomic_load(&k->pub.snap);
	const struct kdp_svc6_table *t = s ? s->dp.svc6 : NULL;
	char want[2 * KDP_NAME_LEN + 2];

	copy_name(want, sizeof(want), ns, name);
	for (uint32_t i = 0; t != NULL && i < t->n_fe; i++)
		if (strcmp(by_lrp ? t->fe[i].lrp : t->fe[i].name, want) == 0)
			fn(&t->fe[i], arg);
}

/* What the routes depend on, hashed: a snapshot whose routes would not
 * change shares the current route table (an rte_lpm is 64 MiB). */
static uint64_t route_sig(const struct kdp *k, const struct kdp_state *st)
{
	uint64_t h = rte_jhash(st->nodes, sizeof(*st->nodes) * st->n_nodes, st->n_nodes);

	for (unsigned int i = 0; i < st->n_eps; i++) {
		const struct kdp_endpoint *e = &st->eps[i];
		/* Copied out: the MAC and the IPv6 address are not 4-byte aligned
		 * in the endpoint, rte_jhash reads 32-bit words. */
		uint32_t mac[2] = {0, 0}, ip6[4];

		memcpy(mac, &e->mac, sizeof(e->mac));
		h = h * 31 + rte_jhash_3words(e->ip, (uint32_t)e->port,
					      rte_jhash_2words(mac[0], mac[1], 0), (uint32_t)i);
		if (e->has_ip6) {
			memcpy(ip6, &e->ip6, sizeof(ip6));
			h = h * 31 + rte_jhash_32b(ip6, 4, (uint32_t)i);
		}
	}
	return (h << 1) | 1;
}

/* ---- non-masquerade set ---- */

static uint64_t masq_sig(const struct kdp *k, const struct kdp_state *st)
{
	/* The config, not the text it came from. */
	uint64_t h = rte_jhash(&st->ipmasq, offsetof(struct kdp_ipmasq, text), 7);

	for (unsigned int i = 0; i < st->n_nodes; i++) {
		h = h * 31 + st->nodes[i].ip;
		if (st->nodes[i].has_ip6) {
			uint32_t ip6[4]; /* copied out: not 4-byte aligned in the node */

			memcpy(ip6, &st->nodes[i].ip6, sizeof(ip6));
			h = h * 31 + rte_jhash_32b(ip6, 4, 6);
		}
	}
	return (h << 1) | 1;
}

/* A set nobody holds: kept (emptied) for the next build, or freed. */
static void masq_put(struct kdp_publisher *pub, const struct kdp_masq_set *c)
{
	struct kdp_masq_set *m = (struct kdp_masq_set *)c;

	if (m == NULL || --m->refs != 0)
		return;
	if (pub != NULL && pub->spare_masq == NULL) {
		kdp_masq_set_reset(m);
		pub->spare_masq = m;
		return;
	}
	kdp_masq_set_free(m);
}

/* Likewise for a route table. */
static void route_put(struct kdp_publisher *pub, struct kdp_route_table *rt)
{
	if (rt == NULL || --rt->refs != 0)
		return;
	if (pub != NULL && pub->spare_rt == NULL) {
		kdp_route_reset(rt);
		pub->spare_rt = rt;
		return;
	}
	kdp_route_free(rt);
}

/* The set of destinations never masqueraded; shared with the current
 * snapshot when nothing it depends on changed (its rte_lpm is 64 MiB). */
static struct kdp_masq_set *build_masq(struct kdp *k, const struct kdp_state *st,
				       uint64_t gen, char *err)
{
	const struct kdp_snapshot *cur = atomic_load(&k->pub.snap);
	uint64_t sig = masq_sig(k, st);
	uint32_t *ips = NULL;
	struct kdp_masq_set *m;
	char name[32];
	int ret;

	if (cur != NULL && cur->dp.masq != NULL && cur->dp.masq->sig == sig) {
		m = (struct kdp_masq_set *)cur->dp.masq;
		m->refs++;
		return m;
	}
	m = k->pub.spare_masq;
	k->pub.spare_masq = NULL;
	if (m != NULL && m->max_entries < kdp_ipmasq_set_size(&st->ipmasq, st->n_nodes)) {
		kdp_masq_set_free(m); /* too small for this config */
		m = NULL;
	}
	snprintf(name, sizeof(name), "kdp_masq_%" PRIu64, gen);
	if (m == NULL)
		m = kdp_masq_set_create(name, kdp_ipmasq_set_size(&st->ipmasq, st->n_nodes),
					(int)rte_socket_id());
	if (m == NULL) {
		snprintf(err, KDP_ERR_LEN, "cannot create the non-masquerade set: %s",
			 rte_strerror(rte_errno));
		return NULL;
	}
	m->refs = 1;
	ips = malloc(sizeof(*ips) * (st->n_nodes + 1));
	if (ips == NULL) {
		masq_put(&k->pub, m);
		return NULL;
	}
	for (unsigned int i = 0; i < st->n_nodes; i++)
		ips[i] = st->nodes[i].ip;
	ret = kdp_ipmasq_build(&st->ipmasq, k->cfg.native_cidr, k->cfg.native_plen, ips,
			       st->n_nodes, m);
	free(ips);
	if (ret != 0) {
		snprintf(err, KDP_ERR_LEN, "ipMasqAgent: cannot build the set: %s",
			 strerror(-ret));
		masq_put(&k->pub, m);
		return NULL;
	}
	m->sig = sig;
	return m;
}

/* The IPv6 non-masquerade set, shared as the IPv4 one (same signature). */
static struct kdp_masq_set6 *build_masq6(struct kdp *k, const struct kdp_state *st, char *err)
{
	const struct kdp_snapshot *cur = atomic_load(&k->pub.snap);
	uint64_t sig = masq_sig(k, st);
	struct kdp_in6 *ips;
	struct kdp_masq_set6 *m;
	unsigned int n = 0;
	int ret;

	if (cur != NULL && cur->dp.masq6 != NULL && cur->dp.masq6->sig == sig) {
		m = (struct kdp_masq_set6 *)cur->dp.masq6;
		m->refs++;
		return m;
	}
	m = kdp_masq_set6_create(kdp_ipmasq_set6_size(&st->ipmasq, st->n_nodes));
	ips = malloc(sizeof(*ips) * (st->n_nodes + 1));
	if (m == NULL || ips == NULL) {
		snprintf(err, KDP_ERR_LEN, "cannot create the IPv6 non-masquerade set: %s",
			 strerror(ENOMEM));
		kdp_masq_set6_free(m);
		free(ips);
		return NULL;
	}
	m->refs = 1;
	for (unsigned int i = 0; i < st->n_nodes; i++)
		if (st->nodes[i].has_ip6)
			ips[n++] = st->nodes[i].ip6;
	ret = kdp_ipmasq_build6(&st->ipmasq, &k->cfg.native_cidr6, k->cfg.native_plen6, ips, n,
				m);
	free(ips);
	if (ret != 0) {
		snprintf(err, KDP_ERR_LEN, "ipMasqAgent: cannot build the IPv6 set: %s",
			 strerror(-ret));
		kdp_masq_set6_free(m);
		return NULL;
	}
	m->sig = sig;
	return m;
}

static void masq6_put(const struct kdp_masq_set6 *c)
{
	struct kdp_masq_set6 *m = (struct kdp_masq_set6 *)c;

	if (m != NULL && --m->refs == 0)
		kdp_masq_set6_free(m);
}

/* Port @p p belongs to state @p st: the uplink, the host tap, or one of its
 * endpoints' ports. */
static bool port_in(const struct kdp *k, const struct kdp_state *st, uint16_t p)
{
	if (p == k->uplink || p == k->host)
		return true;
	for (unsigned int i = 0; i < st->n_eps; i++)
		if (st->eps[i].port == p)
			return true;
	return false;
}

struct kdp_snapshot *kdp_dp_build(struct kdp *k, const struct kdp_state *st,
				  char *err)
{
	const struct kdp_snapshot *cur = atomic_load(&k->pub.snap);
	uint64_t sig = route_sig(k, st);
	unsigned int nq = 0, per[KDP_MAX_WORKERS] = {0}, at = 0;
	struct kdp_rxq *q[KDP_MAX_WORKERS];
	struct kdp_snapshot *s;
	char name[32];

	kdp_feid_begin(&k->pub.feid);
	/* RX queues spread over workers: worker (port + queue) % workers. */
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++)
		for (uint16_t i = 0; k->ports[p].used && i < k->ports[p].nrxq; i++) {
			per[(p + i) % k->cfg.workers]++;
			nq++;
		}
	s = rte_zmalloc("kdp_snapshot", sizeof(*s) + nq * sizeof(s->q[0]), 0);
	if (s == NULL) {
		snprintf(err, KDP_ERR_LEN, "out of memory for a snapshot");
		return NULL;
	}
	for (unsigned int w = 0; w < k->cfg.workers; w++) {
		q[w] = &s->q[at];
		s->rxq[w] = q[w];
		at += per[w];
	}
	s->gen = ++k->pub.gen;
	s->dp.node_ip = k->cfg.node_ip;
	s->dp.mac = k->mac;
	s->dp.uplink_port = k->uplink;
	snprintf(name, sizeof(name), "kdp_rt_%" PRIu64, s->gen);
	s->pub = &k->pub;
	if (cur != NULL && cur->dp.rt->sig == sig) {
		s->dp.rt = cur->dp.rt;
		s->dp.rt->refs++;
	} else if (k->pub.spare_rt != NULL) {
		/* A table whose readers are gone, emptied: no 64 MiB to get. */
		s->dp.rt = k->pub.spare_rt;
		k->pub.spare_rt = NULL;
	} else {
		s->dp.rt = kdp_route_create(name, k->cfg.max_routes, (int)rte_socket_id());
	}
	if (s->dp.rt == NULL) {
		snprintf(err, KDP_ERR_LEN, "cannot create a route table: %s",
			 rte_strerror(rte_errno));
		rte_free(s);
		return NULL;
	}
	/* The ports of this state only: an endpoint's port that goes with it
	 * stays open until the snapshots that poll it are retired, but never
	 * again in a new one (its close waits for exactly that). */
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++) {
		const struct kdp_port *kp = &k->ports[p];

		if (!kp->used || !port_in(k, st, p))
			continue;
		s->dp.ports[p].role = kp->role;
		s->dp.ports[p].mtu = k->cfg.mtu;
		s->dp.ports[p].tx_csum = kp->tx_csum;
		s->dp.ports[p].tx_tso = kp->tx_tso;
		for (uint16_t i = 0; i < kp->nrxq; i++) {
			unsigned int w = (p + i) % k->cfg.workers;
			q[w][s->n_rxq[w]].port = p;
			q[w][s->n_rxq[w]++].queue = i;
		}
	}
	for (unsigned int i = 0; i < st->n_eps; i++)
		if (st->eps[i].port >= 0) {
			s->dp.ports[st->eps[i].port].pod_ip = st->eps[i].ip;
			if (st->eps[i].has_ip6)
				s->dp.ports[st->eps[i].port].pod_ip6 = st->eps[i].ip6;
		}
	if (k->cfg.has_ip6) {
		s->dp.node_ip6 = k->cfg.node_ip6;
		s->dp.pod_gw6 = k->cfg.pod_gw6;
		s->dp.loopback_ip6 = k->cfg.loopback_ip6;
		s->dp.svc_cidr6 = k->cfg.svc_cidr6;
		s->dp.svc_plen6 = k->cfg.svc_plen6;
		if (cur != NULL && cur->dp.rt6 != NULL && cur->dp.rt6->sig == sig) {
			s->dp.rt6 = cur->dp.rt6;
			s->dp.rt6->refs++;
		} else {
			snprintf(name, sizeof(name), "kdp_rt6_%" PRIu64, s->gen);
			s->dp.rt6 = kdp_route6_create(name, k->cfg.max_routes, (int)rte_socket_id());
			if (s->dp.rt6 == NULL) {
				snprintf(err, KDP_ERR_LEN, "cannot create an IPv6 route table: %s",
					 rte_strerror(rte_errno));
				kdp_dp_free(s);
				return NULL;
			}
			if (build_routes6(k, st, s->dp.rt6, err) != 0) {
				kdp_dp_free(s);
				return NULL;
			}
			s->dp.rt6->sig = sig;
		}
	}
	s->dp.loopback_ip = k->cfg.loopback_ip;
	s->dp.svc_cidr = k->cfg.svc_cidr;
	s->dp.svc_plen = k->cfg.svc_plen;
	if (s->dp.rt->sig != sig) {
		if (build_routes(k, st, s->dp.rt, err) != 0) {
			kdp_dp_free(s);
			return NULL;
		}
		s->dp.rt->sig = sig;
	}
	s->fes = build_services(k, st, cur ? cur->fes : NULL, err);
	if (s->fes == NULL) {
		kdp_dp_free(s);
		return NULL;
	}
	s->dp.svc = s->fes->t;
	if (k->cfg.has_ip6) {
		s->dp.svc6 = build_services6(k, st, cur ? cur->dp.svc6 : NULL, s->gen, err);
		if (s->dp.svc6 == NULL) {
			kdp_dp_free(s);
			return NULL;
		}
	}
	s->dp.masq = k->cfg.masquerade ? build_masq(k, st, s->gen, err) : NULL;
	if (k->cfg.masquerade && s->dp.masq == NULL) {
		kdp_dp_free(s);
		return NULL;
	}
	if (k->cfg.masquerade && k->cfg.has_ip6) {
		s->dp.masq6 = build_masq6(k, st, err);
		if (s->dp.masq6 == NULL) {
			kdp_dp_free(s);
			return NULL;
		}
	}
	/* Flows and affinity pins hold frontend ids: the ids in force are
	 * saved with them, before any flow can use a new one. */
	if (k->flows.fe_dirty) {
		kdp_flows_save_fe(k, s->dp.svc, s->dp.svc6);
		k->flows.fe_dirty = false;
	}
	return s;
}

void kdp_dp_free(struct kdp_snapshot *s)
{
	if (s == NULL)
		return;
	route_put(s->pub, s->dp.rt);
	if (s->dp.rt6 != NULL && --s->dp.rt6->refs == 0)
		kdp_route6_free(s->dp.rt6);
	fe_set_put(s->fes);
	kdp_svc6_table_free((struct kdp_svc6_table *)s->dp.svc6);
	masq_put(s->pub, s->dp.masq);
	masq6_put(s->dp.masq6);
	rte_free(s);
}

void kdp_dp_shutdown(struct kdp *k)
{
	kdp_dp_reclaim(k, true);
	kdp_dp_free(atomic_exchange(&k->pub.snap, NULL));
	kdp_route_free(k->pub.spare_rt);
	kdp_masq_set_free(k->pub.spare_masq);
	k->pub.spare_rt = NULL;
	k->pub.spare_masq = NULL;
}

void kdp_dp_reclaim(struct kdp *k, bool wait)
{
	unsigned int done = 0;

	while (done < k->pub.n_retired) {
		struct kdp_retired *r = &k->pub.retired[done];

		if (rte_rcu_qsbr_check(k->qsbr, r->token, wait) != 1)
			break;
		kdp_dp_free(r->s);
		for (uint16_t i = 0; i < r->n_close; i++)
			kdp_port_close(k, r->close[i]);
		free(r->close);
		done++;
	}
	memmove(k->pub.retired, k->pub.retired + done, sizeof(*k->pub.retired) * (k->pub.n_retired - done));
	k->pub.n_retired -= done;
}

bool kdp_dp_closing_ports(const struct kdp *k)
{
	for (unsigned int i = 0; i < k->pub.n_retired; i++)
		if (k->pub.retired[i].n_close > 0)
			return true;
	return false;
}

/* True when table @p t or @p t6 has a frontend with id @p id. */
static bool holds_id(const struct kdp_svc_table *t, const struct kdp_svc6_table *t6, uint32_t id)
{
	return (t != NULL && id <= t->max_id && t->by_id[id] != NULL) ||
	       (t6 != NULL && id <= t6->max_id && t6->by_id[id] != NULL);
}

/* The ids of @p old's frontends that @p s has not: released (kdp_feid.h),
 * readers' grace period from @p token. */
static void release_fe_ids(struct kdp *k, const struct kdp_snapshot *old,
			   const struct kdp_snapshot *s, uint64_t token)
{
	const struct kdp_svc_table *t = old->dp.svc, *nt = s->dp.svc;
	const struct kdp_svc6_table *t6 = old->dp.svc6, *nt6 = s->dp.svc6;

	if (t == nt && t6 == nt6)
		return;
	for (uint32_t id = 1; t != NULL && id <= t->max_id; id++)
		if (t->by_id[id] != NULL && !holds_id(nt, nt6, id))
			kdp_feid_release(&k->pub.feid, id, token);
	for (uint32_t id = 1; t6 != NULL && id <= t6->max_id; id++)
		if (t6->by_id[id] != NULL && !holds_id(nt, nt6, id))
			kdp_feid_release(&k->pub.feid, id, token);
}

void kdp_dp_publish(struct kdp *k, struct kdp_snapshot *s, const uint16_t *close,
		    unsigned int n_close)
{
	struct kdp_retired *r;

	if (k->pub.n_retired == KDP_MAX_RETIRED)
		kdp_dp_reclaim(k, true);
	r = &k->pub.retired[k->pub.n_retired++];
	/* Readers that saw the old pointer are the ones the token waits for:
	 * take it after the swap. An update no longer waits for the workers
	 * (a preempted worker used to hold the API for milliseconds). */
	r->s = atomic_exchange(&k->pub.snap, s);
	r->token = rte_rcu_qsbr_start(k->qsbr);
	fe_set_commit(s->fes, r->s ? r->s->fes : NULL);
	kdp_feid_commit(&k->pub.feid);
	if (r->s != NULL)
		release_fe_ids(k, r->s, s, r->token);
	r->n_close = 0;
	r->close = NULL;
	if (n_close > 0) {
		r->close = malloc(sizeof(*close) * n_close);
		if (r->close != NULL) {
			memcpy(r->close, close, sizeof(*close) * n_close);
			r->n_close = (uint16_t)n_close;
		} else {
			/* No room to remember them: close them after waiting. */
			kdp_dp_reclaim(k, true);
			for (unsigned int i = 0; i < n_close; i++)
				kdp_port_close(k, close[i]);
		}
	}
	kdp_dp_reclaim(k, false);
}

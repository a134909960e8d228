/* SPDX-License-Identifier: BSD-3-Clause */
/* The control thread's side of the dataplane: building a snapshot (routes,
 * service frontends, the non-masquerade set, port roles, which worker polls
 * which queue) from the desired state, publishing it with RCU, and freeing
 * retired ones (and closing their removed ports) after the grace period. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_jhash.h>
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

struct fe_build {
	struct kdp *k;
	const struct kdp_state *st;
	struct kdp_svc_table *t;
	struct kdp_svc6_table *t6; /* the IPv6 frontends */
	uint32_t count6;
	json_t *ids; /* the id map of this build */
	uint32_t count;
	int ret;
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

static bool local_ip6(const struct kdp_state *st, const struct kdp_in6 *ip)
{
	for (unsigned int i = 0; i < st->n_eps; i++)
		if (st->eps[i].has_ip6 && st->eps[i].port >= 0 && kdp_addr6_eq(&st->eps[i].ip6, ip))
			return true;
	return false;
}

static bool local_ip(const struct kdp_state *st, uint32_t ip)
{
	for (unsigned int i = 0; i < st->n_eps; i++)
		if (st->eps[i].ip == ip && st->eps[i].port >= 0)
			return true;
	return false;
}

/* Stable id of a frontend: kept from the previous build, else new. */
static uint32_t fe_id(struct fe_build *b, const char *key)
{
	json_t *old = json_object_get(b->k->pub.fe_ids, key);
	uint32_t id = old ? (uint32_t)json_integer_value(old) : ++b->k->pub.next_fe_id;

	json_object_set_new(b->ids, key, json_integer(id));
	return id;
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

static int count_fe(const struct kdp_service *s, const struct kdp_svc_port_cfg *pc,
		    uint32_t addr, uint16_t port, uint8_t type, void *arg)
{
	((struct fe_build *)arg)->count++;
	return 0;
}

/* Sorts, hashes and prepares @p fe, then adds it to the table. */
static int fe_finish(struct fe_build *b, struct kdp_svc_fe *fe)
{
	int ret;

	/* Canonical order: Maglev then gives every node the same table. */
	qsort(fe->be, fe->n_be, sizeof(*fe->be), be_cmp);
	fe->gen = rte_jhash(fe->be, sizeof(*fe->be) * fe->n_be, fe->n_be) | 1;
	ret = kdp_svc_fe_prepare(fe, b->k->cfg.maglev_m);
	if (ret == 0)
		return kdp_svc_table_add(b->t, fe);
	free(fe->be);
	free(fe->sel);
	free(fe->maglev);
	return ret;
}

static int add_fe(const struct kdp_service *s, const struct kdp_svc_port_cfg *pc,
		  uint32_t addr, uint16_t port, uint8_t type, void *arg)
{
	struct fe_build *b = arg;
	struct kdp_svc_fe fe;
	char key[48];
	int ret;

	memset(&fe, 0, sizeof(fe));
	kdp_service_fe_name(addr, port, pc->proto, key, sizeof(key));
	fe.id = fe_id(b, key);
	fe.key.addr = rte_cpu_to_be_32(addr);
	fe.key.port = rte_cpu_to_be_16(port);
	fe.key.proto = pc->proto;
	fe.type = type;
	fe.algo = s->algo;
	fe.affinity = s->affinity;
	fe.affinity_timeout_s = s->affinity_timeout_s;
	snprintf(fe.name, sizeof(fe.name), "%s/%s", s->ns, s->name);
	snprintf(fe.port_name, sizeof(fe.port_name), "%s", pc->name);
	fe.be = calloc(s->n_be ? s->n_be : 1, sizeof(*fe.be));
	if (fe.be == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < s->n_be; i++) {
		struct kdp_svc_backend *be = &fe.be[fe.n_be];

		if (s->be[i].is6)
			continue; /* an IPv4 frontend takes IPv4 backends */
		be->ip = rte_cpu_to_be_32(s->be[i].ip);
		be->port = rte_cpu_to_be_16(s->be[i].port ? s->be[i].port : pc->target);
		be->state = s->be[i].state;
		be->local = local_ip(b->st, s->be[i].ip);
		fe.n_be++;
	}
	if (type == KDP_SVC_CLUSTER_IP) {
		/* A Local Redirect Policy replaces the backends by the local
		 * endpoints it selects, while there is at least one. */
		const struct kdp_lrp_port *bp = NULL;
		const struct kdp_lrp *l = lrp_for(b->st, s, pc, &bp);
		struct kdp_svc_backend *local = NULL;
		int n = l ? lrp_backends(b->st, l, rte_cpu_to_be_16(bp->port), &local) : 0;

		if (n < 0) {
			free(fe.be);
			return n;
		}
		if (n > 0) {
			free(fe.be);
			fe.be = local;
			fe.n_be = (uint16_t)n;
			fe.type = KDP_SVC_LOCAL_REDIRECT;
			snprintf(fe.lrp, sizeof(fe.lrp), "%s/%s", l->ns, l->name);
		} else {
			free(local);
		}
	}
	ret = fe_finish(b, &fe);
	if (ret != 0)
		snprintf(b->err, KDP_ERR_LEN, "services[%s/%s]: frontend %s: %s", s->ns,
			 s->name, key, strerror(-ret));
	return ret;
}

/* Frontends of addressMatcher policies that have local endpoints. */
static int add_lrp_fes(struct fe_build *b)
{
	const struct kdp_state *st = b->st;

	for (unsigned int i = 0; i < st->n_lrps; i++) {
		const struct kdp_lrp *l = &st->lrps[i];

		for (unsigned int j = 0; l->address && j < l->n_fports; j++) {
			const struct kdp_lrp_port *f = &l->fports[j];
			const struct kdp_lrp_port *bp = kdp_lrp_backend_port(l, f->name, f->proto);
			struct kdp_svc_fe fe;
			char key[48];
			int n, ret;

			if (bp == NULL)
				continue;
			memset(&fe, 0, sizeof(fe));
			n = lrp_backends(st, l, rte_cpu_to_be_16(bp->port), &fe.be);
			if (n <= 0) {
				free(fe.be);
				if (n < 0)
					return n;
				continue; /* no local endpoint: not redirected */
			}
			kdp_service_fe_name(l->ip, f->port, f->proto, key, sizeof(key));
			fe.n_be = (uint16_t)n;
			fe.id = fe_id(b, key);
			fe.key.addr = rte_cpu_to_be_32(l->ip);
			fe.key.port = rte_cpu_to_be_16(f->port);
			fe.key.proto = f->proto;
			fe.type = KDP_SVC_LOCAL_REDIRECT;
			snprintf(fe.name, sizeof(fe.name), "%s/%s", l->ns, l->name);
			snprintf(fe.port_name, sizeof(fe.port_name), "%s", f->name);
			snprintf(fe.lrp, sizeof(fe.lrp), "%s/%s", l->ns, l->name);
			ret = fe_finish(b, &fe);
			if (ret != 0) {
				snprintf(b->err, KDP_ERR_LEN,
					 "localRedirectPolicies[%s/%s]: frontend %s: %s", l->ns,
					 l->name, key, strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

/* ---- IPv6 frontends ---- */

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
	((struct fe_build *)arg)->count6++;
	return 0;
}

static int fe6_finish(struct fe_build *b, struct kdp_svc6_fe *fe)
{
	int ret;

	qsort(fe->be, fe->n_be, sizeof(*fe->be), be6_cmp);
	fe->gen = rte_jhash(fe->be, sizeof(*fe->be) * fe->n_be, fe->n_be) | 1;
	ret = kdp_svc6_fe_prepare(fe, b->k->cfg.maglev_m);
	if (ret == 0)
		return kdp_svc6_table_add(b->t6, fe);
	free(fe->be);
	free(fe->sel);
	free(fe->maglev);
	return ret;
}

static int add_fe6(const struct kdp_service *s, const struct kdp_svc_port_cfg *pc,
		   const struct kdp_in6 *addr, uint16_t port, uint8_t type, void *arg)
{
	struct fe_build *b = arg;
	struct kdp_svc6_fe fe;
	char key[64];
	int ret;

	memset(&fe, 0, sizeof(fe));
	kdp_service_fe_name6(addr, port, pc->proto, key, sizeof(key));
	fe.id = fe_id(b, key);
	memcpy(fe.key.addr, addr, 16);
	fe.key.port = rte_cpu_to_be_16(port);
	fe.key.proto = pc->proto;
	fe.type = type;
	fe.algo = s->algo;
	fe.affinity = s->affinity;
	fe.affinity_timeout_s = s->affinity_timeout_s;
	snprintf(fe.name, sizeof(fe.name), "%s/%s", s->ns, s->name);
	snprintf(fe.port_name, sizeof(fe.port_name), "%s", pc->name);
	fe.be = calloc(s->n_be ? s->n_be : 1, sizeof(*fe.be));
	if (fe.be == NULL)
		return -ENOMEM;
	for (unsigned int i = 0; i < s->n_be; i++) {
		struct kdp_svc6_backend *be = &fe.be[fe.n_be];

		if (!s->be[i].is6)
			continue; /* an IPv6 frontend takes IPv6 backends */
		memcpy(be->ip, &s->be[i].ip6, 16);
		be->port = rte_cpu_to_be_16(s->be[i].port ? s->be[i].port : pc->target);
		be->state = s->be[i].state;
		be->local = local_ip6(b->st, &s->be[i].ip6);
		fe.n_be++;
	}
	if (type == KDP_SVC_CLUSTER_IP) {
		const struct kdp_lrp_port *bp = NULL;
		const struct kdp_lrp *l = lrp_for(b->st, s, pc, &bp);
		struct kdp_svc6_backend *local = NULL;
		int n = l ? lrp_backends6(b->st, l, rte_cpu_to_be_16(bp->port), &local) : 0;

		if (n < 0) {
			free(fe.be);
			return n;
		}
		if (n > 0) {
			free(fe.be);
			fe.be = local;
			fe.n_be = (uint16_t)n;
			fe.type = KDP_SVC_LOCAL_REDIRECT;
			snprintf(fe.lrp, sizeof(fe.lrp), "%s/%s", l->ns, l->name);
		} else {
			free(local);
		}
	}
	ret = fe6_finish(b, &fe);
	if (ret != 0)
		snprintf(b->err, KDP_ERR_LEN, "services[%s/%s]: frontend %s: %s", s->ns, s->name,
			 key, strerror(-ret));
	return ret;
}

/* The IPv6 frontend table of @p b's state (with IPv6 on). */
static int build_services6(struct fe_build *b, uint64_t gen)
{
	const struct kdp_state *st = b->st;
	const struct kdp_in6 *node6 = &b->k->cfg.node_ip6;
	char name[32];

	for (unsigned int i = 0; i < st->n_svcs; i++)
		kdp_service_foreach_frontend6(&st->svcs[i], node6, count_fe6, b);
	snprintf(name, sizeof(name), "kdp_svc6_%" PRIu64, gen);
	b->t6 = kdp_svc6_table_create(name, b->count6, b->k->pub.next_fe_id + b->count6,
				      (int)rte_socket_id());
	if (b->t6 == NULL) {
		snprintf(b->err, KDP_ERR_LEN, "cannot create the IPv6 service table: %s",
			 rte_strerror(rte_errno));
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < st->n_svcs; i++)
		if (kdp_service_foreach_frontend6(&st->svcs[i], node6, add_fe6, b) != 0)
			return -EINVAL;
	return 0;
}

static struct kdp_svc_table *build_services(struct kdp *k, const struct kdp_state *st,
					    uint64_t gen, struct kdp_svc6_table **t6, char *err)
{
	struct fe_build b = {.k = k, .st = st, .ids = json_object(), .err = err};
	char name[32];

	if (b.ids == NULL)
		return NULL;
	for (unsigned int i = 0; i < st->n_svcs; i++)
		kdp_service_foreach_frontend(&st->svcs[i], k->cfg.node_ip, count_fe, &b);
	for (unsigned int i = 0; i < st->n_lrps; i++)
		b.count += st->lrps[i].address ? st->lrps[i].n_fports : 0;
	snprintf(name, sizeof(name), "kdp_svc_%" PRIu64, gen);
	/* Ids only grow; the by-id array covers every id handed out. */
	b.t = kdp_svc_table_create(name, b.count, k->pub.next_fe_id + b.count, (int)rte_socket_id());
	if (b.t == NULL) {
		snprintf(err, KDP_ERR_LEN, "cannot create the service table: %s",
			 rte_strerror(rte_errno));
		json_decref(b.ids);
		return NULL;
	}
	for (unsigned int i = 0; i < st->n_svcs; i++) {
		if (kdp_service_foreach_frontend(&st->svcs[i], k->cfg.node_ip, add_fe, &b)) {
			kdp_svc_table_free(b.t);
			json_decref(b.ids);
			return NULL;
		}
	}
	if (add_lrp_fes(&b) != 0) {
		kdp_svc_table_free(b.t);
		json_decref(b.ids);
		return NULL;
	}
	if (k->cfg.has_ip6 && build_services6(&b, gen) != 0) {
		kdp_svc_table_free(b.t);
		kdp_svc6_table_free(b.t6);
		json_decref(b.ids);
		return NULL;
	}
	*t6 = b.t6;
	json_decref(k->pub.fe_ids);
	k->pub.fe_ids = b.ids;
	return b.t;
}

/* What the routes depend on, hashed: a snapshot whose routes would not
 * change shares the current route table (an rte_lpm is 64 MiB). */
static uint64_t route_sig(const struct kdp *k, const struct kdp_state *st)
{
	uint64_t h = rte_jhash(st->nodes, sizeof(*st->nodes) * st->n_nodes, st->n_nodes);

	for (unsigned int i = 0; i < st->n_eps; i++) {
		const struct kdp_endpoint *e = &st->eps[i];
		h = h * 31 + rte_jhash_3words(e->ip, (uint32_t)e->port,
					      rte_jhash(&e->mac, sizeof(e->mac), 0),
					      (uint32_t)i);
		if (e->has_ip6)
			h = h * 31 + rte_jhash(&e->ip6, sizeof(e->ip6), (uint32_t)i);
	}
	return (h << 1) | 1;
}

/* ---- non-masquerade set ---- */

static uint64_t masq_sig(const struct kdp *k, const struct kdp_state *st)
{
	uint64_t h = rte_jhash(&st->ipmasq, sizeof(st->ipmasq), 7);

	for (unsigned int i = 0; i < st->n_nodes; i++) {
		h = h * 31 + st->nodes[i].ip;
		if (st->nodes[i].has_ip6)
			h = h * 31 + rte_jhash(&st->nodes[i].ip6, sizeof(st->nodes[i].ip6), 6);
	}
	return (h << 1) | 1;
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
	snprintf(name, sizeof(name), "kdp_masq_%" PRIu64, gen);
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
		kdp_masq_set_free(m);
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
		kdp_masq_set_free(m);
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

static void masq_put(const struct kdp_masq_set *c)
{
	struct kdp_masq_set *m = (struct kdp_masq_set *)c;

	if (m != NULL && --m->refs == 0)
		kdp_masq_set_free(m);
}

struct kdp_snapshot *kdp_dp_build(struct kdp *k, const struct kdp_state *st,
				  char *err)
{
	const struct kdp_snapshot *cur = atomic_load(&k->pub.snap);
	uint64_t sig = route_sig(k, st);
	struct kdp_snapshot *s = rte_zmalloc("kdp_snapshot", sizeof(*s), 0);
	char name[32];

	if (s == NULL) {
		snprintf(err, KDP_ERR_LEN, "out of memory for a snapshot");
		return NULL;
	}
	s->gen = ++k->pub.gen;
	s->dp.node_ip = k->cfg.node_ip;
	s->dp.mac = k->mac;
	s->dp.uplink_port = k->uplink;
	snprintf(name, sizeof(name), "kdp_rt_%" PRIu64, s->gen);
	if (cur != NULL && cur->dp.rt->sig == sig) {
		s->dp.rt = cur->dp.rt;
		s->dp.rt->refs++;
	} else {
		s->dp.rt = kdp_route_create(name, k->cfg.max_routes, (int)rte_socket_id());
	}
	if (s->dp.rt == NULL) {
		snprintf(err, KDP_ERR_LEN, "cannot create a route table: %s",
			 rte_strerror(rte_errno));
		rte_free(s);
		return NULL;
	}
	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++) {
		const struct kdp_port *kp = &k->ports[p];

		if (!kp->used)
			continue;
		s->dp.ports[p].role = kp->role;
		s->dp.ports[p].mtu = k->cfg.mtu;
		s->dp.ports[p].tx_csum = kp->tx_csum;
		for (uint16_t q = 0; q < kp->nrxq; q++) {
			unsigned int w = (p + q) % k->cfg.workers;
			s->rxq[w][s->n_rxq[w]].port = p;
			s->rxq[w][s->n_rxq[w]++].queue = q;
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
	s->dp.svc = build_services(k, st, s->gen, (struct kdp_svc6_table **)&s->dp.svc6, err);
	if (s->dp.svc == NULL) {
		kdp_dp_free(s);
		return NULL;
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
	return s;
}

void kdp_dp_free(struct kdp_snapshot *s)
{
	if (s == NULL)
		return;
	if (s->dp.rt != NULL && --s->dp.rt->refs == 0)
		kdp_route_free(s->dp.rt);
	if (s->dp.rt6 != NULL && --s->dp.rt6->refs == 0)
		kdp_route6_free(s->dp.rt6);
	kdp_svc_table_free((struct kdp_svc_table *)s->dp.svc);
	kdp_svc6_table_free((struct kdp_svc6_table *)s->dp.svc6);
	masq_put(s->dp.masq);
	masq6_put(s->dp.masq6);
	rte_free(s);
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
	r->n_close = (uint16_t)n_close;
	if (n_close > 0)
		memcpy(r->close, close, sizeof(*close) * n_close);
	kdp_dp_reclaim(k, false);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* REST API: the read-only views (status, counters, tables, conntrack, NAT,
 * metrics, the flow monitor) and the JSON of objects with their run-time
 * state. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "common/kdp_addr.h"
#include "common/kdp_clock.h"
#include "kdp_api_priv.h"
#include "kdp_ctl.h"
#include "kdp_flowmon.h"
#include "kdp_healthcheck.h"
#include "kdp_metrics.h"

static const char *port_label(const struct kdp *k, int port, char *buf, size_t len)
{
	if (port < 0)
		return NULL;
	if (port == k->uplink)
		return "uplink";
	if (port == k->host)
		return "host";
	snprintf(buf, len, "%s", k->ports[port].name);
	return buf;
}

static const char *link_state(const struct kdp *k, uint16_t port)
{
	return kdp_port_is_up(k, port) ? "up" : "down";
}

json_t *kdp_api_ep_json(const struct kdp *k, const struct kdp_endpoint *e)
{
	json_t *o = kdp_state_ep_json(e);

	if (e->port >= 0)
		json_object_set_new(o, "port",
				    json_pack("{s:i, s:s, s:s}", "id", e->port, "name",
					      k->ports[e->port].name, "state",
					      link_state(k, (uint16_t)e->port)));
	else
		json_object_set_new(o, "port", json_null());
	return o;
}

/* ---- services ---- */

/* What a Local policy and source ranges make of a frontend (either family). */
static void fe_policy_json(json_t *o, uint8_t local_only, uint16_t n_ranges)
{
	if (local_only)
		json_object_set_new(o, "trafficPolicy", json_string("Local"));
	if (n_ranges)
		json_object_set_new(o, "sourceRanges", json_integer(n_ranges));
}

static void fe_json(const struct kdp_svc_fe *fe, void *arg)
{
	char f[48], b[48];
	json_t *bes = json_array(), *o;

	kdp_service_fe_name(rte_be_to_cpu_32(fe->key.addr), rte_be_to_cpu_16(fe->key.port),
			    fe->key.proto, f, sizeof(f));
	for (uint16_t i = 0; i < fe->n_be; i++) {
		kdp_service_fe_name(rte_be_to_cpu_32(fe->be[i].ip),
				    rte_be_to_cpu_16(fe->be[i].port), fe->key.proto, b,
				    sizeof(b));
		json_array_append_new(bes, json_pack("{s:s, s:s, s:b}", "address", b, "state",
						     kdp_be_state_name(fe->be[i].state),
						     "local", fe->be[i].local));
	}
	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o}", "id", (int)fe->id, "frontend", f,
		      "type", kdp_svc_type_name(fe->type), "service", fe->name ? fe->name : "",
		      "algorithm", fe->algo == KDP_SVC_MAGLEV ? "maglev" : "random", "backends",
		      bes);
	fe_policy_json(o, fe->local_only, fe->n_ranges);
	json_array_append_new(arg, o);
}

static void fe6_json(const struct kdp_svc6_fe *fe, void *arg)
{
	char f[64], b[64];
	struct kdp_in6 a;
	json_t *bes = json_array(), *o;

	memcpy(&a, fe->key.addr, 16);
	kdp_service_fe_name6(&a, rte_be_to_cpu_16(fe->key.port), fe->key.proto, f, sizeof(f));
	for (uint16_t i = 0; i < fe->n_be; i++) {
		memcpy(&a, fe->be[i].ip, 16);
		kdp_service_fe_name6(&a, rte_be_to_cpu_16(fe->be[i].port), fe->key.proto, b,
				     sizeof(b));
		json_array_append_new(bes, json_pack("{s:s, s:s, s:b}", "address", b, "state",
						     kdp_be_state_name(fe->be[i].state),
						     "local", fe->be[i].local));
	}
	o = json_pack("{s:i, s:s, s:s, s:s, s:s, s:o}", "id", (int)fe->id, "frontend", f, "type",
		      kdp_svc_type_name(fe->type), "service", fe->name, "algorithm",
		      fe->algo == KDP_SVC_MAGLEV ? "maglev" : "random", "backends", bes);
	fe_policy_json(o, fe->local_only, fe->n_ranges);
	json_array_append_new(arg, o);
}

json_t *kdp_api_svc_json(const struct kdp *k, const struct kdp_service *sv)
{
	json_t *o = kdp_service_json(sv), *fes = json_array();

	kdp_dp_svc_frontends(sv, fe_json, fes);
	kdp_dp_svc6_frontends(k, sv->ns, sv->name, false, fe6_json, fes);
	json_object_set_new(o, "frontends", fes);
	if (sv->hc_port)
		json_object_set_new(o, "healthCheck", kdp_hc_json(k, sv));
	return o;
}

/* ---- local redirect policies ---- */

static const char *ep6_name_of(const struct kdp *k, const uint8_t *ip, char *buf, size_t len)
{
	for (unsigned int i = 0; i < k->state.n_eps; i++)
		if (k->state.eps[i].has_ip6 && memcmp(&k->state.eps[i].ip6, ip, 16) == 0) {
			snprintf(buf, len, "%s/%s", k->state.eps[i].ns, k->state.eps[i].name);
			return buf;
		}
	return NULL;
}

static const char *ep_name_of(const struct kdp *k, uint32_t ip_be, char *buf, size_t len)
{
	for (unsigned int i = 0; i < k->state.n_eps; i++)
		if (rte_cpu_to_be_32(k->state.eps[i].ip) == ip_be) {
			snprintf(buf, len, "%s/%s", k->state.eps[i].ns, k->state.eps[i].name);
			return buf;
		}
	return NULL;
}

struct lrp_view {
	const struct kdp *k;
	json_t *fes, *bes;
};

static void lrp_fe(const struct kdp_svc_fe *f, void *arg)
{
	struct lrp_view *v = arg;
	char fn[48];

	kdp_service_fe_name(rte_be_to_cpu_32(f->key.addr), rte_be_to_cpu_16(f->key.port),
			    f->key.proto, fn, sizeof(fn));
	json_array_append_new(v->fes, json_string(fn));
	for (uint16_t j = 0; j < f->n_be; j++) {
		char bn[48], en[2 * KDP_NAME_LEN + 2];
		kdp_service_fe_name(rte_be_to_cpu_32(f->be[j].ip), rte_be_to_cpu_16(f->be[j].port),
				    f->key.proto, bn, sizeof(bn));
		json_array_append_new(v->bes, json_pack("{s:s, s:s?}", "address", bn, "endpoint",
						       ep_name_of(v->k, f->be[j].ip, en,
								  sizeof(en))));
	}
}

static void lrp_fe6(const struct kdp_svc6_fe *f, void *arg)
{
	struct lrp_view *v = arg;
	struct kdp_in6 a;
	char fn[64];

	memcpy(&a, f->key.addr, 16);
	kdp_service_fe_name6(&a, rte_be_to_cpu_16(f->key.port), f->key.proto, fn, sizeof(fn));
	json_array_append_new(v->fes, json_string(fn));
	for (uint16_t j = 0; j < f->n_be; j++) {
		char bn[64], en[2 * KDP_NAME_LEN + 2];

		memcpy(&a, f->be[j].ip, 16);
		kdp_service_fe_name6(&a, rte_be_to_cpu_16(f->be[j].port), f->key.proto, bn,
				     sizeof(bn));
		json_array_append_new(v->bes, json_pack("{s:s, s:s?}", "address", bn, "endpoint",
						       ep6_name_of(v->k, f->be[j].ip, en,
								   sizeof(en))));
	}
}

json_t *kdp_api_lrp_json(const struct kdp *k, const struct kdp_lrp *l)
{
	json_t *o = kdp_lrp_json(l), *fe;
	struct lrp_view v = {k, json_array(), json_array()};
	char svc[2 * KDP_NAME_LEN + 2], ip[KDP_ADDR6_STRLEN];

	snprintf(svc, sizeof(svc), "%s/%s", l->svc_ns, l->svc_name);
	fe = json_pack("{s:s, s:s?, s:s?, s:O}", "type",
		       l->address ? "addressMatcher" : "serviceMatcher", "service",
		       l->address ? NULL : svc, "ip",
		       l->address ? kdp_lrp_ip_fmt(l, ip, sizeof(ip)) : NULL, "toPorts",
		       json_object_get(json_object_get(json_object_get(o, "redirectFrontend"),
						       l->address ? "addressMatcher" : "serviceMatcher"),
				       "toPorts"));
	kdp_dp_lrp_frontends(k, l->ns, l->name, lrp_fe, &v);
	kdp_dp_svc6_frontends(k, l->ns, l->name, true, lrp_fe6, &v);
	json_object_set_new(o, "frontend", fe);
	json_object_set_new(o, "active", json_boolean(json_array_size(v.fes) > 0));
	json_object_set_new(o, "frontends", v.fes);
	json_object_set_new(o, "backends", v.bes);
	return o;
}

json_t *kdp_api_lrp_frontends_json(const struct kdp *k, const struct kdp_lrp *l)
{
	json_t *fes = json_array();

	kdp_dp_lrp_frontends(k, l->ns, l->name, fe_json, fes);
	kdp_dp_svc6_frontends(k, l->ns, l->name, false, fe6_json, fes);
	return json_pack("{s:s, s:s, s:s, s:o}", "namespace", l->ns, "name", l->name,
			 "kind", "LocalRedirectPolicy", "frontends", fes);
}

/* ---- conntrack ---- */

static json_t *tuple_json(const struct kdp_ct_key *t)
{
	char a[48], b[48];

	snprintf(a, sizeof(a), "%u.%u.%u.%u:%u", ((uint8_t *)&t->src)[0],
		 ((uint8_t *)&t->src)[1], ((uint8_t *)&t->src)[2], ((uint8_t *)&t->src)[3],
		 rte_be_to_cpu_16(t->sport));
	snprintf(b, sizeof(b), "%u.%u.%u.%u:%u", ((uint8_t *)&t->dst)[0],
		 ((uint8_t *)&t->dst)[1], ((uint8_t *)&t->dst)[2], ((uint8_t *)&t->dst)[3],
		 rte_be_to_cpu_16(t->dport));
	return json_pack("{s:s, s:s}", "src", a, "dst", b);
}

struct ct_list {
	json_t *a;
	uint64_t now;
	uint32_t max;
};

/* tuple_json() of an IPv6 tuple: "[addr]:port". */
static json_t *tuple6_json(const uint8_t *src, uint16_t sport, const uint8_t *dst, uint16_t dport)
{
	char a[KDP_ADDR6_STRLEN + 10], b[KDP_ADDR6_STRLEN + 10], x[KDP_ADDR6_STRLEN];
	struct kdp_in6 s6, d6;

	memcpy(&s6, src, 16);
	memcpy(&d6, dst, 16);
	snprintf(a, sizeof(a), "[%s]:%u", kdp_addr6_fmt(&s6, x, sizeof(x)), rte_be_to_cpu_16(sport));
	snprintf(b, sizeof(b), "[%s]:%u", kdp_addr6_fmt(&d6, x, sizeof(x)), rte_be_to_cpu_16(dport));
	return json_pack("{s:s, s:s}", "src", a, "dst", b);
}

static const char *ct6_proto(uint8_t p)
{
	return p == IPPROTO_TCP ? "TCP" : p == IPPROTO_UDP ? "UDP" : "ICMPv6";
}

static json_t *ct_flags_json(uint8_t f)
{
	json_t *flags = json_array();

	if (f & KDP_CT_F_DNAT)
		json_array_append_new(flags, json_string("dnat"));
	if (f & KDP_CT_F_SNAT)
		json_array_append_new(flags, json_string("snat"));
	if (f & KDP_CT_F_SEEN_REPLY)
		json_array_append_new(flags, json_string("seen-reply"));
	if (f & KDP_CT_F_HAIRPIN)
		json_array_append_new(flags, json_string("hairpin"));
	if (f & KDP_CT_F_DEAD)
		json_array_append_new(flags, json_string("backend-gone"));
	return flags;
}

/* An IPv6 flow, in the shape of an IPv4 one. */
static int ct6_one(const struct kdp_ct6_entry *e, void *arg)
{
	struct ct_list *l = arg;

	if (json_array_size(l->a) >= l->max)
		return 1;
	json_array_append_new(
		l->a,
		json_pack("{s:s, s:o, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:i}", "protocol",
			  ct6_proto(e->key[0].proto), "original",
			  tuple6_json(e->key[0].src, e->key[0].sport, e->key[0].dst, e->key[0].dport),
			  "reply",
			  tuple6_json(e->key[1].src, e->key[1].sport, e->key[1].dst, e->key[1].dport),
			  "state", kdp_ct_tcp_state_name(e->tcp_state), "expiresInSeconds",
			  (json_int_t)(e->expires_ms > l->now ? (e->expires_ms - l->now) / 1000 : 0),
			  "txPackets", (json_int_t)e->pkts[0], "txBytes", (json_int_t)e->bytes[0],
			  "rxPackets", (json_int_t)e->pkts[1], "rxBytes", (json_int_t)e->bytes[1],
			  "flags", ct_flags_json(e->flags), "serviceId", (int)e->svc_id));
	return 0;
}

/* nat_one() of an IPv6 flow. */
static int nat6_one(const struct kdp_ct6_entry *e, void *arg)
{
	struct ct_list *l = arg;
	const struct kdp_ct6_key *o = &e->key[0], *r = &e->key[1];
	const char *proto = ct6_proto(o->proto);
	uint64_t age = l->now > e->created_ms ? (l->now - e->created_ms) / 1000 : 0;
	json_t *ot, *rt, *a, *b;

	if (!(e->flags & KDP_CT_F_SNAT))
		return 0;
	if (json_array_size(l->a) >= l->max)
		return 1;
	ot = tuple6_json(o->src, o->sport, o->dst, o->dport);
	rt = tuple6_json(r->src, r->sport, r->dst, r->dport);
	a = tuple6_json(r->dst, r->dport, r->dst, r->dport);
	b = tuple6_json(o->src, o->sport, o->src, o->sport);
	json_array_append_new(l->a, json_pack("{s:s, s:s, s:O, s:O, s:s, s:O, s:I}", "protocol",
					      proto, "direction", "OUT", "src",
					      json_object_get(ot, "src"), "dst",
					      json_object_get(ot, "dst"), "xlate", "XLATE_SRC",
					      "to", json_object_get(a, "src"), "ageSeconds",
					      (json_int_t)age));
	json_array_append_new(l->a, json_pack("{s:s, s:s, s:O, s:O, s:s, s:O, s:I}", "protocol",
					      proto, "direction", "IN", "src",
					      json_object_get(rt, "src"), "dst",
					      json_object_get(rt, "dst"), "xlate", "XLATE_DST",
					      "to", json_object_get(b, "src"), "ageSeconds",
					      (json_int_t)age));
	json_decref(ot);
	json_decref(rt);
	json_decref(a);
	json_decref(b);
	return 0;
}

static int ct_one(const struct kdp_ct_entry *e, void *arg)
{
	struct ct_list *l = arg;
	json_t *flags = json_array();
	const char *proto = e->key[0].proto == IPPROTO_TCP ? "TCP" :
			    e->key[0].proto == IPPROTO_UDP ? "UDP" : "ICMP";

	if (json_array_size(l->a) >= l->max)
		return 1;
	if (e->flags & KDP_CT_F_DNAT)
		json_array_append_new(flags, json_string("dnat"));
	if (e->flags & KDP_CT_F_SNAT)
		json_array_append_new(flags, json_string("snat"));
	if (e->flags & KDP_CT_F_SEEN_REPLY)
		json_array_append_new(flags, json_string("seen-reply"));
	if (e->flags & KDP_CT_F_HAIRPIN)
		json_array_append_new(flags, json_string("hairpin"));
	if (e->flags & KDP_CT_F_DEAD)
		json_array_append_new(flags, json_string("backend-gone"));
	json_array_append_new(
		l->a,
		json_pack("{s:s, s:o, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:i}", "protocol",
			  proto, "original", tuple_json(&e->key[0]), "reply",
			  tuple_json(&e->key[1]), "state", kdp_ct_tcp_state_name(e->tcp_state),
			  "expiresInSeconds",
			  (json_int_t)(e->expires_ms > l->now ? (e->expires_ms - l->now) / 1000 : 0),
			  "txPackets", (json_int_t)e->pkts[0], "txBytes", (json_int_t)e->bytes[0],
			  "rxPackets", (json_int_t)e->pkts[1], "rxBytes", (json_int_t)e->bytes[1],
			  "flags", flags, "serviceId", (int)e->svc_id));
	return 0;
}

void kdp_api_ct(struct kdp_api_req *r)
{
	struct ct_list l = {json_array(), kdp_clock_now_ms(), 100000};

	json_t *o;

	kdp_ct_foreach(r->k->ct, ct_one, &l);
	if (r->k->ct6 != NULL)
		kdp_ct6_foreach(r->k->ct6, ct6_one, &l);
	o = json_pack("{s:I, s:I, s:I, s:I, s:o}", "entries",
		      (json_int_t)kdp_ct_count(r->k->ct), "capacity",
		      (json_int_t)r->k->cfg.ct_max, "gcRuns", (json_int_t)r->k->ct->gc_runs,
		      "gcRemoved", (json_int_t)r->k->ct->gc_removed, "flows", l.a);
	json_object_set_new(o, "gcOrphaned", json_integer((json_int_t)r->k->ct->gc_orphaned));
	json_object_set_new(o, "gcLostRaces", json_integer((json_int_t)r->k->ct->gc_lost_races));
	if (r->k->ct6 != NULL) {
		/* The IPv6 table beside the IPv4 one; its flows are in "flows". */
		json_object_set_new(o, "entriesIPv6", json_integer((json_int_t)kdp_ct6_count(r->k->ct6)));
		json_object_set_new(o, "capacityIPv6", json_integer((json_int_t)r->k->cfg.ct_max6));
		json_object_set_new(o, "gcOrphanedIPv6",
				    json_integer((json_int_t)r->k->ct6->c.gc_orphaned));
		json_object_set_new(o, "gcLostRacesIPv6",
				    json_integer((json_int_t)r->k->ct6->c.gc_lost_races));
	}
	kdp_api_reply_json(r, HTTP_OK, o);
}

/* ---- NAT (the SNAT side of conntrack) ---- */

static int nat_one(const struct kdp_ct_entry *e, void *arg)
{
	struct ct_list *l = arg;
	const char *proto = e->key[0].proto == IPPROTO_TCP ? "TCP" :
			    e->key[0].proto == IPPROTO_UDP ? "UDP" : "ICMP";
	const struct kdp_ct_key *o = &e->key[0], *r = &e->key[1];
	struct kdp_ct_key xs = {.src = r->dst, .sport = r->dport};
	struct kdp_ct_key xd = {.src = o->src, .sport = o->sport};
	json_t *ot, *rt, *a, *b;
	uint64_t age = l->now > e->created_ms ? (l->now - e->created_ms) / 1000 : 0;

	if (!(e->flags & KDP_CT_F_SNAT))
		return 0;
	if (json_array_size(l->a) >= l->max)
		return 1;
	ot = tuple_json(o);
	rt = tuple_json(r);
	a = tuple_json(&xs);
	b = tuple_json(&xd);
	json_array_append_new(l->a, json_pack("{s:s, s:s, s:O, s:O, s:s, s:O, s:I}", "protocol",
					      proto, "direction", "OUT", "src",
					      json_object_get(ot, "src"), "dst",
					      json_object_get(ot, "dst"), "xlate", "XLATE_SRC",
					      "to", json_object_get(a, "src"), "ageSeconds",
					      (json_int_t)age));
	json_array_append_new(l->a, json_pack("{s:s, s:s, s:O, s:O, s:s, s:O, s:I}", "protocol",
					      proto, "direction", "IN", "src",
					      json_object_get(rt, "src"), "dst",
					      json_object_get(rt, "dst"), "xlate", "XLATE_DST",
					      "to", json_object_get(b, "src"), "ageSeconds",
					      (json_int_t)age));
	json_decref(ot);
	json_decref(rt);
	json_decref(a);
	json_decref(b);
	return 0;
}

void kdp_api_nat(struct kdp_api_req *r)
{
	struct ct_list l = {json_array(), kdp_clock_now_ms(), 200000};

	kdp_ct_foreach(r->k->ct, nat_one, &l);
	if (r->k->ct6 != NULL)
		kdp_ct6_foreach(r->k->ct6, nat6_one, &l);
	kdp_api_reply_json(r, HTTP_OK, l.a);
}

/* ---- read-only views ---- */

/* Most specific first, then by address: how `ip route` readers scan. */
static int route_cmp(const void *a, const void *b)
{
	const struct kdp_route_entry *x = *(const struct kdp_route_entry *const *)a;
	const struct kdp_route_entry *y = *(const struct kdp_route_entry *const *)b;

	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	return x->prefix < y->prefix ? -1 : x->prefix > y->prefix;
}

static int route6_cmp(const void *a, const void *b)
{
	const struct kdp_route6_entry *x = *(const struct kdp_route6_entry *const *)a;
	const struct kdp_route6_entry *y = *(const struct kdp_route6_entry *const *)b;

	if (x->depth != y->depth)
		return x->depth > y->depth ? -1 : 1;
	return memcmp(&x->prefix, &y->prefix, sizeof(x->prefix));
}

/* The IPv6 routes after the IPv4 ones, in the same shape. */
static int routes6(struct kdp_api_req *r, const struct kdp_route6_table *rt, json_t *a)
{
	const struct kdp_route6_entry **sorted = malloc(sizeof(*sorted) * (rt->n_routes + 1));

	if (sorted == NULL)
		return -1;
	for (uint32_t i = 0; i < rt->n_routes; i++)
		sorted[i] = &rt->routes[i];
	qsort(sorted, rt->n_routes, sizeof(*sorted), route6_cmp);
	for (uint32_t i = 0; i < rt->n_routes; i++) {
		const struct kdp_route6_entry *e = sorted[i];
		const struct kdp_nexthop6 *nh = &rt->nh[e->nh];
		char pfx[KDP_ADDR6_STRLEN], gw[KDP_ADDR6_STRLEN], pb[64];
		const char *port = NULL;
		json_t *nexthop = json_null();

		if (nh->type == KDP_NH_VIA)
			nexthop = json_string(kdp_addr6_fmt(&nh->gw, gw, sizeof(gw)));
		if (nh->type != KDP_NH_LOCAL && nh->type != KDP_NH_NO_ENDPOINT)
			port = port_label(r->k, nh->port, pb, sizeof(pb));
		json_array_append_new(
			a, json_pack("{s:s, s:s, s:o, s:s?, s:s?}", "prefix",
				     kdp_addr6_fmt_prefix(&e->prefix, e->depth, pfx, sizeof(pfx)),
				     "type", kdp_route_kind_name(e->kind), "nexthop", nexthop,
				     "port", port, "target", e->target[0] ? e->target : NULL));
	}
	free(sorted);
	return 0;
}

void kdp_api_routes(struct kdp_api_req *r)
{
	const struct kdp_snapshot *s = atomic_load(&r->k->pub.snap);
	const struct kdp_route_table *rt = s->dp.rt;
	const struct kdp_route_entry **sorted;
	json_t *a = json_array();

	sorted = malloc(sizeof(*sorted) * (rt->n_routes + 1));
	if (sorted == NULL) {
		json_decref(a);
		return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
	}
	for (uint32_t i = 0; i < rt->n_routes; i++)
		sorted[i] = &rt->routes[i];
	qsort(sorted, rt->n_routes, sizeof(*sorted), route_cmp);
	for (uint32_t i = 0; i < rt->n_routes; i++) {
		const struct kdp_route_entry *e = sorted[i];
		const struct kdp_nexthop *nh = &rt->nh[e->nh];
		char pfx[KDP_ADDR_STRLEN], gw[KDP_ADDR_STRLEN], pb[64];
		const char *port = NULL;
		json_t *nexthop = json_null();

		if (nh->type == KDP_NH_VIA)
			nexthop = json_string(kdp_addr_fmt_ip(nh->gw, gw, sizeof(gw)));
		if (nh->type != KDP_NH_LOCAL && nh->type != KDP_NH_NO_ENDPOINT)
			port = port_label(r->k, nh->port, pb, sizeof(pb));
		json_array_append_new(
			a, json_pack("{s:s, s:s, s:o, s:s?, s:s?}", "prefix",
				     kdp_addr_fmt_prefix(e->prefix, e->depth, pfx,
							 sizeof(pfx)),
				     "type", kdp_route_kind_name(e->kind), "nexthop",
				     nexthop, "port", port, "target",
				     e->target[0] ? e->target : NULL));
	}
	free(sorted);
	if (s->dp.rt6 != NULL && routes6(r, s->dp.rt6, a) != 0) {
		json_decref(a);
		return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
	}
	kdp_api_reply_json(r, HTTP_OK, a);
}

struct neigh_list {
	struct kdp *k;
	json_t *a;
	uint64_t now;
	bool v6;
};

static int neigh_one(const struct kdp_neigh_entry *e, void *arg)
{
	struct neigh_list *l = arg;
	char ip[KDP_ADDR6_STRLEN], mac[KDP_MAC_STRLEN], pb[64];

	kdp_addr_fmt_mac(&e->mac, mac, sizeof(mac));
	json_array_append_new(
		l->a, json_pack("{s:s, s:s?, s:s, s:s?, s:I}", "ip",
				l->v6 ? kdp_addr6_fmt(&e->ip6, ip, sizeof(ip))
				      : kdp_addr_fmt_ip(e->ip, ip, sizeof(ip)),
				"mac",
				e->state == KDP_NEIGH_INCOMPLETE ? NULL : mac, "state",
				kdp_neigh_state_name(e->state), "port",
				port_label(l->k, e->port, pb, sizeof(pb)), "ageSeconds",
				(json_int_t)(e->confirmed_ms ? (l->now - e->confirmed_ms) / 1000
							     : 0)));
	return 0;
}

void kdp_api_neighbours(struct kdp_api_req *r)
{
	struct neigh_list l = {r->k, json_array(), kdp_now_ms(), false};

	kdp_neigh_foreach(r->k->nt, neigh_one, &l);
	l.v6 = true;
	if (r->k->nt6 != NULL)
		kdp_neigh_foreach(r->k->nt6, neigh_one, &l);
	kdp_api_reply_json(r, HTTP_OK, l.a);
}

void kdp_api_stats(struct kdp_api_req *r)
{
	struct kdp *k = r->k;
	struct kdp_stats tot;
	json_t *workers = json_array(), *drops = json_array();

	memset(&tot, 0, sizeof(tot));
	for (unsigned int i = 0; i <= k->cfg.workers; i++)
		kdp_stats_add(&tot, &k->stats[i]);
	for (unsigned int i = 0; i < k->cfg.workers; i++) {
		const struct kdp_stats *s = &k->stats[i];
		json_array_append_new(
			workers,
			json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:I}", "id", i,
				  "lcore", k->workers[i].lcore, "rxPackets",
				  (json_int_t)s->rx_pkts, "txPackets", (json_int_t)s->tx_pkts,
				  "dropped", (json_int_t)kdp_stats_drops_total(s),
				  "busyCycles", (json_int_t)s->busy_cycles, "totalCycles",
				  (json_int_t)s->total_cycles, "tscHz",
				  (json_int_t)rte_get_tsc_hz(), "busyRatio",
				  s->total_cycles ? (double)s->busy_cycles /
							    (double)s->total_cycles
						  : 0.0,
				  "stalls", (json_int_t)s->stalls, "stallCycles",
				  (json_int_t)s->stall_cycles, "stallMaxCycles",
				  (json_int_t)s->stall_max_cycles));
	}
	for (unsigned int i = 0; i < KDP_DROP__MAX; i++)
		json_array_append_new(drops,
				      json_pack("{s:s, s:s, s:I}", "reason",
						kdp_drop_name(i), "stage", kdp_drop_stage(i),
						"packets", (json_int_t)tot.drop[i]));
	json_t *hist = json_array();
	uint64_t ticks, wakes;

	for (unsigned int i = 0; i < 6; i++)
		json_array_append_new(hist, json_integer((json_int_t)tot.nat_retry_hist[i]));
	kdp_ctl_tick_counts(k, &ticks, &wakes);
	kdp_api_reply_json(r, HTTP_OK,
		   json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:o,"
			     " s:{s:I, s:I, s:I, s:o, s:I}, s:{s:I, s:I}}",
			     "totals", "rxPackets", (json_int_t)tot.rx_pkts, "rxBytes",
			     (json_int_t)tot.rx_bytes, "txPackets", (json_int_t)tot.tx_pkts,
			     "txBytes", (json_int_t)tot.tx_bytes, "dropped",
			     (json_int_t)kdp_stats_drops_total(&tot), "punted",
			     (json_int_t)tot.punted, "icmpSent", (json_int_t)tot.icmp_sent,
			     "workers", workers, "drops", drops, "nat", "masqueradedFlows",
			     (json_int_t)tot.masq_flows, "masqueradedPackets",
			     (json_int_t)tot.masq_pkts, "leftUnmasqueraded",
			     (json_int_t)tot.masq_skipped, "portRetryHistogram", hist,
			     "portExhausted", (json_int_t)tot.drop[KDP_DROP_NAT_PORT_EXHAUSTED],
			     "control", "ticks", (json_int_t)ticks, "wakeups", (json_int_t)wakes));
}

/* Non-zero driver counters of a port, for GET /v1/status. */
static void add_counter(void *arg, const char *name, uint64_t v)
{
	if (v != 0)
		json_object_set_new(arg, name, json_integer((json_int_t)v));
}

static json_t *with_boot_id(const struct kdp *k, json_t *status)
{
	json_object_set_new(status, "bootId", json_string(k->boot_id));
	return status;
}

/* The offloads kdp turned on for @p p, as ethtool-like names. */
static json_t *port_offloads(const struct kdp_port *p)
{
	json_t *a = json_array();

	if (p->rx_ip_csum)
		json_array_append_new(a, json_string("rx-ipv4-checksum"));
	if (p->rx_lro)
		json_array_append_new(a, json_string("rx-lro"));
	if (p->tx_csum)
		json_array_append_new(a, json_string("tx-l4-checksum"));
	if (p->tx_tso)
		json_array_append_new(a, json_string("tx-tso"));
	return a;
}

void kdp_api_status(struct kdp_api_req *r)
{
	struct kdp *k = r->k;
	struct kdp_memory mem;
	const struct kdp_snapshot *s = atomic_load(&k->pub.snap);
	char ip[KDP_ADDR_STRLEN], gw[KDP_ADDR_STRLEN], pgw[KDP_ADDR_STRLEN],
		nat[KDP_ADDR_STRLEN], mac[KDP_MAC_STRLEN];
	json_t *ports = json_array();

	for (uint16_t p = 0; p < RTE_MAX_ETHPORTS; p++) {
		struct rte_eth_stats es;
		json_t *ep = json_null(), *dc;

		if (!k->ports[p].used)
			continue;
		for (unsigned int i = 0; i < k->state.n_eps; i++)
			if (k->state.eps[i].port == p) {
				char n[2 * KDP_NAME_LEN + 2];
				snprintf(n, sizeof(n), "%s/%s", k->state.eps[i].ns,
					 k->state.eps[i].name);
				ep = json_string(n);
			}
		memset(&es, 0, sizeof(es));
		rte_eth_stats_get(p, &es);
		dc = json_object();
		kdp_port_driver_counters(p, add_counter, dc);
		json_array_append_new(
			ports, json_pack("{s:i, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o}",
					 "id", p, "name", k->ports[p].name, "role",
					 kdp_port_role_name(k->ports[p].role), "endpoint", ep,
					 "state", link_state(k, p), "rxPackets",
					 (json_int_t)es.ipackets, "txPackets",
					 (json_int_t)es.opackets, "rxMissed",
					 (json_int_t)es.imissed, "rxErrors",
					 (json_int_t)es.ierrors, "txErrors",
					 (json_int_t)es.oerrors, "driverCounters", dc,
					 "offloads", port_offloads(&k->ports[p])));
	}
	kdp_addr_fmt_mac(&k->mac, mac, sizeof(mac));
	kdp_addr_fmt_prefix(k->cfg.native_cidr, k->cfg.native_plen, nat, sizeof(nat));
	kdp_addr_fmt_ip(k->cfg.gateway, gw, sizeof(gw));
	kdp_addr_fmt_ip(k->cfg.pod_gw, pgw, sizeof(pgw));
	kdp_addr_fmt_prefix(k->cfg.node_ip, k->cfg.node_plen, ip, sizeof(ip));
	json_t *o = with_boot_id(k,
		   json_pack("{s:s, s:s, s:i, s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:I,"
			     " s:o, s:{s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:I}, s:o, s:o}",
			     "node", k->cfg.name, "version", KDP_VERSION, "pid", (int)getpid(),
			     "uptimeSeconds", (json_int_t)(time(NULL) - k->started),
			     "nodeIP", ip, "gateway", gw, "podGateway", pgw, "mac", mac,
			     "nativeRoutingCIDR", nat, "workers", k->cfg.workers,
			     "pollMode", k->cfg.poll_mode == KDP_POLL_BUSY ? "busy" : "adaptive",
			     "generation", (json_int_t)s->gen, "ports", ports, "counts",
			     "nodes", k->state.n_nodes, "endpoints", k->state.n_eps,
			     "routes", s->dp.rt->n_routes, "neighbours", k->nt->count,
			     "services", k->state.n_svcs, "conntrack",
			     (json_int_t)kdp_ct_count(k->ct), "conntrackCapacity",
			     (json_int_t)k->cfg.ct_max, "conntrackMemoryBytes",
			     (json_int_t)k->ct_mem_bytes, "flowState", kdp_flows_status_json(k),
			     "handover", kdp_handover_status_json(k)));
	json_object_set_new(o, "frontendIds", kdp_feid_json(&k->pub.feid, k->pub.next_fe_id));
	kdp_metrics_memory(&mem);
	json_object_set_new(o, "memory",
			    json_pack("{s:I, s:I, s:I}", "rssBytes", (json_int_t)mem.rss,
				      "mallocInUseBytes", (json_int_t)mem.malloc_in_use,
				      "dpdkHeapInUseBytes", (json_int_t)mem.dpdk_heap_in_use));
	if (k->cfg.has_ip6) {
		/* The IPv6 side, beside each IPv4 field it matches. */
		char ip6[KDP_ADDR6_STRLEN], gw6[KDP_ADDR6_STRLEN], pgw6[KDP_ADDR6_STRLEN],
			nat6[KDP_ADDR6_STRLEN];
		json_t *counts = json_object_get(o, "counts");

		json_object_set_new(o, "nodeIPv6", json_string(kdp_addr6_fmt_prefix(
						   &k->cfg.node_ip6, k->cfg.node_plen6, ip6,
						   sizeof(ip6))));
		json_object_set_new(o, "gatewayIPv6",
				    json_string(kdp_addr6_fmt(&k->cfg.gateway6, gw6, sizeof(gw6))));
		json_object_set_new(o, "podGatewayIPv6",
				    json_string(kdp_addr6_fmt(&k->cfg.pod_gw6, pgw6, sizeof(pgw6))));
		json_object_set_new(o, "nativeRoutingCIDRv6",
				    json_string(kdp_addr6_fmt_prefix(&k->cfg.native_cidr6,
								     k->cfg.native_plen6, nat6,
								     sizeof(nat6))));
		json_object_set_new(counts, "routesIPv6",
				    json_integer(s->dp.rt6 ? s->dp.rt6->n_routes : 0));
		json_object_set_new(counts, "neighboursIPv6", json_integer(k->nt6->count));
		json_object_set_new(counts, "conntrackIPv6",
				    json_integer((json_int_t)kdp_ct6_count(k->ct6)));
		json_object_set_new(counts, "conntrackCapacityIPv6", json_integer(k->cfg.ct_max6));
		json_object_set_new(counts, "conntrackMemoryBytesIPv6",
				    json_integer((json_int_t)k->ct6_mem_bytes));
	}
	kdp_api_reply_json(r, HTTP_OK, o);
}

/* Splits the decoded path into segments; 0 or -1 for a bad path. */

/* GET /v1/monitor: a stream of flow events (kdp_flowmon.c). */
void kdp_api_monitor(struct kdp_api_req *r)
{
	char err[KDP_ERR_LEN];
	int code = kdp_flowmon_serve(r->k, r->req, err);

	if (code != HTTP_OK)
		return kdp_api_reply_error(r, code, "%s", err);
	kdp_api_counted(r, code);
}

void kdp_api_metrics(struct kdp_api_req *r)
{
	struct evbuffer *buf = evbuffer_new();

	if (r->method != EVHTTP_REQ_GET) {
		evbuffer_free(buf);
		return kdp_api_reply_error(r, 405, "only GET on /metrics");
	}
	kdp_metrics_render(r->k, buf);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	kdp_api_counted(r, HTTP_OK);
	evhttp_send_reply(r->req, HTTP_OK, NULL, buf);
	evbuffer_free(buf);
}

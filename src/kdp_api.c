/* SPDX-License-Identifier: BSD-3-Clause */
/* REST API v1: routing of paths to handlers, and the JSON views. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "common/kdp_addr.h"
#include "kdp_api.h"
#include "kdp_flowmon.h"
#include "kdp_metrics.h"

#define MAX_SEGS 6

struct api_req {
	struct kdp *k;
	struct evhttp_request *req;
	enum evhttp_cmd_type method;
	unsigned int nseg;
	char *seg[MAX_SEGS];
	char path[512];
	char segbuf[512]; /* the path again, cut into seg[] */
};

/* The request being answered, for the request counters (the control thread
 * answers one request at a time). */
static struct {
	struct kdp *k;
	const char *route;
	const char *method;
} cur;

static void count(int code)
{
	if (cur.k != NULL)
		kdp_metrics_count_request(cur.k, cur.route, cur.method, code);
}

static void reply_json(struct evhttp_request *req, int code, json_t *body)
{
	count(code);
	struct evbuffer *buf = evbuffer_new();
	char *s = body ? json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/json");
	if (s != NULL) {
		evbuffer_add(buf, s, strlen(s));
		evbuffer_add(buf, "\n", 1);
	}
	evhttp_send_reply(req, code, NULL, buf);
	evbuffer_free(buf);
	free(s);
	json_decref(body);
}

static void reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_error(struct evhttp_request *req, int code, const char *fmt, ...)
{
	char msg[KDP_ERR_LEN + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(req, code, json_pack("{s:s}", "error", msg));
}

static void reply_msg(struct evhttp_request *req, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void reply_msg(struct evhttp_request *req, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(req, HTTP_OK, json_pack("{s:s}", "message", msg));
}

/* Parses the request body as JSON; replies 400 and returns NULL if bad. */
static json_t *body_json(struct api_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	json_error_t je;
	json_t *j;

	if (len == 0) {
		reply_error(r->req, HTTP_BADREQUEST, "body: empty, expected a JSON object");
		return NULL;
	}
	j = json_loadb((const char *)evbuffer_pullup(in, -1), len,
		       JSON_REJECT_DUPLICATES, &je);
	if (j == NULL)
		reply_error(r->req, HTTP_BADREQUEST,
			    "body: invalid JSON at line %d column %d: %s", je.line,
			    je.column, je.text);
	return j;
}

/* Applies @p next and answers: 200 with @p what, 400 or 500 with why.
 * @p how: what to save (NULL: the whole state, serialized). */
static void apply_reply(struct api_req *r, struct kdp_state *next, const char *what,
			const struct kdp_change *how)
{
	char err[KDP_ERR_LEN];
	int ret = kdp_apply(r->k, next, KDP_APPLY_PERSIST, how, err);

	if (ret == 0)
		reply_msg(r->req, "%s", what);
	else
		reply_error(r->req, ret == -EINVAL ? HTTP_BADREQUEST : HTTP_INTERNAL,
			    "%s", err);
}

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

static const char *role_name(uint8_t role)
{
	switch (role) {
	case KDP_PORT_UPLINK:
		return "uplink";
	case KDP_PORT_HOST:
		return "host";
	case KDP_PORT_POD:
		return "endpoint";
	default:
		return "none";
	}
}

static const char *link_state(const struct kdp *k, uint16_t port)
{
	return kdp_port_is_up(k, port) ? "up" : "down";
}

static json_t *ep_json(const struct kdp *k, const struct kdp_endpoint *e)
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

static json_t *fe_json(const struct kdp_svc_fe *fe)
{
	char f[48], b[48];
	json_t *bes = json_array();

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
	return json_pack("{s:i, s:s, s:s, s:s, s:s, s:o}", "id", (int)fe->id, "frontend", f,
			 "type", kdp_svc_type_name(fe->type), "service", fe->name,
			 "algorithm", fe->m ? "maglev" : "random", "backends", bes);
}

/* The service with the frontends the current snapshot has for it. */
static json_t *svc_json(const struct kdp *k, const struct kdp_service *sv)
{
	const struct kdp_snapshot *s = atomic_load(&k->snap);
	json_t *o = kdp_service_json(sv), *fes = json_array();
	char name[2 * KDP_NAME_LEN + 2];

	snprintf(name, sizeof(name), "%s/%s", sv->ns, sv->name);
	for (uint32_t i = 0; i < s->dp.svc->n_fe; i++)
		if (strcmp(s->dp.svc->fe[i].name, name) == 0)
			json_array_append_new(fes, fe_json(&s->dp.svc->fe[i]));
	json_object_set_new(o, "frontends", fes);
	return o;
}

/* ---- local redirect policies ---- */

static const char *ep_name_of(const struct kdp *k, uint32_t ip_be, char *buf, size_t len)
{
	for (unsigned int i = 0; i < k->state.n_eps; i++)
		if (rte_cpu_to_be_32(k->state.eps[i].ip) == ip_be) {
			snprintf(buf, len, "%s/%s", k->state.eps[i].ns, k->state.eps[i].name);
			return buf;
		}
	return NULL;
}

/* The policy's spec plus what it does on this node right now. */
static json_t *lrp_json(const struct kdp *k, const struct kdp_lrp *l)
{
	const struct kdp_snapshot *s = atomic_load(&k->snap);
	json_t *o = kdp_lrp_json(l), *fes = json_array(), *bes = json_array(), *fe;
	char name[2 * KDP_NAME_LEN + 2], svc[2 * KDP_NAME_LEN + 2], ip[KDP_ADDR_STRLEN];

	snprintf(name, sizeof(name), "%s/%s", l->ns, l->name);
	snprintf(svc, sizeof(svc), "%s/%s", l->svc_ns, l->svc_name);
	fe = json_pack("{s:s, s:s?, s:s?, s:O}", "type",
		       l->address ? "addressMatcher" : "serviceMatcher", "service",
		       l->address ? NULL : svc, "ip",
		       l->address ? kdp_addr_fmt_ip(l->ip, ip, sizeof(ip)) : NULL, "toPorts",
		       json_object_get(json_object_get(json_object_get(o, "redirectFrontend"),
						       l->address ? "addressMatcher" : "serviceMatcher"),
				       "toPorts"));
	for (uint32_t i = 0; i < s->dp.svc->n_fe; i++) {
		const struct kdp_svc_fe *f = &s->dp.svc->fe[i];
		char fn[48];

		if (strcmp(f->lrp, name) != 0)
			continue;
		kdp_service_fe_name(rte_be_to_cpu_32(f->key.addr), rte_be_to_cpu_16(f->key.port),
				    f->key.proto, fn, sizeof(fn));
		json_array_append_new(fes, json_string(fn));
		for (uint16_t j = 0; j < f->n_be; j++) {
			char bn[48], en[2 * KDP_NAME_LEN + 2];
			kdp_service_fe_name(rte_be_to_cpu_32(f->be[j].ip),
					    rte_be_to_cpu_16(f->be[j].port), f->key.proto, bn,
					    sizeof(bn));
			json_array_append_new(bes, json_pack("{s:s, s:s?}", "address", bn,
							     "endpoint",
							     ep_name_of(k, f->be[j].ip, en,
									sizeof(en))));
		}
	}
	json_object_set_new(o, "frontend", fe);
	json_object_set_new(o, "active", json_boolean(json_array_size(fes) > 0));
	json_object_set_new(o, "frontends", fes);
	json_object_set_new(o, "backends", bes);
	return o;
}

/* ---- collections: nodes, endpoints, services, policies ---- */

/*
 * The objects under /v1/<collection>/{name} or /{namespace}/{name}: GET of
 * the list and of one, PUT (create or replace), DELETE. Each kind says how
 * to find, show, parse and remove its objects; updates go through
 * kdp_apply like every other change.
 */
struct collection {
	const char *kind;   /* "endpoint" */
	const char *path;   /* "/v1/endpoints" */
	bool namespaced;    /* {namespace}/{name} rather than {name} */
	unsigned int (*count)(const struct kdp *k);
	json_t *(*show)(const struct kdp *k, unsigned int i);
	int (*find)(const struct kdp_state *st, char **id);
	/* Parses @p body for object @p id and puts it into @p next. */
	int (*put)(const struct kdp *k, struct kdp_state *next, const json_t *body,
		   char **id, char *err);
	void (*del)(struct kdp_state *next, int i);
};

/* Applies an object update of collection @p c, journaled as one line:
 * {"kind": "/v1/services", "id": ["ns", "name"], "body": {...}} (no body:
 * a delete). Takes @p body. */
static void apply_op(struct api_req *r, const struct collection *c, struct kdp_state *next,
		     json_t *body, const char *msg)
{
	json_t *id = json_array(), *op;
	struct kdp_change how = {0};
	char *line;

	for (unsigned int j = 2; j < r->nseg; j++)
		json_array_append_new(id, json_string(r->seg[j]));
	op = json_pack("{s:s, s:o}", "kind", c->path, "id", id);
	if (op != NULL && body != NULL)
		json_object_set(op, "body", body);
	json_decref(body);
	line = op ? json_dumps(op, JSON_COMPACT) : NULL;
	json_decref(op);
	if (line == NULL) {
		kdp_state_free(next);
		return reply_error(r->req, HTTP_INTERNAL, "out of memory");
	}
	how.op = line;
	how.op_len = strlen(line);
	apply_reply(r, next, msg, &how);
	free(line);
}

static void collection(struct api_req *r, const struct collection *c)
{
	struct kdp *k = r->k;
	unsigned int want = c->namespaced ? 4 : 3;
	char **id = &r->seg[2], who[2 * KDP_NAME_LEN + 2], err[KDP_ERR_LEN], msg[256];
	struct kdp_state next;
	json_t *body;
	int i, ret;

	if (r->nseg == 2) {
		json_t *a = json_array();
		if (r->method != EVHTTP_REQ_GET) {
			json_decref(a);
			return reply_error(r->req, 405, "only GET on %s", c->path);
		}
		for (unsigned int j = 0; j < c->count(k); j++)
			json_array_append_new(a, c->show(k, j));
		return reply_json(r->req, HTTP_OK, a);
	}
	if (r->nseg != want)
		return reply_error(r->req, HTTP_NOTFOUND, "no such path %s (use %s/%s)", r->path,
				   c->path, c->namespaced ? "{namespace}/{name}" : "{name}");
	if (c->namespaced)
		snprintf(who, sizeof(who), "%s/%s", id[0], id[1]);
	else
		snprintf(who, sizeof(who), "%s", id[0]);
	i = c->find(&k->state, id);
	switch (r->method) {
	case EVHTTP_REQ_GET:
		if (i < 0)
			return reply_error(r->req, HTTP_NOTFOUND, "%s %s not found", c->kind, who);
		return reply_json(r->req, HTTP_OK, c->show(k, (unsigned int)i));
	case EVHTTP_REQ_PUT:
		if (kdp_state_check_name(id[0], c->namespaced ? "namespace" : "name", err) != 0 ||
		    (c->namespaced && kdp_state_check_name(id[1], "name", err) != 0))
			return reply_error(r->req, HTTP_BADREQUEST, "%s", err);
		body = body_json(r);
		if (body == NULL)
			return;
		if (kdp_state_copy(&next, &k->state) != 0) {
			json_decref(body);
			return reply_error(r->req, HTTP_INTERNAL, "out of memory");
		}
		ret = c->put(k, &next, body, id, err);
		if (ret != 0) {
			json_decref(body);
			kdp_state_free(&next);
			if (ret == -ENOMEM)
				return reply_error(r->req, HTTP_INTERNAL, "out of memory");
			return reply_error(r->req, HTTP_BADREQUEST, "%s", err);
		}
		snprintf(msg, sizeof(msg), "%s %s %s", c->kind, who, i < 0 ? "created" : "updated");
		return apply_op(r, c, &next, body, msg);
	case EVHTTP_REQ_DELETE:
		if (i < 0)
			return reply_error(r->req, HTTP_NOTFOUND, "%s %s not found", c->kind, who);
		if (kdp_state_copy(&next, &k->state) != 0)
			return reply_error(r->req, HTTP_INTERNAL, "out of memory");
		c->del(&next, i);
		snprintf(msg, sizeof(msg), "%s %s deleted", c->kind, who);
		return apply_op(r, c, &next, NULL, msg);
	default:
		return reply_error(r->req, 405, "method not allowed on %s", r->path);
	}
}

static unsigned int node_count(const struct kdp *k) { return k->state.n_nodes; }
static json_t *node_show(const struct kdp *k, unsigned int i)
{
	return kdp_state_node_json(&k->state.nodes[i], k->cfg.name);
}
static int node_find(const struct kdp_state *st, char **id)
{
	return kdp_state_node_find(st, id[0]);
}
static int node_put(const struct kdp *k, struct kdp_state *next, const json_t *body,
		    char **id, char *err)
{
	struct kdp_node n;
	int ret = kdp_state_node_parse(body, id[0], "", &n, err);

	return ret != 0 ? ret : kdp_state_node_put(next, &n);
}

static unsigned int ep_count(const struct kdp *k) { return k->state.n_eps; }
static json_t *ep_show(const struct kdp *k, unsigned int i)
{
	return ep_json(k, &k->state.eps[i]);
}
static int ep_find(const struct kdp_state *st, char **id)
{
	return kdp_state_ep_find(st, id[0], id[1]);
}
static int ep_put(const struct kdp *k, struct kdp_state *next, const json_t *body,
		  char **id, char *err)
{
	struct kdp_endpoint ep;
	int ret = kdp_state_ep_parse(body, id[0], id[1], "", &ep, err);

	if (ret == 0)
		ret = kdp_state_ep_put(next, &ep);
	if (ret != 0)
		json_decref(ep.labels);
	return ret;
}

/* Services, then the address-matcher policies (whose frontends belong to no
 * service but are listed with them, as LocalRedirect, like Cilium does). */
static unsigned int svc_count(const struct kdp *k)
{
	unsigned int n = k->state.n_svcs;

	for (unsigned int i = 0; i < k->state.n_lrps; i++)
		n += k->state.lrps[i].address;
	return n;
}

static json_t *svc_show(const struct kdp *k, unsigned int i)
{
	const struct kdp_snapshot *s = atomic_load(&k->snap);
	const struct kdp_lrp *l = NULL;
	char name[2 * KDP_NAME_LEN + 2];
	json_t *fes;

	if (i < k->state.n_svcs)
		return svc_json(k, &k->state.svcs[i]);
	i -= k->state.n_svcs;
	for (unsigned int j = 0; j < k->state.n_lrps; j++)
		if (k->state.lrps[j].address && i-- == 0)
			l = &k->state.lrps[j];
	snprintf(name, sizeof(name), "%s/%s", l->ns, l->name);
	fes = json_array();
	for (uint32_t j = 0; j < s->dp.svc->n_fe; j++)
		if (strcmp(s->dp.svc->fe[j].name, name) == 0)
			json_array_append_new(fes, fe_json(&s->dp.svc->fe[j]));
	return json_pack("{s:s, s:s, s:s, s:o}", "namespace", l->ns, "name", l->name,
			 "kind", "LocalRedirectPolicy", "frontends", fes);
}
static int svc_find(const struct kdp_state *st, char **id)
{
	return kdp_state_svc_find(st, id[0], id[1]);
}
static int svc_put(const struct kdp *k, struct kdp_state *next, const json_t *body,
		   char **id, char *err)
{
	struct kdp_service sv;
	int ret = kdp_service_parse(body, id[0], id[1], "", &k->cfg, &sv, err);

	if (ret == 0)
		ret = kdp_state_svc_put(next, &sv);
	if (ret != 0)
		kdp_service_free(&sv);
	return ret;
}

static unsigned int lrp_count(const struct kdp *k) { return k->state.n_lrps; }
static json_t *lrp_show(const struct kdp *k, unsigned int i)
{
	return lrp_json(k, &k->state.lrps[i]);
}
static int lrp_find(const struct kdp_state *st, char **id)
{
	return kdp_state_lrp_find(st, id[0], id[1]);
}
static int lrp_put(const struct kdp *k, struct kdp_state *next, const json_t *body,
		   char **id, char *err)
{
	struct kdp_lrp l;
	int ret = kdp_lrp_parse(body, id[0], id[1], "", &l, err);

	if (ret == 0)
		ret = kdp_state_lrp_put(next, &l);
	if (ret != 0)
		kdp_lrp_free(&l);
	return ret;
}

static const struct collection nodes_c = {"node", "/v1/nodes", false, node_count, node_show,
					   node_find, node_put, kdp_state_node_del};
static const struct collection eps_c = {"endpoint", "/v1/endpoints", true, ep_count, ep_show,
					ep_find, ep_put, kdp_state_ep_del};
static const struct collection svcs_c = {"service", "/v1/services", true, svc_count, svc_show,
					 svc_find, svc_put, kdp_state_svc_del};
static const struct collection lrps_c = {"local redirect policy", "/v1/lrp", true, lrp_count,
					 lrp_show, lrp_find, lrp_put, kdp_state_lrp_del};

static const struct collection *const collections[] = {&nodes_c, &eps_c, &svcs_c, &lrps_c};

int kdp_api_replay(struct kdp *k, struct kdp_state *st, const json_t *op, char *err)
{
	const char *kind = json_string_value(json_object_get(op, "kind"));
	const json_t *ids = json_object_get(op, "id"), *body = json_object_get(op, "body");
	char *id[2] = {NULL, NULL};

	for (size_t i = 0; i < RTE_DIM(collections); i++) {
		const struct collection *c = collections[i];
		size_t want = c->namespaced ? 2 : 1;
		int at;

		if (kind == NULL || strcmp(kind, c->path) != 0)
			continue;
		if (!json_is_array(ids) || json_array_size(ids) != want)
			break;
		for (size_t j = 0; j < want; j++)
			id[j] = (char *)(uintptr_t)json_string_value(json_array_get(ids, j));
		if (id[0] == NULL || (want == 2 && id[1] == NULL))
			break;
		if (body != NULL)
			return c->put(k, st, body, id, err);
		at = c->find(st, id);
		if (at >= 0)
			c->del(st, at);
		return 0;
	}
	snprintf(err, KDP_ERR_LEN, "not an update kdp wrote");
	return -EINVAL;
}

static void nodes(struct api_req *r) { collection(r, &nodes_c); }
static void endpoints(struct api_req *r) { collection(r, &eps_c); }
static void services(struct api_req *r) { collection(r, &svcs_c); }
static void lrps(struct api_req *r) { collection(r, &lrps_c); }

/* ---- ip-masq-agent ---- */

static void ipmasq(struct api_req *r)
{
	struct kdp *k = r->k;
	const struct kdp_snapshot *snap = atomic_load(&k->snap);
	struct kdp_state next;
	struct kdp_ipmasq cfg;
	char err[KDP_ERR_LEN];

	if (r->nseg != 2)
		return reply_error(r->req, HTTP_NOTFOUND, "no such path %s", r->path);
	if (r->method == EVHTTP_REQ_GET) {
		json_t *entries = json_array();
		const struct kdp_masq_set *m = snap->dp.masq;

		for (uint32_t i = 0; m != NULL && i < m->n_entries; i++) {
			char b[KDP_ADDR_STRLEN];
			json_array_append_new(
				entries,
				json_pack("{s:s, s:s}", "prefix",
					  kdp_addr_fmt_prefix(m->entries[i].prefix,
							      m->entries[i].depth, b, sizeof(b)),
					  "reason", kdp_masq_reason_name(m->entries[i].reason)));
		}
		return reply_json(r->req, HTTP_OK,
				  json_pack("{s:o, s:o, s:s?, s:s?}", "config",
					    kdp_ipmasq_json(&k->state.ipmasq), "nonMasquerade",
					    entries, "file",
					    k->cfg.ipmasq_file[0] ? k->cfg.ipmasq_file : NULL,
					    "fileError",
					    k->ipmasq_file_err[0] ? k->ipmasq_file_err : NULL));
	}
	if (r->method == EVHTTP_REQ_DELETE) {
		if (kdp_state_copy(&next, &k->state) != 0)
			return reply_error(r->req, HTTP_INTERNAL, "out of memory");
		next.ipmasq.present = false;
		return apply_reply(r, &next, "ip-masq-agent config removed", NULL);
	}
	if (r->method != EVHTTP_REQ_PUT)
		return reply_error(r->req, 405, "only GET, PUT and DELETE on /v1/ipmasq");
	{
		struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
		size_t len = evbuffer_get_length(in);
		const char *text = len ? (const char *)evbuffer_pullup(in, -1) : "";

		/* The agent's file as it is: JSON or its YAML subset. */
		if (kdp_ipmasq_parse(text, len, &cfg, err) != 0)
			return reply_error(r->req, HTTP_BADREQUEST, "%s", err);
	}
	if (kdp_state_copy(&next, &k->state) != 0)
		return reply_error(r->req, HTTP_INTERNAL, "out of memory");
	next.ipmasq = cfg;
	apply_reply(r, &next, "ip-masq-agent config applied", NULL);
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

static void ct(struct api_req *r)
{
	struct ct_list l = {json_array(), rte_rdtsc() / (rte_get_tsc_hz() / 1000), 100000};

	kdp_ct_foreach(r->k->ct, ct_one, &l);
	reply_json(r->req, HTTP_OK,
		   json_pack("{s:I, s:I, s:I, s:I, s:o}", "entries",
			     (json_int_t)kdp_ct_count(r->k->ct), "capacity",
			     (json_int_t)r->k->cfg.ct_max, "gcRuns", (json_int_t)r->k->ct->gc_runs,
			     "gcRemoved", (json_int_t)r->k->ct->gc_removed, "flows", l.a));
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

static void nat(struct api_req *r)
{
	struct ct_list l = {json_array(), rte_rdtsc() / (rte_get_tsc_hz() / 1000), 200000};

	kdp_ct_foreach(r->k->ct, nat_one, &l);
	reply_json(r->req, HTTP_OK, l.a);
}

/* ---- state ---- */

static void state(struct api_req *r)
{
	struct kdp_state next;
	char err[KDP_ERR_LEN], msg[128];
	json_t *body;

	if (r->nseg != 2)
		return reply_error(r->req, HTTP_NOTFOUND, "no such path %s", r->path);
	if (r->method == EVHTTP_REQ_GET)
		return reply_json(r->req, HTTP_OK, kdp_state_json(&r->k->state));
	if (r->method != EVHTTP_REQ_PUT)
		return reply_error(r->req, 405, "only GET and PUT on /v1/state");
	body = body_json(r);
	if (body == NULL)
		return;
	if (kdp_state_parse(body, &r->k->cfg, &next, err) != 0) {
		json_decref(body);
		return reply_error(r->req, HTTP_BADREQUEST, "%s", err);
	}
	json_decref(body);
	snprintf(msg, sizeof(msg), "state applied: %u node(s), %u endpoint(s)",
		 next.n_nodes, next.n_eps);
	{
		struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
		struct kdp_change how = {.state = (const char *)evbuffer_pullup(in, -1),
					 .state_len = evbuffer_get_length(in)};

		apply_reply(r, &next, msg, &how);
	}
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

static void routes(struct api_req *r)
{
	const struct kdp_snapshot *s = atomic_load(&r->k->snap);
	const struct kdp_route_table *rt = s->dp.rt;
	const struct kdp_route_entry **sorted;
	json_t *a = json_array();

	sorted = malloc(sizeof(*sorted) * (rt->n_routes + 1));
	if (sorted == NULL) {
		json_decref(a);
		return reply_error(r->req, HTTP_INTERNAL, "out of memory");
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
	reply_json(r->req, HTTP_OK, a);
}

struct neigh_list {
	struct kdp *k;
	json_t *a;
	uint64_t now;
};

static int neigh_one(const struct kdp_neigh_entry *e, void *arg)
{
	struct neigh_list *l = arg;
	char ip[KDP_ADDR_STRLEN], mac[KDP_MAC_STRLEN], pb[64];

	kdp_addr_fmt_mac(&e->mac, mac, sizeof(mac));
	json_array_append_new(
		l->a, json_pack("{s:s, s:s?, s:s, s:s?, s:I}", "ip",
				kdp_addr_fmt_ip(e->ip, ip, sizeof(ip)), "mac",
				e->state == KDP_NEIGH_INCOMPLETE ? NULL : mac, "state",
				kdp_neigh_state_name(e->state), "port",
				port_label(l->k, e->port, pb, sizeof(pb)), "ageSeconds",
				(json_int_t)(e->confirmed_ms ? (l->now - e->confirmed_ms) / 1000
							     : 0)));
	return 0;
}

static void neighbours(struct api_req *r)
{
	struct neigh_list l = {r->k, json_array(), kdp_now_ms()};

	kdp_neigh_foreach(r->k->nt, neigh_one, &l);
	reply_json(r->req, HTTP_OK, l.a);
}

static void stats(struct api_req *r)
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
			json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:f}", "id", i,
				  "lcore", k->workers[i].lcore, "rxPackets",
				  (json_int_t)s->rx_pkts, "txPackets", (json_int_t)s->tx_pkts,
				  "dropped", (json_int_t)kdp_stats_drops_total(s),
				  "busyCycles", (json_int_t)s->busy_cycles, "totalCycles",
				  (json_int_t)s->total_cycles, "tscHz",
				  (json_int_t)rte_get_tsc_hz(), "busyRatio",
				  s->total_cycles ? (double)s->busy_cycles /
							    (double)s->total_cycles
						  : 0.0));
	}
	for (unsigned int i = 0; i < KDP_DROP__MAX; i++)
		json_array_append_new(drops,
				      json_pack("{s:s, s:s, s:I}", "reason",
						kdp_drop_name(i), "stage", kdp_drop_stage(i),
						"packets", (json_int_t)tot.drop[i]));
	json_t *hist = json_array();
	for (unsigned int i = 0; i < 6; i++)
		json_array_append_new(hist, json_integer((json_int_t)tot.nat_retry_hist[i]));
	reply_json(r->req, HTTP_OK,
		   json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:o, s:o,"
			     " s:{s:I, s:I, s:I, s:o, s:I}}",
			     "totals", "rxPackets", (json_int_t)tot.rx_pkts, "rxBytes",
			     (json_int_t)tot.rx_bytes, "txPackets", (json_int_t)tot.tx_pkts,
			     "txBytes", (json_int_t)tot.tx_bytes, "dropped",
			     (json_int_t)kdp_stats_drops_total(&tot), "punted",
			     (json_int_t)tot.punted, "icmpSent", (json_int_t)tot.icmp_sent,
			     "workers", workers, "drops", drops, "nat", "masqueradedFlows",
			     (json_int_t)tot.masq_flows, "masqueradedPackets",
			     (json_int_t)tot.masq_pkts, "leftUnmasqueraded",
			     (json_int_t)tot.masq_skipped, "portRetryHistogram", hist,
			     "portExhausted", (json_int_t)tot.drop[KDP_DROP_NAT_PORT_EXHAUSTED]));
}

/* Non-zero driver counters of a port, for GET /v1/status. */
static void add_counter(void *arg, const char *name, uint64_t v)
{
	if (v != 0)
		json_object_set_new(arg, name, json_integer((json_int_t)v));
}

static void status(struct api_req *r)
{
	struct kdp *k = r->k;
	const struct kdp_snapshot *s = atomic_load(&k->snap);
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
			ports, json_pack("{s:i, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:o}",
					 "id", p, "name", k->ports[p].name, "role",
					 role_name(k->ports[p].role), "endpoint", ep,
					 "state", link_state(k, p), "rxPackets",
					 (json_int_t)es.ipackets, "txPackets",
					 (json_int_t)es.opackets, "rxMissed",
					 (json_int_t)es.imissed, "rxErrors",
					 (json_int_t)es.ierrors, "txErrors",
					 (json_int_t)es.oerrors, "driverCounters", dc));
	}
	kdp_addr_fmt_mac(&k->mac, mac, sizeof(mac));
	kdp_addr_fmt_prefix(k->cfg.native_cidr, k->cfg.native_plen, nat, sizeof(nat));
	kdp_addr_fmt_ip(k->cfg.gateway, gw, sizeof(gw));
	kdp_addr_fmt_ip(k->cfg.pod_gw, pgw, sizeof(pgw));
	kdp_addr_fmt_prefix(k->cfg.node_ip, k->cfg.node_plen, ip, sizeof(ip));
	reply_json(r->req, HTTP_OK,
		   json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:I,"
			     " s:o, s:{s:i, s:i, s:i, s:i, s:i, s:I, s:I, s:I}}",
			     "node", k->cfg.name, "version", KDP_VERSION,
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
			     (json_int_t)k->ct_mem_bytes));
}

/* Splits the decoded path into segments; 0 or -1 for a bad path. */
static int split_path(struct api_req *r, const char *uri)
{
	struct evhttp_uri *u = evhttp_uri_parse(uri);
	const char *p = u ? evhttp_uri_get_path(u) : NULL;
	char *dec, *save = NULL, *tok;
	size_t n;

	if (p == NULL) {
		evhttp_uri_free(u);
		return -1;
	}
	dec = evhttp_uridecode(p, 0, &n);
	evhttp_uri_free(u);
	if (dec == NULL || n >= sizeof(r->path) || strlen(dec) != n) {
		free(dec);
		return -1;
	}
	memcpy(r->path, dec, n + 1);
	free(dec);
	r->nseg = 0;
	memcpy(r->segbuf, r->path, n + 1);
	for (tok = strtok_r(r->segbuf, "/", &save); tok != NULL;
	     tok = strtok_r(NULL, "/", &save)) {
		if (r->nseg == MAX_SEGS)
			return -1;
		r->seg[r->nseg++] = tok;
	}
	return 0;
}

struct route {
	const char *name;
	void (*fn)(struct api_req *r);
	bool get_only;
};

/* GET /v1/monitor: a stream of flow events (kdp_flowmon.c). */
static void monitor(struct api_req *r)
{
	char err[KDP_ERR_LEN];
	int code = kdp_flowmon_serve(r->k, r->req, err);

	if (code != HTTP_OK)
		return reply_error(r->req, code, "%s", err);
	count(code);
}

static const struct route routes_v1[] = {
	{"status", status, true},   {"nodes", nodes, false},
	{"endpoints", endpoints, false}, {"state", state, false},
	{"routes", routes, true},   {"neighbours", neighbours, true},
	{"stats", stats, true},      {"services", services, false},
	{"ct", ct, true},            {"ipmasq", ipmasq, false},
	{"nat", nat, true},          {"lrp", lrps, false},
	{"monitor", monitor, true},
};

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_POST:
		return "POST";
	default:
		return "OTHER";
	}
}

static void metrics(struct api_req *r)
{
	struct evbuffer *buf = evbuffer_new();

	if (r->method != EVHTTP_REQ_GET) {
		evbuffer_free(buf);
		return reply_error(r->req, 405, "only GET on /metrics");
	}
	kdp_metrics_render(r->k, buf);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	count(HTTP_OK);
	evhttp_send_reply(r->req, HTTP_OK, NULL, buf);
	evbuffer_free(buf);
}

void kdp_api_handle(struct evhttp_request *req, void *arg)
{
	struct api_req r = {.k = arg, .req = req};
	static char route[64];

	r.method = evhttp_request_get_command(req);
	cur.k = arg;
	cur.method = method_name(r.method);
	cur.route = "other";
	if (split_path(&r, evhttp_request_get_uri(req)) != 0)
		return reply_error(req, HTTP_BADREQUEST, "malformed request path");
	if (r.nseg == 1 && strcmp(r.seg[0], "metrics") == 0) {
		cur.route = "/metrics";
		return metrics(&r);
	}
	if (r.nseg >= 2 && strcmp(r.seg[0], "v1") == 0) {
		for (size_t i = 0; i < RTE_DIM(routes_v1); i++)
			if (strcmp(r.seg[1], routes_v1[i].name) == 0) {
				snprintf(route, sizeof(route), "/v1/%s", routes_v1[i].name);
				cur.route = route;
			}
	}
	if (r.nseg < 2 || strcmp(r.seg[0], "v1") != 0)
		return reply_error(req, HTTP_NOTFOUND, "no such path %s", r.path);
	for (size_t i = 0; i < RTE_DIM(routes_v1); i++) {
		if (strcmp(r.seg[1], routes_v1[i].name) != 0)
			continue;
		if (routes_v1[i].get_only && r.nseg != 2)
			return reply_error(req, HTTP_NOTFOUND, "no such path %s", r.path);
		if (routes_v1[i].get_only && r.method != EVHTTP_REQ_GET)
			return reply_error(req, 405, "only GET on %s", r.path);
		return routes_v1[i].fn(&r);
	}
	reply_error(req, HTTP_NOTFOUND, "no such path %s", r.path);
}

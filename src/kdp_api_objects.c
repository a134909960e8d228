/* SPDX-License-Identifier: BSD-3-Clause */
/* REST API: changes. The object collections (GET, PUT, DELETE of nodes,
 * endpoints, services, local redirect policies), the whole state and the
 * ip-masq-agent config; each change goes through kdp_apply, object updates
 * saved as one journal line (kdp_objects). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "kdp_api_priv.h"
#include "kdp_json.h"
#include "kdp_objects.h"

/* Applies @p next and answers: 200 with @p what, 400 or 500 with why.
 * @p how: what to save (NULL: the whole state, serialized). */
static void apply_reply(struct kdp_api_req *r, struct kdp_state *next, const char *what,
			const struct kdp_change *how)
{
	char err[KDP_ERR_LEN];
	int ret = kdp_apply(r->k, next, KDP_APPLY_PERSIST, how, err);

	if (ret == 0)
		kdp_api_reply_msg(r, "%s", what);
	else
		kdp_api_reply_error(r, ret == -EINVAL ? HTTP_BADREQUEST : HTTP_INTERNAL, "%s",
				    err);
}

/* How a collection is listed: its objects' count and JSON view. */
struct listing {
	const struct kdp_objects_kind *c;
	unsigned int (*count)(const struct kdp *k);
	json_t *(*show)(const struct kdp *k, unsigned int i);
};

static unsigned int node_count(const struct kdp *k) { return k->state.n_nodes; }
static json_t *node_show(const struct kdp *k, unsigned int i)
{
	return kdp_state_node_json(&k->state.nodes[i], k->cfg.name);
}

static unsigned int ep_count(const struct kdp *k) { return k->state.n_eps; }
static json_t *ep_show(const struct kdp *k, unsigned int i)
{
	return kdp_api_ep_json(k, &k->state.eps[i]);
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
	if (i < k->state.n_svcs)
		return kdp_api_svc_json(k, k->state.svcs[i]);
	i -= k->state.n_svcs;
	for (unsigned int j = 0; j < k->state.n_lrps; j++)
		if (k->state.lrps[j].address && i-- == 0)
			return kdp_api_lrp_frontends_json(k, &k->state.lrps[j]);
	return NULL;
}

static unsigned int lrp_count(const struct kdp *k) { return k->state.n_lrps; }
static json_t *lrp_show(const struct kdp *k, unsigned int i)
{
	return kdp_api_lrp_json(k, &k->state.lrps[i]);
}

static const struct listing nodes_l = {&kdp_objects_nodes, node_count, node_show};
static const struct listing eps_l = {&kdp_objects_endpoints, ep_count, ep_show};
static const struct listing svcs_l = {&kdp_objects_services, svc_count, svc_show};
static const struct listing lrps_l = {&kdp_objects_lrps, lrp_count, lrp_show};

/* Applies an update of object @p id of @p c, journaled as one line. Takes
 * @p body (NULL: a delete). */
static void apply_op(struct kdp_api_req *r, const struct kdp_objects_kind *c, char **id,
		     struct kdp_state *next, json_t *body, const char *msg)
{
	struct kdp_change how = {0};
	char *line = kdp_objects_op(c, id, body);

	json_decref(body);
	if (line == NULL) {
		kdp_state_free(next);
		return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
	}
	how.op = line;
	how.op_len = strlen(line);
	apply_reply(r, next, msg, &how);
	free(line);
}

/* /v1/<collection>[/{namespace}]/{name}: GET of the list and of one, PUT
 * (create or replace), DELETE. */
static void collection(struct kdp_api_req *r, const struct listing *l)
{
	const struct kdp_objects_kind *c = l->c;
	struct kdp *k = r->k;
	unsigned int want = c->namespaced ? 4 : 3;
	char **id = &r->seg[2], who[2 * KDP_NAME_LEN + 2], err[KDP_ERR_LEN], msg[256];
	struct kdp_state next;
	json_t *body;
	int i, ret;

	if (r->nseg == 2) {
		json_t *a;

		if (r->method != EVHTTP_REQ_GET)
			return kdp_api_reply_error(r, 405, "only GET on %s", c->path);
		a = json_array();
		for (unsigned int j = 0; j < l->count(k); j++)
			json_array_append_new(a, l->show(k, j));
		return kdp_api_reply_json(r, HTTP_OK, a);
	}
	if (r->nseg != want)
		return kdp_api_reply_error(r, HTTP_NOTFOUND, "no such path %s (use %s/%s)", r->path,
					   c->path, c->namespaced ? "{namespace}/{name}" : "{name}");
	if (c->namespaced)
		snprintf(who, sizeof(who), "%s/%s", id[0], id[1]);
	else
		snprintf(who, sizeof(who), "%s", id[0]);
	i = c->find(&k->state, id);
	switch (r->method) {
	case EVHTTP_REQ_GET:
		if (i < 0)
			return kdp_api_reply_error(r, HTTP_NOTFOUND, "%s %s not found", c->kind, who);
		return kdp_api_reply_json(r, HTTP_OK, l->show(k, (unsigned int)i));
	case EVHTTP_REQ_PUT:
		if (kdp_json_check_name(id[0], c->namespaced ? "namespace" : "name", err) != 0 ||
		    (c->namespaced && kdp_json_check_name(id[1], "name", err) != 0))
			return kdp_api_reply_error(r, HTTP_BADREQUEST, "%s", err);
		body = kdp_api_body_json(r);
		if (body == NULL)
			return;
		if (kdp_state_copy(&next, &k->state) != 0) {
			json_decref(body);
			return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
		}
		ret = c->put(&k->cfg, &next, body, id, err);
		if (ret != 0) {
			json_decref(body);
			kdp_state_free(&next);
			if (ret == -ENOMEM)
				return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
			return kdp_api_reply_error(r, HTTP_BADREQUEST, "%s", err);
		}
		snprintf(msg, sizeof(msg), "%s %s %s", c->kind, who, i < 0 ? "created" : "updated");
		return apply_op(r, c, id, &next, body, msg);
	case EVHTTP_REQ_DELETE:
		if (i < 0)
			return kdp_api_reply_error(r, HTTP_NOTFOUND, "%s %s not found", c->kind, who);
		if (kdp_state_copy(&next, &k->state) != 0)
			return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
		c->del(&next, i);
		snprintf(msg, sizeof(msg), "%s %s deleted", c->kind, who);
		return apply_op(r, c, id, &next, NULL, msg);
	default:
		return kdp_api_reply_error(r, 405, "method not allowed on %s", r->path);
	}
}

void kdp_api_nodes(struct kdp_api_req *r) { collection(r, &nodes_l); }
void kdp_api_endpoints(struct kdp_api_req *r) { collection(r, &eps_l); }
void kdp_api_services(struct kdp_api_req *r) { collection(r, &svcs_l); }
void kdp_api_lrps(struct kdp_api_req *r) { collection(r, &lrps_l); }

/* ---- ip-masq-agent ---- */

/* Applies @p next's ip-masq-agent config, journaled as one line (a whole
 * state serialized would cost 10,000 services' JSON). */
static void apply_ipmasq(struct kdp_api_req *r, struct kdp_state *next, const char *msg)
{
	struct kdp_change how = {0};
	char *line = kdp_objects_ipmasq_op(&next->ipmasq);

	if (line == NULL) {
		kdp_state_free(next);
		return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
	}
	how.op = line;
	how.op_len = strlen(line);
	apply_reply(r, next, msg, &how);
	free(line);
}

void kdp_api_ipmasq(struct kdp_api_req *r)
{
	struct kdp *k = r->k;
	const struct kdp_snapshot *snap = atomic_load(&k->pub.snap);
	struct kdp_state next;
	struct kdp_ipmasq cfg;
	char err[KDP_ERR_LEN];

	if (r->nseg != 2)
		return kdp_api_reply_error(r, HTTP_NOTFOUND, "no such path %s", r->path);
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
		for (uint32_t i = 0; snap->dp.masq6 != NULL && i < snap->dp.masq6->n_entries; i++) {
			const struct kdp_masq_entry6 *e = &snap->dp.masq6->entries[i];
			char b[KDP_ADDR6_STRLEN];

			json_array_append_new(
				entries, json_pack("{s:s, s:s}", "prefix",
						   kdp_addr6_fmt_prefix(&e->prefix, e->depth, b, sizeof(b)),
						   "reason", kdp_masq_reason_name(e->reason)));
		}
		return kdp_api_reply_json(r, HTTP_OK,
				  json_pack("{s:o, s:O?, s:o, s:s?, s:s?}", "config",
					    kdp_ipmasq_json(&k->state.ipmasq), "text",
					    k->state.ipmasq.present ? k->state.ipmasq.text : NULL,
					    "nonMasquerade", entries, "file",
					    k->cfg.ipmasq_file[0] ? k->cfg.ipmasq_file : NULL,
					    "fileError",
					    k->ipmasq_file_err[0] ? k->ipmasq_file_err : NULL));
	}
	if (r->method == EVHTTP_REQ_DELETE) {
		struct kdp_ipmasq none = {.present = false};

		if (kdp_state_copy(&next, &k->state) != 0)
			return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
		kdp_state_set_ipmasq(&next, &none);
		return apply_ipmasq(r, &next, "ip-masq-agent config removed");
	}
	if (r->method != EVHTTP_REQ_PUT)
		return kdp_api_reply_error(r, 405, "only GET, PUT and DELETE on /v1/ipmasq");
	{
		struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
		size_t len = evbuffer_get_length(in);
		const char *text = len ? (const char *)evbuffer_pullup(in, -1) : "";

		/* The agent's file as it is: JSON or its YAML subset, kept as
		 * text (GET shows it, so a client can compare). */
		if (kdp_ipmasq_parse(text, len, &cfg, err) != 0)
			return kdp_api_reply_error(r, HTTP_BADREQUEST, "%s", err);
		cfg.text = json_stringn(text, len);
	}
	if (kdp_state_copy(&next, &k->state) != 0) {
		json_decref(cfg.text);
		return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
	}
	kdp_state_set_ipmasq(&next, &cfg);
	apply_ipmasq(r, &next, "ip-masq-agent config applied");
}

/* ---- state ---- */

/* The text of a state with the endpoints of @p st put in: @p body's object
 * with "endpoints" as its first key (the body has none). NULL: no memory. */
static char *with_endpoints(const char *body, size_t len, const struct kdp_state *st,
			    size_t *out_len)
{
	json_t *eps = json_array();
	const char *open = memchr(body, '{', len), *p;
	char *text, *out = NULL;
	size_t n;
	bool empty;

	for (unsigned int i = 0; eps != NULL && i < st->n_eps; i++)
		json_array_append_new(eps, kdp_state_ep_json(&st->eps[i]));
	text = eps ? json_dumps(eps, JSON_COMPACT) : NULL;
	json_decref(eps);
	if (text == NULL || open == NULL) {
		free(text);
		return NULL;
	}
	for (p = open + 1; p < body + len && strchr(" \t\r\n", *p) != NULL; p++)
		;
	empty = p < body + len && *p == '}';
	n = strlen(text);
	*out_len = (size_t)(open - body) + 1 + 13 + n + !empty + (len - (size_t)(open + 1 - body));
	out = malloc(*out_len + 1);
	if (out != NULL) {
		char *w = out;

		memcpy(w, body, (size_t)(open - body) + 1);
		w += open - body + 1;
		memcpy(w, "\"endpoints\":", 12);
		w += 12;
		memcpy(w, text, n);
		w += n;
		if (!empty)
			*w++ = ',';
		memcpy(w, open + 1, len - (size_t)(open + 1 - body));
		w += len - (size_t)(open + 1 - body);
		*w = '\0';
		*out_len = (size_t)(w - out);
	}
	free(text);
	return out;
}

void kdp_api_state(struct kdp_api_req *r)
{
	struct kdp_state next;
	char err[KDP_ERR_LEN], msg[160], keep[32];
	bool keep_eps = false;
	json_t *body;

	if (r->nseg != 2)
		return kdp_api_reply_error(r, HTTP_NOTFOUND, "no such path %s", r->path);
	if (r->method == EVHTTP_REQ_GET)
		return kdp_api_reply_json(r, HTTP_OK, kdp_state_json(&r->k->state));
	if (r->method != EVHTTP_REQ_PUT)
		return kdp_api_reply_error(r, 405, "only GET and PUT on /v1/state");
	if (kdp_api_query(r, "keep", keep, sizeof(keep)) != NULL) {
		/* Endpoints belong to kdp-cni: a whole state from elsewhere
		 * (kdp-agent) leaves them as they are. */
		if (strcmp(keep, "endpoints") != 0)
			return kdp_api_reply_error(r, HTTP_BADREQUEST,
						   "keep: expected \"endpoints\" (the only part kept)");
		keep_eps = true;
	}
	body = kdp_api_body_json(r);
	if (body == NULL)
		return;
	if (keep_eps && json_object_get(body, "endpoints") != NULL) {
		json_decref(body);
		return kdp_api_reply_error(r, HTTP_BADREQUEST,
					   "endpoints: not with ?keep=endpoints (kdp keeps its own)");
	}
	if (kdp_state_parse(body, &r->k->cfg, &next, err) != 0) {
		json_decref(body);
		return kdp_api_reply_error(r, HTTP_BADREQUEST, "%s", err);
	}
	json_decref(body);
	if (keep_eps) {
		const struct kdp_state *cur = &r->k->state;

		next.eps = malloc(sizeof(*next.eps) * (cur->n_eps + 1));
		if (next.eps == NULL) {
			kdp_state_free(&next);
			return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
		}
		memcpy(next.eps, cur->eps, sizeof(*next.eps) * cur->n_eps);
		next.n_eps = cur->n_eps;
		for (unsigned int i = 0; i < next.n_eps; i++)
			json_incref(next.eps[i].labels);
	}
	snprintf(msg, sizeof(msg), "state applied: %u node(s), %u endpoint(s)%s, %u service(s)",
		 next.n_nodes, next.n_eps, keep_eps ? " (kept)" : "", next.n_svcs);
	{
		struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
		struct kdp_change how = {.state = (const char *)evbuffer_pullup(in, -1),
					 .state_len = evbuffer_get_length(in)};
		char *text = NULL;

		/* The base on disk is the body as sent, with the endpoints
		 * kept put in. */
		if (keep_eps) {
			text = with_endpoints(how.state, how.state_len, &next, &how.state_len);
			if (text == NULL) {
				kdp_state_free(&next);
				return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
			}
			how.state = text;
		}
		apply_reply(r, &next, msg, &how);
		free(text);
	}
}

/* ---- batches ---- */

/* PATCH /v1/objects {"objects": [update, ...]}: every update checked, then
 * all applied as one snapshot and saved as one journal line (a restart
 * replays it whole), or nothing. */
void kdp_api_batch(struct kdp_api_req *r)
{
	static const char *const keys[] = {"objects", NULL};
	struct kdp *k = r->k;
	struct kdp_state next;
	struct kdp_change how = {0};
	char err[KDP_ERR_LEN], *line;
	json_t *body, *results;
	size_t bad = 0;
	int ret;

	if (r->nseg != 2)
		return kdp_api_reply_error(r, HTTP_NOTFOUND, "no such path %s", r->path);
	if (r->method != EVHTTP_REQ_PATCH)
		return kdp_api_reply_error(r, 405, "only PATCH on /v1/objects");
	body = kdp_api_body_json(r);
	if (body == NULL)
		return;
	if ((ret = kdp_json_object(body, "", err)) != 0 ||
	    (ret = kdp_json_only(body, keys, "", err)) != 0 ||
	    (ret = json_object_get(body, "objects") == NULL
			   ? kdp_json_err(err, "objects", "required field missing")
			   : 0) != 0) {
		json_decref(body);
		return kdp_api_reply_error(r, HTTP_BADREQUEST, "%s", err);
	}
	results = json_array();
	if (results == NULL || kdp_state_copy(&next, &k->state) != 0) {
		json_decref(results);
		json_decref(body);
		return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
	}
	ret = kdp_objects_batch(&k->cfg, &next, json_object_get(body, "objects"), results, &bad,
				err);
	if (ret != 0) {
		kdp_state_free(&next);
		json_decref(results);
		json_decref(body);
		if (ret == -ENOMEM)
			return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
		return kdp_api_reply_json(r, HTTP_BADREQUEST,
					  json_pack("{s:s, s:I}", "error", err, "index",
						    (json_int_t)bad));
	}
	line = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (line == NULL) {
		kdp_state_free(&next);
		json_decref(results);
		return kdp_api_reply_error(r, HTTP_INTERNAL, "out of memory");
	}
	how.op = line;
	how.op_len = strlen(line);
	ret = kdp_apply(k, &next, KDP_APPLY_PERSIST, &how, err);
	free(line);
	if (ret != 0) {
		json_decref(results);
		return kdp_api_reply_error(r, ret == -EINVAL ? HTTP_BADREQUEST : HTTP_INTERNAL,
					   "%s", err);
	}
	snprintf(err, sizeof(err), "%zu update(s) applied", json_array_size(results));
	kdp_api_reply_json(r, HTTP_OK, json_pack("{s:s, s:o}", "message", err, "results", results));
}

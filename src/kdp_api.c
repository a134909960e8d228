/* SPDX-License-Identifier: BSD-3-Clause */
/* REST API v1: each request's path is cut into segments and routed to its
 * handler (kdp_api_views.c, kdp_api_objects.c); every answer is JSON and
 * counted by route, method and code. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <rte_common.h>

#include "kdp_api.h"
#include "kdp_api_priv.h"
#include "kdp_metrics.h"

void kdp_api_counted(struct kdp_api_req *r, int code)
{
	kdp_metrics_count_request(r->k, r->route, r->method_name, code);
}

void kdp_api_reply_json(struct kdp_api_req *r, int code, json_t *body)
{
	struct evbuffer *buf = evbuffer_new();
	char *s = body ? json_dumps(body, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;

	kdp_api_counted(r, code);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Content-Type",
			  "application/json");
	if (s != NULL) {
		evbuffer_add(buf, s, strlen(s));
		evbuffer_add(buf, "\n", 1);
	}
	evhttp_send_reply(r->req, code, NULL, buf);
	evbuffer_free(buf);
	free(s);
	json_decref(body);
}

void kdp_api_reply_error(struct kdp_api_req *r, int code, const char *fmt, ...)
{
	char msg[KDP_ERR_LEN + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kdp_api_reply_json(r, code, json_pack("{s:s}", "error", msg));
}

void kdp_api_reply_msg(struct kdp_api_req *r, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kdp_api_reply_json(r, HTTP_OK, json_pack("{s:s}", "message", msg));
}

json_t *kdp_api_body_json(struct kdp_api_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t len = evbuffer_get_length(in);
	json_error_t je;
	json_t *j;

	if (len == 0) {
		kdp_api_reply_error(r, HTTP_BADREQUEST, "body: empty, expected a JSON object");
		return NULL;
	}
	j = json_loadb((const char *)evbuffer_pullup(in, -1), len, JSON_REJECT_DUPLICATES, &je);
	if (j == NULL)
		kdp_api_reply_error(r, HTTP_BADREQUEST, "body: invalid JSON at line %d column %d: %s",
				    je.line, je.column, je.text);
	return j;
}

/* Splits the decoded path into segments; 0 or -1 for a bad path. */
static int split_path(struct kdp_api_req *r, const char *uri)
{
	struct evhttp_uri *u = evhttp_uri_parse(uri);
	const char *p = u ? evhttp_uri_get_path(u) : NULL;
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	char *dec, *save = NULL, *tok;
	size_t n;

	if (p == NULL || (q != NULL && strlen(q) >= sizeof(r->query))) {
		evhttp_uri_free(u);
		return -1;
	}
	snprintf(r->query, sizeof(r->query), "%s", q ? q : "");
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
		if (r->nseg == KDP_API_MAX_SEGS)
			return -1;
		r->seg[r->nseg++] = tok;
	}
	return 0;
}

struct route {
	const char *name; /* /v1/<name> */
	void (*fn)(struct kdp_api_req *r);
	bool get_only;    /* GET of exactly /v1/<name> */
};

const char *kdp_api_query(const struct kdp_api_req *r, const char *key, char *buf, size_t len)
{
	struct evkeyvalq q;
	const char *v;

	if (r->query[0] == '\0' || evhttp_parse_query_str(r->query, &q) != 0)
		return NULL;
	v = evhttp_find_header(&q, key);
	if (v != NULL)
		snprintf(buf, len, "%s", v);
	evhttp_clear_headers(&q);
	return v ? buf : NULL;
}

static const struct route routes_v1[] = {
	{"status", kdp_api_status, true},      {"nodes", kdp_api_nodes, false},
	{"endpoints", kdp_api_endpoints, false}, {"state", kdp_api_state, false},
	{"routes", kdp_api_routes, true},      {"neighbours", kdp_api_neighbours, true},
	{"stats", kdp_api_stats, true},        {"services", kdp_api_services, false},
	{"ct", kdp_api_ct, true},              {"ipmasq", kdp_api_ipmasq, false},
	{"nat", kdp_api_nat, true},            {"lrp", kdp_api_lrps, false},
	{"monitor", kdp_api_monitor, true},    {"upgrade", kdp_api_upgrade, false},
	{"handover", kdp_api_handover, false}, {"objects", kdp_api_batch, false},
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
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	default:
		return "OTHER";
	}
}

void kdp_api_handle(struct evhttp_request *req, void *arg)
{
	struct kdp_api_req r = {.k = arg, .req = req, .route = "other"};
	const struct route *rt = NULL;

	r.method = evhttp_request_get_command(req);
	r.method_name = method_name(r.method);
	if (split_path(&r, evhttp_request_get_uri(req)) != 0)
		return kdp_api_reply_error(&r, HTTP_BADREQUEST, "malformed request path");
	if (r.nseg == 1 && strcmp(r.seg[0], "metrics") == 0) {
		r.route = "/metrics";
		return kdp_api_metrics(&r);
	}
	for (size_t i = 0; r.nseg >= 2 && strcmp(r.seg[0], "v1") == 0 && i < RTE_DIM(routes_v1); i++)
		if (strcmp(r.seg[1], routes_v1[i].name) == 0)
			rt = &routes_v1[i];
	if (rt == NULL)
		return kdp_api_reply_error(&r, HTTP_NOTFOUND, "no such path %s", r.path);
	snprintf(r.route_buf, sizeof(r.route_buf), "/v1/%s", rt->name);
	r.route = r.route_buf;
	if (rt->get_only && r.nseg != 2)
		return kdp_api_reply_error(&r, HTTP_NOTFOUND, "no such path %s", r.path);
	if (rt->get_only && r.method != EVHTTP_REQ_GET)
		return kdp_api_reply_error(&r, 405, "only GET on %s", r.path);
	/* While a new kdp takes over, the state is about to be its own. */
	if (r.method != EVHTTP_REQ_GET && rt->fn != kdp_api_handover && kdp_handover_busy(r.k))
		return kdp_api_reply_error(&r, 503, "kdp is handing over to a new kdp (pid %d): "
					   "updates wait for it; retry in a moment", (int)r.k->ho.peer);
	rt->fn(&r);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Inside the REST API (not for other modules): the request being answered,
 * the replies, and the handlers of each part. kdp_api.c routes paths to
 * handlers; kdp_api_views.c has the read-only views; kdp_api_objects.c the
 * object collections, the whole state and the ip-masq-agent config.
 */
#ifndef KDP_API_PRIV_H
#define KDP_API_PRIV_H

#include <event2/http.h>
#include <jansson.h>

#include "kdp.h"

#define KDP_API_MAX_SEGS 6

/** One request being answered. */
struct kdp_api_req {
	struct kdp *k;
	struct evhttp_request *req;
	enum evhttp_cmd_type method;
	const char *method_name; /**< "GET", for the request counters */
	const char *route;       /**< "/v1/nodes" (or "other"), for the counters */
	char route_buf[64];
	unsigned int nseg;
	char *seg[KDP_API_MAX_SEGS]; /**< the decoded path cut at '/' */
	char path[512];
	char segbuf[512];
	char query[256];         /**< the decoded query string, "" when none */
};

/** Value of query parameter @p key (into @p buf), or NULL when absent. */
const char *kdp_api_query(const struct kdp_api_req *r, const char *key, char *buf, size_t len);

/** Answers @p code with @p body (taken; NULL: no body), counted. */
void kdp_api_reply_json(struct kdp_api_req *r, int code, json_t *body);
/** Answers {"error": ...}, counted. */
void kdp_api_reply_error(struct kdp_api_req *r, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/** Answers 200 {"message": ...}, counted. */
void kdp_api_reply_msg(struct kdp_api_req *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/** Counts an answer the handler sent itself (metrics text, a stream). */
void kdp_api_counted(struct kdp_api_req *r, int code);
/** The request body as JSON; NULL after answering 400 when it is not. */
json_t *kdp_api_body_json(struct kdp_api_req *r);

/* kdp_api_views.c: read-only views. */
void kdp_api_status(struct kdp_api_req *r);
void kdp_api_stats(struct kdp_api_req *r);
void kdp_api_routes(struct kdp_api_req *r);
void kdp_api_neighbours(struct kdp_api_req *r);
void kdp_api_ct(struct kdp_api_req *r);
void kdp_api_nat(struct kdp_api_req *r);
void kdp_api_monitor(struct kdp_api_req *r);
void kdp_api_metrics(struct kdp_api_req *r);
/** An endpoint with its port. */
json_t *kdp_api_ep_json(const struct kdp *k, const struct kdp_endpoint *e);
/** A service with the frontends the current snapshot has for it. */
json_t *kdp_api_svc_json(const struct kdp *k, const struct kdp_service *sv);
/** An addressMatcher policy listed among the services (as Cilium does). */
json_t *kdp_api_lrp_frontends_json(const struct kdp *k, const struct kdp_lrp *l);
/** A policy's spec plus what it does on this node now. */
json_t *kdp_api_lrp_json(const struct kdp *k, const struct kdp_lrp *l);

/* kdp_api_objects.c: changes. */
void kdp_api_nodes(struct kdp_api_req *r);
void kdp_api_endpoints(struct kdp_api_req *r);
void kdp_api_services(struct kdp_api_req *r);
void kdp_api_lrps(struct kdp_api_req *r);
void kdp_api_state(struct kdp_api_req *r);
void kdp_api_ipmasq(struct kdp_api_req *r);
void kdp_api_batch(struct kdp_api_req *r);

/* kdp_api_handover.c: upgrades. */
void kdp_api_upgrade(struct kdp_api_req *r);
void kdp_api_handover(struct kdp_api_req *r);

#endif

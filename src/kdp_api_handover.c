/* SPDX-License-Identifier: BSD-3-Clause */
/* REST API: upgrades. POST /v1/upgrade starts a new kdp that takes over
 * (kdpctl upgrade); POST /v1/handover/{prepare,freeze,commit} are that new
 * kdp's steps (kdp_handover.h). */
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "kdp_api_priv.h"

/* POST /v1/upgrade [{"force": true}]: 202 {"pid": <the new kdp>}. */
void kdp_api_upgrade(struct kdp_api_req *r)
{
	struct kdp *k = r->k;
	char err[KDP_ERR_LEN];
	json_t *body = NULL, *f;
	bool force = false;
	pid_t pid;

	if (r->nseg != 2 || r->method != EVHTTP_REQ_POST)
		return kdp_api_reply_error(r, 405, "only POST on /v1/upgrade");
	if (evbuffer_get_length(evhttp_request_get_input_buffer(r->req)) > 0) {
		body = kdp_api_body_json(r);
		if (body == NULL)
			return;
		f = json_object_get(body, "force");
		if (!json_is_object(body) || json_object_size(body) > (f != NULL) ||
		    (f != NULL && !json_is_boolean(f))) {
			json_decref(body);
			return kdp_api_reply_error(r, HTTP_BADREQUEST,
						   "body: only {\"force\": true|false} is accepted");
		}
		force = json_is_true(f);
		json_decref(body);
	}
	if (kdp_handover_busy(k) || k->ho.spawned > 0)
		return kdp_api_reply_error(r, 409, "an upgrade is under way (kdp pid %d)",
					   (int)(k->ho.spawned > 0 ? k->ho.spawned : k->ho.peer));
	pid = kdp_handover_spawn(k, force, err);
	if (pid < 0)
		return kdp_api_reply_error(r, HTTP_INTERNAL, "%s", err);
	kdp_api_reply_json(r, 202, json_pack("{s:i, s:s, s:b}", "pid", (int)pid, "binary",
					     k->ho.exe, "force", force));
}

/* POST /v1/handover/<step>, from the kdp taking over. */
void kdp_api_handover(struct kdp_api_req *r)
{
	struct kdp *k = r->k;
	char err[KDP_ERR_LEN] = "";
	json_t *ans = NULL, *body;
	int code = 200;

	if (r->nseg != 3 || r->method != EVHTTP_REQ_POST)
		return kdp_api_reply_error(r, HTTP_NOTFOUND, "no such path %s (POST "
					   "/v1/handover/prepare|freeze|commit)", r->path);
	if (strcmp(r->seg[2], "prepare") == 0) {
		json_t *pid;

		body = kdp_api_body_json(r);
		if (body == NULL)
			return;
		pid = json_object_get(body, "pid");
		if (!json_is_integer(pid) || json_integer_value(pid) <= 0) {
			json_decref(body);
			return kdp_api_reply_error(r, HTTP_BADREQUEST, "pid: expected the new kdp's pid");
		}
		ans = kdp_handover_on_prepare(k, r->req, (pid_t)json_integer_value(pid), &code, err);
		json_decref(body);
	} else if (strcmp(r->seg[2], "freeze") == 0) {
		ans = kdp_handover_on_freeze(k, r->req, &code, err);
	} else if (strcmp(r->seg[2], "commit") == 0) {
		ans = kdp_handover_on_commit(k, r->req, &code, err);
	} else {
		return kdp_api_reply_error(r, HTTP_NOTFOUND, "no such step '%s' (prepare, freeze, "
					   "commit)", r->seg[2]);
	}
	if (ans == NULL)
		return kdp_api_reply_error(r, code, "%s", err);
	kdp_api_reply_json(r, HTTP_OK, ans);
}

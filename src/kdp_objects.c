/* SPDX-License-Identifier: BSD-3-Clause */
/* The desired state's object collections and their journal lines. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

#include "kdp_json.h"
#include "kdp_objects.h"

static int node_find(const struct kdp_state *st, char **id)
{
	return kdp_state_node_find(st, id[0]);
}

static int node_put(const struct kdp_config *cfg, struct kdp_state *st, const json_t *body,
		    char **id, char *err)
{
	struct kdp_node n;
	int ret = kdp_state_node_parse(body, id[0], "", &n, err);

	return ret != 0 ? ret : kdp_state_node_put(st, &n);
}

static int ep_find(const struct kdp_state *st, char **id)
{
	return kdp_state_ep_find(st, id[0], id[1]);
}

static int ep_put(const struct kdp_config *cfg, struct kdp_state *st, const json_t *body,
		  char **id, char *err)
{
	struct kdp_endpoint ep;
	int ret = kdp_state_ep_parse(body, id[0], id[1], "", &ep, err);

	if (ret == 0)
		ret = kdp_state_ep_put(st, &ep);
	if (ret != 0)
		json_decref(ep.labels);
	return ret;
}

static int svc_find(const struct kdp_state *st, char **id)
{
	return kdp_state_svc_find(st, id[0], id[1]);
}

static int svc_put(const struct kdp_config *cfg, struct kdp_state *st, const json_t *body,
		   char **id, char *err)
{
	int ret;
	struct kdp_service *sv = kdp_service_new(body, id[0], id[1], "", cfg, &ret, err);

	return sv == NULL ? ret : kdp_state_svc_put(st, sv);
}

static int lrp_find(const struct kdp_state *st, char **id)
{
	return kdp_state_lrp_find(st, id[0], id[1]);
}

static int lrp_put(const struct kdp_config *cfg, struct kdp_state *st, const json_t *body,
		   char **id, char *err)
{
	struct kdp_lrp l;
	int ret = kdp_lrp_parse(body, id[0], id[1], "", &l, err);

	if (ret == 0)
		ret = kdp_state_lrp_put(st, &l);
	if (ret != 0)
		kdp_lrp_free(&l);
	return ret;
}

const struct kdp_objects_kind kdp_objects_nodes = {
	"node", "/v1/nodes", false, node_find, node_put, kdp_state_node_del};
const struct kdp_objects_kind kdp_objects_endpoints = {
	"endpoint", "/v1/endpoints", true, ep_find, ep_put, kdp_state_ep_del};
const struct kdp_objects_kind kdp_objects_services = {
	"service", "/v1/services", true, svc_find, svc_put, kdp_state_svc_del};
const struct kdp_objects_kind kdp_objects_lrps = {
	"local redirect policy", "/v1/lrp", true, lrp_find, lrp_put, kdp_state_lrp_del};

static const struct kdp_objects_kind *const kinds[] = {
	&kdp_objects_nodes, &kdp_objects_endpoints, &kdp_objects_services, &kdp_objects_lrps};

char *kdp_objects_op(const struct kdp_objects_kind *c, char **id, const json_t *body)
{
	json_t *ids = json_array(), *op;
	char *line;

	for (unsigned int j = 0; j < (c->namespaced ? 2u : 1u); j++)
		json_array_append_new(ids, json_string(id[j]));
	op = json_pack("{s:s, s:o}", "kind", c->path, "id", ids);
	if (op != NULL && body != NULL)
		json_object_set(op, "body", (json_t *)(uintptr_t)body);
	line = op ? json_dumps(op, JSON_COMPACT) : NULL;
	json_decref(op);
	return line;
}

static const char *const op_keys[] = {"kind", "id", "body", NULL};

char *kdp_objects_ipmasq_op(const struct kdp_ipmasq *cfg)
{
	json_t *op = json_pack("{s:s, s:[]}", "kind", "/v1/ipmasq", "id");
	char *line;

	if (op != NULL && cfg->present)
		json_object_set_new(op, "body", cfg->text ? json_incref(cfg->text)
							  : kdp_ipmasq_json(cfg));
	line = op ? json_dumps(op, JSON_COMPACT) : NULL;
	json_decref(op);
	return line;
}

/* The ip-masq-agent config of a journal line or a batch: @p body as a
 * state's ipMasqAgent (its text or its object), NULL to remove it. */
static int ipmasq_op(struct kdp_state *st, const json_t *ids, const json_t *body,
		     const char *path, const char **result, char *err)
{
	struct kdp_ipmasq cfg;
	char p[96], e[KDP_ERR_LEN];

	if (!json_is_array(ids) || json_array_size(ids) != 0)
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "id"),
				    "expected [] (there is one config)");
	memset(&cfg, 0, sizeof(cfg));
	if (body != NULL && !json_is_null(body)) {
		if (kdp_ipmasq_parse_json(body, "body", &cfg, e) != 0) {
			snprintf(err, KDP_ERR_LEN, "%s%s(/v1/ipmasq): %s", path, path[0] ? " " : "",
				 e);
			return -EINVAL;
		}
		if (json_is_string(body))
			cfg.text = json_incref((json_t *)(uintptr_t)body);
	}
	if (result)
		*result = cfg.present ? (st->ipmasq.present ? "updated" : "created")
				      : (st->ipmasq.present ? "deleted" : "absent");
	kdp_state_set_ipmasq(st, &cfg);
	return 0;
}

/* One update shaped as a journal line, on @p st. @p path names it in
 * errors; @p result (may be NULL) gets what it did. */
static int apply_one(const struct kdp_config *cfg, struct kdp_state *st, const json_t *op,
		     const char *path, const char **result, char *err)
{
	const char *kind;
	const json_t *ids, *body;
	const struct kdp_objects_kind *c = NULL;
	char *id[2] = {NULL, NULL}, p[96], who[2 * KDP_NAME_LEN + 2] = "";
	size_t want;
	int at, ret;

	if ((ret = kdp_json_object(op, path, err)) || (ret = kdp_json_only(op, op_keys, path, err)))
		return ret;
	kind = json_string_value(json_object_get(op, "kind"));
	ids = json_object_get(op, "id");
	body = json_object_get(op, "body");
	if (kind != NULL && strcmp(kind, "/v1/ipmasq") == 0)
		return ipmasq_op(st, ids, body, path, result, err);
	for (size_t i = 0; kind != NULL && i < RTE_DIM(kinds); i++)
		if (strcmp(kind, kinds[i]->path) == 0)
			c = kinds[i];
	if (c == NULL)
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "kind"),
				    "expected /v1/nodes, /v1/endpoints, /v1/services, /v1/lrp or /v1/ipmasq");
	want = c->namespaced ? 2 : 1;
	if (!json_is_array(ids) || json_array_size(ids) != want)
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "id"),
				    "expected [%s]", c->namespaced ? "namespace, name" : "name");
	for (size_t j = 0; j < want; j++) {
		id[j] = (char *)(uintptr_t)json_string_value(json_array_get(ids, j));
		if (id[j] == NULL || kdp_json_check_name(id[j], "", err) != 0)
			return kdp_json_err(err, kdp_json_path(p, sizeof(p), path, "id"),
					    "expected [%s] of valid names",
					    c->namespaced ? "namespace, name" : "name");
	}
	snprintf(who, sizeof(who), "%s%s%s", id[0], want == 2 ? "/" : "", want == 2 ? id[1] : "");
	at = c->find(st, id);
	if (body != NULL && !json_is_null(body)) {
		char e[KDP_ERR_LEN];

		ret = c->put(cfg, st, body, id, e);
		if (ret == -EINVAL) {
			snprintf(err, KDP_ERR_LEN, "%s%s(%s %s): %s", path, path[0] ? " " : "", c->path,
				 who, e);
			return ret;
		}
		if (ret != 0) {
			snprintf(err, KDP_ERR_LEN, "out of memory");
			return ret;
		}
		if (result)
			*result = at >= 0 ? "updated" : "created";
		return 0;
	}
	if (at >= 0)
		c->del(st, at);
	if (result)
		*result = at >= 0 ? "deleted" : "absent";
	return 0;
}

int kdp_objects_batch(const struct kdp_config *cfg, struct kdp_state *st, const json_t *objects,
		      json_t *results, size_t *bad, char *err)
{
	const json_t *op;
	size_t i;

	if (!json_is_array(objects))
		return kdp_json_err(err, "objects", "expected an array of updates");
	json_array_foreach(objects, i, op) {
		const char *what = NULL;
		char path[32];
		int ret;

		snprintf(path, sizeof(path), "objects[%zu]", i);
		ret = apply_one(cfg, st, op, path, &what, err);
		if (ret != 0) {
			*bad = i;
			return ret;
		}
		if (json_is_array(results))
			json_array_append_new(results,
					      json_pack("{s:O, s:O, s:s}", "kind",
							json_object_get(op, "kind"), "id",
							json_object_get(op, "id"), "result", what));
	}
	return 0;
}

int kdp_objects_replay(const struct kdp_config *cfg, struct kdp_state *st, const json_t *op,
		       char *err)
{
	const json_t *batch = json_object_get(op, "objects");
	size_t bad;

	if (batch != NULL)
		return kdp_objects_batch(cfg, st, batch, NULL, &bad, err);
	return apply_one(cfg, st, op, "", NULL, err);
}

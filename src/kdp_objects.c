/* SPDX-License-Identifier: BSD-3-Clause */
/* The desired state's object collections and their journal lines. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>

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
	struct kdp_service sv;
	int ret = kdp_service_parse(body, id[0], id[1], "", cfg, &sv, err);

	if (ret == 0)
		ret = kdp_state_svc_put(st, &sv);
	if (ret != 0)
		kdp_service_free(&sv);
	return ret;
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

int kdp_objects_replay(const struct kdp_config *cfg, struct kdp_state *st, const json_t *op,
		       char *err)
{
	const char *kind = json_string_value(json_object_get(op, "kind"));
	const json_t *ids = json_object_get(op, "id"), *body = json_object_get(op, "body");
	char *id[2] = {NULL, NULL};

	for (size_t i = 0; i < RTE_DIM(kinds); i++) {
		const struct kdp_objects_kind *c = kinds[i];
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
			return c->put(cfg, st, body, id, err);
		at = c->find(st, id);
		if (at >= 0)
			c->del(st, at);
		return 0;
	}
	snprintf(err, KDP_ERR_LEN, "not an update kdp wrote");
	return -EINVAL;
}

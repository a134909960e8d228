/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The object collections of the desired state (nodes, endpoints, services,
 * local redirect policies): how each is named, found, parsed into a state
 * and removed, and the journal line of an update. The API's object handlers
 * and the restore of the state file both use it, so a journal line always
 * means what the API that wrote it meant. Control thread only.
 */
#ifndef KDP_OBJECTS_H
#define KDP_OBJECTS_H

#include <stdbool.h>
#include <jansson.h>

#include "kdp_config.h"
#include "kdp_state.h"

/** One collection, served at /v1/<path>/{name} or /{namespace}/{name}. */
struct kdp_objects_kind {
	const char *kind;   /**< "endpoint" (for messages) */
	const char *path;   /**< "/v1/endpoints" (also the journal's "kind") */
	bool namespaced;    /**< named {namespace}/{name} rather than {name} */
	/** Index of object @p id ([name] or [namespace, name]) in @p st, or -1. */
	int (*find)(const struct kdp_state *st, char **id);
	/** Parses @p body as object @p id and puts it into @p st (replacing one
	 *  of the same name). 0, -EINVAL (with @p err) or -ENOMEM. */
	int (*put)(const struct kdp_config *cfg, struct kdp_state *st, const json_t *body,
		   char **id, char *err);
	/** Removes object @p i of @p st. */
	void (*del)(struct kdp_state *st, int i);
};

extern const struct kdp_objects_kind kdp_objects_nodes;
extern const struct kdp_objects_kind kdp_objects_endpoints;
extern const struct kdp_objects_kind kdp_objects_services;
extern const struct kdp_objects_kind kdp_objects_lrps;

/**
 * The journal line of an update of object @p id of @p c: compact JSON
 * {"kind": path, "id": [...], "body": {...}}, no body for a delete.
 * @return a malloc'ed string, or NULL when out of memory.
 */
char *kdp_objects_op(const struct kdp_objects_kind *c, char **id, const json_t *body);

/**
 * The journal line of an ip-masq-agent config change: {"kind": "/v1/ipmasq",
 * "id": [], "body": <the config as a state's ipMasqAgent: its text, or its
 * object>}, no body when it is removed. NULL when out of memory.
 */
char *kdp_objects_ipmasq_op(const struct kdp_ipmasq *cfg);

/** Redoes on @p st one journal line: an update kdp_objects_op() or
 *  kdp_objects_ipmasq_op() wrote, or a batch ({"objects": [...]}).
 *  0 or -EINVAL. */
int kdp_objects_replay(const struct kdp_config *cfg, struct kdp_state *st, const json_t *op,
		       char *err);

/**
 * Applies a batch to @p st: @p objects is an array of updates shaped as
 * journal lines ({"kind": "/v1/services", "id": [ns, name], "body": {...}},
 * no body: delete; a delete of what does not exist does nothing; kind
 * "/v1/ipmasq" with id [] sets or removes the ip-masq-agent config), checked
 * and applied in order. When @p results is an array, each update appends
 * what it did ({"kind", "id", "result": "created|updated|deleted|absent"}).
 * @return 0, or -EINVAL / -ENOMEM with @p err naming the update
 * ("objects[3] (/v1/services default/x): ports: ...") and @p *bad its index.
 */
int kdp_objects_batch(const struct kdp_config *cfg, struct kdp_state *st, const json_t *objects,
		      json_t *results, size_t *bad, char *err);

#endif

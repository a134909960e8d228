/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Local Redirect Policies (the CiliumLocalRedirectPolicy spec): parsing,
 * validation and JSON. The redirect itself is computed when a snapshot is
 * built (kdp_dataplane.c). Control thread only.
 */
#ifndef KDP_LRP_H
#define KDP_LRP_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "kdp_config.h"

#define KDP_LRP_MAX_PORTS 8

struct kdp_lrp_port {
	uint16_t port;
	uint8_t proto; /**< IPPROTO_TCP / IPPROTO_UDP */
	char name[KDP_NAME_LEN];
};

struct kdp_lrp {
	char ns[KDP_NAME_LEN];
	char name[KDP_NAME_LEN];
	bool address;               /**< addressMatcher (else serviceMatcher) */
	bool is6;                   /**< addressMatcher: ip6 (else ip) */
	uint32_t ip;                /**< addressMatcher IPv4: host order */
	struct kdp_in6 ip6;         /**< addressMatcher IPv6 */
	char svc_ns[KDP_NAME_LEN];  /**< serviceMatcher */
	char svc_name[KDP_NAME_LEN];
	unsigned int n_fports;      /**< frontend toPorts (0: every service port) */
	struct kdp_lrp_port fports[KDP_LRP_MAX_PORTS];
	unsigned int n_bports;      /**< backend toPorts */
	struct kdp_lrp_port bports[KDP_LRP_MAX_PORTS];
	json_t *match_labels;       /**< localEndpointSelector.matchLabels (owned) */
	json_t *match_exprs;        /**< localEndpointSelector.matchExpressions (owned,
				     *   normal form), or NULL when none */
	bool skip_from_backend;     /**< skipRedirectFromBackend */
	char description[128];
};

/** Parses a policy spec; @p ns/@p name from the URL (or the object). */
int kdp_lrp_parse(const json_t *o, const char *ns, const char *name, const char *path,
		  struct kdp_lrp *l, char *err);

/** The spec as the API takes it, with namespace and name. */
json_t *kdp_lrp_json(const struct kdp_lrp *l);

/** An addressMatcher policy's address, canonical, into @p buf (of at least
 *  KDP_ADDR6_STRLEN). */
const char *kdp_lrp_ip_fmt(const struct kdp_lrp *l, char *buf, size_t len);

/** Whether addressMatcher policies @p a and @p b redirect one address. */
bool kdp_lrp_same_ip(const struct kdp_lrp *a, const struct kdp_lrp *b);

/** True when every matchLabels pair is among @p labels and every
 *  matchExpressions requirement (In, NotIn, Exists, DoesNotExist, as
 *  Kubernetes label selectors mean them) holds. */
bool kdp_lrp_selects(const struct kdp_lrp *l, const json_t *labels);

/** Backend port for a frontend port named @p name / protocol @p proto,
 *  or NULL: by name when both are named, else the only one of that protocol. */
const struct kdp_lrp_port *kdp_lrp_backend_port(const struct kdp_lrp *l,
						const char *name, uint8_t proto);

int kdp_lrp_copy(struct kdp_lrp *dst, const struct kdp_lrp *src);
void kdp_lrp_free(struct kdp_lrp *l);

#endif

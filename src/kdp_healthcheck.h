/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Health check node ports (a service's healthCheckNodePort): an HTTP
 * listener of the control thread on nodeIP:port/TCP per such service, which
 * answers any path with 200 and {"service": {"namespace", "name"},
 * "localEndpoints": N} while the service has N >= 1 local active backends,
 * else 503 with N = 0, as kube-proxy does, so that a load balancer sends
 * externalTrafficPolicy=Local traffic only to nodes with endpoints.
 *
 * kdp runs in the node's network namespace and the node IP lives on its
 * host tap: what arrives for nodeIP:port on the uplink is handed to the host
 * and reaches this socket (without a host tap nothing does). The listeners
 * follow the snapshot in force (the ports its service table holds), checked
 * on the control thread's tick; a port that cannot be bound (taken by
 * another process) is retried every few seconds and its error shown in
 * GET /v1/services. Control thread only.
 */
#ifndef KDP_HEALTHCHECK_H
#define KDP_HEALTHCHECK_H

#include <jansson.h>

struct kdp;
struct kdp_service;
struct event_base;

/** Sets up the listeners of the snapshot in force. 0 or -ENOMEM. */
int kdp_hc_init(struct kdp *k, struct event_base *base, char *err);

/** Follows the snapshot in force (cheap when nothing changed). */
void kdp_hc_poll(struct kdp *k);

/** Closes every listener. */
void kdp_hc_fini(struct kdp *k);

/** {"port", "localEndpoints", "listening"[, "error"]} of @p s's health check. */
json_t *kdp_hc_json(const struct kdp *k, const struct kdp_service *s);

/** The body a health check answers for @p ns/@p name with @p n local endpoints
 *  (into @p buf of @p len bytes). @return its length. */
int kdp_hc_body(const char *ns, const char *name, unsigned int n, char *buf, size_t len);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Services in the desired state: the Kubernetes Service spec kdp needs
 * (type, clusterIP, externalIPs, loadBalancerIPs, ports, sessionAffinity,
 * externalTrafficPolicy, internalTrafficPolicy, healthCheckNodePort,
 * loadBalancerSourceRanges) plus kdp's `algorithm` and the backends (ip,
 * port, state, nodeName). Parsing, validation and JSON; control thread only.
 *
 * A parsed service is not changed any more: states share it (kdp_state.h),
 * and a change is a new service replacing it.
 */
#ifndef KDP_SERVICES_H
#define KDP_SERVICES_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "kdp_config.h"

#define KDP_SVC_MAX_PORTS 16
#define KDP_SVC_MAX_IPS 8
#define KDP_SVC_MAX_BACKENDS 4096
#define KDP_SVC_MAX_RANGES 1024
/** Longest nodeName of a backend (a DNS subdomain). */
#define KDP_SVC_NODE_NAME_MAX 253

struct kdp_svc_port_cfg {
	char name[KDP_NAME_LEN];
	uint8_t proto; /**< IPPROTO_TCP / IPPROTO_UDP */
	uint16_t port, target, node_port;
};

struct kdp_svc_be_cfg {
	uint32_t ip;   /**< host order */
	uint16_t port; /**< 0: the port's targetPort */
	uint8_t state; /**< enum kdp_be_state */
	uint16_t node; /**< 1 + index into the service's nodes[]; 0: nodeName "" */
};

/** A loadBalancerSourceRanges entry (host order, host bits zero). */
struct kdp_svc_range_cfg {
	uint32_t net;
	uint8_t plen;
};

struct kdp_service {
	char ns[KDP_NAME_LEN];
	char name[KDP_NAME_LEN];
	uint8_t type;  /**< enum kdp_svc_type: ClusterIP, NodePort, LoadBalancer */
	uint32_t cluster_ip; /**< 0: none (headless) */
	unsigned int n_ext, n_lb, n_ports, n_be;
	uint32_t ext[KDP_SVC_MAX_IPS];
	uint32_t lb[KDP_SVC_MAX_IPS];
	struct kdp_svc_port_cfg ports[KDP_SVC_MAX_PORTS];
	uint8_t affinity;
	uint32_t affinity_timeout_s;
	uint8_t algo; /**< enum kdp_svc_algo */
	bool etp_local;    /**< externalTrafficPolicy: Local */
	bool itp_local;    /**< internalTrafficPolicy: Local */
	uint16_t hc_port;  /**< healthCheckNodePort, 0: none */
	unsigned int n_ranges;
	struct kdp_svc_range_cfg *ranges; /**< malloc'ed, n_ranges entries */
	struct kdp_svc_be_cfg *be; /**< malloc'ed, n_be entries */
	unsigned int n_nodes;
	char **nodes;      /**< the backends' distinct nodeNames, malloc'ed */
	/* Kept by the states that share it (kdp_state.c). */
	bool fresh;        /**< new in a derived state, not committed yet */
	/* Run-time: its frontends in the snapshot in force (kdp_snapshot.c). */
	const void *grp;
};

/** The nodeName of backend @p i of @p s ("" when not given). */
static inline const char *kdp_service_be_node(const struct kdp_service *s, unsigned int i)
{
	return s->be[i].node ? s->nodes[s->be[i].node - 1] : "";
}

/** Parses a service object; @p ns/@p name from the URL, else the object. */
int kdp_service_parse(const json_t *o, const char *ns, const char *name,
		      const char *path, const struct kdp_config *cfg,
		      struct kdp_service *s, char *err);

/** The service as the API takes it. */
json_t *kdp_service_json(const struct kdp_service *s);

/** A new service parsed from @p o (kdp_service_parse()), or NULL with the
 *  error: -EINVAL (@p err says why) or -ENOMEM in @p ret. */
struct kdp_service *kdp_service_new(const json_t *o, const char *ns, const char *name,
				    const char *path, const struct kdp_config *cfg,
				    int *ret, char *err);

/** Frees what @p s owns (not @p s). */
void kdp_service_free(struct kdp_service *s);
/** kdp_service_free() and free() of a kdp_service_new() one (NULL is fine). */
void kdp_service_delete(struct kdp_service *s);

/** Called for each frontend of a service; non-zero stops the walk. */
typedef int (*kdp_service_fe_fn)(const struct kdp_service *s,
				 const struct kdp_svc_port_cfg *pc, uint32_t addr,
				 uint16_t port, uint8_t type, void *arg);

/**
 * Walks the frontends of @p s: ClusterIP, externalIPs and loadBalancerIPs on
 * each port, and the nodePort on @p node_ip (host order).
 */
int kdp_service_foreach_frontend(const struct kdp_service *s, uint32_t node_ip,
				 kdp_service_fe_fn fn, void *arg);

/** "10.96.0.10:53/UDP". */
void kdp_service_fe_name(uint32_t addr, uint16_t port, uint8_t proto, char *buf,
			 size_t len);

/** Orders services by namespace, then name (strcmp). */
int kdp_service_cmp(const char *ns_a, const char *name_a, const char *ns_b,
		    const char *name_b);

#endif

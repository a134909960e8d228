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
	uint32_t ip;   /**< host order (IPv4 backends) */
	uint16_t port; /**< 0: the port's targetPort */
	uint8_t state; /**< enum kdp_be_state */
	uint16_t node; /**< 1 + index into the service's nodes[]; 0: nodeName "" */
	uint8_t is6;   /**< an IPv6 backend: ip6, not ip */
	struct kdp_in6 ip6;
};

/** A loadBalancerSourceRanges entry (host bits zero): IPv4 (net, host
 *  order) or IPv6 (net6). */
struct kdp_svc_range_cfg {
	uint32_t net;
	uint8_t plen;
	uint8_t is6;
	struct kdp_in6 net6;
};

/** ipFamilyPolicy. */
enum kdp_svc_family_policy {
	KDP_SVC_FP_UNSET = 0,
	KDP_SVC_FP_SINGLE,       /**< SingleStack */
	KDP_SVC_FP_PREFER_DUAL,  /**< PreferDualStack */
	KDP_SVC_FP_REQUIRE_DUAL, /**< RequireDualStack */
};

/* kdp_service.families bits. */
#define KDP_SVC_FAM_V4 0x01
#define KDP_SVC_FAM_V6 0x02

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
	/* Dual stack (Kubernetes' clusterIPs, ipFamilies, ipFamilyPolicy). */
	bool has_cluster_ip6;
	struct kdp_in6 cluster_ip6;
	uint8_t families;      /**< KDP_SVC_FAM_*: the families of its frontends */
	uint8_t primary6;      /**< ipFamilies[0] is IPv6 */
	uint8_t family_policy; /**< enum kdp_svc_family_policy */
	bool families_given;   /**< clusterIPs, ipFamilies or ipFamilyPolicy was given */
	unsigned int n_ext6, n_lb6;
	struct kdp_in6 ext6[KDP_SVC_MAX_IPS];
	struct kdp_in6 lb6[KDP_SVC_MAX_IPS];
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

/** kdp_service_fe_fn for IPv6 frontends. */
typedef int (*kdp_service_fe6_fn)(const struct kdp_service *s,
				  const struct kdp_svc_port_cfg *pc, const struct kdp_in6 *addr,
				  uint16_t port, uint8_t type, void *arg);

/**
 * Walks the IPv6 frontends of @p s: its IPv6 ClusterIP, externalIPs and
 * loadBalancerIPs on each port, and the nodePort on @p node_ip6 when the
 * service has the IPv6 family and the node an IPv6 address (NULL: none).
 */
int kdp_service_foreach_frontend6(const struct kdp_service *s, const struct kdp_in6 *node_ip6,
				  kdp_service_fe6_fn fn, void *arg);

/** "[fd00:96::a]:53/UDP". */
void kdp_service_fe_name6(const struct kdp_in6 *addr, uint16_t port, uint8_t proto, char *buf,
			  size_t len);

/** "10.96.0.10:53/UDP". */
void kdp_service_fe_name(uint32_t addr, uint16_t port, uint8_t proto, char *buf,
			 size_t len);

/** Orders services by namespace, then name (strcmp). */
int kdp_service_cmp(const char *ns_a, const char *name_a, const char *ns_b,
		    const char *name_b);

#endif

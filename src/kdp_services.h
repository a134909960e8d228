/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Services in the desired state: the Kubernetes Service spec kdp needs
 * (type, clusterIP, externalIPs, loadBalancerIPs, ports, sessionAffinity)
 * plus kdp's `algorithm` and the backends (ip, port, state). Parsing,
 * validation and JSON; control thread only.
 */
#ifndef KDP_SERVICES_H
#define KDP_SERVICES_H

#include <stdint.h>
#include <jansson.h>

#include "kdp_config.h"

#define KDP_SVC_MAX_PORTS 16
#define KDP_SVC_MAX_IPS 8
#define KDP_SVC_MAX_BACKENDS 4096

struct kdp_svc_port_cfg {
	char name[KDP_NAME_LEN];
	uint8_t proto; /**< IPPROTO_TCP / IPPROTO_UDP */
	uint16_t port, target, node_port;
};

struct kdp_svc_be_cfg {
	uint32_t ip;   /**< host order */
	uint16_t port; /**< 0: the port's targetPort */
	uint8_t state; /**< enum kdp_be_state */
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
	struct kdp_svc_be_cfg *be; /**< malloc'ed, n_be entries */
};

/** Parses a service object; @p ns/@p name from the URL, else the object. */
int kdp_service_parse(const json_t *o, const char *ns, const char *name,
		      const char *path, const struct kdp_config *cfg,
		      struct kdp_service *s, char *err);

/** The service as the API takes it. */
json_t *kdp_service_json(const struct kdp_service *s);

/** Deep copy into @p dst. @return 0 or -ENOMEM. */
int kdp_service_copy(struct kdp_service *dst, const struct kdp_service *src);
void kdp_service_free(struct kdp_service *s);

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

/**
 * Checks that no two services claim the same frontend (address, port,
 * protocol) or nodePort. @return 0 or -EINVAL with @p err naming both.
 */
int kdp_services_validate(const struct kdp_service *svcs, unsigned int n,
			  uint32_t node_ip, char *err);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The desired state the control API manages: nodes (IPAM) and local
 * endpoints. Parsed and validated from JSON completely before anything is
 * applied; serialised back for GET and for the state file. Control thread
 * only.
 */
#ifndef KDP_STATE_H
#define KDP_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <rte_ether.h>

#include "kdp_config.h"
#include "kdp_services.h"
#include "kdp_ipmasq.h"
#include "kdp_lrp.h"

#define KDP_MAX_POD_CIDRS 8
#define KDP_MAX_NODES 4096

struct kdp_node {
	char name[KDP_NAME_LEN];
	uint32_t ip; /**< host order */
	bool has_ip6;
	struct kdp_in6 ip6; /**< its IPv6 address ("ips"), when has_ip6 */
	unsigned int n_cidrs;
	uint32_t cidr[KDP_MAX_POD_CIDRS];
	uint8_t plen[KDP_MAX_POD_CIDRS];
	unsigned int n_cidrs6; /**< IPv6 podCIDRs (n_cidrs + n_cidrs6 ≤ KDP_MAX_POD_CIDRS) */
	struct kdp_in6 cidr6[KDP_MAX_POD_CIDRS];
	uint8_t plen6[KDP_MAX_POD_CIDRS];
};

struct kdp_endpoint {
	char ns[KDP_NAME_LEN];
	char name[KDP_NAME_LEN];
	uint32_t ip;
	bool has_ip6;
	struct kdp_in6 ip6; /**< its IPv6 address ("ips"), when has_ip6 */
	struct rte_ether_addr mac;
	json_t *labels; /**< object of strings; owned reference */
	char devargs[KDP_DEVARGS_LEN];
	/* Run-time, not part of the desired state. */
	int port; /**< DPDK port id, or -1 */
};

/** What a derived state changed since it was copied (kdp_state.changed). */
#define KDP_STATE_CH_NODES 0x1
#define KDP_STATE_CH_EPS 0x2
#define KDP_STATE_CH_SVCS 0x4
#define KDP_STATE_CH_LRPS 0x8
#define KDP_STATE_CH_IPMASQ 0x10

/**
 * A desired state. Nodes, endpoints and policies are arrays of values;
 * services are pointers, sorted by namespace and name, to parsed services
 * that states share: a copy (kdp_state_copy()) is *derived* from its
 * source and borrows its services, lists the ones it replaces or deletes
 * (dropped) and owns the ones it adds (added, marked fresh) until it is
 * committed over that source (kdp_state_commit()) or freed. So copying a
 * state of 10,000 services copies 10,000 pointers, and a change costs what
 * it changes.
 */
struct kdp_state {
	unsigned int n_nodes;
	unsigned int n_eps;
	unsigned int n_svcs;
	struct kdp_node *nodes;
	struct kdp_endpoint *eps;
	struct kdp_service **svcs;
	unsigned int n_lrps;
	struct kdp_lrp *lrps;
	struct kdp_ipmasq ipmasq; /**< present false: no ip-masq-agent config */
	/* Derived states only. */
	bool derived;
	unsigned int changed;     /**< KDP_STATE_CH_* since the copy */
	unsigned int n_dropped, n_added;
	struct kdp_service **dropped; /**< borrowed services no longer listed */
	struct kdp_service **added;   /**< its own services, not committed yet */
};

/**
 * Reads the optional "ips" of @p o (Kubernetes' podIPs: at most one address
 * per family, the IPv4 one equal to @p ip) into @p ip6 / @p has_ip6.
 * @return 0 or -EINVAL naming the field.
 */
int kdp_state_ips_parse(const json_t *o, uint32_t ip, struct kdp_in6 *ip6, bool *has_ip6,
			const char *path, char *err);

/** Parses a node object; @p name comes from the URL (or "name" in lists). */
int kdp_state_node_parse(const json_t *o, const char *name, const char *path,
			 struct kdp_node *n, char *err);

/** Parses an endpoint object; @p ns/@p name from the URL or the object. */
int kdp_state_ep_parse(const json_t *o, const char *ns, const char *name,
		       const char *path, struct kdp_endpoint *ep, char *err);

/** Parses a whole state {"nodes":[...],"endpoints":[...],"services":[...]}. */
int kdp_state_parse(const json_t *o, const struct kdp_config *cfg,
		    struct kdp_state *st, char *err);

/**
 * Checks the rules across objects: unique names and IPs, non-overlapping
 * podCIDRs, this node's IP as configured, endpoint devargs allowed, room
 * for the endpoints' ports. @return 0 or -EINVAL with @p err.
 */
int kdp_state_validate(const struct kdp_state *st, const struct kdp_config *cfg,
		       unsigned int max_endpoints, char *err);

json_t *kdp_state_node_json(const struct kdp_node *n, const char *local);
/** Endpoint without run-time fields (desired state). */
json_t *kdp_state_ep_json(const struct kdp_endpoint *ep);
/** The whole desired state, as PUT /v1/state takes it. */
json_t *kdp_state_json(const struct kdp_state *st);

/**
 * A derived copy of @p src (which must not be derived itself): nodes,
 * endpoints, policies and the ip-masq-agent config copied (labels
 * referenced), services shared. @return 0 or -ENOMEM.
 */
int kdp_state_copy(struct kdp_state *dst, const struct kdp_state *src);
/** Frees a state; a derived one frees only what it owns. */
void kdp_state_free(struct kdp_state *st);
/**
 * Makes @p next the state in place of @p cur: frees @p cur (a derived
 * @p next keeps the services it shares with @p cur, and the ones it dropped
 * go) and moves @p next into @p cur, no longer derived. @p next is left
 * empty.
 */
void kdp_state_commit(struct kdp_state *cur, struct kdp_state *next);
/** Replaces the ip-masq-agent config (taking @p cfg's text reference). */
void kdp_state_set_ipmasq(struct kdp_state *st, const struct kdp_ipmasq *cfg);

/** Index of node @p name, or -1. */
int kdp_state_node_find(const struct kdp_state *st, const char *name);
/** Index of endpoint @p ns/@p name, or -1. */
int kdp_state_ep_find(const struct kdp_state *st, const char *ns,
		      const char *name);

/** Inserts or replaces (by name) a node; takes no ownership. -ENOMEM. */
int kdp_state_node_put(struct kdp_state *st, const struct kdp_node *n);
/** Inserts or replaces an endpoint; takes the labels reference. -ENOMEM. */
int kdp_state_ep_put(struct kdp_state *st, struct kdp_endpoint *ep);
/** Index of service @p ns/@p name (binary search), or -1. */
int kdp_state_svc_find(const struct kdp_state *st, const char *ns, const char *name);
/** Inserts or replaces a service (from kdp_service_new()), which the state
 *  takes even on error. 0 or -ENOMEM. */
int kdp_state_svc_put(struct kdp_state *st, struct kdp_service *s);
void kdp_state_svc_del(struct kdp_state *st, int i);
/** Index of policy @p ns/@p name, or -1. */
int kdp_state_lrp_find(const struct kdp_state *st, const char *ns, const char *name);
/** Inserts or replaces a policy; takes ownership of its labels. -ENOMEM. */
int kdp_state_lrp_put(struct kdp_state *st, struct kdp_lrp *l);
void kdp_state_lrp_del(struct kdp_state *st, int i);
void kdp_state_node_del(struct kdp_state *st, int i);
void kdp_state_ep_del(struct kdp_state *st, int i);

#endif

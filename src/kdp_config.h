/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The node config: a JSON file read once at start-up (see conf/).
 */
#ifndef KDP_CONFIG_H
#define KDP_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/un.h>
#include <rte_ether.h>

#include "common/kdp_addr.h"
#include "kdp_json.h"

#define KDP_MAX_WORKERS 16
#define KDP_MAX_DRIVERS 16
#define KDP_DEVARGS_LEN 256
#define KDP_NAME_LEN 64

enum kdp_poll_mode {
	KDP_POLL_BUSY,     /**< spin on the queues (benchmarks) */
	KDP_POLL_ADAPTIVE, /**< sleep briefly when the queues are idle */
};

struct kdp_config {
	char name[KDP_NAME_LEN];
	uint32_t node_ip; /**< host order */
	uint8_t node_plen;
	uint32_t gateway;
	uint32_t pod_gw;
	char uplink_devargs[KDP_DEVARGS_LEN];
	bool uplink_has_mac;
	struct rte_ether_addr uplink_mac;
	char host_devargs[KDP_DEVARGS_LEN]; /**< "" when no host tap */
	uint32_t native_cidr;
	uint8_t native_plen;
	unsigned int workers;
	enum kdp_poll_mode poll_mode;
	uint16_t mtu;
	uint32_t max_routes;
	uint32_t max_neighbours;
	uint32_t mbufs;
	uint32_t large_mbufs; /**< 64 KiB mbufs for TCP super-frames kept whole (0: none) */
	uint32_t pod_ring_frames; /**< net_kdp_afp ring slots of a pod port (framecnt) */
	uint32_t neigh_reachable_ms;
	uint32_t svc_cidr; /**< host order; svc_plen 0 when not set */
	uint8_t svc_plen;
	uint32_t loopback_ip;  /**< hairpin source [169.254.42.1] */
	uint32_t maglev_m;     /**< [16381] */
	uint32_t ct_max;       /**< conntrack flows [262144] */
	uint32_t ct_max6;      /**< IPv6 conntrack flows [ct_max / 4] (with nodeIPv6) */
	uint32_t ct_syn_s, ct_est_s, ct_close_s, ct_other_s;
	uint16_t nat_lo, nat_hi; /**< SNAT ports [32768-65535] */
	uint32_t max_body;
	uint32_t monitor_rate; /**< flow monitor events per second and worker [20000] */
	/* IPv6: off unless nodeIPv6 is set (has_ip6). */
	bool has_ip6;
	struct kdp_in6 node_ip6;     /**< nodeIPv6 */
	uint8_t node_plen6;
	struct kdp_in6 gateway6;     /**< gatewayIPv6: on the node's IPv6 subnet or link-local */
	struct kdp_in6 pod_gw6;      /**< podGatewayIPv6 [fe80::1] */
	struct kdp_in6 native_cidr6; /**< nativeRoutingCIDRv6 */
	uint8_t native_plen6;
	struct kdp_in6 svc_cidr6;    /**< serviceCIDRv6; svc_plen6 0 when not set */
	uint8_t svc_plen6;
	struct kdp_in6 loopback_ip6; /**< serviceLoopbackIPv6 [fe80::a9fe:2a01] */
	char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char state_path[PATH_MAX];
	char flow_path[PATH_MAX]; /**< flow state file [/dev/shm/kdp-<name>.flows], "": none */
	char socket_group[64]; /**< group owning the control socket, or "" */
	bool masquerade;            /**< SNAT pod traffic leaving the cluster [true] */
	char ipmasq_file[PATH_MAX]; /**< ip-masq-agent config file to watch, or "" */
	char memif_dir[64];  /**< where net_memif sockets may be [/run/kdp/memif] */
	bool memif_abstract; /**< net_memif may use abstract sockets [false] */
	bool prefault;       /**< fault every EAL page in at start [false] */
	unsigned int n_drivers;
	char drivers[KDP_MAX_DRIVERS][32];
	int eal_argc;
	char **eal_argv; /**< owned; from "eal" */
};

/**
 * Reads and validates the node config @p file into @p cfg (defaults filled
 * in). @return 0, or -EINVAL/-ENOENT with @p err naming the field or why.
 */
int kdp_config_load(const char *file, struct kdp_config *cfg, char *err);

/** Parses an already loaded JSON document (used by tests). */
int kdp_config_parse(const json_t *root, struct kdp_config *cfg, char *err);

/** Frees what kdp_config_load allocated. */
void kdp_config_free(struct kdp_config *cfg);

/**
 * True when @p devargs names a driver in the allow-list: its device name
 * (before the first comma) starts with an allowed driver name.
 */
bool kdp_config_driver_allowed(const struct kdp_config *cfg,
			       const char *devargs);

#endif

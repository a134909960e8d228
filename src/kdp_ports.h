/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Ports: every port is a DPDK vdev (or a NIC) opened from a devargs string,
 * at start-up (uplink, host tap) or at run time (endpoints, by hot-plug).
 * Control thread only.
 */
#ifndef KDP_PORTS_H
#define KDP_PORTS_H

#include <stdbool.h>
#include <stdint.h>

#include <rte_dev.h>
#include <rte_ethdev.h>

#include "pipeline/kdp_pipeline.h"
#include "kdp_config.h"

struct kdp;

#define KDP_NO_PORT UINT16_MAX

/** TX offloads a port must have for kdp to hand it partial checksums. */
#define KDP_PORT_TX_CSUM (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM)

/** A DPDK port kdp opened. */
struct kdp_port {
	bool used;
	uint8_t role; /**< enum kdp_port_role */
	uint16_t nrxq;
	uint16_t ntxq;
	char name[RTE_DEV_NAME_MAX_LEN];
	char devargs[KDP_DEVARGS_LEN];
	struct rte_ether_addr mac; /**< the device's own MAC */
	bool down;                 /**< last seen down (kdp_port_watch) */
	bool tx_csum;              /**< finishes TCP/UDP checksums on transmit */
	bool rx_lro;               /**< delivers TCP super-frames whole (large pool) */
	bool tx_tso;               /**< takes TCP super-frames whole (TSO) */
	bool rx_ip_csum;           /**< checks IPv4 header checksums (flags each mbuf) */
};

/**
 * Probes @p devargs as a new port for @p role, configures one RX queue per
 * worker (as many as the device has) and one TX queue per worker, starts
 * it. Bare driver names get a unique suffix. @return port id, or -errno
 * with @p err saying why.
 */
int kdp_port_open(struct kdp *k, const char *devargs, enum kdp_port_role role,
		  char *err);
/** Stops, closes and unplugs a port opened by kdp_port_open. */
void kdp_port_close(struct kdp *k, uint16_t port);
/** True when the port's link is up and its kernel interface (iface=) exists. */
bool kdp_port_is_up(const struct kdp *k, uint16_t port);
/** Control thread: logs ports going down or coming back (call about 1/s). */
void kdp_port_watch(struct kdp *k);
/**
 * Calls @p fn with each counter of @p port's driver beyond ethdev's generic
 * ones (for net_kdp_afp: partial checksums, super-frames cut, drops by
 * reason). Control thread. @return 0 or -errno.
 */
int kdp_port_driver_counters(uint16_t port,
			     void (*fn)(void *arg, const char *name, uint64_t value),
			     void *arg);
/**
 * A hand-over: detaches, in the kernel, the queues this process holds of
 * the tap under @p port (net_tap's fds, found in /proc/self/fd), so the
 * node's stack sends its frames to another process's queues of the same
 * tap. Up to @p max fds go to @p fds. @return how many, or -errno.
 */
int kdp_port_tap_detach(const struct kdp *k, uint16_t port, int *fds, unsigned int max);
/** Attaches queues kdp_port_tap_detach() detached again (a hand-over given up). */
void kdp_port_tap_attach(const int *fds, unsigned int n);
/** Frames the ports' devices dropped for want of room (rte_eth_stats
 *  imissed: net_kdp_afp's full rings), all ports together. Control thread. */
uint64_t kdp_port_missed(const struct kdp *k);
/** "uplink", "host", "endpoint" (enum kdp_port_role), as listings show it. */
const char *kdp_port_role_name(uint8_t role);
/** Largest number of endpoint ports that can still be opened in total. */
unsigned int kdp_port_max_endpoints(const struct kdp *k);

#endif

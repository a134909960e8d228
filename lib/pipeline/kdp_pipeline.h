/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The forwarding pipeline of one burst, independent of ports and queues:
 * parse → ingress checks → conntrack (bulk) → for new flows: service lookup
 * (bulk) and backend selection → NAT rewrite → route (bulk LPM) → TTL/MTU →
 * L2 (pod MAC, host MAC or bulk neighbour lookup). IPv6 packets leave the
 * IPv4 stages at parse and take stages of their own (rte_lpm6 routes, hop
 * limit and packet-too-big rules, neighbour discovery), rejoining at TX.
 * The worker loop feeds it received bursts; tests, fuzzers and benchmarks
 * feed it crafted mbufs.
 *
 * Reads a struct kdp_dp published by the control thread through RCU; the
 * caller holds it for the whole burst. Per-lcore context, no locks.
 */
#ifndef KDP_PIPELINE_H
#define KDP_PIPELINE_H

#include <stdint.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "common/kdp_stats.h"
#include "ct/kdp_ct.h"
#include "ct/kdp_ct6.h"
#include "masq/kdp_masq.h"
#include "monitor/kdp_monitor.h"
#include "neigh/kdp_neigh.h"
#include "route/kdp_route.h"
#include "svc/kdp_affinity.h"
#include "svc/kdp_svc.h"
#include "svc/kdp_svc6.h"

/** Packets per burst. */
#define KDP_BURST 32
_Static_assert(KDP_BURST <= KDP_MONITOR_BURST, "one monitor event per packet of a burst");

enum kdp_port_role {
	KDP_PORT_NONE = 0,
	KDP_PORT_UPLINK,
	KDP_PORT_HOST,
	KDP_PORT_POD,
};

/** What the pipeline knows of a port. */
struct kdp_dp_port {
	uint8_t role;   /**< enum kdp_port_role */
	uint16_t mtu;   /**< largest IP packet it may send */
	uint32_t pod_ip; /**< POD: the one source address allowed (host order) */
	uint8_t tx_csum; /**< finishes partial TCP/UDP checksums itself (TX offload) */
	uint8_t tx_tso;  /**< takes TCP super-frames whole (TSO); others get segments */
	struct kdp_in6 pod_ip6; /**< POD: the one global IPv6 source allowed (:: none) */
};

/** Forwarding configuration: built whole by the control thread. */
struct kdp_dp {
	uint32_t node_ip;          /**< host order */
	struct rte_ether_addr mac; /**< kdp's MAC on every port */
	uint16_t uplink_port;
	uint32_t loopback_ip;      /**< hairpin source (169.254.42.1), host order */
	uint32_t svc_cidr;         /**< host order; svc_plen 0: none */
	uint8_t svc_plen;
	struct kdp_route_table *rt;
	const struct kdp_svc_table *svc;
	const struct kdp_masq_set *masq; /**< never masqueraded (NULL: masquerade off) */
	/* IPv6: rt6 NULL when the node has no IPv6 address (IPv6 is routed
	 * nowhere then). */
	struct kdp_route6_table *rt6;
	const struct kdp_masq_set6 *masq6; /**< never masqueraded (NULL: off) */
	const struct kdp_svc6_table *svc6; /**< IPv6 frontends (NULL: none) */
	struct kdp_in6 node_ip6;
	struct kdp_in6 pod_gw6;    /**< the pods' IPv6 gateway (fe80::1) */
	struct kdp_in6 loopback_ip6; /**< hairpin source */
	struct kdp_in6 svc_cidr6;  /**< svc_plen6 0: none */
	uint8_t svc_plen6;
	struct kdp_dp_port ports[RTE_MAX_ETHPORTS];
};

/** Per-lcore pipeline state. */
struct kdp_pipeline_ctx {
	struct kdp_stats *st;
	const struct kdp_neigh *nt;
	const struct kdp_neigh *nt6; /**< IPv6 neighbours (NULL: none) */
	struct kdp_ct *ct;
	struct kdp_affinity *aff; /**< ClientIP pins (NULL: none) */
	struct kdp_ct6 *ct6;       /**< IPv6 conntrack (NULL: IPv6 untracked) */
	struct kdp_affinity6 *aff6; /**< IPv6 ClientIP pins (NULL: none) */
	struct kdp_monitor_worker *mon; /**< flow monitor (NULL: none) */
	bool mon_on;          /**< someone listens: set per burst */
	uint64_t now_ms;      /**< set per burst: kdp_clock_now_ms() */
	uint16_t nat_lo;      /**< this lcore's slice of the SNAT port range */
	uint16_t nat_hi;
	uint32_t rnd;         /**< xorshift state for SNAT port picks */
	uint64_t nat_retries; /**< extra SNAT port tries */
	/* ICMP error rate limit: a token bucket refilled from the TSC. */
	uint64_t icmp_tokens;
	uint64_t icmp_burst;
	uint64_t icmp_last_tsc;
	uint64_t icmp_tsc_per_token;
};

/** Where the packets of a burst go. Drops are freed inside. */
struct kdp_pipeline_out {
	uint16_t n_tx;   /**< ready to send; kdp_meta(m)->out_port says where */
	uint16_t n_punt; /**< for the control thread; kdp_meta(m)->punt says why */
	struct rte_mbuf *tx[KDP_BURST];
	struct rte_mbuf *punt[KDP_BURST];
};

/**
 * Sets up @p ctx for one lcore: counters @p st, neighbour table @p nt,
 * conntrack @p ct, and at most @p icmp_per_sec ICMP errors per second
 * (0: 1000, as Linux). SNAT ports come from [@p nat_lo, @p nat_hi], a
 * range no other lcore uses.
 */
void kdp_pipeline_ctx_init(struct kdp_pipeline_ctx *ctx, struct kdp_stats *st,
			   const struct kdp_neigh *nt, struct kdp_ct *ct,
			   uint32_t icmp_per_sec, uint16_t nat_lo, uint16_t nat_hi);

/**
 * Runs @p n (≤ KDP_BURST) packets received on @p in_port through the
 * pipeline. Fills @p out; frees and counts every dropped packet.
 * @return the number of packets handled (always @p n).
 */
uint16_t kdp_pipeline_run(struct kdp_pipeline_ctx *ctx, const struct kdp_dp *dp,
			  uint16_t in_port, struct rte_mbuf **pkts, uint16_t n,
			  struct kdp_pipeline_out *out);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The daemon: one struct that composes the modules' own parts. The control
 * thread (the EAL main lcore) owns everything here except what workers reach
 * through the RCU-published snapshot (pub.snap), the neighbour table's
 * lock-free reads, the rings, conntrack, and their own counters. Each part
 * is declared by its module's header:
 *
 *   kdp_ports.h     ports[], the port functions
 *   kdp_snapshot.h  pub: the snapshot in force, the retired ones
 *   kdp_worker.h    workers[], rings: the worker loop
 *   kdp_persist.h   journal: the state file
 *   kdp_apply.h     applying and restoring a desired state
 *   kdp_slowpath.h  ARP, unresolved next hops, conntrack GC
 *   kdp_flows.h     flows: the flow state file under ct and aff
 *   kdp_handover.h  ho: a hand-over between two kdps (kdpctl upgrade)
 *   kdp_ctl.h       the control thread
 */
#ifndef KDP_H
#define KDP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <rte_ethdev.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>

#include "common/kdp_stats.h"
#include "ct/kdp_ct.h"
#include "monitor/kdp_monitor.h"
#include "neigh/kdp_neigh.h"
#include "pipeline/kdp_pipeline.h"
#include "svc/kdp_affinity.h"
#include "kdp_apply.h"
#include "kdp_config.h"
#include "kdp_flows.h"
#include "kdp_handover.h"
#include "kdp_persist.h"
#include "kdp_ports.h"
#include "kdp_slowpath.h"
#include "kdp_snapshot.h"
#include "kdp_state.h"
#include "kdp_worker.h"

struct kdp {
	struct kdp_config cfg;
	struct kdp_state state;        /**< the desired state in force */
	/* Shared with the workers. */
	struct rte_mempool *pool;
	struct rte_mempool *pool_large; /**< TCP super-frames kept whole (NULL: cut instead) */
	struct rte_rcu_qsbr *qsbr;
	struct kdp_neigh *nt;
	struct kdp_neigh *nt6;         /**< IPv6 neighbours (NULL: no nodeIPv6) */
	struct kdp_ct *ct;
	struct kdp_affinity *aff;
	struct kdp_flows flows;        /**< the flow state file the two live in */
	struct kdp_ct6 *ct6;           /**< IPv6 conntrack (NULL: no nodeIPv6) */
	struct kdp_affinity6 *aff6;
	struct kdp_monitor *mon;       /**< flow monitor: workers produce, control consumes */
	struct kdp_stats *stats;       /**< workers', then the control thread's */
	struct kdp_worker workers[KDP_MAX_WORKERS];
	struct kdp_rings rings;
	struct kdp_publisher pub;
	/* Ports. */
	struct rte_ether_addr mac;     /**< kdp's MAC (the uplink's unless set) */
	uint16_t uplink;
	uint16_t host;                 /**< KDP_NO_PORT when no host tap */
	struct kdp_port ports[RTE_MAX_ETHPORTS];
	unsigned int port_seq;
	/* Control thread. */
	struct kdp_journal journal;
	struct kdp_handover ho;        /**< a hand-over to or from another kdp */
	uint64_t ct_mem_bytes;         /**< memory of the conntrack table (heap and slots) */
	uint64_t ct6_mem_bytes;        /**< and of the IPv6 one (heap at start) */
	json_t *api_counts;            /**< "route|method|code" -> requests */
	uint64_t gc_last_ms;           /**< when the last GC slice ran */
	uint64_t port_watch_ms;        /**< when ports were last checked */
	atomic_bool quit;
	time_t started;
	void *ctl;                     /**< control-thread private data (kdp_ctl.c) */
	void *flowmon;                 /**< GET /v1/monitor listeners (kdp_flowmon.c) */
	void *hc;                      /**< health check node ports (kdp_healthcheck.c) */
	char boot_id[37];              /**< random at start: a restart changes it */
	char ipmasq_file_err[KDP_ERR_LEN]; /**< last problem with the watched file */
};

/** Counters of the control thread. */
static inline struct kdp_stats *kdp_ctl_stats(struct kdp *k)
{
	return &k->stats[k->cfg.workers];
}

#endif

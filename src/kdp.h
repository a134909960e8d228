/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The daemon: one struct that the modules share. The control thread (the
 * EAL main lcore) owns everything here except what workers reach through
 * the RCU-published snapshot, the neighbour table's lock-free reads, the
 * rings, and their own counters.
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
#include <rte_ring.h>

#include "common/kdp_meta.h"
#include "common/kdp_stats.h"
#include "ct/kdp_ct.h"
#include "monitor/kdp_monitor.h"
#include "parse/kdp_parse.h"
#include "neigh/kdp_neigh.h"
#include "pipeline/kdp_pipeline.h"
#include "kdp_config.h"
#include "kdp_state.h"

#define KDP_NO_PORT UINT16_MAX
/** RX queues one worker may own. */
#define KDP_MAX_RXQ (RTE_MAX_ETHPORTS * 2)

/** A (port, queue) a worker polls. */
struct kdp_rxq {
	uint16_t port;
	uint16_t queue;
};

/** What workers read, published whole through RCU. */
struct kdp_snapshot {
	struct kdp_dp dp;
	uint64_t gen;
	uint16_t n_rxq[KDP_MAX_WORKERS];
	struct kdp_rxq rxq[KDP_MAX_WORKERS][KDP_MAX_RXQ];
};

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
};

/** TX offloads a port must have for kdp to hand it partial checksums. */
#define KDP_PORT_TX_CSUM (RTE_ETH_TX_OFFLOAD_TCP_CKSUM | RTE_ETH_TX_OFFLOAD_UDP_CKSUM)

struct kdp_worker {
	unsigned int id;
	unsigned int lcore;
	struct kdp_stats *st;
};

/** Snapshots waiting for their grace period at most (then updates wait). */
#define KDP_MAX_RETIRED 64

struct kdp {
	struct kdp_config cfg;
	struct rte_mempool *pool;
	struct rte_rcu_qsbr *qsbr;
	struct kdp_neigh *nt;
	struct kdp_ct *ct;
	struct kdp_affinity *aff;
	uint64_t ct_mem_bytes; /**< heap taken by the conntrack table at start */
	json_t *fe_ids;      /**< "addr:port/proto" → stable frontend id */
	json_t *api_counts;  /**< "route|method|code" → requests */
	uint64_t gc_last_ms; /**< when the last GC slice ran */
	uint64_t port_watch_ms; /**< when ports were last checked */
	uint32_t next_fe_id;
	struct rte_ring *punt;   /**< workers → control (MP/SC) */
	struct rte_ring *inject; /**< control → worker 0 (SP/SC), ready to send */
	struct rte_ring *renew;  /**< control → worker 0 (SP/SC), to run again */
	struct kdp_stats *stats; /**< workers, then the control thread */
	struct kdp_worker workers[KDP_MAX_WORKERS];
	struct kdp_snapshot *_Atomic snap;
	/** Replaced snapshots waiting for their grace period, oldest first. */
	struct kdp_retired {
		struct kdp_snapshot *s;
		uint64_t token; /**< rte_rcu_qsbr_start() after the swap */
		uint16_t n_close;
		uint16_t close[RTE_MAX_ETHPORTS];
	} retired[KDP_MAX_RETIRED];
	unsigned int n_retired;
	/* The state journal (kdp_persist.c). */
	int journal_fd;          /**< -1 until the first base is written */
	bool journal_ok;         /**< updates may be appended */
	uint64_t journal_gen;    /**< generation of the base and the journal */
	uint64_t journal_bytes;  /**< its length (a failed append is cut back) */
	uint32_t journal_ops;
	uint64_t gen;
	struct rte_ether_addr mac; /**< kdp's MAC (uplink's unless set) */
	uint16_t uplink;
	uint16_t host; /**< KDP_NO_PORT when no host tap */
	struct kdp_port ports[RTE_MAX_ETHPORTS];
	unsigned int port_seq;
	struct kdp_state state;
	atomic_bool quit;
	time_t started;
	void *ctl; /**< control-thread private data (kdp_ctl.c) */
	struct kdp_monitor *mon; /**< flow monitor: workers produce, control consumes */
	void *flowmon; /**< GET /v1/monitor listeners (kdp_flowmon.c) */
	char ipmasq_file_err[KDP_ERR_LEN]; /**< last problem with the watched file */
};

/** Counters of the control thread. */
static inline struct kdp_stats *kdp_ctl_stats(struct kdp *k)
{
	return &k->stats[k->cfg.workers];
}

/* kdp_ports.c */
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
/** Largest number of endpoint ports that can still be opened in total. */
unsigned int kdp_port_max_endpoints(const struct kdp *k);

/* kdp_dataplane.c */
/**
 * Builds a snapshot from the config, @p st and the open ports.
 * @return it, or NULL with @p err set.
 */
struct kdp_snapshot *kdp_dp_build(struct kdp *k, const struct kdp_state *st,
				  char *err);
/**
 * Publishes @p s and retires the old snapshot without waiting: it is freed,
 * and the @p n_close ports in @p close are closed, by kdp_dp_reclaim() once
 * every worker has left it (RCU grace period).
 */
void kdp_dp_publish(struct kdp *k, struct kdp_snapshot *s, const uint16_t *close,
		    unsigned int n_close);
/**
 * Frees retired snapshots (and closes their ports) whose grace period is
 * over, oldest first; with @p wait, waits for all of them. Control thread.
 */
void kdp_dp_reclaim(struct kdp *k, bool wait);
/** True when a retired snapshot still has ports to close. */
bool kdp_dp_closing_ports(const struct kdp *k);
/** Frees a snapshot that was never published or is retired. */
void kdp_dp_free(struct kdp_snapshot *s);
/** Worker main loop (rte_eal_remote_launch). */
int kdp_worker_main(void *arg);

/* kdp_slowpath.c */
/** The neighbour table's callbacks towards ports. */
extern const struct kdp_neigh_ops kdp_slowpath_neigh_ops;
/** Drains the punt ring (ARP, unresolved next hops). Control thread. */
void kdp_slowpath_poll(struct kdp *k);
/** Runs one incremental conntrack GC slice. Control thread. */
void kdp_slowpath_ct_gc(struct kdp *k, uint64_t now);
/** Monotonic milliseconds. */
uint64_t kdp_now_ms(void);

/* kdp_apply.c */
/** How an applied state is saved (KDP_APPLY_PERSIST). */
struct kdp_change {
	const char *state; /**< the whole state as JSON text, saved as it is */
	size_t state_len;
	const char *op;    /**< else: one journal line for an object update */
	size_t op_len;
	/* neither: the whole state is serialized and saved */
};

/**
 * Makes @p next the state: validates it, opens the ports of new endpoints,
 * builds the snapshot, saves it as @p how says (with KDP_APPLY_PERSIST),
 * publishes it, and retires the old one (closing the ports of removed
 * endpoints after the grace period). On any error nothing changes and @p err
 * says why. Takes ownership of @p next in all cases. @return 0, -EINVAL (bad
 * input, 400), or another -errno (500).
 */
int kdp_apply(struct kdp *k, struct kdp_state *next, unsigned int flags,
	      const struct kdp_change *how, char *err);
#define KDP_APPLY_PERSIST 0x1 /**< save before publishing */
#define KDP_APPLY_RESTORE 0x2 /**< start-up: an endpoint whose port fails stays down */
/* kdp_persist.c */
/** Writes a new base holding @p len bytes of state JSON, resets the journal. */
int kdp_persist_base(struct kdp *k, const char *state, size_t len);
/** kdp_persist_base() of @p st serialized. */
int kdp_persist_state(struct kdp *k, const struct kdp_state *st);
/** Appends one update line (no newline in it) and syncs it; -EAGAIN when the
 *  journal cannot take it (write a base instead). */
int kdp_persist_op(struct kdp *k, const char *line, size_t len);
/** True when the journal should be folded into a new base. */
bool kdp_persist_compaction_due(const struct kdp *k);
/** Reads the base (*state) and the journal's updates since (*ops, an array);
 *  both NULL without a state file. */
int kdp_persist_load(struct kdp *k, json_t **state, json_t **ops, char *err);
void kdp_persist_close(struct kdp *k);

/* kdp_api.c */
/** Redoes one journal update (as kdp_api wrote it) on @p st. */
int kdp_api_replay(struct kdp *k, struct kdp_state *st, const json_t *op, char *err);

/** Loads the state file (and its journal) if it exists and applies it. */
int kdp_state_restore(struct kdp *k, char *err);

/* kdp_telemetry.c */
/** Registers /kdp/stats and /kdp/ct with DPDK telemetry. */
int kdp_telemetry_init(struct kdp *k, char *err);

/* kdp_ctl.c */
/**
 * Reads the ip-masq-agent config file of the node config and applies it; a
 * missing file means no config; a bad one is refused (logged, kept in
 * ipmasq_file_err) and the set in force stays. @return 0 or -errno.
 */
int kdp_ipmasq_file_reload(struct kdp *k);
/** Runs the control thread until SIGINT/SIGTERM. */
int kdp_ctl_run(struct kdp *k);

#endif

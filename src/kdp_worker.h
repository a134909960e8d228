/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Workers (poll-mode lcores) and the rings between them and the control
 * thread.
 */
#ifndef KDP_WORKER_H
#define KDP_WORKER_H

#include <stdatomic.h>

#include <rte_ring.h>

#include "common/kdp_stats.h"

struct kdp_worker {
	unsigned int id;
	unsigned int lcore;
	struct kdp_stats *st;
};

/** What workers and the control thread hand each other. */
struct kdp_rings {
	struct rte_ring *punt;   /**< workers -> control (MP/SC): ARP, unresolved */
	int punt_fd;             /**< eventfd: a punt wakes an idle control thread */
	atomic_bool punt_armed;  /**< control -> workers: it sleeps, write punt_fd on a punt */
	struct rte_ring *inject; /**< control -> worker 0 (SP/SC), ready to send */
	struct rte_ring *renew;  /**< control -> worker 0 (SP/SC), to run again */
	atomic_bool pause;       /**< control -> workers: drain, then park */
	atomic_uint parked;      /**< workers parked (offline for RCU, touching nothing) */
	atomic_bool discard;     /**< a kdp taking over: drop what arrives (copies) */
	atomic_ulong discarded;  /**< ... how many */
};

struct kdp;

/** Worker main loop (rte_eal_remote_launch; the argument is the struct kdp). */
int kdp_worker_main(void *arg);

/**
 * Control thread: asks every worker to stop after a pass over its queues
 * that emptied each (fewer frames than a burst in each; at most 20 ms of
 * draining) and waits until all are parked:
 * then no worker receives, sends or touches a table. Waits up to
 * @p timeout_ms. @return 0, or -ETIMEDOUT (the workers stay asked).
 */
int kdp_worker_pause(struct kdp *k, unsigned int timeout_ms);

/** Control thread: lets parked workers go on. */
void kdp_worker_resume(struct kdp *k);

#endif

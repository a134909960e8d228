/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Workers (poll-mode lcores) and the rings between them and the control
 * thread.
 */
#ifndef KDP_WORKER_H
#define KDP_WORKER_H

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
	struct rte_ring *inject; /**< control -> worker 0 (SP/SC), ready to send */
	struct rte_ring *renew;  /**< control -> worker 0 (SP/SC), to run again */
};

/** Worker main loop (rte_eal_remote_launch; the argument is the struct kdp). */
int kdp_worker_main(void *arg);

#endif

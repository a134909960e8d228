/* SPDX-License-Identifier: BSD-3-Clause */
/** @file The control thread (libevent): API socket, slow-path timer, signals. */
#ifndef KDP_CTL_H
#define KDP_CTL_H

#include "kdp.h"

/** Creates the event loop and binds the API socket. 0 or -errno with @p err. */
int kdp_ctl_init(struct kdp *k, char *err);
/** Frees what kdp_ctl_init made and removes the socket. */
void kdp_ctl_fini(struct kdp *k);

/**
 * Reads the ip-masq-agent config file of the node config and applies it; a
 * missing file means no config; a bad one is refused (logged, kept in
 * ipmasq_file_err) and the set in force stays. @return 0 or -errno.
 */
int kdp_ipmasq_file_reload(struct kdp *k);
/** Binds the control socket again if its file is not ours any more (a
 *  hand-over given up after the new kdp bound it). */
void kdp_ctl_rebind(struct kdp *k);

/** How many times the slow-path tick ran, and how many of those a worker's
 * punt woke an idle control thread for (GET /v1/stats "control"). */
void kdp_ctl_tick_counts(const struct kdp *k, uint64_t *ticks, uint64_t *wakes);
/** Runs the control thread until SIGINT/SIGTERM. */
int kdp_ctl_run(struct kdp *k);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/** @file The control thread (libevent): API socket, slow-path timer, signals. */
#ifndef KDP_CTL_H
#define KDP_CTL_H

#include "kdp.h"

/** Creates the event loop and binds the API socket. 0 or -errno with @p err. */
int kdp_ctl_init(struct kdp *k, char *err);
/** Frees what kdp_ctl_init made and removes the socket. */
void kdp_ctl_fini(struct kdp *k);

#endif

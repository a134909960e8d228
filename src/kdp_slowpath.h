/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control thread's slow path: ARP and unresolved next hops (punted by
 * workers), conntrack renewals, and the conntrack GC.
 */
#ifndef KDP_SLOWPATH_H
#define KDP_SLOWPATH_H

#include <stdint.h>

#include "neigh/kdp_neigh.h"

struct kdp;

/** The neighbour table's callbacks towards ports. */
extern const struct kdp_neigh_ops kdp_slowpath_neigh_ops;
/** Drains the punt ring (ARP, unresolved next hops), runs the neighbour
 * timers and a GC slice. Control thread. @return frames taken off the ring. */
unsigned int kdp_slowpath_poll(struct kdp *k);
/** Runs one incremental conntrack GC slice. Control thread. */
void kdp_slowpath_ct_gc(struct kdp *k, uint64_t now);
/** Monotonic milliseconds. */
uint64_t kdp_now_ms(void);

#endif

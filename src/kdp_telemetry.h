/* SPDX-License-Identifier: BSD-3-Clause */
/** @file DPDK telemetry commands of kdp. */
#ifndef KDP_TELEMETRY_H
#define KDP_TELEMETRY_H

struct kdp;

/** Registers /kdp/stats and /kdp/ct with DPDK telemetry. */
int kdp_telemetry_init(struct kdp *k, char *err);

#endif

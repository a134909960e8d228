/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Checks of the devargs the API accepts for an endpoint's port, so that
 * nothing a client sends can make DPDK open an arbitrary device or write
 * outside the places the node config allows.
 */
#ifndef KDP_DEVARGS_H
#define KDP_DEVARGS_H

#include <stdbool.h>
#include <stddef.h>

#include "kdp_config.h"

/**
 * Checks @p devargs ("<device>[,key=value...]") against the node config:
 * - the device name is an allowed driver name, optionally followed by
 *   digits (net_af_packet, net_memif0);
 * - every key is in that driver's allow-list, at most once, with a value
 *   of the expected form (interface names are plain names; net_memif's
 *   socket= is a path under memifSocketDir without '.' or '..' parts, and
 *   it must say socket-abstract=no unless memifAbstractSockets is true);
 *   a driver kdp has no list for takes no keys;
 * Thread-safe (reads only). @return 0, or -EINVAL with @p err
 * "PATH: devargs: ..." naming the key.
 */
int kdp_devargs_check(const struct kdp_config *cfg, const char *devargs,
		      const char *path, char *err);

/** The kernel interface @p devargs names (its iface= value) into @p out.
 *  @return false when it names none (or it does not fit). */
bool kdp_devargs_iface(const char *devargs, char *out, size_t len);

#endif

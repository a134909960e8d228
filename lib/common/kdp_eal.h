/* SPDX-License-Identifier: BSD-3-Clause */
/** @file Small helpers around the EAL shared by the daemon, tests and tools. */
#ifndef KDP_EAL_H
#define KDP_EAL_H

/**
 * Removes the files of an EAL runtime directory (/var/run/dpdk/<prefix>)
 * and the directory itself, after rte_eal_cleanup(): each process here has
 * its own file prefix, so nothing else uses it. Errors are ignored.
 */
void kdp_eal_remove_runtime_dir(const char *dir);

#endif

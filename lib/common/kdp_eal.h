/* SPDX-License-Identifier: BSD-3-Clause */
/** @file Small helpers around the EAL shared by the daemon, tests and tools. */
#ifndef KDP_EAL_H
#define KDP_EAL_H

#include <stdbool.h>

/**
 * Removes the files of an EAL runtime directory (/var/run/dpdk/<prefix>)
 * and the directory itself, after rte_eal_cleanup(): each process here has
 * its own file prefix, so nothing else uses it. Errors are ignored.
 */
void kdp_eal_remove_runtime_dir(const char *dir);

/**
 * Faults in, writable, every page of the EAL's memory (each contiguous run
 * of allocated memsegs; external heaps excepted) without changing what it
 * holds. With hugepages the EAL did so at init and this is quick; with
 * --no-huge each 4 KiB page would otherwise be allocated by whichever
 * thread first writes it: a worker inserting a new flow. Safe while other
 * threads use the memory. Stops early once @p stop (may be NULL) is set.
 * @return the bytes walked.
 */
long long kdp_eal_prefault(const volatile bool *stop);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Flow state that outlives the process: conntrack (with the SNAT ports its
 * reply tuples hold), the ClientIP affinity pins and the frontend ids both
 * refer to, of both families (IPv4, and IPv6 with nodeIPv6), in the flow state file (lib/flowstore, `flowStateFile`). A kdp
 * that starts after a crash or a restart, or takes over from a running one
 * (kdp_handover.h), finds the flows as they were: same backend, same SNAT
 * port. Control thread only.
 */
#ifndef KDP_FLOWS_H
#define KDP_FLOWS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "ct/kdp_ct.h"
#include "flowstore/kdp_flowstore.h"
#include "svc/kdp_svc.h"
#include "svc/kdp_svc6.h"

struct kdp;

/** Frontend ids the file keeps (more are used, but not kept). */
#define KDP_FLOWS_FE_CAP 65536

/** The flow state of this kdp (k->flows). */
struct kdp_flows {
	struct kdp_flowstore *fs;
	bool imported;                 /**< kdp_flows_import() ran */
	struct kdp_ct_import_stats ct; /**< what it found */
	uint32_t pins;                 /**< affinity pins found */
	struct kdp_ct_import_stats ct6; /**< what it found of IPv6 flows */
	uint32_t pins6;                /**< IPv6 affinity pins found */
	uint32_t fe_ids;               /**< frontend ids found */
	json_t *restored;              /**< "addr:port/proto" -> the id the file had */
	uint32_t fe_unsaved;           /**< ids beyond the file's room, last save */
	bool fe_dirty;                 /**< a table being built has ids not saved yet */
	uint64_t import_ms;            /**< flow clock when imported */
};

/**
 * Opens the flow state file (KDP_FLOWSTORE_* @p flags), creates the
 * conntrack and affinity tables over it and keeps its frontend ids, so the state restored next gives every frontend the id its
 * flows and pins know. The flows are not tracked until kdp_flows_import().
 * @return 0 or -errno with @p err set.
 */
int kdp_flows_open(struct kdp *k, unsigned int flags, char *err);

/**
 * The slots the import found live but did not track (a duplicate tuple, no
 * room) are marked free in the file and put to use: a later start would
 * take them again otherwise, naming frontend ids that may have been reused
 * since. Once nothing may go back to the previous kdp.
 */
void kdp_flows_release_stale(struct kdp *k);

/**
 * Tracks the flows the file holds (before any worker runs; after a
 * hand-over's freeze), and logs one line saying what was found.
 * @return 0 or -errno with @p err set.
 */
int kdp_flows_import(struct kdp *k, char *err);

/** The id the flow state file had for the frontend @p key, or 0. */
uint32_t kdp_flows_restored_fe_id(const struct kdp *k, const struct kdp_svc_key *key);

/** And for the IPv6 frontend @p key. */
uint32_t kdp_flows_restored_fe_id6(const struct kdp *k, const struct kdp_svc6_key *key);

/** Saves the frontend ids of tables @p t and @p t6 (IPv6, NULL: none; the
 *  ones about to be published) into the file. */
void kdp_flows_save_fe(struct kdp *k, const struct kdp_svc_table *t,
		       const struct kdp_svc6_table *t6);

/** Frees the tables and unmaps the file (which stays). */
void kdp_flows_close(struct kdp *k);

/** GET /v1/status "flowState": the file, what the start found. */
json_t *kdp_flows_status_json(const struct kdp *k);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The desired state on disk: a base file written whole (temp, fsync,
 * rename) and a journal of object updates appended after it. Control
 * thread only.
 */
#ifndef KDP_PERSIST_H
#define KDP_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "kdp_state.h"

struct kdp;

/** The journal next to the base. */
struct kdp_journal {
	int fd;         /**< -1 until the first base is written */
	bool ok;        /**< updates may be appended */
	uint64_t gen;   /**< generation of the base and the journal */
	uint64_t bytes; /**< its length (a failed append is cut back) */
	uint32_t ops;   /**< lines in it */
};

/** Writes a new base holding @p len bytes of state JSON, resets the journal. */
int kdp_persist_base(struct kdp *k, const char *state, size_t len);
/** kdp_persist_base() of @p st serialized. */
int kdp_persist_state(struct kdp *k, const struct kdp_state *st);
/** Appends one update line (no newline in it) and syncs it; -EAGAIN when the
 *  journal cannot take it (write a base instead). */
int kdp_persist_op(struct kdp *k, const char *line, size_t len);
/** True when the journal should be folded into a new base. */
bool kdp_persist_compaction_due(const struct kdp *k);
/** Reads the base (*state) and the journal's updates since (*ops, an array);
 *  both NULL without a state file. */
int kdp_persist_load(struct kdp *k, json_t **state, json_t **ops, char *err);
void kdp_persist_close(struct kdp *k);

#endif

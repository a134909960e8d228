/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Applying a desired state atomically (all of it or nothing), and restoring
 * the saved one at start-up. Control thread only.
 */
#ifndef KDP_APPLY_H
#define KDP_APPLY_H

#include <stddef.h>

#include "kdp_state.h"

struct kdp;

/** How an applied state is saved (KDP_APPLY_PERSIST). */
struct kdp_change {
	const char *state; /**< the whole state as JSON text, saved as it is */
	size_t state_len;
	const char *op;    /**< else: one journal line for an object update */
	size_t op_len;
	/* neither: the whole state is serialized and saved */
};

/**
 * Makes @p next the state: validates it, opens the ports of new endpoints,
 * builds the snapshot, saves it as @p how says (with KDP_APPLY_PERSIST),
 * publishes it, and retires the old one (closing the ports of removed
 * endpoints after the grace period). On any error nothing changes and @p err
 * says why. Takes ownership of @p next in all cases. @return 0, -EINVAL (bad
 * input, 400), or another -errno (500).
 */
int kdp_apply(struct kdp *k, struct kdp_state *next, unsigned int flags,
	      const struct kdp_change *how, char *err);
#define KDP_APPLY_PERSIST 0x1 /**< save before publishing */
#define KDP_APPLY_RESTORE 0x2 /**< start-up: an endpoint whose port fails stays down */

/** Loads the state file (and its journal) if it exists and applies it. */
int kdp_state_restore(struct kdp *k, char *err);

#endif

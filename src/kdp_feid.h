/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Service frontend ids, and their reuse.
 *
 * Every frontend has an id (1, 2, ...) that its conntrack entries and
 * affinity pins name (svc_id), and that the tables index it by (by_id[]).
 * An id that no table holds any more goes back into use once nothing can
 * name it: first the workers' grace period (RCU: a worker still running the
 * old snapshot may track one more flow with it), then two full GC passes of
 * every table that holds ids, each pass clearing the id from what still
 * names it (a conntrack entry loses its svc_id and dies as its service
 * did; a pin of a frontend that is gone is dropped). So the ids in use stay
 * about as many as the frontends, however many have come and gone, and the
 * id-indexed arrays with them.
 *
 * Control thread only; no locks.
 */
#ifndef KDP_FEID_H
#define KDP_FEID_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <rte_rcu_qsbr.h>

/** Where an id is in its life. */
enum kdp_feid_state {
	KDP_FEID_NONE = 0,  /**< never handed out (above the highest) */
	KDP_FEID_RESERVED,  /**< the flow state file's, for a frontend not back yet */
	KDP_FEID_USED,      /**< a frontend's */
	KDP_FEID_WAIT_RCU,  /**< released: waiting for the workers' grace period */
	KDP_FEID_WAIT_GC,   /**< released: waiting for two GC passes */
	KDP_FEID_FREE,      /**< can be handed out again */
};

/** Tables whose GC passes an id waits for (conntrack and affinity, of
 *  each family). */
#define KDP_FEID_TABLES 4

/** A run of released ids waiting together. */
struct kdp_feid_wait {
	uint32_t lo, hi;  /**< ids lo..hi */
	bool rcu;         /**< still waiting for @p token */
	uint64_t token;   /**< rte_rcu_qsbr_start() after the snapshot swap */
	uint64_t passes[KDP_FEID_TABLES]; /**< each table's GC passes when the wait began */
};

/** An id taken by the build under way, and its state before. */
struct kdp_feid_undo {
	uint32_t id;
	uint8_t was; /**< KDP_FEID_NONE, _RESERVED or _FREE */
};

struct kdp_feid {
	uint8_t *state;            /**< [id]: enum kdp_feid_state */
	uint32_t cap;              /**< state[] entries */
	uint32_t *free;            /**< free ids, highest first (taken from the end) */
	uint32_t n_free, cap_free;
	struct kdp_feid_wait *wait;
	uint32_t n_wait, cap_wait;
	uint32_t n_waiting;        /**< ids in the wait list */
	struct kdp_feid_undo *undo; /**< ids taken since kdp_feid_begin() */
	uint32_t n_undo, cap_undo;
	uint64_t released;         /**< ids released since start */
	uint64_t reused;           /**< ids handed out again */
};

/**
 * Starts the bookkeeping for ids 1..@p next (the highest ever handed out,
 * as the flow state file says; 0 without one): the @p n ids of @p reserved
 * are the file's for frontends not back yet; every other id up to @p next
 * may still be named by a flow or pin the file holds, so it waits for two
 * GC passes of every table (passes counted from 0).
 * @return 0 or -ENOMEM.
 */
int kdp_feid_init(struct kdp_feid *f, uint32_t next, const uint32_t *reserved, uint32_t n);

/** Frees what @p f holds. */
void kdp_feid_fini(struct kdp_feid *f);

/** A build starts: the ids it takes can be given back (kdp_feid_rollback()). */
static inline void kdp_feid_begin(struct kdp_feid *f)
{
	f->n_undo = 0;
}

/** The build's snapshot is published: its ids stay taken. */
static inline void kdp_feid_commit(struct kdp_feid *f)
{
	f->n_undo = 0;
}

/** The build failed or its snapshot was dropped: the ids it took are as
 *  they were (free, reserved, or above *@p next again). */
void kdp_feid_rollback(struct kdp_feid *f, uint32_t *next);

/**
 * An id for a new frontend: the lowest free one, else ++*@p next.
 * @return the id, 0 when out of memory.
 */
uint32_t kdp_feid_take(struct kdp_feid *f, uint32_t *next);

/**
 * Takes id @p id that the flow state file had for a frontend now back.
 * @return @p id, or 0 when it is no longer reserved (it was used and
 * released since: the frontend takes a new id).
 */
uint32_t kdp_feid_take_reserved(struct kdp_feid *f, uint32_t id);

/** Id @p id is no longer in any table (swapped out; readers' grace period
 *  from @p token). */
void kdp_feid_release(struct kdp_feid *f, uint32_t id, uint64_t token);

/** True when id @p id waits (released, not free yet): what names it must
 *  be cleared. */
static inline bool kdp_feid_waiting(const struct kdp_feid *f, uint32_t id)
{
	return id < f->cap &&
	       (f->state[id] == KDP_FEID_WAIT_RCU || f->state[id] == KDP_FEID_WAIT_GC);
}

/**
 * Moves the waits on: past their grace period (@p qsbr, never blocking;
 * NULL: passed), then free once each of the @p n tables' GC pass counts
 * @p passes (n ≤ KDP_FEID_TABLES) is two past what it was when the grace
 * period ended: a whole pass of each table began after it. Lowers @p *next
 * when the highest ids are free.
 */
void kdp_feid_advance(struct kdp_feid *f, struct rte_rcu_qsbr *qsbr, const uint64_t *passes,
		      unsigned int n, uint32_t *next);

/** Ids in state @p s (a count over the array; for status). */
uint32_t kdp_feid_count(const struct kdp_feid *f, enum kdp_feid_state s);

/** GET /v1/status "frontendIds": highest (@p next), inUse, reserved,
 *  waiting, free, released, reused. */
json_t *kdp_feid_json(const struct kdp_feid *f, uint32_t next);

#endif

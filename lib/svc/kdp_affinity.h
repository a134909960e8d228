/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Session affinity (sessionAffinity: ClientIP): which backend a client was
 * given by a frontend, and when it last opened a flow.
 *
 * A set-associative table of 16-byte slots, four to a bucket (one cache
 * line), in memory that may be a section of the flow state file
 * (lib/flowstore): it needs no index of its own, so a kdp that starts finds
 * the pins as they were (its hash seed is kept with it). A slot is a key
 * word (frontend id, client) and a value word (backend address, last-use
 * second). Readers are lock-free: they read key, value, key again. A writer
 * claims a slot by swapping its key for a busy mark (one compare-and-swap,
 * never waited on: a pin another worker is writing at that instant is
 * simply not refreshed), writes the value, then the key. A full bucket
 * gives up its least recently used pin. Workers read and refresh it once per
 * new flow (never per packet); the control thread expires pins in slices.
 *
 * IPv6 pins (kdp_svc6.h, struct kdp_affinity6) use the same table with
 * 32-byte slots: the key word holds a hash of the client, the client's
 * address follows the value word, written while the key is claimed and
 * compared by readers between their two reads of the key.
 */
#ifndef KDP_AFFINITY_H
#define KDP_AFFINITY_H

#include <stdbool.h>
#include <stdint.h>

#include "kdp_svc.h"

/** Slots per bucket. */
#define KDP_AFFINITY_WAYS 4

/** One pin (the flow state file's layout). */
struct kdp_affinity_slot {
	uint64_t key; /**< fe_id << 32 | client (network order); 0: empty */
	uint64_t val; /**< backend (network order) << 32 | last-use second */
};

/** An IPv6 pin (the flow state file's layout): a struct kdp_affinity_slot
 *  whose key's low word is a hash of the client, then the client. */
struct kdp_affinity6_slot {
	uint64_t key;       /**< fe_id << 32 | hash of the client; 0: empty */
	uint64_t val;       /**< backend tag << 32 | last-use second */
	uint64_t client[2]; /**< the client's address */
};

struct kdp_affinity {
	uint8_t *slot;     /**< slots of slot_size bytes */
	uint32_t slot_size;/**< sizeof(struct kdp_affinity_slot) or (IPv6) kdp_affinity6_slot */
	uint32_t mask;     /**< buckets - 1 */
	uint32_t seed;
	bool own;
	uint32_t cursor;   /**< GC position (slot index) */
	uint64_t passes;   /**< whole GC passes over the slots finished */
	uint64_t evicted;  /**< pins given up for room */
};

/** Slots of a table for about @p clients pins (a power of two). */
uint32_t kdp_affinity_slots(uint32_t clients);

/**
 * A table of @p n_slots (kdp_affinity_slots()) over @p mem, which holds the
 * pins a previous kdp left there with hash seed @p seed, or over zeroed
 * memory of its own when @p mem is NULL. NULL with rte_errno on error.
 */
struct kdp_affinity *kdp_affinity_create(uint32_t n_slots, void *mem, uint32_t seed);

/** kdp_affinity_create() with slots of @p slot_size bytes (16: IPv4, 32:
 *  IPv6, struct kdp_affinity6_slot). */
struct kdp_affinity *kdp_affinity_create_any(uint32_t n_slots, uint32_t slot_size, void *mem,
					     uint32_t seed);
void kdp_affinity_free(struct kdp_affinity *a);

/** Slots of the table. */
static inline uint32_t kdp_affinity_n_slots(const struct kdp_affinity *a)
{
	return (a->mask + 1) * KDP_AFFINITY_WAYS;
}

/**
 * The value of pin @p key (with client address @p client, 16 bytes, in
 * tables of IPv6 slots; NULL otherwise) into *@p val. @return true when
 * there is one. Any worker.
 */
bool kdp_affinity_lookup(const struct kdp_affinity *a, uint64_t key, const uint8_t *client,
			 uint64_t *val);

/** Writes pin @p key (@p client as kdp_affinity_lookup()) = @p val. Any
 *  worker. @return false when its slot was being written by another. */
bool kdp_affinity_put(struct kdp_affinity *a, uint64_t key, const uint8_t *client, uint64_t val);

/**
 * Control thread: examines @p budget slots and deletes pins older than
 * the timeout @p timeout_of gives for their frontend id (a negative one: the
 * frontend is gone or has no affinity any more). Counts whole passes
 * (passes). @return pins removed.
 */
uint32_t kdp_affinity_gc_any(struct kdp_affinity *a, int64_t (*timeout_of)(const void *t,
									     uint32_t fe_id),
			     const void *t, uint32_t now_s, uint32_t budget);

/**
 * Backend index in @p fe that @p client is pinned to, or -1 when it has none,
 * its pin expired (older than the frontend's timeout), or that backend may
 * not take new flows any more. Any worker.
 */
int kdp_affinity_get(const struct kdp_affinity *a, const struct kdp_svc_fe *fe,
		     uint32_t client, uint32_t now_s);

/** Pins @p client to backend @p b of @p fe as of @p now_s. Any worker. */
void kdp_affinity_set(struct kdp_affinity *a, const struct kdp_svc_fe *fe,
		      uint32_t client, int b, uint32_t now_s);

/**
 * Control thread: examines @p budget slots and deletes pins older than the
 * timeout of their frontend in @p t (or whose frontend is gone).
 * @return pins removed.
 */
uint32_t kdp_affinity_gc(struct kdp_affinity *a, const struct kdp_svc_table *t,
			 uint32_t now_s, uint32_t budget);

/** Pins in the table (a walk: control thread, for status). */
uint32_t kdp_affinity_count(const struct kdp_affinity *a);

/**
 * Copies the pins of another table's @p n slots @p src (a flow state file of
 * other sizes; slots of this table's size) into this one. @return pins copied.
 */
uint32_t kdp_affinity_import(struct kdp_affinity *a, const void *src, uint32_t n);

#endif

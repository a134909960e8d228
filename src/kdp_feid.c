/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kdp_feid.h"

/* Room in state[] for id @p id. */
static int grow_state(struct kdp_feid *f, uint32_t id)
{
	uint32_t cap = f->cap ? f->cap : 64;
	uint8_t *s;

	if (id < f->cap)
		return 0;
	while (cap <= id)
		cap = cap > UINT32_MAX / 2 ? UINT32_MAX : cap * 2;
	s = realloc(f->state, cap);
	if (s == NULL)
		return -ENOMEM;
	memset(s + f->cap, 0, cap - f->cap);
	f->state = s;
	f->cap = cap;
	return 0;
}

static int push_wait(struct kdp_feid *f, const struct kdp_feid_wait *w)
{
	if (f->n_wait == f->cap_wait) {
		uint32_t cap = f->cap_wait ? f->cap_wait * 2 : 16;
		struct kdp_feid_wait *n = realloc(f->wait, sizeof(*n) * cap);

		if (n == NULL)
			return -ENOMEM;
		f->wait = n;
		f->cap_wait = cap;
	}
	f->wait[f->n_wait++] = *w;
	f->n_waiting += w->hi - w->lo + 1;
	return 0;
}

int kdp_feid_init(struct kdp_feid *f, uint32_t next, const uint32_t *reserved, uint32_t n)
{
	struct kdp_feid_wait w = {.rcu = false};
	bool open = false;

	memset(f, 0, sizeof(*f));
	if (grow_state(f, next) != 0)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		if (reserved[i] != 0 && reserved[i] <= next)
			f->state[reserved[i]] = KDP_FEID_RESERVED;
	/* The rest may still be named by a flow or pin of the file. */
	for (uint32_t id = 1; id <= next; id++) {
		if (f->state[id] == KDP_FEID_RESERVED) {
			if (open && push_wait(f, &w) != 0)
				return -ENOMEM;
			open = false;
			continue;
		}
		f->state[id] = KDP_FEID_WAIT_GC;
		if (!open)
			w.lo = id;
		w.hi = id;
		open = true;
	}
	if (open && push_wait(f, &w) != 0)
		return -ENOMEM;
	return 0;
}

void kdp_feid_fini(struct kdp_feid *f)
{
	free(f->undo);
	free(f->state);
	free(f->free);
	free(f->wait);
	memset(f, 0, sizeof(*f));
}

/* Remembers that @p id was in state @p was before this build took it. */
static int note(struct kdp_feid *f, uint32_t id, uint8_t was)
{
	if (f->n_undo == f->cap_undo) {
		uint32_t cap = f->cap_undo ? f->cap_undo * 2 : 64;
		struct kdp_feid_undo *u = realloc(f->undo, sizeof(*u) * cap);

		if (u == NULL)
			return -ENOMEM;
		f->undo = u;
		f->cap_undo = cap;
	}
	f->undo[f->n_undo++] = (struct kdp_feid_undo){id, was};
	return 0;
}

uint32_t kdp_feid_take(struct kdp_feid *f, uint32_t *next)
{
	uint32_t id;

	if (f->n_free > 0) {
		id = f->free[f->n_free - 1];
		if (note(f, id, KDP_FEID_FREE) != 0)
			return 0;
		f->n_free--;
		f->state[id] = KDP_FEID_USED;
		f->reused++;
		return id;
	}
	if (*next == UINT32_MAX || grow_state(f, *next + 1) != 0 ||
	    note(f, *next + 1, KDP_FEID_NONE) != 0)
		return 0;
	id = ++*next;
	f->state[id] = KDP_FEID_USED;
	return id;
}

uint32_t kdp_feid_take_reserved(struct kdp_feid *f, uint32_t id)
{
	if (id == 0 || id >= f->cap || f->state[id] != KDP_FEID_RESERVED ||
	    note(f, id, KDP_FEID_RESERVED) != 0)
		return 0;
	f->state[id] = KDP_FEID_USED;
	return id;
}

static int desc(const void *a, const void *b);

void kdp_feid_rollback(struct kdp_feid *f, uint32_t *next)
{
	bool freed = false;

	for (uint32_t i = f->n_undo; i-- > 0;) {
		const struct kdp_feid_undo *u = &f->undo[i];

		f->state[u->id] = u->was;
		if (u->was == KDP_FEID_FREE) {
			/* Its room on the list is still there: taken from it. */
			f->free[f->n_free++] = u->id;
			f->reused--;
			freed = true;
		} else if (u->was == KDP_FEID_NONE && u->id == *next) {
			--*next;
		}
	}
	f->n_undo = 0;
	if (freed)
		qsort(f->free, f->n_free, sizeof(*f->free), desc);
}

void kdp_feid_release(struct kdp_feid *f, uint32_t id, uint64_t token)
{
	struct kdp_feid_wait *last = f->n_wait ? &f->wait[f->n_wait - 1] : NULL;
	struct kdp_feid_wait w = {.lo = id, .hi = id, .rcu = true, .token = token};

	if (id == 0 || id >= f->cap || f->state[id] != KDP_FEID_USED)
		return;
	f->state[id] = KDP_FEID_WAIT_RCU;
	f->released++;
	if (last != NULL && last->rcu && last->token == token && last->hi + 1 == id) {
		last->hi = id;
		f->n_waiting++;
		return;
	}
	if (push_wait(f, &w) != 0) {
		/* No room to remember the wait: the id is never reused. */
		f->state[id] = KDP_FEID_USED;
	}
}

static int desc(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Ids lo..hi are free: onto the free list (ids that do not fit stay
 * waiting, tried again next time). @return 0 or -ENOMEM. */
static int make_free(struct kdp_feid *f, uint32_t lo, uint32_t hi)
{
	uint32_t n = hi - lo + 1;

	if (f->n_free + n > f->cap_free) {
		uint32_t cap = f->cap_free ? f->cap_free : 64;
		uint32_t *l;

		while (cap < f->n_free + n)
			cap *= 2;
		l = realloc(f->free, sizeof(*l) * cap);
		if (l == NULL)
			return -ENOMEM;
		f->free = l;
		f->cap_free = cap;
	}
	for (uint32_t id = lo; id <= hi; id++) {
		f->state[id] = KDP_FEID_FREE;
		f->free[f->n_free++] = id;
	}
	f->n_waiting -= n;
	return 0;
}

/* Each of the @p n tables has finished two passes since @p w's began. */
static bool passed_twice(const struct kdp_feid_wait *w, const uint64_t *passes, unsigned int n)
{
	for (unsigned int t = 0; t < n && t < KDP_FEID_TABLES; t++)
		if (passes[t] < w->passes[t] + 2)
			return false;
	return true;
}

void kdp_feid_advance(struct kdp_feid *f, struct rte_rcu_qsbr *qsbr, const uint64_t *passes,
		      unsigned int n, uint32_t *next)
{
	uint32_t kept = 0, i = 0;
	bool freed = false;

	for (; i < f->n_wait; i++) {
		struct kdp_feid_wait *w = &f->wait[i];

		if (w->rcu && (qsbr == NULL || rte_rcu_qsbr_check(qsbr, w->token, false) == 1)) {
			w->rcu = false;
			for (unsigned int t = 0; t < n && t < KDP_FEID_TABLES; t++)
				w->passes[t] = passes[t];
			for (uint32_t id = w->lo; id <= w->hi; id++)
				f->state[id] = KDP_FEID_WAIT_GC;
		}
		if (!w->rcu && passed_twice(w, passes, n) && make_free(f, w->lo, w->hi) == 0) {
			freed = true;
			continue;
		}
		f->wait[kept++] = *w;
	}
	f->n_wait = kept;
	if (!freed)
		return;
	qsort(f->free, f->n_free, sizeof(*f->free), desc);
	/* The highest ids free: the id range shrinks back. */
	for (i = 0; i < f->n_free && f->free[i] == *next; i++) {
		f->state[*next] = KDP_FEID_NONE;
		--*next;
	}
	memmove(f->free, f->free + i, sizeof(*f->free) * (f->n_free - i));
	f->n_free -= i;
}

uint32_t kdp_feid_count(const struct kdp_feid *f, enum kdp_feid_state s)
{
	uint32_t n = 0;

	for (uint32_t id = 1; id < f->cap; id++)
		n += f->state[id] == s;
	return n;
}

json_t *kdp_feid_json(const struct kdp_feid *f, uint32_t next)
{
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "highest", (json_int_t)next,
			 "inUse", (json_int_t)kdp_feid_count(f, KDP_FEID_USED), "reserved",
			 (json_int_t)kdp_feid_count(f, KDP_FEID_RESERVED), "waiting",
			 (json_int_t)f->n_waiting, "free", (json_int_t)f->n_free, "released",
			 (json_int_t)f->released, "reused", (json_int_t)f->reused);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Frontend ids: handed out, released, reused only after the readers' grace
 * period and two GC passes; the file's ids at start. */
#include <stdlib.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "kdp_feid.h"
#include "test_util.h"

/* kdp_feid_advance() with two tables: conntrack at @p ct passes,
 * affinity at @p aff. */
static void advance(struct kdp_feid *f, struct rte_rcu_qsbr *q, uint64_t ct, uint64_t aff,
		    uint32_t *next)
{
	uint64_t p[2] = {ct, aff};

	kdp_feid_advance(f, q, p, 2, next);
}

static void test_reuse_after_grace_and_passes(void)
{
	size_t sz = rte_rcu_qsbr_get_memsize(1);
	struct rte_rcu_qsbr *q = rte_zmalloc("test_feid_qsbr", sz, RTE_CACHE_LINE_SIZE);
	struct kdp_feid f;
	uint32_t next = 0, id[4];
	uint64_t token;

	CU_ASSERT_FATAL(q != NULL && rte_rcu_qsbr_init(q, 1) == 0);
	rte_rcu_qsbr_thread_register(q, 0);
	rte_rcu_qsbr_thread_online(q, 0);
	CU_ASSERT_EQUAL_FATAL(kdp_feid_init(&f, 0, NULL, 0), 0);
	for (int i = 0; i < 4; i++)
		id[i] = kdp_feid_take(&f, &next);
	CU_ASSERT(id[0] == 1 && id[1] == 2 && id[2] == 3 && id[3] == 4);
	CU_ASSERT_EQUAL(next, 4);
	/* 2 and 3 leave the tables; a worker has not passed a quiescent state. */
	token = rte_rcu_qsbr_start(q);
	kdp_feid_release(&f, 2, token);
	kdp_feid_release(&f, 3, token);
	kdp_feid_release(&f, 3, token); /* twice: once counted */
	CU_ASSERT_EQUAL(f.n_waiting, 2);
	CU_ASSERT_EQUAL(f.n_wait, 1); /* one run, 2..3 */
	CU_ASSERT(kdp_feid_waiting(&f, 2) && kdp_feid_waiting(&f, 3));
	CU_ASSERT_FALSE(kdp_feid_waiting(&f, 1));
	advance(&f, q, 10, 10, &next);
	CU_ASSERT_EQUAL(f.state[2], KDP_FEID_WAIT_RCU);
	CU_ASSERT_EQUAL(kdp_feid_take(&f, &next), 5); /* nothing free yet */
	/* The worker passes: the GC passes now count, from 10. */
	rte_rcu_qsbr_quiescent(q, 0);
	advance(&f, q, 10, 10, &next);
	CU_ASSERT_EQUAL(f.state[3], KDP_FEID_WAIT_GC);
	advance(&f, q, 11, 12, &next);
	CU_ASSERT_EQUAL(f.n_free, 0); /* one table has finished only one pass */
	CU_ASSERT(kdp_feid_waiting(&f, 2));
	advance(&f, q, 12, 12, &next);
	CU_ASSERT_EQUAL(f.n_free, 2);
	CU_ASSERT_EQUAL(f.n_waiting, 0);
	CU_ASSERT_FALSE(kdp_feid_waiting(&f, 2));
	/* The lowest free first, then new ones above. */
	CU_ASSERT_EQUAL(kdp_feid_take(&f, &next), 2);
	CU_ASSERT_EQUAL(kdp_feid_take(&f, &next), 3);
	CU_ASSERT_EQUAL(kdp_feid_take(&f, &next), 6);
	CU_ASSERT_EQUAL(f.reused, 2);
	CU_ASSERT_EQUAL(f.released, 2);
	CU_ASSERT_EQUAL(kdp_feid_count(&f, KDP_FEID_USED), 6);
	/* The highest ids free: the range shrinks back to the highest used. */
	for (uint32_t i = 4; i <= 6; i++)
		kdp_feid_release(&f, i, token);
	advance(&f, NULL, 12, 12, &next);
	advance(&f, NULL, 14, 14, &next);
	CU_ASSERT_EQUAL(next, 3);
	CU_ASSERT_EQUAL(f.n_free, 0);
	CU_ASSERT_EQUAL(f.state[5], KDP_FEID_NONE);
	CU_ASSERT_EQUAL(kdp_feid_take(&f, &next), 4);
	/* Tables at different pass counts (a small one passes more often):
	 * each is counted from its own, not from the highest. */
	kdp_feid_release(&f, 1, token);
	advance(&f, NULL, 5, 100, &next);
	advance(&f, NULL, 7, 101, &next);
	CU_ASSERT(kdp_feid_waiting(&f, 1));
	advance(&f, NULL, 7, 102, &next);
	CU_ASSERT_FALSE(kdp_feid_waiting(&f, 1));
	CU_ASSERT_EQUAL(f.state[1], KDP_FEID_FREE);
	kdp_feid_fini(&f);
	rte_free(q);
}

static void test_ids_of_the_file(void)
{
	/* The file had ids up to 9, 4 and 7 for frontends. */
	uint32_t reserved[] = {4, 7}, next = 9;
	struct kdp_feid f;

	CU_ASSERT_EQUAL_FATAL(kdp_feid_init(&f, next, reserved, 2), 0);
	CU_ASSERT_EQUAL(f.state[4], KDP_FEID_RESERVED);
	CU_ASSERT_EQUAL(f.n_waiting, 7);
	CU_ASSERT_EQUAL(f.n_wait, 3); /* 1..3, 5..6, 8..9 */
	CU_ASSERT(kdp_feid_waiting(&f, 1) && kdp_feid_waiting(&f, 9));
	CU_ASSERT_FALSE(kdp_feid_waiting(&f, 7));
	/* Frontend 4 comes back with its id; 7's id once released is not
	 * taken back by its key. */
	CU_ASSERT_EQUAL(kdp_feid_take_reserved(&f, 4), 4);
	CU_ASSERT_EQUAL(kdp_feid_take_reserved(&f, 4), 0);
	CU_ASSERT_EQUAL(kdp_feid_take_reserved(&f, 5), 0);
	CU_ASSERT_EQUAL(kdp_feid_take(&f, &next), 10); /* nothing free before two passes */
	advance(&f, NULL, 1, 1, &next);
	CU_ASSERT_EQUAL(f.n_free, 0);
	advance(&f, NULL, 2, 2, &next);
	CU_ASSERT_EQUAL(f.n_free, 7);
	CU_ASSERT_EQUAL(kdp_feid_take(&f, &next), 1);
	CU_ASSERT_EQUAL(kdp_feid_take_reserved(&f, 7), 7);
	kdp_feid_fini(&f);
}

static void test_rollback(void)
{
	struct kdp_feid f;
	uint32_t reserved[] = {2}, next = 4;

	CU_ASSERT_EQUAL_FATAL(kdp_feid_init(&f, next, reserved, 1), 0);
	advance(&f, NULL, 2, 2, &next); /* 1, 3, 4 free: 3 and 4 leave the range */
	CU_ASSERT_EQUAL(next, 2);
	CU_ASSERT_EQUAL(f.n_free, 1);
	/* A build takes the free 1, the reserved 2 and a new 3, then fails. */
	kdp_feid_begin(&f);
	CU_ASSERT_EQUAL(kdp_feid_take(&f, &next), 1);
	CU_ASSERT_EQUAL(kdp_feid_take_reserved(&f, 2), 2);
	CU_ASSERT_EQUAL(kdp_feid_take(&f, &next), 3);
	kdp_feid_rollback(&f, &next);
	CU_ASSERT_EQUAL(next, 2);
	CU_ASSERT_EQUAL(f.state[1], KDP_FEID_FREE);
	CU_ASSERT_EQUAL(f.state[2], KDP_FEID_RESERVED);
	CU_ASSERT_EQUAL(f.state[3], KDP_FEID_NONE);
	CU_ASSERT_EQUAL(f.reused, 0);
	/* The next build takes the same ones and is published. */
	kdp_feid_begin(&f);
	CU_ASSERT_EQUAL(kdp_feid_take(&f, &next), 1);
	CU_ASSERT_EQUAL(kdp_feid_take_reserved(&f, 2), 2);
	kdp_feid_commit(&f);
	kdp_feid_rollback(&f, &next); /* nothing left to give back */
	CU_ASSERT_EQUAL(f.state[1], KDP_FEID_USED);
	CU_ASSERT_EQUAL(f.state[2], KDP_FEID_USED);
	kdp_feid_fini(&f);
}

void test_register_feid(void)
{
	CU_pSuite s = CU_add_suite("frontend ids", NULL, NULL);
	CU_add_test(s, "reused after the grace period and two GC passes, lowest first",
		    test_reuse_after_grace_and_passes);
	CU_add_test(s, "the flow state file's ids: reserved, the others waiting",
		    test_ids_of_the_file);
	CU_add_test(s, "a build that fails gives its ids back", test_rollback);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Snapshot retirement: a replaced snapshot lives until every worker that
 * could hold it has passed a quiescent state, and no longer. */
#include <stdlib.h>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "kdp.h"
#include "test_util.h"

/* A snapshot sharing @p rt (its refs count the snapshots holding it). */
static struct kdp_snapshot *snap(struct kdp_route_table *rt)
{
	struct kdp_snapshot *s = rte_zmalloc("t_snap", sizeof(*s), 0);

	CU_ASSERT_FATAL(s != NULL);
	s->dp.rt = rt;
	rt->refs++;
	return s;
}

static void test_retire(void)
{
	struct kdp *k = calloc(1, sizeof(*k));
	size_t sz = rte_rcu_qsbr_get_memsize(1);
	struct kdp_route_table *rt = kdp_route_create("t_retire", 16, 0);
	uint16_t closing[] = {7};

	CU_ASSERT_FATAL(k != NULL && rt != NULL);
	k->qsbr = rte_zmalloc("t_qsbr", sz, RTE_CACHE_LINE_SIZE);
	CU_ASSERT_FATAL(k->qsbr != NULL);
	CU_ASSERT_EQUAL(rte_rcu_qsbr_init(k->qsbr, 1), 0);
	rte_rcu_qsbr_thread_register(k->qsbr, 0);
	rte_rcu_qsbr_thread_online(k->qsbr, 0);
	rt->refs = 0;

	kdp_dp_publish(k, snap(rt), NULL, 0);
	rte_rcu_qsbr_quiescent(k->qsbr, 0);
	kdp_dp_reclaim(k, false);
	CU_ASSERT_EQUAL(k->pub.n_retired, 0);

	/* The worker has not passed a quiescent state since the swap: the
	 * old snapshot stays, however often the control thread looks. */
	kdp_dp_publish(k, snap(rt), closing, 1);
	CU_ASSERT_EQUAL(k->pub.n_retired, 1);
	CU_ASSERT_EQUAL(rt->refs, 2);
	CU_ASSERT(kdp_dp_closing_ports(k));
	for (int i = 0; i < 3; i++)
		kdp_dp_reclaim(k, false);
	CU_ASSERT_EQUAL(k->pub.n_retired, 1);
	CU_ASSERT_EQUAL(rt->refs, 2);

	/* Once it has, the old one goes (its port closed with it). */
	rte_rcu_qsbr_quiescent(k->qsbr, 0);
	kdp_dp_reclaim(k, false);
	CU_ASSERT_EQUAL(k->pub.n_retired, 0);
	CU_ASSERT_EQUAL(rt->refs, 1);
	CU_ASSERT(!kdp_dp_closing_ports(k));

	/* Several retired, oldest first; an offline worker holds nothing. */
	kdp_dp_publish(k, snap(rt), NULL, 0);
	kdp_dp_publish(k, snap(rt), NULL, 0);
	CU_ASSERT_EQUAL(k->pub.n_retired, 2);
	CU_ASSERT_EQUAL(rt->refs, 3);
	rte_rcu_qsbr_thread_offline(k->qsbr, 0);
	kdp_dp_reclaim(k, false);
	CU_ASSERT_EQUAL(k->pub.n_retired, 0);
	CU_ASSERT_EQUAL(rt->refs, 1);

	/* A full queue waits for the oldest instead of growing. */
	rte_rcu_qsbr_thread_online(k->qsbr, 0);
	for (unsigned int i = 0; i < KDP_MAX_RETIRED; i++)
		kdp_dp_publish(k, snap(rt), NULL, 0);
	CU_ASSERT_EQUAL(k->pub.n_retired, KDP_MAX_RETIRED);
	rte_rcu_qsbr_thread_offline(k->qsbr, 0);
	kdp_dp_publish(k, snap(rt), NULL, 0);
	CU_ASSERT_EQUAL(k->pub.n_retired, 0);
	CU_ASSERT_EQUAL(rt->refs, 1);

	rte_rcu_qsbr_thread_unregister(k->qsbr, 0);
	kdp_dp_free(atomic_exchange(&k->pub.snap, NULL));
	rte_free(k->qsbr);
	free(k);
}

void test_register_dataplane(void)
{
	CU_pSuite s = CU_add_suite("dataplane", NULL, NULL);

	CU_add_test(s, "snapshot retirement waits for the workers' grace period", test_retire);
}

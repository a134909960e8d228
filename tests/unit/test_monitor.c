/* SPDX-License-Identifier: BSD-3-Clause */
/* The flow monitor's rings, rate limit and lost-event accounting. */
#include <string.h>

#include <rte_errno.h>

#include "monitor/kdp_monitor.h"
#include "test_util.h"

/* Stages @p n events with source ports 1..n and ends the burst. */
static void burst_of(struct kdp_monitor_worker *w, unsigned int n)
{
	CU_ASSERT_FATAL(kdp_monitor_begin(w));
	for (unsigned int i = 0; i < n; i++) {
		memset(&w->ev[i], 0, sizeof(w->ev[i]));
		w->ev[i].orig.sport = (uint16_t)(i + 1);
		w->ev[i].verdict = KDP_MONITOR_DROPPED;
	}
	w->n_ev = (uint16_t)n;
	kdp_monitor_enqueue(w);
}

static void test_create_args(void)
{
	CU_ASSERT_PTR_NULL(kdp_monitor_create("t_mon_bad", 1, 100, 10, 0)); /* not 2^n */
	CU_ASSERT_EQUAL(rte_errno, EINVAL);
	CU_ASSERT_PTR_NULL(kdp_monitor_create("t_mon_bad", 0, 64, 10, 0));
	CU_ASSERT_EQUAL(rte_errno, EINVAL);
}

static void test_nobody_listening(void)
{
	struct kdp_monitor *mon = kdp_monitor_create("t_mon_off", 2, 64, 1000, 0);
	struct kdp_monitor_counters c;

	CU_ASSERT_FATAL(mon != NULL);
	CU_ASSERT_FALSE(kdp_monitor_begin(&mon->w[0]));
	CU_ASSERT_FALSE(kdp_monitor_begin(&mon->w[1]));
	kdp_monitor_set_listening(mon, true);
	CU_ASSERT_TRUE(kdp_monitor_begin(&mon->w[1]));
	kdp_monitor_set_listening(mon, false);
	CU_ASSERT_FALSE(kdp_monitor_begin(&mon->w[1]));
	kdp_monitor_counters(mon, &c);
	CU_ASSERT_EQUAL(c.events + c.lost_rate + c.lost_ring, 0);
	kdp_monitor_free(mon);
}

/* A listened-to monitor of one worker with a ring of 64 and @p rate
 * events/s, after @p bursts bursts of 32; checks its counters. */
static struct kdp_monitor *after_bursts(const char *name, uint32_t rate, int bursts,
					 uint64_t events, uint64_t lost_rate, uint64_t lost_ring)
{
	struct kdp_monitor *mon = kdp_monitor_create(name, 1, 64, rate, 0);
	struct kdp_monitor_counters c;

	CU_ASSERT_FATAL(mon != NULL);
	kdp_monitor_set_listening(mon, true);
	for (int i = 0; i < bursts; i++)
		burst_of(&mon->w[0], 32);
	kdp_monitor_counters(mon, &c);
	CU_ASSERT_EQUAL(c.events, events);
	CU_ASSERT_EQUAL(c.lost_rate, lost_rate);
	CU_ASSERT_EQUAL(c.lost_ring, lost_ring);
	return mon;
}

/* 10 events/s: a burst of 2 passes, the rest of 32 is lost to the limit. */
static void test_rate_limit(void)
{
	struct kdp_monitor *mon = after_bursts("t_mon_rate", 10, 1, 2, 30, 0);
	struct kdp_monitor_event ev[64];
	CU_ASSERT_EQUAL(kdp_monitor_dequeue(mon, 0, ev, 64), 2);
	CU_ASSERT_EQUAL(ev[0].orig.sport, 1);
	CU_ASSERT_EQUAL(ev[1].orig.sport, 2);
	CU_ASSERT_EQUAL(kdp_monitor_dequeue(mon, 1, ev, 64), 0); /* no such worker */
	kdp_monitor_free(mon);
}

/* A ring of 64 holds 63: the 64th event of two full bursts is lost as
 * ring full, never waited for; draining makes room again. */
static void test_ring_full(void)
{
	struct kdp_monitor *mon = after_bursts("t_mon_ring", 10000000, 2, 63, 0, 1);
	struct kdp_monitor_event ev[64];
	struct kdp_monitor_counters c;
	CU_ASSERT_EQUAL(kdp_monitor_dequeue(mon, 0, ev, 64), 63);
	CU_ASSERT_EQUAL(ev[31].orig.sport, 32);
	CU_ASSERT_EQUAL(ev[32].orig.sport, 1);
	CU_ASSERT_EQUAL(ev[62].orig.sport, 31);
	burst_of(&mon->w[0], 32);
	kdp_monitor_counters(mon, &c);
	CU_ASSERT_EQUAL(c.events, 95);
	CU_ASSERT_EQUAL(c.lost_ring, 1);
	/* A new listener does not see what an earlier one left behind. */
	kdp_monitor_set_listening(mon, false);
	kdp_monitor_set_listening(mon, true);
	CU_ASSERT_EQUAL(kdp_monitor_dequeue(mon, 0, ev, 64), 0);
	kdp_monitor_free(mon);
}

static void test_verdict_names(void)
{
	CU_ASSERT_STRING_EQUAL(kdp_monitor_verdict_name(KDP_MONITOR_DROPPED), "DROPPED");
	CU_ASSERT_EQUAL(kdp_monitor_verdict_parse("translated"), KDP_MONITOR_TRANSLATED);
	CU_ASSERT_EQUAL(kdp_monitor_verdict_parse("FORWARDED"), KDP_MONITOR_FORWARDED);
	CU_ASSERT_EQUAL(kdp_monitor_verdict_parse("ACCEPTED"), -EINVAL);
	CU_ASSERT_PTR_NULL(kdp_monitor_verdict_name(KDP_MONITOR_VERDICT_MAX));
}

void test_register_monitor(void)
{
	CU_pSuite s = CU_add_suite("monitor", NULL, NULL);
	CU_add_test(s, "bad arguments", test_create_args);
	CU_add_test(s, "nobody listening: nothing produced", test_nobody_listening);
	CU_add_test(s, "rate limit: burst passes, the rest counted lost", test_rate_limit);
	CU_add_test(s, "ring full: counted lost, never waits", test_ring_full);
	CU_add_test(s, "verdict names", test_verdict_names);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Conntrack: both directions, lifetimes and GC with an injected clock, full
 * table, clashes, the import's held slots, one flow created on two threads
 * at once. Single thread and no RCU (entries are freed at once) but where
 * a test says otherwise. */
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include <rte_byteorder.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_ring.h>
#include <rte_tcp.h>

#include "ct/kdp_ct.h"
#include "test_util.h"

static struct kdp_ct *make(uint32_t max)
{
	struct kdp_ct_params p = {.max_flows = max};
	static int n;
	char name[32];

	kdp_ct_timeouts_default(&p.timeouts);
	snprintf(name, sizeof(name), "test_ct%d", n++);
	return kdp_ct_create(name, &p);
}

static struct kdp_ct_key tuple(uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp,
			       uint8_t proto)
{
	struct kdp_ct_key k = {rte_cpu_to_be_32(src), rte_cpu_to_be_32(dst),
			       rte_cpu_to_be_16(sp), rte_cpu_to_be_16(dp), proto, {0}};
	return k;
}

static struct kdp_ct_entry *find(struct kdp_ct *ct, const struct kdp_ct_key *k,
				 uint8_t *dir)
{
	struct kdp_ct_entry *e;
	kdp_ct_lookup_bulk(ct, k, 1, &e, dir);
	return e;
}

static void test_both_directions(void)
{
	struct kdp_ct *ct = make(1024);
	/* curl-pod -> ClusterIP, translated to a backend. */
	struct kdp_ct_key o = tuple(IP4(172, 20, 1, 236), IP4(10, 96, 152, 212), 40000, 80, 6);
	struct kdp_ct_key r = tuple(IP4(172, 20, 0, 130), IP4(172, 20, 1, 236), 80, 40000, 6);
	struct kdp_ct_entry *e, *got;
	uint8_t dir = 9;

	CU_ASSERT_FATAL(ct != NULL);
	CU_ASSERT_EQUAL(kdp_ct_insert(ct, &o, &r, KDP_CT_F_DNAT, 7, 1, 1000, &e), 0);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 1);
	got = find(ct, &o, &dir);
	CU_ASSERT_PTR_EQUAL(got, e);
	CU_ASSERT_EQUAL(dir, KDP_CT_ORIG);
	got = find(ct, &r, &dir);
	CU_ASSERT_PTR_EQUAL(got, e);
	CU_ASSERT_EQUAL(dir, KDP_CT_REPLY);
	CU_ASSERT_EQUAL(e->svc_id, 7);
	/* The untranslated reverse is not the reply tuple. */
	{
		struct kdp_ct_key rev = kdp_ct_key_reverse(&o);
		CU_ASSERT_PTR_NULL(find(ct, &rev, &dir));
	}
	/* The same flow again (an earlier packet of a burst made it): the
	 * existing entry, nothing added. */
	got = NULL;
	CU_ASSERT_EQUAL(kdp_ct_insert(ct, &o, &r, 0, 0, 0, 1000, &got), -EALREADY);
	CU_ASSERT_PTR_EQUAL(got, e);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 1);
	/* A new flow whose tuple is this flow's reply, or whose reply is
	 * taken: a clash, nothing added. */
	{
		struct kdp_ct_key o2 = tuple(IP4(172, 20, 1, 9), IP4(10, 96, 152, 212), 40000, 80, 6);

		CU_ASSERT_EQUAL(kdp_ct_insert(ct, &r, &o2, 0, 0, 0, 1000, &got), -EEXIST);
		CU_ASSERT_EQUAL(kdp_ct_insert(ct, &o2, &r, 0, 0, 0, 1000, &got), -EEXIST);
	}
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 1);
	kdp_ct_free(ct);
}

static void test_tcp_lifetimes_and_gc(void)
{
	struct kdp_ct *ct = make(1024);
	struct kdp_ct_key o = tuple(IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 1234, 80, 6);
	struct kdp_ct_key r = kdp_ct_key_reverse(&o);
	struct kdp_ct_entry *e;
	uint64_t t = 1000000;

	CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(ct, &o, &r, 0, 0, 0, t, &e), 0);
	kdp_ct_update(ct, e, KDP_CT_ORIG, 0x02 /* SYN */, 60, t);
	CU_ASSERT_EQUAL(e->tcp_state, KDP_CT_TCP_SYN);
	CU_ASSERT_EQUAL(e->expires_ms, t + 60000);
	kdp_ct_update(ct, e, KDP_CT_REPLY, 0x12 /* SYN+ACK */, 60, t + 1);
	CU_ASSERT_EQUAL(e->tcp_state, KDP_CT_TCP_SYN);
	kdp_ct_update(ct, e, KDP_CT_ORIG, 0x10 /* ACK */, 52, t + 2);
	CU_ASSERT_EQUAL(e->tcp_state, KDP_CT_TCP_EST);
	CU_ASSERT_EQUAL(e->expires_ms, t + 2 + 8000ull * 1000);
	CU_ASSERT_EQUAL(e->pkts[0], 2);
	CU_ASSERT_EQUAL(e->pkts[1], 1);
	CU_ASSERT_EQUAL(e->bytes[0], 112);
	/* One FIN keeps it established; FIN both ways closes: 10 s. */
	kdp_ct_update(ct, e, KDP_CT_ORIG, 0x11, 52, t + 3);
	CU_ASSERT_EQUAL(e->tcp_state, KDP_CT_TCP_EST);
	kdp_ct_update(ct, e, KDP_CT_REPLY, 0x11, 52, t + 4);
	CU_ASSERT_EQUAL(e->tcp_state, KDP_CT_TCP_CLOSING);
	CU_ASSERT_EQUAL(e->expires_ms, t + 4 + 10000);
	/* GC before expiry keeps it; after, removes both tuples. */
	CU_ASSERT_EQUAL(kdp_ct_gc(ct, t + 10003, 100000), 0);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 1);
	CU_ASSERT_EQUAL(kdp_ct_gc(ct, t + 10004, 100000), 1);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 0);
	{
		uint8_t dir;
		CU_ASSERT_PTR_NULL(find(ct, &o, &dir));
		CU_ASSERT_PTR_NULL(find(ct, &r, &dir));
	}
	kdp_ct_free(ct);
}

static void test_rst_and_udp(void)
{
	struct kdp_ct *ct = make(1024);
	struct kdp_ct_key o = tuple(IP4(10, 0, 0, 1), IP4(10, 0, 0, 2), 1234, 80, 6);
	struct kdp_ct_key r = kdp_ct_key_reverse(&o);
	struct kdp_ct_key u = tuple(IP4(10, 0, 0, 1), IP4(10, 96, 0, 10), 5353, 53, 17);
	struct kdp_ct_key ur = kdp_ct_key_reverse(&u);
	struct kdp_ct_entry *e, *f;

	CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(ct, &o, &r, 0, 0, 0, 0, &e), 0);
	kdp_ct_update(ct, e, KDP_CT_REPLY, 0x04 /* RST */, 40, 500);
	CU_ASSERT_EQUAL(e->tcp_state, KDP_CT_TCP_CLOSING);
	CU_ASSERT_EQUAL(e->expires_ms, 500 + 10000);
	CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(ct, &u, &ur, 0, 0, 0, 0, &f), 0);
	CU_ASSERT_EQUAL(f->tcp_state, KDP_CT_TCP_NONE);
	kdp_ct_update(ct, f, KDP_CT_ORIG, 0, 80, 1000);
	CU_ASSERT_EQUAL(f->expires_ms, 1000 + 60000);
	/* Slices: GC advances a cursor; repeated small budgets cover all. */
	{
		uint32_t removed = 0;
		for (int i = 0; i < 100 && removed < 2; i++)
			removed += kdp_ct_gc(ct, 70000, 64);
		CU_ASSERT_EQUAL(removed, 2);
	}
	kdp_ct_free(ct);
}

static void test_full_table(void)
{
	struct kdp_ct *ct = make(64);
	unsigned int ok = 0, full = 0;
	struct kdp_ct_entry *e;

	for (uint32_t i = 0; i < 100; i++) {
		struct kdp_ct_key o = tuple(IP4(10, 1, 0, i), IP4(10, 2, 0, 1), 1000, 80, 17);
		struct kdp_ct_key r = kdp_ct_key_reverse(&o);
		int ret = kdp_ct_insert(ct, &o, &r, 0, 0, 0, 0, &e);
		if (ret == 0)
			ok++;
		else if (ret == -ENOSPC)
			full++;
	}
	CU_ASSERT_EQUAL(ok, 64);
	CU_ASSERT_EQUAL(full, 36);
	/* Established flows are still found when full. */
	{
		struct kdp_ct_key o = tuple(IP4(10, 1, 0, 5), IP4(10, 2, 0, 1), 1000, 80, 17);
		uint8_t dir;
		CU_ASSERT_PTR_NOT_NULL(find(ct, &o, &dir));
	}
	/* Expiry frees room again. */
	CU_ASSERT_EQUAL(kdp_ct_gc(ct, 61000, 100000), 64);
	{
		struct kdp_ct_key o = tuple(IP4(10, 3, 0, 1), IP4(10, 2, 0, 1), 1000, 80, 17);
		struct kdp_ct_key r = kdp_ct_key_reverse(&o);
		CU_ASSERT_EQUAL(kdp_ct_insert(ct, &o, &r, 0, 0, 0, 61000, &e), 0);
	}
	kdp_ct_free(ct);
}

/* A table of 2^16 flows (2 * maxFlows a power of two: the sizing that
 * doubles rte_hash's buckets) takes exactly that many, then refuses. */
static void test_fills_to_capacity(void)
{
	const uint32_t n = 1u << 16;
	struct kdp_ct *ct = make(n);
	unsigned int ok = 0, full = 0, other = 0;
	struct kdp_ct_entry *e;
	uint32_t x = 12345;

	for (uint32_t i = 0; i < n + 100; i++) {
		struct kdp_ct_key o, r;
		int ret;

		x = x * 1103515245u + 12345u;
		o = tuple(IP4(10, 1, 0, 0) | (i & 0xffff), IP4(10, 2, 0, 1) + (i >> 16),
			  (uint16_t)(1024 + (x >> 16) % 60000), 80, 17);
		r = kdp_ct_key_reverse(&o);
		ret = kdp_ct_insert(ct, &o, &r, 0, 0, 0, 0, &e);
		ok += ret == 0;
		full += ret == -ENOSPC;
		other += ret != 0 && ret != -ENOSPC;
	}
	CU_ASSERT_EQUAL(ok, n);
	CU_ASSERT_EQUAL(full, 100);
	CU_ASSERT_EQUAL(other, 0);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), n);
	kdp_ct_free(ct);
}

/* Frontend ids 5 and 9 are gone for good (waiting to be reused). */
static bool gone_5_9(void *arg, uint32_t id)
{
	(*(int *)arg)++;
	return id == 5 || id == 9;
}

static void test_gc_clears_gone_ids(void)
{
	struct kdp_ct_params p = {.max_flows = 1024, .fe_gone = gone_5_9};
	int calls = 0;
	struct kdp_ct *ct;
	struct kdp_ct_entry *e[4];
	uint32_t ids[4] = {5, 6, 9, 0};
	uint64_t passes;

	p.fe_gone_arg = &calls;
	kdp_ct_timeouts_default(&p.timeouts);
	ct = kdp_ct_create("test_ct_gone", &p);
	CU_ASSERT_FATAL(ct != NULL);
	for (int i = 0; i < 4; i++) {
		uint16_t port = (uint16_t)(40000 + i);
		struct kdp_ct_key o = tuple(IP4(172, 20, 1, 236), IP4(10, 96, 0, 1), port, 80, 6);
		struct kdp_ct_key r = tuple(IP4(172, 20, 0, 10), IP4(172, 20, 1, 236), 8080, port, 6);

		CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(ct, &o, &r, ids[i] ? KDP_CT_F_DNAT : 0, ids[i],
						    3, 1000, &e[i]), 0);
		kdp_ct_update(ct, e[i], KDP_CT_ORIG, RTE_TCP_SYN_FLAG, 60, 1000);
	}
	passes = ct->gc_passes;
	/* One whole pass: nothing expired, the entries of ids 5 and 9 lose
	 * their id and die; 6 and the untranslated flow are untouched. */
	CU_ASSERT_EQUAL(kdp_ct_gc(ct, 2000, p.max_flows), 0);
	CU_ASSERT_EQUAL(ct->gc_passes, passes + 1);
	CU_ASSERT_EQUAL(ct->gc_orphaned, 2);
	CU_ASSERT_EQUAL(calls, 3); /* the three entries with an id, once each (their slots) */
	CU_ASSERT_EQUAL(e[0]->svc_id, 0);
	CU_ASSERT(e[0]->flags & KDP_CT_F_DEAD);
	CU_ASSERT_EQUAL(e[0]->expires_ms, 2000);
	CU_ASSERT_EQUAL(e[0]->check, kdp_ct_entry_check(ct, e[0]));
	CU_ASSERT_EQUAL(e[2]->svc_id, 0);
	CU_ASSERT_EQUAL(e[1]->svc_id, 6);
	CU_ASSERT_FALSE(e[1]->flags & KDP_CT_F_DEAD);
	CU_ASSERT(e[1]->expires_ms > 2000);
	CU_ASSERT_FALSE(e[3]->flags & KDP_CT_F_DEAD);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 4);
	/* The next pass removes the two dead ones. */
	CU_ASSERT_EQUAL(kdp_ct_gc(ct, 2001, p.max_flows), 2);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 2);
	CU_ASSERT_EQUAL(ct->gc_orphaned, 2);
	kdp_ct_free(ct);
}

/* The import holds what it finds live in the file and does not track
 * (here a flow past its lifetime) without writing the file: the slot still
 * says live, and is out of use until released. The GC walks every slot and
 * must leave it alone until then (it may be another kdp's); released, it
 * is free in the file and in the ring, and the GC finds nothing to do. */
static void test_gc_leaves_slots_the_import_holds(void)
{
	enum { N = 64 };
	struct kdp_ct_entry *slots = rte_zmalloc("test_ct_slots2", sizeof(*slots) * N, 64);
	struct kdp_ct *src = make(N), *ct;
	struct kdp_ct_params p = {.max_flows = N, .slots = slots};
	struct kdp_ct_key o1 = tuple(IP4(172, 20, 1, 236), IP4(10, 96, 0, 1), 40001, 80, 17);
	struct kdp_ct_key r1 = tuple(IP4(172, 20, 0, 10), IP4(172, 20, 1, 236), 8080, 40001, 17);
	struct kdp_ct_key o2 = tuple(IP4(172, 20, 1, 236), IP4(10, 96, 0, 1), 40002, 80, 17);
	struct kdp_ct_key r2 = tuple(IP4(172, 20, 0, 10), IP4(172, 20, 1, 236), 8080, 40002, 17);
	struct kdp_ct_import_stats st;
	struct kdp_ct_entry *e1, *e2;
	uint8_t dir = 9;

	CU_ASSERT_FATAL(slots != NULL && src != NULL);
	CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(src, &o1, &r1, KDP_CT_F_DNAT, 7, 1, 1000, &e1), 0);
	CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(src, &o2, &r2, KDP_CT_F_DNAT, 7, 1, 1000, &e2), 0);
	slots[5] = *e1;
	slots[5].expires_ms = 1500; /* gone by the import at 2000 */
	slots[7] = *e2;
	kdp_ct_free(src);
	kdp_ct_timeouts_default(&p.timeouts);
	ct = kdp_ct_create("test_ct_freed", &p);
	CU_ASSERT_FATAL(ct != NULL);
	CU_ASSERT_EQUAL(kdp_ct_import(ct, 2000, &st), 0);
	CU_ASSERT(st.live == 2 && st.imported == 1 && st.expired == 1);
	CU_ASSERT_EQUAL(slots[5].slot, KDP_CT_SLOT_LIVE);
	CU_ASSERT_EQUAL(ct->n_stale, 1);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 1);
	CU_ASSERT_EQUAL(rte_ring_count(ct->free), N - 2);
	/* Two whole passes, slot 5 long expired: not the table's yet. */
	CU_ASSERT_EQUAL(kdp_ct_gc(ct, 3000, 2 * N), 0);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 1);
	CU_ASSERT_EQUAL(rte_ring_count(ct->free), N - 2);
	CU_ASSERT_EQUAL(slots[5].slot, KDP_CT_SLOT_LIVE);
	CU_ASSERT_EQUAL(ct->gc_lost_races, 0);
	CU_ASSERT_PTR_NULL(find(ct, &o1, &dir));
	CU_ASSERT_PTR_EQUAL(find(ct, &o2, &dir), &slots[7]);
	CU_ASSERT_PTR_EQUAL(find(ct, &r2, &dir), &slots[7]);
	/* Released: free in the file and usable; the GC has nothing to do. */
	kdp_ct_release_stale(ct);
	CU_ASSERT_EQUAL(slots[5].slot, KDP_CT_SLOT_FREE);
	CU_ASSERT_EQUAL(rte_ring_count(ct->free), N - 1);
	CU_ASSERT_EQUAL(kdp_ct_gc(ct, 3000, 2 * N), 0);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 1);
	CU_ASSERT_EQUAL(rte_ring_count(ct->free), N - 1);
	CU_ASSERT_EQUAL(ct->gc_lost_races, 0);
	/* The imported flow goes when it expires (1000 + 60 s), and only it. */
	CU_ASSERT_EQUAL(kdp_ct_gc(ct, 61000, N), 1);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 0);
	CU_ASSERT_EQUAL(rte_ring_count(ct->free), N);
	CU_ASSERT_EQUAL(slots[7].slot, KDP_CT_SLOT_FREE);
	CU_ASSERT_EQUAL(ct->gc_lost_races, 0);
	kdp_ct_free(ct);
	rte_free(slots);
}

/* What two workers leave when one flow's first packets reach both at the
 * same instant: each looked the flow up (absent), took a slot, filled it
 * and added both tuples; the later add of the original tuple replaced the
 * earlier one's, and both counted their entry. Made here step by step:
 * flow (o, r_a) is inserted, then another worker's entry for o, with reply
 * tuple @p r_b (its own SNAT port, or the same tuple), takes o's key, and
 * its reply tuple unless @p crossed (the same reply tuple, the loser's add
 * of it last: kdp_ct_insert_any() undoes that, the GC must not either). */
static struct kdp_ct_entry *race_loser(struct kdp_ct *ct, const struct kdp_ct_key *o,
				       const struct kdp_ct_key *r_a, const struct kdp_ct_key *r_b,
				       bool crossed, struct kdp_ct_entry **winner)
{
	struct kdp_ct_key tmp = tuple(IP4(192, 168, 99, 1), IP4(192, 168, 99, 2), 1, 1, 17);
	struct kdp_ct_key tmp_r = kdp_ct_key_reverse(&tmp);
	struct kdp_ct_entry *a, *b;

	CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(ct, o, r_a, KDP_CT_F_DNAT, 7, 1, 1000, &a), 0);
	/* The other worker's slot, filled and counted as kdp_ct_insert() does. */
	CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(ct, &tmp, &tmp_r, KDP_CT_F_DNAT, 7, 1, 1000, &b), 0);
	/* Its temporary tuples go without giving the slot back. */
	CU_ASSERT_EQUAL_FATAL(rte_hash_add_key_data(ct->h, &tmp, (void *)((uintptr_t)b | 1)), 0);
	CU_ASSERT_EQUAL_FATAL(rte_hash_del_key(ct->h, &tmp) >= 0, 1);
	CU_ASSERT_EQUAL_FATAL(rte_hash_del_key(ct->h, &tmp_r) >= 0, 1);
	b->key[KDP_CT_ORIG] = *o;
	b->key[KDP_CT_REPLY] = *r_b;
	b->check = kdp_ct_entry_check(ct, b);
	CU_ASSERT_EQUAL_FATAL(rte_hash_add_key_data(ct->h, o, b), 0);
	if (!crossed)
		CU_ASSERT_EQUAL_FATAL(
			rte_hash_add_key_data(ct->h, r_b, (void *)((uintptr_t)b | 1)), 0);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 2);
	*winner = b;
	return a;
}

/* Free slots: the ring's and this lcore's cache's. */
static unsigned int free_slots(const struct kdp_ct *ct)
{
	return rte_ring_count(ct->free) + ct->cache[rte_lcore_id()].n;
}

/* The entry that lost the race is not found by its original tuple any more
 * (its reply tuple may still name it): the GC retires it once expired,
 * takes its reply tuple out if it names it (the SNAT port is free again;
 * the winner's, if it is the winner's tuple too), uncounts it and gives its
 * slot back, after the readers' grace period when there are readers; the
 * winner is untouched and goes at its own expiry. Before, the loser stayed
 * counted and its slot out of use until a restart. With the reply tuples
 * different, the same, and the same but the loser's (crossed), with and
 * without readers (RCU). */
static void test_gc_retires_lost_races(void)
{
	struct kdp_ct_key o = tuple(IP4(172, 20, 1, 236), IP4(10, 96, 0, 1), 40000, 53, 17);
	struct kdp_ct_key r_a = tuple(IP4(172, 20, 0, 10), IP4(172, 21, 0, 1), 53, 32768, 17);
	struct kdp_ct_key r_b = tuple(IP4(172, 20, 0, 10), IP4(172, 21, 0, 1), 53, 40960, 17);
	size_t qsz = rte_rcu_qsbr_get_memsize(1);
	struct rte_rcu_qsbr *v = rte_zmalloc("test_ct_qsbr", qsz, RTE_CACHE_LINE_SIZE);
	enum { N = 64 };

	CU_ASSERT_FATAL(v != NULL && rte_rcu_qsbr_init(v, 1) == 0);
	CU_ASSERT_FATAL(rte_rcu_qsbr_thread_register(v, 0) == 0);
	rte_rcu_qsbr_thread_online(v, 0);
	for (int run = 0; run < 6; run++) {
		bool same = run % 3 != 0, crossed = run % 3 == 2, rcu = run >= 3;
		struct kdp_ct_params p = {.max_flows = N, .qsbr = rcu ? v : NULL};
		struct kdp_ct_key *r_won = same ? &r_a : &r_b;
		struct kdp_ct_entry *a, *b;
		struct kdp_ct *ct;
		unsigned int free0;
		char name[32];
		uint8_t dir = 9;

		kdp_ct_timeouts_default(&p.timeouts);
		snprintf(name, sizeof(name), "test_ct_race%d", run);
		ct = kdp_ct_create(name, &p);
		CU_ASSERT_FATAL(ct != NULL);
		a = race_loser(ct, &o, &r_a, r_won, crossed, &b);
		free0 = free_slots(ct);
		CU_ASSERT_EQUAL(free0, N - 2);
		CU_ASSERT_PTR_EQUAL(find(ct, &o, &dir), b);
		CU_ASSERT_EQUAL(dir, KDP_CT_ORIG);
		CU_ASSERT_PTR_EQUAL(find(ct, &r_a, &dir), same && !crossed ? b : a);
		/* Not expired: nothing happens to either. */
		CU_ASSERT_EQUAL(kdp_ct_gc(ct, 2000, N), 0);
		CU_ASSERT_EQUAL(kdp_ct_count(ct), 2);
		CU_ASSERT_EQUAL(a->slot, KDP_CT_SLOT_LIVE);
		/* The loser expired, the winner refreshed by its traffic. */
		b->expires_ms = 200000;
		CU_ASSERT_EQUAL(kdp_ct_gc(ct, 61000, N), 1);
		CU_ASSERT_EQUAL(ct->gc_lost_races, 1);
		CU_ASSERT_EQUAL(kdp_ct_count(ct), 1);
		if (!same) /* the loser's own reply tuple: gone, its port free */
			CU_ASSERT_PTR_NULL(find(ct, &r_a, &dir));
		CU_ASSERT_PTR_EQUAL(find(ct, &o, &dir), b);
		CU_ASSERT_EQUAL(dir, KDP_CT_ORIG);
		CU_ASSERT_PTR_EQUAL(find(ct, r_won, &dir), b);
		CU_ASSERT_EQUAL(dir, KDP_CT_REPLY);
		CU_ASSERT_EQUAL(b->slot, KDP_CT_SLOT_LIVE);
		if (rcu) {
			/* A reader may hold it: deleted, not free yet, until
			 * the reader passes a quiescent state. */
			CU_ASSERT_EQUAL(a->slot, KDP_CT_SLOT_DELETED);
			CU_ASSERT_EQUAL(free_slots(ct), free0);
			CU_ASSERT_EQUAL(kdp_ct_gc(ct, 61500, N), 0);
			CU_ASSERT_EQUAL(free_slots(ct), free0);
			rte_rcu_qsbr_quiescent(v, 0);
			CU_ASSERT_EQUAL(kdp_ct_gc(ct, 61500, 1), 0);
		}
		CU_ASSERT_EQUAL(a->slot, KDP_CT_SLOT_FREE);
		CU_ASSERT_EQUAL(free_slots(ct), free0 + 1);
		/* A pass later nothing more; the winner at its own expiry. */
		CU_ASSERT_EQUAL(kdp_ct_gc(ct, 62000, N), 0);
		CU_ASSERT_EQUAL(kdp_ct_gc(ct, 200000, N), 1);
		CU_ASSERT_EQUAL(ct->gc_lost_races, 1);
		CU_ASSERT_EQUAL(kdp_ct_count(ct), 0);
		CU_ASSERT_PTR_NULL(find(ct, &o, &dir));
		CU_ASSERT_PTR_NULL(find(ct, r_won, &dir));
		/* With readers the hash gives the winner's slot back after
		 * the grace period, in a later delete (DPDK 22.11 has no call
		 * for it). */
		CU_ASSERT_EQUAL(b->slot, rcu ? KDP_CT_SLOT_DELETED : KDP_CT_SLOT_FREE);
		CU_ASSERT_EQUAL(free_slots(ct), rcu ? N - 1 : N);
		rte_rcu_qsbr_quiescent(v, 0);
		kdp_ct_free(ct);
	}
	/* Deleted by the control thread before it expires (a SYN renewal,
	 * a service gone): the loser goes as a lost race, the winner's
	 * original tuple stays. */
	{
		struct kdp_ct *ct = make(N);
		struct kdp_ct_entry *a, *b;
		uint8_t dir = 9;

		CU_ASSERT_FATAL(ct != NULL);
		a = race_loser(ct, &o, &r_a, &r_b, false, &b);
		kdp_ct_delete(ct, a);
		CU_ASSERT_EQUAL(ct->gc_lost_races, 1);
		CU_ASSERT_EQUAL(kdp_ct_count(ct), 1);
		CU_ASSERT_EQUAL(a->slot, KDP_CT_SLOT_FREE);
		CU_ASSERT_PTR_EQUAL(find(ct, &o, &dir), b);
		CU_ASSERT_PTR_EQUAL(find(ct, &r_b, &dir), b);
		CU_ASSERT_PTR_NULL(find(ct, &r_a, &dir));
		kdp_ct_free(ct);
	}
	rte_rcu_qsbr_thread_offline(v, 0);
	rte_rcu_qsbr_thread_unregister(v, 0);
	rte_free(v);
}

/* Two threads create the same flows at the same instant, as two workers
 * do when one flow's first packets reach both (a NIC spreading one
 * direction of a flow over queues). */
struct race_arg {
	struct kdp_ct *ct;
	unsigned int t;           /* thread 0 or 1 */
	unsigned int flows;
	bool same_reply;          /* the threads' reply tuples the same (DNAT) or not (SNAT ports) */
	unsigned int *arrived;    /* the barrier before each flow */
	uint8_t *made;            /* per flow: this thread created it (0 returned) */
};

static struct kdp_ct_key race_orig(unsigned int i)
{
	return tuple(IP4(172, 20, 1, 236), IP4(10, 96, 0, 1), (uint16_t)(10000 + i), 80, 6);
}

static struct kdp_ct_key race_reply(unsigned int i, unsigned int t, bool same)
{
	return tuple(IP4(172, 20, 0, 10), IP4(172, 21, 0, 1), 8080,
		     (uint16_t)(10000 + i + (same ? 0 : 20000 * (t + 1))), 6);
}

static void *race_thread(void *p)
{
	struct race_arg *a = p;
	/* Without an lcore id the table cannot be used: the barrier only. */
	bool reg = rte_thread_register() == 0;

	for (unsigned int i = 0; i < a->flows; i++) {
		struct kdp_ct_key o = race_orig(i), r = race_reply(i, a->t, a->same_reply);
		struct kdp_ct_entry *e;
		unsigned int spins = 0;

		__atomic_fetch_add(a->arrived, 1, __ATOMIC_ACQ_REL);
		while (__atomic_load_n(a->arrived, __ATOMIC_ACQUIRE) < 2 * (i + 1))
			if (++spins % 4096 == 0)
				sched_yield(); /* one CPU for both */
			else
				rte_pause();
		a->made[i] = reg && kdp_ct_insert(a->ct, &o, &r, KDP_CT_F_DNAT, 7, 1, 1000, &e) == 0;
	}
	if (reg)
		rte_thread_unregister();
	return NULL;
}

/* Free slots of every lcore's cache and the ring. */
static unsigned int all_free_slots(const struct kdp_ct *ct)
{
	unsigned int n = rte_ring_count(ct->free);

	for (unsigned int l = 0; l < RTE_MAX_LCORE; l++)
		n += ct->cache[l].n;
	return n;
}

/* Runs the two threads on the first two CPUs of the machine (EAL pinned
 * this thread, and so its children, to one). @return false when one
 * could not start (the other is joined). */
static bool race_run(struct race_arg a[2])
{
	unsigned int ncpu = (unsigned int)sysconf(_SC_NPROCESSORS_ONLN);
	pthread_t th[2];
	unsigned int t;

	for (t = 0; t < 2; t++) {
		pthread_attr_t at;
		cpu_set_t cpus;
		int ret;

		CPU_ZERO(&cpus);
		CPU_SET(t % ncpu, &cpus);
		pthread_attr_init(&at);
		pthread_attr_setaffinity_np(&at, sizeof(cpus), &cpus);
		ret = pthread_create(&th[t], &at, race_thread, &a[t]);
		pthread_attr_destroy(&at);
		if (ret != 0) /* that CPU not ours: this thread's */
			ret = pthread_create(&th[t], NULL, race_thread, &a[t]);
		if (ret != 0)
			break;
	}
	if (t == 1) /* the first one alone: past every barrier */
		__atomic_fetch_add(a[0].arrived, 2 * a[0].flows, __ATOMIC_RELEASE);
	for (unsigned int j = 0; j < t; j++)
		pthread_join(th[j], NULL);
	return t == 2;
}

/* Two threads, 4,000 flows each made by both at once: where both made a
 * flow (a race), one entry lost its original tuple. Every flow is found
 * by its original tuple and by the reply tuple of each entry made (with
 * the same reply tuple, both lead to the same entry); once all expire,
 * the GC removes every entry, the lost ones too: the count back to 0,
 * every slot free, no tuple left. On one CPU the threads take turns: no
 * race, the rest holds. */
static void test_race_on_two_threads(void)
{
	enum { FLOWS = 4000, N = 4 * FLOWS };
	static uint8_t made[2][FLOWS];
	bool two_cpus = sysconf(_SC_NPROCESSORS_ONLN) >= 2;

	for (int same = 0; same < 2; same++) {
		struct kdp_ct *ct = make(N);
		unsigned int arrived = 0, races = 0, n_made = 0;
		struct race_arg a[2];
		uint8_t dir = 9;
		bool found = true, gone = true;

		CU_ASSERT_FATAL(ct != NULL);
		memset(made, 0, sizeof(made));
		for (unsigned int t = 0; t < 2; t++)
			a[t] = (struct race_arg){ct, t, FLOWS, same, &arrived, made[t]};
		CU_ASSERT_FATAL(race_run(a));
		for (unsigned int i = 0; i < FLOWS; i++) {
			struct kdp_ct_key o = race_orig(i);
			struct kdp_ct_entry *e = find(ct, &o, &dir);

			n_made += made[0][i] + made[1][i];
			races += made[0][i] && made[1][i];
			found = found && made[0][i] + made[1][i] >= 1 && e != NULL &&
				dir == KDP_CT_ORIG && memcmp(&e->key[KDP_CT_ORIG], &o, sizeof(o)) == 0;
			for (unsigned int t = 0; t < 2 && found; t++) {
				struct kdp_ct_key r = race_reply(i, t, same);
				struct kdp_ct_entry *er = find(ct, &r, &dir);

				if (same)
					found = er == e && dir == KDP_CT_REPLY;
				else if (made[t][i])
					found = er != NULL && dir == KDP_CT_REPLY &&
						memcmp(&er->key[KDP_CT_ORIG], &o, sizeof(o)) == 0 &&
						memcmp(&er->key[KDP_CT_REPLY], &r, sizeof(r)) == 0;
				else
					found = er == NULL;
			}
		}
		printf("(%u of %u flows made by both threads, reply tuples %s) ", races, FLOWS,
		       same ? "the same" : "different");
		CU_ASSERT_EQUAL(n_made, FLOWS + races);
		if (two_cpus)
			CU_ASSERT(races > 0); /* else this test shows little */
		CU_ASSERT_EQUAL(kdp_ct_count(ct), FLOWS + races);
		CU_ASSERT(found);
		CU_ASSERT_EQUAL(kdp_ct_gc(ct, 2000, N), 0);
		CU_ASSERT_EQUAL(kdp_ct_gc(ct, 1000000, N), FLOWS + races);
		CU_ASSERT_EQUAL(ct->gc_lost_races, races);
		CU_ASSERT_EQUAL(kdp_ct_count(ct), 0);
		CU_ASSERT_EQUAL(all_free_slots(ct), N);
		for (unsigned int i = 0; i < FLOWS; i++) {
			struct kdp_ct_key o = race_orig(i);
			struct kdp_ct_key r0 = race_reply(i, 0, same), r1 = race_reply(i, 1, same);

			gone = gone && find(ct, &o, &dir) == NULL && find(ct, &r0, &dir) == NULL &&
			       find(ct, &r1, &dir) == NULL;
		}
		CU_ASSERT(gone);
		kdp_ct_free(ct);
	}
}

/* kdp_ct_foreach(): the first two entries listed, into @p arg. */
static int collect(const struct kdp_ct_entry *e, void *arg)
{
	struct kdp_ct_entry **seen = arg;

	if (seen[0] == NULL)
		seen[0] = (struct kdp_ct_entry *)e;
	else if (seen[1] == NULL)
		seen[1] = (struct kdp_ct_entry *)e;
	return 0;
}

/* A flow live twice in the slots (as an interrupted write or an older
 * import can leave it): one is tracked, the other kept out of use and live
 * in the file until released, then free in the file and usable. */
static void test_import_keeps_stale_out(void)
{
	enum { N = 64 };
	struct kdp_ct_entry *slots = rte_zmalloc("test_ct_slots", sizeof(*slots) * N, 64);
	struct kdp_ct *src = make(N), *ct, *again;
	struct kdp_ct_params p = {.max_flows = N, .slots = slots};
	struct kdp_ct_key o = tuple(IP4(172, 20, 1, 236), IP4(10, 96, 0, 1), 40000, 80, 17);
	struct kdp_ct_key r = tuple(IP4(172, 20, 0, 10), IP4(172, 20, 1, 236), 8080, 40000, 17);
	struct kdp_ct_import_stats st;
	struct kdp_ct_entry *e;
	uint8_t dir = 9;

	CU_ASSERT_FATAL(slots != NULL && src != NULL);
	CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(src, &o, &r, KDP_CT_F_DNAT, 7, 1, 1000, &e), 0);
	slots[3] = *e;
	slots[10] = *e;
	kdp_ct_free(src);
	kdp_ct_timeouts_default(&p.timeouts);
	ct = kdp_ct_create("test_ct_stale", &p);
	CU_ASSERT_FATAL(ct != NULL);
	CU_ASSERT_EQUAL(kdp_ct_import(ct, 2000, &st), 0);
	CU_ASSERT(st.live == 2 && st.imported == 1 && st.clashes == 1);
	CU_ASSERT_EQUAL(ct->n_stale, 1);
	CU_ASSERT_EQUAL(slots[10].slot, KDP_CT_SLOT_LIVE);
	CU_ASSERT_EQUAL(rte_ring_count(ct->free), N - 2);
	/* The GC walks the slots: the stale one, expired, is not the table's
	 * (its tuples are slot 3's) and stays as it is; the listing skips it. */
	slots[10].expires_ms = 2500;
	CU_ASSERT_EQUAL(kdp_ct_gc(ct, 3000, N), 0);
	CU_ASSERT_EQUAL(slots[10].slot, KDP_CT_SLOT_LIVE);
	CU_ASSERT_EQUAL(ct->n_stale, 1);
	CU_ASSERT_PTR_EQUAL(find(ct, &o, &dir), &slots[3]);
	CU_ASSERT_EQUAL(dir, KDP_CT_ORIG);
	CU_ASSERT_PTR_EQUAL(find(ct, &r, &dir), &slots[3]);
	CU_ASSERT_EQUAL(dir, KDP_CT_REPLY);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 1);
	{
		struct kdp_ct_entry *seen[2] = {NULL, NULL};

		CU_ASSERT_EQUAL(kdp_ct_foreach(ct, collect, seen), 0);
		CU_ASSERT_PTR_EQUAL(seen[0], &slots[3]);
		CU_ASSERT_PTR_NULL(seen[1]);
	}
	kdp_ct_release_stale(ct);
	CU_ASSERT_EQUAL(slots[10].slot, KDP_CT_SLOT_FREE);
	CU_ASSERT_EQUAL(slots[3].slot, KDP_CT_SLOT_LIVE);
	CU_ASSERT_EQUAL(rte_ring_count(ct->free), N - 1);
	CU_ASSERT_EQUAL(ct->n_stale, 0);
	kdp_ct_free(ct);
	/* The next start finds the flow once. */
	again = kdp_ct_create("test_ct_stale2", &p);
	CU_ASSERT_FATAL(again != NULL);
	CU_ASSERT_EQUAL(kdp_ct_import(again, 2000, &st), 0);
	CU_ASSERT(st.live == 1 && st.imported == 1 && st.clashes == 0);
	kdp_ct_free(again);
	rte_free(slots);
}

/* Counts the entries whose original tuple is kf->key (one flow). */
struct flow_seen {
	struct kdp_ct_key key;
	unsigned int n;
	const struct kdp_ct_entry *e;
};

static int count_flow(const struct kdp_ct_entry *e, void *arg)
{
	struct flow_seen *f = arg;

	if (memcmp(&e->key[KDP_CT_ORIG], &f->key, sizeof(f->key)) == 0) {
		f->n++;
		f->e = e;
	}
	return 0;
}

/* A restart that finds one flow's two entries live (two workers created
 * it at once; the previous kdp stopped before the GC retired the loser):
 * the winner, which took every packet since, is tracked whichever slot it
 * is in; the loser and its reply tuple are not. @p same: both entries have
 * one reply tuple (no SNAT port); @p winner_low: the winner is in the
 * lower slot; @p from: imported with kdp_ct_import_from() (a file of other
 * sizes) instead of in place; @p full (with @p from): the table holds N - 1
 * other flows already, so the first of the two fills it. */
static void check_import_race(bool same, bool winner_low, bool from, bool full)
{
	enum { N = 64, LOW = 3, HIGH = 10 };
	struct kdp_ct_entry *slots = rte_zmalloc("test_ct_race_slots", sizeof(*slots) * N, 64);
	struct kdp_ct *s1 = make(N), *s2 = make(N), *ct;
	struct kdp_ct_params p = {.max_flows = N, .slots = from ? NULL : slots};
	struct kdp_ct_key o = tuple(IP4(172, 20, 1, 236), IP4(10, 96, 0, 10), 40000, 53, 17);
	struct kdp_ct_key rw = tuple(IP4(172, 20, 0, 10), IP4(192, 168, 10, 101), 53, 61001, 17);
	struct kdp_ct_key rl = tuple(IP4(172, 20, 0, 10), IP4(192, 168, 10, 101), 53,
				     same ? 61001 : 61002, 17);
	struct kdp_ct_import_stats st;
	struct kdp_ct_entry *w, *l, *got;
	struct flow_seen seen = {.key = o};
	unsigned int wi = winner_low ? LOW : HIGH, li = winner_low ? HIGH : LOW;
	unsigned int others = full ? N - 1 : 0;
	uint8_t dir = 9;

	CU_ASSERT_FATAL(slots != NULL && s1 != NULL && s2 != NULL);
	CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(s1, &o, &rw, KDP_CT_F_DNAT | KDP_CT_F_SNAT, 7, 1,
					    1000, &w), 0);
	CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(s2, &o, &rl, KDP_CT_F_DNAT | KDP_CT_F_SNAT, 7, 1,
					    1000, &l), 0);
	slots[wi] = *w;
	slots[wi].pkts[KDP_CT_ORIG] = 5;
	slots[wi].pkts[KDP_CT_REPLY] = 4;
	slots[li] = *l;
	slots[li].pkts[KDP_CT_ORIG] = 1;
	slots[li].pkts[KDP_CT_REPLY] = 0;
	kdp_ct_free(s1);
	kdp_ct_free(s2);
	kdp_ct_timeouts_default(&p.timeouts);
	ct = kdp_ct_create(from ? "test_ct_race_from" : "test_ct_race", &p);
	CU_ASSERT_FATAL(ct != NULL);
	for (unsigned int i = 0; i < others; i++) {
		struct kdp_ct_key a = tuple(IP4(172, 20, 1, 237), IP4(10, 96, 0, 12), 2000 + i, 80, 6);
		struct kdp_ct_key b = tuple(IP4(172, 20, 0, 12), IP4(172, 20, 1, 237), 80, 2000 + i, 6);
		struct kdp_ct_entry *n;

		CU_ASSERT_EQUAL(kdp_ct_insert(ct, &a, &b, KDP_CT_F_DNAT, 8, 1, 1000, &n), 0);
	}
	if (from) {
		memset(&st, 0, sizeof(st));
		kdp_ct_import_from(ct, slots, N, 2000, &st);
	} else {
		CU_ASSERT_EQUAL(kdp_ct_import(ct, 2000, &st), 0);
	}
	CU_ASSERT(st.live == 2 && st.imported == 1 && st.clashes == 1 && st.no_room == 0);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), others + 1);
	got = find(ct, &o, &dir);
	CU_ASSERT_FATAL(got != NULL);
	CU_ASSERT_EQUAL(dir, KDP_CT_ORIG);
	CU_ASSERT_EQUAL(got->pkts[KDP_CT_ORIG], 5);
	CU_ASSERT_EQUAL(memcmp(&got->key[KDP_CT_REPLY], &rw, sizeof(rw)), 0);
	if (!from)
		CU_ASSERT_PTR_EQUAL(got, &slots[wi]);
	CU_ASSERT_PTR_EQUAL(find(ct, &rw, &dir), got);
	CU_ASSERT_EQUAL(dir, KDP_CT_REPLY);
	if (!same)
		CU_ASSERT_PTR_NULL(find(ct, &rl, &dir)); /* the loser's SNAT port is free */
	CU_ASSERT_EQUAL(kdp_ct_foreach(ct, count_flow, &seen), 0);
	CU_ASSERT_EQUAL(seen.n, 1);
	CU_ASSERT_PTR_EQUAL(seen.e, got);
	if (!from) {
		/* The loser is held live in the file until released, then free. */
		CU_ASSERT_EQUAL(ct->n_stale, 1);
		CU_ASSERT_EQUAL(ct->stale[0], li);
		CU_ASSERT_EQUAL(slots[li].slot, KDP_CT_SLOT_LIVE);
		CU_ASSERT_EQUAL(rte_ring_count(ct->free), N - 2);
		kdp_ct_release_stale(ct);
		CU_ASSERT_EQUAL(slots[li].slot, KDP_CT_SLOT_FREE);
		CU_ASSERT_EQUAL(slots[wi].slot, KDP_CT_SLOT_LIVE);
		CU_ASSERT_EQUAL(rte_ring_count(ct->free), N - 1);
	}
	/* At expiry (1000 + the UDP lifetime) the GC frees the one entry and
	 * leaves no tuple behind. */
	CU_ASSERT_EQUAL(kdp_ct_gc(ct, 1000000, N), others + 1);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 0);
	CU_ASSERT_EQUAL(ct->gc_lost_races, 0);
	CU_ASSERT_PTR_NULL(find(ct, &o, &dir));
	CU_ASSERT_PTR_NULL(find(ct, &rw, &dir));
	CU_ASSERT_PTR_NULL(find(ct, &rl, &dir));
	/* Every slot is free again (with kdp_ct_import_from() the loser's
	 * copy was given back at once): the table takes N new flows. */
	for (unsigned int i = 0; i < N; i++) {
		struct kdp_ct_key a = tuple(IP4(172, 20, 1, 236), IP4(10, 96, 0, 11), 1000 + i, 80, 6);
		struct kdp_ct_key b = tuple(IP4(172, 20, 0, 11), IP4(172, 20, 1, 236), 80, 1000 + i, 6);
		struct kdp_ct_entry *n;

		CU_ASSERT_EQUAL(kdp_ct_insert(ct, &a, &b, KDP_CT_F_DNAT, 8, 1, 1000001, &n), 0);
	}
	CU_ASSERT_EQUAL(kdp_ct_count(ct), N);
	kdp_ct_free(ct);
	rte_free(slots);
}

static void test_import_race_winner(void)
{
	for (int v = 0; v < 12; v++)
		check_import_race(v & 1, v & 2, v & 12, v & 8);
}

void test_register_ct(void)
{
	CU_pSuite s = CU_add_suite("ct", NULL, NULL);
	CU_add_test(s, "one entry for both directions", test_both_directions);
	CU_add_test(s, "TCP lifetimes and GC (injected clock)", test_tcp_lifetimes_and_gc);
	CU_add_test(s, "RST, UDP, GC in slices", test_rst_and_udp);
	CU_add_test(s, "full table refuses new flows, keeps old ones", test_full_table);
	CU_add_test(s, "a table of 65,536 flows takes 65,536", test_fills_to_capacity);
	CU_add_test(s, "GC: entries of a frontend id gone for good let go of it", test_gc_clears_gone_ids);
	CU_add_test(s, "GC: slots the import holds are left alone until released, then free",
		    test_gc_leaves_slots_the_import_holds);
	CU_add_test(s, "GC: the entry of one flow created on two workers at once is retired",
		    test_gc_retires_lost_races);
	CU_add_test(s, "one flow created by two threads at once: every entry removed at expiry",
		    test_race_on_two_threads);
	CU_add_test(s, "import: a flow live twice in the file is tracked once, the other freed",
		    test_import_keeps_stale_out);
	CU_add_test(s, "import: of one flow's two entries (a race), the one with more packets",
		    test_import_race_winner);
}

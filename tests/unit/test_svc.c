/* SPDX-License-Identifier: BSD-3-Clause */
/* Services: backend states, selection, frontend lookup, affinity. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

#include "maglev/kdp_maglev.h"
#include "svc/kdp_affinity.h"
#include "svc/kdp_svc.h"
#include "svc/kdp_svc6.h"
#include "test_util.h"

static struct kdp_svc_fe make_fe(uint32_t id, const uint8_t *states, int n, int algo)
{
	struct kdp_svc_fe fe;

	memset(&fe, 0, sizeof(fe));
	fe.id = id;
	fe.key.addr = rte_cpu_to_be_32(IP4(10, 96, 152, 212));
	fe.key.port = rte_cpu_to_be_16(80);
	fe.key.proto = IPPROTO_TCP;
	fe.algo = (uint8_t)algo;
	fe.affinity_timeout_s = 10800;
	fe.be = calloc((size_t)n + 1, sizeof(*fe.be));
	for (int i = 0; i < n; i++) {
		fe.be[i].ip = rte_cpu_to_be_32(IP4(172, 20, 0, 10 + i));
		fe.be[i].port = rte_cpu_to_be_16(80);
		fe.be[i].state = states[i];
	}
	fe.n_be = (uint16_t)n;
	return fe;
}

static void free_fe(struct kdp_svc_fe *fe)
{
	kdp_svc_fe_release(fe);
}

static void test_states(void)
{
	const uint8_t mixed[] = {KDP_BE_ACTIVE, KDP_BE_TERMINATING, KDP_BE_MAINTENANCE,
				 KDP_BE_ACTIVE, KDP_BE_QUARANTINED};
	const uint8_t term[] = {KDP_BE_TERMINATING, KDP_BE_MAINTENANCE, KDP_BE_TERMINATING};
	const uint8_t none[] = {KDP_BE_MAINTENANCE, KDP_BE_QUARANTINED};
	struct kdp_svc_fe fe = make_fe(1, mixed, 5, KDP_SVC_RANDOM);
	int seen[5] = {0};

	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&fe, 0), 0);
	CU_ASSERT_EQUAL(fe.all.n, 2); /* only the active ones */
	for (uint32_t h = 0; h < 1000; h++)
		seen[kdp_svc_select(&fe, h * 2654435761u, false)]++;
	CU_ASSERT(seen[0] > 300 && seen[3] > 300);
	CU_ASSERT_EQUAL(seen[1] + seen[2] + seen[4], 0);
	free_fe(&fe);
	/* No active backend: the terminating ones are used. */
	fe = make_fe(1, term, 3, KDP_SVC_RANDOM);
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&fe, 0), 0);
	CU_ASSERT_EQUAL(fe.all.n, 2);
	for (uint32_t h = 0; h < 100; h++)
		CU_ASSERT_NOT_EQUAL(kdp_svc_select(&fe, h, true), 1);
	free_fe(&fe);
	/* Maintenance/quarantined only: nothing for new flows. */
	fe = make_fe(1, none, 2, KDP_SVC_MAGLEV);
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&fe, 16381), 0);
	CU_ASSERT_EQUAL(fe.all.n, 0);
	CU_ASSERT_EQUAL(kdp_svc_select(&fe, 12345, false), -1);
	free_fe(&fe);
}

static void test_maglev_select(void)
{
	const uint8_t st[] = {KDP_BE_ACTIVE, KDP_BE_MAINTENANCE, KDP_BE_ACTIVE, KDP_BE_ACTIVE};
	struct kdp_svc_fe a = make_fe(1, st, 4, KDP_SVC_MAGLEV);
	struct kdp_svc_fe b = make_fe(2, st, 4, KDP_SVC_MAGLEV);
	int count[4] = {0};

	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&a, 16381), 0);
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&b, 16381), 0);
	CU_ASSERT_EQUAL(a.all.m, 16381);
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&b, 16380), -EINVAL);
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&b, 16381), 0);
	/* Same flow, same backend on two "nodes"; maintenance never chosen. */
	for (uint32_t i = 0; i < 5000; i++) {
		uint32_t h = kdp_maglev_flow_hash(rte_cpu_to_be_32(IP4(192, 168, 10, 200)),
						  a.key.addr, rte_cpu_to_be_16((uint16_t)(30000 + i)),
						  a.key.port, IPPROTO_TCP);
		int x = kdp_svc_select(&a, h, false);
		CU_ASSERT_EQUAL(x, kdp_svc_select(&b, h, false));
		count[x]++;
	}
	CU_ASSERT_EQUAL(count[1], 0);
	CU_ASSERT(count[0] > 1400 && count[2] > 1400 && count[3] > 1400);
	free_fe(&a);
	free_fe(&b);
}

static void test_table_and_affinity(void)
{
	const uint8_t st[] = {KDP_BE_ACTIVE, KDP_BE_ACTIVE, KDP_BE_ACTIVE};
	struct kdp_svc_table *t = kdp_svc_table_create("test_svc_t", 4, 10, 0);
	struct kdp_svc_fe fe = make_fe(3, st, 3, KDP_SVC_RANDOM), dup;
	struct kdp_svc_key keys[2];
	struct kdp_svc_fe *out[2];
	struct kdp_affinity *aff = kdp_affinity_create(kdp_affinity_slots(64), NULL, 7);
	uint32_t client = rte_cpu_to_be_32(IP4(172, 20, 1, 236));
	const struct kdp_svc_fe *f;
	int b;

	CU_ASSERT_FATAL(t != NULL && aff != NULL);
	fe.affinity = 1;
	fe.affinity_timeout_s = 100;
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&fe, 0), 0);
	dup = make_fe(4, st, 3, KDP_SVC_RANDOM);
	CU_ASSERT_EQUAL(kdp_svc_table_add(t, &fe), 0);
	CU_ASSERT_EQUAL(kdp_svc_table_add(t, &dup), -EEXIST); /* same key */
	f = t->by_id[3];
	CU_ASSERT_FATAL(f != NULL);
	keys[0] = f->key;
	keys[1] = keys[0];
	keys[1].proto = IPPROTO_UDP;
	kdp_svc_lookup_bulk(t, keys, 2, out);
	CU_ASSERT_PTR_EQUAL(out[0], f);
	CU_ASSERT_PTR_NULL(out[1]);
	/* Pin, keep, expire. */
	CU_ASSERT_EQUAL(kdp_affinity_get(aff, f, client, 1000), -1);
	kdp_affinity_set(aff, f, client, 2, 1000);
	CU_ASSERT_EQUAL(kdp_affinity_get(aff, f, client, 1050), 2);
	CU_ASSERT_EQUAL(kdp_affinity_get(aff, f, client, 1101), -1);
	CU_ASSERT_EQUAL(kdp_affinity_gc(aff, t, 1050, 100000), 0);
	{ CU_ASSERT_EQUAL(kdp_affinity_gc(aff, t, 1101, 100000), 1); }
	/* A pinned backend that went to maintenance is not used. */
	kdp_affinity_set(aff, f, client, 1, 2000);
	t->by_id[3]->be[1].state = KDP_BE_MAINTENANCE;
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(t->by_id[3], 0), 0);
	b = kdp_affinity_get(aff, f, client, 2001);
	CU_ASSERT_EQUAL(b, -1);
	CU_ASSERT_EQUAL(kdp_svc_find_backend(f, f->be[2].ip, f->be[2].port), 2);
	CU_ASSERT_EQUAL(kdp_svc_find_backend(f, f->be[2].ip, 0), -1);
	kdp_affinity_free(aff);
	kdp_svc_table_free(t);
}

/* Local picks: the local backends for the sources a Local policy covers,
 * the terminating fallback within them, none left: no backend. */
static void test_local_pick(void)
{
	const uint8_t st[] = {KDP_BE_ACTIVE, KDP_BE_ACTIVE, KDP_BE_TERMINATING, KDP_BE_ACTIVE};
	struct kdp_svc_fe fe = make_fe(1, st, 4, KDP_SVC_RANDOM);

	fe.be[1].local = 1; /* active and local */
	fe.be[2].local = 1; /* terminating and local */
	fe.local_only = KDP_SVC_LOCAL_OUTSIDE;
	CU_ASSERT_EQUAL_FATAL(kdp_svc_fe_prepare(&fe, 0), 0);
	CU_ASSERT_EQUAL(fe.all.n, 3);
	CU_ASSERT_EQUAL(fe.local.n, 1);
	for (uint32_t h = 0; h < 200; h++) {
		CU_ASSERT_EQUAL(kdp_svc_select(&fe, h * 2654435761u, true), 1);
		CU_ASSERT_NOT_EQUAL(kdp_svc_select(&fe, h * 2654435761u, false), 2);
	}
	/* The local active one goes: its terminating neighbour takes over. */
	fe.be[1].state = KDP_BE_MAINTENANCE;
	CU_ASSERT_EQUAL_FATAL(kdp_svc_fe_prepare(&fe, 0), 0);
	CU_ASSERT_EQUAL(kdp_svc_select(&fe, 7, true), 2);
	CU_ASSERT(kdp_svc_selectable(&fe, 2)); /* in the local pick only */
	CU_ASSERT(!kdp_svc_selectable(&fe, 1));
	/* No local backend at all: rejected from outside, fine from inside. */
	fe.be[2].local = 0;
	CU_ASSERT_EQUAL_FATAL(kdp_svc_fe_prepare(&fe, 0), 0);
	CU_ASSERT_EQUAL(kdp_svc_select(&fe, 7, true), -1);
	CU_ASSERT(kdp_svc_select(&fe, 7, false) >= 0);
	/* internalTrafficPolicy: both sides. */
	fe.local_only = KDP_SVC_LOCAL_INSIDE | KDP_SVC_LOCAL_OUTSIDE;
	CU_ASSERT_EQUAL(kdp_svc_select(&fe, 7, false), -1);
	/* Maglev over the local ones. */
	fe.algo = KDP_SVC_MAGLEV;
	fe.be[0].local = fe.be[3].local = 1;
	CU_ASSERT_EQUAL_FATAL(kdp_svc_fe_prepare(&fe, 16381), 0);
	CU_ASSERT_EQUAL(fe.local.n, 2);
	CU_ASSERT_EQUAL(fe.local.m, 16381);
	for (uint32_t h = 0; h < 200; h++) {
		int b = kdp_svc_select(&fe, h * 2654435761u, false);
		CU_ASSERT(b == 0 || b == 3);
	}
	free_fe(&fe);
}

static void test_source_ranges(void)
{
	const uint8_t st[] = {KDP_BE_ACTIVE};
	struct kdp_svc_fe fe = make_fe(1, st, 1, KDP_SVC_RANDOM);
	struct kdp_svc_range r[2] = {
		{rte_cpu_to_be_32(IP4(192, 168, 10, 0)), rte_cpu_to_be_32(0xffffff00)},
		{rte_cpu_to_be_32(IP4(10, 10, 1, 200)), rte_cpu_to_be_32(0xffffffff)},
	};

	CU_ASSERT(kdp_svc_source_allowed(&fe, rte_cpu_to_be_32(IP4(1, 2, 3, 4)))); /* none: all */
	fe.ranges = r;
	fe.n_ranges = 2;
	CU_ASSERT(kdp_svc_source_allowed(&fe, rte_cpu_to_be_32(IP4(192, 168, 10, 200))));
	CU_ASSERT(kdp_svc_source_allowed(&fe, rte_cpu_to_be_32(IP4(10, 10, 1, 200))));
	CU_ASSERT(!kdp_svc_source_allowed(&fe, rte_cpu_to_be_32(IP4(10, 10, 1, 201))));
	CU_ASSERT(!kdp_svc_source_allowed(&fe, rte_cpu_to_be_32(IP4(192, 168, 11, 1))));
	fe.ranges = NULL;
	fe.n_ranges = 0;
	free_fe(&fe);
}

/* An IPv6 frontend takes the same picks as an IPv4 one (the picks of
 * kdp_svc): for the same backend states and locality, under each policy,
 * the same backend for every hash from either side; Maglev over the local
 * ones; and the ranges of its own family. */
static void test_svc6_policy(void)
{
	static const uint8_t locals[][4] = {{0, 1, 1, 0}, {0, 1, 0, 0}, {0, 0, 0, 0}, {1, 0, 0, 1}};
	static const uint8_t policies[] = {0, KDP_SVC_LOCAL_OUTSIDE,
					   KDP_SVC_LOCAL_INSIDE | KDP_SVC_LOCAL_OUTSIDE};
	const uint8_t st[] = {KDP_BE_ACTIVE, KDP_BE_MAINTENANCE, KDP_BE_TERMINATING, KDP_BE_ACTIVE};
	struct kdp_svc_fe fe4 = make_fe(1, st, 4, KDP_SVC_RANDOM);
	struct kdp_svc6_fe fe;
	struct kdp_in6 src;

	memset(&fe, 0, sizeof(fe));
	fe.id = 1;
	fe.be = calloc(4, sizeof(*fe.be));
	for (int i = 0; i < 4; i++) {
		struct kdp_in6 a = test_ip6("fd00:20::10");

		a.b[15] = (uint8_t)(0x10 + i);
		memcpy(fe.be[i].ip, &a, 16);
		fe.be[i].port = rte_cpu_to_be_16(8080);
		fe.be[i].state = st[i];
	}
	fe.n_be = 4;
	for (size_t l = 0; l < RTE_DIM(locals); l++)
		for (size_t p = 0; p < RTE_DIM(policies); p++) {
			bool same = true;

			for (int i = 0; i < 4; i++)
				fe.be[i].local = fe4.be[i].local = locals[l][i];
			fe.local_only = fe4.local_only = policies[p];
			CU_ASSERT_EQUAL_FATAL(kdp_svc6_fe_prepare(&fe, 0), 0);
			CU_ASSERT_EQUAL_FATAL(kdp_svc_fe_prepare(&fe4, 0), 0);
			CU_ASSERT(fe.all.n == fe4.all.n && fe.local.n == fe4.local.n);
			for (uint32_t h = 0; h < 200; h++)
				for (int outside = 0; outside < 2; outside++)
					same &= kdp_svc6_select(&fe, h * 2654435761u, outside) ==
						kdp_svc_select(&fe4, h * 2654435761u, outside);
			for (int b = 0; b < 4; b++)
				same &= kdp_svc6_selectable(&fe, b) == kdp_svc_selectable(&fe4, b);
			CU_ASSERT(same);
		}
	/* Locals {1, 0, 0, 1} under internalTrafficPolicy: Maglev over 0 and 3. */
	fe.algo = KDP_SVC_MAGLEV;
	CU_ASSERT_EQUAL_FATAL(kdp_svc6_fe_prepare(&fe, 16381), 0);
	CU_ASSERT_EQUAL(fe.local.m, 16381);
	for (uint32_t h = 0; h < 200; h++) {
		int b = kdp_svc6_select(&fe, h * 2654435761u, false);
		CU_ASSERT(b == 0 || b == 3);
	}
	free_fe(&fe4);
	/* Source ranges: none admits anyone; else only the prefixes given. */
	src = test_ip6("2001:db8:9::7");
	CU_ASSERT(kdp_svc6_source_allowed(&fe, src.b));
	fe.ranges = calloc(2, sizeof(*fe.ranges));
	fe.ranges[0].net = test_ip6("2001:db8:9::");
	fe.ranges[0].plen = 49;
	fe.ranges[1].net = test_ip6("fd00:10::200");
	fe.ranges[1].plen = 128;
	fe.n_ranges = 2;
	CU_ASSERT(kdp_svc6_source_allowed(&fe, src.b));
	src = test_ip6("2001:db8:9:8000::7"); /* outside the /49 */
	CU_ASSERT(!kdp_svc6_source_allowed(&fe, src.b));
	src = test_ip6("fd00:10::200");
	CU_ASSERT(kdp_svc6_source_allowed(&fe, src.b));
	src = test_ip6("fd00:10::201");
	CU_ASSERT(!kdp_svc6_source_allowed(&fe, src.b));
	kdp_svc6_fe_release(&fe);
	CU_ASSERT(fe.be == NULL && fe.ranges == NULL && fe.all.sel == NULL && fe.local.maglev == NULL);
}

/* Clones share frontends; removing keeps every other key reachable
 * (backward-shift deletion) and clears the filter bit of an address that
 * has no frontend left. */
static void test_table_clone_remove(void)
{
	enum { N = 3000 };
	struct kdp_svc_fe *fes = calloc(N, sizeof(*fes));
	struct kdp_svc_table *a = kdp_svc_table_create("", 8, N, 0), *b, *c;
	struct kdp_svc_key k;
	uint32_t bit;

	CU_ASSERT_FATAL(fes != NULL && a != NULL);
	for (uint32_t i = 0; i < N; i++) {
		fes[i].id = i + 1;
		fes[i].key.addr = rte_cpu_to_be_32(IP4(10, 96, 0, 0) + i / 3);
		fes[i].key.port = rte_cpu_to_be_16((uint16_t)(80 + i % 3));
		fes[i].key.proto = IPPROTO_TCP;
	}
	/* Full at three quarters, then a clone with room. */
	for (uint32_t i = 0; i < 12; i++)
		CU_ASSERT_EQUAL(kdp_svc_table_insert(a, &fes[i]), 0);
	CU_ASSERT_EQUAL(kdp_svc_table_insert(a, &fes[12]), -ENOSPC);
	b = kdp_svc_table_clone(a, N, N);
	CU_ASSERT_FATAL(b != NULL);
	for (uint32_t i = 12; i < N; i++)
		CU_ASSERT_EQUAL(kdp_svc_table_insert(b, &fes[i]), 0);
	CU_ASSERT_EQUAL(kdp_svc_table_insert(b, &fes[5]), -EINVAL); /* id taken */
	CU_ASSERT_EQUAL(a->n_fe, 12);
	CU_ASSERT_EQUAL(b->n_fe, N);
	c = kdp_svc_table_clone(b, N, N);
	CU_ASSERT_FATAL(c != NULL);
	/* Take out every other one from c; b is untouched. */
	for (uint32_t i = 0; i < N; i += 2)
		CU_ASSERT_PTR_EQUAL(kdp_svc_table_remove(c, &fes[i].key), &fes[i]);
	CU_ASSERT_PTR_NULL(kdp_svc_table_remove(c, &fes[0].key));
	for (uint32_t i = 0; i < N; i++) {
		CU_ASSERT_PTR_EQUAL(kdp_svc_table_get(b, &fes[i].key), &fes[i]);
		CU_ASSERT_PTR_EQUAL(kdp_svc_table_get(c, &fes[i].key), i % 2 ? &fes[i] : NULL);
		CU_ASSERT_PTR_EQUAL(c->by_id[i + 1], i % 2 ? &fes[i] : NULL);
	}
	/* An address with no frontend left loses its filter bit. */
	k = fes[N - 1].key;
	for (uint32_t i = N - 3; i < N; i++)
		kdp_svc_table_remove(c, &fes[i].key);
	bit = kdp_svc_filter_bit(k.addr);
	CU_ASSERT((c->addr_bits[bit >> 6] & (1ull << (bit & 63))) == 0 || c->addr_count[bit] > 0);
	CU_ASSERT((b->addr_bits[bit >> 6] & (1ull << (bit & 63))) != 0);
	/* A clone asked for fewer ids: as few as the highest it holds
	 * (ids are reused, the range shrinks back), never fewer. */
	{
		struct kdp_svc_table *d = kdp_svc_table_clone(c, N, 10);

		CU_ASSERT_FATAL(d != NULL);
		/* fes[N - 5] (id N - 4) is the highest left: odd ones up to N - 4 */
		CU_ASSERT_EQUAL(d->max_id, N - 4);
		CU_ASSERT_PTR_EQUAL(d->by_id[N - 4], &fes[N - 5]);
		CU_ASSERT_PTR_EQUAL(kdp_svc_table_get(d, &fes[N - 5].key), &fes[N - 5]);
		kdp_svc_table_free(d);
		for (uint32_t i = 12; i < N; i++)
			kdp_svc_table_remove(c, &fes[i].key);
		d = kdp_svc_table_clone(c, N, 20);
		CU_ASSERT_FATAL(d != NULL);
		CU_ASSERT_EQUAL(d->max_id, 20);
		CU_ASSERT_PTR_EQUAL(d->by_id[12], &fes[11]);
		CU_ASSERT_PTR_NULL(d->by_id[11]);
		kdp_svc_table_free(d);
	}
	kdp_svc_table_free(c);
	kdp_svc_table_free(b);
	kdp_svc_table_free(a);
	free(fes);
}

void test_register_svc(void)
{
	CU_pSuite s = CU_add_suite("service", NULL, NULL);
	CU_add_test(s, "backend states: active, terminating fallback, maintenance", test_states);
	CU_add_test(s, "maglev: same flow same backend on two nodes", test_maglev_select);
	CU_add_test(s, "frontend table and ClientIP affinity", test_table_and_affinity);
	CU_add_test(s, "Local traffic policy: the local pick, its fallback, none", test_local_pick);
	CU_add_test(s, "loadBalancerSourceRanges", test_source_ranges);
	CU_add_test(s, "IPv6 frontends: Local picks, Maglev, source ranges", test_svc6_policy);
	CU_add_test(s, "frontend table: clone, insert, remove", test_table_clone_remove);
}

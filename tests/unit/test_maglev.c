/* SPDX-License-Identifier: BSD-3-Clause */
/* Maglev: the paper's fill, balance, disruption, determinism, weights, hash. */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_byteorder.h>

#include "maglev/kdp_maglev.h"
#include "test_util.h"

void test_register_maglev(void);

#define M_DEF 16381u
#define N_BIG 160u

/* splitmix64: a fixed, portable sequence for shuffles and random tuples. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/* n backends 10.0.x.y:80, weight 1, in canonical order. */
static void make_backends(struct kdp_maglev_backend *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		b[i] = (struct kdp_maglev_backend){
			.ip = IP4(10, 0, i / 200, i % 200 + 1), .port = 80,
			.weight = 1};
	kdp_maglev_sort(b, n);
}

static void count_slots(const uint32_t *t, uint32_t m, uint32_t *cnt, uint32_t n)
{
	memset(cnt, 0, sizeof(*cnt) * n);
	for (uint32_t s = 0; s < m; s++) {
		CU_ASSERT_FATAL(t[s] < n);
		cnt[t[s]]++;
	}
}

/*
 * The paper's Pseudocode 1, written out as plainly as possible: the whole
 * permutation matrix, next[], entry[] = -1, backends in turn until full.
 */
static void ref_populate(int32_t *entry, uint32_t m, const uint32_t *offset,
			 const uint32_t *skip, uint32_t n)
{
	uint32_t *perm = malloc(sizeof(*perm) * n * m);
	uint32_t *next = calloc(n, sizeof(*next));
	uint32_t filled = 0;

	CU_ASSERT_FATAL(perm != NULL && next != NULL);
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < m; j++)
			perm[i * m + j] = (uint32_t)((offset[i] + (uint64_t)j * skip[i]) % m);
	for (uint32_t j = 0; j < m; j++)
		entry[j] = -1;
	for (;;) {
		for (uint32_t i = 0; i < n; i++) {
			uint32_t c = perm[i * m + next[i]];

			while (entry[c] >= 0) {
				next[i]++;
				c = perm[i * m + next[i]];
			}
			entry[c] = (int32_t)i;
			next[i]++;
			if (++filled == m)
				goto done;
		}
	}
done:
	free(perm);
	free(next);
}

/* The library's fill against the reference for n backends at size m. */
static void check_against_ref(uint32_t m, uint32_t n)
{
	struct kdp_maglev_backend *b = calloc(n, sizeof(*b));
	uint32_t *off = calloc(n, sizeof(*off)), *skip = calloc(n, sizeof(*skip));
	uint32_t *t = calloc(m, sizeof(*t)), *tp = calloc(m, sizeof(*tp));
	int32_t *ref = calloc(m, sizeof(*ref));
	uint32_t diff = 0;

	CU_ASSERT_FATAL(b && off && skip && t && tp && ref);
	make_backends(b, n);
	for (uint32_t i = 0; i < n; i++) {
		CU_ASSERT_EQUAL(kdp_maglev_offset_skip(&b[i], m, &off[i], &skip[i]), 0);
		CU_ASSERT(off[i] < m);
		CU_ASSERT(skip[i] >= 1 && skip[i] < m);
	}
	ref_populate(ref, m, off, skip, n);
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t, m, b, n), 0);
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill_perm(tp, m, off, skip, NULL, n), 0);
	for (uint32_t s = 0; s < m; s++) {
		if (ref[s] < 0 || t[s] != (uint32_t)ref[s] || tp[s] != t[s])
			diff++;
	}
	CU_ASSERT_EQUAL(diff, 0);
	if (m == 7) {
		printf("\n    m=7: offsets/skips %u/%u %u/%u %u/%u, table", off[0],
		       skip[0], off[1], skip[1], off[2], skip[2]);
		for (uint32_t s = 0; s < m; s++)
			printf(" B%u", t[s]);
	}
	printf("\n    m=%u n=%u: %u slot(s) differ from the reference", m, n, diff);
	free(b);
	free(off);
	free(skip);
	free(t);
	free(tp);
	free(ref);
}

static void test_paper_fill(void)
{
	check_against_ref(7, 3);
	check_against_ref(1021, 37);
	check_against_ref(M_DEF, N_BIG);
	printf("\n    ");
}

/* The worked example of the paper (Table 1 / Table 2). */
static void test_paper_example(void)
{
	static const uint32_t off[3] = {3, 0, 3}, skip[3] = {4, 2, 1};
	static const uint32_t perm[3][7] = {
		{3, 0, 4, 1, 5, 2, 6},
		{0, 2, 4, 6, 1, 3, 5},
		{3, 4, 5, 6, 0, 1, 2},
	};
	static const uint32_t want[7] = {1, 0, 1, 0, 2, 2, 0};
	static const uint16_t w1[3] = {1, 1, 1};
	uint32_t t[7];
	int32_t ref[7];

	/* The injected offsets/skips are the paper's permutations. */
	for (uint32_t i = 0; i < 3; i++)
		for (uint32_t j = 0; j < 7; j++)
			CU_ASSERT_EQUAL((off[i] + j * skip[i]) % 7, perm[i][j]);
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill_perm(t, 7, off, skip, NULL, 3), 0);
	printf("\n    table:");
	for (uint32_t s = 0; s < 7; s++) {
		CU_ASSERT_EQUAL(t[s], want[s]);
		printf(" B%u", t[s]);
	}
	printf(" (paper: B1 B0 B1 B0 B2 B2 B0)\n    ");
	memset(t, 0xff, sizeof(t));
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill_perm(t, 7, off, skip, w1, 3), 0);
	CU_ASSERT_EQUAL(memcmp(t, want, sizeof(want)), 0);
	/* The reference implementation agrees too (it checks the others). */
	ref_populate(ref, 7, off, skip, 3);
	for (uint32_t s = 0; s < 7; s++)
		CU_ASSERT_EQUAL(ref[s], (int32_t)want[s]);
}

static void test_balance(void)
{
	struct kdp_maglev_backend b[N_BIG];
	static uint32_t t[M_DEF];
	uint32_t cnt[N_BIG], mn = UINT32_MAX, mx = 0;
	double share = (double)M_DEF / N_BIG, t0, us;
	/* ceil(m / n * 1.01) and floor(m / n * 0.99), in integers (no libm). */
	uint32_t limit = (M_DEF * 101 + N_BIG * 100 - 1) / (N_BIG * 100);
	uint32_t floor99 = M_DEF * 99 / (N_BIG * 100);
	const int reps = 20;

	make_backends(b, N_BIG);
	t0 = now_us();
	for (int r = 0; r < reps; r++)
		CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t, M_DEF, b, N_BIG), 0);
	us = (now_us() - t0) / reps;
	count_slots(t, M_DEF, cnt, N_BIG);
	for (uint32_t i = 0; i < N_BIG; i++) {
		mn = RTE_MIN(mn, cnt[i]);
		mx = RTE_MAX(mx, cnt[i]);
	}
	CU_ASSERT(mx <= limit);
	CU_ASSERT(mn >= floor99);
	printf("\n    n=%u m=%u share=%.2f: min=%u max=%u (limit %u); fill %.0f us\n    ",
	       N_BIG, M_DEF, share, mn, mx, limit, us);
}

static void test_disruption(void)
{
	struct kdp_maglev_backend b[N_BIG], b2[N_BIG - 1];
	static uint32_t t1[M_DEF], t2[M_DEF];
	const uint32_t gone = 57;
	uint32_t changed = 0, moved = 0, bad = 0;
	double pct;

	make_backends(b, N_BIG);
	for (uint32_t i = 0, k = 0; i < N_BIG; i++)
		if (i != gone)
			b2[k++] = b[i];
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t1, M_DEF, b, N_BIG), 0);
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t2, M_DEF, b2, N_BIG - 1), 0);
	for (uint32_t s = 0; s < M_DEF; s++) {
		uint32_t now;

		CU_ASSERT_FATAL(t2[s] < N_BIG - 1);
		now = t2[s] < gone ? t2[s] : t2[s] + 1; /* index in b[] */
		if (t1[s] == gone) {
			moved++;
			if (now == gone)
				bad++;
		} else if (now != t1[s]) {
			changed++;
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	CU_ASSERT(moved > 0);
	pct = 100.0 * changed / M_DEF;
	CU_ASSERT(pct < 3.0);
	printf("\n    remove #%u of %u: its %u slots moved; %u other slots changed = %.2f%% of %u\n    ",
	       gone, N_BIG, moved, changed, pct, M_DEF);
}

static void test_determinism(void)
{
	struct kdp_maglev_backend b[N_BIG], s[N_BIG];
	static uint32_t t1[M_DEF], t2[M_DEF], t3[M_DEF];
	uint32_t off, skip, moved = 0;
	/*
	 * Pinned layout: if these change, nodes running different versions
	 * build different tables. The offset/skip were checked independently
	 * against Bob Jenkins' lookup3 hashlittle() (which rte_jhash is on
	 * little-endian) in Python; the table head was recorded from this
	 * implementation.
	 */
	static const uint32_t golden_head[8] = {28, 79, 151, 128, 33, 124, 53, 136};

	make_backends(b, N_BIG);
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t1, M_DEF, b, N_BIG), 0);
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t2, M_DEF, b, N_BIG), 0);
	CU_ASSERT_EQUAL(memcmp(t1, t2, sizeof(t1)), 0);

	memcpy(s, b, sizeof(b));
	rng_state = 42;
	for (uint32_t i = N_BIG - 1; i > 0; i--) {
		uint32_t j = (uint32_t)(rng_next() % (i + 1));
		struct kdp_maglev_backend x = s[i];

		s[i] = s[j];
		s[j] = x;
	}
	for (uint32_t i = 0; i < N_BIG; i++)
		moved += memcmp(&s[i], &b[i], sizeof(b[i])) != 0;
	CU_ASSERT(moved > 0);
	/* Order matters: an unsorted list gives another table... */
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t3, M_DEF, s, N_BIG), 0);
	CU_ASSERT_NOT_EQUAL(memcmp(t1, t3, sizeof(t1)), 0);
	/* ...and the canonical sort restores it. */
	kdp_maglev_sort(s, N_BIG);
	CU_ASSERT_EQUAL(memcmp(s, b, sizeof(b)), 0);
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t3, M_DEF, s, N_BIG), 0);
	CU_ASSERT_EQUAL(memcmp(t1, t3, sizeof(t1)), 0);

	/* Same on every run and every node: fixed hash and seeds. */
	CU_ASSERT_EQUAL(kdp_maglev_offset_skip(&b[0], M_DEF, &off, &skip), 0);
	printf("\n    10.0.0.1:80 at m=%u: offset %u skip %u; table head", M_DEF,
	       off, skip);
	for (uint32_t i = 0; i < 8; i++)
		printf(" %u", t1[i]);
	printf("\n    ");
	CU_ASSERT_EQUAL(off, 3010);
	CU_ASSERT_EQUAL(skip, 3283);
	CU_ASSERT_EQUAL(memcmp(t1, golden_head, sizeof(golden_head)), 0);
}

static void test_weights(void)
{
	static const struct kdp_maglev_backend b2[2] = {
		{IP4(10, 0, 0, 1), 80, 1}, {IP4(10, 0, 0, 2), 80, 3}};
	static const struct kdp_maglev_backend b3[3] = {
		{IP4(10, 0, 0, 1), 80, 1}, {IP4(10, 0, 0, 9), 80, 0},
		{IP4(10, 0, 0, 2), 80, 3}};
	static uint32_t t[M_DEF], t3[M_DEF];
	struct kdp_maglev_backend b10[10];
	uint32_t cnt[10], wsum = 0, outside = 0;
	double f0, f1;

	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t, M_DEF, b2, 2), 0);
	count_slots(t, M_DEF, cnt, 2);
	f0 = (double)cnt[0] / M_DEF;
	f1 = (double)cnt[1] / M_DEF;
	CU_ASSERT(f0 >= 0.25 * 0.98 && f0 <= 0.25 * 1.02);
	CU_ASSERT(f1 >= 0.75 * 0.98 && f1 <= 0.75 * 1.02);
	printf("\n    weights 1:3 -> %u:%u slots (%.4f, %.4f)", cnt[0], cnt[1], f0, f1);

	/* A weight-0 backend is skipped and changes nothing else. */
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t3, M_DEF, b3, 3), 0);
	for (uint32_t s = 0; s < M_DEF; s++)
		CU_ASSERT_EQUAL(t3[s], t[s] == 0 ? 0u : 2u);

	/* Weights 1..10: each count within the documented bounds. */
	for (uint32_t i = 0; i < 10; i++) {
		b10[i] = (struct kdp_maglev_backend){IP4(10, 1, 0, i + 1), 8080,
						     (uint16_t)(i + 1)};
		wsum += i + 1;
	}
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t, M_DEF, b10, 10), 0);
	count_slots(t, M_DEF, cnt, 10);
	printf("\n    weights 1..10 ->");
	for (uint32_t i = 0; i < 10; i++) {
		double lo = (double)M_DEF * b10[i].weight / wsum - 1;
		double hi = (double)(M_DEF + 10) * b10[i].weight / wsum;

		outside += cnt[i] < lo || cnt[i] > hi;
		printf(" %u", cnt[i]);
	}
	CU_ASSERT_EQUAL(outside, 0);
	printf("\n    ");
}

static int naive_prime(uint32_t m)
{
	if (m < 2)
		return 0;
	for (uint32_t d = 2; d < m; d++)
		if (m % d == 0)
			return 0;
	return 1;
}

static void test_errors(void)
{
	struct kdp_maglev_backend b[3];
	static uint32_t t[M_DEF], keep[M_DEF];
	uint32_t off, skip, bad = 0;
	const uint32_t o7[2] = {1, 7}, s7[2] = {1, 1}, s0[1] = {0}, sm[1] = {7};
	const uint32_t o1[1] = {1};
	const uint16_t w0[2] = {0, 0};

	CU_ASSERT(kdp_maglev_valid_m(16381));
	CU_ASSERT(kdp_maglev_valid_m(3));
	CU_ASSERT(kdp_maglev_valid_m(7));
	CU_ASSERT(kdp_maglev_valid_m(KDP_MAGLEV_MAX_M));
	CU_ASSERT(!kdp_maglev_valid_m(65537)); /* prime, above the bound */
	CU_ASSERT(!kdp_maglev_valid_m(16380));
	CU_ASSERT(!kdp_maglev_valid_m(16383)); /* 3 * 43 * 127 */
	CU_ASSERT(!kdp_maglev_valid_m(0));
	CU_ASSERT(!kdp_maglev_valid_m(1));
	CU_ASSERT(!kdp_maglev_valid_m(2));
	CU_ASSERT(!kdp_maglev_valid_m(UINT32_MAX));
	for (uint32_t m = 0; m < 3000; m++)
		bad += kdp_maglev_valid_m(m) != (m >= 3 && naive_prime(m));
	for (uint32_t m = KDP_MAGLEV_MAX_M - 100; m < KDP_MAGLEV_MAX_M + 100; m++)
		bad += kdp_maglev_valid_m(m) !=
		       (m >= 3 && m <= KDP_MAGLEV_MAX_M && naive_prime(m));
	CU_ASSERT_EQUAL(bad, 0);

	make_backends(b, 3);
	memset(t, 0xab, sizeof(t));
	memcpy(keep, t, sizeof(t));
	CU_ASSERT_EQUAL(kdp_maglev_fill(t, 16380, b, 3), -EINVAL);
	CU_ASSERT_EQUAL(kdp_maglev_fill(t, 65537, b, 3), -EINVAL);
	CU_ASSERT_EQUAL(kdp_maglev_fill(NULL, M_DEF, b, 3), -EINVAL);
	CU_ASSERT_EQUAL(kdp_maglev_fill(t, M_DEF, NULL, 3), -EINVAL);
	CU_ASSERT_EQUAL(kdp_maglev_fill(t, M_DEF, b, 0), -ENOENT);
	CU_ASSERT_EQUAL(kdp_maglev_fill(t, M_DEF, NULL, 0), -ENOENT);
	for (uint32_t i = 0; i < 3; i++)
		b[i].weight = 0;
	CU_ASSERT_EQUAL(kdp_maglev_fill(t, M_DEF, b, 3), -ENOENT);
	CU_ASSERT_EQUAL(kdp_maglev_offset_skip(&b[0], 16380, &off, &skip), -EINVAL);

	CU_ASSERT_EQUAL(kdp_maglev_fill_perm(t, 7, o7, s7, NULL, 2), -EINVAL);
	CU_ASSERT_EQUAL(kdp_maglev_fill_perm(t, 7, o1, s0, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(kdp_maglev_fill_perm(t, 7, o1, sm, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(kdp_maglev_fill_perm(t, 8, o1, s7, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(kdp_maglev_fill_perm(t, 7, o7, s7, w0, 1), -ENOENT);
	CU_ASSERT_EQUAL(memcmp(t, keep, sizeof(t)), 0); /* untouched on error */

	/* More usable backends than slots: the table is still full and valid. */
	b[0].weight = b[1].weight = b[2].weight = 1;
	CU_ASSERT_EQUAL(kdp_maglev_fill_perm(t, 3, (const uint32_t[4]){0, 1, 2, 0},
					     (const uint32_t[4]){1, 1, 2, 1}, NULL, 4), 0);
	CU_ASSERT(t[0] == 0 && t[1] == 1 && t[2] == 2);
}

static void test_flow_hash(void)
{
	static const uint32_t m = M_DEF, n_flows = 100000;
	static uint32_t cnt[M_DEF], t[M_DEF];
	struct kdp_maglev_backend b[N_BIG];
	uint32_t bcnt[N_BIG], mx = 0, bmn = UINT32_MAX, bmx = 0, same = 0;
	double mean = (double)n_flows / m, chi2 = 0, dof = m - 1;

	rng_state = 7;
	for (int k = 0; k < 8; k++) {
		uint64_t r = rng_next(), r2 = rng_next();
		uint32_t src = (uint32_t)r, dst = (uint32_t)(r >> 32);
		uint16_t sp = (uint16_t)r2, dp = (uint16_t)(r2 >> 16);
		uint8_t pr = (r2 >> 32) & 1 ? IPPROTO_TCP : IPPROTO_UDP;
		uint32_t h = kdp_maglev_flow_hash(src, dst, sp, dp, pr);

		CU_ASSERT_EQUAL(h, kdp_maglev_flow_hash(src, dst, sp, dp, pr));
		same += h == kdp_maglev_flow_hash(src ^ 1, dst, sp, dp, pr);
		same += h == kdp_maglev_flow_hash(src, dst ^ 0x01000000, sp, dp, pr);
		same += h == kdp_maglev_flow_hash(src, dst, (uint16_t)(sp + 1), dp, pr);
		same += h == kdp_maglev_flow_hash(src, dst, sp, (uint16_t)(dp ^ 0x100), pr);
		same += h == kdp_maglev_flow_hash(src, dst, sp, dp, (uint8_t)(pr ^ 0x1f));
		same += h == kdp_maglev_flow_hash(dst, src, dp, sp, pr) && src != dst;
	}
	CU_ASSERT_EQUAL(same, 0);
	/* Pinned value (checked independently with lookup3 hashlittle()):
	 * UDP 10.0.0.1:40000 -> 10.96.0.10:53, fields as in the packet. */
	CU_ASSERT_EQUAL(kdp_maglev_flow_hash(rte_cpu_to_be_32(IP4(10, 0, 0, 1)),
					     rte_cpu_to_be_32(IP4(10, 96, 0, 10)),
					     rte_cpu_to_be_16(40000),
					     rte_cpu_to_be_16(53), IPPROTO_UDP),
			0x531c3ca4u);

	make_backends(b, N_BIG);
	CU_ASSERT_EQUAL_FATAL(kdp_maglev_fill(t, m, b, N_BIG), 0);
	memset(cnt, 0, sizeof(cnt));
	memset(bcnt, 0, sizeof(bcnt));
	rng_state = 2016;
	for (uint32_t i = 0; i < n_flows; i++) {
		uint64_t r = rng_next(), r2 = rng_next();
		uint32_t h = kdp_maglev_flow_hash((uint32_t)r, (uint32_t)(r >> 32),
						  (uint16_t)r2, (uint16_t)(r2 >> 16),
						  IPPROTO_TCP);

		cnt[h % m]++;
		bcnt[kdp_maglev_lookup(t, m, h)]++;
	}
	for (uint32_t s = 0; s < m; s++) {
		mx = RTE_MAX(mx, cnt[s]);
		chi2 += (cnt[s] - mean) * (cnt[s] - mean) / mean;
	}
	for (uint32_t i = 0; i < N_BIG; i++) {
		bmn = RTE_MIN(bmn, bcnt[i]);
		bmx = RTE_MAX(bmx, bcnt[i]);
	}
	CU_ASSERT(mx <= 3 * mean);
	/* Chi-square with m-1 degrees of freedom: within 6 standard deviations. */
	CU_ASSERT((chi2 - dof) * (chi2 - dof) < 36 * 2 * dof);
	/* Through the table: 625 flows per backend expected, sd ~25. */
	CU_ASSERT(bmn > 0.7 * n_flows / N_BIG && bmx < 1.3 * n_flows / N_BIG);
	printf("\n    %u tuples on %u slots: mean %.2f max %u (3x mean %.1f), chi2 %.0f (dof %.0f);"
	       "\n    via the table on %u backends: min %u max %u flows\n    ",
	       n_flows, m, mean, mx, 3 * mean, chi2, dof, N_BIG, bmn, bmx);
}

void test_register_maglev(void)
{
	CU_pSuite s = CU_add_suite("maglev", NULL, NULL);
	CU_add_test(s, "fill equals the paper's pseudo-code", test_paper_fill);
	CU_add_test(s, "the paper's worked example", test_paper_example);
	CU_add_test(s, "balance: 160 backends, m=16381", test_balance);
	CU_add_test(s, "minimal disruption on removal", test_disruption);
	CU_add_test(s, "determinism and canonical sort", test_determinism);
	CU_add_test(s, "weights", test_weights);
	CU_add_test(s, "errors and valid m", test_errors);
	CU_add_test(s, "flow hash", test_flow_hash);
}

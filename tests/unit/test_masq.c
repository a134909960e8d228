/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Masquerade: the non-masquerade set (LPM against a linear scan, /0, /32,
 * overlaps, rebuild without a prefix, bulk) and the ip-masq-agent config
 * (what each config puts in the set, and every parse error).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>

#include "common/kdp_addr.h"
#include "kdp_ipmasq.h"
#include "masq/kdp_masq.h"
#include "test_util.h"

/* ---- IPv6 ---- */

/* Linear scan: the reference the trie must agree with. */
static bool linear6(const struct kdp_masq_set6 *m, const struct kdp_in6 *a)
{
	for (uint32_t i = 0; i < m->n_entries; i++)
		if (kdp_addr6_in(a, &m->entries[i].prefix, m->entries[i].depth))
			return true;
	return false;
}

static void test_set6_trie(void)
{
	struct kdp_masq_set6 *m = kdp_masq_set6_create(3000);
	struct kdp_in6 p, a;
	unsigned int seed = 12345, hits = 0;

	CU_ASSERT_FATAL(m != NULL);
	p = test_ip6("fd00:20::");
	CU_ASSERT_EQUAL(kdp_masq_set6_add(m, &p, 48, KDP_MASQ_R_NATIVE_CIDR), 0);
	p = test_ip6("fd00:10::101");
	CU_ASSERT_EQUAL(kdp_masq_set6_add(m, &p, 128, KDP_MASQ_R_NODE_IP), 0);
	p = test_ip6("fd00:10:1::");
	CU_ASSERT_EQUAL(kdp_masq_set6_add(m, &p, 61, KDP_MASQ_R_CONFIG), 0);
	CU_ASSERT_EQUAL(kdp_masq_set6_add(m, &p, 61, KDP_MASQ_R_CONFIG), 0); /* kept once */
	CU_ASSERT_EQUAL(kdp_masq_set6_add(m, &p, 129, KDP_MASQ_R_CONFIG), -EINVAL);
	CU_ASSERT_EQUAL(m->n_entries, 3);
	a = test_ip6("fd00:20:0:1::236");
	CU_ASSERT(kdp_masq_set6_contains(m, &a));
	a = test_ip6("fd00:21::1");
	CU_ASSERT_FALSE(kdp_masq_set6_contains(m, &a));
	a = test_ip6("fd00:10::101");
	CU_ASSERT(kdp_masq_set6_contains(m, &a));
	a = test_ip6("fd00:10::100");
	CU_ASSERT_FALSE(kdp_masq_set6_contains(m, &a));
	a = test_ip6("fd00:10:1:7:ffff::1"); /* inside /61 */
	CU_ASSERT(kdp_masq_set6_contains(m, &a));
	a = test_ip6("fd00:10:1:8::1"); /* just past it */
	CU_ASSERT_FALSE(kdp_masq_set6_contains(m, &a));
	/* 2,997 random prefixes more: the trie equals a linear scan. */
	while (m->n_entries < 3000) {
		for (int i = 0; i < 16; i++)
			p.b[i] = (uint8_t)rand_r(&seed);
		p.b[0] = 0xfd;
		kdp_masq_set6_add(m, &p, (uint8_t)(8 + rand_r(&seed) % 121), KDP_MASQ_R_CONFIG);
	}
	CU_ASSERT_EQUAL(kdp_masq_set6_add(m, &p, 0, KDP_MASQ_R_CONFIG), -ENOSPC);
	for (int t = 0; t < 20000; t++) {
		const struct kdp_masq_entry6 *e = &m->entries[rand_r(&seed) % m->n_entries];
		bool want;

		/* Half near a prefix of the set, half anywhere in fd00::/8. */
		for (int i = 0; i < 16; i++)
			a.b[i] = (uint8_t)rand_r(&seed);
		if (t % 2) {
			int n = e->depth / 8 + (int)(rand_r(&seed) % 2);

			for (int i = 0; i < n && i < 16; i++)
				a.b[i] = e->prefix.b[i];
		}
		a.b[0] = 0xfd;
		want = linear6(m, &a);
		hits += want;
		if (kdp_masq_set6_contains(m, &a) != want) {
			CU_FAIL("trie and linear scan disagree");
			break;
		}
	}
	CU_ASSERT(hits > 1000);
	/* ::/0 takes everything. */
	kdp_masq_set6_free(m);
	m = kdp_masq_set6_create(4);
	p = test_ip6("::");
	CU_ASSERT_EQUAL(kdp_masq_set6_add(m, &p, 0, KDP_MASQ_R_CONFIG), 0);
	a = test_ip6("2001:db8::1");
	CU_ASSERT(kdp_masq_set6_contains(m, &a));
	kdp_masq_set6_free(m);
}

/* The IPv6 set each config gives, listed "prefix reason" one per line. */
static void list6(const char *conf, bool present, char *out, size_t n)
{
	struct kdp_ipmasq *cfg = calloc(1, sizeof(*cfg));
	struct kdp_in6 native = test_ip6("fd00:20::"), nodes[2];
	struct kdp_masq_set6 *m;
	char err[KDP_ERR_LEN];
	size_t off = 0;

	nodes[0] = test_ip6("fd00:10::100");
	nodes[1] = test_ip6("fd00:10::101");
	CU_ASSERT_FATAL(cfg != NULL);
	if (present)
		CU_ASSERT_EQUAL(kdp_ipmasq_parse(conf, strlen(conf), cfg, err), 0);
	m = kdp_masq_set6_create(kdp_ipmasq_set6_size(cfg, 2));
	CU_ASSERT_FATAL(m != NULL);
	CU_ASSERT_EQUAL(kdp_ipmasq_build6(cfg, &native, 48, nodes, 2, m), 0);
	out[0] = '\0';
	for (uint32_t i = 0; i < m->n_entries; i++) {
		char b[KDP_ADDR6_STRLEN];

		off += (size_t)snprintf(out + off, n - off, "%s %s\n",
					kdp_addr6_fmt_prefix(&m->entries[i].prefix, m->entries[i].depth,
							     b, sizeof(b)),
					kdp_masq_reason_name(m->entries[i].reason));
	}
	kdp_masq_set6_free(m);
	free(cfg);
}

static void test_ipmasq6_semantics(void)
{
	static const char base[] = "fd00:20::/48 native-routing-cidr\nfd00:10::100/128 node-ip\n"
				   "fd00:10::101/128 node-ip\n";
	char got[1024], want[1024];

	list6("", false, got, sizeof(got)); /* no agent */
	CU_ASSERT_STRING_EQUAL(got, base);
	list6("", true, got, sizeof(got)); /* empty: no IPv6 reserved ranges, link-local */
	snprintf(want, sizeof(want), "%sfe80::/10 link-local\n", base);
	CU_ASSERT_STRING_EQUAL(got, want);
	list6("nonMasqueradeCIDRs: [10.10.1.0/24, fd00:10:1::/64]\nmasqLinkLocalIPv6: true\n", true,
	      got, sizeof(got));
	snprintf(want, sizeof(want), "%sfd00:10:1::/64 config\n", base);
	CU_ASSERT_STRING_EQUAL(got, want);
	/* The IPv4 set is not touched by IPv6 entries, and the other way. */
	{
		struct kdp_ipmasq cfg;
		char err[KDP_ERR_LEN];
		const char *c = "{\"nonMasqueradeCIDRs\": [\"10.10.1.0/24\", \"fd00:10:1::/64\"]}";
		json_t *j;

		CU_ASSERT_EQUAL(kdp_ipmasq_parse(c, strlen(c), &cfg, err), 0);
		CU_ASSERT_EQUAL(cfg.n_cidrs, 1);
		CU_ASSERT_EQUAL(cfg.n_cidrs6, 1);
		j = kdp_ipmasq_json(&cfg);
		CU_ASSERT_EQUAL(json_array_size(json_object_get(j, "nonMasqueradeCIDRs")), 2);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_array_get(
					       json_object_get(j, "nonMasqueradeCIDRs"), 1)),
				       "fd00:10:1::/64");
		json_decref(j);
	}
}

void test_register_masq(void);

struct pfx {
	uint32_t prefix;
	uint8_t depth;
};

/* The reference answer: is @p ip inside any of @p n prefixes? */
static bool linear_contains(const struct pfx *p, unsigned int n, uint32_t ip)
{
	for (unsigned int i = 0; i < n; i++)
		if (kdp_addr_in(ip, p[i].prefix, p[i].depth))
			return true;
	return false;
}

static struct kdp_masq_set *set_of(const char *name, const struct pfx *p,
				   unsigned int n)
{
	struct kdp_masq_set *s = kdp_masq_set_create(name, n ? n : 1, 0);

	CU_ASSERT_FATAL(s != NULL);
	for (unsigned int i = 0; i < n; i++)
		CU_ASSERT_EQUAL(kdp_masq_set_add(s, p[i].prefix, p[i].depth,
						 KDP_MASQ_R_CONFIG), 0);
	return s;
}

/* xorshift64*: a fixed, repeatable sequence. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
	rnd_state ^= rnd_state >> 12;
	rnd_state ^= rnd_state << 25;
	rnd_state ^= rnd_state >> 27;
	return (uint32_t)((rnd_state * 0x2545f4914f6cdd1dull) >> 32);
}

static const struct pfx lab[] = {
	{IP4(10, 0, 0, 0), 8},          /* overlaps the next one */
	{IP4(10, 10, 1, 0), 24},
	{IP4(172, 20, 0, 0), 24},       /* adjacent to the next one */
	{IP4(172, 20, 1, 0), 24},
	{IP4(192, 168, 10, 100), 32},
	{IP4(203, 0, 113, 128), 25},    /* below /24: a tbl8 group */
	{IP4(100, 64, 0, 0), 10},
};

static void test_set_table(void)
{
	static const struct {
		uint32_t ip;
		bool in;
	} t[] = {
		{IP4(10, 0, 0, 0), true},        {IP4(10, 255, 255, 255), true},
		{IP4(9, 255, 255, 255), false},  {IP4(11, 0, 0, 0), false},
		{IP4(10, 10, 1, 0), true},       {IP4(10, 10, 1, 255), true},
		{IP4(10, 10, 0, 255), true},     {IP4(10, 10, 2, 0), true},
		{IP4(172, 20, 0, 0), true},      {IP4(172, 20, 0, 255), true},
		{IP4(172, 20, 1, 0), true},      {IP4(172, 20, 1, 255), true},
		{IP4(172, 19, 255, 255), false}, {IP4(172, 20, 2, 0), false},
		{IP4(192, 168, 10, 100), true},  {IP4(192, 168, 10, 99), false},
		{IP4(192, 168, 10, 101), false}, {IP4(203, 0, 113, 128), true},
		{IP4(203, 0, 113, 255), true},   {IP4(203, 0, 113, 127), false},
		{IP4(203, 0, 114, 0), false},    {IP4(100, 64, 0, 0), true},
		{IP4(100, 127, 255, 255), true}, {IP4(100, 63, 255, 255), false},
		{IP4(100, 128, 0, 0), false},    {IP4(0, 0, 0, 0), false},
		{IP4(255, 255, 255, 255), false}, {IP4(8, 8, 8, 8), false},
	};
	struct kdp_masq_set *s = set_of("test_masq_tab", lab, RTE_DIM(lab));

	for (size_t i = 0; i < RTE_DIM(t); i++) {
		bool got = kdp_masq_set_contains(s, t[i].ip);

		CU_ASSERT_EQUAL(t[i].in, linear_contains(lab, RTE_DIM(lab), t[i].ip));
		if (got != t[i].in) {
			char b[KDP_ADDR_STRLEN];
			fprintf(stderr, "masq case %zu: %s got %d\n", i,
				kdp_addr_fmt_ip(t[i].ip, b, sizeof(b)), got);
			CU_FAIL("wrong membership");
		}
	}
	/* Listing: insertion order, reasons. */
	CU_ASSERT_EQUAL(kdp_masq_set_count(s), RTE_DIM(lab));
	CU_ASSERT_EQUAL(s->entries[1].prefix, IP4(10, 10, 1, 0));
	CU_ASSERT_EQUAL(s->entries[1].depth, 24);
	CU_ASSERT_EQUAL(s->entries[1].reason, KDP_MASQ_R_CONFIG);
	CU_ASSERT_FALSE(s->all);
	kdp_masq_set_free(s);
}

static void test_set_default_route_and_limits(void)
{
	struct kdp_masq_set *s = kdp_masq_set_create("test_masq_all", 3, 0);
	uint32_t ips[64];

	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_FALSE(kdp_masq_set_contains(s, IP4(1, 2, 3, 4)));
	CU_ASSERT_EQUAL(kdp_masq_set_contains_bulk(s, (uint32_t[]){1, 2}, 2), 0);
	/* A second live set may not reuse the LPM name. */
	CU_ASSERT_PTR_NULL(kdp_masq_set_create("test_masq_all", 3, 0));
	CU_ASSERT_EQUAL(rte_errno, EEXIST);
	CU_ASSERT_PTR_NULL(kdp_masq_set_create("test_masq_zero", 0, 0));
	CU_ASSERT_EQUAL(rte_errno, EINVAL);

	CU_ASSERT_EQUAL(kdp_masq_set_add(s, IP4(10, 1, 2, 3), 8, KDP_MASQ_R_CONFIG), 0);
	/* Host bits are cleared; the same prefix again keeps its first reason. */
	CU_ASSERT_EQUAL(s->entries[0].prefix, IP4(10, 0, 0, 0));
	CU_ASSERT_EQUAL(kdp_masq_set_add(s, IP4(10, 0, 0, 0), 8,
					 KDP_MASQ_R_DEFAULT_RESERVED), 0);
	CU_ASSERT_EQUAL(kdp_masq_set_count(s), 1);
	CU_ASSERT_EQUAL(s->entries[0].reason, KDP_MASQ_R_CONFIG);
	CU_ASSERT_EQUAL(kdp_masq_set_add(s, 0, 33, KDP_MASQ_R_CONFIG), -EINVAL);
	CU_ASSERT_EQUAL(kdp_masq_set_add(s, 0, 8, KDP_MASQ_R_MAX), -EINVAL);
	CU_ASSERT_EQUAL(kdp_masq_set_add(s, IP4(1, 1, 1, 1), 32, KDP_MASQ_R_NODE_IP), 0);

	/* 0.0.0.0/0: rte_lpm takes no depth 0, the flag does. */
	CU_ASSERT_EQUAL(kdp_masq_set_add(s, IP4(7, 7, 7, 7), 0, KDP_MASQ_R_CONFIG), 0);
	CU_ASSERT(s->all);
	CU_ASSERT_EQUAL(s->entries[2].prefix, 0);
	CU_ASSERT_EQUAL(s->entries[2].depth, 0);
	CU_ASSERT(kdp_masq_set_contains(s, IP4(0, 0, 0, 0)));
	CU_ASSERT(kdp_masq_set_contains(s, IP4(8, 8, 8, 8)));
	CU_ASSERT(kdp_masq_set_contains(s, IP4(255, 255, 255, 255)));
	for (unsigned int i = 0; i < 64; i++)
		ips[i] = rnd();
	CU_ASSERT_EQUAL(kdp_masq_set_contains_bulk(s, ips, 64), UINT64_MAX);
	CU_ASSERT_EQUAL(kdp_masq_set_contains_bulk(s, ips, 5), 0x1f);

	/* Full: a new prefix does not fit, a known one still does. */
	CU_ASSERT_EQUAL(kdp_masq_set_add(s, IP4(2, 0, 0, 0), 8, KDP_MASQ_R_CONFIG),
			-ENOSPC);
	CU_ASSERT_EQUAL(kdp_masq_set_add(s, IP4(1, 1, 1, 1), 32, KDP_MASQ_R_CONFIG), 0);
	CU_ASSERT_EQUAL(kdp_masq_set_count(s), 3);
	CU_ASSERT_STRING_EQUAL(kdp_masq_reason_name(KDP_MASQ_R_NATIVE_CIDR),
			       "native-routing-cidr");
	CU_ASSERT_STRING_EQUAL(kdp_masq_reason_name(KDP_MASQ_R_LINK_LOCAL), "link-local");
	CU_ASSERT_STRING_EQUAL(kdp_masq_reason_name(KDP_MASQ_R_MAX), "unknown");
	kdp_masq_set_free(s);
	kdp_masq_set_free(NULL);
}

/* "Removal" is a rebuild: B is A without one prefix, both live (as in RCU). */
static void test_set_rebuild_without(void)
{
	static const struct pfx a[] = {
		{IP4(10, 0, 0, 0), 8},      {IP4(10, 10, 1, 0), 24},
		{IP4(10, 10, 2, 0), 24},    {IP4(192, 168, 10, 101), 32},
	};
	static const struct pfx b1[] = { /* without 10.10.1.0/24 */
		{IP4(10, 0, 0, 0), 8}, {IP4(10, 10, 2, 0), 24},
		{IP4(192, 168, 10, 101), 32},
	};
	static const struct pfx b2[] = { /* without 10/8 and the /32 */
		{IP4(10, 10, 1, 0), 24}, {IP4(10, 10, 2, 0), 24},
	};
	struct kdp_masq_set *sa = set_of("test_masq_a", a, RTE_DIM(a));
	struct kdp_masq_set *sb = set_of("test_masq_b", b2, RTE_DIM(b2));

	/* The covering /8 keeps 10.10.1.x in even without its /24. */
	kdp_masq_set_free(sb);
	sb = set_of("test_masq_b", b1, RTE_DIM(b1));
	CU_ASSERT(kdp_masq_set_contains(sa, IP4(10, 10, 1, 200)));
	CU_ASSERT(kdp_masq_set_contains(sb, IP4(10, 10, 1, 200)));
	kdp_masq_set_free(sb);

	sb = set_of("test_masq_b", b2, RTE_DIM(b2));
	CU_ASSERT(kdp_masq_set_contains(sa, IP4(10, 1, 2, 3)));
	CU_ASSERT_FALSE(kdp_masq_set_contains(sb, IP4(10, 1, 2, 3)));
	CU_ASSERT(kdp_masq_set_contains(sa, IP4(192, 168, 10, 101)));
	CU_ASSERT_FALSE(kdp_masq_set_contains(sb, IP4(192, 168, 10, 101)));
	CU_ASSERT(kdp_masq_set_contains(sb, IP4(10, 10, 1, 200)));
	CU_ASSERT(kdp_masq_set_contains(sb, IP4(10, 10, 2, 0)));
	CU_ASSERT_FALSE(kdp_masq_set_contains(sb, IP4(10, 10, 0, 255)));
	CU_ASSERT_FALSE(kdp_masq_set_contains(sb, IP4(10, 10, 3, 0)));
	/* Freeing the old set leaves the new one working. */
	kdp_masq_set_free(sa);
	CU_ASSERT(kdp_masq_set_contains(sb, IP4(10, 10, 2, 200)));
	kdp_masq_set_free(sb);
}

static void test_set_bulk(void)
{
	struct kdp_masq_set *s = set_of("test_masq_bulk", lab, RTE_DIM(lab));
	uint32_t ips[64];
	uint64_t m;

	for (unsigned int i = 0; i < 64; i++) {
		const struct pfx *p = &lab[i % RTE_DIM(lab)];
		uint32_t size = p->depth == 32 ? 1 : 1u << (32 - p->depth);

		/* First, last, just below, just above each prefix, and random. */
		switch (i % 5) {
		case 0: ips[i] = p->prefix; break;
		case 1: ips[i] = p->prefix + size - 1; break;
		case 2: ips[i] = p->prefix - 1; break;
		case 3: ips[i] = p->prefix + size; break;
		default: ips[i] = rnd(); break;
		}
	}
	m = kdp_masq_set_contains_bulk(s, ips, 64);
	CU_ASSERT_NOT_EQUAL(m, 0);
	CU_ASSERT_NOT_EQUAL(m, UINT64_MAX);
	for (unsigned int i = 0; i < 64; i++)
		CU_ASSERT_EQUAL((m >> i) & 1, kdp_masq_set_contains(s, ips[i]));
	/* Shorter bursts leave the bits above n clear. */
	for (unsigned int n = 1; n < 64; n += 9)
		CU_ASSERT_EQUAL(kdp_masq_set_contains_bulk(s, ips, n),
				m & ((UINT64_C(1) << n) - 1));
	kdp_masq_set_free(s);
}

#define N_BIG 3000
#define N_ADDR 100000

static uint64_t cycles_per_lookup(const struct kdp_masq_set *s,
				  const uint32_t *ips, unsigned int n,
				  unsigned int *hits)
{
	uint64_t t0 = rte_rdtsc_precise();
	unsigned int h = 0;

	for (unsigned int i = 0; i < n; i++)
		h += kdp_masq_set_contains(s, ips[i]);
	*hits = h;
	return (rte_rdtsc_precise() - t0) / n;
}

static uint64_t cycles_per_lookup_bulk(const struct kdp_masq_set *s,
				       const uint32_t *ips, unsigned int n)
{
	uint64_t t0 = rte_rdtsc_precise(), h = 0;

	for (unsigned int i = 0; i + 32 <= n; i += 32)
		h += (uint64_t)__builtin_popcountll(kdp_masq_set_contains_bulk(s, ips + i, 32));
	CU_ASSERT(h <= n);
	return (rte_rdtsc_precise() - t0) / n;
}

/* 3,000 random prefixes answer as a linear scan over them does. */
static void test_set_random_vs_linear(void)
{
	static struct pfx p[N_BIG];
	static uint32_t ips[N_ADDR];
	struct kdp_masq_set *big, *small;
	unsigned int hits = 0, hits_big, hits_small;
	uint64_t c_small, c_big, b_small, b_big;

	for (unsigned int i = 0; i < N_BIG; i++) {
		/* Mostly long prefixes, a few short ones (which overlap). */
		uint8_t d = (uint8_t)(i % 10 == 0 ? 8 + rnd() % 9 : 17 + rnd() % 16);
		p[i].depth = d;
		p[i].prefix = rnd() & kdp_addr_mask(d);
	}
	for (unsigned int i = 0; i < N_ADDR; i++) {
		const struct pfx *q = &p[rnd() % N_BIG];
		uint32_t size = q->depth == 32 ? 1 : 1u << (32 - q->depth);

		switch (i % 4) {
		case 0: ips[i] = rnd(); break;                         /* anywhere */
		case 1: ips[i] = q->prefix + rnd() % size; break;      /* inside */
		case 2: ips[i] = q->prefix - 1; break;                 /* just below */
		default: ips[i] = q->prefix + size; break;             /* just above */
		}
	}
	big = set_of("test_masq_big", p, N_BIG);
	CU_ASSERT(kdp_masq_set_count(big) <= N_BIG);
	for (unsigned int i = 0; i < N_ADDR; i++) {
		bool want = linear_contains(p, N_BIG, ips[i]);

		hits += want;
		if (kdp_masq_set_contains(big, ips[i]) != want) {
			char b[KDP_ADDR_STRLEN];
			fprintf(stderr, "random case %u: %s want %d\n", i,
				kdp_addr_fmt_ip(ips[i], b, sizeof(b)), want);
			CU_FAIL("LPM and linear scan disagree");
			break;
		}
	}
	/* Both answers occur often enough to mean something. */
	CU_ASSERT(hits > N_ADDR / 5);
	CU_ASSERT(hits < N_ADDR * 4 / 5);

	small = set_of("test_masq_small", p, 3);
	cycles_per_lookup(small, ips, N_ADDR, &hits_small); /* warm up */
	cycles_per_lookup(big, ips, N_ADDR, &hits_big);
	c_small = cycles_per_lookup(small, ips, N_ADDR, &hits_small);
	c_big = cycles_per_lookup(big, ips, N_ADDR, &hits_big);
	b_small = cycles_per_lookup_bulk(small, ips, N_ADDR);
	b_big = cycles_per_lookup_bulk(big, ips, N_ADDR);
	CU_ASSERT_EQUAL(hits_big, hits);
	printf("\n    masq lookup, %d random addresses: %d prefixes %" PRIu64
	       " cycles (bulk32 %" PRIu64 "), %d prefixes %" PRIu64
	       " cycles (bulk32 %" PRIu64 ") ... ",
	       N_ADDR, 3, c_small, b_small, N_BIG, c_big, b_big);
	kdp_masq_set_free(small);
	kdp_masq_set_free(big);
}

/* ---- the ip-masq-agent config ---- */

static const uint32_t lab_nodes[] = {IP4(192, 168, 10, 100), IP4(192, 168, 10, 101)};
#define NATIVE IP4(172, 20, 0, 0), 16

/* The addresses every case looks up; a case's `want` has one char each. */
static const uint32_t probe[] = {
	IP4(10, 10, 1, 200),    /* 0 config CIDR (router) */
	IP4(10, 10, 2, 200),    /* 1 config CIDR (router) */
	IP4(10, 1, 2, 3),       /* 2 default 10/8 */
	IP4(192, 168, 10, 200), /* 3 default 192.168/16 (router, not a node) */
	IP4(169, 254, 1, 1),    /* 4 link-local */
	IP4(172, 20, 0, 130),   /* 5 native routing CIDR */
	IP4(192, 168, 10, 101), /* 6 node IP */
	IP4(8, 8, 8, 8),        /* 7 never */
	IP4(240, 0, 0, 1),      /* 8 default 240/4 */
	IP4(100, 64, 0, 1),     /* 9 default 100.64/10 */
	IP4(172, 31, 0, 1),     /* a default 172.16/12, outside the native CIDR */
	IP4(198, 19, 255, 255), /* b default 198.18/15 */
	IP4(203, 0, 113, 5),    /* c default 203.0.113/24 */
	IP4(192, 88, 99, 1),    /* d default 192.88.99/24 */
	IP4(100, 128, 0, 1),    /* e just outside 100.64/10 */
};
/*                              0123456789abcde */
#define W_AGENT_OFF            "000001100000000"
#define W_DEFAULTS             "111111101111110"
#define W_LINK_LOCAL_ONLY      "000011100000000"
#define W_TWO_CIDRS            "110011100000000"
#define W_TWO_CIDRS_MASQ_LL    "110001100000000"

static void check_set(const struct kdp_masq_set *s, const char *want,
		      const char *what)
{
	for (size_t i = 0; i < RTE_DIM(probe); i++) {
		bool in = kdp_masq_set_contains(s, probe[i]);

		if (in != (want[i] == '1')) {
			char b[KDP_ADDR_STRLEN];
			fprintf(stderr, "ipmasq %s: %s in set %d, want %c\n", what,
				kdp_addr_fmt_ip(probe[i], b, sizeof(b)), in, want[i]);
			CU_FAIL("wrong non-masquerade set");
		}
	}
}

/* Builds the lab's set from @p cfg and checks it against @p want. */
static struct kdp_masq_set *build_lab(const struct kdp_ipmasq *cfg,
				      const char *want, unsigned int n_want,
				      const char *what)
{
	uint32_t size = kdp_ipmasq_set_size(cfg, RTE_DIM(lab_nodes));
	struct kdp_masq_set *s = kdp_masq_set_create("test_ipmasq", size, 0);

	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(kdp_ipmasq_build(cfg, NATIVE, lab_nodes,
					 RTE_DIM(lab_nodes), s), 0);
	check_set(s, want, what);
	if (kdp_masq_set_count(s) != n_want) {
		fprintf(stderr, "ipmasq %s: %u prefixes, want %u\n", what,
			kdp_masq_set_count(s), n_want);
		CU_FAIL("wrong number of prefixes");
	}
	CU_ASSERT(kdp_masq_set_count(s) <= size);
	/* Always first: the native routing CIDR, then the node IPs. */
	CU_ASSERT_EQUAL(s->entries[0].prefix, IP4(172, 20, 0, 0));
	CU_ASSERT_EQUAL(s->entries[0].depth, 16);
	CU_ASSERT_EQUAL(s->entries[0].reason, KDP_MASQ_R_NATIVE_CIDR);
	CU_ASSERT_EQUAL(s->entries[2].prefix, IP4(192, 168, 10, 101));
	CU_ASSERT_EQUAL(s->entries[2].depth, 32);
	CU_ASSERT_EQUAL(s->entries[2].reason, KDP_MASQ_R_NODE_IP);
	return s;
}

static void test_ipmasq_semantics(void)
{
	static const struct {
		const char *text; /* NULL: no config at all */
		const char *want;
		unsigned int n;   /* prefixes in the set */
	} t[] = {
		{NULL, W_AGENT_OFF, 3},
		{"", W_DEFAULTS, 15},
		{"  \n\t\n", W_DEFAULTS, 15},
		{"# ip-masq-agent config\n\n   # nothing set\n", W_DEFAULTS, 15},
		{"---\n# only a document marker\n", W_DEFAULTS, 15},
		{"{}", W_LINK_LOCAL_ONLY, 4},
		{"{\"masqLinkLocal\":false}", W_LINK_LOCAL_ONLY, 4},
		{"{\"masqLinkLocal\":true}", W_AGENT_OFF, 3},
		{"{\"nonMasqueradeCIDRs\":[]}", W_LINK_LOCAL_ONLY, 4},
		{"{\"nonMasqueradeCIDRs\":null}", W_LINK_LOCAL_ONLY, 4},
		{"{\"resyncInterval\":\"60s\"}", W_LINK_LOCAL_ONLY, 4},
		{"{\"nonMasqueradeCIDRs\":[\"10.10.1.0/24\",\"10.10.2.0/24\"]}",
		 W_TWO_CIDRS, 6},
		{"{\"nonMasqueradeCIDRs\":[\"10.10.1.0/24\",\"10.10.2.0/24\"],"
		 "\"masqLinkLocal\":false}", W_TWO_CIDRS, 6},
		{"{\"nonMasqueradeCIDRs\":[\"10.10.1.0/24\",\"10.10.2.0/24\"],"
		 "\"masqLinkLocal\":true,\"resyncInterval\":\"60s\"}",
		 W_TWO_CIDRS_MASQ_LL, 5},
		/* The same in the ConfigMap's YAML. */
		{"masqLinkLocal: false\n", W_LINK_LOCAL_ONLY, 4},
		{"masqLinkLocal: true\n", W_AGENT_OFF, 3},
		{"resyncInterval: 60s\n", W_LINK_LOCAL_ONLY, 4},
		{"nonMasqueradeCIDRs: []\n", W_LINK_LOCAL_ONLY, 4},
		{"nonMasqueradeCIDRs:\nmasqLinkLocal: false\n", W_LINK_LOCAL_ONLY, 4},
		{"nonMasqueradeCIDRs:\n- 10.10.1.0/24\n- 10.10.2.0/24\n", W_TWO_CIDRS, 6},
		{"# lab\nnonMasqueradeCIDRs:\n  - 10.10.1.0/24   # router 1\n"
		 "  - \"10.10.2.0/24\"\n\nmasqLinkLocal: false\nresyncInterval: 60s\n",
		 W_TWO_CIDRS, 6},
		{"nonMasqueradeCIDRs: [10.10.1.0/24, '10.10.2.0/24']\r\n"
		 "masqLinkLocal: true\r\n", W_TWO_CIDRS_MASQ_LL, 5},
		{"masqLinkLocal: True\nnonMasqueradeCIDRs:\n    - 10.10.1.0/24\n"
		 "    - 10.10.2.0/24\nresyncInterval: \"1m\"\n", W_TWO_CIDRS_MASQ_LL, 5},
		/* Indented as a whole (keys in one column), JSON-style quoted keys. */
		{"  \"nonMasqueradeCIDRs\":\n  - 10.10.1.0/24\n  - 10.10.2.0/24\n",
		 W_TWO_CIDRS, 6},
	};
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		static struct kdp_ipmasq cfg, back;
		char err[KDP_ERR_LEN] = "", what[32];
		struct kdp_masq_set *s;
		json_t *j;

		snprintf(what, sizeof(what), "case %zu", i);
		if (t[i].text == NULL) {
			s = build_lab(NULL, t[i].want, t[i].n, what);
			kdp_masq_set_free(s);
			memset(&cfg, 0, sizeof(cfg));
			s = build_lab(&cfg, t[i].want, t[i].n, what); /* !present */
			j = kdp_ipmasq_json(&cfg);
			CU_ASSERT(json_is_null(j));
			json_decref(j);
			kdp_masq_set_free(s);
			continue;
		}
		if (kdp_ipmasq_parse(t[i].text, strlen(t[i].text), &cfg, err) != 0) {
			fprintf(stderr, "ipmasq %s: %s\n", what, err);
			CU_FAIL("config rejected");
			continue;
		}
		CU_ASSERT(cfg.present);
		CU_ASSERT_EQUAL(cfg.empty, strcmp(t[i].want, W_DEFAULTS) == 0);
		s = build_lab(&cfg, t[i].want, t[i].n, what);
		kdp_masq_set_free(s);

		/* GET gives back a config that builds the same set. */
		j = kdp_ipmasq_json(&cfg);
		CU_ASSERT_FATAL(j != NULL);
		CU_ASSERT_EQUAL(kdp_ipmasq_parse_json(j, "ipMasqAgent", &back, err), 0);
		CU_ASSERT_EQUAL(back.empty, cfg.empty);
		CU_ASSERT_EQUAL(back.has_cidrs, cfg.has_cidrs);
		CU_ASSERT_EQUAL(back.n_cidrs, cfg.n_cidrs);
		s = build_lab(&back, t[i].want, t[i].n, what);
		kdp_masq_set_free(s);
		json_decref(j);
	}
}

/* The exact listing of the empty config and of the lab's config. */
static void test_ipmasq_listing(void)
{
	static struct kdp_ipmasq cfg;
	static const char *lab_cfg =
		"{\"nonMasqueradeCIDRs\":[\"10.10.1.0/24\",\"10.10.2.0/24\"],"
		"\"masqLinkLocal\":false}";
	static const char *const empty_list[] = {
		"172.20.0.0/16 native-routing-cidr", "192.168.10.100/32 node-ip",
		"192.168.10.101/32 node-ip", "10.0.0.0/8 default-reserved",
		"172.16.0.0/12 default-reserved", "192.168.0.0/16 default-reserved",
		"100.64.0.0/10 default-reserved", "192.0.0.0/24 default-reserved",
		"192.0.2.0/24 default-reserved", "192.88.99.0/24 default-reserved",
		"198.18.0.0/15 default-reserved", "198.51.100.0/24 default-reserved",
		"203.0.113.0/24 default-reserved", "240.0.0.0/4 default-reserved",
		"169.254.0.0/16 link-local",
	};
	static const char *const lab_list[] = {
		"172.20.0.0/16 native-routing-cidr", "192.168.10.100/32 node-ip",
		"192.168.10.101/32 node-ip", "10.10.1.0/24 config",
		"10.10.2.0/24 config", "169.254.0.0/16 link-local",
	};
	char err[KDP_ERR_LEN], line[64], b[KDP_ADDR_STRLEN];
	struct kdp_masq_set *s;
	json_t *j, *want;

	CU_ASSERT_EQUAL_FATAL(kdp_ipmasq_parse("", 0, &cfg, err), 0);
	s = build_lab(&cfg, W_DEFAULTS, RTE_DIM(empty_list), "empty listing");
	for (uint32_t i = 0; i < kdp_masq_set_count(s) && i < RTE_DIM(empty_list); i++) {
		snprintf(line, sizeof(line), "%s %s",
			 kdp_addr_fmt_prefix(s->entries[i].prefix, s->entries[i].depth,
					     b, sizeof(b)),
			 kdp_masq_reason_name(s->entries[i].reason));
		CU_ASSERT_STRING_EQUAL(line, empty_list[i]);
	}
	kdp_masq_set_free(s);
	j = kdp_ipmasq_json(&cfg);
	CU_ASSERT(json_is_string(j) && json_string_length(j) == 0);
	json_decref(j);

	CU_ASSERT_EQUAL_FATAL(kdp_ipmasq_parse(lab_cfg, strlen(lab_cfg), &cfg, err), 0);
	s = build_lab(&cfg, W_TWO_CIDRS, RTE_DIM(lab_list), "lab listing");
	for (uint32_t i = 0; i < kdp_masq_set_count(s) && i < RTE_DIM(lab_list); i++) {
		snprintf(line, sizeof(line), "%s %s",
			 kdp_addr_fmt_prefix(s->entries[i].prefix, s->entries[i].depth,
					     b, sizeof(b)),
			 kdp_masq_reason_name(s->entries[i].reason));
		CU_ASSERT_STRING_EQUAL(line, lab_list[i]);
	}
	kdp_masq_set_free(s);
	/* GET /v1/ipmasq gives the agent's keys back. */
	j = kdp_ipmasq_json(&cfg);
	want = json_loads(lab_cfg, 0, NULL);
	CU_ASSERT(json_equal(j, want));
	json_decref(j);
	json_decref(want);

	/* A node IP given twice is listed once. */
	{
		const uint32_t nodes[] = {IP4(10, 10, 1, 5), IP4(10, 10, 1, 5)};
		s = kdp_masq_set_create("test_ipmasq_dup", 8, 0);
		CU_ASSERT_FATAL(s != NULL);
		CU_ASSERT_EQUAL(kdp_ipmasq_build(&cfg, NATIVE, nodes, 2, s), 0);
		CU_ASSERT_EQUAL(kdp_masq_set_count(s), 5);
		CU_ASSERT(kdp_masq_set_contains(s, IP4(10, 10, 1, 5)));
		kdp_masq_set_free(s);
	}
	/* Too small a set: -ENOSPC, nothing silently missing. */
	s = kdp_masq_set_create("test_ipmasq_small", 4, 0);
	CU_ASSERT_FATAL(s != NULL);
	CU_ASSERT_EQUAL(kdp_ipmasq_build(&cfg, NATIVE, lab_nodes, 2, s), -ENOSPC);
	kdp_masq_set_free(s);
}

static void test_ipmasq_errors(void)
{
	static const struct {
		const char *text, *want;
	} t[] = {
		/* JSON */
		{"{\"nonMasqueradeCIDRs\": [}", "invalid JSON at line 1 column"},
		{"{\"masqLinkLocal\": false,\n \"masqLinkLocal\": true}", "invalid JSON at line 2"},
		{"{\"nonMasqueradeCIDRs\":[]} x", "invalid JSON"},
		{"{\"nonMasqCIDRs\":[\"10.0.0.0/8\"]}", "nonMasqCIDRs: unknown field"},
		{"{\"cidrLimit\":64}", "cidrLimit: unknown field"},
		{"{\"nonMasqueradeCIDRs\":[\"10.10.1.0/24\",\"10.10.2.1/24\"]}",
		 "nonMasqueradeCIDRs[1]: not a CIDR (like 10.10.1.0/24, host bits zero): \"10.10.2.1/24\""},
		{"{\"nonMasqueradeCIDRs\":[\"10.10.1.0\"]}", "nonMasqueradeCIDRs[0]: not a CIDR"},
		{"{\"nonMasqueradeCIDRs\":[\"10.0.0.0/33\"]}", "nonMasqueradeCIDRs[0]: not a CIDR"},
		{"{\"nonMasqueradeCIDRs\":[\"fd00::1/8\"]}", "nonMasqueradeCIDRs[0]: not an IPv6 CIDR"},
		{"nonMasqueradeCIDRs: [10.0.0.0/8, fd00::/8, fd00::x/16]", "line 1: nonMasqueradeCIDRs[2]: not an IPv6 CIDR"},
		{"{\"nonMasqueradeCIDRs\":[\"10.0.0.0/8\", 10]}",
		 "nonMasqueradeCIDRs[1]: expected a CIDR string"},
		{"{\"nonMasqueradeCIDRs\":\"10.0.0.0/8\"}", "nonMasqueradeCIDRs: expected an array"},
		{"{\"masqLinkLocal\":\"yes\"}", "masqLinkLocal: expected true or false"},
		{"{\"masqLinkLocalIPv6\":1}", "masqLinkLocalIPv6: expected true or false"},
		{"{\"resyncInterval\":60}", "resyncInterval: expected a string"},
		/* YAML */
		{"nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  - 10.0.0.300/8\n",
		 "line 3: nonMasqueradeCIDRs[1]: not a CIDR"},
		{"# lab\nnonMasqueradeCIDRs:\n- 10.10.1.1/24\n",
		 "line 3: nonMasqueradeCIDRs[0]: not a CIDR (like 10.10.1.0/24, host bits zero): \"10.10.1.1/24\""},
		{"nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n  -\n", "line 3: nonMasqueradeCIDRs[1]: empty list item"},
		{"nonMasqueradeCIDRs:\n- \"10.0.0.0/8\n", "line 2: nonMasqueradeCIDRs[0]: unterminated quote"},
		{"nonMasqueradeCIDRs:\n  - 10.0.0.0/8\n    - 10.1.0.0/16\n",
		 "line 3: list items must be indented alike"},
		{"nonMasqueradeCIDRs: [10.0.0.0/8, 192.168.1.0/16]",
		 "line 1: nonMasqueradeCIDRs[1]: not a CIDR"},
		{"nonMasqueradeCIDRs: [10.0.0.0/8,,192.168.0.0/16]",
		 "line 1: nonMasqueradeCIDRs[1]: empty list item"},
		{"nonMasqueradeCIDRs: [10.0.0.0/8,\n  192.168.0.0/16]",
		 "line 1: nonMasqueradeCIDRs: a [...] list must end on the same line"},
		{"nonMasqueradeCIDRs: 10.0.0.0/8\n", "line 1: nonMasqueradeCIDRs: expected a list"},
		{"masqLinkLocal: false\nnonMasqCIDRs:\n- 10.0.0.0/8\n", "line 2: nonMasqCIDRs: unknown field"},
		{"masqLinkLocal: false\n\n# x\nfoo: bar\n", "line 4: foo: unknown field"},
		{"masqLinkLocal: yes\n", "line 1: masqLinkLocal: expected true or false, got \"yes\""},
		{"masqLinkLocal: \"true\"\n", "line 1: masqLinkLocal: expected true or false"},
		{"masqLinkLocal:\n", "line 1: masqLinkLocal: expected true or false"},
		{"masqLinkLocal: true\nmasqLinkLocal: false\n", "line 2: masqLinkLocal: given twice"},
		{"- 10.0.0.0/8\n", "line 1: a list item belongs to no key"},
		{"masqLinkLocal: false\n- 10.0.0.0/8\n", "line 2: a list item belongs to no key"},
		{"nonMasqueradeCIDRs: []\n- 10.0.0.0/8\n", "line 2: a list item belongs to no key"},
		{"masqLinkLocal: true\n  resyncInterval: 60s\n", "line 2: unexpected indentation"},
		{"nonMasqueradeCIDRs:\n\t- 10.0.0.0/8\n", "line 2: tabs are not allowed"},
		{"resyncInterval:\n", "line 1: resyncInterval: expected a duration"},
		{"masqLinkLocal:false\n", "line 1: expected \"key: value\""},
		{"hello\n", "line 1: expected \"key: value\""},
		{"# comment\n{\"masqLinkLocal\": true}\n", "line 2: expected \"key: value\""},
	};
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		static struct kdp_ipmasq cfg;
		char err[KDP_ERR_LEN] = "";
		int ret = kdp_ipmasq_parse(t[i].text, strlen(t[i].text), &cfg, err);

		CU_ASSERT_EQUAL(ret, -EINVAL);
		CU_ASSERT_FALSE(cfg.present); /* a bad config is no config */
		if (strstr(err, t[i].want) == NULL) {
			fprintf(stderr, "ipmasq error case %zu: got '%s', want '%s'\n", i,
				err, t[i].want);
			CU_FAIL("wrong ipmasq error");
		}
	}
}

/* The config inside a JSON document: an object, or the file text. */
static void test_ipmasq_parse_json(void)
{
	static const struct {
		const char *json, *want; /* want NULL: accepted */
		bool empty;
		unsigned int n;
	} t[] = {
		{"{\"nonMasqueradeCIDRs\":[\"10.10.1.0/24\"]}", NULL, false, 1},
		{"\"\"", NULL, true, 0},
		{"\"# none\\n\"", NULL, true, 0},
		{"\"nonMasqueradeCIDRs:\\n- 10.0.0.0/8\\n- 192.168.0.0/16\\n\"", NULL, false, 2},
		{"{\"nonMasqueradeCIDRs\":[\"x\"]}", "ipMasqAgent.nonMasqueradeCIDRs[0]: not a CIDR", false, 0},
		{"{\"colour\":1}", "ipMasqAgent.colour: unknown field", false, 0},
		{"\"foo: 1\\n\"", "ipMasqAgent: line 1: foo: unknown field", false, 0},
		{"\"{\\\"masqLinkLocal\\\": 1}\"", "ipMasqAgent: masqLinkLocal: expected true or false", false, 0},
		{"3", "ipMasqAgent: expected an object", false, 0},
		{"[]", "ipMasqAgent: expected an object", false, 0},
	};
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		static struct kdp_ipmasq cfg;
		char err[KDP_ERR_LEN] = "";
		json_t *j = json_loads(t[i].json, JSON_DECODE_ANY, NULL);
		int ret;

		CU_ASSERT_FATAL(j != NULL);
		ret = kdp_ipmasq_parse_json(j, "ipMasqAgent", &cfg, err);
		json_decref(j);
		if (t[i].want == NULL) {
			CU_ASSERT_EQUAL(ret, 0);
			CU_ASSERT(cfg.present);
			CU_ASSERT_EQUAL(cfg.empty, t[i].empty);
			CU_ASSERT_EQUAL(cfg.n_cidrs, t[i].n);
			continue;
		}
		CU_ASSERT_EQUAL(ret, -EINVAL);
		CU_ASSERT_FALSE(cfg.present);
		if (strstr(err, t[i].want) == NULL) {
			fprintf(stderr, "ipmasq json case %zu: got '%s', want '%s'\n", i,
				err, t[i].want);
			CU_FAIL("wrong ipmasq error");
		}
	}
}

void test_register_masq(void)
{
	CU_pSuite s = CU_add_suite("masq", NULL, NULL);
	CU_add_test(s, "prefix table: first/last/outside, overlaps, /32", test_set_table);
	CU_add_test(s, "0.0.0.0/0, duplicates, limits", test_set_default_route_and_limits);
	CU_add_test(s, "removal is a rebuild without the prefix", test_set_rebuild_without);
	CU_add_test(s, "bulk lookup equals single lookups", test_set_bulk);
	CU_add_test(s, "3,000 random prefixes equal a linear scan", test_set_random_vs_linear);
	s = CU_add_suite("ipmasq", NULL, NULL);
	CU_add_test(s, "what each config puts in the set", test_ipmasq_semantics);
	CU_add_test(s, "exact listings", test_ipmasq_listing);
	CU_add_test(s, "every bad config is named", test_ipmasq_errors);
	CU_add_test(s, "config inside JSON", test_ipmasq_parse_json);
	CU_add_test(s, "IPv6 set: trie equals a linear scan over 3,000 prefixes", test_set6_trie);
	CU_add_test(s, "IPv6: what each config puts in the set", test_ipmasq6_semantics);
}

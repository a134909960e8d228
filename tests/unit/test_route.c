/* SPDX-License-Identifier: BSD-3-Clause */
/* Route stage: longest prefix wins, default route, replacement, bulk. */
#include <rte_errno.h>

#include "route/kdp_route.h"
#include "test_util.h"

static struct kdp_route_table *lab_table(void)
{
	struct kdp_route_table *rt = kdp_route_create("test_rt", 64, 0);
	struct kdp_nexthop nh = {.type = KDP_NH_VIA, .port = 0,
				 .gw = IP4(192, 168, 10, 200)};

	CU_ASSERT_FATAL(rt != NULL);
	CU_ASSERT_EQUAL(kdp_route_add(rt, 0, 0, KDP_RK_GATEWAY, &nh, ""), 0);
	nh.type = KDP_NH_CONNECTED;
	CU_ASSERT_EQUAL(kdp_route_add(rt, IP4(192, 168, 10, 100), 24,
				      KDP_RK_CONNECTED, &nh, ""), 0);
	nh.type = KDP_NH_VIA;
	nh.gw = IP4(192, 168, 10, 101);
	CU_ASSERT_EQUAL(kdp_route_add(rt, IP4(172, 20, 0, 0), 24,
				      KDP_RK_REMOTE_NODE, &nh, "k8s-w1"), 0);
	nh.type = KDP_NH_NO_ENDPOINT;
	CU_ASSERT_EQUAL(kdp_route_add(rt, IP4(172, 20, 1, 0), 24,
				      KDP_RK_LOCAL_PODCIDR, &nh, "k8s-ctr"), 0);
	nh.type = KDP_NH_ENDPOINT;
	nh.port = 3;
	CU_ASSERT_EQUAL(kdp_route_add(rt, IP4(172, 20, 1, 236), 32,
				      KDP_RK_ENDPOINT, &nh, "default/curl-pod"), 0);
	return rt;
}

static const struct kdp_nexthop *nh_of(struct kdp_route_table *rt, uint32_t ip)
{
	uint32_t i = kdp_route_lookup(rt, ip);
	return i == KDP_ROUTE_MISS ? NULL : &rt->nh[i];
}

static void test_lpm(void)
{
	struct kdp_route_table *rt = lab_table();

	CU_ASSERT_EQUAL(rt->n_routes, 5);
	CU_ASSERT_EQUAL(nh_of(rt, IP4(172, 20, 1, 236))->type, KDP_NH_ENDPOINT);
	CU_ASSERT_EQUAL(nh_of(rt, IP4(172, 20, 1, 236))->port, 3);
	CU_ASSERT_EQUAL(nh_of(rt, IP4(172, 20, 1, 237))->type, KDP_NH_NO_ENDPOINT);
	CU_ASSERT_EQUAL(nh_of(rt, IP4(172, 20, 0, 130))->gw, IP4(192, 168, 10, 101));
	CU_ASSERT_EQUAL(nh_of(rt, IP4(192, 168, 10, 7))->type, KDP_NH_CONNECTED);
	CU_ASSERT_EQUAL(nh_of(rt, IP4(8, 8, 8, 8))->gw, IP4(192, 168, 10, 200));
	CU_ASSERT_EQUAL(nh_of(rt, IP4(172, 21, 0, 1))->type, KDP_NH_VIA);
	kdp_route_free(rt);
}

static void test_bulk_matches_single(void)
{
	struct kdp_route_table *rt = lab_table();
	uint32_t ips[32], bulk[32];

	for (unsigned int i = 0; i < 32; i++)
		ips[i] = IP4(172, 20, (i & 1), i * 8);
	kdp_route_lookup_bulk(rt, ips, bulk, 32);
	for (unsigned int i = 0; i < 32; i++)
		CU_ASSERT_EQUAL(bulk[i], kdp_route_lookup(rt, ips[i]));
	kdp_route_free(rt);
}

static void test_no_default_and_replace(void)
{
	struct kdp_route_table *rt = kdp_route_create("test_rt2", 2, 0);
	struct kdp_nexthop nh = {.type = KDP_NH_VIA, .gw = 1};

	CU_ASSERT_FATAL(rt != NULL);
	CU_ASSERT_EQUAL(kdp_route_lookup(rt, IP4(1, 2, 3, 4)), KDP_ROUTE_MISS);
	CU_ASSERT_EQUAL(kdp_route_add(rt, IP4(10, 0, 0, 0), 8, KDP_RK_GATEWAY, &nh, ""), 0);
	nh.gw = 2;
	/* Same prefix (host bits ignored): replaces, no new slot. */
	CU_ASSERT_EQUAL(kdp_route_add(rt, IP4(10, 9, 9, 9), 8, KDP_RK_GATEWAY, &nh, ""), 0);
	CU_ASSERT_EQUAL(rt->n_routes, 1);
	CU_ASSERT_EQUAL(nh_of(rt, IP4(10, 1, 1, 1))->gw, 2);
	CU_ASSERT_EQUAL(kdp_route_add(rt, IP4(11, 0, 0, 0), 8, KDP_RK_GATEWAY, &nh, ""), 0);
	CU_ASSERT_EQUAL(kdp_route_add(rt, IP4(12, 0, 0, 0), 8, KDP_RK_GATEWAY, &nh, ""),
			-ENOSPC);
	CU_ASSERT_EQUAL(kdp_route_add(rt, IP4(12, 0, 0, 0), 33, KDP_RK_GATEWAY, &nh, ""),
			-EINVAL);
	kdp_route_free(rt);
	CU_ASSERT_PTR_NULL(kdp_route_create("test_rt3", 0, 0));
	CU_ASSERT_EQUAL(rte_errno, EINVAL);
}

/* ---- IPv6 ---- */

static const struct kdp_nexthop6 *nh6_of(struct kdp_route6_table *rt, const char *ip)
{
	struct kdp_in6 a = test_ip6(ip);
	uint32_t i = kdp_route6_lookup(rt, &a);
	return i == KDP_ROUTE_MISS ? NULL : &rt->nh[i];
}

static void test6_lpm(void)
{
	struct kdp_route6_table *rt = kdp_route6_create("test_rt6", 64, 0);
	struct kdp_nexthop6 nh = {.type = KDP_NH_VIA, .port = 0};
	struct kdp_in6 p;
	struct kdp_in6 ips[32];
	uint32_t bulk[32];

	CU_ASSERT_FATAL(rt != NULL);
	CU_ASSERT_PTR_NULL(nh6_of(rt, "2001:db8::1")); /* no default yet */
	nh.gw = test_ip6("fe80::200");
	p = test_ip6("::");
	CU_ASSERT_EQUAL(kdp_route6_add(rt, &p, 0, KDP_RK_GATEWAY, &nh, ""), 0);
	nh.type = KDP_NH_CONNECTED;
	p = test_ip6("fd00:10::100"); /* host bits are cleared */
	CU_ASSERT_EQUAL(kdp_route6_add(rt, &p, 64, KDP_RK_CONNECTED, &nh, ""), 0);
	nh.type = KDP_NH_VIA;
	nh.gw = test_ip6("fd00:10::101");
	p = test_ip6("fd00:20::");
	CU_ASSERT_EQUAL(kdp_route6_add(rt, &p, 64, KDP_RK_REMOTE_NODE, &nh, "k8s-w1"), 0);
	nh.type = KDP_NH_NO_ENDPOINT;
	p = test_ip6("fd00:20:0:1::");
	CU_ASSERT_EQUAL(kdp_route6_add(rt, &p, 64, KDP_RK_LOCAL_PODCIDR, &nh, "k8s-ctr"), 0);
	nh.type = KDP_NH_ENDPOINT;
	nh.port = 3;
	p = test_ip6("fd00:20:0:1::236");
	CU_ASSERT_EQUAL(kdp_route6_add(rt, &p, 128, KDP_RK_ENDPOINT, &nh, "default/curl-pod"), 0);
	CU_ASSERT_EQUAL(kdp_route6_add(rt, &p, 129, KDP_RK_ENDPOINT, &nh, ""), -EINVAL);
	CU_ASSERT_EQUAL(rt->n_routes, 5);
	CU_ASSERT_EQUAL(rt->routes[1].depth, 64);
	CU_ASSERT(kdp_addr6_eq(&rt->routes[1].prefix, &(struct kdp_in6){{0xfd, 0, 0, 0x10}}));
	CU_ASSERT_EQUAL(nh6_of(rt, "fd00:20:0:1::236")->type, KDP_NH_ENDPOINT);
	CU_ASSERT_EQUAL(nh6_of(rt, "fd00:20:0:1::236")->port, 3);
	CU_ASSERT_EQUAL(nh6_of(rt, "fd00:20:0:1::237")->type, KDP_NH_NO_ENDPOINT);
	p = test_ip6("fd00:10::101");
	CU_ASSERT(kdp_addr6_eq(&nh6_of(rt, "fd00:20::130")->gw, &p));
	CU_ASSERT_EQUAL(nh6_of(rt, "fd00:10::7")->type, KDP_NH_CONNECTED);
	p = test_ip6("fe80::200");
	CU_ASSERT(kdp_addr6_eq(&nh6_of(rt, "2001:db8::1")->gw, &p));
	/* A later route for the same prefix replaces the earlier one. */
	nh.type = KDP_NH_VIA;
	nh.gw = test_ip6("fd00:10::102");
	p = test_ip6("fd00:20::");
	CU_ASSERT_EQUAL(kdp_route6_add(rt, &p, 64, KDP_RK_REMOTE_NODE, &nh, "k8s-w2"), 0);
	CU_ASSERT_EQUAL(rt->n_routes, 5);
	p = test_ip6("fd00:10::102");
	CU_ASSERT(kdp_addr6_eq(&nh6_of(rt, "fd00:20::130")->gw, &p));
	/* Bulk equals single. */
	for (unsigned int i = 0; i < 32; i++) {
		ips[i] = test_ip6("fd00:20::");
		ips[i].b[7] = (uint8_t)(i & 1);
		ips[i].b[15] = (uint8_t)(i * 8);
	}
	ips[5] = test_ip6("2001:db8::5");
	kdp_route6_lookup_bulk(rt, ips, bulk, 32);
	for (unsigned int i = 0; i < 32; i++)
		CU_ASSERT_EQUAL(bulk[i], kdp_route6_lookup(rt, &ips[i]));
	kdp_route6_free(rt);
}

void test_register_route(void)
{
	CU_pSuite s = CU_add_suite("route", NULL, NULL);
	CU_add_test(s, "IPv6: rte_lpm6 longest prefix, default, replacement, bulk", test6_lpm);
	CU_add_test(s, "longest prefix match on the lab routes", test_lpm);
	CU_add_test(s, "bulk lookup equals single lookups", test_bulk_matches_single);
	CU_add_test(s, "no default, replacement, full table", test_no_default_and_replace);
}

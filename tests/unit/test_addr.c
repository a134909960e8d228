/* SPDX-License-Identifier: BSD-3-Clause */
/* Text forms of addresses: strict parsing. */
#include <errno.h>
#include "common/kdp_addr.h"
#include "test_util.h"

static void test_ip(void)
{
	static const struct {
		const char *s;
		int ok;
		uint32_t ip;
	} t[] = {
		{"192.168.10.101", 1, IP4(192, 168, 10, 101)},
		{"0.0.0.0", 1, 0},
		{"255.255.255.255", 1, 0xffffffff},
		{"300.1.1.1", 0, 0},
		{"1.2.3", 0, 0},
		{"1.2.3.4.5", 0, 0},
		{"01.2.3.4", 0, 0},
		{"1.2.3.4 ", 0, 0},
		{"", 0, 0},
		{"a.b.c.d", 0, 0},
		{"1..2.3", 0, 0},
		{"1234.1.1.1", 0, 0},
	};
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		uint32_t ip = 0;
		int ret = kdp_addr_parse_ip(t[i].s, &ip);
		CU_ASSERT_EQUAL(ret == 0, t[i].ok);
		if (t[i].ok)
			CU_ASSERT_EQUAL(ip, t[i].ip);
	}
}

static void test_prefix(void)
{
	uint32_t ip;
	uint8_t d;
	char buf[KDP_ADDR_STRLEN];

	CU_ASSERT_EQUAL(kdp_addr_parse_prefix("172.20.0.0/24", &ip, &d, true), 0);
	CU_ASSERT_EQUAL(ip, IP4(172, 20, 0, 0));
	CU_ASSERT_EQUAL(d, 24);
	CU_ASSERT_STRING_EQUAL(kdp_addr_fmt_prefix(ip, d, buf, sizeof(buf)),
			       "172.20.0.0/24");
	CU_ASSERT_EQUAL(kdp_addr_parse_prefix("172.20.0.1/24", &ip, &d, true), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr_parse_prefix("192.168.10.100/24", &ip, &d, false), 0);
	CU_ASSERT_EQUAL(ip, IP4(192, 168, 10, 100));
	CU_ASSERT_EQUAL(kdp_addr_parse_prefix("0.0.0.0/0", &ip, &d, true), 0);
	CU_ASSERT_EQUAL(d, 0);
	CU_ASSERT_EQUAL(kdp_addr_parse_prefix("10.0.0.0/33", &ip, &d, true), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr_parse_prefix("10.0.0.0", &ip, &d, true), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr_parse_prefix("10.0.0.0/", &ip, &d, true), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr_parse_prefix("10.0.0.0/08", &ip, &d, true), -EINVAL);
	CU_ASSERT(kdp_addr_overlap(IP4(172, 20, 0, 0), 16, IP4(172, 20, 1, 0), 24));
	CU_ASSERT(!kdp_addr_overlap(IP4(172, 20, 0, 0), 24, IP4(172, 20, 1, 0), 24));
	CU_ASSERT(kdp_addr_overlap(0, 0, IP4(1, 2, 3, 4), 32));
}

static void test_mac(void)
{
	struct rte_ether_addr m;

	CU_ASSERT_EQUAL(kdp_addr_parse_mac("02:00:AC:14:01:ec", &m), 0);
	CU_ASSERT_EQUAL(m.addr_bytes[0], 0x02);
	CU_ASSERT_EQUAL(m.addr_bytes[5], 0xec);
	CU_ASSERT_EQUAL(kdp_addr_parse_mac("02:00:ac:14:01", &m), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr_parse_mac("02-00-ac-14-01-ec", &m), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr_parse_mac("02:00:ac:14:01:eg", &m), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr_parse_mac("02:00:ac:14:01:ec:", &m), -EINVAL);
}

static void test_addr6(void)
{
	struct kdp_in6 a, b, n;
	char buf[KDP_ADDR6_STRLEN];
	uint8_t d;

	CU_ASSERT_EQUAL(kdp_addr6_parse("fd00:10::100", &a), 0);
	CU_ASSERT_EQUAL(a.b[0], 0xfd);
	CU_ASSERT_EQUAL(a.b[3], 0x10);
	CU_ASSERT_EQUAL(a.b[14], 0x01);
	/* Any RFC 4291 form in, the RFC 5952 one out. */
	CU_ASSERT_EQUAL(kdp_addr6_parse("FD00:0010:0:0:0:0:0:0100", &b), 0);
	CU_ASSERT(kdp_addr6_eq(&a, &b));
	CU_ASSERT_STRING_EQUAL(kdp_addr6_fmt(&b, buf, sizeof(buf)), "fd00:10::100");
	for (const char *const *bad = (const char *const[]){"", "fd00::1::2", "192.168.1.1",
							     "fe80::1%eth0", "fd00::g", "fd00::/64",
							     " fd00::1", NULL};
	     *bad; bad++)
		CU_ASSERT_EQUAL(kdp_addr6_parse(*bad, &a), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr6_parse_prefix("fd00:20::/48", &n, &d, true), 0);
	CU_ASSERT_EQUAL(d, 48);
	CU_ASSERT_STRING_EQUAL(kdp_addr6_fmt_prefix(&n, d, buf, sizeof(buf)), "fd00:20::/48");
	CU_ASSERT_EQUAL(kdp_addr6_parse_prefix("fd00:20::1/48", &n, &d, true), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr6_parse_prefix("fd00:20::1/48", &n, &d, false), 0);
	CU_ASSERT_EQUAL(kdp_addr6_parse_prefix("fd00:20::/129", &n, &d, true), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr6_parse_prefix("fd00:20::/048", &n, &d, true), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr6_parse_prefix("fd00:20::", &n, &d, true), -EINVAL);
	CU_ASSERT_EQUAL(kdp_addr6_parse_prefix("::/0", &n, &d, true), 0);
	CU_ASSERT_EQUAL(d, 0);
	/* Masks, membership, overlap. */
	kdp_addr6_parse("fd00:20:0:1::236", &a);
	kdp_addr6_parse("fd00:20::", &n);
	CU_ASSERT(kdp_addr6_in(&a, &n, 48));
	CU_ASSERT(kdp_addr6_in(&a, &n, 63));
	CU_ASSERT_FALSE(kdp_addr6_in(&a, &n, 64));
	b = a;
	kdp_addr6_mask(&b, 61);
	CU_ASSERT_STRING_EQUAL(kdp_addr6_fmt(&b, buf, sizeof(buf)), "fd00:20::");
	CU_ASSERT(kdp_addr6_overlap(&a, 128, &n, 48));
	CU_ASSERT_FALSE(kdp_addr6_overlap(&a, 128, &n, 64));
	/* Kinds of address. */
	kdp_addr6_parse("fe80::1", &a);
	CU_ASSERT(kdp_addr6_link_local(&a));
	CU_ASSERT_FALSE(kdp_addr6_not_host(&a));
	kdp_addr6_parse("febf::1", &a);
	CU_ASSERT(kdp_addr6_link_local(&a));
	kdp_addr6_parse("fec0::1", &a);
	CU_ASSERT_FALSE(kdp_addr6_link_local(&a));
	for (const char *const *nh = (const char *const[]){"::", "::1", "ff02::1", "::ffff:10.0.0.1",
							    NULL};
	     *nh; nh++) {
		CU_ASSERT_EQUAL(kdp_addr6_parse(*nh, &a), 0);
		CU_ASSERT(kdp_addr6_not_host(&a));
	}
	CU_ASSERT_EQUAL(kdp_addr_family("10.0.0.1"), 4);
	CU_ASSERT_EQUAL(kdp_addr_family("fd00::1"), 6);
	CU_ASSERT_EQUAL(kdp_addr_family("web"), 0);
}

void test_register_addr(void)
{
	CU_pSuite s = CU_add_suite("addr", NULL, NULL);
	CU_add_test(s, "IPv4 addresses", test_ip);
	CU_add_test(s, "prefixes", test_prefix);
	CU_add_test(s, "MAC addresses", test_mac);
	CU_add_test(s, "IPv6 addresses and prefixes", test_addr6);
}

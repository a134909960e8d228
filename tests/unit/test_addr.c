/* SPDX-License-Identifier: BSD-3-Clause */
/* Text forms of addresses: strict parsing. */
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

void test_register_addr(void)
{
	CU_pSuite s = CU_add_suite("addr", NULL, NULL);
	CU_add_test(s, "IPv4 addresses", test_ip);
	CU_add_test(s, "prefixes", test_prefix);
	CU_add_test(s, "MAC addresses", test_mac);
}

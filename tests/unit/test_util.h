/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared helpers of the CUnit suites: EAL, a mempool, crafted packets. */
#ifndef KDP_TEST_UTIL_H
#define KDP_TEST_UTIL_H

#include <stdint.h>
#include <CUnit/CUnit.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

#include "common/kdp_addr.h"

extern struct rte_mempool *test_pool;

/** Addresses in host order, a.b.c.d. */
#define IP4(a, b, c, d) (((uint32_t)(a) << 24) | ((b) << 16) | ((c) << 8) | (d))

struct test_pkt {
	struct rte_ether_addr src_mac, dst_mac;
	uint32_t src, dst; /* host order */
	uint8_t proto;     /* IPPROTO_UDP, _TCP, _ICMP */
	uint8_t ttl;
	uint16_t sport, dport; /* UDP/TCP ports; ICMP: id, seq */
	uint8_t icmp_type;
	uint16_t payload;   /* payload bytes after the L4 header */
	uint16_t frag;      /* fragment_offset field, host order (flags too) */
};

/** Builds a valid frame (checksums right) into a new mbuf. */
struct rte_mbuf *test_pkt_make(const struct test_pkt *p);

struct test_pkt6 {
	struct rte_ether_addr src_mac, dst_mac;
	struct kdp_in6 src, dst;
	uint8_t proto;      /* IPPROTO_UDP, _TCP, _ICMPV6 (default) */
	uint8_t hop;        /* 0: 64 */
	uint16_t sport, dport; /* UDP/TCP ports; ICMPv6 echo: id, seq */
	uint8_t icmp_type;  /* 0: echo request */
	uint8_t tcp_flags;  /* 0: SYN */
	uint16_t payload;
	/* Extension headers, already encoded (their last next-header byte
	 * must name proto); ext_first is the IPv6 header's next header. */
	const uint8_t *ext;
	uint16_t ext_len;
	uint8_t ext_first;
};

/** An IPv6 address from text (the test fails on a bad one). */
struct kdp_in6 test_ip6(const char *s);

/** Builds a valid IPv6 frame (L4 checksum right) into a new mbuf. */
struct rte_mbuf *test_pkt6_make(const struct test_pkt6 *p);

/** True when the L4 checksum of parsed IPv6 frame @p m is right. */
int test_l4_csum6_ok(struct rte_mbuf *m);

/** A frame of raw bytes in a new mbuf. */
struct rte_mbuf *test_pkt_raw(const void *data, uint16_t len);

/** True when the IPv4 header checksum of frame @p m is right. */
int test_ip_csum_ok(struct rte_mbuf *m);

/** True when the L4 (ICMP) checksum over @p len bytes at @p off is right. */
int test_icmp_csum_ok(struct rte_mbuf *m, uint16_t off, uint16_t len);

void test_register_parse(void);
void test_register_route(void);
void test_register_neigh(void);
void test_register_pipeline(void);
void test_register_pipeline6(void);
void test_register_config(void);
void test_register_addr(void);
void test_register_maglev(void);
void test_register_masq(void);
void test_register_ct(void);
void test_register_svc(void);
void test_register_dataplane(void);
void test_register_monitor(void);
void test_register_offload(void);
void test_register_flowstore(void);
void test_register_feid(void);

#endif

/* SPDX-License-Identifier: BSD-3-Clause */
/* Shared helpers of the CUnit suites: EAL, a mempool, crafted packets. */
#ifndef KDP_TEST_UTIL_H
#define KDP_TEST_UTIL_H

#include <stdint.h>
#include <CUnit/CUnit.h>
#include <rte_ether.h>
#include <rte_mbuf.h>

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

#endif

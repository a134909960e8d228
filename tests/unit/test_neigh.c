/* SPDX-License-Identifier: BSD-3-Clause */
/* Neighbour table: resolution, bounded queue, ageing with an injected clock. */
#include <string.h>

#include <rte_arp.h>

#include <errno.h>
#include <sys/socket.h>

#include "neigh/kdp_neigh.h"
#include "parse/kdp_parse.h"
#include "test_util.h"

struct calls {
	unsigned int requests, sent, dropped;
	enum kdp_drop last_drop;
	uint32_t last_ip;
	int last_unicast;
	struct rte_ether_addr last_mac;
};

static void on_request(void *ctx, uint16_t port, uint32_t ip,
		       const struct rte_ether_addr *dst)
{
	struct calls *c = ctx;
	c->requests++;
	c->last_ip = ip;
	c->last_unicast = dst != NULL;
}

static void on_send(void *ctx, struct rte_mbuf *m, const struct rte_ether_addr *mac)
{
	struct calls *c = ctx;
	c->sent++;
	c->last_mac = *mac;
	rte_pktmbuf_free(m);
}

static void on_drop(void *ctx, struct rte_mbuf *m, enum kdp_drop reason)
{
	struct calls *c = ctx;
	c->dropped++;
	c->last_drop = reason;
	rte_pktmbuf_free(m);
}

static struct kdp_neigh *make(struct calls *c, uint32_t size)
{
	struct kdp_neigh_params p = {.size = size, .reachable_ms = 30000,
				     .retrans_ms = 1000, .max_probes = 3};
	struct kdp_neigh_ops ops = {on_request, on_send, on_drop, c};

	memset(c, 0, sizeof(*c));
	return kdp_neigh_create("test_neigh", &p, &ops);
}

static struct rte_mbuf *pkt(void)
{
	uint8_t b[60] = {0};
	return test_pkt_raw(b, 60);
}

static uint64_t lookup(struct kdp_neigh *nt, uint32_t ip)
{
	uint64_t mac;
	kdp_neigh_lookup_bulk(nt, &ip, 1, &mac);
	return mac;
}

static const struct rte_ether_addr mac1 = {{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}};
static const struct rte_ether_addr mac2 = {{0x02, 0x66, 0x77, 0x88, 0x99, 0xaa}};

static void test_resolve_flow(void)
{
	struct calls c;
	struct kdp_neigh *nt = make(&c, 64);
	uint32_t gw = IP4(192, 168, 10, 200);
	struct rte_ether_addr got;

	CU_ASSERT_FATAL(nt != NULL);
	CU_ASSERT_EQUAL(lookup(nt, gw), 0);
	/* Misses queue and send one broadcast request. */
	kdp_neigh_resolve(nt, gw, 0, pkt(), 0);
	kdp_neigh_resolve(nt, gw, 0, pkt(), 1);
	CU_ASSERT_EQUAL(c.requests, 1);
	CU_ASSERT_EQUAL(c.last_ip, gw);
	CU_ASSERT_FALSE(c.last_unicast);
	CU_ASSERT_EQUAL(lookup(nt, gw), 0); /* incomplete is still a miss */
	/* The reply flushes both, and the fast path sees the MAC. */
	CU_ASSERT_EQUAL(kdp_neigh_learn(nt, gw, 0, &mac1, false, 5), 0);
	CU_ASSERT_EQUAL(c.sent, 2);
	CU_ASSERT(rte_is_same_ether_addr(&c.last_mac, &mac1));
	kdp_neigh_unpack(lookup(nt, gw), &got);
	CU_ASSERT((lookup(nt, gw) & KDP_NEIGH_VALID) != 0);
	CU_ASSERT(rte_is_same_ether_addr(&got, &mac1));
	/* A later miss (race with the worker) is sent at once. */
	kdp_neigh_resolve(nt, gw, 0, pkt(), 6);
	CU_ASSERT_EQUAL(c.sent, 3);
	/* A new MAC replaces the old one for readers. */
	kdp_neigh_learn(nt, gw, 0, &mac2, false, 7);
	kdp_neigh_unpack(lookup(nt, gw), &got);
	CU_ASSERT(rte_is_same_ether_addr(&got, &mac2));
	CU_ASSERT_EQUAL(nt->count, 1);
	kdp_neigh_free(nt);
}

static void test_queue_bound_and_timeout(void)
{
	struct calls c;
	struct kdp_neigh *nt = make(&c, 64);
	uint32_t ip = IP4(192, 168, 10, 77);

	for (int i = 0; i < KDP_NEIGH_QLEN + 5; i++)
		kdp_neigh_resolve(nt, ip, 0, pkt(), 0);
	CU_ASSERT_EQUAL(c.dropped, 5);
	CU_ASSERT_EQUAL(c.last_drop, KDP_DROP_NEIGH_QUEUE_FULL);
	/* Retransmits at 1 s and 2 s, gives up at 3 s dropping the queue. */
	kdp_neigh_tick(nt, 999);
	CU_ASSERT_EQUAL(c.requests, 1);
	kdp_neigh_tick(nt, 1000);
	CU_ASSERT_EQUAL(c.requests, 2);
	kdp_neigh_tick(nt, 2000);
	CU_ASSERT_EQUAL(c.requests, 3);
	kdp_neigh_tick(nt, 3000);
	CU_ASSERT_EQUAL(c.requests, 3);
	CU_ASSERT_EQUAL(c.dropped, 5 + KDP_NEIGH_QLEN);
	CU_ASSERT_EQUAL(c.last_drop, KDP_DROP_NEIGH_UNRESOLVED);
	CU_ASSERT_EQUAL(nt->count, 0);
	kdp_neigh_free(nt);
}

static void test_ageing(void)
{
	struct calls c;
	struct kdp_neigh *nt = make(&c, 64);
	uint32_t ip = IP4(192, 168, 10, 101);

	/* An ARP request aimed at us creates the entry. */
	CU_ASSERT_EQUAL(kdp_neigh_learn(nt, ip, 0, &mac1, true, 0), 0);
	/* Not aimed at us: nothing created for an unknown IP. */
	CU_ASSERT_EQUAL(kdp_neigh_learn(nt, IP4(192, 168, 10, 9), 0, &mac2, false, 0), 0);
	CU_ASSERT_EQUAL(nt->count, 1);
	kdp_neigh_tick(nt, 29999);
	CU_ASSERT_EQUAL(c.requests, 0);
	/* After reachable time: still used, probed by unicast. */
	kdp_neigh_tick(nt, 30000);
	CU_ASSERT_EQUAL(c.requests, 1);
	CU_ASSERT(c.last_unicast);
	CU_ASSERT((lookup(nt, ip) & KDP_NEIGH_VALID) != 0);
	/* An answer confirms it again. */
	kdp_neigh_learn(nt, ip, 0, &mac1, false, 30500);
	kdp_neigh_tick(nt, 31500);
	CU_ASSERT_EQUAL(c.requests, 1);
	/* Silence: three probes, then gone. */
	kdp_neigh_tick(nt, 60500);
	kdp_neigh_tick(nt, 61500);
	kdp_neigh_tick(nt, 62500);
	CU_ASSERT_EQUAL(c.requests, 4);
	CU_ASSERT_EQUAL(nt->count, 1);
	kdp_neigh_tick(nt, 63500);
	CU_ASSERT_EQUAL(nt->count, 0);
	CU_ASSERT_EQUAL(lookup(nt, ip), 0);
	kdp_neigh_free(nt);
}

static void test_table_full(void)
{
	struct calls c;
	struct kdp_neigh *nt = make(&c, 8);
	unsigned int ok = 0;

	for (uint32_t i = 1; i <= 64; i++)
		if (kdp_neigh_learn(nt, IP4(10, 0, 0, i), 0, &mac1, true, 0) == 0)
			ok++;
	CU_ASSERT(ok >= 8 && ok < 64);
	kdp_neigh_resolve(nt, IP4(10, 0, 1, 1), 0, pkt(), 0);
	CU_ASSERT_EQUAL(c.last_drop, KDP_DROP_NEIGH_TABLE_FULL);
	kdp_neigh_flush_port(nt, 0);
	CU_ASSERT_EQUAL(nt->count, 0);
	kdp_neigh_free(nt);
}

static void test_arp_frames(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(test_pool);
	struct rte_arp_hdr *a;

	CU_ASSERT_EQUAL(kdp_neigh_arp_build(m, RTE_ARP_OP_REQUEST, &mac1,
					    IP4(192, 168, 10, 100), NULL, NULL,
					    IP4(192, 168, 10, 200)), 0);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 42);
	a = rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, 14);
	CU_ASSERT(rte_is_broadcast_ether_addr(
		&rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr));
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(a->arp_data.arp_tip), IP4(192, 168, 10, 200));
	/* Answer it as if we were 192.168.10.200 with mac2. */
	kdp_neigh_arp_reply_in_place(m, &mac2);
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(a->arp_opcode), RTE_ARP_OP_REPLY);
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(a->arp_data.arp_sip), IP4(192, 168, 10, 200));
	CU_ASSERT_EQUAL(rte_be_to_cpu_32(a->arp_data.arp_tip), IP4(192, 168, 10, 100));
	CU_ASSERT(rte_is_same_ether_addr(&a->arp_data.arp_sha, &mac2));
	CU_ASSERT(rte_is_same_ether_addr(&a->arp_data.arp_tha, &mac1));
	CU_ASSERT(rte_is_same_ether_addr(
		&rte_pktmbuf_mtod(m, struct rte_ether_hdr *)->dst_addr, &mac1));
	rte_pktmbuf_free(m);
}

/* ---- IPv6 ---- */

static struct kdp_in6 last_ip6;

static void on_request6(void *ctx, uint16_t port, const struct kdp_in6 *ip,
			const struct rte_ether_addr *dst)
{
	struct calls *c = ctx;
	c->requests++;
	last_ip6 = *ip;
	c->last_unicast = dst != NULL;
}

static void test6_resolve(void)
{
	struct calls c;
	struct kdp_neigh_params p = {.size = 64, .family = AF_INET6};
	struct kdp_neigh_ops ops = {on_request, on_send, on_drop, &c, on_request6};
	struct kdp_neigh_ops no6 = {on_request, on_send, on_drop, &c, NULL};
	struct kdp_neigh *nt;
	struct kdp_in6 gw = test_ip6("fe80::200"), other = test_ip6("fd00:10::101");
	struct kdp_in6 ips[3];
	uint64_t macs[3];
	struct rte_ether_addr got;

	memset(&c, 0, sizeof(c));
	CU_ASSERT_PTR_NULL(kdp_neigh_create("test_neigh6", &p, &no6)); /* needs request6 */
	nt = kdp_neigh_create("test_neigh6", &p, &ops);
	CU_ASSERT_FATAL(nt != NULL);
	kdp_neigh_resolve6(nt, &gw, 0, pkt(), 0);
	kdp_neigh_resolve6(nt, &gw, 0, pkt(), 1);
	CU_ASSERT_EQUAL(c.requests, 1);
	CU_ASSERT(kdp_addr6_eq(&last_ip6, &gw));
	CU_ASSERT_EQUAL(c.last_unicast, 0);
	ips[0] = gw;
	ips[1] = gw;
	ips[2] = other;
	kdp_neigh_lookup_bulk6(nt, ips, 3, macs);
	CU_ASSERT_EQUAL(macs[0], 0);
	CU_ASSERT_EQUAL(kdp_neigh_learn6(nt, &gw, 0, &mac1, false, 5), 0);
	CU_ASSERT_EQUAL(c.sent, 2); /* the queue went out */
	kdp_neigh_lookup_bulk6(nt, ips, 3, macs);
	CU_ASSERT_EQUAL(macs[0], kdp_neigh_pack(&mac1));
	CU_ASSERT_EQUAL(macs[1], kdp_neigh_pack(&mac1));
	CU_ASSERT_EQUAL(macs[2], 0);
	kdp_neigh_unpack(macs[0], &got);
	CU_ASSERT(rte_is_same_ether_addr(&got, &mac1));
	/* Unsolicited news of a stranger is not taken; of a known one it is. */
	CU_ASSERT_EQUAL(kdp_neigh_learn6(nt, &other, 0, &mac2, false, 6), 0);
	CU_ASSERT_EQUAL(nt->count, 1);
	/* Ageing probes by unicast, then gives up. */
	kdp_neigh_tick(nt, 5 + 30000);
	CU_ASSERT_EQUAL(c.requests, 2);
	CU_ASSERT_EQUAL(c.last_unicast, 1);
	kdp_neigh_tick(nt, 5 + 31000);
	kdp_neigh_tick(nt, 5 + 32000);
	kdp_neigh_tick(nt, 5 + 33000);
	CU_ASSERT_EQUAL(nt->count, 0);
	kdp_neigh_free(nt);
}

static void test6_nd_frames(void)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(test_pool);
	struct kdp_in6 sip = test_ip6("fd00:10::100"), target = test_ip6("fd00:10::200");
	struct kdp_in6 t, src, sol;
	struct rte_ether_addr lla, mc;
	const uint8_t *d;
	uint8_t type, flags;
	bool has;

	CU_ASSERT_FATAL(m != NULL);
	kdp_neigh_nd_solicited(&target, &sol);
	CU_ASSERT(kdp_addr6_eq(&sol, &(struct kdp_in6){{0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0, 2, 0}}));
	kdp_neigh_nd_mcast_mac(&sol, &mc);
	CU_ASSERT(rte_is_same_ether_addr(&mc, &(struct rte_ether_addr){{0x33, 0x33, 0xff, 0, 2, 0}}));
	CU_ASSERT_EQUAL(kdp_neigh_nd_build_ns(m, &mac1, &sip, NULL, &target), 0);
	d = rte_pktmbuf_mtod(m, const uint8_t *);
	CU_ASSERT_EQUAL(rte_pktmbuf_data_len(m), 14 + 40 + 32);
	CU_ASSERT(memcmp(d, &mc, 6) == 0);
	/* It is a valid solicitation (parse checks RFC 4861 and the checksum). */
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(kdp_meta(m)->kind, KDP_PKT_ND);
	CU_ASSERT_EQUAL(kdp_neigh_nd_read(m, &type, &t, &src, &lla, &has, &flags), 0);
	CU_ASSERT_EQUAL(type, 135);
	CU_ASSERT(kdp_addr6_eq(&t, &target));
	CU_ASSERT(kdp_addr6_eq(&src, &sip));
	CU_ASSERT(has);
	CU_ASSERT(rte_is_same_ether_addr(&lla, &mac1));
	/* Answered in place: an advertisement from the target to the solicitor. */
	CU_ASSERT_EQUAL(kdp_neigh_nd_reply_in_place(m, &mac2, true), 0);
	CU_ASSERT_EQUAL(kdp_parse(m), KDP_DROP_NONE);
	CU_ASSERT_EQUAL(kdp_meta(m)->kind, KDP_PKT_ND);
	d = rte_pktmbuf_mtod(m, const uint8_t *);
	CU_ASSERT(memcmp(d, &mac1, 6) == 0);
	CU_ASSERT(memcmp(d + 6, &mac2, 6) == 0);
	CU_ASSERT(memcmp(d + 22, &target, 16) == 0);
	CU_ASSERT(memcmp(d + 38, &sip, 16) == 0);
	CU_ASSERT_EQUAL(kdp_neigh_nd_read(m, &type, &t, &src, &lla, &has, &flags), 0);
	CU_ASSERT_EQUAL(type, 136);
	CU_ASSERT_EQUAL(flags, KDP_ND_NA_ROUTER | KDP_ND_NA_SOLICITED | KDP_ND_NA_OVERRIDE);
	CU_ASSERT(has);
	CU_ASSERT(rte_is_same_ether_addr(&lla, &mac2));
	/* A zero-length option is malformed. */
	rte_pktmbuf_mtod(m, uint8_t *)[54 + 25] = 0;
	CU_ASSERT_EQUAL(kdp_neigh_nd_read(m, &type, &t, &src, &lla, &has, &flags), -EINVAL);
	rte_pktmbuf_free(m);
}

void test_register_neigh(void)
{
	CU_pSuite s = CU_add_suite("neigh", NULL, NULL);
	CU_add_test(s, "resolve, flush, fast-path view", test_resolve_flow);
	CU_add_test(s, "bounded queue and resolution timeout", test_queue_bound_and_timeout);
	CU_add_test(s, "ageing and probing", test_ageing);
	CU_add_test(s, "full table", test_table_full);
	CU_add_test(s, "ARP frames", test_arp_frames);
	CU_add_test(s, "IPv6: resolve, learn, fast-path view, ageing", test6_resolve);
	CU_add_test(s, "IPv6: neighbour solicitation and advertisement frames", test6_nd_frames);
}

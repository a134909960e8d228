/* SPDX-License-Identifier: BSD-3-Clause */
/* CUnit runner: one suite per library, on a small no-hugepage EAL. */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <rte_eal.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "common/kdp_csum.h"
#include "common/kdp_meta.h"
#include "common/kdp_eal.h"
#include "test_util.h"

struct rte_mempool *test_pool;

struct rte_mbuf *test_pkt_raw(const void *data, uint16_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(test_pool);
	char *d;

	CU_ASSERT_FATAL(m != NULL);
	d = rte_pktmbuf_append(m, len);
	CU_ASSERT_FATAL(d != NULL);
	memcpy(d, data, len);
	return m;
}

struct rte_mbuf *test_pkt_make(const struct test_pkt *p)
{
	uint8_t buf[2048];
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv4_hdr *ip = (struct rte_ipv4_hdr *)(eth + 1);
	uint8_t *l4 = (uint8_t *)(ip + 1);
	uint16_t l4len = 0;

	memset(buf, 0, sizeof(buf));
	eth->src_addr = p->src_mac;
	eth->dst_addr = p->dst_mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	switch (p->proto) {
	case IPPROTO_UDP:
		l4len = (uint16_t)(sizeof(struct rte_udp_hdr) + p->payload);
		break;
	case IPPROTO_TCP:
		l4len = (uint16_t)(sizeof(struct rte_tcp_hdr) + p->payload);
		break;
	default:
		l4len = (uint16_t)(sizeof(struct rte_icmp_hdr) + p->payload);
	}
	for (uint16_t i = 0; i < p->payload; i++)
		l4[l4len - p->payload + i] = (uint8_t)i;
	ip->version_ihl = RTE_IPV4_VHL_DEF;
	ip->total_length = rte_cpu_to_be_16((uint16_t)(sizeof(*ip) + l4len));
	ip->packet_id = RTE_BE16(0x1234);
	ip->fragment_offset = rte_cpu_to_be_16(p->frag);
	ip->time_to_live = p->ttl ? p->ttl : 64;
	ip->next_proto_id = p->proto ? p->proto : IPPROTO_ICMP;
	ip->src_addr = rte_cpu_to_be_32(p->src);
	ip->dst_addr = rte_cpu_to_be_32(p->dst);
	ip->hdr_checksum = rte_ipv4_cksum(ip);
	if (p->proto == IPPROTO_UDP) {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)l4;
		u->src_port = rte_cpu_to_be_16(p->sport);
		u->dst_port = rte_cpu_to_be_16(p->dport);
		u->dgram_len = rte_cpu_to_be_16(l4len);
		u->dgram_cksum = rte_ipv4_udptcp_cksum(ip, u);
	} else if (p->proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)l4;
		t->src_port = rte_cpu_to_be_16(p->sport);
		t->dst_port = rte_cpu_to_be_16(p->dport);
		t->data_off = 5 << 4;
		t->tcp_flags = RTE_TCP_SYN_FLAG;
		t->cksum = rte_ipv4_udptcp_cksum(ip, t);
	} else {
		struct rte_icmp_hdr *c = (struct rte_icmp_hdr *)l4;
		c->icmp_type = p->icmp_type ? p->icmp_type : RTE_IP_ICMP_ECHO_REQUEST;
		c->icmp_ident = rte_cpu_to_be_16(p->sport);
		c->icmp_seq_nb = rte_cpu_to_be_16(p->dport);
		c->icmp_cksum = (uint16_t)~rte_raw_cksum(c, l4len);
	}
	return test_pkt_raw(buf, (uint16_t)(sizeof(*eth) + sizeof(*ip) + l4len));
}

struct kdp_in6 test_ip6(const char *s)
{
	struct kdp_in6 a;

	memset(&a, 0, sizeof(a));
	CU_ASSERT_FATAL(kdp_addr6_parse(s, &a) == 0);
	return a;
}

struct rte_mbuf *test_pkt6_make(const struct test_pkt6 *p)
{
	uint8_t buf[2048];
	struct rte_ether_hdr *eth = (struct rte_ether_hdr *)buf;
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	uint8_t *l4 = (uint8_t *)(ip + 1) + p->ext_len;
	uint8_t proto = p->proto ? p->proto : IPPROTO_ICMPV6;
	uint16_t l4len, c;

	memset(buf, 0, sizeof(buf));
	eth->src_addr = p->src_mac;
	eth->dst_addr = p->dst_mac;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	switch (proto) {
	case IPPROTO_UDP:
		l4len = (uint16_t)(sizeof(struct rte_udp_hdr) + p->payload);
		break;
	case IPPROTO_TCP:
		l4len = (uint16_t)(sizeof(struct rte_tcp_hdr) + p->payload);
		break;
	default:
		l4len = (uint16_t)(8 + p->payload);
	}
	for (uint16_t i = 0; i < p->payload; i++)
		l4[l4len - p->payload + i] = (uint8_t)i;
	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16((uint16_t)(p->ext_len + l4len));
	ip->proto = p->ext_len ? p->ext_first : proto;
	ip->hop_limits = p->hop ? p->hop : 64;
	memcpy(ip->src_addr, &p->src, 16);
	memcpy(ip->dst_addr, &p->dst, 16);
	if (p->ext_len)
		memcpy(ip + 1, p->ext, p->ext_len);
	if (proto == IPPROTO_UDP) {
		struct rte_udp_hdr *u = (struct rte_udp_hdr *)l4;
		u->src_port = rte_cpu_to_be_16(p->sport);
		u->dst_port = rte_cpu_to_be_16(p->dport);
		u->dgram_len = rte_cpu_to_be_16(l4len);
	} else if (proto == IPPROTO_TCP) {
		struct rte_tcp_hdr *t = (struct rte_tcp_hdr *)l4;
		t->src_port = rte_cpu_to_be_16(p->sport);
		t->dst_port = rte_cpu_to_be_16(p->dport);
		t->data_off = 5 << 4;
		t->tcp_flags = p->tcp_flags ? p->tcp_flags : RTE_TCP_SYN_FLAG;
		t->sent_seq = RTE_BE32(1000);
	} else {
		l4[0] = p->icmp_type ? p->icmp_type : 128;
		memcpy(l4 + 4, &(uint16_t){rte_cpu_to_be_16(p->sport)}, 2);
		memcpy(l4 + 6, &(uint16_t){rte_cpu_to_be_16(p->dport)}, 2);
	}
	c = (uint16_t)~kdp_csum_add(kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr, l4len, proto),
				    kdp_csum_sum(l4, l4len));
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	memcpy(l4 + (proto == IPPROTO_TCP ? 16 : proto == IPPROTO_UDP ? 6 : 2), &c, 2);
	return test_pkt_raw(buf, (uint16_t)(sizeof(*eth) + sizeof(*ip) + p->ext_len + l4len));
}

int test_l4_csum6_ok(struct rte_mbuf *m)
{
	const struct kdp_meta *md = kdp_meta(m);
	const struct rte_ipv6_hdr *ip =
		rte_pktmbuf_mtod_offset(m, const struct rte_ipv6_hdr *, RTE_ETHER_HDR_LEN);
	uint16_t len = (uint16_t)(rte_pktmbuf_data_len(m) - md->l4_off);

	return kdp_csum_add(kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr, len, md->l4_proto),
			    kdp_csum_sum(rte_pktmbuf_mtod_offset(m, void *, md->l4_off), len)) ==
	       0xffff;
}

int test_ip_csum_ok(struct rte_mbuf *m)
{
	struct rte_ipv4_hdr *ip =
		rte_pktmbuf_mtod_offset(m, struct rte_ipv4_hdr *, RTE_ETHER_HDR_LEN);
	return rte_raw_cksum(ip, rte_ipv4_hdr_len(ip)) == 0xffff;
}

int test_icmp_csum_ok(struct rte_mbuf *m, uint16_t off, uint16_t len)
{
	return rte_raw_cksum(rte_pktmbuf_mtod_offset(m, void *, off), len) == 0xffff;
}

int main(void)
{
	char prefix[64];
	char *eal[] = {"kdp-unit", "--no-pci", "--no-huge", "-m", "256",
		       "--no-telemetry", "--log-level=lib.*:error", "-l", "0",
		       prefix, NULL};
	unsigned int failed;

	snprintf(prefix, sizeof(prefix), "--file-prefix=kdp-unit-%d", (int)getpid());
	if (rte_eal_init((int)RTE_DIM(eal) - 1, eal) < 0) {
		fprintf(stderr, "EAL init failed\n");
		return 1;
	}
	test_pool = rte_pktmbuf_pool_create("test_pool", 4095, 0, KDP_MBUF_PRIV_SIZE,
					    RTE_MBUF_DEFAULT_BUF_SIZE, 0);
	if (test_pool == NULL || CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	test_register_addr();
	test_register_parse();
	test_register_route();
	test_register_neigh();
	test_register_pipeline();
	test_register_pipeline6();
	test_register_config();
	test_register_maglev();
	test_register_masq();
	test_register_ct();
	test_register_svc();
	test_register_dataplane();
	test_register_monitor();
	test_register_offload();
	test_register_flowstore();
	test_register_feid();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	rte_mempool_free(test_pool);
	{
		char rundir[PATH_MAX];

		snprintf(rundir, sizeof(rundir), "%s", rte_eal_get_runtime_dir());
		rte_eal_cleanup();
		kdp_eal_remove_runtime_dir(rundir);
	}
	return failed == 0 && CU_get_error() == CUE_SUCCESS ? 0 : 1;
}

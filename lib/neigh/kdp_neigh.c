/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_ip.h>

#include "common/kdp_hash.h"
#include <rte_errno.h>
#include <rte_malloc.h>

#include "common/kdp_csum.h"
#include "parse/kdp_parse.h"
#include "kdp_neigh.h"

static inline bool is6(const struct kdp_neigh *nt)
{
	return nt->p.family == AF_INET6;
}

struct kdp_neigh *kdp_neigh_create(const char *name,
				   const struct kdp_neigh_params *p,
				   const struct kdp_neigh_ops *ops)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = p->size < 8 ? 8 : p->size,
		.key_len = p->family == AF_INET6 ? sizeof(struct kdp_in6) : sizeof(uint32_t),
		.hash_func = kdp_hash_crc,
		.socket_id = p->socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct kdp_neigh *nt;

	if (p->size == 0 || ops == NULL || ops->request == NULL ||
	    ops->send == NULL || ops->drop == NULL ||
	    (p->family != 0 && p->family != AF_INET && p->family != AF_INET6) ||
	    (p->family == AF_INET6 && ops->request6 == NULL)) {
		rte_errno = EINVAL;
		return NULL;
	}
	nt = rte_zmalloc_socket("kdp_neigh", sizeof(*nt), 0, p->socket);
	if (nt == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	nt->p = *p;
	if (nt->p.reachable_ms == 0)
		nt->p.reachable_ms = 30000;
	if (nt->p.retrans_ms == 0)
		nt->p.retrans_ms = 1000;
	if (nt->p.max_probes == 0)
		nt->p.max_probes = 3;
	nt->ops = *ops;
	nt->h = rte_hash_create(&hp);
	if (nt->h == NULL)
		goto fail;
	/* Key positions range over the hash's whole capacity. */
	nt->e = rte_zmalloc_socket("kdp_neigh_e",
				   sizeof(*nt->e) *
					   (rte_hash_max_key_id(nt->h) + 1),
				   0, p->socket);
	if (nt->e == NULL) {
		rte_errno = ENOMEM;
		goto fail;
	}
	if (p->qsbr != NULL) {
		struct rte_hash_rcu_config rc = {
			.v = p->qsbr,
			.mode = RTE_HASH_QSBR_MODE_DQ,
		};
		if (rte_hash_rcu_qsbr_add(nt->h, &rc) != 0)
			goto fail;
	}
	return nt;
fail: {
	int err = rte_errno;
	kdp_neigh_free(nt);
	rte_errno = err;
	return NULL;
}
}

static void entry_drop_queue(struct kdp_neigh *nt, struct kdp_neigh_entry *e,
			     enum kdp_drop reason)
{
	for (uint16_t i = 0; i < e->nq; i++)
		nt->ops.drop(nt->ops.ctx, e->q[i], reason);
	e->nq = 0;
}

void kdp_neigh_free(struct kdp_neigh *nt)
{
	if (nt == NULL)
		return;
	if (nt->e != NULL && nt->h != NULL) {
		for (int32_t i = 0; i <= rte_hash_max_key_id(nt->h); i++)
			if (nt->e[i].state != KDP_NEIGH_FREE)
				entry_drop_queue(nt, &nt->e[i],
						 KDP_DROP_NEIGH_UNRESOLVED);
	}
	rte_hash_free(nt->h);
	rte_free(nt->e);
	rte_free(nt);
}

/* The hash key of entry @p e: its address, 4 or 16 bytes. */
static const void *entry_key(const struct kdp_neigh *nt, const struct kdp_neigh_entry *e)
{
	return is6(nt) ? (const void *)&e->ip6 : (const void *)&e->ip;
}

static struct kdp_neigh_entry *entry_find(struct kdp_neigh *nt, const void *key)
{
	int32_t pos = rte_hash_lookup(nt->h, key);
	return pos >= 0 ? &nt->e[pos] : NULL;
}

/* Sets @p e's next timer action, and the table's earliest one. */
static void set_next(struct kdp_neigh *nt, struct kdp_neigh_entry *e, uint64_t at)
{
	e->next_ms = at;
	if (at < nt->due_ms)
		nt->due_ms = at;
}

static struct kdp_neigh_entry *entry_add(struct kdp_neigh *nt, const void *key,
					 uint16_t port, uint64_t data)
{
	struct kdp_neigh_entry *e;
	int32_t pos;

	if (rte_hash_add_key_data(nt->h, key, (void *)(uintptr_t)data) != 0)
		return NULL;
	pos = rte_hash_lookup(nt->h, key);
	if (pos < 0)
		return NULL;
	e = &nt->e[pos];
	memset(e, 0, sizeof(*e));
	if (is6(nt))
		memcpy(&e->ip6, key, sizeof(e->ip6));
	else
		memcpy(&e->ip, key, sizeof(e->ip));
	e->port = port;
	nt->count++;
	return e;
}

static void entry_del(struct kdp_neigh *nt, struct kdp_neigh_entry *e)
{
	struct kdp_in6 key;

	memcpy(&key, entry_key(nt, e), is6(nt) ? sizeof(key) : sizeof(uint32_t));
	entry_drop_queue(nt, e, KDP_DROP_NEIGH_UNRESOLVED);
	e->state = KDP_NEIGH_FREE;
	rte_hash_del_key(nt->h, &key);
	nt->count--;
}

static void entry_request(struct kdp_neigh *nt, const struct kdp_neigh_entry *e,
			  const struct rte_ether_addr *dst)
{
	if (is6(nt))
		nt->ops.request6(nt->ops.ctx, e->port, &e->ip6, dst);
	else
		nt->ops.request(nt->ops.ctx, e->port, e->ip, dst);
}

static void entry_flush(struct kdp_neigh *nt, struct kdp_neigh_entry *e)
{
	for (uint16_t i = 0; i < e->nq; i++)
		nt->ops.send(nt->ops.ctx, e->q[i], &e->mac);
	e->nq = 0;
}

static void resolve(struct kdp_neigh *nt, const void *key, uint16_t port,
		    struct rte_mbuf *m, uint64_t now_ms)
{
	struct kdp_neigh_entry *e = entry_find(nt, key);

	if (e == NULL) {
		e = entry_add(nt, key, port, 0);
		if (e == NULL) {
			nt->ops.drop(nt->ops.ctx, m, KDP_DROP_NEIGH_TABLE_FULL);
			return;
		}
		e->state = KDP_NEIGH_INCOMPLETE;
		set_next(nt, e, now_ms + nt->p.retrans_ms);
		e->probes = 1;
		entry_request(nt, e, NULL);
	}
	if (e->state != KDP_NEIGH_INCOMPLETE) {
		/* Resolved between the worker's lookup and now. */
		nt->ops.send(nt->ops.ctx, m, &e->mac);
		return;
	}
	if (e->nq == KDP_NEIGH_QLEN) {
		nt->ops.drop(nt->ops.ctx, m, KDP_DROP_NEIGH_QUEUE_FULL);
		return;
	}
	e->q[e->nq++] = m;
}

void kdp_neigh_resolve(struct kdp_neigh *nt, uint32_t ip, uint16_t port,
		       struct rte_mbuf *m, uint64_t now_ms)
{
	resolve(nt, &ip, port, m, now_ms);
}

void kdp_neigh_resolve6(struct kdp_neigh *nt, const struct kdp_in6 *ip, uint16_t port,
			struct rte_mbuf *m, uint64_t now_ms)
{
	resolve(nt, ip, port, m, now_ms);
}

static int learn(struct kdp_neigh *nt, const void *key, uint16_t port,
		 const struct rte_ether_addr *mac, bool create, uint64_t now_ms)
{
	struct kdp_neigh_entry *e = entry_find(nt, key);
	uint64_t data = kdp_neigh_pack(mac);

	if (e == NULL) {
		if (!create)
			return 0;
		e = entry_add(nt, key, port, data);
		if (e == NULL)
			return -ENOSPC;
	} else if (e->state == KDP_NEIGH_INCOMPLETE ||
		   !rte_is_same_ether_addr(&e->mac, mac) || e->port != port) {
		/* Replaces the data word atomically for readers. */
		rte_hash_add_key_data(nt->h, key, (void *)(uintptr_t)data);
	}
	e->mac = *mac;
	e->port = port;
	e->state = KDP_NEIGH_REACHABLE;
	e->probes = 0;
	e->confirmed_ms = now_ms;
	set_next(nt, e, now_ms + nt->p.reachable_ms);
	entry_flush(nt, e);
	return 0;
}

int kdp_neigh_learn(struct kdp_neigh *nt, uint32_t ip, uint16_t port,
		    const struct rte_ether_addr *mac, bool create,
		    uint64_t now_ms)
{
	return learn(nt, &ip, port, mac, create, now_ms);
}

int kdp_neigh_learn6(struct kdp_neigh *nt, const struct kdp_in6 *ip, uint16_t port,
		     const struct rte_ether_addr *mac, bool create, uint64_t now_ms)
{
	return learn(nt, ip, port, mac, create, now_ms);
}

void kdp_neigh_tick(struct kdp_neigh *nt, uint64_t now_ms)
{
	uint64_t due = UINT64_MAX;

	/* Called every millisecond: a pass over the table only when a timer
	 * is due, and it finds the next due time. */
	if (now_ms < nt->due_ms)
		return;
	for (int32_t i = 0; i <= rte_hash_max_key_id(nt->h); i++) {
		struct kdp_neigh_entry *e = &nt->e[i];

		if (e->state == KDP_NEIGH_FREE)
			continue;
		if (now_ms < e->next_ms) {
			due = RTE_MIN(due, e->next_ms);
			continue;
		}
		if (e->state == KDP_NEIGH_REACHABLE) {
			e->state = KDP_NEIGH_PROBE;
			e->probes = 0;
		}
		if (e->probes >= nt->p.max_probes) {
			entry_del(nt, e);
			continue;
		}
		e->probes++;
		e->next_ms = now_ms + nt->p.retrans_ms;
		due = RTE_MIN(due, e->next_ms);
		entry_request(nt, e, e->state == KDP_NEIGH_PROBE ? &e->mac : NULL);
	}
	nt->due_ms = due;
}

void kdp_neigh_flush_port(struct kdp_neigh *nt, uint16_t port)
{
	for (int32_t i = 0; i <= rte_hash_max_key_id(nt->h); i++)
		if (nt->e[i].state != KDP_NEIGH_FREE && nt->e[i].port == port)
			entry_del(nt, &nt->e[i]);
}

int kdp_neigh_foreach(const struct kdp_neigh *nt,
		      int (*fn)(const struct kdp_neigh_entry *e, void *arg),
		      void *arg)
{
	for (int32_t i = 0; i <= rte_hash_max_key_id(nt->h); i++) {
		if (nt->e[i].state == KDP_NEIGH_FREE)
			continue;
		int ret = fn(&nt->e[i], arg);
		if (ret != 0)
			return ret;
	}
	return 0;
}

const char *kdp_neigh_state_name(enum kdp_neigh_state s)
{
	switch (s) {
	case KDP_NEIGH_INCOMPLETE:
		return "incomplete";
	case KDP_NEIGH_REACHABLE:
		return "reachable";
	case KDP_NEIGH_PROBE:
		return "probe";
	default:
		return "free";
	}
}

int kdp_neigh_arp_build(struct rte_mbuf *m, uint16_t op,
			const struct rte_ether_addr *sha, uint32_t sip,
			const struct rte_ether_addr *eth_dst,
			const struct rte_ether_addr *tha, uint32_t tip)
{
	static const struct rte_ether_addr bcast = {
		.addr_bytes = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
	struct rte_ether_hdr *eth;
	struct rte_arp_hdr *a;

	rte_pktmbuf_reset(m);
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(
		m, sizeof(*eth) + sizeof(*a));
	if (eth == NULL)
		return -ENOSPC;
	a = (struct rte_arp_hdr *)(eth + 1);
	eth->dst_addr = eth_dst ? *eth_dst : bcast;
	eth->src_addr = *sha;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_ARP);
	a->arp_hardware = RTE_BE16(RTE_ARP_HRD_ETHER);
	a->arp_protocol = RTE_BE16(RTE_ETHER_TYPE_IPV4);
	a->arp_hlen = RTE_ETHER_ADDR_LEN;
	a->arp_plen = 4;
	a->arp_opcode = rte_cpu_to_be_16(op);
	a->arp_data.arp_sha = *sha;
	a->arp_data.arp_sip = rte_cpu_to_be_32(sip);
	if (tha != NULL)
		a->arp_data.arp_tha = *tha;
	else
		memset(&a->arp_data.arp_tha, 0, sizeof(a->arp_data.arp_tha));
	a->arp_data.arp_tip = rte_cpu_to_be_32(tip);
	return 0;
}

void kdp_neigh_arp_reply_in_place(struct rte_mbuf *m,
				  const struct rte_ether_addr *mac)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_arp_hdr *a = (struct rte_arp_hdr *)(eth + 1);
	uint32_t tip = a->arp_data.arp_tip;

	eth->dst_addr = a->arp_data.arp_sha;
	eth->src_addr = *mac;
	a->arp_opcode = RTE_BE16(RTE_ARP_OP_REPLY);
	a->arp_data.arp_tha = a->arp_data.arp_sha;
	a->arp_data.arp_tip = a->arp_data.arp_sip;
	a->arp_data.arp_sha = *mac;
	a->arp_data.arp_sip = tip;
}

/* ---- neighbour discovery ---- */

#define ND_OPT_SLLA 1 /* source link-layer address */
#define ND_OPT_TLLA 2 /* target link-layer address */

void kdp_neigh_nd_mcast_mac(const struct kdp_in6 *ip, struct rte_ether_addr *mac)
{
	mac->addr_bytes[0] = 0x33;
	mac->addr_bytes[1] = 0x33;
	memcpy(&mac->addr_bytes[2], &ip->b[12], 4);
}

void kdp_neigh_nd_solicited(const struct kdp_in6 *ip, struct kdp_in6 *out)
{
	static const uint8_t pfx[13] = {0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff};

	memcpy(out->b, pfx, sizeof(pfx));
	memcpy(&out->b[13], &ip->b[13], 3);
}

/* Fills the IPv6 header and the ICMPv6 checksum of an ND message of
 * @p len bytes at l4. */
static void nd_finish(struct rte_ipv6_hdr *ip, uint8_t *l4, uint16_t len)
{
	uint16_t c;

	ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
	ip->payload_len = rte_cpu_to_be_16(len);
	ip->proto = IPPROTO_ICMPV6;
	ip->hop_limits = 255;
	l4[2] = l4[3] = 0;
	c = (uint16_t)~kdp_csum_add(kdp_csum_ipv6_pseudo(ip->src_addr, ip->dst_addr, len,
							 IPPROTO_ICMPV6),
				    kdp_csum_sum(l4, len));
	memcpy(l4 + 2, &c, 2);
}

int kdp_neigh_nd_build_ns(struct rte_mbuf *m, const struct rte_ether_addr *sha,
			  const struct kdp_in6 *sip, const struct rte_ether_addr *eth_dst,
			  const struct kdp_in6 *target)
{
	const uint16_t len = 32; /* type..target (24), SLLA option (8) */
	struct rte_ether_hdr *eth;
	struct rte_ipv6_hdr *ip;
	struct kdp_in6 dst;
	uint8_t *l4;

	rte_pktmbuf_reset(m);
	eth = (struct rte_ether_hdr *)rte_pktmbuf_append(m, KDP_ETH_LEN + KDP_IP6_LEN + len);
	if (eth == NULL)
		return -ENOSPC;
	ip = (struct rte_ipv6_hdr *)(eth + 1);
	l4 = (uint8_t *)(ip + 1);
	if (eth_dst != NULL) {
		eth->dst_addr = *eth_dst;
		dst = *target;
	} else {
		kdp_neigh_nd_solicited(target, &dst);
		kdp_neigh_nd_mcast_mac(&dst, &eth->dst_addr);
	}
	eth->src_addr = *sha;
	eth->ether_type = RTE_BE16(RTE_ETHER_TYPE_IPV6);
	memcpy(ip->src_addr, sip, 16);
	memcpy(ip->dst_addr, &dst, 16);
	memset(l4, 0, len);
	l4[0] = KDP_ICMP6_NEIGH_SOLICIT;
	memcpy(l4 + 8, target, 16);
	l4[24] = ND_OPT_SLLA;
	l4[25] = 1;
	memcpy(l4 + 26, sha, RTE_ETHER_ADDR_LEN);
	nd_finish(ip, l4, len);
	return 0;
}

int kdp_neigh_nd_read(const struct rte_mbuf *m, uint8_t *type, struct kdp_in6 *target,
		      struct kdp_in6 *src, struct rte_ether_addr *lla, bool *has_lla,
		      uint8_t *na_flags)
{
	const struct kdp_meta *md = kdp_meta((struct rte_mbuf *)(uintptr_t)m);
	const struct rte_ipv6_hdr *ip =
		rte_pktmbuf_mtod_offset(m, const struct rte_ipv6_hdr *, KDP_ETH_LEN);
	const uint8_t *l4 = rte_pktmbuf_mtod_offset(m, const uint8_t *, md->l4_off);
	uint16_t len = (uint16_t)(rte_pktmbuf_data_len(m) - md->l4_off), off = 24;
	uint8_t want;

	if (len < 24)
		return -EINVAL;
	*type = l4[0];
	*na_flags = l4[0] == KDP_ICMP6_NEIGH_ADVERT ? l4[4] : 0;
	memcpy(target, l4 + 8, 16);
	memcpy(src, ip->src_addr, 16);
	*has_lla = false;
	want = l4[0] == KDP_ICMP6_NEIGH_SOLICIT ? ND_OPT_SLLA : ND_OPT_TLLA;
	while (off + 2 <= len) {
		uint16_t olen = (uint16_t)(l4[off + 1] * 8);

		if (olen == 0 || off + olen > len)
			return -EINVAL;
		if (l4[off] == want && olen >= 8) {
			memcpy(lla, l4 + off + 2, RTE_ETHER_ADDR_LEN);
			*has_lla = true;
		}
		off = (uint16_t)(off + olen);
	}
	return 0;
}

int kdp_neigh_nd_reply_in_place(struct rte_mbuf *m, const struct rte_ether_addr *mac,
				bool router)
{
	const uint16_t len = 32; /* type..target (24), TLLA option (8) */
	struct kdp_meta *md = kdp_meta(m);
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ipv6_hdr *ip = (struct rte_ipv6_hdr *)(eth + 1);
	struct kdp_in6 target, src;
	struct rte_ether_addr peer = eth->src_addr, lla;
	uint8_t type, flags, *l4;
	bool has;

	if (kdp_neigh_nd_read(m, &type, &target, &src, &lla, &has, &flags) != 0 ||
	    type != KDP_ICMP6_NEIGH_SOLICIT)
		return -EINVAL;
	if (has)
		peer = lla;
	if (rte_pktmbuf_data_len(m) < KDP_ETH_LEN + KDP_IP6_LEN + len &&
	    rte_pktmbuf_append(m, (uint16_t)(KDP_ETH_LEN + KDP_IP6_LEN + len -
					      rte_pktmbuf_data_len(m))) == NULL)
		return -ENOSPC;
	rte_pktmbuf_data_len(m) = (uint16_t)(KDP_ETH_LEN + KDP_IP6_LEN + len);
	m->pkt_len = rte_pktmbuf_data_len(m);
	eth->dst_addr = peer;
	eth->src_addr = *mac;
	memcpy(ip->src_addr, &target, 16);
	memcpy(ip->dst_addr, &src, 16);
	l4 = (uint8_t *)(ip + 1);
	memset(l4, 0, len);
	l4[0] = KDP_ICMP6_NEIGH_ADVERT;
	l4[4] = (uint8_t)((router ? KDP_ND_NA_ROUTER : 0) | KDP_ND_NA_SOLICITED |
			  KDP_ND_NA_OVERRIDE);
	memcpy(l4 + 8, &target, 16);
	l4[24] = ND_OPT_TLLA;
	l4[25] = 1;
	memcpy(l4 + 26, mac, RTE_ETHER_ADDR_LEN);
	nd_finish(ip, l4, len);
	md->l4_off = (uint16_t)(KDP_ETH_LEN + KDP_IP6_LEN);
	md->l4_proto = IPPROTO_ICMPV6;
	md->flags = 0;
	return 0;
}

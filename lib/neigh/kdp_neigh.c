/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <string.h>

#include "common/kdp_hash.h"
#include <rte_errno.h>
#include <rte_malloc.h>

#include "kdp_neigh.h"

struct kdp_neigh *kdp_neigh_create(const char *name,
				   const struct kdp_neigh_params *p,
				   const struct kdp_neigh_ops *ops)
{
	struct rte_hash_parameters hp = {
		.name = name,
		.entries = p->size < 8 ? 8 : p->size,
		.key_len = sizeof(uint32_t),
		.hash_func = kdp_hash_crc,
		.socket_id = p->socket,
		.extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF |
			      RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	struct kdp_neigh *nt;

	if (p->size == 0 || ops == NULL || ops->request == NULL ||
	    ops->send == NULL || ops->drop == NULL) {
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

static struct kdp_neigh_entry *entry_find(struct kdp_neigh *nt, uint32_t ip)
{
	int32_t pos = rte_hash_lookup(nt->h, &ip);
	return pos >= 0 ? &nt->e[pos] : NULL;
}

/* Sets @p e's next timer action, and the table's earliest one. */
static void set_next(struct kdp_neigh *nt, struct kdp_neigh_entry *e, uint64_t at)
{
	e->next_ms = at;
	if (at < nt->due_ms)
		nt->due_ms = at;
}

static struct kdp_neigh_entry *entry_add(struct kdp_neigh *nt, uint32_t ip,
					 uint16_t port, uint64_t data)
{
	struct kdp_neigh_entry *e;
	int32_t pos;

	if (rte_hash_add_key_data(nt->h, &ip, (void *)(uintptr_t)data) != 0)
		return NULL;
	pos = rte_hash_lookup(nt->h, &ip);
	if (pos < 0)
		return NULL;
	e = &nt->e[pos];
	memset(e, 0, sizeof(*e));
	e->ip = ip;
	e->port = port;
	nt->count++;
	return e;
}

static void entry_del(struct kdp_neigh *nt, struct kdp_neigh_entry *e)
{
	uint32_t ip = e->ip;

	entry_drop_queue(nt, e, KDP_DROP_NEIGH_UNRESOLVED);
	e->state = KDP_NEIGH_FREE;
	rte_hash_del_key(nt->h, &ip);
	nt->count--;
}

static void entry_flush(struct kdp_neigh *nt, struct kdp_neigh_entry *e)
{
	for (uint16_t i = 0; i < e->nq; i++)
		nt->ops.send(nt->ops.ctx, e->q[i], &e->mac);
	e->nq = 0;
}

void kdp_neigh_resolve(struct kdp_neigh *nt, uint32_t ip, uint16_t port,
		       struct rte_mbuf *m, uint64_t now_ms)
{
	struct kdp_neigh_entry *e = entry_find(nt, ip);

	if (e == NULL) {
		e = entry_add(nt, ip, port, 0);
		if (e == NULL) {
			nt->ops.drop(nt->ops.ctx, m, KDP_DROP_NEIGH_TABLE_FULL);
			return;
		}
		e->state = KDP_NEIGH_INCOMPLETE;
		set_next(nt, e, now_ms + nt->p.retrans_ms);
		e->probes = 1;
		nt->ops.request(nt->ops.ctx, port, ip, NULL);
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

int kdp_neigh_learn(struct kdp_neigh *nt, uint32_t ip, uint16_t port,
		    const struct rte_ether_addr *mac, bool create,
		    uint64_t now_ms)
{
	struct kdp_neigh_entry *e = entry_find(nt, ip);
	uint64_t data = kdp_neigh_pack(mac);

	if (e == NULL) {
		if (!create)
			return 0;
		e = entry_add(nt, ip, port, data);
		if (e == NULL)
			return -ENOSPC;
	} else if (e->state == KDP_NEIGH_INCOMPLETE ||
		   !rte_is_same_ether_addr(&e->mac, mac) || e->port != port) {
		/* Replaces the data word atomically for readers. */
		rte_hash_add_key_data(nt->h, &ip, (void *)(uintptr_t)data);
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
		nt->ops.request(nt->ops.ctx, e->port, e->ip,
				e->state == KDP_NEIGH_PROBE ? &e->mac : NULL);
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

/* SPDX-License-Identifier: BSD-3-Clause */
/* The slow path on the control thread: ARP (answers, learning) and packets
 * whose next hop is not resolved yet. What it sends goes to worker 0 through
 * the inject ring, so only workers ever touch TX queues. */
#include <time.h>

#include <rte_arp.h>
#include <rte_cycles.h>
#include <rte_tcp.h>

#include "common/kdp_clock.h"
#include "kdp.h"

#define POLL_MAX 256

uint64_t kdp_now_ms(void)
{
	return kdp_clock_mono_ms();
}

static void ctl_drop(struct kdp *k, struct rte_mbuf *m, enum kdp_drop reason)
{
	kdp_stats_drop(kdp_ctl_stats(k), reason);
	rte_pktmbuf_free(m);
}

static void inject(struct kdp *k, struct rte_mbuf *m, uint16_t port)
{
	kdp_meta(m)->out_port = port;
	if (rte_ring_sp_enqueue(k->rings.inject, m) != 0)
		ctl_drop(k, m, KDP_DROP_TX_FULL);
}

static void neigh_request(void *ctx, uint16_t port, uint32_t ip,
			  const struct rte_ether_addr *dst)
{
	struct kdp *k = ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(k->pool);

	if (m == NULL)
		return;
	if (kdp_neigh_arp_build(m, RTE_ARP_OP_REQUEST, &k->mac, k->cfg.node_ip,
				dst, NULL, ip) != 0) {
		rte_pktmbuf_free(m);
		return;
	}
	inject(k, m, port);
}

/* A neighbour solicitation from the node's IPv6 address: multicast to the
 * target's solicited-node address, or unicast to @p dst when probing. */
static void neigh_request6(void *ctx, uint16_t port, const struct kdp_in6 *ip,
			   const struct rte_ether_addr *dst)
{
	struct kdp *k = ctx;
	struct rte_mbuf *m = rte_pktmbuf_alloc(k->pool);

	if (m == NULL)
		return;
	if (kdp_neigh_nd_build_ns(m, &k->mac, &k->cfg.node_ip6, dst, ip) != 0) {
		rte_pktmbuf_free(m);
		return;
	}
	kdp_meta(m)->kind = KDP_PKT_ND;
	inject(k, m, port);
}

static void neigh_send(void *ctx, struct rte_mbuf *m,
		       const struct rte_ether_addr *mac)
{
	struct kdp *k = ctx;
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

	eth->src_addr = k->mac;
	eth->dst_addr = *mac;
	inject(k, m, kdp_meta(m)->out_port);
}

static void neigh_drop(void *ctx, struct rte_mbuf *m, enum kdp_drop reason)
{
	ctl_drop(ctx, m, reason);
}

const struct kdp_neigh_ops kdp_slowpath_neigh_ops = {
	.request = neigh_request,
	.send = neigh_send,
	.drop = neigh_drop,
	.request6 = neigh_request6,
};

/*
 * ARP by port role: on the uplink kdp answers for the node IP and learns
 * its neighbours; on a pod port it answers for every address but the pod's
 * own (the pod's gateway and any on-link guess), as Calico does; on the host
 * tap it answers for everything but the node IP, so the node's own stack
 * sends all its traffic through kdp.
 */
static void handle_arp(struct kdp *k, const struct kdp_snapshot *s,
		       struct rte_mbuf *m, uint64_t now)
{
	struct kdp_meta *md = kdp_meta(m);
	struct rte_arp_hdr *a =
		rte_pktmbuf_mtod_offset(m, struct rte_arp_hdr *, KDP_ETH_LEN);
	uint16_t op = rte_be_to_cpu_16(a->arp_opcode);
	uint32_t sip = rte_be_to_cpu_32(a->arp_data.arp_sip);
	uint32_t tip = rte_be_to_cpu_32(a->arp_data.arp_tip);
	bool request = op == RTE_ARP_OP_REQUEST, answer = false;

	switch (s->dp.ports[md->in_port].role) {
	case KDP_PORT_UPLINK:
		if (sip != 0 && !rte_is_multicast_ether_addr(&a->arp_data.arp_sha))
			kdp_neigh_learn(k->nt, sip, md->in_port,
					&a->arp_data.arp_sha,
					request && tip == k->cfg.node_ip, now);
		answer = request && tip == k->cfg.node_ip;
		break;
	case KDP_PORT_POD:
		answer = request && tip != sip && tip != s->dp.ports[md->in_port].pod_ip;
		break;
	case KDP_PORT_HOST:
		answer = request && tip != k->cfg.node_ip && tip != sip;
		break;
	default:
		break;
	}
	if (!answer) {
		ctl_drop(k, m, KDP_DROP_ARP_IGNORED);
		return;
	}
	kdp_neigh_arp_reply_in_place(m, &k->mac);
	inject(k, m, md->in_port);
}

/*
 * Neighbour discovery by port role, as ARP: on the uplink kdp answers
 * solicitations for the node's IPv6 address and learns its neighbours from
 * solicitations and advertisements; on a pod port it answers for every
 * target but the pod's own (the pods' gateway fe80::1 first of all); on the
 * host tap for everything but the node's IPv6. kdp routes, so its
 * advertisements carry the router flag. Duplicate address detection (a
 * solicitation from ::) is never answered: no address here is a duplicate.
 */
static void handle_nd(struct kdp *k, const struct kdp_snapshot *s, struct rte_mbuf *m,
		      uint64_t now)
{
	struct kdp_meta *md = kdp_meta(m);
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);
	struct kdp_in6 target, src;
	struct rte_ether_addr lla;
	uint8_t type, flags;
	bool has_lla, ns, answer = false, dad;

	if (k->nt6 == NULL ||
	    kdp_neigh_nd_read(m, &type, &target, &src, &lla, &has_lla, &flags) != 0) {
		ctl_drop(k, m, k->nt6 == NULL ? KDP_DROP_ND_IGNORED : KDP_DROP_ND_MALFORMED);
		return;
	}
	ns = type == KDP_ICMP6_NEIGH_SOLICIT;
	dad = kdp_addr6_is_zero(&src);
	switch (s->dp.ports[md->in_port].role) {
	case KDP_PORT_UPLINK:
		/* A solicitation aimed at us creates its sender's entry (it
		 * is about to talk to us), any other one only refreshes. */
		if (ns && !dad && has_lla)
			kdp_neigh_learn6(k->nt6, &src, md->in_port, &lla,
					 kdp_addr6_eq(&target, &k->cfg.node_ip6), now);
		if (!ns)
			kdp_neigh_learn6(k->nt6, &target, md->in_port,
					 has_lla ? &lla : &eth->src_addr, false, now);
		answer = ns && !dad && kdp_addr6_eq(&target, &k->cfg.node_ip6);
		break;
	case KDP_PORT_POD:
		answer = ns && !dad && !kdp_addr6_eq(&target, &src) &&
			 !kdp_addr6_eq(&target, &s->dp.ports[md->in_port].pod_ip6);
		break;
	case KDP_PORT_HOST:
		answer = ns && !dad && !kdp_addr6_eq(&target, &src) &&
			 !kdp_addr6_eq(&target, &k->cfg.node_ip6);
		break;
	default:
		break;
	}
	if (!answer || kdp_neigh_nd_reply_in_place(m, &k->mac, true) != 0) {
		ctl_drop(k, m, KDP_DROP_ND_IGNORED);
		return;
	}
	inject(k, m, md->in_port);
}

/* A SYN reusing a closed flow whose backend is gone: delete the old entry
 * (workers never delete) and give the SYN back to worker 0 to run again. */
static void ct_renew(struct kdp *k, struct rte_mbuf *m)
{
	struct kdp_meta *md = kdp_meta(m);
	const struct rte_ipv4_hdr *ip = kdp_parse_ip(m);
	const struct rte_tcp_hdr *t = rte_pktmbuf_mtod_offset(m, const struct rte_tcp_hdr *,
							      md->l4_off);
	struct kdp_ct_key key = {ip->src_addr, ip->dst_addr, t->src_port, t->dst_port,
				 md->l4_proto, {0}};
	struct kdp_ct_entry *e;
	uint8_t dir;

	kdp_ct_lookup_bulk(k->ct, &key, 1, &e, &dir);
	if (e != NULL && dir == KDP_CT_ORIG &&
	    (e->tcp_state == KDP_CT_TCP_CLOSING || (e->flags & KDP_CT_F_DEAD)))
		kdp_ct_delete(k->ct, e);
	md->punt = KDP_PUNT_NONE;
	if (rte_ring_sp_enqueue(k->rings.renew, m) != 0)
		ctl_drop(k, m, KDP_DROP_PUNT_FULL);
}

unsigned int kdp_slowpath_poll(struct kdp *k)
{
	const struct kdp_snapshot *s = atomic_load(&k->pub.snap);
	struct rte_mbuf *pkts[32];
	uint64_t now = kdp_now_ms();
	unsigned int total = 0, n;

	/* Handed over (workers parked): the tables are the new kdp's now. */
	if (k->ho.phase >= KDP_HO_FROZEN)
		return 0;
	do {
		n = rte_ring_sc_dequeue_burst(k->rings.punt, (void **)pkts, 32, NULL);
		for (unsigned int i = 0; i < n; i++) {
			struct kdp_meta *md = kdp_meta(pkts[i]);

			if (md->punt == KDP_PUNT_NEIGH)
				kdp_neigh_resolve(k->nt, md->nh_ip, md->out_port,
						  pkts[i], now);
			else if (md->punt == KDP_PUNT_NEIGH6 && k->nt6 != NULL)
				kdp_neigh_resolve6(k->nt6, (const struct kdp_in6 *)md->nh_ip6,
						   md->out_port, pkts[i], now);
			else if (md->punt == KDP_PUNT_NEIGH6)
				ctl_drop(k, pkts[i], KDP_DROP_NEIGH_UNRESOLVED);
			else if (md->punt == KDP_PUNT_CT_RENEW)
				ct_renew(k, pkts[i]);
			else if (md->punt == KDP_PUNT_ND)
				handle_nd(k, s, pkts[i], now);
			else
				handle_arp(k, s, pkts[i], now);
		}
		total += n;
	} while (n > 0 && total < POLL_MAX);
	kdp_neigh_tick(k->nt, now);
	if (k->nt6 != NULL)
		kdp_neigh_tick(k->nt6, now);
	kdp_slowpath_ct_gc(k, now);
	if (now - k->port_watch_ms >= 1000) {
		k->port_watch_ms = now;
		kdp_port_watch(k);
		kdp_clock_sync();
	}
	return total;
}

/* A slice's budget of @p slots: a whole pass every 5 s, whatever the tick
 * rate (the budget follows the @p elapsed ms since the last slice). */
static uint32_t gc_budget(uint32_t slots, uint64_t elapsed)
{
	return (uint32_t)RTE_MIN((uint64_t)slots * elapsed / 5000 + 1, (uint64_t)slots);
}

static void feid_advance(struct kdp *k);

void kdp_slowpath_ct_gc(struct kdp *k, uint64_t now)
{
	uint64_t elapsed = k->gc_last_ms ? now - k->gc_last_ms : 1;
	/* The workers' clock (the flow clock), which entries hold. */
	uint64_t tsc_ms = kdp_clock_now_ms();
	const struct kdp_snapshot *s = atomic_load(&k->pub.snap);

	k->gc_last_ms = now;
	kdp_ct_gc(k->ct, tsc_ms, gc_budget(k->ct->p.max_flows, elapsed));
	kdp_affinity_gc(k->aff, s->dp.svc, (uint32_t)(tsc_ms / 1000),
			gc_budget(kdp_affinity_n_slots(k->aff), elapsed));
	if (k->ct6 != NULL) {
		kdp_ct6_gc(k->ct6, tsc_ms, gc_budget(k->ct6->c.p.max_flows, elapsed));
		kdp_affinity6_gc(k->aff6, s->dp.svc6, (uint32_t)(tsc_ms / 1000),
				 gc_budget(kdp_affinity_n_slots(&k->aff6->t), elapsed));
	}
	feid_advance(k);
}

/* Released frontend ids move on (kdp_feid.h), by the passes of every
 * table that names ids. */
static void feid_advance(struct kdp *k)
{
	uint64_t p[KDP_FEID_TABLES] = {k->ct->gc_passes, k->aff->passes, 0, 0};
	unsigned int n = 2;

	if (k->ct6 != NULL) {
		p[n++] = k->ct6->c.gc_passes;
		p[n++] = k->aff6->t.passes;
	}
	kdp_feid_advance(&k->pub.feid, k->qsbr, p, n, &k->pub.next_fe_id);
}

/* SPDX-License-Identifier: BSD-3-Clause */
#include <rte_cycles.h>
#include <rte_prefetch.h>

#include "common/kdp_csum.h"
#include "icmp/kdp_icmp.h"
#include "parse/kdp_parse.h"
#include "kdp_pipeline.h"

void kdp_pipeline_ctx_init(struct kdp_pipeline_ctx *ctx, struct kdp_stats *st,
			   const struct kdp_neigh *nt, uint32_t icmp_per_sec)
{
	if (icmp_per_sec == 0)
		icmp_per_sec = 1000;
	ctx->st = st;
	ctx->nt = nt;
	ctx->icmp_burst = icmp_per_sec / 10 + 1;
	ctx->icmp_tokens = ctx->icmp_burst;
	ctx->icmp_tsc_per_token = rte_get_tsc_hz() / icmp_per_sec;
	if (ctx->icmp_tsc_per_token == 0)
		ctx->icmp_tsc_per_token = 1;
	ctx->icmp_last_tsc = rte_rdtsc();
}

/* Collects the drops of a burst so they are freed in bulk. */
struct drops {
	uint16_t n;
	struct rte_mbuf *m[KDP_BURST];
};

static inline void drop(struct kdp_pipeline_ctx *ctx, struct drops *d,
			struct rte_mbuf *m, enum kdp_drop reason)
{
	kdp_stats_drop(ctx->st, reason);
	d->m[d->n++] = m;
}

static int icmp_allowed(struct kdp_pipeline_ctx *ctx)
{
	uint64_t now = rte_rdtsc();
	uint64_t add = (now - ctx->icmp_last_tsc) / ctx->icmp_tsc_per_token;

	if (add > 0) {
		ctx->icmp_tokens = RTE_MIN(ctx->icmp_burst, ctx->icmp_tokens + add);
		ctx->icmp_last_tsc += add * ctx->icmp_tsc_per_token;
	}
	if (ctx->icmp_tokens == 0)
		return 0;
	ctx->icmp_tokens--;
	return 1;
}

/* Packets waiting for the bulk neighbour lookup. */
struct need {
	uint16_t n;
	struct rte_mbuf *m[KDP_BURST];
	uint32_t ip[KDP_BURST];
};

static inline void set_l2(struct rte_mbuf *m, const struct rte_ether_addr *src,
			  const struct rte_ether_addr *dst)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->src_addr = *src;
	eth->dst_addr = *dst;
}

static inline void emit(struct kdp_pipeline_out *out, struct rte_mbuf *m,
			uint16_t port)
{
	kdp_meta(m)->out_port = port;
	out->tx[out->n_tx++] = m;
}

/*
 * Sends a packet kdp generated (ICMP) towards its destination: one scalar
 * lookup, no TTL rule. Generated packets are rare, so this is off the bulk
 * path on purpose. The packet that caused it is already counted as a drop,
 * so failing here only frees it.
 */
static void send_generated(struct kdp_pipeline_ctx *ctx, const struct kdp_dp *dp,
			   struct rte_mbuf *m, struct kdp_pipeline_out *out,
			   struct need *need, struct drops *d)
{
	uint32_t dst = rte_be_to_cpu_32(kdp_parse_ip(m)->dst_addr);
	uint32_t i = kdp_route_lookup(dp->rt, dst);
	const struct kdp_nexthop *nh =
		i == KDP_ROUTE_MISS ? NULL : &dp->rt->nh[i];

	if (nh == NULL || nh->type == KDP_NH_LOCAL ||
	    nh->type == KDP_NH_NO_ENDPOINT) {
		d->m[d->n++] = m;
		return;
	}
	ctx->st->icmp_sent++;
	if (nh->type == KDP_NH_ENDPOINT || nh->type == KDP_NH_HOST) {
		set_l2(m, &dp->mac, &nh->mac);
		emit(out, m, nh->port);
		return;
	}
	kdp_meta(m)->out_port = nh->port;
	need->ip[need->n] = nh->type == KDP_NH_VIA ? nh->gw : dst;
	need->m[need->n++] = m;
}

/* TTL and MTU rules of a forwarded packet; 0 when it goes on. */
static inline int forward_checks(struct kdp_pipeline_ctx *ctx,
				 const struct kdp_dp *dp, struct rte_mbuf *m,
				 uint16_t out_port, struct kdp_pipeline_out *out,
				 struct need *need, struct drops *d)
{
	struct rte_ipv4_hdr *ip = kdp_parse_ip(m);
	uint16_t mtu = dp->ports[out_port].mtu;
	uint16_t old;

	if (unlikely(ip->time_to_live <= 1)) {
		kdp_stats_drop(ctx->st, KDP_DROP_TTL_EXCEEDED);
		if (icmp_allowed(ctx) &&
		    kdp_icmp_error(m, KDP_ICMP_TIME_EXCEEDED, 0, 0, dp->node_ip) == 0)
			send_generated(ctx, dp, m, out, need, d);
		else
			d->m[d->n++] = m;
		return -1;
	}
	if (unlikely(rte_be_to_cpu_16(ip->total_length) > mtu)) {
		if (!(ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG))) {
			drop(ctx, d, m, KDP_DROP_MTU_EXCEEDED);
			return -1;
		}
		kdp_stats_drop(ctx->st, KDP_DROP_FRAG_NEEDED);
		if (icmp_allowed(ctx) &&
		    kdp_icmp_error(m, KDP_ICMP_DEST_UNREACH, KDP_ICMP_CODE_FRAG_NEEDED, mtu,
				   dp->node_ip) == 0)
			send_generated(ctx, dp, m, out, need, d);
		else
			d->m[d->n++] = m;
		return -1;
	}
	old = kdp_load16(&ip->time_to_live);
	ip->time_to_live--;
	ip->hdr_checksum = kdp_csum_update16(ip->hdr_checksum, old,
					     kdp_load16(&ip->time_to_live));
	return 0;
}

/* Rules of the port a packet came in on. */
static inline enum kdp_drop ingress_check(const struct kdp_dp *dp,
					  const struct kdp_dp_port *pp,
					  struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth =
		rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);

	switch (pp->role) {
	case KDP_PORT_POD:
		if (unlikely(rte_be_to_cpu_32(kdp_parse_ip(m)->src_addr) !=
			     pp->pod_ip))
			return KDP_DROP_SPOOFED_SOURCE;
		return KDP_DROP_NONE;
	case KDP_PORT_UPLINK:
		if (unlikely(!rte_is_same_ether_addr(&eth->dst_addr, &dp->mac) &&
			     !rte_is_multicast_ether_addr(&eth->dst_addr)))
			return KDP_DROP_L2_NOT_FOR_US;
		return KDP_DROP_NONE;
	case KDP_PORT_HOST:
		return KDP_DROP_NONE;
	default:
		return KDP_DROP_UNKNOWN_PORT;
	}
}

uint16_t kdp_pipeline_run(struct kdp_pipeline_ctx *ctx, const struct kdp_dp *dp,
			  uint16_t in_port, struct rte_mbuf **pkts, uint16_t n,
			  struct kdp_pipeline_out *out)
{
	const struct kdp_dp_port *pp = &dp->ports[in_port];
	struct rte_mbuf *fwd[KDP_BURST];
	uint32_t ips[KDP_BURST], nhi[KDP_BURST];
	uint64_t macs[KDP_BURST];
	struct drops d;
	struct need need;
	uint16_t nf = 0;

	d.n = 0;
	need.n = 0;
	out->n_tx = 0;
	out->n_punt = 0;

	for (uint16_t i = 0; i < n && i < 4; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));

	/* Parse and ingress checks. */
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct kdp_meta *md = kdp_meta(m);
		enum kdp_drop r;
		uint32_t dst;

		if (i + 4 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void *));
		md->in_port = in_port;
		r = kdp_parse(m);
		if (unlikely(r != KDP_DROP_NONE)) {
			drop(ctx, &d, m, r);
			continue;
		}
		if (unlikely(md->kind == KDP_PKT_ARP)) {
			md->punt = KDP_PUNT_ARP;
			out->punt[out->n_punt++] = m;
			continue;
		}
		r = ingress_check(dp, pp, m);
		if (unlikely(r != KDP_DROP_NONE)) {
			drop(ctx, &d, m, r);
			continue;
		}
		dst = rte_be_to_cpu_32(kdp_parse_ip(m)->dst_addr);
		if (unlikely(dst >= 0xe0000000)) {
			drop(ctx, &d, m, KDP_DROP_DST_NOT_UNICAST);
			continue;
		}
		ips[nf] = dst;
		fwd[nf++] = m;
	}

	/* Route. */
	if (nf > 0)
		kdp_route_lookup_bulk(dp->rt, ips, nhi, nf);
	for (uint16_t i = 0; i < nf; i++) {
		struct rte_mbuf *m = fwd[i];
		const struct kdp_nexthop *nh;

		if (unlikely(nhi[i] == KDP_ROUTE_MISS)) {
			drop(ctx, &d, m, KDP_DROP_NO_ROUTE);
			continue;
		}
		nh = &dp->rt->nh[nhi[i]];
		switch (nh->type) {
		case KDP_NH_ENDPOINT:
			if (forward_checks(ctx, dp, m, nh->port, out, &need, &d))
				break;
			set_l2(m, &dp->mac, &nh->mac);
			emit(out, m, nh->port);
			break;
		case KDP_NH_VIA:
		case KDP_NH_CONNECTED:
			if (forward_checks(ctx, dp, m, nh->port, out, &need, &d))
				break;
			kdp_meta(m)->out_port = nh->port;
			need.ip[need.n] = nh->type == KDP_NH_VIA ? nh->gw : ips[i];
			need.m[need.n++] = m;
			break;
		case KDP_NH_HOST:
			set_l2(m, &dp->mac, &nh->mac);
			emit(out, m, nh->port);
			break;
		case KDP_NH_LOCAL: {
			const struct rte_ether_hdr *eth =
				rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
			struct rte_ether_addr peer = eth->src_addr;

			if (kdp_icmp_echo_reply(m) != 0) {
				drop(ctx, &d, m, KDP_DROP_LOCAL_UNSUPPORTED);
				break;
			}
			ctx->st->icmp_sent++;
			set_l2(m, &dp->mac, &peer);
			emit(out, m, in_port);
			break;
		}
		default:
			drop(ctx, &d, m, KDP_DROP_NO_ENDPOINT);
			break;
		}
	}

	/* L2 for uplink next hops, in bulk; misses go to the control thread. */
	if (need.n > 0) {
		kdp_neigh_lookup_bulk(ctx->nt, need.ip, need.n, macs);
		for (uint16_t i = 0; i < need.n; i++) {
			struct rte_mbuf *m = need.m[i];
			struct kdp_meta *md = kdp_meta(m);

			if (likely(macs[i] != 0)) {
				struct rte_ether_hdr *eth =
					rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
				eth->src_addr = dp->mac;
				kdp_neigh_unpack(macs[i], &eth->dst_addr);
				out->tx[out->n_tx++] = m;
			} else {
				md->nh_ip = need.ip[i];
				md->punt = KDP_PUNT_NEIGH;
				out->punt[out->n_punt++] = m;
			}
		}
	}
	if (d.n > 0)
		rte_pktmbuf_free_bulk(d.m, d.n);
	return n;
}

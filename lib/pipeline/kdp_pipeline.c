/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>

#include <rte_cycles.h>
#include <rte_prefetch.h>

#include "common/kdp_addr.h"
#include "common/kdp_clock.h"
#include "common/kdp_csum.h"
#include "icmp/kdp_icmp.h"
#include "maglev/kdp_maglev.h"
#include "nat/kdp_nat.h"
#include "nat/kdp_nat_icmp.h"
#include "nat/kdp_nat6.h"
#include "parse/kdp_parse.h"
#include "reject/kdp_reject.h"
#include "kdp_pipeline.h"

void kdp_pipeline_ctx_init(struct kdp_pipeline_ctx *ctx, struct kdp_stats *st,
			   const struct kdp_neigh *nt, struct kdp_ct *ct,
			   uint32_t icmp_per_sec, uint16_t nat_lo, uint16_t nat_hi)
{
	if (icmp_per_sec == 0)
		icmp_per_sec = 1000;
	ctx->st = st;
	ctx->nt = nt;
	ctx->nt6 = NULL;
	ctx->ct = ct;
	ctx->aff = NULL;
	ctx->ct6 = NULL;
	ctx->aff6 = NULL;
	ctx->mon = NULL;
	ctx->mon_on = false;
	ctx->nat_lo = nat_lo;
	ctx->nat_hi = nat_hi < nat_lo ? nat_lo : nat_hi;
	ctx->rnd = (uint32_t)rte_rdtsc() | 1;
	ctx->nat_retries = 0;
	ctx->now_ms = kdp_clock_now_ms();
	ctx->icmp_burst = icmp_per_sec / 10 + 1;
	ctx->icmp_tokens = ctx->icmp_burst;
	ctx->icmp_tsc_per_token = rte_get_tsc_hz() / icmp_per_sec;
	if (ctx->icmp_tsc_per_token == 0)
		ctx->icmp_tsc_per_token = 1;
	ctx->icmp_last_tsc = rte_rdtsc();
}

/*
 * A burst on its way through the stages. Each stage reads b->m[0..n) (the
 * packets still going on, in order, with their IPv4 destination in b->dst)
 * and leaves there what goes on to the next one; what it drops or answers
 * leaves b->m. Drops are freed together at the end.
 */
struct burst {
	struct kdp_pipeline_ctx *ctx;
	const struct kdp_dp *dp;
	uint16_t in_port;
	uint8_t in_role;                  /* enum kdp_port_role of in_port */
	struct kdp_pipeline_out *out;
	uint16_t n;
	struct rte_mbuf *m[KDP_BURST];
	uint32_t dst[KDP_BURST];          /* host order, after any DNAT */
	/* Conntrack -> route: new flows the conntrack stage left untranslated,
	 * candidates for masquerade. */
	uint8_t isnew[KDP_BURST];
	uint8_t tcp_flags[KDP_BURST];
	struct kdp_ct_key key[KDP_BURST];
	/* Route -> L2: packets waiting for the bulk neighbour lookup. */
	uint16_t n_need;
	struct rte_mbuf *need[KDP_BURST];
	uint32_t need_ip[KDP_BURST];
	/* The IPv6 lane: what parse found to be IPv6, through its own stages. */
	uint16_t n6;
	struct rte_mbuf *m6[KDP_BURST];
	struct kdp_in6 dst6[KDP_BURST];
	uint16_t n_need6;
	struct rte_mbuf *need6[KDP_BURST];
	struct kdp_in6 need_ip6[KDP_BURST];
	/* IPv6 conntrack -> route: new untranslated flows (masquerade
	 * candidates) and packets conntrack translated. */
	uint8_t isnew6[KDP_BURST];
	uint8_t xlat6[KDP_BURST];
	uint8_t tcp_flags6[KDP_BURST];
	struct kdp_ct6_key key6[KDP_BURST];
	/* Dropped, to be freed in bulk. */
	uint16_t n_drop;
	struct rte_mbuf *drop[KDP_BURST];
};

/* Counts a drop, and shows it to the flow monitor when someone listens. */
static inline void count_drop(struct kdp_pipeline_ctx *ctx, struct rte_mbuf *m,
			      enum kdp_drop reason)
{
	kdp_stats_drop(ctx->st, reason);
	if (unlikely(ctx->mon_on))
		kdp_monitor_drop(ctx->mon, m, reason);
}

static inline void drop(struct burst *b, struct rte_mbuf *m, enum kdp_drop reason)
{
	count_drop(b->ctx, m, reason);
	b->drop[b->n_drop++] = m;
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

static inline void set_l2(struct rte_mbuf *m, const struct rte_ether_addr *src,
			  const struct rte_ether_addr *dst)
{
	struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	eth->src_addr = *src;
	eth->dst_addr = *dst;
}

static inline void emit(struct burst *b, struct rte_mbuf *m, uint16_t port)
{
	kdp_meta(m)->out_port = port;
	b->out->tx[b->out->n_tx++] = m;
}

/* Leaves @p m on @p port for next hop @p ip, for the L2 stage. */
static inline void need_neigh(struct burst *b, struct rte_mbuf *m, uint16_t port, uint32_t ip)
{
	kdp_meta(m)->out_port = port;
	b->need_ip[b->n_need] = ip;
	b->need[b->n_need++] = m;
}

/*
 * Sends a packet kdp generated (ICMP, RST) towards its destination: one
 * scalar lookup, no TTL rule. Generated packets are rare, so this is off the
 * bulk path on purpose. The packet that caused it is already counted as a
 * drop, so failing here only frees it.
 */
static void send_generated6(struct burst *b, struct rte_mbuf *m);

static void send_generated(struct burst *b, struct rte_mbuf *m)
{
	const struct kdp_dp *dp = b->dp;

	if (kdp_meta(m)->kind == KDP_PKT_IPV6) {
		send_generated6(b, m);
		return;
	}
	uint32_t dst = rte_be_to_cpu_32(kdp_parse_ip(m)->dst_addr);
	uint32_t i = kdp_route_lookup(dp->rt, dst);
	const struct kdp_nexthop *nh =
		i == KDP_ROUTE_MISS ? NULL : &dp->rt->nh[i];

	if (nh == NULL || nh->type == KDP_NH_LOCAL ||
	    nh->type == KDP_NH_NO_ENDPOINT) {
		b->drop[b->n_drop++] = m;
		return;
	}
	b->ctx->st->icmp_sent++;
	if (nh->type == KDP_NH_ENDPOINT || nh->type == KDP_NH_HOST) {
		set_l2(m, &dp->mac, &nh->mac);
		emit(b, m, nh->port);
		return;
	}
	need_neigh(b, m, nh->port, nh->type == KDP_NH_VIA ? nh->gw : dst);
}

/* What kdp sends back to the sender of a packet it drops. */
enum answer {
	ANSWER_TIME_EXCEEDED, /* ICMP time exceeded */
	ANSWER_FRAG_NEEDED,   /* ICMP fragmentation needed, arg: the MTU */
	ANSWER_REJECT,        /* TCP RST, or ICMP port unreachable from arg */
	ANSWER_RESET,         /* TCP RST of an established flow */
};

/*
 * The one exit for drops kdp answers: counts @p m as dropped for @p reason,
 * and within the ICMP rate limit turns it into the answer (rewritten in
 * place) and sends that; else frees it.
 */
static int answer6(struct burst *b, struct rte_mbuf *m, enum answer a, uint32_t arg);

static void drop_answer(struct burst *b, struct rte_mbuf *m, enum kdp_drop reason,
			enum answer a, uint32_t arg)
{
	uint32_t node = b->dp->node_ip;
	int made = -1;

	count_drop(b->ctx, m, reason);
	if (kdp_meta(m)->kind == KDP_PKT_IPV6) {
		if (icmp_allowed(b->ctx))
			made = answer6(b, m, a, arg);
	} else if (icmp_allowed(b->ctx)) {
		switch (a) {
		case ANSWER_TIME_EXCEEDED:
			made = kdp_icmp_error(m, KDP_ICMP_TIME_EXCEEDED, 0, 0, node);
			break;
		case ANSWER_FRAG_NEEDED:
			made = kdp_icmp_error(m, KDP_ICMP_DEST_UNREACH, KDP_ICMP_CODE_FRAG_NEEDED,
					      (uint16_t)arg, node);
			break;
		case ANSWER_REJECT:
			made = kdp_reject(m, arg);
			break;
		case ANSWER_RESET:
			made = kdp_reject_tcp_reset(m);
			break;
		}
	}
	if (made == 0)
		send_generated(b, m);
	else
		b->drop[b->n_drop++] = m;
}

/* TTL and MTU rules of a forwarded packet; 0 when it goes on. What the
 * node's own stack sends (from the host tap) is not forwarded but sent:
 * its TTL is the stack's, as on a NIC. */
static inline int forward_checks(struct burst *b, struct rte_mbuf *m, uint16_t out_port)
{
	struct rte_ipv4_hdr *ip = kdp_parse_ip(m);
	uint16_t mtu = b->dp->ports[out_port].mtu;
	uint16_t old;

	if (unlikely(b->in_role == KDP_PORT_HOST)) {
		if (unlikely(rte_be_to_cpu_16(ip->total_length) > mtu)) {
			if (!(ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)))
				drop(b, m, KDP_DROP_MTU_EXCEEDED);
			else
				drop_answer(b, m, KDP_DROP_FRAG_NEEDED, ANSWER_FRAG_NEEDED, mtu);
			return -1;
		}
		return 0;
	}
	if (unlikely(ip->time_to_live <= 1)) {
		drop_answer(b, m, KDP_DROP_TTL_EXCEEDED, ANSWER_TIME_EXCEEDED, 0);
		return -1;
	}
	if (unlikely(kdp_csum_seg_len(m, ip) > mtu)) {
		if (!(ip->fragment_offset & RTE_BE16(RTE_IPV4_HDR_DF_FLAG)))
			drop(b, m, KDP_DROP_MTU_EXCEEDED);
		else
			drop_answer(b, m, KDP_DROP_FRAG_NEEDED, ANSWER_FRAG_NEEDED, mtu);
		return -1;
	}
	/* TTL and protocol as one 16-bit word, new value built in registers
	 * (reloading it after the byte store would stall store forwarding). */
	{
		const uint8_t nw[2] = {(uint8_t)(ip->time_to_live - 1), ip->next_proto_id};

		old = kdp_load16(&ip->time_to_live);
		ip->time_to_live = nw[0];
		ip->hdr_checksum = kdp_csum_update16(ip->hdr_checksum, old, kdp_load16(nw));
	}
	return 0;
}

/* ---- conntrack and services ---- */

#define CT_NONE 0      /* not tracked */
#define CT_TUPLE 1     /* has a tuple */
#define CT_ICMP_ERR 2  /* an ICMP error: its quote is looked up instead */
#define CONSUMED 3     /* dropped or answered in the conntrack stage */

/* Tuple of a parsed packet for conntrack (CT_TUPLE), or what else it is. */
static inline int ct_key_of(struct rte_mbuf *m, struct kdp_ct_key *k, uint8_t *tcp_flags)
{
	const struct kdp_meta *md = kdp_meta(m);
	const struct rte_ipv4_hdr *ip = kdp_parse_ip(m);
	const uint8_t *l4 = rte_pktmbuf_mtod_offset(m, const uint8_t *, md->l4_off);

	*tcp_flags = 0;
	if (md->flags & KDP_META_F_LATER_FRAG)
		return 0;
	k->src = ip->src_addr;
	k->dst = ip->dst_addr;
	k->proto = md->l4_proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
	switch (md->l4_proto) {
	case IPPROTO_TCP:
		*tcp_flags = ((const struct rte_tcp_hdr *)l4)->tcp_flags;
		/* fall through */
	case IPPROTO_UDP: /* ports at the same offsets */
		k->sport = ((const struct rte_udp_hdr *)l4)->src_port;
		k->dport = ((const struct rte_udp_hdr *)l4)->dst_port;
		return CT_TUPLE;
	case IPPROTO_ICMP: {
		const struct rte_icmp_hdr *c = (const struct rte_icmp_hdr *)l4;
		if (c->icmp_type == RTE_IP_ICMP_ECHO_REQUEST ||
		    c->icmp_type == RTE_IP_ICMP_ECHO_REPLY) {
			/* The identifier plays both ports. */
			k->sport = k->dport = c->icmp_ident;
			return CT_TUPLE;
		}
		return kdp_nat_icmp_is_error(c->icmp_type) ? CT_ICMP_ERR : CT_NONE;
	}
	default:
		return CT_NONE;
	}
}

static inline uint32_t xorshift(uint32_t *s)
{
	uint32_t x = *s;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

static inline void count_retries(struct kdp_stats *st, uint32_t n)
{
	unsigned int b = n == 0 ? 0 : n == 1 ? 1 : n < 4 ? 2 : n < 8 ? 3 : n < 16 ? 4 : 5;
	st->nat_retry_hist[b]++;
}

/* Inserts a flow whose reply goes to the node IP: keeps the client's port
 * when it is in this lcore's slice and free, else probes the slice from a
 * random offset, at most 64 ports. For ICMP echo the identifier is the
 * "port" (both ports of the tuple). */
static int snat_insert(struct kdp_pipeline_ctx *ctx, const struct kdp_ct_key *orig,
		       struct kdp_ct_key *reply, uint8_t flags, uint32_t svc_id,
		       uint32_t svc_gen, struct kdp_ct_entry **e)
{
	uint32_t span = (uint32_t)ctx->nat_hi - ctx->nat_lo + 1;
	uint32_t start = xorshift(&ctx->rnd) % span, tries = span < 64 ? span : 64;
	uint16_t sport = rte_be_to_cpu_16(orig->sport);
	int icmp = orig->proto == IPPROTO_ICMP, ret;
	uint32_t extra = 0;

	if (sport >= ctx->nat_lo && sport <= ctx->nat_hi) {
		reply->dport = orig->sport;
		if (icmp)
			reply->sport = reply->dport;
		ret = kdp_ct_insert(ctx->ct, orig, reply, flags, svc_id, svc_gen,
				    ctx->now_ms, e);
		if (ret == -EALREADY)
			return ret; /* made by an earlier packet of the burst */
		if (ret != -EEXIST) {
			count_retries(ctx->st, 0);
			return ret;
		}
		extra++;
	}
	for (uint32_t i = 0; i < tries; i++) {
		reply->dport = rte_cpu_to_be_16((uint16_t)(ctx->nat_lo + (start + i) % span));
		if (icmp)
			reply->sport = reply->dport;
		ret = kdp_ct_insert(ctx->ct, orig, reply, flags, svc_id, svc_gen,
				    ctx->now_ms, e);
		if (ret == -EALREADY)
			return ret;
		if (ret != -EEXIST) {
			ctx->nat_retries += extra;
			count_retries(ctx->st, extra);
			return ret;
		}
		extra++;
	}
	ctx->nat_retries += extra;
	return -EADDRINUSE;
}

/* Maps an insert error to its drop reason. */
static inline enum kdp_drop insert_drop(int ret)
{
	if (ret == -ENOSPC)
		return KDP_DROP_CT_FULL;
	if (ret == -EADDRINUSE)
		return KDP_DROP_NAT_PORT_EXHAUSTED;
	return KDP_DROP_CT_CLASH;
}

/* A new flow from a local pod leaving on the uplink to a destination
 * outside the non-masquerade set: SNAT to the node IP. */
static enum kdp_drop masq_new_flow(struct kdp_pipeline_ctx *ctx, const struct kdp_dp *dp,
				   struct rte_mbuf *m, const struct kdp_ct_key *k,
				   uint8_t tcp_flags)
{
	struct kdp_ct_key reply = {
		.src = k->dst, .dst = rte_cpu_to_be_32(dp->node_ip),
		.sport = k->dport, .proto = k->proto,
	};
	struct kdp_ct_entry *e;
	int ret = snat_insert(ctx, k, &reply, KDP_CT_F_SNAT, 0, 0, &e);

	if (ret != 0 && ret != -EALREADY)
		return insert_drop(ret);
	kdp_ct_update(ctx->ct, e, KDP_CT_ORIG, tcp_flags, m->pkt_len, ctx->now_ms);
	kdp_nat_apply(m, e, KDP_CT_ORIG);
	if (ret == 0)
		ctx->st->masq_flows++;
	ctx->st->masq_pkts++;
	return KDP_DROP_NONE;
}

/*
 * A new flow to service frontend @p fe: picks a backend, tracks the flow
 * and translates the packet. Flows from the uplink pick among the local
 * backends under a Local traffic policy; sources outside the frontend's
 * ranges are refused. Returns KDP_DROP_NONE when it goes on; for
 * KDP_DROP_SVC_NO_BACKEND the caller rejects it.
 */
static enum kdp_drop svc_new_flow(struct kdp_pipeline_ctx *ctx, const struct kdp_dp *dp,
				  const struct kdp_svc_fe *fe, struct rte_mbuf *m,
				  const struct kdp_ct_key *k, uint8_t tcp_flags,
				  uint16_t in_port)
{
	uint32_t h = kdp_maglev_flow_hash(k->src, k->dst, k->sport, k->dport, k->proto);
	uint32_t now_s = (uint32_t)(ctx->now_ms / 1000);
	bool outside = dp->ports[in_port].role == KDP_PORT_UPLINK;
	int b = -1;
	const struct kdp_svc_backend *be;
	struct kdp_ct_key reply;
	struct kdp_ct_entry *e = NULL;
	uint8_t flags = KDP_CT_F_DNAT;
	int ret;

	if (unlikely(fe->n_ranges != 0) && !kdp_svc_source_allowed(fe, k->src))
		return KDP_DROP_SVC_SOURCE_RANGE;
	if (fe->affinity && ctx->aff != NULL)
		b = kdp_affinity_get(ctx->aff, fe, k->src, now_s);
	if (b < 0)
		b = kdp_svc_select(fe, h, outside);
	if (b < 0)
		return KDP_DROP_SVC_NO_BACKEND;
	if (fe->affinity && ctx->aff != NULL)
		kdp_affinity_set(ctx->aff, fe, k->src, b, now_s);
	be = &fe->be[b];
	reply.src = be->ip;
	reply.sport = be->port;
	reply.dst = k->src;
	reply.dport = k->sport;
	reply.proto = k->proto;
	reply.pad[0] = reply.pad[1] = reply.pad[2] = 0;
	if (k->src == be->ip) {
		/* Hairpin: the pod reached itself; make the reply come back. */
		reply.dst = rte_cpu_to_be_32(dp->loopback_ip);
		flags |= KDP_CT_F_SNAT | KDP_CT_F_HAIRPIN;
		ret = kdp_ct_insert(ctx->ct, k, &reply, flags, fe->id, fe->gen,
				    ctx->now_ms, &e);
	} else if (outside && !be->local) {
		/* From outside to another node's pod: SNAT to the node IP so
		 * the reply comes back through this node. (Under a Local
		 * policy outside flows only get local backends: the client's
		 * source is kept.) */
		reply.dst = rte_cpu_to_be_32(dp->node_ip);
		flags |= KDP_CT_F_SNAT;
		ret = snat_insert(ctx, k, &reply, flags, fe->id, fe->gen, &e);
	} else {
		ret = kdp_ct_insert(ctx->ct, k, &reply, flags, fe->id, fe->gen,
				    ctx->now_ms, &e);
	}
	/* -EALREADY: an earlier packet of this burst made the flow; follow it. */
	if (ret != 0 && ret != -EALREADY)
		return insert_drop(ret);
	kdp_ct_update(ctx->ct, e, KDP_CT_ORIG, tcp_flags, m->pkt_len, ctx->now_ms);
	kdp_nat_apply(m, e, KDP_CT_ORIG);
	return KDP_DROP_NONE;
}

/*
 * A SYN on a flow that was closing or dead: a client reusing its port.
 * Reopen the entry when its translation still holds (its backend may take
 * new flows, or there is no backend); else the entry must go and the SYN
 * start a new flow, which only the control thread can do: punt it.
 * @return 1 when reopened, 0 when punted.
 */
static int ct_reopen(const struct kdp_dp *dp, struct kdp_ct_entry *e)
{
	if (e->flags & KDP_CT_F_DNAT) {
		const struct kdp_svc_fe *fe = dp->svc != NULL && e->svc_id <= dp->svc->max_id ?
						      dp->svc->by_id[e->svc_id] : NULL;
		int b = fe ? kdp_svc_find_backend(fe, e->key[1].src, e->key[1].sport) : -1;

		if (b < 0 || !kdp_svc_selectable(fe, b))
			return 0;
		e->svc_gen = fe->gen;
	}
	e->flags &= (uint8_t)~(KDP_CT_F_DEAD | KDP_CT_F_SEEN_REPLY);
	e->tcp_state = KDP_CT_TCP_SYN;
	e->fin = 0;
	return 1;
}

/* An established service flow: is its backend still there? */
static inline int svc_backend_alive(const struct kdp_dp *dp, struct kdp_ct_entry *e)
{
	const struct kdp_svc_fe *fe;

	if (dp->svc == NULL || e->svc_id == 0 || e->svc_id > dp->svc->max_id)
		return 0;
	fe = dp->svc->by_id[e->svc_id];
	if (fe == NULL)
		return 0;
	if (likely(fe->gen == e->svc_gen))
		return 1;
	if (kdp_svc_find_backend(fe, e->key[1].src, e->key[1].sport) < 0)
		return 0;
	e->svc_gen = fe->gen;
	return 1;
}

/*
 * Stage: conntrack and services. Tracked flows are translated (either
 * direction); misses to a service frontend become new flows with a backend;
 * ICMP errors about tracked flows are translated inside; what must not go on
 * is dropped or answered. Leaves in b->m what goes to routing, with new
 * untranslated flows marked for masquerade.
 */
/*
 * The reply tuples the burst's new service flows will most likely get (the
 * backend Maglev picks, without affinity or SNAT), their conntrack buckets
 * fetched together: a new flow's clash check and inserts then hit the
 * cache (measured: kdp-bench-pipeline's "new flows" line). Only a hint:
 * svc_new_flow() decides as if it had not run.
 */
static void prefetch_replies(struct burst *b, const struct kdp_ct_key *keys,
			     const uint16_t *miss, struct kdp_svc_fe *const *fes, uint16_t nm)
{
	struct kdp_ct_key r[KDP_BURST];
	const void *kp[KDP_BURST];
	bool outside = b->dp->ports[b->in_port].role == KDP_PORT_UPLINK;
	unsigned int n = 0;

	for (uint16_t s = 0; s < nm; s++) {
		const struct kdp_ct_key *k = &keys[miss[s]];
		const struct kdp_svc_fe *fe = fes[s];
		int be;

		if (fe == NULL)
			continue;
		be = kdp_svc_select(fe, kdp_maglev_flow_hash(k->src, k->dst, k->sport, k->dport,
							     k->proto), outside);
		if (be < 0)
			continue;
		r[n] = (struct kdp_ct_key){.src = fe->be[be].ip, .dst = k->src,
					   .sport = fe->be[be].port, .dport = k->sport,
					   .proto = k->proto};
		kp[n] = &r[n];
		n++;
	}
	kdp_ct_prefetch_bulk(b->ctx->ct, kp, n);
}

static void stage_ct(struct burst *b)
{
	struct kdp_pipeline_ctx *ctx = b->ctx;
	const struct kdp_dp *dp = b->dp;
	struct kdp_ct_key keys[KDP_BURST];
	struct kdp_svc_key skeys[KDP_BURST];
	struct kdp_ct_entry *ents[KDP_BURST];
	struct kdp_svc_fe *fes[KDP_BURST];
	uint8_t dirs[KDP_BURST], tflags[KDP_BURST], tracked[KDP_BURST];
	uint16_t idx[KDP_BURST], miss[KDP_BURST];
	int16_t keyof[KDP_BURST]; /* packet -> its untracked new-flow key, or -1 */
	uint16_t nt = 0, nm = 0, k = 0;

	for (uint16_t i = 0; i < b->n; i++) {
		keyof[i] = -1;
		tracked[i] = (uint8_t)ct_key_of(b->m[i], &keys[nt], &tflags[nt]);
		if (tracked[i] == CT_TUPLE) {
			idx[nt++] = i;
		} else if (tracked[i] == CT_NONE) {
			/* Fragments and other protocols are routed untracked, but
			 * never towards the service range untranslated. */
			if (unlikely(dp->svc_plen != 0 &&
				     kdp_addr_in(b->dst[i], dp->svc_cidr, dp->svc_plen))) {
				drop(b, b->m[i], KDP_DROP_CT_UNTRACKABLE);
				tracked[i] = CONSUMED;
			}
		} else if (unlikely(tracked[i] == CT_ICMP_ERR)) {
			int r = kdp_nat_icmp_error(b->m[i], ctx->ct);
			if (r < 0) {
				drop(b, b->m[i], KDP_DROP_ICMP_QUOTE_BAD);
				tracked[i] = CONSUMED;
			} else if (r > 0) {
				b->dst[i] = rte_be_to_cpu_32(kdp_parse_ip(b->m[i])->dst_addr);
			}
		}
	}
	if (nt > 0)
		kdp_ct_lookup_bulk(ctx->ct, keys, nt, ents, dirs);
	for (uint16_t j = 0; j < nt; j++) {
		uint16_t i = idx[j];
		struct rte_mbuf *m = b->m[i];
		struct kdp_ct_entry *e = ents[j];

		if (e == NULL) {
			skeys[nm].addr = keys[j].dst;
			skeys[nm].port = keys[j].dport;
			skeys[nm].proto = keys[j].proto;
			skeys[nm].pad = 0;
			miss[nm++] = j;
			continue;
		}
		if (unlikely(dirs[j] == KDP_CT_ORIG &&
			     (tflags[j] & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG &&
			     (e->tcp_state == KDP_CT_TCP_CLOSING || (e->flags & KDP_CT_F_DEAD)))) {
			if (!ct_reopen(dp, e)) {
				kdp_meta(m)->punt = KDP_PUNT_CT_RENEW;
				b->out->punt[b->out->n_punt++] = m;
				tracked[i] = CONSUMED;
				continue;
			}
		}
		if (dirs[j] == KDP_CT_ORIG && (e->flags & KDP_CT_F_DNAT) &&
		    !(e->flags & KDP_CT_F_DEAD) && !svc_backend_alive(dp, e)) {
			e->flags |= KDP_CT_F_DEAD;
			e->expires_ms = ctx->now_ms;
		}
		if (unlikely(e->flags & KDP_CT_F_DEAD)) {
			if (dirs[j] == KDP_CT_ORIG && keys[j].proto == IPPROTO_TCP)
				drop_answer(b, m, KDP_DROP_SVC_BACKEND_GONE, ANSWER_RESET, 0);
			else
				drop(b, m, KDP_DROP_SVC_BACKEND_GONE);
			tracked[i] = CONSUMED;
			continue;
		}
		kdp_ct_update(ctx->ct, e, dirs[j], tflags[j], m->pkt_len, ctx->now_ms);
		if ((e->flags & (KDP_CT_F_DNAT | KDP_CT_F_SNAT)) == KDP_CT_F_SNAT)
			ctx->st->masq_pkts++;
		if (e->flags & (KDP_CT_F_DNAT | KDP_CT_F_SNAT)) {
			kdp_nat_apply(m, e, dirs[j]);
			b->dst[i] = rte_be_to_cpu_32(kdp_parse_ip(m)->dst_addr);
		}
	}
	if (nm > 0 && dp->svc == NULL)
		for (uint16_t s = 0; s < nm; s++)
			keyof[idx[miss[s]]] = (int16_t)miss[s];
	if (nm > 0 && dp->svc != NULL) {
		kdp_svc_lookup_bulk(dp->svc, skeys, nm, fes);
		prefetch_replies(b, keys, miss, fes, nm);
		for (uint16_t s = 0; s < nm; s++) {
			uint16_t j = miss[s], i = idx[j];
			struct rte_mbuf *m = b->m[i];
			enum kdp_drop r;

			if (fes[s] == NULL) {
				if (dp->svc_plen != 0 &&
				    kdp_addr_in(b->dst[i], dp->svc_cidr, dp->svc_plen)) {
					drop(b, m, KDP_DROP_SVC_UNKNOWN);
					tracked[i] = CONSUMED;
				} else {
					keyof[i] = (int16_t)j; /* a candidate for masquerade */
				}
				continue;
			}
			r = svc_new_flow(ctx, dp, fes[s], m, &keys[j], tflags[j], b->in_port);
			if (r == KDP_DROP_NONE) {
				b->dst[i] = rte_be_to_cpu_32(kdp_parse_ip(m)->dst_addr);
				continue;
			}
			tracked[i] = CONSUMED;
			if (r == KDP_DROP_SVC_NO_BACKEND)
				drop_answer(b, m, r, ANSWER_REJECT, rte_be_to_cpu_32(keys[j].dst));
			else
				drop(b, m, r);
		}
	}
	/* Keep what goes on to routing, in order. */
	for (uint16_t i = 0; i < b->n; i++) {
		if (tracked[i] == CONSUMED)
			continue;
		b->isnew[k] = keyof[i] >= 0;
		if (keyof[i] >= 0) {
			b->key[k] = keys[keyof[i]];
			b->tcp_flags[k] = tflags[keyof[i]];
		}
		b->m[k] = b->m[i];
		b->dst[k++] = b->dst[i];
	}
	b->n = k;
}

/* Rules of the port a packet came in on. */
static inline enum kdp_drop ingress_check(const struct burst *b, struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth =
		rte_pktmbuf_mtod(m, const struct rte_ether_hdr *);

	switch (b->in_role) {
	case KDP_PORT_POD:
		if (unlikely(rte_be_to_cpu_32(kdp_parse_ip(m)->src_addr) !=
			     b->dp->ports[b->in_port].pod_ip))
			return KDP_DROP_SPOOFED_SOURCE;
		return KDP_DROP_NONE;
	case KDP_PORT_UPLINK:
		if (unlikely(!rte_is_same_ether_addr(&eth->dst_addr, &b->dp->mac) &&
			     !rte_is_multicast_ether_addr(&eth->dst_addr)))
			return KDP_DROP_L2_NOT_FOR_US;
		return KDP_DROP_NONE;
	case KDP_PORT_HOST:
		return KDP_DROP_NONE;
	default:
		return KDP_DROP_UNKNOWN_PORT;
	}
}

static void parse6(struct burst *b, struct rte_mbuf *m);

/*
 * Stage: parse and ingress checks. ARP and neighbour discovery go to the
 * control thread; broken, spoofed and misaddressed frames are dropped; the
 * rest fills b->m (IPv4) and b->m6 (IPv6).
 */
static void stage_parse(struct burst *b, struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n && i < 4; i++)
		rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void *));
	for (uint16_t i = 0; i < n; i++) {
		struct rte_mbuf *m = pkts[i];
		struct kdp_meta *md = kdp_meta(m);
		enum kdp_drop r;
		uint32_t dst;

		if (i + 4 < n)
			rte_prefetch0(rte_pktmbuf_mtod(pkts[i + 4], void *));
		md->in_port = b->in_port;
		r = kdp_parse(m);
		if (unlikely(r != KDP_DROP_NONE)) {
			drop(b, m, r);
			continue;
		}
		if (unlikely(md->kind != KDP_PKT_IPV4)) {
			if (md->kind == KDP_PKT_IPV6) {
				parse6(b, m);
				continue;
			}
			md->punt = md->kind == KDP_PKT_ARP ? KDP_PUNT_ARP : KDP_PUNT_ND;
			b->out->punt[b->out->n_punt++] = m;
			continue;
		}
		r = ingress_check(b, m);
		if (unlikely(r != KDP_DROP_NONE)) {
			drop(b, m, r);
			continue;
		}
		dst = rte_be_to_cpu_32(kdp_parse_ip(m)->dst_addr);
		if (unlikely(dst >= 0xe0000000)) {
			drop(b, m, KDP_DROP_DST_NOT_UNICAST);
			continue;
		}
		b->dst[b->n] = dst;
		b->m[b->n++] = m;
	}
}

/* An echo request to kdp's own address (the pods' gateway): answered
 * back on the port it came in on. */
static void answer_echo(struct burst *b, struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ether_addr peer = eth->src_addr;

	if (kdp_icmp_echo_reply(m) != 0) {
		drop(b, m, KDP_DROP_LOCAL_UNSUPPORTED);
		return;
	}
	b->ctx->st->icmp_sent++;
	if (unlikely(b->ctx->mon_on))
		kdp_monitor_forget(b->ctx->mon, m);
	set_l2(m, &b->dp->mac, &peer);
	emit(b, m, b->in_port);
}

/*
 * Stage: route. Bulk LPM lookup, then per next hop: a local pod or the host
 * (L2 known), the LAN or a gateway (L2 by the next stage; new pod flows
 * leaving there may be masqueraded), kdp itself (echo), or no route.
 */
static void stage_route(struct burst *b)
{
	const struct kdp_dp *dp = b->dp;
	uint32_t nhi[KDP_BURST];

	if (b->n > 0)
		kdp_route_lookup_bulk(dp->rt, b->dst, nhi, b->n);
	for (uint16_t i = 0; i < b->n; i++) {
		struct rte_mbuf *m = b->m[i];
		const struct kdp_nexthop *nh;

		if (unlikely(nhi[i] == KDP_ROUTE_MISS)) {
			drop(b, m, KDP_DROP_NO_ROUTE);
			continue;
		}
		nh = &dp->rt->nh[nhi[i]];
		switch (nh->type) {
		case KDP_NH_ENDPOINT:
			if (forward_checks(b, m, nh->port))
				break;
			set_l2(m, &dp->mac, &nh->mac);
			emit(b, m, nh->port);
			break;
		case KDP_NH_VIA:
		case KDP_NH_CONNECTED:
			if (forward_checks(b, m, nh->port))
				break;
			if (b->isnew[i] && b->in_role == KDP_PORT_POD && dp->masq != NULL) {
				if (kdp_masq_set_contains(dp->masq, b->dst[i])) {
					b->ctx->st->masq_skipped++;
				} else {
					enum kdp_drop r = masq_new_flow(b->ctx, dp, m, &b->key[i],
									b->tcp_flags[i]);
					if (r != KDP_DROP_NONE) {
						drop(b, m, r);
						break;
					}
				}
			}
			need_neigh(b, m, nh->port, nh->type == KDP_NH_VIA ? nh->gw : b->dst[i]);
			break;
		case KDP_NH_HOST:
			set_l2(m, &dp->mac, &nh->mac);
			emit(b, m, nh->port);
			break;
		case KDP_NH_LOCAL:
			answer_echo(b, m);
			break;
		default:
			drop(b, m, KDP_DROP_NO_ENDPOINT);
			break;
		}
	}
	b->n = 0;
}

/* Stage: L2 of uplink next hops, in bulk; misses go to the control thread,
 * which resolves them (ARP) and sends the packets on. */
static void stage_l2(struct burst *b)
{
	uint64_t macs[KDP_BURST];

	if (b->n_need == 0)
		return;
	kdp_neigh_lookup_bulk(b->ctx->nt, b->need_ip, b->n_need, macs);
	for (uint16_t i = 0; i < b->n_need; i++) {
		struct rte_mbuf *m = b->need[i];
		struct kdp_meta *md = kdp_meta(m);

		if (likely(macs[i] != 0)) {
			struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

			eth->src_addr = b->dp->mac;
			kdp_neigh_unpack(macs[i], &eth->dst_addr);
			b->out->tx[b->out->n_tx++] = m;
		} else {
			md->nh_ip = b->need_ip[i];
			md->punt = KDP_PUNT_NEIGH;
			b->out->punt[b->out->n_punt++] = m;
		}
	}
}

/* ---- the IPv6 lane ---- */

/* Ingress rules of an IPv6 packet: a pod sends from its own global address
 * or from a link-local one (which only kdp itself may be sent: the route
 * stage never forwards link-local). */
static inline enum kdp_drop ingress_check6(const struct burst *b, struct rte_mbuf *m)
{
	const struct kdp_in6 *src = (const struct kdp_in6 *)kdp_parse_ip6(m)->src_addr;

	if (b->in_role == KDP_PORT_POD) {
		const struct kdp_in6 *own = &b->dp->ports[b->in_port].pod_ip6;

		if (unlikely(!kdp_addr6_link_local(src) &&
			     (kdp_addr6_is_zero(own) || !kdp_addr6_eq(src, own))))
			return KDP_DROP_SPOOFED_SOURCE;
		return KDP_DROP_NONE;
	}
	return ingress_check(b, m); /* uplink MAC, host, unknown port */
}

/* Parse stage, IPv6 part: ingress checks, then into the IPv6 lane. */
static void parse6(struct burst *b, struct rte_mbuf *m)
{
	const struct kdp_in6 *dst = (const struct kdp_in6 *)kdp_parse_ip6(m)->dst_addr;
	enum kdp_drop r = ingress_check6(b, m);

	if (unlikely(r != KDP_DROP_NONE)) {
		drop(b, m, r);
		return;
	}
	if (unlikely(kdp_addr6_multicast(dst))) {
		drop(b, m, KDP_DROP_DST_NOT_UNICAST);
		return;
	}
	b->dst6[b->n6] = *dst;
	b->m6[b->n6++] = m;
}

static inline void need_neigh6(struct burst *b, struct rte_mbuf *m, uint16_t port,
			       const struct kdp_in6 *ip)
{
	kdp_meta(m)->out_port = port;
	b->need_ip6[b->n_need6] = *ip;
	b->need6[b->n_need6++] = m;
}

/* send_generated() for IPv6. */
static void send_generated6(struct burst *b, struct rte_mbuf *m)
{
	const struct kdp_dp *dp = b->dp;
	const struct kdp_in6 *dst = (const struct kdp_in6 *)kdp_parse_ip6(m)->dst_addr;
	uint32_t i = dp->rt6 ? kdp_route6_lookup(dp->rt6, dst) : KDP_ROUTE_MISS;
	const struct kdp_nexthop6 *nh = i == KDP_ROUTE_MISS ? NULL : &dp->rt6->nh[i];

	if (nh == NULL || nh->type == KDP_NH_LOCAL || nh->type == KDP_NH_NO_ENDPOINT) {
		b->drop[b->n_drop++] = m;
		return;
	}
	b->ctx->st->icmp_sent++;
	if (nh->type == KDP_NH_ENDPOINT || nh->type == KDP_NH_HOST) {
		set_l2(m, &dp->mac, &nh->mac);
		emit(b, m, nh->port);
		return;
	}
	need_neigh6(b, m, nh->port, nh->type == KDP_NH_VIA ? &nh->gw : dst);
}

/* The answer of drop_answer() for an IPv6 packet; 0 when made. */
static int answer6(struct burst *b, struct rte_mbuf *m, enum answer a, uint32_t arg)
{
	const struct kdp_in6 *node = &b->dp->node_ip6;

	switch (a) {
	case ANSWER_TIME_EXCEEDED:
		return kdp_icmp6_error(m, KDP_ICMP6_TIME_EXCEEDED, 0, 0, node);
	case ANSWER_FRAG_NEEDED:
		return kdp_icmp6_error(m, KDP_ICMP6_PKT_TOO_BIG, 0, arg, node);
	case ANSWER_REJECT:
		return kdp_reject6(m, node);
	case ANSWER_RESET:
		return kdp_reject6_tcp_reset(m);
	}
	return -1;
}

/* Hop limit and MTU rules of a forwarded IPv6 packet (IPv6 never
 * fragments in transit: anything too big gets a packet too big); 0 when
 * it goes on. */
static inline int forward_checks6(struct burst *b, struct rte_mbuf *m, uint16_t out_port)
{
	struct rte_ipv6_hdr *ip = kdp_parse_ip6(m);
	uint16_t mtu = b->dp->ports[out_port].mtu;

	if (unlikely(ip->hop_limits <= 1)) {
		drop_answer(b, m, KDP_DROP_TTL_EXCEEDED, ANSWER_TIME_EXCEEDED, 0);
		return -1;
	}
	if (unlikely(kdp_csum_seg_len6(m, ip) > mtu)) {
		drop_answer(b, m, KDP_DROP_PKT_TOO_BIG, ANSWER_FRAG_NEEDED, mtu);
		return -1;
	}
	ip->hop_limits--; /* no header checksum in IPv6 */
	return 0;
}

/* An echo request to kdp's own IPv6 address, answered on its port. */
static void answer_echo6(struct burst *b, struct rte_mbuf *m)
{
	const struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);
	struct rte_ether_addr peer = eth->src_addr;

	if (kdp_icmp6_echo_reply(m) != 0) {
		drop(b, m, KDP_DROP_LOCAL_UNSUPPORTED);
		return;
	}
	b->ctx->st->icmp_sent++;
	if (unlikely(b->ctx->mon_on))
		kdp_monitor_forget(b->ctx->mon, m);
	set_l2(m, &b->dp->mac, &peer);
	emit(b, m, b->in_port);
}

/* ---- IPv6 conntrack and services ---- */

/* ct_key_of() for IPv6. */
static inline int ct6_key_of(struct rte_mbuf *m, struct kdp_ct6_key *k, uint8_t *tcp_flags)
{
	const struct kdp_meta *md = kdp_meta(m);
	const struct rte_ipv6_hdr *ip = kdp_parse_ip6(m);
	const uint8_t *l4 = rte_pktmbuf_mtod_offset(m, const uint8_t *, md->l4_off);

	*tcp_flags = 0;
	if (md->flags & KDP_META_F_LATER_FRAG)
		return CT_NONE;
	memcpy(k->src, ip->src_addr, 16);
	memcpy(k->dst, ip->dst_addr, 16);
	k->proto = md->l4_proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
	switch (md->l4_proto) {
	case IPPROTO_TCP:
		*tcp_flags = ((const struct rte_tcp_hdr *)l4)->tcp_flags;
		/* fall through */
	case IPPROTO_UDP:
		k->sport = ((const struct rte_udp_hdr *)l4)->src_port;
		k->dport = ((const struct rte_udp_hdr *)l4)->dst_port;
		return CT_TUPLE;
	case IPPROTO_ICMPV6: {
		const struct rte_icmp_hdr *c = (const struct rte_icmp_hdr *)l4;

		if (c->icmp_type == KDP_ICMP6_ECHO_REQUEST || c->icmp_type == KDP_ICMP6_ECHO_REPLY) {
			k->sport = k->dport = c->icmp_ident;
			return CT_TUPLE;
		}
		return kdp_nat6_icmp_is_error(c->icmp_type) ? CT_ICMP_ERR : CT_NONE;
	}
	default:
		return CT_NONE;
	}
}

/* snat_insert() for IPv6: the same port rules, the same lcore slice. */
static int snat_insert6(struct kdp_pipeline_ctx *ctx, const struct kdp_ct6_key *orig,
			struct kdp_ct6_key *reply, uint8_t flags, uint32_t svc_id,
			uint32_t svc_gen, struct kdp_ct6_entry **e)
{
	uint32_t span = (uint32_t)ctx->nat_hi - ctx->nat_lo + 1;
	uint32_t start = xorshift(&ctx->rnd) % span, tries = span < 64 ? span : 64;
	uint16_t sport = rte_be_to_cpu_16(orig->sport);
	int icmp = orig->proto == IPPROTO_ICMPV6, ret;
	uint32_t extra = 0;

	if (sport >= ctx->nat_lo && sport <= ctx->nat_hi) {
		reply->dport = orig->sport;
		if (icmp)
			reply->sport = reply->dport;
		ret = kdp_ct6_insert(ctx->ct6, orig, reply, flags, svc_id, svc_gen, ctx->now_ms, e);
		if (ret == -EALREADY)
			return ret;
		if (ret != -EEXIST) {
			count_retries(ctx->st, 0);
			return ret;
		}
		extra++;
	}
	for (uint32_t i = 0; i < tries; i++) {
		reply->dport = rte_cpu_to_be_16((uint16_t)(ctx->nat_lo + (start + i) % span));
		if (icmp)
			reply->sport = reply->dport;
		ret = kdp_ct6_insert(ctx->ct6, orig, reply, flags, svc_id, svc_gen, ctx->now_ms, e);
		if (ret == -EALREADY)
			return ret;
		if (ret != -EEXIST) {
			ctx->nat_retries += extra;
			count_retries(ctx->st, extra);
			return ret;
		}
		extra++;
	}
	ctx->nat_retries += extra;
	return -EADDRINUSE;
}

/* masq_new_flow() for IPv6: SNAT to the node's IPv6 address. */
static enum kdp_drop masq_new_flow6(struct kdp_pipeline_ctx *ctx, const struct kdp_dp *dp,
				    struct rte_mbuf *m, const struct kdp_ct6_key *k,
				    uint8_t tcp_flags)
{
	struct kdp_ct6_key reply;
	struct kdp_ct6_entry *e;
	int ret;

	memcpy(reply.src, k->dst, 16);
	memcpy(reply.dst, &dp->node_ip6, 16);
	reply.sport = k->dport;
	reply.dport = 0;
	reply.proto = k->proto;
	reply.pad[0] = reply.pad[1] = reply.pad[2] = 0;
	ret = snat_insert6(ctx, k, &reply, KDP_CT_F_SNAT, 0, 0, &e);
	if (ret != 0 && ret != -EALREADY)
		return insert_drop(ret);
	kdp_ct6_update(ctx->ct6, e, KDP_CT_ORIG, tcp_flags, m->pkt_len, ctx->now_ms);
	kdp_nat6_apply(m, e, KDP_CT_ORIG);
	if (ret == 0)
		ctx->st->masq_flows++;
	ctx->st->masq_pkts++;
	return KDP_DROP_NONE;
}

/* svc_new_flow() for IPv6. */
static enum kdp_drop svc_new_flow6(struct kdp_pipeline_ctx *ctx, const struct kdp_dp *dp,
				   const struct kdp_svc6_fe *fe, struct rte_mbuf *m,
				   const struct kdp_ct6_key *k, uint8_t tcp_flags, uint16_t in_port)
{
	uint32_t h = kdp_maglev_flow_hash6(k->src, k->dst, k->sport, k->dport, k->proto);
	uint32_t now_s = (uint32_t)(ctx->now_ms / 1000);
	bool outside = dp->ports[in_port].role == KDP_PORT_UPLINK;
	const struct kdp_svc6_backend *be;
	struct kdp_ct6_key reply;
	struct kdp_ct6_entry *e = NULL;
	uint8_t flags = KDP_CT_F_DNAT;
	int b = -1, ret;

	if (unlikely(fe->n_ranges != 0) && !kdp_svc6_source_allowed(fe, k->src))
		return KDP_DROP_SVC_SOURCE_RANGE;
	if (fe->affinity && ctx->aff6 != NULL)
		b = kdp_affinity6_get(ctx->aff6, fe, k->src, now_s);
	if (b < 0)
		b = kdp_svc6_select(fe, h, outside);
	if (b < 0)
		return KDP_DROP_SVC_NO_BACKEND;
	if (fe->affinity && ctx->aff6 != NULL)
		kdp_affinity6_set(ctx->aff6, fe, k->src, b, now_s);
	be = &fe->be[b];
	memcpy(reply.src, be->ip, 16);
	reply.sport = be->port;
	memcpy(reply.dst, k->src, 16);
	reply.dport = k->sport;
	reply.proto = k->proto;
	reply.pad[0] = reply.pad[1] = reply.pad[2] = 0;
	if (memcmp(k->src, be->ip, 16) == 0) {
		/* Hairpin: the pod reached itself. */
		memcpy(reply.dst, &dp->loopback_ip6, 16);
		flags |= KDP_CT_F_SNAT | KDP_CT_F_HAIRPIN;
		ret = kdp_ct6_insert(ctx->ct6, k, &reply, flags, fe->id, fe->gen, ctx->now_ms, &e);
	} else if (outside && !be->local) {
		/* From outside to another node's pod: SNAT to the node (under
		 * a Local policy outside flows only get local backends: the
		 * client's source is kept). */
		memcpy(reply.dst, &dp->node_ip6, 16);
		flags |= KDP_CT_F_SNAT;
		ret = snat_insert6(ctx, k, &reply, flags, fe->id, fe->gen, &e);
	} else {
		ret = kdp_ct6_insert(ctx->ct6, k, &reply, flags, fe->id, fe->gen, ctx->now_ms, &e);
	}
	if (ret != 0 && ret != -EALREADY)
		return insert_drop(ret);
	kdp_ct6_update(ctx->ct6, e, KDP_CT_ORIG, tcp_flags, m->pkt_len, ctx->now_ms);
	kdp_nat6_apply(m, e, KDP_CT_ORIG);
	return KDP_DROP_NONE;
}

/* The frontend an IPv6 entry was made by, or NULL. */
static inline const struct kdp_svc6_fe *fe6_of(const struct kdp_dp *dp,
					       const struct kdp_ct6_entry *e)
{
	if (dp->svc6 == NULL || e->svc_id == 0 || e->svc_id > dp->svc6->max_id)
		return NULL;
	return dp->svc6->by_id[e->svc_id];
}

/* ct_reopen() for IPv6. */
static int ct6_reopen(const struct kdp_dp *dp, struct kdp_ct6_entry *e)
{
	if (e->flags & KDP_CT_F_DNAT) {
		const struct kdp_svc6_fe *fe = fe6_of(dp, e);
		int b = fe ? kdp_svc6_find_backend(fe, e->key[1].src, e->key[1].sport) : -1;

		if (b < 0 || !kdp_svc6_selectable(fe, b))
			return 0;
		e->svc_gen = fe->gen;
	}
	e->flags &= (uint8_t)~(KDP_CT_F_DEAD | KDP_CT_F_SEEN_REPLY);
	e->tcp_state = KDP_CT_TCP_SYN;
	e->fin = 0;
	return 1;
}

/* svc_backend_alive() for IPv6. */
static inline int svc6_backend_alive(const struct kdp_dp *dp, struct kdp_ct6_entry *e)
{
	const struct kdp_svc6_fe *fe = fe6_of(dp, e);

	if (fe == NULL)
		return 0;
	if (likely(fe->gen == e->svc_gen))
		return 1;
	if (kdp_svc6_find_backend(fe, e->key[1].src, e->key[1].sport) < 0)
		return 0;
	e->svc_gen = fe->gen;
	return 1;
}

/* A new IPv6 flow to a service without backends: RST, or port unreachable
 * from the address the client tried (within the ICMP rate limit). */
static void drop_reject6(struct burst *b, struct rte_mbuf *m, const uint8_t *vip)
{
	struct kdp_in6 from;

	memcpy(&from, vip, 16);
	count_drop(b->ctx, m, KDP_DROP_SVC_NO_BACKEND);
	if (icmp_allowed(b->ctx) && kdp_reject6(m, &from) == 0)
		send_generated6(b, m);
	else
		b->drop[b->n_drop++] = m;
}

static inline bool in_svc_cidr6(const struct kdp_dp *dp, const struct kdp_in6 *a)
{
	return dp->svc_plen6 != 0 && kdp_addr6_in(a, &dp->svc_cidr6, dp->svc_plen6);
}

/*
 * Stage: IPv6 conntrack and services, as stage_ct: tracked flows
 * translated, misses to an IPv6 frontend made new flows, ICMPv6 errors
 * about tracked flows translated inside, untracked packets to the IPv6
 * service range dropped. Leaves b->m6 for the IPv6 route stage, with new
 * untranslated flows marked for masquerade.
 */
/* prefetch_replies() for IPv6 flows. */
static void prefetch_replies6(struct burst *b, const struct kdp_ct6_key *keys,
			      const uint16_t *miss, struct kdp_svc6_fe *const *fes, uint16_t nm)
{
	struct kdp_ct6_key r[KDP_BURST];
	const void *kp[KDP_BURST];
	bool outside = b->dp->ports[b->in_port].role == KDP_PORT_UPLINK;
	unsigned int n = 0;

	for (uint16_t s = 0; s < nm; s++) {
		const struct kdp_ct6_key *k = &keys[miss[s]];
		const struct kdp_svc6_fe *fe = fes[s];
		int be;

		if (fe == NULL)
			continue;
		be = kdp_svc6_select(fe, kdp_maglev_flow_hash6(k->src, k->dst, k->sport, k->dport,
							       k->proto), outside);
		if (be < 0)
			continue;
		memcpy(r[n].src, fe->be[be].ip, 16);
		memcpy(r[n].dst, k->src, 16);
		r[n].sport = fe->be[be].port;
		r[n].dport = k->sport;
		r[n].proto = k->proto;
		r[n].pad[0] = r[n].pad[1] = r[n].pad[2] = 0;
		kp[n] = &r[n];
		n++;
	}
	kdp_ct_prefetch_bulk(&b->ctx->ct6->c, kp, n);
}

static void stage_ct6(struct burst *b)
{
	struct kdp_pipeline_ctx *ctx = b->ctx;
	const struct kdp_dp *dp = b->dp;
	struct kdp_ct6_key keys[KDP_BURST];
	struct kdp_svc6_key skeys[KDP_BURST];
	struct kdp_ct6_entry *ents[KDP_BURST];
	struct kdp_svc6_fe *fes[KDP_BURST];
	uint8_t dirs[KDP_BURST], tflags[KDP_BURST], tracked[KDP_BURST], xl[KDP_BURST];
	uint16_t idx[KDP_BURST], miss[KDP_BURST];
	int16_t keyof[KDP_BURST];
	uint16_t nt = 0, nm = 0, k = 0;

	for (uint16_t i = 0; i < b->n6; i++) {
		keyof[i] = -1;
		xl[i] = 0;
		tracked[i] = (uint8_t)ct6_key_of(b->m6[i], &keys[nt], &tflags[nt]);
		if (tracked[i] == CT_TUPLE) {
			idx[nt++] = i;
		} else if (tracked[i] == CT_NONE) {
			if (unlikely(in_svc_cidr6(dp, &b->dst6[i]))) {
				drop(b, b->m6[i], KDP_DROP_CT_UNTRACKABLE);
				tracked[i] = CONSUMED;
			}
		} else {
			int r = kdp_nat6_icmp_error(b->m6[i], ctx->ct6);

			if (r < 0) {
				drop(b, b->m6[i], KDP_DROP_ICMP_QUOTE_BAD);
				tracked[i] = CONSUMED;
			} else if (r > 0) {
				memcpy(&b->dst6[i], kdp_parse_ip6(b->m6[i])->dst_addr, 16);
				xl[i] = 1;
			}
		}
	}
	if (nt > 0)
		kdp_ct6_lookup_bulk(ctx->ct6, keys, nt, ents, dirs);
	for (uint16_t j = 0; j < nt; j++) {
		uint16_t i = idx[j];
		struct rte_mbuf *m = b->m6[i];
		struct kdp_ct6_entry *e = ents[j];

		if (e == NULL) {
			memcpy(skeys[nm].addr, keys[j].dst, 16);
			skeys[nm].port = keys[j].dport;
			skeys[nm].proto = keys[j].proto;
			skeys[nm].pad = 0;
			miss[nm++] = j;
			continue;
		}
		if (unlikely(dirs[j] == KDP_CT_ORIG &&
			     (tflags[j] & (RTE_TCP_SYN_FLAG | RTE_TCP_ACK_FLAG)) == RTE_TCP_SYN_FLAG &&
			     (e->tcp_state == KDP_CT_TCP_CLOSING || (e->flags & KDP_CT_F_DEAD)))) {
			if (!ct6_reopen(dp, e)) {
				/* The control thread renews IPv4 flows only: an
				 * IPv6 one expires first (10 s closing). */
				drop(b, m, KDP_DROP_SVC_BACKEND_GONE);
				tracked[i] = CONSUMED;
				continue;
			}
		}
		if (dirs[j] == KDP_CT_ORIG && (e->flags & KDP_CT_F_DNAT) &&
		    !(e->flags & KDP_CT_F_DEAD) && !svc6_backend_alive(dp, e)) {
			e->flags |= KDP_CT_F_DEAD;
			e->expires_ms = ctx->now_ms;
		}
		if (unlikely(e->flags & KDP_CT_F_DEAD)) {
			if (dirs[j] == KDP_CT_ORIG && keys[j].proto == IPPROTO_TCP)
				drop_answer(b, m, KDP_DROP_SVC_BACKEND_GONE, ANSWER_RESET, 0);
			else
				drop(b, m, KDP_DROP_SVC_BACKEND_GONE);
			tracked[i] = CONSUMED;
			continue;
		}
		kdp_ct6_update(ctx->ct6, e, dirs[j], tflags[j], m->pkt_len, ctx->now_ms);
		if ((e->flags & (KDP_CT_F_DNAT | KDP_CT_F_SNAT)) == KDP_CT_F_SNAT)
			ctx->st->masq_pkts++;
		if (e->flags & (KDP_CT_F_DNAT | KDP_CT_F_SNAT)) {
			kdp_nat6_apply(m, e, dirs[j]);
			memcpy(&b->dst6[i], kdp_parse_ip6(m)->dst_addr, 16);
			xl[i] = 1;
		}
	}
	if (nm > 0 && dp->svc6 != NULL) {
		kdp_svc6_lookup_bulk(dp->svc6, skeys, nm, fes);
		prefetch_replies6(b, keys, miss, fes, nm);
	}
	for (uint16_t s = 0; s < nm; s++) {
		uint16_t j = miss[s], i = idx[j];
		struct rte_mbuf *m = b->m6[i];
		enum kdp_drop r;

		if (dp->svc6 == NULL || fes[s] == NULL) {
			if (in_svc_cidr6(dp, &b->dst6[i])) {
				drop(b, m, KDP_DROP_SVC_UNKNOWN);
				tracked[i] = CONSUMED;
			} else {
				keyof[i] = (int16_t)j;
			}
			continue;
		}
		r = svc_new_flow6(ctx, dp, fes[s], m, &keys[j], tflags[j], b->in_port);
		if (r == KDP_DROP_NONE) {
			memcpy(&b->dst6[i], kdp_parse_ip6(m)->dst_addr, 16);
			xl[i] = 1;
			continue;
		}
		tracked[i] = CONSUMED;
		if (r == KDP_DROP_SVC_NO_BACKEND)
			drop_reject6(b, m, keys[j].dst);
		else
			drop(b, m, r);
	}
	for (uint16_t i = 0; i < b->n6; i++) {
		if (tracked[i] == CONSUMED)
			continue;
		b->isnew6[k] = keyof[i] >= 0;
		b->xlat6[k] = xl[i];
		if (keyof[i] >= 0) {
			b->key6[k] = keys[keyof[i]];
			b->tcp_flags6[k] = tflags[keyof[i]];
		}
		b->m6[k] = b->m6[i];
		b->dst6[k++] = b->dst6[i];
	}
	b->n6 = k;
}

/*
 * Stage: IPv6 route. Bulk rte_lpm6 lookup, then as stage_route: a local
 * pod or the host, the LAN or a gateway (L2 by neighbour discovery), kdp
 * itself, or nothing. Link-local sources and destinations never leave
 * their link (RFC 4291 §2.5.6): only kdp's own addresses answer them.
 */
static void stage_route6(struct burst *b)
{
	const struct kdp_dp *dp = b->dp;
	uint32_t nhi[KDP_BURST];

	if (dp->rt6 == NULL) {
		for (uint16_t i = 0; i < b->n6; i++)
			drop(b, b->m6[i], KDP_DROP_NO_ROUTE);
		b->n6 = 0;
		return;
	}
	kdp_route6_lookup_bulk(dp->rt6, b->dst6, nhi, b->n6);
	for (uint16_t i = 0; i < b->n6; i++) {
		struct rte_mbuf *m = b->m6[i];
		const struct kdp_nexthop6 *nh;

		if (unlikely(nhi[i] == KDP_ROUTE_MISS)) {
			drop(b, m, KDP_DROP_NO_ROUTE);
			continue;
		}
		nh = &dp->rt6->nh[nhi[i]];
		if (nh->type == KDP_NH_LOCAL) {
			answer_echo6(b, m);
			continue;
		}
		/* kdp's own translations may use a link-local source (the
		 * hairpin address), delivered on the pod's link. */
		if (unlikely(kdp_addr6_link_local(&b->dst6[i]) ||
			     (!b->xlat6[i] && kdp_addr6_link_local((const struct kdp_in6 *)
								    kdp_parse_ip6(m)->src_addr)))) {
			drop(b, m, KDP_DROP_LINK_LOCAL);
			continue;
		}
		switch (nh->type) {
		case KDP_NH_ENDPOINT:
			if (forward_checks6(b, m, nh->port))
				break;
			set_l2(m, &dp->mac, &nh->mac);
			emit(b, m, nh->port);
			break;
		case KDP_NH_VIA:
		case KDP_NH_CONNECTED:
			if (forward_checks6(b, m, nh->port))
				break;
			if (b->isnew6[i] && b->in_role == KDP_PORT_POD && dp->masq6 != NULL &&
			    b->ctx->ct6 != NULL) {
				if (kdp_masq_set6_contains(dp->masq6, &b->dst6[i])) {
					b->ctx->st->masq_skipped++;
				} else {
					enum kdp_drop r = masq_new_flow6(b->ctx, dp, m, &b->key6[i],
									 b->tcp_flags6[i]);
					if (r != KDP_DROP_NONE) {
						drop(b, m, r);
						break;
					}
				}
			}
			need_neigh6(b, m, nh->port, nh->type == KDP_NH_VIA ? &nh->gw : &b->dst6[i]);
			break;
		case KDP_NH_HOST:
			set_l2(m, &dp->mac, &nh->mac);
			emit(b, m, nh->port);
			break;
		default:
			drop(b, m, KDP_DROP_NO_ENDPOINT);
			break;
		}
	}
	b->n6 = 0;
}

/* Stage: L2 of IPv6 next hops on the uplink, in bulk; misses go to the
 * control thread, which resolves them by neighbour discovery. */
static void stage_l2_6(struct burst *b)
{
	uint64_t macs[KDP_BURST];

	if (b->ctx->nt6 != NULL)
		kdp_neigh_lookup_bulk6(b->ctx->nt6, b->need_ip6, b->n_need6, macs);
	else
		memset(macs, 0, sizeof(macs[0]) * b->n_need6);
	for (uint16_t i = 0; i < b->n_need6; i++) {
		struct rte_mbuf *m = b->need6[i];
		struct kdp_meta *md = kdp_meta(m);

		if (likely(macs[i] != 0)) {
			struct rte_ether_hdr *eth = rte_pktmbuf_mtod(m, struct rte_ether_hdr *);

			eth->src_addr = b->dp->mac;
			kdp_neigh_unpack(macs[i], &eth->dst_addr);
			b->out->tx[b->out->n_tx++] = m;
		} else {
			memcpy(md->nh_ip6, &b->need_ip6[i], 16);
			md->punt = KDP_PUNT_NEIGH6;
			b->out->punt[b->out->n_punt++] = m;
		}
	}
}

/*
 * The pipeline, stage by stage over one burst:
 *   parse -> conntrack/services (NAT) -> route (TTL/MTU, masquerade) -> L2.
 */
uint16_t kdp_pipeline_run(struct kdp_pipeline_ctx *ctx, const struct kdp_dp *dp,
			  uint16_t in_port, struct rte_mbuf **pkts, uint16_t n,
			  struct kdp_pipeline_out *out)
{
	struct burst b;

	b.ctx = ctx;
	b.dp = dp;
	b.in_port = in_port;
	b.in_role = dp->ports[in_port].role;
	b.out = out;
	b.n = b.n_need = b.n_drop = 0;
	b.n6 = b.n_need6 = 0;
	out->n_tx = out->n_punt = 0;
	ctx->mon_on = ctx->mon != NULL && kdp_monitor_begin(ctx->mon);

	stage_parse(&b, pkts, n);
	if (unlikely(ctx->mon_on)) {
		kdp_monitor_pre(ctx->mon, b.m, b.n);
		kdp_monitor_pre(ctx->mon, b.m6, b.n6);
	}
	if (b.n > 0 && ctx->ct != NULL) {
		ctx->now_ms = kdp_clock_now_ms();
		stage_ct(&b);
	} else {
		memset(b.isnew, 0, b.n);
	}
	stage_route(&b);
	if (unlikely(b.n6 > 0)) {
		if (ctx->ct6 != NULL) {
			ctx->now_ms = kdp_clock_now_ms();
			stage_ct6(&b);
		} else {
			memset(b.isnew6, 0, b.n6);
			memset(b.xlat6, 0, b.n6);
		}
		stage_route6(&b);
	}
	stage_l2(&b);
	if (unlikely(b.n_need6 > 0))
		stage_l2_6(&b);

	if (unlikely(ctx->mon_on))
		kdp_monitor_end(ctx->mon, out->tx, out->n_tx, out->punt, out->n_punt);
	if (b.n_drop > 0)
		rte_pktmbuf_free_bulk(b.drop, b.n_drop);
	return n;
}

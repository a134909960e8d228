/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Flow monitor: events about what the pipeline did to packets (forwarded,
 * translated, dropped with its reason), for `kdpctl monitor`.
 *
 * Each worker owns one struct kdp_monitor_worker: a single-producer,
 * single-consumer ring of fixed-size events, a token bucket and its lost
 * counters. The worker reads the shared "listening" flag once per burst;
 * with nobody listening that is all the monitor costs. With a listener the
 * pipeline records the tuple of each packet before translation, stages one
 * event per packet, and at the end of the burst enqueues as many as the
 * token bucket allows without waiting: what does not fit is counted as lost
 * (rate limited or ring full), never retried.
 *
 * The control thread is the only consumer: it sets the flag, drains the
 * rings and reads the counters (plain 64-bit loads, at most a burst stale).
 */
#ifndef KDP_MONITOR_H
#define KDP_MONITOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_common.h>
#include <rte_cycles.h>
#include <rte_icmp.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>
#include <rte_tcp.h>
#include <rte_udp.h>

#include "common/kdp_addr.h"
#include "common/kdp_drop.h"
#include "common/kdp_meta.h"
#include "parse/kdp_parse.h"

/** Most events one burst can stage (one per packet of a burst). */
#define KDP_MONITOR_BURST 32
/** Events per second and worker when the node config does not say. */
#define KDP_MONITOR_DEFAULT_RATE 20000
/** Ring size (events) per worker when the caller does not say. */
#define KDP_MONITOR_DEFAULT_RING 4096
/** kdp_meta()->mon_idx of a packet the monitor does not follow. */
#define KDP_MONITOR_NO_IDX 0xff

/** What happened to a packet. */
enum kdp_monitor_verdict {
	KDP_MONITOR_FORWARDED = 0, /**< sent on unchanged (but for TTL and L2) */
	KDP_MONITOR_TRANSLATED,    /**< sent on with its addresses or ports rewritten */
	KDP_MONITOR_DROPPED,       /**< dropped; the event says why */
	KDP_MONITOR_VERDICT_MAX
};

/** Addresses and ports of a packet, network byte order. For ICMP echo both
 * ports are the identifier (as conntrack sees it); other ICMP has none.
 * IPv4 addresses sit in the first 4 bytes of their 16, the rest zero. */
struct kdp_monitor_tuple {
	union {
		uint32_t src;
		struct kdp_in6 src6;
	};
	union {
		uint32_t dst;
		struct kdp_in6 dst6;
	};
	uint16_t sport;
	uint16_t dport;
};

/** One event, as the control thread dequeues it. */
struct kdp_monitor_event {
	uint64_t tsc;                  /**< TSC at the start of the burst */
	struct kdp_monitor_tuple orig; /**< as received */
	struct kdp_monitor_tuple xlat; /**< as sent (DROPPED: as when dropped) */
	uint16_t in_port;
	uint16_t out_port;             /**< UINT16_MAX when dropped */
	uint8_t verdict;               /**< enum kdp_monitor_verdict */
	uint8_t reason;                /**< enum kdp_drop when DROPPED */
	uint8_t proto;                 /**< IPPROTO_*; 0 when unknown (malformed) */
	uint8_t tcp_flags;
	uint8_t icmp_type;
	uint8_t worker;
	uint8_t family;                /**< 4 or 6; 0 when unknown (malformed) */
	uint8_t pad;
	uint32_t pad2;
};

/* A packet's tuple before the pipeline rewrote it. */
struct kdp_monitor_pre {
	struct rte_mbuf *m; /**< NULL once the packet got its event */
	struct kdp_monitor_tuple t;
	uint8_t tcp_flags;
	uint8_t icmp_type;
};

/** One worker's side of the monitor. Only that worker writes it, but the
 * counters, which the control thread reads. */
struct kdp_monitor_worker {
	const atomic_uint *listening; /**< the monitor's flag */
	struct rte_ring *ring;        /**< SP/SC, elements are events */
	uint8_t id;
	uint16_t n_ev;                /**< staged in this burst */
	uint16_t n_pre;
	uint64_t now_tsc;
	/* Token bucket: one token per event. */
	uint64_t tokens;
	uint64_t burst;
	uint64_t tsc_per_token;
	uint64_t last_tsc;
	/* Counters (monotonic). */
	uint64_t events;    /**< enqueued for the control thread */
	uint64_t lost_rate; /**< over the rate limit */
	uint64_t lost_ring; /**< the ring was full */
	struct kdp_monitor_event ev[KDP_MONITOR_BURST];
	struct kdp_monitor_pre pre[KDP_MONITOR_BURST];
} __rte_cache_aligned;

/** The monitor of a node: the flag and every worker's part. */
struct kdp_monitor {
	atomic_uint listening; /**< nonzero while someone listens */
	unsigned int n_workers;
	struct kdp_monitor_worker *w; /**< n_workers of them */
};

/** Totals over all workers. */
struct kdp_monitor_counters {
	uint64_t events;
	uint64_t lost_rate;
	uint64_t lost_ring;
};

/**
 * Creates a monitor for @p n_workers workers, each with a ring of
 * @p ring_size events (a power of two; 0: KDP_MONITOR_DEFAULT_RING) and at
 * most @p events_per_sec events per second (0: KDP_MONITOR_DEFAULT_RATE;
 * bursts of a tenth of a second pass). Nobody listens at first.
 * @return the monitor, or NULL with rte_errno set (EINVAL, ENOMEM).
 */
struct kdp_monitor *kdp_monitor_create(const char *name, unsigned int n_workers,
				       unsigned int ring_size, uint32_t events_per_sec,
				       int socket);

/** Frees a monitor (NULL is fine). Workers must not use it any more. */
void kdp_monitor_free(struct kdp_monitor *mon);

/**
 * Control thread: turns event production on or off. Turning it on first
 * empties the rings, so a new listener sees no stale events.
 */
void kdp_monitor_set_listening(struct kdp_monitor *mon, bool on);

/**
 * Control thread: moves at most @p max events of worker @p worker into
 * @p ev. @return how many.
 */
unsigned int kdp_monitor_dequeue(struct kdp_monitor *mon, unsigned int worker,
				 struct kdp_monitor_event *ev, unsigned int max);

/** Sums the workers' counters (any thread). */
void kdp_monitor_counters(const struct kdp_monitor *mon,
			  struct kdp_monitor_counters *c);

/** Name of a verdict ("FORWARDED"), or NULL. */
const char *kdp_monitor_verdict_name(unsigned int v);

/** Verdict named @p s (case-insensitive). @return it, or -EINVAL. */
int kdp_monitor_verdict_parse(const char *s);

/* ---- fast path (the worker that owns @p w) ---- */

/**
 * Start of a burst: true when someone listens, and then resets the burst's
 * staging. The only cost of the monitor when nobody listens.
 */
static inline bool kdp_monitor_begin(struct kdp_monitor_worker *w)
{
	if (likely(atomic_load_explicit(w->listening, memory_order_relaxed) == 0))
		return false;
	w->n_ev = 0;
	w->n_pre = 0;
	w->now_tsc = rte_rdtsc();
	return true;
}

/* Reads the tuple of a parsed IPv4 or IPv6 packet. */
static inline void kdp_monitor_read(struct rte_mbuf *m, struct kdp_monitor_tuple *t,
				    uint8_t *tcp_flags, uint8_t *icmp_type)
{
	const struct kdp_meta *md = kdp_meta(m);
	const uint8_t *l4 = rte_pktmbuf_mtod_offset(m, const uint8_t *, md->l4_off);

	if (md->kind == KDP_PKT_IPV6) {
		const struct rte_ipv6_hdr *ip6 = kdp_parse_ip6(m);

		memcpy(&t->src6, ip6->src_addr, 16);
		memcpy(&t->dst6, ip6->dst_addr, 16);
	} else {
		const struct rte_ipv4_hdr *ip = kdp_parse_ip(m);

		memset(t, 0, sizeof(*t));
		t->src = ip->src_addr;
		t->dst = ip->dst_addr;
	}
	t->sport = t->dport = 0;
	*tcp_flags = 0;
	*icmp_type = 0;
	if (md->flags & KDP_META_F_LATER_FRAG)
		return;
	switch (md->l4_proto) {
	case IPPROTO_TCP:
		*tcp_flags = ((const struct rte_tcp_hdr *)l4)->tcp_flags;
		/* fall through */
	case IPPROTO_UDP:
		t->sport = ((const struct rte_udp_hdr *)l4)->src_port;
		t->dport = ((const struct rte_udp_hdr *)l4)->dst_port;
		break;
	case IPPROTO_ICMP: {
		const struct rte_icmp_hdr *c = (const struct rte_icmp_hdr *)l4;

		*icmp_type = c->icmp_type;
		if (c->icmp_type == RTE_IP_ICMP_ECHO_REQUEST ||
		    c->icmp_type == RTE_IP_ICMP_ECHO_REPLY)
			t->sport = t->dport = c->icmp_ident;
		break;
	}
	case IPPROTO_ICMPV6: {
		const struct rte_icmp_hdr *c = (const struct rte_icmp_hdr *)l4;

		*icmp_type = c->icmp_type;
		if (c->icmp_type == KDP_ICMP6_ECHO_REQUEST || c->icmp_type == KDP_ICMP6_ECHO_REPLY)
			t->sport = t->dport = c->icmp_ident;
		break;
	}
	default:
		break;
	}
}

/**
 * Records the tuples of @p n parsed IP packets before any rewrite, so
 * their events can show the translation.
 */
static inline void kdp_monitor_pre(struct kdp_monitor_worker *w, struct rte_mbuf **m,
				   uint16_t n)
{
	for (uint16_t i = 0; i < n && w->n_pre < KDP_MONITOR_BURST; i++) {
		struct kdp_monitor_pre *p = &w->pre[w->n_pre];

		p->m = m[i];
		kdp_monitor_read(m[i], &p->t, &p->tcp_flags, &p->icmp_type);
		kdp_meta(m[i])->mon_idx = (uint8_t)w->n_pre++;
	}
}

/* The pre-rewrite record of @p m, or NULL. */
static inline struct kdp_monitor_pre *kdp_monitor_pre_of(struct kdp_monitor_worker *w,
							 struct rte_mbuf *m)
{
	uint8_t i = kdp_meta(m)->mon_idx;

	return i < w->n_pre && w->pre[i].m == m ? &w->pre[i] : NULL;
}

/** The packet @p m gets no event of its own (kdp answers it itself). */
static inline void kdp_monitor_forget(struct kdp_monitor_worker *w, struct rte_mbuf *m)
{
	struct kdp_monitor_pre *p = kdp_monitor_pre_of(w, m);

	if (p != NULL)
		p->m = NULL;
}

/* Stages an event for @p m; @p p is its pre-rewrite record or NULL. */
static inline void kdp_monitor_stage(struct kdp_monitor_worker *w, struct rte_mbuf *m,
				     struct kdp_monitor_pre *p, uint8_t verdict,
				     uint8_t reason, uint16_t out_port, bool parsed)
{
	struct kdp_monitor_event *e;
	uint8_t tcp_flags = 0, icmp_type = 0;

	if (unlikely(w->n_ev == KDP_MONITOR_BURST))
		return;
	e = &w->ev[w->n_ev++];
	e->tsc = w->now_tsc;
	e->in_port = kdp_meta(m)->in_port;
	e->out_port = out_port;
	e->reason = reason;
	e->worker = w->id;
	e->pad = 0;
	e->pad2 = 0;
	if (parsed) {
		if (kdp_meta(m)->kind == KDP_PKT_IPV6) {
			e->family = 6;
			e->proto = kdp_meta(m)->l4_proto;
		} else {
			e->family = 4;
			e->proto = kdp_parse_ip(m)->next_proto_id;
		}
		kdp_monitor_read(m, &e->xlat, &tcp_flags, &icmp_type);
	} else {
		e->family = 0;
		e->proto = 0;
		memset(&e->xlat, 0, sizeof(e->xlat));
	}
	if (p != NULL) {
		e->orig = p->t;
		e->tcp_flags = p->tcp_flags;
		e->icmp_type = p->icmp_type;
		p->m = NULL;
	} else {
		e->orig = e->xlat;
		e->tcp_flags = tcp_flags;
		e->icmp_type = icmp_type;
	}
	if (verdict == KDP_MONITOR_FORWARDED &&
	    memcmp(&e->orig, &e->xlat, sizeof(e->orig)) != 0)
		verdict = KDP_MONITOR_TRANSLATED;
	e->verdict = verdict;
}

/**
 * Stages a DROPPED event for @p m with @p reason. Call before the packet
 * is freed or rewritten (into an ICMP error, a RST).
 */
static inline void kdp_monitor_drop(struct kdp_monitor_worker *w, struct rte_mbuf *m,
				    enum kdp_drop reason)
{
	if (reason >= KDP_DROP_UNKNOWN_PORT) {
		kdp_monitor_stage(w, m, kdp_monitor_pre_of(w, m), KDP_MONITOR_DROPPED,
				  (uint8_t)reason, UINT16_MAX, true);
	} else if (reason == KDP_DROP_IP_BAD_CHECKSUM || reason == KDP_DROP_IP_BAD_SOURCE ||
		   reason == KDP_DROP_L4_TRUNCATED || reason == KDP_DROP_IP6_BAD_SOURCE) {
		/* The IP header is whole, the L4 header may not be: addresses
		 * only (the packet is freed next, its metadata is ours). */
		kdp_meta(m)->flags |= KDP_META_F_LATER_FRAG;
		kdp_monitor_stage(w, m, NULL, KDP_MONITOR_DROPPED, (uint8_t)reason,
				  UINT16_MAX, true);
	} else {
		kdp_monitor_stage(w, m, NULL, KDP_MONITOR_DROPPED, (uint8_t)reason,
				  UINT16_MAX, false);
	}
}

/**
 * Enqueues the burst's staged events, as many as the token bucket allows,
 * without waiting; counts the rest as lost (over the rate, or ring full).
 */
static inline void kdp_monitor_enqueue(struct kdp_monitor_worker *w)
{
	uint64_t add = (w->now_tsc - w->last_tsc) / w->tsc_per_token;
	unsigned int n = w->n_ev, allowed, done;

	if (n == 0)
		return;
	if (add > 0) {
		w->tokens = RTE_MIN(w->burst, w->tokens + add);
		w->last_tsc += add * w->tsc_per_token;
	}
	allowed = (unsigned int)RTE_MIN((uint64_t)n, w->tokens);
	w->tokens -= allowed;
	w->lost_rate += n - allowed;
	done = allowed ? rte_ring_sp_enqueue_burst_elem(w->ring, w->ev, sizeof(w->ev[0]),
							allowed, NULL)
		       : 0;
	w->lost_ring += allowed - done;
	w->events += done;
	w->n_ev = 0;
}

/**
 * End of a burst: stages a FORWARDED or TRANSLATED event for every packet
 * of @p tx and every packet of @p punt waiting for its next hop
 * (KDP_PUNT_NEIGH) that the monitor followed, then enqueues the burst's
 * events. Never waits.
 */
static inline void kdp_monitor_end(struct kdp_monitor_worker *w, struct rte_mbuf **tx,
				   uint16_t n_tx, struct rte_mbuf **punt, uint16_t n_punt)
{
	for (uint16_t i = 0; i < n_tx; i++) {
		struct kdp_monitor_pre *p = kdp_monitor_pre_of(w, tx[i]);

		if (p != NULL)
			kdp_monitor_stage(w, tx[i], p, KDP_MONITOR_FORWARDED, 0,
					  kdp_meta(tx[i])->out_port, true);
	}
	for (uint16_t i = 0; i < n_punt; i++) {
		struct kdp_monitor_pre *p = kdp_meta(punt[i])->punt == KDP_PUNT_NEIGH
						    ? kdp_monitor_pre_of(w, punt[i])
						    : NULL;
		if (p != NULL)
			kdp_monitor_stage(w, punt[i], p, KDP_MONITOR_FORWARDED, 0,
					  kdp_meta(punt[i])->out_port, true);
	}
	kdp_monitor_enqueue(w);
}

#endif

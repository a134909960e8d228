/* SPDX-License-Identifier: BSD-3-Clause */
/* The worker loop: each worker polls its RX queues, runs the pipeline on
 * each burst, stages what goes out by port and sends it on its own TX queue
 * (partial checksums finished or handed to the port on the way), hands
 * punts to the control thread, and (worker 0) sends what the control
 * thread injects. */
#include <errno.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "common/kdp_csum.h"
#include "common/kdp_gso.h"
#include "kdp.h"

/* Per-worker TX staging: the packets of one burst grouped by egress port.
 * Sized by the burst, not by RTE_MAX_ETHPORTS: a group per port the burst
 * touches, found through a byte per port (0: none yet). */
#define TX_GROUP (2 * KDP_BURST)
struct txg {
	uint16_t port;
	uint16_t n;
	struct rte_mbuf *m[TX_GROUP];
};
struct txq {
	uint16_t n_groups;
	uint16_t queue;                  /* this worker's TX queue */
	struct rte_mempool *pool;        /* segments of super-frames cut here */
	uint8_t slot[RTE_MAX_ETHPORTS];  /* group index + 1 of a port */
	struct txg g[KDP_BURST];
};
_Static_assert(KDP_BURST < UINT8_MAX, "a group index fits slot[]");

static void tx_send(struct txg *g, struct kdp_stats *st, uint16_t queue)
{
	uint16_t sent = rte_eth_tx_burst(g->port, queue, g->m, g->n);

	for (uint16_t j = 0; j < sent; j++)
		st->tx_bytes += g->m[j]->pkt_len;
	st->tx_pkts += sent;
	if (unlikely(sent < g->n)) {
		st->drop[KDP_DROP_TX_FULL] += g->n - sent;
		rte_pktmbuf_free_bulk(&g->m[sent], g->n - sent);
	}
	g->n = 0;
}

/* The group of port @p p, opened when the burst has none yet; NULL when
 * every group is taken (then the packet is sent at once, alone). */
static inline struct txg *tx_group(struct txq *t, uint16_t p)
{
	struct txg *g;

	if (likely(t->slot[p] != 0))
		return &t->g[t->slot[p] - 1];
	if (unlikely(t->n_groups == KDP_BURST))
		return NULL;
	g = &t->g[t->n_groups++];
	t->slot[p] = (uint8_t)t->n_groups;
	g->port = p;
	g->n = 0;
	return g;
}

/* Adds @p m, ready to send, to its port's group. */
static inline void tx_add(struct txq *t, struct kdp_stats *st, uint16_t p, struct rte_mbuf *m)
{
	struct txg *g = tx_group(t, p);

	if (unlikely(g == NULL)) {
		struct txg one = {.port = p, .n = 1, .m = {m}};
		tx_send(&one, st, t->queue);
		return;
	}
	if (unlikely(g->n == TX_GROUP))
		tx_send(g, st, t->queue);
	g->m[g->n++] = m;
}

/* A TCP super-frame for a port without TSO: cut here into segments (their
 * checksums finished or offloaded like any partial one), then freed. */
static void tx_segment(struct txq *t, struct kdp_stats *st, uint16_t p, bool port_csum,
		       struct rte_mbuf *m)
{
	struct rte_mbuf *seg[KDP_BURST];
	struct kdp_gso g;
	uint16_t k;

	if (kdp_gso_init(&g, rte_pktmbuf_mtod(m, const uint8_t *), rte_pktmbuf_data_len(m),
			 IPPROTO_TCP, m->tso_segsz,
			 rte_pktmbuf_data_room_size(t->pool) - RTE_PKTMBUF_HEADROOM) != KDP_GSO_OK) {
		kdp_stats_drop(st, KDP_DROP_TX_SEGMENT);
		rte_pktmbuf_free(m);
		return;
	}
	while (!kdp_gso_done(&g)) {
		k = kdp_gso_next(&g, t->pool, m->port, seg, KDP_BURST);
		if (k == 0) {
			kdp_stats_drop(st, KDP_DROP_TX_SEGMENT);
			break;
		}
		for (uint16_t i = 0; i < k; i++) {
			*kdp_meta(seg[i]) = *kdp_meta(m);
			kdp_csum_tx_prep(seg[i], port_csum);
			tx_add(t, st, p, seg[i]);
		}
	}
	rte_pktmbuf_free(m);
}

static void tx_stage(struct txq *t, const struct kdp_dp *dp, struct kdp_stats *st,
		     struct rte_mbuf **pkts, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++) {
		uint16_t p = kdp_meta(pkts[i])->out_port;

		if (unlikely(p >= RTE_MAX_ETHPORTS ||
			     dp->ports[p].role == KDP_PORT_NONE)) {
			kdp_stats_drop(st, KDP_DROP_PORT_GONE);
			rte_pktmbuf_free(pkts[i]);
			continue;
		}
		if (unlikely(pkts[i]->ol_flags & RTE_MBUF_F_RX_LRO)) {
			if (!dp->ports[p].tx_tso) {
				tx_segment(t, st, p, dp->ports[p].tx_csum, pkts[i]);
				continue;
			}
			kdp_csum_tx_tso(pkts[i]);
		} else {
			kdp_csum_tx_prep(pkts[i], dp->ports[p].tx_csum);
		}
		tx_add(t, st, p, pkts[i]);
	}
}

static void tx_flush(struct txq *t, struct kdp_stats *st)
{
	for (uint16_t i = 0; i < t->n_groups; i++) {
		struct txg *g = &t->g[i];

		if (g->n > 0)
			tx_send(g, st, t->queue);
		t->slot[g->port] = 0;
	}
	t->n_groups = 0;
}

/* How often an idle RX queue is polled while the worker is awake: after
 * IDLE_AFTER empty polls in a row it is skipped for up to IDLE_SKIP_MAX
 * loops, but never longer than IDLE_WAIT_US, so a few hundred idle pod
 * ports (or a tap, whose poll is a syscall) cost the busy ones little and
 * an idle pod's next packet waits no longer than an adaptive worker's
 * sleep. A worker that sleeps between loops (adaptive mode, idle) polls
 * every queue each time. Per worker, by port (a worker polls at most one
 * queue of a port). */
#define IDLE_AFTER 4
#define IDLE_SKIP_MAX 31
#define IDLE_WAIT_US 200
struct rx_idle {
	uint64_t last; /* TSC of the last poll */
	uint8_t empty; /* empty polls in a row (saturates) */
	uint8_t skip;  /* loops still to skip */
};

static void punt(struct kdp *k, struct kdp_stats *st, struct rte_mbuf **pkts,
		 uint16_t n)
{
	unsigned int done = rte_ring_mp_enqueue_burst(k->rings.punt, (void **)pkts, n,
						      NULL);
	st->punted += done;
	/* An idle control thread sleeps up to its idle tick: the first
	 * worker that punts after it armed the flag wakes it (once). The
	 * fence orders our enqueue before the flag's load, as the control
	 * thread orders its store of the flag before its look at the ring. */
	if (done > 0) {
		atomic_thread_fence(memory_order_seq_cst);
		if (atomic_load_explicit(&k->rings.punt_armed, memory_order_relaxed) &&
		    atomic_exchange_explicit(&k->rings.punt_armed, false, memory_order_relaxed)) {
			uint64_t one = 1;
			ssize_t w = write(k->rings.punt_fd, &one, sizeof(one));

			RTE_SET_USED(w); /* fails only with a saturated counter: awake anyway */
		}
	}
	if (unlikely(done < n)) {
		st->drop[KDP_DROP_PUNT_FULL] += n - done;
		rte_pktmbuf_free_bulk(&pkts[done], n - done);
	}
}

/* Empty loops in a row before an adaptive worker starts sleeping. */
#define IDLE_SLEEP_AFTER 256

/* Sleeps while idle, offline for RCU so updates never wait on a sleeper.
 * @return true if it slept. */
static bool idle_sleep(struct kdp *k, unsigned int id, unsigned int idle)
{
	if (idle < IDLE_SLEEP_AFTER)
		return false;
	rte_rcu_qsbr_thread_offline(k->qsbr, id);
	rte_delay_us_sleep(idle < 4096 ? 50 : 300);
	rte_rcu_qsbr_thread_online(k->qsbr, id);
	return true;
}


/* Parked for a hand-over: touches nothing until resumed (or told to quit). */
static void park(struct kdp *k, unsigned int id)
{
	rte_rcu_qsbr_thread_offline(k->qsbr, id);
	atomic_fetch_add(&k->rings.parked, 1);
	while (atomic_load(&k->rings.pause) && !atomic_load(&k->quit))
		rte_delay_us_sleep(100);
	atomic_fetch_sub(&k->rings.parked, 1);
	rte_rcu_qsbr_thread_online(k->qsbr, id);
	/* A kdp that took over ran at a lower priority until now. */
	if (k->ho.takeover)
		setpriority(PRIO_PROCESS, 0, k->ho.nice0);
}

/* Asked to park: true once a pass found every queue emptied (@p full: the
 * queues that gave a whole burst), or 1/@p per_s of a second after the
 * first such pass (*@p until, 0 before it) however busy they stay. */
static bool drained(uint64_t *until, unsigned int full, unsigned int per_s)
{
	uint64_t now = rte_rdtsc();

	if (*until == 0)
		*until = now + rte_get_tsc_hz() / per_s;
	if (full != 0 && now <= *until)
		return false;
	*until = 0;
	return true;
}

int kdp_worker_pause(struct kdp *k, unsigned int timeout_ms)
{
	atomic_store(&k->rings.pause, true);
	for (unsigned int waited = 0; atomic_load(&k->rings.parked) < k->cfg.workers; waited++) {
		if (waited >= timeout_ms * 10)
			return -ETIMEDOUT;
		rte_delay_us_sleep(100);
	}
	return 0;
}

void kdp_worker_resume(struct kdp *k)
{
	atomic_store(&k->rings.pause, false);
}

/*
 * A kdp taking over, before the old one is frozen: every frame its ports
 * receive is a copy of one the old kdp forwards, so it is dropped here
 * (never the host tap's: the kernel gives those to one process only, so
 * they wait in the tap). @return frames dropped; *@p full gets the queues
 * that gave a whole burst (more may wait).
 */
static unsigned int discard(const struct kdp_snapshot *s, unsigned int id,
			    struct rte_mbuf **pkts, unsigned int *full)
{
	unsigned int n = 0;

	*full = 0;
	for (uint16_t i = 0; i < s->n_rxq[id]; i++) {
		const struct kdp_rxq *q = &s->rxq[id][i];
		uint16_t got;

		if (s->dp.ports[q->port].role == KDP_PORT_HOST)
			continue;
		got = rte_eth_rx_burst(q->port, q->queue, pkts, KDP_BURST);
		rte_pktmbuf_free_bulk(pkts, got);
		n += got;
		*full += got == KDP_BURST;
	}
	return n;
}

int kdp_worker_main(void *arg)
{
	struct kdp *k = arg;
	unsigned int id = UINT32_MAX;
	struct kdp_pipeline_ctx ctx;
	struct kdp_pipeline_out out;
	struct rte_mbuf *pkts[KDP_BURST];
	struct kdp_stats *st;
	unsigned int idle = 0;
	uint64_t last = rte_rdtsc(), drain_until = 0;
	uint64_t awake = last; /* end of the last pass, or of a sleep after it */
	struct txq *t;
	struct rx_idle *ri;
	const uint64_t idle_wait = rte_get_tsc_hz() / 1000000 * IDLE_WAIT_US;
	const uint64_t stall = rte_get_tsc_hz() / 1000000 * KDP_STATS_STALL_US;

	for (unsigned int i = 0; i < k->cfg.workers; i++)
		if (k->workers[i].lcore == rte_lcore_id())
			id = i;
	if (id == UINT32_MAX)
		return -EINVAL;
	st = k->workers[id].st;
	t = rte_zmalloc("kdp_txq", sizeof(*t), RTE_CACHE_LINE_SIZE);
	if (t == NULL)
		return -ENOMEM;
	ri = rte_zmalloc("kdp_rx_idle", sizeof(*ri) * RTE_MAX_ETHPORTS, RTE_CACHE_LINE_SIZE);
	if (ri == NULL) {
		rte_free(t);
		return -ENOMEM;
	}
	t->queue = (uint16_t)id;
	t->pool = k->pool;
	{
		/* Each worker owns a slice of the SNAT port range. */
		uint32_t span = ((uint32_t)k->cfg.nat_hi - k->cfg.nat_lo + 1) / k->cfg.workers;
		uint16_t lo = (uint16_t)(k->cfg.nat_lo + id * span);
		uint16_t hi = id + 1 == k->cfg.workers ? k->cfg.nat_hi
						       : (uint16_t)(lo + span - 1);
		kdp_pipeline_ctx_init(&ctx, st, k->nt, k->ct, 0, lo, hi);
		ctx.nt6 = k->nt6;
		ctx.ct6 = k->ct6;
		ctx.aff6 = k->aff6;
		ctx.aff = k->aff;
		ctx.mon = &k->mon->w[id];
	}
	rte_rcu_qsbr_thread_register(k->qsbr, id);
	rte_rcu_qsbr_thread_online(k->qsbr, id);

	while (!atomic_load_explicit(&k->quit, memory_order_relaxed)) {
		uint64_t t0 = rte_rdtsc(), t1;
		const struct kdp_snapshot *s =
			atomic_load_explicit(&k->pub.snap, memory_order_acquire);
		/* Asked to park before this pass: it parks once the pass found
		 * each queue emptied (fewer frames than a burst). */
		bool pausing = atomic_load_explicit(&k->rings.pause, memory_order_relaxed);
		unsigned int got = 0, full = 0;

		if (unlikely(atomic_load_explicit(&k->rings.discard, memory_order_relaxed))) {
			got = discard(s, id, pkts, &full);
			atomic_fetch_add_explicit(&k->rings.discarded, got, memory_order_relaxed);
			rte_rcu_qsbr_quiescent(k->qsbr, id);
			if (atomic_load(&k->rings.pause)) {
				/* Hold from here (the old kdp is still running), once
				 * the queues are emptied of the copies that came
				 * before: held, they would be sent a second time. */
				if (drained(&drain_until, full, 20))
					park(k, id);
			} else if (got == 0 && k->cfg.poll_mode == KDP_POLL_ADAPTIVE) {
				rte_delay_us_sleep(20);
			}
			last = rte_rdtsc();
			awake = last;
			continue;
		}

		for (uint16_t i = 0; i < s->n_rxq[id]; i++) {
			const struct kdp_rxq *q = &s->rxq[id][i];
			struct rx_idle *r = &ri[q->port];
			uint16_t n;

			if (r->skip > 0 && idle < IDLE_SLEEP_AFTER && t0 - r->last < idle_wait) {
				r->skip--;
				continue;
			}
			r->last = t0;
			n = rte_eth_rx_burst(q->port, q->queue, pkts, KDP_BURST);
			if (n == 0) {
				if (r->empty < UINT8_MAX)
					r->empty++;
				if (r->empty >= IDLE_AFTER)
					r->skip = (uint8_t)RTE_MIN(r->empty - IDLE_AFTER + 1, IDLE_SKIP_MAX);
				continue;
			}
			r->empty = 0;
			full += n == KDP_BURST;
			got += n;
			st->rx_pkts += n;
			for (uint16_t j = 0; j < n; j++)
				st->rx_bytes += pkts[j]->pkt_len;
			kdp_pipeline_run(&ctx, &s->dp, q->port, pkts, n, &out);
			tx_stage(t, &s->dp, st, out.tx, out.n_tx);
			tx_flush(t, st);
			if (out.n_punt > 0)
				punt(k, st, out.punt, out.n_punt);
		}
		if (id == 0) {
			/* Packets the control thread hands back to run again
			 * (one at a time: they may come from different ports). */
			struct rte_mbuf *rm;
			while (rte_ring_sc_dequeue(k->rings.renew, (void **)&rm) == 0) {
				kdp_pipeline_run(&ctx, &s->dp, kdp_meta(rm)->in_port, &rm, 1,
						 &out);
				tx_stage(t, &s->dp, st, out.tx, out.n_tx);
				tx_flush(t, st);
				if (out.n_punt > 0)
					punt(k, st, out.punt, out.n_punt);
				got++;
			}
		}
		if (id == 0) {
			unsigned int n = rte_ring_sc_dequeue_burst(
				k->rings.inject, (void **)pkts, KDP_BURST, NULL);
			if (n > 0) {
				got += n;
				tx_stage(t, &s->dp, st, pkts, (uint16_t)n);
				tx_flush(t, st);
			}
		}
		rte_rcu_qsbr_quiescent(k->qsbr, id);
		t1 = rte_rdtsc();
		/* From the end of the last pass (not counting a sleep): what
		 * a frame arriving then could have waited. */
		if (unlikely(t1 - awake > stall)) {
			st->stalls++;
			st->stall_cycles += t1 - awake;
			if (t1 - awake > st->stall_max_cycles)
				st->stall_max_cycles = t1 - awake;
		}
		if (unlikely(pausing)) {
			/* A hand-over: what arrived before the new kdp held its
			 * queues is only in ours. A pass that emptied each queue
			 * took all of that (later frames are in both). */
			if (drained(&drain_until, full, 50)) {
				park(k, id);
				last = rte_rdtsc();
				awake = last;
				continue;
			}
		}
		/* Total includes the time asleep, so busy/total is the load. */
		st->total_cycles += t1 - last;
		last = t1;
		awake = t1;
		if (got > 0) {
			st->busy_cycles += t1 - t0;
			idle = 0;
		} else if (k->cfg.poll_mode == KDP_POLL_ADAPTIVE) {
			if (idle_sleep(k, id, ++idle))
				awake = rte_rdtsc();
		}
	}
	rte_rcu_qsbr_thread_offline(k->qsbr, id);
	rte_rcu_qsbr_thread_unregister(k->qsbr, id);
	rte_free(ri);
	rte_free(t);
	return 0;
}

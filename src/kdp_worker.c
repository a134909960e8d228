/* SPDX-License-Identifier: BSD-3-Clause */
/* The worker loop: each worker polls its RX queues, runs the pipeline on
 * each burst, stages what goes out by port and sends it on its own TX queue
 * (partial checksums finished or handed to the port on the way), hands
 * punts to the control thread, and (worker 0) sends what the control
 * thread injects. */
#include <errno.h>
#include <stdatomic.h>

#include <rte_cycles.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "common/kdp_csum.h"
#include "kdp.h"

/* Per-worker TX staging: packets grouped by egress port. */
struct txq {
	uint16_t n[RTE_MAX_ETHPORTS];
	uint16_t touched[RTE_MAX_ETHPORTS];
	uint16_t n_touched;
	struct rte_mbuf *m[RTE_MAX_ETHPORTS][2 * KDP_BURST];
};

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
		kdp_csum_tx_prep(pkts[i], dp->ports[p].tx_csum);
		if (t->n[p] == 0)
			t->touched[t->n_touched++] = p;
		t->m[p][t->n[p]++] = pkts[i];
	}
}

static void tx_flush(struct txq *t, struct kdp_stats *st, uint16_t queue)
{
	for (uint16_t i = 0; i < t->n_touched; i++) {
		uint16_t p = t->touched[i], n = t->n[p], sent;

		sent = rte_eth_tx_burst(p, queue, t->m[p], n);
		for (uint16_t j = 0; j < sent; j++)
			st->tx_bytes += t->m[p][j]->pkt_len;
		st->tx_pkts += sent;
		if (unlikely(sent < n)) {
			st->drop[KDP_DROP_TX_FULL] += n - sent;
			rte_pktmbuf_free_bulk(&t->m[p][sent], n - sent);
		}
		t->n[p] = 0;
	}
	t->n_touched = 0;
}

static void punt(struct kdp *k, struct kdp_stats *st, struct rte_mbuf **pkts,
		 uint16_t n)
{
	unsigned int done = rte_ring_mp_enqueue_burst(k->rings.punt, (void **)pkts, n,
						      NULL);
	st->punted += done;
	if (unlikely(done < n)) {
		st->drop[KDP_DROP_PUNT_FULL] += n - done;
		rte_pktmbuf_free_bulk(&pkts[done], n - done);
	}
}

/* Sleeps while idle, offline for RCU so updates never wait on a sleeper. */
static void idle_sleep(struct kdp *k, unsigned int id, unsigned int idle)
{
	if (idle < 256)
		return;
	rte_rcu_qsbr_thread_offline(k->qsbr, id);
	rte_delay_us_sleep(idle < 4096 ? 50 : 300);
	rte_rcu_qsbr_thread_online(k->qsbr, id);
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
	uint64_t last = rte_rdtsc();
	struct txq *t;

	for (unsigned int i = 0; i < k->cfg.workers; i++)
		if (k->workers[i].lcore == rte_lcore_id())
			id = i;
	if (id == UINT32_MAX)
		return -EINVAL;
	st = k->workers[id].st;
	t = rte_zmalloc("kdp_txq", sizeof(*t), RTE_CACHE_LINE_SIZE);
	if (t == NULL)
		return -ENOMEM;
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
		unsigned int got = 0;

		for (uint16_t i = 0; i < s->n_rxq[id]; i++) {
			const struct kdp_rxq *q = &s->rxq[id][i];
			uint16_t n = rte_eth_rx_burst(q->port, q->queue, pkts,
						      KDP_BURST);
			if (n == 0)
				continue;
			got += n;
			st->rx_pkts += n;
			for (uint16_t j = 0; j < n; j++)
				st->rx_bytes += pkts[j]->pkt_len;
			kdp_pipeline_run(&ctx, &s->dp, q->port, pkts, n, &out);
			tx_stage(t, &s->dp, st, out.tx, out.n_tx);
			tx_flush(t, st, (uint16_t)id);
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
				tx_flush(t, st, 0);
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
				tx_flush(t, st, 0);
			}
		}
		rte_rcu_qsbr_quiescent(k->qsbr, id);
		t1 = rte_rdtsc();
		/* Total includes the time asleep, so busy/total is the load. */
		st->total_cycles += t1 - last;
		last = t1;
		if (got > 0) {
			st->busy_cycles += t1 - t0;
			idle = 0;
		} else if (k->cfg.poll_mode == KDP_POLL_ADAPTIVE) {
			idle_sleep(k, id, ++idle);
		}
	}
	rte_rcu_qsbr_thread_offline(k->qsbr, id);
	rte_rcu_qsbr_thread_unregister(k->qsbr, id);
	rte_free(t);
	return 0;
}

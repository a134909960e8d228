/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdio.h>
#include <strings.h>

#include <rte_errno.h>
#include <rte_malloc.h>

#include "kdp_monitor.h"

static const char *const verdict_names[KDP_MONITOR_VERDICT_MAX] = {
	[KDP_MONITOR_FORWARDED] = "FORWARDED",
	[KDP_MONITOR_TRANSLATED] = "TRANSLATED",
	[KDP_MONITOR_DROPPED] = "DROPPED",
};

const char *kdp_monitor_verdict_name(unsigned int v)
{
	return v < KDP_MONITOR_VERDICT_MAX ? verdict_names[v] : NULL;
}

int kdp_monitor_verdict_parse(const char *s)
{
	for (unsigned int v = 0; v < KDP_MONITOR_VERDICT_MAX; v++)
		if (strcasecmp(s, verdict_names[v]) == 0)
			return (int)v;
	return -EINVAL;
}

struct kdp_monitor *kdp_monitor_create(const char *name, unsigned int n_workers,
				       unsigned int ring_size, uint32_t events_per_sec,
				       int socket)
{
	struct kdp_monitor *mon;
	uint64_t hz = rte_get_tsc_hz();

	if (ring_size == 0)
		ring_size = KDP_MONITOR_DEFAULT_RING;
	if (events_per_sec == 0)
		events_per_sec = KDP_MONITOR_DEFAULT_RATE;
	if (n_workers == 0 || n_workers > UINT8_MAX || !rte_is_power_of_2(ring_size)) {
		rte_errno = EINVAL;
		return NULL;
	}
	mon = rte_zmalloc_socket(name, sizeof(*mon), 0, socket);
	if (mon == NULL) {
		rte_errno = ENOMEM;
		return NULL;
	}
	mon->n_workers = n_workers;
	mon->w = rte_zmalloc_socket(name, sizeof(*mon->w) * n_workers, RTE_CACHE_LINE_SIZE,
				    socket);
	if (mon->w == NULL) {
		kdp_monitor_free(mon);
		rte_errno = ENOMEM;
		return NULL;
	}
	for (unsigned int i = 0; i < n_workers; i++) {
		struct kdp_monitor_worker *w = &mon->w[i];
		char rn[RTE_RING_NAMESIZE];

		snprintf(rn, sizeof(rn), "%s_%u", name, i);
		/* Ring sizes are powers of two and hold one less element. */
		w->ring = rte_ring_create_elem(rn, sizeof(struct kdp_monitor_event), ring_size,
					       socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		if (w->ring == NULL) {
			int e = rte_errno;
			kdp_monitor_free(mon);
			rte_errno = e;
			return NULL;
		}
		w->listening = &mon->listening;
		w->id = (uint8_t)i;
		w->burst = events_per_sec / 10 + 1;
		w->tokens = w->burst;
		w->tsc_per_token = hz / events_per_sec ? hz / events_per_sec : 1;
		w->last_tsc = rte_rdtsc();
	}
	return mon;
}

void kdp_monitor_free(struct kdp_monitor *mon)
{
	if (mon == NULL)
		return;
	for (unsigned int i = 0; mon->w != NULL && i < mon->n_workers; i++)
		rte_ring_free(mon->w[i].ring);
	rte_free(mon->w);
	rte_free(mon);
}

void kdp_monitor_set_listening(struct kdp_monitor *mon, bool on)
{
	if (on) {
		struct kdp_monitor_event ev[KDP_MONITOR_BURST];

		for (unsigned int i = 0; i < mon->n_workers; i++)
			while (kdp_monitor_dequeue(mon, i, ev, RTE_DIM(ev)) > 0)
				;
	}
	atomic_store_explicit(&mon->listening, on ? 1u : 0u, memory_order_release);
}

unsigned int kdp_monitor_dequeue(struct kdp_monitor *mon, unsigned int worker,
				 struct kdp_monitor_event *ev, unsigned int max)
{
	if (worker >= mon->n_workers)
		return 0;
	return rte_ring_sc_dequeue_burst_elem(mon->w[worker].ring, ev, sizeof(*ev), max,
					      NULL);
}

void kdp_monitor_counters(const struct kdp_monitor *mon, struct kdp_monitor_counters *c)
{
	memset(c, 0, sizeof(*c));
	for (unsigned int i = 0; i < mon->n_workers; i++) {
		const volatile struct kdp_monitor_worker *w = &mon->w[i];

		c->events += w->events;
		c->lost_rate += w->lost_rate;
		c->lost_ring += w->lost_ring;
	}
}

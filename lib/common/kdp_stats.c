/* SPDX-License-Identifier: BSD-3-Clause */
#include "kdp_stats.h"

void kdp_stats_add(struct kdp_stats *dst, const struct kdp_stats *src)
{
	dst->rx_pkts += src->rx_pkts;
	dst->rx_bytes += src->rx_bytes;
	dst->tx_pkts += src->tx_pkts;
	dst->tx_bytes += src->tx_bytes;
	dst->punted += src->punted;
	dst->icmp_sent += src->icmp_sent;
	dst->masq_flows += src->masq_flows;
	dst->masq_pkts += src->masq_pkts;
	dst->masq_skipped += src->masq_skipped;
	for (unsigned int i = 0; i < 6; i++)
		dst->nat_retry_hist[i] += src->nat_retry_hist[i];
	dst->busy_cycles += src->busy_cycles;
	dst->total_cycles += src->total_cycles;
	dst->stalls += src->stalls;
	dst->stall_cycles += src->stall_cycles;
	if (src->stall_max_cycles > dst->stall_max_cycles)
		dst->stall_max_cycles = src->stall_max_cycles;
	for (unsigned int i = 0; i < KDP_DROP__MAX; i++)
		dst->drop[i] += src->drop[i];
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp's commands in DPDK telemetry, for the standard dpdk-telemetry.py
 * client: /kdp/stats (counters and drops by reason) and /kdp/ct (conntrack
 * size and GC). The callbacks run on the telemetry thread and read only
 * counters (plain 64-bit loads, as the API does), never the desired state.
 */
#include <stdio.h>
#include <string.h>

#include <rte_telemetry.h>

#include "kdp.h"
#include "kdp_telemetry.h"

static struct kdp *tk;

static int tel_stats(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct kdp_stats tot;

	memset(&tot, 0, sizeof(tot));
	for (unsigned int i = 0; i <= tk->cfg.workers; i++)
		kdp_stats_add(&tot, &tk->stats[i]);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_string(d, "node", tk->cfg.name);
	rte_tel_data_add_dict_u64(d, "rx_packets", tot.rx_pkts);
	rte_tel_data_add_dict_u64(d, "rx_bytes", tot.rx_bytes);
	rte_tel_data_add_dict_u64(d, "tx_packets", tot.tx_pkts);
	rte_tel_data_add_dict_u64(d, "tx_bytes", tot.tx_bytes);
	rte_tel_data_add_dict_u64(d, "punted", tot.punted);
	rte_tel_data_add_dict_u64(d, "masqueraded_flows", tot.masq_flows);
	for (unsigned int i = 0; i < KDP_DROP__MAX; i++) {
		char name[64];
		snprintf(name, sizeof(name), "drop_%s", kdp_drop_name(i));
		rte_tel_data_add_dict_u64(d, name, tot.drop[i]);
	}
	return 0;
}

static int tel_ct(const char *cmd, const char *params, struct rte_tel_data *d)
{
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "entries", kdp_ct_count(tk->ct));
	rte_tel_data_add_dict_u64(d, "capacity", tk->cfg.ct_max);
	rte_tel_data_add_dict_u64(d, "gc_runs", tk->ct->gc_runs);
	rte_tel_data_add_dict_u64(d, "gc_removed", tk->ct->gc_removed);
	return 0;
}

int kdp_telemetry_init(struct kdp *k, char *err)
{
	tk = k;
	/* Without telemetry (--no-telemetry) registering still succeeds. */
	if (rte_telemetry_register_cmd("/kdp/stats", tel_stats,
				       "kdp packet counters and drops by reason. No parameters") ||
	    rte_telemetry_register_cmd("/kdp/ct", tel_ct,
				       "kdp conntrack size and GC. No parameters")) {
		snprintf(err, KDP_ERR_LEN, "cannot register the telemetry commands");
		return -EINVAL;
	}
	return 0;
}

/* kdpctl: the status, node, endpoint, route, neigh and stats listings. */
#include <stdio.h>
#include <stdlib.h>

#include "kdpctl.h"

/* A byte count from the API in MiB (0 when absent). */
static double mib(const json_t *v)
{
	return json_is_integer(v) ? (double)json_integer_value(v) / (1 << 20) : 0.0;
}

int cmd_status(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column node_fields[] = {
		{ "Node:", "node", KDPCTL_FMT_PLAIN },
		{ "Version:", "version", KDPCTL_FMT_PLAIN },
		{ "Uptime:", "uptimeSeconds", KDPCTL_FMT_DURATION },
		{ "Node IP:", "nodeIP", KDPCTL_FMT_PLAIN },
		{ "Gateway:", "gateway", KDPCTL_FMT_PLAIN },
		{ "Pod gateway:", "podGateway", KDPCTL_FMT_PLAIN },
		{ "MAC:", "mac", KDPCTL_FMT_PLAIN },
		{ "Native routing CIDR:", "nativeRoutingCIDR", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column node6_fields[] = {
		{ "Node IPv6:", "nodeIPv6", KDPCTL_FMT_PLAIN },
		{ "Gateway IPv6:", "gatewayIPv6", KDPCTL_FMT_PLAIN },
		{ "Pod gateway IPv6:", "podGatewayIPv6", KDPCTL_FMT_PLAIN },
		{ "Native routing CIDR IPv6:", "nativeRoutingCIDRv6", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column count6_fields[] = {
		{ "IPv6 routes:", "counts.routesIPv6", KDPCTL_FMT_PLAIN },
		{ "IPv6 neighbours:", "counts.neighboursIPv6", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column count_fields[] = {
		{ "Nodes:", "counts.nodes", KDPCTL_FMT_PLAIN },
		{ "Endpoints:", "counts.endpoints", KDPCTL_FMT_PLAIN },
		{ "Services:", "counts.services", KDPCTL_FMT_PLAIN },
		{ "Routes:", "counts.routes", KDPCTL_FMT_PLAIN },
		{ "Neighbours:", "counts.neighbours", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column port_cols[] = {
		{ "ID", "id", KDPCTL_FMT_PLAIN },
		{ "NAME", "name", KDPCTL_FMT_PLAIN },
		{ "ROLE", "role", KDPCTL_FMT_PLAIN },
		{ "ENDPOINT", "endpoint", KDPCTL_FMT_NSNAME },
		{ "STATE", "state", KDPCTL_FMT_PLAIN },
		{ "RX PACKETS", "rxPackets", KDPCTL_FMT_PLAIN },
		{ "TX PACKETS", "txPackets", KDPCTL_FMT_PLAIN },
		{ "RX MISSED", "rxMissed", KDPCTL_FMT_PLAIN },
		{ "RX ERRORS", "rxErrors", KDPCTL_FMT_PLAIN, true },
		{ "TX ERRORS", "txErrors", KDPCTL_FMT_PLAIN, true },
		{ "OFFLOADS", "offloads", KDPCTL_FMT_PLAIN, true },
	};
	struct kdpctl_table t = { .ncols = 2 };
	struct kdpctl_buf b = { 0 };
	const char *mode;
	json_t *st, *ports, *mem;
	int rc = kdpctl_get(o, "/v1/status", JSON_OBJECT, &st);

	if (st == NULL)
		return rc;
	kdpctl_add_fields(&t, st, node_fields, ARRAY_SIZE(node_fields));
	if (json_object_get(st, "nodeIPv6") != NULL)
		kdpctl_add_fields(&t, st, node6_fields, ARRAY_SIZE(node6_fields));
	kdpctl_format_json(&b, json_object_get(st, "workers"), KDPCTL_FMT_PLAIN);
	mode = json_string_value(json_object_get(st, "pollMode"));
	if (b.len > 0 && mode != NULL)
		kdpctl_buf_printf(&b, " (%s)", mode);
	kdpctl_table_add(&t, "Workers:");
	kdpctl_table_add_owned(&t, kdpctl_buf_take(&b));
	kdpctl_add_fields(&t, st, count_fields, ARRAY_SIZE(count_fields));
	if (kdpctl_json_path(st, "counts.routesIPv6") != NULL)
		kdpctl_add_fields(&t, st, count6_fields, ARRAY_SIZE(count6_fields));
	kdpctl_buf_value(&b, kdpctl_json_path(st, "counts.conntrack"));
	kdpctl_buf_puts(&b, " flows (capacity ");
	kdpctl_buf_value(&b, kdpctl_json_path(st, "counts.conntrackCapacity"));
	kdpctl_buf_puts(&b, ")");
	kdpctl_table_add(&t, "Conntrack:");
	kdpctl_table_add_owned(&t, kdpctl_buf_take(&b));
	mem = json_object_get(st, "memory");
	if (json_is_object(mem)) {
		kdpctl_buf_printf(&b, "RSS %.1f MiB; in use: C heap %.1f MiB, DPDK heap %.1f MiB",
				  mib(json_object_get(mem, "rssBytes")),
				  mib(json_object_get(mem, "mallocInUseBytes")),
				  mib(json_object_get(mem, "dpdkHeapInUseBytes")));
		kdpctl_table_add(&t, "Memory:");
		kdpctl_table_add_owned(&t, kdpctl_buf_take(&b));
	}
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);

	ports = json_object_get(st, "ports");
	if (json_is_array(ports)) {
		putchar('\n');
		kdpctl_print_rows(ports, port_cols, ARRAY_SIZE(port_cols), o->wide);
	}
	json_decref(st);
	return KDPCTL_EXIT_OK;
}

/* GETs a collection and prints it as a table. */
static int kdpctl_list(const struct kdpctl_opts *o, const char *path,
		       const struct kdpctl_column *cols, size_t ncols)
{
	json_t *rows;
	int rc = kdpctl_get(o, path, JSON_ARRAY, &rows);

	if (rows != NULL) {
		kdpctl_print_rows(rows, cols, ncols, o->wide);
		json_decref(rows);
	}
	return rc;
}

int cmd_node_list(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "NAME", "name", KDPCTL_FMT_PLAIN },
		{ "IP", "ip", KDPCTL_FMT_PLAIN },
		{ "IPV6", "ips.1", KDPCTL_FMT_PLAIN, false, true },
		{ "POD CIDRS", "podCIDRs", KDPCTL_FMT_PLAIN },
		{ "LOCAL", "local", KDPCTL_FMT_PLAIN },
	};

	return kdpctl_list(o, "/v1/nodes", cols, ARRAY_SIZE(cols));
}

int cmd_endpoint_list(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "ENDPOINT", NULL, KDPCTL_FMT_NSNAME },
		{ "IPV4", "ip", KDPCTL_FMT_PLAIN },
		{ "IPV6", "ips.1", KDPCTL_FMT_PLAIN, false, true },
		{ "MAC", "mac", KDPCTL_FMT_PLAIN, true },
		{ "PORT", "port.name", KDPCTL_FMT_PLAIN },
		{ "PORT ID", "port.id", KDPCTL_FMT_PLAIN, true },
		{ "STATE", "port.state", KDPCTL_FMT_PLAIN },
		{ "DEVARGS", "devargs", KDPCTL_FMT_PLAIN, true },
		{ "LABELS", "labels", KDPCTL_FMT_PLAIN },
	};

	return kdpctl_list(o, "/v1/endpoints", cols, ARRAY_SIZE(cols));
}

int cmd_route_list(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "PREFIX", "prefix", KDPCTL_FMT_PLAIN },
		{ "TYPE", "type", KDPCTL_FMT_PLAIN },
		{ "NEXTHOP", "nexthop", KDPCTL_FMT_PLAIN },
		{ "PORT", "port", KDPCTL_FMT_PLAIN, true },
		{ "TARGET", "target", KDPCTL_FMT_PLAIN },
	};

	return kdpctl_list(o, "/v1/routes", cols, ARRAY_SIZE(cols));
}

int cmd_neigh_list(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "IP", "ip", KDPCTL_FMT_PLAIN },
		{ "MAC", "mac", KDPCTL_FMT_PLAIN },
		{ "STATE", "state", KDPCTL_FMT_PLAIN },
		{ "PORT", "port", KDPCTL_FMT_PLAIN },
		{ "AGE", "ageSeconds", KDPCTL_FMT_DURATION },
	};

	return kdpctl_list(o, "/v1/neighbours", cols, ARRAY_SIZE(cols));
}

/*
 * "0:5 1:1 2-3:0 4-7:0 8-15:0 16+:0": SNAT port picks by extra tries, bucket
 * i > 0 counting 2^(i-1) to 2^i - 1 of them, the last one open-ended.
 */
static char *kdpctl_format_retries(json_t *hist)
{
	struct kdpctl_buf b = { 0 };
	size_t n = json_array_size(hist), i;
	json_t *v;

	json_array_foreach(hist, i, v) {
		unsigned long long lo, hi;

		if (i >= 64)
			break;
		lo = i == 0 ? 0 : 1ULL << (i - 1);
		hi = i == 0 ? 0 : (1ULL << i) - 1;
		if (i > 0)
			kdpctl_buf_puts(&b, " ");
		if (i > 0 && i == n - 1)
			kdpctl_buf_printf(&b, "%llu+:", lo);
		else if (lo == hi)
			kdpctl_buf_printf(&b, "%llu:", lo);
		else
			kdpctl_buf_printf(&b, "%llu-%llu:", lo, hi);
		kdpctl_buf_value(&b, v);
	}
	return kdpctl_buf_take(&b);
}

int cmd_stats(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column total_fields[] = {
		{ "RX packets:", "totals.rxPackets", KDPCTL_FMT_PLAIN },
		{ "RX bytes:", "totals.rxBytes", KDPCTL_FMT_PLAIN },
		{ "TX packets:", "totals.txPackets", KDPCTL_FMT_PLAIN },
		{ "TX bytes:", "totals.txBytes", KDPCTL_FMT_PLAIN },
		{ "Dropped:", "totals.dropped", KDPCTL_FMT_PLAIN },
		{ "Punted:", "totals.punted", KDPCTL_FMT_PLAIN },
		{ "ICMP sent:", "totals.icmpSent", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column nat_fields[] = {
		{ "Masqueraded flows:", "masqueradedFlows", KDPCTL_FMT_PLAIN },
		{ "Masqueraded packets:", "masqueradedPackets", KDPCTL_FMT_PLAIN },
		{ "Left unmasqueraded:", "leftUnmasqueraded", KDPCTL_FMT_PLAIN },
		{ "Port exhausted:", "portExhausted", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column worker_cols[] = {
		{ "WORKER", "id", KDPCTL_FMT_PLAIN },
		{ "LCORE", "lcore", KDPCTL_FMT_PLAIN },
		{ "RX PACKETS", "rxPackets", KDPCTL_FMT_PLAIN },
		{ "TX PACKETS", "txPackets", KDPCTL_FMT_PLAIN },
		{ "DROPPED", "dropped", KDPCTL_FMT_PLAIN },
		{ "BUSY%", "busyRatio", KDPCTL_FMT_PERCENT },
		{ "STALLS", "stalls", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column drop_cols[] = {
		{ "REASON", "reason", KDPCTL_FMT_PLAIN },
		{ "STAGE", "stage", KDPCTL_FMT_PLAIN },
		{ "PACKETS", "packets", KDPCTL_FMT_PLAIN },
	};
	struct kdpctl_table t = { .ncols = 2 };
	json_t *stats, *nat, *shown, *row;
	size_t i;
	int rc = kdpctl_get(o, "/v1/stats", JSON_OBJECT, &stats);

	if (stats == NULL)
		return rc;
	kdpctl_add_fields(&t, stats, total_fields, ARRAY_SIZE(total_fields));
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);

	/* masquerade counters; older daemons do not send them */
	nat = json_object_get(stats, "nat");
	if (json_is_object(nat)) {
		puts("\nNAT");
		kdpctl_add_fields(&t, nat, nat_fields, ARRAY_SIZE(nat_fields));
		kdpctl_table_add(&t, "Port retries:");
		kdpctl_table_add_owned(&t, kdpctl_format_retries(json_object_get(nat, "portRetryHistogram")));
		kdpctl_table_print(&t);
		kdpctl_table_free(&t);
	}

	putchar('\n');
	kdpctl_print_rows(json_object_get(stats, "workers"), worker_cols, ARRAY_SIZE(worker_cols),
			  false);

	/* drop reasons that never fired are noise unless --all */
	shown = json_array();
	json_array_foreach(json_object_get(stats, "drops"), i, row)
		if (o->all || json_integer_value(json_object_get(row, "packets")) > 0)
			json_array_append(shown, row);
	putchar('\n');
	kdpctl_print_rows(shown, drop_cols, ARRAY_SIZE(drop_cols), false);
	json_decref(shown);
	json_decref(stats);
	return KDPCTL_EXIT_OK;
}

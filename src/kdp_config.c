/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/kdp_addr.h"
#include "maglev/kdp_maglev.h"
#include "monitor/kdp_monitor.h"
#include "kdp_config.h"

static const char *const top_keys[] = {
	"name", "nodeIP", "gateway", "podGateway", "uplink", "hostTap",
	"nativeRoutingCIDR", "workers", "pollMode", "mtu", "tables",
	"neighbourReachableSeconds", "controlSocket", "stateFile", "flowStateFile",
	"maxBodyBytes", "allowedDrivers", "eal", "serviceCIDR",
	"serviceLoopbackIP", "maglevTableSize", "conntrack", "natPortRange", "ipMasqAgentConfig", "masquerade",
	"controlSocketGroup", "memifSocketDir", "memifAbstractSockets",
	"monitorEventsPerSecond", "nodeIPv6", "gatewayIPv6", "podGatewayIPv6",
	"nativeRoutingCIDRv6", "serviceCIDRv6", "serviceLoopbackIPv6", "prefaultMemory",
	NULL};
static const char *const ct_keys[] = {"maxFlows", "maxFlowsIPv6", "tcpSynSeconds",
				      "tcpEstablishedSeconds", "tcpCloseSeconds",
				      "otherSeconds", NULL};
static const char *const port_keys[] = {"devargs", "mac", NULL};
static const char *const table_keys[] = {"routes", "neighbours", "mbufs",
					 "largeMbufs", "podRingFrames", NULL};

/* net_pcap is left out on purpose: its rx_pcap/tx_pcap arguments read and
 * write any file, so only a node config may allow it (tests do). */
static const char *const default_drivers[] = {
	"net_kdp_afp", "net_af_packet", "net_tap", "net_memif", "net_null", "net_ring", NULL};

/* A DPDK vdev devargs string: "<name>[,key=value...]". */
static int check_devargs(const char *s, const char *path, char *err)
{
	size_t n = strcspn(s, ",");

	if (n == 0)
		return kdp_json_err(err, path, "empty device name");
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '_'))
			return kdp_json_err(err, path,
					    "device name '%.*s' may only use a-z, 0-9 and _",
					    (int)n, s);
	return 0;
}

static int parse_port(const json_t *root, const char *key, bool required,
		      char *devargs, bool *has_mac, struct rte_ether_addr *mac,
		      char *err)
{
	json_t *o = json_object_get(root, key);
	char p[64];
	int ret;

	if (o == NULL) {
		if (required)
			return kdp_json_err(err, key, "required field missing");
		return 0;
	}
	if ((ret = kdp_json_object(o, key, err)) ||
	    (ret = kdp_json_only(o, port_keys, key, err)) ||
	    (ret = kdp_json_str(o, "devargs", true, devargs, KDP_DEVARGS_LEN,
				key, err)) < 0)
		return ret;
	if ((ret = check_devargs(devargs, kdp_json_path(p, sizeof(p), key, "devargs"),
				 err)))
		return ret;
	if (has_mac != NULL) {
		ret = kdp_json_mac(o, "mac", false, mac, key, err);
		if (ret < 0)
			return ret;
		*has_mac = ret == 0;
	} else if (json_object_get(o, "mac") != NULL) {
		return kdp_json_err(err, kdp_json_path(p, sizeof(p), key, "mac"),
				    "only the uplink takes a MAC");
	}
	return 0;
}

static int parse_tables(const json_t *root, struct kdp_config *cfg, char *err)
{
	json_t *t = json_object_get(root, "tables");
	uint64_t v;
	int ret;

	if (t == NULL)
		return 0;
	if ((ret = kdp_json_object(t, "tables", err)) ||
	    (ret = kdp_json_only(t, table_keys, "tables", err)))
		return ret;
	if ((ret = kdp_json_uint(t, "routes", false, 16, 1 << 24, &v, "tables",
				 err)) < 0)
		return ret;
	if (ret == 0)
		cfg->max_routes = (uint32_t)v;
	if ((ret = kdp_json_uint(t, "neighbours", false, 8, 1 << 20, &v,
				 "tables", err)) < 0)
		return ret;
	if (ret == 0)
		cfg->max_neighbours = (uint32_t)v;
	if ((ret = kdp_json_uint(t, "mbufs", false, 1023, 1 << 22, &v, "tables",
				 err)) < 0)
		return ret;
	if (ret == 0)
		cfg->mbufs = (uint32_t)v;
	if ((ret = kdp_json_uint(t, "largeMbufs", false, 0, 1 << 16, &v, "tables",
				 err)) < 0)
		return ret;
	if (ret == 0)
		cfg->large_mbufs = (uint32_t)v;
	if ((ret = kdp_json_uint(t, "podRingFrames", false, 16, 1 << 16, &v, "tables",
				 err)) < 0)
		return ret;
	if (ret == 0)
		cfg->pod_ring_frames = (uint32_t)v;
	return 0;
}

static int parse_ct(const json_t *root, struct kdp_config *cfg, char *err)
{
	json_t *t = json_object_get(root, "conntrack");
	struct {
		const char *key;
		uint64_t min, max;
		uint32_t *out;
	} f[] = {
		{"maxFlows", 1024, 1 << 26, &cfg->ct_max},
		{"maxFlowsIPv6", 1024, 1 << 24, &cfg->ct_max6},
		{"tcpSynSeconds", 1, 86400, &cfg->ct_syn_s},
		{"tcpEstablishedSeconds", 1, 7 * 86400, &cfg->ct_est_s},
		{"tcpCloseSeconds", 1, 86400, &cfg->ct_close_s},
		{"otherSeconds", 1, 86400, &cfg->ct_other_s},
	};
	int ret;

	if (t == NULL)
		return 0;
	if ((ret = kdp_json_object(t, "conntrack", err)) ||
	    (ret = kdp_json_only(t, ct_keys, "conntrack", err)))
		return ret;
	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		uint64_t v;
		ret = kdp_json_uint(t, f[i].key, false, f[i].min, f[i].max, &v,
				    "conntrack", err);
		if (ret < 0)
			return ret;
		if (ret == 0)
			*f[i].out = (uint32_t)v;
	}
	return 0;
}

/* "32768-65535": at least one port per worker. */
static int parse_ports(const json_t *root, struct kdp_config *cfg, char *err)
{
	char buf[32];
	unsigned int lo, hi;
	char tail;
	int ret = kdp_json_str(root, "natPortRange", false, buf, sizeof(buf), "", err);

	if (ret != 0)
		return ret < 0 ? ret : 0;
	if (sscanf(buf, "%u-%u%c", &lo, &hi, &tail) != 2 || lo < 1 || hi > 65535 ||
	    lo > hi)
		return kdp_json_err(err, "natPortRange",
				    "expected \"LOW-HIGH\" within 1-65535, like \"32768-65535\"");
	if (hi - lo + 1 < cfg->workers)
		return kdp_json_err(err, "natPortRange",
				    "needs at least one port per worker (%u)", cfg->workers);
	cfg->nat_lo = (uint16_t)lo;
	cfg->nat_hi = (uint16_t)hi;
	return 0;
}

/* memifSocketDir: an absolute, normalised directory (no "." or ".."
 * component, no trailing slash) short enough to leave room for a socket
 * name in sun_path. */
static int parse_memif(const json_t *root, struct kdp_config *cfg, char *err)
{
	const char *d = cfg->memif_dir;
	size_t n;
	int ret;

	if ((ret = kdp_json_str(root, "memifSocketDir", false, cfg->memif_dir,
				sizeof(cfg->memif_dir), "", err)) < 0 ||
	    (ret = kdp_json_bool(root, "memifAbstractSockets", false,
				 &cfg->memif_abstract, "", err)) < 0)
		return ret;
	n = strlen(d);
	if (d[0] != '/' || n < 2 || d[n - 1] == '/' || strstr(d, "//") ||
	    strstr(d, "/./") || strstr(d, "/../") ||
	    (n >= 2 && strcmp(d + n - 2, "/.") == 0) ||
	    (n >= 3 && strcmp(d + n - 3, "/..") == 0))
		return kdp_json_err(err, "memifSocketDir",
				    "expected an absolute directory without '.', '..', '//' or a trailing '/', like /run/kdp/memif");
	return 0;
}

static int parse_drivers(const json_t *root, struct kdp_config *cfg, char *err)
{
	json_t *a = json_object_get(root, "allowedDrivers");
	size_t i;
	json_t *v;

	cfg->n_drivers = 0;
	if (a == NULL) {
		for (const char *const *d = default_drivers; *d; d++)
			snprintf(cfg->drivers[cfg->n_drivers++], 32, "%s", *d);
		return 0;
	}
	if (!json_is_array(a) || json_array_size(a) > KDP_MAX_DRIVERS)
		return kdp_json_err(err, "allowedDrivers",
				    "expected an array of at most %d driver names",
				    KDP_MAX_DRIVERS);
	json_array_foreach(a, i, v) {
		char p[64];
		snprintf(p, sizeof(p), "allowedDrivers[%zu]", i);
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) >= 32)
			return kdp_json_err(err, p, "expected a driver name such as net_kdp_afp");
		if (check_devargs(json_string_value(v), p, err))
			return -EINVAL;
		snprintf(cfg->drivers[cfg->n_drivers++], 32, "%s",
			 json_string_value(v));
	}
	return 0;
}

static int parse_eal(const json_t *root, struct kdp_config *cfg, char *err)
{
	json_t *a = json_object_get(root, "eal");
	size_t i;
	json_t *v;

	if (a == NULL)
		return 0;
	if (!json_is_array(a))
		return kdp_json_err(err, "eal", "expected an array of strings");
	cfg->eal_argv = calloc(json_array_size(a) + 1, sizeof(char *));
	if (cfg->eal_argv == NULL)
		return -ENOMEM;
	json_array_foreach(a, i, v) {
		char p[32];
		snprintf(p, sizeof(p), "eal[%zu]", i);
		if (!json_is_string(v))
			return kdp_json_err(err, p, "expected a string");
		cfg->eal_argv[cfg->eal_argc] = strdup(json_string_value(v));
		if (cfg->eal_argv[cfg->eal_argc] == NULL)
			return -ENOMEM;
		cfg->eal_argc++;
	}
	return 0;
}

/* The IPv6 keys: all optional, but nodeIPv6 makes gatewayIPv6 and
 * nativeRoutingCIDRv6 required, and the others need nodeIPv6. */
static int parse_ip6(const json_t *root, struct kdp_config *cfg, char *err)
{
	static const char *const needs[] = {"gatewayIPv6", "podGatewayIPv6",
					     "nativeRoutingCIDRv6", "serviceCIDRv6",
					     "serviceLoopbackIPv6", NULL};
	int ret;

	kdp_addr6_parse("fe80::1", &cfg->pod_gw6);
	kdp_addr6_parse("fe80::a9fe:2a01", &cfg->loopback_ip6);
	ret = kdp_json_prefix6(root, "nodeIPv6", false, false, &cfg->node_ip6,
			       &cfg->node_plen6, "", err);
	if (ret < 0)
		return ret;
	if (ret == 1) {
		for (const char *const *k = needs; *k; k++)
			if (json_object_get(root, *k) != NULL)
				return kdp_json_err(err, *k, "needs nodeIPv6 (IPv6 is off without it)");
		return 0;
	}
	cfg->has_ip6 = true;
	if (cfg->node_plen6 == 0 || cfg->node_plen6 > 128 ||
	    kdp_addr6_not_host(&cfg->node_ip6) || kdp_addr6_link_local(&cfg->node_ip6))
		return kdp_json_err(err, "nodeIPv6",
				    "expected the node's global IPv6 address and LAN prefix, like fd00:10::100/64");
	if ((ret = kdp_json_ip6(root, "gatewayIPv6", true, &cfg->gateway6, "", err)) < 0)
		return ret;
	if (kdp_addr6_not_host(&cfg->gateway6) || kdp_addr6_eq(&cfg->gateway6, &cfg->node_ip6) ||
	    (!kdp_addr6_link_local(&cfg->gateway6) &&
	     !kdp_addr6_in(&cfg->gateway6, &cfg->node_ip6, cfg->node_plen6)))
		return kdp_json_err(err, "gatewayIPv6",
				    "must be another address on the node's IPv6 subnet, or link-local");
	if ((ret = kdp_json_ip6(root, "podGatewayIPv6", false, &cfg->pod_gw6, "", err)) < 0)
		return ret;
	if (kdp_addr6_not_host(&cfg->pod_gw6))
		return kdp_json_err(err, "podGatewayIPv6", "not a unicast address");
	if ((ret = kdp_json_prefix6(root, "nativeRoutingCIDRv6", true, true, &cfg->native_cidr6,
				    &cfg->native_plen6, "", err)) < 0)
		return ret;
	if ((ret = kdp_json_prefix6(root, "serviceCIDRv6", false, true, &cfg->svc_cidr6,
				    &cfg->svc_plen6, "", err)) < 0)
		return ret;
	if (ret == 0 && cfg->svc_plen6 == 0)
		return kdp_json_err(err, "serviceCIDRv6", "::/0 would swallow every address");
	if ((ret = kdp_json_ip6(root, "serviceLoopbackIPv6", false, &cfg->loopback_ip6, "",
				err)) < 0)
		return ret;
	if (kdp_addr6_not_host(&cfg->loopback_ip6))
		return kdp_json_err(err, "serviceLoopbackIPv6", "not a unicast address");
	return 0;
}

int kdp_config_parse(const json_t *root, struct kdp_config *cfg, char *err)
{
	char mode[16] = "adaptive";
	uint64_t v;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 1;
	cfg->poll_mode = KDP_POLL_ADAPTIVE;
	cfg->mtu = 1500;
	cfg->max_routes = 4096;
	cfg->max_neighbours = 1024;
	cfg->mbufs = 16383;
	cfg->large_mbufs = 255;
	cfg->pod_ring_frames = 512;
	cfg->neigh_reachable_ms = 30000;
	cfg->max_body = 1 << 20;
	cfg->monitor_rate = KDP_MONITOR_DEFAULT_RATE;
	cfg->maglev_m = 16381;
	cfg->masquerade = true;
	cfg->ct_max = 262144;
	cfg->ct_syn_s = 60;
	cfg->ct_est_s = 8000;
	cfg->ct_close_s = 10;
	cfg->ct_other_s = 60;
	cfg->nat_lo = 32768;
	cfg->nat_hi = 65535;
	kdp_addr_parse_ip("169.254.42.1", &cfg->loopback_ip);
	kdp_addr_parse_ip("169.254.1.1", &cfg->pod_gw);
	snprintf(cfg->socket_path, sizeof(cfg->socket_path), "/run/kdp/kdp.sock");
	snprintf(cfg->state_path, sizeof(cfg->state_path),
		 "/var/lib/kdp/state.json");
	snprintf(cfg->memif_dir, sizeof(cfg->memif_dir), "/run/kdp/memif");

	if ((ret = kdp_json_object(root, "", err)) ||
	    (ret = kdp_json_only(root, top_keys, "", err)))
		return ret;
	if ((ret = kdp_json_str(root, "name", true, cfg->name, sizeof(cfg->name),
				"", err)) < 0)
		return ret;
	if ((ret = kdp_json_prefix(root, "nodeIP", true, false, &cfg->node_ip,
				   &cfg->node_plen, "", err)) < 0)
		return ret;
	if (cfg->node_plen == 0 || cfg->node_plen > 32)
		return kdp_json_err(err, "nodeIP", "prefix length must be 1-32");
	if ((ret = kdp_json_ip(root, "gateway", true, &cfg->gateway, "", err)) < 0)
		return ret;
	if (!kdp_addr_in(cfg->gateway, cfg->node_ip, cfg->node_plen) ||
	    cfg->gateway == cfg->node_ip)
		return kdp_json_err(err, "gateway",
				    "must be another address on the node's subnet");
	if ((ret = kdp_json_ip(root, "podGateway", false, &cfg->pod_gw, "",
			       err)) < 0)
		return ret;
	if ((ret = parse_port(root, "uplink", true, cfg->uplink_devargs,
			      &cfg->uplink_has_mac, &cfg->uplink_mac, err)) ||
	    (ret = parse_port(root, "hostTap", false, cfg->host_devargs, NULL,
			      NULL, err)))
		return ret;
	if ((ret = kdp_json_prefix(root, "nativeRoutingCIDR", true, true,
				   &cfg->native_cidr, &cfg->native_plen, "",
				   err)) < 0)
		return ret;
	if ((ret = kdp_json_uint(root, "workers", false, 1, KDP_MAX_WORKERS, &v,
				 "", err)) < 0)
		return ret;
	if (ret == 0)
		cfg->workers = (unsigned int)v;
	if ((ret = kdp_json_str(root, "pollMode", false, mode, sizeof(mode), "",
				err)) < 0)
		return ret;
	if (strcmp(mode, "busy") == 0)
		cfg->poll_mode = KDP_POLL_BUSY;
	else if (strcmp(mode, "adaptive") == 0)
		cfg->poll_mode = KDP_POLL_ADAPTIVE;
	else
		return kdp_json_err(err, "pollMode", "expected \"busy\" or \"adaptive\"");
	if ((ret = kdp_json_uint(root, "mtu", false, 576, 9000, &v, "", err)) < 0)
		return ret;
	if (ret == 0)
		cfg->mtu = (uint16_t)v;
	if ((ret = kdp_json_uint(root, "neighbourReachableSeconds", false, 1,
				 86400, &v, "", err)) < 0)
		return ret;
	if (ret == 0)
		cfg->neigh_reachable_ms = (uint32_t)v * 1000;
	if ((ret = kdp_json_uint(root, "maxBodyBytes", false, 1024, 1 << 30, &v,
				 "", err)) < 0)
		return ret;
	if (ret == 0)
		cfg->max_body = (uint32_t)v;
	if ((ret = kdp_json_uint(root, "monitorEventsPerSecond", false, 1, 10000000, &v,
				 "", err)) < 0)
		return ret;
	if (ret == 0)
		cfg->monitor_rate = (uint32_t)v;
	if ((ret = kdp_json_str(root, "controlSocket", false, cfg->socket_path,
				sizeof(cfg->socket_path), "", err)) < 0 ||
	    (ret = kdp_json_str(root, "stateFile", false, cfg->state_path,
				sizeof(cfg->state_path), "", err)) < 0)
		return ret;
	/* Flows outlive the process in a file on tmpfs: one per node. */
	snprintf(cfg->flow_path, sizeof(cfg->flow_path), "/dev/shm/kdp-%s.flows", cfg->name);
	if ((ret = kdp_json_str(root, "flowStateFile", false, cfg->flow_path,
				sizeof(cfg->flow_path), "", err)) < 0)
		return ret;
	if (cfg->flow_path[0] != '\0' && cfg->flow_path[0] != '/')
		return kdp_json_err(err, "flowStateFile",
				    "must be an absolute path, or \"\" to keep flows in process memory");
	if ((ret = kdp_json_bool(root, "masquerade", false, &cfg->masquerade, "", err)) < 0)
		return ret;
	if ((ret = kdp_json_bool(root, "prefaultMemory", false, &cfg->prefault, "", err)) < 0)
		return ret;
	if ((ret = kdp_json_str(root, "ipMasqAgentConfig", false, cfg->ipmasq_file,
				sizeof(cfg->ipmasq_file), "", err)) < 0)
		return ret;
	if (ret == 0 && cfg->ipmasq_file[0] != '/')
		return kdp_json_err(err, "ipMasqAgentConfig", "must be an absolute path");
	if ((ret = kdp_json_str(root, "controlSocketGroup", false, cfg->socket_group,
				sizeof(cfg->socket_group), "", err)) < 0)
		return ret;
	if ((ret = parse_memif(root, cfg, err)))
		return ret;
	if (cfg->socket_path[0] != '/')
		return kdp_json_err(err, "controlSocket", "must be an absolute path");
	if (cfg->state_path[0] != '/')
		return kdp_json_err(err, "stateFile", "must be an absolute path");
	if ((ret = kdp_json_prefix(root, "serviceCIDR", false, true, &cfg->svc_cidr,
				   &cfg->svc_plen, "", err)) < 0)
		return ret;
	if (ret == 0 && cfg->svc_plen == 0)
		return kdp_json_err(err, "serviceCIDR", "0.0.0.0/0 would swallow every address");
	if ((ret = kdp_json_ip(root, "serviceLoopbackIP", false, &cfg->loopback_ip, "",
			       err)) < 0)
		return ret;
	if ((ret = kdp_json_uint(root, "maglevTableSize", false, 3, 65521, &v, "",
				 err)) < 0)
		return ret;
	if (ret == 0) {
		if (!kdp_maglev_valid_m((uint32_t)v))
			return kdp_json_err(err, "maglevTableSize", "%llu is not a prime",
					    (unsigned long long)v);
		cfg->maglev_m = (uint32_t)v;
	}
	if ((ret = parse_ip6(root, cfg, err)))
		return ret;
	if ((ret = parse_tables(root, cfg, err)) ||
	    (ret = parse_ct(root, cfg, err)) ||
	    (ret = parse_ports(root, cfg, err)) ||
	    (ret = parse_drivers(root, cfg, err)) ||
	    (ret = parse_eal(root, cfg, err)))
		return ret;
	if (cfg->ct_max6 == 0)
		cfg->ct_max6 = cfg->ct_max / 4 < 1024 ? 1024 : cfg->ct_max / 4;
	if (!kdp_config_driver_allowed(cfg, cfg->uplink_devargs))
		return kdp_json_err(err, "uplink.devargs",
				    "driver not in allowedDrivers");
	if (cfg->host_devargs[0] != '\0' &&
	    !kdp_config_driver_allowed(cfg, cfg->host_devargs))
		return kdp_json_err(err, "hostTap.devargs",
				    "driver not in allowedDrivers");
	return 0;
}

int kdp_config_load(const char *file, struct kdp_config *cfg, char *err)
{
	json_error_t je;
	json_t *root = json_load_file(file, JSON_REJECT_DUPLICATES, &je);
	int ret;

	if (root == NULL) {
		memset(cfg, 0, sizeof(*cfg));
		if (je.line < 0 || je.position == 0)
			snprintf(err, KDP_ERR_LEN, "%s: %s", file, je.text);
		else
			snprintf(err, KDP_ERR_LEN, "%s:%d:%d: %s", file, je.line,
				 je.column, je.text);
		return -EINVAL;
	}
	ret = kdp_config_parse(root, cfg, err);
	json_decref(root);
	return ret;
}

void kdp_config_free(struct kdp_config *cfg)
{
	for (int i = 0; i < cfg->eal_argc; i++)
		free(cfg->eal_argv[i]);
	free(cfg->eal_argv);
	cfg->eal_argv = NULL;
	cfg->eal_argc = 0;
}

bool kdp_config_driver_allowed(const struct kdp_config *cfg,
			       const char *devargs)
{
	size_t n = strcspn(devargs, ",");

	for (unsigned int i = 0; i < cfg->n_drivers; i++) {
		size_t dl = strlen(cfg->drivers[i]);
		if (n >= dl && strncmp(devargs, cfg->drivers[i], dl) == 0)
			return true;
	}
	return false;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Devargs of API-supplied ports: driver name, keys and values checked against
 * per-driver allow-lists (see kdp_devargs.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <net/if.h>
#include <sys/un.h>

#include "kdp_devargs.h"

enum value_kind {
	V_UINT,         /* decimal, up to 9 digits */
	V_IFNAME,       /* a plain Linux interface name */
	V_MAC,          /* xx:xx:xx:xx:xx:xx */
	V_TAP_MAC,      /* a MAC or "fixed" */
	V_YESNO,        /* yes | no */
	V_ROLE,         /* server | client */
	V_SECRET,       /* 1-24 letters and digits */
	V_MEMIF_SOCKET, /* a path under memifSocketDir */
	V_ABSTRACT,     /* yes only when memifAbstractSockets */
	V_FILE,         /* any file: net_pcap and net_kdp_replay only, which a node
			 * config must allow (neither is in the default list) */
};

struct key_rule {
	const char *key;
	enum value_kind kind;
};

struct driver_rules {
	const char *driver;
	const struct key_rule *keys; /* NULL-key terminated */
};

static const struct key_rule af_packet_keys[] = {
	{"iface", V_IFNAME}, {"qpairs", V_UINT}, {"blocksz", V_UINT},
	{"framesz", V_UINT}, {"framecnt", V_UINT}, {"qdisc_bypass", V_UINT},
	{NULL, 0}};
static const struct key_rule kdp_afp_keys[] = {
	{"iface", V_IFNAME}, {"qpairs", V_UINT}, {"blocksz", V_UINT},
	{"framesz", V_UINT}, {"framecnt", V_UINT}, {"qdisc_bypass", V_UINT},
	{"rxqs", V_UINT}, {"txframecnt", V_UINT}, {NULL, 0}};
/* net_tap's remote= (mirror another interface) and persist are left out. */
static const struct key_rule tap_keys[] = {
	{"iface", V_IFNAME}, {"mac", V_TAP_MAC}, {NULL, 0}};
static const struct key_rule memif_keys[] = {
	{"id", V_UINT}, {"role", V_ROLE}, {"bsize", V_UINT}, {"rsize", V_UINT},
	{"socket", V_MEMIF_SOCKET}, {"socket-abstract", V_ABSTRACT},
	{"mac", V_MAC}, {"zero-copy", V_YESNO}, {"secret", V_SECRET},
	{NULL, 0}};
static const struct key_rule null_keys[] = {
	{"size", V_UINT}, {"copy", V_UINT}, {"no-rx", V_UINT}, {NULL, 0}};
static const struct key_rule pcap_keys[] = {
	{"rx_pcap", V_FILE}, {"tx_pcap", V_FILE}, {"rx_iface", V_IFNAME},
	{"rx_iface_in", V_IFNAME}, {"tx_iface", V_IFNAME}, {"iface", V_IFNAME},
	{"phy_mac", V_UINT}, {"infinite_rx", V_UINT}, {NULL, 0}};
static const struct key_rule replay_keys[] = {
	{"pcap", V_FILE}, {"queues", V_UINT}, {"loop", V_UINT}, {NULL, 0}};

static const struct driver_rules drivers[] = {
	{"net_kdp_afp", kdp_afp_keys},
	{"net_af_packet", af_packet_keys}, {"net_tap", tap_keys},
	{"net_memif", memif_keys},         {"net_null", null_keys},
	{"net_pcap", pcap_keys},           {"net_kdp_replay", replay_keys},
};

static bool all_of(const char *v, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (strchr(set, v[i]) == NULL)
			return false;
	return true;
}

#define DIGITS "0123456789"
#define ALNUM "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" DIGITS

static bool is_mac(const char *v, size_t n)
{
	if (n != 17)
		return false;
	for (size_t i = 0; i < n; i++)
		if (i % 3 == 2 ? v[i] != ':' : !all_of(v + i, 1, DIGITS "abcdefABCDEF"))
			return false;
	return true;
}

/* A path below @p dir: "<dir>/" then components of [A-Za-z0-9._-], none of
 * them empty, "." or "..". */
static bool under_dir(const char *v, size_t n, const char *dir)
{
	size_t dl = strlen(dir), i = dl + 1;

	if (n <= i || strncmp(v, dir, dl) != 0 || v[dl] != '/')
		return false;
	while (i < n) {
		size_t c = strcspn(v + i, "/,");

		if (c > n - i)
			c = n - i;
		if (c == 0 || !all_of(v + i, c, ALNUM "._-") ||
		    (c == 1 && v[i] == '.') || (c == 2 && v[i] == '.' && v[i + 1] == '.'))
			return false;
		i += c + 1;
	}
	return v[n - 1] != '/';
}

static int check_value(const struct kdp_config *cfg, const struct key_rule *r,
		       const char *v, size_t n, const char *path, char *err)
{
	switch (r->kind) {
	case V_UINT:
		if (n >= 1 && n <= 9 && all_of(v, n, DIGITS))
			return 0;
		return kdp_json_err(err, path, "devargs: %s: '%.*s' is not a number",
				    r->key, (int)n, v);
	case V_IFNAME:
		if (n >= 1 && n < IF_NAMESIZE && all_of(v, n, ALNUM "._-") &&
		    strncmp(v, ".", n) != 0 && strncmp(v, "..", n) != 0)
			return 0;
		return kdp_json_err(err, path,
				    "devargs: %s: '%.*s' is not an interface name (1-%d of a-z, A-Z, 0-9, '.', '_', '-')",
				    r->key, (int)n, v, IF_NAMESIZE - 1);
	case V_TAP_MAC:
		if (n == 5 && strncmp(v, "fixed", 5) == 0)
			return 0;
		/* fall through */
	case V_MAC:
		if (is_mac(v, n))
			return 0;
		return kdp_json_err(err, path, "devargs: %s: '%.*s' is not a MAC address",
				    r->key, (int)n, v);
	case V_YESNO:
	case V_ABSTRACT:
		if (n == 2 && strncmp(v, "no", 2) == 0)
			return 0;
		if (n == 3 && strncmp(v, "yes", 3) == 0) {
			if (r->kind == V_YESNO || cfg->memif_abstract)
				return 0;
			return kdp_json_err(err, path,
					    "devargs: %s: abstract sockets are not allowed (memifAbstractSockets is false)",
					    r->key);
		}
		return kdp_json_err(err, path, "devargs: %s: expected yes or no", r->key);
	case V_ROLE:
		if ((n == 6 && strncmp(v, "server", 6) == 0) ||
		    (n == 6 && strncmp(v, "client", 6) == 0))
			return 0;
		return kdp_json_err(err, path, "devargs: %s: expected server or client",
				    r->key);
	case V_SECRET:
		if (n >= 1 && n <= 24 && all_of(v, n, ALNUM))
			return 0;
		return kdp_json_err(err, path,
				    "devargs: %s: expected 1-24 letters and digits", r->key);
	case V_MEMIF_SOCKET:
		if (n < sizeof(((struct sockaddr_un *)0)->sun_path) &&
		    under_dir(v, n, cfg->memif_dir))
			return 0;
		return kdp_json_err(err, path,
				    "devargs: %s: '%.*s' is not a file under memifSocketDir %s (names of a-z, A-Z, 0-9, '.', '_', '-'; no '.' or '..')",
				    r->key, (int)n, v, cfg->memif_dir);
	case V_FILE:
		if (n >= 1)
			return 0;
		break;
	}
	return kdp_json_err(err, path, "devargs: %s: empty value", r->key);
}

/* The bit of @p key in a "seen" mask over @p keys. */
static unsigned int key_bit(const struct key_rule *keys, const char *key)
{
	for (unsigned int k = 0; keys[k].key != NULL; k++)
		if (strcmp(keys[k].key, key) == 0)
			return 1u << k;
	return 0;
}

/* The allowed driver @p name is: the longest allowed driver name it starts
 * with, followed by nothing or digits only. */
static const char *allowed_driver(const struct kdp_config *cfg, const char *name,
				  size_t n)
{
	const char *best = NULL;

	for (unsigned int i = 0; i < cfg->n_drivers; i++) {
		size_t dl = strlen(cfg->drivers[i]);

		if (dl <= n && strncmp(name, cfg->drivers[i], dl) == 0 &&
		    all_of(name + dl, n - dl, DIGITS) &&
		    (best == NULL || dl > strlen(best)))
			best = cfg->drivers[i];
	}
	return best;
}

int kdp_devargs_check(const struct kdp_config *cfg, const char *devargs,
		      const char *path, char *err)
{
	size_t n = strcspn(devargs, ","), i;
	const struct key_rule *keys = NULL;
	unsigned int seen = 0; /* bit per key of @keys */
	const char *drv, *s;
	bool memif;

	if (!kdp_config_driver_allowed(cfg, devargs))
		return kdp_json_err(err, path,
				    "devargs: driver of '%s' is not in the node's allowedDrivers",
				    devargs);
	drv = allowed_driver(cfg, devargs, n);
	if (drv == NULL)
		return kdp_json_err(err, path,
				    "devargs: device name '%.*s' must be an allowed driver name, optionally followed by digits (like net_tap0)",
				    (int)n, devargs);
	for (i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(drv, drivers[i].driver) == 0)
			keys = drivers[i].keys;
	memif = strcmp(drv, "net_memif") == 0;
	for (s = devargs + n; *s == ','; s += strcspn(s, ",")) {
		size_t len, kl;
		const char *eq;
		unsigned int k;
		int ret;

		s++;
		len = strcspn(s, ",");
		eq = memchr(s, '=', len);
		kl = eq != NULL ? (size_t)(eq - s) : len;
		for (k = 0; keys != NULL && keys[k].key != NULL; k++)
			if (strlen(keys[k].key) == kl && strncmp(s, keys[k].key, kl) == 0)
				break;
		if (keys == NULL || keys[k].key == NULL) {
			if (keys == NULL)
				return kdp_json_err(err, path,
						    "devargs: %s takes no keys from the API ('%.*s' given)",
						    drv, (int)kl, s);
			return kdp_json_err(err, path,
					    "devargs: '%.*s' is not a key kdp allows for %s",
					    (int)kl, s, drv);
		}
		if (eq == NULL)
			return kdp_json_err(err, path, "devargs: %s: expected %s=<value>",
					    keys[k].key, keys[k].key);
		if (seen & (1u << k))
			return kdp_json_err(err, path, "devargs: %s: given twice",
					    keys[k].key);
		seen |= 1u << k;
		ret = check_value(cfg, &keys[k], eq + 1, len - kl - 1, path, err);
		if (ret != 0)
			return ret;
	}
	if (memif) {
		/* DPDK's defaults: /run/memif.sock, in the abstract namespace. */
		if (!(seen & key_bit(keys, "socket")))
			return kdp_json_err(err, path,
					    "devargs: socket: net_memif needs socket=<file under memifSocketDir %s>",
					    cfg->memif_dir);
		if (!(seen & key_bit(keys, "socket-abstract")) && !cfg->memif_abstract)
			return kdp_json_err(err, path,
					    "devargs: socket-abstract: net_memif needs socket-abstract=no (DPDK's default is an abstract socket; memifAbstractSockets is false)");
	}
	return 0;
}

bool kdp_devargs_iface(const char *devargs, char *out, size_t len)
{
	const char *v = devargs;
	size_t n;

	/* A key starts the string after the device name or follows a comma. */
	while ((v = strstr(v, "iface=")) != NULL && v != devargs && v[-1] != ',')
		v++;
	if (v == NULL)
		return false;
	v += 6;
	n = strcspn(v, ",");
	if (n == 0 || n >= len)
		return false;
	memcpy(out, v, n);
	out[n] = '\0';
	return true;
}

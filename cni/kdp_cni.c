/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-cni: a CNI 1.0.0 plugin (also 0.3.0, 0.3.1, 0.4.0) for kdp.
 *
 * ADD: asks kdp for the pod gateway (and, when the IPAM config has no
 * range, this node's podCIDRs), gets an address from the IPAM plugin
 * (host-local), creates the veth pair "lxc<12 hex of a hash of the container
 * ID and interface>" <-> CNI_IFNAME in the pod's namespace, gives the pod
 * ADDRESS/32 and a default route via the gateway (on-link) and, when the
 * IPAM plugin gives an IPv6 address too (a dual-stack podCIDR), ADDRESS6/128
 * and an IPv6 default route via kdp's IPv6 pod gateway, and registers the
 * endpoint with kdp: PUT /v1/endpoints/{K8S_POD_NAMESPACE}/{K8S_POD_NAME}
 * {"ip", ["ips",] "mac", "labels", "devargs": "<driver>,iface=<host side>"}. Labels
 * kdp already has for the pod are kept (kdp-agent sets them from the Pod).
 * Anything that fails after the address was taken is undone.
 * DEL: releases the address, deletes the veth and the endpoint using it;
 * what is already gone is no error; an unreachable kdp is not one either
 * (kdp-agent removes endpoints whose pod is gone).
 * CHECK: the address, the interfaces and kdp's endpoint are as ADD left them.
 * Errors are the spec's JSON {"cniVersion", "code", "msg", "details"} on
 * standard output with a non-zero exit.
 *
 * Network configuration keys (besides cniVersion, name, type, ipam):
 *   kdpSocket   kdp's control socket (default /run/kdp/kdp.sock)
 *   lockFile    the lock shared with kdp-agent (default <kdpSocket>.lock)
 *   mtu         of both ends (default 1500)
 *   podGateway  the pods' default gateway (default: kdp's podGateway)
 *   podGatewayIPv6  the pods' IPv6 default gateway (default: kdp's
 *               podGatewayIPv6; only used when the IPAM gives IPv6)
 *   driver      DPDK driver kdp opens the host side with (default net_kdp_afp)
 *   cacheDir    where ADD keeps the resolved IPAM config for DEL
 *               (default /var/lib/cni/kdp)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kdp_cni.h"

static const char *const versions[] = {"0.3.0", "0.3.1", "0.4.0", "1.0.0"};

struct ctx {
	const char *command, *container, *netns, *ifname;
	char pod_ns[256], pod_name[256];
	json_t *conf;
	const char *version;
	const char *sock;
	char lock[PATH_MAX];
	const char *driver;
	const char *cache_dir;
	unsigned int mtu;
	char host[16]; /* lxc + 12 hex */
};

/* ---- errors ---- */

static const char *err_version = "1.0.0";

static int cni_error(int code, const char *details, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cni_error(int code, const char *details, const char *fmt, ...)
{
	char msg[KDP_CNI_ERR_LEN];
	json_t *e;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e = json_pack("{s:s, s:i, s:s}", "cniVersion", err_version, "code", code, "msg", msg);
	if (details != NULL && details[0] != '\0')
		json_object_set_new(e, "details", json_string(details));
	json_dumpf(e, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(e);
	return 1;
}

/* ---- names ---- */

/* "lxc" + 12 hex digits of FNV-1a (64 bit) over "<container ID>/<ifname>":
 * 15 characters, the longest an interface name may be. */
static void host_name(const char *container, const char *ifname, char *out, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = container; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	h = (h ^ '/') * 0x100000001b3ull;
	for (const char *p = ifname; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	snprintf(out, len, "lxc%012llx", (unsigned long long)(h >> 16));
}

/* K8S_POD_NAMESPACE and K8S_POD_NAME from CNI_ARGS ("K=V;K=V"). */
static void cni_args(struct ctx *c)
{
	const char *a = getenv("CNI_ARGS");
	char *copy, *kv, *save = NULL;

	if (a == NULL)
		return;
	copy = strdup(a);
	if (copy == NULL)
		return;
	for (kv = strtok_r(copy, ";", &save); kv != NULL; kv = strtok_r(NULL, ";", &save)) {
		if (strncmp(kv, "K8S_POD_NAMESPACE=", 18) == 0)
			snprintf(c->pod_ns, sizeof(c->pod_ns), "%s", kv + 18);
		else if (strncmp(kv, "K8S_POD_NAME=", 13) == 0)
			snprintf(c->pod_name, sizeof(c->pod_name), "%s", kv + 13);
	}
	free(copy);
}

/* kdp's name rule: 1-63 of a-z 0-9 - ., alphanumeric at both ends. */
static bool kdp_name_like(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' ||
		      s[i] == '.'))
			return false;
	return true;
}

static bool ifname_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= 16 || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '/' || s[i] == ':' || s[i] == ' ' || s[i] == '\t' || s[i] == '\n')
			return false;
	return true;
}

static bool parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;

	if (s == NULL || inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = ntohl(a.s_addr);
	return true;
}

static void fmt_ip(uint32_t ip, char *out, size_t len)
{
	struct in_addr a = {htonl(ip)};

	inet_ntop(AF_INET, &a, out, (socklen_t)len);
}

/* @p s, an address with or without "/prefix", of family @p af into @p out. */
static bool parse_addr(const char *s, int af, void *out)
{
	char b[INET6_ADDRSTRLEN + 8];

	if (s == NULL)
		return false;
	snprintf(b, sizeof(b), "%s", s);
	if (strchr(b, '/'))
		*strchr(b, '/') = '\0';
	return inet_pton(af, b, out) == 1;
}

/* The first IPv4 (host order) and the first IPv6 address of a CNI result's
 * "ips" (@p ips); *@p has4 / *@p has6 say which there are. */
static void result_addrs(const json_t *ips, uint32_t *ip, bool *has4, struct in6_addr *ip6,
			 bool *has6)
{
	const json_t *e;
	size_t i;

	*has4 = *has6 = false;
	json_array_foreach(ips, i, e) {
		const char *a = json_string_value(json_object_get(e, "address"));
		struct in_addr v4;

		if (!*has4 && parse_addr(a, AF_INET, &v4)) {
			*ip = ntohl(v4.s_addr);
			*has4 = true;
		} else if (!*has6 && parse_addr(a, AF_INET6, ip6)) {
			*has6 = true;
		}
	}
}

/* ---- config ---- */

static int read_conf(struct ctx *c)
{
	json_error_t je;
	const json_t *v;
	const char *s;
	bool ok = false;

	c->conf = json_loadf(stdin, 0, &je);
	if (c->conf == NULL)
		return cni_error(je.position == 0 ? KDP_CNI_E_IO : KDP_CNI_E_DECODE, je.text,
				 "network configuration on standard input: not JSON (line %d column %d)",
				 je.line, je.column);
	if (!json_is_object(c->conf))
		return cni_error(KDP_CNI_E_DECODE, NULL, "network configuration: expected a JSON object");
	c->version = json_string_value(json_object_get(c->conf, "cniVersion"));
	if (c->version == NULL)
		return cni_error(KDP_CNI_E_CONFIG, NULL, "network configuration: cniVersion missing");
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (strcmp(c->version, versions[i]) == 0)
			ok = true;
	if (!ok)
		return cni_error(KDP_CNI_E_VERSION, "supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0",
				 "cniVersion %s is not supported", c->version);
	err_version = c->version;
	if (!json_is_string(json_object_get(c->conf, "name")) ||
	    json_string_length(json_object_get(c->conf, "name")) == 0)
		return cni_error(KDP_CNI_E_CONFIG, NULL, "network configuration: name missing");
	v = json_object_get(c->conf, "ipam");
	if (!json_is_object(v) || !json_is_string(json_object_get(v, "type")))
		return cni_error(KDP_CNI_E_CONFIG,
				 "for example \"ipam\": {\"type\": \"host-local\", \"ranges\": [[{\"subnet\": \"172.20.1.0/24\"}]]}",
				 "network configuration: ipam (an object with a type) missing");
	s = json_string_value(json_object_get(c->conf, "kdpSocket"));
	c->sock = s ? s : "/run/kdp/kdp.sock";
	s = json_string_value(json_object_get(c->conf, "lockFile"));
	if (s != NULL)
		snprintf(c->lock, sizeof(c->lock), "%s", s);
	else
		snprintf(c->lock, sizeof(c->lock), "%s.lock", c->sock);
	s = json_string_value(json_object_get(c->conf, "driver"));
	c->driver = s ? s : "net_kdp_afp";
	if (strchr(c->driver, ',') || strchr(c->driver, '='))
		return cni_error(KDP_CNI_E_CONFIG, NULL, "driver '%s': a DPDK driver name", c->driver);
	s = json_string_value(json_object_get(c->conf, "cacheDir"));
	c->cache_dir = s ? s : "/var/lib/cni/kdp";
	v = json_object_get(c->conf, "mtu");
	c->mtu = 1500;
	if (v != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 576 || json_integer_value(v) > 9216)
			return cni_error(KDP_CNI_E_CONFIG, NULL, "mtu: expected a number from 576 to 9216");
		c->mtu = (unsigned int)json_integer_value(v);
	}
	v = json_object_get(c->conf, "podGateway");
	if (v != NULL) {
		uint32_t g;
		if (!parse_ip(json_string_value(v), &g))
			return cni_error(KDP_CNI_E_CONFIG, NULL, "podGateway: not an IPv4 address");
	}
	v = json_object_get(c->conf, "podGatewayIPv6");
	if (v != NULL) {
		struct in6_addr g;
		if (!json_is_string(v) || inet_pton(AF_INET6, json_string_value(v), &g) != 1)
			return cni_error(KDP_CNI_E_CONFIG, NULL, "podGatewayIPv6: not an IPv6 address");
	}
	return 0;
}

static int read_env(struct ctx *c, bool need_netns)
{
	c->container = getenv("CNI_CONTAINERID");
	c->netns = getenv("CNI_NETNS");
	c->ifname = getenv("CNI_IFNAME");
	if (c->container == NULL || c->container[0] == '\0')
		return cni_error(KDP_CNI_E_ENV, NULL, "CNI_CONTAINERID is not set");
	if (c->ifname == NULL || !ifname_ok(c->ifname))
		return cni_error(KDP_CNI_E_ENV, NULL,
				 "CNI_IFNAME is not set or not an interface name (1-15 characters)");
	if (need_netns && (c->netns == NULL || c->netns[0] == '\0'))
		return cni_error(KDP_CNI_E_ENV, NULL, "CNI_NETNS is not set");
	if (getenv("CNI_PATH") == NULL)
		return cni_error(KDP_CNI_E_ENV, NULL, "CNI_PATH is not set");
	cni_args(c);
	host_name(c->container, c->ifname, c->host, sizeof(c->host));
	return 0;
}

/* The IPAM section, with ranges from kdp's node when it has none, or from
 * the cache ADD wrote. New reference, or NULL after printing the error;
 * with @p unknown, NULL and *@p unknown true, printing nothing, when the
 * ranges are nowhere to be had (no cache, and kdp cannot tell them). */
static json_t *ipam_conf(struct ctx *c, bool from_cache, bool *unknown)
{
	json_t *conf = json_deep_copy(c->conf), *ipam = json_object_get(conf, "ipam");
	json_t *nodes = NULL, *n, *ranges;
	char err[KDP_CNI_ERR_LEN], path[PATH_MAX];
	const char *type = json_string_value(json_object_get(ipam, "type"));
	long code;
	size_t i, j;

	if (strcmp(type, "host-local") != 0 || json_object_get(ipam, "ranges") != NULL ||
	    json_object_get(ipam, "subnet") != NULL)
		return conf;
	snprintf(path, sizeof(path), "%s/%s.%s", c->cache_dir, c->container, c->ifname);
	if (from_cache) {
		json_t *cached = json_load_file(path, 0, NULL);
		if (cached != NULL) {
			json_object_set_new(conf, "ipam", cached);
			return conf;
		}
	}
	if (kdp_cni_kdp_call(c->sock, "GET", "/v1/nodes", NULL, &code, &nodes, err) != 0 ||
	    code != 200) {
		json_decref(nodes);
		json_decref(conf);
		if (unknown != NULL) {
			*unknown = true;
			return NULL;
		}
		cni_error(KDP_CNI_E_AGAIN, err, "ipam has no ranges and kdp cannot tell this node's podCIDRs");
		return NULL;
	}
	ranges = json_array();
	json_array_foreach(nodes, i, n) {
		json_t *cidr;
		if (!json_is_true(json_object_get(n, "local")))
			continue;
		json_array_foreach(json_object_get(n, "podCIDRs"), j, cidr)
			json_array_append_new(ranges, json_pack("[{s:O}]", "subnet", cidr));
	}
	json_decref(nodes);
	if (json_array_size(ranges) == 0) {
		json_decref(ranges);
		json_decref(conf);
		if (unknown != NULL) {
			*unknown = true;
			return NULL;
		}
		cni_error(KDP_CNI_E_AGAIN, NULL,
			  "ipam has no ranges and kdp has no podCIDRs for this node yet (kdp-agent "
			  "applies the Node's spec.podCIDRs)");
		return NULL;
	}
	json_object_set_new(ipam, "ranges", ranges);
	return conf;
}

/* Keeps the resolved IPAM section for DEL; 0, or 1 after printing why not
 * (a DEL without it could not release the address while kdp is down). */
static int cache_ipam(struct ctx *c, json_t *conf)
{
	char path[PATH_MAX];

	if (mkdir(c->cache_dir, 0700) != 0 && errno != EEXIST)
		return cni_error(KDP_CNI_E_IO, strerror(errno), "cacheDir %s: cannot create it",
				 c->cache_dir);
	snprintf(path, sizeof(path), "%s/%s.%s", c->cache_dir, c->container, c->ifname);
	if (json_dump_file(json_object_get(conf, "ipam"), path, JSON_COMPACT) != 0)
		return cni_error(KDP_CNI_E_IO, path, "cannot write the IPAM configuration for DEL");
	return 0;
}

static void uncache_ipam(struct ctx *c)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s.%s", c->cache_dir, c->container, c->ifname);
	unlink(path);
}

/* Runs IPAM @p cmd with @p conf; prints its error and returns 1 on failure. */
static int ipam(struct ctx *c, json_t *conf, const char *cmd, json_t **result)
{
	const char *type = json_string_value(json_object_get(json_object_get(conf, "ipam"), "type"));
	char err[KDP_CNI_ERR_LEN], *text = json_dumps(conf, JSON_COMPACT), *out = NULL;
	int ret = kdp_cni_exec_plugin(type, cmd, text, &out, err);

	free(text);
	if (result != NULL)
		*result = NULL;
	if (ret < 0)
		return cni_error(KDP_CNI_E_CONFIG, err, "ipam %s %s failed", type, cmd);
	if (ret > 0) {
		/* the IPAM plugin's own error JSON, as it is */
		fputs(out, stdout);
		free(out);
		return 1;
	}
	if (result != NULL && (*result = json_loads(out, 0, NULL)) == NULL && strcmp(cmd, "ADD") == 0) {
		free(out);
		return cni_error(KDP_CNI_E_DECODE, NULL, "ipam %s ADD: its result is not JSON", type);
	}
	free(out);
	return 0;
}

/* ---- in the pod's namespace ---- */

struct pod_setup {
	const char *ifname;
	uint32_t ip, gw;
	bool has6;
	struct in6_addr ip6, gw6;
	char mac[32];
	int ret;
	const char *step;
};

static int pod_side(void *arg)
{
	struct pod_setup *p = arg;
	int idx, ret;

	p->step = "set up";
	if ((ret = kdp_cni_link_up("lo", false)) != 0 || (ret = kdp_cni_link_up(p->ifname, false)) != 0)
		return ret;
	p->step = "read";
	if ((ret = kdp_cni_link_info(p->ifname, p->mac, sizeof(p->mac), &idx)) != 0)
		return ret;
	p->step = "address";
	if ((ret = kdp_cni_addr_add(idx, p->ip, 32)) != 0)
		return ret;
	p->step = "default route";
	if ((ret = kdp_cni_default_route(idx, p->gw)) != 0 || !p->has6)
		return ret;
	p->step = "IPv6 address";
	if ((ret = kdp_cni_addr6_add(idx, &p->ip6, 128)) != 0)
		return ret;
	p->step = "IPv6 default route";
	return kdp_cni_default_route6(idx, &p->gw6);
}

struct pod_check {
	const char *ifname;
	uint32_t ip;
	bool has6;
	struct in6_addr ip6;
	char mac[32];
	char why[200];
};

static int pod_check(void *arg)
{
	struct pod_check *p = arg;
	uint32_t have;
	int idx, ret = kdp_cni_link_info(p->ifname, p->mac, sizeof(p->mac), &idx);

	if (ret != 0) {
		snprintf(p->why, sizeof(p->why), "no interface %s in the pod: %s", p->ifname,
			 strerror(-ret));
		return -1;
	}
	ret = kdp_cni_link_addr(p->ifname, &have);
	if (ret != 0 || have != p->ip) {
		char a[16], b[16];
		fmt_ip(p->ip, a, sizeof(a));
		fmt_ip(ret ? 0 : have, b, sizeof(b));
		snprintf(p->why, sizeof(p->why), "%s has address %s, the result says %s", p->ifname,
			 ret ? "none" : b, a);
		return -1;
	}
	if (p->has6 && kdp_cni_link_has_addr6(p->ifname, &p->ip6) != 1) {
		char a6[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, &p->ip6, a6, sizeof(a6));
		snprintf(p->why, sizeof(p->why), "%s does not have %s, the result's IPv6 address",
			 p->ifname, a6);
		return -1;
	}
	return 0;
}

/* ---- kdp's endpoint ---- */

static bool uses_iface(const json_t *ep, const char *host)
{
	const char *d = json_string_value(json_object_get(ep, "devargs")), *p;
	size_t n = strlen(host);

	for (p = d ? strstr(d, "iface=") : NULL; p != NULL; p = strstr(p + 1, "iface="))
		if (strncmp(p + 6, host, n) == 0 && (p[6 + n] == '\0' || p[6 + n] == ','))
			return true;
	return false;
}

/* ---- commands ---- */

static int cmd_add(struct ctx *c)
{
	struct pod_setup ps = {0};
	json_t *conf, *res = NULL, *ipres = NULL, *st = NULL, *ep = NULL, *ans = NULL, *labels, *ips;
	char err[KDP_CNI_ERR_LEN], gw_s[16], gw6_s[INET6_ADDRSTRLEN], addr[24], path[600];
	char addr6[INET6_ADDRSTRLEN + 8], devargs[128], *body;
	const char *a, *gw = json_string_value(json_object_get(c->conf, "podGateway"));
	const char *gw6 = json_string_value(json_object_get(c->conf, "podGatewayIPv6"));
	uint32_t ip = 0;
	bool has4, no_status = false;
	long code;
	int netns, ret, lock;

	if (read_env(c, true) != 0)
		return 1;
	if (!kdp_name_like(c->pod_ns) || !kdp_name_like(c->pod_name))
		return cni_error(KDP_CNI_E_ENV, getenv("CNI_ARGS"),
				 "CNI_ARGS must name the pod: K8S_POD_NAMESPACE and K8S_POD_NAME (1-63 "
				 "characters of a-z 0-9 - .)");
	netns = open(c->netns, O_RDONLY | O_CLOEXEC);
	if (netns < 0)
		return cni_error(KDP_CNI_E_ENV, strerror(errno), "CNI_NETNS %s: cannot open it", c->netns);
	if (gw == NULL || gw6 == NULL) {
		/* kdp's gateways; without IPv6 it has no podGatewayIPv6 */
		if (kdp_cni_kdp_call(c->sock, "GET", "/v1/status", NULL, &code, &st, err) != 0 ||
		    code != 200) {
			json_decref(st);
			st = NULL;
			no_status = true;
			if (gw == NULL) {
				close(netns);
				return cni_error(KDP_CNI_E_AGAIN, err, "kdp is not answering (is it running?)");
			}
		}
		if (gw == NULL) {
			snprintf(gw_s, sizeof(gw_s), "%s",
				 json_string_value(json_object_get(st, "podGateway")) ?: "");
			gw = gw_s;
		}
		if (gw6 == NULL && json_is_string(json_object_get(st, "podGatewayIPv6"))) {
			snprintf(gw6_s, sizeof(gw6_s), "%s",
				 json_string_value(json_object_get(st, "podGatewayIPv6")));
			gw6 = gw6_s;
		}
		json_decref(st);
	}
	if (!parse_ip(gw, &ps.gw)) {
		close(netns);
		return cni_error(KDP_CNI_E_AGAIN, gw, "kdp gave no pod gateway");
	}
	conf = ipam_conf(c, false, NULL);
	if (conf == NULL) {
		close(netns);
		return 1;
	}
	if (ipam(c, conf, "ADD", &ipres) != 0) {
		json_decref(conf);
		close(netns);
		return 1;
	}
	if (cache_ipam(c, conf) != 0) {
		ret = 1;
		goto undo_ipam;
	}
	ips = json_object_get(ipres, "ips");
	a = json_string_value(json_object_get(json_array_get(ips, 0), "address"));
	result_addrs(ips, &ip, &has4, &ps.ip6, &ps.has6);
	if (!has4) {
		ret = cni_error(KDP_CNI_E_DECODE, a, "ipam gave no IPv4 address");
		goto undo_ipam;
	}
	if (ps.has6 && gw6 == NULL && no_status) {
		ret = cni_error(KDP_CNI_E_AGAIN, err, "kdp is not answering (is it running?)");
		goto undo_ipam;
	}
	if (ps.has6 && (gw6 == NULL || !parse_addr(gw6, AF_INET6, &ps.gw6))) {
		ret = cni_error(KDP_CNI_E_CONFIG, NULL,
				"ipam gave an IPv6 address and kdp has no IPv6 pod gateway (no nodeIPv6 "
				"in its node config); give the ipam IPv4 ranges only, or podGatewayIPv6");
		goto undo_ipam;
	}
	inet_ntop(AF_INET6, &ps.ip6, addr6, sizeof(addr6));
	/* a veth left by an ADD that died half-way */
	kdp_cni_link_del(c->host);
	ret = kdp_cni_veth_create(c->host, c->ifname, netns, c->mtu);
	if (ret != 0) {
		ret = cni_error(ret == -EEXIST ? KDP_CNI_E_CONFIG : KDP_CNI_E_NETLINK, strerror(-ret),
				"cannot create the veth pair %s <-> %s (in %s)", c->host, c->ifname,
				c->netns);
		goto undo_ipam;
	}
	/* kdp owns the host side: the host's stack must not answer ARP or
	 * route what arrives there (it reaches pods through kdp's tap) */
	ret = kdp_cni_link_up(c->host, true);
	if (ret == 0) {
		snprintf(path, sizeof(path), "net/ipv4/conf/%s/rp_filter", c->host);
		kdp_cni_sysctl(path, "1");
		snprintf(path, sizeof(path), "net/ipv6/conf/%s/disable_ipv6", c->host);
		kdp_cni_sysctl(path, "1");
		ps.ifname = c->ifname;
		ps.ip = ip;
		ret = kdp_cni_in_netns(netns, pod_side, &ps);
	}
	if (ret != 0) {
		ret = cni_error(KDP_CNI_E_NETLINK, strerror(-ret), "cannot %s %s in %s", ps.step ?: "set up",
				ps.ifname ?: c->host, c->netns);
		goto undo_veth;
	}
	/* register with kdp, keeping the labels it has for the pod */
	snprintf(devargs, sizeof(devargs), "%s,iface=%s", c->driver, c->host);
	snprintf(path, sizeof(path), "/v1/endpoints/%s/%s", c->pod_ns, c->pod_name);
	lock = kdp_cni_lock(c->lock);
	labels = NULL;
	if (kdp_cni_kdp_call(c->sock, "GET", path, NULL, &code, &ep, err) == 0 && code == 200)
		labels = json_incref(json_object_get(ep, "labels"));
	json_decref(ep);
	fmt_ip(ip, addr, sizeof(addr));
	ep = json_pack("{s:s, s:s, s:o, s:s}", "ip", addr, "mac", ps.mac, "labels",
		       labels ? labels : json_object(), "devargs", devargs);
	if (ps.has6)
		json_object_set_new(ep, "ips", json_pack("[s, s]", addr, addr6));
	body = json_dumps(ep, JSON_COMPACT);
	json_decref(ep);
	ret = kdp_cni_kdp_call(c->sock, "PUT", path, body, &code, &ans, err);
	free(body);
	kdp_cni_unlock(lock);
	if (ret != 0) {
		ret = cni_error(KDP_CNI_E_AGAIN, err, "cannot register endpoint %s/%s with kdp",
				c->pod_ns, c->pod_name);
		goto undo_veth;
	}
	if (code != 200) {
		const char *e = json_string_value(json_object_get(ans, "error"));
		ret = cni_error(code >= 500 ? KDP_CNI_E_AGAIN : KDP_CNI_E_KDP, e,
				"kdp refused endpoint %s/%s (HTTP %ld)", c->pod_ns, c->pod_name, code);
		goto undo_veth;
	}
	json_decref(ans);
	{
		char hmac[32];
		int idx;
		json_t *ipo;

		if (kdp_cni_link_info(c->host, hmac, sizeof(hmac), &idx) != 0)
			hmac[0] = '\0';
		snprintf(addr + strlen(addr), sizeof(addr) - strlen(addr), "/32");
		ipo = json_pack("{s:s, s:s, s:i}", "address", addr, "gateway", gw, "interface", 1);
		if (strcmp(c->version, "1.0.0") != 0)
			json_object_set_new(ipo, "version", json_string("4"));
		res = json_pack("{s:s, s:[{s:s, s:s}, {s:s, s:s, s:s}], s:[o], s:[{s:s, s:s}]}",
				"cniVersion", c->version, "interfaces", "name", c->host, "mac", hmac,
				"name", c->ifname, "mac", ps.mac, "sandbox", c->netns, "ips", ipo,
				"routes", "dst", "0.0.0.0/0", "gw", gw);
		if (ps.has6) {
			snprintf(addr6 + strlen(addr6), sizeof(addr6) - strlen(addr6), "/128");
			ipo = json_pack("{s:s, s:s, s:i}", "address", addr6, "gateway", gw6,
					"interface", 1);
			if (strcmp(c->version, "1.0.0") != 0)
				json_object_set_new(ipo, "version", json_string("6"));
			json_array_append_new(json_object_get(res, "ips"), ipo);
			json_array_append_new(json_object_get(res, "routes"),
					      json_pack("{s:s, s:s}", "dst", "::/0", "gw", gw6));
		}
		if (json_is_object(json_object_get(ipres, "dns")))
			json_object_set(res, "dns", json_object_get(ipres, "dns"));
		json_dumpf(res, stdout, JSON_INDENT(2));
		fputc('\n', stdout);
		json_decref(res);
	}
	json_decref(ipres);
	json_decref(conf);
	close(netns);
	return 0;

undo_veth:
	json_decref(ans);
	kdp_cni_link_del(c->host);
undo_ipam:
	{
		/* the error is printed already: the undo stays silent */
		int saved = dup(1), devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);

		fflush(stdout);
		if (devnull >= 0)
			dup2(devnull, 1);
		ipam(c, conf, "DEL", NULL);
		fflush(stdout);
		if (saved >= 0) {
			dup2(saved, 1);
			close(saved);
		}
		if (devnull >= 0)
			close(devnull);
	}
	uncache_ipam(c);
	json_decref(ipres);
	json_decref(conf);
	close(netns);
	return ret ? ret : 1;
}

static int cmd_del(struct ctx *c)
{
	json_t *conf, *eps = NULL, *e;
	char err[KDP_CNI_ERR_LEN], path[600];
	long code;
	size_t i;
	int ret, lock;
	bool unknown = false;

	if (read_env(c, false) != 0)
		return 1;
	conf = ipam_conf(c, true, &unknown);
	if (conf == NULL) {
		/* No ADD got as far as the IPAM plugin's result (it caches the
		 * configuration right after), and kdp is down or has no
		 * podCIDR: nothing known to release. A failed DEL would keep
		 * the pod's sandbox until kdp is back. */
		fprintf(stderr,
			"kdp-cni: DEL %s: no IPAM configuration cached by ADD and kdp cannot tell "
			"this node's podCIDRs: no address released\n",
			c->container);
	} else if (ipam(c, conf, "DEL", NULL) != 0) {
		json_decref(conf);
		return 1;
	}
	json_decref(conf);
	uncache_ipam(c);
	ret = kdp_cni_link_del(c->host);
	if (ret != 0 && ret != -ENODEV)
		return cni_error(KDP_CNI_E_NETLINK, strerror(-ret), "cannot delete %s", c->host);
	/* the endpoint that uses this veth, whatever its name */
	lock = kdp_cni_lock(c->lock);
	if (kdp_cni_kdp_call(c->sock, "GET", "/v1/endpoints", NULL, &code, &eps, err) != 0 ||
	    code != 200) {
		kdp_cni_unlock(lock);
		json_decref(eps);
		fprintf(stderr,
			"kdp-cni: DEL %s: kdp unreachable (%s): its endpoint stays until kdp-agent "
			"removes endpoints without pods\n",
			c->container, err);
		return 0;
	}
	json_array_foreach(eps, i, e) {
		if (!uses_iface(e, c->host))
			continue;
		snprintf(path, sizeof(path), "/v1/endpoints/%s/%s",
			 json_string_value(json_object_get(e, "namespace")),
			 json_string_value(json_object_get(e, "name")));
		if (kdp_cni_kdp_call(c->sock, "DELETE", path, NULL, &code, NULL, err) != 0 ||
		    (code != 200 && code != 404))
			fprintf(stderr, "kdp-cni: DEL %s: DELETE %s: %s (HTTP %ld)\n", c->container,
				path, err, code);
	}
	kdp_cni_unlock(lock);
	json_decref(eps);
	return 0;
}

static int cmd_check(struct ctx *c)
{
	json_t *prev = json_object_get(c->conf, "prevResult"), *conf, *eps = NULL, *e;
	const char *a = json_string_value(
		json_object_get(json_array_get(json_object_get(prev, "ips"), 0), "address"));
	struct pod_check pc = {0};
	char err[KDP_CNI_ERR_LEN], mac[32], ipb[16], ip6b[INET6_ADDRSTRLEN];
	bool found = false, has4;
	long code;
	size_t i;
	int netns, idx, ret;

	if (read_env(c, true) != 0)
		return 1;
	if (!json_is_object(prev))
		return cni_error(KDP_CNI_E_CONFIG, NULL, "CHECK needs prevResult in the configuration");
	result_addrs(json_object_get(prev, "ips"), &pc.ip, &has4, &pc.ip6, &pc.has6);
	if (!has4)
		return cni_error(KDP_CNI_E_CONFIG, a, "prevResult has no IPv4 address");
	conf = ipam_conf(c, true, NULL);
	if (conf == NULL)
		return 1;
	ret = ipam(c, conf, "CHECK", NULL);
	json_decref(conf);
	if (ret != 0)
		return 1;
	if (kdp_cni_link_info(c->host, mac, sizeof(mac), &idx) != 0)
		return cni_error(KDP_CNI_E_CHECK, NULL, "the host side %s is missing", c->host);
	netns = open(c->netns, O_RDONLY | O_CLOEXEC);
	if (netns < 0)
		return cni_error(KDP_CNI_E_UNKNOWN, strerror(errno), "CNI_NETNS %s is gone", c->netns);
	pc.ifname = c->ifname;
	ret = kdp_cni_in_netns(netns, pod_check, &pc);
	close(netns);
	if (ret != 0)
		return cni_error(KDP_CNI_E_CHECK, NULL, "%s", pc.why[0] ? pc.why : strerror(-ret));
	if (kdp_cni_kdp_call(c->sock, "GET", "/v1/endpoints", NULL, &code, &eps, err) != 0 || code != 200) {
		json_decref(eps);
		return cni_error(KDP_CNI_E_AGAIN, err, "kdp is not answering");
	}
	fmt_ip(pc.ip, ipb, sizeof(ipb));
	inet_ntop(AF_INET6, &pc.ip6, ip6b, sizeof(ip6b));
	json_array_foreach(eps, i, e)
		if (uses_iface(e, c->host)) {
			const char *ip = json_string_value(json_object_get(e, "ip"));
			const char *m = json_string_value(json_object_get(e, "mac"));
			const json_t *x;
			bool has6 = false;
			struct in6_addr v6;
			size_t k;

			found = true;
			json_array_foreach(json_object_get(e, "ips"), k, x)
				if (!has6 && parse_addr(json_string_value(x), AF_INET6, &v6))
					has6 = true;
			if (ip == NULL || strcmp(ip, ipb) != 0 || m == NULL || strcasecmp(m, pc.mac) != 0) {
				ret = cni_error(KDP_CNI_E_CHECK, NULL,
						"kdp's endpoint on %s has ip %s mac %s, the pod %s %s",
						c->host, ip ?: "-", m ?: "-", ipb, pc.mac);
				json_decref(eps);
				return ret;
			}
			if (pc.has6 != has6 || (has6 && memcmp(&v6, &pc.ip6, sizeof(v6)) != 0)) {
				ret = cni_error(KDP_CNI_E_CHECK, NULL,
						"kdp's endpoint on %s has %s IPv6 address, the pod %s",
						c->host, has6 ? "another" : "no", pc.has6 ? ip6b : "none");
				json_decref(eps);
				return ret;
			}
		}
	json_decref(eps);
	if (!found)
		return cni_error(KDP_CNI_E_CHECK, NULL, "kdp has no endpoint on %s", c->host);
	return 0;
}

static int cmd_version(void)
{
	json_t *v = json_pack("{s:s, s:[s, s, s, s]}", "cniVersion", "1.0.0", "supportedVersions",
			      versions[0], versions[1], versions[2], versions[3]);

	json_dumpf(v, stdout, JSON_INDENT(2));
	fputc('\n', stdout);
	json_decref(v);
	return 0;
}

int main(int argc, char **argv)
{
	struct ctx c = {0};
	int ret;

	if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		puts("kdp-cni: a CNI plugin (run by the container runtime with CNI_COMMAND=ADD|DEL|CHECK|VERSION,\n"
		     "the other CNI_* variables and the network configuration on standard input).\n"
		     "See conf/kdp-cni.conflist for a configuration.");
		return 0;
	}
	c.command = getenv("CNI_COMMAND");
	if (c.command == NULL || c.command[0] == '\0')
		return cni_error(KDP_CNI_E_ENV, NULL, "CNI_COMMAND is not set (ADD, DEL, CHECK or VERSION)");
	if (strcmp(c.command, "VERSION") == 0)
		return cmd_version();
	if (strcmp(c.command, "ADD") != 0 && strcmp(c.command, "DEL") != 0 &&
	    strcmp(c.command, "CHECK") != 0)
		return cni_error(KDP_CNI_E_ENV, c.command, "CNI_COMMAND %s: expected ADD, DEL, CHECK or VERSION",
				 c.command);
	if (read_conf(&c) != 0) {
		json_decref(c.conf);
		return 1;
	}
	if (strcmp(c.command, "ADD") == 0)
		ret = cmd_add(&c);
	else if (strcmp(c.command, "DEL") == 0)
		ret = cmd_del(&c);
	else if (strcmp(c.version, "0.3.0") == 0 || strcmp(c.version, "0.3.1") == 0)
		ret = cni_error(KDP_CNI_E_VERSION, NULL, "CHECK needs cniVersion 0.4.0 or later");
	else
		ret = cmd_check(&c);
	json_decref(c.conf);
	return ret;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Node config and API validation: each bad input and the error it gets. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "kdp_config.h"
#include "kdp_devargs.h"
#include "kdp_lrp.h"
#include "kdp_state.h"
#include "test_util.h"

static const char *good_cfg =
	"{\"name\":\"k8s-ctr\",\"nodeIP\":\"192.168.10.100/24\","
	"\"gateway\":\"192.168.10.200\",\"uplink\":{\"devargs\":\"net_kdp_afp0,iface=eth1\"},"
	"\"nativeRoutingCIDR\":\"172.20.0.0/16\"}";

/* Parses @p good_cfg with key @p key set to the JSON @p val (NULL: removed). */
static int cfg_with(const char *key, const char *val, struct kdp_config *c, char *err)
{
	json_t *root = json_loads(good_cfg, 0, NULL);
	int ret;

	CU_ASSERT_FATAL(root != NULL);
	if (val == NULL) {
		json_object_del(root, key);
	} else {
		json_t *v = json_loads(val, JSON_DECODE_ANY, NULL);
		CU_ASSERT_FATAL(v != NULL);
		json_object_set_new(root, key, v);
	}
	ret = kdp_config_parse(root, c, err);
	json_decref(root);
	return ret;
}

static void test_config_defaults(void)
{
	struct kdp_config c;
	char err[KDP_ERR_LEN] = "";

	CU_ASSERT_EQUAL_FATAL(cfg_with("workers", "2", &c, err), 0);
	CU_ASSERT_STRING_EQUAL(c.name, "k8s-ctr");
	CU_ASSERT_EQUAL(c.node_ip, IP4(192, 168, 10, 100));
	CU_ASSERT_EQUAL(c.node_plen, 24);
	CU_ASSERT_EQUAL(c.pod_gw, IP4(169, 254, 1, 1));
	CU_ASSERT_EQUAL(c.workers, 2);
	CU_ASSERT_EQUAL(c.poll_mode, KDP_POLL_ADAPTIVE);
	CU_ASSERT_EQUAL(c.mtu, 1500);
	CU_ASSERT_EQUAL(c.host_devargs[0], '\0');
	CU_ASSERT_STRING_EQUAL(c.socket_path, "/run/kdp/kdp.sock");
	CU_ASSERT(kdp_config_driver_allowed(&c, "net_tap0,iface=x"));
	CU_ASSERT(!kdp_config_driver_allowed(&c, "0000:00:03.0"));
	CU_ASSERT(!kdp_config_driver_allowed(&c, "net_vhost0,iface=/tmp/x"));
	CU_ASSERT(!kdp_config_driver_allowed(&c, "net_pcap0,tx_pcap=/etc/passwd"));
	CU_ASSERT(!c.prefault);
	kdp_config_free(&c);
	CU_ASSERT_EQUAL_FATAL(cfg_with("prefaultMemory", "true", &c, err), 0);
	CU_ASSERT(c.prefault);
	kdp_config_free(&c);
}

static void test_config_errors(void)
{
	static const struct {
		const char *key, *val, *want;
	} t[] = {
		{"name", NULL, "name: required field missing"},
		{"nodeIP", "\"192.168.10.100\"", "nodeIP: not an address/prefix"},
		{"nodeIP", "\"192.168.10.300/24\"", "nodeIP: not an address/prefix"},
		{"gateway", "\"10.0.0.1\"", "gateway: must be another address on the node's subnet"},
		{"gateway", "42", "gateway: not an IPv4 address"},
		{"uplink", "{}", "uplink.devargs: required field missing"},
		{"uplink", "{\"devargs\":\"net_vhost0\"}", "uplink.devargs: driver not in allowedDrivers"},
		{"uplink", "{\"devargs\":\"Net Tap\"}", "uplink.devargs: device name"},
		{"uplink", "{\"devargs\":\"net_tap0\",\"mac\":\"01:00:00:00:00:01\"}",
		 "uplink.mac: must be a unicast"},
		{"uplink", "{\"devargs\":\"net_tap0\",\"speed\":1}", "uplink.speed: unknown field"},
		{"nativeRoutingCIDR", "\"172.20.0.1/16\"", "nativeRoutingCIDR: not a CIDR"},
		{"workers", "0", "workers: expected an integer from 1 to 16"},
		{"workers", "\"2\"", "workers: expected an integer"},
		{"pollMode", "\"fast\"", "pollMode: expected \"busy\" or \"adaptive\""},
		{"mtu", "100", "mtu: expected an integer from 576 to 9000"},
		{"tables", "{\"routes\":1}", "tables.routes: expected an integer"},
		{"tables", "{\"flows\":1}", "tables.flows: unknown field"},
		{"controlSocket", "\"kdp.sock\"", "controlSocket: must be an absolute path"},
		{"eal", "[\"--no-pci\", 3]", "eal[1]: expected a string"},
		{"allowedDrivers", "[\"net_tap\", 3]", "allowedDrivers[1]: expected a driver name"},
		{"colour", "\"blue\"", "colour: unknown field"},
		{"memifSocketDir", "\"run/memif\"", "memifSocketDir: expected an absolute directory"},
		{"memifSocketDir", "\"/run/kdp/../etc\"", "memifSocketDir: expected an absolute directory"},
		{"memifSocketDir", "\"/run/kdp/memif/\"", "memifSocketDir: expected an absolute directory"},
		{"memifAbstractSockets", "\"yes\"", "memifAbstractSockets: expected true or false"},
		{"prefaultMemory", "1", "prefaultMemory: expected true or false"},
	};
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		struct kdp_config c;
		char err[KDP_ERR_LEN] = "";
		int ret = cfg_with(t[i].key, t[i].val, &c, err);

		CU_ASSERT_EQUAL(ret, -EINVAL);
		if (strstr(err, t[i].want) == NULL) {
			fprintf(stderr, "config case %zu: got '%s', want '%s'\n", i, err,
				t[i].want);
			CU_FAIL("wrong config error");
		}
		kdp_config_free(&c);
	}
}

/* Devargs of API endpoints: every refusal names the key (exact messages). */
static void test_devargs(void)
{
	static const struct {
		const char *devargs, *want; /* want NULL: accepted */
	} t[] = {
		{"net_kdp_afp,iface=lxc-curl", NULL},
		{"net_kdp_afp2,iface=eth1,qpairs=2,framesz=4096,framecnt=1024,blocksz=8192,qdisc_bypass=1", NULL},
		{"net_kdp_afp,iface=a,vlan=1", "e: devargs: 'vlan' is not a key kdp allows for net_kdp_afp"},
		{"net_kdp_afp,iface=a/b",
		 "e: devargs: iface: 'a/b' is not an interface name (1-15 of a-z, A-Z, 0-9, '.', '_', '-')"},
		{"net_af_packet,iface=lxc-curl", NULL},
		{"net_af_packet3,iface=lxc_a.b,qpairs=2,qdisc_bypass=1", NULL},
		{"net_tap,iface=tap0,mac=fixed", NULL},
		{"net_null0,size=64,no-rx=1", NULL},
		{"net_ring0", NULL},
		{"net_memif0,socket=/run/kdp/memif/web.sock,socket-abstract=no,role=server,id=3", NULL},
		{"net_memif,socket=/run/kdp/memif/sub/a-1.sock,socket-abstract=no,mac=02:00:00:00:00:01,secret=abc123", NULL},
		{"net_vhost0,iface=/tmp/x",
		 "e: devargs: driver of 'net_vhost0,iface=/tmp/x' is not in the node's allowedDrivers"},
		{"net_tapx,iface=a",
		 "e: devargs: device name 'net_tapx' must be an allowed driver name, optionally followed by digits (like net_tap0)"},
		{"net_af_packet,iface=../../etc",
		 "e: devargs: iface: '../../etc' is not an interface name (1-15 of a-z, A-Z, 0-9, '.', '_', '-')"},
		{"net_af_packet,iface=..",
		 "e: devargs: iface: '..' is not an interface name (1-15 of a-z, A-Z, 0-9, '.', '_', '-')"},
		{"net_af_packet,iface=abcdefghijklmnop",
		 "e: devargs: iface: 'abcdefghijklmnop' is not an interface name (1-15 of a-z, A-Z, 0-9, '.', '_', '-')"},
		{"net_af_packet,iface=a,iface=b", "e: devargs: iface: given twice"},
		{"net_af_packet,iface", "e: devargs: iface: expected iface=<value>"},
		{"net_af_packet,iface=a,qpairs=x", "e: devargs: qpairs: 'x' is not a number"},
		{"net_af_packet,iface=a,", "e: devargs: '' is not a key kdp allows for net_af_packet"},
		{"net_tap,iface=a,remote=eth0", "e: devargs: 'remote' is not a key kdp allows for net_tap"},
		{"net_ring0,nodeaction=r:0:CREATE",
		 "e: devargs: net_ring takes no keys from the API ('nodeaction' given)"},
		{"net_memif0,socket=/tmp/m.sock,socket-abstract=no",
		 "e: devargs: socket: '/tmp/m.sock' is not a file under memifSocketDir /run/kdp/memif (names of a-z, A-Z, 0-9, '.', '_', '-'; no '.' or '..')"},
		{"net_memif0,socket=/run/kdp/memif/../../../etc/x,socket-abstract=no",
		 "e: devargs: socket: '/run/kdp/memif/../../../etc/x' is not a file under memifSocketDir /run/kdp/memif (names of a-z, A-Z, 0-9, '.', '_', '-'; no '.' or '..')"},
		{"net_memif0,socket=/run/kdp/memifx/a,socket-abstract=no",
		 "e: devargs: socket: '/run/kdp/memifx/a' is not a file under memifSocketDir /run/kdp/memif (names of a-z, A-Z, 0-9, '.', '_', '-'; no '.' or '..')"},
		{"net_memif0,socket=/run/kdp/memif//a,socket-abstract=no",
		 "e: devargs: socket: '/run/kdp/memif//a' is not a file under memifSocketDir /run/kdp/memif (names of a-z, A-Z, 0-9, '.', '_', '-'; no '.' or '..')"},
		{"net_memif0,socket=/run/kdp/memif/,socket-abstract=no",
		 "e: devargs: socket: '/run/kdp/memif/' is not a file under memifSocketDir /run/kdp/memif (names of a-z, A-Z, 0-9, '.', '_', '-'; no '.' or '..')"},
		{"net_memif0,socket-abstract=no",
		 "e: devargs: socket: net_memif needs socket=<file under memifSocketDir /run/kdp/memif>"},
		{"net_memif0,socket=/run/kdp/memif/a.sock",
		 "e: devargs: socket-abstract: net_memif needs socket-abstract=no (DPDK's default is an abstract socket; memifAbstractSockets is false)"},
		{"net_memif0,socket=/run/kdp/memif/a.sock,socket-abstract=yes",
		 "e: devargs: socket-abstract: abstract sockets are not allowed (memifAbstractSockets is false)"},
		{"net_memif0,socket=/run/kdp/memif/a.sock,socket-abstract=no,role=master",
		 "e: devargs: role: expected server or client"},
		{"net_memif0,socket=/run/kdp/memif/a.sock,socket-abstract=no,mac=02:00:00:00:00",
		 "e: devargs: mac: '02:00:00:00:00' is not a MAC address"},
	};
	struct kdp_config c;
	char err[KDP_ERR_LEN];

	CU_ASSERT_EQUAL_FATAL(cfg_with("workers", "1", &c, err), 0);
	CU_ASSERT_STRING_EQUAL(c.memif_dir, "/run/kdp/memif");
	CU_ASSERT_FALSE(c.memif_abstract);
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		int ret;

		err[0] = '\0';
		ret = kdp_devargs_check(&c, t[i].devargs, "e", err);
		CU_ASSERT_EQUAL(ret, t[i].want ? -EINVAL : 0);
		if (t[i].want ? strcmp(err, t[i].want) != 0 : ret != 0) {
			fprintf(stderr, "devargs case %zu (%s): got '%s', want '%s'\n", i,
				t[i].devargs, err, t[i].want ? t[i].want : "accepted");
			CU_FAIL("wrong devargs verdict");
		}
	}
	kdp_config_free(&c);
	/* A node config may allow abstract sockets and move the directory. */
	CU_ASSERT_EQUAL_FATAL(cfg_with("memifAbstractSockets", "true", &c, err), 0);
	CU_ASSERT_EQUAL(kdp_devargs_check(&c, "net_memif0,socket=/run/kdp/memif/a", "e", err), 0);
	CU_ASSERT_EQUAL(kdp_devargs_check(&c, "net_memif0,socket=/run/kdp/memif/a,socket-abstract=yes",
					  "e", err), 0);
	kdp_config_free(&c);
	CU_ASSERT_EQUAL_FATAL(cfg_with("memifSocketDir", "\"/var/run/pods\"", &c, err), 0);
	CU_ASSERT_EQUAL(kdp_devargs_check(&c, "net_memif0,socket=/var/run/pods/p,socket-abstract=no",
					  "e", err), 0);
	CU_ASSERT_EQUAL(kdp_devargs_check(&c, "net_memif0,socket=/run/kdp/memif/p,socket-abstract=no",
					  "e", err), -EINVAL);
	kdp_config_free(&c);
}

static void test_config_file(void)
{
	struct kdp_config c;
	char err[KDP_ERR_LEN] = "";
	FILE *f = fopen("/tmp/kdp-unit-bad.json", "w");

	CU_ASSERT_FATAL(f != NULL);
	fputs("{\"name\": \"x\",\n \"nodeIP\": }", f);
	fclose(f);
	CU_ASSERT_EQUAL(kdp_config_load("/tmp/kdp-unit-bad.json", &c, err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/tmp/kdp-unit-bad.json:2:"));
	kdp_config_free(&c);
	remove("/tmp/kdp-unit-bad.json");
	CU_ASSERT_EQUAL(kdp_config_load("/nonexistent/kdp.json", &c, err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/kdp.json"));
	kdp_config_free(&c);
}

/* Parses a PUT /v1/nodes/{name} body. */
static int node_body(const char *name, const char *body, char *err)
{
	json_t *j = json_loads(body, 0, NULL);
	struct kdp_node n;
	int ret;

	CU_ASSERT_FATAL(j != NULL);
	ret = kdp_state_node_parse(j, name, "", &n, err);
	json_decref(j);
	return ret;
}

static void test_node_errors(void)
{
	static const struct {
		const char *name, *body, *want;
	} t[] = {
		{"k8s-w1", "{\"ip\":\"300.1.1.1\",\"podCIDRs\":[]}", "ip: not an IPv4 address"},
		{"k8s-w1", "{\"podCIDRs\":[]}", "ip: required field missing"},
		{"k8s-w1", "{\"ip\":\"127.0.0.1\",\"podCIDRs\":[]}", "ip: not a unicast address"},
		{"k8s-w1", "{\"ip\":\"192.168.10.101\"}", "podCIDRs: required field missing"},
		{"k8s-w1", "{\"ip\":\"192.168.10.101\",\"podCIDRs\":\"172.20.0.0/24\"}",
		 "podCIDRs: expected an array"},
		{"k8s-w1", "{\"ip\":\"192.168.10.101\",\"podCIDRs\":[\"172.20.0.1/24\"]}",
		 "podCIDRs[0]: not a CIDR"},
		{"k8s-w1", "{\"ip\":\"192.168.10.101\",\"podCIDRs\":[\"172.20.0.0/24\",\"172.20.0.0/16\"]}",
		 "podCIDRs[1]: overlaps podCIDRs[0]"},
		{"k8s-w1", "{\"ip\":\"192.168.10.101\",\"podCIDRs\":[],\"zone\":\"a\"}",
		 "zone: unknown field"},
		{"k8s-w1", "{\"name\":\"k8s-w2\",\"ip\":\"192.168.10.101\",\"podCIDRs\":[]}",
		 "name: 'k8s-w2' does not match 'k8s-w1' in the URL"},
		{"K8S_W1", "{\"ip\":\"192.168.10.101\",\"podCIDRs\":[]}", "not a valid name"},
		{"k8s-w1", "[1]", "expected a JSON object"},
	};
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		char err[KDP_ERR_LEN] = "";
		CU_ASSERT_EQUAL(node_body(t[i].name, t[i].body, err), -EINVAL);
		if (strstr(err, t[i].want) == NULL) {
			fprintf(stderr, "node case %zu: got '%s', want '%s'\n", i, err, t[i].want);
			CU_FAIL("wrong node error");
		}
	}
}

static int ep_body(const char *body, char *err)
{
	json_t *j = json_loads(body, 0, NULL);
	struct kdp_endpoint e;
	int ret;

	CU_ASSERT_FATAL(j != NULL);
	ret = kdp_state_ep_parse(j, "default", "curl-pod", "", &e, err);
	json_decref(e.labels);
	json_decref(j);
	return ret;
}

static void test_endpoint_errors(void)
{
	static const struct {
		const char *body, *want;
	} t[] = {
		{"{\"ip\":\"172.20.1.236\",\"mac\":\"02:00:ac:14:01:ec\",\"devargs\":\"net_kdp_afp,iface=lxc-curl\","
		 "\"labels\":{\"app\":\"curl\"}}", NULL},
		{"{\"ip\":\"172.20.1.2366\",\"mac\":\"02:00:ac:14:01:ec\",\"devargs\":\"x\"}",
		 "ip: not an IPv4 address"},
		{"{\"ip\":\"172.20.1.236\",\"mac\":\"02:00:ac:14:01\",\"devargs\":\"x\"}",
		 "mac: not a MAC address"},
		{"{\"ip\":\"172.20.1.236\",\"mac\":\"ff:ff:ff:ff:ff:ff\",\"devargs\":\"x\"}",
		 "mac: must be a unicast"},
		{"{\"ip\":\"172.20.1.236\",\"mac\":\"02:00:ac:14:01:ec\"}",
		 "devargs: required field missing"},
		{"{\"ip\":\"172.20.1.236\",\"mac\":\"02:00:ac:14:01:ec\",\"devargs\":\"x\",\"labels\":[1]}",
		 "labels: expected an object"},
		{"{\"ip\":\"172.20.1.236\",\"mac\":\"02:00:ac:14:01:ec\",\"devargs\":\"x\",\"labels\":{\"a\":1}}",
		 "labels: label 'a'"},
		{"{\"ip\":\"172.20.1.236\",\"mac\":\"02:00:ac:14:01:ec\",\"devargs\":\"x\",\"port\":3}",
		 "port: unknown field"},
	};
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		char err[KDP_ERR_LEN] = "";
		int ret = ep_body(t[i].body, err);

		CU_ASSERT_EQUAL(ret, t[i].want ? -EINVAL : 0);
		if (t[i].want && strstr(err, t[i].want) == NULL) {
			fprintf(stderr, "endpoint case %zu: got '%s', want '%s'\n", i, err,
				t[i].want);
			CU_FAIL("wrong endpoint error");
		}
	}
}

static void test_state_rules(void)
{
	static const struct {
		const char *body, *want;
	} t[] = {
		{"{\"nodes\":[{\"name\":\"k8s-ctr\",\"ip\":\"192.168.10.100\",\"podCIDRs\":[\"172.20.1.0/24\"]},"
		 "{\"name\":\"k8s-w1\",\"ip\":\"192.168.10.101\",\"podCIDRs\":[\"172.20.0.0/24\"]}]}", NULL},
		{"{\"nodes\":[{\"name\":\"k8s-ctr\",\"ip\":\"192.168.10.100\",\"podCIDRs\":[\"172.20.1.0/24\"]},"
		 "{\"name\":\"k8s-w1\",\"ip\":\"192.168.10.101\",\"podCIDRs\":[\"172.20.1.128/25\"]}]}",
		 "nodes[k8s-w1]: podCIDRs: 172.20.1.128/25 overlaps 172.20.1.0/24 of node k8s-ctr"},
		{"{\"nodes\":[{\"name\":\"k8s-ctr\",\"ip\":\"192.168.10.109\",\"podCIDRs\":[]}]}",
		 "nodes[k8s-ctr]: ip: 192.168.10.109 is this node"},
		{"{\"nodes\":[{\"name\":\"k8s-w1\",\"ip\":\"192.168.10.100\",\"podCIDRs\":[]}]}",
		 "nodes[k8s-w1]: ip: 192.168.10.100 is this node's IP"},
		{"{\"nodes\":[{\"name\":\"a\",\"ip\":\"192.168.10.5\",\"podCIDRs\":[]},"
		 "{\"name\":\"b\",\"ip\":\"192.168.10.5\",\"podCIDRs\":[]}]}",
		 "nodes[b]: ip: 192.168.10.5 already belongs to node a"},
		{"{\"nodes\":[{\"name\":\"a\",\"ip\":\"192.168.10.5\",\"podCIDRs\":[]},"
		 "{\"name\":\"a\",\"ip\":\"192.168.10.6\",\"podCIDRs\":[]}]}",
		 "nodes[1]: node 'a' listed twice"},
		{"{\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"172.20.1.5\","
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_vhost0\"}]}",
		 "endpoints[default/a]: devargs: driver of 'net_vhost0' is not in the node's allowedDrivers"},
		{"{\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"172.20.1.5\","
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_tap,iface=a\"},"
		 "{\"namespace\":\"default\",\"name\":\"b\",\"ip\":\"172.20.1.5\","
		 "\"mac\":\"02:00:00:00:00:02\",\"devargs\":\"net_tap,iface=b\"}]}",
		 "endpoints[default/b]: ip: 172.20.1.5 already belongs to default/a"},
		{"{\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"169.254.1.1\","
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_tap,iface=a\"}]}",
		 "ip: 169.254.1.1 is the node, its gateway or the pods' gateway"},
		{"{\"nodes\":{}}", "nodes: expected an array"},
		{"{\"policies\":[]}", "policies: unknown field"},
		/* Endpoints that cannot be pods of this node (issue #16). */
		{"{\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"10.1.1.5\","
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_tap,iface=a\"}]}",
		 "endpoints[default/a]: ip: 10.1.1.5 is outside the native routing CIDR 172.20.0.0/16 "
		 "(the pods' addresses)"},
		{"{\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"172.20.200.5\","
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_tap,iface=a\"}]}",
		 "endpoints[default/a]: ip: 172.20.200.5 is inside the service CIDR 172.20.200.0/24"},
		{"{\"nodes\":[{\"name\":\"k8s-ctr\",\"ip\":\"192.168.10.100\",\"podCIDRs\":[\"172.20.1.0/24\"]},"
		 "{\"name\":\"k8s-w1\",\"ip\":\"192.168.10.101\",\"podCIDRs\":[\"172.20.0.0/24\"]}],"
		 "\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"172.20.0.7\","
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_tap,iface=a\"}]}",
		 "endpoints[default/a]: ip: 172.20.0.7 is inside podCIDR 172.20.0.0/24 of node k8s-w1, "
		 "not this node's"},
		/* The same for an endpoint's IPv6 address (issue #17). */
		{"{\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"172.20.1.5\","
		 "\"ips\":[\"172.20.1.5\",\"fd00:30::5\"],"
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_tap,iface=a\"}]}",
		 "endpoints[default/a]: ips: fd00:30::5 is outside the native routing CIDR fd00:20::/48 "
		 "(the pods' addresses)"},
		{"{\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"172.20.1.5\","
		 "\"ips\":[\"172.20.1.5\",\"fd00:20:0:ffff::5\"],"
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_tap,iface=a\"}]}",
		 "endpoints[default/a]: ips: fd00:20:0:ffff::5 is inside the service CIDR fd00:20:0:ffff::/112"},
		{"{\"nodes\":[{\"name\":\"k8s-ctr\",\"ip\":\"192.168.10.100\","
		 "\"ips\":[\"192.168.10.100\",\"fd00:10::100\"],\"podCIDRs\":[\"172.20.1.0/24\",\"fd00:20:0:1::/64\"]},"
		 "{\"name\":\"k8s-w1\",\"ip\":\"192.168.10.101\","
		 "\"ips\":[\"192.168.10.101\",\"fd00:10::101\"],\"podCIDRs\":[\"172.20.0.0/24\",\"fd00:20::/64\"]}],"
		 "\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"172.20.1.7\","
		 "\"ips\":[\"172.20.1.7\",\"fd00:20::7\"],"
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_tap,iface=a\"}]}",
		 "endpoints[default/a]: ips: fd00:20::7 is inside podCIDR fd00:20::/64 of node k8s-w1, "
		 "not this node's"},
		{"{\"nodes\":[{\"name\":\"k8s-ctr\",\"ip\":\"192.168.10.100\","
		 "\"ips\":[\"192.168.10.100\",\"fd00:10::100\"],\"podCIDRs\":[\"172.20.1.0/24\",\"fd00:20:0:1::/64\"]},"
		 "{\"name\":\"k8s-w1\",\"ip\":\"192.168.10.101\","
		 "\"ips\":[\"192.168.10.101\",\"fd00:10::101\"],\"podCIDRs\":[\"172.20.0.0/24\",\"fd00:20::/64\"]}],"
		 "\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"172.20.1.7\","
		 "\"ips\":[\"172.20.1.7\",\"fd00:20:0:1::7\"],"
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_tap,iface=a\"}]}", NULL},
		{"{\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"172.20.1.5\","
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_kdp_afp,iface=eth1\"}]}",
		 "endpoints[default/a]: devargs: iface eth1 is the uplink's interface, not a pod's"},
		{"{\"endpoints\":[{\"namespace\":\"default\",\"name\":\"a\",\"ip\":\"172.20.1.5\","
		 "\"mac\":\"02:00:00:00:00:01\",\"devargs\":\"net_tap,iface=kdp-host\"}]}",
		 "endpoints[default/a]: devargs: iface kdp-host is the host tap's interface, not a pod's"},
	};
	struct kdp_config c;
	char err[KDP_ERR_LEN] = "";

	CU_ASSERT_EQUAL_FATAL(cfg_with("workers", "1", &c, err), 0);
	/* A service range inside the pool, and a host tap, for the cases above. */
	c.svc_cidr = IP4(172, 20, 200, 0);
	c.svc_plen = 24;
	/* IPv6 on, with its pool and a service range inside it. */
	c.has_ip6 = true;
	c.node_ip6 = test_ip6("fd00:10::100");
	c.native_cidr6 = test_ip6("fd00:20::");
	c.native_plen6 = 48;
	c.svc_cidr6 = test_ip6("fd00:20:0:ffff::");
	c.svc_plen6 = 112;
	snprintf(c.host_devargs, sizeof(c.host_devargs), "net_tap0,iface=kdp-host");
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		json_t *j = json_loads(t[i].body, 0, NULL);
		struct kdp_state st;
		int ret;

		CU_ASSERT_FATAL(j != NULL);
		err[0] = '\0';
		ret = kdp_state_parse(j, &c, &st, err);
		json_decref(j);
		if (ret == 0) {
			ret = kdp_state_validate(&st, &c, 29, err);
			kdp_state_free(&st);
		}
		CU_ASSERT_EQUAL(ret, t[i].want ? -EINVAL : 0);
		if (t[i].want && strstr(err, t[i].want) == NULL) {
			fprintf(stderr, "state case %zu: got '%s', want '%s'\n", i, err,
				t[i].want);
			CU_FAIL("wrong state error");
		}
	}
	kdp_config_free(&c);
}

static void test_state_roundtrip(void)
{
	const char *body =
		"{\"nodes\":[{\"name\":\"k8s-w1\",\"ip\":\"192.168.10.101\",\"podCIDRs\":[\"172.20.0.0/24\"]}],"
		"\"endpoints\":[{\"namespace\":\"default\",\"name\":\"curl-pod\",\"ip\":\"172.20.1.236\","
		"\"mac\":\"02:00:ac:14:01:ec\",\"labels\":{\"app\":\"curl\"},\"devargs\":\"net_kdp_afp,iface=lxc-curl\"}],"
		"\"services\":[{\"namespace\":\"default\",\"name\":\"webpod\",\"type\":\"NodePort\","
		"\"clusterIP\":\"10.96.152.212\",\"externalIPs\":[],\"loadBalancerIPs\":[],"
		"\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":8080,\"nodePort\":30080}],"
		"\"sessionAffinity\":\"ClientIP\",\"sessionAffinityTimeoutSeconds\":10800,\"algorithm\":\"maglev\","
		"\"externalTrafficPolicy\":\"Local\",\"internalTrafficPolicy\":\"Cluster\",\"healthCheckNodePort\":30999,"
		"\"loadBalancerSourceRanges\":[\"203.0.113.0/24\",\"2001:db8::/48\"],"
		"\"backends\":[{\"ip\":\"172.20.1.40\",\"state\":\"active\",\"nodeName\":\"k8s-ctr\"},"
		"{\"ip\":\"172.20.0.130\",\"state\":\"terminating\",\"nodeName\":\"\"}]}],"
		"\"localRedirectPolicies\":[{\"namespace\":\"kube-system\",\"name\":\"nodelocaldns\","
		"\"redirectFrontend\":{\"serviceMatcher\":{\"serviceName\":\"kube-dns\",\"namespace\":\"kube-system\",\"toPorts\":[]}},"
		"\"redirectBackend\":{\"localEndpointSelector\":{\"matchLabels\":{\"k8s-app\":\"node-local-dns\"}},"
		"\"toPorts\":[{\"port\":\"53\",\"name\":\"dns\",\"protocol\":\"UDP\"}]},"
		"\"skipRedirectFromBackend\":false,\"description\":\"\"}],"
		"\"ipMasqAgent\":{\"nonMasqueradeCIDRs\":[\"10.10.1.0/24\",\"10.10.2.0/24\"],\"masqLinkLocal\":false}}";
	json_t *in = json_loads(body, 0, NULL), *out;
	struct kdp_state st, copy;
	struct kdp_config c;
	char err[KDP_ERR_LEN];

	CU_ASSERT_EQUAL_FATAL(cfg_with("workers", "1", &c, err), 0);
	CU_ASSERT_EQUAL_FATAL(kdp_state_parse(in, &c, &st, err), 0);
	kdp_config_free(&c);
	CU_ASSERT_EQUAL(kdp_state_copy(&copy, &st), 0);
	out = kdp_state_json(&copy);
	CU_ASSERT(json_equal(in, out));
	kdp_state_node_del(&copy, 0);
	kdp_state_ep_del(&copy, 0);
	CU_ASSERT_EQUAL(copy.n_nodes, 0);
	CU_ASSERT_EQUAL(st.n_nodes, 1); /* the copy is deep */
	json_decref(in);
	json_decref(out);
	kdp_state_free(&st);
	kdp_state_free(&copy);
}

/* A copy shares the services: what it replaces or deletes stays in the
 * original until the copy is committed over it; freed either way once
 * (ASan checks). */
static void test_state_shared(void)
{
	const char *body =
		"{\"services\":[{\"namespace\":\"b\",\"name\":\"s\",\"ports\":[{\"port\":80}]},"
		"{\"namespace\":\"a\",\"name\":\"z\",\"ports\":[{\"port\":80}]},"
		"{\"namespace\":\"a\",\"name\":\"c\",\"ports\":[{\"port\":80}]}],"
		"\"ipMasqAgent\":\"nonMasqueradeCIDRs: [10.10.1.0/24]\\n\"}";
	json_t *in = json_loads(body, 0, NULL), *one = json_loads("{\"ports\":[{\"port\":81}]}", 0, NULL);
	json_t *out;
	struct kdp_state st, next;
	struct kdp_service *orig[3], *sv;
	struct kdp_config c;
	char err[KDP_ERR_LEN];
	int ret;

	CU_ASSERT_FATAL(in != NULL && one != NULL);
	CU_ASSERT_EQUAL_FATAL(cfg_with("workers", "1", &c, err), 0);
	CU_ASSERT_EQUAL_FATAL(kdp_state_parse(in, &c, &st, err), 0);
	/* Sorted by namespace and name. */
	CU_ASSERT_STRING_EQUAL(st.svcs[0]->name, "c");
	CU_ASSERT_STRING_EQUAL(st.svcs[1]->name, "z");
	CU_ASSERT_STRING_EQUAL(st.svcs[2]->ns, "b");
	CU_ASSERT_EQUAL(kdp_state_svc_find(&st, "a", "z"), 1);
	CU_ASSERT_EQUAL(kdp_state_svc_find(&st, "a", "y"), -1);
	memcpy(orig, st.svcs, sizeof(orig));
	/* The text of the ip-masq-agent config comes back as given. */
	out = kdp_state_json(&st);
	CU_ASSERT(json_equal(json_object_get(in, "ipMasqAgent"), json_object_get(out, "ipMasqAgent")));
	json_decref(out);

	/* A copy freed without commit: the original keeps all. */
	CU_ASSERT_EQUAL_FATAL(kdp_state_copy(&next, &st), 0);
	sv = kdp_service_new(one, "a", "c", "", &c, &ret, err);
	CU_ASSERT_FATAL(sv != NULL);
	CU_ASSERT_EQUAL(kdp_state_svc_put(&next, sv), 0);
	kdp_state_svc_del(&next, kdp_state_svc_find(&next, "a", "z"));
	CU_ASSERT_EQUAL(next.n_svcs, 2);
	CU_ASSERT_EQUAL(next.n_dropped, 2);
	CU_ASSERT_EQUAL(next.changed, KDP_STATE_CH_SVCS);
	kdp_state_free(&next);
	CU_ASSERT(memcmp(orig, st.svcs, sizeof(orig)) == 0);

	/* A copy committed: replaced and deleted ones go, new ones stay. */
	CU_ASSERT_EQUAL_FATAL(kdp_state_copy(&next, &st), 0);
	sv = kdp_service_new(one, "a", "c", "", &c, &ret, err);
	CU_ASSERT_EQUAL(kdp_state_svc_put(&next, sv), 0);
	sv = kdp_service_new(one, "a", "d", "", &c, &ret, err);
	CU_ASSERT_EQUAL(kdp_state_svc_put(&next, sv), 0);
	/* Replaced again before the commit: the fresh one is freed at once. */
	sv = kdp_service_new(one, "a", "d", "", &c, &ret, err);
	CU_ASSERT_EQUAL(kdp_state_svc_put(&next, sv), 0);
	CU_ASSERT_EQUAL(next.n_added, 2);
	kdp_state_svc_del(&next, kdp_state_svc_find(&next, "b", "s"));
	CU_ASSERT_EQUAL(next.n_dropped, 2);
	kdp_state_commit(&st, &next);
	CU_ASSERT(!st.derived);
	CU_ASSERT_EQUAL(next.n_svcs, 0);
	CU_ASSERT_EQUAL(st.n_svcs, 3);
	CU_ASSERT_STRING_EQUAL(st.svcs[1]->name, "d");
	CU_ASSERT_PTR_EQUAL(st.svcs[2], orig[1]);
	CU_ASSERT(!st.svcs[0]->fresh && st.svcs[0]->ports[0].port == 81);
	kdp_state_free(&st);
	kdp_config_free(&c);
	json_decref(in);
	json_decref(one);
}

static void test_lrp_errors(void)
{
	static const char *be = "\"redirectBackend\":{\"localEndpointSelector\":{\"matchLabels\":"
				"{\"k8s-app\":\"node-local-dns\"}},\"toPorts\":[{\"port\":\"53\","
				"\"name\":\"dns\",\"protocol\":\"UDP\"}]}";
	static const struct {
		const char *fe, *be, *want;
	} t[] = {
		{"{\"serviceMatcher\":{\"serviceName\":\"kube-dns\",\"namespace\":\"kube-system\"}}", NULL, NULL},
		{"{\"addressMatcher\":{\"ip\":\"169.254.20.10\",\"toPorts\":[{\"port\":\"53\",\"protocol\":\"UDP\"}]}}", NULL, NULL},
		{"{\"serviceMatcher\":{\"serviceName\":\"kube-dns\",\"namespace\":\"default\"}}", NULL,
		 "must be the policy's own namespace"},
		{"{\"serviceMatcher\":{\"serviceName\":\"kube-dns\"}}", NULL,
		 "redirectFrontend.serviceMatcher.namespace: required field missing"},
		{"{}", NULL, "redirectFrontend: give exactly one of serviceMatcher and addressMatcher"},
		{"{\"addressMatcher\":{\"ip\":\"169.254.20.300\",\"toPorts\":[]}}", NULL,
		 "redirectFrontend.addressMatcher.ip: not an IPv4 address"},
		{"{\"addressMatcher\":{\"ip\":\"fd00:dead:beef::a\",\"toPorts\":[{\"port\":\"53\",\"protocol\":\"UDP\"}]}}", NULL, NULL},
		{"{\"addressMatcher\":{\"ip\":\"fd00::beef::a\",\"toPorts\":[]}}", NULL,
		 "redirectFrontend.addressMatcher.ip: not an IPv6 address"},
		{"{\"addressMatcher\":{\"ip\":\"ff02::1\",\"toPorts\":[{\"port\":\"53\"}]}}", NULL,
		 "redirectFrontend.addressMatcher.ip: not a global unicast IPv6 address"},
		{"{\"addressMatcher\":{\"ip\":\"::1\",\"toPorts\":[{\"port\":\"53\"}]}}", NULL,
		 "redirectFrontend.addressMatcher.ip: not a global unicast IPv6 address"},
		{"{\"addressMatcher\":{\"ip\":\"fe80::a\",\"toPorts\":[{\"port\":\"53\"}]}}", NULL,
		 "redirectFrontend.addressMatcher.ip: not a global unicast IPv6 address"},
		{"{\"addressMatcher\":{\"ip\":\"fd00::a\"}}", NULL,
		 "an addressMatcher needs at least one port"},
		{"{\"addressMatcher\":{\"ip\":\"169.254.20.10\"}}", NULL,
		 "an addressMatcher needs at least one port"},
		{"{\"addressMatcher\":{\"ip\":\"169.254.20.10\",\"toPorts\":[{\"port\":\"dns\"}]}}", NULL,
		 "toPorts[0].port: expected a port number"},
		{"{\"addressMatcher\":{\"ip\":\"169.254.20.10\",\"toPorts\":[{\"port\":53,\"protocol\":\"SCTP\"}]}}", NULL,
		 "toPorts[0].protocol: expected \"TCP\" or \"UDP\""},
		{"{\"serviceMatcher\":{\"serviceName\":\"kube-dns\",\"namespace\":\"kube-system\"}}",
		 "\"redirectBackend\":{\"localEndpointSelector\":{\"matchLabels\":{}},\"toPorts\":[{\"port\":\"53\"}]}",
		 "matchLabels: expected a non-empty object"},
		{"{\"serviceMatcher\":{\"serviceName\":\"kube-dns\",\"namespace\":\"kube-system\"}}",
		 "\"redirectBackend\":{\"localEndpointSelector\":{\"matchLabels\":{\"a\":\"b\"}}}",
		 "redirectBackend.toPorts: at least one backend port is required"},
		{"{\"serviceMatcher\":{\"serviceName\":\"kube-dns\",\"namespace\":\"kube-system\"}}",
		 "\"redirectBackend\":{\"localEndpointSelector\":{\"matchLabels\":{\"a\":\"b\"}},"
		 "\"toPorts\":[{\"port\":\"53\",\"protocol\":\"UDP\"},{\"port\":\"53\",\"protocol\":\"TCP\"}]}",
		 "ports need names when there are several"},
	};
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		char body[1024], err[KDP_ERR_LEN] = "";
		struct kdp_lrp l;
		json_t *j;
		int ret;

		snprintf(body, sizeof(body), "{\"redirectFrontend\":%s,%s}", t[i].fe,
			 t[i].be ? t[i].be : be);
		j = json_loads(body, 0, NULL);
		CU_ASSERT_FATAL(j != NULL);
		ret = kdp_lrp_parse(j, "kube-system", "nodelocaldns", "", &l, err);
		kdp_lrp_free(&l);
		json_decref(j);
		CU_ASSERT_EQUAL(ret, t[i].want ? -EINVAL : 0);
		if (t[i].want && strstr(err, t[i].want) == NULL) {
			fprintf(stderr, "lrp case %zu: got '%s', want '%s'\n", i, err, t[i].want);
			CU_FAIL("wrong lrp error");
		}
	}
}

/* An IPv6 addressMatcher: parsed as one, echoed canonically, told apart
 * from the IPv4 policies and from other addresses. */
static void test_lrp_ip6(void)
{
	static const char *fmt =
		"{\"redirectFrontend\":{\"addressMatcher\":{\"ip\":\"%s\",\"toPorts\":"
		"[{\"port\":\"53\",\"protocol\":\"UDP\"}]}},\"redirectBackend\":"
		"{\"localEndpointSelector\":{\"matchLabels\":{\"k8s-app\":\"dns\"}},"
		"\"toPorts\":[{\"port\":\"53\",\"protocol\":\"UDP\"}]}}";
	static const char *ips[] = {"FD00:DEAD:BEEF:0:0:0:0:A", "fd00:dead:beef::a",
				    "fd00:dead:beef::b", "169.254.20.10"};
	struct kdp_lrp l[RTE_DIM(ips)];
	char err[KDP_ERR_LEN] = "", buf[KDP_ADDR6_STRLEN];
	json_t *out;

	for (size_t i = 0; i < RTE_DIM(ips); i++) {
		char body[1024];
		json_t *j;

		snprintf(body, sizeof(body), fmt, ips[i]);
		j = json_loads(body, 0, NULL);
		CU_ASSERT_FATAL(j != NULL);
		CU_ASSERT_EQUAL_FATAL(kdp_lrp_parse(j, "kube-system", "p", "", &l[i], err), 0);
		json_decref(j);
	}
	CU_ASSERT(l[0].address && l[0].is6 && !l[3].is6);
	CU_ASSERT_STRING_EQUAL(kdp_lrp_ip_fmt(&l[0], buf, sizeof(buf)), "fd00:dead:beef::a");
	CU_ASSERT_STRING_EQUAL(kdp_lrp_ip_fmt(&l[3], buf, sizeof(buf)), "169.254.20.10");
	out = kdp_lrp_json(&l[0]);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_object_get(json_object_get(
		out, "redirectFrontend"), "addressMatcher"), "ip")), "fd00:dead:beef::a");
	json_decref(out);
	CU_ASSERT(kdp_lrp_same_ip(&l[0], &l[1]));
	CU_ASSERT(!kdp_lrp_same_ip(&l[0], &l[2]));
	CU_ASSERT(!kdp_lrp_same_ip(&l[0], &l[3]));
	CU_ASSERT(!kdp_lrp_same_ip(&l[3], &l[0]));
	for (size_t i = 0; i < RTE_DIM(ips); i++)
		kdp_lrp_free(&l[i]);
}

/* matchExpressions as Kubernetes label selectors mean them, ANDed with
 * matchLabels; the bad ones named. */
static void test_lrp_selector(void)
{
	static const char *pol =
		"{\"redirectFrontend\":{\"serviceMatcher\":{\"serviceName\":\"kube-dns\",\"namespace\":\"kube-system\"}},"
		"\"redirectBackend\":{\"localEndpointSelector\":{\"matchLabels\":{\"k8s-app\":\"dns\"},"
		"\"matchExpressions\":[{\"key\":\"tier\",\"operator\":\"In\",\"values\":[\"node\",\"edge\"]},"
		"{\"key\":\"canary\",\"operator\":\"NotIn\",\"values\":[\"true\"]},"
		"{\"key\":\"ready\",\"operator\":\"Exists\"},"
		"{\"key\":\"draining\",\"operator\":\"DoesNotExist\",\"values\":[]}]},"
		"\"toPorts\":[{\"port\":\"53\",\"protocol\":\"UDP\"}]}}";
	static const struct {
		const char *labels;
		bool want;
	} t[] = {
		{"{\"k8s-app\":\"dns\",\"tier\":\"node\",\"ready\":\"\"}", true},
		{"{\"k8s-app\":\"dns\",\"tier\":\"edge\",\"ready\":\"1\",\"canary\":\"false\"}", true},
		{"{\"k8s-app\":\"dns\",\"tier\":\"core\",\"ready\":\"1\"}", false},  /* In */
		{"{\"k8s-app\":\"dns\",\"ready\":\"1\"}", false},                      /* In: absent */
		{"{\"k8s-app\":\"dns\",\"tier\":\"node\",\"ready\":\"1\",\"canary\":\"true\"}", false},
		{"{\"k8s-app\":\"dns\",\"tier\":\"node\"}", false},                    /* Exists */
		{"{\"k8s-app\":\"dns\",\"tier\":\"node\",\"ready\":\"1\",\"draining\":\"\"}", false},
		{"{\"k8s-app\":\"web\",\"tier\":\"node\",\"ready\":\"1\"}", false}, /* matchLabels */
	};
	static const struct {
		const char *expr, *want;
	} bad[] = {
		{"{\"key\":\"a\",\"operator\":\"Gt\",\"values\":[\"1\"]}", "operator: expected In, NotIn, Exists or DoesNotExist"},
		{"{\"key\":\"a\",\"operator\":\"In\"}", "values: In needs at least one"},
		{"{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[\"x\"]}", "values: must be empty for Exists"},
		{"{\"operator\":\"Exists\"}", "matchExpressions[0].key: required field missing"},
		{"{\"key\":\"a\",\"operator\":\"In\",\"values\":[1]}", "values[0]: expected a string"},
	};
	char err[KDP_ERR_LEN] = "";
	json_t *j = json_loads(pol, 0, NULL), *out;
	struct kdp_lrp l;

	CU_ASSERT_FATAL(j != NULL);
	CU_ASSERT_EQUAL_FATAL(kdp_lrp_parse(j, "kube-system", "p", "", &l, err), 0);
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		json_t *lab = json_loads(t[i].labels, 0, NULL);

		if (kdp_lrp_selects(&l, lab) != t[i].want) {
			fprintf(stderr, "selector case %zu: got %d\n", i, !t[i].want);
			CU_FAIL("wrong selection");
		}
		json_decref(lab);
	}
	/* Echoed in normal form: no values for Exists/DoesNotExist. */
	out = kdp_lrp_json(&l);
	CU_ASSERT_EQUAL(json_array_size(json_object_get(json_object_get(json_object_get(out,
		"redirectBackend"), "localEndpointSelector"), "matchExpressions")), 4);
	CU_ASSERT_PTR_NULL(json_object_get(json_array_get(json_object_get(json_object_get(
		json_object_get(out, "redirectBackend"), "localEndpointSelector"), "matchExpressions"), 3),
		"values"));
	json_decref(out);
	kdp_lrp_free(&l);
	json_decref(j);
	for (size_t i = 0; i < RTE_DIM(bad); i++) {
		char body[1024];
		int ret;

		snprintf(body, sizeof(body),
			 "{\"redirectFrontend\":{\"serviceMatcher\":{\"serviceName\":\"x\",\"namespace\":\"kube-system\"}},"
			 "\"redirectBackend\":{\"localEndpointSelector\":{\"matchExpressions\":[%s]},"
			 "\"toPorts\":[{\"port\":\"53\"}]}}", bad[i].expr);
		j = json_loads(body, 0, NULL);
		CU_ASSERT_FATAL(j != NULL);
		err[0] = '\0';
		ret = kdp_lrp_parse(j, "kube-system", "p", "", &l, err);
		kdp_lrp_free(&l);
		json_decref(j);
		CU_ASSERT_EQUAL(ret, -EINVAL);
		if (strstr(err, bad[i].want) == NULL) {
			fprintf(stderr, "expression case %zu: got '%s', want '%s'\n", i, err, bad[i].want);
			CU_FAIL("wrong expression error");
		}
	}
}

static void test_service_errors(void)
{
	static const struct {
		const char *body, *want;
	} t[] = {
		{"{\"clusterIP\":\"10.96.152.212\",\"ports\":[{\"port\":80}]}", NULL},
		{"{\"type\":\"ExternalName\",\"ports\":[{\"port\":80}]}", "type: expected ClusterIP"},
		{"{\"clusterIP\":\"10.97.0.1\",\"ports\":[{\"port\":80}]}", "outside serviceCIDR 10.96.0.0/16"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[]}", "ports: expected an array of 1 to"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80,\"protocol\":\"SCTP\"}]}", "SCTP is not supported yet"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80,\"targetPort\":\"http\"}]}", "named target ports are not supported"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80,\"nodePort\":30080}]}", "nodePort: only NodePort and LoadBalancer"},
		{"{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}]}", "nodePort: required for a NodePort service"},
		{"{\"type\":\"NodePort\",\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80,\"nodePort\":8080}]}", "nodePort: expected an integer from 30000 to 32767"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"a\",\"port\":81}]}", "need distinct names"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"sessionAffinity\":\"Cookie\"}", "sessionAffinity: expected"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"algorithm\":\"wrr\"}", "algorithm: expected \"random\" or \"maglev\""},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"backends\":[{\"ip\":\"172.20.1.40\",\"state\":\"draining\"}]}", "backends[0].state: expected active"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"backends\":[{\"ip\":\"172.20.1.40\"},{\"ip\":\"172.20.1.40\"}]}", "backends[1]: listed twice"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"weight\":3}", "weight: unknown field"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"externalTrafficPolicy\":\"Global\"}", "externalTrafficPolicy: expected \"Cluster\" or \"Local\""},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"internalTrafficPolicy\":1}", "internalTrafficPolicy: expected a string"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"healthCheckNodePort\":\"x\"}", "healthCheckNodePort: expected 0 (none) or a port"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"loadBalancerSourceRanges\":[\"10.0.0.0/8\",\"10.0.0.0/8\"]}", "loadBalancerSourceRanges[1]: listed twice"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"loadBalancerSourceRanges\":[\"2001:db8::1/32\"]}", "loadBalancerSourceRanges[0]: not an IPv6 CIDR"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"loadBalancerSourceRanges\":[\"10.0.0.1/8\"]}", "loadBalancerSourceRanges[0]: not an IPv4 CIDR"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"loadBalancerSourceRanges\":[\"2001:db8::/32\",\"10.0.0.0/8\",\"2001:db8::/32\"]}", "loadBalancerSourceRanges[2]: listed twice"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"loadBalancerSourceRanges\":[\"2001:db8::/32\",\"10.0.0.0/8\",\"2001:db8::/48\"]}", NULL},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"backends\":[{\"ip\":\"172.20.1.40\",\"nodeName\":\"%s\"}]}", "backends[0].nodeName: longer than 253"},
		{"{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"port\":80}],\"externalTrafficPolicy\":\"Local\",\"internalTrafficPolicy\":\"Local\",\"healthCheckNodePort\":31000,\"loadBalancerSourceRanges\":[\"0.0.0.0/0\"],\"backends\":[{\"ip\":\"172.20.1.40\",\"nodeName\":\"k8s-ctr\"}]}", NULL},
	};
	struct kdp_config c;
	char err[KDP_ERR_LEN] = "";

	CU_ASSERT_EQUAL_FATAL(cfg_with("serviceCIDR", "\"10.96.0.0/16\"", &c, err), 0);
	for (size_t i = 0; i < RTE_DIM(t); i++) {
		char long_name[300], body[1024];
		json_t *j;
		struct kdp_service s;
		int ret;

		memset(long_name, 'a', 254);
		long_name[254] = '\0';
		snprintf(body, sizeof(body), t[i].body, long_name);
		j = json_loads(body, 0, NULL);
		CU_ASSERT_FATAL(j != NULL);
		err[0] = '\0';
		ret = kdp_service_parse(j, "default", "webpod", "", &c, &s, err);
		kdp_service_free(&s);
		json_decref(j);
		CU_ASSERT_EQUAL(ret, t[i].want ? -EINVAL : 0);
		if (t[i].want && strstr(err, t[i].want) == NULL) {
			fprintf(stderr, "service case %zu: got '%s', want '%s'\n", i, err, t[i].want);
			CU_FAIL("wrong service error");
		}
	}
	kdp_config_free(&c);
}

static void test_save_atomic(void)
{
	const char *file = "/tmp/kdp-unit-state.json";
	json_t *doc = json_pack("{s:[i,i,i], s:s}", "a", 1, 2, 3, "b", "kdp"), *back;
	char tmp[64];

	CU_ASSERT_EQUAL(kdp_json_save_atomic(doc, file), 0);
	back = json_load_file(file, 0, NULL);
	CU_ASSERT(back != NULL && json_equal(doc, back));
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int)getpid());
	CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0); /* the temporary file was renamed */
	/* A directory that does not exist: an error, nothing written. */
	CU_ASSERT(kdp_json_save_atomic(doc, "/nonexistent/dir/state.json") < 0);
	json_decref(back);
	json_decref(doc);
	remove(file);
}

/* The IPv6 keys: off without nodeIPv6, each bad one named. */
static void test_config_ip6(void)
{
	static const char *dual =
		"{\"name\":\"k8s-ctr\",\"nodeIP\":\"192.168.10.100/24\","
		"\"gateway\":\"192.168.10.200\",\"uplink\":{\"devargs\":\"net_kdp_afp0,iface=eth1\"},"
		"\"nativeRoutingCIDR\":\"172.20.0.0/16\",\"nodeIPv6\":\"fd00:10::100/64\","
		"\"gatewayIPv6\":\"fd00:10::200\",\"nativeRoutingCIDRv6\":\"fd00:20::/48\"}";
	static const struct {
		const char *key, *val, *err;
	} bad[] = {
		{"nodeIPv6", "\"fd00:10::100\"", "nodeIPv6: not an IPv6 address/prefix"},
		{"nodeIPv6", "\"fe80::1/64\"", "nodeIPv6: expected the node's global IPv6"},
		{"nodeIPv6", "\"192.168.10.100/24\"", "nodeIPv6: not an IPv6 address/prefix"},
		{"gatewayIPv6", NULL, "gatewayIPv6: required field missing"},
		{"gatewayIPv6", "\"fd00:11::1\"", "gatewayIPv6: must be another address on the node's IPv6 subnet"},
		{"gatewayIPv6", "\"fd00:10::100\"", "gatewayIPv6: must be another address"},
		{"podGatewayIPv6", "\"ff02::1\"", "podGatewayIPv6: not a unicast address"},
		{"nativeRoutingCIDRv6", NULL, "nativeRoutingCIDRv6: required field missing"},
		{"nativeRoutingCIDRv6", "\"fd00:20::1/48\"", "nativeRoutingCIDRv6: not an IPv6 CIDR"},
		{"serviceCIDRv6", "\"::/0\"", "serviceCIDRv6: ::/0 would swallow every address"},
		{"serviceLoopbackIPv6", "\"::\"", "serviceLoopbackIPv6: not a unicast address"},
	};
	struct kdp_config c;
	char err[KDP_ERR_LEN] = "";
	json_t *root;

	/* Without nodeIPv6 IPv6 is off, and its other keys are refused. */
	CU_ASSERT_EQUAL(cfg_with("workers", "1", &c, err), 0);
	CU_ASSERT_FALSE(c.has_ip6);
	kdp_config_free(&c);
	CU_ASSERT_EQUAL(cfg_with("gatewayIPv6", "\"fd00:10::200\"", &c, err), -EINVAL);
	CU_ASSERT_STRING_EQUAL(err, "gatewayIPv6: needs nodeIPv6 (IPv6 is off without it)");
	kdp_config_free(&c);
	root = json_loads(dual, 0, NULL);
	CU_ASSERT_FATAL(root != NULL);
	CU_ASSERT_EQUAL(kdp_config_parse(root, &c, err), 0);
	CU_ASSERT(c.has_ip6);
	CU_ASSERT_EQUAL(c.node_plen6, 64);
	CU_ASSERT_EQUAL(c.native_plen6, 48);
	CU_ASSERT_EQUAL(c.svc_plen6, 0);
	{
		struct kdp_in6 gw = test_ip6("fe80::1"), lo = test_ip6("fe80::a9fe:2a01");

		CU_ASSERT(kdp_addr6_eq(&c.pod_gw6, &gw));
		CU_ASSERT(kdp_addr6_eq(&c.loopback_ip6, &lo));
	}
	kdp_config_free(&c);
	/* A link-local gateway is fine. */
	json_object_set_new(root, "gatewayIPv6", json_string("fe80::c8"));
	CU_ASSERT_EQUAL(kdp_config_parse(root, &c, err), 0);
	kdp_config_free(&c);
	for (size_t i = 0; i < RTE_DIM(bad); i++) {
		json_t *r = json_deep_copy(root);

		if (bad[i].val == NULL)
			json_object_del(r, bad[i].key);
		else
			json_object_set_new(r, bad[i].key,
					    json_loads(bad[i].val, JSON_DECODE_ANY, NULL));
		err[0] = '\0';
		CU_ASSERT_EQUAL(kdp_config_parse(r, &c, err), -EINVAL);
		if (strncmp(err, bad[i].err, strlen(bad[i].err)) != 0)
			fprintf(stderr, "config case %zu: got '%s' want '%s'\n", i, err, bad[i].err);
		CU_ASSERT_EQUAL(strncmp(err, bad[i].err, strlen(bad[i].err)), 0);
		kdp_config_free(&c);
		json_decref(r);
	}
	json_decref(root);
}

void test_register_config(void)
{
	CU_pSuite s = CU_add_suite("config", NULL, NULL);
	CU_add_test(s, "defaults", test_config_defaults);
	CU_add_test(s, "every bad field is named", test_config_errors);
	CU_add_test(s, "IPv6 keys", test_config_ip6);
	CU_add_test(s, "file errors give line and column", test_config_file);
	CU_add_test(s, "endpoint devargs allow-lists", test_devargs);
	CU_add_test(s, "state file written atomically", test_save_atomic);
	s = CU_add_suite("api-validation", NULL, NULL);
	CU_add_test(s, "node bodies", test_node_errors);
	CU_add_test(s, "endpoint bodies", test_endpoint_errors);
	CU_add_test(s, "state rules across objects", test_state_rules);
	CU_add_test(s, "state JSON round trip", test_state_roundtrip);
	CU_add_test(s, "states share their services", test_state_shared);
	CU_add_test(s, "service bodies", test_service_errors);
	CU_add_test(s, "local redirect policy bodies", test_lrp_errors);
	CU_add_test(s, "local redirect policy: an IPv6 addressMatcher", test_lrp_ip6);
	CU_add_test(s, "local endpoint selector: matchLabels and matchExpressions", test_lrp_selector);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* CUnit suite of kdp-agent's translation: Kubernetes objects -> kdp bodies. */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <jansson.h>

#include "kdp_agent.h"

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (j == NULL)
		fprintf(stderr, "bad test JSON: %s: %s\n", e.text, text);
	return j;
}

/* The body of @p svc with @p slices (a JSON array text), compact and with
 * sorted keys, into @p out ("NULL: <why>" when there is none). */
static void svc6(const char *svc_text, const char *slices_text, enum kdp_agent_fields f, bool v6,
		 char *out, size_t len, char *warn)
{
	struct kdp_agent_svc_opts o = {f, "random", v6};
	char why[KDP_AGENT_ERR_LEN] = "";
	json_t *s = J(svc_text), *sl = J(slices_text);
	json_t *b = kdp_agent_service_body(s, sl, &o, why, warn);
	char *t = b ? json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	snprintf(out, len, "%s%s", t ? t : "NULL: ", t ? "" : why);
	free(t);
	json_decref(b);
	json_decref(s);
	json_decref(sl);
}

/* As svc6, for a kdp without IPv6 (the tests from before issue #17). */
static void svc(const char *svc_text, const char *slices_text, enum kdp_agent_fields f, char *out,
		size_t len, char *warn)
{
	svc6(svc_text, slices_text, f, false, out, len, warn);
}

#define WEB "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},\"spec\":{\"type\":\"NodePort\"," \
	    "\"clusterIP\":\"10.96.0.5\",\"clusterIPs\":[\"fd00::5\",\"10.96.0.5\"],\"ports\":[{\"name\":\"http\"," \
	    "\"protocol\":\"TCP\",\"port\":80,\"targetPort\":\"web\",\"nodePort\":30080}]," \
	    "\"externalTrafficPolicy\":\"Local\",\"healthCheckNodePort\":31000}}"

static void test_states_and_ports(void)
{
	char out[4096], warn[KDP_AGENT_ERR_LEN];
	/* two slices, the same address in both, named target port resolved
	 * from the slices, one odd backend port, every condition */
	const char *slices =
		"[{\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":8080}],"
		"\"endpoints\":[{\"addresses\":[\"172.20.0.2\"],\"conditions\":{\"ready\":true},\"nodeName\":\"a\"},"
		"{\"addresses\":[\"172.20.0.10\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true},\"nodeName\":\"b\"},"
		"{\"addresses\":[\"172.20.0.3\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":true}},"
		"{\"addresses\":[\"172.20.0.4\"],\"conditions\":{\"ready\":false}},"
		"{\"addresses\":[\"172.20.0.5\"]}]},"
		"{\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":9090}],"
		"\"endpoints\":[{\"addresses\":[\"172.20.0.2\"],\"conditions\":{\"ready\":true}}]},"
		"{\"addressType\":\"IPv6\",\"ports\":[{\"name\":\"http\",\"port\":8080}],"
		"\"endpoints\":[{\"addresses\":[\"fd00::1\"]}]}]";

	svc(WEB, slices, KDP_AGENT_FIELDS_BASIC, out, sizeof(out), warn);
	CU_ASSERT_STRING_EQUAL(out,
		"{\"algorithm\":\"random\",\"backends\":[{\"ip\":\"172.20.0.2\",\"state\":\"active\"},"
		"{\"ip\":\"172.20.0.2\",\"port\":9090,\"state\":\"active\"},"
		"{\"ip\":\"172.20.0.3\",\"state\":\"maintenance\"},{\"ip\":\"172.20.0.4\",\"state\":\"maintenance\"},"
		"{\"ip\":\"172.20.0.5\",\"state\":\"active\"},{\"ip\":\"172.20.0.10\",\"state\":\"terminating\"}],"
		"\"clusterIP\":\"10.96.0.5\",\"externalIPs\":[],\"loadBalancerIPs\":[],\"name\":\"web\","
		"\"namespace\":\"default\",\"ports\":[{\"name\":\"http\",\"nodePort\":30080,\"port\":80,"
		"\"protocol\":\"TCP\",\"targetPort\":8080}],\"sessionAffinity\":\"None\","
		"\"sessionAffinityTimeoutSeconds\":10800,\"type\":\"NodePort\"}");
	CU_ASSERT_PTR_NOT_NULL(strstr(warn, "externalTrafficPolicy Local not sent"));
	CU_ASSERT_PTR_NOT_NULL(strstr(warn, "healthCheckNodePort 31000"));

	svc(WEB, slices, KDP_AGENT_FIELDS_EXTENDED, out, sizeof(out), warn);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"externalTrafficPolicy\":\"Local\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"internalTrafficPolicy\":\"Cluster\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"healthCheckNodePort\":31000"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"loadBalancerSourceRanges\":[]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "{\"ip\":\"172.20.0.10\",\"nodeName\":\"b\",\"state\":\"terminating\"}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "{\"ip\":\"172.20.0.3\",\"nodeName\":\"\",\"state\":\"maintenance\"}"));
	CU_ASSERT_STRING_EQUAL(warn, "");
}

static void test_multiport_and_lb(void)
{
	char out[4096], warn[KDP_AGENT_ERR_LEN];
	const char *s =
		"{\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"dns\"},\"spec\":{\"type\":\"LoadBalancer\","
		"\"clusterIP\":\"10.96.0.10\",\"externalIPs\":[\"192.0.2.1\",\"2001:db8::1\"],"
		"\"sessionAffinity\":\"ClientIP\",\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":60}},"
		"\"loadBalancerSourceRanges\":[\" 10.1.2.3/8 \",\"10.9.9.9/8\",\"2001:db8::/32\"],"
		"\"ports\":[{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":53,\"targetPort\":53,\"nodePort\":30053},"
		"{\"name\":\"dns-tcp\",\"protocol\":\"TCP\",\"port\":53,\"targetPort\":\"dnst\",\"nodePort\":30054},"
		"{\"name\":\"sctp\",\"protocol\":\"SCTP\",\"port\":9,\"nodePort\":30055}]},"
		"\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"198.51.100.7\"},{\"hostname\":\"lb.example\"}]}}}";
	const char *slices =
		"[{\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"dns\",\"protocol\":\"UDP\",\"port\":5353},"
		"{\"name\":\"dns-tcp\",\"protocol\":\"TCP\",\"port\":5354}],"
		"\"endpoints\":[{\"addresses\":[\"172.20.1.144\"]},{\"addresses\":[\"172.20.0.186\"]}]}]";

	svc(s, slices, KDP_AGENT_FIELDS_EXTENDED, out, sizeof(out), warn);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"backends\":[{\"ip\":\"172.20.0.186\",\"nodeName\":\"\",\"state\":\"active\"},"
					   "{\"ip\":\"172.20.1.144\",\"nodeName\":\"\",\"state\":\"active\"}]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "{\"name\":\"dns\",\"nodePort\":30053,\"port\":53,\"protocol\":\"UDP\",\"targetPort\":5353}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "{\"name\":\"dns-tcp\",\"nodePort\":30054,\"port\":53,\"protocol\":\"TCP\",\"targetPort\":5354}"));
	CU_ASSERT_PTR_NULL(strstr(out, "sctp"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"externalIPs\":[\"192.0.2.1\"]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"loadBalancerIPs\":[\"198.51.100.7\"]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"loadBalancerSourceRanges\":[\"10.0.0.0/8\"]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"sessionAffinity\":\"ClientIP\",\"sessionAffinityTimeoutSeconds\":60"));
	CU_ASSERT_PTR_NOT_NULL(strstr(warn, "SCTP not supported"));
}

static void test_not_for_kdp(void)
{
	char out[1024], warn[KDP_AGENT_ERR_LEN];

	svc("{\"metadata\":{\"namespace\":\"a\",\"name\":\"h\"},\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"port\":1}]}}",
	    "[]", KDP_AGENT_FIELDS_BASIC, out, sizeof(out), warn);
	CU_ASSERT_STRING_EQUAL(out, "NULL: headless (clusterIP None)");
	svc("{\"metadata\":{\"namespace\":\"a\",\"name\":\"x\"},\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"x.example\"}}",
	    "[]", KDP_AGENT_FIELDS_BASIC, out, sizeof(out), warn);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "NULL: type ExternalName"));
	svc("{\"metadata\":{\"namespace\":\"a\",\"name\":\"v6\"},\"spec\":{\"clusterIP\":\"fd00::1\",\"clusterIPs\":[\"fd00::1\"],\"ports\":[{\"port\":1}]}}",
	    "[]", KDP_AGENT_FIELDS_BASIC, out, sizeof(out), warn);
	CU_ASSERT_STRING_EQUAL(out, "NULL: IPv6 only, and this kdp has no nodeIPv6");
	svc("{\"metadata\":{\"namespace\":\"a\",\"name\":\"s\"},\"spec\":{\"clusterIP\":\"10.96.0.1\",\"ports\":[{\"protocol\":\"SCTP\",\"port\":1}]}}",
	    "[]", KDP_AGENT_FIELDS_BASIC, out, sizeof(out), warn);
	CU_ASSERT_STRING_EQUAL(out, "NULL: no TCP or UDP port");
	/* no endpoints: a named target port falls back to the port */
	svc("{\"metadata\":{\"namespace\":\"a\",\"name\":\"e\"},\"spec\":{\"clusterIP\":\"10.96.0.2\",\"ports\":[{\"port\":81,\"targetPort\":\"http\"}]}}",
	    "[]", KDP_AGENT_FIELDS_BASIC, out, sizeof(out), warn);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"backends\":[]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"targetPort\":81"));
}

static void test_node_lrp_ipmasq_labels(void)
{
	char why[KDP_AGENT_ERR_LEN];
	json_t *n = J("{\"metadata\":{\"name\":\"k8s-w1\"},\"spec\":{\"podCIDR\":\"172.20.0.0/24\"},"
		      "\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"k8s-w1\"},"
		      "{\"type\":\"InternalIP\",\"address\":\"fd00::1\"},{\"type\":\"InternalIP\",\"address\":\"192.168.10.101\"}]}}");
	json_t *b = kdp_agent_node_body(n, true, why);
	char *t = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	json_t *l, *cm, *pod;

	/* an IPv6 InternalIP but no IPv6 podCIDR: ips, no IPv6 prefix */
	CU_ASSERT_STRING_EQUAL(t, "{\"ip\":\"192.168.10.101\",\"ips\":[\"192.168.10.101\",\"fd00::1\"],"
			       "\"name\":\"k8s-w1\",\"podCIDRs\":[\"172.20.0.0/24\"]}");
	free(t);
	json_decref(b);
	json_decref(n);
	n = J("{\"metadata\":{\"name\":\"Bad_Name\"},\"status\":{}}");
	CU_ASSERT_PTR_NULL(kdp_agent_node_body(n, true, why));
	json_decref(n);

	l = J("{\"metadata\":{\"namespace\":\"kube-system\",\"name\":\"nodelocaldns\"},\"spec\":{"
	      "\"redirectFrontend\":{\"serviceMatcher\":{\"serviceName\":\"kube-dns\",\"namespace\":\"kube-system\"}},"
	      "\"redirectBackend\":{\"localEndpointSelector\":{\"matchLabels\":{\"k8s-app\":\"node-local-dns\"}},"
	      "\"toPorts\":[{\"port\":\"53\",\"name\":\"dns\",\"protocol\":\"UDP\"},{\"port\":53,\"name\":\"dns-tcp\",\"protocol\":\"TCP\"}]}}}");
	b = kdp_agent_lrp_body(l, false, why);
	t = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_STRING_EQUAL(t,
		"{\"description\":\"\",\"name\":\"nodelocaldns\",\"namespace\":\"kube-system\","
		"\"redirectBackend\":{\"localEndpointSelector\":{\"matchLabels\":{\"k8s-app\":\"node-local-dns\"}},"
		"\"toPorts\":[{\"name\":\"dns\",\"port\":\"53\",\"protocol\":\"UDP\"},{\"name\":\"dns-tcp\",\"port\":\"53\",\"protocol\":\"TCP\"}]},"
		"\"redirectFrontend\":{\"serviceMatcher\":{\"namespace\":\"kube-system\",\"serviceName\":\"kube-dns\",\"toPorts\":[]}},"
		"\"skipRedirectFromBackend\":false}");
	free(t);
	json_decref(b);
	json_decref(l);
	/* matchExpressions in kdp's normal form (values only for In and NotIn). */
	l = J("{\"metadata\":{\"namespace\":\"a\",\"name\":\"x\"},\"spec\":{\"redirectFrontend\":{\"addressMatcher\":{\"ip\":\"169.254.20.10\",\"toPorts\":[{\"port\":\"53\"}]}},"
	      "\"redirectBackend\":{\"localEndpointSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\",\"values\":[]},"
	      "{\"key\":\"k8s-app\",\"operator\":\"In\",\"values\":[\"node-local-dns\"]}]},\"toPorts\":[{\"port\":\"53\"}]}}}");
	b = kdp_agent_lrp_body(l, false, why);
	t = json_dumps(json_object_get(json_object_get(b, "redirectBackend"), "localEndpointSelector"),
		       JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_STRING_EQUAL(t, "{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Exists\"},"
			       "{\"key\":\"k8s-app\",\"operator\":\"In\",\"values\":[\"node-local-dns\"]}],"
			       "\"matchLabels\":{}}");
	free(t);
	json_decref(b);
	json_decref(l);
	l = J("{\"metadata\":{\"namespace\":\"a\",\"name\":\"x\"},\"spec\":{\"redirectFrontend\":{\"addressMatcher\":{\"ip\":\"169.254.20.10\",\"toPorts\":[{\"port\":\"53\"}]}},"
	      "\"redirectBackend\":{\"localEndpointSelector\":{\"matchExpressions\":[{\"key\":\"a\",\"operator\":\"Gt\"}]},\"toPorts\":[{\"port\":\"53\"}]}}}");
	CU_ASSERT_PTR_NULL(kdp_agent_lrp_body(l, false, why));
	CU_ASSERT_PTR_NOT_NULL(strstr(why, "matchExpressions[0]"));
	json_decref(l);
	/* An IPv6 addressMatcher: written canonically for a kdp with IPv6,
	 * refused (naming why) for one without. */
	l = J("{\"metadata\":{\"namespace\":\"a\",\"name\":\"x6\"},\"spec\":{\"redirectFrontend\":{\"addressMatcher\":{\"ip\":\"FD00:DEAD:BEEF:0:0:0:0:A\",\"toPorts\":[{\"port\":\"53\",\"protocol\":\"UDP\"}]}},"
	      "\"redirectBackend\":{\"localEndpointSelector\":{\"matchLabels\":{\"k8s-app\":\"node-local-dns\"}},\"toPorts\":[{\"port\":\"53\",\"protocol\":\"UDP\"}]}}}");
	b = kdp_agent_lrp_body(l, true, why);
	t = json_dumps(json_object_get(b, "redirectFrontend"), JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_STRING_EQUAL(t, "{\"addressMatcher\":{\"ip\":\"fd00:dead:beef::a\",\"toPorts\":[{\"name\":\"\",\"port\":\"53\",\"protocol\":\"UDP\"}]}}");
	free(t);
	json_decref(b);
	CU_ASSERT_PTR_NULL(kdp_agent_lrp_body(l, false, why));
	CU_ASSERT_STRING_EQUAL(why, "addressMatcher.ip: an IPv6 address, and kdp has no IPv6 (no nodeIPv6)");
	json_decref(l);

	cm = J("{\"data\":{\"config\":\"nonMasqueradeCIDRs: []\\n\"}}");
	CU_ASSERT_STRING_EQUAL(kdp_agent_ipmasq_text(cm), "nonMasqueradeCIDRs: []\n");
	json_decref(cm);
	cm = J("{\"data\":{\"other\":\"x\"}}");
	CU_ASSERT_PTR_NULL(kdp_agent_ipmasq_text(cm));
	json_decref(cm);

	pod = J("{\"metadata\":{\"labels\":{\"app\":\"web\",\"long\":\"0123456789012345678901234567890123456789012345678901234567890123456789\"}}}");
	b = kdp_agent_pod_labels(pod);
	t = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_STRING_EQUAL(t, "{\"app\":\"web\"}");
	free(t);
	json_decref(b);
	json_decref(pod);
	CU_ASSERT_TRUE(kdp_agent_name_ok("node-local-dns.x"));
	CU_ASSERT_FALSE(kdp_agent_name_ok("-x"));
	CU_ASSERT_FALSE(kdp_agent_name_ok("X"));
}

/* A dual-stack LoadBalancer as the apiserver shows it: both families
 * everywhere, each family's slice, IPv6 in non-canonical forms. */
#define DUAL "{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},\"spec\":{\"type\":\"LoadBalancer\"," \
	"\"clusterIP\":\"10.96.152.212\",\"clusterIPs\":[\"10.96.152.212\",\"FD00:96:0::98D4\"]," \
	"\"ipFamilies\":[\"IPv4\",\"IPv6\"],\"ipFamilyPolicy\":\"PreferDualStack\"," \
	"\"externalIPs\":[\"2001:db8::7\",\"192.0.2.7\"]," \
	"\"loadBalancerSourceRanges\":[\"2001:DB8:0:0:1::/64\",\"10.10.1.0/24\",\"2001:db8::/64\"]," \
	"\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80,\"targetPort\":80,\"nodePort\":30080}]," \
	"\"externalTrafficPolicy\":\"Local\",\"healthCheckNodePort\":31000}," \
	"\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"2001:db8:1::9\"},{\"ip\":\"198.51.100.9\"}]}}}"
#define DUAL_SLICES "[{\"addressType\":\"IPv6\",\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80}]," \
	"\"endpoints\":[{\"addresses\":[\"fd00:20::130\"],\"conditions\":{\"ready\":true},\"nodeName\":\"k8s-w1\"}," \
	"{\"addresses\":[\"fd00:20:0:1:0:0:0:40\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true},\"nodeName\":\"k8s-ctr\"}," \
	"{\"addresses\":[\"172.20.9.9\"]}]}," \
	"{\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80}]," \
	"\"endpoints\":[{\"addresses\":[\"172.20.1.40\"],\"conditions\":{\"ready\":true},\"nodeName\":\"k8s-ctr\"}," \
	"{\"addresses\":[\"172.20.0.130\"],\"conditions\":{\"ready\":true},\"nodeName\":\"k8s-w1\"}]}," \
	"{\"addressType\":\"FQDN\",\"ports\":[{\"name\":\"http\",\"port\":80}],\"endpoints\":[{\"addresses\":[\"x.example\"]}]}]"

static void test_dual_stack(void)
{
	char out[4096], warn[KDP_AGENT_ERR_LEN];
	const char *v6only =
		"{\"metadata\":{\"namespace\":\"a\",\"name\":\"v6\"},\"spec\":{\"type\":\"ClusterIP\","
		"\"clusterIP\":\"fd00:96::a\",\"clusterIPs\":[\"fd00:96::a\"],\"ipFamilies\":[\"IPv6\"],"
		"\"ipFamilyPolicy\":\"SingleStack\",\"externalIPs\":[\"192.0.2.1\",\"2001:db8::1\"],"
		"\"ports\":[{\"name\":\"http\",\"protocol\":\"TCP\",\"port\":80}]}}";
	const char *v6first =
		"{\"metadata\":{\"namespace\":\"a\",\"name\":\"v6first\"},\"spec\":{"
		"\"clusterIP\":\"fd00:96::1faa\",\"clusterIPs\":[\"fd00:96::1faa\",\"10.96.31.170\"],"
		"\"ipFamilies\":[\"IPv6\",\"IPv4\"],\"ipFamilyPolicy\":\"RequireDualStack\","
		"\"ports\":[{\"port\":53,\"protocol\":\"UDP\"}]}}";

	/* kdp with IPv6: every field of both families, IPv4 first in each
	 * list (kdp's order), IPv6 canonical (2001:DB8:0:0:1::/64 is
	 * 2001:db8::/64 once its host bits are cleared: listed once), a
	 * slice's address of the other family and the FQDN slice left out. */
	svc6(DUAL, DUAL_SLICES, KDP_AGENT_FIELDS_EXTENDED, true, out, sizeof(out), warn);
	CU_ASSERT_STRING_EQUAL(out,
		"{\"algorithm\":\"random\",\"backends\":["
		"{\"ip\":\"172.20.0.130\",\"nodeName\":\"k8s-w1\",\"state\":\"active\"},"
		"{\"ip\":\"172.20.1.40\",\"nodeName\":\"k8s-ctr\",\"state\":\"active\"},"
		"{\"ip\":\"fd00:20::130\",\"nodeName\":\"k8s-w1\",\"state\":\"active\"},"
		"{\"ip\":\"fd00:20:0:1::40\",\"nodeName\":\"k8s-ctr\",\"state\":\"terminating\"}],"
		"\"clusterIP\":\"10.96.152.212\",\"clusterIPs\":[\"10.96.152.212\",\"fd00:96::98d4\"],"
		"\"externalIPs\":[\"192.0.2.7\",\"2001:db8::7\"],\"externalTrafficPolicy\":\"Local\","
		"\"healthCheckNodePort\":31000,\"internalTrafficPolicy\":\"Cluster\","
		"\"ipFamilies\":[\"IPv4\",\"IPv6\"],\"ipFamilyPolicy\":\"PreferDualStack\","
		"\"loadBalancerIPs\":[\"198.51.100.9\",\"2001:db8:1::9\"],"
		"\"loadBalancerSourceRanges\":[\"2001:db8::/64\",\"10.10.1.0/24\"],"
		"\"name\":\"web\",\"namespace\":\"default\",\"ports\":[{\"name\":\"http\",\"nodePort\":30080,"
		"\"port\":80,\"protocol\":\"TCP\",\"targetPort\":80}],\"sessionAffinity\":\"None\","
		"\"sessionAffinityTimeoutSeconds\":10800,\"type\":\"LoadBalancer\"}");
	CU_ASSERT_STRING_EQUAL(warn, "");
	/* kdp without IPv6: the IPv4 family alone, as before issue #17 */
	svc6(DUAL, DUAL_SLICES, KDP_AGENT_FIELDS_EXTENDED, false, out, sizeof(out), warn);
	CU_ASSERT_STRING_EQUAL(out,
		"{\"algorithm\":\"random\",\"backends\":["
		"{\"ip\":\"172.20.0.130\",\"nodeName\":\"k8s-w1\",\"state\":\"active\"},"
		"{\"ip\":\"172.20.1.40\",\"nodeName\":\"k8s-ctr\",\"state\":\"active\"}],"
		"\"clusterIP\":\"10.96.152.212\",\"externalIPs\":[\"192.0.2.7\"],\"externalTrafficPolicy\":\"Local\","
		"\"healthCheckNodePort\":31000,\"internalTrafficPolicy\":\"Cluster\","
		"\"loadBalancerIPs\":[\"198.51.100.9\"],\"loadBalancerSourceRanges\":[\"10.10.1.0/24\"],"
		"\"name\":\"web\",\"namespace\":\"default\",\"ports\":[{\"name\":\"http\",\"nodePort\":30080,"
		"\"port\":80,\"protocol\":\"TCP\",\"targetPort\":80}],\"sessionAffinity\":\"None\","
		"\"sessionAffinityTimeoutSeconds\":10800,\"type\":\"LoadBalancer\"}");
	/* IPv6 single stack: only IPv6 backends and external IPs */
	svc6(v6only, DUAL_SLICES, KDP_AGENT_FIELDS_BASIC, true, out, sizeof(out), warn);
	CU_ASSERT_STRING_EQUAL(out,
		"{\"algorithm\":\"random\",\"backends\":[{\"ip\":\"fd00:20::130\",\"state\":\"active\"},"
		"{\"ip\":\"fd00:20:0:1::40\",\"state\":\"terminating\"}],\"clusterIP\":\"fd00:96::a\","
		"\"clusterIPs\":[\"fd00:96::a\"],\"externalIPs\":[\"2001:db8::1\"],\"ipFamilies\":[\"IPv6\"],"
		"\"ipFamilyPolicy\":\"SingleStack\",\"loadBalancerIPs\":[],\"name\":\"v6\",\"namespace\":\"a\","
		"\"ports\":[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\",\"targetPort\":80}],"
		"\"sessionAffinity\":\"None\",\"sessionAffinityTimeoutSeconds\":10800,\"type\":\"ClusterIP\"}");
	svc6(v6only, "[]", KDP_AGENT_FIELDS_BASIC, false, out, sizeof(out), warn);
	CU_ASSERT_STRING_EQUAL(out, "NULL: IPv6 only, and this kdp has no nodeIPv6");
	/* IPv6 first: clusterIP is the IPv6 one, the families in that order */
	svc6(v6first, "[]", KDP_AGENT_FIELDS_BASIC, true, out, sizeof(out), warn);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"clusterIP\":\"fd00:96::1faa\",\"clusterIPs\":[\"fd00:96::1faa\",\"10.96.31.170\"]"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"ipFamilies\":[\"IPv6\",\"IPv4\"],\"ipFamilyPolicy\":\"RequireDualStack\""));
	/* the same without IPv6: RequireDualStack would not hold for one
	 * family: the IPv4 service alone, without the dual-stack fields */
	svc6(v6first, "[]", KDP_AGENT_FIELDS_BASIC, false, out, sizeof(out), warn);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "\"clusterIP\":\"10.96.31.170\",\"externalIPs\""));
	CU_ASSERT_PTR_NULL(strstr(out, "ipFamil"));
}

static void test_dual_stack_node(void)
{
	char why[KDP_AGENT_ERR_LEN];
	json_t *n = J("{\"metadata\":{\"name\":\"k8s-ctr\"},\"spec\":{\"podCIDR\":\"172.20.1.0/24\","
		      "\"podCIDRs\":[\"fd00:20:0:1:0::/64\",\"172.20.1.0/24\"]},"
		      "\"status\":{\"addresses\":[{\"type\":\"ExternalIP\",\"address\":\"2001:db8::100\"},"
		      "{\"type\":\"InternalIP\",\"address\":\"192.168.10.100\"},"
		      "{\"type\":\"InternalIP\",\"address\":\"FD00:10::100\"},{\"type\":\"Hostname\",\"address\":\"k8s-ctr\"}]}}");
	json_t *b = kdp_agent_node_body(n, true, why);
	char *t = json_dumps(b, JSON_COMPACT);

	/* kdp's order: name, ip, ips, podCIDRs (IPv4 first), IPv6 canonical,
	 * the InternalIP before the ExternalIP */
	CU_ASSERT_STRING_EQUAL(t, "{\"name\":\"k8s-ctr\",\"ip\":\"192.168.10.100\",\"ips\":[\"192.168.10.100\",\"fd00:10::100\"],"
			       "\"podCIDRs\":[\"172.20.1.0/24\",\"fd00:20:0:1::/64\"]}");
	free(t);
	json_decref(b);
	b = kdp_agent_node_body(n, false, why);
	t = json_dumps(b, JSON_COMPACT | JSON_SORT_KEYS);
	CU_ASSERT_STRING_EQUAL(t, "{\"ip\":\"192.168.10.100\",\"name\":\"k8s-ctr\",\"podCIDRs\":[\"172.20.1.0/24\"]}");
	free(t);
	json_decref(b);
	json_decref(n);
}

int main(void)
{
	CU_pSuite s;
	unsigned int failed;

	if (CU_initialize_registry() != CUE_SUCCESS)
		return 1;
	s = CU_add_suite("agent-translate", NULL, NULL);
	CU_add_test(s, "service: endpoint states, named and odd target ports, slices merged", test_states_and_ports);
	CU_add_test(s, "service: multi-port, LoadBalancer, externalIPs, affinity, source ranges, SCTP", test_multiport_and_lb);
	CU_add_test(s, "service: headless, ExternalName, IPv6-only without IPv6, no port, no endpoint", test_not_for_kdp);
	CU_add_test(s, "node, local redirect policy, ip-masq-agent ConfigMap, pod labels", test_node_lrp_ipmasq_labels);
	CU_add_test(s, "service: dual stack, IPv6 single stack, IPv6 first, kdp without IPv6", test_dual_stack);
	CU_add_test(s, "node: both families' InternalIPs and podCIDRs", test_dual_stack_node);
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: arbitrary request bodies through the control API's
 * validation: the first byte picks what the body is (whole state, node,
 * endpoint, service, policy, ip-masq-agent file, node config); the rest is
 * the body. Accepted objects are also validated across objects and written
 * back to JSON, as the API does before applying.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kdp_config.h"
#include "kdp_ipmasq.h"
#include "kdp_lrp.h"
#include "kdp_services.h"
#include "kdp_state.h"

static struct kdp_config cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *c = "{\"name\":\"k8s-ctr\",\"nodeIP\":\"192.168.10.100/24\","
			"\"gateway\":\"192.168.10.200\",\"uplink\":{\"devargs\":\"net_null0\"},"
			"\"nativeRoutingCIDR\":\"172.20.0.0/16\",\"serviceCIDR\":\"10.96.0.0/16\","
			"\"nodeIPv6\":\"fd00:10::100/64\",\"gatewayIPv6\":\"fd00:10::200\","
			"\"nativeRoutingCIDRv6\":\"fd00:20::/48\",\"serviceCIDRv6\":\"fd00:96::/112\"}";
	json_t *j = json_loads(c, 0, NULL);
	char err[KDP_ERR_LEN];

	if (j == NULL || kdp_config_parse(j, &cfg, err) != 0)
		abort();
	json_decref(j);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[KDP_ERR_LEN];
	json_t *j, *out = NULL;

	if (size < 1)
		return 0;
	if (data[0] % 7 == 5) {
		struct kdp_ipmasq *m = malloc(sizeof(*m));
		if (m != NULL && kdp_ipmasq_parse((const char *)data + 1, size - 1, m, err) == 0)
			out = kdp_ipmasq_json(m);
		free(m);
		json_decref(out);
		return 0;
	}
	j = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, NULL);
	if (j == NULL)
		return 0;
	switch (data[0] % 7) {
	case 0: {
		struct kdp_state st;
		if (kdp_state_parse(j, &cfg, &st, err) == 0) {
			kdp_state_validate(&st, &cfg, 29, err);
			out = kdp_state_json(&st);
			kdp_state_free(&st);
		}
		break;
	}
	case 1: {
		struct kdp_node n;
		if (kdp_state_node_parse(j, "k8s-w1", "", &n, err) == 0)
			out = kdp_state_node_json(&n, "k8s-ctr");
		break;
	}
	case 2: {
		struct kdp_endpoint e;
		if (kdp_state_ep_parse(j, "default", "curl-pod", "", &e, err) == 0)
			out = kdp_state_ep_json(&e);
		json_decref(e.labels);
		break;
	}
	case 3: {
		struct kdp_service s;
		if (kdp_service_parse(j, "default", "webpod", "", &cfg, &s, err) == 0)
			out = kdp_service_json(&s);
		kdp_service_free(&s);
		break;
	}
	case 4: {
		struct kdp_lrp l;
		if (kdp_lrp_parse(j, "kube-system", "nodelocaldns", "", &l, err) == 0)
			out = kdp_lrp_json(&l);
		kdp_lrp_free(&l);
		break;
	}
	default: {
		struct kdp_config c;
		kdp_config_parse(j, &c, err);
		kdp_config_free(&c);
		break;
	}
	}
	json_decref(out);
	json_decref(j);
	return 0;
}

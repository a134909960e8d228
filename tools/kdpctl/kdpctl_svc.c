/* kdpctl: the service, lrp (local redirect policy) and ipmasq listings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kdpctl.h"

/* ---- services ---- */

/* Orders frontends by ID (then by address, should IDs ever repeat). */
static int kdpctl_frontend_cmp(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	json_int_t ix = json_integer_value(json_object_get(x, "id"));
	json_int_t iy = json_integer_value(json_object_get(y, "id"));
	const char *sx = json_string_value(json_object_get(x, "frontend"));
	const char *sy = json_string_value(json_object_get(y, "frontend"));

	if (ix != iy)
		return ix < iy ? -1 : 1;
	return strcmp(sx ? sx : "", sy ? sy : "");
}

/*
 * Prints the frontends of an array of services as one table sorted by ID,
 * in the style of cilium-dbg service list: one line per backend, the first
 * one next to the frontend; "-" when there is none.
 */
static void kdpctl_print_frontends(json_t *services, bool wide)
{
	static const struct kdpctl_column fe_cols[] = {
		{ "ID", "id", KDPCTL_FMT_PLAIN },
		{ "FRONTEND", "frontend", KDPCTL_FMT_PLAIN },
		{ "SERVICE TYPE", "type", KDPCTL_FMT_PLAIN },
		{ "SERVICE", "service", KDPCTL_FMT_PLAIN, true },
		{ "ALGORITHM", "algorithm", KDPCTL_FMT_PLAIN, true },
	};
	size_t nfes = 0, cap = 0, i, j, c;
	struct kdpctl_table t = { .ncols = 1 };
	json_t **fes = NULL, *svc, *fe, *be;

	json_array_foreach(services, i, svc) {
		json_array_foreach(json_object_get(svc, "frontends"), j, fe) {
			if (!json_is_object(fe))
				continue;
			if (nfes == cap) {
				cap = cap ? cap * 2 : 16;
				fes = kdpctl_xrealloc(fes, cap * sizeof(*fes));
			}
			fes[nfes++] = fe;
		}
	}
	if (nfes > 1)
		qsort(fes, nfes, sizeof(*fes), kdpctl_frontend_cmp);

	for (c = 0; c < ARRAY_SIZE(fe_cols); c++)
		if (wide || !fe_cols[c].wide) {
			kdpctl_table_add(&t, fe_cols[c].header);
			t.ncols++;
		}
	if (wide) {
		/* What the traffic policies and source ranges make of each. */
		kdpctl_table_add(&t, "POLICY");
		kdpctl_table_add(&t, "SOURCES");
		t.ncols += 2;
	}
	kdpctl_table_add(&t, "BACKEND");
	for (i = 0; i < nfes; i++) {
		json_t *bes = json_object_get(fes[i], "backends");
		json_t *policy = json_object_get(fes[i], "trafficPolicy");
		json_t *ranges = json_object_get(fes[i], "sourceRanges");

		for (c = 0; c < ARRAY_SIZE(fe_cols); c++)
			if (wide || !fe_cols[c].wide)
				kdpctl_table_add_json(&t, json_object_get(fes[i], fe_cols[c].key),
						      fe_cols[c].fmt);
		if (wide) {
			struct kdpctl_buf b = { 0 };

			kdpctl_table_add(&t, json_is_string(policy) ? json_string_value(policy)
								     : "Cluster");
			if (json_is_integer(ranges))
				kdpctl_buf_printf(&b, "%" JSON_INTEGER_FORMAT " range(s)",
						  json_integer_value(ranges));
			else
				kdpctl_buf_puts(&b, "any");
			kdpctl_table_add_owned(&t, kdpctl_buf_take(&b));
		}
		if (json_array_size(bes) == 0)
			kdpctl_table_add(&t, "");
		json_array_foreach(bes, j, be) {
			struct kdpctl_buf b = { 0 };
			const char *state = json_string_value(json_object_get(be, "state"));

			for (c = 0; j > 0 && c < t.ncols - 1; c++)
				kdpctl_table_add_blank(&t);
			kdpctl_buf_printf(&b, "%zu => ", j + 1);
			kdpctl_buf_value(&b, json_object_get(be, "address"));
			if (state != NULL)
				kdpctl_buf_printf(&b, " (%s%s)", state,
						  wide && json_is_true(json_object_get(be, "local"))
							  ? ", local" : "");
			kdpctl_table_add_owned(&t, kdpctl_buf_take(&b));
		}
	}
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);
	free(fes);
}

int cmd_service_list(const struct kdpctl_opts *o)
{
	json_t *svcs;
	int rc = kdpctl_get(o, "/v1/services", JSON_ARRAY, &svcs);

	if (svcs != NULL) {
		kdpctl_print_frontends(svcs, o->wide);
		json_decref(svcs);
	}
	return rc;
}

/* "NAME PORT/PROTO" (NAME and /PROTO when there are): a port of a service or an LRP. */
static void kdpctl_format_port(struct kdpctl_buf *b, json_t *p)
{
	const char *name = json_string_value(json_object_get(p, "name"));
	json_t *proto = json_object_get(p, "protocol");

	if (name != NULL && name[0] != '\0')
		kdpctl_buf_printf(b, "%s ", name);
	kdpctl_buf_value(b, json_object_get(p, "port"));
	if (proto != NULL && !json_is_null(proto)) {
		kdpctl_buf_puts(b, "/");
		kdpctl_format_json(b, proto, KDPCTL_FMT_PLAIN);
	}
}

/* "http 80/TCP -> 8080 (nodePort 30080)" */
static void kdpctl_format_service_port(struct kdpctl_buf *b, json_t *p)
{
	json_t *node_port = json_object_get(p, "nodePort");

	kdpctl_format_port(b, p);
	kdpctl_buf_puts(b, " -> ");
	kdpctl_format_json(b, json_object_get(p, "targetPort"), KDPCTL_FMT_PLAIN);
	if (node_port != NULL && !json_is_null(node_port)) {
		kdpctl_buf_puts(b, " (nodePort ");
		kdpctl_format_json(b, node_port, KDPCTL_FMT_PLAIN);
		kdpctl_buf_puts(b, ")");
	}
}

/* "172.20.0.130[:8080] (active)[ on k8s-w1]" */
static void kdpctl_format_service_backend(struct kdpctl_buf *b, json_t *be)
{
	json_t *port = json_object_get(be, "port");
	const char *state = json_string_value(json_object_get(be, "state"));
	const char *node = json_string_value(json_object_get(be, "nodeName"));

	kdpctl_format_json(b, json_object_get(be, "ip"), KDPCTL_FMT_PLAIN);
	if (port != NULL && !json_is_null(port)) {
		kdpctl_buf_puts(b, ":");
		kdpctl_format_json(b, port, KDPCTL_FMT_PLAIN);
	}
	if (state != NULL)
		kdpctl_buf_printf(b, " (%s)", state);
	if (node != NULL && node[0] != '\0')
		kdpctl_buf_printf(b, " on %s", node);
}

/* "203.0.113.0/24" */
static void kdpctl_format_plain(struct kdpctl_buf *b, json_t *v)
{
	kdpctl_format_json(b, v, KDPCTL_FMT_PLAIN);
}

/* The traffic policies, the health check and the source ranges of @p svc,
 * when any is not the default. */
static void kdpctl_add_policies(struct kdpctl_table *t, json_t *svc)
{
	const char *etp = json_string_value(json_object_get(svc, "externalTrafficPolicy"));
	const char *itp = json_string_value(json_object_get(svc, "internalTrafficPolicy"));
	json_t *hc = json_object_get(svc, "healthCheck");
	json_t *ranges = json_object_get(svc, "loadBalancerSourceRanges");

	if (etp != NULL || itp != NULL) {
		struct kdpctl_buf b = { 0 };

		kdpctl_buf_printf(&b, "external %s, internal %s", etp ? etp : "Cluster",
				  itp ? itp : "Cluster");
		kdpctl_table_add(t, "Traffic policy:");
		kdpctl_table_add_owned(t, kdpctl_buf_take(&b));
	}
	if (json_is_object(hc)) {
		struct kdpctl_buf b = { 0 };
		const char *err = json_string_value(json_object_get(hc, "error"));
		json_int_t n = json_integer_value(json_object_get(hc, "localEndpoints"));

		kdpctl_buf_printf(&b, "port %" JSON_INTEGER_FORMAT ": %s, %" JSON_INTEGER_FORMAT
				  " local endpoint%s",
				  json_integer_value(json_object_get(hc, "port")),
				  n > 0 ? "200" : "503", n, n == 1 ? "" : "s");
		if (!json_is_true(json_object_get(hc, "listening")))
			kdpctl_buf_printf(&b, " (not listening%s%s)", err ? ": " : "", err ? err : "");
		kdpctl_table_add(t, "Health check:");
		kdpctl_table_add_owned(t, kdpctl_buf_take(&b));
	}
	if (json_array_size(ranges) > 0)
		kdpctl_add_items(t, "Source ranges:", ranges, kdpctl_format_plain);
}

int cmd_service_get(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column svc_fields[] = {
		{ "Service:", NULL, KDPCTL_FMT_NSNAME },
		{ "Type:", "type", KDPCTL_FMT_PLAIN },
		{ "Cluster IP:", "clusterIP", KDPCTL_FMT_PLAIN },
		{ "External IPs:", "externalIPs", KDPCTL_FMT_PLAIN },
		{ "LoadBalancer IPs:", "loadBalancerIPs", KDPCTL_FMT_PLAIN },
	};
	struct kdpctl_table t = { .ncols = 2 };
	struct kdpctl_buf path = { 0 }, affinity = { 0 };
	json_t *svc, *timeout, *one;
	const char *aff;
	int rc = kdpctl_nsname_path(o, "/v1/services/", "service", &path);

	if (rc != 0) {
		free(path.data);
		return rc;
	}
	rc = kdpctl_get(o, path.data, JSON_OBJECT, &svc);
	free(path.data);
	if (svc == NULL)
		return rc;

	kdpctl_add_fields(&t, svc, svc_fields, ARRAY_SIZE(svc_fields));
	kdpctl_add_items(&t, "Ports:", json_object_get(svc, "ports"), kdpctl_format_service_port);
	aff = json_string_value(json_object_get(svc, "sessionAffinity"));
	timeout = json_object_get(svc, "sessionAffinityTimeoutSeconds");
	if (aff != NULL) {
		kdpctl_buf_puts(&affinity, aff);
		if (strcmp(aff, "None") != 0 && json_is_integer(timeout))
			kdpctl_buf_printf(&affinity, " (timeout %" JSON_INTEGER_FORMAT "s)",
					  json_integer_value(timeout));
	}
	kdpctl_table_add(&t, "Session affinity:");
	kdpctl_table_add_owned(&t, kdpctl_buf_take(&affinity));
	kdpctl_table_add(&t, "Algorithm:");
	kdpctl_table_add_json(&t, json_object_get(svc, "algorithm"), KDPCTL_FMT_PLAIN);
	kdpctl_add_policies(&t, svc);
	kdpctl_add_items(&t, "Backends:", json_object_get(svc, "backends"),
			 kdpctl_format_service_backend);
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);

	putchar('\n');
	one = json_pack("[O]", svc);
	kdpctl_print_frontends(one, o->wide);
	json_decref(one);
	json_decref(svc);
	return KDPCTL_EXIT_OK;
}

/* ---- ip-masq-agent ---- */

int cmd_ipmasq_list(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "IP PREFIX/ADDRESS", "prefix", KDPCTL_FMT_PLAIN },
		{ "REASON", "reason", KDPCTL_FMT_PLAIN, true },
	};
	const char *file_err;
	json_t *im;
	int rc = kdpctl_get(o, "/v1/ipmasq", JSON_OBJECT, &im);

	if (im == NULL)
		return rc;
	kdpctl_print_rows(json_object_get(im, "nonMasquerade"), cols, ARRAY_SIZE(cols), o->wide);
	/* the set in force is listed all the same: the daemon kept the last good config */
	file_err = json_string_value(json_object_get(im, "fileError"));
	if (file_err != NULL && file_err[0] != '\0') {
		fflush(stdout); /* after the list, also when both go to one file */
		fprintf(stderr, "Warning: ip-masq-agent config file: %s\n", file_err);
	}
	json_decref(im);
	return KDPCTL_EXIT_OK;
}

/* A config value the way the agent's YAML file writes it: true/false, lists as "a, b". */
static void kdpctl_format_yaml(struct kdpctl_buf *b, json_t *v)
{
	size_t i;
	json_t *e;

	if (json_is_boolean(v)) {
		kdpctl_buf_puts(b, json_is_true(v) ? "true" : "false");
	} else if (json_is_array(v)) {
		if (json_array_size(v) == 0)
			kdpctl_buf_puts(b, "none");
		json_array_foreach(v, i, e) {
			if (i > 0)
				kdpctl_buf_puts(b, ", ");
			kdpctl_format_json(b, e, KDPCTL_FMT_PLAIN);
		}
	} else {
		kdpctl_format_json(b, v, KDPCTL_FMT_PLAIN);
	}
}

/* "key: value" per key of the config object, nonMasqueradeCIDRs first. */
static void kdpctl_print_ipmasq_config(json_t *cfg)
{
	struct kdpctl_buf b = { 0 };
	const char *key;
	json_t *v;

	/* without the key no CIDR is exempt (Cilium's reading of the file) */
	kdpctl_buf_puts(&b, "nonMasqueradeCIDRs: ");
	v = json_object_get(cfg, "nonMasqueradeCIDRs");
	if (v == NULL || json_is_null(v)) /* null is [] to the daemon */
		kdpctl_buf_puts(&b, "none");
	else
		kdpctl_format_yaml(&b, v);
	kdpctl_buf_puts(&b, "\n");
	json_object_foreach(cfg, key, v) {
		if (strcmp(key, "nonMasqueradeCIDRs") == 0)
			continue;
		kdpctl_buf_printf(&b, "%s: ", key);
		kdpctl_format_yaml(&b, v);
		kdpctl_buf_puts(&b, "\n");
	}
	fputs(b.data, stdout);
	free(b.data);
}

int cmd_ipmasq_get(const struct kdpctl_opts *o)
{
	const char *file, *file_err;
	json_t *im, *cfg;
	int rc = kdpctl_get(o, "/v1/ipmasq", JSON_OBJECT, &im);

	if (im == NULL)
		return rc;
	cfg = json_object_get(im, "config");
	if (cfg == NULL || json_is_null(cfg)) {
		puts("Config: none (no ip-masq-agent config: only the cluster's own ranges are exempt)");
	} else if (json_is_string(cfg) && json_string_length(cfg) == 0) {
		puts("Config: empty (reserved ranges exempt)");
	} else if (json_is_object(cfg)) {
		kdpctl_print_ipmasq_config(cfg);
	} else { /* not something this kdpctl knows: show it */
		struct kdpctl_buf b = { 0 };

		kdpctl_format_yaml(&b, cfg);
		printf("Config: %s\n", b.data ? b.data : "");
		free(b.data);
	}
	file = json_string_value(json_object_get(im, "file"));
	file_err = json_string_value(json_object_get(im, "fileError"));
	if (file != NULL && file[0] != '\0')
		printf("File: %s\n", file);
	if (file_err != NULL && file_err[0] != '\0')
		printf("File error: %s\n", file_err);
	json_decref(im);
	return KDPCTL_EXIT_OK;
}

/* ---- local redirect policies ---- */

/* FrontendType as cilium-dbg lrp list names it. */
static const char *kdpctl_lrp_frontend_type(json_t *fe)
{
	const char *type = json_string_value(json_object_get(fe, "type"));

	if (type == NULL)
		return "";
	if (strcmp(type, "serviceMatcher") == 0)
		return json_array_size(json_object_get(fe, "toPorts")) > 0 ? "clusterIP + named ports"
									     : "clusterIP + all svc ports";
	return type; /* "addressMatcher", or a type this kdpctl does not know */
}

static bool kdpctl_lrp_is(json_t *fe, const char *type)
{
	const char *t = json_string_value(json_object_get(fe, "type"));

	return t != NULL && strcmp(t, type) == 0;
}

/* Whether "ADDR:PORT/PROTO" a and b have the same PROTO; true when one has none. */
static bool kdpctl_same_protocol(const char *a, const char *b)
{
	const char *pa = a ? strrchr(a, '/') : NULL, *pb = b ? strrchr(b, '/') : NULL;

	return pa == NULL || pb == NULL || strcasecmp(pa, pb) == 0;
}

/* "172.20.1.13:53/UDP(kube-system/node-local-dns-abc)" */
static void kdpctl_format_lrp_backend(struct kdpctl_buf *b, json_t *be, const char *sep)
{
	struct kdpctl_buf ep = { 0 };

	kdpctl_buf_value(b, json_object_get(be, "address"));
	kdpctl_format_json(&ep, json_object_get(be, "endpoint"), KDPCTL_FMT_NSNAME);
	if (ep.len > 0)
		kdpctl_buf_printf(b, "%s(%s)", sep, ep.data);
	free(ep.data);
}

/*
 * "FRONTEND -> BACKEND(ENDPOINT), ...," with the backends of the frontend's
 * protocol, as cilium-dbg lrp list; a note when there is none.
 */
static char *kdpctl_lrp_mapping(json_t *frontend, json_t *backends)
{
	const char *fe = json_string_value(frontend);
	struct kdpctl_buf b = { 0 };
	size_t i, n = 0;
	json_t *be;

	kdpctl_buf_value(&b, frontend);
	kdpctl_buf_puts(&b, " -> ");
	json_array_foreach(backends, i, be) {
		if (!kdpctl_same_protocol(fe, json_string_value(json_object_get(be, "address"))))
			continue;
		if (n++ > 0)
			kdpctl_buf_puts(&b, " ");
		kdpctl_format_lrp_backend(&b, be, "");
		kdpctl_buf_puts(&b, ",");
	}
	if (n == 0)
		kdpctl_buf_puts(&b, "(no local endpoint: service backends used)");
	return kdpctl_buf_take(&b);
}

/* The policies of an array as cilium-dbg lrp list shows them. */
static void kdpctl_print_lrps(json_t *lrps)
{
	struct kdpctl_table t = { .ncols = 4 };
	json_t *lrp, *fe, *backends;
	size_t i, j;

	kdpctl_table_add(&t, "LRP NAMESPACE");
	kdpctl_table_add(&t, "LRP NAME");
	kdpctl_table_add(&t, "FRONTEND TYPE");
	kdpctl_table_add(&t, "MATCHING SERVICE");
	json_array_foreach(lrps, i, lrp) {
		json_t *matcher = json_object_get(lrp, "frontend");

		kdpctl_table_add_json(&t, json_object_get(lrp, "namespace"), KDPCTL_FMT_PLAIN);
		kdpctl_table_add_json(&t, json_object_get(lrp, "name"), KDPCTL_FMT_PLAIN);
		kdpctl_table_add(&t, kdpctl_lrp_frontend_type(matcher));
		if (kdpctl_lrp_is(matcher, "addressMatcher"))
			kdpctl_table_add_blank(&t);
		else
			kdpctl_table_add_json(&t, json_object_get(matcher, "service"), KDPCTL_FMT_PLAIN);
		backends = json_object_get(lrp, "backends");
		json_array_foreach(json_object_get(lrp, "frontends"), j, fe) {
			kdpctl_table_add_blank(&t);
			kdpctl_table_add(&t, "|");
			kdpctl_table_add_span(&t, kdpctl_lrp_mapping(fe, backends));
			kdpctl_table_add_blank(&t);
		}
	}
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);
}

int cmd_lrp_list(const struct kdpctl_opts *o)
{
	json_t *lrps;
	int rc = kdpctl_get(o, "/v1/lrp", JSON_ARRAY, &lrps);

	if (lrps != NULL) {
		kdpctl_print_lrps(lrps);
		json_decref(lrps);
	}
	return rc;
}

/* "172.20.1.13:53/UDP (kube-system/node-local-dns-abc)" */
static void kdpctl_format_lrp_backend_line(struct kdpctl_buf *b, json_t *be)
{
	kdpctl_format_lrp_backend(b, be, " ");
}

int cmd_lrp_get(const struct kdpctl_opts *o)
{
	struct kdpctl_table t = { .ncols = 2 };
	struct kdpctl_buf path = { 0 };
	json_t *lrp, *matcher, *ip, *one;
	int rc = kdpctl_nsname_path(o, "/v1/lrp/", "local redirect policy", &path);

	if (rc != 0) {
		free(path.data);
		return rc;
	}
	rc = kdpctl_get(o, path.data, JSON_OBJECT, &lrp);
	free(path.data);
	if (lrp == NULL)
		return rc;

	matcher = json_object_get(lrp, "frontend");
	ip = json_object_get(matcher, "ip");
	kdpctl_table_add(&t, "LRP:");
	kdpctl_table_add_json(&t, lrp, KDPCTL_FMT_NSNAME);
	kdpctl_table_add(&t, "Frontend type:");
	kdpctl_table_add(&t, kdpctl_lrp_frontend_type(matcher));
	if (!kdpctl_lrp_is(matcher, "addressMatcher")) {
		kdpctl_table_add(&t, "Matching service:");
		kdpctl_table_add_json(&t, json_object_get(matcher, "service"), KDPCTL_FMT_PLAIN);
	}
	if (kdpctl_lrp_is(matcher, "addressMatcher") || (ip != NULL && !json_is_null(ip))) {
		kdpctl_table_add(&t, "Address:");
		kdpctl_table_add_json(&t, ip, KDPCTL_FMT_PLAIN);
	}
	kdpctl_add_items(&t, "To ports:", json_object_get(matcher, "toPorts"), kdpctl_format_port);
	kdpctl_table_add(&t, "Active:");
	kdpctl_table_add_json(&t, json_object_get(lrp, "active"), KDPCTL_FMT_PLAIN);
	kdpctl_add_items(&t, "Backends:", json_object_get(lrp, "backends"),
			 kdpctl_format_lrp_backend_line);
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);

	putchar('\n');
	one = json_pack("[O]", lrp);
	kdpctl_print_lrps(one);
	json_decref(one);
	json_decref(lrp);
	return KDPCTL_EXIT_OK;
}

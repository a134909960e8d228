/* kdpctl: the commands that change the state (put, delete, apply) and raw. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdpctl.h"

int cmd_apply(const struct kdpctl_opts *o)
{
	return kdpctl_change_body(o, "PUT", "/v1/state", true);
}

/* PUT or DELETE /v1/nodes/NAME */
static int kdpctl_node_change(const struct kdpctl_opts *o, const char *method)
{
	struct kdpctl_buf path = { 0 };
	int rc;

	if (o->args[0][0] == '\0')
		return kdpctl_usage_error(o, "node name must not be empty");
	kdpctl_buf_puts(&path, "/v1/nodes/");
	kdpctl_url_escape(&path, o->args[0]);
	rc = kdpctl_change_body(o, method, path.data, true);
	free(path.data);
	return rc;
}

int cmd_node_put(const struct kdpctl_opts *o)
{
	return kdpctl_node_change(o, "PUT");
}

int cmd_node_delete(const struct kdpctl_opts *o)
{
	return kdpctl_node_change(o, "DELETE");
}

/* PUT or DELETE PREFIX/NS/NAME */
static int kdpctl_nsname_change(const struct kdpctl_opts *o, const char *method,
				const char *prefix, const char *what)
{
	struct kdpctl_buf path = { 0 };
	int rc = kdpctl_nsname_path(o, prefix, what, &path);

	if (rc == 0)
		rc = kdpctl_change_body(o, method, path.data, true);
	free(path.data);
	return rc;
}

int cmd_endpoint_put(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "PUT", "/v1/endpoints/", "endpoint");
}

int cmd_endpoint_delete(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "DELETE", "/v1/endpoints/", "endpoint");
}

int cmd_service_put(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "PUT", "/v1/services/", "service");
}

int cmd_service_delete(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "DELETE", "/v1/services/", "service");
}

int cmd_ipmasq_put(const struct kdpctl_opts *o)
{
	/* the agent's file as is, JSON or YAML: the daemon parses both */
	return kdpctl_change_body(o, "PUT", "/v1/ipmasq", false);
}

int cmd_ipmasq_delete(const struct kdpctl_opts *o)
{
	return kdpctl_change_body(o, "DELETE", "/v1/ipmasq", true);
}

int cmd_lrp_put(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "PUT", "/v1/lrp/", "local redirect policy");
}

int cmd_lrp_delete(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "DELETE", "/v1/lrp/", "local redirect policy");
}

/* Any request; prints the body as received (pretty-printed with --json). */
int cmd_raw(const struct kdpctl_opts *o)
{
	const char *path = o->args[1];
	struct kdpctl_response resp;
	char method[16];
	size_t i;
	json_t *v;
	int rc;

	for (i = 0; o->args[0][i] != '\0'; i++) {
		char c = o->args[0][i];

		if (i + 1 >= sizeof(method) || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')))
			return kdpctl_usage_error(o, "invalid method '%s'", o->args[0]);
		method[i] = c >= 'a' ? (char)(c - 'a' + 'A') : c;
	}
	method[i] = '\0';
	if (i == 0)
		return kdpctl_usage_error(o, "empty method");
	if (path[0] != '/' || path[strcspn(path, " \t\r\n")] != '\0')
		return kdpctl_usage_error(o, "PATH must start with '/' and contain no spaces");
	rc = kdpctl_send_file(o, method, path, false, &resp);
	if (rc != KDPCTL_EXIT_OK)
		return rc;
	v = o->json ? kdpctl_parse_body(&resp) : NULL;
	if (v != NULL) {
		kdpctl_print_json(v);
	} else if (resp.body_len > 0) {
		fwrite(resp.body, 1, resp.body_len, stdout);
		if (resp.body[resp.body_len - 1] != '\n')
			putchar('\n');
	}
	json_decref(v);
	kdpctl_response_free(&resp);
	return KDPCTL_EXIT_OK;
}

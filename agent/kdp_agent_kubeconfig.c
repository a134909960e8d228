/* SPDX-License-Identifier: BSD-3-Clause */
/* kdp-agent: credentials for the kube-apiserver, from the service account
 * files a pod gets or from a kubeconfig file (read with libyaml). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "kdp_agent.h"

static int fail(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(char *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, KDP_AGENT_ERR_LEN, fmt, ap);
	va_end(ap);
	return -1;
}

/* Cuts trailing white space (a token file ends with a newline). */
static void rstrip(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' ||
			 s[n - 1] == '\t'))
		s[--n] = '\0';
}

int kdp_agent_auth_incluster(const char *dir, struct kdp_agent_auth *a, char *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	char path[PATH_MAX];
	struct kdp_agent_buf tok = {0};
	int ret;

	memset(a, 0, sizeof(*a));
	if (host == NULL || host[0] == '\0' || port == NULL || port[0] == '\0')
		return fail(err, "not in a cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT "
				 "are not set (give --kubeconfig FILE)");
	/* An IPv6 service host needs brackets in the URL. */
	snprintf(a->server, sizeof(a->server), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s",
		 host, port);
	snprintf(a->token_file, sizeof(a->token_file), "%s/token", dir);
	ret = kdp_agent_read_file(a->token_file, &tok);
	kdp_agent_buf_free(&tok);
	if (ret != 0)
		return fail(err, "in-cluster token %s: %s", a->token_file, strerror(-ret));
	snprintf(path, sizeof(path), "%s/ca.crt", dir);
	ret = kdp_agent_read_file(path, &a->ca);
	if (ret != 0)
		return fail(err, "in-cluster CA %s: %s", path, strerror(-ret));
	snprintf(a->source, sizeof(a->source), "in-cluster (%s, service account %s)", a->server, dir);
	return 0;
}

void kdp_agent_auth_free(struct kdp_agent_auth *a)
{
	free(a->token);
	a->token = NULL;
	kdp_agent_buf_free(&a->ca);
	kdp_agent_buf_free(&a->cert);
	kdp_agent_buf_free(&a->key);
}

/* ---- a few lookups in a libyaml document ---- */

static yaml_node_t *ymap(yaml_document_t *d, yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		yaml_node_t *k = yaml_document_get_node(d, p->key);
		if (k != NULL && k->type == YAML_SCALAR_NODE &&
		    strlen(key) == k->data.scalar.length &&
		    memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0)
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

/* The scalar's text (NUL-terminated by libyaml), or NULL. */
static const char *ystr(yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

/* The "inner" mapping of the entry named @p name of a list like clusters:
 * [{name: x, cluster: {...}}]. */
static yaml_node_t *named(yaml_document_t *d, yaml_node_t *root, const char *list,
			  const char *inner, const char *name)
{
	yaml_node_t *seq = ymap(d, root, list);

	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (yaml_node_item_t *i = seq->data.sequence.items.start; i < seq->data.sequence.items.top;
	     i++) {
		yaml_node_t *e = yaml_document_get_node(d, *i);
		const char *n = ystr(ymap(d, e, "name"));
		if (n != NULL && strcmp(n, name) == 0)
			return ymap(d, e, inner);
	}
	return NULL;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Decodes base64 (white space ignored) into @p out. 0 or -1. */
static int b64decode(const char *s, struct kdp_agent_buf *out)
{
	unsigned int acc = 0, bits = 0;

	out->len = 0;
	for (; *s; s++) {
		int v;
		char c;

		if (*s == '\n' || *s == '\r' || *s == ' ' || *s == '\t')
			continue;
		if (*s == '=')
			break;
		v = b64val(*s);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			c = (char)((acc >> bits) & 0xff);
			kdp_agent_buf_add(out, &c, 1);
		}
	}
	kdp_agent_buf_add(out, "", 0);
	return 0;
}

/* A path of the kubeconfig is relative to the file's directory. */
static void resolve(const char *cfg, const char *p, char *out, size_t len)
{
	const char *slash = strrchr(cfg, '/');

	if (p[0] == '/' || slash == NULL)
		snprintf(out, len, "%s", p);
	else
		snprintf(out, len, "%.*s/%s", (int)(slash - cfg), cfg, p);
}

/* Reads @p field-data (base64) or @p field (a file) of @p m into @p out;
 * 1 when neither is there. */
static int data_or_file(yaml_document_t *d, yaml_node_t *m, const char *cfg, const char *field,
			struct kdp_agent_buf *out, char *err)
{
	char key[64], path[PATH_MAX];
	const char *v;
	int ret;

	snprintf(key, sizeof(key), "%s-data", field);
	if ((v = ystr(ymap(d, m, key))) != NULL) {
		if (b64decode(v, out) != 0)
			return fail(err, "kubeconfig %s: %s: not base64", cfg, key);
		return 0;
	}
	if ((v = ystr(ymap(d, m, field))) != NULL) {
		resolve(cfg, v, path, sizeof(path));
		ret = kdp_agent_read_file(path, out);
		if (ret != 0)
			return fail(err, "kubeconfig %s: %s %s: %s", cfg, field, path, strerror(-ret));
		return 0;
	}
	return 1;
}

static int load_doc(const char *path, yaml_document_t *doc, char *err)
{
	struct kdp_agent_buf text = {0};
	yaml_parser_t parser;
	int ret = kdp_agent_read_file(path, &text);

	if (ret != 0) {
		kdp_agent_buf_free(&text);
		return fail(err, "kubeconfig %s: %s", path, strerror(-ret));
	}
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text.data, text.len);
	if (!yaml_parser_load(&parser, doc)) {
		fail(err, "kubeconfig %s: not YAML: %s at line %zu column %zu", path,
		     parser.problem ? parser.problem : "parse error", parser.problem_mark.line + 1,
		     parser.problem_mark.column + 1);
		yaml_parser_delete(&parser);
		kdp_agent_buf_free(&text);
		return -1;
	}
	yaml_parser_delete(&parser);
	kdp_agent_buf_free(&text);
	if (yaml_document_get_root_node(doc) == NULL) {
		yaml_document_delete(doc);
		return fail(err, "kubeconfig %s: empty", path);
	}
	return 0;
}

int kdp_agent_auth_kubeconfig(const char *path, const char *context, struct kdp_agent_auth *a,
			      char *err)
{
	yaml_document_t doc;
	yaml_node_t *root, *ctx, *cluster, *user;
	const char *cname, *uname, *server, *v;
	char tf[PATH_MAX];
	int ret = -1;

	memset(a, 0, sizeof(*a));
	if (load_doc(path, &doc, err) != 0)
		return -1;
	root = yaml_document_get_root_node(&doc);
	if (root->type != YAML_MAPPING_NODE) {
		fail(err, "kubeconfig %s: expected a mapping (apiVersion, clusters, users, contexts)", path);
		goto out;
	}
	if (context == NULL || context[0] == '\0')
		context = ystr(ymap(&doc, root, "current-context"));
	if (context == NULL || context[0] == '\0') {
		fail(err, "kubeconfig %s: no current-context (give --context NAME)", path);
		goto out;
	}
	ctx = named(&doc, root, "contexts", "context", context);
	if (ctx == NULL) {
		fail(err, "kubeconfig %s: no context named '%s' in contexts", path, context);
		goto out;
	}
	cname = ystr(ymap(&doc, ctx, "cluster"));
	uname = ystr(ymap(&doc, ctx, "user"));
	if (cname == NULL) {
		fail(err, "kubeconfig %s: context '%s' names no cluster", path, context);
		goto out;
	}
	cluster = named(&doc, root, "clusters", "cluster", cname);
	if (cluster == NULL) {
		fail(err, "kubeconfig %s: context '%s': no cluster named '%s' in clusters", path,
		     context, cname);
		goto out;
	}
	server = ystr(ymap(&doc, cluster, "server"));
	if (server == NULL || (strncmp(server, "https://", 8) != 0 &&
			       strncmp(server, "http://", 7) != 0)) {
		fail(err, "kubeconfig %s: cluster '%s': server: %s", path, cname,
		     server ? "expected an http:// or https:// URL" : "missing");
		goto out;
	}
	snprintf(a->server, sizeof(a->server), "%s", server);
	while (a->server[0] && a->server[strlen(a->server) - 1] == '/')
		a->server[strlen(a->server) - 1] = '\0';
	v = ystr(ymap(&doc, cluster, "insecure-skip-tls-verify"));
	a->insecure = v != NULL && strcasecmp(v, "true") == 0;
	if (data_or_file(&doc, cluster, path, "certificate-authority", &a->ca, err) < 0)
		goto out;
	user = uname ? named(&doc, root, "users", "user", uname) : NULL;
	if (uname != NULL && user == NULL) {
		fail(err, "kubeconfig %s: context '%s': no user named '%s' in users", path, context,
		     uname);
		goto out;
	}
	if (user != NULL) {
		if (ymap(&doc, user, "exec") != NULL || ymap(&doc, user, "auth-provider") != NULL) {
			fail(err, "kubeconfig %s: user '%s': exec and auth-provider credentials are not "
				  "supported (use a token, tokenFile or a client certificate)",
			     path, uname);
			goto out;
		}
		if ((v = ystr(ymap(&doc, user, "token"))) != NULL) {
			a->token = strdup(v);
			if (a->token == NULL)
				kdp_agent_oom();
		}
		if ((v = ystr(ymap(&doc, user, "tokenFile"))) != NULL) {
			resolve(path, v, tf, sizeof(tf));
			snprintf(a->token_file, sizeof(a->token_file), "%s", tf);
		}
		if (data_or_file(&doc, user, path, "client-certificate", &a->cert, err) < 0 ||
		    data_or_file(&doc, user, path, "client-key", &a->key, err) < 0)
			goto out;
		if ((a->cert.len > 0) != (a->key.len > 0)) {
			fail(err, "kubeconfig %s: user '%s': a client certificate needs its key and the "
				  "other way round",
			     path, uname);
			goto out;
		}
	}
	snprintf(a->source, sizeof(a->source), "kubeconfig %s (context %s, server %s)", path,
		 context, a->server);
	ret = 0;
out:
	yaml_document_delete(&doc);
	if (ret != 0)
		kdp_agent_auth_free(a);
	return ret;
}

char *kdp_agent_auth_token(const struct kdp_agent_auth *a)
{
	struct kdp_agent_buf b = {0};

	if (a->token_file[0] != '\0' && kdp_agent_read_file(a->token_file, &b) == 0 && b.len > 0) {
		rstrip(b.data);
		return b.data;
	}
	kdp_agent_buf_free(&b);
	return a->token ? strdup(a->token) : NULL;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Health check node ports: one HTTP listener per healthCheckNodePort and
 * family of the service (on the node IP, on nodeIPv6). */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <rte_log.h>

#include "kdp.h"
#include "kdp_healthcheck.h"

/* Seconds between attempts to bind a port that could not be. */
#define RETRY_S 5
#define HTTP_TIMEOUT_S 10

struct hc_listener {
	struct kdp *k;
	uint16_t port;
	bool v6;             /* on nodeIPv6, counting the IPv6 backends */
	char ns[KDP_NAME_LEN];
	char name[KDP_NAME_LEN];
	struct evhttp *http; /* NULL while the port cannot be bound */
	time_t retry_at;
	bool seen;           /* still wanted (during a sync) */
	char error[160];
	uint64_t answers[2]; /* 200, 503 */
};

struct hc_set {
	struct event_base *base;
	uint64_t gen;        /* the snapshot last followed (its generation) */
	time_t retry_at;     /* earliest retry of a failed bind, 0: none */
	unsigned int n;
	struct hc_listener **l;
};

int kdp_hc_body(const char *ns, const char *name, unsigned int n, char *buf, size_t len)
{
	/* Names are [a-z0-9.-]: nothing to escape. */
	return snprintf(buf, len, "{\"service\":{\"namespace\":\"%s\",\"name\":\"%s\"},"
			"\"localEndpoints\":%u}", ns, name, n);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct hc_listener *l = arg;
	struct kdp *k = l->k;
	int i = kdp_state_svc_find(&k->state, l->ns, l->name);
	unsigned int n = i >= 0 ? kdp_dp_svc_local_endpoints(k->state.svcs[i], l->v6) : 0;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	char body[2 * KDP_NAME_LEN + 96], weight[16];
	int len = kdp_hc_body(l->ns, l->name, n, body, sizeof(body));

	snprintf(weight, sizeof(weight), "%u", n);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Load-Balancing-Endpoint-Weight", weight);
	if (out != NULL && evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(out, body, (size_t)len);
	l->answers[n == 0]++;
	evhttp_send_reply(req, n > 0 ? 200 : 503, n > 0 ? "OK" : "Service Unavailable", out);
	if (out != NULL)
		evbuffer_free(out);
}

/* Binds nodeIP:port or [nodeIPv6]:port (IP_FREEBIND: the address may not
 * be up on the host tap yet) and serves it. 0 or -errno with l->error set. */
static int listener_open(struct hc_set *set, struct hc_listener *l)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(l->port),
				 .sin_addr.s_addr = htonl(l->k->cfg.node_ip)};
	struct sockaddr_in6 sa6 = {.sin6_family = AF_INET6, .sin6_port = htons(l->port)};
	int one = 1, fd, err;

	memcpy(&sa6.sin6_addr, &l->k->cfg.node_ip6, sizeof(sa6.sin6_addr));
	fd = socket(l->v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, IPPROTO_IP, IP_FREEBIND, &one, sizeof(one)) != 0 ||
	    (l->v6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    (l->v6 ? bind(fd, (struct sockaddr *)&sa6, sizeof(sa6))
		   : bind(fd, (struct sockaddr *)&sa, sizeof(sa))) != 0 ||
	    listen(fd, 64) != 0)
		goto fail;
	l->http = evhttp_new(set->base);
	if (l->http == NULL) {
		errno = ENOMEM;
		goto fail;
	}
	evhttp_set_timeout(l->http, HTTP_TIMEOUT_S);
	evhttp_set_max_body_size(l->http, 4096);
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(l->http, on_request, l);
	if (evhttp_accept_socket(l->http, fd) != 0) {
		evhttp_free(l->http);
		l->http = NULL;
		errno = EIO;
		goto fail;
	}
	l->error[0] = '\0';
	RTE_LOG(INFO, USER1, "health check of service %s/%s on port %u%s\n", l->ns, l->name,
		l->port, l->v6 ? " (IPv6)" : "");
	return 0;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	snprintf(l->error, sizeof(l->error), "cannot listen on port %u%s: %s", l->port,
		 l->v6 ? " (IPv6)" : "", strerror(err));
	RTE_LOG(WARNING, USER1, "health check of service %s/%s: %s (trying again every %d s)\n",
		l->ns, l->name, l->error, RETRY_S);
	l->retry_at = time(NULL) + RETRY_S;
	return -err;
}

static void listener_close(struct hc_listener *l)
{
	if (l->http != NULL)
		evhttp_free(l->http); /* closes the socket and its connections */
	free(l);
}

static struct hc_listener *find(const struct hc_set *set, uint16_t port, bool v6)
{
	for (unsigned int i = 0; i < set->n; i++)
		if (set->l[i]->port == port && set->l[i]->v6 == v6)
			return set->l[i];
	return NULL;
}

/* One wanted port of one family: kept when the same service's, else
 * (re)opened. */
static void want_family(struct kdp *k, uint16_t port, const struct kdp_service *s, bool v6)
{
	struct hc_set *set = k->hc;
	struct hc_listener *l = find(set, port, v6), **a;

	if (l != NULL && strcmp(l->ns, s->ns) == 0 && strcmp(l->name, s->name) == 0) {
		l->seen = true;
		return;
	}
	if (l != NULL) { /* another service's now: same socket, new owner */
		snprintf(l->ns, sizeof(l->ns), "%s", s->ns);
		snprintf(l->name, sizeof(l->name), "%s", s->name);
		l->seen = true;
		return;
	}
	l = calloc(1, sizeof(*l));
	a = realloc(set->l, sizeof(*a) * (set->n + 1));
	if (a != NULL)
		set->l = a;
	if (l == NULL || a == NULL) {
		free(l);
		RTE_LOG(ERR, USER1, "health check port %u: out of memory\n", port);
		return;
	}
	l->k = k;
	l->port = port;
	l->v6 = v6;
	l->seen = true;
	snprintf(l->ns, sizeof(l->ns), "%s", s->ns);
	snprintf(l->name, sizeof(l->name), "%s", s->name);
	set->l[set->n++] = l;
	listener_open(set, l);
}

/* A wanted port: a listener for each family of the service. */
static void want(uint16_t port, const struct kdp_service *s, void *arg)
{
	struct kdp *k = arg;

	if (s->families & KDP_SVC_FAM_V4)
		want_family(k, port, s, false);
	if ((s->families & KDP_SVC_FAM_V6) && k->cfg.has_ip6)
		want_family(k, port, s, true);
}

static void sync_now(struct kdp *k, uint64_t gen)
{
	struct hc_set *set = k->hc;
	time_t now = time(NULL);
	unsigned int j = 0;

	for (unsigned int i = 0; i < set->n; i++)
		set->l[i]->seen = false;
	kdp_dp_hc_ports(k, want, k);
	set->retry_at = 0;
	for (unsigned int i = 0; i < set->n; i++) {
		struct hc_listener *l = set->l[i];

		if (!l->seen) {
			RTE_LOG(INFO, USER1, "health check port %u%s closed\n", l->port,
				l->v6 ? " (IPv6)" : "");
			listener_close(l);
			continue;
		}
		if (l->http == NULL && now >= l->retry_at)
			listener_open(set, l);
		if (l->http == NULL && (set->retry_at == 0 || l->retry_at < set->retry_at))
			set->retry_at = l->retry_at;
		set->l[j++] = l;
	}
	set->n = j;
	set->gen = gen;
}

void kdp_hc_poll(struct kdp *k)
{
	const struct kdp_snapshot *s = atomic_load(&k->pub.snap);
	struct hc_set *set = k->hc;

	if (set == NULL || s == NULL)
		return;
	/* By generation: a freed service table's address can come back. */
	if (s->gen != set->gen || (set->retry_at != 0 && time(NULL) >= set->retry_at))
		sync_now(k, s->gen);
}

int kdp_hc_init(struct kdp *k, struct event_base *base, char *err)
{
	struct hc_set *set = calloc(1, sizeof(*set));

	if (set == NULL) {
		snprintf(err, KDP_ERR_LEN, "out of memory for the health checks");
		return -ENOMEM;
	}
	set->base = base;
	k->hc = set;
	kdp_hc_poll(k);
	return 0;
}

void kdp_hc_fini(struct kdp *k)
{
	struct hc_set *set = k->hc;

	if (set == NULL)
		return;
	for (unsigned int i = 0; i < set->n; i++)
		listener_close(set->l[i]);
	free(set->l);
	free(set);
	k->hc = NULL;
}

/* What a listener of @p s's health check shows (@p v6: the one on
 * nodeIPv6), into @p o: localEndpoints, listening[, error], answered. */
static void listener_json(const struct kdp *k, const struct kdp_service *s, bool v6, json_t *o)
{
	const struct hc_set *set = k->hc;
	const struct hc_listener *l = set ? find(set, s->hc_port, v6) : NULL;

	if (l != NULL && (strcmp(l->ns, s->ns) != 0 || strcmp(l->name, s->name) != 0))
		l = NULL;
	json_object_set_new(o, "localEndpoints",
			    json_integer((int)kdp_dp_svc_local_endpoints(s, v6)));
	json_object_set_new(o, "listening", json_boolean(l != NULL && l->http));
	if (l != NULL && l->error[0])
		json_object_set_new(o, "error", json_string(l->error));
	if (l != NULL)
		json_object_set_new(o, "answered",
				    json_pack("{s:I, s:I}", "200", (json_int_t)l->answers[0],
					      "503", (json_int_t)l->answers[1]));
}

json_t *kdp_hc_json(const struct kdp *k, const struct kdp_service *s)
{
	bool v4 = s->families & KDP_SVC_FAM_V4, v6 = s->families & KDP_SVC_FAM_V6;
	json_t *o = json_pack("{s:i}", "port", s->hc_port);

	/* The IPv4 listener's (an IPv6-only service: its IPv6 one's), and a
	 * dual-stack service's IPv6 one under "ipv6". */
	listener_json(k, s, !v4, o);
	if (v4 && v6) {
		json_t *o6 = json_object();

		listener_json(k, s, true, o6);
		json_object_set_new(o, "ipv6", o6);
	}
	return o;
}

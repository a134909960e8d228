/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-agent: its counters in the Prometheus text format, served on a TCP
 * port or a Unix socket: GET /metrics, and GET /healthz (200 once the
 * stores are complete and kdp answers, else 503). The listener and its
 * clients are non-blocking sockets polled by the event loop; a client that
 * sends no request within 5 s is closed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "kdp_agent.h"

struct kdp_agent_metrics kdp_agent_m;

static const double lat_bounds[KDP_AGENT_LAT_BUCKETS] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

void kdp_agent_metrics_latency(double seconds)
{
	int i = 0;

	while (i < KDP_AGENT_LAT_BUCKETS && seconds > lat_bounds[i])
		i++;
	kdp_agent_m.lat_bucket[i]++;
	kdp_agent_m.lat_sum += seconds;
	kdp_agent_m.lat_count++;
}

static void addf(struct kdp_agent_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct kdp_agent_buf *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	kdp_agent_buf_add(b, line, n < (int)sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

static void head(struct kdp_agent_buf *b, const char *name, const char *type, const char *help)
{
	addf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void kdp_agent_metrics_render(struct kdp_agent_buf *b)
{
	static const char *const restart[] = {"closed", "gone", "error", "http"};
	static const char *const ev[] = {"ADDED", "MODIFIED", "DELETED", "BOOKMARK", "ERROR"};
	static const char *const obj[] = {"node", "service", "lrp", "ipmasq", "endpoint", "state"};
	static const char *const op[] = {"put", "delete"};
	static const char *const res[] = {"ok", "refused", "failed"};
	static const char *const why[] = {"start", "kdp_restart", "kdp_back", "periodic"};
	const struct kdp_agent_metrics *m = &kdp_agent_m;
	uint64_t cum = 0;

	head(b, "kdp_agent_watch_restarts_total", "counter",
	     "Watches opened again, by kind and why the last one ended (closed: by the server; "
	     "gone: 410, listed again; error: transport or stream error; http: an error status)");
	for (int k = 0; k < KDP_AGENT_KIND__MAX; k++)
		for (int r = 0; r < KDP_AGENT_RESTART__MAX; r++)
			addf(b, "kdp_agent_watch_restarts_total{kind=\"%s\",reason=\"%s\"} %lu\n",
			     kdp_agent_kind_name(k), restart[r], (unsigned long)m->watch_restarts[k][r]);
	head(b, "kdp_agent_lists_total", "counter", "Complete lists, by kind");
	for (int k = 0; k < KDP_AGENT_KIND__MAX; k++)
		addf(b, "kdp_agent_lists_total{kind=\"%s\"} %lu\n", kdp_agent_kind_name(k),
		     (unsigned long)m->lists[k]);
	head(b, "kdp_agent_events_total", "counter", "Watch events received, by kind and type");
	for (int k = 0; k < KDP_AGENT_KIND__MAX; k++)
		for (int e = 0; e < KDP_AGENT_EV__MAX; e++)
			addf(b, "kdp_agent_events_total{kind=\"%s\",type=\"%s\"} %lu\n",
			     kdp_agent_kind_name(k), ev[e], (unsigned long)m->events[k][e]);
	head(b, "kdp_agent_objects", "gauge", "Objects in the agent's stores, by kind");
	for (int k = 0; k < KDP_AGENT_KIND__MAX; k++)
		addf(b, "kdp_agent_objects{kind=\"%s\"} %zu\n", kdp_agent_kind_name(k),
		     m->kube ? json_object_size(kdp_agent_kube_store(m->kube, k)) : 0);
	head(b, "kdp_agent_applied_total", "counter",
	     "Updates sent to kdp, by object, operation and result (refused: kdp answered 4xx; "
	     "failed: unreachable or 5xx, tried again)");
	for (int o = 0; o < KDP_AGENT_OBJ__MAX; o++)
		for (int p = 0; p < KDP_AGENT_OP__MAX; p++)
			for (int r = 0; r < KDP_AGENT_RES__MAX; r++)
				addf(b, "kdp_agent_applied_total{object=\"%s\",op=\"%s\",result=\"%s\"} %lu\n",
				     obj[o], op[p], res[r], (unsigned long)m->applied[o][p][r]);
	head(b, "kdp_agent_apply_latency_seconds", "histogram",
	     "From reading a change off a watch to kdp's answer to the update it caused");
	for (int i = 0; i <= KDP_AGENT_LAT_BUCKETS; i++) {
		cum += m->lat_bucket[i];
		if (i < KDP_AGENT_LAT_BUCKETS)
			addf(b, "kdp_agent_apply_latency_seconds_bucket{le=\"%g\"} %lu\n", lat_bounds[i],
			     (unsigned long)cum);
		else
			addf(b, "kdp_agent_apply_latency_seconds_bucket{le=\"+Inf\"} %lu\n",
			     (unsigned long)cum);
	}
	addf(b, "kdp_agent_apply_latency_seconds_sum %.6f\n", m->lat_sum);
	addf(b, "kdp_agent_apply_latency_seconds_count %lu\n", (unsigned long)m->lat_count);
	head(b, "kdp_agent_resyncs_total", "counter", "Full comparisons with kdp, by reason");
	for (int i = 0; i < 4; i++)
		addf(b, "kdp_agent_resyncs_total{reason=\"%s\"} %lu\n", why[i],
		     (unsigned long)m->resyncs[i]);
	head(b, "kdp_agent_whole_state_applies_total", "counter",
	     "Changes sent as one PUT /v1/state (many at once)");
	addf(b, "kdp_agent_whole_state_applies_total %lu\n", (unsigned long)m->bulk_applies);
	head(b, "kdp_agent_batch_applies_total", "counter",
	     "Changes sent together as one PATCH /v1/objects (one snapshot in kdp)");
	addf(b, "kdp_agent_batch_applies_total %lu\n", (unsigned long)m->batch_applies);
	head(b, "kdp_agent_endpoints_relabelled_total", "counter",
	     "Endpoints given their pod's labels");
	addf(b, "kdp_agent_endpoints_relabelled_total %lu\n", (unsigned long)m->endpoints_relabelled);
	head(b, "kdp_agent_endpoints_collected_total", "counter",
	     "Endpoints removed because their pod left the node");
	addf(b, "kdp_agent_endpoints_collected_total %lu\n", (unsigned long)m->endpoints_collected);
	head(b, "kdp_agent_kdp_up", "gauge", "1 while kdp answers on its control socket");
	addf(b, "kdp_agent_kdp_up %d\n", m->kdp_up);
	head(b, "kdp_agent_synced", "gauge", "1 once every kind has been listed");
	addf(b, "kdp_agent_synced %d\n", m->synced);
	head(b, "kdp_agent_extended_service_fields", "gauge",
	     "1 while the traffic policies, health check port and source ranges are sent to kdp");
	addf(b, "kdp_agent_extended_service_fields %d\n", m->extended_fields);
}

/* ---- the listener ---- */

#define MAX_CLIENTS 16

static struct client {
	int fd;
	double since;
	struct kdp_agent_buf in;
} clients[MAX_CLIENTS];
static int listen_fd = -1;

int kdp_agent_metrics_listen(const char *addr, char *err)
{
	int fd, one = 1;

	for (int i = 0; i < MAX_CLIENTS; i++)
		clients[i].fd = -1;
	if (strcmp(addr, "off") == 0 || addr[0] == '\0')
		return -2;
	if (strncmp(addr, "unix:", 5) == 0) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		if (strlen(addr + 5) >= sizeof(sa.sun_path) || addr[5] == '\0') {
			snprintf(err, KDP_AGENT_ERR_LEN, "--metrics %s: socket path empty or too long", addr);
			return -1;
		}
		strcpy(sa.sun_path, addr + 5);
		unlink(sa.sun_path);
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
			snprintf(err, KDP_AGENT_ERR_LEN, "--metrics %s: %s", addr, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
		chmod(sa.sun_path, 0660);
	} else {
		struct sockaddr_in sa = {.sin_family = AF_INET};
		const char *colon = strrchr(addr, ':');
		char host[64];
		char *end;
		long port;

		if (colon == NULL || (size_t)(colon - addr) >= sizeof(host)) {
			snprintf(err, KDP_AGENT_ERR_LEN,
				 "--metrics %s: expected HOST:PORT, :PORT, unix:PATH or off", addr);
			return -1;
		}
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
		port = strtol(colon + 1, &end, 10);
		if (*end != '\0' || colon[1] == '\0' || port < 1 || port > 65535 ||
		    (host[0] != '\0' && inet_pton(AF_INET, host, &sa.sin_addr) != 1)) {
			snprintf(err, KDP_AGENT_ERR_LEN,
				 "--metrics %s: expected an IPv4 address and a port 1-65535", addr);
			return -1;
		}
		sa.sin_port = htons((uint16_t)port);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd >= 0)
			setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
			snprintf(err, KDP_AGENT_ERR_LEN, "--metrics %s: %s", addr, strerror(errno));
			if (fd >= 0)
				close(fd);
			return -1;
		}
	}
	listen_fd = fd;
	return fd;
}

int kdp_agent_metrics_fds(int *fds, int max)
{
	int n = 0;

	if (listen_fd < 0)
		return 0;
	fds[n++] = listen_fd;
	for (int i = 0; i < MAX_CLIENTS && n < max; i++)
		if (clients[i].fd >= 0)
			fds[n++] = clients[i].fd;
	return n;
}

static void drop(struct client *c)
{
	close(c->fd);
	c->fd = -1;
	kdp_agent_buf_free(&c->in);
}

static void answer(struct client *c)
{
	struct kdp_agent_buf body = {0}, out = {0};
	const char *status = "200 OK", *type = "text/plain; version=0.0.4; charset=utf-8";
	char hdr[256];
	int n;

	if (strncmp(c->in.data, "GET /metrics ", 13) == 0) {
		kdp_agent_metrics_render(&body);
	} else if (strncmp(c->in.data, "GET /healthz ", 13) == 0) {
		bool ok = kdp_agent_m.synced && kdp_agent_m.kdp_up;
		status = ok ? "200 OK" : "503 Service Unavailable";
		type = "text/plain";
		kdp_agent_buf_add(&body, ok ? "ok\n" : "not ready\n", ok ? 3 : 10);
	} else {
		status = "404 Not Found";
		type = "text/plain";
		kdp_agent_buf_add(&body, "GET /metrics or /healthz\n", 25);
	}
	n = snprintf(hdr, sizeof(hdr),
		     "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
		     status, type, body.len);
	kdp_agent_buf_add(&out, hdr, (size_t)n);
	kdp_agent_buf_add(&out, body.data, body.len);
	/* a fresh socket's send buffer takes it all; a client that reads
	 * nothing loses the rest */
	if (send(c->fd, out.data, out.len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
		kdp_agent_log(KDP_AGENT_DEBUG, "metrics client: %s", strerror(errno));
	kdp_agent_buf_free(&body);
	kdp_agent_buf_free(&out);
	drop(c);
}

void kdp_agent_metrics_serve(void)
{
	double now = kdp_agent_now();
	char buf[2048];

	if (listen_fd < 0)
		return;
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), i;

		if (fd < 0)
			break;
		for (i = 0; i < MAX_CLIENTS && clients[i].fd >= 0; i++)
			;
		if (i == MAX_CLIENTS) {
			close(fd);
			continue;
		}
		clients[i].fd = fd;
		clients[i].since = now;
	}
	for (int i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &clients[i];
		ssize_t n;

		if (c->fd < 0)
			continue;
		while ((n = recv(c->fd, buf, sizeof(buf), 0)) > 0) {
			kdp_agent_buf_add(&c->in, buf, (size_t)n);
			if (c->in.len > 16384)
				break;
		}
		if (c->in.len > 0 && strstr(c->in.data, "\r\n\r\n") != NULL)
			answer(c);
		else if (n == 0 || c->in.len > 16384 || (n < 0 && errno != EAGAIN) ||
			 now - c->since > 5)
			drop(c);
	}
}

void kdp_agent_metrics_close(void)
{
	for (int i = 0; i < MAX_CLIENTS; i++)
		if (clients[i].fd >= 0)
			drop(&clients[i]);
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
}

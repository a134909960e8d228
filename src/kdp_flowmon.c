/* SPDX-License-Identifier: BSD-3-Clause */
/* GET /v1/monitor: the flow monitor's events as a stream of JSON lines. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/bufferevent.h>
#include <event2/keyvalq_struct.h>

#include <rte_cycles.h>
#include <rte_tcp.h>

#include "common/kdp_addr.h"
#include "kdp_flowmon.h"

#define DRAIN_PERIOD_US 20000   /* how often the rings are drained */
#define DRAIN_MAX 4096          /* events per worker and drain, at most */
#define LOST_REPORT_MS 1000     /* lost events are reported at most this often */
#define WRITE_TIMEOUT_S 60      /* a listener that reads nothing this long is closed */

struct listener {
	struct listener *next;
	struct flowmon *fm;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct evbuffer *pending; /* lines of this drain, sent as one chunk */
	/* Filters; an unset one matches everything. */
	char pod_ns[KDP_NAME_LEN]; /* "" : any namespace */
	char pod[KDP_NAME_LEN];    /* "" : no pod filter; else a name prefix */
	bool has_ip;
	int ip_family;      /* 4 or 6 */
	uint32_t ip;        /* network order */
	struct kdp_in6 ip6;
	int proto;   /* IPPROTO_*, or -1 */
	int verdict; /* enum kdp_monitor_verdict, or -1 */
	/* Lost events: the workers' counters when last reported, and this
	 * listener's own (its output was full). */
	uint64_t base_rate, base_ring;
	uint64_t slow, slow_reported;
	uint64_t reported_ms;
};

struct flowmon {
	struct kdp *k;
	struct event *timer;
	struct listener *head;
	unsigned int n;
	uint64_t tsc0;   /* TSC and wall clock at start-up, to date events */
	struct timespec wall0;
	struct kdp_monitor_event *batch; /* one drain: DRAIN_MAX per worker */
	uint64_t sent;      /* lines sent to listeners */
	uint64_t lost_slow; /* events a full listener did not get */
};

/* ---- formatting ---- */

/* The local endpoint (pod) with address @p ip (network order; IPv6 when
 * @p family is 6), or NULL. */
static const struct kdp_endpoint *pod_of(const struct kdp *k, int family,
					 const struct kdp_in6 *ip)
{
	uint32_t h;

	if (family == 6) {
		for (unsigned int i = 0; i < k->state.n_eps; i++)
			if (k->state.eps[i].has_ip6 && kdp_addr6_eq(&k->state.eps[i].ip6, ip))
				return &k->state.eps[i];
		return NULL;
	}
	memcpy(&h, ip, sizeof(h));
	h = rte_be_to_cpu_32(h);
	for (unsigned int i = 0; i < k->state.n_eps; i++)
		if (k->state.eps[i].ip == h)
			return &k->state.eps[i];
	return NULL;
}

static const char *proto_name(uint8_t p, char *buf, size_t n)
{
	switch (p) {
	case IPPROTO_TCP:
		return "tcp";
	case IPPROTO_UDP:
		return "udp";
	case IPPROTO_ICMP:
		return "icmp";
	case IPPROTO_ICMPV6:
		return "icmpv6";
	default:
		snprintf(buf, n, "%u", p);
		return buf;
	}
}

static const char *port_name(const struct kdp *k, uint16_t p)
{
	return p < RTE_MAX_ETHPORTS && k->ports[p].used ? k->ports[p].name : NULL;
}

/* "SYN, ACK", as hubble prints TCP flags. */
static void tcp_flags(uint8_t f, char *buf, size_t n)
{
	static const struct {
		uint8_t bit;
		const char *name;
	} names[] = {{RTE_TCP_SYN_FLAG, "SYN"}, {RTE_TCP_ACK_FLAG, "ACK"},
		     {RTE_TCP_FIN_FLAG, "FIN"}, {RTE_TCP_RST_FLAG, "RST"},
		     {RTE_TCP_PSH_FLAG, "PSH"}, {RTE_TCP_URG_FLAG, "URG"},
		     {RTE_TCP_ECE_FLAG, "ECE"}, {RTE_TCP_CWR_FLAG, "CWR"}};
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < RTE_DIM(names); i++)
		if ((f & names[i].bit) && off < n)
			off += (size_t)snprintf(buf + off, n - off, "%s%s", off ? ", " : "",
						names[i].name);
}

static json_t *peer_json(const struct kdp *k, int family, const struct kdp_in6 *ip,
			 uint16_t port, bool ports)
{
	const struct kdp_endpoint *ep = pod_of(k, family, ip);
	char a[KDP_ADDR6_STRLEN], pod[2 * KDP_NAME_LEN + 2];
	uint32_t v4;
	json_t *o;

	memcpy(&v4, ip, sizeof(v4));
	o = json_pack("{s:s}", "ip",
		      family == 6 ? kdp_addr6_fmt(ip, a, sizeof(a))
				  : kdp_addr_fmt_ip(rte_be_to_cpu_32(v4), a, sizeof(a)));

	if (ports)
		json_object_set_new(o, "port", json_integer(rte_be_to_cpu_16(port)));
	if (ep != NULL) {
		snprintf(pod, sizeof(pod), "%s/%s", ep->ns, ep->name);
		json_object_set_new(o, "pod", json_string(pod));
	}
	return o;
}

/* RFC 3339 UTC time of TSC value @p tsc. */
static void event_time(const struct flowmon *fm, uint64_t tsc, char *buf, size_t n)
{
	int64_t d = (int64_t)(tsc - fm->tsc0);
	int64_t ns = (int64_t)((double)d * 1e9 / (double)rte_get_tsc_hz()) + fm->wall0.tv_nsec;
	time_t s = fm->wall0.tv_sec + (time_t)(ns / 1000000000);
	struct tm tm;
	char day[32];

	ns %= 1000000000;
	if (ns < 0) {
		ns += 1000000000;
		s--;
	}
	gmtime_r(&s, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%06dZ", day, (int)(ns / 1000));
}

static void now_time(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char day[32];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, n, "%s.%06dZ", day, (int)(ts.tv_nsec / 1000));
}

/* One event as a JSON line (no newline); the caller frees it. */
static char *event_line(const struct flowmon *fm, const struct kdp_monitor_event *e)
{
	const struct kdp *k = fm->k;
	bool ports = e->proto == IPPROTO_TCP || e->proto == IPPROTO_UDP;
	char t[64], pb[8], fl[64];
	json_t *o;
	char *s;

	event_time(fm, e->tsc, t, sizeof(t));
	o = json_pack("{s:s, s:s}", "time", t, "verdict", kdp_monitor_verdict_name(e->verdict));
	if (e->verdict == KDP_MONITOR_DROPPED)
		json_object_set_new(o, "dropReason", json_string(kdp_drop_name(e->reason)));
	if (e->family != 0) {
		json_object_set_new(o, "protocol", json_string(proto_name(e->proto, pb, sizeof(pb))));
		json_object_set_new(o, "source",
				    peer_json(k, e->family, &e->orig.src6, e->orig.sport, ports));
		json_object_set_new(o, "destination",
				    peer_json(k, e->family, &e->orig.dst6, e->orig.dport, ports));
	}
	if (e->verdict == KDP_MONITOR_TRANSLATED)
		json_object_set_new(
			o, "translated",
			json_pack("{s:o, s:o}", "source",
				  peer_json(k, e->family, &e->xlat.src6, e->xlat.sport, ports),
				  "destination",
				  peer_json(k, e->family, &e->xlat.dst6, e->xlat.dport, ports)));
	if (e->proto == IPPROTO_TCP) {
		tcp_flags(e->tcp_flags, fl, sizeof(fl));
		json_object_set_new(o, "tcpFlags", json_string(fl));
	}
	if (e->proto == IPPROTO_ICMP)
		json_object_set_new(o, "icmpType", json_integer(e->icmp_type));
	if (e->proto == IPPROTO_ICMPV6)
		json_object_set_new(o, "icmpv6Type", json_integer(e->icmp_type));
	if (port_name(k, e->in_port) != NULL)
		json_object_set_new(o, "inPort", json_string(port_name(k, e->in_port)));
	if (port_name(k, e->out_port) != NULL)
		json_object_set_new(o, "outPort", json_string(port_name(k, e->out_port)));
	json_object_set_new(o, "worker", json_integer(e->worker));
	s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return s;
}

/* ---- filters ---- */

static bool pod_matches(const struct listener *l, const struct kdp_endpoint *ep)
{
	return ep != NULL && (l->pod_ns[0] == '\0' || strcmp(l->pod_ns, ep->ns) == 0) &&
	       strncmp(l->pod, ep->name, strlen(l->pod)) == 0;
}

static bool matches(const struct listener *l, const struct kdp *k,
		    const struct kdp_monitor_event *e)
{
	const struct kdp_in6 *a[4] = {&e->orig.src6, &e->orig.dst6, &e->xlat.src6,
				      &e->xlat.dst6};
	bool hit;

	if (l->verdict >= 0 && e->verdict != l->verdict)
		return false;
	if (l->proto >= 0 && e->proto != l->proto)
		return false;
	if (l->has_ip) {
		hit = false;
		for (int i = 0; i < 4 && e->family == l->ip_family; i++)
			hit = hit || (l->ip_family == 6 ? kdp_addr6_eq(a[i], &l->ip6)
							: memcmp(a[i], &l->ip, 4) == 0);
		if (!hit)
			return false;
	}
	if (l->pod[0] != '\0') {
		hit = false;
		for (int i = 0; i < 4 && e->family != 0; i++)
			hit = hit || pod_matches(l, pod_of(k, e->family, a[i]));
		if (!hit)
			return false;
	}
	return true;
}

/* ---- delivery ---- */

static size_t unsent(const struct listener *l)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(l->conn);

	return evbuffer_get_length(l->pending) +
	       (bev != NULL ? evbuffer_get_length(bufferevent_get_output(bev)) : 0);
}

static void deliver(struct flowmon *fm, const struct kdp_monitor_event *e)
{
	char *line = NULL;

	for (struct listener *l = fm->head; l != NULL; l = l->next) {
		if (!matches(l, fm->k, e))
			continue;
		if (unsent(l) > KDP_FLOWMON_MAX_PENDING) {
			l->slow++;
			fm->lost_slow++;
			continue;
		}
		if (line == NULL && (line = event_line(fm, e)) == NULL)
			return;
		evbuffer_add_printf(l->pending, "%s\n", line);
		fm->sent++;
	}
	free(line);
}

/* Appends a lost-events record when events were lost since the last one
 * (at most one per LOST_REPORT_MS). */
static void report_lost(struct listener *l, const struct kdp_monitor_counters *c,
			uint64_t now_ms)
{
	uint64_t rate = c->lost_rate - l->base_rate, ring = c->lost_ring - l->base_ring;
	uint64_t slow = l->slow - l->slow_reported;
	char t[64];

	if (rate + ring + slow == 0 || now_ms - l->reported_ms < LOST_REPORT_MS)
		return;
	now_time(t, sizeof(t));
	evbuffer_add_printf(l->pending,
			    "{\"time\":\"%s\",\"lost\":%" PRIu64 ",\"rateLimited\":%" PRIu64
			    ",\"ringFull\":%" PRIu64 ",\"slowListener\":%" PRIu64 "}\n",
			    t, rate + ring + slow, rate, ring, slow);
	l->base_rate = c->lost_rate;
	l->base_ring = c->lost_ring;
	l->slow_reported = l->slow;
	l->reported_ms = now_ms;
}

/* Time order across workers; a worker's own order for equal times. */
static int by_time(const void *a, const void *b)
{
	const struct kdp_monitor_event *x = a, *y = b;

	if (x->tsc != y->tsc)
		return x->tsc < y->tsc ? -1 : 1;
	return x->pad2 < y->pad2 ? -1 : x->pad2 > y->pad2;
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
	struct flowmon *fm = arg;
	struct kdp *k = fm->k;
	struct kdp_monitor_counters c;
	uint64_t now = kdp_now_ms();
	unsigned int total = 0;

	for (unsigned int w = 0; w < k->mon->n_workers; w++) {
		unsigned int n, budget = DRAIN_MAX;

		while (budget > 0 &&
		       (n = kdp_monitor_dequeue(k->mon, w, fm->batch + total, budget)) > 0) {
			budget -= n;
			total += n;
		}
	}
	for (unsigned int i = 0; i < total; i++)
		fm->batch[i].pad2 = i; /* dequeue order, for equal times */
	qsort(fm->batch, total, sizeof(fm->batch[0]), by_time);
	for (unsigned int i = 0; i < total; i++)
		deliver(fm, &fm->batch[i]);
	kdp_monitor_counters(k->mon, &c);
	for (struct listener *l = fm->head; l != NULL; l = l->next) {
		report_lost(l, &c, now);
		if (evbuffer_get_length(l->pending) > 0)
			evhttp_send_reply_chunk(l->req, l->pending);
	}
}

/* The connection is going away. When the client left (EOF, timeout),
 * libevent has already detached the unfinished request and leaves it to
 * us: ending the reply frees it. When the server shuts down, the request
 * is still attached and freed with the connection. */
static void on_close(struct evhttp_connection *conn, void *arg)
{
	struct listener *l = arg;
	struct flowmon *fm = l->fm;

	if (evhttp_request_get_connection(l->req) == NULL)
		evhttp_send_reply_end(l->req);

	for (struct listener **p = &fm->head; *p != NULL; p = &(*p)->next)
		if (*p == l) {
			*p = l->next;
			break;
		}
	evbuffer_free(l->pending);
	free(l);
	if (--fm->n == 0) {
		kdp_monitor_set_listening(fm->k->mon, false);
		event_del(fm->timer);
	}
}

/* ---- the request ---- */

static int bad(char *err, const char *fmt, const char *v)
{
	snprintf(err, KDP_ERR_LEN, fmt, v);
	return HTTP_BADREQUEST;
}

static bool name_ok(const char *s)
{
	if (*s == '\0' || strlen(s) >= KDP_NAME_LEN)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '-' &&
		    *s != '.')
			return false;
	return true;
}

/* Reads the query into @p l's filters; 0 or 400 with @p err. */
static int parse_filters(struct evhttp_request *req, struct listener *l, char *err)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	struct evkeyvalq kv;
	struct evkeyval *p;
	unsigned int seen = 0;
	int ret = 0;

	l->proto = -1;
	l->verdict = -1;
	if (q == NULL)
		return 0;
	TAILQ_INIT(&kv);
	if (evhttp_parse_query_str(q, &kv) != 0)
		return bad(err, "query: cannot parse '%s'", q);
	TAILQ_FOREACH(p, &kv, next) {
		static const char *const keys[] = {"pod", "ip", "proto", "verdict"};
		unsigned int i;

		for (i = 0; i < RTE_DIM(keys) && strcmp(p->key, keys[i]) != 0; i++)
			;
		if (i == RTE_DIM(keys)) {
			ret = bad(err, "%s: unknown parameter (pod, ip, proto, verdict)", p->key);
			break;
		}
		if (seen & (1u << i)) {
			ret = bad(err, "%s: given twice", p->key);
			break;
		}
		seen |= 1u << i;
		if (i == 0) {
			const char *slash = strchr(p->value, '/');

			if (slash != NULL) {
				snprintf(l->pod_ns, sizeof(l->pod_ns), "%.*s",
					 (int)(slash - p->value), p->value);
				slash++;
			} else {
				slash = p->value;
			}
			snprintf(l->pod, sizeof(l->pod), "%s", slash);
			if (!name_ok(l->pod) || (slash != p->value && !name_ok(l->pod_ns)) ||
			    (size_t)(slash - p->value) >= KDP_NAME_LEN) {
				ret = bad(err, "pod: '%s' is not NAME or NAMESPACE/NAME", p->value);
				break;
			}
		} else if (i == 1) {
			struct in_addr a;

			if (inet_pton(AF_INET, p->value, &a) == 1) {
				l->ip_family = 4;
				l->ip = a.s_addr;
			} else if (kdp_addr6_parse(p->value, &l->ip6) == 0) {
				l->ip_family = 6;
			} else {
				ret = bad(err, "ip: '%s' is not an IPv4 or IPv6 address (like 172.20.1.236 or fd00:20:0:1::236)",
					  p->value);
				break;
			}
			l->has_ip = true;
		} else if (i == 2) {
			l->proto = strcasecmp(p->value, "tcp") == 0      ? IPPROTO_TCP
				   : strcasecmp(p->value, "udp") == 0    ? IPPROTO_UDP
				   : strcasecmp(p->value, "icmp") == 0   ? IPPROTO_ICMP
				   : strcasecmp(p->value, "icmpv6") == 0 ? IPPROTO_ICMPV6
									 : -1;
			if (l->proto < 0) {
				ret = bad(err, "proto: '%s' is not tcp, udp, icmp or icmpv6", p->value);
				break;
			}
		} else {
			l->verdict = kdp_monitor_verdict_parse(p->value);
			if (l->verdict < 0) {
				ret = bad(err, "verdict: '%s' is not FORWARDED, DROPPED or TRANSLATED",
					  p->value);
				break;
			}
		}
	}
	evhttp_clear_headers(&kv);
	return ret;
}

int kdp_flowmon_serve(struct kdp *k, struct evhttp_request *req, char *err)
{
	struct flowmon *fm = k->flowmon;
	struct listener *l = calloc(1, sizeof(*l));
	struct kdp_monitor_counters c;
	int ret;

	if (l == NULL) {
		snprintf(err, KDP_ERR_LEN, "out of memory");
		return HTTP_INTERNAL;
	}
	ret = parse_filters(req, l, err);
	if (ret != 0) {
		free(l);
		return ret;
	}
	l->fm = fm;
	l->req = req;
	l->conn = evhttp_request_get_connection(req);
	l->pending = evbuffer_new();
	if (l->pending == NULL || l->conn == NULL) {
		if (l->pending != NULL)
			evbuffer_free(l->pending);
		free(l);
		snprintf(err, KDP_ERR_LEN, "out of memory");
		return HTTP_INTERNAL;
	}
	kdp_monitor_counters(k->mon, &c);
	l->base_rate = c.lost_rate;
	l->base_ring = c.lost_ring;
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "application/x-ndjson");
	evhttp_send_reply_start(req, HTTP_OK, "OK");
	/* The stream may stay quiet for long: no read timeout on it; a client
	 * that reads nothing for WRITE_TIMEOUT_S while output waits is closed. */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(l->conn), NULL,
				 &(struct timeval){WRITE_TIMEOUT_S, 0});
	evhttp_connection_set_closecb(l->conn, on_close, l);
	/* A first line, so a client knows the stream is up. */
	{
		json_t *o = json_pack("{s:{s:s, s:i, s:I}}", "listening", "node", k->cfg.name,
				      "workers", (int)k->cfg.workers, "eventsPerSecond",
				      (json_int_t)k->cfg.monitor_rate);
		char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);

		if (line != NULL)
			evbuffer_add_printf(l->pending, "%s\n", line);
		free(line);
		json_decref(o);
	}
	evhttp_send_reply_chunk(req, l->pending);
	l->next = fm->head;
	fm->head = l;
	if (fm->n++ == 0) {
		struct timeval period = {0, DRAIN_PERIOD_US};

		kdp_monitor_set_listening(k->mon, true);
		event_add(fm->timer, &period);
	}
	return HTTP_OK;
}

int kdp_flowmon_init(struct kdp *k, struct event_base *base, char *err)
{
	struct flowmon *fm = calloc(1, sizeof(*fm));

	if (fm == NULL)
		return -ENOMEM;
	k->flowmon = fm;
	fm->k = k;
	fm->tsc0 = rte_rdtsc();
	clock_gettime(CLOCK_REALTIME, &fm->wall0);
	fm->timer = event_new(base, -1, EV_PERSIST, on_drain, fm);
	fm->batch = calloc((size_t)k->mon->n_workers * DRAIN_MAX, sizeof(*fm->batch));
	if (fm->timer == NULL || fm->batch == NULL) {
		snprintf(err, KDP_ERR_LEN, "cannot set up the flow monitor's timer");
		return -ENOMEM;
	}
	return 0;
}

void kdp_flowmon_fini(struct kdp *k)
{
	struct flowmon *fm = k->flowmon;

	if (fm == NULL)
		return;
	while (fm->head != NULL) {
		struct listener *l = fm->head;

		fm->head = l->next;
		evhttp_connection_set_closecb(l->conn, NULL, NULL);
		evbuffer_free(l->pending);
		free(l);
	}
	if (k->mon != NULL)
		kdp_monitor_set_listening(k->mon, false);
	if (fm->timer != NULL)
		event_free(fm->timer);
	free(fm->batch);
	free(fm);
	k->flowmon = NULL;
}

void kdp_flowmon_stats(const struct kdp *k, struct kdp_flowmon_stats *st)
{
	const struct flowmon *fm = k->flowmon;

	memset(st, 0, sizeof(*st));
	if (fm == NULL)
		return;
	st->listeners = fm->n;
	st->sent = fm->sent;
	st->lost_slow = fm->lost_slow;
}

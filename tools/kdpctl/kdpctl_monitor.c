/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdpctl monitor: reads GET /v1/monitor, a chunked stream of JSON lines,
 * and prints one line per flow event as hubble observe does:
 *
 *   Nov 26 12:30:32.254: default/curl-pod:58930 (172.20.1.236) -> 10.96.152.212:80
 *     tcp TRANSLATED to default/curl-pod:58930 (172.20.1.236) -> 172.20.0.130:80
 *     port net_kdp_afp_kdp1 -> net_kdp_afp_kdp0 (TCP Flags: SYN)
 *
 * (one line), "N events lost (...)" when the daemon lost some, or the JSON
 * lines themselves with --json.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "kdpctl.h"
#include "kdpctl_monitor.h"

struct mon_opts {
	const char *socket;
	const char *pod, *ip, *proto, *verdict;
	long count; /* 0: until interrupted */
	bool json;
};

static const char usage_text[] =
	"Usage: kdpctl [-s PATH] monitor [--pod [NS/]NAME] [--ip IP] [--protocol tcp|udp|icmp|icmpv6]\n"
	"                                [--verdict FORWARDED|DROPPED|TRANSLATED] [-n COUNT] [--json]\n"
	"\n"
	"Stream flow events as hubble observe does (GET /v1/monitor): time, source ->\n"
	"destination (pod names for local pods), protocol, verdict (DROPPED with its\n"
	"reason, TRANSLATED with the tuple as sent), ports in and out, TCP flags.\n"
	"Events the daemon could not deliver (over monitorEventsPerSecond, a full ring,\n"
	"or this client reading too slowly) are shown as \"N events lost\" lines.\n"
	"\n"
	"Options:\n"
	"      --pod [NS/]NAME     only flows from or to a local pod whose name starts with\n"
	"                          NAME (in namespace NS when given)\n"
	"      --ip IP             only flows with address IP (IPv4 or IPv6), before or after\n"
	"                          translation\n"
	"      --protocol P        only tcp, udp, icmp or icmpv6\n"
	"      --verdict V         only FORWARDED, DROPPED or TRANSLATED\n"
	"  -n, --count COUNT       exit after COUNT events\n"
	"      --json              print the daemon's JSON lines\n"
	"  -s, --socket PATH       control socket (default: $KDP_SOCKET, else /run/kdp/kdp.sock)\n"
	"  -h, --help              show this help\n";

/* ---- command line ---- */

static int usage_error(const char *fmt, const char *v)
{
	fputs("kdpctl: ", stderr);
	fprintf(stderr, fmt, v);
	fprintf(stderr, "\n\n%s", usage_text);
	return KDPCTL_EXIT_USAGE;
}

/* "--name VALUE", "--name=VALUE" or the short form: 1 matched, 0 not, -1 no value. */
static int opt_value(int argc, char **argv, int *i, const char *sname, const char *lname,
		     const char **v)
{
	const char *a = argv[*i];
	size_t n = strlen(lname);

	if (strncmp(a, lname, n) == 0 && a[n] == '=') {
		*v = a + n + 1;
		return 1;
	}
	if (strcmp(a, lname) != 0 && (sname == NULL || strcmp(a, sname) != 0))
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*v = argv[++*i];
	return 1;
}

/* Options of other kdpctl commands that take a value (skipped when looking
 * for the command word). */
static bool takes_value(const char *a)
{
	static const char *const with_value[] = {"-s", "--socket", "-f", "--file", "-o",
						 "--output", "--proto", "--ip", "--pod",
						 "--protocol", "--verdict", "-n", "--count", NULL};

	for (int i = 0; with_value[i] != NULL; i++)
		if (strcmp(a, with_value[i]) == 0)
			return true;
	return false;
}

static bool is_monitor(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1 < argc && strcmp(argv[i + 1], "monitor") == 0;
		if (argv[i][0] != '-')
			return strcmp(argv[i], "monitor") == 0;
		if (takes_value(argv[i]))
			i++;
	}
	return false;
}

static int parse(int argc, char **argv, struct mon_opts *o, bool *help)
{
	bool cmd_seen = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *count = NULL;
		int r;

		if (a[0] != '-' || strcmp(a, "--") == 0) {
			if (strcmp(a, "--") == 0 && ++i >= argc)
				break;
			if (cmd_seen || strcmp(argv[i], "monitor") != 0)
				return usage_error("unexpected argument '%s'", argv[i]);
			cmd_seen = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			*help = true;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if ((r = opt_value(argc, argv, &i, "-s", "--socket", &o->socket)) != 0 ||
			   (r = opt_value(argc, argv, &i, NULL, "--pod", &o->pod)) != 0 ||
			   (r = opt_value(argc, argv, &i, NULL, "--ip", &o->ip)) != 0 ||
			   (r = opt_value(argc, argv, &i, NULL, "--protocol", &o->proto)) != 0 ||
			   (r = opt_value(argc, argv, &i, NULL, "--proto", &o->proto)) != 0 ||
			   (r = opt_value(argc, argv, &i, NULL, "--verdict", &o->verdict)) != 0 ||
			   (r = opt_value(argc, argv, &i, "-n", "--count", &count)) != 0) {
			char *end;

			if (r < 0)
				return usage_error("option '%s' needs a value", a);
			if (count != NULL) {
				errno = 0;
				o->count = strtol(count, &end, 10);
				if (errno != 0 || *end != '\0' || end == count || o->count <= 0)
					return usage_error("-n needs a positive number, got '%s'", count);
			}
		} else {
			return usage_error("unknown option '%s' for monitor", a);
		}
	}
	if (*help)
		return 0;
	if (o->socket[0] == '\0')
		return usage_error("the socket path must not be empty%s", "");
	if (o->proto != NULL && strcasecmp(o->proto, "tcp") != 0 &&
	    strcasecmp(o->proto, "udp") != 0 && strcasecmp(o->proto, "icmp") != 0 &&
	    strcasecmp(o->proto, "icmpv6") != 0)
		return usage_error("--protocol must be tcp, udp, icmp or icmpv6, got '%s'", o->proto);
	if (o->verdict != NULL && strcasecmp(o->verdict, "FORWARDED") != 0 &&
	    strcasecmp(o->verdict, "DROPPED") != 0 && strcasecmp(o->verdict, "TRANSLATED") != 0)
		return usage_error("--verdict must be FORWARDED, DROPPED or TRANSLATED, got '%s'",
				   o->verdict);
	if (o->ip != NULL) {
		struct in6_addr a;

		if (inet_pton(AF_INET, o->ip, &a) != 1 && inet_pton(AF_INET6, o->ip, &a) != 1)
			return usage_error("--ip needs an IPv4 or IPv6 address, got '%s'", o->ip);
	}
	if (o->pod != NULL && o->pod[0] == '\0')
		return usage_error("--pod needs a name%s", "");
	return 0;
}

/* ---- output ---- */

static void print_time(const char *iso)
{
	struct tm tm = {0};
	const char *frac = strchr(iso, '.');
	char buf[32];
	time_t t;

	if (strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm) == NULL) {
		printf("%s: ", iso);
		return;
	}
	t = timegm(&tm);
	localtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%b %e %H:%M:%S", &tm);
	printf("%s.%.3s: ", buf, frac != NULL ? frac + 1 : "000");
}

/* "ns/pod:port (ip)", "ns/pod (ip)", "ip:port" or "ip". */
static void print_peer(json_t *p)
{
	const char *ip = json_string_value(json_object_get(p, "ip"));
	const char *pod = json_string_value(json_object_get(p, "pod"));
	json_t *port = json_object_get(p, "port");

	if (ip == NULL) {
		fputs("-", stdout);
		return;
	}
	if (pod == NULL && json_is_integer(port) && strchr(ip, ':') != NULL)
		printf("[%s]", ip); /* an IPv6 address before its port */
	else
		fputs(pod != NULL ? pod : ip, stdout);
	if (json_is_integer(port))
		printf(":%lld", (long long)json_integer_value(port));
	if (pod != NULL)
		printf(" (%s)", ip);
}

static const char *icmp_name(json_int_t t)
{
	switch (t) {
	case 0:
		return "EchoReply";
	case 3:
		return "DestinationUnreachable";
	case 8:
		return "EchoRequest";
	case 11:
		return "TimeExceeded";
	default:
		return NULL;
	}
}

static const char *icmp6_name(json_int_t t)
{
	switch (t) {
	case 1:
		return "DestinationUnreachable";
	case 2:
		return "PacketTooBig";
	case 3:
		return "TimeExceeded";
	case 128:
		return "EchoRequest";
	case 129:
		return "EchoReply";
	default:
		return NULL;
	}
}

static void print_event(json_t *e)
{
	const char *s;
	json_t *x = json_object_get(e, "translated"), *v;

	print_time(json_string_value(json_object_get(e, "time")) ?: "");
	print_peer(json_object_get(e, "source"));
	fputs(" -> ", stdout);
	print_peer(json_object_get(e, "destination"));
	if ((s = json_string_value(json_object_get(e, "protocol"))) != NULL)
		printf(" %s", s);
	printf(" %s", json_string_value(json_object_get(e, "verdict")) ?: "?");
	if ((s = json_string_value(json_object_get(e, "dropReason"))) != NULL)
		printf(" (%s)", s);
	if (x != NULL) {
		fputs(" to ", stdout);
		print_peer(json_object_get(x, "source"));
		fputs(" -> ", stdout);
		print_peer(json_object_get(x, "destination"));
	}
	if ((s = json_string_value(json_object_get(e, "inPort"))) != NULL)
		printf(" port %s", s);
	if ((s = json_string_value(json_object_get(e, "outPort"))) != NULL)
		printf(" -> %s", s);
	if ((s = json_string_value(json_object_get(e, "tcpFlags"))) != NULL && s[0] != '\0')
		printf(" (TCP Flags: %s)", s);
	if (json_is_integer(v = json_object_get(e, "icmpType"))) {
		if (icmp_name(json_integer_value(v)) != NULL)
			printf(" (ICMP %s)", icmp_name(json_integer_value(v)));
		else
			printf(" (ICMP type %lld)", (long long)json_integer_value(v));
	}
	if (json_is_integer(v = json_object_get(e, "icmpv6Type"))) {
		if (icmp6_name(json_integer_value(v)) != NULL)
			printf(" (ICMPv6 %s)", icmp6_name(json_integer_value(v)));
		else
			printf(" (ICMPv6 type %lld)", (long long)json_integer_value(v));
	}
	putchar('\n');
}

/* One line of the stream; returns true when it was a flow event. */
static bool handle_line(const struct mon_opts *o, const char *line, size_t n)
{
	json_t *v = json_loadb(line, n, 0, NULL), *l;
	bool event = false;

	if (v == NULL) {
		fprintf(stderr, "kdpctl: monitor: not JSON from kdp: %.*s\n", (int)n, line);
		return false;
	}
	if ((l = json_object_get(v, "listening")) != NULL) {
		fprintf(stderr, "Listening for flow events on node %s (%lld workers, at most %lld events/s each)\n",
			json_string_value(json_object_get(l, "node")) ?: "?",
			(long long)json_integer_value(json_object_get(l, "workers")),
			(long long)json_integer_value(json_object_get(l, "eventsPerSecond")));
	} else if (o->json) {
		printf("%.*s\n", (int)n, line);
		event = json_object_get(v, "lost") == NULL;
	} else if ((l = json_object_get(v, "lost")) != NULL) {
		printf("%lld events lost (rate limited %lld, ring full %lld, slow listener %lld)\n",
		       (long long)json_integer_value(l),
		       (long long)json_integer_value(json_object_get(v, "rateLimited")),
		       (long long)json_integer_value(json_object_get(v, "ringFull")),
		       (long long)json_integer_value(json_object_get(v, "slowListener")));
	} else {
		print_event(v);
		event = true;
	}
	json_decref(v);
	return event;
}

/* ---- HTTP ---- */

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *q;

		while (cap < b->len + n + 1)
			cap *= 2;
		q = realloc(b->p, cap);
		if (q == NULL) {
			fputs("kdpctl: out of memory\n", stderr);
			exit(KDPCTL_EXIT_API);
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_drop(struct buf *b, size_t n)
{
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = '\0';
}

static void query_add(struct buf *b, const char *key, const char *v)
{
	static const char hex[] = "0123456789ABCDEF";

	if (v == NULL)
		return;
	buf_add(b, b->len && memchr(b->p, '?', b->len) ? "&" : "?", 1);
	buf_add(b, key, strlen(key));
	buf_add(b, "=", 1);
	for (; *v; v++) {
		unsigned char c = (unsigned char)*v;
		char e[3] = {'%', hex[c >> 4], hex[c & 15]};

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_')
			buf_add(b, v, 1);
		else
			buf_add(b, e, 3);
	}
}

/* The daemon refused: print its {"error"} and return 1. */
static int refused(int status, const char *body)
{
	json_t *v = json_loads(body, 0, NULL);
	const char *msg = json_string_value(json_object_get(v, "error"));

	fprintf(stderr, "Error: %s (HTTP %d)\n", msg != NULL ? msg : body, status);
	json_decref(v);
	return KDPCTL_EXIT_API;
}

/*
 * Consumes what it can of the chunked body in @p in, appending data to
 * @p out. @return 1 at the last chunk, 0 for more, -1 when malformed.
 */
static int dechunk(struct buf *in, struct buf *out, size_t *left)
{
	for (;;) {
		if (*left > 0) {
			size_t n = in->len < *left ? in->len : *left;

			buf_add(out, in->p, n);
			buf_drop(in, n);
			*left -= n;
			if (*left > 0)
				return 0;
			*left = (size_t)-1; /* then the CRLF after the data */
		}
		if (*left == (size_t)-1) {
			if (in->len < 2)
				return 0;
			if (memcmp(in->p, "\r\n", 2) != 0)
				return -1;
			buf_drop(in, 2);
			*left = 0;
		}
		char *eol = in->len ? strstr(in->p, "\r\n") : NULL;
		char *end;
		unsigned long size;

		if (eol == NULL)
			return in->len > 64 ? -1 : 0;
		size = strtoul(in->p, &end, 16);
		if (end == in->p)
			return -1;
		buf_drop(in, (size_t)(eol + 2 - in->p));
		if (size == 0)
			return 1;
		*left = size;
	}
}

static int stream(const struct mon_opts *o)
{
	struct buf req = {0}, in = {0}, lines = {0};
	bool head_done = false;
	size_t left = 0;
	long events = 0;
	int fd, status = 0, rc = KDPCTL_EXIT_UNREACHABLE;

	static const char req_head[] = "GET /v1/monitor";
	static const char req_tail[] =
		" HTTP/1.1\r\nHost: kdp\r\nConnection: close\r\nUser-Agent: kdpctl\r\n\r\n";

	buf_add(&req, req_head, strlen(req_head));
	query_add(&req, "pod", o->pod);
	query_add(&req, "ip", o->ip);
	query_add(&req, "proto", o->proto);
	query_add(&req, "verdict", o->verdict);
	buf_add(&req, req_tail, strlen(req_tail));
	fd = kdpctl_connect(o->socket, false);
	if (fd < 0)
		goto out;
	/* Events come when they come: no receive timeout on the stream. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &(struct timeval){0}, sizeof(struct timeval));
	rc = KDPCTL_EXIT_BAD_ANSWER; /* connected: what goes wrong now is the answer */
	if (send(fd, req.p, req.len, MSG_NOSIGNAL) != (ssize_t)req.len) {
		fprintf(stderr, "kdpctl: cannot send to kdp at %s: %s\n", o->socket, strerror(errno));
		goto out;
	}
	for (;;) {
		char chunk[16384];
		ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (head_done && status != 200) {
				rc = refused(status, in.p ? in.p : "");
			} else {
				fprintf(stderr, "kdpctl: kdp at %s ended the stream%s%s\n", o->socket,
					n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
			}
			goto out;
		}
		buf_add(&in, chunk, (size_t)n);
		if (!head_done) {
			char *end = strstr(in.p, "\r\n\r\n");

			if (end == NULL)
				continue;
			if (sscanf(in.p, "HTTP/1.%*d %d", &status) != 1) {
				fprintf(stderr, "kdpctl: bad answer from kdp at %s\n", o->socket);
				goto out;
			}
			head_done = true;
			buf_drop(&in, (size_t)(end + 4 - in.p));
		}
		if (status != 200)
			continue; /* the error body, until the daemon closes */
		if (dechunk(&in, &lines, &left) != 0) {
			fprintf(stderr, "kdpctl: kdp at %s ended the stream\n", o->socket);
			goto out;
		}
		while (lines.len > 0 && (nl = memchr(lines.p, '\n', lines.len)) != NULL) {
			if (nl > lines.p && handle_line(o, lines.p, (size_t)(nl - lines.p)))
				events++;
			buf_drop(&lines, (size_t)(nl + 1 - lines.p));
			if (o->count > 0 && events >= o->count) {
				rc = KDPCTL_EXIT_OK;
				goto out;
			}
		}
		fflush(stdout);
	}
out:
	if (fd >= 0)
		close(fd);
	free(req.p);
	free(in.p);
	free(lines.p);
	return rc;
}

int kdpctl_monitor_main(int argc, char **argv, const char *socket)
{
	struct mon_opts o = {.socket = socket};
	bool help = false;
	int rc;

	if (!is_monitor(argc, argv))
		return -1;
	rc = parse(argc, argv, &o, &help);
	if (rc != 0)
		return rc;
	if (help) {
		fputs(usage_text, stdout);
		return KDPCTL_EXIT_OK;
	}
	return stream(&o);
}

int kdpctl_monitor_cmd(const struct kdpctl_opts *o)
{
	fputs("kdpctl: monitor: run through kdpctl_monitor_main\n", stderr);
	return KDPCTL_EXIT_USAGE;
}

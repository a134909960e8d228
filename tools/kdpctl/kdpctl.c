/*
 * kdpctl - command-line client for the kdp control API (DESIGN.md section 4).
 *
 * Speaks a minimal HTTP/1.1 over the daemon's Unix socket and prints the
 * answers as aligned tables, or the daemon's JSON with --json.
 *
 * Exit status: 0 success, 1 the daemon answered with an error,
 * 2 usage error (or an unreadable -f FILE, or one that is not JSON where JSON is
 * expected), 3 cannot reach the daemon.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "kdpctl_monitor.h"

#define KDPCTL_DEFAULT_SOCKET "/run/kdp/kdp.sock"
#define KDPCTL_TIMEOUT_SEC 60 /* per send/recv; a healthy daemon answers in ms */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

enum kdpctl_exit {
	KDPCTL_EXIT_OK = 0,
	KDPCTL_EXIT_API = 1,	     /* the daemon answered with an error */
	KDPCTL_EXIT_USAGE = 2,	     /* bad command line or -f FILE */
	KDPCTL_EXIT_UNREACHABLE = 3, /* no (valid) answer from the daemon */
};

/* ------------------------------------------------------------------------ */
/* Memory and growable buffers                                               */

__attribute__((noreturn))
static void kdpctl_oom(void)
{
	fputs("kdpctl: out of memory\n", stderr);
	exit(KDPCTL_EXIT_API);
}

static void *kdpctl_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		kdpctl_oom();
	return p;
}

static char *kdpctl_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(kdpctl_xrealloc(NULL, n), s, n);
}

/* A byte buffer that is always NUL-terminated once it holds data. */
struct kdpctl_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Makes room for extra more bytes plus a terminating NUL. */
static void kdpctl_buf_reserve(struct kdpctl_buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 256;

	if (b->cap > b->len && b->cap - b->len > extra)
		return;
	while (cap - b->len <= extra) {
		if (cap > SIZE_MAX / 2)
			kdpctl_oom();
		cap *= 2;
	}
	b->data = kdpctl_xrealloc(b->data, cap);
	b->cap = cap;
}

static void kdpctl_buf_append(struct kdpctl_buf *b, const void *p, size_t n)
{
	kdpctl_buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

static void kdpctl_buf_puts(struct kdpctl_buf *b, const char *s)
{
	kdpctl_buf_append(b, s, strlen(s));
}

__attribute__((format(printf, 2, 3)))
static void kdpctl_buf_printf(struct kdpctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	kdpctl_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Hands the (NUL-terminated) contents to the caller and empties b. */
static char *kdpctl_buf_take(struct kdpctl_buf *b)
{
	char *s;

	kdpctl_buf_reserve(b, 0);
	b->data[b->len] = '\0';
	s = b->data;
	*b = (struct kdpctl_buf){ 0 };
	return s;
}

/* Reads a whole file, or standard input for "-". Prints why on failure. */
static int kdpctl_read_file(const char *path, struct kdpctl_buf *out)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	char chunk[16384];
	size_t n;
	int failed, err;

	if (f == NULL) {
		fprintf(stderr, "kdpctl: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		kdpctl_buf_append(out, chunk, n);
	err = errno;
	failed = ferror(f);
	if (!is_stdin)
		fclose(f);
	if (failed) {
		fprintf(stderr, "kdpctl: cannot read %s: %s\n",
			is_stdin ? "standard input" : path, strerror(err));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* HTTP/1.1 over AF_UNIX                                                     */

struct kdpctl_response {
	int status;
	char reason[64];
	char *body; /* NUL-terminated */
	size_t body_len;
};

static void kdpctl_response_free(struct kdpctl_response *resp)
{
	free(resp->body);
	resp->body = NULL;
}

enum kdpctl_framing {
	KDPCTL_BODY_NONE,    /* HEAD, 1xx, 204, 304 */
	KDPCTL_BODY_LENGTH,  /* Content-Length */
	KDPCTL_BODY_CHUNKED, /* Transfer-Encoding: chunked */
	KDPCTL_BODY_EOF,     /* until the server closes */
};

/* Incremental parser for one response; fed after every read. */
struct kdpctl_http_parser {
	struct kdpctl_buf in;	/* raw bytes read so far */
	bool head_request;
	size_t body_start;	/* offset of the body in in; 0 until the head is parsed */
	enum kdpctl_framing framing;
	bool has_length;
	size_t content_length;
	size_t chunk_pos;	/* next unparsed byte of a chunked body */
	bool last_chunk;	/* saw the 0-size chunk, now reading trailers */
	struct kdpctl_buf body; /* decoded chunked body */
	int status;
	char reason[64];
};

static bool kdpctl_mem_icontains(const char *hay, size_t n, const char *needle)
{
	size_t m = strlen(needle);

	for (size_t i = 0; i + m <= n; i++)
		if (strncasecmp(hay + i, needle, m) == 0)
			return true;
	return false;
}

static bool kdpctl_header_is(const char *name, size_t n, const char *want)
{
	return n == strlen(want) && strncasecmp(name, want, n) == 0;
}

static int kdpctl_http_parse_status(struct kdpctl_http_parser *p, const char *s, size_t n)
{
	size_t rn;

	/* "HTTP/1.x SSS[ reason]" */
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || s[8] != ' ' ||
	    s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
	    s[11] < '0' || s[11] > '9' || (n > 12 && s[12] != ' '))
		return -1;
	p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	rn = n > 13 ? n - 13 : 0;
	if (rn >= sizeof(p->reason))
		rn = sizeof(p->reason) - 1;
	memcpy(p->reason, s + 13, rn);
	p->reason[rn] = '\0';
	return 0;
}

static int kdpctl_http_parse_length(struct kdpctl_http_parser *p, const char *v, size_t n)
{
	size_t len = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9' || len > (SIZE_MAX - 9) / 10)
			return -1;
		len = len * 10 + (size_t)(v[i] - '0');
	}
	if (p->has_length && p->content_length != len)
		return -1;
	p->has_length = true;
	p->content_length = len;
	return 0;
}

/* Parses the status line and headers in in[0, head_len). */
static int kdpctl_http_parse_head(struct kdpctl_http_parser *p, size_t head_len, const char **err)
{
	const char *s = p->in.data, *end = s + head_len - 2; /* last CRLF ends the head */
	bool chunked = false;

	p->has_length = false;
	for (bool first = true; s < end; first = false) {
		const char *eol = memchr(s, '\n', (size_t)(end - s));
		size_t n = (size_t)(eol - s);
		const char *colon, *v;
		size_t name_len, vn;

		if (n > 0 && s[n - 1] == '\r')
			n--;
		if (first) {
			if (kdpctl_http_parse_status(p, s, n) < 0) {
				*err = "malformed status line";
				return -1;
			}
			s = eol + 1;
			continue;
		}
		colon = memchr(s, ':', n);
		if (colon == NULL) {
			*err = "malformed header line";
			return -1;
		}
		name_len = (size_t)(colon - s);
		v = colon + 1;
		vn = n - name_len - 1;
		while (vn > 0 && (*v == ' ' || *v == '\t'))
			v++, vn--;
		while (vn > 0 && (v[vn - 1] == ' ' || v[vn - 1] == '\t'))
			vn--;
		if (kdpctl_header_is(s, name_len, "Content-Length") &&
		    kdpctl_http_parse_length(p, v, vn) < 0) {
			*err = "invalid Content-Length";
			return -1;
		}
		if (kdpctl_header_is(s, name_len, "Transfer-Encoding") &&
		    kdpctl_mem_icontains(v, vn, "chunked"))
			chunked = true;
		s = eol + 1;
	}

	if (p->head_request || p->status < 200 || p->status == 204 || p->status == 304)
		p->framing = KDPCTL_BODY_NONE;
	else if (chunked)
		p->framing = KDPCTL_BODY_CHUNKED;
	else if (p->has_length)
		p->framing = KDPCTL_BODY_LENGTH;
	else
		p->framing = KDPCTL_BODY_EOF;
	return 0;
}

/* Decodes as many chunks as have arrived. 1 done, 0 need more, -1 error. */
static int kdpctl_http_dechunk(struct kdpctl_http_parser *p, const char **err)
{
	const char *d = p->in.data;
	size_t len = p->in.len;

	for (;;) {
		size_t pos = p->chunk_pos, line_len, next, size = 0, i;
		const char *eol = memmem(d + pos, len - pos, "\r\n", 2);

		if (eol == NULL)
			return 0;
		line_len = (size_t)(eol - (d + pos));
		next = pos + line_len + 2;
		if (p->last_chunk) { /* trailers end with an empty line */
			if (line_len == 0)
				return 1;
			p->chunk_pos = next;
			continue;
		}
		for (i = 0; i < line_len; i++) { /* hex size, then optional ;ext */
			char c = d[pos + i];
			int digit = c >= '0' && c <= '9' ? c - '0' :
				    c >= 'a' && c <= 'f' ? c - 'a' + 10 :
				    c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;

			if (digit < 0)
				break;
			if (size > SIZE_MAX / 16) {
				*err = "chunk too large";
				return -1;
			}
			size = size * 16 + (size_t)digit;
		}
		if (i == 0 || (i < line_len && d[pos + i] != ';' && d[pos + i] != ' ' &&
			       d[pos + i] != '\t')) {
			*err = "malformed chunk size";
			return -1;
		}
		if (size == 0) {
			p->last_chunk = true;
			p->chunk_pos = next;
			continue;
		}
		if (len - next < 2 || len - next - 2 < size)
			return 0;
		if (d[next + size] != '\r' || d[next + size + 1] != '\n') {
			*err = "malformed chunk";
			return -1;
		}
		kdpctl_buf_append(&p->body, d + next, size);
		p->chunk_pos = next + size + 2;
	}
}

/* Advances the parser after a read. 1 complete, 0 need more, -1 error. */
static int kdpctl_http_progress(struct kdpctl_http_parser *p, bool eof, const char **err)
{
	while (p->body_start == 0) {
		const char *end = p->in.len >= 4 ? memmem(p->in.data, p->in.len, "\r\n\r\n", 4) : NULL;
		size_t head_len;

		if (end == NULL) {
			if (!eof)
				return 0;
			*err = p->in.len ? "truncated response header" : "connection closed without a response";
			return -1;
		}
		head_len = (size_t)(end - p->in.data) + 4;
		if (kdpctl_http_parse_head(p, head_len, err) < 0)
			return -1;
		if (p->status < 200) { /* interim response (100 Continue): skip it */
			memmove(p->in.data, p->in.data + head_len, p->in.len - head_len);
			p->in.len -= head_len;
			continue;
		}
		p->body_start = p->chunk_pos = head_len;
	}

	switch (p->framing) {
	case KDPCTL_BODY_NONE:
		return 1;
	case KDPCTL_BODY_LENGTH:
		if (p->in.len - p->body_start >= p->content_length)
			return 1;
		break;
	case KDPCTL_BODY_EOF:
		return eof ? 1 : 0;
	case KDPCTL_BODY_CHUNKED: {
		int r = kdpctl_http_dechunk(p, err);

		if (r != 0 || !eof)
			return r;
		if (p->last_chunk) /* tolerate a missing final empty line */
			return 1;
		break;
	}
	}
	if (!eof)
		return 0;
	*err = "truncated response body";
	return -1;
}

/* Moves the decoded response out of the parser. */
static void kdpctl_http_finish(struct kdpctl_http_parser *p, struct kdpctl_response *resp)
{
	struct kdpctl_buf body = { 0 };

	resp->status = p->status;
	memcpy(resp->reason, p->reason, sizeof(resp->reason));
	switch (p->framing) {
	case KDPCTL_BODY_NONE:
		break;
	case KDPCTL_BODY_LENGTH:
		kdpctl_buf_append(&body, p->in.data + p->body_start, p->content_length);
		break;
	case KDPCTL_BODY_EOF:
		kdpctl_buf_append(&body, p->in.data + p->body_start, p->in.len - p->body_start);
		break;
	case KDPCTL_BODY_CHUNKED:
		body = p->body;
		p->body = (struct kdpctl_buf){ 0 };
		break;
	}
	resp->body_len = body.len;
	resp->body = kdpctl_buf_take(&body);
}

static void kdpctl_connect_error(const char *path, int err)
{
	switch (err) {
	case ENOENT:
	case ECONNREFUSED:
		fprintf(stderr, "kdpctl: cannot connect to kdp at %s: is the daemon running? (%s)\n",
			path, strerror(err));
		break;
	case EACCES:
	case EPERM:
		fprintf(stderr, "kdpctl: permission denied on %s: run as root or as a member of the socket's group\n",
			path);
		break;
	default:
		fprintf(stderr, "kdpctl: cannot connect to kdp at %s: %s\n", path, strerror(err));
		break;
	}
}

static int kdpctl_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = KDPCTL_TIMEOUT_SEC };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "kdpctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "kdpctl: socket: %s\n", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		kdpctl_connect_error(path, errno);
		close(fd);
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	return fd;
}

static int kdpctl_send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Sends one request and reads the whole response. Returns 0 with *resp
 * filled in (caller frees it), or prints why and returns KDPCTL_EXIT_UNREACHABLE.
 */
static int kdpctl_http_request(const char *sock_path, const char *method, const char *path,
			       const char *body, size_t body_len, struct kdpctl_response *resp)
{
	struct kdpctl_http_parser p = { .head_request = strcmp(method, "HEAD") == 0 };
	struct kdpctl_buf req = { 0 };
	const char *err = NULL;
	int fd, send_errno = 0, r;

	fd = kdpctl_connect(sock_path);
	if (fd < 0)
		return KDPCTL_EXIT_UNREACHABLE;

	kdpctl_buf_printf(&req, "%s %s HTTP/1.1\r\nHost: kdp\r\nConnection: close\r\n"
			  "User-Agent: kdpctl\r\nAccept: application/json\r\n", method, path);
	if (body_len > 0)
		kdpctl_buf_puts(&req, "Content-Type: application/json\r\n");
	/* evhttp waits for EOF on a PUT without a length, so always send one */
	if (body_len > 0 || (strcmp(method, "GET") != 0 && !p.head_request))
		kdpctl_buf_printf(&req, "Content-Length: %zu\r\n", body_len);
	kdpctl_buf_puts(&req, "\r\n");
	/* A daemon that rejects early may close before reading everything:
	 * remember the error but still try to read its answer. */
	if (kdpctl_send_all(fd, req.data, req.len) < 0 ||
	    kdpctl_send_all(fd, body, body_len) < 0)
		send_errno = errno;
	free(req.data);

	do {
		ssize_t n;

		kdpctl_buf_reserve(&p.in, 16384);
		n = recv(fd, p.in.data + p.in.len, p.in.cap - p.in.len - 1, 0);
		if (n < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (n < 0) {
			err = errno == EAGAIN || errno == EWOULDBLOCK ? "timed out waiting for an answer" :
			      strerror(send_errno ? send_errno : errno);
			r = -1;
			break;
		}
		p.in.len += (size_t)n;
		p.in.data[p.in.len] = '\0';
		r = kdpctl_http_progress(&p, n == 0, &err);
		if (r < 0 && send_errno != 0 && p.in.len == 0)
			err = strerror(send_errno);
	} while (r == 0);
	close(fd);

	if (r > 0)
		kdpctl_http_finish(&p, resp);
	else
		fprintf(stderr, "kdpctl: bad answer from kdp at %s: %s\n", sock_path, err);
	free(p.in.data);
	free(p.body.data);
	return r > 0 ? KDPCTL_EXIT_OK : KDPCTL_EXIT_UNREACHABLE;
}

/* Percent-encodes everything but RFC 3986 unreserved characters. */
static void kdpctl_url_escape(struct kdpctl_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~')
			kdpctl_buf_append(b, s, 1);
		else
			kdpctl_buf_printf(b, "%%%02X", c);
	}
}

/* ------------------------------------------------------------------------ */
/* Formatting JSON values and tables                                         */

enum kdpctl_fmt {
	KDPCTL_FMT_PLAIN,    /* strings as-is, numbers, yes/no, lists joined with ',' */
	KDPCTL_FMT_DURATION, /* seconds as 1h2m3s */
	KDPCTL_FMT_PERCENT,  /* ratio 0..1 as 12.3 */
	KDPCTL_FMT_NSNAME,   /* {"namespace","name"} object as ns/name */
};

/* One column of a listing, or one "Key: value" line. */
struct kdpctl_column {
	const char *header;
	const char *key; /* dotted path into the row ("port.name"); NULL: the row */
	enum kdpctl_fmt fmt;
};

/* Looks up a dotted path; NULL when any part is missing. */
static json_t *kdpctl_json_path(json_t *v, const char *path)
{
	char key[64];

	if (path == NULL)
		return v;
	while (v != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		v = json_object_get(v, key);
		path += n + (path[n] == '.');
	}
	return v;
}

static void kdpctl_format_duration(struct kdpctl_buf *b, long long s)
{
	long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;

	if (s < 0)
		return; /* shown as "-" */
	if (d > 0)
		kdpctl_buf_printf(b, "%lldd%lldh%lldm%llds", d, h, m, sec);
	else if (h > 0)
		kdpctl_buf_printf(b, "%lldh%lldm%llds", h, m, sec);
	else if (m > 0)
		kdpctl_buf_printf(b, "%lldm%llds", m, sec);
	else
		kdpctl_buf_printf(b, "%llds", sec);
}

static int kdpctl_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void kdpctl_format_json(struct kdpctl_buf *b, json_t *v, enum kdpctl_fmt fmt);

/* Object as k=v pairs sorted by key, joined with ','. */
static void kdpctl_format_object(struct kdpctl_buf *b, json_t *obj)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = kdpctl_xrealloc(NULL, n * sizeof(*keys));
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val)
		keys[i++] = key;
	qsort(keys, n, sizeof(*keys), kdpctl_strcmp_p);
	for (i = 0; i < n; i++) {
		kdpctl_buf_printf(b, "%s%s=", i ? "," : "", keys[i]);
		kdpctl_format_json(b, json_object_get(obj, keys[i]), KDPCTL_FMT_PLAIN);
	}
	free(keys);
}

/* Appends the display form of v; nothing for null or missing values. */
static void kdpctl_format_json(struct kdpctl_buf *b, json_t *v, enum kdpctl_fmt fmt)
{
	size_t i;
	json_t *e;

	if (v == NULL)
		return;
	switch (json_typeof(v)) {
	case JSON_STRING:
		kdpctl_buf_puts(b, json_string_value(v));
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		if (fmt == KDPCTL_FMT_DURATION)
			kdpctl_format_duration(b, (long long)json_number_value(v));
		else if (fmt == KDPCTL_FMT_PERCENT)
			kdpctl_buf_printf(b, "%.1f", json_number_value(v) * 100.0);
		else if (json_is_integer(v))
			kdpctl_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else
			kdpctl_buf_printf(b, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		kdpctl_buf_puts(b, "yes");
		break;
	case JSON_FALSE:
		kdpctl_buf_puts(b, "no");
		break;
	case JSON_NULL:
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, e) {
			if (i > 0)
				kdpctl_buf_puts(b, ",");
			kdpctl_format_json(b, e, KDPCTL_FMT_PLAIN);
		}
		break;
	case JSON_OBJECT:
		if (fmt == KDPCTL_FMT_NSNAME) {
			const char *ns = json_string_value(json_object_get(v, "namespace"));
			const char *name = json_string_value(json_object_get(v, "name"));

			if (name != NULL)
				kdpctl_buf_printf(b, "%s%s%s", ns ? ns : "", ns ? "/" : "", name);
		} else {
			kdpctl_format_object(b, v);
		}
		break;
	}
}

/* Appends the display form of v, or "-" when it has none. */
static void kdpctl_buf_value(struct kdpctl_buf *b, json_t *v)
{
	size_t len = b->len;

	kdpctl_format_json(b, v, KDPCTL_FMT_PLAIN);
	if (b->len == len)
		kdpctl_buf_puts(b, "-");
}

/* Cells of an aligned table, row after row; a header is just the first row. */
struct kdpctl_table {
	size_t ncols;
	size_t ncells;
	size_t cap;
	char **cells;
	bool *span; /* per cell: kdpctl_table_add_span() */
};

static void kdpctl_table_push(struct kdpctl_table *t, char *s, bool span)
{
	if (t->ncells == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->cells = kdpctl_xrealloc(t->cells, t->cap * sizeof(*t->cells));
		t->span = kdpctl_xrealloc(t->span, t->cap * sizeof(*t->span));
	}
	t->span[t->ncells] = span;
	t->cells[t->ncells++] = s;
}

/* Adds the next cell, taking ownership of s; empty cells show as "-". */
static void kdpctl_table_add_owned(struct kdpctl_table *t, char *s)
{
	if (*s == '\0') {
		free(s);
		s = kdpctl_xstrdup("-");
	}
	kdpctl_table_push(t, s, false);
}

/* Adds a cell that stays empty: the continuation lines of a multi-line cell. */
static void kdpctl_table_add_blank(struct kdpctl_table *t)
{
	kdpctl_table_push(t, kdpctl_xstrdup(""), false);
}

/*
 * Adds a cell, taking ownership of s, that may run past its column: it does
 * not count for the column's width, like the text after the last tab with
 * Go's tabwriter. Meant for the last cell of a row.
 */
static void kdpctl_table_add_span(struct kdpctl_table *t, char *s)
{
	kdpctl_table_push(t, s, true);
}

static void kdpctl_table_add(struct kdpctl_table *t, const char *s)
{
	kdpctl_table_add_owned(t, kdpctl_xstrdup(s ? s : ""));
}

static void kdpctl_table_add_json(struct kdpctl_table *t, json_t *v, enum kdpctl_fmt fmt)
{
	struct kdpctl_buf b = { 0 };

	kdpctl_format_json(&b, v, fmt);
	kdpctl_table_add_owned(t, kdpctl_buf_take(&b));
}

/* Terminal columns taken by a UTF-8 string (one per code point). */
static size_t kdpctl_display_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

/* Prints the rows with every column padded to its widest cell (no trailing blanks). */
static void kdpctl_table_print(const struct kdpctl_table *t)
{
	size_t *width = kdpctl_xrealloc(NULL, t->ncols * sizeof(*width));
	size_t nrows = t->ncells / t->ncols;

	memset(width, 0, t->ncols * sizeof(*width));
	for (size_t i = 0; i < nrows * t->ncols; i++) {
		size_t w = t->span[i] ? 0 : kdpctl_display_width(t->cells[i]);

		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (size_t r = 0; r < nrows; r++) {
		char *const *row = t->cells + r * t->ncols;
		size_t last = t->ncols - 1;

		while (last > 0 && row[last][0] == '\0') /* blank cells at the end */
			last--;
		for (size_t c = 0; c <= last; c++) {
			size_t w = kdpctl_display_width(row[c]);

			fputs(row[c], stdout);
			if (c < last) /* a span cell can be wider than its column */
				printf("%*s", (int)(width[c] > w ? width[c] - w + 3 : 3), "");
		}
		putchar('\n');
	}
	free(width);
}

static void kdpctl_table_free(struct kdpctl_table *t)
{
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->span);
	t->cells = NULL;
	t->span = NULL;
	t->ncells = t->cap = 0;
}

/* Prints an array of objects as a table with a header row. */
static void kdpctl_print_rows(json_t *rows, const struct kdpctl_column *cols, size_t ncols)
{
	struct kdpctl_table t = { .ncols = ncols };
	size_t i, c;
	json_t *row;

	for (c = 0; c < ncols; c++)
		kdpctl_table_add(&t, cols[c].header);
	json_array_foreach(rows, i, row)
		for (c = 0; c < ncols; c++)
			kdpctl_table_add_json(&t, kdpctl_json_path(row, cols[c].key), cols[c].fmt);
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);
}

/* Adds "Key:  value" lines for fields of obj to a two-column table. */
static void kdpctl_add_fields(struct kdpctl_table *t, json_t *obj,
			      const struct kdpctl_column *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kdpctl_table_add(t, fields[i].header);
		kdpctl_table_add_json(t, kdpctl_json_path(obj, fields[i].key), fields[i].fmt);
	}
}

static void kdpctl_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s != NULL)
		puts(s);
	free(s);
}

/* ------------------------------------------------------------------------ */
/* Requests shared by the commands                                           */

struct kdpctl_command;

struct kdpctl_opts {
	const struct kdpctl_command *cmd;
	const char *socket;
	const char *file;
	const char *output;	/* -o FORMAT, as given */
	const char *proto;	/* ct/nat list --proto, as given */
	const char *ip;		/* ct/nat list --ip, as given */
	struct in_addr ip_addr; /* ... and parsed */
	bool json;
	bool all;
	bool wide;		/* -o wide */
	bool help;
	char **args; /* positional arguments after the command words */
	size_t nargs;
};

static json_t *kdpctl_parse_body(const struct kdpctl_response *resp)
{
	return resp->body_len ? json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, NULL) : NULL;
}

static void kdpctl_print_error(const struct kdpctl_response *resp)
{
	json_t *v = kdpctl_parse_body(resp);
	const char *msg = json_string_value(json_object_get(v, "error"));
	size_t n = resp->body_len;

	while (n > 0 && (resp->body[n - 1] == '\n' || resp->body[n - 1] == '\r'))
		n--;
	if (msg != NULL)
		fprintf(stderr, "Error: %s (HTTP %d)\n", msg, resp->status);
	else if (n > 0 && v == NULL) /* not JSON: show the text */
		fprintf(stderr, "Error: %.*s (HTTP %d)\n", (int)n, resp->body, resp->status);
	else
		fprintf(stderr, "Error: %s (HTTP %d)\n",
			resp->reason[0] ? resp->reason : "request failed", resp->status);
	json_decref(v);
}

/* One request; 0 on a 2xx answer (caller frees *resp), else the exit code. */
static int kdpctl_call(const struct kdpctl_opts *o, const char *method, const char *path,
		       const char *body, size_t body_len, struct kdpctl_response *resp)
{
	int rc = kdpctl_http_request(o->socket, method, path, body, body_len, resp);

	if (rc != KDPCTL_EXIT_OK)
		return rc;
	if (resp->status >= 200 && resp->status < 300)
		return KDPCTL_EXIT_OK;
	kdpctl_print_error(resp);
	kdpctl_response_free(resp);
	return KDPCTL_EXIT_API;
}

/*
 * GETs path. With --json prints the body and leaves *out NULL; otherwise
 * returns the body in *out (caller decrefs), checked to be of the given type.
 */
static int kdpctl_get(const struct kdpctl_opts *o, const char *path, json_type type, json_t **out)
{
	struct kdpctl_response resp;
	json_t *v;
	int rc;

	*out = NULL;
	rc = kdpctl_call(o, "GET", path, NULL, 0, &resp);
	if (rc != KDPCTL_EXIT_OK)
		return rc;
	v = kdpctl_parse_body(&resp);
	if (v == NULL || (!o->json && json_typeof(v) != type)) {
		fprintf(stderr, "kdpctl: unexpected answer from kdp to GET %s\n", path);
		rc = KDPCTL_EXIT_API;
	} else if (o->json) {
		kdpctl_print_json(v);
	} else {
		*out = json_incref(v);
	}
	json_decref(v);
	kdpctl_response_free(&resp);
	return rc;
}

/* Reads -f FILE and checks that it is JSON, so mistakes get a line number. */
static int kdpctl_read_json_file(const char *path, struct kdpctl_buf *out)
{
	json_error_t jerr;
	json_t *v;

	if (kdpctl_read_file(path, out) < 0)
		return -1;
	v = json_loadb(out->data ? out->data : "", out->len, 0, &jerr);
	if (v == NULL) {
		fprintf(stderr, "kdpctl: %s: invalid JSON at line %d, column %d: %s\n",
			strcmp(path, "-") ? path : "standard input", jerr.line, jerr.column, jerr.text);
		return -1;
	}
	json_decref(v);
	return 0;
}

/*
 * PUT (body from -f FILE, checked to be JSON when check_json) or DELETE;
 * prints the daemon's "message" or OK.
 */
static int kdpctl_change_body(const struct kdpctl_opts *o, const char *method, const char *path,
			      bool check_json)
{
	struct kdpctl_buf body = { 0 };
	struct kdpctl_response resp;
	const char *msg;
	json_t *v;
	int rc;

	if (o->file != NULL &&
	    (check_json ? kdpctl_read_json_file(o->file, &body) : kdpctl_read_file(o->file, &body)) < 0) {
		free(body.data);
		return KDPCTL_EXIT_USAGE;
	}
	rc = kdpctl_call(o, method, path, body.data, body.len, &resp);
	free(body.data);
	if (rc != KDPCTL_EXIT_OK)
		return rc;
	v = kdpctl_parse_body(&resp);
	msg = json_string_value(json_object_get(v, "message"));
	if (o->json && v != NULL)
		kdpctl_print_json(v);
	else if (!o->json)
		puts(msg ? msg : "OK");
	json_decref(v);
	kdpctl_response_free(&resp);
	return KDPCTL_EXIT_OK;
}

/* PUT (JSON body from -f FILE) or DELETE; prints the daemon's "message" or OK. */
static int kdpctl_change(const struct kdpctl_opts *o, const char *method, const char *path)
{
	return kdpctl_change_body(o, method, path, true);
}

static int kdpctl_usage_error(const struct kdpctl_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------------ */
/* Commands                                                                  */

static int cmd_status(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column node_fields[] = {
		{ "Node:", "node", KDPCTL_FMT_PLAIN },
		{ "Version:", "version", KDPCTL_FMT_PLAIN },
		{ "Uptime:", "uptimeSeconds", KDPCTL_FMT_DURATION },
		{ "Node IP:", "nodeIP", KDPCTL_FMT_PLAIN },
		{ "Gateway:", "gateway", KDPCTL_FMT_PLAIN },
		{ "Pod gateway:", "podGateway", KDPCTL_FMT_PLAIN },
		{ "MAC:", "mac", KDPCTL_FMT_PLAIN },
		{ "Native routing CIDR:", "nativeRoutingCIDR", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column count_fields[] = {
		{ "Nodes:", "counts.nodes", KDPCTL_FMT_PLAIN },
		{ "Endpoints:", "counts.endpoints", KDPCTL_FMT_PLAIN },
		{ "Routes:", "counts.routes", KDPCTL_FMT_PLAIN },
		{ "Neighbours:", "counts.neighbours", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column port_cols[] = {
		{ "ID", "id", KDPCTL_FMT_PLAIN },
		{ "NAME", "name", KDPCTL_FMT_PLAIN },
		{ "ROLE", "role", KDPCTL_FMT_PLAIN },
		{ "ENDPOINT", "endpoint", KDPCTL_FMT_NSNAME },
		{ "STATE", "state", KDPCTL_FMT_PLAIN },
		{ "RX-PACKETS", "rxPackets", KDPCTL_FMT_PLAIN },
		{ "TX-PACKETS", "txPackets", KDPCTL_FMT_PLAIN },
		{ "RX-MISSED", "rxMissed", KDPCTL_FMT_PLAIN },
	};
	struct kdpctl_table t = { .ncols = 2 };
	struct kdpctl_buf workers = { 0 };
	const char *mode;
	json_t *st, *ports;
	int rc = kdpctl_get(o, "/v1/status", JSON_OBJECT, &st);

	if (st == NULL)
		return rc;
	kdpctl_add_fields(&t, st, node_fields, ARRAY_SIZE(node_fields));
	kdpctl_format_json(&workers, json_object_get(st, "workers"), KDPCTL_FMT_PLAIN);
	mode = json_string_value(json_object_get(st, "pollMode"));
	if (workers.len > 0 && mode != NULL)
		kdpctl_buf_printf(&workers, " (%s)", mode);
	kdpctl_table_add(&t, "Workers:");
	kdpctl_table_add_owned(&t, kdpctl_buf_take(&workers));
	kdpctl_add_fields(&t, st, count_fields, ARRAY_SIZE(count_fields));
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);

	ports = json_object_get(st, "ports");
	if (json_is_array(ports)) {
		putchar('\n');
		kdpctl_print_rows(ports, port_cols, ARRAY_SIZE(port_cols));
	}
	json_decref(st);
	return KDPCTL_EXIT_OK;
}

/* GETs a collection and prints it as a table. */
static int kdpctl_list(const struct kdpctl_opts *o, const char *path,
		       const struct kdpctl_column *cols, size_t ncols)
{
	json_t *rows;
	int rc = kdpctl_get(o, path, JSON_ARRAY, &rows);

	if (rows != NULL) {
		kdpctl_print_rows(rows, cols, ncols);
		json_decref(rows);
	}
	return rc;
}

static int cmd_node_list(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "NAME", "name", KDPCTL_FMT_PLAIN },
		{ "IP", "ip", KDPCTL_FMT_PLAIN },
		{ "POD-CIDRS", "podCIDRs", KDPCTL_FMT_PLAIN },
		{ "LOCAL", "local", KDPCTL_FMT_PLAIN },
	};

	return kdpctl_list(o, "/v1/nodes", cols, ARRAY_SIZE(cols));
}

static int cmd_endpoint_list(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "ENDPOINT", NULL, KDPCTL_FMT_NSNAME },
		{ "IPV4", "ip", KDPCTL_FMT_PLAIN },
		{ "MAC", "mac", KDPCTL_FMT_PLAIN },
		{ "PORT", "port.name", KDPCTL_FMT_PLAIN },
		{ "STATE", "port.state", KDPCTL_FMT_PLAIN },
		{ "LABELS", "labels", KDPCTL_FMT_PLAIN },
	};

	return kdpctl_list(o, "/v1/endpoints", cols, ARRAY_SIZE(cols));
}

static int cmd_route_list(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "PREFIX", "prefix", KDPCTL_FMT_PLAIN },
		{ "TYPE", "type", KDPCTL_FMT_PLAIN },
		{ "NEXTHOP", "nexthop", KDPCTL_FMT_PLAIN },
		{ "PORT", "port", KDPCTL_FMT_PLAIN },
		{ "TARGET", "target", KDPCTL_FMT_PLAIN },
	};

	return kdpctl_list(o, "/v1/routes", cols, ARRAY_SIZE(cols));
}

static int cmd_neigh_list(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "IP", "ip", KDPCTL_FMT_PLAIN },
		{ "MAC", "mac", KDPCTL_FMT_PLAIN },
		{ "STATE", "state", KDPCTL_FMT_PLAIN },
		{ "PORT", "port", KDPCTL_FMT_PLAIN },
		{ "AGE", "ageSeconds", KDPCTL_FMT_DURATION },
	};

	return kdpctl_list(o, "/v1/neighbours", cols, ARRAY_SIZE(cols));
}

/*
 * "0:5 1:1 2-3:0 4-7:0 8-15:0 16+:0": SNAT port picks by extra tries, bucket
 * i > 0 counting 2^(i-1) to 2^i - 1 of them, the last one open-ended.
 */
static char *kdpctl_format_retries(json_t *hist)
{
	struct kdpctl_buf b = { 0 };
	size_t n = json_array_size(hist), i;
	json_t *v;

	json_array_foreach(hist, i, v) {
		unsigned long long lo, hi;

		if (i >= 64)
			break;
		lo = i == 0 ? 0 : 1ULL << (i - 1);
		hi = i == 0 ? 0 : (1ULL << i) - 1;
		if (i > 0)
			kdpctl_buf_puts(&b, " ");
		if (i > 0 && i == n - 1)
			kdpctl_buf_printf(&b, "%llu+:", lo);
		else if (lo == hi)
			kdpctl_buf_printf(&b, "%llu:", lo);
		else
			kdpctl_buf_printf(&b, "%llu-%llu:", lo, hi);
		kdpctl_buf_value(&b, v);
	}
	return kdpctl_buf_take(&b);
}

static int cmd_stats(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column total_fields[] = {
		{ "RX packets:", "totals.rxPackets", KDPCTL_FMT_PLAIN },
		{ "RX bytes:", "totals.rxBytes", KDPCTL_FMT_PLAIN },
		{ "TX packets:", "totals.txPackets", KDPCTL_FMT_PLAIN },
		{ "TX bytes:", "totals.txBytes", KDPCTL_FMT_PLAIN },
		{ "Dropped:", "totals.dropped", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column nat_fields[] = {
		{ "Masqueraded flows:", "masqueradedFlows", KDPCTL_FMT_PLAIN },
		{ "Masqueraded packets:", "masqueradedPackets", KDPCTL_FMT_PLAIN },
		{ "Left unmasqueraded:", "leftUnmasqueraded", KDPCTL_FMT_PLAIN },
		{ "Port exhausted:", "portExhausted", KDPCTL_FMT_PLAIN },
	};
	static const struct kdpctl_column worker_cols[] = {
		{ "WORKER", "id", KDPCTL_FMT_PLAIN },
		{ "LCORE", "lcore", KDPCTL_FMT_PLAIN },
		{ "RX", "rxPackets", KDPCTL_FMT_PLAIN },
		{ "TX", "txPackets", KDPCTL_FMT_PLAIN },
		{ "DROPPED", "dropped", KDPCTL_FMT_PLAIN },
		{ "BUSY%", "busyRatio", KDPCTL_FMT_PERCENT },
	};
	static const struct kdpctl_column drop_cols[] = {
		{ "REASON", "reason", KDPCTL_FMT_PLAIN },
		{ "STAGE", "stage", KDPCTL_FMT_PLAIN },
		{ "PACKETS", "packets", KDPCTL_FMT_PLAIN },
	};
	struct kdpctl_table t = { .ncols = 2 };
	json_t *stats, *nat, *drops, *shown, *row;
	size_t i;
	int rc = kdpctl_get(o, "/v1/stats", JSON_OBJECT, &stats);

	if (stats == NULL)
		return rc;
	kdpctl_add_fields(&t, stats, total_fields, ARRAY_SIZE(total_fields));
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);

	/* masquerade counters; older daemons do not send them */
	nat = json_object_get(stats, "nat");
	if (json_is_object(nat)) {
		puts("\nNAT");
		kdpctl_add_fields(&t, nat, nat_fields, ARRAY_SIZE(nat_fields));
		kdpctl_table_add(&t, "Port retries:");
		kdpctl_table_add_owned(&t, kdpctl_format_retries(json_object_get(nat, "portRetryHistogram")));
		kdpctl_table_print(&t);
		kdpctl_table_free(&t);
	}

	putchar('\n');
	kdpctl_print_rows(json_object_get(stats, "workers"), worker_cols, ARRAY_SIZE(worker_cols));

	/* drop reasons that never fired are noise unless --all */
	drops = json_object_get(stats, "drops");
	shown = json_array();
	json_array_foreach(drops, i, row)
		if (o->all || json_integer_value(json_object_get(row, "packets")) > 0)
			json_array_append(shown, row);
	putchar('\n');
	kdpctl_print_rows(shown, drop_cols, ARRAY_SIZE(drop_cols));
	json_decref(shown);
	json_decref(stats);
	return KDPCTL_EXIT_OK;
}

static int cmd_apply(const struct kdpctl_opts *o)
{
	return kdpctl_change(o, "PUT", "/v1/state");
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
	rc = kdpctl_change(o, method, path.data);
	free(path.data);
	return rc;
}

static int cmd_node_put(const struct kdpctl_opts *o)
{
	return kdpctl_node_change(o, "PUT");
}

static int cmd_node_delete(const struct kdpctl_opts *o)
{
	return kdpctl_node_change(o, "DELETE");
}

/*
 * Builds PREFIX + NS/NAME (escaped) from the NAMESPACE/NAME argument into
 * *path (caller frees). 0, or prints why and returns exit code 2.
 */
static int kdpctl_nsname_path(const struct kdpctl_opts *o, const char *prefix, const char *what,
			      struct kdpctl_buf *path)
{
	const char *ref = o->args[0], *slash = strchr(ref, '/');
	char *ns;

	if (slash == NULL || slash == ref || slash[1] == '\0' || strchr(slash + 1, '/') != NULL)
		return kdpctl_usage_error(o, "%s must be NAMESPACE/NAME, got '%s'", what, ref);
	ns = strndup(ref, (size_t)(slash - ref));
	if (ns == NULL)
		kdpctl_oom();
	kdpctl_buf_puts(path, prefix);
	kdpctl_url_escape(path, ns);
	kdpctl_buf_puts(path, "/");
	kdpctl_url_escape(path, slash + 1);
	free(ns);
	return 0;
}

/* PUT or DELETE PREFIX/NS/NAME */
static int kdpctl_nsname_change(const struct kdpctl_opts *o, const char *method,
				const char *prefix, const char *what)
{
	struct kdpctl_buf path = { 0 };
	int rc = kdpctl_nsname_path(o, prefix, what, &path);

	if (rc == 0)
		rc = kdpctl_change(o, method, path.data);
	free(path.data);
	return rc;
}

static int cmd_endpoint_put(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "PUT", "/v1/endpoints/", "endpoint");
}

static int cmd_endpoint_delete(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "DELETE", "/v1/endpoints/", "endpoint");
}

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
 * one next to the frontend; an empty Backend cell when there is none.
 */
static void kdpctl_print_frontends(json_t *services, bool wide)
{
	static const struct kdpctl_column fe_cols[] = {
		{ "ID", "id", KDPCTL_FMT_PLAIN },
		{ "Frontend", "frontend", KDPCTL_FMT_PLAIN },
		{ "Service Type", "type", KDPCTL_FMT_PLAIN },
		{ "Service", "service", KDPCTL_FMT_PLAIN },	/* -o wide */
		{ "Algorithm", "algorithm", KDPCTL_FMT_PLAIN }, /* -o wide */
	};
	size_t ncols = wide ? ARRAY_SIZE(fe_cols) : 3, nfes = 0, cap = 0, i, j, c;
	struct kdpctl_table t = { .ncols = ncols + 1 };
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

	for (c = 0; c < ncols; c++)
		kdpctl_table_add(&t, fe_cols[c].header);
	kdpctl_table_add(&t, "Backend");
	for (i = 0; i < nfes; i++) {
		json_t *bes = json_object_get(fes[i], "backends");

		for (c = 0; c < ncols; c++)
			kdpctl_table_add_json(&t, json_object_get(fes[i], fe_cols[c].key),
					      fe_cols[c].fmt);
		if (json_array_size(bes) == 0)
			kdpctl_table_add_blank(&t);
		json_array_foreach(bes, j, be) {
			struct kdpctl_buf b = { 0 };
			const char *state = json_string_value(json_object_get(be, "state"));

			for (c = 0; j > 0 && c < ncols; c++)
				kdpctl_table_add_blank(&t);
			kdpctl_buf_printf(&b, "%zu => ", j + 1);
			kdpctl_buf_value(&b, json_object_get(be, "address"));
			if (state != NULL)
				kdpctl_buf_printf(&b, " (%s)", state);
			kdpctl_table_add_owned(&t, kdpctl_buf_take(&b));
		}
	}
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);
	free(fes);
}

static int cmd_service_list(const struct kdpctl_opts *o)
{
	json_t *svcs;
	int rc = kdpctl_get(o, "/v1/services", JSON_ARRAY, &svcs);

	if (svcs != NULL) {
		kdpctl_print_frontends(svcs, o->wide);
		json_decref(svcs);
	}
	return rc;
}

/* Adds a "Key:" row per line of a multi-line value ("-" when there is none). */
static void kdpctl_add_lines(struct kdpctl_table *t, const char *key, char **lines, size_t n)
{
	if (n == 0) {
		kdpctl_table_add(t, key);
		kdpctl_table_add(t, "");
	}
	for (size_t i = 0; i < n; i++) {
		if (i == 0)
			kdpctl_table_add(t, key);
		else
			kdpctl_table_add_blank(t);
		kdpctl_table_add_owned(t, lines[i]);
	}
}

/* "http 80/TCP -> 8080 (nodePort 30080)" per port. */
static void kdpctl_add_service_ports(struct kdpctl_table *t, json_t *ports)
{
	size_t n = json_array_size(ports), i;
	char **lines = kdpctl_xrealloc(NULL, n * sizeof(*lines));
	json_t *p;

	json_array_foreach(ports, i, p) {
		struct kdpctl_buf b = { 0 };
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *node_port = json_object_get(p, "nodePort");

		if (name != NULL && name[0] != '\0')
			kdpctl_buf_printf(&b, "%s ", name);
		kdpctl_format_json(&b, json_object_get(p, "port"), KDPCTL_FMT_PLAIN);
		kdpctl_buf_puts(&b, "/");
		kdpctl_format_json(&b, json_object_get(p, "protocol"), KDPCTL_FMT_PLAIN);
		kdpctl_buf_puts(&b, " -> ");
		kdpctl_format_json(&b, json_object_get(p, "targetPort"), KDPCTL_FMT_PLAIN);
		if (node_port != NULL && !json_is_null(node_port)) {
			kdpctl_buf_puts(&b, " (nodePort ");
			kdpctl_format_json(&b, node_port, KDPCTL_FMT_PLAIN);
			kdpctl_buf_puts(&b, ")");
		}
		lines[i] = kdpctl_buf_take(&b);
	}
	kdpctl_add_lines(t, "Ports:", lines, n);
	free(lines);
}

/* "172.20.0.130[:8080] (active)" per backend. */
static void kdpctl_add_service_backends(struct kdpctl_table *t, json_t *bes)
{
	size_t n = json_array_size(bes), i;
	char **lines = kdpctl_xrealloc(NULL, n * sizeof(*lines));
	json_t *be;

	json_array_foreach(bes, i, be) {
		struct kdpctl_buf b = { 0 };
		json_t *port = json_object_get(be, "port");
		const char *state = json_string_value(json_object_get(be, "state"));

		kdpctl_format_json(&b, json_object_get(be, "ip"), KDPCTL_FMT_PLAIN);
		if (port != NULL && !json_is_null(port)) {
			kdpctl_buf_puts(&b, ":");
			kdpctl_format_json(&b, port, KDPCTL_FMT_PLAIN);
		}
		if (state != NULL)
			kdpctl_buf_printf(&b, " (%s)", state);
		lines[i] = kdpctl_buf_take(&b);
	}
	kdpctl_add_lines(t, "Backends:", lines, n);
	free(lines);
}

static int cmd_service_get(const struct kdpctl_opts *o)
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
	kdpctl_add_service_ports(&t, json_object_get(svc, "ports"));
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
	kdpctl_add_service_backends(&t, json_object_get(svc, "backends"));
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);

	putchar('\n');
	one = json_pack("[O]", svc);
	kdpctl_print_frontends(one, false);
	json_decref(one);
	json_decref(svc);
	return KDPCTL_EXIT_OK;
}

static int cmd_service_put(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "PUT", "/v1/services/", "service");
}

static int cmd_service_delete(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "DELETE", "/v1/services/", "service");
}

/* ---- conntrack ---- */

/* "SRC -> DST" of a {"src","dst"} tuple. */
static void kdpctl_format_tuple(struct kdpctl_buf *b, json_t *tuple)
{
	kdpctl_buf_value(b, json_object_get(tuple, "src"));
	kdpctl_buf_puts(b, " -> ");
	kdpctl_buf_value(b, json_object_get(tuple, "dst"));
}

/* Whether "A.B.C.D[:PORT]" s (may be NULL) is the address ip. */
static bool kdpctl_addr_is(const char *s, const struct in_addr *ip)
{
	const char *colon;
	struct in_addr a;
	char addr[INET_ADDRSTRLEN];
	size_t n;

	if (s == NULL)
		return false;
	colon = strrchr(s, ':');
	n = colon ? (size_t)(colon - s) : strlen(s);
	if (n >= sizeof(addr))
		return false;
	memcpy(addr, s, n);
	addr[n] = '\0';
	return inet_pton(AF_INET, addr, &a) == 1 && a.s_addr == ip->s_addr;
}

/*
 * --proto and --ip of ct/nat list: whether the flow has the protocol and,
 * at one of the dotted paths keys, the address.
 */
static bool kdpctl_flow_matches(const struct kdpctl_opts *o, json_t *flow,
				const char *const *keys, size_t nkeys)
{
	const char *proto = json_string_value(json_object_get(flow, "protocol"));

	if (o->proto != NULL && (proto == NULL || strcasecmp(proto, o->proto) != 0))
		return false;
	if (o->ip == NULL)
		return true;
	for (size_t i = 0; i < nkeys; i++)
		if (kdpctl_addr_is(json_string_value(kdpctl_json_path(flow, keys[i])), &o->ip_addr))
			return true;
	return false;
}

/* One line per flow, in the spirit of cilium-dbg bpf ct list global. */
static void kdpctl_print_flow(json_t *flow)
{
	static const struct kdpctl_column counters[] = {
		{ " TxPackets=", "txPackets", KDPCTL_FMT_PLAIN },
		{ " TxBytes=", "txBytes", KDPCTL_FMT_PLAIN },
		{ " RxPackets=", "rxPackets", KDPCTL_FMT_PLAIN },
		{ " RxBytes=", "rxBytes", KDPCTL_FMT_PLAIN },
		{ " State=", "state", KDPCTL_FMT_PLAIN },
	};
	struct kdpctl_buf b = { 0 };
	json_t *expires = json_object_get(flow, "expiresInSeconds"), *flag, *reply;
	json_int_t svc_id = json_integer_value(json_object_get(flow, "serviceId"));
	size_t i;

	kdpctl_buf_value(&b, json_object_get(flow, "protocol"));
	kdpctl_buf_puts(&b, " OUT ");
	kdpctl_format_tuple(&b, json_object_get(flow, "original"));
	kdpctl_buf_puts(&b, " expires=");
	kdpctl_buf_value(&b, expires);
	if (json_is_number(expires))
		kdpctl_buf_puts(&b, "s");
	for (i = 0; i < ARRAY_SIZE(counters); i++) {
		kdpctl_buf_puts(&b, counters[i].header);
		kdpctl_buf_value(&b, json_object_get(flow, counters[i].key));
	}
	kdpctl_buf_puts(&b, " Flags=[");
	json_array_foreach(json_object_get(flow, "flags"), i, flag) {
		if (i > 0)
			kdpctl_buf_puts(&b, " ");
		kdpctl_format_json(&b, flag, KDPCTL_FMT_PLAIN);
	}
	kdpctl_buf_puts(&b, "]");
	if (svc_id != 0)
		kdpctl_buf_printf(&b, " RevNAT=%" JSON_INTEGER_FORMAT, svc_id);
	reply = json_object_get(flow, "reply");
	if (json_is_object(reply)) {
		kdpctl_buf_puts(&b, " Reply=");
		kdpctl_format_tuple(&b, reply);
	}
	puts(b.data);
	free(b.data);
}

static int cmd_ct_list(const struct kdpctl_opts *o)
{
	static const char *const addrs[] = { "original.src", "original.dst", "reply.src", "reply.dst" };
	struct kdpctl_opts get = *o;
	struct kdpctl_buf sum = { 0 };
	json_t *ct, *shown, *flow;
	size_t i;
	int rc;

	if (o->json && o->proto == NULL && o->ip == NULL)
		return kdpctl_get(o, "/v1/ct", JSON_OBJECT, &ct); /* prints it as is */
	get.json = false; /* filter first, then print */
	rc = kdpctl_get(&get, "/v1/ct", JSON_OBJECT, &ct);
	if (ct == NULL)
		return rc;
	shown = json_array();
	json_array_foreach(json_object_get(ct, "flows"), i, flow)
		if (kdpctl_flow_matches(o, flow, addrs, ARRAY_SIZE(addrs)))
			json_array_append(shown, flow);
	if (o->json) {
		json_object_set(ct, "flows", shown);
		kdpctl_print_json(ct);
	} else {
		json_array_foreach(shown, i, flow)
			kdpctl_print_flow(flow);
		kdpctl_buf_value(&sum, json_object_get(ct, "entries"));
		kdpctl_buf_puts(&sum, " entries (capacity ");
		kdpctl_buf_value(&sum, json_object_get(ct, "capacity"));
		kdpctl_buf_puts(&sum, "), GC: ");
		kdpctl_buf_value(&sum, json_object_get(ct, "gcRuns"));
		kdpctl_buf_puts(&sum, " runs, ");
		kdpctl_buf_value(&sum, json_object_get(ct, "gcRemoved"));
		kdpctl_buf_puts(&sum, " removed");
		puts(sum.data);
		free(sum.data);
	}
	json_decref(shown);
	json_decref(ct);
	return KDPCTL_EXIT_OK;
}

/* ---- NAT ---- */

/* One line per translation, as cilium-dbg bpf nat list. */
static void kdpctl_print_nat(json_t *e)
{
	struct kdpctl_buf b = { 0 };
	json_t *age = json_object_get(e, "ageSeconds");

	kdpctl_buf_value(&b, json_object_get(e, "protocol"));
	kdpctl_buf_puts(&b, " ");
	kdpctl_buf_value(&b, json_object_get(e, "direction"));
	kdpctl_buf_puts(&b, " ");
	kdpctl_format_tuple(&b, e);
	kdpctl_buf_puts(&b, " ");
	kdpctl_buf_value(&b, json_object_get(e, "xlate"));
	kdpctl_buf_puts(&b, " ");
	kdpctl_buf_value(&b, json_object_get(e, "to"));
	kdpctl_buf_puts(&b, " Created=");
	kdpctl_buf_value(&b, age);
	if (json_is_number(age))
		kdpctl_buf_puts(&b, "sec ago");
	kdpctl_buf_puts(&b, " NeedsCT=1"); /* kdp's translations live in conntrack */
	puts(b.data);
	free(b.data);
}

static int cmd_nat_list(const struct kdpctl_opts *o)
{
	static const char *const addrs[] = { "src", "dst", "to" };
	struct kdpctl_opts get = *o;
	json_t *nat, *shown, *e;
	size_t i;
	int rc;

	if (o->json && o->proto == NULL && o->ip == NULL)
		return kdpctl_get(o, "/v1/nat", JSON_ARRAY, &nat); /* prints it as is */
	get.json = false; /* filter first, then print */
	rc = kdpctl_get(&get, "/v1/nat", JSON_ARRAY, &nat);
	if (nat == NULL)
		return rc;
	shown = json_array();
	json_array_foreach(nat, i, e)
		if (kdpctl_flow_matches(o, e, addrs, ARRAY_SIZE(addrs)))
			json_array_append(shown, e);
	if (o->json) {
		kdpctl_print_json(shown);
	} else {
		json_array_foreach(shown, i, e)
			kdpctl_print_nat(e);
	}
	json_decref(shown);
	json_decref(nat);
	return KDPCTL_EXIT_OK;
}

/* ---- ip-masq-agent ---- */

static int cmd_ipmasq_list(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "IP PREFIX/ADDRESS", "prefix", KDPCTL_FMT_PLAIN },
		{ "REASON", "reason", KDPCTL_FMT_PLAIN }, /* -o wide */
	};
	const char *file_err;
	json_t *im;
	int rc = kdpctl_get(o, "/v1/ipmasq", JSON_OBJECT, &im);

	if (im == NULL)
		return rc;
	kdpctl_print_rows(json_object_get(im, "nonMasquerade"), cols, o->wide ? 2 : 1);
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

static int cmd_ipmasq_get(const struct kdpctl_opts *o)
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

static int cmd_ipmasq_put(const struct kdpctl_opts *o)
{
	/* the agent's file as is, JSON or YAML: the daemon parses both */
	return kdpctl_change_body(o, "PUT", "/v1/ipmasq", false);
}

static int cmd_ipmasq_delete(const struct kdpctl_opts *o)
{
	return kdpctl_change(o, "DELETE", "/v1/ipmasq");
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

	kdpctl_table_add(&t, "LRP namespace");
	kdpctl_table_add(&t, "LRP name");
	kdpctl_table_add(&t, "FrontendType");
	kdpctl_table_add(&t, "Matching Service");
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

static int cmd_lrp_list(const struct kdpctl_opts *o)
{
	json_t *lrps;
	int rc = kdpctl_get(o, "/v1/lrp", JSON_ARRAY, &lrps);

	if (lrps != NULL) {
		kdpctl_print_lrps(lrps);
		json_decref(lrps);
	}
	return rc;
}

/* "dns 53/UDP" per port of toPorts. */
static void kdpctl_add_lrp_ports(struct kdpctl_table *t, json_t *ports)
{
	size_t n = json_array_size(ports), i;
	char **lines = kdpctl_xrealloc(NULL, n * sizeof(*lines));
	json_t *p;

	json_array_foreach(ports, i, p) {
		struct kdpctl_buf b = { 0 };
		const char *name = json_string_value(json_object_get(p, "name"));
		json_t *proto = json_object_get(p, "protocol");

		if (name != NULL && name[0] != '\0')
			kdpctl_buf_printf(&b, "%s ", name);
		kdpctl_buf_value(&b, json_object_get(p, "port"));
		if (proto != NULL && !json_is_null(proto)) {
			kdpctl_buf_puts(&b, "/");
			kdpctl_format_json(&b, proto, KDPCTL_FMT_PLAIN);
		}
		lines[i] = kdpctl_buf_take(&b);
	}
	kdpctl_add_lines(t, "To ports:", lines, n);
	free(lines);
}

/* "172.20.1.13:53/UDP (kube-system/node-local-dns-abc)" per backend. */
static void kdpctl_add_lrp_backends(struct kdpctl_table *t, json_t *bes)
{
	size_t n = json_array_size(bes), i;
	char **lines = kdpctl_xrealloc(NULL, n * sizeof(*lines));
	json_t *be;

	json_array_foreach(bes, i, be) {
		struct kdpctl_buf b = { 0 };

		kdpctl_format_lrp_backend(&b, be, " ");
		lines[i] = kdpctl_buf_take(&b);
	}
	kdpctl_add_lines(t, "Backends:", lines, n);
	free(lines);
}

static int cmd_lrp_get(const struct kdpctl_opts *o)
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
	kdpctl_add_lrp_ports(&t, json_object_get(matcher, "toPorts"));
	kdpctl_table_add(&t, "Active:");
	kdpctl_table_add_json(&t, json_object_get(lrp, "active"), KDPCTL_FMT_PLAIN);
	kdpctl_add_lrp_backends(&t, json_object_get(lrp, "backends"));
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);

	putchar('\n');
	one = json_pack("[O]", lrp);
	kdpctl_print_lrps(one);
	json_decref(one);
	json_decref(lrp);
	return KDPCTL_EXIT_OK;
}

static int cmd_lrp_put(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "PUT", "/v1/lrp/", "local redirect policy");
}

static int cmd_lrp_delete(const struct kdpctl_opts *o)
{
	return kdpctl_nsname_change(o, "DELETE", "/v1/lrp/", "local redirect policy");
}

/* Any request; prints the body as received (pretty-printed with --json). */
static int cmd_raw(const struct kdpctl_opts *o)
{
	const char *path = o->args[1];
	struct kdpctl_buf body = { 0 };
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
	if (o->file != NULL && kdpctl_read_file(o->file, &body) < 0) {
		free(body.data);
		return KDPCTL_EXIT_USAGE;
	}

	rc = kdpctl_call(o, method, path, body.data, body.len, &resp);
	free(body.data);
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

/* ------------------------------------------------------------------------ */
/* Command line                                                              */

enum kdpctl_file_opt { KDPCTL_FILE_NO, KDPCTL_FILE_OPTIONAL, KDPCTL_FILE_REQUIRED };

/* Options only some commands take. */
enum kdpctl_cmd_opt {
	KDPCTL_OPT_ALL = 1 << 0,       /* --all */
	KDPCTL_OPT_WIDE = 1 << 1,      /* -o wide */
	KDPCTL_OPT_CT_FILTER = 1 << 2, /* --proto, --ip */
};

struct kdpctl_command {
	const char *name;     /* the words that select it: "node put" */
	const char *args;     /* its positional arguments, for help: "NAME" */
	size_t nargs;
	enum kdpctl_file_opt file;
	unsigned int opts;    /* KDPCTL_OPT_* it accepts */
	const char *summary;
	const char *request;  /* the API call it makes, for help */
	int (*run)(const struct kdpctl_opts *o);
	const char *notes;    /* more help text, or NULL */
	const char *wide;     /* with KDPCTL_OPT_WIDE: what -o wide adds, for help */
};

static const struct kdpctl_command kdpctl_commands[] = {
	{ "status", NULL, 0, KDPCTL_FILE_NO, 0,
	  "Show the node, its ports and table sizes", "GET /v1/status", cmd_status, NULL },
	{ "node list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List nodes and their pod CIDRs", "GET /v1/nodes", cmd_node_list, NULL },
	{ "node put", "NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace a node", "PUT /v1/nodes/NAME", cmd_node_put, NULL },
	{ "node delete", "NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete a node", "DELETE /v1/nodes/NAME", cmd_node_delete, NULL },
	{ "endpoint list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List local endpoints (pods)", "GET /v1/endpoints", cmd_endpoint_list, NULL },
	{ "endpoint put", "NS/NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace an endpoint", "PUT /v1/endpoints/NS/NAME", cmd_endpoint_put, NULL },
	{ "endpoint delete", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete an endpoint", "DELETE /v1/endpoints/NS/NAME", cmd_endpoint_delete, NULL },
	{ "service list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_WIDE,
	  "List service frontends and their backends", "GET /v1/services", cmd_service_list,
	  "One row per frontend, sorted by ID, with one line per backend\n"
	  "(\"N => ADDRESS (state)\"); a frontend without backends has an empty Backend.\n",
	  "also show each frontend's service and algorithm" },
	{ "service get", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Show a service and its frontends", "GET /v1/services/NS/NAME", cmd_service_get, NULL },
	{ "service put", "NS/NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace a service", "PUT /v1/services/NS/NAME", cmd_service_put, NULL },
	{ "service delete", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete a service", "DELETE /v1/services/NS/NAME", cmd_service_delete, NULL },
	{ "route list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List the routing table", "GET /v1/routes", cmd_route_list, NULL },
	{ "neigh list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List the neighbour (ARP) table", "GET /v1/neighbours", cmd_neigh_list, NULL },
	{ "ct list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_CT_FILTER,
	  "List connection-tracking flows", "GET /v1/ct", cmd_ct_list,
	  "One line per flow (original tuple, counters, state, flags, RevNAT=service ID,\n"
	  "reply tuple), then the table's size and garbage-collection counters.\n"
	  "With --json the filters apply to the \"flows\" array; the counters are the table's.\n" },
	{ "nat list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_CT_FILTER,
	  "List masquerade (SNAT) translations", "GET /v1/nat", cmd_nat_list,
	  "Two lines per masqueraded flow, as cilium-dbg bpf nat list: OUT, the pod's\n"
	  "source rewritten to the node (XLATE_SRC), and IN, the reply's destination\n"
	  "given back to the pod (XLATE_DST). --ip matches any address of a line.\n"
	  "With --json the filters apply to the array.\n" },
	{ "ipmasq list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_WIDE,
	  "List destinations exempt from masquerade", "GET /v1/ipmasq", cmd_ipmasq_list,
	  "One prefix per line, as cilium-dbg bpf ipmasq list: the cluster's own ranges\n"
	  "and those of the ip-masq-agent config. REASON is one of config,\n"
	  "native-routing-cidr, node-ip, link-local, default-reserved. A problem with the\n"
	  "watched config file is printed on standard error (the last good config stays).\n",
	  "also show why each prefix is there (REASON)" },
	{ "ipmasq get", NULL, 0, KDPCTL_FILE_NO, 0,
	  "Show the ip-masq-agent config", "GET /v1/ipmasq", cmd_ipmasq_get,
	  "\"none\": no config (the agent is off), only the native routing CIDR and the\n"
	  "node IPs are exempt; \"empty\": the reserved ranges (RFC 1918 and others) are.\n" },
	{ "ipmasq put", NULL, 0, KDPCTL_FILE_REQUIRED, 0,
	  "Set the ip-masq-agent config", "PUT /v1/ipmasq", cmd_ipmasq_put,
	  "FILE is the agent's config file as is, YAML or JSON (nonMasqueradeCIDRs,\n"
	  "masqLinkLocal, masqLinkLocalIPv6); the daemon checks it and says what is wrong\n"
	  "(exit status 1). An empty FILE is an empty config: the reserved ranges.\n" },
	{ "ipmasq delete", NULL, 0, KDPCTL_FILE_NO, 0,
	  "Remove the ip-masq-agent config", "DELETE /v1/ipmasq", cmd_ipmasq_delete, NULL },
	{ "lrp list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List local redirect policies", "GET /v1/lrp", cmd_lrp_list,
	  "As cilium-dbg lrp list: a line per policy, then one per frontend with the local\n"
	  "backends of its protocol (\"FRONTEND -> BACKEND(ENDPOINT), ...\"); a frontend\n"
	  "without one keeps the service's own backends.\n" },
	{ "lrp get", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Show a local redirect policy", "GET /v1/lrp/NS/NAME", cmd_lrp_get, NULL },
	{ "lrp put", "NS/NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace a local redirect policy", "PUT /v1/lrp/NS/NAME", cmd_lrp_put, NULL },
	{ "lrp delete", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete a local redirect policy", "DELETE /v1/lrp/NS/NAME", cmd_lrp_delete, NULL },
	{ "stats", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_ALL,
	  "Show packet, masquerade and drop counters", "GET /v1/stats", cmd_stats,
	  "Port retries: SNAT port picks by how many extra ports were tried.\n" },
	{ "apply", NULL, 0, KDPCTL_FILE_REQUIRED, 0,
	  "Replace the whole desired state", "PUT /v1/state", cmd_apply, NULL },
	{ "monitor", "[FILTERS] [-n N]", 0, KDPCTL_FILE_NO, 0,
	  "Stream flow events (hubble observe)", "GET /v1/monitor", kdpctl_monitor_cmd, NULL },
	{ "raw", "METHOD PATH", 2, KDPCTL_FILE_OPTIONAL, 0,
	  "Send any request and print the response body", "METHOD PATH", cmd_raw, NULL },
};

static const char kdpctl_common_options[] =
	"  -s, --socket PATH   control socket (default: $KDP_SOCKET, else " KDPCTL_DEFAULT_SOCKET ")\n"
	"      --json          print the daemon's JSON answer instead of tables\n"
	"  -h, --help          show help; after a command, that command's help\n";

/* Help lines of the options only some commands take. */
static const char kdpctl_all_help[] =
	"      --all           also list drop reasons with no packets\n";
static const char kdpctl_ct_filter_help[] =
	"      --proto PROTO   only flows of protocol PROTO: tcp, udp or icmp\n"
	"      --ip ADDR       only flows with IPv4 address ADDR (in either direction)\n";

/* "node put NAME -f FILE" */
static void kdpctl_synopsis(struct kdpctl_buf *b, const struct kdpctl_command *c)
{
	kdpctl_buf_puts(b, c->name);
	if (c->args != NULL)
		kdpctl_buf_printf(b, " %s", c->args);
	if (c->file == KDPCTL_FILE_REQUIRED)
		kdpctl_buf_puts(b, " -f FILE");
	else if (c->file == KDPCTL_FILE_OPTIONAL)
		kdpctl_buf_puts(b, " [-f FILE]");
	if (c->opts & KDPCTL_OPT_ALL)
		kdpctl_buf_puts(b, " [--all]");
	if (c->opts & KDPCTL_OPT_WIDE)
		kdpctl_buf_puts(b, " [-o wide]");
	if (c->opts & KDPCTL_OPT_CT_FILTER)
		kdpctl_buf_puts(b, " [--proto P] [--ip IP]");
}

static void kdpctl_usage(FILE *out)
{
	fputs("Usage: kdpctl [-s|--socket PATH] [--json] [-h|--help] COMMAND\n\n"
	      "Inspect and configure the kdp dataplane through its control socket.\n\n"
	      "Commands:\n", out);
	for (size_t i = 0; i < ARRAY_SIZE(kdpctl_commands); i++) {
		struct kdpctl_buf b = { 0 };

		kdpctl_synopsis(&b, &kdpctl_commands[i]);
		fprintf(out, "  %-32s %s\n", b.data, kdpctl_commands[i].summary);
		free(b.data);
	}
	fprintf(out, "\nOptions:\n%s  -f, --file FILE     request body: JSON (ipmasq put: the agent's YAML or JSON);\n"
		"                      - reads standard input\n"
		"  -o, --output wide   more columns (", kdpctl_common_options);
	for (size_t i = 0, n = 0; i < ARRAY_SIZE(kdpctl_commands); i++)
		if (kdpctl_commands[i].opts & KDPCTL_OPT_WIDE)
			fprintf(out, "%s%s", n++ ? ", " : "", kdpctl_commands[i].name);
	fprintf(out, ")\n%s%s\n"
		"Exit status: 0 success, 1 the daemon answered with an error, 2 usage error,\n"
		"3 cannot reach the daemon.\n", kdpctl_ct_filter_help, kdpctl_all_help);
}

static void kdpctl_command_usage(FILE *out, const struct kdpctl_command *c)
{
	struct kdpctl_buf b = { 0 };

	kdpctl_synopsis(&b, c);
	fprintf(out, "Usage: kdpctl [-s PATH] [--json] %s\n\n%s (%s).\n",
		b.data, c->summary, c->request);
	if (c->notes != NULL)
		fprintf(out, "%s", c->notes);
	fputs("\nOptions:\n", out);
	if (c->file != KDPCTL_FILE_NO)
		fputs("  -f, --file FILE     request body; - reads standard input\n", out);
	if (c->opts & KDPCTL_OPT_ALL)
		fputs(kdpctl_all_help, out);
	if (c->opts & KDPCTL_OPT_WIDE)
		fprintf(out, "  -o, --output wide   %s\n", c->wide ? c->wide : "show more columns");
	if (c->opts & KDPCTL_OPT_CT_FILTER)
		fputs(kdpctl_ct_filter_help, out);
	fputs(kdpctl_common_options, out);
	free(b.data);
}

/* Prints the message and the relevant usage on stderr; returns exit code 2. */
static int kdpctl_usage_error(const struct kdpctl_opts *o, const char *fmt, ...)
{
	va_list ap;

	fputs("kdpctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	if (o->cmd != NULL)
		kdpctl_command_usage(stderr, o->cmd);
	else
		kdpctl_usage(stderr);
	return KDPCTL_EXIT_USAGE;
}

/*
 * Matches an option that takes a value ("-s X", "--socket X", "--socket=X");
 * short_name may be NULL.
 * Returns 1 if matched, 0 if not this option, -1 if its value is missing.
 */
static int kdpctl_opt_value(int argc, char **argv, int *i, const char *short_name,
			    const char *long_name, const char **value)
{
	const char *a = argv[*i];
	size_t n = strlen(long_name);

	if (strncmp(a, long_name, n) == 0 && a[n] == '=') {
		*value = a + n + 1;
		return 1;
	}
	if ((short_name == NULL || strcmp(a, short_name) != 0) && strcmp(a, long_name) != 0)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

/* Splits argv into options (accepted anywhere) and positional words. */
static int kdpctl_parse_args(int argc, char **argv, struct kdpctl_opts *o, char **pos, size_t *npos)
{
	bool only_positional = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;

		if (only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
			pos[(*npos)++] = argv[i];
		} else if (strcmp(a, "--") == 0) {
			only_positional = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o->help = true;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "--all") == 0) {
			o->all = true;
		} else if ((r = kdpctl_opt_value(argc, argv, &i, "-s", "--socket", &o->socket)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, "-f", "--file", &o->file)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, "-o", "--output", &o->output)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, NULL, "--proto", &o->proto)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, NULL, "--ip", &o->ip)) != 0) {
			if (r < 0)
				return kdpctl_usage_error(o, "option '%s' needs a value", a);
		} else {
			return kdpctl_usage_error(o, "unknown option '%s'", a);
		}
	}
	return 0;
}

/* Finds the command named by the first positional words; sets *nwords. */
static const struct kdpctl_command *kdpctl_find_command(char **pos, size_t npos, size_t *nwords)
{
	for (size_t i = 0; i < ARRAY_SIZE(kdpctl_commands); i++) {
		const char *name = kdpctl_commands[i].name;
		size_t w = 0;

		while (*name != '\0' && w < npos) {
			size_t n = strcspn(name, " ");

			if (strlen(pos[w]) != n || strncmp(pos[w], name, n) != 0)
				break;
			name += n + (name[n] == ' ');
			w++;
		}
		if (*name == '\0') {
			*nwords = w;
			return &kdpctl_commands[i];
		}
	}
	return NULL;
}

/* Picks the command and checks its arguments; 0 or exit code 2. */
static int kdpctl_check_command(struct kdpctl_opts *o, char **pos, size_t npos)
{
	size_t nwords = 0;

	o->cmd = kdpctl_find_command(pos, npos, &nwords);
	if (o->cmd == NULL) {
		if (npos == 0)
			return kdpctl_usage_error(o, "missing command");
		for (size_t i = 0; i < ARRAY_SIZE(kdpctl_commands); i++) {
			const char *name = kdpctl_commands[i].name;
			size_t n = strcspn(name, " ");

			if (name[n] == ' ' && strlen(pos[0]) == n && strncmp(pos[0], name, n) == 0)
				return npos == 1 ? kdpctl_usage_error(o, "'%s' needs a subcommand", pos[0])
						 : kdpctl_usage_error(o, "unknown command '%s %s'", pos[0], pos[1]);
		}
		return kdpctl_usage_error(o, "unknown command '%s'", pos[0]);
	}
	o->args = pos + nwords;
	o->nargs = npos - nwords;
	if (o->nargs != o->cmd->nargs) {
		if (o->cmd->nargs == 0)
			return kdpctl_usage_error(o, "unexpected argument '%s'", o->args[0]);
		return kdpctl_usage_error(o, "'%s' takes %s", o->cmd->name, o->cmd->args);
	}
	if (o->cmd->file == KDPCTL_FILE_REQUIRED && o->file == NULL)
		return kdpctl_usage_error(o, "'%s' needs -f FILE", o->cmd->name);
	if (o->cmd->file == KDPCTL_FILE_NO && o->file != NULL)
		return kdpctl_usage_error(o, "'%s' does not take -f", o->cmd->name);
	if (!(o->cmd->opts & KDPCTL_OPT_ALL) && o->all)
		return kdpctl_usage_error(o, "'%s' does not take --all", o->cmd->name);
	if (!(o->cmd->opts & KDPCTL_OPT_WIDE) && o->output != NULL)
		return kdpctl_usage_error(o, "'%s' does not take -o", o->cmd->name);
	if (o->output != NULL && strcmp(o->output, "wide") != 0)
		return kdpctl_usage_error(o, "unknown output format '%s' (only 'wide'; --json prints JSON)",
					  o->output);
	o->wide = o->output != NULL;
	if (!(o->cmd->opts & KDPCTL_OPT_CT_FILTER) && (o->proto != NULL || o->ip != NULL))
		return kdpctl_usage_error(o, "'%s' does not take %s", o->cmd->name,
					  o->proto != NULL ? "--proto" : "--ip");
	if (o->proto != NULL && strcasecmp(o->proto, "tcp") != 0 &&
	    strcasecmp(o->proto, "udp") != 0 && strcasecmp(o->proto, "icmp") != 0)
		return kdpctl_usage_error(o, "--proto must be tcp, udp or icmp, got '%s'", o->proto);
	if (o->ip != NULL && inet_pton(AF_INET, o->ip, &o->ip_addr) != 1)
		return kdpctl_usage_error(o, "--ip needs an IPv4 address (A.B.C.D), got '%s'", o->ip);
	if (o->file != NULL && o->file[0] == '\0')
		return kdpctl_usage_error(o, "-f needs a file name (or - for standard input)");
	return 0;
}

int main(int argc, char **argv)
{
	struct kdpctl_opts o = { 0 };
	char **pos = kdpctl_xrealloc(NULL, (size_t)argc * sizeof(*pos));
	size_t npos = 0;
	int rc;

	o.socket = getenv("KDP_SOCKET");
	if (o.socket == NULL || o.socket[0] == '\0')
		o.socket = KDPCTL_DEFAULT_SOCKET;

	if ((rc = kdpctl_monitor_main(argc, argv, o.socket)) >= 0) {
		free(pos);
		return rc;
	}
	rc = kdpctl_parse_args(argc, argv, &o, pos, &npos);
	if (rc == 0 && o.help) {
		size_t nwords;

		o.cmd = kdpctl_find_command(pos, npos, &nwords);
		if (o.cmd != NULL)
			kdpctl_command_usage(stdout, o.cmd);
		else
			kdpctl_usage(stdout);
	} else if (rc == 0 && (rc = kdpctl_check_command(&o, pos, npos)) == 0) {
		if (o.socket[0] == '\0')
			rc = kdpctl_usage_error(&o, "the socket path must not be empty");
		else
			rc = o.cmd->run(&o);
	}
	free(pos);
	if (fflush(stdout) != 0 && rc == KDPCTL_EXIT_OK) {
		fprintf(stderr, "kdpctl: writing output: %s\n", strerror(errno));
		rc = KDPCTL_EXIT_API;
	}
	return rc;
}

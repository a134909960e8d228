/*
 * kdpctl: HTTP/1.1 over the daemon's Unix socket, and the API requests the
 * commands make (GET a listing, PUT or DELETE an object, report errors).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "kdpctl.h"

/* ------------------------------------------------------------------------ */
/* HTTP/1.1 over AF_UNIX                                                     */

void kdpctl_response_free(struct kdpctl_response *resp)
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

int kdpctl_connect(const char *path, bool quiet)
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
		if (!quiet)
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
 * filled in (caller frees it), or prints why and returns KDPCTL_EXIT_UNREACHABLE
 * (cannot connect) or KDPCTL_EXIT_BAD_ANSWER (no complete HTTP answer).
 */
static int kdpctl_http_request(const char *sock_path, const char *method, const char *path,
			       const char *body, size_t body_len, bool quiet,
			       struct kdpctl_response *resp)
{
	struct kdpctl_http_parser p = { .head_request = strcmp(method, "HEAD") == 0 };
	struct kdpctl_buf req = { 0 };
	const char *err = NULL;
	int fd, send_errno = 0, r;

	fd = kdpctl_connect(sock_path, quiet);
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
	else if (!quiet)
		fprintf(stderr, "kdpctl: bad answer from kdp at %s: %s\n", sock_path, err);
	free(p.in.data);
	free(p.body.data);
	return r > 0 ? KDPCTL_EXIT_OK : KDPCTL_EXIT_BAD_ANSWER;
}

void kdpctl_url_escape(struct kdpctl_buf *b, const char *s)
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
/* Requests shared by the commands                                           */

json_t *kdpctl_parse_body(const struct kdpctl_response *resp)
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

int kdpctl_call(const struct kdpctl_opts *o, const char *method, const char *path,
		const char *body, size_t body_len, struct kdpctl_response *resp)
{
	int rc = kdpctl_http_request(o->socket, method, path, body, body_len, false, resp);

	if (rc != KDPCTL_EXIT_OK)
		return rc;
	if (resp->status >= 200 && resp->status < 300)
		return KDPCTL_EXIT_OK;
	kdpctl_print_error(resp);
	kdpctl_response_free(resp);
	return KDPCTL_EXIT_API;
}

json_t *kdpctl_try_get(const struct kdpctl_opts *o, const char *path)
{
	struct kdpctl_response resp;
	json_t *v = NULL;

	if (kdpctl_http_request(o->socket, "GET", path, NULL, 0, true, &resp) != KDPCTL_EXIT_OK)
		return NULL;
	if (resp.status == 200)
		v = kdpctl_parse_body(&resp);
	kdpctl_response_free(&resp);
	return v;
}

int kdpctl_get(const struct kdpctl_opts *o, const char *path, json_type type, json_t **out)
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
		fprintf(stderr, "kdpctl: unexpected answer from kdp at %s to GET %s\n", o->socket,
			path);
		rc = KDPCTL_EXIT_BAD_ANSWER;
	} else if (o->json) {
		kdpctl_print_json(v);
	} else {
		*out = json_incref(v);
	}
	json_decref(v);
	kdpctl_response_free(&resp);
	return rc;
}

int kdpctl_read_json_file(const char *path, struct kdpctl_buf *out)
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

int kdpctl_send_file(const struct kdpctl_opts *o, const char *method, const char *path,
		     bool check_json, struct kdpctl_response *resp)
{
	struct kdpctl_buf body = { 0 };
	int rc;

	if (o->file != NULL &&
	    (check_json ? kdpctl_read_json_file(o->file, &body) : kdpctl_read_file(o->file, &body)) < 0) {
		free(body.data);
		return KDPCTL_EXIT_USAGE;
	}
	rc = kdpctl_call(o, method, path, body.data, body.len, resp);
	free(body.data);
	return rc;
}

int kdpctl_change_body(const struct kdpctl_opts *o, const char *method, const char *path,
		       bool check_json)
{
	struct kdpctl_response resp;
	const char *msg;
	json_t *v;
	int rc = kdpctl_send_file(o, method, path, check_json, &resp);

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

int kdpctl_nsname_path(const struct kdpctl_opts *o, const char *prefix, const char *what,
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

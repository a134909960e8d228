/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Every answer of the API is JSON, also those libevent gives itself without
 * calling kdp: a body over the size limit (413, refused once the head is
 * read: the body is never buffered), a malformed request (400), and the
 * like. libevent 2.1 has no hook for them, so each connection's output
 * buffer carries a callback that sees what libevent writes: its error page
 * (evhttp_send_error's fixed HTML) is replaced, as it is added and before
 * it is sent, by {"error": "..."} with the same status. Any other output is
 * left alone; the callback looks only at the bytes just added.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>

#include <jansson.h>

#include "kdp_api.h"

/* The start of evhttp_send_error's page ("<HTML><HEAD>\n<TITLE>%d %s</TITLE>
 * ...</BODY></HTML>\n"); kdp's own answers are JSON and never hold it. */
#define PAGE_START "<HTML><HEAD>\n<TITLE>"
#define PAGE_END "</BODY></HTML>\n"
#define HEAD_MAX 4096 /* libevent's error answer heads are short */

static bool rewriting;

static const char *why(int code, uint32_t max_body, char *buf, size_t len)
{
	switch (code) {
	case 413:
		snprintf(buf, len, "body: larger than maxBodyBytes (%u bytes)", max_body);
		return buf;
	case 400:
		return "malformed request (request line, headers or chunked body)";
	case 501:
		return "method not implemented";
	case 417:
		return "Expect: only 100-continue is understood";
	default:
		snprintf(buf, len, "request refused (HTTP %d)", code);
		return buf;
	}
}

/* The answer whose head is @p head (up to its blank line) with a JSON body
 * for its status, into @p out. */
static void json_answer(const char *head, size_t hl, uint32_t max_body, struct evbuffer *out)
{
	char msg[128], *body;
	const char *eol = memchr(head, '\n', hl), *p;
	int code = 0;
	json_t *j;

	sscanf(head, "HTTP/1.%*d %d", &code);
	j = json_pack("{s:s}", "error", why(code, max_body, msg, sizeof(msg)));
	body = json_dumps(j, JSON_INDENT(2));
	json_decref(j);
	/* The status line, the headers but the body's, then the JSON's. */
	evbuffer_add(out, head, (size_t)(eol - head + 1));
	for (p = eol + 1; p < head + hl - 2;) {
		const char *e = memchr(p, '\n', (size_t)(head + hl - p));

		if (e == NULL)
			break;
		if (strncasecmp(p, "Content-Type:", 13) != 0 && strncasecmp(p, "Content-Length:", 15) != 0)
			evbuffer_add(out, p, (size_t)(e - p + 1));
		p = e + 1;
	}
	evbuffer_add_printf(out, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s\n",
			    strlen(body ? body : "") + 1, body ? body : "");
	free(body);
}

static void on_output(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
	struct evbuffer_ptr from, page, end;
	size_t len = evbuffer_get_length(buf), start, hs;
	char *all;

	if (rewriting || info->n_added == 0 || info->orig_size >= len)
		return;
	if (evbuffer_ptr_set(buf, &from, info->orig_size, EVBUFFER_PTR_SET) != 0)
		return;
	page = evbuffer_search(buf, PAGE_START, strlen(PAGE_START), &from);
	if (page.pos < 0)
		return;
	end = evbuffer_search(buf, PAGE_END, strlen(PAGE_END), &page);
	if (end.pos < 0 || (size_t)end.pos + strlen(PAGE_END) != len)
		return;
	/* The page ends the buffer; its head is just before it. */
	all = malloc(len);
	if (all == NULL || evbuffer_copyout(buf, all, len) != (ev_ssize_t)len) {
		free(all);
		return;
	}
	start = (size_t)page.pos > HEAD_MAX ? (size_t)page.pos - HEAD_MAX : 0;
	hs = (size_t)-1;
	for (size_t i = start; i + 9 <= (size_t)page.pos; i++)
		if ((i == 0 || all[i - 1] == '\n') && strncmp(all + i, "HTTP/1.", 7) == 0)
			hs = i;
	if (hs != (size_t)-1 && page.pos >= 4 && memcmp(all + page.pos - 4, "\r\n\r\n", 4) == 0) {
		rewriting = true;
		evbuffer_drain(buf, len);
		evbuffer_add(buf, all, hs); /* earlier answers, still unsent */
		json_answer(all + hs, (size_t)page.pos - hs, *(const uint32_t *)arg, buf);
		rewriting = false;
	}
	free(all);
}

static struct bufferevent *guarded_bev(struct event_base *base, void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (bev != NULL)
		evbuffer_add_cb(bufferevent_get_output(bev), on_output, arg);
	return bev;
}

void kdp_api_guard_install(struct evhttp *http, const uint32_t *max_body)
{
	evhttp_set_bevcb(http, guarded_bev, (void *)max_body);
}

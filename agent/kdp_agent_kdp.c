/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-agent: requests to kdp's control socket (HTTP/1.1 over a Unix socket,
 * one kept-alive connection), and the lock file it shares with kdp-cni:
 * kdp-cni holds it shared while it adds or removes an endpoint, the agent
 * exclusively while it rewrites endpoints (their labels, a whole state), so
 * neither undoes the other's work.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kdp_agent.h"

struct kdp_agent_kdp {
	CURL *h;
	char path[4096];
	int lock_fd;
	struct kdp_agent_buf in;
	char errbuf[CURL_ERROR_SIZE];
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	kdp_agent_buf_add(arg, p, size * n);
	return size * n;
}

struct kdp_agent_kdp *kdp_agent_kdp_new(const char *path, const char *lock_path)
{
	struct kdp_agent_kdp *c = calloc(1, sizeof(*c));

	if (c == NULL)
		kdp_agent_oom();
	snprintf(c->path, sizeof(c->path), "%s", path);
	c->lock_fd = -1;
	if (lock_path != NULL && lock_path[0] != '\0') {
		c->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (c->lock_fd < 0)
			kdp_agent_log(KDP_AGENT_WARN,
				      "lock file %s: %s: endpoint updates will not wait for kdp-cni",
				      lock_path, strerror(errno));
	}
	c->h = curl_easy_init();
	if (c->h == NULL)
		kdp_agent_oom();
	return c;
}

void kdp_agent_kdp_free(struct kdp_agent_kdp *c)
{
	if (c == NULL)
		return;
	curl_easy_cleanup(c->h);
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	kdp_agent_buf_free(&c->in);
	free(c);
}

void kdp_agent_kdp_lock(struct kdp_agent_kdp *c, bool on)
{
	if (c->lock_fd < 0)
		return;
	while (flock(c->lock_fd, on ? LOCK_EX : LOCK_UN) != 0 && errno == EINTR)
		;
}

const char *kdp_agent_kdp_error(const json_t *answer)
{
	const char *e = json_string_value(json_object_get(answer, "error"));

	return e ? e : "";
}

int kdp_agent_kdp_call(struct kdp_agent_kdp *c, const char *method, const char *path,
		       const char *body, size_t len, long *code, json_t **out, char *err)
{
	char url[1024];
	struct curl_slist *hdrs = NULL;
	CURLcode res;

	if (out != NULL)
		*out = NULL;
	*code = 0;
	c->in.len = 0;
	snprintf(url, sizeof(url), "http://kdp%s", path);
	curl_easy_reset(c->h);
	curl_easy_setopt(c->h, CURLOPT_UNIX_SOCKET_PATH, c->path);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT, 2L);
	/* a PUT of a large state takes a second or so on a small machine */
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->in);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(c->h, CURLOPT_USERAGENT, "kdp-agent/" KDP_VERSION);
	if (body != NULL) {
		hdrs = curl_slist_append(NULL, "Content-Type: application/json");
		/* no "Expect: 100-continue" round trip for large bodies */
		hdrs = curl_slist_append(hdrs, "Expect:");
		curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, hdrs);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	c->errbuf[0] = '\0';
	res = curl_easy_perform(c->h);
	curl_slist_free_all(hdrs);
	if (res != CURLE_OK) {
		snprintf(err, KDP_AGENT_ERR_LEN, "kdp socket %s: %s", c->path,
			 c->errbuf[0] ? c->errbuf : curl_easy_strerror(res));
		return -1;
	}
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, code);
	if (out != NULL && c->in.len > 0)
		*out = json_loadb(c->in.data, c->in.len, 0, NULL);
	err[0] = '\0';
	return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* kdp-agent: logging, buffers, clocks, files. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "kdp_agent.h"

enum kdp_agent_level kdp_agent_log_level = KDP_AGENT_INFO;

void kdp_agent_log(enum kdp_agent_level lvl, const char *fmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	char ts[32], line[4096];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (lvl > kdp_agent_log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	/* One write per line, so lines of concurrent writers do not mix. */
	fprintf(stderr, "%s.%06ldZ %-5s %s\n", ts, now.tv_nsec / 1000, names[lvl], line);
}

double kdp_agent_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void kdp_agent_oom(void)
{
	fputs("kdp-agent: out of memory\n", stderr);
	abort();
}

void kdp_agent_buf_add(struct kdp_agent_buf *b, const void *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (d == NULL)
			kdp_agent_oom();
		b->data = d;
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void kdp_agent_buf_consume(struct kdp_agent_buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
	} else {
		memmove(b->data, b->data + n, b->len - n);
		b->len -= n;
	}
	if (b->data != NULL)
		b->data[b->len] = '\0';
}

void kdp_agent_buf_free(struct kdp_agent_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

int kdp_agent_read_file(const char *path, struct kdp_agent_buf *out)
{
	char chunk[8192];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	out->len = 0;
	if (fd < 0)
		return -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0) {
			int e = errno;
			if (e == EINTR)
				continue;
			close(fd);
			return -e;
		}
		kdp_agent_buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	kdp_agent_buf_add(out, "", 0);
	return 0;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* kdp-cni: one HTTP/1.1 request over kdp's control socket (Connection:
 * close, the answer read to the end), and the lock file shared with
 * kdp-agent. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "kdp_cni.h"

#define TIMEOUT_MS 10000

static int fail(char *err, const char *sock, const char *what, int e)
{
	snprintf(err, KDP_CNI_ERR_LEN, "kdp control socket %s: %s: %s", sock, what, strerror(e));
	return -1;
}

static long ms_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 + (end->tv_nsec - now.tv_nsec) / 1000000;
}

int kdp_cni_kdp_call(const char *sock, const char *method, const char *path, const char *body,
		     long *code, json_t **out, char *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t blen = body ? strlen(body) : 0, have = 0, cap = 0, sent = 0, reqlen;
	struct timespec end;
	char *buf = NULL, *req, *hdr_end, *p;
	int fd, n;

	*code = 0;
	if (out != NULL)
		*out = NULL;
	if (strlen(sock) >= sizeof(sa.sun_path))
		return fail(err, sock, "path", ENAMETOOLONG);
	strcpy(sa.sun_path, sock);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(err, sock, "socket", errno);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		close(fd);
		return fail(err, sock, "connect", e);
	}
	reqlen = strlen(method) + strlen(path) + blen + 200;
	req = malloc(reqlen);
	if (req == NULL) {
		close(fd);
		return fail(err, sock, "request", ENOMEM);
	}
	n = snprintf(req, reqlen,
		     "%s %s HTTP/1.1\r\nHost: kdp\r\nUser-Agent: kdp-cni\r\nConnection: close\r\n"
		     "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
		     method, path, blen);
	memcpy(req + n, body ? body : "", blen);
	reqlen = (size_t)n + blen;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += TIMEOUT_MS / 1000;
	for (;;) {
		struct pollfd pfd = {fd, sent < reqlen ? POLLOUT : POLLIN, 0};
		long left = ms_left(&end);
		ssize_t r;

		if (left <= 0) {
			free(req);
			free(buf);
			close(fd);
			return fail(err, sock, "no answer", ETIMEDOUT);
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (sent < reqlen) {
			r = send(fd, req + sent, reqlen - sent, MSG_NOSIGNAL);
			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				int e = errno;
				free(req);
				free(buf);
				close(fd);
				return fail(err, sock, "send", e);
			}
			if (r > 0)
				sent += (size_t)r;
			continue;
		}
		if (have + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 16384;
			p = realloc(buf, cap);
			if (p == NULL) {
				free(req);
				free(buf);
				close(fd);
				return fail(err, sock, "answer", ENOMEM);
			}
			buf = p;
		}
		r = recv(fd, buf + have, cap - have - 1, 0);
		if (r == 0)
			break;
		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			int e = errno;
			free(req);
			free(buf);
			close(fd);
			return fail(err, sock, "recv", e);
		}
		have += (size_t)r;
	}
	free(req);
	close(fd);
	if (buf == NULL || have < 12 || strncmp(buf, "HTTP/1.", 7) != 0) {
		free(buf);
		snprintf(err, KDP_CNI_ERR_LEN, "kdp control socket %s: not an HTTP answer", sock);
		return -1;
	}
	buf[have] = '\0';
	*code = strtol(buf + 9, NULL, 10);
	hdr_end = strstr(buf, "\r\n\r\n");
	if (out != NULL && hdr_end != NULL && hdr_end[4] != '\0')
		*out = json_loads(hdr_end + 4, 0, NULL);
	free(buf);
	return 0;
}

int kdp_cni_lock(const char *path)
{
	int fd;

	if (path == NULL || path[0] == '\0')
		return -1;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	while (flock(fd, LOCK_SH) != 0)
		if (errno != EINTR) {
			close(fd);
			return -1;
		}
	return fd;
}

void kdp_cni_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* drops the lock */
}

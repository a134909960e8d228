/* SPDX-License-Identifier: BSD-3-Clause */
/* kdp-cni: running a delegated plugin (the IPAM one) as the CNI spec says:
 * found in CNI_PATH, the same environment with its own CNI_COMMAND, the
 * network configuration on standard input, the result on standard output. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kdp_cni.h"

extern char **environ;

/* The plugin's path: the first executable @p type in CNI_PATH. */
static int find(const char *type, char *out, size_t len, char *err)
{
	const char *path = getenv("CNI_PATH");
	char *copy, *dir, *save = NULL;

	if (type[0] == '\0' || strchr(type, '/') != NULL || strcmp(type, "..") == 0) {
		snprintf(err, KDP_CNI_ERR_LEN, "plugin type '%s' is not a plain name", type);
		return -1;
	}
	if (path == NULL || path[0] == '\0') {
		snprintf(err, KDP_CNI_ERR_LEN, "CNI_PATH is not set: cannot find the %s plugin", type);
		return -1;
	}
	copy = strdup(path);
	if (copy == NULL)
		return -1;
	for (dir = strtok_r(copy, ":", &save); dir != NULL; dir = strtok_r(NULL, ":", &save)) {
		struct stat st;
		snprintf(out, len, "%s/%s", dir, type);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode) && access(out, X_OK) == 0) {
			free(copy);
			return 0;
		}
	}
	free(copy);
	snprintf(err, KDP_CNI_ERR_LEN, "no %s plugin in CNI_PATH %s", type, path);
	return -1;
}

int kdp_cni_exec_plugin(const char *type, const char *command, const char *conf, char **out,
			char *err)
{
	char path[PATH_MAX], cmd[64];
	int in[2], outp[2], status;
	size_t have = 0, cap = 4096, sent = 0, len = strlen(conf);
	char *buf;
	pid_t pid;

	*out = NULL;
	if (find(type, path, sizeof(path), err) != 0)
		return -1;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(outp, O_CLOEXEC) != 0) {
		snprintf(err, KDP_CNI_ERR_LEN, "pipe: %s", strerror(errno));
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "%s", command);
	pid = fork();
	if (pid < 0) {
		snprintf(err, KDP_CNI_ERR_LEN, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		char *argv[] = {path, NULL};

		const char *args = getenv("CNI_ARGS");

		dup2(in[0], 0);
		dup2(outp[1], 1);
		setenv("CNI_COMMAND", cmd, 1);
		/* K8S_POD_* are for kdp-cni: the IPAM plugin must not refuse
		 * them (kubelet always sends IgnoreUnknown=1; others may not) */
		if (args != NULL && args[0] != '\0' && strstr(args, "IgnoreUnknown=") == NULL) {
			char *more = malloc(strlen(args) + 20);
			if (more != NULL) {
				sprintf(more, "IgnoreUnknown=1;%s", args);
				setenv("CNI_ARGS", more, 1);
			}
		}
		execve(path, argv, environ);
		_exit(127);
	}
	close(in[0]);
	close(outp[1]);
	buf = malloc(cap);
	if (buf == NULL) {
		close(in[1]);
		close(outp[0]);
		waitpid(pid, &status, 0);
		snprintf(err, KDP_CNI_ERR_LEN, "out of memory");
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Write the config and read the answer together: neither side blocks
	 * on a full pipe. */
	for (;;) {
		struct pollfd p[2] = {{sent < len ? in[1] : -1, POLLOUT, 0}, {outp[0], POLLIN, 0}};
		ssize_t n;

		if (poll(p, 2, 30000) <= 0)
			break;
		if (sent < len && (p[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
			n = write(in[1], conf + sent, len - sent);
			if (n > 0)
				sent += (size_t)n;
			if (n < 0 || sent == len) {
				close(in[1]);
				sent = len;
				in[1] = -1;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			if (have + 1024 >= cap) {
				char *b = realloc(buf, cap * 2);
				if (b == NULL)
					break;
				buf = b;
				cap *= 2;
			}
			n = read(outp[0], buf + have, cap - have - 1);
			if (n <= 0)
				break;
			have += (size_t)n;
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	close(outp[0]);
	buf[have] = '\0';
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	*out = buf;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (have == 0) {
		free(buf);
		*out = NULL;
		snprintf(err, KDP_CNI_ERR_LEN, "%s %s: %s %d and no error on its output", path, command,
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -1;
	}
	return 1;
}

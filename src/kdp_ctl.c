/* SPDX-License-Identifier: BSD-3-Clause */
/* The control thread: libevent loop with the API on a Unix socket, the slow
 * path's tick, and signal handling. The tick runs every millisecond while
 * there is slow-path work (punted frames, snapshots to reclaim, a
 * hand-over) and every SLOWPATH_IDLE_US when idle; a worker that punts
 * wakes an idle control thread at once (rings.punt_fd), so an idle node
 * does not switch to this thread a thousand times a second. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include <rte_cycles.h>
#include <rte_log.h>

#include "kdp_api.h"
#include "kdp_ctl.h"
#include "kdp_flowmon.h"
#include "kdp_handover.h"
#include "kdp_healthcheck.h"
#include "kdp_objects.h"

#define SLOWPATH_PERIOD_US 1000
#define SLOWPATH_IDLE_US 10000
#define HTTP_TIMEOUT_S 10

struct kdp_ctl {
	struct event_base *base;
	struct event *inotify;
	struct event *reload; /* debounce for file changes */
	int ifd;
	struct evhttp *http;
	struct event *tick;
	struct event *wake; /* rings.punt_fd readable: a worker punted */
	uint64_t ticks, wakes; /* how often each ran (GET /v1/stats) */
	struct event *sigint;
	struct event *sigterm;
	int fd;
	ino_t sock_ino; /* the socket file we bound (a hand-over may replace it) */
};

static int mkdir_parent(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Binds the API socket (mode 0660, group @p group when given), refusing to
 * steal a live one unless @p replace (a hand-over: the old kdp serves it
 * until it exits, and its clients get to us from now on). */
static int listen_unix(const char *path, const char *group, bool replace, char *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, ret;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ret = mkdir_parent(path);
	if (ret != 0) {
		snprintf(err, KDP_ERR_LEN, "controlSocket: cannot create the directory of %s: %s",
			 path, strerror(-ret));
		return ret;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!replace && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		close(fd);
		snprintf(err, KDP_ERR_LEN,
			 "controlSocket: another process already serves %s", path);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(fd, 128) != 0) {
		ret = -errno;
		snprintf(err, KDP_ERR_LEN, "controlSocket: %s: %s", path,
			 strerror(errno));
		close(fd);
		return ret;
	}
	if (group[0] != '\0') {
		struct group *g = getgrnam(group);

		if (g == NULL || chown(path, (uid_t)-1, g->gr_gid) != 0) {
			snprintf(err, KDP_ERR_LEN,
				 "controlSocketGroup: cannot give %s to group '%s': %s", path,
				 group, g == NULL ? "no such group" : strerror(errno));
			close(fd);
			unlink(path);
			return -EINVAL;
		}
	}
	return fd;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct kdp *k = arg;
	struct kdp_ctl *c = k->ctl;
	struct timeval tv = {0, SLOWPATH_PERIOD_US};
	bool busy;

	c->ticks++;
	kdp_handover_tick(k);
	busy = kdp_slowpath_poll(k) > 0;
	kdp_dp_reclaim(k, false);
	kdp_hc_poll(k);
	busy = busy || k->pub.n_retired > 0 || kdp_handover_busy(k);
	if (!busy) {
		/* Armed before the last look at the ring (a worker enqueues,
		 * then looks at the flag): a punt in between is seen here. */
		atomic_store_explicit(&k->rings.punt_armed, true, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (rte_ring_count(k->rings.punt) == 0)
			tv.tv_usec = SLOWPATH_IDLE_US;
	}
	event_add(c->tick, &tv);
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct kdp *k = arg;
	struct kdp_ctl *c = k->ctl;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return;
	c->wakes++;
	on_tick(-1, 0, k);
}

void kdp_ctl_tick_counts(const struct kdp *k, uint64_t *ticks, uint64_t *wakes)
{
	const struct kdp_ctl *c = k->ctl;

	*ticks = c ? c->ticks : 0;
	*wakes = c ? c->wakes : 0;
}

/* Serves @p fd, and remembers which socket file it is. */
static int serve(struct kdp *k, struct kdp_ctl *c, int fd, char *err)
{
	struct stat st;

	if (evhttp_accept_socket(c->http, fd) != 0) {
		snprintf(err, KDP_ERR_LEN, "cannot serve %s", k->cfg.socket_path);
		close(fd);
		return -EIO;
	}
	c->fd = fd;
	c->sock_ino = stat(k->cfg.socket_path, &st) == 0 ? st.st_ino : 0;
	return 0;
}

void kdp_ctl_rebind(struct kdp *k)
{
	struct kdp_ctl *c = k->ctl;
	char err[KDP_ERR_LEN];
	struct stat st;
	int fd;

	if (c == NULL || (stat(k->cfg.socket_path, &st) == 0 && st.st_ino == c->sock_ino))
		return;
	fd = listen_unix(k->cfg.socket_path, k->cfg.socket_group, true, err);
	if (fd < 0 || serve(k, c, fd, err) != 0)
		RTE_LOG(ERR, USER1, "cannot serve %s again: %s\n", k->cfg.socket_path, err);
	else
		RTE_LOG(NOTICE, USER1, "serving %s again\n", k->cfg.socket_path);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct kdp *k = arg;
	struct kdp_ctl *c = k->ctl;

	RTE_LOG(NOTICE, USER1, "signal %d: shutting down\n", (int)sig);
	event_base_loopbreak(c->base);
}

int kdp_ipmasq_file_reload(struct kdp *k)
{
	const char *f = k->cfg.ipmasq_file;
	struct kdp_state next;
	struct kdp_ipmasq cfg;
	char err[KDP_ERR_LEN], *text = NULL;
	size_t len = 0;
	FILE *fp;
	int ret;

	if (f[0] == '\0')
		return 0;
	fp = fopen(f, "r");
	if (fp == NULL && errno != ENOENT) {
		snprintf(k->ipmasq_file_err, KDP_ERR_LEN, "%s: %s", f, strerror(errno));
		RTE_LOG(ERR, USER1, "ip-masq-agent: %s\n", k->ipmasq_file_err);
		return -errno;
	}
	if (fp != NULL) {
		char buf[4096];
		size_t n;
		FILE *mem = open_memstream(&text, &len);

		while (mem != NULL && (n = fread(buf, 1, sizeof(buf), fp)) > 0)
			fwrite(buf, 1, n, mem);
		fclose(fp);
		if (mem == NULL || fclose(mem) != 0) {
			free(text);
			return -ENOMEM;
		}
		ret = kdp_ipmasq_parse(text, len, &cfg, err);
		if (ret == 0)
			cfg.text = json_stringn(text, len);
		free(text);
		if (ret != 0) {
			snprintf(k->ipmasq_file_err, KDP_ERR_LEN, "%s: %s (previous config kept)",
				 f, err);
			RTE_LOG(ERR, USER1, "ip-masq-agent: %s\n", k->ipmasq_file_err);
			return ret;
		}
	} else {
		memset(&cfg, 0, sizeof(cfg));
	}
	if (kdp_state_copy(&next, &k->state) != 0) {
		json_decref(cfg.text);
		return -ENOMEM;
	}
	kdp_state_set_ipmasq(&next, &cfg);
	{
		char *line = kdp_objects_ipmasq_op(&next.ipmasq);
		struct kdp_change how = {.op = line, .op_len = line ? strlen(line) : 0};

		ret = kdp_apply(k, &next, KDP_APPLY_PERSIST, line ? &how : NULL, err);
		free(line);
	}
	if (ret != 0) {
		snprintf(k->ipmasq_file_err, KDP_ERR_LEN, "%s: %s", f, err);
		RTE_LOG(ERR, USER1, "ip-masq-agent: %s\n", k->ipmasq_file_err);
		return ret;
	}
	k->ipmasq_file_err[0] = '\0';
	RTE_LOG(NOTICE, USER1, "ip-masq-agent: applied %s (%s)\n", f,
		fp == NULL ? "no file: no config" : cfg.empty ? "empty: defaults" : "config");
	return 0;
}

static void on_reload(evutil_socket_t fd, short what, void *arg)
{
	struct kdp *k = arg;
	struct kdp_ctl *c = k->ctl;
	struct timeval later = {1, 0};

	/* During a hand-over the state is the new kdp's to change. */
	if (kdp_handover_busy(k)) {
		event_add(c->reload, &later);
		return;
	}
	kdp_ipmasq_file_reload(arg);
}

/* A change in the config file's directory (ConfigMaps swap a symlink):
 * re-read the file shortly after, once. */
static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct kdp *k = arg;
	struct kdp_ctl *c = k->ctl;
	struct timeval later = {0, 100 * 1000};
	char buf[4096];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	event_add(c->reload, &later);
}

static int watch_ipmasq(struct kdp *k, struct kdp_ctl *c, char *err)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", k->cfg.ipmasq_file);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	c->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (c->ifd < 0 ||
	    inotify_add_watch(c->ifd, dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
						   IN_CREATE | IN_DELETE) < 0) {
		snprintf(err, KDP_ERR_LEN, "ipMasqAgentConfig: cannot watch %s: %s", dir,
			 strerror(errno));
		return -errno;
	}
	c->inotify = event_new(c->base, c->ifd, EV_READ | EV_PERSIST, on_inotify, k);
	c->reload = evtimer_new(c->base, on_reload, k);
	if (c->inotify == NULL || c->reload == NULL || event_add(c->inotify, NULL))
		return -ENOMEM;
	return 0;
}

/* A random id of this run (a UUID), shown by GET /v1/status: a client
 * tells a restart from it, however fast it was. */
static void make_boot_id(struct kdp *k)
{
	uint8_t b[16] = {0};
	FILE *f = fopen("/dev/urandom", "r");

	if (f == NULL || fread(b, 1, sizeof(b), f) != sizeof(b)) {
		uint64_t t = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32) ^ rte_rdtsc();
		memcpy(b, &t, sizeof(t));
	}
	if (f != NULL)
		fclose(f);
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(k->boot_id, sizeof(k->boot_id),
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
		 b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
		 b[15]);
}

int kdp_ctl_init(struct kdp *k, char *err)
{
	struct timeval period = {0, SLOWPATH_PERIOD_US};
	struct kdp_ctl *c = calloc(1, sizeof(*c));

	make_boot_id(k);
	/* After the state is restored: only saves the API asks for crash. */
	kdp_test_crash_in_save = getenv("KDP_TEST_CRASH_IN_SAVE") != NULL;
	if (c == NULL)
		return -ENOMEM;
	k->ctl = c;
	c->fd = -1;
	c->ifd = -1;
	c->base = event_base_new();
	c->http = c->base ? evhttp_new(c->base) : NULL;
	if (c->http == NULL) {
		snprintf(err, KDP_ERR_LEN, "cannot create the libevent HTTP server");
		return -ENOMEM;
	}
	evhttp_set_max_body_size(c->http, k->cfg.max_body);
	evhttp_set_max_headers_size(c->http, 16384);
	evhttp_set_timeout(c->http, HTTP_TIMEOUT_S);
	/* Every method reaches the router, so others get a JSON 405 (not
	 * libevent's 501), and libevent's own error answers (413 for a body
	 * over maxBodyBytes) are JSON too. */
	evhttp_set_allowed_methods(c->http, 0xffff);
	kdp_api_guard_install(c->http, &k->cfg.max_body);
	evhttp_set_gencb(c->http, kdp_api_handle, k);
	{
		int fd = listen_unix(k->cfg.socket_path, k->cfg.socket_group, k->ho.takeover, err);
		int ret = fd < 0 ? fd : serve(k, c, fd, err);

		if (ret != 0)
			return ret;
	}
	c->tick = evtimer_new(c->base, on_tick, k);
	c->wake = event_new(c->base, k->rings.punt_fd, EV_READ | EV_PERSIST, on_wake, k);
	c->sigint = evsignal_new(c->base, SIGINT, on_signal, k);
	c->sigterm = evsignal_new(c->base, SIGTERM, on_signal, k);
	/* A client that goes away mid-answer (a monitor stream ended with
	 * Ctrl-C) must cost an EPIPE, not the daemon. */
	signal(SIGPIPE, SIG_IGN);
	if (c->tick == NULL || c->wake == NULL || c->sigint == NULL || c->sigterm == NULL ||
	    event_add(c->tick, &period) || event_add(c->wake, NULL) || event_add(c->sigint, NULL) ||
	    event_add(c->sigterm, NULL)) {
		snprintf(err, KDP_ERR_LEN, "cannot set up control-thread events");
		return -ENOMEM;
	}
	if (kdp_flowmon_init(k, c->base, err) != 0 || kdp_hc_init(k, c->base, err) != 0)
		return -ENOMEM;
	if (k->cfg.ipmasq_file[0] != '\0') {
		int ret = watch_ipmasq(k, c, err);
		if (ret != 0)
			return ret;
		kdp_ipmasq_file_reload(k);
	}
	return 0;
}

int kdp_ctl_run(struct kdp *k)
{
	struct kdp_ctl *c = k->ctl;

	RTE_LOG(NOTICE, USER1, "kdp %s: node %s serving %s\n", KDP_VERSION,
		k->cfg.name, k->cfg.socket_path);
	kdp_handover_notify("READY=1");
	return event_base_dispatch(c->base) < 0 ? -EIO : 0;
}

void kdp_ctl_fini(struct kdp *k)
{
	struct kdp_ctl *c = k->ctl;

	if (c == NULL)
		return;
	atomic_store(&k->rings.punt_armed, false);
	if (c->tick)
		event_free(c->tick);
	if (c->wake)
		event_free(c->wake);
	if (c->inotify)
		event_free(c->inotify);
	if (c->reload)
		event_free(c->reload);
	if (c->ifd >= 0)
		close(c->ifd);
	if (c->sigint)
		event_free(c->sigint);
	if (c->sigterm)
		event_free(c->sigterm);
	kdp_hc_fini(k);
	if (c->http)
		evhttp_free(c->http); /* closes the bound socket */
	else if (c->fd >= 0)
		close(c->fd);
	if (c->fd >= 0) {
		struct stat st;

		/* Ours only: after a hand-over given up, it may be another's. */
		if (stat(k->cfg.socket_path, &st) == 0 && st.st_ino == c->sock_ino)
			unlink(k->cfg.socket_path);
	}
	kdp_flowmon_fini(k); /* after the server: closing streams calls into it */
	if (c->base)
		event_base_free(c->base);
	free(c);
	k->ctl = NULL;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Hand-over from a running kdp to a new one (kdpctl upgrade): the new
 * side's client of the old one's control socket, and the old side's steps. */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/http.h>

#include <rte_log.h>

#include "common/kdp_addr.h"
#include "common/kdp_clock.h"
#include "kdp.h"
#include "kdp_ctl.h"

extern char **environ;

#define CALL_TIMEOUT_MS 15000
#define CONTROL_LIMIT_MS 60000 /* prepared, not frozen yet */
#define FROZEN_LIMIT_MS 10000  /* frozen, not committed yet */

static cpu_set_t start_cpus; /* the process's CPUs before EAL pinned threads */

void kdp_handover_init(struct kdp *k, const char *config, int extra_argc, char **extra_argv)
{
	struct kdp_handover *h = &k->ho;
	ssize_t n = readlink("/proc/self/exe", h->exe, sizeof(h->exe) - 1);

	h->exe[n > 0 ? n : 0] = '\0';
	if (realpath(config, h->config) == NULL)
		snprintf(h->config, sizeof(h->config), "%s", config);
	h->extra_argc = extra_argc;
	h->extra_argv = extra_argv;
	h->fd = -1;
	sched_getaffinity(0, sizeof(start_cpus), &start_cpus);
}

/* ---- the new kdp: a blocking HTTP client on one connection ---- */

static int wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = ev};
	uint64_t now = kdp_clock_mono_ms();
	int r;

	if (now >= deadline)
		return -ETIMEDOUT;
	r = poll(&p, 1, (int)(deadline - now));
	return r > 0 ? 0 : r == 0 ? -ETIMEDOUT : -errno;
}

/* POST @p path with @p body (taken) to the old kdp; *@p out gets the JSON
 * answer of a 200. @return 0, -EPROTO (another code: @p err has its
 * error), or -errno. */
static int call(struct kdp *k, const char *path, json_t *body, json_t **out, int *code,
		char *err)
{
	uint64_t deadline = kdp_clock_mono_ms() + CALL_TIMEOUT_MS;
	char *js = json_dumps(body, JSON_COMPACT), *req = NULL, *buf = NULL;
	size_t len = 0, want = 0, head = 0, cap = 0;
	json_t *ans;
	int n, ret;

	json_decref(body);
	*out = NULL;
	*code = 0;
	n = asprintf(&req, "POST %s HTTP/1.1\r\nHost: kdp\r\nContent-Type: application/json\r\n"
			   "Content-Length: %zu\r\n\r\n%s", path, js ? strlen(js) : 0, js ? js : "");
	free(js);
	if (n < 0)
		return -ENOMEM;
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t w;

		if ((ret = wait_fd(k->ho.fd, POLLOUT, deadline)) != 0)
			goto io;
		w = send(k->ho.fd, req + off, (size_t)n - off, MSG_NOSIGNAL);
		if (w < 0) {
			ret = -errno;
			goto io;
		}
		off += (size_t)w;
	}
	for (;;) {
		ssize_t r;
		char *end;

		if (head != 0 && len >= head + want)
			break;
		if (len + 1 >= cap) {
			char *more = cap < (64u << 20) ? realloc(buf, cap ? 2 * cap : 65536) : NULL;

			if (more == NULL) {
				ret = -EMSGSIZE;
				goto io;
			}
			buf = more;
			cap = cap ? 2 * cap : 65536;
		}
		if ((ret = wait_fd(k->ho.fd, POLLIN, deadline)) != 0)
			goto io;
		r = recv(k->ho.fd, buf + len, cap - 1 - len, 0);
		if (r <= 0) {
			ret = r == 0 ? -ECONNRESET : -errno;
			goto io;
		}
		len += (size_t)r;
		buf[len] = '\0';
		if (head == 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
			const char *cl = strcasestr(buf, "\r\nContent-Length:");

			head = (size_t)(end - buf) + 4;
			want = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
			if (sscanf(buf, "HTTP/1.%*d %d", code) != 1) {
				ret = -EBADMSG;
				goto io;
			}
		}
	}
	free(req);
	buf[head + want] = '\0';
	ans = json_loads(buf + head, 0, NULL);
	free(buf);
	if (*code != 200) {
		json_t *e = json_object_get(ans, "error");

		snprintf(err, KDP_ERR_LEN, "the running kdp answered %s with %d: %s", path, *code,
			 json_is_string(e) ? json_string_value(e) : "(no message)");
		json_decref(ans);
		return -EPROTO;
	}
	*out = ans;
	return 0;
io:
	free(req);
	free(buf);
	snprintf(err, KDP_ERR_LEN, "the running kdp did not answer %s: %s", path, strerror(-ret));
	return ret;
}

int kdp_handover_prepare(struct kdp *k, char *err)
{
	struct kdp_handover *h = &k->ho;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	const char *file;
	json_t *a;
	int code, ret;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", k->cfg.socket_path);
	h->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (h->fd < 0)
		return -errno;
	if (connect(h->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		RTE_LOG(NOTICE, USER1, "takeover: no kdp serves %s (%s): starting without a hand-over\n",
			k->cfg.socket_path, strerror(errno));
		close(h->fd);
		h->fd = -1;
		h->takeover = false;
		return 0;
	}
	ret = call(k, "/v1/handover/prepare",
		   json_pack("{s:i, s:s}", "pid", (int)getpid(), "version", KDP_VERSION), &a, &code,
		   err);
	if (ret == -EPROTO && code == 404)
		snprintf(err, KDP_ERR_LEN,
			 "the running kdp on %s cannot hand over (it has no /v1/handover): stop it, "
			 "then start this one", k->cfg.socket_path);
	if (ret != 0)
		return ret;
	h->from = (pid_t)json_integer_value(json_object_get(a, "pid"));
	snprintf(h->from_version, sizeof(h->from_version), "%s",
		 json_string_value(json_object_get(a, "version")) ?: "?");
	file = json_string_value(json_object_get(a, "flowStateFile"));
	if (!h->force && (file == NULL || strcmp(file, k->cfg.flow_path) != 0 || file[0] == '\0')) {
		snprintf(err, KDP_ERR_LEN,
			 "the running kdp keeps its flows in '%s', this config in '%s': they would be "
			 "lost (kdp --takeover=force, kdpctl upgrade --force, to go on anyway)",
			 file ? file : "?", k->cfg.flow_path);
		json_decref(a);
		return -EXDEV;
	}
	json_decref(a);
	h->t_prepare = kdp_clock_mono_ms();
	RTE_LOG(NOTICE, USER1, "takeover: kdp %s (pid %d) prepared: it refuses updates now\n",
		h->from_version, (int)h->from);
	return 0;
}

int kdp_handover_freeze(struct kdp *k, char *err)
{
	struct kdp_handover *h = &k->ho;
	uint64_t now = kdp_now_ms();
	json_t *a, *n;
	size_t i;
	int code, ret;

	ret = call(k, "/v1/handover/freeze", json_object(), &a, &code, err);
	if (ret != 0)
		return ret;
	h->t_frozen = kdp_clock_mono_ms();
	h->old_lost = (uint64_t)json_integer_value(json_object_get(a, "missedSincePrepare"));
	/* Its IPv4 and IPv6 neighbours: the frames held must not wait for an
	 * ARP or ND answer (a few per neighbour are kept meanwhile, the rest
	 * would be dropped). */
	json_array_foreach(json_object_get(a, "neighbours"), i, n) {
		const char *ip_s = json_string_value(json_object_get(n, "ip")) ?: "";
		struct rte_ether_addr mac;
		struct kdp_in6 ip6;
		uint32_t ip;

		if (kdp_addr_parse_mac(json_string_value(json_object_get(n, "mac")) ?: "", &mac) != 0)
			continue;
		if (kdp_addr_parse_ip(ip_s, &ip) == 0 &&
		    kdp_neigh_learn(k->nt, ip, k->uplink, &mac, true, now) == 0)
			h->neighbours++;
		else if (k->nt6 != NULL && kdp_addr6_parse(ip_s, &ip6) == 0 &&
			 kdp_neigh_learn6(k->nt6, &ip6, k->uplink, &mac, true, now) == 0)
			h->neighbours++;
	}
	json_decref(a);
	return 0;
}

int kdp_handover_commit(struct kdp *k, char *err)
{
	struct kdp_handover *h = &k->ho;
	json_t *a = NULL;
	int code, ret;

	ret = call(k, "/v1/handover/commit", json_object(), &a, &code, err);
	json_decref(a);
	if (ret != 0 && !(kill(h->from, 0) != 0 && errno == ESRCH))
		return ret; /* it is alive and did not commit: it goes on */
	h->t_committed = kdp_clock_mono_ms();
	kdp_handover_close(k);
	return 0;
}

void kdp_handover_lock(struct kdp *k)
{
	/* The old kdp's lock goes with its process, which exits now. */
	int ret = kdp_flowstore_lock(k->flows.fs, 5000);

	if (ret != 0)
		RTE_LOG(WARNING, USER1, "takeover: the flow state file is still locked (%s): "
			"does pid %d still run?\n", strerror(-ret), (int)k->ho.from);
}

void kdp_handover_close(struct kdp *k)
{
	if (k->ho.fd >= 0)
		close(k->ho.fd);
	k->ho.fd = -1;
}

/* ---- the running kdp ---- */

pid_t kdp_handover_spawn(struct kdp *k, bool force, char *err)
{
	struct kdp_handover *h = &k->ho;
	char **argv = calloc((size_t)h->extra_argc + 7, sizeof(char *));
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	cpu_set_t cur;
	sigset_t none, def;
	pid_t pid = -1;
	int n = 0, ret;

	if (argv == NULL)
		return -ENOMEM;
	argv[n++] = h->exe;
	argv[n++] = (char *)"--config";
	argv[n++] = h->config;
	argv[n++] = (char *)(force ? "--takeover=force" : "--takeover");
	if (h->extra_argc > 0)
		argv[n++] = (char *)"--";
	for (int i = 0; i < h->extra_argc; i++)
		argv[n++] = h->extra_argv[i];
	posix_spawn_file_actions_init(&fa);
	/* Nothing of this process's but stdin, stdout and stderr (the log). */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	/* The new kdp may run on every CPU this one could (this thread is
	 * pinned by EAL). */
	pthread_getaffinity_np(pthread_self(), sizeof(cur), &cur);
	pthread_setaffinity_np(pthread_self(), sizeof(start_cpus), &start_cpus);
	ret = posix_spawn(&pid, h->exe, &fa, &at, argv, environ);
	pthread_setaffinity_np(pthread_self(), sizeof(cur), &cur);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(argv);
	if (ret != 0) {
		snprintf(err, KDP_ERR_LEN, "cannot start %s: %s", h->exe, strerror(ret));
		return -ret;
	}
	h->spawned = pid;
	snprintf(h->last, sizeof(h->last), "kdp pid %d started to take over", (int)pid);
	RTE_LOG(NOTICE, USER1, "upgrade: started %s (pid %d) to take over\n", h->exe, (int)pid);
	return pid;
}

void kdp_handover_notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, strlen(path));
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* an abstract socket */
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	(void)sendto(fd, msg, strlen(msg), MSG_NOSIGNAL, (struct sockaddr *)&sa, len);
	close(fd);
}

/* Every thread of this process to SCHED_IDLE: what exiting costs (the
 * kernel freeing our memory and rings, ~10-30 ms of CPU) then waits for
 * idle CPU instead of taking it from the new kdp's workers, which have a
 * backlog to forward right then. */
static void idle_priority(void)
{
	const struct sched_param sp = {.sched_priority = 0};
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	if (d == NULL) {
		(void)sched_setscheduler(0, SCHED_IDLE, &sp);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			(void)sched_setscheduler((pid_t)atoi(e->d_name), SCHED_IDLE, &sp);
	closedir(d);
}

static void exit_now(struct kdp *k)
{
	char msg[64];

	/* A service manager (systemd, Type=notify) follows the new kdp. */
	snprintf(msg, sizeof(msg), "MAINPID=%d", (int)k->ho.peer);
	kdp_handover_notify(msg);
	RTE_LOG(NOTICE, USER1, "handed over to kdp pid %d: exiting\n", (int)k->ho.peer);
	fflush(NULL);
	/* Ports, tap and control socket now belong to the new kdp: nothing
	 * is closed or brought down here; the kernel drops our sockets. */
	idle_priority();
	_exit(0);
}

static void resume(struct kdp *k, const char *why)
{
	struct kdp_handover *h = &k->ho;

	if (h->phase == KDP_HO_FROZEN) {
		kdp_port_tap_attach(h->tap_fds, h->n_tap_fds);
		h->n_tap_fds = 0;
		kdp_worker_resume(k);
	}
	h->phase = KDP_HO_NONE;
	kdp_ctl_rebind(k);
	snprintf(h->last, sizeof(h->last), "hand-over to kdp pid %d abandoned: %s", (int)h->peer,
		 why);
	RTE_LOG(WARNING, USER1, "%s; this kdp goes on\n", h->last);
}

static void on_peer_closed(struct evhttp_connection *conn, void *arg)
{
	struct kdp *k = arg;

	if (conn != k->ho.conn)
		return;
	k->ho.conn = NULL;
	if (k->ho.phase == KDP_HO_DONE)
		exit_now(k);
	if (k->ho.phase != KDP_HO_NONE)
		resume(k, "the new kdp went away before taking over");
}

json_t *kdp_handover_on_prepare(struct kdp *k, struct evhttp_request *req, pid_t peer,
				int *code, char *err)
{
	struct kdp_handover *h = &k->ho;

	if (h->phase != KDP_HO_NONE) {
		*code = 409;
		snprintf(err, KDP_ERR_LEN, "a hand-over to kdp pid %d is under way", (int)h->peer);
		return NULL;
	}
	h->conn = evhttp_request_get_connection(req);
	evhttp_connection_set_closecb(h->conn, on_peer_closed, k);
	evhttp_connection_set_timeout(h->conn, CONTROL_LIMIT_MS / 1000 + 5);
	h->peer = peer;
	h->missed0 = kdp_port_missed(k);
	h->phase = KDP_HO_CONTROL;
	h->phase_ms = kdp_clock_mono_ms();
	RTE_LOG(NOTICE, USER1, "hand-over to kdp pid %d: updates are refused until it takes "
		"over or gives up\n", (int)peer);
	return json_pack("{s:i, s:s, s:s, s:s, s:i}", "pid", (int)getpid(), "version", KDP_VERSION,
			 "node", k->cfg.name, "flowStateFile", k->cfg.flow_path, "workers",
			 (int)k->cfg.workers);
}

/* A resolved neighbour, {"ip", "mac"}, into the array @p arg. */
static int neigh_add(json_t *arg, const char *ip, const struct kdp_neigh_entry *e)
{
	char mac[KDP_MAC_STRLEN];

	if (e->state == KDP_NEIGH_REACHABLE || e->state == KDP_NEIGH_PROBE)
		json_array_append_new(arg, json_pack("{s:s, s:s}", "ip", ip, "mac",
						     kdp_addr_fmt_mac(&e->mac, mac, sizeof(mac))));
	return 0;
}

static int neigh_one(const struct kdp_neigh_entry *e, void *arg)
{
	char ip[KDP_ADDR_STRLEN];

	return neigh_add(arg, kdp_addr_fmt_ip(e->ip, ip, sizeof(ip)), e);
}

static int neigh_one6(const struct kdp_neigh_entry *e, void *arg)
{
	char ip[KDP_ADDR6_STRLEN];

	return neigh_add(arg, kdp_addr6_fmt(&e->ip6, ip, sizeof(ip)), e);
}

static bool same_peer(const struct kdp *k, struct evhttp_request *req, enum kdp_ho_phase want,
		      int *code, char *err)
{
	if (k->ho.phase == want && k->ho.conn == evhttp_request_get_connection(req))
		return true;
	*code = 409;
	snprintf(err, KDP_ERR_LEN, "not the step the hand-over is at (or not its connection)");
	return false;
}

json_t *kdp_handover_on_freeze(struct kdp *k, struct evhttp_request *req, int *code,
			       char *err)
{
	struct kdp_handover *h = &k->ho;
	uint64_t t0 = kdp_clock_mono_ms();
	json_t *nb;
	int n;

	if (!same_peer(k, req, KDP_HO_CONTROL, code, err))
		return NULL;
	if (kdp_worker_pause(k, 1000) != 0) {
		kdp_worker_resume(k);
		*code = 500;
		snprintf(err, KDP_ERR_LEN, "the workers did not stop within 1 s");
		return NULL;
	}
	h->phase = KDP_HO_FROZEN;
	h->phase_ms = kdp_clock_mono_ms();
	/* Frames from the node's stack go to the new kdp's tap queues now. */
	n = k->host != KDP_NO_PORT ?
		    kdp_port_tap_detach(k, k->host, h->tap_fds, KDP_HO_MAX_TAP_FDS) : 0;
	h->n_tap_fds = n > 0 ? (unsigned int)n : 0;
	nb = json_array();
	kdp_neigh_foreach(k->nt, neigh_one, nb);
	if (k->nt6 != NULL)
		kdp_neigh_foreach(k->nt6, neigh_one6, nb);
	RTE_LOG(NOTICE, USER1, "hand-over to kdp pid %d: workers parked after %llu ms, %u tap "
		"queue(s) detached\n", (int)h->peer, (unsigned long long)(h->phase_ms - t0),
		h->n_tap_fds);
	return json_pack("{s:o, s:i, s:i, s:I}", "neighbours", nb, "parked",
			 (int)atomic_load(&k->rings.parked), "tapQueuesDetached", (int)h->n_tap_fds,
			 "missedSincePrepare", (json_int_t)(kdp_port_missed(k) - h->missed0));
}

static void on_commit_sent(struct evhttp_request *req, void *arg)
{
	exit_now(arg);
}

json_t *kdp_handover_on_commit(struct kdp *k, struct evhttp_request *req, int *code,
			       char *err)
{
	if (!same_peer(k, req, KDP_HO_FROZEN, code, err))
		return NULL;
	k->ho.phase = KDP_HO_DONE;
	evhttp_request_set_on_complete_cb(req, on_commit_sent, k);
	return json_pack("{s:b}", "exiting", 1);
}

bool kdp_handover_busy(const struct kdp *k)
{
	return k->ho.phase != KDP_HO_NONE;
}

void kdp_handover_tick(struct kdp *k)
{
	struct kdp_handover *h = &k->ho;
	uint64_t now = kdp_clock_mono_ms();
	int st;

	if ((h->phase == KDP_HO_CONTROL && now - h->phase_ms > CONTROL_LIMIT_MS) ||
	    (h->phase == KDP_HO_FROZEN && now - h->phase_ms > FROZEN_LIMIT_MS)) {
		struct evhttp_connection *c = h->conn;

		h->conn = NULL;
		resume(k, h->phase == KDP_HO_CONTROL ? "the new kdp took over 60 s to get ready" :
						     "the new kdp did not take over within 10 s");
		if (c != NULL)
			evhttp_connection_free(c);
	}
	if (h->spawned > 0 && waitpid(h->spawned, &st, WNOHANG) == h->spawned) {
		snprintf(h->last, sizeof(h->last),
			 "the new kdp (pid %d) exited with %s %d without taking over (its reason is "
			 "in the log)", (int)h->spawned, WIFSIGNALED(st) ? "signal" : "status",
			 WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
		RTE_LOG(WARNING, USER1, "upgrade: %s\n", h->last);
		h->spawned = 0;
	}
}

json_t *kdp_handover_status_json(const struct kdp *k)
{
	const struct kdp_handover *h = &k->ho;

	if (h->done)
		return json_pack("{s:{s:i, s:s}, s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "tookOverFrom", "pid",
				 (int)h->from, "version", h->from_version, "neighbours",
				 (int)h->neighbours, "updatesRefusedMs",
				 (json_int_t)(h->t_committed - h->t_prepare), "forwardingPausedMs",
				 (json_int_t)(h->t_running - h->t_frozen), "framesHeldMs",
				 (json_int_t)(h->t_running - h->t_hold), "heldFramesLost",
				 (json_int_t)h->held_lost, "oldFramesLost", (json_int_t)h->old_lost,
				 "copiesDropped", (json_int_t)h->discarded);
	return json_pack("{s:s, s:s?, s:i}", "phase",
			 h->phase == KDP_HO_NONE    ? "none" :
			 h->phase == KDP_HO_CONTROL ? "prepared" :
			 h->phase == KDP_HO_FROZEN  ? "frozen" : "exiting",
			 "last", h->last[0] ? h->last : NULL, "parkedWorkers",
			 (int)atomic_load(&k->rings.parked));
}

/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Hand-over from a running kdp to a new one on the same node (an upgrade,
 * `kdpctl upgrade`), without losing a packet or a flow.
 *
 * The new kdp (`kdp --takeover`) drives it over the old one's control
 * socket, on one connection:
 *   1. prepare: the old kdp refuses updates (503) from now on; the new one
 *      reads the state file and the flow state file (frontend ids), opens
 *      its ports (a kernel interface then gives each frame to both
 *      processes), restores the state, binds the control socket and starts
 *      its workers, which drop what arrives: copies of what the old kdp
 *      forwards. They stop and leave what arrives in the ports' queues.
 *   2. freeze: the old kdp's workers empty their queues once and park, its
 *      slow path stops, its host tap queues are detached; it answers with
 *      its neighbours. The new kdp tracks the flows of the shared flow
 *      state file (nothing was written to it meanwhile).
 *   3. commit: the old kdp answers and exits at once (leaving its ports to
 *      the kernel, so nothing is brought down); the new kdp's workers go on
 *      with the frames held since step 1.
 * A frame that arrived between the new kdp's workers stopping and the old
 * one's last poll is forwarded twice (a duplicate, never a loss); frames
 * held must fit the ports' queues (net_kdp_afp: framecnt per queue) for
 * the time steps 2 and 3 take (milliseconds). The host tap is the
 * exception: the kernel gives each frame to one of the two kdps' queues;
 * the old kdp's are detached at the freeze, and what reached them after
 * its last poll is lost. If the new kdp goes away before the commit (or a
 * step takes too long: 60 s before the freeze, 10 s after), the old one
 * takes everything back and goes on.
 * Control thread only.
 */
#ifndef KDP_HANDOVER_H
#define KDP_HANDOVER_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>

#include "kdp_json.h"

struct kdp;
struct evhttp_request;
struct evhttp_connection;

/** Where a running kdp is in a hand-over to a new one. */
enum kdp_ho_phase {
	KDP_HO_NONE,    /**< none */
	KDP_HO_CONTROL, /**< prepared: updates refused */
	KDP_HO_FROZEN,  /**< workers parked, slow path stopped */
	KDP_HO_DONE,    /**< committed: exiting */
};

/** Tap queues a hand-over detached, to attach again if it fails. */
#define KDP_HO_MAX_TAP_FDS 32

struct kdp_handover {
	/* How this process was started (to start its successor alike). */
	char exe[PATH_MAX];
	char config[PATH_MAX];
	int extra_argc;
	char **extra_argv;             /**< EAL options given after "--" */
	/* The running side. */
	enum kdp_ho_phase phase;
	struct evhttp_connection *conn; /**< the new kdp's connection */
	pid_t peer;                    /**< the new kdp */
	uint64_t phase_ms;             /**< when the phase began */
	pid_t spawned;                 /**< started by POST /v1/upgrade, not reaped */
	uint64_t missed0;              /**< our ports' drops when prepared */
	char last[KDP_ERR_LEN];        /**< how the last hand-over ended */
	int tap_fds[KDP_HO_MAX_TAP_FDS];
	unsigned int n_tap_fds;
	/* The new side (kdp --takeover). */
	bool takeover;                 /**< asked to take over */
	bool force;                    /**< even if the flows cannot be kept */
	int fd;                        /**< connection to the running kdp, -1 */
	pid_t from;                    /**< its pid */
	char from_version[32];
	uint32_t neighbours;           /**< neighbours it handed over */
	uint64_t t_prepare, t_frozen, t_committed, t_running; /**< monotonic ms */
	uint64_t t_ports;              /**< first port opened */
	uint64_t t_hold;               /**< our workers stopped dropping: frames held */
	uint64_t discarded;            /**< copies dropped before that */
	uint64_t held_lost;            /**< frames the ports dropped while held (full) */
	uint64_t old_lost;             /**< frames the old kdp's ports dropped meanwhile */
	int nice0;                     /**< our priority before the hand-over */
	bool done;                     /**< this process took over */
};

/** Remembers how this process was started (main, before anything else). */
void kdp_handover_init(struct kdp *k, const char *config, int extra_argc, char **extra_argv);

/* ---- the new kdp ---- */

/**
 * Connects to the kdp serving the control socket and prepares it. With no
 * kdp there, logs it and clears k->ho.takeover (a normal start).
 * @return 0 or -errno with @p err set (the old kdp goes on).
 */
int kdp_handover_prepare(struct kdp *k, char *err);
/** Freezes the old kdp and takes its neighbours. @return 0 or -errno. */
int kdp_handover_freeze(struct kdp *k, char *err);
/** Tells the old kdp to exit (it answers first). @return 0 or -errno. */
int kdp_handover_commit(struct kdp *k, char *err);
/** Once the workers run: takes the flow state file's lock, which the old
 *  kdp held until it exited. */
void kdp_handover_lock(struct kdp *k);
/** Closes the connection (the old kdp resumes unless committed). */
void kdp_handover_close(struct kdp *k);

/* ---- the running kdp ---- */

/**
 * POST /v1/upgrade: starts the kdp binary at the path this one was started
 * from (a new version installed there) with the same config and options,
 * and "--takeover" (or "--takeover=force"). @return its pid, or -errno
 * with @p err set.
 */
pid_t kdp_handover_spawn(struct kdp *k, bool force, char *err);
/** POST /v1/handover/prepare from the new kdp (pid @p peer) on @p req's
 *  connection. @return its answer, or NULL with @p err and *@p code. */
json_t *kdp_handover_on_prepare(struct kdp *k, struct evhttp_request *req, pid_t peer,
				int *code, char *err);
/** POST /v1/handover/freeze. */
json_t *kdp_handover_on_freeze(struct kdp *k, struct evhttp_request *req, int *code,
			       char *err);
/** POST /v1/handover/commit: answers, then exits once the answer is sent. */
json_t *kdp_handover_on_commit(struct kdp *k, struct evhttp_request *req, int *code,
			       char *err);
/** True while updates must be refused (a hand-over is under way). */
bool kdp_handover_busy(const struct kdp *k);
/** Control-thread tick: the hand-over's time limits, a spawned kdp's end. */
void kdp_handover_tick(struct kdp *k);

/** Tells the service manager (systemd's $NOTIFY_SOCKET, when set) @p msg:
 *  "READY=1" once serving, "MAINPID=<pid>" when handing over. */
void kdp_handover_notify(const char *msg);

/** GET /v1/status "handover": the last one, either side. */
json_t *kdp_handover_status_json(const struct kdp *k);

#endif

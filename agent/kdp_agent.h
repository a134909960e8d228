/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * kdp-agent: watches the Kubernetes API and keeps one node's kdp in line
 * with it. One thread, one event loop (libcurl's multi interface polls the
 * watches, the metrics listener and the timers).
 *
 * The parts, one file each:
 *   kdp_agent_main.c        options, the event loop, signals
 *   kdp_agent_util.c        logging, buffers, clocks
 *   kdp_agent_kubeconfig.c  credentials: in-cluster files or a kubeconfig
 *   kdp_agent_kube.c        list + watch per kind (informers) and the stores
 *   kdp_agent_translate.c   Kubernetes objects -> kdp API bodies (pure)
 *   kdp_agent_kdp.c         the kdp control socket client and its lock file
 *   kdp_agent_sync.c        what changed -> PUT/DELETE; resync; labels; GC
 *   kdp_agent_metrics.c     counters, the /metrics and /healthz listener
 */
#ifndef KDP_AGENT_H
#define KDP_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define KDP_AGENT_ERR_LEN 512

/* ---- utilities (kdp_agent_util.c) ---- */

enum kdp_agent_level { KDP_AGENT_ERROR, KDP_AGENT_WARN, KDP_AGENT_INFO, KDP_AGENT_DEBUG };

/** Messages above this level are not printed (default INFO). */
extern enum kdp_agent_level kdp_agent_log_level;

/** One line on standard error: UTC time to the microsecond, level, text. */
void kdp_agent_log(enum kdp_agent_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Monotonic seconds. */
double kdp_agent_now(void);

/** A growable byte buffer, always NUL-terminated once it holds data. */
struct kdp_agent_buf {
	char *data;
	size_t len;
	size_t cap;
};

/** Appends @p n bytes; aborts the program when memory runs out. */
void kdp_agent_buf_add(struct kdp_agent_buf *b, const void *p, size_t n);
/** Drops the first @p n bytes. */
void kdp_agent_buf_consume(struct kdp_agent_buf *b, size_t n);
void kdp_agent_buf_free(struct kdp_agent_buf *b);

/** Reads a whole file into @p out (NUL-terminated). 0 or -errno. */
int kdp_agent_read_file(const char *path, struct kdp_agent_buf *out);

/** Aborts with a message: the agent cannot go on without memory. */
__attribute__((noreturn)) void kdp_agent_oom(void);

/* ---- credentials (kdp_agent_kubeconfig.c) ---- */

/** How to reach and authenticate to the kube-apiserver. */
struct kdp_agent_auth {
	char server[512];	  /**< https://host:port, no trailing slash */
	struct kdp_agent_buf ca;  /**< CA bundle (PEM), empty: the system's */
	bool insecure;		  /**< insecure-skip-tls-verify */
	char *token;		  /**< a fixed bearer token, or NULL */
	char token_file[4096];	  /**< read again before each request, or "" */
	struct kdp_agent_buf cert; /**< client certificate (PEM), or empty */
	struct kdp_agent_buf key;  /**< its key (PEM), or empty */
	char source[4200];	  /**< where this came from, for messages */
};

/**
 * Loads the in-cluster credentials: KUBERNETES_SERVICE_HOST/PORT and the
 * service account's token and ca.crt under @p dir (normally
 * /var/run/secrets/kubernetes.io/serviceaccount). 0, or -1 with @p err.
 */
int kdp_agent_auth_incluster(const char *dir, struct kdp_agent_auth *a, char *err);

/**
 * Loads a kubeconfig file (YAML or JSON): the cluster and user of
 * @p context, or of current-context when NULL. Supports server,
 * certificate-authority[-data], insecure-skip-tls-verify, token, tokenFile,
 * client-certificate[-data], client-key[-data]; refuses exec and
 * auth-provider users by name. 0, or -1 with @p err naming what is wrong.
 */
int kdp_agent_auth_kubeconfig(const char *path, const char *context, struct kdp_agent_auth *a,
			      char *err);

void kdp_agent_auth_free(struct kdp_agent_auth *a);

/** The bearer token to send now (the token file is read again), or NULL. Free it. */
char *kdp_agent_auth_token(const struct kdp_agent_auth *a);

/* ---- the kinds watched (kdp_agent_kube.c) ---- */

enum kdp_agent_kind {
	KDP_AGENT_NODE,
	KDP_AGENT_SERVICE,
	KDP_AGENT_SLICE,
	KDP_AGENT_POD,
	KDP_AGENT_LRP,
	KDP_AGENT_CONFIGMAP,
	KDP_AGENT_KIND__MAX,
};

/** "Node", "Service", "EndpointSlice", "Pod", "CiliumLocalRedirectPolicy", "ConfigMap". */
const char *kdp_agent_kind_name(enum kdp_agent_kind k);

struct kdp_agent_kube;

/**
 * Called for each change of an object after the store has it: @p old is
 * NULL for a new object, @p obj NULL for a removed one; @p t is when the
 * change was read (kdp_agent_now()).
 */
typedef void (*kdp_agent_change_fn)(void *arg, enum kdp_agent_kind kind, const char *key,
				    json_t *old, json_t *obj, double t);

struct kdp_agent_kube_opts {
	const struct kdp_agent_auth *auth;
	const char *node_name;	    /**< Pods are those of this node */
	const char *ipmasq_ns;	    /**< the ip-masq-agent ConfigMap */
	const char *ipmasq_name;
	unsigned int watch_seconds; /**< timeoutSeconds of a watch (jittered up to +50 %) */
	unsigned int page_size;	    /**< list limit */
	kdp_agent_change_fn on_change;
	void *arg;
};

/** Creates the informers; nothing is sent before kdp_agent_kube_step(). */
struct kdp_agent_kube *kdp_agent_kube_new(void *multi, const struct kdp_agent_kube_opts *o);
void kdp_agent_kube_free(struct kdp_agent_kube *k);

/**
 * Starts what is due (lists, watches after their backoff), handles finished
 * transfers. Returns the seconds until the next timer of its own (or a
 * large value).
 */
double kdp_agent_kube_step(struct kdp_agent_kube *k);

/** Every kind has been listed once. */
bool kdp_agent_kube_synced(const struct kdp_agent_kube *k);

/**
 * The store of a kind: an object "namespace/name" (or "name") -> the
 * object's compact JSON text, for its keys and size; kdp_agent_kube_get()
 * gives the object.
 */
json_t *kdp_agent_kube_store(const struct kdp_agent_kube *k, enum kdp_agent_kind kind);

/** Object @p key of a kind (a new reference), or NULL. */
json_t *kdp_agent_kube_get(const struct kdp_agent_kube *k, enum kdp_agent_kind kind,
			   const char *key);

/* ---- translation (kdp_agent_translate.c) ---- */

/** Which service fields the agent sends. */
enum kdp_agent_fields {
	KDP_AGENT_FIELDS_BASIC,	   /**< only what kdp accepts today */
	KDP_AGENT_FIELDS_EXTENDED, /**< plus the traffic policies, health check
				    *   node port, source ranges, backend nodeName */
};

struct kdp_agent_svc_opts {
	enum kdp_agent_fields fields;
	const char *algorithm; /**< "random" or "maglev" */
	bool ipv6;	       /**< kdp has IPv6 (its status shows nodeIPv6):
				*   the IPv6 family of dual-stack objects too */
};

/**
 * The body of PUT /v1/nodes/{name} for a Node: {"name", "ip", "podCIDRs"},
 * with @p ipv6 (kdp has IPv6) and an IPv6 InternalIP (else ExternalIP) also
 * "ips": [IPv4, IPv6] and the IPv6 podCIDRs after the IPv4 ones. NULL when
 * kdp cannot take it (no IPv4 InternalIP...), with the reason in @p why.
 */
json_t *kdp_agent_node_body(const json_t *node, bool ipv6, char *why);

/**
 * The body of PUT /v1/services/{ns}/{name} for a Service and its
 * EndpointSlices (@p slices: an array), in the form kdp's GET shows it (every
 * field explicit, backends sorted). NULL when kdp has nothing to do with the
 * service (headless, ExternalName, no cluster IP of a family kdp has, no
 * TCP/UDP port), with the reason in @p why. A service with an IPv6 cluster IP
 * (@p o->ipv6) also gets clusterIPs, ipFamilies and ipFamilyPolicy; each
 * family's backends, external and load balancer IPs and source ranges are
 * taken only when the service has that family's cluster IP (as kube-proxy's
 * proxier of that family does). Warnings about what kdp cannot express go to
 * @p warn ("" when none).
 */
json_t *kdp_agent_service_body(const json_t *svc, const json_t *slices,
			       const struct kdp_agent_svc_opts *o, char *why, char *warn);

/**
 * The body of PUT /v1/lrp/{ns}/{name} for a CiliumLocalRedirectPolicy: its
 * spec in kdp's normal form. NULL with @p why when it has none.
 */
json_t *kdp_agent_lrp_body(const json_t *lrp, bool ipv6, char *why);

/**
 * The ip-masq-agent config text of the ConfigMap (its key "config"), or
 * NULL when there is none (no ConfigMap, no such key): kdp then has no
 * config.
 */
const char *kdp_agent_ipmasq_text(const json_t *cm);

/** The labels kdp can hold (key <= 253, value <= 63 characters). New object. */
json_t *kdp_agent_pod_labels(const json_t *pod);

/** kdp's name rule (1-63 of a-z 0-9 - ., starting and ending alphanumeric). */
bool kdp_agent_name_ok(const char *s);

/* ---- kdp's control socket (kdp_agent_kdp.c) ---- */

struct kdp_agent_kdp;

/** A client of the socket at @p path; @p lock_path "" for no lock file. */
struct kdp_agent_kdp *kdp_agent_kdp_new(const char *path, const char *lock_path);
void kdp_agent_kdp_free(struct kdp_agent_kdp *c);

/**
 * One request. Returns 0 when kdp answered (the status in @p code, the body
 * parsed into @p out when it is JSON and @p out is not NULL), -1 when it
 * could not be reached (@p err says why). @p body may be NULL.
 */
int kdp_agent_kdp_call(struct kdp_agent_kdp *c, const char *method, const char *path,
		       const char *body, size_t len, long *code, json_t **out, char *err);

/** Takes (true) or drops (false) the lock shared with kdp-cni, exclusively. */
void kdp_agent_kdp_lock(struct kdp_agent_kdp *c, bool on);

/** The "error" of a kdp answer, or "". */
const char *kdp_agent_kdp_error(const json_t *answer);

/* ---- metrics (kdp_agent_metrics.c) ---- */

enum kdp_agent_obj { KDP_AGENT_OBJ_NODE, KDP_AGENT_OBJ_SERVICE, KDP_AGENT_OBJ_LRP,
		     KDP_AGENT_OBJ_IPMASQ, KDP_AGENT_OBJ_ENDPOINT, KDP_AGENT_OBJ_STATE,
		     KDP_AGENT_OBJ__MAX };
enum kdp_agent_op { KDP_AGENT_OP_PUT, KDP_AGENT_OP_DELETE, KDP_AGENT_OP__MAX };
enum kdp_agent_result { KDP_AGENT_RES_OK, KDP_AGENT_RES_REFUSED, KDP_AGENT_RES_FAILED,
			KDP_AGENT_RES__MAX };
enum kdp_agent_restart { KDP_AGENT_RESTART_CLOSED, KDP_AGENT_RESTART_GONE,
			 KDP_AGENT_RESTART_ERROR, KDP_AGENT_RESTART_HTTP,
			 KDP_AGENT_RESTART__MAX };
enum kdp_agent_event { KDP_AGENT_EV_ADDED, KDP_AGENT_EV_MODIFIED, KDP_AGENT_EV_DELETED,
		       KDP_AGENT_EV_BOOKMARK, KDP_AGENT_EV_ERROR, KDP_AGENT_EV__MAX };

#define KDP_AGENT_LAT_BUCKETS 14

/** Every counter the agent exports; the event loop alone writes them. */
struct kdp_agent_metrics {
	uint64_t watch_restarts[KDP_AGENT_KIND__MAX][KDP_AGENT_RESTART__MAX];
	uint64_t lists[KDP_AGENT_KIND__MAX];
	uint64_t events[KDP_AGENT_KIND__MAX][KDP_AGENT_EV__MAX];
	uint64_t applied[KDP_AGENT_OBJ__MAX][KDP_AGENT_OP__MAX][KDP_AGENT_RES__MAX];
	uint64_t lat_bucket[KDP_AGENT_LAT_BUCKETS + 1]; /**< last: +Inf */
	double lat_sum;
	uint64_t lat_count;
	uint64_t resyncs[4];	 /**< start, kdp restarted, kdp back, periodic */
	uint64_t bulk_applies;
	uint64_t batch_applies;
	uint64_t endpoints_relabelled;
	uint64_t endpoints_collected;
	bool kdp_up;
	bool synced;
	bool extended_fields;
	const struct kdp_agent_kube *kube; /**< for objects per kind */
};

extern struct kdp_agent_metrics kdp_agent_m;

/** Counts an apply that took @p seconds from the event to kdp's answer. */
void kdp_agent_metrics_latency(double seconds);

/** Renders every metric in the Prometheus text format into @p out. */
void kdp_agent_metrics_render(struct kdp_agent_buf *out);

/**
 * Listens on @p addr: "HOST:PORT" (TCP; ":PORT" for every address),
 * "unix:PATH", or "off". Returns the listening fd, -2 for off, -1 with
 * @p err.
 */
int kdp_agent_metrics_listen(const char *addr, char *err);

/** The listener's and its clients' fds, for the event loop to poll. */
int kdp_agent_metrics_fds(int *fds, int max);

/** Serves what is ready on the listener (non-blocking; /metrics, /healthz). */
void kdp_agent_metrics_serve(void);

/** Closes the listener and its clients. */
void kdp_agent_metrics_close(void);

/* ---- sync (kdp_agent_sync.c) ---- */

struct kdp_agent_sync;

struct kdp_agent_sync_opts {
	struct kdp_agent_kdp *kdp;
	const char *node_name;
	enum kdp_agent_fields fields; /**< starting mode */
	bool fields_auto;	      /**< fall back to basic on "unknown field" */
	const char *algorithm;
	unsigned int bulk_threshold;  /**< 0: decide by measured costs */
	double poll_seconds;	      /**< kdp status poll */
	double gc_seconds;	      /**< endpoints without a pod; 0: never */
	double resync_seconds;	      /**< full compare with kdp; 0: never */
};

struct kdp_agent_sync *kdp_agent_sync_new(const struct kdp_agent_sync_opts *o);
void kdp_agent_sync_free(struct kdp_agent_sync *s);

/** The change callback for kdp_agent_kube (arg: the sync). */
void kdp_agent_sync_on_change(void *arg, enum kdp_agent_kind kind, const char *key,
			      json_t *old, json_t *obj, double t);

/**
 * Polls kdp when due, resyncs when needed, applies what changed. Call when
 * the stores are complete (kdp_agent_kube_synced). Returns the seconds until
 * its next timer.
 */
double kdp_agent_sync_step(struct kdp_agent_sync *s, struct kdp_agent_kube *kube);

#endif

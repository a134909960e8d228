/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-agent: keeping kdp in line with the stores.
 *
 * Each change of an object marks the kdp objects it affects dirty (a Service
 * or any of its EndpointSlices: that service; a Node; a policy; the
 * ip-masq-agent ConfigMap; a Pod: its endpoint's labels), with the time of
 * the change. A flush computes each dirty object's body, compares it with
 * what kdp was last told (or showed at the last resync) and sends only the
 * difference: all of it as one PATCH /v1/objects (kdp applies a batch as one
 * snapshot and one journal line; a batch kdp refuses is sent again one
 * update at a time, so one bad object holds back only itself), or, when
 * very many objects changed (the first sync), one PUT /v1/state?keep=endpoints
 * with everything. A kdp from before batches gets one PUT or DELETE per
 * object, or a whole state when single updates would cost more (it rebuilt
 * its tables on every update). A resync (at start, when kdp comes back or
 * restarted: its bootId changed, and every --resync-interval) reads what kdp
 * holds and marks everything dirty, so the flush sends exactly what differs
 * and removes what the cluster no longer has.
 *
 * Endpoints belong to kdp-cni (it creates them); the agent only sets their
 * labels from the Pods (the redirect policies select by label) and removes
 * an endpoint whose pod has been gone for --endpoint-gc seconds. Both hold
 * the lock file exclusively (kdp-cni holds it shared).
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdp_agent.h"

enum coll { C_NODE, C_SVC, C_LRP, C__MAX };

static const char *const coll_path[] = {"/v1/nodes", "/v1/services", "/v1/lrp"};
static const char *const coll_name[] = {"node", "service", "local redirect policy"};
static const enum kdp_agent_obj coll_obj[] = {KDP_AGENT_OBJ_NODE, KDP_AGENT_OBJ_SERVICE,
					      KDP_AGENT_OBJ_LRP};

enum resync_reason { R_START, R_KDP_RESTART, R_KDP_BACK, R_PERIODIC };
static const char *const reason_name[] = {"start", "kdp restarted", "kdp reachable again",
					  "periodic"};

enum ipmasq_known { IPM_UNKNOWN, IPM_ABSENT, IPM_TEXT };

struct change {
	enum coll c;
	const char *key; /* borrowed from the dirty object */
	json_t *want;	 /* NULL: must not exist */
	double t;
};

struct kdp_agent_sync {
	struct kdp_agent_sync_opts o;
	struct kdp_agent_kube *kube;
	enum kdp_agent_fields fields;
	json_t *applied[C__MAX]; /* key -> body kdp holds */
	json_t *dirty[C__MAX];	 /* key -> time of the first change not applied */
	json_t *slice_svc;	 /* slice key -> service key */
	json_t *svc_slices;	 /* service key -> {slice key: true} */
	json_t *labels_dirty;	 /* pod key -> time */
	json_t *orphans;	 /* endpoint key -> when it was first seen without pod */
	json_t *warned;		 /* object key -> last message logged */
	bool ipmasq_dirty;
	double ipmasq_t;
	enum ipmasq_known ipm;
	char *ipm_text;
	bool need_resync;
	enum resync_reason reason;
	bool kdp_up;
	bool ever_up;
	double uptime;
	double next_poll;
	double next_ep_check;
	json_int_t ep_count;
	double last_resync;
	double retry_at;
	double backoff;
	double avg_put;	  /* seconds per single update (moving average) */
	double avg_state; /* seconds per whole state */
	double no_bulk_until;
	bool batches;	  /* kdp takes PATCH /v1/objects and ?keep=endpoints */
	char boot_id[48]; /* kdp's bootId, "" when it has none */
	bool ipv6;	  /* kdp has IPv6 (nodeIPv6 in its status): dual stack */
};

/* Changes per PATCH /v1/objects at most (kdp's maxBodyBytes is 1 MiB by
 * default: a service body is a few hundred bytes). */
#define BATCH_MAX 500
#define BATCH_BYTES (512 * 1024)

/* ---- the change callback ---- */

static void mark(json_t *dirty, const char *key, double t)
{
	if (json_object_get(dirty, key) == NULL)
		json_object_set_new(dirty, key, json_real(t));
}

/* The service of a slice: "namespace/<kubernetes.io/service-name>". */
static bool slice_owner(const json_t *slice, char *out, size_t len)
{
	const json_t *md = json_object_get(slice, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *svc = json_string_value(
		json_object_get(json_object_get(md, "labels"), "kubernetes.io/service-name"));

	if (ns == NULL || svc == NULL)
		return false;
	snprintf(out, len, "%s/%s", ns, svc);
	return true;
}

void kdp_agent_sync_on_change(void *arg, enum kdp_agent_kind kind, const char *key,
			      json_t *old, json_t *obj, double t)
{
	struct kdp_agent_sync *s = arg;
	char svc[300];

	switch (kind) {
	case KDP_AGENT_NODE:
		mark(s->dirty[C_NODE], key, t);
		break;
	case KDP_AGENT_SERVICE:
		mark(s->dirty[C_SVC], key, t);
		break;
	case KDP_AGENT_SLICE: {
		const char *prev = json_string_value(json_object_get(s->slice_svc, key));

		if (prev != NULL) {
			json_t *set = json_object_get(s->svc_slices, prev);
			mark(s->dirty[C_SVC], prev, t);
			json_object_del(set, key);
			if (json_object_size(set) == 0)
				json_object_del(s->svc_slices, prev);
			json_object_del(s->slice_svc, key);
		}
		if (obj != NULL && slice_owner(obj, svc, sizeof(svc))) {
			json_t *set = json_object_get(s->svc_slices, svc);
			if (set == NULL) {
				set = json_object();
				json_object_set_new(s->svc_slices, svc, set);
			}
			json_object_set_new(set, key, json_true());
			json_object_set_new(s->slice_svc, key, json_string(svc));
			mark(s->dirty[C_SVC], svc, t);
		}
		break;
	}
	case KDP_AGENT_POD: {
		json_t *a = old ? kdp_agent_pod_labels(old) : NULL;
		json_t *b = obj ? kdp_agent_pod_labels(obj) : NULL;
		const json_t *ip_a = json_object_get(json_object_get(old, "status"), "podIPs");
		const json_t *ip_b = json_object_get(json_object_get(obj, "status"), "podIPs");

		/* New labels, or a new sandbox (kdp-cni has just made its
		 * endpoint, without labels): set them. podIPs has the
		 * addresses of both families (podIP only the first). */
		if (ip_b == NULL)
			ip_b = json_object_get(json_object_get(obj, "status"), "podIP");
		if (ip_a == NULL)
			ip_a = json_object_get(json_object_get(old, "status"), "podIP");
		if (obj != NULL && (a == NULL || !json_equal(a, b) ||
				    (ip_b != NULL && (ip_a == NULL || !json_equal(ip_a, ip_b)))))
			mark(s->labels_dirty, key, t);
		json_decref(a);
		json_decref(b);
		break;
	}
	case KDP_AGENT_LRP:
		mark(s->dirty[C_LRP], key, t);
		break;
	case KDP_AGENT_CONFIGMAP:
		if (!s->ipmasq_dirty)
			s->ipmasq_t = t;
		s->ipmasq_dirty = true;
		break;
	default:
		break;
	}
}

/* ---- bodies ---- */

static void warn_once(struct kdp_agent_sync *s, enum kdp_agent_level lvl, const char *what,
		      const char *key, const char *msg)
{
	char k[400];
	const char *prev;

	snprintf(k, sizeof(k), "%s %s", what, key);
	prev = json_string_value(json_object_get(s->warned, k));
	if (msg == NULL || msg[0] == '\0') {
		json_object_del(s->warned, k);
		return;
	}
	if (prev != NULL && strcmp(prev, msg) == 0)
		return;
	json_object_set_new(s->warned, k, json_string(msg));
	kdp_agent_log(lvl, "%s %s: %s", what, key, msg);
}

/* What kdp should hold for @p key of collection @p c (new reference), or NULL. */
static json_t *want(struct kdp_agent_sync *s, enum coll c, const char *key)
{
	char why[KDP_AGENT_ERR_LEN] = "", warn[KDP_AGENT_ERR_LEN] = "";
	json_t *obj, *body = NULL;

	switch (c) {
	case C_NODE:
		obj = kdp_agent_kube_get(s->kube, KDP_AGENT_NODE, key);
		if (obj == NULL)
			return NULL;
		body = kdp_agent_node_body(obj, s->ipv6, why);
		json_decref(obj);
		warn_once(s, KDP_AGENT_WARN, "node", key, body ? "" : why);
		return body;
	case C_SVC: {
		struct kdp_agent_svc_opts so = {s->fields, s->o.algorithm, s->ipv6};
		json_t *slices, *set = json_object_get(s->svc_slices, key), *v;
		const char *sk;
		const char *type;
		bool normal;

		obj = kdp_agent_kube_get(s->kube, KDP_AGENT_SERVICE, key);
		if (obj == NULL)
			return NULL;
		slices = json_array();
		json_object_foreach(set, sk, v) {
			json_t *sl = kdp_agent_kube_get(s->kube, KDP_AGENT_SLICE, sk);
			if (sl != NULL)
				json_array_append_new(slices, sl);
		}
		body = kdp_agent_service_body(obj, slices, &so, why, warn);
		json_decref(slices);
		type = json_string_value(json_object_get(json_object_get(obj, "spec"), "type"));
		/* headless and ExternalName services are normal */
		normal = strstr(why, "headless") || (type && strcmp(type, "ExternalName") == 0);
		json_decref(obj);
		if (body == NULL)
			warn_once(s, normal ? KDP_AGENT_DEBUG : KDP_AGENT_WARN, "service", key, why);
		else
			warn_once(s, KDP_AGENT_WARN, "service", key, warn);
		return body;
	}
	case C_LRP:
		obj = kdp_agent_kube_get(s->kube, KDP_AGENT_LRP, key);
		if (obj == NULL)
			return NULL;
		body = kdp_agent_lrp_body(obj, s->ipv6, why);
		json_decref(obj);
		warn_once(s, KDP_AGENT_WARN, "local redirect policy", key, body ? "" : why);
		return body;
	default:
		return NULL;
	}
}

/* Every key of @p want is in @p have with the same value (kdp's GET adds
 * run-time fields the bodies do not have). */
static bool same(const json_t *want, const json_t *have)
{
	const char *k;
	json_t *v;

	if (want == NULL || have == NULL)
		return want == have;
	json_object_foreach((json_t *)want, k, v)
		if (!json_equal(v, json_object_get(have, k)))
			return false;
	return true;
}

static void summary(enum coll c, const json_t *b, char *out, size_t len)
{
	if (b == NULL) {
		snprintf(out, len, "removed");
	} else if (c == C_SVC) {
		const json_t *bes = json_object_get(b, "backends"), *v;
		int n[4] = {0};
		size_t i;

		json_array_foreach(bes, i, v) {
			const char *st = json_string_value(json_object_get(v, "state"));
			n[st[0] == 'a' ? 0 : st[0] == 't' ? 1 : 2]++;
		}
		snprintf(out, len, "%s %s, %zu port(s), %zu backend(s): %d active, %d terminating, %d not ready",
			 json_string_value(json_object_get(b, "type")),
			 json_string_value(json_object_get(b, "clusterIP")),
			 json_array_size(json_object_get(b, "ports")), json_array_size(bes), n[0],
			 n[1], n[2]);
	} else if (c == C_NODE) {
		char *cidrs = json_dumps(json_object_get(b, "podCIDRs"), JSON_COMPACT);
		snprintf(out, len, "ip %s, podCIDRs %s", json_string_value(json_object_get(b, "ip")),
			 cidrs ? cidrs : "?");
		free(cidrs);
	} else {
		const json_t *fe = json_object_get(b, "redirectFrontend");
		const json_t *sm = json_object_get(fe, "serviceMatcher");
		snprintf(out, len, "%s %s", sm ? "service" : "address",
			 sm ? json_string_value(json_object_get(sm, "serviceName"))
			    : json_string_value(json_object_get(json_object_get(fe, "addressMatcher"), "ip")));
	}
}

/* ---- talking to kdp ---- */

static void kdp_lost(struct kdp_agent_sync *s, const char *err)
{
	if (s->kdp_up)
		kdp_agent_log(KDP_AGENT_WARN, "kdp unreachable: %s; holding changes until it is back",
			      err);
	s->kdp_up = false;
	kdp_agent_m.kdp_up = false;
}

/* Switches to the basic service fields after kdp refused an extended one. */
static bool fields_refused(struct kdp_agent_sync *s, long code, const json_t *ans)
{
	static const char *const ext[] = {"externalTrafficPolicy", "internalTrafficPolicy",
					  "healthCheckNodePort", "loadBalancerSourceRanges",
					  "nodeName"};
	const char *e = kdp_agent_kdp_error(ans);

	if (code != 400 || !s->o.fields_auto || s->fields != KDP_AGENT_FIELDS_EXTENDED ||
	    strstr(e, "unknown field") == NULL)
		return false;
	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (strstr(e, ext[i]) != NULL) {
			const char *k;
			json_t *v;

			kdp_agent_log(KDP_AGENT_WARN,
				      "kdp does not take the extended service fields (%s): sending the "
				      "basic ones; externalTrafficPolicy/internalTrafficPolicy Local, "
				      "healthCheckNodePort and loadBalancerSourceRanges are not enforced",
				      e);
			s->fields = KDP_AGENT_FIELDS_BASIC;
			kdp_agent_m.extended_fields = false;
			json_object_foreach(kdp_agent_kube_store(s->kube, KDP_AGENT_SERVICE), k, v)
				mark(s->dirty[C_SVC], k, kdp_agent_now());
			return true;
		}
	return false;
}

static void server_trouble(struct kdp_agent_sync *s, double now)
{
	s->backoff = s->backoff == 0 ? 0.5 : fmin(s->backoff * 2, 30);
	s->retry_at = now + s->backoff;
}

static void count_latency(double t, double now)
{
	if (t > 0)
		kdp_agent_metrics_latency(now - t);
}

/* One PUT or DELETE. 1: done (or refused, logged); 0: try again later. */
static int apply_one(struct kdp_agent_sync *s, struct change *ch)
{
	enum kdp_agent_obj ob = coll_obj[ch->c];
	enum kdp_agent_op op = ch->want ? KDP_AGENT_OP_PUT : KDP_AGENT_OP_DELETE;
	char path[600], err[KDP_AGENT_ERR_LEN], sum[300];
	double t0 = kdp_agent_now(), now;
	json_t *ans = NULL;
	char *body = NULL;
	long code;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", coll_path[ch->c], ch->key);
	if (ch->want != NULL && (body = json_dumps(ch->want, JSON_COMPACT)) == NULL)
		kdp_agent_oom();
	ret = kdp_agent_kdp_call(s->o.kdp, ch->want ? "PUT" : "DELETE", path, body,
				 body ? strlen(body) : 0, &code, &ans, err);
	free(body);
	now = kdp_agent_now();
	if (ret != 0) {
		kdp_agent_m.applied[ob][op][KDP_AGENT_RES_FAILED]++;
		kdp_lost(s, err);
		return 0;
	}
	if (ch->want != NULL)
		s->avg_put = s->avg_put == 0 ? now - t0 : 0.8 * s->avg_put + 0.2 * (now - t0);
	if (code == 200 || (code == 404 && ch->want == NULL)) {
		kdp_agent_m.applied[ob][op][KDP_AGENT_RES_OK]++;
		if (ch->want != NULL)
			json_object_set(s->applied[ch->c], ch->key, ch->want);
		else
			json_object_del(s->applied[ch->c], ch->key);
		summary(ch->c, ch->want, sum, sizeof(sum));
		if (ch->t > 0)
			kdp_agent_log(KDP_AGENT_INFO, "applied %s %s: %s %s (%.1f ms; %.1f ms after the change)",
				      coll_name[ch->c], ch->key, ch->want ? "PUT" : "DELETE", sum,
				      (now - t0) * 1e3, (now - ch->t) * 1e3);
		else
			kdp_agent_log(KDP_AGENT_INFO, "applied %s %s: %s %s (%.1f ms; resync)",
				      coll_name[ch->c], ch->key, ch->want ? "PUT" : "DELETE", sum,
				      (now - t0) * 1e3);
		count_latency(ch->t, now);
		s->backoff = 0;
		json_decref(ans);
		return 1;
	}
	if (code >= 500) {
		kdp_agent_m.applied[ob][op][KDP_AGENT_RES_FAILED]++;
		kdp_agent_log(KDP_AGENT_WARN, "kdp failed %s %s: HTTP %ld %s; trying again", ch->want ? "PUT" : "DELETE",
			      path, code, kdp_agent_kdp_error(ans));
		server_trouble(s, now);
		json_decref(ans);
		return 0;
	}
	if (fields_refused(s, code, ans)) {
		json_decref(ans);
		return 0;
	}
	kdp_agent_m.applied[ob][op][KDP_AGENT_RES_REFUSED]++;
	kdp_agent_log(KDP_AGENT_ERROR, "kdp refused %s %s: HTTP %ld %s", ch->want ? "PUT" : "DELETE", path,
		      code, kdp_agent_kdp_error(ans));
	json_decref(ans);
	return 1;
}

/* GET of a JSON document from kdp; NULL (logged, kdp marked lost) on failure. */
static json_t *kdp_get(struct kdp_agent_sync *s, const char *path)
{
	char err[KDP_AGENT_ERR_LEN];
	json_t *ans = NULL;
	long code;

	if (kdp_agent_kdp_call(s->o.kdp, "GET", path, NULL, 0, &code, &ans, err) != 0) {
		kdp_lost(s, err);
		return NULL;
	}
	if (code != 200 || ans == NULL) {
		kdp_agent_log(KDP_AGENT_WARN, "kdp GET %s: HTTP %ld %s", path, code,
			      kdp_agent_kdp_error(ans));
		json_decref(ans);
		return NULL;
	}
	return ans;
}

/* kdp's endpoints as PUT takes them (no run-time "port"), with the labels
 * of their pods where the pod is known. */
static json_t *endpoints_for_state(struct kdp_agent_sync *s, json_t *eps)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(eps, i, e) {
		char key[300];
		json_t *o = json_deep_copy(e), *pod;

		json_object_del(o, "port");
		snprintf(key, sizeof(key), "%s/%s",
			 json_string_value(json_object_get(e, "namespace")),
			 json_string_value(json_object_get(e, "name")));
		pod = kdp_agent_kube_get(s->kube, KDP_AGENT_POD, key);
		if (pod != NULL)
			json_object_set_new(o, "labels", kdp_agent_pod_labels(pod));
		json_decref(pod);
		json_array_append_new(out, o);
	}
	return out;
}

/* The config the ip-masq-agent ConfigMap wants (the store holds that one
 * ConfigMap at most), or NULL. */
static char *ipmasq_want(struct kdp_agent_sync *s)
{
	void *it = json_object_iter(kdp_agent_kube_store(s->kube, KDP_AGENT_CONFIGMAP));
	json_t *cm = it ? json_loads(json_string_value(json_object_iter_value(it)), 0, NULL) : NULL;
	const char *t = kdp_agent_ipmasq_text(cm);
	char *out = t ? strdup(t) : NULL;

	if (t != NULL && out == NULL)
		kdp_agent_oom();
	json_decref(cm);
	return out;
}

static bool ipmasq_same(struct kdp_agent_sync *s, const char *w)
{
	if (s->ipm == IPM_UNKNOWN)
		return false;
	if (w == NULL)
		return s->ipm == IPM_ABSENT;
	return s->ipm == IPM_TEXT && strcmp(s->ipm_text, w) == 0;
}

static void ipmasq_set(struct kdp_agent_sync *s, const char *w)
{
	free(s->ipm_text);
	s->ipm_text = NULL;
	s->ipm = w ? IPM_TEXT : IPM_ABSENT;
	if (w != NULL && (s->ipm_text = strdup(w)) == NULL)
		kdp_agent_oom();
}

static int apply_ipmasq(struct kdp_agent_sync *s, const char *w)
{
	char err[KDP_AGENT_ERR_LEN];
	double t0 = kdp_agent_now(), now;
	enum kdp_agent_op op = w ? KDP_AGENT_OP_PUT : KDP_AGENT_OP_DELETE;
	json_t *ans = NULL;
	long code;

	if (kdp_agent_kdp_call(s->o.kdp, w ? "PUT" : "DELETE", "/v1/ipmasq", w ? w : NULL,
			       w ? strlen(w) : 0, &code, &ans, err) != 0) {
		kdp_agent_m.applied[KDP_AGENT_OBJ_IPMASQ][op][KDP_AGENT_RES_FAILED]++;
		kdp_lost(s, err);
		return 0;
	}
	now = kdp_agent_now();
	if (code == 200 || (code == 404 && w == NULL)) {
		kdp_agent_m.applied[KDP_AGENT_OBJ_IPMASQ][op][KDP_AGENT_RES_OK]++;
		ipmasq_set(s, w);
		kdp_agent_log(KDP_AGENT_INFO, "applied ip-masq-agent config: %s%s%s (%.1f ms)",
			      w ? "PUT '" : "DELETE (no ConfigMap or no key 'config')", w ? w : "",
			      w ? "'" : "", (now - t0) * 1e3);
		count_latency(s->ipmasq_t, now);
		json_decref(ans);
		return 1;
	}
	if (code >= 500) {
		kdp_agent_m.applied[KDP_AGENT_OBJ_IPMASQ][op][KDP_AGENT_RES_FAILED]++;
		server_trouble(s, now);
		json_decref(ans);
		return 0;
	}
	kdp_agent_m.applied[KDP_AGENT_OBJ_IPMASQ][op][KDP_AGENT_RES_REFUSED]++;
	kdp_agent_log(KDP_AGENT_ERROR, "kdp refused the ip-masq-agent config: HTTP %ld %s", code,
		      kdp_agent_kdp_error(ans));
	ipmasq_set(s, w); /* until it changes: the same text would be refused again */
	json_decref(ans);
	return 1;
}

/* ---- batches ---- */

/* "ns/name" or "name" as kdp's id array. */
static json_t *id_of(enum coll c, const char *key)
{
	const char *slash = strchr(key, '/');

	if (c == C_NODE || slash == NULL)
		return json_pack("[s]", key);
	return json_pack("[s#, s]", key, (int)(slash - key), slash + 1);
}

/* PATCH /v1/objects with @p n changes. 1: done; 0: try later; -1: refused
 * (send them one by one); -2: this kdp has no batches. */
static int apply_batch(struct kdp_agent_sync *s, struct change *ch, size_t n)
{
	json_t *objs = json_array(), *body, *ans = NULL;
	char err[KDP_AGENT_ERR_LEN], *text;
	double t0 = kdp_agent_now(), now;
	long code;
	int ret;

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:o}", "kind", coll_path[ch[i].c], "id",
				      id_of(ch[i].c, ch[i].key));
		if (o == NULL)
			kdp_agent_oom();
		if (ch[i].want != NULL)
			json_object_set(o, "body", ch[i].want);
		json_array_append_new(objs, o);
	}
	body = json_pack("{s:o}", "objects", objs);
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL)
		kdp_agent_oom();
	ret = kdp_agent_kdp_call(s->o.kdp, "PATCH", "/v1/objects", text, strlen(text), &code, &ans,
				 err);
	free(text);
	now = kdp_agent_now();
	if (ret != 0) {
		for (size_t i = 0; i < n; i++)
			kdp_agent_m.applied[coll_obj[ch[i].c]][ch[i].want ? KDP_AGENT_OP_PUT
									: KDP_AGENT_OP_DELETE]
					   [KDP_AGENT_RES_FAILED]++;
		kdp_lost(s, err);
		return 0;
	}
	if (code == 404 || code == 405) {
		kdp_agent_log(KDP_AGENT_INFO,
			      "kdp has no PATCH /v1/objects (HTTP %ld): one update per object", code);
		s->batches = false;
		json_decref(ans);
		return -2;
	}
	if (code == 200) {
		kdp_agent_m.batch_applies++;
		for (size_t i = 0; i < n; i++) {
			char sum[300];

			kdp_agent_m.applied[coll_obj[ch[i].c]][ch[i].want ? KDP_AGENT_OP_PUT
									  : KDP_AGENT_OP_DELETE]
					   [KDP_AGENT_RES_OK]++;
			if (ch[i].want != NULL)
				json_object_set(s->applied[ch[i].c], ch[i].key, ch[i].want);
			else
				json_object_del(s->applied[ch[i].c], ch[i].key);
			summary(ch[i].c, ch[i].want, sum, sizeof(sum));
			if (ch[i].t > 0)
				kdp_agent_log(KDP_AGENT_INFO,
					      "applied %s %s: %s %s (batch of %zu: %.1f ms; %.1f ms after the change)",
					      coll_name[ch[i].c], ch[i].key, ch[i].want ? "PUT" : "DELETE", sum,
					      n, (now - t0) * 1e3, (now - ch[i].t) * 1e3);
			else
				kdp_agent_log(KDP_AGENT_INFO, "applied %s %s: %s %s (batch of %zu: %.1f ms; resync)",
					      coll_name[ch[i].c], ch[i].key, ch[i].want ? "PUT" : "DELETE", sum,
					      n, (now - t0) * 1e3);
			count_latency(ch[i].t, now);
		}
		s->backoff = 0;
		json_decref(ans);
		return 1;
	}
	if (code >= 500) {
		kdp_agent_log(KDP_AGENT_WARN, "kdp failed a batch of %zu: HTTP %ld %s; trying again", n,
			      code, kdp_agent_kdp_error(ans));
		server_trouble(s, now);
		json_decref(ans);
		return 0;
	}
	if (fields_refused(s, code, ans)) {
		json_decref(ans);
		return 0;
	}
	kdp_agent_log(KDP_AGENT_WARN,
		      "kdp refused a batch of %zu: HTTP %ld %s; sending its updates one by one", n, code,
		      kdp_agent_kdp_error(ans));
	json_decref(ans);
	return -1;
}

/* Sends @p n changes in batches. Returns how many were applied (or refused
 * one by one); stops early when kdp is gone, failed or has no batches. */
static size_t apply_batches(struct kdp_agent_sync *s, struct change *ch, size_t n)
{
	size_t done = 0;

	while (done < n && s->kdp_up && s->batches && kdp_agent_now() >= s->retry_at) {
		size_t m = 0, bytes = 0;
		enum kdp_agent_fields f = s->fields;
		int r;

		while (done + m < n && m < BATCH_MAX && bytes < BATCH_BYTES) {
			bytes += 200 + (ch[done + m].want ? 60 * json_object_size(ch[done + m].want) +
								    80 * json_array_size(json_object_get(
									    ch[done + m].want, "backends"))
							  : 0);
			m++;
		}
		r = apply_batch(s, &ch[done], m);
		if (r == 1) {
			for (size_t i = done; i < done + m; i++)
				json_object_del(s->dirty[ch[i].c], ch[i].key);
			done += m;
			continue;
		}
		if (r != -1 || s->fields != f)
			break;
		/* Refused: one by one, so only the bad one stays behind. */
		for (size_t i = done; i < done + m && s->kdp_up; i++)
			if (apply_one(s, &ch[i]) == 1)
				json_object_del(s->dirty[ch[i].c], ch[i].key);
		done += m;
	}
	return done;
}

/* ---- whole state ---- */

/* PUT /v1/state with what kdp holds plus @p ch. 1 done, 0 later, -1 refused. */
static int apply_bulk(struct kdp_agent_sync *s, struct change *ch, size_t n, const char *ipm,
		      bool ipm_change)
{
	json_t *next[C__MAX], *state, *eps, *ans = NULL, *arr[C__MAX], *v;
	char err[KDP_AGENT_ERR_LEN];
	const char *k;
	double t0 = kdp_agent_now(), now;
	char *body;
	long code;
	int ret;

	for (int c = 0; c < C__MAX; c++)
		next[c] = json_copy(s->applied[c]);
	for (size_t i = 0; i < n; i++) {
		if (ch[i].want != NULL)
			json_object_set(next[ch[i].c], ch[i].key, ch[i].want);
		else
			json_object_del(next[ch[i].c], ch[i].key);
	}
	for (int c = 0; c < C__MAX; c++) {
		arr[c] = json_array();
		json_object_foreach(next[c], k, v)
			json_array_append(arr[c], v);
	}
	if (!ipm_change)
		ipm = s->ipm == IPM_TEXT ? s->ipm_text : NULL;
	if (s->batches) {
		/* kdp keeps its endpoints (kdp-cni's): nothing to read or lock. */
		state = json_pack("{s:o, s:o, s:o, s:o}", "nodes", arr[C_NODE], "services",
				  arr[C_SVC], "localRedirectPolicies", arr[C_LRP], "ipMasqAgent",
				  ipm ? json_string(ipm) : json_null());
		goto send;
	}
	kdp_agent_kdp_lock(s->o.kdp, true);
	eps = kdp_get(s, "/v1/endpoints");
	if (eps == NULL) {
		kdp_agent_kdp_lock(s->o.kdp, false);
		for (int c = 0; c < C__MAX; c++) {
			json_decref(next[c]);
			json_decref(arr[c]);
		}
		return s->kdp_up ? -1 : 0;
	}
	state = json_pack("{s:o, s:o, s:o, s:o, s:o}", "nodes", arr[C_NODE], "endpoints",
			  endpoints_for_state(s, eps), "services", arr[C_SVC],
			  "localRedirectPolicies", arr[C_LRP], "ipMasqAgent",
			  ipm ? json_string(ipm) : json_null());
	json_decref(eps);
send:
	body = json_dumps(state, JSON_COMPACT);
	json_decref(state);
	if (body == NULL)
		kdp_agent_oom();
	ret = kdp_agent_kdp_call(s->o.kdp, "PUT",
				 s->batches ? "/v1/state?keep=endpoints" : "/v1/state", body,
				 strlen(body), &code, &ans, err);
	if (!s->batches)
		kdp_agent_kdp_lock(s->o.kdp, false);
	now = kdp_agent_now();
	if (ret != 0) {
		kdp_agent_m.applied[KDP_AGENT_OBJ_STATE][KDP_AGENT_OP_PUT][KDP_AGENT_RES_FAILED]++;
		kdp_lost(s, err);
		ret = 0;
	} else if (code == 200) {
		kdp_agent_m.applied[KDP_AGENT_OBJ_STATE][KDP_AGENT_OP_PUT][KDP_AGENT_RES_OK]++;
		kdp_agent_m.bulk_applies++;
		s->avg_state = s->avg_state == 0 ? now - t0 : 0.7 * s->avg_state + 0.3 * (now - t0);
		for (int c = 0; c < C__MAX; c++) {
			json_decref(s->applied[c]);
			s->applied[c] = json_incref(next[c]);
		}
		if (ipm_change)
			ipmasq_set(s, ipm);
		for (size_t i = 0; i < n; i++) {
			char sum[300];
			summary(ch[i].c, ch[i].want, sum, sizeof(sum));
			kdp_agent_log(KDP_AGENT_INFO, "applied %s %s: %s %s (in a whole state; %.1f ms after the change)",
				      coll_name[ch[i].c], ch[i].key, ch[i].want ? "PUT" : "DELETE", sum,
				      ch[i].t > 0 ? (now - ch[i].t) * 1e3 : 0);
			count_latency(ch[i].t, now);
		}
		kdp_agent_log(KDP_AGENT_INFO,
			      "applied a whole state (%zu changes; %zu nodes, %zu services, %zu "
			      "policies, %zu bytes) in %.1f ms",
			      n, json_object_size(next[C_NODE]), json_object_size(next[C_SVC]),
			      json_object_size(next[C_LRP]), strlen(body), (now - t0) * 1e3);
		json_object_clear(s->labels_dirty);
		ret = 1;
	} else if (code >= 500) {
		kdp_agent_m.applied[KDP_AGENT_OBJ_STATE][KDP_AGENT_OP_PUT][KDP_AGENT_RES_FAILED]++;
		server_trouble(s, now);
		ret = 0;
	} else if (fields_refused(s, code, ans)) {
		ret = 0;
	} else {
		kdp_agent_m.applied[KDP_AGENT_OBJ_STATE][KDP_AGENT_OP_PUT][KDP_AGENT_RES_REFUSED]++;
		kdp_agent_log(KDP_AGENT_ERROR,
			      "kdp refused the whole state: HTTP %ld %s; sending single updates "
			      "for a minute",
			      code, kdp_agent_kdp_error(ans));
		s->no_bulk_until = now + 60;
		ret = -1;
	}
	free(body);
	json_decref(ans);
	for (int c = 0; c < C__MAX; c++)
		json_decref(next[c]);
	malloc_trim(0); /* the state's text: megabytes */
	return ret;
}

static bool go_bulk(struct kdp_agent_sync *s, size_t n)
{
	double est;

	if (n < 2 || kdp_agent_now() < s->no_bulk_until)
		return false;
	if (s->o.bulk_threshold > 0)
		return n >= s->o.bulk_threshold;
	if (s->batches)
		return n >= 2000; /* batches cost what they change: only the first sync */
	if (s->avg_put == 0)
		return n > 100;
	est = s->avg_state > 0 ? s->avg_state : 8 * s->avg_put;
	return n >= 8 && (double)n * s->avg_put > est;
}

/* ---- flush ---- */

static void flush(struct kdp_agent_sync *s)
{
	struct change *ch = NULL;
	size_t n = 0, cap = 0, done;
	char *ipm = NULL;
	bool ipm_change = false;

	for (int c = 0; c < C__MAX; c++) {
		const char *key;
		json_t *v, *tmp;

		json_object_foreach_safe(s->dirty[c], tmp, key, v) {
			json_t *w = want(s, (enum coll)c, key);

			if (same(w, json_object_get(s->applied[c], key))) {
				json_decref(w);
				json_object_del(s->dirty[c], key);
				continue;
			}
			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				ch = realloc(ch, cap * sizeof(*ch));
				if (ch == NULL)
					kdp_agent_oom();
			}
			ch[n++] = (struct change){(enum coll)c, key, w, json_real_value(v)};
		}
	}
	if (s->ipmasq_dirty) {
		ipm = ipmasq_want(s);
		ipm_change = !ipmasq_same(s, ipm);
		if (!ipm_change)
			s->ipmasq_dirty = false;
	}
	if (n + ipm_change == 0) {
		free(ch);
		free(ipm);
		return;
	}
	if (go_bulk(s, n + ipm_change)) {
		int r = apply_bulk(s, ch, n, ipm, ipm_change);
		if (r != -1) {
			if (r == 1) {
				for (size_t i = 0; i < n; i++)
					json_object_del(s->dirty[ch[i].c], ch[i].key);
				s->ipmasq_dirty = false;
			}
			goto out;
		}
	}
	/* Nodes first (routes to podCIDRs), then services, then policies. */
	{
		enum kdp_agent_fields f0 = s->fields;

		done = s->batches ? apply_batches(s, ch, n) : 0;
		if (s->fields != f0)
			goto out; /* re-rendered in basic form at the next flush */
	}
	for (; done < n && s->kdp_up && kdp_agent_now() >= s->retry_at; done++) {
		enum kdp_agent_fields f = s->fields;

		if (apply_one(s, &ch[done]) == 1)
			json_object_del(s->dirty[ch[done].c], ch[done].key);
		else if (s->fields != f)
			break; /* re-rendered in basic form at the next flush */
	}
	if (ipm_change && s->kdp_up && kdp_agent_now() >= s->retry_at && apply_ipmasq(s, ipm) == 1)
		s->ipmasq_dirty = false;
out:
	for (size_t i = 0; i < n; i++)
		json_decref(ch[i].want);
	free(ch);
	free(ipm);
}

/* ---- endpoints: labels and collection ---- */

/* Gives endpoint @p key the labels of its pod (GET and PUT under the lock). */
static void relabel(struct kdp_agent_sync *s, const char *key, double t)
{
	json_t *pod = kdp_agent_kube_get(s->kube, KDP_AGENT_POD, key);
	json_t *labels, *ep = NULL, *body, *ans = NULL;
	char path[400], err[KDP_AGENT_ERR_LEN], *text;
	long code;

	if (pod == NULL)
		return;
	labels = kdp_agent_pod_labels(pod);
	json_decref(pod);
	snprintf(path, sizeof(path), "/v1/endpoints/%s", key);
	kdp_agent_kdp_lock(s->o.kdp, true);
	if (kdp_agent_kdp_call(s->o.kdp, "GET", path, NULL, 0, &code, &ep, err) != 0) {
		kdp_lost(s, err);
		goto out;
	}
	if (code != 200 || ep == NULL || json_equal(json_object_get(ep, "labels"), labels))
		goto out; /* no endpoint (yet: kdp-cni makes it), or nothing to do */
	body = json_pack("{s:O, s:O, s:O, s:O}", "ip", json_object_get(ep, "ip"), "mac",
			 json_object_get(ep, "mac"), "devargs", json_object_get(ep, "devargs"),
			 "labels", labels);
	if (body != NULL && json_object_get(ep, "ips") != NULL) /* its IPv6 address */
		json_object_set(body, "ips", json_object_get(ep, "ips"));
	text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text == NULL)
		kdp_agent_oom();
	if (kdp_agent_kdp_call(s->o.kdp, "PUT", path, text, strlen(text), &code, &ans, err) != 0) {
		kdp_agent_m.applied[KDP_AGENT_OBJ_ENDPOINT][KDP_AGENT_OP_PUT][KDP_AGENT_RES_FAILED]++;
		kdp_lost(s, err);
	} else if (code == 200) {
		char *l = json_dumps(labels, JSON_COMPACT | JSON_SORT_KEYS);
		kdp_agent_m.applied[KDP_AGENT_OBJ_ENDPOINT][KDP_AGENT_OP_PUT][KDP_AGENT_RES_OK]++;
		kdp_agent_m.endpoints_relabelled++;
		kdp_agent_log(KDP_AGENT_INFO, "applied endpoint %s: labels %s%s", key, l ? l : "?",
			      t > 0 ? "" : " (found without them)");
		count_latency(t, kdp_agent_now());
		free(l);
	} else {
		kdp_agent_m.applied[KDP_AGENT_OBJ_ENDPOINT][KDP_AGENT_OP_PUT][KDP_AGENT_RES_REFUSED]++;
		kdp_agent_log(KDP_AGENT_ERROR, "kdp refused the labels of endpoint %s: HTTP %ld %s",
			      key, code, kdp_agent_kdp_error(ans));
	}
	free(text);
out:
	kdp_agent_kdp_lock(s->o.kdp, false);
	json_decref(ans);
	json_decref(ep);
	json_decref(labels);
}

/* Removes endpoint @p key if it still is the one seen (same devargs). */
static void collect(struct kdp_agent_sync *s, const char *key, const char *devargs)
{
	char path[400], err[KDP_AGENT_ERR_LEN];
	json_t *ep = NULL;
	long code;

	snprintf(path, sizeof(path), "/v1/endpoints/%s", key);
	kdp_agent_kdp_lock(s->o.kdp, true);
	if (kdp_agent_kdp_call(s->o.kdp, "GET", path, NULL, 0, &code, &ep, err) == 0 && code == 200 &&
	    json_string_value(json_object_get(ep, "devargs")) != NULL &&
	    strcmp(json_string_value(json_object_get(ep, "devargs")), devargs) == 0 &&
	    kdp_agent_kdp_call(s->o.kdp, "DELETE", path, NULL, 0, &code, NULL, err) == 0 &&
	    code == 200) {
		kdp_agent_m.endpoints_collected++;
		kdp_agent_m.applied[KDP_AGENT_OBJ_ENDPOINT][KDP_AGENT_OP_DELETE][KDP_AGENT_RES_OK]++;
		kdp_agent_log(KDP_AGENT_INFO,
			      "applied endpoint %s: DELETE (its pod is not on this node for %.0f s: "
			      "kdp-cni's DEL never came)",
			      key, s->o.gc_seconds);
	}
	kdp_agent_kdp_lock(s->o.kdp, false);
	json_decref(ep);
}

/* Compares kdp's endpoints with the pods: labels to set, orphans to collect. */
static void check_endpoints(struct kdp_agent_sync *s, double now)
{
	json_t *eps = kdp_get(s, "/v1/endpoints"), *e, *seen;
	const char *k;
	json_t *v, *tmp;
	size_t i;

	if (eps == NULL)
		return;
	seen = json_object();
	json_array_foreach(eps, i, e) {
		char key[300];
		json_t *pod, *labels;

		snprintf(key, sizeof(key), "%s/%s", json_string_value(json_object_get(e, "namespace")),
			 json_string_value(json_object_get(e, "name")));
		json_object_set_new(seen, key, json_true());
		pod = kdp_agent_kube_get(s->kube, KDP_AGENT_POD, key);
		if (pod != NULL) {
			json_object_del(s->orphans, key);
			labels = kdp_agent_pod_labels(pod);
			json_decref(pod);
			if (!json_equal(labels, json_object_get(e, "labels")))
				mark(s->labels_dirty, key, -1);
			json_decref(labels);
			continue;
		}
		if (s->o.gc_seconds <= 0)
			continue;
		v = json_object_get(s->orphans, key);
		if (v == NULL)
			json_object_set_new(s->orphans, key, json_real(now));
		else if (now - json_real_value(v) >= s->o.gc_seconds) {
			const char *dev = json_string_value(json_object_get(e, "devargs"));
			if (dev != NULL)
				collect(s, key, dev);
			json_object_del(s->orphans, key);
		}
	}
	json_object_foreach_safe(s->orphans, tmp, k, v)
		if (json_object_get(seen, k) == NULL)
			json_object_del(s->orphans, k);
	s->ep_count = (json_int_t)json_array_size(eps);
	json_decref(seen);
	json_decref(eps);
}

/* ---- resync and polling ---- */

/* A service as kdp shows it, without what the basic fields leave out (a
 * kdp of phase 2 shows them always). */
static void basic_only(json_t *svc)
{
	static const char *const ext[] = {"externalTrafficPolicy", "internalTrafficPolicy",
					  "healthCheckNodePort", "loadBalancerSourceRanges"};
	json_t *b;
	size_t i;

	for (size_t k = 0; k < sizeof(ext) / sizeof(ext[0]); k++)
		json_object_del(svc, ext[k]);
	json_array_foreach(json_object_get(svc, "backends"), i, b)
		json_object_del(b, "nodeName");
}

/* Loads what kdp holds into applied[], keyed as the dirty sets are. */
static bool load_kdp(struct kdp_agent_sync *s)
{
	static const char *const drop[C__MAX][5] = {
		{"local", NULL},
		{"frontends", NULL},
		{"frontend", "active", "frontends", "backends", NULL},
	};
	json_t *ipm;

	for (int c = 0; c < C__MAX; c++) {
		json_t *a = kdp_get(s, coll_path[c]), *o;
		size_t i;

		if (a == NULL)
			return false;
		json_object_clear(s->applied[c]);
		json_array_foreach(a, i, o) {
			const char *ns = json_string_value(json_object_get(o, "namespace"));
			const char *name = json_string_value(json_object_get(o, "name"));
			char key[300];
			json_t *copy;

			/* GET /v1/services also lists address-matcher policies */
			if (name == NULL || (c == C_SVC && json_object_get(o, "kind") != NULL))
				continue;
			if (c == C_NODE)
				snprintf(key, sizeof(key), "%s", name);
			else
				snprintf(key, sizeof(key), "%s/%s", ns ? ns : "", name);
			copy = json_copy(o);
			for (int d = 0; drop[c][d] != NULL; d++)
				json_object_del(copy, drop[c][d]);
			json_object_del(copy, "healthCheck"); /* run-time */
			if (c == C_SVC && s->fields == KDP_AGENT_FIELDS_BASIC)
				basic_only(copy);
			json_object_set_new(s->applied[c], key, copy);
		}
		json_decref(a);
	}
	ipm = kdp_get(s, "/v1/ipmasq");
	if (ipm == NULL)
		return false;
	ipmasq_set(s, NULL);
	/* kdp shows the text last applied (else only its parsed form: then
	 * unknown, so it is sent again unless kdp has none and none is wanted) */
	if (json_is_string(json_object_get(ipm, "text")))
		ipmasq_set(s, json_string_value(json_object_get(ipm, "text")));
	else
		s->ipm = json_is_null(json_object_get(ipm, "config")) ? IPM_ABSENT : IPM_UNKNOWN;
	json_decref(ipm);
	return true;
}

static void resync(struct kdp_agent_sync *s, double now)
{
	enum kdp_agent_kind kinds[C__MAX] = {KDP_AGENT_NODE, KDP_AGENT_SERVICE, KDP_AGENT_LRP};

	if (!load_kdp(s))
		return;
	for (int c = 0; c < C__MAX; c++) {
		const char *k;
		json_t *v;

		json_object_foreach(s->applied[c], k, v)
			mark(s->dirty[c], k, -1);
		json_object_foreach(kdp_agent_kube_store(s->kube, kinds[c]), k, v)
			mark(s->dirty[c], k, -1);
	}
	if (!s->ipmasq_dirty)
		s->ipmasq_t = -1;
	s->ipmasq_dirty = true;
	kdp_agent_m.resyncs[s->reason]++;
	kdp_agent_log(KDP_AGENT_INFO,
		      "resync (%s): kdp holds %zu nodes, %zu services, %zu policies; the cluster "
		      "has %zu nodes, %zu services, %zu policies",
		      reason_name[s->reason], json_object_size(s->applied[C_NODE]),
		      json_object_size(s->applied[C_SVC]), json_object_size(s->applied[C_LRP]),
		      json_object_size(kdp_agent_kube_store(s->kube, KDP_AGENT_NODE)),
		      json_object_size(kdp_agent_kube_store(s->kube, KDP_AGENT_SERVICE)),
		      json_object_size(kdp_agent_kube_store(s->kube, KDP_AGENT_LRP)));
	s->need_resync = false;
	s->last_resync = now;
	s->next_ep_check = now; /* labels too */
}

static void poll_kdp(struct kdp_agent_sync *s, double now)
{
	json_t *st = kdp_get(s, "/v1/status");
	double up;
	const char *node, *boot;
	json_int_t neps;

	s->next_poll = now + s->o.poll_seconds;
	if (st == NULL)
		return;
	up = (double)json_integer_value(json_object_get(st, "uptimeSeconds"));
	node = json_string_value(json_object_get(st, "node"));
	boot = json_string_value(json_object_get(st, "bootId"));
	neps = json_integer_value(json_object_get(json_object_get(st, "counts"), "endpoints"));
	if (node != NULL && strcmp(node, s->o.node_name) != 0 && !s->ever_up)
		kdp_agent_log(KDP_AGENT_WARN, "kdp says it is node %s, the agent watches pods of %s",
			      node, s->o.node_name);
	if (!s->kdp_up) {
		s->need_resync = true;
		s->reason = s->ever_up ? R_KDP_BACK : R_START;
		kdp_agent_log(KDP_AGENT_INFO, "kdp reachable (node %s, up %.0f s)", node ? node : "?", up);
	} else if (boot != NULL ? strcmp(boot, s->boot_id) != 0 : up + 1 < s->uptime) {
		s->need_resync = true;
		s->reason = R_KDP_RESTART;
		kdp_agent_log(KDP_AGENT_INFO, "kdp restarted (up %.0f s, was %.0f s%s%s)", up,
			      s->uptime, boot ? "; bootId " : "", boot ? boot : "");
	}
	/* A kdp with a bootId takes batches and ?keep=endpoints (phase 2). */
	if (!s->kdp_up || (boot != NULL && strcmp(boot, s->boot_id) != 0))
		s->batches = boot != NULL;
	snprintf(s->boot_id, sizeof(s->boot_id), "%s", boot ? boot : "");
	if (neps != s->ep_count)
		s->next_ep_check = now;
	/* IPv6 is the node config's: it changes only with a restart (a resync). */
	if ((json_object_get(st, "nodeIPv6") != NULL) != s->ipv6 || !s->ever_up) {
		s->ipv6 = json_object_get(st, "nodeIPv6") != NULL;
		kdp_agent_log(KDP_AGENT_INFO, "kdp %s: %s", s->ipv6 ? "has IPv6" : "has no nodeIPv6",
			      s->ipv6 ? "both families of dual-stack objects sent"
				      : "the IPv4 family of dual-stack objects sent");
	}
	s->uptime = up;
	s->kdp_up = s->ever_up = true;
	kdp_agent_m.kdp_up = true;
	json_decref(st);
}

double kdp_agent_sync_step(struct kdp_agent_sync *s, struct kdp_agent_kube *kube)
{
	double now = kdp_agent_now();
	const char *k;
	json_t *v, *tmp;

	s->kube = kube;
	if (now >= s->next_poll)
		poll_kdp(s, now);
	if (!s->kdp_up || !kdp_agent_kube_synced(kube))
		return fmax(0.05, s->next_poll - now);
	kdp_agent_m.synced = true;
	if (s->o.resync_seconds > 0 && s->last_resync > 0 &&
	    now - s->last_resync >= s->o.resync_seconds) {
		s->need_resync = true;
		s->reason = R_PERIODIC;
	}
	if (s->need_resync)
		resync(s, now);
	if (s->kdp_up && now >= s->retry_at)
		flush(s);
	if (s->kdp_up && now >= s->next_ep_check) {
		check_endpoints(s, now);
		s->next_ep_check = now + 10;
	}
	json_object_foreach_safe(s->labels_dirty, tmp, k, v) {
		if (!s->kdp_up)
			break;
		relabel(s, k, json_real_value(v));
		json_object_del(s->labels_dirty, k);
	}
	now = kdp_agent_now();
	if (s->retry_at > now)
		return fmin(s->retry_at - now, fmax(0, s->next_poll - now));
	return fmax(0, fmin(s->next_poll, s->next_ep_check) - now);
}

struct kdp_agent_sync *kdp_agent_sync_new(const struct kdp_agent_sync_opts *o)
{
	struct kdp_agent_sync *s = calloc(1, sizeof(*s));

	if (s == NULL)
		kdp_agent_oom();
	s->o = *o;
	s->fields = o->fields;
	kdp_agent_m.extended_fields = o->fields == KDP_AGENT_FIELDS_EXTENDED;
	for (int c = 0; c < C__MAX; c++) {
		s->applied[c] = json_object();
		s->dirty[c] = json_object();
	}
	s->slice_svc = json_object();
	s->svc_slices = json_object();
	s->labels_dirty = json_object();
	s->orphans = json_object();
	s->warned = json_object();
	s->ep_count = -1;
	return s;
}

void kdp_agent_sync_free(struct kdp_agent_sync *s)
{
	if (s == NULL)
		return;
	for (int c = 0; c < C__MAX; c++) {
		json_decref(s->applied[c]);
		json_decref(s->dirty[c]);
	}
	json_decref(s->slice_svc);
	json_decref(s->svc_slices);
	json_decref(s->labels_dirty);
	json_decref(s->orphans);
	json_decref(s->warned);
	free(s->ipm_text);
	free(s);
}

/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * kdp-agent: one informer per kind, as the API's clients do it: list (in
 * pages), then watch from the list's resourceVersion with bookmarks; a watch
 * that ends is opened again from the last resourceVersion seen; 410 Gone (an
 * HTTP answer or an ERROR event) means the history is gone: list again;
 * other failures wait (exponential backoff with jitter) before trying again.
 * Every transfer runs in the caller's curl multi handle, so no kind waits
 * for another. Each informer keeps a store of its objects; every change of
 * the store is reported to the on_change callback, a re-list included
 * (objects gone meanwhile are reported removed), so nothing stale survives.
 */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "kdp_agent.h"

#define BACKOFF_MIN 0.2
#define BACKOFF_MAX 30.0
#define OPTIONAL_RETRY 60.0 /* a kind whose CRD is missing: list again after */

enum inf_state { INF_IDLE, INF_LIST, INF_WATCH };

struct informer {
	struct kdp_agent_kube *kube;
	enum kdp_agent_kind kind;
	char base[256];	   /* /api/v1/pods */
	char selector[512]; /* fieldSelector=... (escaped), or "" */
	bool optional;	   /* a 404 means the CRD is not installed: no objects */
	enum inf_state state;
	bool want_list;
	bool synced;
	char rv[64];
	char *cont;	/* continue token of the list in progress */
	json_t *store;	/* key -> object */
	json_t *listed; /* key -> object: the pages of the list in progress */
	CURL *easy;
	struct curl_slist *hdrs;
	struct kdp_agent_buf in; /* a list's body, or a watch's bytes not yet a line */
	size_t scan;		 /* bytes of in already searched for a newline */
	double next_try;
	double backoff;
	double started;
	bool gone;	  /* the watch sent an ERROR of code 410 */
	bool bad_stream;  /* an ERROR of another code, or a line that is not JSON */
	bool missing_logged;
	unsigned long events;
	char errbuf[CURL_ERROR_SIZE];
};

struct kdp_agent_kube {
	CURLM *multi;
	struct kdp_agent_kube_opts o;
	struct informer inf[KDP_AGENT_KIND__MAX];
};

static const char *const kind_names[] = {"Node", "Service", "EndpointSlice", "Pod",
					 "CiliumLocalRedirectPolicy", "ConfigMap"};

const char *kdp_agent_kind_name(enum kdp_agent_kind k)
{
	return k < KDP_AGENT_KIND__MAX ? kind_names[k] : "?";
}

static double jitter(double v)
{
	return v * (0.8 + 0.4 * ((double)random() / (double)RAND_MAX));
}

/* "namespace/name", or "name" for a cluster-scoped object; "" if none. */
static void obj_key(const json_t *obj, char *out, size_t len)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));

	if (name == NULL)
		snprintf(out, len, "%s", "");
	else if (ns != NULL && ns[0] != '\0')
		snprintf(out, len, "%s/%s", ns, name);
	else
		snprintf(out, len, "%s", name);
}

static const char *obj_rv(const json_t *obj)
{
	return json_string_value(
		json_object_get(json_object_get(obj, "metadata"), "resourceVersion"));
}

/* Removes @p key of object @p o when it is there. */
static void drop_key(json_t *o, const char *key)
{
	if (json_is_object(o))
		json_object_del(o, key);
}

/* Keeps of @p o only the keys listed (NULL-terminated). */
static void keep_only(json_t *o, const char *const *keys)
{
	const char *k;
	json_t *v, *tmp;

	if (!json_is_object(o))
		return;
	json_object_foreach_safe(o, tmp, k, v) {
		bool keep = false;
		for (const char *const *x = keys; *x != NULL; x++)
			keep |= strcmp(*x, k) == 0;
		if (!keep)
			json_object_del(o, k);
	}
}

/*
 * Trims an object to what the agent reads before it is stored, as the API's
 * other clients do: a real Node carries its image list and conditions, every
 * object its managedFields; none of it matters here, and with thousands of
 * objects it is most of the memory.
 */
static void trim(enum kdp_agent_kind kind, json_t *obj)
{
	static const char *const md_keys[] = {"name", "namespace", "labels", "resourceVersion", NULL};
	static const char *const node_status[] = {"addresses", NULL};
	static const char *const node_spec[] = {"podCIDR", "podCIDRs", NULL};
	static const char *const pod_status[] = {"podIP", "podIPs", NULL};
	static const char *const svc_status[] = {"loadBalancer", NULL};
	static const char *const ep_keys[] = {"addresses", "conditions", "nodeName", NULL};
	json_t *eps, *ep;
	size_t i;

	keep_only(json_object_get(obj, "metadata"), md_keys);
	switch (kind) {
	case KDP_AGENT_NODE:
		keep_only(json_object_get(obj, "spec"), node_spec);
		keep_only(json_object_get(obj, "status"), node_status);
		break;
	case KDP_AGENT_POD:
		drop_key(obj, "spec");
		keep_only(json_object_get(obj, "status"), pod_status);
		break;
	case KDP_AGENT_SERVICE:
		keep_only(json_object_get(obj, "status"), svc_status);
		drop_key(json_object_get(obj, "spec"), "selector");
		break;
	case KDP_AGENT_SLICE:
		eps = json_object_get(obj, "endpoints");
		json_array_foreach(eps, i, ep)
			keep_only(ep, ep_keys);
		break;
	default:
		break;
	}
}

/* Stores @p obj (NULL: removes @p key) as compact text and reports the
 * change, unless the text is the same. Takes no reference. Text, not a
 * JSON tree: 100,000 endpoints as trees take ten times the memory. */
static void store_set(struct informer *inf, const char *key, json_t *obj, double t)
{
	json_t *prev = json_object_get(inf->store, key), *old = NULL;
	char *text = NULL;

	if (obj != NULL) {
		trim(inf->kind, obj);
		text = json_dumps(obj, JSON_COMPACT);
		if (text == NULL)
			kdp_agent_oom();
		if (prev != NULL && strcmp(json_string_value(prev), text) == 0) {
			free(text);
			return;
		}
	}
	if (prev == NULL && obj == NULL)
		return;
	if (prev != NULL)
		old = json_loads(json_string_value(prev), 0, NULL);
	if (obj != NULL)
		json_object_set_new(inf->store, key, json_string(text));
	else
		json_object_del(inf->store, key);
	free(text);
	inf->kube->o.on_change(inf->kube->o.arg, inf->kind, key, old, obj, t);
	json_decref(old);
}

/* Replaces the store by a complete list: what is gone is removed, what is
 * new or of another resourceVersion is reported. */
static void store_replace(struct informer *inf, json_t *listed, double t)
{
	const char *key;
	json_t *v, *tmp, *gone = json_array();

	json_object_foreach_safe(inf->store, tmp, key, v) {
		if (json_object_get(listed, key) == NULL)
			json_array_append_new(gone, json_string(key));
	}
	for (size_t i = 0; i < json_array_size(gone); i++)
		store_set(inf, json_string_value(json_array_get(gone, i)), NULL, t);
	json_decref(gone);
	json_object_foreach(listed, key, v)
		store_set(inf, key, v, t);
}

/* ---- transfers ---- */

static size_t on_data(char *p, size_t size, size_t n, void *arg);

static void finish_transfer(struct informer *inf)
{
	if (inf->easy != NULL) {
		curl_multi_remove_handle(inf->kube->multi, inf->easy);
		curl_easy_cleanup(inf->easy);
		inf->easy = NULL;
	}
	curl_slist_free_all(inf->hdrs);
	inf->hdrs = NULL;
	inf->in.len = 0;
	inf->scan = 0;
	inf->state = INF_IDLE;
}

static void start(struct informer *inf, double now)
{
	const struct kdp_agent_auth *a = inf->kube->o.auth;
	char url[4096 + 1024], hdr[8192];
	char *tok, *cont = NULL;
	CURL *e = curl_easy_init();

	if (e == NULL)
		kdp_agent_oom();
	inf->want_list = inf->want_list || inf->rv[0] == '\0';
	if (inf->want_list) {
		if (inf->cont != NULL)
			cont = curl_easy_escape(e, inf->cont, 0);
		snprintf(url, sizeof(url), "%s%s?limit=%u%s%s%s%s", a->server, inf->base,
			 inf->kube->o.page_size, inf->selector[0] ? "&" : "", inf->selector,
			 cont ? "&continue=" : "", cont ? cont : "");
		curl_free(cont);
		curl_easy_setopt(e, CURLOPT_TIMEOUT, 300L);
		inf->state = INF_LIST;
		if (inf->listed == NULL)
			inf->listed = json_object();
	} else {
		unsigned int t = inf->kube->o.watch_seconds;

		t += (unsigned int)(random() % (t / 2 + 1));
		snprintf(url, sizeof(url),
			 "%s%s?watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%u%s%s",
			 a->server, inf->base, inf->rv, t, inf->selector[0] ? "&" : "",
			 inf->selector);
		/* the server ends the watch after t s; a silent peer is caught
		 * by TCP keepalive, a stuck one by this */
		curl_easy_setopt(e, CURLOPT_TIMEOUT, (long)t + 60);
		inf->state = INF_WATCH;
		inf->gone = inf->bad_stream = false;
		inf->events = 0;
	}
	inf->hdrs = curl_slist_append(NULL, "Accept: application/json");
	tok = kdp_agent_auth_token(a);
	if (tok != NULL) {
		snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s", tok);
		inf->hdrs = curl_slist_append(inf->hdrs, hdr);
		free(tok);
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, inf->hdrs);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "kdp-agent/" KDP_VERSION);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPINTVL, 10L);
	curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, inf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, inf);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, inf->errbuf);
	if (a->ca.len > 0) {
		struct curl_blob ca = {a->ca.data, a->ca.len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca);
	}
	if (a->insecure) {
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (a->cert.len > 0) {
		struct curl_blob c = {a->cert.data, a->cert.len, CURL_BLOB_NOCOPY};
		struct curl_blob k = {a->key.data, a->key.len, CURL_BLOB_NOCOPY};
		curl_easy_setopt(e, CURLOPT_SSLCERT_BLOB, &c);
		curl_easy_setopt(e, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(e, CURLOPT_SSLKEY_BLOB, &k);
		curl_easy_setopt(e, CURLOPT_SSLKEYTYPE, "PEM");
	}
	inf->errbuf[0] = '\0';
	inf->easy = e;
	inf->started = now;
	kdp_agent_log(KDP_AGENT_DEBUG, "%s: GET %s", kind_names[inf->kind], url + strlen(a->server));
	if (curl_multi_add_handle(inf->kube->multi, e) != CURLM_OK)
		kdp_agent_oom();
}

static long response_code(struct informer *inf)
{
	long code = 0;

	curl_easy_getinfo(inf->easy, CURLINFO_RESPONSE_CODE, &code);
	return code;
}

static void watch_event(struct informer *inf, json_t *ev, double t)
{
	const char *type = json_string_value(json_object_get(ev, "type"));
	json_t *obj = json_object_get(ev, "object");
	struct kdp_agent_metrics *m = &kdp_agent_m;
	char key[512];
	const char *rv;

	if (type == NULL || !json_is_object(obj)) {
		kdp_agent_log(KDP_AGENT_WARN, "%s watch: an event without type or object",
			      kind_names[inf->kind]);
		inf->bad_stream = true;
		return;
	}
	if (strcmp(type, "ERROR") == 0) {
		json_int_t code = json_integer_value(json_object_get(obj, "code"));

		m->events[inf->kind][KDP_AGENT_EV_ERROR]++;
		if (code == 410)
			inf->gone = true;
		else
			inf->bad_stream = true;
		kdp_agent_log(code == 410 ? KDP_AGENT_INFO : KDP_AGENT_WARN,
			      "%s watch from resourceVersion %s: ERROR %d %s", kind_names[inf->kind],
			      inf->rv, (int)code,
			      json_string_value(json_object_get(obj, "message")) ?: "");
		return;
	}
	rv = obj_rv(obj);
	if (rv != NULL)
		snprintf(inf->rv, sizeof(inf->rv), "%s", rv);
	inf->events++;
	if (strcmp(type, "BOOKMARK") == 0) {
		m->events[inf->kind][KDP_AGENT_EV_BOOKMARK]++;
		return;
	}
	obj_key(obj, key, sizeof(key));
	if (key[0] == '\0') {
		kdp_agent_log(KDP_AGENT_WARN, "%s watch: %s event of an object without a name",
			      kind_names[inf->kind], type);
		return;
	}
	if (strcmp(type, "ADDED") == 0 || strcmp(type, "MODIFIED") == 0) {
		m->events[inf->kind][type[0] == 'A' ? KDP_AGENT_EV_ADDED : KDP_AGENT_EV_MODIFIED]++;
		store_set(inf, key, obj, t);
	} else if (strcmp(type, "DELETED") == 0) {
		m->events[inf->kind][KDP_AGENT_EV_DELETED]++;
		store_set(inf, key, NULL, t);
	} else {
		kdp_agent_log(KDP_AGENT_WARN, "%s watch: unknown event type %s", kind_names[inf->kind],
			      type);
	}
}

/* Body bytes: a list's (kept whole) or a watch's (one JSON event a line). */
static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct informer *inf = arg;
	size_t len = size * n;
	double t;

	kdp_agent_buf_add(&inf->in, p, len);
	if (inf->state != INF_WATCH || response_code(inf) != 200)
		return len;
	t = kdp_agent_now();
	for (;;) {
		char *nl = memchr(inf->in.data + inf->scan, '\n', inf->in.len - inf->scan);
		size_t line;
		json_error_t je;
		json_t *ev;

		if (nl == NULL) {
			inf->scan = inf->in.len;
			break;
		}
		line = (size_t)(nl - inf->in.data);
		if (line > 0) {
			ev = json_loadb(inf->in.data, line, 0, &je);
			if (ev == NULL) {
				kdp_agent_log(KDP_AGENT_WARN, "%s watch: a line that is not JSON: %s",
					      kind_names[inf->kind], je.text);
				inf->bad_stream = true;
			} else {
				watch_event(inf, ev, t);
				json_decref(ev);
			}
		}
		kdp_agent_buf_consume(&inf->in, line + 1);
		inf->scan = 0;
		if (inf->gone || inf->bad_stream)
			return 0; /* ends the transfer: list or retry */
	}
	return len;
}

static void retry_later(struct informer *inf, double now)
{
	inf->backoff = inf->backoff == 0 ? BACKOFF_MIN : fmin(inf->backoff * 2, BACKOFF_MAX);
	inf->next_try = now + jitter(inf->backoff);
}

/* The message of a Status answer, else the start of the body. */
static void body_message(struct informer *inf, char *out, size_t len)
{
	json_t *j = inf->in.len ? json_loadb(inf->in.data, inf->in.len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(j, "message"));

	if (msg != NULL)
		snprintf(out, len, "%s", msg);
	else
		snprintf(out, len, "%.200s", inf->in.len ? inf->in.data : "(no body)");
	json_decref(j);
}

static void list_done(struct informer *inf, CURLcode res, double now)
{
	long code = response_code(inf);
	struct kdp_agent_metrics *m = &kdp_agent_m;
	char msg[300];
	json_t *body, *items, *v;
	const char *cont, *rv;
	size_t i;

	if (res != CURLE_OK) {
		kdp_agent_log(KDP_AGENT_WARN, "%s list: %s", kind_names[inf->kind],
			      inf->errbuf[0] ? inf->errbuf : curl_easy_strerror(res));
		goto retry;
	}
	if (code == 404 && inf->optional) {
		if (!inf->missing_logged)
			kdp_agent_log(KDP_AGENT_WARN,
				      "%s: the API has no %s (CRD not installed?): none applied; "
				      "listing again every %.0f s",
				      kind_names[inf->kind], inf->base, OPTIONAL_RETRY);
		inf->missing_logged = true;
		json_object_clear(inf->listed);
		store_replace(inf, inf->listed, now);
		json_decref(inf->listed);
		inf->listed = NULL;
		inf->synced = true;
		inf->want_list = true;
		finish_transfer(inf);
		inf->next_try = now + OPTIONAL_RETRY;
		return;
	}
	if (code == 410 && inf->cont != NULL) {
		kdp_agent_log(KDP_AGENT_INFO, "%s list: continue token expired, listing from the start",
			      kind_names[inf->kind]);
		free(inf->cont);
		inf->cont = NULL;
		json_object_clear(inf->listed);
		finish_transfer(inf);
		inf->next_try = now;
		return;
	}
	if (code != 200) {
		body_message(inf, msg, sizeof(msg));
		kdp_agent_log(code == 401 || code == 403 ? KDP_AGENT_ERROR : KDP_AGENT_WARN,
			      "%s list: HTTP %ld: %s%s", kind_names[inf->kind], code, msg,
			      code == 403 ? " (does the ClusterRole grant list and watch?)" :
			      code == 401 ? " (is the token valid?)" : "");
		goto retry;
	}
	body = json_loadb(inf->in.data, inf->in.len, 0, NULL);
	items = json_object_get(body, "items");
	if (body == NULL || !json_is_array(items)) {
		kdp_agent_log(KDP_AGENT_WARN, "%s list: the answer is not a list", kind_names[inf->kind]);
		json_decref(body);
		goto retry;
	}
	json_array_foreach(items, i, v) {
		char key[512];
		obj_key(v, key, sizeof(key));
		trim(inf->kind, v);
		if (key[0] != '\0')
			json_object_set(inf->listed, key, v);
	}
	cont = json_string_value(json_object_get(json_object_get(body, "metadata"), "continue"));
	rv = json_string_value(json_object_get(json_object_get(body, "metadata"), "resourceVersion"));
	free(inf->cont);
	inf->cont = NULL;
	if (cont != NULL && cont[0] != '\0') {
		inf->cont = strdup(cont);
		if (inf->cont == NULL)
			kdp_agent_oom();
		json_decref(body);
		finish_transfer(inf);
		inf->next_try = now;
		return;
	}
	snprintf(inf->rv, sizeof(inf->rv), "%s", rv ? rv : "");
	json_decref(body);
	m->lists[inf->kind]++;
	kdp_agent_log(KDP_AGENT_INFO, "%s: listed %zu at resourceVersion %s", kind_names[inf->kind],
		      json_object_size(inf->listed), inf->rv);
	store_replace(inf, inf->listed, now);
	json_decref(inf->listed);
	inf->listed = NULL;
	malloc_trim(0); /* the list's text and pages: give them back */
	inf->synced = true;
	inf->want_list = false;
	inf->backoff = 0;
	finish_transfer(inf);
	inf->next_try = now;
	return;
retry:
	free(inf->cont);
	inf->cont = NULL;
	if (inf->listed != NULL)
		json_object_clear(inf->listed);
	finish_transfer(inf);
	retry_later(inf, now);
}

static void watch_done(struct informer *inf, CURLcode res, double now)
{
	long code = response_code(inf);
	struct kdp_agent_metrics *m = &kdp_agent_m;
	bool healthy = inf->events > 0 || now - inf->started > 10;
	char msg[300];

	if (inf->gone || (res == CURLE_OK && code == 410)) {
		m->watch_restarts[inf->kind][KDP_AGENT_RESTART_GONE]++;
		kdp_agent_log(KDP_AGENT_INFO, "%s: resourceVersion %s is gone (410): listing again",
			      kind_names[inf->kind], inf->rv);
		inf->want_list = true;
		finish_transfer(inf);
		inf->next_try = now;
		return;
	}
	if (inf->bad_stream) {
		m->watch_restarts[inf->kind][KDP_AGENT_RESTART_ERROR]++;
		finish_transfer(inf);
		retry_later(inf, now);
		return;
	}
	if (res != CURLE_OK) {
		m->watch_restarts[inf->kind][KDP_AGENT_RESTART_ERROR]++;
		kdp_agent_log(KDP_AGENT_WARN, "%s watch from resourceVersion %s ended: %s",
			      kind_names[inf->kind], inf->rv,
			      inf->errbuf[0] ? inf->errbuf : curl_easy_strerror(res));
		if (healthy)
			inf->backoff = 0;
		finish_transfer(inf);
		retry_later(inf, now);
		return;
	}
	if (code != 200) {
		m->watch_restarts[inf->kind][KDP_AGENT_RESTART_HTTP]++;
		body_message(inf, msg, sizeof(msg));
		kdp_agent_log(KDP_AGENT_WARN, "%s watch: HTTP %ld: %s", kind_names[inf->kind], code, msg);
		finish_transfer(inf);
		retry_later(inf, now);
		return;
	}
	/* The server ended it (timeoutSeconds): watch on from where it was. */
	m->watch_restarts[inf->kind][KDP_AGENT_RESTART_CLOSED]++;
	kdp_agent_log(KDP_AGENT_DEBUG, "%s watch ended by the server at resourceVersion %s",
		      kind_names[inf->kind], inf->rv);
	inf->backoff = 0;
	finish_transfer(inf);
	inf->next_try = now;
}

/* ---- the informers ---- */

struct kdp_agent_kube *kdp_agent_kube_new(void *multi, const struct kdp_agent_kube_opts *o)
{
	struct kdp_agent_kube *k = calloc(1, sizeof(*k));
	char sel[600];

	if (k == NULL)
		kdp_agent_oom();
	k->multi = multi;
	k->o = *o;
	for (int i = 0; i < KDP_AGENT_KIND__MAX; i++) {
		struct informer *inf = &k->inf[i];
		char *esc = NULL;

		inf->kube = k;
		inf->kind = (enum kdp_agent_kind)i;
		inf->store = json_object();
		inf->want_list = true;
		switch (i) {
		case KDP_AGENT_NODE:
			snprintf(inf->base, sizeof(inf->base), "/api/v1/nodes");
			break;
		case KDP_AGENT_SERVICE:
			snprintf(inf->base, sizeof(inf->base), "/api/v1/services");
			break;
		case KDP_AGENT_SLICE:
			snprintf(inf->base, sizeof(inf->base), "/apis/discovery.k8s.io/v1/endpointslices");
			break;
		case KDP_AGENT_POD:
			snprintf(inf->base, sizeof(inf->base), "/api/v1/pods");
			snprintf(sel, sizeof(sel), "spec.nodeName=%s", o->node_name);
			esc = curl_easy_escape(NULL, sel, 0);
			break;
		case KDP_AGENT_LRP:
			snprintf(inf->base, sizeof(inf->base),
				 "/apis/cilium.io/v2/ciliumlocalredirectpolicies");
			inf->optional = true;
			break;
		case KDP_AGENT_CONFIGMAP:
			snprintf(inf->base, sizeof(inf->base), "/api/v1/namespaces/%s/configmaps",
				 o->ipmasq_ns);
			snprintf(sel, sizeof(sel), "metadata.name=%s", o->ipmasq_name);
			esc = curl_easy_escape(NULL, sel, 0);
			break;
		}
		if (esc != NULL) {
			snprintf(inf->selector, sizeof(inf->selector), "fieldSelector=%s", esc);
			curl_free(esc);
		}
	}
	return k;
}

void kdp_agent_kube_free(struct kdp_agent_kube *k)
{
	if (k == NULL)
		return;
	for (int i = 0; i < KDP_AGENT_KIND__MAX; i++) {
		struct informer *inf = &k->inf[i];

		finish_transfer(inf);
		kdp_agent_buf_free(&inf->in);
		json_decref(inf->store);
		json_decref(inf->listed);
		free(inf->cont);
	}
	free(k);
}

double kdp_agent_kube_step(struct kdp_agent_kube *k)
{
	double now = kdp_agent_now(), next = 3600;
	CURLMsg *msg;
	int running, left;

	for (int round = 0; round < 4; round++) {
		bool started = false;

		for (int i = 0; i < KDP_AGENT_KIND__MAX; i++) {
			struct informer *inf = &k->inf[i];
			if (inf->state == INF_IDLE && now >= inf->next_try) {
				start(inf, now);
				started = true;
			}
		}
		curl_multi_perform(k->multi, &running);
		while ((msg = curl_multi_info_read(k->multi, &left)) != NULL) {
			struct informer *inf = NULL;

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&inf);
			if (inf == NULL || inf->easy != msg->easy_handle)
				continue;
			now = kdp_agent_now();
			if (inf->state == INF_LIST)
				list_done(inf, msg->data.result, now);
			else
				watch_done(inf, msg->data.result, now);
		}
		if (!started)
			break;
	}
	now = kdp_agent_now();
	for (int i = 0; i < KDP_AGENT_KIND__MAX; i++)
		if (k->inf[i].state == INF_IDLE)
			next = fmin(next, fmax(0, k->inf[i].next_try - now));
	return next;
}

bool kdp_agent_kube_synced(const struct kdp_agent_kube *k)
{
	for (int i = 0; i < KDP_AGENT_KIND__MAX; i++)
		if (!k->inf[i].synced)
			return false;
	return true;
}

json_t *kdp_agent_kube_store(const struct kdp_agent_kube *k, enum kdp_agent_kind kind)
{
	return k->inf[kind].store;
}

json_t *kdp_agent_kube_get(const struct kdp_agent_kube *k, enum kdp_agent_kind kind,
			   const char *key)
{
	json_t *text = json_object_get(k->inf[kind].store, key);

	return text ? json_loads(json_string_value(text), 0, NULL) : NULL;
}

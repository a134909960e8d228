/* SPDX-License-Identifier: BSD-3-Clause */
/* kdp-agent: options and the event loop. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "kdp_agent.h"

#define SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fputs("Usage: kdp-agent [OPTIONS]\n"
	      "Watches the Kubernetes API (Nodes, Services, EndpointSlices, this node's Pods,\n"
	      "CiliumLocalRedirectPolicies, the ip-masq-agent ConfigMap) and keeps this node's kdp\n"
	      "in line with it over kdp's control socket.\n"
	      "\n"
	      "  --kubeconfig FILE        credentials from a kubeconfig (default: $KUBECONFIG, else\n"
	      "                           the pod's service account)\n"
	      "  --context NAME           the kubeconfig context (default: current-context)\n"
	      "  --serviceaccount-dir DIR in-cluster token and ca.crt (default " SA_DIR ")\n"
	      "  --kdp-socket PATH        kdp's control socket (default /run/kdp/kdp.sock)\n"
	      "  --lock-file PATH         lock shared with kdp-cni (default: <kdp-socket>.lock;\n"
	      "                           \"\" for none)\n"
	      "  --node-name NAME         this node (default: $NODE_NAME, else kdp's node name)\n"
	      "  --metrics ADDR           /metrics and /healthz on HOST:PORT, :PORT, unix:PATH or\n"
	      "                           off (default 127.0.0.1:9964)\n"
	      "  --service-fields MODE    auto (default: extended until kdp refuses them), extended\n"
	      "                           (externalTrafficPolicy, internalTrafficPolicy,\n"
	      "                           healthCheckNodePort, loadBalancerSourceRanges, backend\n"
	      "                           nodeName) or basic (none of them)\n"
	      "  --algorithm NAME         backend selection kdp uses: random (default) or maglev\n"
	      "  --ipmasq-configmap NS/NAME  the ip-masq-agent ConfigMap (default\n"
	      "                           kube-system/ip-masq-agent; key \"config\")\n"
	      "  --resync-interval SECS   compare everything with kdp this often (default 300; 0 never)\n"
	      "  --endpoint-gc SECS       remove an endpoint whose pod left the node this long ago\n"
	      "                           (default 120; 0 never)\n"
	      "  --kdp-poll SECS          how often kdp's status is read (default 1)\n"
	      "  --watch-timeout SECS     ask the server to end each watch after this (+ up to 50 %;\n"
	      "                           default 300)\n"
	      "  --page-size N            objects per list page (default 500)\n"
	      "  --bulk-threshold N       send this many changes or more as one PUT /v1/state\n"
	      "                           (default 0: 2,000 to a kdp that takes batches, else when\n"
	      "                           single updates would take longer)\n"
	      "  -v, --verbose            debug messages;  -q, --quiet  warnings and errors only\n"
	      "  -h, --help               this text;  --version  the version\n"
	      "Logs one line per change applied to kdp on standard error.\n",
	      f);
}

static int bad(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "kdp-agent: %s '%s': %s (see kdp-agent --help)\n", opt, val, why);
	return 2;
}

static bool number(const char *s, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
		return false;
	*out = v;
	return true;
}

/* Asks kdp its node name (retries until kdp answers or the agent stops). */
static bool node_from_kdp(struct kdp_agent_kdp *kdp, char *out, size_t len)
{
	bool said = false;

	while (!stop) {
		char err[KDP_AGENT_ERR_LEN];
		json_t *st = NULL;
		long code;

		if (kdp_agent_kdp_call(kdp, "GET", "/v1/status", NULL, 0, &code, &st, err) == 0 &&
		    code == 200 && json_is_string(json_object_get(st, "node"))) {
			snprintf(out, len, "%s", json_string_value(json_object_get(st, "node")));
			json_decref(st);
			return true;
		}
		json_decref(st);
		if (!said)
			kdp_agent_log(KDP_AGENT_WARN,
				      "no --node-name or NODE_NAME: waiting for kdp to tell its node "
				      "name (%s)",
				      err[0] ? err : "no answer");
		said = true;
		sleep(1);
	}
	return false;
}

int main(int argc, char **argv)
{
	enum { O_KUBECONFIG = 256, O_CONTEXT, O_SADIR, O_SOCKET, O_LOCK, O_NODE, O_METRICS,
	       O_FIELDS, O_ALGO, O_IPMASQ, O_RESYNC, O_GC, O_POLL, O_WATCH, O_PAGE, O_BULK,
	       O_VERSION };
	static const struct option opts[] = {
		{"kubeconfig", required_argument, NULL, O_KUBECONFIG},
		{"context", required_argument, NULL, O_CONTEXT},
		{"serviceaccount-dir", required_argument, NULL, O_SADIR},
		{"kdp-socket", required_argument, NULL, O_SOCKET},
		{"lock-file", required_argument, NULL, O_LOCK},
		{"node-name", required_argument, NULL, O_NODE},
		{"metrics", required_argument, NULL, O_METRICS},
		{"service-fields", required_argument, NULL, O_FIELDS},
		{"algorithm", required_argument, NULL, O_ALGO},
		{"ipmasq-configmap", required_argument, NULL, O_IPMASQ},
		{"resync-interval", required_argument, NULL, O_RESYNC},
		{"endpoint-gc", required_argument, NULL, O_GC},
		{"kdp-poll", required_argument, NULL, O_POLL},
		{"watch-timeout", required_argument, NULL, O_WATCH},
		{"page-size", required_argument, NULL, O_PAGE},
		{"bulk-threshold", required_argument, NULL, O_BULK},
		{"verbose", no_argument, NULL, 'v'},
		{"quiet", no_argument, NULL, 'q'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, O_VERSION},
		{NULL, 0, NULL, 0},
	};
	const char *kubeconfig = getenv("KUBECONFIG"), *context = NULL, *sadir = SA_DIR;
	const char *sock = "/run/kdp/kdp.sock", *lock = NULL, *metrics = "127.0.0.1:9964";
	const char *algo = "random", *ipmasq = "kube-system/ip-masq-agent";
	char node[256] = "", ipm_ns[128], ipm_name[256], lockbuf[4200], err[KDP_AGENT_ERR_LEN];
	double resync = 300, gc = 120, poll_s = 1, watch_s = 300, page = 500, bulk = 0;
	struct kdp_agent_sync_opts so = {.fields = KDP_AGENT_FIELDS_EXTENDED, .fields_auto = true};
	struct kdp_agent_kube_opts ko = {0};
	struct kdp_agent_auth auth;
	struct kdp_agent_kdp *kdp;
	struct kdp_agent_kube *kube;
	struct kdp_agent_sync *sync;
	struct sigaction sa = {.sa_handler = on_signal};
	const char *slash;
	CURLM *multi;
	int c, mfd;

	if (getenv("NODE_NAME") != NULL)
		snprintf(node, sizeof(node), "%s", getenv("NODE_NAME"));
	while ((c = getopt_long(argc, argv, "vqh", opts, NULL)) != -1) {
		switch (c) {
		case O_KUBECONFIG: kubeconfig = optarg; break;
		case O_CONTEXT: context = optarg; break;
		case O_SADIR: sadir = optarg; break;
		case O_SOCKET: sock = optarg; break;
		case O_LOCK: lock = optarg; break;
		case O_NODE: snprintf(node, sizeof(node), "%s", optarg); break;
		case O_METRICS: metrics = optarg; break;
		case O_FIELDS:
			if (strcmp(optarg, "auto") == 0)
				so.fields_auto = true;
			else if (strcmp(optarg, "extended") == 0)
				so.fields_auto = false;
			else if (strcmp(optarg, "basic") == 0)
				so.fields = KDP_AGENT_FIELDS_BASIC, so.fields_auto = false;
			else
				return bad("--service-fields", optarg, "expected auto, extended or basic");
			break;
		case O_ALGO:
			if (strcmp(optarg, "random") != 0 && strcmp(optarg, "maglev") != 0)
				return bad("--algorithm", optarg, "expected random or maglev");
			algo = optarg;
			break;
		case O_IPMASQ:
			ipmasq = optarg;
			break;
		case O_RESYNC:
			if (!number(optarg, 0, 86400, &resync))
				return bad("--resync-interval", optarg, "expected seconds from 0 to 86400");
			break;
		case O_GC:
			if (!number(optarg, 0, 86400, &gc))
				return bad("--endpoint-gc", optarg, "expected seconds from 0 to 86400");
			break;
		case O_POLL:
			if (!number(optarg, 0.05, 60, &poll_s))
				return bad("--kdp-poll", optarg, "expected seconds from 0.05 to 60");
			break;
		case O_WATCH:
			if (!number(optarg, 1, 3600, &watch_s))
				return bad("--watch-timeout", optarg, "expected seconds from 1 to 3600");
			break;
		case O_PAGE:
			if (!number(optarg, 1, 100000, &page) || page != floor(page))
				return bad("--page-size", optarg, "expected a whole number from 1 to 100000");
			break;
		case O_BULK:
			if (!number(optarg, 0, 1000000, &bulk) || bulk != floor(bulk))
				return bad("--bulk-threshold", optarg, "expected a whole number (0: measured)");
			break;
		case 'v': kdp_agent_log_level = KDP_AGENT_DEBUG; break;
		case 'q': kdp_agent_log_level = KDP_AGENT_WARN; break;
		case 'h': usage(stdout); return 0;
		case O_VERSION: printf("kdp-agent %s\n", KDP_VERSION); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kdp-agent: unexpected argument '%s' (see kdp-agent --help)\n",
			argv[optind]);
		return 2;
	}
	slash = strchr(ipmasq, '/');
	if (slash == NULL || slash == ipmasq || slash[1] == '\0' ||
	    (size_t)(slash - ipmasq) >= sizeof(ipm_ns) || strlen(slash + 1) >= sizeof(ipm_name))
		return bad("--ipmasq-configmap", ipmasq, "expected NAMESPACE/NAME");
	snprintf(ipm_ns, sizeof(ipm_ns), "%.*s", (int)(slash - ipmasq), ipmasq);
	snprintf(ipm_name, sizeof(ipm_name), "%s", slash + 1);
	if (lock == NULL) {
		snprintf(lockbuf, sizeof(lockbuf), "%s.lock", sock);
		lock = lockbuf;
	}
	if (kubeconfig != NULL && kubeconfig[0] != '\0') {
		if (kdp_agent_auth_kubeconfig(kubeconfig, context, &auth, err) != 0) {
			fprintf(stderr, "kdp-agent: %s\n", err);
			return 2;
		}
	} else if (kdp_agent_auth_incluster(sadir, &auth, err) != 0) {
		fprintf(stderr, "kdp-agent: %s\n", err);
		return 2;
	}
	mfd = kdp_agent_metrics_listen(metrics, err);
	if (mfd == -1) {
		fprintf(stderr, "kdp-agent: %s\n", err);
		kdp_agent_auth_free(&auth);
		return 2;
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	srandom((unsigned int)time(NULL) ^ (unsigned int)getpid());
	curl_global_init(CURL_GLOBAL_ALL);
	kdp = kdp_agent_kdp_new(sock, lock);
	if (node[0] == '\0' && !node_from_kdp(kdp, node, sizeof(node))) {
		kdp_agent_kdp_free(kdp);
		kdp_agent_metrics_close();
		kdp_agent_auth_free(&auth);
		curl_global_cleanup();
		return 0;
	}
	kdp_agent_log(KDP_AGENT_INFO,
		      "kdp-agent %s: node %s, API %s, kdp %s, metrics %s, service fields %s",
		      KDP_VERSION, node, auth.source, sock, metrics,
		      so.fields_auto ? "auto" : so.fields == KDP_AGENT_FIELDS_BASIC ? "basic" : "extended");
	multi = curl_multi_init();
	ko.auth = &auth;
	ko.node_name = node;
	ko.ipmasq_ns = ipm_ns;
	ko.ipmasq_name = ipm_name;
	ko.watch_seconds = (unsigned int)watch_s;
	ko.page_size = (unsigned int)page;
	so.kdp = kdp;
	so.node_name = node;
	so.algorithm = algo;
	so.bulk_threshold = (unsigned int)bulk;
	so.poll_seconds = poll_s;
	so.gc_seconds = gc;
	so.resync_seconds = resync;
	sync = kdp_agent_sync_new(&so);
	ko.on_change = kdp_agent_sync_on_change;
	ko.arg = sync;
	kube = kdp_agent_kube_new(multi, &ko);
	kdp_agent_m.kube = kube;
	while (!stop) {
		struct curl_waitfd wfd[32];
		int fds[32], n;
		/* the watches first: what they read is applied at once */
		double t = kdp_agent_kube_step(kube);

		t = fmin(t, kdp_agent_sync_step(sync, kube));

		kdp_agent_metrics_serve();
		n = kdp_agent_metrics_fds(fds, 32);
		for (int i = 0; i < n; i++)
			wfd[i] = (struct curl_waitfd){.fd = fds[i], .events = CURL_WAIT_POLLIN};
		/* wake at least every 200 ms: signals, client time-outs */
		t = fmin(fmax(t, 0.001), 0.2);
		curl_multi_poll(multi, wfd, (unsigned int)n, (int)(t * 1000), NULL);
	}
	kdp_agent_log(KDP_AGENT_INFO, "kdp-agent stopping");
	kdp_agent_m.kube = NULL;
	kdp_agent_kube_free(kube);
	kdp_agent_sync_free(sync);
	curl_multi_cleanup(multi);
	kdp_agent_kdp_free(kdp);
	kdp_agent_metrics_close();
	kdp_agent_auth_free(&auth);
	curl_global_cleanup();
	return 0;
}

/* kdpctl upgrade: the running kdp starts the binary at its path, which
 * takes over (POST /v1/upgrade); kdpctl waits until the new one serves the
 * socket and says what it took over, or why the old one goes on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kdpctl.h"

#define UPGRADE_WAIT_MS 60000
#define POLL_MS 50

static long long num(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "?";
}

int cmd_upgrade(const struct kdpctl_opts *o)
{
	const char *body = o->force ? "{\"force\": true}" : "";
	struct timespec pause = {0, POLL_MS * 1000000L};
	struct kdpctl_response resp;
	json_t *old, *ans, *st = NULL;
	long long old_pid, pid;
	char old_version[64];
	int rc;

	rc = kdpctl_get(&(struct kdpctl_opts){.socket = o->socket}, "/v1/status", JSON_OBJECT, &old);
	if (rc != KDPCTL_EXIT_OK)
		return rc;
	old_pid = num(old, "pid");
	snprintf(old_version, sizeof(old_version), "%s", str(old, "version"));
	json_decref(old);
	rc = kdpctl_call(o, "POST", "/v1/upgrade", body, strlen(body), &resp);
	if (rc != KDPCTL_EXIT_OK)
		return rc;
	ans = kdpctl_parse_body(&resp);
	kdpctl_response_free(&resp);
	pid = num(ans, "pid");
	if (!o->json)
		printf("kdp pid %lld started %s (pid %lld) to take over\n", old_pid, str(ans, "binary"),
		       pid);
	fflush(stdout);
	json_decref(ans);
	for (int waited = 0; waited < UPGRADE_WAIT_MS; waited += POLL_MS) {
		const json_t *ho;
		const char *last;

		nanosleep(&pause, NULL);
		json_decref(st);
		st = kdpctl_try_get(o, "/v1/status");
		if (st == NULL)
			continue; /* between two kdps: the socket is being replaced */
		ho = json_object_get(st, "handover");
		if (num(st, "pid") == pid && json_object_get(ho, "tookOverFrom") != NULL) {
			const json_t *fs = json_object_get(st, "flowState");
			const json_t *rs = json_object_get(fs, "restored");

			if (o->json) {
				kdpctl_print_json(st);
			} else {
				printf("upgraded: kdp %s (pid %lld) -> kdp %s (pid %lld)\n", old_version,
				       old_pid, str(st, "version"), pid);
				const json_t *rs6 = json_object_get(fs, "restoredIPv6");

				printf("kept: %lld flows, %lld affinity pins, ", num(rs, "imported"),
				       num(fs, "affinityPins"));
				if (rs6 != NULL)
					printf("%lld IPv6 flows, %lld IPv6 affinity pins, ",
					       num(rs6, "imported"), num(fs, "affinityPinsIPv6"));
				printf("%lld neighbours\n", num(ho, "neighbours"));
				printf("forwarding paused %lld ms; frames held in the new kdp's port "
				       "queues for %lld ms, %lld lost to full queues; the old kdp's "
				       "queues dropped %lld meanwhile; updates refused %lld ms\n",
				       num(ho, "forwardingPausedMs"), num(ho, "framesHeldMs"),
				       num(ho, "heldFramesLost"), num(ho, "oldFramesLost"),
				       num(ho, "updatesRefusedMs"));
			}
			json_decref(st);
			return KDPCTL_EXIT_OK;
		}
		last = json_string_value(json_object_get(ho, "last"));
		if (num(st, "pid") == old_pid && strcmp(str(ho, "phase"), "none") == 0 &&
		    last != NULL && (strstr(last, "abandoned") || strstr(last, "without taking over"))) {
			fprintf(stderr, "Error: upgrade failed: %s; kdp pid %lld goes on\n", last, old_pid);
			json_decref(st);
			return KDPCTL_EXIT_API;
		}
	}
	json_decref(st);
	fprintf(stderr, "kdpctl: kdp pid %lld did not take over within %d s (see kdp's log)\n", pid,
		UPGRADE_WAIT_MS / 1000);
	return KDPCTL_EXIT_BAD_ANSWER;
}

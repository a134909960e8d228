/* SPDX-License-Identifier: BSD-3-Clause */
/* Applying a desired state atomically: all of it or nothing. */
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_log.h>

#include "kdp.h"
#include "kdp_healthcheck.h"
#include "kdp_objects.h"

/* Port of the same endpoint in the current state when its devargs did not
 * change, else -1. */
static int reusable_port(const struct kdp *k, const struct kdp_endpoint *e)
{
	int i = kdp_state_ep_find(&k->state, e->ns, e->name);

	if (i < 0 || k->state.eps[i].port < 0 ||
	    strcmp(k->state.eps[i].devargs, e->devargs) != 0)
		return -1;
	return k->state.eps[i].port;
}

static bool port_kept(const struct kdp_state *st, int port)
{
	for (unsigned int i = 0; i < st->n_eps; i++)
		if (st->eps[i].port == port)
			return true;
	return false;
}

/* Closes the ports this apply opened (those not in the current state). */
/* A build that is not published gives back the frontend ids it took, and
 * the flow state file gets the map in force again (the build may have
 * saved its own). */
static void feid_rollback(struct kdp *k)
{
	const struct kdp_snapshot *cur = atomic_load(&k->pub.snap);

	kdp_feid_rollback(&k->pub.feid, &k->pub.next_fe_id);
	if (cur != NULL)
		kdp_flows_save_fe(k, cur->dp.svc, cur->dp.svc6);
}

static void rollback_ports(struct kdp *k, const struct kdp_state *next)
{
	for (unsigned int i = 0; i < next->n_eps; i++)
		if (next->eps[i].port >= 0 && !port_kept(&k->state, next->eps[i].port))
			kdp_port_close(k, (uint16_t)next->eps[i].port);
}

/* Saves @p next as @p how says: an appended journal line when it can, else
 * a whole new base. */
static int persist(struct kdp *k, const struct kdp_state *next,
		   const struct kdp_change *how)
{
	int ret;

	if (how != NULL && how->state != NULL)
		return kdp_persist_base(k, how->state, how->state_len);
	if (how != NULL && how->op != NULL) {
		ret = kdp_persist_op(k, how->op, how->op_len);
		if (ret != -EAGAIN)
			return ret;
	}
	return kdp_persist_state(k, next);
}

int kdp_apply(struct kdp *k, struct kdp_state *next, unsigned int flags,
	      const struct kdp_change *how, char *err)
{
	uint16_t closing[RTE_MAX_ETHPORTS];
	unsigned int n_closing = 0;
	struct kdp_snapshot *s;
	int ret;

	/* A port still closing may hold what a new one needs (a memif
	 * socket, a port slot): let it go first. */
	if (kdp_dp_closing_ports(k))
		kdp_dp_reclaim(k, true);
	ret = kdp_state_validate(next, &k->cfg, kdp_port_max_endpoints(k), err);
	if (ret != 0)
		goto out;
	for (unsigned int i = 0; i < next->n_eps; i++) {
		struct kdp_endpoint *e = &next->eps[i];
		char perr[KDP_ERR_LEN];

		e->port = reusable_port(k, e);
		if (e->port >= 0)
			continue;
		e->port = kdp_port_open(k, e->devargs, KDP_PORT_POD, perr);
		if (e->port < 0 && (flags & KDP_APPLY_RESTORE)) {
			/* The pod's interface went away while kdp was down:
			 * keep the endpoint (port down) rather than the node. */
			RTE_LOG(WARNING, USER1, "endpoint %s/%s left down: %s\n",
				e->ns, e->name, perr);
			e->port = -1;
			continue;
		}
		if (e->port < 0) {
			ret = e->port == -ENOMEM ? -ENOMEM : -EINVAL;
			e->port = -1;
			snprintf(err, KDP_ERR_LEN, "endpoints[%s/%s].%s", e->ns,
				 e->name, perr);
			rollback_ports(k, next);
			goto out;
		}
	}
	s = kdp_dp_build(k, next, err);
	if (s == NULL) {
		feid_rollback(k);
		rollback_ports(k, next);
		ret = -EINVAL;
		goto out;
	}
	if (flags & KDP_APPLY_PERSIST) {
		ret = persist(k, next, how);
		if (ret != 0) {
			snprintf(err, KDP_ERR_LEN, "cannot write the state file %s: %s",
				 k->cfg.state_path, strerror(-ret));
			kdp_dp_free(s);
			feid_rollback(k);
			rollback_ports(k, next);
			goto out;
		}
	}
	/* Ports nobody routes to any more close once no worker can be
	 * polling them (the old snapshot's grace period). */
	for (unsigned int i = 0; i < k->state.n_eps; i++) {
		int p = k->state.eps[i].port;
		if (p >= 0 && !port_kept(next, p))
			closing[n_closing++] = (uint16_t)p;
	}
	kdp_dp_publish(k, s, closing, n_closing);
	kdp_state_commit(&k->state, next);
	/* Health check ports listen (or close) before the update answers. */
	kdp_hc_poll(k);
	if ((flags & KDP_APPLY_PERSIST) && kdp_persist_compaction_due(k) &&
	    (ret = kdp_persist_state(k, &k->state)) != 0)
		/* The journal still holds every update: nothing is lost. */
		RTE_LOG(WARNING, USER1, "state file %s: compaction failed: %s\n",
			k->cfg.state_path, strerror(-ret));
	return 0;
out:
	kdp_state_free(next);
	return ret;
}

/* Removes the temporary files "<stateFile>.tmp.<pid>" that a kdp killed
 * while saving left behind (not those of a live process). */
static void remove_stale_temps(const char *state_path)
{
	char pat[PATH_MAX + 8];
	glob_t g;

	if (snprintf(pat, sizeof(pat), "%s.tmp.*", state_path) >= (int)sizeof(pat) ||
	    glob(pat, GLOB_NOSORT, NULL, &g) != 0)
		return;
	for (size_t i = 0; i < g.gl_pathc; i++) {
		const char *pid = g.gl_pathv[i] + strlen(state_path) + 5;
		char *end;
		long p = strtol(pid, &end, 10);

		if (*end == '\0' && p > 0 && kill((pid_t)p, 0) != 0 && errno == ESRCH &&
		    unlink(g.gl_pathv[i]) == 0)
			RTE_LOG(INFO, USER1, "removed %s, left by a kdp that died saving\n",
				g.gl_pathv[i]);
	}
	globfree(&g);
}

int kdp_state_restore(struct kdp *k, char *err)
{
	struct kdp_state st;
	json_t *root, *ops, *op;
	char perr[KDP_ERR_LEN];
	size_t i;
	int ret;

	remove_stale_temps(k->cfg.state_path);
	ret = kdp_persist_load(k, &root, &ops, err);
	if (ret != 0 || root == NULL)
		return ret;
	ret = kdp_state_parse(root, &k->cfg, &st, perr);
	json_decref(root);
	json_array_foreach(ops, i, op) {
		if (ret != 0)
			break;
		ret = kdp_objects_replay(&k->cfg, &st, op, perr);
		if (ret != 0) {
			kdp_state_free(&st);
			json_decref(ops);
			snprintf(err, KDP_ERR_LEN, "state journal line %zu: %s", i + 2, perr);
			return ret;
		}
	}
	if (ret == 0)
		ret = kdp_apply(k, &st, KDP_APPLY_RESTORE, NULL, perr);
	if (ret != 0) {
		json_decref(ops);
		snprintf(err, KDP_ERR_LEN, "state file %s: %s", k->cfg.state_path, perr);
		return ret;
	}
	RTE_LOG(INFO, USER1,
		"restored %u node(s), %u endpoint(s), %u service(s) from %s (+%zu journal updates)\n",
		k->state.n_nodes, k->state.n_eps, k->state.n_svcs, k->cfg.state_path,
		json_array_size(ops));
	json_decref(ops);
	if (k->journal.ok)
		return 0; /* a clean, empty journal: nothing to fold */
	/* Fold the journal into a new base so this one starts empty. */
	ret = kdp_persist_state(k, &k->state);
	if (ret != 0)
		snprintf(err, KDP_ERR_LEN, "state file %s: cannot write it: %s",
			 k->cfg.state_path, strerror(-ret));
	return ret;
}

/* SPDX-License-Identifier: BSD-3-Clause */
/* Flow state that outlives the process: the flow state file, the conntrack
 * and affinity tables over it, and the frontend ids they refer to. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include <linux/magic.h>

#include <rte_errno.h>
#include <rte_log.h>
#include <rte_malloc.h>

#include "common/kdp_clock.h"
#include "kdp.h"

static void ct_entry_freed(void *arg, struct kdp_ct_entry *e)
{
	/* SNAT ports live in the conntrack tuple itself: nothing to release. */
}

static void add_fe_id(void *arg, const char *key, uint32_t id)
{
	json_object_set_new(arg, key, json_integer(id));
}

static const char *origin_name(enum kdp_flowstore_origin o)
{
	switch (o) {
	case KDP_FLOWSTORE_MEMORY:
		return "memory";
	case KDP_FLOWSTORE_NEW:
		return "new";
	case KDP_FLOWSTORE_REUSED:
		return "reused";
	case KDP_FLOWSTORE_RESIZED:
		return "resized";
	default:
		return "refused";
	}
}

int kdp_flows_open(struct kdp *k, unsigned int flags, char *err)
{
	struct kdp_flowstore_geom g = {
		.ct_slots = k->cfg.ct_max,
		.ct_slot_size = sizeof(struct kdp_ct_entry),
		.aff_slots = kdp_affinity_slots(k->cfg.ct_max / 4),
		.aff_slot_size = sizeof(struct kdp_affinity_slot),
		.fe_cap = KDP_FLOWS_FE_CAP,
	};
	struct kdp_ct_params p = {
		.max_flows = k->cfg.ct_max,
		.socket = (int)rte_socket_id(),
		.qsbr = k->qsbr,
		.timeouts = {
			.tcp_syn_ms = k->cfg.ct_syn_s * 1000,
			.tcp_est_ms = k->cfg.ct_est_s * 1000,
			.tcp_close_ms = k->cfg.ct_close_s * 1000,
			.other_ms = k->cfg.ct_other_s * 1000,
		},
		.on_free = ct_entry_freed,
		.on_free_arg = k,
	};
	struct rte_malloc_socket_stats before, after;
	const struct kdp_flowstore *src;
	struct kdp_flowstore *fs;
	struct statfs sf;
	uint32_t next = 0;
	int ret;

	ret = kdp_flowstore_open(k->cfg.flow_path, &g, flags, &fs, err);
	if (ret != 0)
		return ret;
	k->flows.fs = fs;
	if (fs->fd >= 0 && fstatfs(fs->fd, &sf) == 0 && sf.f_type != TMPFS_MAGIC)
		RTE_LOG(WARNING, USER1,
			"flowStateFile %s is not on tmpfs: workers write it at every packet, so "
			"the kernel keeps writing it back to disk (use /dev/shm)\n", fs->path);
	p.slots = fs->ct;
	rte_malloc_get_socket_stats(p.socket, &before);
	k->ct = kdp_ct_create("kdp_ct", &p);
	rte_malloc_get_socket_stats(p.socket, &after);
	k->ct_mem_bytes = after.heap_allocsz_bytes - before.heap_allocsz_bytes +
			  (uint64_t)g.ct_slots * g.ct_slot_size;
	if (k->ct == NULL) {
		snprintf(err, KDP_ERR_LEN, "conntrack.maxFlows %u: %s (raise EAL -m)",
			 k->cfg.ct_max, rte_strerror(rte_errno));
		return -rte_errno;
	}
	k->aff = kdp_affinity_create(g.aff_slots, fs->aff, fs->hdr->aff_seed);
	if (k->aff == NULL) {
		snprintf(err, KDP_ERR_LEN, "session affinity table: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	/* The frontend ids the flows and pins were made with. */
	k->flows.restored = json_object();
	if (k->flows.restored == NULL)
		return -ENOMEM;
	src = fs->src != NULL ? fs->src : fs;
	if (kdp_flowstore_fe_load(src, add_fe_id, k->flows.restored, &next) == 0) {
		k->pub.next_fe_id = next;
		k->flows.fe_ids = (uint32_t)json_object_size(k->flows.restored);
	}
	return 0;
}

int kdp_flows_import(struct kdp *k, char *err)
{
	struct kdp_flows *f = &k->flows;
	struct kdp_flowstore *fs = f->fs;
	struct kdp_ct_import_stats *st = &f->ct;
	uint64_t now = kdp_clock_now_ms();
	int ret;

	ret = kdp_ct_import(k->ct, now, st);
	if (ret != 0) {
		snprintf(err, KDP_ERR_LEN, "conntrack: cannot index the flow state: %s",
			 strerror(-ret));
		return ret;
	}
	if (fs->src != NULL) {
		kdp_ct_import_from(k->ct, fs->src->ct, fs->src->hdr->geom.ct_slots, now, st);
		f->pins = kdp_affinity_import(k->aff, fs->src->aff, fs->src->hdr->geom.aff_slots);
		ret = kdp_flowstore_commit(fs);
		if (ret != 0)
			RTE_LOG(WARNING, USER1, "flow state %s: cannot replace the old file: %s\n",
				fs->path, strerror(-ret));
	} else {
		f->pins = kdp_affinity_count(k->aff);
	}
	f->imported = true;
	f->import_ms = now;
	if (fs->origin == KDP_FLOWSTORE_REFUSED)
		RTE_LOG(WARNING, USER1, "%s\n", fs->msg);
	RTE_LOG(NOTICE, USER1,
		"%s; conntrack: %u flows tracked again (%u live: %u expired, %u damaged, %u "
		"duplicates, %u without room) in %.1f ms; %u affinity pins; %u frontend ids\n",
		fs->origin == KDP_FLOWSTORE_REFUSED ? "flow state: fresh tables" : fs->msg, st->imported,
		st->live, st->expired, st->invalid, st->clashes, st->no_room, st->ns / 1e6, f->pins,
		f->fe_ids);
	return 0;
}

/* The file's name of a frontend: "addr:port/proto". */
static void fe_name(const struct kdp_svc_key *key, char *buf, size_t len)
{
	kdp_service_fe_name(rte_be_to_cpu_32(key->addr), rte_be_to_cpu_16(key->port), key->proto,
			    buf, len);
}

uint32_t kdp_flows_restored_fe_id(const struct kdp *k, const struct kdp_svc_key *key)
{
	char name[KDP_FLOWSTORE_FE_KEY_LEN];

	if (k->flows.restored == NULL || json_object_size(k->flows.restored) == 0)
		return 0;
	fe_name(key, name, sizeof(name));
	return (uint32_t)json_integer_value(json_object_get(k->flows.restored, name));
}

void kdp_flows_save_fe(struct kdp *k, const struct kdp_svc_table *t)
{
	struct kdp_flowstore_fe *recs;
	size_t n = 0;

	if (k->flows.fs == NULL)
		return;
	recs = calloc(t->n_fe ? t->n_fe : 1, sizeof(*recs));
	if (recs == NULL)
		return;
	for (uint32_t i = 0; i <= t->mask && n < t->n_fe; i++) {
		const struct kdp_svc_fe *fe = t->slot[i].fe;

		if (fe == NULL)
			continue;
		fe_name(&fe->key, recs[n].key, sizeof(recs[n].key));
		recs[n++].id = fe->id;
	}
	n = kdp_flowstore_fe_save(k->flows.fs, recs, (uint32_t)n, k->pub.next_fe_id);
	if (n > 0 && k->flows.fe_unsaved == 0)
		RTE_LOG(WARNING, USER1,
			"flow state: %zu frontend ids beyond the %u the file keeps: their flows "
			"and pins will not survive a restart\n", n, KDP_FLOWS_FE_CAP);
	k->flows.fe_unsaved = (uint32_t)n;
	free(recs);
}

void kdp_flows_close(struct kdp *k)
{
	kdp_ct_free(k->ct);
	k->ct = NULL;
	kdp_affinity_free(k->aff);
	k->aff = NULL;
	kdp_flowstore_close(k->flows.fs);
	k->flows.fs = NULL;
	json_decref(k->flows.restored);
	k->flows.restored = NULL;
}

json_t *kdp_flows_status_json(const struct kdp *k)
{
	const struct kdp_flows *f = &k->flows;
	const struct kdp_ct_import_stats *st = &f->ct;

	if (f->fs == NULL)
		return json_null();
	return json_pack("{s:s?, s:s, s:s, s:I, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:f}, s:i, "
			 "s:i, s:I}",
			 "file", f->fs->fd >= 0 ? f->fs->path : NULL, "origin",
			 origin_name(f->fs->origin), "message", f->fs->msg, "bytes",
			 (json_int_t)kdp_flowstore_bytes(f->fs), "restored", "live", st->live,
			 "imported", st->imported, "expired", st->expired, "damaged", st->invalid,
			 "duplicates", st->clashes, "withoutRoom", st->no_room, "ms",
			 st->ns / 1e6, "affinityPins", f->pins, "frontendIds", f->fe_ids,
			 "affinityEvicted", (json_int_t)k->aff->evicted);
}

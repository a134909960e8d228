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

static void ct_entry_freed(void *arg, void *e)
{
	/* SNAT ports live in the conntrack tuple itself: nothing to release. */
}

/* A conntrack entry's frontend id waits for reuse: the entry must let go. */
static bool ct_fe_gone(void *arg, uint32_t id)
{
	const struct kdp *k = arg;

	return kdp_feid_waiting(&k->pub.feid, id);
}

/* The id bookkeeping (kdp_feid.h) from the ids the file had: those not
 * for a frontend wait, as a flow or pin of the file may name them. */
static int feid_start(struct kdp *k)
{
	size_t n = json_object_size(k->flows.restored), i = 0;
	uint32_t *ids = calloc(n + 1, sizeof(*ids));
	const char *key;
	json_t *v;
	int ret;

	if (ids == NULL)
		return -ENOMEM;
	json_object_foreach(k->flows.restored, key, v)
		ids[i++] = (uint32_t)json_integer_value(v);
	kdp_feid_fini(&k->pub.feid);
	ret = kdp_feid_init(&k->pub.feid, k->pub.next_fe_id, ids, (uint32_t)i);
	free(ids);
	return ret;
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

/* The conntrack table of @p n entries of @p size bytes (an IPv4 or, by
 * its size, an IPv6 one) over @p slots, with the parameters @p p; *@p bytes
 * gets the memory it takes (heap and slots). NULL with rte_errno. */
static struct kdp_ct *ct_create(struct kdp_ct_params *p, void *slots, uint32_t n, uint32_t size,
				uint64_t *bytes)
{
	struct rte_malloc_socket_stats before, after;
	struct kdp_ct *ct;

	p->max_flows = n;
	p->slots = slots;
	rte_malloc_get_socket_stats(p->socket, &before);
	if (size == sizeof(struct kdp_ct6_entry))
		ct = (struct kdp_ct *)kdp_ct6_create("kdp_ct6", p);
	else
		ct = kdp_ct_create("kdp_ct", p);
	rte_malloc_get_socket_stats(p->socket, &after);
	*bytes = after.heap_allocsz_bytes - before.heap_allocsz_bytes + (uint64_t)n * size;
	return ct;
}

int kdp_flows_open(struct kdp *k, unsigned int flags, char *err)
{
	struct kdp_flowstore_geom g = {
		.ct_slots = k->cfg.ct_max,
		.ct_slot_size = sizeof(struct kdp_ct_entry),
		.aff_slots = kdp_affinity_slots(k->cfg.ct_max / 4),
		.aff_slot_size = sizeof(struct kdp_affinity_slot),
		.fe_cap = KDP_FLOWS_FE_CAP,
		.ct6_slots = k->cfg.has_ip6 ? k->cfg.ct_max6 : 0,
		.ct6_slot_size = sizeof(struct kdp_ct6_entry),
		.aff6_slots = k->cfg.has_ip6 ? kdp_affinity_slots(k->cfg.ct_max6 / 4) : 0,
		.aff6_slot_size = sizeof(struct kdp_affinity6_slot),
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
		.fe_gone = ct_fe_gone,
		.fe_gone_arg = k,
	};
	const struct kdp_flowstore *src;
	struct kdp_flowstore *fs;
	struct statfs sf;
	uint32_t next = 0;
	int ret;

	if (k->cfg.prefault)
		flags |= KDP_FLOWSTORE_TOUCH;
	ret = kdp_flowstore_open(k->cfg.flow_path, &g, flags, &fs, err);
	if (ret != 0)
		return ret;
	k->flows.fs = fs;
	if (fs->fd >= 0 && fstatfs(fs->fd, &sf) == 0 && sf.f_type != TMPFS_MAGIC)
		RTE_LOG(WARNING, USER1,
			"flowStateFile %s is not on tmpfs: workers write it at every packet, so "
			"the kernel keeps writing it back to disk (use /dev/shm)\n", fs->path);
	k->ct = ct_create(&p, fs->ct, g.ct_slots, g.ct_slot_size, &k->ct_mem_bytes);
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
	if (k->cfg.has_ip6) {
		/* The IPv6 twins, over their sections of the same file. */
		k->ct6 = (struct kdp_ct6 *)ct_create(&p, fs->ct6, g.ct6_slots, g.ct6_slot_size,
						     &k->ct6_mem_bytes);
		k->aff6 = k->ct6 != NULL ? kdp_affinity6_create(g.aff6_slots, fs->aff6,
								fs->hdr->aff_seed)
					 : NULL;
		if (k->aff6 == NULL) {
			snprintf(err, KDP_ERR_LEN, "conntrack.maxFlowsIPv6 %u: %s (raise EAL -m)",
				 k->cfg.ct_max6, rte_strerror(rte_errno));
			return -rte_errno;
		}
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
	if (feid_start(k) != 0) {
		snprintf(err, KDP_ERR_LEN, "frontend ids: out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* What an import found, as a log phrase. */
static void import_text(const struct kdp_ct_import_stats *st, char *buf, size_t len)
{
	snprintf(buf, len,
		 "%u flows tracked again (%u live: %u expired, %u damaged, %u duplicates, %u "
		 "without room) in %.1f ms",
		 st->imported, st->live, st->expired, st->invalid, st->clashes, st->no_room,
		 st->ns / 1e6);
}

int kdp_flows_import(struct kdp *k, char *err)
{
	struct kdp_flows *f = &k->flows;
	struct kdp_flowstore *fs = f->fs;
	const struct kdp_flowstore *src = fs->src;
	uint64_t now = kdp_clock_now_ms();
	char v4[192], v6[224] = "";
	int ret;

	ret = kdp_ct_import(k->ct, now, &f->ct);
	if (ret == 0 && k->ct6 != NULL)
		ret = kdp_ct6_import(k->ct6, now, &f->ct6);
	if (ret != 0) {
		snprintf(err, KDP_ERR_LEN, "conntrack: cannot index the flow state: %s",
			 strerror(-ret));
		return ret;
	}
	if (src != NULL) {
		kdp_ct_import_from(k->ct, src->ct, src->hdr->geom.ct_slots, now, &f->ct);
		f->pins = kdp_affinity_import(k->aff, src->aff, src->hdr->geom.aff_slots);
		if (k->ct6 != NULL) {
			kdp_ct_import_from(&k->ct6->c, src->ct6, src->hdr->geom.ct6_slots, now,
					   &f->ct6);
			f->pins6 = kdp_affinity_import(&k->aff6->t, src->aff6,
						       src->hdr->geom.aff6_slots);
		}
		ret = kdp_flowstore_commit(fs);
		if (ret != 0)
			RTE_LOG(WARNING, USER1, "flow state %s: cannot replace the old file: %s\n",
				fs->path, strerror(-ret));
	} else {
		f->pins = kdp_affinity_count(k->aff);
		f->pins6 = k->aff6 != NULL ? kdp_affinity_count(&k->aff6->t) : 0;
	}
	f->imported = true;
	f->import_ms = now;
	if (fs->origin == KDP_FLOWSTORE_REFUSED)
		RTE_LOG(WARNING, USER1, "%s\n", fs->msg);
	import_text(&f->ct, v4, sizeof(v4));
	if (k->ct6 != NULL) {
		size_t n = (size_t)snprintf(v6, sizeof(v6), "; IPv6 conntrack: ");

		import_text(&f->ct6, v6 + n, sizeof(v6) - n);
		snprintf(v6 + strlen(v6), sizeof(v6) - strlen(v6), "; %u IPv6 affinity pins",
			 f->pins6);
	}
	RTE_LOG(NOTICE, USER1, "%s; conntrack: %s; %u affinity pins%s; %u frontend ids\n",
		fs->origin == KDP_FLOWSTORE_REFUSED ? "flow state: fresh tables" : fs->msg, v4,
		f->pins, v6, f->fe_ids);
	return 0;
}

/* The file's name of a frontend: "addr:port/proto". */
static void fe_name(const struct kdp_svc_key *key, char *buf, size_t len)
{
	kdp_service_fe_name(rte_be_to_cpu_32(key->addr), rte_be_to_cpu_16(key->port), key->proto,
			    buf, len);
}

/* And of an IPv6 frontend: "[addr]:port/proto". */
static void fe_name6(const struct kdp_svc6_key *key, char *buf, size_t len)
{
	struct kdp_in6 a;

	memcpy(&a, key->addr, sizeof(a));
	kdp_service_fe_name6(&a, rte_be_to_cpu_16(key->port), key->proto, buf, len);
}

static uint32_t restored_id(const struct kdp *k, const char *name)
{
	if (k->flows.restored == NULL || json_object_size(k->flows.restored) == 0)
		return 0;
	return (uint32_t)json_integer_value(json_object_get(k->flows.restored, name));
}

uint32_t kdp_flows_restored_fe_id(const struct kdp *k, const struct kdp_svc_key *key)
{
	char name[KDP_FLOWSTORE_FE_KEY_LEN];

	fe_name(key, name, sizeof(name));
	return restored_id(k, name);
}

uint32_t kdp_flows_restored_fe_id6(const struct kdp *k, const struct kdp_svc6_key *key)
{
	char name[KDP_FLOWSTORE_FE_KEY_LEN];

	fe_name6(key, name, sizeof(name));
	return restored_id(k, name);
}

void kdp_flows_save_fe(struct kdp *k, const struct kdp_svc_table *t,
		       const struct kdp_svc6_table *t6)
{
	uint32_t n6 = t6 != NULL ? t6->n_fe : 0;
	struct kdp_flowstore_fe *recs;
	size_t n = 0;

	if (k->flows.fs == NULL)
		return;
	recs = calloc(t->n_fe + n6 + 1, sizeof(*recs));
	if (recs == NULL)
		return;
	for (uint32_t i = 0; i <= t->mask && n < t->n_fe; i++) {
		const struct kdp_svc_fe *fe = t->slot[i].fe;

		if (fe == NULL)
			continue;
		fe_name(&fe->key, recs[n].key, sizeof(recs[n].key));
		recs[n++].id = fe->id;
	}
	for (uint32_t i = 0; i < n6; i++) {
		fe_name6(&t6->fe[i].key, recs[n].key, sizeof(recs[n].key));
		recs[n++].id = t6->fe[i].id;
	}
	n = kdp_flowstore_fe_save(k->flows.fs, recs, (uint32_t)n, k->pub.next_fe_id);
	if (n > 0 && k->flows.fe_unsaved == 0)
		RTE_LOG(WARNING, USER1,
			"flow state: %zu frontend ids beyond the %u the file keeps: their flows "
			"and pins will not survive a restart\n", n, KDP_FLOWS_FE_CAP);
	k->flows.fe_unsaved = (uint32_t)n;
	free(recs);
}

void kdp_flows_release_stale(struct kdp *k)
{
	if (k->ct != NULL)
		kdp_ct_release_stale(k->ct);
	if (k->ct6 != NULL)
		kdp_ct_release_stale(&k->ct6->c);
}

void kdp_flows_close(struct kdp *k)
{
	kdp_ct_free(k->ct);
	k->ct = NULL;
	kdp_affinity_free(k->aff);
	k->aff = NULL;
	kdp_ct6_free(k->ct6);
	k->ct6 = NULL;
	kdp_affinity6_free(k->aff6);
	k->aff6 = NULL;
	kdp_flowstore_close(k->flows.fs);
	k->flows.fs = NULL;
	json_decref(k->flows.restored);
	k->flows.restored = NULL;
	kdp_feid_fini(&k->pub.feid);
}

/* What an import found, for GET /v1/status. */
static json_t *import_json(const struct kdp_ct_import_stats *st)
{
	return json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:f}", "live", st->live, "imported",
			 st->imported, "expired", st->expired, "damaged", st->invalid,
			 "duplicates", st->clashes, "withoutRoom", st->no_room, "ms", st->ns / 1e6);
}

json_t *kdp_flows_status_json(const struct kdp *k)
{
	const struct kdp_flows *f = &k->flows;
	json_t *o;

	if (f->fs == NULL)
		return json_null();
	o = json_pack("{s:s?, s:s, s:s, s:I, s:o, s:i, s:i, s:I}", "file",
		      f->fs->fd >= 0 ? f->fs->path : NULL, "origin", origin_name(f->fs->origin),
		      "message", f->fs->msg, "bytes", (json_int_t)kdp_flowstore_bytes(f->fs),
		      "restored", import_json(&f->ct), "affinityPins", f->pins, "frontendIds",
		      f->fe_ids, "affinityEvicted", (json_int_t)k->aff->evicted);
	if (o != NULL && k->ct6 != NULL) {
		json_object_set_new(o, "restoredIPv6", import_json(&f->ct6));
		json_object_set_new(o, "affinityPinsIPv6", json_integer(f->pins6));
		json_object_set_new(o, "affinityEvictedIPv6",
				    json_integer((json_int_t)k->aff6->t.evicted));
	}
	return o;
}

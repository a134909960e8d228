/* SPDX-License-Identifier: BSD-3-Clause */
/* The flow state file: a new file, the same file again, damaged, foreign
 * and resized files, a file of the previous layout, the frontend-id map's
 * two copies; and the tables over it as a restart finds them: conntrack
 * entries imported (or not: deleted, expired, damaged), affinity pins, a
 * table of other sizes imported; the same for the IPv6 tables. */
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>

#include <rte_byteorder.h>

#include <rte_malloc.h>

#include "common/kdp_addr.h"
#include "common/kdp_eal.h"
#include "common/kdp_hash.h"
#include "ct/kdp_ct.h"
#include "ct/kdp_ct6.h"
#include "flowstore/kdp_flowstore.h"
#include "svc/kdp_affinity.h"
#include "svc/kdp_svc6.h"
#include "test_util.h"

static char path[64];

/* Tables of @p flows IPv4 flows and @p flows6 IPv6 ones (0: no IPv6). */
static struct kdp_flowstore_geom geom2(uint32_t flows, uint32_t flows6)
{
	struct kdp_flowstore_geom g = {
		.ct_slots = flows,
		.ct_slot_size = sizeof(struct kdp_ct_entry),
		.aff_slots = kdp_affinity_slots(flows / 4),
		.aff_slot_size = sizeof(struct kdp_affinity_slot),
		.fe_cap = 16,
		.ct6_slots = flows6,
		.ct6_slot_size = sizeof(struct kdp_ct6_entry),
		.aff6_slots = flows6 ? kdp_affinity_slots(flows6 / 4) : 0,
		.aff6_slot_size = sizeof(struct kdp_affinity6_slot),
	};
	return g;
}

static struct kdp_flowstore_geom geom(uint32_t flows)
{
	return geom2(flows, 0);
}

static void cleanup(void)
{
	char p[80];

	unlink(path);
	snprintf(p, sizeof(p), "%s.rejected", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s.new", path);
	unlink(p);
}

static struct kdp_flowstore *open_ok2(uint32_t flows, uint32_t flows6,
				      enum kdp_flowstore_origin want)
{
	struct kdp_flowstore_geom g = geom2(flows, flows6);
	struct kdp_flowstore *fs = NULL;
	char err[KDP_FLOWSTORE_MSG_LEN] = "";

	CU_ASSERT_EQUAL(kdp_flowstore_open(path, &g, 0, &fs, err), 0);
	CU_ASSERT_FATAL(fs != NULL);
	if (fs->origin != want)
		fprintf(stderr, "origin %d, want %d: %s\n", fs->origin, want, fs->msg);
	CU_ASSERT_EQUAL(fs->origin, want);
	return fs;
}

static struct kdp_flowstore *open_ok(uint32_t flows, enum kdp_flowstore_origin want)
{
	return open_ok2(flows, 0, want);
}

/* A new file of IPv4 tables of 1024 flows and IPv6 ones of @p flows6, at a
 * path of its own (@p tag). */
static struct kdp_flowstore *fresh(const char *tag, uint32_t flows6)
{
	snprintf(path, sizeof(path), "/dev/shm/kdp-unit-%s-%d", tag, (int)getpid());
	cleanup();
	return open_ok2(1024, flows6, KDP_FLOWSTORE_NEW);
}

static void fe_collect(void *arg, const char *key, uint32_t id)
{
	char *out = arg;

	snprintf(out + strlen(out), 256 - strlen(out), "%s=%u;", key, id);
}

static void test_file(void)
{
	struct kdp_flowstore_fe recs[3] = {{"10.96.0.10:53/UDP", 1}, {"10.96.0.10:53/TCP", 2},
					   {"[fd00:10:96:ffff:ffff:ffff:ffff:fff1]:65535/TCP", 7}};
	struct kdp_flowstore *fs, *other = NULL;
	struct kdp_flowstore_geom g = geom(1024);
	char got[256] = "", err[KDP_FLOWSTORE_MSG_LEN];
	uint32_t next = 0;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm/kdp-unit-flows-%d", (int)getpid());
	cleanup();
	fs = open_ok(1024, KDP_FLOWSTORE_NEW);
	CU_ASSERT_EQUAL(fs->hdr->geom.ct_slots, 1024);
	/* A second kdp on the same file is refused (after waiting for a dying one). */
	CU_ASSERT_EQUAL(kdp_flowstore_open(path, &g, 0, &other, err), -EBUSY);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "is in use by another kdp"));
	/* ... unless it takes over (no lock until the other exits). */
	CU_ASSERT_EQUAL(kdp_flowstore_open(path, &g, KDP_FLOWSTORE_SHARED, &other, err), 0);
	CU_ASSERT_FATAL(other != NULL);
	CU_ASSERT_EQUAL(other->origin, KDP_FLOWSTORE_REUSED);
	CU_ASSERT_FALSE(other->locked);
	kdp_flowstore_close(other);
	/* Frontend ids: two saves, the current copy wins; a damaged current
	 * copy falls back to the other. */
	CU_ASSERT_EQUAL(kdp_flowstore_fe_save(fs, recs, 2, 2), 0);
	CU_ASSERT_EQUAL(kdp_flowstore_fe_save(fs, recs, 3, 9), 0);
	CU_ASSERT_EQUAL(kdp_flowstore_fe_load(fs, fe_collect, got, &next), 0);
	CU_ASSERT_STRING_EQUAL(got, "10.96.0.10:53/UDP=1;10.96.0.10:53/TCP=2;"
				    "[fd00:10:96:ffff:ffff:ffff:ffff:fff1]:65535/TCP=7;");
	CU_ASSERT_EQUAL(next, 9);
	((uint8_t *)fs->base)[fs->hdr->fe_off + (fs->hdr->fe_active & 1) * fs->hdr->fe_size + 40] ^= 1;
	got[0] = '\0';
	CU_ASSERT_EQUAL(kdp_flowstore_fe_load(fs, fe_collect, got, &next), 0);
	CU_ASSERT_STRING_EQUAL(got, "10.96.0.10:53/UDP=1;10.96.0.10:53/TCP=2;");
	CU_ASSERT_EQUAL(next, 2);
	CU_ASSERT_EQUAL(kdp_flowstore_fe_save(fs, recs, 3, 9), 0);
	/* Too many for the file: the rest are counted. */
	{
		struct kdp_flowstore_fe many[20];

		memset(many, 0, sizeof(many));
		CU_ASSERT_EQUAL(kdp_flowstore_fe_save(fs, many, 20, 20), 4);
		CU_ASSERT_EQUAL(kdp_flowstore_fe_save(fs, recs, 3, 9), 0);
	}
	kdp_flowstore_close(fs);
	/* The same file again. */
	fs = open_ok(1024, KDP_FLOWSTORE_REUSED);
	got[0] = '\0';
	CU_ASSERT_EQUAL(kdp_flowstore_fe_load(fs, fe_collect, got, &next), 0);
	CU_ASSERT_EQUAL(next, 9);
	kdp_flowstore_close(fs);
	/* Damaged: one header byte flipped. */
	fd = open(path, O_RDWR);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pwrite(fd, "\xff", 1, 70), 1);
	close(fd);
	fs = open_ok(1024, KDP_FLOWSTORE_REFUSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(fs->msg, "refused: header checksum mismatch: the file is damaged; "
					       "starting with empty tables (the file is kept as"));
	CU_ASSERT_EQUAL(access(fs->path, F_OK), 0);
	kdp_flowstore_close(fs);
	/* Foreign: another layout version, CRC right. */
	fs = open_ok(1024, KDP_FLOWSTORE_REUSED);
	fs->hdr->version = 99;
	fs->hdr->crc = kdp_flowstore_hdr_crc(fs->hdr);
	kdp_flowstore_close(fs);
	fs = open_ok(1024, KDP_FLOWSTORE_REFUSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(fs->msg, "layout version 99, this kdp reads version 2"));
	kdp_flowstore_close(fs);
	/* A header of the previous layout (version 1: no IPv6 sections; its
	 * checksum where this layout has other fields) that is not intact:
	 * refused by its own checksum (an intact one is imported: below). */
	{
		uint8_t v1[4096];
		uint32_t one = 1;

		memset(v1, 0, sizeof(v1));
		memcpy(v1, KDP_FLOWSTORE_MAGIC, 8);
		memcpy(v1 + 8, &one, sizeof(one));
		fd = open(path, O_RDWR | O_TRUNC);
		CU_ASSERT_EQUAL(write(fd, v1, sizeof(v1)), (ssize_t)sizeof(v1));
		close(fd);
		CU_ASSERT_EQUAL(kdp_flowstore_open(path, &g, KDP_FLOWSTORE_NO_REFUSE, &other, err),
				-EPROTO);
		{
			char want[KDP_FLOWSTORE_MSG_LEN];

			snprintf(want, sizeof(want),
				 "flow state %s cannot be used: header checksum mismatch: the file is "
				 "damaged", path);
			CU_ASSERT_STRING_EQUAL(err, want);
		}
		fs = open_ok(1024, KDP_FLOWSTORE_REFUSED);
		CU_ASSERT_PTR_NOT_NULL(strstr(fs->msg, "refused: header checksum mismatch: the file is "
						       "damaged; starting with empty tables"));
		kdp_flowstore_close(fs);
	}
	/* Other entry sizes (an IPv6 entry of another layout): refused. */
	{
		struct kdp_flowstore_geom g6 = geom2(1024, 256);

		fs = open_ok2(1024, 256, KDP_FLOWSTORE_RESIZED);
		CU_ASSERT_EQUAL(kdp_flowstore_commit(fs), 0);
		kdp_flowstore_close(fs);
		g6.ct6_slot_size = 160;
		CU_ASSERT_EQUAL(kdp_flowstore_open(path, &g6, KDP_FLOWSTORE_NO_REFUSE, &other, err),
				-EPROTO);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, "entries of 96/16/144/32 bytes (conntrack/affinity, "
						   "IPv4/IPv6), this kdp's are 96/16/160/32"));
	}
	/* Not a flow state file at all. */
	fd = open(path, O_RDWR | O_TRUNC);
	CU_ASSERT_EQUAL(write(fd, "hello", 5), 5);
	close(fd);
	fs = open_ok(1024, KDP_FLOWSTORE_REFUSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(fs->msg, "the file is 5 bytes, shorter than its header"));
	kdp_flowstore_close(fs);
	/* Without refusing (a hand-over decides): -EPROTO, the file untouched. */
	fs = open_ok(1024, KDP_FLOWSTORE_REUSED);
	fs->hdr->version = 3;
	fs->hdr->crc = kdp_flowstore_hdr_crc(fs->hdr);
	kdp_flowstore_close(fs);
	CU_ASSERT_EQUAL(kdp_flowstore_open(path, &g, KDP_FLOWSTORE_NO_REFUSE, &other, err), -EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "layout version 3"));
	fs = open_ok(1024, KDP_FLOWSTORE_REFUSED);
	kdp_flowstore_close(fs);
	/* In memory: no file. */
	CU_ASSERT_EQUAL(kdp_flowstore_open("", &g, 0, &fs, err), 0);
	CU_ASSERT_EQUAL(fs->origin, KDP_FLOWSTORE_MEMORY);
	CU_ASSERT_EQUAL(fs->fd, -1);
	kdp_flowstore_close(fs);
	cleanup();
}

static struct kdp_ct_key tuple(uint32_t src, uint32_t dst, uint16_t sp, uint16_t dp, uint8_t proto)
{
	struct kdp_ct_key k = {rte_cpu_to_be_32(src), rte_cpu_to_be_32(dst),
			       rte_cpu_to_be_16(sp), rte_cpu_to_be_16(dp), proto, {0}};
	return k;
}

static struct kdp_ct *ct_over(struct kdp_flowstore *fs, uint32_t flows, const char *name)
{
	struct kdp_ct_params p = {.max_flows = flows, .slots = fs->ct};

	kdp_ct_timeouts_default(&p.timeouts);
	return kdp_ct_create(name, &p);
}

static struct kdp_ct_entry *find(struct kdp_ct *ct, const struct kdp_ct_key *k, uint8_t *dir)
{
	struct kdp_ct_entry *e;

	kdp_ct_lookup_bulk(ct, k, 1, &e, dir);
	return e;
}

/* A kdp's tables, then another kdp's over the same file. */
static void test_restart(void)
{
	struct kdp_ct_key o[6], r[6];
	struct kdp_ct_import_stats st;
	struct kdp_flowstore *fs;
	struct kdp_ct_entry *e[6];
	struct kdp_affinity *aff;
	struct kdp_svc_fe fe;
	struct kdp_svc_backend be[2] = {{.ip = rte_cpu_to_be_32(IP4(172, 20, 1, 40))},
					{.ip = rte_cpu_to_be_32(IP4(172, 20, 0, 130))}};
	struct kdp_ct *ct;
	uint64_t t = 5000000;
	uint8_t dir;

	fs = fresh("flows", 0);
	ct = ct_over(fs, 1024, "test_fs_ct1");
	CU_ASSERT_FATAL(ct != NULL);
	CU_ASSERT_EQUAL(kdp_ct_import(ct, t, &st), 0);
	kdp_ct_release_stale(ct); /* as a start does */
	CU_ASSERT_EQUAL(st.live, 0);
	for (int i = 0; i < 6; i++) {
		o[i] = tuple(IP4(172, 20, 1, 236), IP4(10, 96, 152, 212), (uint16_t)(40000 + i), 80, 6);
		r[i] = tuple(IP4(172, 20, 0, 130), IP4(172, 20, 1, 236), 80, (uint16_t)(40000 + i), 6);
		CU_ASSERT_EQUAL_FATAL(kdp_ct_insert(ct, &o[i], &r[i], KDP_CT_F_DNAT, 3, 1, t, &e[i]), 0);
		kdp_ct_update(ct, e[i], KDP_CT_ORIG, 0x02, 60, t);
	}
	kdp_ct_update(ct, e[0], KDP_CT_REPLY, 0x12, 60, t + 1);
	kdp_ct_update(ct, e[0], KDP_CT_ORIG, 0x10, 60, t + 2); /* established */
	kdp_ct_delete(ct, e[1]);                              /* deleted: not again */
	e[2]->expires_ms = t - 1;                             /* expired */
	e[3]->key[1].sport ^= 1;                              /* damaged */
	/* Affinity: one pin. */
	memset(&fe, 0, sizeof(fe));
	fe.id = 3;
	fe.be = be;
	fe.n_be = 2;
	fe.affinity = 1;
	fe.affinity_timeout_s = 100;
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&fe, 0), 0);
	aff = kdp_affinity_create(fs->hdr->geom.aff_slots, fs->aff, fs->hdr->aff_seed);
	CU_ASSERT_FATAL(aff != NULL);
	kdp_affinity_set(aff, &fe, rte_cpu_to_be_32(IP4(172, 20, 1, 236)), 1, 5000);
	kdp_affinity_free(aff);
	kdp_ct_free(ct);
	kdp_flowstore_close(fs);

	/* The next kdp: the flows that were live and intact, both ways. */
	fs = open_ok(1024, KDP_FLOWSTORE_REUSED);
	ct = ct_over(fs, 1024, "test_fs_ct2");
	CU_ASSERT_FATAL(ct != NULL);
	CU_ASSERT_EQUAL(kdp_ct_import(ct, t + 10, &st), 0);
	kdp_ct_release_stale(ct); /* as a start does */
	CU_ASSERT_EQUAL(st.live, 5);
	CU_ASSERT_EQUAL(st.imported, 3);
	CU_ASSERT_EQUAL(st.expired, 1);
	CU_ASSERT_EQUAL(st.invalid, 1);
	CU_ASSERT_EQUAL(kdp_ct_count(ct), 3);
	for (int i = 0; i < 6; i++) {
		struct kdp_ct_entry *got = find(ct, &o[i], &dir);

		CU_ASSERT_EQUAL(got != NULL, i == 0 || i == 4 || i == 5);
		if (got == NULL)
			continue;
		CU_ASSERT_EQUAL(dir, KDP_CT_ORIG);
		CU_ASSERT_PTR_EQUAL(find(ct, &r[i], &dir), got);
		CU_ASSERT_EQUAL(dir, KDP_CT_REPLY);
		CU_ASSERT_EQUAL(got->svc_id, 3);
		CU_ASSERT_EQUAL(got->tcp_state, i == 0 ? KDP_CT_TCP_EST : KDP_CT_TCP_SYN);
	}
	/* Every other slot is free again: the table fills up to its size. */
	{
		unsigned int n = 0;
		struct kdp_ct_entry *x;

		for (uint32_t i = 0; i < 2000; i++) {
			struct kdp_ct_key a = tuple(IP4(10, 0, 0, 1), IP4(10, 0, 1, 1), (uint16_t)i, 7, 17);
			struct kdp_ct_key b = kdp_ct_key_reverse(&a);

			n += kdp_ct_insert(ct, &a, &b, 0, 0, 0, t, &x) == 0;
		}
		CU_ASSERT_EQUAL(n, 1024 - 3);
	}
	aff = kdp_affinity_create(fs->hdr->geom.aff_slots, fs->aff, fs->hdr->aff_seed);
	CU_ASSERT_EQUAL(kdp_affinity_count(aff), 1);
	CU_ASSERT_EQUAL(kdp_affinity_get(aff, &fe, rte_cpu_to_be_32(IP4(172, 20, 1, 236)), 5050), 1);
	kdp_affinity_free(aff);
	kdp_ct_free(ct);
	kdp_flowstore_close(fs);

	/* Another maxFlows: the tables are imported into a new file. */
	fs = open_ok(2048, KDP_FLOWSTORE_RESIZED);
	CU_ASSERT_PTR_NOT_NULL(fs->src);
	ct = ct_over(fs, 2048, "test_fs_ct3");
	CU_ASSERT_EQUAL(kdp_ct_import(ct, t + 20, &st), 0);
	kdp_ct_import_from(ct, fs->src->ct, fs->src->hdr->geom.ct_slots, t + 20, &st);
	kdp_ct_release_stale(ct); /* as a start does */
	CU_ASSERT_EQUAL(st.imported, 1024);
	CU_ASSERT_PTR_NOT_NULL(find(ct, &o[0], &dir));
	aff = kdp_affinity_create(fs->hdr->geom.aff_slots, fs->aff, fs->hdr->aff_seed);
	CU_ASSERT_EQUAL(kdp_affinity_import(aff, fs->src->aff, fs->src->hdr->geom.aff_slots), 1);
	CU_ASSERT_EQUAL(kdp_affinity_get(aff, &fe, rte_cpu_to_be_32(IP4(172, 20, 1, 236)), 5050), 1);
	CU_ASSERT_EQUAL(kdp_flowstore_commit(fs), 0);
	kdp_affinity_free(aff);
	kdp_ct_free(ct);
	kdp_flowstore_close(fs);
	fs = open_ok(2048, KDP_FLOWSTORE_REUSED);
	CU_ASSERT_EQUAL(fs->hdr->geom.ct_slots, 2048);
	kdp_flowstore_close(fs);
	fe.be = NULL; /* on the stack */
	kdp_svc_fe_release(&fe);
	cleanup();
}

static struct kdp_ct6_key tuple6(const char *src, const char *dst, uint16_t sp, uint16_t dp,
				 uint8_t proto)
{
	struct kdp_ct6_key k;
	struct kdp_in6 a, b;

	memset(&k, 0, sizeof(k));
	CU_ASSERT_FATAL(kdp_addr6_parse(src, &a) == 0 && kdp_addr6_parse(dst, &b) == 0);
	memcpy(k.src, &a, 16);
	memcpy(k.dst, &b, 16);
	k.sport = rte_cpu_to_be_16(sp);
	k.dport = rte_cpu_to_be_16(dp);
	k.proto = proto;
	return k;
}

static struct kdp_ct6 *ct6_over(struct kdp_flowstore *fs, uint32_t flows, const char *name)
{
	struct kdp_ct_params p = {.max_flows = flows, .slots = fs->ct6};

	kdp_ct_timeouts_default(&p.timeouts);
	return kdp_ct6_create(name, &p);
}

static struct kdp_ct6_entry *find6(struct kdp_ct6 *ct, const struct kdp_ct6_key *k, uint8_t *dir)
{
	struct kdp_ct6_entry *e;

	kdp_ct6_lookup_bulk(ct, k, 1, &e, dir);
	return e;
}

/* The IPv6 tables: conntrack entries and pins over the file's IPv6
 * sections, as the next kdp finds them, and resized. */
static void test_restart6(void)
{
	struct kdp_ct6_key o[5], r[5];
	struct kdp_ct_import_stats st;
	struct kdp_flowstore *fs;
	struct kdp_ct6_entry *e[5];
	struct kdp_affinity6 *aff;
	struct kdp_svc6_fe fe;
	struct kdp_svc6_backend be[2];
	struct kdp_ct6 *ct;
	struct kdp_in6 c1, c2;
	uint64_t t = 7000000;
	uint8_t dir;

	snprintf(path, sizeof(path), "/dev/shm/kdp-unit-flows6-%d", (int)getpid());
	cleanup();
	fs = open_ok2(1024, 256, KDP_FLOWSTORE_NEW);
	CU_ASSERT_EQUAL(fs->hdr->geom.ct6_slots, 256);
	CU_ASSERT_EQUAL(fs->hdr->ct6_off, fs->hdr->aff_off + 256 * 16);
	CU_ASSERT_EQUAL(fs->hdr->aff6_off, fs->hdr->ct6_off + 36864); /* 256 x 144 */
	CU_ASSERT_EQUAL(fs->hdr->fe_off, fs->hdr->aff6_off + 64 * 32 + 2048);
	ct = ct6_over(fs, 256, "test_fs6_ct1");
	CU_ASSERT_FATAL(ct != NULL);
	CU_ASSERT_EQUAL(kdp_ct6_import(ct, t, &st), 0);
	kdp_ct_release_stale(&ct->c); /* as a start does */
	CU_ASSERT_EQUAL(st.live, 0);
	for (int i = 0; i < 5; i++) {
		/* A ClusterIP flow (DNAT) and masqueraded ones (SNAT port 32768 + i). */
		o[i] = tuple6("fd00:20:1::ec", i == 0 ? "fd00:10:96::98d4" : "2001:db8::200",
			      (uint16_t)(40000 + i), 80, 6);
		r[i] = i == 0 ? tuple6("fd00:20::82", "fd00:20:1::ec", 80, 40000, 6)
			      : tuple6("2001:db8::200", "fd00:10::100", 80, (uint16_t)(32768 + i), 6);
		CU_ASSERT_EQUAL_FATAL(kdp_ct6_insert(ct, &o[i], &r[i],
						     i == 0 ? KDP_CT_F_DNAT : KDP_CT_F_SNAT,
						     i == 0 ? 9 : 0, 1, t, &e[i]), 0);
		kdp_ct6_update(ct, e[i], KDP_CT_ORIG, 0x02, 80, t);
	}
	kdp_ct6_update(ct, e[0], KDP_CT_REPLY, 0x12, 80, t + 1);
	kdp_ct6_update(ct, e[0], KDP_CT_ORIG, 0x10, 80, t + 2); /* established */
	kdp_ct6_delete(ct, e[1]);                              /* deleted: not again */
	e[2]->expires_ms = t - 1;                              /* expired */
	e[3]->key[1].dst[15] ^= 1;                             /* damaged */
	CU_ASSERT_EQUAL(kdp_ct6_count(ct), 4);
	/* Affinity: two clients of one frontend, on two backends. */
	memset(&fe, 0, sizeof(fe));
	memset(be, 0, sizeof(be));
	CU_ASSERT_FATAL(kdp_addr6_parse("fd00:20:1::28", (struct kdp_in6 *)be[0].ip) == 0);
	CU_ASSERT_FATAL(kdp_addr6_parse("fd00:20::82", (struct kdp_in6 *)be[1].ip) == 0);
	be[0].port = be[1].port = rte_cpu_to_be_16(80);
	CU_ASSERT_FATAL(kdp_addr6_parse("fd00:20:1::ec", &c1) == 0);
	CU_ASSERT_FATAL(kdp_addr6_parse("fd00:20:1::ed", &c2) == 0);
	fe.id = 9;
	fe.be = be;
	fe.n_be = 2;
	fe.affinity = 1;
	fe.affinity_timeout_s = 100;
	CU_ASSERT_EQUAL(kdp_svc6_fe_prepare(&fe, 0), 0);
	aff = kdp_affinity6_create(fs->hdr->geom.aff6_slots, fs->aff6, fs->hdr->aff_seed);
	CU_ASSERT_FATAL(aff != NULL);
	kdp_affinity6_set(aff, &fe, c1.b, 1, 7000);
	kdp_affinity6_set(aff, &fe, c2.b, 0, 7000);
	CU_ASSERT_EQUAL(kdp_affinity6_get(aff, &fe, c1.b, 7001), 1);
	CU_ASSERT_EQUAL(kdp_affinity6_get(aff, &fe, c2.b, 7001), 0);
	kdp_affinity6_free(aff);
	kdp_ct6_free(ct);
	kdp_flowstore_close(fs);

	/* The next kdp: the flows that were live and intact, both ways, with
	 * their backend and SNAT port. */
	fs = open_ok2(1024, 256, KDP_FLOWSTORE_REUSED);
	ct = ct6_over(fs, 256, "test_fs6_ct2");
	CU_ASSERT_FATAL(ct != NULL);
	CU_ASSERT_EQUAL(kdp_ct6_import(ct, t + 10, &st), 0);
	kdp_ct_release_stale(&ct->c); /* as a start does */
	CU_ASSERT_EQUAL(st.live, 4);
	CU_ASSERT_EQUAL(st.imported, 2);
	CU_ASSERT_EQUAL(st.expired, 1);
	CU_ASSERT_EQUAL(st.invalid, 1);
	CU_ASSERT_EQUAL(kdp_ct6_count(ct), 2);
	for (int i = 0; i < 5; i++) {
		struct kdp_ct6_entry *got = find6(ct, &o[i], &dir);

		CU_ASSERT_EQUAL(got != NULL, i == 0 || i == 4);
		if (got == NULL)
			continue;
		CU_ASSERT_EQUAL(dir, KDP_CT_ORIG);
		CU_ASSERT_PTR_EQUAL(find6(ct, &r[i], &dir), got);
		CU_ASSERT_EQUAL(dir, KDP_CT_REPLY);
		CU_ASSERT_EQUAL(memcmp(&got->key[1], &r[i], sizeof(r[i])), 0);
		CU_ASSERT_EQUAL(got->svc_id, i == 0 ? 9 : 0);
		CU_ASSERT_EQUAL(got->flags & (KDP_CT_F_DNAT | KDP_CT_F_SNAT),
				i == 0 ? KDP_CT_F_DNAT : KDP_CT_F_SNAT);
		CU_ASSERT_EQUAL(got->tcp_state, i == 0 ? KDP_CT_TCP_EST : KDP_CT_TCP_SYN);
		CU_ASSERT_EQUAL(got->pkts[KDP_CT_ORIG], i == 0 ? 2 : 1);
	}
	CU_ASSERT_EQUAL(rte_be_to_cpu_16(find6(ct, &o[4], &dir)->key[1].dport), 32772);
	/* Every other slot is free again: the table fills up to its size. */
	{
		unsigned int n = 0;
		struct kdp_ct6_entry *x;

		for (uint32_t i = 0; i < 400; i++) {
			struct kdp_ct6_key a = tuple6("fd00:20:1::1", "2001:db8::1", (uint16_t)i, 53,
						      17);
			struct kdp_ct6_key b = kdp_ct6_key_reverse(&a);

			n += kdp_ct6_insert(ct, &a, &b, 0, 0, 0, t, &x) == 0;
		}
		CU_ASSERT_EQUAL(n, 256 - 2);
	}
	aff = kdp_affinity6_create(fs->hdr->geom.aff6_slots, fs->aff6, fs->hdr->aff_seed);
	CU_ASSERT_EQUAL(kdp_affinity_count(&aff->t), 2);
	CU_ASSERT_EQUAL(kdp_affinity6_get(aff, &fe, c1.b, 7050), 1);
	CU_ASSERT_EQUAL(kdp_affinity6_get(aff, &fe, c2.b, 7050), 0);
	/* A pin is its client's: one byte of the client changed in the file,
	 * and that client has no pin any more (the other keeps its own). */
	for (uint32_t i = 0; i < fs->hdr->geom.aff6_slots; i++) {
		struct kdp_affinity6_slot *sl = (struct kdp_affinity6_slot *)fs->aff6 + i;

		if (sl->key != 0 && memcmp(sl->client, c2.b, 16) == 0)
			((uint8_t *)sl->client)[15] ^= 0x80;
	}
	CU_ASSERT_EQUAL(kdp_affinity6_get(aff, &fe, c2.b, 7050), -1);
	CU_ASSERT_EQUAL(kdp_affinity6_get(aff, &fe, c1.b, 7050), 1);
	kdp_affinity6_set(aff, &fe, c2.b, 0, 7050);
	CU_ASSERT_EQUAL(kdp_affinity6_get(aff, &fe, c2.b, 7051), 0);
	/* Expired. */
	CU_ASSERT_EQUAL(kdp_affinity6_get(aff, &fe, c1.b, 7101), -1);
	kdp_affinity6_free(aff);
	kdp_ct6_free(ct);
	kdp_flowstore_close(fs);

	/* Another maxFlowsIPv6: the IPv6 tables are imported into a new file. */
	fs = open_ok2(1024, 512, KDP_FLOWSTORE_RESIZED);
	CU_ASSERT_FATAL(fs->src != NULL);
	ct = ct6_over(fs, 512, "test_fs6_ct3");
	CU_ASSERT_FATAL(ct != NULL);
	CU_ASSERT_EQUAL(kdp_ct6_import(ct, t + 20, &st), 0);
	kdp_ct_import_from(&ct->c, fs->src->ct6, fs->src->hdr->geom.ct6_slots, t + 20, &st);
	kdp_ct_release_stale(&ct->c); /* as a start does */
	CU_ASSERT_EQUAL(st.imported, 256);
	CU_ASSERT_EQUAL(kdp_ct6_count(ct), 256);
	CU_ASSERT_PTR_EQUAL(find6(ct, &r[4], &dir), find6(ct, &o[4], &dir));
	CU_ASSERT_EQUAL(dir, KDP_CT_ORIG);
	aff = kdp_affinity6_create(fs->hdr->geom.aff6_slots, fs->aff6, fs->hdr->aff_seed);
	/* c1, c2, and c2's damaged pin (no client's). */
	CU_ASSERT_EQUAL(fs->hdr->aff_seed, fs->src->hdr->aff_seed);
	CU_ASSERT_EQUAL(kdp_affinity_import(&aff->t, fs->src->aff6, fs->src->hdr->geom.aff6_slots), 3);
	CU_ASSERT_EQUAL(kdp_affinity6_get(aff, &fe, c1.b, 7060), 1);
	CU_ASSERT_EQUAL(kdp_affinity6_get(aff, &fe, c2.b, 7060), 0);
	CU_ASSERT_EQUAL(kdp_flowstore_commit(fs), 0);
	kdp_affinity6_free(aff);
	kdp_ct6_free(ct);
	kdp_flowstore_close(fs);
	fs = open_ok2(1024, 512, KDP_FLOWSTORE_REUSED);
	CU_ASSERT_EQUAL(fs->hdr->geom.ct6_slots, 512);
	kdp_flowstore_close(fs);
	/* IPv6 turned off (no nodeIPv6): a file without IPv6 sections, the
	 * IPv4 tables kept. */
	fs = open_ok2(1024, 0, KDP_FLOWSTORE_RESIZED);
	CU_ASSERT_EQUAL(fs->hdr->aff6_off, fs->hdr->ct6_off);
	CU_ASSERT_EQUAL(fs->hdr->fe_off, fs->hdr->ct6_off);
	CU_ASSERT_EQUAL(kdp_flowstore_commit(fs), 0);
	kdp_flowstore_close(fs);
	kdp_svc_pick_release(&fe.all); /* be[] is on the stack */
	kdp_svc_pick_release(&fe.local);
	cleanup();
}

/* The header of layout 1, as a kdp before the IPv6 sections wrote it. */
struct hdr_v1 {
	char magic[8];
	uint32_t version, hdr_size;
	uint64_t file_size;
	char boot_id[40];
	uint32_t ct_slots, ct_slot_size, aff_slots, aff_slot_size, fe_cap, aff_seed;
	uint64_t ct_off, aff_off, fe_off, fe_size, created_unix;
	uint32_t crc, owner_pid, fe_active, pad;
};

/* Rewrites the IPv4-only file at @p path as layout 1 wrote it: its header,
 * and frontend records of 32 bytes (the table sections are the same). */
static void make_v1(void)
{
	struct kdp_flowstore_hdr h;
	struct hdr_v1 v;
	uint8_t *m;
	int fd = open(path, O_RDWR);
	uint64_t fe_size;

	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(pread(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h));
	CU_ASSERT_FATAL(h.geom.ct6_slots == 0 && h.ct6_off == h.fe_off);
	m = mmap(NULL, h.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CU_ASSERT_FATAL(m != MAP_FAILED);
	fe_size = (24 + (uint64_t)h.geom.fe_cap * 32 + 4095) & ~4095ull;
	for (unsigned int i = 0; i < 2; i++) {
		uint8_t *src = m + h.fe_off + i * h.fe_size, *dst = m + h.fe_off + i * fe_size;
		uint8_t copy[24 + 16 * 32];
		uint32_t count, crc;

		memcpy(&count, src, 4);
		CU_ASSERT_FATAL(count <= 16);
		memcpy(copy, src, 24);
		for (uint32_t r = 0; r < count; r++) {
			const struct kdp_flowstore_fe *fe = (const void *)(src + 24 + r * 64);

			memset(copy + 24 + r * 32, 0, 32);
			memcpy(copy + 24 + r * 32, fe->key, 27);
			memcpy(copy + 24 + r * 32 + 28, &fe->id, 4);
		}
		crc = kdp_hash_crc(copy, 16, 0xffffffff);
		crc = kdp_hash_crc(copy + 24, count * 32, crc);
		memcpy(copy + 16, &crc, 4);
		memcpy(dst, copy, 24 + count * 32);
	}
	memset(&v, 0, sizeof(v));
	memcpy(v.magic, KDP_FLOWSTORE_MAGIC, 8);
	v.version = 1;
	v.hdr_size = sizeof(v);
	memcpy(v.boot_id, h.boot_id, sizeof(v.boot_id));
	v.ct_slots = h.geom.ct_slots;
	v.ct_slot_size = h.geom.ct_slot_size;
	v.aff_slots = h.geom.aff_slots;
	v.aff_slot_size = h.geom.aff_slot_size;
	v.fe_cap = h.geom.fe_cap;
	v.aff_seed = h.aff_seed;
	v.ct_off = h.ct_off;
	v.aff_off = h.aff_off;
	v.fe_off = h.fe_off;
	v.fe_size = fe_size;
	v.file_size = h.fe_off + 2 * fe_size;
	v.created_unix = h.created_unix;
	v.crc = kdp_hash_crc(&v, offsetof(struct hdr_v1, crc), 0xffffffff);
	v.fe_active = h.fe_active;
	memset(m, 0, 4096);
	memcpy(m, &v, sizeof(v));
	munmap(m, h.file_size);
	CU_ASSERT_EQUAL(ftruncate(fd, (off_t)v.file_size), 0);
	close(fd);
}

/* A file of layout 1 (a kdp before the IPv6 sections): imported into a
 * file of this layout, flows, pins and frontend ids kept; with the IPv6
 * tables empty. */
static void test_import_v1(void)
{
	struct kdp_flowstore_fe recs[2] = {{"10.96.0.10:53/UDP", 1}, {"10.96.152.212:80/TCP", 3}};
	struct kdp_ct_key o = tuple(IP4(172, 20, 1, 236), IP4(10, 96, 152, 212), 40000, 80, 6);
	struct kdp_ct_key r = tuple(IP4(172, 20, 0, 130), IP4(172, 20, 1, 236), 80, 40000, 6);
	struct kdp_ct_key mo = tuple(IP4(172, 20, 1, 236), IP4(192, 168, 10, 200), 40001, 53, 17);
	struct kdp_ct_key mr = tuple(IP4(192, 168, 10, 200), IP4(192, 168, 10, 100), 53, 50007, 17);
	struct kdp_svc_backend be[2] = {{.ip = rte_cpu_to_be_32(IP4(172, 20, 1, 40))},
					{.ip = rte_cpu_to_be_32(IP4(172, 20, 0, 130))}};
	struct kdp_flowstore_geom g = geom2(1024, 256);
	struct kdp_ct_import_stats st;
	struct kdp_flowstore *fs, *other = NULL;
	struct kdp_affinity *aff;
	struct kdp_ct_entry *e;
	struct kdp_svc_fe fe;
	struct kdp_ct *ct;
	char got[256] = "", err[KDP_FLOWSTORE_MSG_LEN];
	uint64_t t = 9000000;
	uint32_t next = 0;
	uint8_t dir;

	fs = fresh("flows1", 0);
	ct = ct_over(fs, 1024, "test_fs1_ct1");
	CU_ASSERT_FATAL(ct != NULL);
	CU_ASSERT_EQUAL(kdp_ct_import(ct, t, &st), 0);
	kdp_ct_release_stale(ct); /* as a start does */
	CU_ASSERT_EQUAL(kdp_ct_insert(ct, &o, &r, KDP_CT_F_DNAT, 3, 1, t, &e), 0);
	CU_ASSERT_EQUAL(kdp_ct_insert(ct, &mo, &mr, KDP_CT_F_SNAT, 0, 0, t, &e), 0);
	memset(&fe, 0, sizeof(fe));
	fe.id = 3;
	fe.be = be;
	fe.n_be = 2;
	fe.affinity = 1;
	fe.affinity_timeout_s = 100;
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&fe, 0), 0);
	aff = kdp_affinity_create(fs->hdr->geom.aff_slots, fs->aff, fs->hdr->aff_seed);
	kdp_affinity_set(aff, &fe, rte_cpu_to_be_32(IP4(172, 20, 1, 236)), 1, 9000);
	kdp_affinity_free(aff);
	CU_ASSERT_EQUAL(kdp_flowstore_fe_save(fs, recs, 2, 9), 0);
	kdp_ct_free(ct);
	kdp_flowstore_close(fs);
	make_v1();

	/* A hand-over does not give up on it: it is imported, not refused. */
	CU_ASSERT_EQUAL(kdp_flowstore_open(path, &g, KDP_FLOWSTORE_SHARED | KDP_FLOWSTORE_NO_REFUSE,
					   &other, err), 0);
	CU_ASSERT_FATAL(other != NULL);
	CU_ASSERT_EQUAL(other->origin, KDP_FLOWSTORE_RESIZED);
	kdp_flowstore_close(other);
	CU_ASSERT_EQUAL(access(path, F_OK), 0);
	fs = open_ok2(1024, 256, KDP_FLOWSTORE_RESIZED);
	CU_ASSERT_PTR_NOT_NULL(strstr(fs->msg, ": layout version 1 (1024 flows, 256 affinity slots); "
					       "importing into layout 2 (1024, 256, 256 IPv6 flows, 64 IPv6 "
					       "affinity slots)"));
	CU_ASSERT_FATAL(fs->src != NULL);
	CU_ASSERT_EQUAL(kdp_flowstore_fe_load(fs->src, fe_collect, got, &next), 0);
	CU_ASSERT_STRING_EQUAL(got, "10.96.0.10:53/UDP=1;10.96.152.212:80/TCP=3;");
	CU_ASSERT_EQUAL(next, 9);
	CU_ASSERT_EQUAL(fs->hdr->aff_seed, fs->src->hdr->aff_seed);
	ct = ct_over(fs, 1024, "test_fs1_ct2");
	CU_ASSERT_FATAL(ct != NULL);
	CU_ASSERT_EQUAL(kdp_ct_import(ct, t + 10, &st), 0);
	kdp_ct_import_from(ct, fs->src->ct, fs->src->hdr->geom.ct_slots, t + 10, &st);
	kdp_ct_release_stale(ct); /* as a start does */
	CU_ASSERT_EQUAL(st.imported, 2);
	CU_ASSERT_EQUAL(fs->src->hdr->geom.ct6_slots, 0);
	e = find(ct, &mr, &dir);
	CU_ASSERT_FATAL(e != NULL);
	CU_ASSERT_EQUAL(dir, KDP_CT_REPLY);
	CU_ASSERT_EQUAL(memcmp(&e->key[0], &mo, sizeof(mo)), 0);
	CU_ASSERT_PTR_NOT_NULL(find(ct, &o, &dir));
	aff = kdp_affinity_create(fs->hdr->geom.aff_slots, fs->aff, fs->hdr->aff_seed);
	CU_ASSERT_EQUAL(kdp_affinity_import(aff, fs->src->aff, fs->src->hdr->geom.aff_slots), 1);
	CU_ASSERT_EQUAL(kdp_affinity_get(aff, &fe, rte_cpu_to_be_32(IP4(172, 20, 1, 236)), 9050), 1);
	CU_ASSERT_EQUAL(kdp_flowstore_commit(fs), 0);
	kdp_affinity_free(aff);
	kdp_ct_free(ct);
	kdp_flowstore_close(fs);
	fs = open_ok2(1024, 256, KDP_FLOWSTORE_REUSED);
	CU_ASSERT_EQUAL(fs->hdr->version, 2);
	kdp_flowstore_close(fs);
	/* A damaged one (its checksum) is refused. */
	fs = open_ok(1024, KDP_FLOWSTORE_RESIZED);
	CU_ASSERT_EQUAL(kdp_flowstore_commit(fs), 0);
	kdp_flowstore_close(fs);
	make_v1();
	{
		int fd = open(path, O_RDWR);

		CU_ASSERT_EQUAL(pwrite(fd, "\x01", 1, 70), 1);
		close(fd);
	}
	fs = open_ok(1024, KDP_FLOWSTORE_REFUSED);
	CU_ASSERT_PTR_NOT_NULL(strstr(fs->msg, "refused: header checksum mismatch: the file is damaged"));
	kdp_flowstore_close(fs);
	fe.be = NULL; /* on the stack */
	kdp_svc_fe_release(&fe);
	cleanup();
}

/* A full bucket gives up its least recently used pin. */
static void test_affinity_eviction(void)
{
	struct kdp_affinity *aff = kdp_affinity_create(4, NULL, 1); /* one bucket */
	struct kdp_svc_backend be[1] = {{.ip = rte_cpu_to_be_32(IP4(172, 20, 1, 40))}};
	struct kdp_svc_fe fe;

	CU_ASSERT_FATAL(aff != NULL);
	memset(&fe, 0, sizeof(fe));
	fe.id = 1;
	fe.be = be;
	fe.n_be = 1;
	fe.affinity = 1;
	fe.affinity_timeout_s = 1000;
	CU_ASSERT_EQUAL(kdp_svc_fe_prepare(&fe, 0), 0);
	for (uint32_t c = 1; c <= 4; c++)
		kdp_affinity_set(aff, &fe, c, 0, 100 + c);
	CU_ASSERT_EQUAL(kdp_affinity_count(aff), 4);
	kdp_affinity_set(aff, &fe, 1, 0, 200); /* client 1 used again */
	kdp_affinity_set(aff, &fe, 5, 0, 201); /* evicts client 2, the oldest */
	CU_ASSERT_EQUAL(aff->evicted, 1);
	CU_ASSERT_EQUAL(kdp_affinity_get(aff, &fe, 1, 300), 0);
	CU_ASSERT_EQUAL(kdp_affinity_get(aff, &fe, 2, 300), -1);
	CU_ASSERT_EQUAL(kdp_affinity_get(aff, &fe, 5, 300), 0);
	/* Expired and collected. */
	CU_ASSERT_EQUAL(kdp_affinity_get(aff, &fe, 5, 2000), -1);
	fe.be = NULL; /* on the stack */
	kdp_svc_fe_release(&fe);
	kdp_affinity_free(aff);
}

/* kdp_eal_prefault (prefaultMemory) walks the EAL's memory without
 * changing a byte of it, and stops when asked. */
static void test_eal_prefault(void)
{
	const size_t len = 1 << 20;
	uint8_t *buf = rte_malloc("t_prefault", len, 0);
	volatile bool stop = true;
	bool same = true;
	long long bytes;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	bytes = kdp_eal_prefault(NULL);
	CU_ASSERT(bytes >= (long long)len);
	for (size_t i = 0; i < len; i++)
		same &= buf[i] == (uint8_t)(i * 7 + 3);
	CU_ASSERT(same);
	CU_ASSERT_EQUAL(kdp_eal_prefault(&stop), 0);
	rte_free(buf);
}

void test_register_flowstore(void)
{
	CU_pSuite s = CU_add_suite("flowstore", NULL, NULL);
	CU_add_test(s, "EAL memory faulted in, contents kept; stopped at once", test_eal_prefault);
	CU_add_test(s, "file: new, reused, damaged, foreign, short, locked, frontend ids",
		    test_file);
	CU_add_test(s, "tables over the file after a restart, and resized", test_restart);
	CU_add_test(s, "IPv6 tables over the file after a restart, and resized", test_restart6);
	CU_add_test(s, "a file of layout 1 imported", test_import_v1);
	CU_add_test(s, "affinity: a full bucket gives up its oldest pin", test_affinity_eviction);
}

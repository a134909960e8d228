/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <rte_common.h>
#include <rte_random.h>

#include "common/kdp_hash.h"
#include "kdp_flowstore.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define PAGE 4096u

_Static_assert(sizeof(struct kdp_flowstore_hdr) == 176, "flow state header layout");
_Static_assert(offsetof(struct kdp_flowstore_hdr, version) == 8,
	       "the version where every layout has it");
_Static_assert(offsetof(struct kdp_flowstore_hdr, crc) == 160,
	       "tests/func/test_flowstate.py HDR_CRC_OFF");
_Static_assert(sizeof(struct kdp_flowstore_fe) == 64, "frontend record layout");

/* One copy of the frontend-id map: a header, then count records of
 * fs->fe_rec_size bytes (struct kdp_flowstore_fe; 32 in layout 1). */
struct fe_copy {
	uint32_t count;
	uint32_t next_id;
	uint64_t gen;
	uint32_t crc;
	uint32_t pad;
	struct kdp_flowstore_fe rec[];
};

/* The header of layout 1 (IPv4 tables only; frontend keys of 28 bytes). */
struct hdr_v1 {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
	uint64_t file_size;
	char boot_id[40];
	uint32_t ct_slots, ct_slot_size, aff_slots, aff_slot_size, fe_cap;
	uint32_t aff_seed;
	uint64_t ct_off, aff_off, fe_off, fe_size, created_unix;
	uint32_t crc;
	uint32_t owner_pid, fe_active, pad;
};

_Static_assert(sizeof(struct hdr_v1) == 144 && offsetof(struct hdr_v1, crc) == 128,
	       "layout 1's header");
#define FE_REC_V1 32u

static uint64_t align_page(uint64_t v)
{
	return (v + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

void kdp_flowstore_layout(const struct kdp_flowstore_geom *g, struct kdp_flowstore_hdr *h)
{
	uint64_t off = PAGE;

	h->geom = *g;
	h->ct_off = off;
	off += align_page((uint64_t)g->ct_slots * g->ct_slot_size);
	h->aff_off = off;
	off += align_page((uint64_t)g->aff_slots * g->aff_slot_size);
	h->ct6_off = off;
	off += align_page((uint64_t)g->ct6_slots * g->ct6_slot_size);
	h->aff6_off = off;
	off += align_page((uint64_t)g->aff6_slots * g->aff6_slot_size);
	h->fe_size = align_page(sizeof(struct fe_copy) +
				(uint64_t)g->fe_cap * sizeof(struct kdp_flowstore_fe));
	h->fe_off = off;
	off += 2 * h->fe_size;
	h->file_size = off;
}

uint32_t kdp_flowstore_hdr_crc(const struct kdp_flowstore_hdr *h)
{
	return kdp_hash_crc(h, offsetof(struct kdp_flowstore_hdr, crc), 0xffffffff);
}

static struct fe_copy *fe_copy(const struct kdp_flowstore *fs, unsigned int i)
{
	return (struct fe_copy *)((uint8_t *)fs->base + fs->hdr->fe_off + i * fs->hdr->fe_size);
}

static uint32_t fe_crc(const struct fe_copy *c, uint32_t rec_size)
{
	uint32_t crc = kdp_hash_crc(c, offsetof(struct fe_copy, crc), 0xffffffff);

	return kdp_hash_crc(c->rec, c->count * rec_size, crc);
}

static bool fe_ok(const struct kdp_flowstore *fs, const struct fe_copy *c)
{
	return c->count <= fs->hdr->geom.fe_cap && c->crc == fe_crc(c, fs->fe_rec_size);
}

static void boot_id(char *out, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	out[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(out, (int)len, f) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

/* A fresh header and empty frontend maps in the zeroed mapping of @p fs. */
static void init_fresh(struct kdp_flowstore *fs, const struct kdp_flowstore_geom *g)
{
	struct kdp_flowstore_hdr *h = fs->base;

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, KDP_FLOWSTORE_MAGIC, sizeof(h->magic));
	h->version = KDP_FLOWSTORE_VERSION;
	h->hdr_size = sizeof(*h);
	boot_id(h->boot_id, sizeof(h->boot_id));
	kdp_flowstore_layout(g, h);
	h->aff_seed = (uint32_t)rte_rand();
	h->created_unix = (uint64_t)time(NULL);
	fs->hdr = h;
	for (unsigned int i = 0; i < 2; i++) {
		struct fe_copy *c = fe_copy(fs, i);

		c->count = 0;
		c->next_id = 0;
		c->gen = i;
		c->crc = fe_crc(c, sizeof(struct kdp_flowstore_fe));
	}
	h->fe_active = 1;
	h->crc = kdp_flowstore_hdr_crc(h);
}

static void set_sections(struct kdp_flowstore *fs)
{
	fs->hdr = fs->v1 != NULL ? fs->v1 : fs->base;
	fs->ct = (uint8_t *)fs->base + fs->hdr->ct_off;
	fs->aff = (uint8_t *)fs->base + fs->hdr->aff_off;
	fs->ct6 = (uint8_t *)fs->base + fs->hdr->ct6_off;
	fs->aff6 = (uint8_t *)fs->base + fs->hdr->aff6_off;
}

/* Faults the table pages in now rather than on the workers' first touch:
 * @p populate for a new file (every page allocated; with KDP_FLOWSTORE_TOUCH
 * also written once: nobody else has it yet), else each page read once (a
 * file in use: its pages are there, but a new process's page tables, or a
 * VM's shadow of them, are filled only on first access). */
static void prefault(struct kdp_flowstore *fs, bool populate)
{
	size_t len = fs->hdr->fe_off - fs->hdr->ct_off;
	volatile uint8_t sink = 0;

	if (populate && len > 0 && (madvise(fs->ct, len, MADV_POPULATE_WRITE) != 0 || fs->touch))
		for (size_t o = 0; o < len; o += PAGE)
			((volatile uint8_t *)fs->ct)[o] = ((volatile uint8_t *)fs->ct)[o];
	if (!populate)
		for (size_t o = 0; o < len; o += PAGE)
			sink += ((volatile uint8_t *)fs->ct)[o];
	(void)sink;
}

/* True (@p buf says why) when a file made in boot @p id is of another boot
 * than this one. */
static bool other_boot(const char *id, char *buf, size_t len)
{
	char boot[40];

	boot_id(boot, sizeof(boot));
	if (boot[0] == '\0' || id[0] == '\0' || strncmp(boot, id, sizeof(boot)) == 0)
		return false;
	snprintf(buf, len,
		 "written before the machine restarted (boot %.8s, now %.8s): its clock readings "
		 "mean nothing now", id, boot);
	return true;
}

/* Why the file of layout 1 mapped at @p fs (@p size bytes) cannot be
 * imported into tables of entries of the sizes in @p want; NULL when it
 * can: fs->v1 then holds its header in this layout (no IPv6 sections), and
 * its frontend records are of layout 1. */
static const char *check_v1(struct kdp_flowstore *fs, uint64_t size,
			    const struct kdp_flowstore_geom *want, char *buf, size_t len)
{
	const struct hdr_v1 *v = fs->base;
	struct kdp_flowstore_hdr *h;
	uint64_t off = PAGE, fe_size;

	if (v->crc != kdp_hash_crc(v, offsetof(struct hdr_v1, crc), 0xffffffff))
		return "header checksum mismatch: the file is damaged";
	if (v->hdr_size != sizeof(*v) || v->ct_slot_size != want->ct_slot_size ||
	    v->aff_slot_size != want->aff_slot_size)
		return snprintf(buf, len,
				"layout version 1 with a header of %u bytes, entries of %u/%u bytes "
				"(conntrack/affinity): not one this kdp can import", v->hdr_size,
				v->ct_slot_size, v->aff_slot_size), buf;
	if (other_boot(v->boot_id, buf, len))
		return buf;
	off += align_page((uint64_t)v->ct_slots * v->ct_slot_size);
	if (v->ct_off != PAGE || v->aff_off != off)
		goto inconsistent;
	off += align_page((uint64_t)v->aff_slots * v->aff_slot_size);
	fe_size = align_page(sizeof(struct fe_copy) + (uint64_t)v->fe_cap * FE_REC_V1);
	if (v->fe_off != off || v->fe_size != fe_size || v->file_size != off + 2 * fe_size ||
	    size != v->file_size)
		goto inconsistent;
	h = calloc(1, sizeof(*h));
	if (h == NULL)
		return "out of memory";
	memcpy(h->magic, v->magic, sizeof(h->magic));
	h->version = v->version;
	h->hdr_size = sizeof(*h);
	h->file_size = v->file_size;
	h->geom = (struct kdp_flowstore_geom){
		.ct_slots = v->ct_slots, .ct_slot_size = v->ct_slot_size,
		.aff_slots = v->aff_slots, .aff_slot_size = v->aff_slot_size,
		.fe_cap = v->fe_cap, .ct6_slot_size = want->ct6_slot_size,
		.aff6_slot_size = want->aff6_slot_size,
	};
	h->aff_seed = v->aff_seed;
	h->ct_off = v->ct_off;
	h->aff_off = v->aff_off;
	h->ct6_off = h->aff6_off = h->fe_off = v->fe_off;
	h->fe_size = v->fe_size;
	h->created_unix = v->created_unix;
	h->fe_active = v->fe_active;
	fs->v1 = h;
	fs->fe_rec_size = FE_REC_V1;
	return NULL;
inconsistent:
	return snprintf(buf, len,
			"layout version 1 whose sections do not match its table sizes (file of %llu "
			"bytes, the header says %llu)", (unsigned long long)size,
			(unsigned long long)v->file_size), buf;
}

/* Why the header at @p h (a mapping of @p size bytes) is unusable for
 * entries of the sizes in @p want; NULL when it is fine. */
static const char *check_header(const struct kdp_flowstore_hdr *h, uint64_t size,
				const struct kdp_flowstore_geom *want, char *buf, size_t len)
{
	struct kdp_flowstore_hdr l;

	if (size < PAGE)
		return snprintf(buf, len, "the file is %llu bytes, shorter than its header",
				(unsigned long long)size), buf;
	if (memcmp(h->magic, KDP_FLOWSTORE_MAGIC, sizeof(h->magic)) != 0)
		return "not a kdp flow state file (bad magic)";
	/* Before the checksum: another layout's header has its crc elsewhere. */
	if (h->version != KDP_FLOWSTORE_VERSION)
		return snprintf(buf, len, "layout version %u, this kdp reads version %u",
				h->version, KDP_FLOWSTORE_VERSION), buf;
	if (h->crc != kdp_flowstore_hdr_crc(h))
		return "header checksum mismatch: the file is damaged";
	if (h->hdr_size != sizeof(*h))
		return snprintf(buf, len, "header of %u bytes, this kdp's is %zu", h->hdr_size,
				sizeof(*h)), buf;
	if (h->geom.ct_slot_size != want->ct_slot_size ||
	    h->geom.aff_slot_size != want->aff_slot_size ||
	    h->geom.ct6_slot_size != want->ct6_slot_size ||
	    h->geom.aff6_slot_size != want->aff6_slot_size)
		return snprintf(buf, len,
				"entries of %u/%u/%u/%u bytes (conntrack/affinity, IPv4/IPv6), this "
				"kdp's are %u/%u/%u/%u",
				h->geom.ct_slot_size, h->geom.aff_slot_size, h->geom.ct6_slot_size,
				h->geom.aff6_slot_size, want->ct_slot_size, want->aff_slot_size,
				want->ct6_slot_size, want->aff6_slot_size), buf;
	if (other_boot(h->boot_id, buf, len))
		return buf;
	memset(&l, 0, sizeof(l));
	kdp_flowstore_layout(&h->geom, &l);
	if (l.file_size != h->file_size || l.ct_off != h->ct_off || l.aff_off != h->aff_off ||
	    l.ct6_off != h->ct6_off || l.aff6_off != h->aff6_off || l.fe_off != h->fe_off || l.fe_size != h->fe_size || size != h->file_size)
		return snprintf(buf, len,
				"sections do not match the table sizes (file of %llu bytes, the header "
				"says %llu, its tables need %llu)", (unsigned long long)size,
				(unsigned long long)h->file_size, (unsigned long long)l.file_size),
		       buf;
	return NULL;
}

static bool same_tables(const struct kdp_flowstore_geom *a, const struct kdp_flowstore_geom *b)
{
	return a->ct_slots == b->ct_slots && a->aff_slots == b->aff_slots &&
	       a->ct6_slots == b->ct6_slots && a->aff6_slots == b->aff6_slots &&
	       a->fe_cap == b->fe_cap;
}

static void unmap(struct kdp_flowstore *fs)
{
	if (fs->base != NULL && fs->base != MAP_FAILED)
		munmap(fs->base, fs->len);
	fs->base = NULL;
	if (fs->fd >= 0)
		close(fs->fd);
	fs->fd = -1;
	free(fs->v1);
	fs->v1 = NULL;
	fs->fe_rec_size = sizeof(struct kdp_flowstore_fe);
}

/* Makes a fresh file at @p path (truncated), locked, mapped and laid out. */
static int create_file(struct kdp_flowstore *fs, const char *path,
		       const struct kdp_flowstore_geom *g, char *err)
{
	struct kdp_flowstore_hdr l;
	int ret;

	memset(&l, 0, sizeof(l));
	kdp_flowstore_layout(g, &l);
	fs->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fs->fd < 0) {
		ret = -errno;
		snprintf(err, KDP_FLOWSTORE_MSG_LEN, "flowStateFile: cannot create %s: %s", path,
			 strerror(errno));
		return ret;
	}
	fs->locked = flock(fs->fd, LOCK_EX | LOCK_NB) == 0;
	if (ftruncate(fs->fd, (off_t)l.file_size) != 0) {
		ret = -errno;
		snprintf(err, KDP_FLOWSTORE_MSG_LEN, "flowStateFile: cannot size %s to %llu bytes: %s",
			 path, (unsigned long long)l.file_size, strerror(errno));
		return ret;
	}
	fs->len = l.file_size;
	fs->base = mmap(NULL, fs->len, PROT_READ | PROT_WRITE, MAP_SHARED, fs->fd, 0);
	if (fs->base == MAP_FAILED) {
		ret = -errno;
		fs->base = NULL;
		snprintf(err, KDP_FLOWSTORE_MSG_LEN, "flowStateFile: cannot map %s: %s", path,
			 strerror(errno));
		return ret;
	}
	init_fresh(fs, g);
	set_sections(fs);
	prefault(fs, true);
	return 0;
}

/* The pid a held file's header names, 0 if unreadable. */
static uint32_t owner_of(int fd)
{
	struct kdp_flowstore_hdr h;

	if (pread(fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, KDP_FLOWSTORE_MAGIC, sizeof(h.magic)) != 0)
		return 0;
	return h.owner_pid;
}

/* True when process @p pid runs (neither gone nor a zombie). */
static bool alive(uint32_t pid)
{
	char p[64], st[256];
	const char *r;
	FILE *f;
	bool ok;

	if (pid == 0)
		return false;
	snprintf(p, sizeof(p), "/proc/%u/stat", pid);
	f = fopen(p, "re");
	if (f == NULL)
		return false;
	ok = fgets(st, sizeof(st), f) != NULL;
	fclose(f);
	r = ok ? strrchr(st, ')') : NULL;
	return r != NULL && r[1] == ' ' && r[2] != 'Z' && r[2] != 'X';
}

static int open_memory(struct kdp_flowstore *fs, const struct kdp_flowstore_geom *g)
{
	struct kdp_flowstore_hdr l;

	memset(&l, 0, sizeof(l));
	kdp_flowstore_layout(g, &l);
	fs->len = l.file_size;
	fs->base = mmap(NULL, fs->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fs->base == MAP_FAILED) {
		fs->base = NULL;
		return -ENOMEM;
	}
	init_fresh(fs, g);
	set_sections(fs);
	prefault(fs, true);
	fs->origin = KDP_FLOWSTORE_MEMORY;
	snprintf(fs->msg, sizeof(fs->msg),
		 "no flowStateFile: flows live in this process only (a restart resets them)");
	return 0;
}

int kdp_flowstore_open(const char *path, const struct kdp_flowstore_geom *g,
		       unsigned int flags, struct kdp_flowstore **out, char *err)
{
	struct kdp_flowstore *fs = calloc(1, sizeof(*fs));
	char why_buf[KDP_FLOWSTORE_MSG_LEN], rej[PATH_MAX + 16];
	const char *why;
	struct stat st;
	int ret;

	*out = NULL;
	if (fs == NULL)
		return -ENOMEM;
	fs->fd = -1;
	fs->fe_rec_size = sizeof(struct kdp_flowstore_fe);
	fs->touch = (flags & KDP_FLOWSTORE_TOUCH) != 0;
	if (path == NULL || path[0] == '\0') {
		ret = open_memory(fs, g);
		if (ret != 0) {
			snprintf(err, KDP_FLOWSTORE_MSG_LEN, "flow tables: out of memory");
			free(fs);
			return ret;
		}
		*out = fs;
		return 0;
	}
	snprintf(fs->path, sizeof(fs->path), "%s", path);
	snprintf(fs->tmp_path, sizeof(fs->tmp_path), "%s.new", path);
	fs->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fs->fd < 0) {
		ret = -errno;
		snprintf(err, KDP_FLOWSTORE_MSG_LEN, "flowStateFile: cannot open %s: %s", path,
			 strerror(errno));
		free(fs);
		return ret;
	}
	fs->locked = flock(fs->fd, LOCK_EX | LOCK_NB) == 0;
	/* A kdp killed a moment ago holds the lock until its last thread is
	 * gone (its main thread already shows as exited): wait for that one,
	 * not for a live one. */
	for (int i = 0; !fs->locked && !(flags & KDP_FLOWSTORE_SHARED) &&
			!alive(owner_of(fs->fd)) && i < 300; i++) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		nanosleep(&ts, NULL);
		fs->locked = flock(fs->fd, LOCK_EX | LOCK_NB) == 0;
	}
	if (!fs->locked && !(flags & KDP_FLOWSTORE_SHARED)) {
		snprintf(err, KDP_FLOWSTORE_MSG_LEN,
			 "flowStateFile: %s is in use by another kdp (pid %u): two kdps must not "
			 "share one (to replace a running kdp, use kdpctl upgrade)",
			 path, owner_of(fs->fd));
		close(fs->fd);
		free(fs);
		return -EBUSY;
	}
	if (fs->locked)
		unlink(fs->tmp_path); /* left by a kdp that died resizing */
	if (fstat(fs->fd, &st) != 0) {
		ret = -errno;
		snprintf(err, KDP_FLOWSTORE_MSG_LEN, "flowStateFile: %s: %s", path, strerror(errno));
		goto fail;
	}
	if (st.st_size == 0) {
		close(fs->fd);
		fs->fd = -1;
		ret = create_file(fs, path, g, err);
		if (ret != 0)
			goto fail;
		fs->origin = KDP_FLOWSTORE_NEW;
		snprintf(fs->msg, sizeof(fs->msg), "flow state %s: new (%u flows)", path,
			 g->ct_slots);
		goto done;
	}
	fs->len = (size_t)st.st_size;
	fs->base = mmap(NULL, fs->len, PROT_READ | PROT_WRITE, MAP_SHARED, fs->fd, 0);
	if (fs->base == MAP_FAILED) {
		ret = -errno;
		fs->base = NULL;
		snprintf(err, KDP_FLOWSTORE_MSG_LEN, "flowStateFile: cannot map %s: %s", path,
			 strerror(errno));
		goto fail;
	}
	if (st.st_size >= PAGE && ((struct kdp_flowstore_hdr *)fs->base)->version == 1 &&
	    memcmp(fs->base, KDP_FLOWSTORE_MAGIC, 8) == 0)
		why = check_v1(fs, (uint64_t)st.st_size, g, why_buf, sizeof(why_buf));
	else
		why = check_header(fs->base, (uint64_t)st.st_size, g, why_buf, sizeof(why_buf));
	if (why == NULL) {
		set_sections(fs);
		if (!fe_ok(fs, fe_copy(fs, 0)) && !fe_ok(fs, fe_copy(fs, 1)))
			why = "its frontend-id map is damaged (both copies)";
	}
	if (why != NULL) {
		if (flags & KDP_FLOWSTORE_NO_REFUSE) {
			snprintf(err, KDP_FLOWSTORE_MSG_LEN, "flow state %s cannot be used: %s", path,
				 why);
			ret = -EPROTO;
			goto fail;
		}
		snprintf(rej, sizeof(rej), "%s.rejected", path);
		/* Kept for a look (or a kdp that can read it); a running kdp
		 * that maps it keeps its own inode. */
		if (rename(path, rej) != 0)
			unlink(path);
		snprintf(fs->msg, sizeof(fs->msg),
			 "flow state %s refused: %s; starting with empty tables (the file is kept as %s)",
			 path, why, rej);
		unmap(fs);
		ret = create_file(fs, path, g, err);
		if (ret != 0)
			goto fail;
		fs->origin = KDP_FLOWSTORE_REFUSED;
		goto done;
	}
	if (fs->v1 != NULL || !same_tables(&fs->hdr->geom, g)) {
		struct kdp_flowstore *src = calloc(1, sizeof(*src));
		struct kdp_flowstore_geom old = fs->hdr->geom;

		if (src == NULL) {
			ret = -ENOMEM;
			goto fail;
		}
		*src = *fs; /* the old file, its lock and mapping */
		src->origin = KDP_FLOWSTORE_REUSED;
		fs->fd = -1;
		fs->base = NULL;
		fs->v1 = NULL;
		fs->fe_rec_size = sizeof(struct kdp_flowstore_fe);
		fs->src = src;
		ret = create_file(fs, fs->tmp_path, g, err);
		if (ret != 0)
			goto fail;
		/* IPv6 pins hold a hash of their client: the same seed. */
		fs->hdr->aff_seed = src->hdr->aff_seed;
		fs->hdr->crc = kdp_flowstore_hdr_crc(fs->hdr);
		fs->origin = KDP_FLOWSTORE_RESIZED;
		if (src->v1 != NULL)
			snprintf(fs->msg, sizeof(fs->msg),
				 "flow state %s: layout version 1 (%u flows, %u affinity slots); "
				 "importing into layout %u (%u, %u, %u IPv6 flows, %u IPv6 affinity "
				 "slots)", path, old.ct_slots, old.aff_slots, KDP_FLOWSTORE_VERSION,
				 g->ct_slots, g->aff_slots, g->ct6_slots, g->aff6_slots);
		else
			snprintf(fs->msg, sizeof(fs->msg),
			 "flow state %s: tables of %u flows, %u affinity slots, %u IPv6 flows, %u "
			 "IPv6 affinity slots; importing into %u, %u, %u, %u",
			 path, old.ct_slots, old.aff_slots, old.ct6_slots, old.aff6_slots,
			 g->ct_slots, g->aff_slots, g->ct6_slots, g->aff6_slots);
		goto done;
	}
	/* Touched now, so that the import (in a hand-over: while both kdps
	 * hold their frames) does not fault once per 4 KiB of slots. */
	prefault(fs, false);
	fs->origin = KDP_FLOWSTORE_REUSED;
	snprintf(fs->msg, sizeof(fs->msg), "flow state %s: reusing its tables (made %llus ago)",
		 path, (unsigned long long)(time(NULL) - (time_t)fs->hdr->created_unix));
done:
	if (fs->locked)
		fs->hdr->owner_pid = (uint32_t)getpid();
	*out = fs;
	return 0;
fail:
	kdp_flowstore_close(fs);
	return ret;
}

int kdp_flowstore_commit(struct kdp_flowstore *fs)
{
	if (fs->origin != KDP_FLOWSTORE_RESIZED || fs->src == NULL)
		return 0;
	if (rename(fs->tmp_path, fs->path) != 0)
		return -errno;
	kdp_flowstore_close(fs->src);
	fs->src = NULL;
	return 0;
}

int kdp_flowstore_lock(struct kdp_flowstore *fs, unsigned int timeout_ms)
{
	struct timespec ts = {0, 5 * 1000 * 1000};

	if (fs->fd < 0 || fs->locked)
		return 0;
	for (unsigned int waited = 0;; waited += 5) {
		if (flock(fs->fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK)
			return -errno;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		nanosleep(&ts, NULL);
	}
	fs->locked = true;
	fs->hdr->owner_pid = (uint32_t)getpid();
	return 0;
}

void kdp_flowstore_close(struct kdp_flowstore *fs)
{
	if (fs == NULL)
		return;
	if (fs->src != NULL) {
		/* A resize never committed: the old file stays the file. */
		kdp_flowstore_close(fs->src);
		unlink(fs->tmp_path);
	}
	unmap(fs);
	free(fs);
}

size_t kdp_flowstore_bytes(const struct kdp_flowstore *fs)
{
	return fs->len;
}

int kdp_flowstore_fe_load(const struct kdp_flowstore *fs,
			  void (*fn)(void *arg, const char *key, uint32_t id), void *arg,
			  uint32_t *next_id)
{
	unsigned int cur = fs->hdr->fe_active & 1;
	const struct fe_copy *c = fe_copy(fs, cur);

	if (!fe_ok(fs, c))
		c = fe_copy(fs, cur ^ 1);
	if (!fe_ok(fs, c))
		return -EBADMSG;
	for (uint32_t i = 0; i < c->count; i++) {
		const uint8_t *r = (const uint8_t *)c->rec + (size_t)i * fs->fe_rec_size;
		char key[KDP_FLOWSTORE_FE_KEY_LEN];
		uint32_t id;

		/* A record is its key, then its id. */
		memcpy(key, r, fs->fe_rec_size - 4);
		key[fs->fe_rec_size - 5] = '\0';
		memcpy(&id, r + fs->fe_rec_size - 4, sizeof(id));
		fn(arg, key, id);
	}
	*next_id = c->next_id;
	return 0;
}

uint32_t kdp_flowstore_fe_save(struct kdp_flowstore *fs, const struct kdp_flowstore_fe *recs,
			       uint32_t n, uint32_t next_id)
{
	unsigned int cur = fs->hdr->fe_active & 1;
	struct fe_copy *c = fe_copy(fs, cur ^ 1);
	uint32_t keep = RTE_MIN(n, fs->hdr->geom.fe_cap);

	c->count = keep;
	c->next_id = next_id;
	c->gen = fe_copy(fs, cur)->gen + 1;
	memcpy(c->rec, recs, sizeof(*recs) * keep);
	c->crc = fe_crc(c, fs->fe_rec_size);
	/* The copy is whole before it becomes the current one. */
	__atomic_store_n(&fs->hdr->fe_active, cur ^ 1, __ATOMIC_RELEASE);
	return n - keep;
}

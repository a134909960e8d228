/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The flow state file: the tables that must outlive a kdp process
 * (conntrack entries, which also hold every SNAT port in use, the ClientIP
 * affinity pins, and the frontend ids both refer to) in one file-backed
 * shared mapping, normally on tmpfs (/dev/shm). Workers write the entries
 * in place; a kdp that starts after a crash, or takes over from a running
 * one, maps the same file and finds them.
 *
 * Layout: a header page (magic, layout version, the table sizes, the boot
 * it was made in, section offsets, CRC32-C of all that), then the sections,
 * page-aligned: conntrack slots, affinity slots, IPv6 conntrack slots, IPv6
 * affinity slots (empty without IPv6), and the frontend-id map (IPv4 and
 * IPv6 frontends) twice (written alternately, each with its own CRC, so a kdp killed while
 * writing one leaves the other). The sections' contents belong to their
 * libraries (lib/ct, lib/svc); this one only places and checks them.
 *
 * A file that cannot be used is never half-used: a bad magic, header CRC,
 * layout version, entry size, file size or boot id means the file is
 * refused (renamed to <file>.rejected) and fresh tables made, with one line
 * saying why. A file of the same layout but other table sizes (maxFlows
 * changed), or of layout 1 (IPv4 tables only, frontend keys of 28 bytes),
 * is imported into a fresh file. The file is locked (flock) while
 * a kdp uses it.
 *
 * Control thread only (open, lock, frontend map); the sections themselves
 * are shared with the workers by their libraries.
 */
#ifndef KDP_FLOWSTORE_H
#define KDP_FLOWSTORE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Layout version: bumped whenever a section's format changes (2: IPv6
 *  sections, frontend keys of 60 bytes). */
#define KDP_FLOWSTORE_VERSION 2
#define KDP_FLOWSTORE_MAGIC "KDPFLOWS"
#define KDP_FLOWSTORE_MSG_LEN 320
/** Frontend keys ("10.96.0.10:53/UDP", "[fd00:10:96::a]:53/UDP") fit in
 *  this, with their NUL. */
#define KDP_FLOWSTORE_FE_KEY_LEN 60

/** The table sizes of a flow state file. */
struct kdp_flowstore_geom {
	uint32_t ct_slots;      /**< conntrack entry slots */
	uint32_t ct_slot_size;  /**< bytes per conntrack entry */
	uint32_t aff_slots;     /**< affinity slots */
	uint32_t aff_slot_size; /**< bytes per affinity slot */
	uint32_t fe_cap;        /**< frontend ids it can keep */
	uint32_t ct6_slots;     /**< IPv6 conntrack entry slots (0: no IPv6) */
	uint32_t ct6_slot_size; /**< bytes per IPv6 conntrack entry */
	uint32_t aff6_slots;    /**< IPv6 affinity slots */
	uint32_t aff6_slot_size;/**< bytes per IPv6 affinity slot */
};

/** The header page. */
struct kdp_flowstore_hdr {
	char magic[8];          /**< KDP_FLOWSTORE_MAGIC */
	uint32_t version;       /**< KDP_FLOWSTORE_VERSION */
	uint32_t hdr_size;      /**< sizeof(struct kdp_flowstore_hdr) */
	uint64_t file_size;
	char boot_id[40];       /**< /proc/sys/kernel/random/boot_id when made */
	struct kdp_flowstore_geom geom;
	uint32_t aff_seed;      /**< hash seed of the affinity table */
	uint64_t ct_off;
	uint64_t aff_off;
	uint64_t ct6_off;
	uint64_t aff6_off;
	uint64_t fe_off;        /**< first frontend-map copy; the second follows */
	uint64_t fe_size;       /**< bytes per copy */
	uint64_t created_unix;
	uint32_t crc;           /**< CRC32-C of everything above */
	/* Not covered by crc: written while the file is in use. */
	uint32_t owner_pid;     /**< the kdp using it (informative) */
	uint32_t fe_active;     /**< which frontend-map copy is current (0, 1) */
	uint32_t pad;
};

/** One frontend id: "addr:port/PROTO" and its id. */
struct kdp_flowstore_fe {
	char key[KDP_FLOWSTORE_FE_KEY_LEN];
	uint32_t id;
};

/** How the tables of an opened store came to be. */
enum kdp_flowstore_origin {
	KDP_FLOWSTORE_MEMORY,  /**< no file configured: this process only */
	KDP_FLOWSTORE_NEW,     /**< no file yet: fresh tables */
	KDP_FLOWSTORE_REUSED,  /**< the file's tables, as they were left */
	KDP_FLOWSTORE_RESIZED, /**< other table sizes: a fresh file, ->src to import from */
	KDP_FLOWSTORE_REFUSED, /**< damaged or another layout: fresh tables (msg says why) */
};

struct kdp_flowstore {
	char path[PATH_MAX];
	int fd;                        /**< -1 in memory */
	bool locked;                   /**< holds the file's flock */
	void *base;
	size_t len;
	struct kdp_flowstore_hdr *hdr;
	void *ct;                      /**< conntrack slots (geom.ct_slots) */
	void *aff;                     /**< affinity slots (geom.aff_slots) */
	void *ct6;                     /**< IPv6 conntrack slots (geom.ct6_slots) */
	void *aff6;                    /**< IPv6 affinity slots (geom.aff6_slots) */
	enum kdp_flowstore_origin origin;
	struct kdp_flowstore *src;     /**< RESIZED: the old file, to import from */
	char tmp_path[PATH_MAX + 16];  /**< RESIZED: the new file until committed */
	uint32_t fe_rec_size;          /**< bytes per frontend record (layout 1: 32) */
	bool touch;                    /**< KDP_FLOWSTORE_TOUCH was given */
	struct kdp_flowstore_hdr *v1;  /**< layout 1: its header in this layout (hdr) */
	char msg[KDP_FLOWSTORE_MSG_LEN]; /**< what happened, as one log line */
};

/* kdp_flowstore_open() flags. */
/** Another kdp holds the file: a hand-over. Do not take its lock (take it
 *  later with kdp_flowstore_lock()). */
#define KDP_FLOWSTORE_SHARED 0x1
/** Fail with -EPROTO (msg says why) instead of refusing an unusable file:
 *  the caller decides (a hand-over stops rather than lose every flow). */
#define KDP_FLOWSTORE_NO_REFUSE 0x2
/** Write every page of a fresh store's tables once (prefaultMemory): the
 *  kernel's page tables are filled either way, but a hypervisor's tables of
 *  a guest's pages fill only on access, at a worker's first write. */
#define KDP_FLOWSTORE_TOUCH 0x4

/**
 * Opens the flow state file @p path (created when missing) for tables of
 * geometry @p g, or process memory when @p path is "". Sections of a fresh
 * store are zero. *@p out gets the store; its origin and msg say what was
 * found.
 * @return 0; -EBUSY when another kdp holds the file (without
 * KDP_FLOWSTORE_SHARED; after waiting 3 s for a dying one); -EPROTO (KDP_FLOWSTORE_NO_REFUSE) when it would be
 * refused; -errno when the file cannot be made. @p err says why.
 */
int kdp_flowstore_open(const char *path, const struct kdp_flowstore_geom *g,
		       unsigned int flags, struct kdp_flowstore **out, char *err);

/**
 * Finishes a RESIZED open once the old tables are imported: the new file
 * replaces the old one, which is unmapped. No-op otherwise.
 * @return 0 or -errno.
 */
int kdp_flowstore_commit(struct kdp_flowstore *fs);

/** Takes the file's lock, waiting up to @p timeout_ms (the previous kdp
 *  exiting). @return 0, or -ETIMEDOUT / -errno. */
int kdp_flowstore_lock(struct kdp_flowstore *fs, unsigned int timeout_ms);

/** Unmaps the store; the file stays (it is the point). */
void kdp_flowstore_close(struct kdp_flowstore *fs);

/** Bytes of memory the store maps. */
size_t kdp_flowstore_bytes(const struct kdp_flowstore *fs);

/**
 * Calls @p fn with each saved frontend id (of the current copy of the map);
 * *@p next_id gets the last id handed out. @return 0, or -EBADMSG when
 * neither copy is intact.
 */
int kdp_flowstore_fe_load(const struct kdp_flowstore *fs,
			  void (*fn)(void *arg, const char *key, uint32_t id), void *arg,
			  uint32_t *next_id);

/**
 * Saves the frontend-id map (@p n records, at most geom.fe_cap are kept;
 * @return how many were not) into the copy not in use, then makes it the
 * current one.
 */
uint32_t kdp_flowstore_fe_save(struct kdp_flowstore *fs, const struct kdp_flowstore_fe *recs,
			       uint32_t n, uint32_t next_id);

/** The geometry a file of @p g takes, laid out: section offsets and size. */
void kdp_flowstore_layout(const struct kdp_flowstore_geom *g, struct kdp_flowstore_hdr *h);

/** CRC32-C of the header fields the crc covers. */
uint32_t kdp_flowstore_hdr_crc(const struct kdp_flowstore_hdr *h);

#endif

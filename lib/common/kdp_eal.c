/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <limits.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <rte_memory.h>

#include "kdp_eal.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

struct prefault {
	const volatile bool *stop;
	long long bytes;
};

static int prefault_run(const struct rte_memseg_list *msl, const struct rte_memseg *ms,
			size_t len, void *arg)
{
	struct prefault *p = arg;
	size_t pg = msl->page_sz;

	if (msl->external)
		return 0;
	/* The kernel's page tables first (ENOMEM, EINVAL before 5.14: the
	 * writes below do it), then one write per page, an atomic add of
	 * zero, for the tables a hypervisor keeps of a guest's pages, which
	 * only an access fills. */
	(void)madvise(ms->addr, len, MADV_POPULATE_WRITE);
	for (size_t o = 0; o < len; o += pg) {
		if ((o / pg) % 256 == 0 && p->stop != NULL && *p->stop)
			return 1;
		__atomic_fetch_add((uint64_t *)((char *)ms->addr + o), 0, __ATOMIC_RELAXED);
		p->bytes += (long long)pg;
	}
	return 0;
}

long long kdp_eal_prefault(const volatile bool *stop)
{
	struct prefault p = {stop, 0};

	rte_memseg_contig_walk(prefault_run, &p);
	return p.bytes;
}

void kdp_eal_remove_runtime_dir(const char *dir)
{
	DIR *d;
	struct dirent *e;

	if (dir == NULL || dir[0] == '\0' || (d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX];

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

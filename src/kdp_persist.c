/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The desired state on disk: a base file holding a whole state, written
 * atomically (kdp_file_save_atomic), and a journal next to it
 * (<stateFile>.journal) of the object updates made since, one JSON line
 * each, appended and fdatasync'ed before the update is published. An
 * update then costs one small append instead of rewriting the whole state.
 *
 * Base:    {"journalGeneration": G, "state": {...}}  (a plain state object,
 *          as older kdp wrote, is generation 0)
 * Journal: {"journalGeneration": G}\n then one update per line.
 *
 * A journal counts only when its generation is the base's: a new base is
 * written first, then the journal is reset to the new generation, so a
 * crash in between leaves a journal that is ignored (its updates are all in
 * the new base). A line without its newline or that does not parse (a crash
 * during the append) ends the journal; that update was never answered.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <rte_log.h>

#include "kdp.h"
#include "kdp_json.h"

/* Compaction: a new base once the journal holds this much. */
#define JOURNAL_MAX_BYTES (8u << 20)
#define JOURNAL_MAX_OPS 20000

static void journal_path(const struct kdp *k, char *buf, size_t len)
{
	snprintf(buf, len, "%s.journal", k->cfg.state_path);
}

static int write_all(int fd, const struct iovec *iov, int n)
{
	struct iovec v[4];
	int i = 0;

	memcpy(v, iov, sizeof(*iov) * (size_t)n);
	while (i < n) {
		ssize_t w = writev(fd, &v[i], n - i);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (i < n && (size_t)w >= v[i].iov_len)
			w -= (ssize_t)v[i++].iov_len;
		if (i < n) {
			v[i].iov_base = (char *)v[i].iov_base + w;
			v[i].iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Empties the journal and starts it at the current generation. */
static int journal_reset(struct kdp *k)
{
	char path[PATH_MAX + 16], head[64];
	struct iovec v;
	int n, ret;

	k->journal.ok = false;
	if (k->journal.fd < 0) {
		journal_path(k, path, sizeof(path));
		k->journal.fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (k->journal.fd < 0)
			return -errno;
	}
	n = snprintf(head, sizeof(head), "{\"journalGeneration\": %" PRIu64 "}\n",
		     k->journal.gen);
	v.iov_base = head;
	v.iov_len = (size_t)n;
	if (ftruncate(k->journal.fd, 0) != 0)
		return -errno;
	if ((ret = write_all(k->journal.fd, &v, 1)) != 0)
		return ret;
	if (fdatasync(k->journal.fd) != 0)
		return -errno;
	k->journal.bytes = (uint64_t)n;
	k->journal.ops = 0;
	k->journal.ok = true;
	return 0;
}

int kdp_persist_base(struct kdp *k, const char *state, size_t len)
{
	char head[64];
	int n = snprintf(head, sizeof(head), "{\"journalGeneration\": %" PRIu64 ", \"state\": ",
			 k->journal.gen + 1);
	char *buf = malloc((size_t)n + len + 3);
	int ret;

	if (buf == NULL)
		return -ENOMEM;
	memcpy(buf, head, (size_t)n);
	memcpy(buf + n, state, len);
	memcpy(buf + (size_t)n + len, "}\n", 2);
	ret = kdp_file_save_atomic(buf, (size_t)n + len + 2, k->cfg.state_path);
	free(buf);
	if (ret != 0)
		return ret;
	k->journal.gen++;
	ret = journal_reset(k);
	if (ret != 0)
		/* The new base holds everything; updates write whole bases
		 * until a reset works (journal_ok stays false). */
		RTE_LOG(WARNING, USER1, "state journal: %s; writing whole states\n",
			strerror(-ret));
	return 0;
}

int kdp_persist_state(struct kdp *k, const struct kdp_state *st)
{
	json_t *doc = kdp_state_json(st);
	char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	int ret = text ? kdp_persist_base(k, text, strlen(text)) : -ENOMEM;

	free(text);
	json_decref(doc);
	return ret;
}

int kdp_persist_op(struct kdp *k, const char *line, size_t len)
{
	struct iovec v[2] = {{(void *)(uintptr_t)line, len}, {(void *)"\n", 1}};
	int ret;

	if (!k->journal.ok)
		return -EAGAIN;
	if (kdp_test_crash_in_save) {
		/* Test hook (tests/func/test_crash_save.py): die half-way. */
		v[0].iov_len = len / 2;
		write_all(k->journal.fd, v, 1);
		raise(SIGKILL);
	}
	ret = write_all(k->journal.fd, v, 2);
	if (ret == 0 && fdatasync(k->journal.fd) != 0)
		ret = -errno;
	if (ret != 0) {
		/* Take back what may have been written: the update fails. */
		if (ftruncate(k->journal.fd, (off_t)k->journal.bytes) != 0)
			k->journal.ok = false;
		return ret;
	}
	k->journal.bytes += len + 1;
	k->journal.ops++;
	return 0;
}

bool kdp_persist_compaction_due(const struct kdp *k)
{
	return k->journal.ok &&
	       (k->journal.bytes > JOURNAL_MAX_BYTES || k->journal.ops >= JOURNAL_MAX_OPS);
}

/* The journal's updates for generation @p gen, in order (complete lines);
 * *clean: the journal is that generation's and ends with a whole line. */
static json_t *journal_read(const struct kdp *k, uint64_t gen, bool *clean)
{
	char path[PATH_MAX + 16];
	json_t *ops = json_array();
	struct stat sb;
	char *text = NULL, *p, *nl;
	FILE *f;

	*clean = false;
	journal_path(k, path, sizeof(path));
	f = fopen(path, "r");
	if (f == NULL || ops == NULL || fstat(fileno(f), &sb) != 0 || sb.st_size == 0)
		goto out;
	text = malloc((size_t)sb.st_size + 1);
	if (text == NULL || fread(text, 1, (size_t)sb.st_size, f) != (size_t)sb.st_size)
		goto out;
	text[sb.st_size] = '\0';
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		json_t *j = json_loadb(p, (size_t)(nl - p), 0, NULL);

		if (j == NULL) {
			RTE_LOG(WARNING, USER1, "state journal %s: a line that does not parse ends it\n",
				path);
			break;
		}
		if (p == text) {
			json_t *g = json_object_get(j, "journalGeneration");
			bool mine = json_is_integer(g) && (uint64_t)json_integer_value(g) == gen;

			json_decref(j);
			if (!mine)
				break;
			continue;
		}
		json_array_append_new(ops, j);
	}
	if (nl == NULL && *p != '\0')
		RTE_LOG(WARNING, USER1, "state journal %s: an unfinished last line is ignored\n",
			path);
	*clean = nl == NULL && *p == '\0' && p != text;
out:
	if (f != NULL)
		fclose(f);
	free(text);
	return ops;
}

/* Opens an existing, clean journal for appending. */
static void journal_reopen(struct kdp *k)
{
	char path[PATH_MAX + 16];
	struct stat sb;

	journal_path(k, path, sizeof(path));
	k->journal.fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (k->journal.fd < 0 || fstat(k->journal.fd, &sb) != 0)
		return;
	k->journal.bytes = (uint64_t)sb.st_size;
	k->journal.ops = 0;
	k->journal.ok = true;
}

int kdp_persist_load(struct kdp *k, json_t **state, json_t **ops, char *err)
{
	bool clean;
	json_error_t je;
	json_t *root, *g, *st;

	*state = *ops = NULL;
	if (access(k->cfg.state_path, F_OK) != 0)
		return 0;
	root = json_load_file(k->cfg.state_path, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		snprintf(err, KDP_ERR_LEN, "state file %s: line %d: %s",
			 k->cfg.state_path, je.line, je.text);
		return -EINVAL;
	}
	g = json_object_get(root, "journalGeneration");
	st = json_object_get(root, "state");
	if (json_is_integer(g) && json_is_object(st)) {
		k->journal.gen = (uint64_t)json_integer_value(g);
		*state = json_incref(st);
		json_decref(root);
	} else {
		k->journal.gen = 0;
		*state = root;
	}
	*ops = journal_read(k, k->journal.gen, &clean);
	if (*ops == NULL)
		return -ENOMEM;
	if (clean && json_array_size(*ops) == 0)
		journal_reopen(k); /* nothing to fold: keep appending to it */
	return 0;
}

void kdp_persist_close(struct kdp *k)
{
	if (k->journal.fd >= 0)
		close(k->journal.fd);
	k->journal.fd = -1;
	k->journal.ok = false;
}

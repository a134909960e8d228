/* kdpctl: memory and growable buffers. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdpctl.h"

void kdpctl_oom(void)
{
	fputs("kdpctl: out of memory\n", stderr);
	exit(KDPCTL_EXIT_BAD_ANSWER);
}

void *kdpctl_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		kdpctl_oom();
	return p;
}

char *kdpctl_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(kdpctl_xrealloc(NULL, n), s, n);
}

/* Makes room for extra more bytes plus a terminating NUL. */
void kdpctl_buf_reserve(struct kdpctl_buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 256;

	if (b->cap > b->len && b->cap - b->len > extra)
		return;
	while (cap - b->len <= extra) {
		if (cap > SIZE_MAX / 2)
			kdpctl_oom();
		cap *= 2;
	}
	b->data = kdpctl_xrealloc(b->data, cap);
	b->cap = cap;
}

void kdpctl_buf_append(struct kdpctl_buf *b, const void *p, size_t n)
{
	kdpctl_buf_reserve(b, n);
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void kdpctl_buf_puts(struct kdpctl_buf *b, const char *s)
{
	kdpctl_buf_append(b, s, strlen(s));
}

void kdpctl_buf_printf(struct kdpctl_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	kdpctl_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* Hands the (NUL-terminated) contents to the caller and empties b. */
char *kdpctl_buf_take(struct kdpctl_buf *b)
{
	char *s;

	kdpctl_buf_reserve(b, 0);
	b->data[b->len] = '\0';
	s = b->data;
	*b = (struct kdpctl_buf){ 0 };
	return s;
}

/* Reads a whole file, or standard input for "-". Prints why on failure. */
int kdpctl_read_file(const char *path, struct kdpctl_buf *out)
{
	bool is_stdin = strcmp(path, "-") == 0;
	FILE *f = is_stdin ? stdin : fopen(path, "rb");
	char chunk[16384];
	size_t n;
	int failed, err;

	if (f == NULL) {
		fprintf(stderr, "kdpctl: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		kdpctl_buf_append(out, chunk, n);
	err = errno;
	failed = ferror(f);
	if (!is_stdin)
		fclose(f);
	if (failed) {
		fprintf(stderr, "kdpctl: cannot read %s: %s\n",
			is_stdin ? "standard input" : path, strerror(err));
		return -1;
	}
	return 0;
}


/*
 * kdpctl: formatting. JSON values as table cells, aligned tables (headers in
 * capitals, columns 3 spaces apart, "-" for an empty cell) and JSON output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdpctl.h"

json_t *kdpctl_json_path(json_t *v, const char *path)
{
	char key[64];

	if (path == NULL)
		return v;
	while (v != NULL && *path != '\0') {
		size_t n = strcspn(path, ".");

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (json_is_array(v) && n > 0 && strspn(key, "0123456789") == n)
			v = json_array_get(v, (size_t)strtoul(key, NULL, 10));
		else
			v = json_object_get(v, key);
		path += n + (path[n] == '.');
	}
	return v;
}

static void kdpctl_format_duration(struct kdpctl_buf *b, long long s)
{
	long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;

	if (s < 0)
		return; /* shown as "-" */
	if (d > 0)
		kdpctl_buf_printf(b, "%lldd%lldh%lldm%llds", d, h, m, sec);
	else if (h > 0)
		kdpctl_buf_printf(b, "%lldh%lldm%llds", h, m, sec);
	else if (m > 0)
		kdpctl_buf_printf(b, "%lldm%llds", m, sec);
	else
		kdpctl_buf_printf(b, "%llds", sec);
}

static int kdpctl_strcmp_p(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Object as k=v pairs sorted by key, joined with ','. */
static void kdpctl_format_object(struct kdpctl_buf *b, json_t *obj)
{
	size_t n = json_object_size(obj), i = 0;
	const char **keys = kdpctl_xrealloc(NULL, n * sizeof(*keys));
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val)
		keys[i++] = key;
	qsort(keys, n, sizeof(*keys), kdpctl_strcmp_p);
	for (i = 0; i < n; i++) {
		kdpctl_buf_printf(b, "%s%s=", i ? "," : "", keys[i]);
		kdpctl_format_json(b, json_object_get(obj, keys[i]), KDPCTL_FMT_PLAIN);
	}
	free(keys);
}

void kdpctl_format_json(struct kdpctl_buf *b, json_t *v, enum kdpctl_fmt fmt)
{
	size_t i;
	json_t *e;

	if (v == NULL)
		return;
	switch (json_typeof(v)) {
	case JSON_STRING:
		kdpctl_buf_puts(b, json_string_value(v));
		break;
	case JSON_INTEGER:
	case JSON_REAL:
		if (fmt == KDPCTL_FMT_DURATION)
			kdpctl_format_duration(b, (long long)json_number_value(v));
		else if (fmt == KDPCTL_FMT_PERCENT)
			kdpctl_buf_printf(b, "%.1f", json_number_value(v) * 100.0);
		else if (fmt == KDPCTL_FMT_ID && json_number_value(v) == 0)
			break;
		else if (json_is_integer(v))
			kdpctl_buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		else
			kdpctl_buf_printf(b, "%g", json_real_value(v));
		break;
	case JSON_TRUE:
		kdpctl_buf_puts(b, "yes");
		break;
	case JSON_FALSE:
		kdpctl_buf_puts(b, "no");
		break;
	case JSON_NULL:
		break;
	case JSON_ARRAY:
		json_array_foreach(v, i, e) {
			if (i > 0)
				kdpctl_buf_puts(b, ",");
			kdpctl_format_json(b, e, KDPCTL_FMT_PLAIN);
		}
		break;
	case JSON_OBJECT:
		if (fmt == KDPCTL_FMT_NSNAME) {
			const char *ns = json_string_value(json_object_get(v, "namespace"));
			const char *name = json_string_value(json_object_get(v, "name"));

			if (name != NULL)
				kdpctl_buf_printf(b, "%s%s%s", ns ? ns : "", ns ? "/" : "", name);
		} else {
			kdpctl_format_object(b, v);
		}
		break;
	}
}

void kdpctl_buf_value(struct kdpctl_buf *b, json_t *v)
{
	size_t len = b->len;

	kdpctl_format_json(b, v, KDPCTL_FMT_PLAIN);
	if (b->len == len)
		kdpctl_buf_puts(b, "-");
}

static void kdpctl_table_push(struct kdpctl_table *t, char *s, bool span)
{
	if (t->ncells == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 32;
		t->cells = kdpctl_xrealloc(t->cells, t->cap * sizeof(*t->cells));
		t->span = kdpctl_xrealloc(t->span, t->cap * sizeof(*t->span));
	}
	t->span[t->ncells] = span;
	t->cells[t->ncells++] = s;
}

void kdpctl_table_add_owned(struct kdpctl_table *t, char *s)
{
	if (*s == '\0') {
		free(s);
		s = kdpctl_xstrdup("-");
	}
	kdpctl_table_push(t, s, false);
}

void kdpctl_table_add_blank(struct kdpctl_table *t)
{
	kdpctl_table_push(t, kdpctl_xstrdup(""), false);
}

void kdpctl_table_add_span(struct kdpctl_table *t, char *s)
{
	kdpctl_table_push(t, s, true);
}

void kdpctl_table_add(struct kdpctl_table *t, const char *s)
{
	kdpctl_table_add_owned(t, kdpctl_xstrdup(s ? s : ""));
}

void kdpctl_table_add_json(struct kdpctl_table *t, json_t *v, enum kdpctl_fmt fmt)
{
	struct kdpctl_buf b = { 0 };

	kdpctl_format_json(&b, v, fmt);
	kdpctl_table_add_owned(t, kdpctl_buf_take(&b));
}

/* Terminal columns taken by a UTF-8 string (one per code point). */
static size_t kdpctl_display_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

void kdpctl_table_print(const struct kdpctl_table *t)
{
	size_t *width = kdpctl_xrealloc(NULL, t->ncols * sizeof(*width));
	size_t nrows = t->ncells / t->ncols;

	memset(width, 0, t->ncols * sizeof(*width));
	for (size_t i = 0; i < nrows * t->ncols; i++) {
		size_t w = t->span[i] ? 0 : kdpctl_display_width(t->cells[i]);

		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	for (size_t r = 0; r < nrows; r++) {
		char *const *row = t->cells + r * t->ncols;
		size_t last = t->ncols - 1;

		while (last > 0 && row[last][0] == '\0') /* blank cells at the end */
			last--;
		for (size_t c = 0; c <= last; c++) {
			size_t w = kdpctl_display_width(row[c]);

			fputs(row[c], stdout);
			if (c < last) /* a span cell can be wider than its column */
				printf("%*s", (int)(width[c] > w ? width[c] - w + 3 : 3), "");
		}
		putchar('\n');
	}
	free(width);
}

void kdpctl_table_free(struct kdpctl_table *t)
{
	for (size_t i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t->span);
	t->cells = NULL;
	t->span = NULL;
	t->ncells = t->cap = 0;
}

/* True when some row has a non-null value at @p key. */
static bool any_row_has(json_t *rows, const char *key)
{
	size_t i;
	json_t *row, *v;

	json_array_foreach(rows, i, row)
		if ((v = kdpctl_json_path(row, key)) != NULL && !json_is_null(v))
			return true;
	return false;
}

void kdpctl_print_rows(json_t *rows, const struct kdpctl_column *cols, size_t ncols, bool wide)
{
	struct kdpctl_table t = { 0 };
	bool show[64];
	size_t i, c;
	json_t *row;

	for (c = 0; c < ncols && c < 64; c++)
		show[c] = (wide || !cols[c].wide) && (!cols[c].if_any || any_row_has(rows, cols[c].key));
	for (c = 0; c < ncols; c++)
		if (show[c]) {
			kdpctl_table_add(&t, cols[c].header);
			t.ncols++;
		}
	json_array_foreach(rows, i, row)
		for (c = 0; c < ncols; c++)
			if (show[c])
				kdpctl_table_add_json(&t, kdpctl_json_path(row, cols[c].key),
						      cols[c].fmt);
	kdpctl_table_print(&t);
	kdpctl_table_free(&t);
}

void kdpctl_add_fields(struct kdpctl_table *t, json_t *obj, const struct kdpctl_column *fields,
		       size_t n)
{
	for (size_t i = 0; i < n; i++) {
		kdpctl_table_add(t, fields[i].header);
		kdpctl_table_add_json(t, kdpctl_json_path(obj, fields[i].key), fields[i].fmt);
	}
}

void kdpctl_add_items(struct kdpctl_table *t, const char *key, json_t *items,
		      kdpctl_item_fn *format)
{
	size_t i;
	json_t *item;

	if (json_array_size(items) == 0) {
		kdpctl_table_add(t, key);
		kdpctl_table_add(t, "");
	}
	json_array_foreach(items, i, item) {
		struct kdpctl_buf b = { 0 };

		if (i == 0)
			kdpctl_table_add(t, key);
		else
			kdpctl_table_add_blank(t);
		format(&b, item);
		kdpctl_table_add_owned(t, kdpctl_buf_take(&b));
	}
}

void kdpctl_print_json(json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);

	if (s != NULL)
		puts(s);
	free(s);
}


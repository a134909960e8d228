/*
 * kdpctl: the metrics listing. GET /metrics answers in the Prometheus text
 * format; each sample becomes a row {"name", "type", "help", "labels",
 * "value"} printed as a NAME / LABELS / VALUE table or as JSON.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kdpctl.h"

/* What the # HELP and # TYPE lines said about each metric family. */
struct kdpctl_families {
	json_t *type; /* name -> "counter", "gauge", "histogram", ... */
	json_t *help; /* name -> text */
};

static bool kdpctl_metric_name_char(char c, bool first)
{
	return isalpha((unsigned char)c) || c == '_' || c == ':' ||
	       (!first && isdigit((unsigned char)c));
}

/* Reads a metric or label name at *p into out (NUL-terminated); false if none. */
static bool kdpctl_metric_name(const char **p, struct kdpctl_buf *out)
{
	const char *s = *p;

	while (kdpctl_metric_name_char(*s, s == *p))
		s++;
	if (s == *p)
		return false;
	kdpctl_buf_append(out, *p, (size_t)(s - *p));
	*p = s;
	return true;
}

/* Reads {name="value",...} at *p into labels; false if malformed. */
static bool kdpctl_metric_labels(const char **p, json_t *labels)
{
	const char *s = *p + 1;

	while (*s != '}') {
		struct kdpctl_buf name = { 0 }, val = { 0 };
		bool ok = kdpctl_metric_name(&s, &name) && s[0] == '=' && s[1] == '"';

		for (s += 2; ok && *s != '"'; s++) {
			if (*s == '\0') {
				ok = false;
				break;
			}
			if (*s == '\\' && s[1] != '\0') {
				s++;
				kdpctl_buf_append(&val, *s == 'n' ? "\n" : s, 1);
			} else {
				kdpctl_buf_append(&val, s, 1);
			}
		}
		if (ok) {
			s++; /* the closing quote */
			json_object_set_new(labels, name.data, json_string(val.data ? val.data : ""));
		}
		free(name.data);
		free(val.data);
		if (!ok)
			return false;
		if (*s == ',')
			s++;
		else if (*s != '}')
			return false;
	}
	*p = s + 1;
	return true;
}

/* The sample's value as JSON: an integer, a real, or "NaN"/"+Inf"/"-Inf". */
static json_t *kdpctl_metric_value(const char *s, size_t n)
{
	char tok[64], *end;
	double d;
	long long ll;

	if (n == 0 || n >= sizeof(tok))
		return NULL;
	memcpy(tok, s, n);
	tok[n] = '\0';
	errno = 0;
	ll = strtoll(tok, &end, 10);
	if (*end == '\0' && errno == 0)
		return json_integer(ll);
	d = strtod(tok, &end);
	if (*end != '\0')
		return NULL;
	return isfinite(d) ? json_real(d) : json_string(tok);
}

/* The family of a sample: name_bucket/_count/_sum belong to a histogram or summary. */
static const char *kdpctl_metric_family(const struct kdpctl_families *f, const char *name,
					struct kdpctl_buf *tmp)
{
	static const char *const suffixes[] = { "_bucket", "_count", "_sum" };
	size_t n = strlen(name);

	if (json_object_get(f->type, name) != NULL)
		return name;
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		size_t m = strlen(suffixes[i]);

		if (n > m && strcmp(name + n - m, suffixes[i]) == 0) {
			tmp->len = 0;
			kdpctl_buf_append(tmp, name, n - m);
			if (json_object_get(f->type, tmp->data) != NULL)
				return tmp->data;
		}
	}
	return name;
}

/* "# HELP name text" and "# TYPE name type"; other comments are ignored. */
static void kdpctl_metric_comment(struct kdpctl_families *f, const char *line)
{
	struct kdpctl_buf name = { 0 };
	json_t *into = NULL;
	const char *s = line + 1;

	while (*s == ' ')
		s++;
	if (strncmp(s, "HELP ", 5) == 0)
		into = f->help;
	else if (strncmp(s, "TYPE ", 5) == 0)
		into = f->type;
	if (into == NULL)
		return;
	s += 5;
	if (kdpctl_metric_name(&s, &name)) {
		while (*s == ' ')
			s++;
		json_object_set_new(into, name.data, json_string(s));
	}
	free(name.data);
}

/* One sample line into a row; NULL if it is not one. */
static json_t *kdpctl_metric_sample(const struct kdpctl_families *f, const char *line)
{
	struct kdpctl_buf name = { 0 }, tmp = { 0 };
	json_t *labels = json_object(), *value = NULL, *row = NULL;
	const char *s = line, *family;

	if (!kdpctl_metric_name(&s, &name) || (*s == '{' && !kdpctl_metric_labels(&s, labels)) ||
	    *s != ' ')
		goto out;
	while (*s == ' ')
		s++;
	value = kdpctl_metric_value(s, strcspn(s, " ")); /* a timestamp may follow */
	if (value == NULL)
		goto out;
	family = kdpctl_metric_family(f, name.data, &tmp);
	row = json_pack("{s:s, s:O?, s:O?, s:O, s:O}", "name", name.data, "type",
			json_object_get(f->type, family), "help", json_object_get(f->help, family),
			"labels", labels, "value", value);
out:
	json_decref(labels);
	json_decref(value);
	free(name.data);
	free(tmp.data);
	return row;
}

/* The samples of a Prometheus text body whose name contains filter (may be NULL). */
static json_t *kdpctl_metrics_parse(char *text, const char *filter, int *bad_line)
{
	struct kdpctl_families f = { json_object(), json_object() };
	json_t *rows = json_array();
	char *line = text, *next;
	int lineno = 0;

	*bad_line = 0;
	for (; line != NULL && *bad_line == 0; line = next) {
		json_t *row;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		lineno++;
		if (line[0] == '\0')
			continue;
		if (line[0] == '#') {
			kdpctl_metric_comment(&f, line);
			continue;
		}
		row = kdpctl_metric_sample(&f, line);
		if (row == NULL)
			*bad_line = lineno;
		else if (filter == NULL ||
			 strstr(json_string_value(json_object_get(row, "name")), filter) != NULL)
			json_array_append(rows, row);
		json_decref(row);
	}
	json_decref(f.type);
	json_decref(f.help);
	return rows;
}

int cmd_metrics(const struct kdpctl_opts *o)
{
	static const struct kdpctl_column cols[] = {
		{ "NAME", "name", KDPCTL_FMT_PLAIN },
		{ "TYPE", "type", KDPCTL_FMT_PLAIN, true },
		{ "LABELS", "labels", KDPCTL_FMT_PLAIN },
		{ "VALUE", "value", KDPCTL_FMT_PLAIN },
	};
	struct kdpctl_response resp;
	json_t *rows;
	int bad_line, rc = kdpctl_call(o, "GET", "/metrics", NULL, 0, &resp);

	if (rc != KDPCTL_EXIT_OK)
		return rc;
	rows = kdpctl_metrics_parse(resp.body, o->nargs > 0 ? o->args[0] : NULL, &bad_line);
	kdpctl_response_free(&resp);
	if (bad_line != 0) {
		fprintf(stderr, "kdpctl: unexpected answer from kdp at %s to GET /metrics: "
			"line %d is not in the Prometheus text format\n", o->socket, bad_line);
		rc = KDPCTL_EXIT_BAD_ANSWER;
	} else if (o->json) {
		kdpctl_print_json(rows);
	} else {
		kdpctl_print_rows(rows, cols, ARRAY_SIZE(cols), o->wide);
	}
	json_decref(rows);
	return rc;
}

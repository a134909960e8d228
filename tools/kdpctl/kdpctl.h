/*
 * kdpctl - command-line client for the kdp control API (DESIGN.md section 4).
 *
 * The parts, one file each:
 *   kdpctl.c          the command table, options, help and main()
 *   kdpctl_buf.c      memory and growable buffers
 *   kdpctl_http.c     HTTP/1.1 over the daemon's Unix socket, and the API
 *                     requests the commands make (GET, PUT, DELETE, errors)
 *   kdpctl_fmt.c      formatting: JSON values as text, aligned tables, JSON
 *   kdpctl_list.c     status, node, endpoint, route, neigh and stats listings
 *   kdpctl_svc.c      service, lrp and ipmasq listings
 *   kdpctl_flows.c    ct and nat listings
 *   kdpctl_metrics.c  the metrics listing (Prometheus text read as a table)
 *   kdpctl_change.c   commands that change the state (put, delete, apply, raw)
 *   kdpctl_upgrade.c  upgrade: a new kdp takes over from the running one
 * Commands get the parsed options and print through kdpctl_fmt.c; none of
 * them speaks HTTP or formats a cell by hand.
 */
#ifndef KDPCTL_H
#define KDPCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

#include <jansson.h>

#define KDPCTL_DEFAULT_SOCKET "/run/kdp/kdp.sock"
#define KDPCTL_TIMEOUT_SEC 60 /* per send/recv; a healthy daemon answers in ms */

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Exit status of kdpctl (also in kdpctl --help and the README). */
enum kdpctl_exit {
	KDPCTL_EXIT_OK = 0,
	KDPCTL_EXIT_API = 1,	     /* the daemon refused the request (its message on stderr) */
	KDPCTL_EXIT_USAGE = 2,	     /* bad command line, or an unreadable or invalid -f FILE */
	KDPCTL_EXIT_UNREACHABLE = 3, /* cannot connect to the control socket */
	KDPCTL_EXIT_BAD_ANSWER = 4,  /* connected, but no usable answer (timeout, not HTTP,
				      * not the JSON expected), or the output could not be written */
};

/* ---- memory and buffers (kdpctl_buf.c) ---- */

__attribute__((noreturn)) void kdpctl_oom(void);
void *kdpctl_xrealloc(void *p, size_t n);
char *kdpctl_xstrdup(const char *s);

/* A byte buffer that is always NUL-terminated once it holds data. */
struct kdpctl_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* Makes room for extra more bytes plus a terminating NUL. */
void kdpctl_buf_reserve(struct kdpctl_buf *b, size_t extra);
void kdpctl_buf_append(struct kdpctl_buf *b, const void *p, size_t n);
void kdpctl_buf_puts(struct kdpctl_buf *b, const char *s);
__attribute__((format(printf, 2, 3)))
void kdpctl_buf_printf(struct kdpctl_buf *b, const char *fmt, ...);
/* Hands the (NUL-terminated) contents to the caller and empties b. */
char *kdpctl_buf_take(struct kdpctl_buf *b);
/* Reads a whole file, or standard input for "-". Prints why on failure (-1). */
int kdpctl_read_file(const char *path, struct kdpctl_buf *out);

/* ---- options and commands (kdpctl.c) ---- */

struct kdpctl_command;

struct kdpctl_opts {
	const struct kdpctl_command *cmd;
	const char *group;	/* first word of a command with more words ("service") */
	const char *socket;
	const char *file;
	const char *output;	/* -o FORMAT, as given */
	const char *proto;	/* ct/nat list --proto, as given */
	const char *ip;		/* ct/nat list --ip, as given */
	struct in_addr ip_addr; /* ... and parsed (IPv4) */
	struct in6_addr ip_addr6; /* ... or (IPv6) */
	int ip_family;          /* AF_INET or AF_INET6 */
	bool json;
	bool all;
	bool force;		/* upgrade --force */
	bool wide;		/* -o wide */
	bool help;
	char **args; /* positional arguments after the command words */
	size_t nargs;
};

/* Prints "kdpctl: MESSAGE" and the relevant usage on stderr; returns exit code 2. */
__attribute__((format(printf, 2, 3)))
int kdpctl_usage_error(const struct kdpctl_opts *o, const char *fmt, ...);

/* ---- HTTP and API requests (kdpctl_http.c) ---- */

struct kdpctl_response {
	int status;
	char reason[64];
	char *body; /* NUL-terminated */
	size_t body_len;
};

void kdpctl_response_free(struct kdpctl_response *resp);
/* A connection to the daemon's socket @path, send and receive timing out
 * after KDPCTL_TIMEOUT_SEC; -1 with why on stderr (unless @quiet). */
int kdpctl_connect(const char *path, bool quiet);
/* Percent-encodes everything but RFC 3986 unreserved characters. */
void kdpctl_url_escape(struct kdpctl_buf *b, const char *s);
/* The body as JSON, or NULL when it is empty or not JSON. */
json_t *kdpctl_parse_body(const struct kdpctl_response *resp);
/*
 * One request; 0 on a 2xx answer (caller frees *resp), else the exit code
 * after printing why (the daemon's error message, or why there is no answer).
 */
int kdpctl_call(const struct kdpctl_opts *o, const char *method, const char *path,
		const char *body, size_t body_len, struct kdpctl_response *resp);
/*
 * GETs path. With --json prints the body (pretty) and leaves *out NULL;
 * otherwise returns the body in *out (caller decrefs), checked to be of the
 * given type. 0 or the exit code.
 */
int kdpctl_get(const struct kdpctl_opts *o, const char *path, json_type type, json_t **out);
/* GETs path quietly: its JSON answer of a 200, else NULL (nothing printed). */
json_t *kdpctl_try_get(const struct kdpctl_opts *o, const char *path);
/* Builds PREFIX + NS/NAME (escaped) from the first argument; 0 or exit code 2. */
int kdpctl_nsname_path(const struct kdpctl_opts *o, const char *prefix, const char *what,
		       struct kdpctl_buf *path);
/* Reads -f FILE and checks that it is JSON, so mistakes get a line number. */
int kdpctl_read_json_file(const char *path, struct kdpctl_buf *out);
/*
 * Sends a request with -f FILE (if given) as the body, checked to be JSON
 * when check_json; as kdpctl_call, and exit code 2 when FILE is bad.
 */
int kdpctl_send_file(const struct kdpctl_opts *o, const char *method, const char *path,
		     bool check_json, struct kdpctl_response *resp);
/*
 * PUT (body from -f FILE, checked to be JSON when check_json) or DELETE;
 * prints the daemon's "message" or OK (its JSON with --json).
 */
int kdpctl_change_body(const struct kdpctl_opts *o, const char *method, const char *path,
		       bool check_json);

/* ---- formatting (kdpctl_fmt.c) ---- */

enum kdpctl_fmt {
	KDPCTL_FMT_PLAIN,    /* strings as-is, numbers, yes/no, lists joined with ',' */
	KDPCTL_FMT_DURATION, /* seconds as 1h2m3s */
	KDPCTL_FMT_PERCENT,  /* ratio 0..1 as 12.3 */
	KDPCTL_FMT_NSNAME,   /* {"namespace","name"} object as ns/name */
	KDPCTL_FMT_ID,       /* a number; 0 means none (shown as "-") */
};

/* One column of a listing, or one "Key: value" line. */
struct kdpctl_column {
	const char *header;
	const char *key; /* dotted path into the row ("port.name"); NULL: the row */
	enum kdpctl_fmt fmt;
	bool wide;	 /* only with -o wide */
	bool if_any;	 /* only when some row has a value there (IPv6 columns) */
};

/* Looks up a dotted path ("port.name", "ips.1": a number indexes an array);
 * NULL when any part is missing. */
json_t *kdpctl_json_path(json_t *v, const char *path);
/* Appends the display form of v; nothing for null or missing values. */
void kdpctl_format_json(struct kdpctl_buf *b, json_t *v, enum kdpctl_fmt fmt);
/* Appends the display form of v, or "-" when it has none. */
void kdpctl_buf_value(struct kdpctl_buf *b, json_t *v);

/* Cells of an aligned table, row after row; a header is just the first row. */
struct kdpctl_table {
	size_t ncols;
	size_t ncells;
	size_t cap;
	char **cells;
	bool *span; /* per cell: kdpctl_table_add_span() */
};

/* Adds the next cell (a copy of s); empty cells show as "-". */
void kdpctl_table_add(struct kdpctl_table *t, const char *s);
/* Same, taking ownership of s. */
void kdpctl_table_add_owned(struct kdpctl_table *t, char *s);
/* Adds a cell that stays empty: the continuation lines of a multi-line cell. */
void kdpctl_table_add_blank(struct kdpctl_table *t);
/*
 * Adds a cell, taking ownership of s, that may run past its column: it does
 * not count for the column's width. Meant for the last cell of a row.
 */
void kdpctl_table_add_span(struct kdpctl_table *t, char *s);
void kdpctl_table_add_json(struct kdpctl_table *t, json_t *v, enum kdpctl_fmt fmt);
/* Prints the rows, every column padded to its widest cell, 3 spaces apart. */
void kdpctl_table_print(const struct kdpctl_table *t);
void kdpctl_table_free(struct kdpctl_table *t);

/*
 * Prints an array of objects as a table with a header row; the columns
 * marked wide only when wide.
 */
void kdpctl_print_rows(json_t *rows, const struct kdpctl_column *cols, size_t ncols, bool wide);
/* Adds "Key:  value" lines for fields of obj to a two-column table. */
void kdpctl_add_fields(struct kdpctl_table *t, json_t *obj, const struct kdpctl_column *fields,
		       size_t n);
/* Appends the display form of one item of a list. */
typedef void kdpctl_item_fn(struct kdpctl_buf *b, json_t *item);
/* Adds a "Key:" row with a line per item of items ("-" when there is none). */
void kdpctl_add_items(struct kdpctl_table *t, const char *key, json_t *items,
		      kdpctl_item_fn *format);
/* Prints v as indented JSON, keys in the daemon's order. */
void kdpctl_print_json(json_t *v);

/* ---- commands (kdpctl_list.c, kdpctl_svc.c, kdpctl_flows.c, kdpctl_metrics.c,
 *      kdpctl_change.c); each returns the exit code ---- */

int cmd_status(const struct kdpctl_opts *o);
int cmd_node_list(const struct kdpctl_opts *o);
int cmd_endpoint_list(const struct kdpctl_opts *o);
int cmd_route_list(const struct kdpctl_opts *o);
int cmd_neigh_list(const struct kdpctl_opts *o);
int cmd_stats(const struct kdpctl_opts *o);
int cmd_service_list(const struct kdpctl_opts *o);
int cmd_service_get(const struct kdpctl_opts *o);
int cmd_ipmasq_list(const struct kdpctl_opts *o);
int cmd_ipmasq_get(const struct kdpctl_opts *o);
int cmd_lrp_list(const struct kdpctl_opts *o);
int cmd_lrp_get(const struct kdpctl_opts *o);
int cmd_ct_list(const struct kdpctl_opts *o);
int cmd_nat_list(const struct kdpctl_opts *o);
int cmd_metrics(const struct kdpctl_opts *o);
int cmd_apply(const struct kdpctl_opts *o);
int cmd_node_put(const struct kdpctl_opts *o);
int cmd_node_delete(const struct kdpctl_opts *o);
int cmd_endpoint_put(const struct kdpctl_opts *o);
int cmd_endpoint_delete(const struct kdpctl_opts *o);
int cmd_service_put(const struct kdpctl_opts *o);
int cmd_service_delete(const struct kdpctl_opts *o);
int cmd_ipmasq_put(const struct kdpctl_opts *o);
int cmd_ipmasq_delete(const struct kdpctl_opts *o);
int cmd_lrp_put(const struct kdpctl_opts *o);
int cmd_lrp_delete(const struct kdpctl_opts *o);
int cmd_raw(const struct kdpctl_opts *o);
int cmd_upgrade(const struct kdpctl_opts *o);

#endif /* KDPCTL_H */

/* kdpctl: the ct (conntrack) and nat (masquerade) listings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "kdpctl.h"

/* An address of a listing ("A.B.C.D[:PORT]" or "[IPV6]:PORT"), in a form
 * that sorts by family, address, then port. */
struct kdpctl_addr {
	uint8_t family; /* 0: not an address, 4, 6 */
	uint8_t a[16];  /* network order; IPv4 in the first 4 bytes */
	uint16_t port;
};

static struct kdpctl_addr kdpctl_addr_key(const char *s)
{
	struct kdpctl_addr k = { 0 };
	char addr[INET6_ADDRSTRLEN];
	const char *colon, *start = s, *end;
	size_t n;

	if (s == NULL)
		return k;
	if (*s == '[') {
		start = s + 1;
		end = strchr(start, ']');
		if (end == NULL)
			return k;
		colon = end[1] == ':' ? end + 1 : NULL;
	} else {
		colon = strrchr(s, ':');
		end = colon ? colon : s + strlen(s);
	}
	n = (size_t)(end - start);
	if (n >= sizeof(addr))
		return k;
	memcpy(addr, start, n);
	addr[n] = '\0';
	if (inet_pton(AF_INET, addr, k.a) == 1)
		k.family = 4;
	else if (inet_pton(AF_INET6, addr, k.a) == 1)
		k.family = 6;
	else
		return k;
	k.port = colon ? (uint16_t)(strtoul(colon + 1, NULL, 10) & 0xffff) : 0;
	return k;
}

static int kdpctl_addr_cmp(const struct kdpctl_addr *x, const struct kdpctl_addr *y)
{
	int r = x->family - y->family;

	if (r == 0)
		r = memcmp(x->a, y->a, sizeof(x->a));
	if (r == 0)
		r = (int)x->port - (int)y->port;
	return r;
}

/* Whether the address s (may be NULL) is --ip's. */
static bool kdpctl_addr_is(const char *s, const struct kdpctl_opts *o)
{
	struct kdpctl_addr k = kdpctl_addr_key(s);

	if (o->ip_family == AF_INET6)
		return k.family == 6 && memcmp(k.a, &o->ip_addr6, 16) == 0;
	return k.family == 4 && memcmp(k.a, &o->ip_addr, 4) == 0;
}

/*
 * --proto and --ip of ct/nat list: whether the flow has the protocol and,
 * at one of the dotted paths keys, the address.
 */
static bool kdpctl_flow_matches(const struct kdpctl_opts *o, json_t *flow,
				const char *const *keys, size_t nkeys)
{
	const char *proto = json_string_value(json_object_get(flow, "protocol"));

	if (o->proto != NULL && (proto == NULL || strcasecmp(proto, o->proto) != 0))
		return false;
	if (o->ip == NULL)
		return true;
	for (size_t i = 0; i < nkeys; i++)
		if (kdpctl_addr_is(json_string_value(kdpctl_json_path(flow, keys[i])), o))
			return true;
	return false;
}

/*
 * A row and where it sorts: by protocol, then by the addresses at two dotted
 * paths of the row, then by a tie-break field (descending).
 */
struct kdpctl_sorted_row {
	const char *proto;
	struct kdpctl_addr addr[2];
	const char *tie;
	json_t *row;
};

static int kdpctl_sorted_row_cmp(const void *a, const void *b)
{
	const struct kdpctl_sorted_row *x = a, *y = b;
	int r = strcmp(x->proto, y->proto);

	for (size_t i = 0; r == 0 && i < 2; i++)
		r = kdpctl_addr_cmp(&x->addr[i], &y->addr[i]);
	return r != 0 ? r : strcmp(y->tie, x->tie);
}

/* Where a row sorts: its two dotted address paths and its tie-break field. */
typedef void kdpctl_sort_keys_fn(json_t *row, const char **k0, const char **k1,
				 const char **tie);

/* The rows of a that match the filters, sorted (a new array). */
static json_t *kdpctl_filter_sort(const struct kdpctl_opts *o, json_t *a,
				  const char *const *match, size_t nmatch,
				  kdpctl_sort_keys_fn *keys)
{
	size_t n = json_array_size(a), m = 0, i;
	struct kdpctl_sorted_row *s = kdpctl_xrealloc(NULL, n * sizeof(*s));
	json_t *row, *out = json_array();

	json_array_foreach(a, i, row) {
		const char *k0, *k1, *tie, *proto, *t;

		if (!kdpctl_flow_matches(o, row, match, nmatch))
			continue;
		keys(row, &k0, &k1, &tie);
		proto = json_string_value(json_object_get(row, "protocol"));
		t = json_string_value(json_object_get(row, tie));
		s[m++] = (struct kdpctl_sorted_row){
			.proto = proto ? proto : "",
			.addr = { kdpctl_addr_key(json_string_value(kdpctl_json_path(row, k0))),
				  kdpctl_addr_key(json_string_value(kdpctl_json_path(row, k1))) },
			.tie = t ? t : "",
			.row = row,
		};
	}
	if (m > 1)
		qsort(s, m, sizeof(*s), kdpctl_sorted_row_cmp);
	for (i = 0; i < m; i++)
		json_array_append(out, s[i].row);
	free(s);
	return out;
}

/*
 * GETs a flow listing: with --json and no filter prints it as is (*doc
 * NULL); otherwise returns it to be filtered, even with --json.
 */
static int kdpctl_get_flows(const struct kdpctl_opts *o, const char *path, json_type type,
			    json_t **doc)
{
	struct kdpctl_opts get = *o;

	get.json = o->json && o->proto == NULL && o->ip == NULL;
	return kdpctl_get(&get, path, type, doc);
}

/* ---- conntrack ---- */

static void kdpctl_ct_keys(json_t *row, const char **k0, const char **k1, const char **tie)
{
	(void)row;
	*k0 = "original.src";
	*k1 = "original.dst";
	*tie = "state";
}

int cmd_ct_list(const struct kdpctl_opts *o)
{
	static const char *const addrs[] = { "original.src", "original.dst", "reply.src", "reply.dst" };
	static const struct kdpctl_column cols[] = {
		{ "PROTO", "protocol", KDPCTL_FMT_PLAIN },
		{ "SOURCE", "original.src", KDPCTL_FMT_PLAIN },
		{ "DESTINATION", "original.dst", KDPCTL_FMT_PLAIN },
		{ "REPLY SOURCE", "reply.src", KDPCTL_FMT_PLAIN },
		{ "REPLY DESTINATION", "reply.dst", KDPCTL_FMT_PLAIN },
		{ "STATE", "state", KDPCTL_FMT_PLAIN },
		{ "FLAGS", "flags", KDPCTL_FMT_PLAIN },
		{ "EXPIRES", "expiresInSeconds", KDPCTL_FMT_DURATION },
		{ "SERVICE ID", "serviceId", KDPCTL_FMT_ID, true },
		{ "TX PACKETS", "txPackets", KDPCTL_FMT_PLAIN, true },
		{ "TX BYTES", "txBytes", KDPCTL_FMT_PLAIN, true },
		{ "RX PACKETS", "rxPackets", KDPCTL_FMT_PLAIN, true },
		{ "RX BYTES", "rxBytes", KDPCTL_FMT_PLAIN, true },
	};
	json_t *ct, *shown;
	int rc = kdpctl_get_flows(o, "/v1/ct", JSON_OBJECT, &ct);

	if (ct == NULL)
		return rc;
	shown = kdpctl_filter_sort(o, json_object_get(ct, "flows"), addrs, ARRAY_SIZE(addrs),
				   kdpctl_ct_keys);
	if (o->json) {
		json_object_set(ct, "flows", shown);
		kdpctl_print_json(ct);
	} else {
		struct kdpctl_buf sum = { 0 };

		kdpctl_print_rows(shown, cols, ARRAY_SIZE(cols), o->wide);
		kdpctl_buf_printf(&sum, "\n%zu of ", json_array_size(shown));
		kdpctl_buf_value(&sum, json_object_get(ct, "entries"));
		kdpctl_buf_puts(&sum, " flows shown (capacity ");
		kdpctl_buf_value(&sum, json_object_get(ct, "capacity"));
		kdpctl_buf_puts(&sum, "); GC: ");
		kdpctl_buf_value(&sum, json_object_get(ct, "gcRuns"));
		kdpctl_buf_puts(&sum, " runs, ");
		kdpctl_buf_value(&sum, json_object_get(ct, "gcRemoved"));
		kdpctl_buf_puts(&sum, " removed");
		puts(sum.data);
		free(sum.data);
	}
	json_decref(shown);
	json_decref(ct);
	return KDPCTL_EXIT_OK;
}

/* ---- NAT ---- */

/* Both lines of a translation sort by the pod's address, then the peer's. */
static void kdpctl_nat_keys(json_t *row, const char **k0, const char **k1, const char **tie)
{
	const char *dir = json_string_value(json_object_get(row, "direction"));
	bool out = dir != NULL && strcmp(dir, "OUT") == 0;

	*k0 = out ? "src" : "to";
	*k1 = out ? "dst" : "src";
	*tie = "direction"; /* OUT before IN */
}

int cmd_nat_list(const struct kdpctl_opts *o)
{
	static const char *const addrs[] = { "src", "dst", "to" };
	static const struct kdpctl_column cols[] = {
		{ "PROTO", "protocol", KDPCTL_FMT_PLAIN },
		{ "DIRECTION", "direction", KDPCTL_FMT_PLAIN },
		{ "SOURCE", "src", KDPCTL_FMT_PLAIN },
		{ "DESTINATION", "dst", KDPCTL_FMT_PLAIN },
		{ "XLATE", "xlate", KDPCTL_FMT_PLAIN },
		{ "TO", "to", KDPCTL_FMT_PLAIN },
		{ "AGE", "ageSeconds", KDPCTL_FMT_DURATION, true },
	};
	json_t *nat, *shown;
	int rc = kdpctl_get_flows(o, "/v1/nat", JSON_ARRAY, &nat);

	if (nat == NULL)
		return rc;
	shown = kdpctl_filter_sort(o, nat, addrs, ARRAY_SIZE(addrs), kdpctl_nat_keys);
	if (o->json)
		kdpctl_print_json(shown);
	else
		kdpctl_print_rows(shown, cols, ARRAY_SIZE(cols), o->wide);
	json_decref(shown);
	json_decref(nat);
	return KDPCTL_EXIT_OK;
}

/*
 * kdpctl - command-line client for the kdp control API (DESIGN.md section 4).
 *
 * This file has the command table, the options, the help and main(); the
 * other parts are listed in kdpctl.h. Exit status: see enum kdpctl_exit.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "kdpctl.h"

/* ------------------------------------------------------------------------ */
/* Command line                                                              */

enum kdpctl_file_opt { KDPCTL_FILE_NO, KDPCTL_FILE_OPTIONAL, KDPCTL_FILE_REQUIRED };

/* Options only some commands take. */
enum kdpctl_cmd_opt {
	KDPCTL_OPT_ALL = 1 << 0,       /* --all */
	KDPCTL_OPT_WIDE = 1 << 1,      /* -o wide */
	KDPCTL_OPT_CT_FILTER = 1 << 2, /* --proto, --ip */
};

struct kdpctl_command {
	const char *name;     /* the words that select it: "node put" */
	const char *args;     /* its positional arguments, for help: "NAME" */
	size_t nargs;
	enum kdpctl_file_opt file;
	unsigned int opts;    /* KDPCTL_OPT_* it accepts */
	const char *summary;
	const char *request;  /* the API call it makes, for help */
	int (*run)(const struct kdpctl_opts *o);
	const char *notes;    /* more help text, or NULL */
	const char *wide;     /* with KDPCTL_OPT_WIDE: what -o wide adds, for help */
};

static const struct kdpctl_command kdpctl_commands[] = {
	{ "status", NULL, 0, KDPCTL_FILE_NO, 0,
	  "Show the node, its ports and table sizes", "GET /v1/status", cmd_status, NULL },
	{ "node list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List nodes and their pod CIDRs", "GET /v1/nodes", cmd_node_list, NULL },
	{ "node put", "NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace a node", "PUT /v1/nodes/NAME", cmd_node_put, NULL },
	{ "node delete", "NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete a node", "DELETE /v1/nodes/NAME", cmd_node_delete, NULL },
	{ "endpoint list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List local endpoints (pods)", "GET /v1/endpoints", cmd_endpoint_list, NULL },
	{ "endpoint put", "NS/NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace an endpoint", "PUT /v1/endpoints/NS/NAME", cmd_endpoint_put, NULL },
	{ "endpoint delete", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete an endpoint", "DELETE /v1/endpoints/NS/NAME", cmd_endpoint_delete, NULL },
	{ "service list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_WIDE,
	  "List service frontends and their backends", "GET /v1/services", cmd_service_list,
	  "One row per frontend, sorted by ID, with one line per backend\n"
	  "(\"N => ADDRESS (state)\"); a frontend without backends has an empty Backend.\n",
	  "also show each frontend's service and algorithm" },
	{ "service get", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Show a service and its frontends", "GET /v1/services/NS/NAME", cmd_service_get, NULL },
	{ "service put", "NS/NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace a service", "PUT /v1/services/NS/NAME", cmd_service_put, NULL },
	{ "service delete", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete a service", "DELETE /v1/services/NS/NAME", cmd_service_delete, NULL },
	{ "route list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List the routing table", "GET /v1/routes", cmd_route_list, NULL },
	{ "neigh list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List the neighbour (ARP) table", "GET /v1/neighbours", cmd_neigh_list, NULL },
	{ "ct list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_CT_FILTER,
	  "List connection-tracking flows", "GET /v1/ct", cmd_ct_list,
	  "One line per flow (original tuple, counters, state, flags, RevNAT=service ID,\n"
	  "reply tuple), then the table's size and garbage-collection counters.\n"
	  "With --json the filters apply to the \"flows\" array; the counters are the table's.\n" },
	{ "nat list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_CT_FILTER,
	  "List masquerade (SNAT) translations", "GET /v1/nat", cmd_nat_list,
	  "Two lines per masqueraded flow, as cilium-dbg bpf nat list: OUT, the pod's\n"
	  "source rewritten to the node (XLATE_SRC), and IN, the reply's destination\n"
	  "given back to the pod (XLATE_DST). --ip matches any address of a line.\n"
	  "With --json the filters apply to the array.\n" },
	{ "ipmasq list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_WIDE,
	  "List destinations exempt from masquerade", "GET /v1/ipmasq", cmd_ipmasq_list,
	  "One prefix per line, as cilium-dbg bpf ipmasq list: the cluster's own ranges\n"
	  "and those of the ip-masq-agent config. REASON is one of config,\n"
	  "native-routing-cidr, node-ip, link-local, default-reserved. A problem with the\n"
	  "watched config file is printed on standard error (the last good config stays).\n",
	  "also show why each prefix is there (REASON)" },
	{ "ipmasq get", NULL, 0, KDPCTL_FILE_NO, 0,
	  "Show the ip-masq-agent config", "GET /v1/ipmasq", cmd_ipmasq_get,
	  "\"none\": no config (the agent is off), only the native routing CIDR and the\n"
	  "node IPs are exempt; \"empty\": the reserved ranges (RFC 1918 and others) are.\n" },
	{ "ipmasq put", NULL, 0, KDPCTL_FILE_REQUIRED, 0,
	  "Set the ip-masq-agent config", "PUT /v1/ipmasq", cmd_ipmasq_put,
	  "FILE is the agent's config file as is, YAML or JSON (nonMasqueradeCIDRs,\n"
	  "masqLinkLocal, masqLinkLocalIPv6); the daemon checks it and says what is wrong\n"
	  "(exit status 1). An empty FILE is an empty config: the reserved ranges.\n" },
	{ "ipmasq delete", NULL, 0, KDPCTL_FILE_NO, 0,
	  "Remove the ip-masq-agent config", "DELETE /v1/ipmasq", cmd_ipmasq_delete, NULL },
	{ "lrp list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List local redirect policies", "GET /v1/lrp", cmd_lrp_list,
	  "As cilium-dbg lrp list: a line per policy, then one per frontend with the local\n"
	  "backends of its protocol (\"FRONTEND -> BACKEND(ENDPOINT), ...\"); a frontend\n"
	  "without one keeps the service's own backends.\n" },
	{ "lrp get", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Show a local redirect policy", "GET /v1/lrp/NS/NAME", cmd_lrp_get, NULL },
	{ "lrp put", "NS/NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace a local redirect policy", "PUT /v1/lrp/NS/NAME", cmd_lrp_put, NULL },
	{ "lrp delete", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete a local redirect policy", "DELETE /v1/lrp/NS/NAME", cmd_lrp_delete, NULL },
	{ "stats", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_ALL,
	  "Show packet, masquerade and drop counters", "GET /v1/stats", cmd_stats,
	  "Port retries: SNAT port picks by how many extra ports were tried.\n" },
	{ "apply", NULL, 0, KDPCTL_FILE_REQUIRED, 0,
	  "Replace the whole desired state", "PUT /v1/state", cmd_apply, NULL },
	{ "raw", "METHOD PATH", 2, KDPCTL_FILE_OPTIONAL, 0,
	  "Send any request and print the response body", "METHOD PATH", cmd_raw, NULL },
};

static const char kdpctl_common_options[] =
	"  -s, --socket PATH   control socket (default: $KDP_SOCKET, else " KDPCTL_DEFAULT_SOCKET ")\n"
	"      --json          print the daemon's JSON answer instead of tables\n"
	"  -h, --help          show help; after a command, that command's help\n";

/* Help lines of the options only some commands take. */
static const char kdpctl_all_help[] =
	"      --all           also list drop reasons with no packets\n";
static const char kdpctl_ct_filter_help[] =
	"      --proto PROTO   only flows of protocol PROTO: tcp, udp or icmp\n"
	"      --ip ADDR       only flows with IPv4 address ADDR (in either direction)\n";

/* "node put NAME -f FILE" */
static void kdpctl_synopsis(struct kdpctl_buf *b, const struct kdpctl_command *c)
{
	kdpctl_buf_puts(b, c->name);
	if (c->args != NULL)
		kdpctl_buf_printf(b, " %s", c->args);
	if (c->file == KDPCTL_FILE_REQUIRED)
		kdpctl_buf_puts(b, " -f FILE");
	else if (c->file == KDPCTL_FILE_OPTIONAL)
		kdpctl_buf_puts(b, " [-f FILE]");
	if (c->opts & KDPCTL_OPT_ALL)
		kdpctl_buf_puts(b, " [--all]");
	if (c->opts & KDPCTL_OPT_WIDE)
		kdpctl_buf_puts(b, " [-o wide]");
	if (c->opts & KDPCTL_OPT_CT_FILTER)
		kdpctl_buf_puts(b, " [--proto P] [--ip IP]");
}

static void kdpctl_usage(FILE *out)
{
	fputs("Usage: kdpctl [-s|--socket PATH] [--json] [-h|--help] COMMAND\n\n"
	      "Inspect and configure the kdp dataplane through its control socket.\n\n"
	      "Commands:\n", out);
	for (size_t i = 0; i < ARRAY_SIZE(kdpctl_commands); i++) {
		struct kdpctl_buf b = { 0 };

		kdpctl_synopsis(&b, &kdpctl_commands[i]);
		fprintf(out, "  %-32s %s\n", b.data, kdpctl_commands[i].summary);
		free(b.data);
	}
	fprintf(out, "\nOptions:\n%s  -f, --file FILE     request body: JSON (ipmasq put: the agent's YAML or JSON);\n"
		"                      - reads standard input\n"
		"  -o, --output wide   more columns (", kdpctl_common_options);
	for (size_t i = 0, n = 0; i < ARRAY_SIZE(kdpctl_commands); i++)
		if (kdpctl_commands[i].opts & KDPCTL_OPT_WIDE)
			fprintf(out, "%s%s", n++ ? ", " : "", kdpctl_commands[i].name);
	fprintf(out, ")\n%s%s\n"
		"Exit status: 0 success, 1 the daemon answered with an error, 2 usage error,\n"
		"3 cannot reach the daemon.\n", kdpctl_ct_filter_help, kdpctl_all_help);
}

static void kdpctl_command_usage(FILE *out, const struct kdpctl_command *c)
{
	struct kdpctl_buf b = { 0 };

	kdpctl_synopsis(&b, c);
	fprintf(out, "Usage: kdpctl [-s PATH] [--json] %s\n\n%s (%s).\n",
		b.data, c->summary, c->request);
	if (c->notes != NULL)
		fprintf(out, "%s", c->notes);
	fputs("\nOptions:\n", out);
	if (c->file != KDPCTL_FILE_NO)
		fputs("  -f, --file FILE     request body; - reads standard input\n", out);
	if (c->opts & KDPCTL_OPT_ALL)
		fputs(kdpctl_all_help, out);
	if (c->opts & KDPCTL_OPT_WIDE)
		fprintf(out, "  -o, --output wide   %s\n", c->wide ? c->wide : "show more columns");
	if (c->opts & KDPCTL_OPT_CT_FILTER)
		fputs(kdpctl_ct_filter_help, out);
	fputs(kdpctl_common_options, out);
	free(b.data);
}

/* Prints the message and the relevant usage on stderr; returns exit code 2. */
int kdpctl_usage_error(const struct kdpctl_opts *o, const char *fmt, ...)
{
	va_list ap;

	fputs("kdpctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	if (o->cmd != NULL)
		kdpctl_command_usage(stderr, o->cmd);
	else
		kdpctl_usage(stderr);
	return KDPCTL_EXIT_USAGE;
}

/*
 * Matches an option that takes a value ("-s X", "--socket X", "--socket=X");
 * short_name may be NULL.
 * Returns 1 if matched, 0 if not this option, -1 if its value is missing.
 */
static int kdpctl_opt_value(int argc, char **argv, int *i, const char *short_name,
			    const char *long_name, const char **value)
{
	const char *a = argv[*i];
	size_t n = strlen(long_name);

	if (strncmp(a, long_name, n) == 0 && a[n] == '=') {
		*value = a + n + 1;
		return 1;
	}
	if ((short_name == NULL || strcmp(a, short_name) != 0) && strcmp(a, long_name) != 0)
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*value = argv[++*i];
	return 1;
}

/* Splits argv into options (accepted anywhere) and positional words. */
static int kdpctl_parse_args(int argc, char **argv, struct kdpctl_opts *o, char **pos, size_t *npos)
{
	bool only_positional = false;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		int r;

		if (only_positional || a[0] != '-' || strcmp(a, "-") == 0) {
			pos[(*npos)++] = argv[i];
		} else if (strcmp(a, "--") == 0) {
			only_positional = true;
		} else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			o->help = true;
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "--all") == 0) {
			o->all = true;
		} else if ((r = kdpctl_opt_value(argc, argv, &i, "-s", "--socket", &o->socket)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, "-f", "--file", &o->file)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, "-o", "--output", &o->output)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, NULL, "--proto", &o->proto)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, NULL, "--ip", &o->ip)) != 0) {
			if (r < 0)
				return kdpctl_usage_error(o, "option '%s' needs a value", a);
		} else {
			return kdpctl_usage_error(o, "unknown option '%s'", a);
		}
	}
	return 0;
}

/* Finds the command named by the first positional words; sets *nwords. */
static const struct kdpctl_command *kdpctl_find_command(char **pos, size_t npos, size_t *nwords)
{
	for (size_t i = 0; i < ARRAY_SIZE(kdpctl_commands); i++) {
		const char *name = kdpctl_commands[i].name;
		size_t w = 0;

		while (*name != '\0' && w < npos) {
			size_t n = strcspn(name, " ");

			if (strlen(pos[w]) != n || strncmp(pos[w], name, n) != 0)
				break;
			name += n + (name[n] == ' ');
			w++;
		}
		if (*name == '\0') {
			*nwords = w;
			return &kdpctl_commands[i];
		}
	}
	return NULL;
}

/* Picks the command and checks its arguments; 0 or exit code 2. */
static int kdpctl_check_command(struct kdpctl_opts *o, char **pos, size_t npos)
{
	size_t nwords = 0;

	o->cmd = kdpctl_find_command(pos, npos, &nwords);
	if (o->cmd == NULL) {
		if (npos == 0)
			return kdpctl_usage_error(o, "missing command");
		for (size_t i = 0; i < ARRAY_SIZE(kdpctl_commands); i++) {
			const char *name = kdpctl_commands[i].name;
			size_t n = strcspn(name, " ");

			if (name[n] == ' ' && strlen(pos[0]) == n && strncmp(pos[0], name, n) == 0)
				return npos == 1 ? kdpctl_usage_error(o, "'%s' needs a subcommand", pos[0])
						 : kdpctl_usage_error(o, "unknown command '%s %s'", pos[0], pos[1]);
		}
		return kdpctl_usage_error(o, "unknown command '%s'", pos[0]);
	}
	o->args = pos + nwords;
	o->nargs = npos - nwords;
	if (o->nargs != o->cmd->nargs) {
		if (o->cmd->nargs == 0)
			return kdpctl_usage_error(o, "unexpected argument '%s'", o->args[0]);
		return kdpctl_usage_error(o, "'%s' takes %s", o->cmd->name, o->cmd->args);
	}
	if (o->cmd->file == KDPCTL_FILE_REQUIRED && o->file == NULL)
		return kdpctl_usage_error(o, "'%s' needs -f FILE", o->cmd->name);
	if (o->cmd->file == KDPCTL_FILE_NO && o->file != NULL)
		return kdpctl_usage_error(o, "'%s' does not take -f", o->cmd->name);
	if (!(o->cmd->opts & KDPCTL_OPT_ALL) && o->all)
		return kdpctl_usage_error(o, "'%s' does not take --all", o->cmd->name);
	if (!(o->cmd->opts & KDPCTL_OPT_WIDE) && o->output != NULL)
		return kdpctl_usage_error(o, "'%s' does not take -o", o->cmd->name);
	if (o->output != NULL && strcmp(o->output, "wide") != 0)
		return kdpctl_usage_error(o, "unknown output format '%s' (only 'wide'; --json prints JSON)",
					  o->output);
	o->wide = o->output != NULL;
	if (!(o->cmd->opts & KDPCTL_OPT_CT_FILTER) && (o->proto != NULL || o->ip != NULL))
		return kdpctl_usage_error(o, "'%s' does not take %s", o->cmd->name,
					  o->proto != NULL ? "--proto" : "--ip");
	if (o->proto != NULL && strcasecmp(o->proto, "tcp") != 0 &&
	    strcasecmp(o->proto, "udp") != 0 && strcasecmp(o->proto, "icmp") != 0)
		return kdpctl_usage_error(o, "--proto must be tcp, udp or icmp, got '%s'", o->proto);
	if (o->ip != NULL && inet_pton(AF_INET, o->ip, &o->ip_addr) != 1)
		return kdpctl_usage_error(o, "--ip needs an IPv4 address (A.B.C.D), got '%s'", o->ip);
	if (o->file != NULL && o->file[0] == '\0')
		return kdpctl_usage_error(o, "-f needs a file name (or - for standard input)");
	return 0;
}

int main(int argc, char **argv)
{
	struct kdpctl_opts o = { 0 };
	char **pos = kdpctl_xrealloc(NULL, (size_t)argc * sizeof(*pos));
	size_t npos = 0;
	int rc;

	o.socket = getenv("KDP_SOCKET");
	if (o.socket == NULL || o.socket[0] == '\0')
		o.socket = KDPCTL_DEFAULT_SOCKET;

	rc = kdpctl_parse_args(argc, argv, &o, pos, &npos);
	if (rc == 0 && o.help) {
		size_t nwords;

		o.cmd = kdpctl_find_command(pos, npos, &nwords);
		if (o.cmd != NULL)
			kdpctl_command_usage(stdout, o.cmd);
		else
			kdpctl_usage(stdout);
	} else if (rc == 0 && (rc = kdpctl_check_command(&o, pos, npos)) == 0) {
		if (o.socket[0] == '\0')
			rc = kdpctl_usage_error(&o, "the socket path must not be empty");
		else
			rc = o.cmd->run(&o);
	}
	free(pos);
	if (fflush(stdout) != 0 && rc == KDPCTL_EXIT_OK) {
		fprintf(stderr, "kdpctl: writing output: %s\n", strerror(errno));
		rc = KDPCTL_EXIT_API;
	}
	return rc;
}

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
#include "kdpctl_monitor.h"

/* ------------------------------------------------------------------------ */
/* Command line                                                              */

enum kdpctl_file_opt { KDPCTL_FILE_NO, KDPCTL_FILE_OPTIONAL, KDPCTL_FILE_REQUIRED };

/* Options only some commands take. */
enum kdpctl_cmd_opt {
	KDPCTL_OPT_ALL = 1 << 0,       /* --all */
	KDPCTL_OPT_WIDE = 1 << 1,      /* -o wide */
	KDPCTL_OPT_CT_FILTER = 1 << 2, /* --proto, --ip */
	KDPCTL_OPT_FORCE = 1 << 3,     /* --force */
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
	bool args_optional;   /* the nargs arguments may be left out */
};

static const struct kdpctl_command kdpctl_commands[] = {
	{ "status", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_WIDE,
	  "Show the node, its ports and table sizes", "GET /v1/status", cmd_status, NULL,
	  "also show each port's receive and transmit errors" },
	{ "node list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List nodes and their pod CIDRs", "GET /v1/nodes", cmd_node_list, NULL },
	{ "node put", "NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace a node", "PUT /v1/nodes/NAME", cmd_node_put, NULL },
	{ "node delete", "NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete a node", "DELETE /v1/nodes/NAME", cmd_node_delete, NULL },
	{ "endpoint list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_WIDE,
	  "List local endpoints (pods)", "GET /v1/endpoints", cmd_endpoint_list,
	  "STATE is the state of the endpoint's port (up, down); PORT \"-\" when it\n"
	  "could not be opened.\n",
	  "also show each endpoint's MAC, port ID and devargs" },
	{ "endpoint put", "NS/NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace an endpoint", "PUT /v1/endpoints/NS/NAME", cmd_endpoint_put, NULL },
	{ "endpoint delete", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete an endpoint", "DELETE /v1/endpoints/NS/NAME", cmd_endpoint_delete, NULL },
	{ "service list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_WIDE,
	  "List service frontends and their backends", "GET /v1/services", cmd_service_list,
	  "As cilium-dbg service list: one row per frontend, sorted by ID, with one line\n"
	  "per backend (\"N => ADDRESS (state)\"); a redirected frontend has the type\n"
	  "LocalRedirect and its local backends.\n",
	  "also show each frontend's service, algorithm, traffic\n"
	  "                      policy (Local: this node's backends only) and source\n"
	  "                      ranges, and which backends are local" },
	{ "service get", "NS/NAME", 1, KDPCTL_FILE_NO, KDPCTL_OPT_WIDE,
	  "Show a service and its frontends", "GET /v1/services/NS/NAME", cmd_service_get,
	  "The spec (traffic policies, health check port and its answer, source ranges,\n"
	  "backends with their node), then its frontends as service list shows them.\n",
	  "the frontends' columns of service list -o wide" },
	{ "service put", "NS/NAME", 1, KDPCTL_FILE_REQUIRED, 0,
	  "Create or replace a service", "PUT /v1/services/NS/NAME", cmd_service_put, NULL },
	{ "service delete", "NS/NAME", 1, KDPCTL_FILE_NO, 0,
	  "Delete a service", "DELETE /v1/services/NS/NAME", cmd_service_delete, NULL },
	{ "route list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_WIDE,
	  "List the routing table", "GET /v1/routes", cmd_route_list,
	  "Most specific prefix first. TARGET is the endpoint, node or role a route\n"
	  "leads to.\n",
	  "also show the port each route leaves on" },
	{ "neigh list", NULL, 0, KDPCTL_FILE_NO, 0,
	  "List the neighbour (ARP) table", "GET /v1/neighbours", cmd_neigh_list, NULL },
	{ "ct list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_CT_FILTER | KDPCTL_OPT_WIDE,
	  "List connection-tracking flows", "GET /v1/ct", cmd_ct_list,
	  "One row per flow, sorted by protocol and original tuple: the original\n"
	  "direction (SOURCE -> DESTINATION) and the reply direction (after DNAT the\n"
	  "reply comes from the backend, after SNAT it goes to the node), then the\n"
	  "table's size and garbage-collection counters.\n"
	  "With --json the filters apply to the \"flows\" array; the counters are the table's.\n",
	  "also show the service ID (as in service list) and the packet and byte counters" },
	{ "nat list", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_CT_FILTER | KDPCTL_OPT_WIDE,
	  "List masquerade (SNAT) translations", "GET /v1/nat", cmd_nat_list,
	  "Two rows per masqueraded flow, as cilium-dbg bpf nat list: OUT, the pod's\n"
	  "source rewritten to the node (XLATE_SRC), and IN, the reply's destination\n"
	  "given back to the pod (XLATE_DST). --ip matches any address of a row.\n"
	  "With --json the filters apply to the array.\n",
	  "also show how long ago each translation was created" },
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
	{ "metrics", "[NAME]", 1, KDPCTL_FILE_NO, KDPCTL_OPT_WIDE,
	  "List the Prometheus metrics", "GET /metrics", cmd_metrics,
	  "One row per sample of the Prometheus text the daemon serves; NAME keeps the\n"
	  "metrics whose name contains it. --json gives each sample as an object\n"
	  "(name, type, help, labels, value).\n",
	  "also show each metric's type", true },
	{ "apply", NULL, 0, KDPCTL_FILE_REQUIRED, 0,
	  "Replace the whole desired state", "PUT /v1/state", cmd_apply, NULL },
	{ "monitor", "[FILTERS] [-n N]", 0, KDPCTL_FILE_NO, 0,
	  "Stream flow events (hubble observe)", "GET /v1/monitor", kdpctl_monitor_cmd, NULL },
	{ "upgrade", NULL, 0, KDPCTL_FILE_NO, KDPCTL_OPT_FORCE,
	  "Replace the running kdp by the binary now at its path, keeping every flow",
	  "POST /v1/upgrade", cmd_upgrade,
	  "The running kdp starts the kdp binary at the path it was started from (install\n"
	  "the new version there first) with the same config and options and --takeover;\n"
	  "the new kdp opens its ports, the old one parks its workers and exits, and the\n"
	  "new one goes on with the same conntrack, SNAT ports and affinity pins (the\n"
	  "flow state file). Waits until the new kdp answers (60 s at most) and prints\n"
	  "what it took over. Updates are refused (HTTP 503) meanwhile. If the new kdp\n"
	  "fails, the running one goes on and kdpctl says why (exit status 1).\n" },
	{ "raw", "METHOD PATH", 2, KDPCTL_FILE_OPTIONAL, 0,
	  "Send any request and print the response body", "METHOD PATH", cmd_raw, NULL },
};

static const char kdpctl_common_options[] =
	"  -s, --socket PATH   control socket (default: $KDP_SOCKET, else " KDPCTL_DEFAULT_SOCKET ")\n"
	"      --json          print the daemon's JSON answer (indented) instead of tables\n"
	"  -h, --help          show help; after a command, that command's help\n";

/* Help lines of the options only some commands take. */
static const char kdpctl_all_help[] =
	"      --all           also list drop reasons with no packets\n";
static const char kdpctl_force_help[] =
	"      --force         upgrade even if the new kdp cannot keep the flows\n";
static const char kdpctl_ct_filter_help[] =
	"      --proto PROTO   only flows of protocol PROTO: tcp, udp, icmp or icmpv6\n"
	"      --ip ADDR       only flows with address ADDR, IPv4 or IPv6 (in either direction)\n";
/* kdpctl monitor lives in kdpctl_monitor.c; its options, for the overview. */
static const char kdpctl_monitor_help[] =
	"  monitor: --pod NS/NAME, --ip ADDR, --protocol PROTO, --verdict VERDICT,\n"
	"      -n COUNT (stop after COUNT events), --json (one JSON object per event)\n";

static const char kdpctl_exit_help[] =
	"Exit status:\n"
	"  0  success\n"
	"  1  the daemon refused the request (its error message on stderr)\n"
	"  2  usage error: unknown command or option, bad argument, unreadable or\n"
	"     invalid -f FILE (usage on stderr)\n"
	"  3  cannot connect to the control socket (the message names the socket)\n"
	"  4  connected, but no usable answer (timed out, not HTTP, not the JSON or\n"
	"     metrics expected), or the output could not be written\n";

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
	if (c->opts & KDPCTL_OPT_FORCE)
		kdpctl_buf_puts(b, " [--force]");
}

/* Length of the first word of a command name ("service" of "service list"). */
static size_t kdpctl_group_len(const char *name)
{
	return strcspn(name, " ");
}

/* Whether word is the first word of command c, which has more words. */
static bool kdpctl_in_group(const struct kdpctl_command *c, const char *word)
{
	size_t n = kdpctl_group_len(c->name);

	return c->name[n] == ' ' && strlen(word) == n && strncmp(word, c->name, n) == 0;
}

static bool kdpctl_same_group(const struct kdpctl_command *a, const struct kdpctl_command *b)
{
	size_t n = kdpctl_group_len(a->name);

	return n == kdpctl_group_len(b->name) && strncmp(a->name, b->name, n) == 0;
}

/* The synopsis and summary of the commands (of one group when group is not NULL). */
static void kdpctl_list_commands(FILE *out, const char *group)
{
	for (size_t i = 0; i < ARRAY_SIZE(kdpctl_commands); i++) {
		const struct kdpctl_command *c = &kdpctl_commands[i];
		struct kdpctl_buf b = { 0 };

		if (group != NULL && !kdpctl_in_group(c, group))
			continue;
		/* in the overview, blank lines around each group of several commands */
		if (group == NULL && i > 0 && !kdpctl_same_group(c, c - 1) &&
		    ((i + 1 < ARRAY_SIZE(kdpctl_commands) && kdpctl_same_group(c, c + 1)) ||
		     (i > 1 && kdpctl_same_group(c - 1, c - 2))))
			fputc('\n', out);
		kdpctl_synopsis(&b, c);
		fprintf(out, "  %-42s %s\n", b.data, c->summary);
		free(b.data);
	}
}

static bool kdpctl_has_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(kdpctl_commands); i++)
		if (strcmp(kdpctl_commands[i].name, name) == 0)
			return true;
	return false;
}

static void kdpctl_usage(FILE *out)
{
	fputs("Usage: kdpctl [-s|--socket PATH] [--json] [-h|--help] COMMAND [ARGS] [OPTIONS]\n\n"
	      "Inspect and configure the kdp dataplane through its control socket.\n"
	      "Listings are tables (headers in capitals, \"-\" for an empty cell); --json\n"
	      "prints the daemon's JSON instead, for scripts.\n\n"
	      "Commands:\n", out);
	kdpctl_list_commands(out, NULL);
	if (!kdpctl_has_command("monitor")) /* until kdpctl_monitor.c's entry is in the table */
		fprintf(out, "  %-42s %s\n", "monitor [OPTIONS]",
			"Watch packets and their verdicts as they happen");
	fprintf(out, "\nOptions:\n%s  -f, --file FILE     request body: JSON (ipmasq put: the agent's YAML or JSON);\n"
		"                      - reads standard input\n"
		"  -o, --output wide   more columns (", kdpctl_common_options);
	for (size_t i = 0, n = 0; i < ARRAY_SIZE(kdpctl_commands); i++)
		if (kdpctl_commands[i].opts & KDPCTL_OPT_WIDE)
			fprintf(out, "%s%s", n++ ? ", " : "", kdpctl_commands[i].name);
	fprintf(out, ")\n%s%s%s%s\n%s", kdpctl_ct_filter_help, kdpctl_all_help, kdpctl_force_help,
		kdpctl_monitor_help, kdpctl_exit_help);
}

/* Help of a group of commands ("kdpctl service --help"). */
static void kdpctl_group_usage(FILE *out, const char *group)
{
	fprintf(out, "Usage: kdpctl [-s PATH] [--json] %s SUBCOMMAND [ARGS] [OPTIONS]\n\n"
		"Subcommands:\n", group);
	kdpctl_list_commands(out, group);
	fprintf(out, "\nkdpctl %s SUBCOMMAND --help shows the options of a subcommand.\n", group);
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
	if (c->opts & KDPCTL_OPT_FORCE)
		fputs(kdpctl_force_help, out);
	fputs(kdpctl_common_options, out);
	fprintf(out, "\n%s", kdpctl_exit_help);
	free(b.data);
}

/* The group a lone first word names, or NULL. */
static const char *kdpctl_find_group(char **pos, size_t npos)
{
	for (size_t i = 0; npos > 0 && i < ARRAY_SIZE(kdpctl_commands); i++)
		if (kdpctl_in_group(&kdpctl_commands[i], pos[0]))
			return pos[0];
	return NULL;
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
	else if (o->group != NULL)
		kdpctl_group_usage(stderr, o->group);
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

/*
 * Splits argv into options (accepted anywhere) and positional words. A bad
 * option is kept in *bad (its message), so that the usage shown can be the
 * command's; parsing goes on.
 */
static void kdpctl_parse_args(int argc, char **argv, struct kdpctl_opts *o, char **pos,
			      size_t *npos, struct kdpctl_buf *bad)
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
		} else if (strcmp(a, "--force") == 0) {
			o->force = true;
		} else if (strncmp(a, "-o", 2) == 0 && a[2] != '\0' && a[2] != '-') {
			o->output = a + 2; /* -owide */
		} else if ((r = kdpctl_opt_value(argc, argv, &i, "-s", "--socket", &o->socket)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, "-f", "--file", &o->file)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, "-o", "--output", &o->output)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, NULL, "--proto", &o->proto)) != 0 ||
			   (r = kdpctl_opt_value(argc, argv, &i, NULL, "--ip", &o->ip)) != 0) {
			if (r < 0 && bad->len == 0)
				kdpctl_buf_printf(bad, "option '%s' needs a value", a);
		} else if (bad->len == 0) {
			kdpctl_buf_printf(bad, "unknown option '%s'", a);
		}
	}
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

/*
 * Picks the command and checks its arguments and options (bad: the message
 * of a bad option, or empty); 0 or exit code 2.
 */
static int kdpctl_check_command(struct kdpctl_opts *o, char **pos, size_t npos,
				const struct kdpctl_buf *bad)
{
	size_t nwords = 0;

	o->cmd = kdpctl_find_command(pos, npos, &nwords);
	o->group = kdpctl_find_group(pos, npos);
	if (bad->len > 0)
		return kdpctl_usage_error(o, "%s", bad->data);
	if (o->cmd == NULL) {
		if (npos == 0)
			return kdpctl_usage_error(o, "missing command");
		if (o->group != NULL)
			return npos == 1 ? kdpctl_usage_error(o, "'%s' needs a subcommand", pos[0])
					 : kdpctl_usage_error(o, "unknown command '%s %s'", pos[0], pos[1]);
		return kdpctl_usage_error(o, "unknown command '%s'", pos[0]);
	}
	o->args = pos + nwords;
	o->nargs = npos - nwords;
	if (o->nargs > o->cmd->nargs || (o->nargs < o->cmd->nargs && !o->cmd->args_optional)) {
		if (o->cmd->nargs == 0 || o->nargs > o->cmd->nargs)
			return kdpctl_usage_error(o, "unexpected argument '%s'",
						  o->args[o->cmd->nargs]);
		return kdpctl_usage_error(o, "'%s' takes %s", o->cmd->name, o->cmd->args);
	}
	if (o->cmd->file == KDPCTL_FILE_REQUIRED && o->file == NULL)
		return kdpctl_usage_error(o, "'%s' needs -f FILE", o->cmd->name);
	if (o->cmd->file == KDPCTL_FILE_NO && o->file != NULL)
		return kdpctl_usage_error(o, "'%s' does not take -f", o->cmd->name);
	if (!(o->cmd->opts & KDPCTL_OPT_ALL) && o->all)
		return kdpctl_usage_error(o, "'%s' does not take --all", o->cmd->name);
	if (!(o->cmd->opts & KDPCTL_OPT_FORCE) && o->force)
		return kdpctl_usage_error(o, "'%s' does not take --force", o->cmd->name);
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
	    strcasecmp(o->proto, "udp") != 0 && strcasecmp(o->proto, "icmp") != 0 &&
	    strcasecmp(o->proto, "icmpv6") != 0)
		return kdpctl_usage_error(o, "--proto must be tcp, udp, icmp or icmpv6, got '%s'",
					  o->proto);
	if (o->ip != NULL) {
		if (inet_pton(AF_INET, o->ip, &o->ip_addr) == 1)
			o->ip_family = AF_INET;
		else if (inet_pton(AF_INET6, o->ip, &o->ip_addr6) == 1)
			o->ip_family = AF_INET6;
		else
			return kdpctl_usage_error(o, "--ip needs an IPv4 or IPv6 address, got '%s'",
						  o->ip);
	}
	if (o->file != NULL && o->file[0] == '\0')
		return kdpctl_usage_error(o, "-f needs a file name (or - for standard input)");
	if (o->socket[0] == '\0')
		return kdpctl_usage_error(o, "the socket path must not be empty");
	return 0;
}

/* --help: the command's help, its group's, or the overview; on stdout. */
static void kdpctl_help(char **pos, size_t npos)
{
	size_t nwords;
	const struct kdpctl_command *c = kdpctl_find_command(pos, npos, &nwords);
	const char *group = kdpctl_find_group(pos, npos);

	if (c != NULL)
		kdpctl_command_usage(stdout, c);
	else if (group != NULL)
		kdpctl_group_usage(stdout, group);
	else
		kdpctl_usage(stdout);
}

int main(int argc, char **argv)
{
	struct kdpctl_opts o = { 0 };
	struct kdpctl_buf bad = { 0 };
	char **pos = kdpctl_xrealloc(NULL, (size_t)argc * sizeof(*pos));
	size_t npos = 0;
	int rc = KDPCTL_EXIT_OK;

	o.socket = getenv("KDP_SOCKET");
	if (o.socket == NULL || o.socket[0] == '\0')
		o.socket = KDPCTL_DEFAULT_SOCKET;

	if ((rc = kdpctl_monitor_main(argc, argv, o.socket)) >= 0) {
		free(pos);
		return rc; /* monitor parses its own options */
	}
	rc = KDPCTL_EXIT_OK;
	kdpctl_parse_args(argc, argv, &o, pos, &npos, &bad);
	if (o.help && bad.len == 0)
		kdpctl_help(pos, npos);
	else if ((rc = kdpctl_check_command(&o, pos, npos, &bad)) == 0)
		rc = o.cmd->run(&o);
	free(pos);
	free(bad.data);
	if (fflush(stdout) != 0 && rc == KDPCTL_EXIT_OK) {
		fprintf(stderr, "kdpctl: writing output: %s\n", strerror(errno));
		rc = KDPCTL_EXIT_BAD_ANSWER;
	}
	return rc;
}

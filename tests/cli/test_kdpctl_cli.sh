#!/usr/bin/env bash
# kdpctl without a daemon: --help on every command, usage errors, the exit
# codes scripts rely on (against a small fake daemon on a Unix socket that
# answers with canned bodies), the metrics listing of a Prometheus text, and
# the bash completion (tools/kdpctl/kdpctl.bash). No root, no lab.
#
#   tests/cli/test_kdpctl_cli.sh          (KDP_BUILD=<dir>, default build)
#
# Prints PASS/FAIL per check; the last line is "N passed, M failed"; exit 0
# only if every check passed.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KDP_BUILD=${KDP_BUILD:-build}
[[ $KDP_BUILD == /* ]] || KDP_BUILD=$REPO/$KDP_BUILD
KDPCTL=$KDP_BUILD/tools/kdpctl/kdpctl
COMPLETION=$REPO/tools/kdpctl/kdpctl.bash

PASSED=0
FAILED=0
TMP=$(mktemp -d /tmp/kdpctl-cli.XXXXXX)
FAKE_PID=

cleanup() {
	[[ -n $FAKE_PID ]] && kill "$FAKE_PID" 2>/dev/null && wait "$FAKE_PID" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

# check OK DESC DETAIL...: PASS if OK is 0.
check() {
	local ok=$1 desc=$2 l
	shift 2
	if [[ $ok == 0 ]]; then
		PASSED=$((PASSED + 1))
		printf 'PASS  %s\n' "$desc"
	else
		FAILED=$((FAILED + 1))
		printf 'FAIL  %s\n' "$desc"
		for l in "$@"; do printf '        %s\n' "$l"; done
	fi
}

# run ARGS...: kdpctl ARGS; sets RC, OUT and ERR.
RC=0 OUT='' ERR=''
run() {
	RC=0
	OUT=$("$KDPCTL" "$@" 2>"$TMP/err") || RC=$?
	ERR=$(<"$TMP/err")
}

# expect DESC WANT_RC STREAM REGEX ARGS...: kdpctl ARGS exits WANT_RC, STREAM
# (stdout or stderr) matches REGEX and the other stream is empty.
expect() {
	local desc=$1 want=$2 stream=$3 re=$4 ok=1 text other
	shift 4
	run "$@"
	if [[ $stream == stdout ]]; then text=$OUT other=$ERR; else text=$ERR other=$OUT; fi
	[[ $RC == "$want" && -z $other ]] && grep -qE -- "$re" <<<"$text" && ok=0
	check "$ok" "$desc" "kdpctl $*: exit $RC (want $want)" "stdout: ${OUT:0:400}" \
		"stderr: ${ERR:0:400}"
}

if [[ ! -x $KDPCTL ]]; then
	check 1 "kdpctl is built" "no $KDPCTL (tools/build.sh, or set KDP_BUILD)"
	echo "$PASSED passed, $FAILED failed"
	exit 1
fi

# ------------------------------------------------------------------ help

run --help
COMMANDS=$(awk '/^Commands:/ {on = 1; next} /^$/ {next} /^[^ ]/ {on = 0}
	on && /^  [a-z]/ {c = ""; for (i = 1; i <= NF && $i ~ /^[a-z]+$/; i++) c = c (c ? " " : "") $i; print c}' <<<"$OUT")
check "$([[ $RC == 0 && -z $ERR && -n $COMMANDS ]]; echo $?)" "kdpctl --help: exit 0, help on stdout" \
	"exit $RC" "stderr: $ERR"
expect "the help documents the exit codes" 0 stdout '^  4  connected, but no usable answer' --help
expect "the help lists kdpctl monitor and its options" 0 stdout \
	'monitor: --pod NS/NAME, --ip ADDR, --protocol PROTO, --verdict VERDICT' --help

while read -r cmd; do
	[[ $cmd == monitor ]] && continue # its own file, not always in this build
	# shellcheck disable=SC2086 # the command's words
	expect "kdpctl $cmd --help: exit 0, its usage on stdout" 0 stdout "^Usage: kdpctl .*$cmd" \
		$cmd --help
done <<<"$COMMANDS"
for group in $(cut -d' ' -f1 <<<"$COMMANDS" | sort | uniq -d); do
	expect "kdpctl $group --help lists its subcommands" 0 stdout "^  $group list" "$group" --help
done

# ------------------------------------------------------------------ usage errors

expect "unknown command: usage on stderr, exit 2" 2 stderr "^kdpctl: unknown command 'frob'" frob
expect "unknown subcommand: exit 2 with the group's usage" 2 stderr '^  service list' service frob
expect "a group without subcommand: exit 2" 2 stderr "'ct' needs a subcommand" ct
expect "unknown option: exit 2 with the command's usage" 2 stderr \
	'^Usage: kdpctl \[-s PATH\] \[--json\] ct list' ct list --bogus
expect "missing argument: exit 2" 2 stderr "'service get' takes NS/NAME" service get
expect "bad NS/NAME: exit 2" 2 stderr "must be NAMESPACE/NAME" service get webpod
expect "unknown output format: exit 2" 2 stderr "unknown output format 'yaml'" service list -o yaml
expect "-o on a command without wide columns: exit 2" 2 stderr "'lrp list' does not take -o" lrp list -o wide
expect "bad --proto value: exit 2" 2 stderr "--proto must be tcp, udp, icmp or icmpv6" ct list --proto sctp
expect "a missing -f FILE: exit 2" 2 stderr "'apply' needs -f FILE" apply
expect "an unreadable -f FILE: exit 2" 2 stderr "cannot open $TMP/none.json" -s "$TMP/none.sock" \
	apply -f "$TMP/none.json"
echo '{"nodes": [' >"$TMP/bad.json"
expect "an -f FILE that is not JSON: exit 2 with the line" 2 stderr "invalid JSON at line 2" \
	-s "$TMP/none.sock" apply -f "$TMP/bad.json"

# ------------------------------------------------------------------ the daemon

expect "no socket: exit 3 naming the socket" 3 stderr "cannot connect to kdp at $TMP/none.sock" \
	-s "$TMP/none.sock" status
: >"$TMP/file.sock"
expect "a socket path nobody listens on: exit 3" 3 stderr "cannot connect to kdp at $TMP/file.sock" \
	-s "$TMP/file.sock" node list
KDP_SOCKET=$TMP/env.sock expect "\$KDP_SOCKET is the default socket" 3 stderr "$TMP/env.sock" status

# A fake daemon: canned answers by path.
SOCK=$TMP/fake.sock
/usr/bin/python3 - "$SOCK" <<'PY' &
import http.server, socketserver, sys
METRICS = """# HELP kdp_nodes Nodes known from IPAM.
# TYPE kdp_nodes gauge
kdp_nodes 2
# HELP kdp_packets_total Packets by direction, all workers.
# TYPE kdp_packets_total counter
kdp_packets_total{direction="rx"} 41
kdp_packets_total{direction="tx"} 40
# TYPE kdp_nat_port_retries histogram
kdp_nat_port_retries_bucket{le="+Inf"} 3
kdp_weird{path="/v1/a\\"b",x="1"} 0.25
"""
ANSWERS = {
    "/v1/nodes": (200, "application/json",
                  '[{"name": "k8s-ctr", "ip": "192.168.10.100", "podCIDRs": ["172.20.1.0/24"], "local": true},'
                  ' {"name": "k8s-w1", "ip": "192.168.10.101", "podCIDRs": [], "local": false}]'),
    "/v1/services/default/nope": (404, "application/json", '{"error": "no service default/nope"}'),
    "/v1/routes": (200, "application/json", '{"not": "a list"}'),
    "/metrics": (200, "text/plain; version=0.0.4", METRICS),
    "/v1/status": (200, "text/plain", None),  # not HTTP: see below
    "/v1/monitor": (200, "text/plain", None),
}
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass
    def address_string(self):
        return "unix"
    def do_GET(self):
        code, ctype, body = ANSWERS.get(self.path, (404, "application/json", '{"error": "no such path"}'))
        if body is None:
            self.wfile.write(b"garbage\r\n\r\n")
            return
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
class S(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
S(sys.argv[1], H).serve_forever()
PY
FAKE_PID=$!
for _ in $(seq 50); do [[ -S $SOCK ]] && break; sleep 0.1; done

expect "a listing: exit 0, a table with capital headers and - for empty" 0 stdout \
	'^k8s-w1    192\.168\.10\.101   -               no$' -s "$SOCK" node list
expect "the header row of node list" 0 stdout '^NAME      IP               POD CIDRS       LOCAL$' \
	-s "$SOCK" node list
expect "--json prints the daemon's JSON, indented" 0 stdout '^      "172\.20\.1\.0/24"$' \
	-s "$SOCK" node list --json
expect "the daemon refuses: exit 1 and its message on stderr" 1 stderr \
	'^Error: no service default/nope \(HTTP 404\)$' -s "$SOCK" service get default/nope
expect "an answer that is not HTTP: exit 4" 4 stderr "bad answer from kdp at $SOCK" -s "$SOCK" status
expect "monitor, an answer that is not HTTP: exit 4" 4 stderr "bad answer from kdp at $SOCK" \
	-s "$SOCK" monitor -n 1
expect "monitor, no socket: exit 3 naming the socket" 3 stderr "cannot connect to kdp at $TMP/none.sock" \
	-s "$TMP/none.sock" monitor -n 1
expect "JSON of the wrong shape: exit 4" 4 stderr "unexpected answer from kdp at $SOCK to GET /v1/routes" \
	-s "$SOCK" route list

run -s "$SOCK" metrics
WANT_METRICS='NAME                          LABELS             VALUE
kdp_nodes                     -                  2
kdp_packets_total             direction=rx       41
kdp_packets_total             direction=tx       40
kdp_nat_port_retries_bucket   le=+Inf            3
kdp_weird                     path=/v1/a"b,x=1   0.25'
check "$([[ $RC == 0 && $OUT == "$WANT_METRICS" ]]; echo $?)" "metrics: the Prometheus text as a NAME, LABELS, VALUE table" \
	"exit $RC, got:" "$OUT" "want:" "$WANT_METRICS"
expect "metrics NAME keeps the metrics whose name contains NAME" 0 stdout \
	'^kdp_packets_total   direction=tx   40$' -s "$SOCK" metrics packets
expect "metrics -o wide adds the type (of the family for _bucket)" 0 stdout \
	'^kdp_nat_port_retries_bucket   histogram   le=\+Inf' -s "$SOCK" metrics -o wide
expect "-owide and --output=wide are -o wide" 0 stdout '^kdp_nodes   gauge   -        2$' \
	-s "$SOCK" metrics kdp_nodes -owide
expect "--output=wide" 0 stdout '^kdp_nodes   gauge   -        2$' -s "$SOCK" metrics kdp_nodes --output=wide
expect "metrics --json: one object per sample" 0 stdout '"type": "counter",' -s "$SOCK" metrics packets --json

# ------------------------------------------------------------------ completion

# complete LINE: COMPREPLY of the kdpctl completion for LINE (cursor at its end).
complete_line() {
	bash -c '
		source "$1"
		read -r -a COMP_WORDS <<<"$2"
		[[ $2 == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$2 COMP_POINT=${#2}
		_kdpctl kdpctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort | paste -sd" " -
	' _ "$COMPLETION" "$1"
}

# comp DESC LINE WANT: the completion of LINE is WANT (sorted words).
comp() {
	local got
	got=$(complete_line "$2")
	check "$([[ $got == "$3" ]]; echo $?)" "completion: $1" "'$2' -> '$got' (want '$3')"
}

comp "commands" "kdpctl s" "service stats status"
comp "subcommands" "kdpctl service " "delete get list put"
comp "options of ct list" "kdpctl ct list --p" "--proto"
comp "-o values" "kdpctl service list -o " "wide"
comp "--proto values" "kdpctl nat list --proto u" "udp"
comp "monitor options" "kdpctl monitor --v" "--verdict"
comp "after -s comes a path, then the command" "kdpctl -s /tmp/x.sock me" "metrics"
want=$(tr ' ' '\n' <<<"$(cut -d' ' -f1 <<<"$COMMANDS" | sort -u) monitor" | sort -u | paste -sd' ' -)
comp "every command of kdpctl --help, and monitor" "kdpctl " "$want"

# The README's table of drop reasons is the header's, row for row: stage,
# name and text, in pipeline order (an operator looks a counter up there).
drops_of_header() {
	python3 - "$REPO/lib/common/kdp_drop.h" <<'PY'
import re, sys
h = open(sys.argv[1]).read()
stage = dict(re.findall(r'_\((KDP_\w+_DROPS), "(\w+)"\)', h))
for macro, body in re.findall(r'#define (KDP_\w+_DROPS)\(_\)(.*?)(?=\n\n|\n/\*\*)', h, re.S):
    body = re.sub(r'\\\n\s*', ' ', body)
    rows = re.findall(r'_\(\w+,\s*"([a-z0-9_]+)",\s*"([^"]*)"\)', body)
    if len(rows) != len(re.findall(r'_\(\w+,', body)):
        sys.exit(f"{macro}: a reason this test cannot read")
    for name, text in rows:
        print(f"| {stage[macro]} | `{name}` | {text} |")
PY
}
want=$(drops_of_header)
got=$(sed -n '/^## Drop reasons$/,/^## /p' "$REPO/README.md" | grep -E '^\| [a-z]+ \| `')
check "$([[ -n $want && $got == "$want" ]]; echo $?)" \
	"README: the drop reasons table is lib/common/kdp_drop.h's ($(wc -l <<<"$want") reasons)" \
	"$(diff <(echo "$want") <(echo "$got") | head -20)"

echo "$PASSED passed, $FAILED failed"
((FAILED == 0))

#!/usr/bin/env bash
# End-to-end test: every kdpctl listing on the reference lab, compared with
# golden files (tests/e2e/golden/<name>.txt). Builds the lab in network
# namespaces, runs kdp on k8s-ctr and k8s-w1, PUTs the lab services, the
# ip-masq-agent config and the node-local DNS redirect policy (as the other
# e2e tests do), sends a little known traffic from curl-pod (a ping to a
# remote pod, HTTP to the ClusterIP and to the router, a DNS query to
# kube-dns), then runs each listing on k8s-ctr. Volatile fields (ages, expiry
# times, counters, uptime, MAC addresses) are replaced by placeholders by
# tests/e2e/kdpctl_normalize.py before the comparison; everything else
# (addresses, ports, names, types, backends, states) must match exactly. A
# mismatch prints a unified diff. It also checks kdpctl's exit codes.
#
#   sudo tests/e2e/test_kdpctl.sh                      (KDP_BUILD=<dir>, default build)
#   sudo KDP_GOLDEN_UPDATE=1 tests/e2e/test_kdpctl.sh  rewrite the golden files
#
# Prints PASS/FAIL per check with what was observed; the last line is
# "N passed, M failed"; exit 0 only if every check passed.
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

GOLDEN_DIR=${KDP_GOLDEN_DIR:-$LAB_REPO/tests/e2e/golden}
NORMALIZE=$LAB_REPO/tests/e2e/kdpctl_normalize.py
UPDATE=${KDP_GOLDEN_UPDATE:-0}

CLIENT_IP=172.20.1.236 # curl-pod on k8s-ctr
WEB_W1=172.20.0.130    # webpod-w1
SVC_IP=10.96.152.212   # default/webpod
DNS_IP=10.96.0.10      # kube-system/kube-dns (redirected to node-local DNS)
ROUTER_IP=$LAB_ROUTER_IP
DNS_NAME=webpod.default.svc.cluster.local

# Long lifetimes, so that no flow of the test expires before it is listed.
export KDP_LAB_CONFIG_EXTRA='{"conntrack":{"tcpSynSeconds":600,"tcpEstablishedSeconds":8000,"tcpCloseSeconds":600,"otherSeconds":600}}'

# The listings: golden name|kdpctl arguments (run on k8s-ctr). metrics is
# listed by name filters: the whole list grows with every new metric.
LISTINGS=(
	"status|status"
	"status-wide|status -o wide"
	"node-list|node list"
	"node-list-json|node list --json"
	"endpoint-list|endpoint list"
	"endpoint-list-wide|endpoint list -o wide"
	"route-list|route list"
	"route-list-wide|route list -o wide"
	"route-list-json|route list --json"
	"neigh-list|neigh list"
	"service-list|service list"
	"service-list-wide|service list -o wide"
	"service-list-json|service list --json"
	"service-get|service get default/webpod"
	"ct-list|ct list"
	"ct-list-wide|ct list -o wide"
	"ct-list-tcp|ct list --proto tcp --ip $SVC_IP"
	"nat-list|nat list"
	"nat-list-wide|nat list -o wide"
	"ipmasq-list|ipmasq list"
	"ipmasq-list-wide|ipmasq list -o wide"
	"ipmasq-list-json|ipmasq list --json"
	"ipmasq-get|ipmasq get"
	"lrp-list|lrp list"
	"lrp-list-json|lrp list --json"
	"lrp-get|lrp get kube-system/nodelocaldns"
	"stats|stats --all"
	"metrics-port|metrics kdp_port"
	"metrics-nat-wide|metrics kdp_nat -o wide"
	"metrics-filter|metrics kdp_service"
	"metrics-json|metrics kdp_nodes --json"
)

# ------------------------------------------------------------------ setup

start_apps() {
	local ns
	for ns in $(lab_pods_with_label app=webpod); do
		lab_webpod_start "$ns" || return 1
	done
	for ns in $(lab_pods_with_label k8s-app=kube-dns) $(lab_pods_with_label k8s-app=node-local-dns); do
		lab_coredns_start "$ns" || return 1
	done
	lab_router_http_start
}

setup() {
	local out
	e2e_lab_up || return 1
	# The node-local DNS pods answer themselves (as the CoreDNS pods do)
	# instead of forwarding upstream from a random port, so that the flows
	# listed are only those of the traffic below.
	if ! out=$(start_apps 2>&1); then
		fail "setup: HTTP servers (webpods, router), dnsmasq (CoreDNS, node-local DNS)" "$out"
		return 1
	fi
	if ! out=$(lab_services_apply 2>&1 && lab_ipmasq_apply 2>&1 &&
		lab_lrp_put kube-system/nodelocaldns "$LAB_LRP_NODELOCAL" 2>&1); then
		fail "setup: PUT the lab services, the ip-masq-agent config and the DNS redirect policy" "$out"
		return 1
	fi
	echo "setup: lab up, kdp on $(lab_node_names | paste -sd, -), services, ipmasq and lrp applied"
}

# traffic: the flows the listings show, each from a fixed client port.
traffic() {
	local out ok=0 res=()
	out=$(lab_ping curl-pod "$WEB_W1") || ok=1
	res+=("ping $WEB_W1: $(lab_ping_summary <<<"$out")")
	out=$(ip netns exec kdp-curl-pod curl -s --connect-timeout 3 -m 5 --local-port 41000 \
		"http://$SVC_IP/" 2>&1) || ok=1
	res+=("curl http://$SVC_IP/ from port 41000: ${out:-no answer}")
	out=$(ip netns exec kdp-curl-pod curl -s --connect-timeout 3 -m 5 --local-port 41001 \
		"http://$ROUTER_IP/" 2>&1) || ok=1
	res+=("curl http://$ROUTER_IP/ from port 41001: ${out:-no answer}")
	out=$(ip netns exec kdp-curl-pod dig +short +tries=2 +timeout=2 -b "$CLIENT_IP#41002" \
		"@$DNS_IP" "$DNS_NAME" A 2>&1) || ok=1
	[[ $out == "$SVC_IP" ]] || ok=1
	res+=("dig @$DNS_IP $DNS_NAME from port 41002: ${out:-no answer}")
	verdict "$ok" "traffic from curl-pod: ping, HTTP to the ClusterIP and the router, DNS to kube-dns" "${res[@]}"
}

# ------------------------------------------------------------------ checks

# golden NAME ARGS...: kdpctl ARGS on k8s-ctr, normalized, against NAME.txt.
golden() {
	local name=$1 out rc=0 file norm diff lines
	shift
	file=$GOLDEN_DIR/$name.txt
	out=$(lab_kdpctl k8s-ctr "$@" 2>&1) || rc=$?
	norm=$(printf '%s\n' "$out" | "$LAB_PY" "$NORMALIZE")
	if ((rc != 0)); then
		fail "golden $name: kdpctl $*" "exit $rc" "$out"
		return
	fi
	if [[ $UPDATE == 1 ]]; then
		mkdir -p "$GOLDEN_DIR"
		printf '%s\n' "$norm" >"$file"
		pass "golden $name: kdpctl $* (written)" "$file"
		return
	fi
	if [[ ! -f $file ]]; then
		fail "golden $name: kdpctl $*" "no $file (KDP_GOLDEN_UPDATE=1 writes it)"
		return
	fi
	if diff=$(diff -u --label "$name.txt (golden)" --label "kdpctl $* (normalized)" \
		"$file" <(printf '%s\n' "$norm")); then
		pass "golden $name: kdpctl $*"
	else
		mapfile -t lines <<<"$diff"
		fail "golden $name: kdpctl $*" "${lines[@]}"
	fi
}

check_goldens() {
	local row
	for row in "${LISTINGS[@]}"; do
		# shellcheck disable=SC2086 # the arguments are words
		golden "${row%%|*}" ${row#*|}
	done
}

# exit_code DESC WANT STREAM PATTERN ARGS...: kdpctl ARGS exits with WANT and
# its STREAM (stdout or stderr) matches the extended regex PATTERN.
exit_code() {
	local desc=$1 want=$2 stream=$3 pattern=$4 rc=0 out err ok=1
	shift 4
	out=$("$LAB_KDPCTL_BIN" "$@" 2>"$KDP_LAB_DIR/kdpctl-err.txt") || rc=$?
	err=$(<"$KDP_LAB_DIR/kdpctl-err.txt")
	if [[ $stream == stdout ]]; then
		[[ $rc == "$want" ]] && grep -qE -- "$pattern" <<<"$out" && ok=0
	else
		[[ $rc == "$want" && -z $out ]] && grep -qE -- "$pattern" <<<"$err" && ok=0
	fi
	verdict "$ok" "$desc" "kdpctl $*: exit $rc (want $want)" \
		"stdout: $(head -c 300 <<<"$out")" "stderr: $(head -c 300 <<<"$err")"
}

check_exit_codes() {
	local sock
	sock=$(lab_sock k8s-ctr)
	exit_code "exit 1 and the daemon's message when it refuses a request" 1 stderr \
		'^Error: .*default/nope.* \(HTTP 404\)$' -s "$sock" service get default/nope
	exit_code "exit 3 naming the socket when nothing listens there" 3 stderr \
		"$KDP_LAB_DIR/nope.sock" -s "$KDP_LAB_DIR/nope.sock" status
	exit_code "exit 2 and usage on stderr for an unknown subcommand" 2 stderr \
		'^Usage: ' -s "$sock" service frob
	exit_code "exit 0 and help on stdout with --help" 0 stdout \
		'^Exit status:' --help
}

main() {
	setup || return
	traffic
	check_goldens
	check_exit_codes
	FINISHED=1
}

main

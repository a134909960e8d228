#!/usr/bin/env bash
# End-to-end test: 250 pods on one node. The reference lab, then 246 more
# pods on k8s-ctr (network namespaces with veths, made in bulk), each one its
# own net_kdp_afp port attached through the API: with the lab's 4 pods of
# k8s-ctr, 250 endpoints on one kdp. Every new pod pings the webpod on the
# other node and fetches the webpod ClusterIP; then 20 pods are deleted and
# 20 others added (API DELETE/PUT) while 5 pods ping the other node every
# 20 ms and one fetches the ClusterIP in a loop: none of them may lose a
# packet or a fetch.
#
#   sudo tests/e2e/test_pods.sh     (KDP_BUILD=<dir>; PODS_EXTRA=N, 246)
#
# The last line is "N passed, M failed"; exit 0 only if every check passed.
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

EXTRA=${PODS_EXTRA:-246}
OTHER_POD=172.20.0.130 # webpod on k8s-w1
VIP=10.96.152.212
CHURN=20
ROWS=()  # the extra pods, LAB_PODS-style rows
SPARE=() # rows of the pods added under traffic

# Addresses of k8s-ctr's podCIDR the lab does not use, in order.
free_ips() {
	local used=" " row f i
	for row in "${LAB_PODS[@]}"; do
		IFS='|' read -r -a f <<<"$row"
		used+="${f[2]} "
	done
	for ((i = 1; i <= 254; i++)); do
		[[ $used == *" 172.20.1.$i "* ]] || echo "172.20.1.$i"
	done
}

e2e_cleanup() {
	lab_pods_bulk_down "${ROWS[@]}" "${SPARE[@]}"
}

# put_pods ROW...: PUT an endpoint for each; prints the failures.
put_pods() {
	local path body
	while read -r path body; do
		lab_api k8s-ctr PUT "$path" "$body" >/dev/null 2>&1 || echo "$path: HTTP $LAB_API_CODE"
	done < <(lab_pods_endpoints_json "$@")
}

# in_parallel N CMD: runs CMD (with {} replaced by a pod netns) for every
# pod of ROWS, N at a time; prints the netns of those that failed.
in_parallel() {
	local n=$1 cmd=$2 row
	for row in "${ROWS[@]}"; do printf '%s\n' "${row%%|*}"; done |
		xargs -P "$n" -I{} sh -c "{ $cmd; } >/dev/null 2>&1 || echo {}"
}

setup() {
	local ips i out
	e2e_lab_services_up || return 1
	mapfile -t ips < <(free_ips)
	if ((${#ips[@]} < EXTRA)); then
		fail "setup: only ${#ips[@]} free addresses in 172.20.1.0/24 for $EXTRA pods"
		return 1
	fi
	for ((i = 0; i < EXTRA; i++)); do
		ROWS+=("kdp-p$i|k8s-ctr|${ips[i]}|lxc-p$i|default|pod-$i|app=many")
	done
	if ! out=$(lab_pods_bulk_up "${ROWS[@]}" 2>&1); then
		fail "setup: $EXTRA pod namespaces" "$out"
		return 1
	fi
}

check_attach() {
	local t0 t1 bad n
	t0=$(date +%s%N)
	bad=$(put_pods "${ROWS[@]}")
	t1=$(date +%s%N)
	n=$(lab_api k8s-ctr GET /v1/status | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin)["ports"] if p["role"] == "endpoint"))')
	verdict "$([[ -z $bad && $n -eq $((EXTRA + 4)) ]] && echo 0 || echo 1)" \
		"a1. $EXTRA pods attached through the API: $n endpoint ports on k8s-ctr" \
		"$(((t1 - t0) / 1000000)) ms for the PUTs" "${bad:0:300}"
}

check_traffic() {
	local bad
	# The first packet of a pod waits for ARP: a retry, as lab_ping does.
	bad=$(in_parallel 16 "ip netns exec {} ping -n -c1 -W2 $OTHER_POD || ip netns exec {} ping -n -c2 -W2 $OTHER_POD")
	verdict "$([[ -z $bad ]] && echo 0 || echo 1)" \
		"b1. every one of the $EXTRA pods pings $OTHER_POD (webpod on k8s-w1)" \
		"failed: $(wc -w <<<"$bad") ${bad:0:200}"
	bad=$(in_parallel 16 "ip netns exec {} curl -sf --max-time 5 http://$VIP/")
	verdict "$([[ -z $bad ]] && echo 0 || echo 1)" \
		"b2. every one of the $EXTRA pods fetches http://$VIP/ (webpod ClusterIP)" \
		"failed: $(wc -w <<<"$bad") ${bad:0:200}"
}

check_churn() {
	local i row f pids=() ips del=() out rc lost=0 sent=0 fetch_ok fetch_bad bad errs=''
	local keep=("${ROWS[@]:0:5}") dir=$KDP_LAB_DIR/pods
	mkdir -p "$dir"
	# Senders: 5 pods pinging the other node, one fetching the ClusterIP.
	for row in "${keep[@]}"; do
		ip netns exec "${row%%|*}" ping -n -q -i 0.02 -c 500 -W 1 "$OTHER_POD" >"$dir/${row%%|*}.ping" 2>&1 &
		pids+=($!)
		BG_PIDS+=($!)
	done
	ip netns exec "${keep[0]%%|*}" sh -c "ok=0 bad=0; for i in \$(seq 150); do
		if curl -sf --max-time 3 http://$VIP/ >/dev/null; then ok=\$((ok+1)); else bad=\$((bad+1)); fi
		sleep 0.05; done; echo \$ok \$bad" >"$dir/fetch" 2>&1 &
	pids+=($!)
	BG_PIDS+=($!)
	sleep 1
	# Delete CHURN pods (the last ones), add CHURN new ones on their addresses.
	del=("${ROWS[@]: -CHURN}")
	for row in "${del[@]}"; do
		IFS='|' read -r -a f <<<"$row"
		lab_api k8s-ctr DELETE "/v1/endpoints/${f[4]}/${f[5]}" >/dev/null 2>&1 ||
			errs+="DELETE ${f[5]}: $LAB_API_CODE "
	done
	lab_pods_bulk_down "${del[@]}"
	for row in "${del[@]}"; do
		IFS='|' read -r -a f <<<"$row"
		SPARE+=("kdp-q${f[0]#kdp-p}|k8s-ctr|${f[2]}|lxc-q${f[0]#kdp-p}|default|new-${f[5]}|app=many")
	done
	out=$(lab_pods_bulk_up "${SPARE[@]}" 2>&1) || errs+="bulk up: $out "
	errs+=$(put_pods "${SPARE[@]}")
	rc=0
	for i in "${pids[@]}"; do wait "$i" || rc=1; done
	for row in "${keep[@]}"; do
		out=$(grep 'packets transmitted' "$dir/${row%%|*}.ping")
		sent=$((sent + $(awk '{print $1}' <<<"$out")))
		lost=$((lost + $(awk '{print $1 - $4}' <<<"$out")))
	done
	read -r fetch_ok fetch_bad <"$dir/fetch"
	verdict "$([[ -z $errs && $lost -eq 0 && $sent -eq 2500 && $fetch_bad -eq 0 ]] && echo 0 || echo 1)" \
		"c1. $CHURN pods deleted and $CHURN added under traffic: the others lose nothing" \
		"pings lost $lost of $sent (5 pods, 20 ms apart), ClusterIP fetches $fetch_ok ok, $fetch_bad failed" \
		"${errs:0:300}"
	# The new pods work.
	bad=''
	for row in "${SPARE[@]}"; do
		ip netns exec "${row%%|*}" ping -n -c1 -W2 "$OTHER_POD" >/dev/null 2>&1 ||
			ip netns exec "${row%%|*}" ping -n -c2 -W2 "$OTHER_POD" >/dev/null 2>&1 || bad+="${row%%|*} "
	done
	verdict "$([[ -z $bad ]] && echo 0 || echo 1)" "c2. the $CHURN new pods ping $OTHER_POD" "failed: ${bad:-none}"
}

check_memory() {
	local pid rss
	pid=$(lab_kdp_pid k8s-ctr) || { fail "d1. kdp on k8s-ctr runs"; return; }
	rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
	verdict 0 "d1. kdp on k8s-ctr still runs with $((EXTRA + 4)) endpoints" "RSS $((rss / 1024)) MiB"
}

if setup; then
	check_attach
	check_traffic
	check_churn
	check_memory
fi
FINISHED=1

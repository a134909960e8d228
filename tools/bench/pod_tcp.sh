#!/bin/bash
# Pod TCP throughput on the reference lab: iperf3 (one stream) from curl-pod
# to a pod on the other node, to a pod on the same node and to a ClusterIP
# (backend on the other node), first with each node's kernel routing the lab
# (lab_kernel_routing_up: forwarding, proxy ARP, an iptables DNAT rule), then
# with kdp, in one run. Every veth keeps the kernel's default offloads.
#
#   flock /tmp/kdp-lab.lock tools/bench/pod_tcp.sh [SECONDS] [MODES]
#
# SECONDS per iperf3 run (5), MODES "kernel kdp" (either or both). Prints one
# JSON line per run: {"mode", "path", "gbps", "retransmits", "seconds",
# "rxKernelDrops"} (rxKernelDrops: kdp only, net_kdp_afp's rx_kernel_drops
# summed over both nodes' ports). KDP_BENCH_PERF=DIR records each kdp run of
# k8s-ctr's kdp with perf into DIR/podtcp-PATH.data. Needs root; builds and
# removes the lab (LAB_* as in tools/lab/lib.sh; KDP_LAB_WORKERS, 1 here).
set -uo pipefail
# shellcheck source=tools/lab/lib.sh
source "$(dirname "$0")/../lab/lib.sh"

SECONDS_RUN=${1:-5}
MODES=${2:-kernel kdp}
export KDP_LAB_WORKERS=${KDP_LAB_WORKERS:-1}
VIP=10.96.100.10
PORT=5201
SRC=kdp-curl-pod
REMOTE=kdp-webpod-w1
LOCAL=kdp-webpod-ctr
LAB_KERNEL_DNAT=("$VIP:$PORT/tcp=$(lab_pod_ip "$REMOTE"):$PORT")

die() {
	echo "pod_tcp: $*" >&2
	exit 1
}
trap 'lab_down >/dev/null 2>&1' EXIT
command -v iperf3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null ||
	die "iperf3 is missing"

# drops NODE...: rx_kernel_drops summed over the nodes' ports.
drops() {
	local n sum=0 v
	for n; do
		v=$(lab_api "$n" GET /v1/status | python3 -c '
import json, sys
print(sum(p.get("driverCounters", {}).get("rx_kernel_drops", 0) for p in json.load(sys.stdin)["ports"]))')
		sum=$((sum + v))
	done
	echo "$sum"
}

run() { # run MODE PATH DST
	local mode=$1 path=$2 dst=$3 out d0=0 d1=0 rec=
	if [[ $mode == kdp ]]; then
		d0=$(drops k8s-ctr k8s-w1)
		if [[ -n ${KDP_BENCH_PERF:-} ]]; then
			mkdir -p "$KDP_BENCH_PERF"
			perf record -q -g -p "$(lab_kdp_pid k8s-ctr)" -o "$KDP_BENCH_PERF/podtcp-$path.data" \
				-- sleep "$SECONDS_RUN" >/dev/null 2>&1 &
			rec=$!
		fi
	fi
	out=$(ip netns exec "$SRC" iperf3 -c "$dst" -p "$PORT" -t "$SECONDS_RUN" -J 2>&1) ||
		die "$mode $path: iperf3 to $dst failed: $(tail -c 300 <<<"$out")"
	[[ -n $rec ]] && wait "$rec"
	[[ $mode == kdp ]] && d1=$(drops k8s-ctr k8s-w1)
	python3 -c '
import json, sys
r = json.loads(sys.argv[1])
e = r["end"]
print(json.dumps({"mode": sys.argv[2], "path": sys.argv[3],
                  "gbps": round(e["sum_received"]["bits_per_second"] / 1e9, 3),
                  "retransmits": e["sum_sent"].get("retransmits", 0),
                  "seconds": round(e["sum_received"]["seconds"], 2),
                  "rxKernelDrops": int(sys.argv[4])}))' "$out" "$mode" "$path" "$((d1 - d0))"
}

for mode in $MODES; do
	lab_down >/dev/null 2>&1
	lab_topology_up >/dev/null || die "topology"
	if [[ $mode == kernel ]]; then
		lab_kernel_routing_up || die "kernel routing"
	else
		for n in k8s-ctr k8s-w1; do
			lab_kdp_config "$n" && lab_kdp_start "$n" && lab_apply "$n" >/dev/null ||
				die "kdp on $n"
		done
		body=$(lab_service_json ClusterIP "$VIP" "iperf:TCP:$PORT:$PORT" "") || die "service"
		body=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); s["backends"]=[{"ip": sys.argv[2]}]; print(json.dumps(s))' \
			"$body" "$(lab_pod_ip "$REMOTE")")
		lab_service_put default/iperf "$body" || die "service put"
	fi
	for p in "$REMOTE" "$LOCAL"; do
		lab_pod_spawn "$p" iperf iperf3 -s -B "$(lab_pod_ip "$p")" -p "$PORT" || die "iperf3 -s"
		_lab_wait_listening "$p" tcp "$PORT" iperf || die "iperf3 -s in $p"
	done
	lab_ping "$SRC" "$(lab_pod_ip "$REMOTE")" >/dev/null || die "$mode: no ping to $REMOTE"
	lab_ping "$SRC" "$(lab_pod_ip "$LOCAL")" >/dev/null || die "$mode: no ping to $LOCAL"
	run "$mode" remote "$(lab_pod_ip "$REMOTE")"
	run "$mode" local "$(lab_pod_ip "$LOCAL")"
	run "$mode" clusterip "$VIP"
done

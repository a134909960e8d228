#!/bin/bash
# Pods per node: the time to attach one pod (PUT /v1/endpoints to the first
# packet forwarded for it) with 10, 100 and 250 pods on k8s-ctr, and kdp's
# memory per pod. On the reference lab; extra pods are made in bulk
# (lab_pods_bulk_up).
#
#   flock /tmp/kdp-lab.lock tools/bench/pods_attach.sh [COUNTS] [ROUNDS]
#
# COUNTS "10 100 250" (pods on the node, the lab's 4 included, when the
# measured one is attached), ROUNDS 3 per count. How one attach is timed:
# the new pod already pings the webpod on k8s-w1 every 2 ms (its gateway's
# MAC set statically, so no ARP retry timer is measured); the clock starts
# just before the PUT and stops at the first echo reply the pod gets. Prints
# one JSON line per count: {"pods", "attachMs" (median), "attachMsAll",
# "putMs" (median), "rssMiB"}, then {"memoryPerPodKiB", "ringKiBPerPod"}:
# kdp's RSS growth per pod from the smallest to the largest count, and what
# its net_kdp_afp rings take (one RX ring of 512 slots, a TX ring of 128 per
# worker, 2 KiB slots: kdp's defaults for a pod).
# "podTcpGbps": iperf3 (3 s, one stream) curl-pod -> webpod on k8s-w1 with
# that many pods attached and idle: what polling them costs a busy port.
# "cyclesPerPacket": the workers' busy cycles per packet while curl-pod
# pings the other node 200 times per second: each packet wakes a sleeping
# worker, which polls every queue it owns, so the growth from 10 to 250
# pods over the pods added is what one idle pod costs a loop
# ("idlePollCycles" in the last line). KDP_BENCH_PERF=DIR records k8s-ctr's
# kdp with perf during the attaches at the largest count (DIR/attach.data).
set -uo pipefail
# shellcheck source=tools/lab/lib.sh
source "$(dirname "$0")/../lab/lib.sh"

COUNTS=${1:-10 100 250}
ROUNDS=${2:-3}
OTHER_POD=172.20.0.130
ROWS=()
trap 'lab_pods_bulk_down "${ROWS[@]}" >/dev/null 2>&1; lab_down >/dev/null 2>&1' EXIT

die() {
	echo "pods_attach: $*" >&2
	exit 1
}
now_ms() { date +%s%3N; }
rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$(lab_kdp_pid k8s-ctr)/status"; }

lab_down >/dev/null 2>&1
lab_topology_up >/dev/null || die "topology"
for n in k8s-ctr k8s-w1; do
	lab_kdp_config "$n" && lab_kdp_start "$n" && lab_apply "$n" >/dev/null || die "kdp on $n"
done
lab_ping curl-pod "$OTHER_POD" >/dev/null || die "no ping from curl-pod"
command -v iperf3 >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3 >/dev/null ||
	die "iperf3 is missing"
lab_pod_spawn kdp-webpod-w1 iperf iperf3 -s -B "$OTHER_POD" -p 5201 || die "iperf3 -s"
_lab_wait_listening kdp-webpod-w1 tcp 5201 iperf || die "iperf3 -s"
loop_cycles() { # busy cycles per received packet of all workers during pings
	local a b
	a=$(lab_api k8s-ctr GET /v1/stats)
	ip netns exec kdp-curl-pod ping -n -q -i 0.005 -c 200 "$OTHER_POD" >/dev/null 2>&1
	b=$(lab_api k8s-ctr GET /v1/stats)
	python3 -c '
import json, sys
a, b = json.loads(sys.argv[1])["workers"], json.loads(sys.argv[2])["workers"]
busy = sum(y["busyCycles"] - x["busyCycles"] for x, y in zip(a, b))
pk = sum(y["rxPackets"] - x["rxPackets"] for x, y in zip(a, b))
print(round(busy / pk) if pk else 0)' "$a" "$b"
}
tcp_gbps() {
	ip netns exec kdp-curl-pod iperf3 -c "$OTHER_POD" -p 5201 -t 3 -J 2>/dev/null |
		python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"] / 1e9, 2))'
}
KDP_MAC=$(lab_api k8s-ctr GET /v1/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["mac"])')
WORKERS=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get("workers", 1))' "$(lab_cfg k8s-ctr)")
mapfile -t IPS < <(for ((i = 1; i <= 254; i++)); do
	case " 236 40 144 13 " in *" $i "*) ;; *) echo "172.20.1.$i" ;; esac
done)
have=4 # the lab's pods on k8s-ctr
declare -A RSS=() CYC=()

# attach_one ROW: ms from the PUT to the first echo reply; "PUTMS ATTACHMS".
attach_one() {
	local row=$1 f path body t0 t1 t2 first log=$KDP_LAB_DIR/attach.ping pid
	IFS='|' read -r -a f <<<"$row"
	lab_pods_bulk_up "$row" || return 1
	ip -n "${f[0]}" neigh replace "$LAB_POD_GATEWAY" lladdr "$KDP_MAC" dev eth0 nud permanent || return 1
	ip netns exec "${f[0]}" ping -D -n -i 0.002 -c 2500 -W 1 "$OTHER_POD" >"$log" 2>&1 &
	pid=$!
	sleep 0.1
	read -r path body < <(lab_pods_endpoints_json "$row")
	t0=$(date +%s.%N)
	lab_api k8s-ctr PUT "$path" "$body" >/dev/null || { kill "$pid"; return 1; }
	t1=$(date +%s.%N)
	for ((i = 0; i < 250; i++)); do
		first=$(grep -m1 -o '^\[[0-9.]*\] 64 bytes' "$log" | tr -d '[]' | cut -d' ' -f1)
		[[ -n $first ]] && break
		sleep 0.02
	done
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	[[ -n $first ]] || return 1
	python3 -c 'import sys; t0, t1, t2 = map(float, sys.argv[1:]); print("%.1f %.1f" % ((t1 - t0) * 1e3, (t2 - t0) * 1e3))' \
		"$t0" "$t1" "$first"
}

for count in $COUNTS; do
	# grow to count - 1 pods, then time the attach of one more, ROUNDS times
	add=()
	while ((have + ${#add[@]} < count - 1)); do
		i=$((${#ROWS[@]} + ${#add[@]}))
		add+=("kdp-p$i|k8s-ctr|${IPS[i]}|lxc-p$i|default|pod-$i|app=many")
	done
	if ((${#add[@]} > 0)); then
		lab_pods_bulk_up "${add[@]}" || die "bulk pods"
		ROWS+=("${add[@]}")
		while read -r path body; do
			lab_api k8s-ctr PUT "$path" "$body" >/dev/null || die "PUT $path"
		done < <(lab_pods_endpoints_json "${add[@]}")
		have=$((have + ${#add[@]}))
	fi
	puts=() attaches=() rec=
	if [[ -n ${KDP_BENCH_PERF:-} && $count == "${COUNTS##* }" ]]; then
		mkdir -p "$KDP_BENCH_PERF"
		perf record -q -g -p "$(lab_kdp_pid k8s-ctr)" -o "$KDP_BENCH_PERF/attach.data" >/dev/null 2>&1 &
		rec=$!
		sleep 0.5
	fi
	for ((r = 0; r < ROUNDS; r++)); do
		i=${#ROWS[@]}
		row="kdp-p$i|k8s-ctr|${IPS[i]}|lxc-p$i|default|pod-$i|app=many"
		read -r put att < <(attach_one "$row") || die "attach at $count pods"
		puts+=("$put") attaches+=("$att")
		if ((r + 1 < ROUNDS)); then
			lab_api k8s-ctr DELETE "/v1/endpoints/default/pod-$i" >/dev/null || die "DELETE"
			lab_pods_bulk_down "$row"
		else
			ROWS+=("$row")
			have=$((have + 1))
		fi
	done
	if [[ -n $rec ]]; then
		kill -INT "$rec" 2>/dev/null
		wait "$rec" 2>/dev/null
	fi
	sleep 1
	RSS[$count]=$(rss_kib)
	gbps=$(tcp_gbps) || gbps=0
	CYC[$count]=$(loop_cycles) || CYC[$count]=0
	python3 -c '
import json, statistics, sys
n, rss, gbps, cyc = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[5]), int(sys.argv[6])
puts = [float(x) for x in sys.argv[3].split()]
att = [float(x) for x in sys.argv[4].split()]
print(json.dumps({"pods": n, "attachMs": statistics.median(att), "attachMsAll": att,
                  "putMs": statistics.median(puts), "rssMiB": round(rss / 1024, 1),
                  "podTcpGbps": gbps, "cyclesPerPacket": cyc}))' \
		"$count" "${RSS[$count]}" "${puts[*]}" "${attaches[*]}" "$gbps" "${CYC[$count]}"
done
set -- $COUNTS
lo=$1
hi=${!#}
python3 -c '
import json, sys
lo, hi, rlo, rhi, workers, clo, chi = map(int, sys.argv[1:8])
print(json.dumps({"memoryPerPodKiB": round((rhi - rlo) / (hi - lo)) if hi > lo else None,
                  "ringKiBPerPod": (512 + workers * 128) * 2048 // 1024, "workers": workers,
                  "idlePollCycles": round((chi - clo) / (hi - lo), 1) if hi > lo else None}))' \
	"$lo" "$hi" "${RSS[$lo]}" "${RSS[$hi]}" "$WORKERS" "${CYC[$lo]}" "${CYC[$hi]}"

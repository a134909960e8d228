#!/bin/bash
# Benchmark smoke run for CI: each benchmark runs for about a second so the
# suite never rots. It prints the figures but checks no threshold.
set -uo pipefail
cd "$(dirname "$0")/../.."
b=${KDP_BUILD:-build}
passed=0
failed=0
run() {
	echo "--- $*"
	if "$@"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}
run "$b/tools/bench/kdp-bench-pipeline" -f 10000 -s 0.5
run "$b/tools/bench/kdp-bench-pipeline" -f 10000 -s 0.3 -c partial-sw -b 1518
run "$b/tools/bench/kdp-bench-pipeline" -S dnat -f 10000 -s 0.3 -w 2 -T shared
run env KDP_BUILD="$b" tools/bench/kdp-bench --quick
run env KDP_BUILD="$b" tools/bench/kdp-bench --quick --io replay --scenarios routing,dnat \
	--skip roundtrip,apply,newflows,scaling
run "$b/pkt-gen/kdp-pktgen" generate --port net_null0,no-rx=1 --flows 10000 \
	--src 172.20.1.1-172.20.1.100 --dst 10.96.152.212 --dport 80 --duration 1 -- \
	--no-pci --no-huge -m 256 --no-telemetry -l 0 "--file-prefix=kdp-smoke-$$"
rm -rf "/var/run/dpdk/kdp-smoke-$$" # kdp-pktgen leaves its EAL runtime directory
run tools/bench/api-bench --build "$b" --services 300 --count 20 --batch 5
run "$b/tools/bench/kdp-bench-cpu-stalls" -s 0.2 0 1
run "$b/tools/bench/kdp-bench-memory" -s 0.2 -m 8 -k 2 0 1
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

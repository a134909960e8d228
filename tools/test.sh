#!/bin/bash
# Runs every test: unit (CUnit) and functional (net_pcap) tests, the same
# again built with ASan+UBSan, then the end-to-end tests on the reference lab
# in network namespaces (four of them again with the ASan+UBSan kdp). Installs and builds what is missing first.
# The last line sums every check of every suite: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
logdir=${KDP_TEST_LOGS:-/tmp/kdp-test-logs}
mkdir -p "$logdir"
# "tests/FILE CHECKS" of each test file's first run, for the README's counts.
counts=$logdir/check-counts
: >"$counts"

# counted NAME CMD...: runs a suite, shows its output, adds its counts.
counted() {
	local name=$1 log="$logdir/${1//[^a-zA-Z0-9]/_}.log" rc p f line
	shift
	echo "=== $name"
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	# CUnit: "tests  TOTAL  RAN  PASSED  FAILED  INACTIVE"; others: "N passed, M failed"
	if line=$(grep -E '^ +tests +[0-9]+' "$log" | tail -1) && [[ -n $line ]]; then
		p=$(awk '{print $4}' <<<"$line")
		f=$(awk '{print $5}' <<<"$line")
	elif line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1) && [[ -n $line ]]; then
		p=${line%% passed*}
		f=${line#*passed, }
		f=${f%% failed*}
	else
		p=0
		f=1
	fi
	local a
	for a in "$@"; do
		if [[ $a == tests/*.sh || $a == tests/*.py ]] && ! grep -q "^$a " "$counts"; then
			echo "$a $((p + f))" >>"$counts" # before a bad exit counts as one more
		fi
	done
	if [[ $rc -ne 0 && $f -eq 0 ]]; then
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [[ $f -ne 0 ]]; then
		failures+=("$name (exit $rc, log $log)")
	fi
	echo "=== $name: $p passed, $f failed"
}

tools/install-deps.sh || exit 1
KDP_BUILD=build tools/build.sh || exit 1
KDP_BUILD=build-asan tools/build.sh -Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug || exit 1

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1
for b in build build-asan; do
	counted "unit ($b)" "$b/tests/unit/kdp-unit-tests"
	counted "kdp-agent translation, unit ($b)" "$b/tests/agent/kdp-agent-unit-tests"
	counted "functional pcap ($b)" /usr/bin/python3 tests/func/test_pcap.py "$b/src/kdp"
	counted "functional pcap, IPv6 ($b)" /usr/bin/python3 tests/func/test_pcap6.py "$b/src/kdp"
	counted "bad packets ($b)" /usr/bin/python3 tests/func/test_badpkts.py "$b/src/kdp"
	counted "worker stalls and control ticks ($b)" /usr/bin/python3 tests/func/test_worker.py "$b/src/kdp"
	counted "control socket security ($b)" /usr/bin/python3 tests/func/test_security.py "$b/src/kdp"
	counted "state file and journal ($b)" /usr/bin/python3 tests/func/test_persist.py "$b/src/kdp"
	counted "state file under kill -9 ($b)" /usr/bin/python3 tests/func/test_crash_save.py "$b/src/kdp"
	counted "flow state across restarts ($b)" /usr/bin/python3 tests/func/test_flowstate.py "$b/src/kdp"
	counted "frontend ids reused ($b)" /usr/bin/python3 tests/func/test_feid.py "$b/src/kdp"
	counted "flow monitor ($b)" /usr/bin/python3 tests/func/test_monitor.py "$b/src/kdp"
	counted "offloaded frames through net_kdp_afp ($b)" /usr/bin/python3 tests/func/test_offload.py "$b/src/kdp"
	counted "traffic policies, health checks, batches ($b)" /usr/bin/python3 tests/func/test_policies.py "$b/src/kdp"
done
counted "kdpctl CLI (help, exit codes, metrics, completion)" env KDP_BUILD=build tests/cli/test_kdpctl_cli.sh
counted "kdp-cni (as kubelet runs it, host-local, pings through kdp)" env KDP_BUILD=build tests/cni/test_cni.sh
counted "deploy manifests (kubectl 1.20 client dry run)" env KDP_BUILD=build tests/deploy/test_manifests.sh
# Lab tests and benchmarks take the machine's lab lock, one at a time (the
# lab's namespaces have fixed names; a benchmark wants the cores to itself),
# unless a process this one runs under holds it already (`flock
# /tmp/kdp-lab.lock tools/test.sh`): flock locks do not nest.
lock_held_above() {
	local ino pid p
	ino=$(stat -c %i /tmp/kdp-lab.lock 2>/dev/null) || return 1
	for pid in $(awk -v i=":$ino\$" '$2 == "FLOCK" && $6 ~ i {print $5}' /proc/locks); do
		p=$$
		while [[ $p -gt 1 ]]; do
			[[ $p == "$pid" ]] && return 0
			p=$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null) || break
		done
	done
	return 1
}
LAB_LOCK=(flock /tmp/kdp-lab.lock)
if lock_held_above; then
	LAB_LOCK=()
fi
counted "benchmark smoke (no thresholds)" "${LAB_LOCK[@]}" env KDP_BUILD=build tools/bench/smoke.sh
counted "fuzz (libFuzzer, ${FUZZ_SECONDS:-60}s per target)" tools/fuzz.sh
for t in tests/e2e/test_*.sh; do
	counted "e2e $(basename "$t" .sh)" "${LAB_LOCK[@]}" env KDP_BUILD=build "$t"
done
# The same lab scenarios with kdp built with ASan+UBSan: any report is fatal
# (UBSan halts) and each test fails when kdp's logs hold one at teardown.
for t in routing services masquerade lrp; do
	counted "e2e $t (build-asan)" "${LAB_LOCK[@]}" env KDP_BUILD=build-asan \
		ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "tests/e2e/test_$t.sh"
done
counted "README: the check counts it gives are the tests' own" \
	/usr/bin/python3 tools/readme_counts.py README.md "$counts"

echo
for f in "${failures[@]}"; do
	echo "failed: $f"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

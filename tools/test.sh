#!/bin/bash
# Runs every test: unit (CUnit) and functional (net_pcap) tests, the same
# again built with ASan+UBSan, then the end-to-end tests on the reference lab
# in network namespaces. Installs and builds what is missing first.
# The last line is the summary: "N passed, M failed".
set -uo pipefail
cd "$(dirname "$0")/.."

passed=0
failed=0
failures=()
step() { # step NAME CMD...
	local name=$1
	shift
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
		echo "=== $name: PASS"
	else
		failed=$((failed + 1))
		failures+=("$name")
		echo "=== $name: FAIL"
	fi
}

tools/install-deps.sh || exit 1
KDP_BUILD=build tools/build.sh || exit 1
KDP_BUILD=build-asan tools/build.sh -Db_sanitize=address,undefined -Db_lundef=false \
	-Dbuildtype=debug || exit 1

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1
step "unit + functional" meson test -C build --print-errorlogs
step "unit + functional (ASan+UBSan)" meson test -C build-asan --print-errorlogs
for t in tests/e2e/test_*.sh; do
	step "e2e $(basename "$t" .sh)" env KDP_BUILD=build "$t"
done

echo
for f in "${failures[@]}"; do
	echo "failed: $f"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

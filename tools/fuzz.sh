#!/bin/bash
# Builds the libFuzzer targets with clang (ASan+UBSan) into build-fuzz/ and
# runs each for FUZZ_SECONDS (default 60) from the committed seed corpus.
# New inputs go to a scratch corpus; a crash leaves its input under
# $KDP_FUZZ_OUT (default /tmp/kdp-fuzz) and fails the run.
#   tools/fuzz.sh                 # 60 s each
#   FUZZ_SECONDS=3600 tools/fuzz.sh   # the long run
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SECONDS:-60}
out=${KDP_FUZZ_OUT:-/tmp/kdp-fuzz}
mkdir -p "$out"
dpdk=$(tools/dpdk.sh) || exit 1
if [[ ! -f build-fuzz/build.ninja || $(cat build-fuzz/.kdp-dpdk 2>/dev/null) != "$dpdk" ]]; then
	wipe=()
	[[ -f build-fuzz/build.ninja ]] && wipe=(--wipe)
	CC=clang meson setup "${wipe[@]}" build-fuzz -Dfuzz=true -Db_sanitize=address,undefined \
		-Db_lundef=false -Dbuildtype=debugoptimized --pkg-config-path="$dpdk/lib/pkgconfig" \
		>/dev/null || exit 1
	echo "$dpdk" >build-fuzz/.kdp-dpdk
fi
ninja -C build-fuzz tests/fuzz/fuzz_packet tests/fuzz/fuzz_api >/dev/null || exit 1
passed=0
failed=0
for t in packet api; do
	scratch=$(mktemp -d "$out/corpus-$t.XXXX")
	echo "=== fuzz_$t for ${secs}s"
	if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$secs" -max_len=2048 \
		-artifact_prefix="$out/$t-" -print_final_stats=1 \
		"$scratch" "tests/fuzz/corpus/$t" >"$out/$t.log" 2>&1; then
		passed=$((passed + 1))
		grep -E "^stat::number_of_executed_units|^stat::new_units_added" "$out/$t.log"
		echo "fuzz_$t: PASS"
	else
		failed=$((failed + 1))
		tail -40 "$out/$t.log"
		echo "fuzz_$t: FAIL (input under $out/$t-*)"
	fi
	rm -rf "$scratch"
done
echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]

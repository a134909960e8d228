# shellcheck shell=bash
# The shared harness of the end-to-end tests: PASS/FAIL lines with what was
# observed, a summary "N passed, M failed" as the last line, and a teardown
# that always runs (background clients in BG_PIDS, the test's own
# e2e_cleanup if it defines one, then the lab). Sourced by tests/e2e/test_*.sh.

# shellcheck source=tools/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tools/lab/lib.sh"

PASSED=0
FAILED=0
FINISHED=0 # set to 1 by the test once every check ran
BG_PIDS=() # background clients of the test, stopped on exit

pass() {
	PASSED=$((PASSED + 1))
	printf 'PASS  %s\n' "$1"
	shift
	local l
	for l in "$@"; do printf '        %s\n' "$l"; done
}

fail() {
	FAILED=$((FAILED + 1))
	printf 'FAIL  %s\n' "$1"
	shift
	local l
	for l in "$@"; do printf '        %s\n' "$l"; done
}

# verdict OK DESC OBSERVED...: PASS if OK is 0.
verdict() {
	local ok=$1
	shift
	if [[ $ok == 0 ]]; then pass "$@"; else fail "$@"; fi
}

# shellcheck disable=SC2317 # run by the EXIT trap
e2e_on_exit() {
	local rc=$? pid
	if ((FINISHED == 0)); then
		fail "test aborted before all checks ran"
	fi
	for pid in "${BG_PIDS[@]}"; do
		_lab_pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if declare -F e2e_cleanup >/dev/null; then
		e2e_cleanup
	fi
	lab_down >/dev/null 2>&1
	e2e_sanitizer_check
	printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
	((FAILED == 0)) || rc=1
	exit "$rc"
}
trap e2e_on_exit EXIT
trap 'exit 130' INT TERM

# Where this test's part of each node's kdp log starts (byte offsets, set by
# e2e_lab_up; the logs are appended to across runs).
declare -A E2E_LOG_START=()

# e2e_sanitized: the kdp under test is built with AddressSanitizer.
e2e_sanitized() { ldd "$LAB_KDP_BIN" 2>/dev/null | grep -q libasan; }

# e2e_sanitizer_check: with a sanitized kdp, one check after teardown (so
# LeakSanitizer has run at each exit): no ASan, LSan or UBSan report in the
# part of each node's kdp log written by this test.
e2e_sanitizer_check() {
	local node log hits all=''
	e2e_sanitized && ((${#E2E_LOG_START[@]} > 0)) || return 0
	for node in "${!E2E_LOG_START[@]}"; do
		log=$(lab_logfile "$node")
		hits=$(tail -c "+$((E2E_LOG_START[$node] + 1))" "$log" 2>/dev/null |
			grep -E -A12 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' | head -40)
		[[ -n $hits ]] && all+="$node ($log):"$'\n'"$hits"$'\n'
	done
	if [[ -z $all ]]; then
		pass "sanitizers: no AddressSanitizer, LeakSanitizer or UBSan report in kdp's logs" \
			"nodes: ${!E2E_LOG_START[*]}"
	else
		fail "sanitizers: report(s) in kdp's logs" "$all"
	fi
}

# api NODE METHOD PATH [BODY]: lab_api with the HTTP code in CODE and the
# body in BODY (lab_api is not run in a subshell so LAB_API_CODE survives).
# shellcheck disable=SC2034 # read by the tests that source this file
CODE=000
# shellcheck disable=SC2034
BODY=
api() {
	local tmp=$KDP_LAB_DIR/api-body.txt
	lab_api "$@" >"$tmp" 2>&1
	CODE=$LAB_API_CODE
	BODY=$(<"$tmp")
	rm -f "$tmp"
}

# ping_check DESC POD DST: PASS if lab_ping POD DST succeeds.
ping_check() {
	local out rc=0
	out=$(lab_ping "$2" "$3") || rc=$?
	verdict "$rc" "$1" "$(lab_ping_summary <<<"$out")"
}

# e2e_lab_up: the reference lab with kdp running on every node and the lab
# state (nodes, local endpoints) applied; the router has no pod routes. Each
# kdp is a child of the calling shell.
# Prints FAIL lines and returns 1 when a step fails.
e2e_lab_up() {
	local node out
	if [[ $(id -u) -ne 0 ]]; then
		fail "setup: must run as root"
		return 1
	fi
	lab_deps || { fail "setup: tools missing"; return 1; }
	if [[ ! -x $LAB_KDP_BIN ]]; then
		fail "setup: kdp not built" "no $LAB_KDP_BIN (meson setup build && ninja -C build, or set KDP_BUILD)"
		return 1
	fi
	lab_down >/dev/null 2>&1
	if ! out=$(lab_topology_up 2>&1); then
		fail "setup: lab topology" "$out"
		return 1
	fi
	lab_router_pod_routes del # the router must not know the pod CIDRs
	for node in $(lab_node_names); do
		E2E_LOG_START[$node]=$(stat -c %s "$(lab_logfile "$node")" 2>/dev/null || echo 0)
		# not in $(...): kdp stays a child of the test (wait gives its status)
		if ! lab_kdp_config "$node" >"$KDP_LAB_DIR/setup.out" 2>&1 ||
			! lab_kdp_start "$node" >>"$KDP_LAB_DIR/setup.out" 2>&1; then
			fail "setup: start kdp on $node" "$(<"$KDP_LAB_DIR/setup.out")"
			return 1
		fi
	done
	for node in $(lab_node_names); do
		api "$node" PUT /v1/state "$(lab_state_json "$node")"
		if [[ $CODE != 2?? ]]; then
			fail "setup: PUT /v1/state on $node" "HTTP $CODE $BODY"
			return 1
		fi
	done
}

# e2e_lab_services_up: e2e_lab_up, then the lab's pod applications
# (lab_apps_start) and services (lab_services_apply) on every node. Prints
# FAIL lines and returns 1 when a step fails.
e2e_lab_services_up() {
	local out
	e2e_lab_up || return 1
	if ! out=$(lab_apps_start 2>&1); then
		fail "setup: the pods' applications (HTTP, dnsmasq)" "$out"
		return 1
	fi
	if ! out=$(lab_services_apply 2>&1); then
		fail "setup: PUT the lab services on both nodes" "$out"
		return 1
	fi
}

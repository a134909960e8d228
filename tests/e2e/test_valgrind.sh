#!/usr/bin/env bash
# End-to-end test: k8s-ctr's kdp (normal build) runs under valgrind memcheck
# through a lab scenario (pings across nodes, fetches of the webpod ClusterIP,
# API updates), is stopped with SIGTERM, and valgrind must report no error and
# no definitely lost byte. tools/valgrind/kdp.supp holds the suppressions for
# DPDK's own allocations (each with its reason); none names a kdp function.
#
#   sudo tests/e2e/test_valgrind.sh       (KDP_BUILD=<dir>, default build)
#
# Prints PASS/FAIL per check; the last line is "N passed, M failed".
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

OTHER_POD=172.20.0.130 # webpod on k8s-w1
SVC_IP=10.96.152.212   # default/webpod
VG_LOG=$KDP_LAB_DIR/valgrind-k8s-ctr.txt
VG_EXIT=99 # valgrind's exit code when it reports an error

# valgrind is 20-50 times slower: generous timeouts for k8s-ctr.
LAB_WRAP_k8s_ctr="valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite
	--errors-for-leak-kinds=definite --error-exitcode=$VG_EXIT --fair-sched=yes
	--num-callers=40 -s --suppressions=$LAB_REPO/tools/valgrind/kdp.supp --log-file=$VG_LOG"
LAB_WRAP_k8s_ctr=${LAB_WRAP_k8s_ctr//$'\n\t'/ }
export LAB_KDP_START_SECONDS=240 LAB_KDP_STOP_SECONDS=240 LAB_API_TIMEOUT=60

setup() {
	local t0=$SECONDS
	command -v valgrind >/dev/null || {
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null 2>&1 ||
			{ fail "setup: valgrind is not installed and apt-get install valgrind failed"; return 1; }
	}
	rm -f "$VG_LOG"
	e2e_lab_services_up || return 1
	echo "setup: lab up in $((SECONDS - t0)) s, kdp on k8s-ctr under valgrind (pid $(lab_kdp_pid k8s-ctr))"
}

# fetch_svc N: N fetches of http://SVC_IP/ from curl-pod; prints the answers.
fetch_svc() {
	local i
	for ((i = 0; i < $1; i++)); do
		ip netns exec kdp-curl-pod curl -s --max-time 20 "http://$SVC_IP/" || echo "(failed)"
	done
}

check_traffic() {
	local out ok
	ping_check "a. curl-pod -> $OTHER_POD (webpod on k8s-w1) through kdp under valgrind" curl-pod "$OTHER_POD"
	# Each connection picks a backend by its hash: fetch until both pods have
	# answered, at most 24 times (the chance that 24 pick one pod is 2^-23).
	local all='' i
	for ((i = 1; i <= 24; i++)); do
		all+="$(fetch_svc 1)"$'\n'
		[[ $all == *webpod-ctr* && $all == *webpod-w1* ]] && break
	done
	out=$(sed '/^$/d' <<<"$all" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
	[[ $out == *webpod-ctr* && $out == *webpod-w1* && $out != *failed* ]] && ok=0 || ok=1
	verdict "$ok" "b. fetches of http://$SVC_IP/ from curl-pod reach both webpods (at most 24)" "answers after $((i > 24 ? 24 : i)): $out"
}

check_updates() {
	local out rc=0 ok codes=''
	api k8s-ctr PUT /v1/services/default/webpod \
		"$(lab_service_json NodePort "$SVC_IP" http:TCP:80:80:30080 app=webpod 'sessionAffinity="ClientIP"')"
	codes+="PUT service $CODE; "
	api k8s-ctr DELETE /v1/nodes/k8s-w1
	codes+="DELETE node $CODE; "
	api k8s-ctr PUT /v1/nodes/k8s-w1 '{"ip":"192.168.10.101","podCIDRs":["172.20.0.0/24"]}'
	codes+="PUT node $CODE; "
	api k8s-ctr PUT /v1/ipmasq "$LAB_IPMASQ_CONFIG"
	codes+="PUT ipmasq $CODE; "
	api k8s-ctr PUT /v1/nodes/bad '{"ip":"300.1.1.1","podCIDRs":[]}'
	codes+="bad PUT $CODE"
	out=$(lab_ping curl-pod "$OTHER_POD") || rc=$?
	[[ $codes == "PUT service 200; DELETE node 200; PUT node 200; PUT ipmasq 200; bad PUT 400" && $rc == 0 ]] &&
		ok=0 || ok=1
	verdict "$ok" "c. API updates (service, node delete and put, ipmasq, a refused one); routing still works" \
		"$codes" "ping: $(lab_ping_summary <<<"$out")"
	out=$(fetch_svc 3 | sort | uniq -c | tr -s ' ' | tr '\n' ';')
	[[ $out != *failed* ]] && ok=0 || ok=1
	verdict "$ok" "d. http://$SVC_IP/ still answered after the updates" "answers: $out"
}

# The valgrind summary lines of VG_LOG: "errors" and "definitely lost" values.
vg_value() {
	case $1 in
		errors) sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$VG_LOG" | tail -1 | tr -d , ;;
		lost) sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$VG_LOG" | tail -1 | tr -d , ;;
	esac
}

check_valgrind() {
	local pid rc=0 t0=$SECONDS errors lost ok dog
	pid=$(lab_kdp_pid k8s-ctr) || { fail "e. kdp under valgrind is still running" "it is gone; $VG_LOG:" \
		"$(tail -30 "$VG_LOG" 2>/dev/null)"; return; }
	kill -TERM "$pid"
	(sleep "$LAB_KDP_STOP_SECONDS" && kill -KILL "$pid" 2>/dev/null) &
	dog=$!
	BG_PIDS+=("$dog")
	wait "$pid" || rc=$?
	kill "$dog" 2>/dev/null
	errors=$(vg_value errors)
	lost=$(vg_value lost)
	# no LEAK SUMMARY at all means every block was freed
	[[ -z $lost ]] && grep -q 'All heap blocks were freed' "$VG_LOG" && lost=0
	[[ $rc == 0 && $errors == 0 && $lost == 0 ]] && ok=0 || ok=1
	verdict "$ok" "e. SIGTERM: kdp exits 0 under valgrind, 0 errors, 0 bytes definitely lost" \
		"exit $rc after $((SECONDS - t0)) s (valgrind exits $VG_EXIT on an error); ERROR SUMMARY: ${errors:-none} errors; definitely lost: ${lost:-none} bytes" \
		"$(grep -E 'in use at exit|indirectly lost|possibly lost|still reachable|suppressed: [0-9,]+ bytes' "$VG_LOG" | sed 's/^==[0-9]*== *//' | tr -s ' ' | tr '\n' ';')" \
		"suppressions used (count, name): $(grep -oE 'used_suppression: +[0-9]+ [^ ]+' "$VG_LOG" |
			awk '{print $2, $3}' | sort -u | tr '\n' ';')"
	if ((ok != 0)); then
		echo "        valgrind's log ($VG_LOG), errors and definite leaks:"
		grep -v -E '^==[0-9]+== *$' "$VG_LOG" | sed -n '/Memcheck, a memory error detector/,$p' |
			grep -E -A25 'Invalid|uninitialised|definitely lost in|Mismatched|overlap|Syscall param' |
			head -150 | sed 's/^/          | /'
	fi
}

if setup; then
	check_traffic
	check_updates
	check_valgrind
fi
FINISHED=1
exit 0

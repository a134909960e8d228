#!/usr/bin/env bash
# End-to-end test of the flow monitor (`kdpctl monitor`, GET /v1/monitor) in
# the reference lab: a spoofed packet shows as DROPPED with its reason, a
# connection to the ClusterIP as TRANSLATED (VIP before, a webpod after, and
# back for the reply), bad filters are refused naming the parameter, nothing
# is produced while nobody listens, and a flood over the rate limit shows
# "N events lost". kdp runs with monitorEventsPerSecond 1000 so the flood
# needs only a few thousand packets.
#
#   sudo tests/e2e/test_monitor.sh       (KDP_BUILD=<dir>, default build)
#
# Prints PASS/FAIL per check with what was observed; the last line is
# "N passed, M failed"; exit 0 only if every check passed.
set -uo pipefail

export KDP_LAB_CONFIG_EXTRA='{"monitorEventsPerSecond": 1000}'

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

CLIENT_IP=172.20.1.236 # curl-pod on k8s-ctr
WEB_CTR=172.20.1.40    # webpod-ctr
WEB_W1=172.20.0.130    # webpod-w1
SVC_IP=10.96.152.212   # default/webpod
SPOOF_IP=172.20.1.99   # not curl-pod's address
FLOOD_IP=172.20.1.98
FLOOD_N=5000
CLIENT_PORT=51234
TIME_RE='[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}: '

now_ms() { date +%s%3N; }

# port_of ENDPOINT|uplink: the DPDK port name kdp on k8s-ctr gives it.
port_of() {
	lab_api k8s-ctr GET /v1/status | python3 -c '
import json, sys
want = sys.argv[1]
for p in json.load(sys.stdin)["ports"]:
    if p["role"] == want or p.get("endpoint") == want:
        print(p["name"])
' "$1"
}

# metric NAME: its value in GET /metrics on k8s-ctr (labels included in NAME).
metric() {
	lab_api k8s-ctr GET /metrics | awk -v n="$1" '$1 == n {print $2}'
}

# monitor_start TAG ARGS...: kdpctl monitor on k8s-ctr in the background,
# stdout to mon-TAG.out; returns once the stream is up (its stderr says so).
monitor_start() {
	local tag=$1 i
	shift
	: >"$KDP_LAB_DIR/mon-$tag.err"
	lab_kdpctl k8s-ctr monitor "$@" >"$KDP_LAB_DIR/mon-$tag.out" 2>"$KDP_LAB_DIR/mon-$tag.err" &
	MON_PID=$!
	BG_PIDS+=("$MON_PID")
	for ((i = 0; i < 50; i++)); do
		grep -q '^Listening for flow events on node k8s-ctr' "$KDP_LAB_DIR/mon-$tag.err" && return 0
		sleep 0.1
	done
	return 1
}

# monitor_wait: waits up to 5 s for the last monitor_start's kdpctl to exit
# (it was given -n); its exit code in MON_RC (124 when it had to be stopped).
# Not run in a subshell: only this shell can wait for its children.
monitor_wait() {
	local i
	for ((i = 0; i < 50; i++)); do
		if ! _lab_pid_alive "$MON_PID"; then
			wait "$MON_PID"
			MON_RC=$?
			return
		fi
		sleep 0.1
	done
	kill "$MON_PID" 2>/dev/null
	wait "$MON_PID" 2>/dev/null
	MON_RC=124
}

setup() {
	e2e_lab_services_up || return 1
	# First packets wait for ARP: warm up (not counted).
	lab_ping curl-pod "$WEB_W1" >/dev/null 2>&1 || true
	lab_ping curl-pod "$WEB_CTR" >/dev/null 2>&1 || true
	GW_MAC=$(lab_pod_gw_mac curl-pod) || { fail "setup: gateway MAC of curl-pod"; return 1; }
	P_CURL=$(port_of default/curl-pod)
	P_WEB=$(port_of default/webpod-ctr)
	P_UP=$(port_of uplink)
	if [[ -z $P_CURL || -z $P_WEB || -z $P_UP ]]; then
		fail "setup: port names" "curl-pod '$P_CURL' webpod-ctr '$P_WEB' uplink '$P_UP'"
		return 1
	fi
	echo "setup: lab up; k8s-ctr ports: curl-pod $P_CURL, webpod-ctr $P_WEB, uplink $P_UP"
}

check_a_dropped() {
	local rc line want before after
	before=$(lab_drop_count k8s-ctr spoofed_source)
	monitor_start a --verdict DROPPED --ip "$SPOOF_IP" -n 1 ||
		{ fail "a. kdpctl monitor did not start" "$(cat "$KDP_LAB_DIR/mon-a.err")"; return; }
	lab_send_icmp curl-pod "$SPOOF_IP" "$WEB_W1" "$GW_MAC" 1
	monitor_wait
	rc=$MON_RC
	after=$(lab_drop_count k8s-ctr spoofed_source)
	line=$(head -1 "$KDP_LAB_DIR/mon-a.out")
	want="$SPOOF_IP -> $WEB_W1 icmp DROPPED (spoofed_source) port $P_CURL (ICMP EchoRequest)"
	[[ $rc == 0 && $line =~ ^$TIME_RE(.*)$ && ${BASH_REMATCH[1]} == "$want" &&
		$(wc -l <"$KDP_LAB_DIR/mon-a.out") == 1 && $((after - before)) == 1 ]]
	verdict $? "a. a spoofed packet from curl-pod (source $SPOOF_IP) shows as DROPPED (spoofed_source)" \
		"kdpctl exit $rc, spoofed_source drops +$((after - before))" \
		"got:  $line" "want: <time>: $want"
}

check_b_translated() {
	local rc out l1 l2 re1 re2 ok=1
	monitor_start b --pod default/curl-pod --protocol tcp -n 2 ||
		{ fail "b. kdpctl monitor did not start" "$(cat "$KDP_LAB_DIR/mon-b.err")"; return; }
	out=$(ip netns exec kdp-curl-pod curl -s --connect-timeout 2 -m 3 --local-port "$CLIENT_PORT" \
		"http://$SVC_IP/" 2>&1)
	monitor_wait
	rc=$MON_RC
	l1=$(sed -n 1p "$KDP_LAB_DIR/mon-b.out")
	l2=$(sed -n 2p "$KDP_LAB_DIR/mon-b.out")
	local c="default/curl-pod:$CLIENT_PORT ($CLIENT_IP)"
	if [[ $out == webpod-ctr ]]; then
		re1="$c -> $SVC_IP:80 tcp TRANSLATED to $c -> default/webpod-ctr:80 ($WEB_CTR) port $P_CURL -> $P_WEB (TCP Flags: SYN)"
		re2="default/webpod-ctr:80 ($WEB_CTR) -> $c tcp TRANSLATED to $SVC_IP:80 -> $c port $P_WEB -> $P_CURL (TCP Flags: SYN, ACK)"
	else
		re1="$c -> $SVC_IP:80 tcp TRANSLATED to $c -> $WEB_W1:80 port $P_CURL -> $P_UP (TCP Flags: SYN)"
		re2="$WEB_W1:80 -> $c tcp TRANSLATED to $SVC_IP:80 -> $c port $P_UP -> $P_CURL (TCP Flags: SYN, ACK)"
	fi
	[[ $rc == 0 && ($out == webpod-ctr || $out == webpod-w1) &&
		$l1 =~ ^$TIME_RE(.*)$ && ${BASH_REMATCH[1]} == "$re1" &&
		$l2 =~ ^$TIME_RE(.*)$ && ${BASH_REMATCH[1]} == "$re2" ]] && ok=0
	verdict "$ok" "b. curl-pod -> $SVC_IP:80 shows as TRANSLATED to the webpod it reached, and its reply back to the VIP" \
		"curl answered '$out', kdpctl exit $rc" \
		"got:  $l1" "want: <time>: $re1" "got:  $l2" "want: <time>: $re2"
}

check_c_json() {
	local rc ok=1 res
	monitor_start c --json --verdict TRANSLATED --ip "$SVC_IP" -n 1 ||
		{ fail "c. kdpctl monitor --json did not start"; return; }
	ip netns exec kdp-curl-pod curl -s --connect-timeout 2 -m 3 --local-port $((CLIENT_PORT + 1)) \
		"http://$SVC_IP/" >/dev/null 2>&1
	monitor_wait
	rc=$MON_RC
	res=$(python3 -c '
import json, sys
e = json.loads(open(sys.argv[1]).readline())
s, d, x = e["source"], e["destination"], e["translated"]
print(e["verdict"], e["protocol"], s["pod"], s["ip"], s["port"], d["ip"], d["port"],
      x["destination"]["ip"], x["destination"]["port"], e["tcpFlags"])
' "$KDP_LAB_DIR/mon-c.out" 2>&1)
	[[ $rc == 0 && ($res == "TRANSLATED tcp default/curl-pod $CLIENT_IP $((CLIENT_PORT + 1)) $SVC_IP 80 $WEB_CTR 80 SYN" ||
		$res == "TRANSLATED tcp default/curl-pod $CLIENT_IP $((CLIENT_PORT + 1)) $SVC_IP 80 $WEB_W1 80 SYN") ]] && ok=0
	verdict "$ok" "c. --json: the same event as JSON (verdict, protocol, source pod/ip/port, VIP:80 before, webpod:80 after, flags)" \
		"kdpctl exit $rc; fields: $res"
}

check_d_bad_filters() {
	local out rc ok=1 e1 e2
	out=$(lab_kdpctl k8s-ctr monitor --pod 'Bad/Name' 2>&1)
	rc=$?
	e1="Error: pod: 'Bad/Name' is not NAME or NAMESPACE/NAME (HTTP 400)"
	api k8s-ctr GET '/v1/monitor?proto=sctp'
	e2=$(lab_api_error <<<"$BODY")
	[[ $rc == 1 && $out == "$e1" && $CODE == 400 && $e2 == "proto: 'sctp' is not tcp, udp, icmp or icmpv6" ]] && ok=0
	verdict "$ok" "d. bad filters are refused with 400 naming the parameter" \
		"kdpctl --pod Bad/Name: exit $rc: $out" "GET /v1/monitor?proto=sctp: HTTP $CODE: $e2"
}

check_e_no_listener() {
	local before after listeners
	sleep 0.3 # the last stream is closed
	listeners=$(metric kdp_monitor_listeners)
	before=$(metric kdp_monitor_events_total)
	lab_send_icmp curl-pod "$SPOOF_IP" "$WEB_W1" "$GW_MAC" 20
	ip netns exec kdp-curl-pod curl -s --connect-timeout 2 -m 3 "http://$SVC_IP/" >/dev/null 2>&1
	after=$(metric kdp_monitor_events_total)
	[[ $listeners == 0 && -n $before && $before == "$after" ]]
	verdict $? "e. with nobody listening the workers produce no event (20 spoofed packets and a connection)" \
		"kdp_monitor_listeners $listeners, kdp_monitor_events_total $before before, $after after"
}

check_f_lost() {
	local rc d l before after lost_metric ok=1
	before=$(lab_drop_count k8s-ctr spoofed_source)
	monitor_start f --ip "$FLOOD_IP" ||
		{ fail "f. kdpctl monitor did not start"; return; }
	lab_send_icmp curl-pod "$FLOOD_IP" "$WEB_W1" "$GW_MAC" "$FLOOD_N"
	sleep 2.5 # lost events are reported at most once a second
	kill "$MON_PID" 2>/dev/null
	wait "$MON_PID" 2>/dev/null
	after=$(lab_drop_count k8s-ctr spoofed_source)
	d=$(grep -c "^.*: $FLOOD_IP -> $WEB_W1 icmp DROPPED (spoofed_source) port $P_CURL (ICMP EchoRequest)$" \
		"$KDP_LAB_DIR/mon-f.out")
	l=$(awk '/ events lost \(/ {n += $1} END {print n + 0}' "$KDP_LAB_DIR/mon-f.out")
	lost_metric=$(metric 'kdp_monitor_events_lost_total{reason="rate_limited"}')
	((after - before == FLOOD_N && d > 0 && d < FLOOD_N && l > 0 && d + l >= FLOOD_N)) &&
		[[ ${lost_metric:-0} -ge $((FLOOD_N - d)) ]] && ok=0
	verdict "$ok" "f. a flood of $FLOOD_N spoofed packets over the rate limit (1000/s) shows \"N events lost\"" \
		"spoofed_source drops +$((after - before)); shown $d, lost lines sum $l (shown + lost >= $FLOOD_N)" \
		"kdp_monitor_events_lost_total{reason=\"rate_limited\"} $lost_metric" \
		"first lost line: $(grep -m1 'events lost' "$KDP_LAB_DIR/mon-f.out")"
}

# One flow's packets on two workers: k8s-ctr runs two; curl-pod's port is
# polled by one of them, the uplink's two queues (af_packet fanout by the
# kernel's flow hash) and webpod-ctr's port by either. The replies of a
# connection through the ClusterIP often reach the other worker than the one
# that made its conntrack entry: every connection must still be answered,
# and its replies translated back from the backend its requests went to.
check_g_two_workers() {
	local i n=24 res ok=1 answers=""
	monitor_start g --json --verdict TRANSLATED --pod default/curl-pod ||
		{ fail "g. kdpctl monitor did not start"; return; }
	for ((i = 0; i < n; i++)); do
		answers+="$(ip netns exec kdp-curl-pod curl -s --connect-timeout 2 -m 3 \
			--local-port $((CLIENT_PORT + 10 + i)) "http://$SVC_IP/" 2>&1) "
	done
	sleep 0.5
	kill "$MON_PID" 2>/dev/null
	wait "$MON_PID" 2>/dev/null
	res=$(python3 - "$KDP_LAB_DIR/mon-g.out" "$CLIENT_IP" "$SVC_IP" "$CLIENT_PORT" "$n" <<'PY' 2>&1
import json, sys
path, client, vip, port0, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
conns = {}
for line in open(path):
    e = json.loads(line)
    s, d, x = e["source"], e["destination"], e["translated"]
    if s["ip"] == client and d["ip"] == vip:  # a request: its backend
        c = conns.setdefault(s["port"], {"req": set(), "rep": set(), "be": set(), "back": set()})
        c["req"].add(e["worker"])
        c["be"].add((x["destination"]["ip"], x["destination"]["port"]))
    elif d["ip"] == client:  # a reply: from which backend, shown as what
        c = conns.setdefault(d["port"], {"req": set(), "rep": set(), "be": set(), "back": set()})
        c["rep"].add(e["worker"])
        c["back"].add((s["ip"], s["port"], x["source"]["ip"], x["source"]["port"]))
ours = {p: c for p, c in conns.items() if port0 + 10 <= p < port0 + 10 + n}
bad = [p for p, c in ours.items()
       if len(c["be"]) != 1 or not c["rep"]
       or c["back"] != {(*next(iter(c["be"])), vip, 80)}]
cross = [p for p, c in ours.items() if c["rep"] - c["req"]]
print(len(ours), len(cross), len(bad), " ".join(
    f"{p}:req{sorted(c['req'])}/rep{sorted(c['rep'])}" for p, c in sorted(ours.items())[:4]))
PY
)
	read -r seen cross bad rest <<<"$res"
	local good
	good=$(grep -o 'webpod-[a-z0-9]*' <<<"$answers" | wc -l)
	[[ $good == "$n" && $seen == "$n" && $bad == 0 && ${cross:-0} -ge 1 ]] && ok=0
	verdict "$ok" "g. $n connections to $SVC_IP:80, replies on another worker than the requests for some: all answered, each reply translated back from its own backend" \
		"answered $good of $n; connections seen $seen, with replies on another worker $cross, wrong $bad" \
		"e.g. $rest"
}

T_START=$(now_ms)
if setup; then
	check_a_dropped
	check_b_translated
	check_c_json
	check_d_bad_filters
	check_e_no_listener
	check_f_lost
	check_g_two_workers
fi
echo "time: $((($(now_ms) - T_START) / 1000)) s"
FINISHED=1
exit 0 # on_exit turns this into 1 if a check failed

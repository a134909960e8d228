#!/usr/bin/env bash
# Restart and upgrade under traffic, measured. Builds the reference lab (as
# the e2e tests do) and keeps traffic flowing from curl-pod: numbered probes
# every PROBE_MS (tools/bench/probe.py: an ICMP echo to webpod-w1 on the
# other node, a DNS query to the kube-dns ClusterIP 10.96.0.10, a datagram
# to the router's UDP echo, masqueraded) and, with LOAD=1, a download from
# the webpod ClusterIP at LOAD_RATE. Then ROUNDS times each of MODES:
#   restart  kill -9 k8s-ctr's kdp and start it again the way the lab does
#            (lab_kdp_start): the time from the restart command to the API
#            answering and to the first answer of each probe flow, the
#            probes lost, and whether GET /v1/state after equals before;
#   upgrade  kdpctl upgrade (the same binary at the same path takes over):
#            the time the command takes, the forwarding pause and the
#            frames the new kdp's queues could not hold (as it reports
#            them), the probes lost and duplicated.
# Flows survive both (the flow state file): the probes' SNAT port is the
# same throughout ("sources seen").
#
#   flock /tmp/kdp-lab.lock tools/bench/restart.sh     (as root; KDP_BUILD,
#        ROUNDS (3), MODES ("restart upgrade"), PROBE_MS (1), LOAD (1),
#        LOAD_RATE (25M))
#
# RESTART_MAX_MS, when set, adds a check per restart round that every probe
# flow is answered again within that many ms of the restart command
# (tests/e2e/test_restart.sh sets it). Always prints PASS/FAIL lines and
# "N passed, M failed".
# shellcheck disable=SC2317 # the rounds are called as ${mode}_round
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tests/e2e/harness.sh"

ROUNDS=${ROUNDS:-3}
MODES=${MODES:-restart upgrade}
MAX_MS=${RESTART_MAX_MS:-}
PROBE_MS=${PROBE_MS:-1}
LOAD=${LOAD:-1}
LOAD_RATE=${LOAD_RATE:-25M}
WEB_W1=172.20.0.130
DNS_IP=10.96.0.10
ROUTER=192.168.10.200
ECHO_PORT=7007
VIP=10.96.152.212
PROBE=$LAB_REPO/tools/bench/probe.py
PROBE_LOG=$KDP_LAB_DIR/restart-probe.txt

# The API poller: the time (epoch seconds) GET /v1/status on socket $1 first
# answers 200, polling every 2 ms for at most 60 s.
POLLER='
import socket, sys, time
end = time.time() + 60
while time.time() < end:
    try:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(1)
        s.connect(sys.argv[1])
        s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: kdp\r\nConnection: close\r\n\r\n")
        if s.recv(16).startswith(b"HTTP/1.1 200"):
            print("%.6f" % time.time())
            sys.exit(0)
    except OSError:
        pass
    finally:
        s.close()
    time.sleep(0.002)
sys.exit(1)
'

# state_of NODE: GET /v1/state as canonical JSON (sorted keys, one line).
state_of() {
	lab_api "$1" GET /v1/state | /usr/bin/python3 -c 'import json,sys; print(json.dumps(json.load(sys.stdin), sort_keys=True))'
}

# first_answers T: per probe kind, ms from T to its first answer after T.
first_answers() {
	/usr/bin/python3 - "$PROBE_LOG" "$1" <<'PY'
import sys
log, t = sys.argv[1], float(sys.argv[2])
first = {}
for line in open(log):
    f = line.split()
    if len(f) >= 4 and f[0] == "r" and float(f[3]) > t and f[1] not in first:
        first[f[1]] = (float(f[3]) - t) * 1000
print(" ".join("%s=%.0f" % (k, first.get(k, float("nan"))) for k in ("icmp", "dns", "udp")))
PY
}

# probes T0 T1: the probe figures between T0 and T1 (JSON), after their answers.
probes() {
	sleep 1.5
	"$LAB_PY" "$PROBE" report "$PROBE_LOG" "$1" "$2" --json
}

setup() {
	local out
	e2e_lab_services_up || return 1
	if ! out=$(lab_router_udp_echo_start "$ECHO_PORT" 2>&1); then
		fail "setup: the router's UDP echo" "$out"
		return 1
	fi
	lab_ping curl-pod "$WEB_W1" >/dev/null 2>&1 || true
	ip netns exec kdp-curl-pod "$LAB_PY" "$PROBE" send "$PROBE_LOG" \
		--interval "$(awk -v m="$PROBE_MS" 'BEGIN {print m / 1000}')" \
		--icmp "$WEB_W1" --dns "$DNS_IP" --udp "$ROUTER:$ECHO_PORT" >/dev/null 2>&1 &
	BG_PIDS+=($!)
	if ((LOAD)); then
		# downloads one after another, for the whole run (one process)
		local urls=() i
		for ((i = 0; i < 100; i++)); do urls+=(-o /dev/null "http://$VIP/big"); done
		ip netns exec kdp-curl-pod curl -s --limit-rate "$LOAD_RATE" "${urls[@]}" &
		BG_PIDS+=($!)
	fi
	sleep 1
	if [[ $(grep -c '^r ' "$PROBE_LOG") -lt 300 ]]; then
		fail "setup: the probes are answered" "$(tail -3 "$PROBE_LOG")"
		return 1
	fi
	echo "setup: lab up; probes every $PROBE_MS ms (ICMP to $WEB_W1, DNS to $DNS_IP, UDP to $ROUTER:$ECHO_PORT, masqueraded)$( ((LOAD)) && echo ", a download from $VIP at $LOAD_RATE/s")"
}

# summarize JSON: "lost icmp/dns/udp, duplicated icmp/dns/udp, gap, sources"
summarize() {
	"$LAB_PY" -c '
import json, sys
d = json.loads(sys.argv[1])
k = ("icmp", "dns", "udp")
print("%s %s %.0f %s" % ("/".join(str(d.get(x, {}).get("lost", "?")) for x in k),
                         "/".join(str(d.get(x, {}).get("duplicated", "?")) for x in k),
                         max(d.get(x, {}).get("longestGapMs", 0) for x in k),
                         ",".join(d.get("udp", {}).get("sources", []))))' "$1"
}

RESULTS=()

restart_round() {
	local n=$1 before after kill_t start_t api_t poller out api_ms first icmp dns udp lost dup gap src ok
	before=$(state_of k8s-ctr)
	kill_t=$EPOCHREALTIME
	lab_kdp_kill k8s-ctr KILL || { fail "restart $n: kdp survived SIGKILL"; return; }
	sleep 0.3 # a visible outage: nothing can be forwarded now
	/usr/bin/python3 -c "$POLLER" "$(lab_sock k8s-ctr)" >"$KDP_LAB_DIR/restart-api.txt" &
	poller=$!
	sleep 0.1 # the poller runs before the restart command
	start_t=$EPOCHREALTIME
	if ! out=$(lab_kdp_start k8s-ctr 2>&1); then
		fail "restart $n: kdp restarts" "$out"
		kill "$poller" 2>/dev/null
		return
	fi
	wait "$poller"
	api_t=$(<"$KDP_LAB_DIR/restart-api.txt")
	sleep 1 # let traffic come back
	after=$(state_of k8s-ctr)
	api_ms=$(/usr/bin/python3 -c "print('%.0f' % ((${api_t:-0} - $start_t) * 1000))")
	first=$(first_answers "$start_t")
	read -r lost dup gap src <<<"$(summarize "$(probes "$kill_t" "$EPOCHREALTIME")")"
	eval "$first" # icmp= dns= udp=
	RESULTS+=("restart $api_ms $icmp $dns $udp $lost $gap")
	printf 'restart %d: API up %s ms, first answers %s ms after the restart command (%s); probes lost %s (icmp/dns/udp), longest gap %s ms, SNAT source %s\n' \
		"$n" "$api_ms" "$icmp/$dns/$udp" "$first" "$lost" "$gap" "$src"
	[[ -n $before && $before == "$after" ]] && ok=0 || ok=1
	verdict "$ok" "restart $n: GET /v1/state after kill -9 and restart equals the state before" \
		"$(printf '%s' "$before" | wc -c) bytes of canonical JSON before, $(printf '%s' "$after" | wc -c) after"
	if [[ -n $MAX_MS ]]; then
		[[ $icmp =~ ^[0-9]+$ && $dns =~ ^[0-9]+$ && $udp =~ ^[0-9]+$ ]] &&
			((icmp < MAX_MS && dns < MAX_MS && udp < MAX_MS)) && ok=0 || ok=1
		verdict "$ok" "restart $n: forwarding back within $MAX_MS ms of the restart command" \
			"API $api_ms ms, pod on the other node $icmp ms, ClusterIP $dns ms, masquerade $udp ms"
	fi
}

upgrade_round() {
	local n=$1 t0 t1 out st paused held heldlost oldlost lost dup gap src ms
	t0=$EPOCHREALTIME
	if ! out=$(lab_kdp_upgrade k8s-ctr 2>&1); then
		# what the running kdp says of the hand-over, and the end of
		# the node's log (both kdps write it)
		fail "upgrade $n: kdpctl upgrade" "$out
$(lab_api k8s-ctr GET /v1/status 2>/dev/null | "$LAB_PY" -c 'import json, sys; print("handover:", json.dumps(json.load(sys.stdin).get("handover")))' 2>&1)
$(tail -20 "$KDP_LAB_DIR/k8s-ctr.log" 2>&1)"
		return
	fi
	t1=$EPOCHREALTIME
	ms=$(/usr/bin/python3 -c "print('%.0f' % (($t1 - $t0) * 1000))")
	st=$(lab_api k8s-ctr GET /v1/status)
	read -r paused held heldlost oldlost <<<"$("$LAB_PY" -c 'import json,sys; h=json.load(sys.stdin)["handover"]; print(h["forwardingPausedMs"], h["framesHeldMs"], h["heldFramesLost"], h["oldFramesLost"])' <<<"$st")"
	sleep 0.5
	read -r lost dup gap src <<<"$(summarize "$(probes "$t0" "$EPOCHREALTIME")")"
	RESULTS+=("upgrade $ms $paused $held $heldlost $lost $dup $gap $oldlost")
	printf 'upgrade %d: kdpctl upgrade %s ms; forwarding paused %s ms, frames held %s ms (%s lost to full queues; the old kdp'"'"'s queues dropped %s meanwhile); probes lost %s, duplicated %s (icmp/dns/udp), longest gap %s ms, SNAT source %s\n' \
		"$n" "$ms" "$paused" "$held" "$heldlost" "$oldlost" "$lost" "$dup" "$gap" "$src"
	verdict "$([[ $lost == 0/0/0 ]]; echo $?)" "upgrade $n: no probe lost" "lost $lost, duplicated $dup"
}

summary() {
	/usr/bin/python3 - "${RESULTS[@]}" <<'PY'
import statistics, sys
rows = [r.split() for r in sys.argv[1:]]
def line(name, vals, unit="ms"):
    v = [float(x) for x in vals if x not in ("none", "nan", "?")]
    if v:
        print("%-52s min %6.0f  median %6.0f  max %6.0f %s  (%d rounds)"
              % (name, min(v), statistics.median(v), max(v), unit, len(v)))
def lost(vals):
    return [sum(int(x) for x in v.split("/")) for v in vals if "?" not in v]
r = [x for x in rows if x[0] == "restart"]
if r:
    line("restart: API up", [x[1] for x in r])
    line("restart: first ICMP answer (pod on the other node)", [x[2] for x in r])
    line("restart: first DNS answer (ClusterIP)", [x[3] for x in r])
    line("restart: first UDP answer (masqueraded)", [x[4] for x in r])
    line("restart: probes lost (all three flows)", lost([x[5] for x in r]), "")
    line("restart: longest gap", [x[6] for x in r])
u = [x for x in rows if x[0] == "upgrade"]
if u:
    line("upgrade: kdpctl upgrade (the whole command)", [x[1] for x in u])
    line("upgrade: forwarding paused", [x[2] for x in u])
    line("upgrade: frames held in the new kdp's queues", [x[3] for x in u])
    line("upgrade: frames lost to full queues (new kdp, held)", [x[4] for x in u], "")
    line("upgrade: frames the old kdp's queues dropped meanwhile", [x[8] for x in u], "")
    line("upgrade: probes lost (all three flows)", lost([x[5] for x in u]), "")
    line("upgrade: probes duplicated", lost([x[6] for x in u]), "")
    line("upgrade: longest gap", [x[7] for x in u])
PY
}

if setup; then
	for ((r = 1; r <= ROUNDS; r++)); do
		for m in $MODES; do
			"${m}_round" "$r"
			sleep 1
		done
	done
	((${#RESULTS[@]} > 0)) && summary
fi
FINISHED=1
exit 0

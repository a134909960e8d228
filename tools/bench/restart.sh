#!/usr/bin/env bash
# Restart under traffic, measured. Builds the reference lab (as the e2e tests
# do), keeps traffic flowing from curl-pod every 5 ms (an ICMP echo to webpod-w1
# on the other node, and a DNS query over UDP to the kube-dns ClusterIP
# 10.96.0.10), then ROUNDS times: kill -9 k8s-ctr's kdp, restart it the way the
# lab does (lab_kdp_start), and print the time from the restart command to the
# API answering and to the first reply of each flow coming back through kdp,
# and whether GET /v1/state after the restart equals the one before.
#
#   flock /tmp/kdp-lab.lock tools/bench/restart.sh      (as root; KDP_BUILD,
#                                                        ROUNDS (3))
#
# RESTART_MAX_MS, when set, adds a check per round that both flows are
# forwarded again within that many ms of the restart (tests/e2e/test_restart.sh
# sets it). Always prints PASS/FAIL lines and "N passed, M failed".
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../tests/e2e/harness.sh"

ROUNDS=${ROUNDS:-3}
MAX_MS=${RESTART_MAX_MS:-}
WEB_W1=172.20.0.130
DNS_IP=10.96.0.10
PROBE_LOG=$KDP_LAB_DIR/restart-probe.txt

# The prober (in curl-pod): every 5 ms one ICMP echo to $1 and one DNS query
# (UDP, always from the same source port) to $2:53; one line per reply:
# "<icmp|dns> <receive time, epoch seconds>".
PROBER='
import os, select, socket, struct, sys, time
icmp_dst, dns_dst = sys.argv[1], sys.argv[2]
ic = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
us = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
us.bind(("0.0.0.0", 45353))
ident = os.getpid() & 0xffff
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
qname = b"".join(bytes([len(p)]) + p for p in b"webpod.default.svc.cluster.local".split(b".")) + b"\0"
seq, nxt = 0, time.time()
out = sys.stdout
while True:
    now = time.time()
    if now >= nxt:
        seq = (seq + 1) & 0xffff
        h = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"kdp-restart-probe!"
        ic.sendto(h[:2] + struct.pack("!H", csum(h)) + h[4:], (icmp_dst, 0))
        us.sendto(struct.pack("!HHHHHH", seq, 0x0100, 1, 0, 0, 0) + qname + b"\0\1\0\1", (dns_dst, 53))
        nxt += 0.005
        if nxt < now:
            nxt = now + 0.005
    r, _, _ = select.select([ic, us], [], [], max(0.0, nxt - time.time()))
    for s in r:
        data = s.recv(2048)
        t = time.time()
        if s is ic:
            ihl = (data[0] & 15) * 4
            if data[ihl] == 0 and struct.unpack("!H", data[ihl + 4:ihl + 6])[0] == ident:
                out.write("icmp %.6f\n" % t)
        else:
            out.write("dns %.6f\n" % t)
    out.flush()
'

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

# replies_after KIND T: how long after T (ms) the first KIND reply came, and
# the gap (ms) between the last KIND reply before KILL_T and that one.
replies_after() {
	/usr/bin/python3 - "$PROBE_LOG" "$1" "$2" "$3" <<'PY'
import sys
log, kind, t, kill_t = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
ts = [float(l.split()[1]) for l in open(log) if l.startswith(kind + " ")]
before = [x for x in ts if x <= kill_t]
after = [x for x in ts if x > t]
if not after:
    print("none none")
else:
    gap = (after[0] - before[-1]) * 1000 if before else float("nan")
    print("%.0f %.0f" % ((after[0] - t) * 1000, gap))
PY
}

setup() {
	e2e_lab_services_up || return 1
	lab_ping curl-pod "$WEB_W1" >/dev/null 2>&1 || true
	ip netns exec kdp-curl-pod /usr/bin/python3 -c "$PROBER" "$WEB_W1" "$DNS_IP" >"$PROBE_LOG" 2>&1 &
	BG_PIDS+=($!)
	sleep 1
	if [[ $(grep -c '^icmp' "$PROBE_LOG") -lt 50 || $(grep -c '^dns' "$PROBE_LOG") -lt 50 ]]; then
		fail "setup: traffic from curl-pod flows" "$(tail -3 "$PROBE_LOG")"
		return 1
	fi
	echo "setup: lab up; curl-pod sends an ICMP echo to $WEB_W1 and a DNS query to $DNS_IP:53 every 5 ms"
}

# round N: one kill -9 and restart; appends "api icmp dns" (ms) to RESULTS.
RESULTS=()
round() {
	local n=$1 before after kill_t start_t api_t poller out api_ms icmp dns icmp_gap dns_gap ok
	before=$(state_of k8s-ctr)
	kill_t=$EPOCHREALTIME
	lab_kdp_kill k8s-ctr KILL || { fail "round $n: kdp survived SIGKILL"; return; }
	sleep 0.3 # a visible outage: nothing can be forwarded now
	/usr/bin/python3 -c "$POLLER" "$(lab_sock k8s-ctr)" >"$KDP_LAB_DIR/restart-api.txt" &
	poller=$!
	sleep 0.1 # the poller runs before the restart command
	start_t=$EPOCHREALTIME
	if ! out=$(lab_kdp_start k8s-ctr 2>&1); then
		fail "round $n: kdp restarts" "$out"
		kill "$poller" 2>/dev/null
		return
	fi
	wait "$poller"
	api_t=$(<"$KDP_LAB_DIR/restart-api.txt")
	sleep 2 # let traffic come back
	after=$(state_of k8s-ctr)
	api_ms=$(/usr/bin/python3 -c "print('%.0f' % ((${api_t:-0} - $start_t) * 1000))")
	read -r icmp icmp_gap <<<"$(replies_after icmp "$start_t" "$kill_t")"
	read -r dns dns_gap <<<"$(replies_after dns "$start_t" "$kill_t")"
	RESULTS+=("$api_ms $icmp $dns")
	printf 'round %d: API up %s ms, first ICMP reply from %s %s ms, first DNS answer from %s %s ms after the restart command (outage %s / %s ms)\n' \
		"$n" "$api_ms" "$WEB_W1" "$icmp" "$DNS_IP" "$dns" "$icmp_gap" "$dns_gap"
	[[ -n $before && $before == "$after" ]] && ok=0 || ok=1
	verdict "$ok" "round $n: GET /v1/state after kill -9 and restart equals the state before" \
		"$(printf '%s' "$before" | wc -c) bytes of canonical JSON before, $(printf '%s' "$after" | wc -c) after"
	if [[ -n $MAX_MS ]]; then
		[[ $api_ms =~ ^[0-9]+$ && $icmp =~ ^[0-9]+$ && $dns =~ ^[0-9]+$ ]] &&
			((icmp < MAX_MS && dns < MAX_MS)) && ok=0 || ok=1
		verdict "$ok" "round $n: forwarding back within $MAX_MS ms of the restart command" \
			"API $api_ms ms, pod on the other node $icmp ms, ClusterIP $dns ms"
	fi
}

summary() {
	/usr/bin/python3 - "${RESULTS[@]}" <<'PY'
import statistics, sys
rows = [r.split() for r in sys.argv[1:]]
for i, name in enumerate(["API up", "first ICMP reply (pod on the other node)",
                          "first DNS answer (ClusterIP)"]):
    v = [float(r[i]) for r in rows if r[i] not in ("none", "nan")]
    if v:
        print("%-42s min %5.0f  median %5.0f  max %5.0f ms  (%d rounds)"
              % (name, min(v), statistics.median(v), max(v), len(v)))
PY
}

if setup; then
	for ((r = 1; r <= ROUNDS; r++)); do
		round "$r"
	done
	((${#RESULTS[@]} > 0)) && summary
fi
FINISHED=1
exit 0

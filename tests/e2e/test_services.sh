#!/usr/bin/env bash
# End-to-end test: service load balancing through kdp in the reference lab
# (DESIGN.md sections 1-2: service DNAT, NodePort SNAT, hairpin, reject,
# backend states, session affinity, updates of established flows, maglev).
# Builds the lab in network namespaces, runs kdp on k8s-ctr and k8s-w1, an
# HTTP server in each webpod and dnsmasq in each CoreDNS pod, PUTs the lab
# services on both nodes, checks, and always tears the lab down.
#
#   sudo tests/e2e/test_services.sh       (KDP_BUILD=<dir>, default build)
#
# Prints PASS/FAIL per check with what was observed; the last line is
# "N passed, M failed"; exit 0 only if every check passed.
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"


CLIENT_IP=172.20.1.236 # curl-pod on k8s-ctr
WEB_CTR=172.20.1.40    # webpod-ctr
WEB_W1=172.20.0.130    # webpod-w1
SVC_IP=10.96.152.212   # default/webpod
DNS_IP=10.96.0.10      # kube-system/kube-dns
EMPTY_IP=10.96.99.99   # default/empty (no backends)
NODE_CTR=192.168.10.100
NODE_W1=192.168.10.101
NODE_PORT=30080
MG_EXT_IP=192.168.10.250 # externalIP of default/webpod-mg
MG_PORT=8080
MG_SRC_PORTS=(40000 40001 40002 40003 40004 40005 40006 40007 40008 40009)
BIG_BYTES=$((LAB_WEB_BIG_MB * 1024 * 1024))
DNS_NAME=webpod.default.svc.cluster.local
# The IPv6 side (the lab is dual stack).
CLIENT_IP6=fd00:20:0:1::236
SVC_IP6=fd00:96::98d4
DNS_IP6=fd00:96::a
EMPTY_IP6=fd00:96::99
NODE_CTR6=fd00:10::100
NODE_W1_6=fd00:10::101






# webpod_json [KEY=JSON...]: default/webpod (NodePort 10.96.152.212:80 and
# [fd00:96::98d4]:80, nodePort 30080, backends: both webpods) with fields
# replaced.
webpod_json() {
	lab_service_json NodePort "$SVC_IP,$SVC_IP6" "http:TCP:80:80:$NODE_PORT" app=webpod "$@"
}

# put_webpod [KEY=JSON...]: PUT webpod_json on both nodes; FAIL line if not.
put_webpod() {
	local out
	out=$(lab_service_put default/webpod "$(webpod_json "$@")" 2>&1) && return 0
	fail "PUT /v1/services/default/webpod $*" "$out"
	return 1
}

# backends SPEC...: a backends JSON array from ip[:state] items.
backends() {
	local item sep='' out='['
	for item in "$@"; do
		if [[ $item == *:* ]]; then
			out+="$sep{\"ip\":\"${item%%:*}\",\"state\":\"${item#*:}\"}"
		else
			out+="$sep{\"ip\":\"$item\"}"
		fi
		sep=,
	done
	printf 'backends=%s]\n' "$out"
}

# next_port: a client port never used before in this run (from 50000 up).
# Linux reuses a client port quickly when the server closed first (no
# TIME_WAIT on the client), and kdp may still hold the old flow's conntrack
# entry (closing, 10 s): the checks of new connections use fresh 5-tuples,
# check f5 looks at the reuse on purpose.
next_port() {
	local f=$KDP_LAB_DIR/next-port p
	p=$(cat "$f" 2>/dev/null) || p=50000
	[[ $p =~ ^[0-9]+$ ]] || p=50000
	printf '%s\n' "$((p + 1))" >"$f"
	printf '%s\n' "$p"
}

# hits POD|NETNS URL N: N sequential curls of URL from POD (or the namespace
# NETNS, e.g. kdp-router), each from a fresh client port, one line per
# request: the answer (a pod name) or "ERR<curl exit code>".
hits() {
	local ns i body port rc
	ns=$(lab_pod_ns "$1" 2>/dev/null) || ns=$(_lab_ns "$1")
	: >"$KDP_LAB_DIR/hits-ports.txt"
	for ((i = 0; i < $3; i++)); do
		port=$(next_port)
		if body=$(ip netns exec "$ns" curl -s --connect-timeout 2 -m 3 --local-port "$port" \
			-w '\n%{local_port} %{time_total}' "$2" 2>/dev/null); then
			printf '%s\n' "${body%%$'\n'*}"
			printf '%s %s\n' "${body%%$'\n'*}" "${body##*$'\n'}" >>"$KDP_LAB_DIR/hits-ports.txt"
		else
			rc=$?
			printf 'ERR%s\n' "$rc"
			printf 'ERR%s %s\n' "$rc" "$port" >>"$KDP_LAB_DIR/hits-ports.txt"
		fi
	done
}

# tcp_get NETNS SRC_IP DST DPORT PORT...: from NETNS, one HTTP/1.0 GET / to
# DST:DPORT from each SRC_IP:PORT (SO_REUSEADDR), reading each answer to the
# end; prints "port answer" or "port ERR:<exception>". The server closes
# first, so the client side leaves no TIME_WAIT and a port can be used again
# at once for the same destination.
tcp_get() {
	ip netns exec "$(_lab_ns "$1")" "$LAB_PY" -c '
import socket, sys
src, dst, dport = sys.argv[1], sys.argv[2], int(sys.argv[3])
for p in map(int, sys.argv[4:]):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(3)
    try:
        s.bind((src, p))
        s.connect((dst, dport))
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
        body = data.split(b"\r\n\r\n", 1)[-1].decode(errors="replace").strip()
        print(p, body or "EMPTY")
    except Exception as e:
        print(p, "ERR:" + type(e).__name__)
    finally:
        s.close()
' "${@:2}"
}

# hits_detail: "answer local-port seconds" of the last hits, one line each.
hits_detail() { cat "$KDP_LAB_DIR/hits-ports.txt" 2>/dev/null; }

# tally: "name: count, ..." of the lines on stdin.
tally() { sort | uniq -c | awk '{printf "%s%s: %d", (NR > 1 ? ", " : ""), $2, $1} END {print ""}'; }

# count WORD: lines equal to WORD on stdin.
count() { grep -cxF -- "$1" || true; }

# tuples: "src sport dst dport flags" for each TCP/UDP line of tcpdump text on
# stdin (and "src - dst - icmp: <text>" for ICMP lines).
tuples() {
	python3 -c '
import re, sys
ip = r"(\d+\.\d+\.\d+\.\d+)"
for line in sys.stdin:
    m = re.search(ip + r"\.(\d+) > " + ip + r"\.(\d+): (?:Flags \[([^\]]*)\])?", line)
    if m:
        print(m.group(1), m.group(2), m.group(3), m.group(4), m.group(5) or "udp")
        continue
    m = re.search(ip + r" > " + ip + r": ICMP (.*)", line)
    if m:
        print(m.group(1), "-", m.group(2), "-", "icmp:", m.group(3).strip())
'
}

# ct_flows NODE: "proto osrc odst -> rsrc rdst state" per GET /v1/ct flow.
ct_flows() {
	lab_api "$1" GET /v1/ct 2>/dev/null | python3 -c '
import json, sys
for f in json.load(sys.stdin).get("flows", []):
    o, r = f.get("original", {}), f.get("reply", {})
    print(f.get("protocol"), o.get("src"), o.get("dst"), "->", r.get("src"), r.get("dst"),
          f.get("state"))
' 2>/dev/null
}

now_ms() { date +%s%3N; }

# ------------------------------------------------------------------ setup

setup() {
	local out
	rm -f "$KDP_LAB_DIR/next-port"
	e2e_lab_up || return 1
	if ! out=$(lab_apps_start 2>&1); then
		fail "setup: HTTP servers in the webpods, dnsmasq in the CoreDNS pods" "$out"
		return 1
	fi
	if ! out=$(lab_services_apply 2>&1); then
		fail "setup: PUT the lab services on both nodes" "$out"
		return 1
	fi
	# The first packets of each pod wait for ARP: warm up (not counted).
	lab_ping curl-pod "$WEB_W1" >/dev/null 2>&1 || true
	lab_ping webpod-ctr "$WEB_W1" >/dev/null 2>&1 || true
	hits curl-pod "http://$SVC_IP/" 4 >/dev/null
	echo "setup: lab up, kdp on $(lab_node_names | paste -sd, -)," \
		"webpods serving HTTP, CoreDNS pods (dnsmasq), services default/webpod and kube-system/kube-dns on both nodes"
}

# ------------------------------------------------------------------ checks

check_a_clusterip() {
	local res cap tup ctr w1 err servers syn synack ok=1
	lab_capture_start a kdp-curl-pod eth0 tcp port 80 ||
		{ fail "a. capture in curl-pod" "tcpdump did not start"; return; }
	res=$(hits curl-pod "http://$SVC_IP/" 20)
	cap=$(lab_capture_stop a)
	tup=$(tuples <<<"$cap")
	ctr=$(count webpod-ctr <<<"$res") w1=$(count webpod-w1 <<<"$res")
	err=$(grep -c '^ERR' <<<"$res")
	# every address other than the client's, as seen by the client
	servers=$(awk -v c="$CLIENT_IP" '{ if ($1 != c) print $1; if ($3 != c) print $3 }' <<<"$tup" |
		sort | uniq -c | awk '{printf "%s%s (%d packets)", (NR > 1 ? ", " : ""), $2, $1}')
	syn=$(awk -v s="$SVC_IP" '$3 == s && $4 == 80 && $5 == "S"' <<<"$tup" | wc -l)
	synack=$(awk -v s="$SVC_IP" '$1 == s && $2 == 80 && $5 == "S."' <<<"$tup" | wc -l)
	if ((ctr > 0 && w1 > 0 && ctr + w1 == 20 && syn >= 20 && synack >= 20)) &&
		[[ $servers =~ ^${SVC_IP//./\\.}\ \([0-9]+\ packets\)$ ]]; then
		ok=0
	fi
	verdict "$ok" "a. 20 connections curl-pod -> http://$SVC_IP/ reach both webpods; curl-pod only sees the ClusterIP" \
		"answers: $(tally <<<"$res")" \
		"tcpdump in curl-pod (tcp port 80): server addresses: ${servers:-none}; SYN to $SVC_IP.80: $syn, SYN-ACK from $SVC_IP.80: $synack" \
		"$(grep -m1 -F "$SVC_IP.80 > " <<<"$cap" | sed 's/^.*, length [0-9]*: //')"
}

check_b_dns() {
	local out ans srv status proto ok qlog before_c before_w after_c after_w f
	for proto in udp tcp; do
		before_c=$(grep -c "query\[A\] $DNS_NAME from $CLIENT_IP" \
			"$(_lab_app_base coredns-ctr dns).queries" 2>/dev/null)
		before_w=$(grep -c "query\[A\] $DNS_NAME from $CLIENT_IP" \
			"$(_lab_app_base coredns-w1 dns).queries" 2>/dev/null)
		f=()
		[[ $proto == tcp ]] && f=(+tcp)
		out=$(ip netns exec kdp-curl-pod dig "${f[@]}" +tries=2 +timeout=2 "@$DNS_IP" "$DNS_NAME" A 2>&1)
		ans=$(awk -v n="$DNS_NAME." '$1 == n && $4 == "A" {print $5}' <<<"$out" | paste -sd, -)
		srv=$(grep -m1 '^;; SERVER:' <<<"$out" | sed 's/^;; SERVER: //')
		status=$(grep -m1 -o 'status: [A-Z]*' <<<"$out")
		sleep 0.2 # dnsmasq writes its log
		after_c=$(grep -c "query\[A\] $DNS_NAME from $CLIENT_IP" \
			"$(_lab_app_base coredns-ctr dns).queries" 2>/dev/null)
		after_w=$(grep -c "query\[A\] $DNS_NAME from $CLIENT_IP" \
			"$(_lab_app_base coredns-w1 dns).queries" 2>/dev/null)
		qlog="query logged by coredns-ctr: $((${after_c:-0} - ${before_c:-0})), coredns-w1: $((${after_w:-0} - ${before_w:-0}))"
		ok=1
		[[ $ans == "$SVC_IP" && $srv == "$DNS_IP#53($DNS_IP) (${proto^^})" ]] && ok=0
		verdict "$ok" "b-$proto. dig ${f[*]:+${f[*]} }@$DNS_IP $DNS_NAME from curl-pod answers $SVC_IP over ${proto^^}" \
			"answer: ${ans:-none} (${status:-no status}); server: ${srv:-none}; $qlog"
		((ok == 0)) || printf '%s\n' "$out" | sed 's/^/          | /'
	done
}

check_c_nodeport() {
	local node nip remote_pod remote_ip res cap tup srcs ours routers remote_hits ctr w1 ok
	local -A got
	lab_capture_start c kdp-lan "$LAB_LAN_BRIDGE" "tcp port 80 or tcp port $NODE_PORT" ||
		{ fail "c. capture on br0" "tcpdump did not start"; return; }
	for node in k8s-ctr k8s-w1; do
		nip=$(lab_node_ip "$node")
		got[$node]=$(hits kdp-router "http://$nip:$NODE_PORT/" 16)
	done
	cap=$(lab_capture_stop c)
	tup=$(tuples <<<"$cap")
	for node in k8s-ctr k8s-w1; do
		nip=$(lab_node_ip "$node")
		if [[ $node == k8s-ctr ]]; then
			remote_pod=webpod-w1 remote_ip=$WEB_W1
		else
			remote_pod=webpod-ctr remote_ip=$WEB_CTR
		fi
		res=${got[$node]}
		ctr=$(count webpod-ctr <<<"$res") w1=$(count webpod-w1 <<<"$res")
		remote_hits=$(count "$remote_pod" <<<"$res")
		# SYNs on the LAN to the remote backend, by source address
		srcs=$(awk -v d="$remote_ip" '$3 == d && $4 == 80 && $5 == "S" {print $1}' <<<"$tup" |
			sort | uniq -c | awk '{printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1}')
		ours=$(awk -v d="$remote_ip" -v n="$nip" '$3 == d && $4 == 80 && $5 == "S" && $1 == n' <<<"$tup" | wc -l)
		# a packet to a pod with the router's address would be a missing SNAT
		routers=$(awk -v d="$remote_ip" -v r="$LAB_ROUTER_IP" '$3 == d && $1 == r' <<<"$tup" | wc -l)
		ok=1
		((ctr > 0 && w1 > 0 && ctr + w1 == 16 && remote_hits > 0 && ours >= remote_hits && routers == 0)) && ok=0
		verdict "$ok" "c-$node. NodePort from the router: http://$nip:$NODE_PORT/ x16 reaches both webpods; remote $remote_pod gets source $nip (SNAT)" \
			"answers: $(tally <<<"$res")" \
			"on br0, SYNs to $remote_ip.80 by source: ${srcs:-none} ($ours from $nip for $remote_hits answers of $remote_pod; from the router: $routers)" \
			"$(awk -v d="$remote_ip" -v n="$nip" '$3 == d && $4 == 80 && $1 == n && $5 == "S" {print "e.g. " $1 "." $2 " > " $3 "." $4 " [S]"; exit}' <<<"$tup")"
	done
}

check_d_hairpin() {
	local res self err log srcs ok=1 n0
	log=$(_lab_app_base webpod-ctr http).log
	n0=$(wc -l <"$log" 2>/dev/null || echo 0)
	res=$(hits webpod-ctr "http://$SVC_IP/" 16)
	self=$(count webpod-ctr <<<"$res")
	err=$(grep -c '^ERR' <<<"$res")
	srcs=$(tail -n +"$((n0 + 1))" "$log" 2>/dev/null | awk '/"GET \/ /{print $1}' | sort | uniq -c |
		awk '{printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1}')
	((self > 0 && err == 0)) && ok=0
	verdict "$ok" "d. hairpin: webpod-ctr -> http://$SVC_IP/ x16 all answered, some by itself" \
		"answers: $(tally <<<"$res")" \
		"client addresses in webpod-ctr's server log: ${srcs:-none}"
}

# The same checks over IPv6, shorter: ClusterIP to both webpods, DNS AAAA
# over IPv6 (UDP and TCP), NodePort on each node's IPv6 with SNAT, hairpin
# (the reply comes back to kdp's link-local hairpin address), reject.
check_v6() {
	local res ctr w1 out ans srv proto node nip remote_pod remote_ip cap srcs ok f body rst icmp
	local -A got
	res=$(hits curl-pod "http://[$SVC_IP6]/" 20)
	ctr=$(count webpod-ctr <<<"$res") w1=$(count webpod-w1 <<<"$res")
	ok=1
	((ctr > 0 && w1 > 0 && ctr + w1 == 20)) && ok=0
	verdict "$ok" "a6. 20 connections curl-pod -> http://[$SVC_IP6]/ reach both webpods" \
		"answers: $(tally <<<"$res")"

	for proto in udp tcp; do
		f=()
		[[ $proto == tcp ]] && f=(+tcp)
		out=$(ip netns exec kdp-curl-pod dig "${f[@]}" +tries=2 +timeout=2 "@$DNS_IP6" "$DNS_NAME" AAAA 2>&1)
		ans=$(awk -v n="$DNS_NAME." '$1 == n && $4 == "AAAA" {print $5}' <<<"$out" | paste -sd, -)
		srv=$(grep -m1 '^;; SERVER:' <<<"$out" | sed 's/^;; SERVER: //')
		ok=1
		[[ $ans == "$SVC_IP6" && $srv == "$DNS_IP6#53($DNS_IP6) (${proto^^})" ]] && ok=0
		verdict "$ok" "b6-$proto. dig ${f[*]:+${f[*]} }@$DNS_IP6 $DNS_NAME AAAA from curl-pod answers $SVC_IP6 over IPv6/${proto^^}" \
			"answer: ${ans:-none}; server: ${srv:-none}"
		((ok == 0)) || printf '%s\n' "$out" | sed 's/^/          | /'
	done

	lab_capture_start c6 kdp-lan "$LAB_LAN_BRIDGE" "ip6 and tcp port 80" ||
		{ fail "c6. capture on br0" "tcpdump did not start"; return; }
	for node in k8s-ctr k8s-w1; do
		nip=$(lab_node_ip6 "$node")
		got[$node]=$(hits kdp-router "http://[$nip]:$NODE_PORT/" 20)
	done
	cap=$(lab_capture_stop c6)
	for node in k8s-ctr k8s-w1; do
		nip=$(lab_node_ip6 "$node")
		if [[ $node == k8s-ctr ]]; then
			remote_pod=webpod-w1 remote_ip=fd00:20::130
		else
			remote_pod=webpod-ctr remote_ip=fd00:20:0:1::40
		fi
		res=${got[$node]}
		ctr=$(count webpod-ctr <<<"$res") w1=$(count webpod-w1 <<<"$res")
		srcs=$(grep -E "> $remote_ip\.80: Flags \[S\]" <<<"$cap" |
			grep -oE 'length [0-9]+: [0-9a-f:]+\.[0-9]+ > ' | sed -E 's/^length [0-9]+: ([0-9a-f:]+)\.[0-9]+ > $/\1/' |
			sort | uniq -c | awk '{printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1}')
		ok=1
		((ctr > 0 && w1 > 0 && ctr + w1 == 20)) && [[ $srcs =~ ^$nip\ x[0-9]+$ ]] && ok=0
		verdict "$ok" "c6-$node. NodePort from the router: http://[$nip]:$NODE_PORT/ x20 reaches both webpods; remote $remote_pod gets source $nip (SNAT)" \
			"answers: $(tally <<<"$res")" "on br0, SYNs to [$remote_ip]:80 by source: ${srcs:-none}"
	done

	res=$(hits webpod-ctr "http://[$SVC_IP6]/" 20)
	ok=1
	(($(count webpod-ctr <<<"$res") > 0)) && ! grep -q '^ERR' <<<"$res" && ok=0
	verdict "$ok" "d6. hairpin over IPv6: webpod-ctr -> http://[$SVC_IP6]/ x20 all answered, some by itself" \
		"answers: $(tally <<<"$res")"

	body=$(lab_service_json ClusterIP "$EMPTY_IP,$EMPTY_IP6" http:TCP:80:80,dns:UDP:53:53 '')
	if ! out=$(lab_service_put default/empty "$body" 2>&1); then
		fail "e6. PUT default/empty (dual stack, no backends)" "$out"
		return
	fi
	lab_capture_start e6 kdp-curl-pod eth0 "host $EMPTY_IP6" ||
		{ fail "e6. capture in curl-pod" "tcpdump did not start"; return; }
	ip netns exec kdp-curl-pod curl -sS --connect-timeout 3 -m 3 "http://[$EMPTY_IP6]/" >/dev/null 2>&1
	out=$(ip netns exec kdp-curl-pod dig +tries=1 +timeout=3 "@$EMPTY_IP6" "$DNS_NAME" 2>&1)
	cap=$(lab_capture_stop e6)
	rst=$(grep -cE "$EMPTY_IP6\.80 > $CLIENT_IP6\.[0-9]+: Flags \[R" <<<"$cap")
	icmp=$(grep -cE "$EMPTY_IP6 > $CLIENT_IP6: ICMP6, destination unreachable, unreachable port" <<<"$cap")
	ok=1
	((rst > 0 && icmp > 0)) && ok=0
	verdict "$ok" "e6. IPv6 service without backends: TCP refused with a RST, UDP with ICMPv6 port unreachable, both from [$EMPTY_IP6]" \
		"RST from $EMPTY_IP6.80: $rst; port unreachable from $EMPTY_IP6: $icmp" \
		"dig: $(grep -m1 -iE 'refused|unreachable|timed out|no servers' <<<"$out")"
	lab_service_delete default/empty >/dev/null 2>&1 || true
}

check_e_no_backend() {
	local out before after t0 t1 rc cap tup rst icmp ok body
	body=$(lab_service_json ClusterIP "$EMPTY_IP" http:TCP:80:80,dns:UDP:53:53 '')
	if ! out=$(lab_service_put default/empty "$body" 2>&1); then
		fail "e. PUT default/empty (ClusterIP $EMPTY_IP, TCP 80 + UDP 53, no backends)" "$out"
		return
	fi
	before=$(lab_drop_count k8s-ctr svc_no_backend) || before=ERR
	lab_capture_start e kdp-curl-pod eth0 "host $EMPTY_IP or icmp" ||
		{ fail "e. capture in curl-pod" "tcpdump did not start"; return; }

	t0=$(now_ms)
	out=$(ip netns exec kdp-curl-pod curl -sS --connect-timeout 3 -m 3 "http://$EMPTY_IP/" 2>&1)
	rc=$?
	t1=$(now_ms)
	local tcp_rc=$rc tcp_ms=$((t1 - t0)) tcp_out=$out
	t0=$(now_ms)
	out=$(ip netns exec kdp-curl-pod dig +tries=1 +timeout=3 "@$EMPTY_IP" "$DNS_NAME" 2>&1)
	rc=$?
	t1=$(now_ms)
	local udp_rc=$rc udp_ms=$((t1 - t0)) udp_out
	udp_out=$(grep -m1 -iE 'refused|unreachable|timed out|no servers' <<<"$out")
	cap=$(lab_capture_stop e)
	tup=$(tuples <<<"$cap")
	after=$(lab_drop_count k8s-ctr svc_no_backend) || after=ERR
	rst=$(awk -v s="$EMPTY_IP" -v c="$CLIENT_IP" '$1 == s && $2 == 80 && $3 == c && $5 ~ /R/' <<<"$tup" | wc -l)
	icmp=$(grep -cF "ICMP $EMPTY_IP udp port 53 unreachable" <<<"$cap")

	ok=1
	((tcp_rc == 7 && tcp_ms < 1000 && rst > 0)) && ok=0
	verdict "$ok" "e1. TCP to $EMPTY_IP:80 (no backends) is refused at once (RST)" \
		"curl exit $tcp_rc after ${tcp_ms} ms: $tcp_out" \
		"tcpdump in curl-pod: RST from $EMPTY_IP.80: $rst"
	ok=1
	[[ $udp_out == *refused* || $udp_out == *nreachable* ]] && ((udp_ms < 1000 && icmp > 0)) && ok=0
	verdict "$ok" "e2. UDP to $EMPTY_IP:53 (no backends) gets ICMP port unreachable" \
		"dig exit $udp_rc after ${udp_ms} ms: ${udp_out:-$(tail -n1 <<<"$out")}" \
		"tcpdump in curl-pod: $(grep -m1 -F "ICMP $EMPTY_IP" <<<"$cap" | sed 's/^.*, length [0-9]*: //' || echo 'no ICMP')"
	ok=1
	[[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && ((after - before >= 2)) && ok=0
	verdict "$ok" "e3. GET /v1/stats on k8s-ctr: svc_no_backend increased" \
		"svc_no_backend: $before before, $after after"
	lab_service_delete default/empty >/dev/null 2>&1 || true
}

# state_case DESC EXPECT N BACKEND_SPEC...: PUT webpod with those backends, N
# connections from curl-pod, PASS if all answers are EXPECT ("both": both
# webpods, all answered).
state_case() {
	local desc=$1 expect=$2 n=$3 res ok=1 ctr w1
	shift 3
	put_webpod "$(backends "$@")" || return
	res=$(hits curl-pod "http://$SVC_IP/" "$n")
	if [[ $expect == both ]]; then
		ctr=$(count webpod-ctr <<<"$res") w1=$(count webpod-w1 <<<"$res")
		((ctr > 0 && w1 > 0 && ctr + w1 == n)) && ok=0
	else
		[[ $(count "$expect" <<<"$res") == "$n" ]] && ok=0
	fi
	verdict "$ok" "$desc" "backends: $*" "answers: $(tally <<<"$res")"
	if ((ok != 0)); then
		printf '        answer, curl-pod port, seconds: %s\n' "$(hits_detail | paste -sd';' -)"
		printf '        GET /v1/ct on k8s-ctr (TCP flows of curl-pod to %s):\n' "$SVC_IP"
		ct_flows k8s-ctr | grep -F " $SVC_IP:80 " | sed 's/^/          | /'
	fi
}

check_f_states() {
	state_case "f1. webpod-w1 maintenance -> 10 new connections all to webpod-ctr" \
		webpod-ctr 10 "$WEB_CTR" "$WEB_W1:maintenance"
	state_case "f2. webpod-ctr terminating, webpod-w1 active -> all to webpod-w1 (terminating unused while an active one remains)" \
		webpod-w1 10 "$WEB_CTR:terminating" "$WEB_W1"
	state_case "f3. webpod-ctr terminating, webpod-w1 maintenance -> all to webpod-ctr (terminating used when no active remains)" \
		webpod-ctr 10 "$WEB_CTR:terminating" "$WEB_W1:maintenance"
	state_case "f4. both active again -> both webpods reached" \
		both 16 "$WEB_CTR" "$WEB_W1"
	check_f_reuse
}

# f5/f6: a new connection (SYN) that reuses the 5-tuple of a connection closed
# a moment ago, while kdp still holds its conntrack entry (closing), is a new
# flow: it must not go to a backend now in maintenance, nor be reset because
# that backend was removed (Cilium re-selects a backend for a SYN on a
# reopened entry whose backend is not active).
check_f_reuse() {
	local r1 r2 ok case desc port after
	for case in maintenance removed; do
		if [[ $case == maintenance ]]; then
			port=45000 after=("$WEB_CTR" "$WEB_W1:maintenance")
			desc="f5. a new connection reusing the 5-tuple of a just-closed one (conntrack entry still closing) does not go to webpod-w1 now in maintenance"
		else
			port=45001 after=("$WEB_CTR")
			desc="f6. a new connection reusing the 5-tuple of a just-closed one whose backend webpod-w1 was removed gets webpod-ctr (not a reset)"
		fi
		put_webpod "$(backends "$WEB_W1")" || return
		r1=$(tcp_get kdp-curl-pod "$CLIENT_IP" "$SVC_IP" 80 "$port")
		put_webpod "$(backends "${after[@]}")" || return
		r2=$(tcp_get kdp-curl-pod "$CLIENT_IP" "$SVC_IP" 80 "$port")
		ok=1
		[[ $r1 == "$port webpod-w1" && $r2 == "$port webpod-ctr" ]] && ok=0
		verdict "$ok" "$desc" \
			"backends webpod-w1 only: $CLIENT_IP:$r1; then backends ${after[*]}: $CLIENT_IP:$r2" \
			"GET /v1/ct on k8s-ctr: $(ct_flows k8s-ctr | grep -F " $CLIENT_IP:$port " | paste -sd';' -)"
	done
	put_webpod || true
}

check_g_affinity() {
	local res ok=1 n
	put_webpod 'sessionAffinity="ClientIP"' || return
	res=$(hits curl-pod "http://$SVC_IP/" 10)
	n=$(sort -u <<<"$res" | wc -l)
	((n == 1)) && ! grep -q '^ERR' <<<"$res" && ok=0
	verdict "$ok" "g. sessionAffinity ClientIP: 10 connections from curl-pod all hit the same webpod" \
		"answers: $(tally <<<"$res")"
	put_webpod 'sessionAffinity="None"' || true
}

# start_download TAG: a rate-limited download of /big through the ClusterIP
# from curl-pod, in the background; sets DL_PID, output in DL_OUT.
start_download() {
	DL_OUT=$KDP_LAB_DIR/dl-$1.txt
	rm -f "$DL_OUT"
	ip netns exec kdp-curl-pod curl -sS -o /dev/null --limit-rate 20M -m 60 --local-port "$(next_port)" \
		-w 'size=%{size_download} http=%{http_code}\n' "http://$SVC_IP/big" >"$DL_OUT" 2>&1 &
	DL_PID=$!
	BG_PIDS+=("$DL_PID")
}

# wait_download: wait for DL_PID; DL_RC, DL_SIZE, DL_TEXT.
wait_download() {
	wait "$DL_PID"
	DL_RC=$?
	DL_TEXT=$(tr '\n' ' ' <"$DL_OUT")
	DL_SIZE=$(grep -o 'size=[0-9]*' "$DL_OUT" | cut -d= -f2)
	DL_SIZE=${DL_SIZE:-0}
}

# flow_backend: the backend of curl-pod's established flow to the ClusterIP
# per GET /v1/ct on k8s-ctr.
flow_backend() {
	ct_flows k8s-ctr | awk -v c="$CLIENT_IP" -v s="$SVC_IP:80" \
		'$1 == "TCP" && index($2, c ":") == 1 && $3 == s && $7 == "established" {split($5, a, ":"); print a[1]}' |
		sort -u | paste -sd, -
}

check_h_updates() {
	local t0 t1 alive be1 be2 ep before after out ok
	# h1: backend webpod-w1 only; mid-way, add webpod-ctr and change the labels
	# of webpod-w1 (endpoint re-PUT on k8s-w1).
	put_webpod "$(backends "$WEB_W1")" || return
	t0=$(now_ms)
	start_download h1
	sleep 2
	be1=$(flow_backend)
	put_webpod "$(backends "$WEB_W1" "$WEB_CTR")" 'sessionAffinity="None"' || true
	ep=$(lab_endpoint_json webpod-w1 | python3 -c '
import json, sys
e = json.load(sys.stdin)
e["labels"]["version"] = "v2"
print(json.dumps(e))')
	api k8s-w1 PUT "$(lab_endpoint_path webpod-w1)" "$ep"
	local ep_code=$CODE
	alive=no
	_lab_pid_alive "$DL_PID" && alive=yes
	be2=$(flow_backend)
	wait_download
	t1=$(now_ms)
	ok=1
	[[ $alive == yes && $DL_RC == 0 && $DL_SIZE == "$BIG_BYTES" && $ep_code == 2?? ]] && ok=0
	verdict "$ok" "h1. a ${LAB_WEB_BIG_MB} MiB download survives a service update that keeps its backend" \
		"update at 2 s (transfer still running: $alive): backends + webpod-ctr, labels of webpod-w1 + version=v2 (HTTP $ep_code)" \
		"flow backend in /v1/ct before: ${be1:-?}, after: ${be2:-?}" \
		"curl exit $DL_RC after $(((t1 - t0) / 1000)) s: $DL_TEXT(want size=$BIG_BYTES)"

	# h2: backend webpod-w1 only; mid-way, replace it by webpod-ctr.
	put_webpod "$(backends "$WEB_W1")" || return
	before=$(lab_drop_count k8s-ctr svc_backend_gone) || before=ERR
	t0=$(now_ms)
	start_download h2
	sleep 2
	be1=$(flow_backend)
	alive=no
	_lab_pid_alive "$DL_PID" && alive=yes
	put_webpod "$(backends "$WEB_CTR")" || true
	wait_download
	t1=$(now_ms)
	after=$(lab_drop_count k8s-ctr svc_backend_gone) || after=ERR
	ok=1
	[[ $alive == yes && $DL_RC != 0 && $DL_SIZE -lt $BIG_BYTES && $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] &&
		((after > before && t1 - t0 < 10000)) && ok=0
	verdict "$ok" "h2. a download whose backend is removed mid-way is reset; svc_backend_gone counts it" \
		"flow backend before: ${be1:-?}; at 2 s (running: $alive) backends -> webpod-ctr only" \
		"curl exit $DL_RC after $(((t1 - t0) / 1000)) s: $DL_TEXT" \
		"svc_backend_gone on k8s-ctr: $before before, $after after"
	put_webpod || true
}

# maglev_round VIA: route MG_EXT_IP via VIA on the router and connect from
# each MG_SRC_PORTS port (the same ports every round: see tcp_get); prints
# "port pod" lines.
maglev_round() {
	ip -n "$LAB_NS_ROUTER" route replace "$MG_EXT_IP/32" via "$1" dev eth1 || return 1
	tcp_get "$LAB_NS_ROUTER" "$LAB_ROUTER_IP" "$MG_EXT_IP" "$MG_PORT" "${MG_SRC_PORTS[@]}"
}

check_i_maglev() {
	local body out r1 r2 same diff pods ok flows1 flows2 table
	body=$(lab_service_json ClusterIP 10.96.152.250 "http:TCP:$MG_PORT:80" app=webpod \
		'algorithm="maglev"' "externalIPs=[\"$MG_EXT_IP\"]")
	if ! out=$(lab_service_put default/webpod-mg "$body" 2>&1); then
		fail "i. PUT default/webpod-mg (maglev, externalIP $MG_EXT_IP:$MG_PORT)" "$out"
		return
	fi
	r1=$(maglev_round "$NODE_CTR")
	flows1=$(ct_flows k8s-ctr | grep -c " $LAB_ROUTER_IP:400[0-9][0-9] $MG_EXT_IP:$MG_PORT ")
	r2=$(maglev_round "$NODE_W1")
	flows2=$(ct_flows k8s-w1 | grep -c " $LAB_ROUTER_IP:400[0-9][0-9] $MG_EXT_IP:$MG_PORT ")
	ip -n "$LAB_NS_ROUTER" route del "$MG_EXT_IP/32" 2>/dev/null || true
	table=$(join <(sort <<<"$r1") <(sort <<<"$r2"))
	same=$(awk '$2 == $3 && $2 ~ /^webpod-/' <<<"$table" | wc -l)
	diff=$(awk '$2 != $3 || $2 !~ /^webpod-/' <<<"$table" | wc -l)
	pods=$(awk '{print $2; print $3}' <<<"$table" | grep '^webpod-' | sort -u | paste -sd, -)
	ok=1
	((same == ${#MG_SRC_PORTS[@]} && diff == 0 && flows1 >= ${#MG_SRC_PORTS[@]} &&
		flows2 >= ${#MG_SRC_PORTS[@]})) && [[ $pods == *,* ]] && ok=0
	verdict "$ok" "i. maglev: $LAB_ROUTER_IP:<port> -> $MG_EXT_IP:$MG_PORT picks the same pod via k8s-ctr and via k8s-w1" \
		"ports ${MG_SRC_PORTS[0]}..${MG_SRC_PORTS[-1]}: same pod $same, different/failed $diff; pods seen: ${pods:-none}" \
		"flows in /v1/ct: k8s-ctr $flows1, k8s-w1 $flows2" \
		"port via-ctr via-w1: $(tr '\n' ';' <<<"$table")"
	lab_service_delete default/webpod-mg >/dev/null 2>&1 || true
}

T_START=$(now_ms)
if setup; then
	check_a_clusterip
	check_b_dns
	check_c_nodeport
	check_d_hairpin
	check_e_no_backend
	check_v6
	check_f_states
	check_g_affinity
	check_h_updates
	check_i_maglev
fi
echo "time: $((($(now_ms) - T_START) / 1000)) s"
FINISHED=1
exit 0 # on_exit turns this into 1 if a check failed

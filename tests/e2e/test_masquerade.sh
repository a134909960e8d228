#!/usr/bin/env bash
# End-to-end test: SNAT masquerade through kdp in the reference lab
# (DESIGN.md sections 1-2, scenario 3: masquerade to the node IP, the
# non-masquerade set with an ip-masq-agent config, NAT port allocation and
# exhaustion, ICMP errors translated back, the watched config file, the NAT
# table). Builds the lab in network namespaces, runs kdp on k8s-ctr and
# k8s-w1, an HTTP server and a UDP echo server in the router (outside the
# cluster), checks, and always tears the lab down.
#
#   sudo tests/e2e/test_masquerade.sh     (KDP_BUILD=<dir>, default build)
#
# Prints PASS/FAIL per check with what was observed; the last line is
# "N passed, M failed"; exit 0 only if every check passed.
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"


CLIENT_IP=172.20.1.236 # curl-pod on k8s-ctr
WEB_CTR=172.20.1.40    # webpod-ctr (second client on k8s-ctr)
WEB_W1=172.20.0.130    # webpod-w1 (pod on the other node)
NODE_CTR=192.168.10.100
NODE_W1=192.168.10.101
ROUTER=$LAB_ROUTER_IP # 192.168.10.200
EXTRA1=10.10.1.200    # the router's other addresses
EXTRA2=10.10.2.200
ECHO_PORT=7007   # UDP echo server in the router
CLOSED_PORT=9999 # nothing listens there in the router
SAME_PORT=40123  # the source port both clients use in check e
IPMASQ='{"nonMasqueradeCIDRs":["10.10.1.0/24","10.10.2.0/24"]}'
IPMASQ_DIR=$KDP_LAB_DIR/ip-masq-agent # watched directory (check h)
IPMASQ_FILE=$IPMASQ_DIR/config
TINY_RANGE=40000-40003 # natPortRange of check f
TINY_OTHER=3           # conntrack otherSeconds of check f
# The IPv6 side (the lab is dual stack).
CLIENT_IP6=fd00:20:0:1::236
NODE_CTR6=fd00:10::100
ROUTER6=$LAB_ROUTER_IP6 # fd00:10::200
EXTRA1_6=fd00:10:1::200
IPMASQ6='{"nonMasqueradeCIDRs":["10.10.1.0/24","10.10.2.0/24","fd00:10:1::/64"]}'




# shellcheck disable=SC2317 # run by the harness on exit
e2e_cleanup() {
	rm -rf "$IPMASQ_DIR" 2>/dev/null
	# leave the default node configs behind (lab.sh and the other tests
	# rewrite them anyway)
	unset KDP_LAB_IPMASQ_FILE KDP_LAB_CONFIG_EXTRA
	lab_kdp_config k8s-ctr >/dev/null 2>&1
}


re() { printf '%s' "${1//./\\.}"; } # an address as a regex

# secs MS: milliseconds as seconds with one decimal.
secs() { printf '%d.%d s' "$(($1 / 1000))" "$((($1 % 1000) / 100))"; }

# http POD URL: curl from POD; prints the body or "ERR<code>".
http() {
	local out
	out=$(ip netns exec "$(lab_pod_ns "$1")" curl -s --connect-timeout 2 -m 3 "$2" 2>/dev/null) ||
		out="ERR$?"
	printf '%s\n' "$out"
}

# ping_ok POD DST: lab_ping, "ok"/"FAILED" and the summary.
ping_ok() {
	local out
	if out=$(lab_ping "$1" "$2"); then
		printf 'ok (%s)\n' "$(lab_ping_summary <<<"$out")"
	else
		printf 'FAILED (%s)\n' "$(lab_ping_summary <<<"$out")"
	fi
}

# srcs_to CAP DST: the sources of echo requests and TCP SYNs to DST in the
# tcpdump text CAP, "addr xN" each.
srcs_to() {
	grep -E "> $(re "$2")(\.[0-9]+)?: (ICMP echo request|Flags \[S\])" <<<"$1" |
		grep -oE '[0-9]+(\.[0-9]+){3}(\.[0-9]+)? > ' | sed -E 's/^([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+).*/\1/' |
		sort | uniq -c | awk '{printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1}'
}

# udp_flows POD SRC DST DPORT PORT...: one datagram to DST:DPORT from each
# SRC:PORT, waiting up to 0.4 s for each answer; prints "port answer" (the
# echo server's answer: the source it saw) or "port NONE", or "port REFUSED"
# (ICMP port unreachable reached the socket).
udp_flows() {
	ip netns exec "$(lab_pod_ns "$1")" "$LAB_PY" -c '
import socket, sys
src, dst, dport = sys.argv[1], sys.argv[2], int(sys.argv[3])
for p in map(int, sys.argv[4:]):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(0.4)
    try:
        s.bind((src, p))
        s.connect((dst, dport))
        s.send(b"kdp-e2e")
        print(p, s.recv(2048).decode(errors="replace").split()[0])
    except ConnectionRefusedError:
        print(p, "REFUSED")
    except socket.timeout:
        print(p, "NONE")
    except Exception as e:
        print(p, "ERR:" + type(e).__name__)
    finally:
        s.close()
' "${@:2}"
}

# nat_rows NODE: "proto direction src dst xlate to" per GET /v1/nat entry.
nat_rows() {
	lab_api "$1" GET /v1/nat 2>/dev/null | python3 -c '
import json, sys
doc = json.load(sys.stdin)
if isinstance(doc, dict):
    doc = doc.get("nat") or doc.get("entries") or []
for e in doc:
    print(e.get("protocol"), e.get("direction"), e.get("src"), e.get("dst"), e.get("xlate"), e.get("to"))
' 2>/dev/null
}

# nat_stat NODE KEY: GET /v1/stats .nat.KEY
nat_stat() {
	lab_api "$1" GET /v1/stats 2>/dev/null | python3 -c '
import json, sys
print(json.load(sys.stdin).get("nat", {}).get(sys.argv[1], "?"))' "$2" 2>/dev/null || echo '?'
}

# nonmasq NODE: the nonMasquerade prefixes of GET /v1/ipmasq, comma separated
# (sorted), then " fileError=..." when set.
nonmasq() {
	lab_api "$1" GET /v1/ipmasq 2>/dev/null | python3 -c '
import json, sys
d = json.load(sys.stdin)
p = sorted(x.get("prefix") for x in d.get("nonMasquerade") or [])
out = ",".join(p)
if d.get("fileError"):
    out += " fileError=" + str(d["fileError"])
print(out)' 2>/dev/null || echo 'GET /v1/ipmasq failed'
}

# restart_ctr: restart kdp on k8s-ctr with the node config written from the
# current KDP_LAB_IPMASQ_FILE / KDP_LAB_CONFIG_EXTRA (its state comes back
# from its state file).
restart_ctr() {
	lab_kdp_stop k8s-ctr || return 1
	lab_kdp_config k8s-ctr || return 1
	lab_kdp_start k8s-ctr
}

# ------------------------------------------------------------------ setup

setup() {
	local out
	unset KDP_LAB_IPMASQ_FILE KDP_LAB_CONFIG_EXTRA
	rm -rf "$IPMASQ_DIR"
	# The router knows no pod CIDR: a reply reaches a pod only if kdp
	# masqueraded the request (until check c adds the routes).
	e2e_lab_up || return 1
	if ! out=$(lab_router_http_start 2>&1 && lab_router_udp_echo_start "$ECHO_PORT" 2>&1); then
		fail "setup: HTTP and UDP echo servers in the router" "$out"
		return 1
	fi
	# The first packets of each pod wait for ARP: warm up (not counted).
	lab_ping curl-pod "$NODE_W1" >/dev/null 2>&1 || true
	lab_ping webpod-ctr "$NODE_W1" >/dev/null 2>&1 || true
	echo "setup: lab up, kdp on $(lab_node_names | paste -sd, -), HTTP :80 and UDP echo :$ECHO_PORT in the router" \
		"($ROUTER, $EXTRA1, $EXTRA2), no pod routes in the router"
}

# ------------------------------------------------------------------ checks

# masq_case TAG DESC DST WANT_SRC: ping and curl DST from curl-pod with
# captures in the router (eth1) and in curl-pod; PASS if the router saw only
# WANT_SRC and curl-pod got the answers from DST.
masq_case() {
	local tag=$1 desc=$2 dst=$3 want=$4 pr body rcap ccap srcs back ok=1
	lab_capture_start "$tag-r" "$LAB_NS_ROUTER" eth1 "icmp or tcp port 80" ||
		{ fail "$desc" "tcpdump in the router did not start"; return; }
	lab_capture_start "$tag-c" kdp-curl-pod eth0 "icmp or tcp port 80" ||
		{ lab_capture_stop "$tag-r" >/dev/null; fail "$desc" "tcpdump in curl-pod did not start"; return; }
	pr=$(ping_ok curl-pod "$dst")
	body=$(http curl-pod "http://$dst/")
	rcap=$(lab_capture_stop "$tag-r")
	ccap=$(lab_capture_stop "$tag-c")
	srcs=$(srcs_to "$rcap" "$dst")
	# answers from DST to the pod's own address, as seen in curl-pod
	back=$(grep -cE "$(re "$dst")(\.80)? > $(re "$CLIENT_IP")(\.[0-9]+)?: (ICMP echo reply|Flags \[S\.\])" <<<"$ccap")
	[[ $pr == ok* && $body == router && $srcs =~ ^$(re "$want")\ x[0-9]+$ ]] && ((back >= 2)) && ok=0
	verdict "$ok" "$desc" \
		"ping: $pr; curl http://$dst/: $body" \
		"tcpdump in the router (eth1): sources of echo requests and SYNs to $dst: ${srcs:-none}" \
		"tcpdump in curl-pod: echo replies / SYN-ACKs from $dst to $CLIENT_IP: $back" \
		"$(grep -m1 -E "> $(re "$dst")\.80: Flags \[S\]" <<<"$rcap" | sed 's/^.*, length [0-9]*: /router: /')"
}

# masq_case6 TAG DESC DST WANT_SRC: masq_case for IPv6 (ping -6, curl
# http://[DST]/).
masq_case6() {
	local tag=$1 desc=$2 dst=$3 want=$4 pr body rcap ccap srcs back ok=1
	lab_capture_start "$tag-r" "$LAB_NS_ROUTER" eth1 "icmp6 or tcp port 80" ||
		{ fail "$desc" "tcpdump in the router did not start"; return; }
	lab_capture_start "$tag-c" kdp-curl-pod eth0 "icmp6 or tcp port 80" ||
		{ lab_capture_stop "$tag-r" >/dev/null; fail "$desc" "tcpdump in curl-pod did not start"; return; }
	pr=$(ping_ok curl-pod "$dst")
	body=$(http curl-pod "http://[$dst]/")
	rcap=$(lab_capture_stop "$tag-r")
	ccap=$(lab_capture_stop "$tag-c")
	srcs=$(grep -E "> $dst(\.80)?: (ICMP6, echo request|Flags \[S\])" <<<"$rcap" |
		grep -oE 'length [0-9]+: [0-9a-f:]+(\.[0-9]+)? > ' | sed -E 's/^length [0-9]+: ([0-9a-f:]+)(\.[0-9]+)? > $/\1/' |
		sort | uniq -c | awk '{printf "%s%s x%d", (NR > 1 ? ", " : ""), $2, $1}')
	back=$(grep -cE "$dst(\.80)? > $CLIENT_IP6(\.[0-9]+)?: (ICMP6, echo reply|Flags \[S\.\])" <<<"$ccap")
	[[ $pr == ok* && $body == router && $srcs =~ ^$want\ x[0-9]+$ ]] && ((back >= 2)) && ok=0
	verdict "$ok" "$desc" \
		"ping: $pr; curl http://[$dst]/: $body" \
		"tcpdump in the router (eth1): sources of echo requests and SYNs to $dst: ${srcs:-none}" \
		"tcpdump in curl-pod: echo replies / SYN-ACKs from $dst to $CLIENT_IP6: $back"
}

check_a_router() {
	masq_case a "a. curl-pod -> router $ROUTER (ping, curl): the router sees $NODE_CTR, the answers reach curl-pod" \
		"$ROUTER" "$NODE_CTR"
	masq_case6 a6 "a6. IPv6: curl-pod -> router $ROUTER6 (ping, curl): the router sees $NODE_CTR6, the answers reach curl-pod" \
		"$ROUTER6" "$NODE_CTR6"
}

check_b_extra() {
	masq_case b1 "b1. curl-pod -> $EXTRA1 (router, no ip-masq-agent config): masqueraded to $NODE_CTR" \
		"$EXTRA1" "$NODE_CTR"
	masq_case b2 "b2. curl-pod -> $EXTRA2 (router, no ip-masq-agent config): masqueraded to $NODE_CTR" \
		"$EXTRA2" "$NODE_CTR"
}

check_c_ipmasq() {
	local out node ok=0 list rc=0 want l missing=()
	for node in k8s-ctr k8s-w1; do
		api "$node" PUT /v1/ipmasq "$IPMASQ6"
		out+="$node: HTTP $CODE; "
		[[ $CODE == 2?? ]] || { ok=1; out+="($BODY) "; }
	done
	lab_router_pod_routes add || ok=1
	verdict "$ok" "c0. PUT /v1/ipmasq $IPMASQ6 on both nodes; routes to the pod CIDRs in the router" "$out"
	masq_case c1 "c1. with the config, curl-pod -> $EXTRA1 keeps the pod source $CLIENT_IP" "$EXTRA1" "$CLIENT_IP"
	masq_case c2 "c2. with the config, curl-pod -> $EXTRA2 keeps the pod source $CLIENT_IP" "$EXTRA2" "$CLIENT_IP"
	masq_case c3 "c3. with the config, curl-pod -> $ROUTER is still masqueraded to $NODE_CTR" "$ROUTER" "$NODE_CTR"
	masq_case6 c6 "c6. IPv6: with the config (fd00:10:1::/64), curl-pod -> $EXTRA1_6 keeps the pod source $CLIENT_IP6" \
		"$EXTRA1_6" "$CLIENT_IP6"
	masq_case6 c7 "c7. IPv6: curl-pod -> $ROUTER6 is still masqueraded to $NODE_CTR6" "$ROUTER6" "$NODE_CTR6"

	ok=0
	list=$(lab_kdpctl k8s-ctr ipmasq list 2>&1) || rc=$?
	for want in 10.10.1.0/24 10.10.2.0/24 172.20.0.0/16 169.254.0.0/16 "$NODE_CTR/32" "$NODE_W1/32" \
		fd00:10:1::/64 fd00:20::/48 fe80::/10 "$NODE_CTR6/128" "fd00:10::101/128"; do
		grep -qE "^$(re "$want")( |$)" <<<"$list" || missing+=("$want")
	done
	((rc == 0 && ${#missing[@]} == 0)) || ok=1
	l=$(awk 'NR > 1 {print $1}' <<<"$list" | paste -sd, -)
	verdict "$ok" "c4. kdpctl ipmasq list on k8s-ctr: 10.10.1.0/24, 10.10.2.0/24, 172.20.0.0/16, 169.254.0.0/16, both node IPs; fd00:10:1::/64, fd00:20::/48, fe80::/10, both node IPv6 addresses" \
		"listed: ${l:-nothing} (rc $rc)" "missing: ${missing[*]:-none}"
	((ok == 0)) || printf '%s\n' "$list" | sed 's/^/          | /'
	l=$(lab_kdpctl k8s-w1 ipmasq list -o wide 2>&1 | awk 'NR > 1 {print $1 "(" $2 ")"}' | paste -sd, -)
	[[ $l == *10.10.1.0/24* && $l == *10.10.2.0/24* && $l == *169.254.0.0/16* ]] && ok=0 || ok=1
	verdict "$ok" "c5. kdpctl ipmasq list -o wide on k8s-w1 has the config too" "listed: ${l:-nothing}"
}

check_d_cluster() {
	local cap p1 p2 s1 s2 ok=1
	lab_capture_start d kdp-lan "$LAB_LAN_BRIDGE" icmp ||
		{ fail "d. capture on br0" "tcpdump did not start"; return; }
	p1=$(ping_ok curl-pod "$WEB_W1")
	p2=$(ping_ok curl-pod "$NODE_W1")
	cap=$(lab_capture_stop d)
	s1=$(srcs_to "$cap" "$WEB_W1")
	s2=$(srcs_to "$cap" "$NODE_W1")
	[[ $p1 == ok* && $s1 =~ ^$(re "$CLIENT_IP")\ x[0-9]+$ ]] && ok=0
	verdict "$ok" "d1. pod-to-pod: curl-pod -> $WEB_W1 (webpod-w1) keeps the source $CLIENT_IP on the LAN" \
		"ping: $p1" "tcpdump on br0: sources of echo requests to $WEB_W1: ${s1:-none}"
	ok=1
	[[ $p2 == ok* && $s2 =~ ^$(re "$CLIENT_IP")\ x[0-9]+$ ]] && ok=0
	verdict "$ok" "d2. pod-to-node: curl-pod -> $NODE_W1 (k8s-w1) keeps the source $CLIENT_IP on the LAN" \
		"ping: $p2" "tcpdump on br0: sources of echo requests to $NODE_W1: ${s2:-none}"
}

# start_get POD TAG: a rate-limited download of the router's /big from POD,
# source port SAME_PORT, in the background (its PID in GET_PID); output in
# $KDP_LAB_DIR/dl-TAG.txt.
GET_PID=0
start_get() {
	ip netns exec "$(lab_pod_ns "$1")" curl -sS -o /dev/null --limit-rate 2M -m 30 \
		--local-port "$SAME_PORT" -w 'size=%{size_download} http=%{http_code}\n' \
		"http://$ROUTER/big" >"$KDP_LAB_DIR/dl-$2.txt" 2>&1 &
	GET_PID=$!
	BG_PIDS+=("$GET_PID")
}

check_e_ports_i_natlist() {
	local nat kn cap big p1 p2 rc1=0 rc2=0 o1 o2 syns ok=1 o_c i_c o_w i_w pid_c pid_w
	big=$((LAB_ROUTER_BIG_MB * 1024 * 1024))
	lab_capture_start e "$LAB_NS_ROUTER" eth1 "tcp port 80 and tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0" ||
		{ fail "e. capture in the router" "tcpdump did not start"; return; }
	start_get curl-pod c
	pid_c=$GET_PID
	start_get webpod-ctr w
	pid_w=$GET_PID
	sleep 1.5 # both transfers running
	nat=$(nat_rows k8s-ctr)
	kn=$(lab_kdpctl k8s-ctr nat list 2>&1)
	wait "$pid_c" || rc1=$?
	wait "$pid_w" || rc2=$?
	cap=$(lab_capture_stop e)
	o1=$(tr '\n' ' ' <"$KDP_LAB_DIR/dl-c.txt")
	o2=$(tr '\n' ' ' <"$KDP_LAB_DIR/dl-w.txt")
	p1=$(awk -v s="$CLIENT_IP:$SAME_PORT" -v d="$ROUTER:80" '$1 == "TCP" && $2 == "OUT" && $3 == s && $4 == d && $5 == "XLATE_SRC" {print $6}' <<<"$nat")
	p2=$(awk -v s="$WEB_CTR:$SAME_PORT" -v d="$ROUTER:80" '$1 == "TCP" && $2 == "OUT" && $3 == s && $4 == d && $5 == "XLATE_SRC" {print $6}' <<<"$nat")
	syns=$(grep -oE "$(re "$NODE_CTR")\.[0-9]+ > $(re "$ROUTER")\.80" <<<"$cap" | awk '{print $1}' | sort -u | paste -sd, -)
	[[ $rc1 == 0 && $rc2 == 0 && $o1 == *"size=$big http=200"* && $o2 == *"size=$big http=200"* &&
		$p1 == "$NODE_CTR":* && $p2 == "$NODE_CTR":* && $p1 != "$p2" ]] && ok=0
	verdict "$ok" "e. curl-pod and webpod-ctr both download from $ROUTER:80 with source port $SAME_PORT at the same time: distinct NAT ports, both complete" \
		"curl-pod:   exit $rc1, $o1(want size=$big)" "webpod-ctr: exit $rc2, $o2" \
		"GET /v1/nat XLATE_SRC: $CLIENT_IP:$SAME_PORT -> ${p1:-none}; $WEB_CTR:$SAME_PORT -> ${p2:-none}" \
		"SYNs seen by the router from: ${syns:-none}"
	((ok == 0)) || printf '%s\n' "$nat" | sed 's/^/          | /'

	# i. the CLI shows both halves of each running flow
	ok=1
	o_c=$(grep -E "^TCP +OUT +$(re "$CLIENT_IP:$SAME_PORT") +$(re "$ROUTER:80") +XLATE_SRC +$(re "$p1")( |$)" <<<"$kn")
	i_c=$(grep -E "^TCP +IN +$(re "$ROUTER:80") +$(re "$p1") +XLATE_DST +$(re "$CLIENT_IP:$SAME_PORT")( |$)" <<<"$kn")
	o_w=$(grep -E "^TCP +OUT +$(re "$WEB_CTR:$SAME_PORT") +$(re "$ROUTER:80") +XLATE_SRC +$(re "$p2")( |$)" <<<"$kn")
	i_w=$(grep -E "^TCP +IN +$(re "$ROUTER:80") +$(re "$p2") +XLATE_DST +$(re "$WEB_CTR:$SAME_PORT")( |$)" <<<"$kn")
	[[ -n $p1 && -n $p2 && -n $o_c && -n $i_c && -n $o_w && -n $i_w ]] && ok=0
	verdict "$ok" "i. kdpctl nat list on k8s-ctr (during the downloads) shows the XLATE_SRC/XLATE_DST pair of each flow" \
		"${o_c:-MISSING: TCP OUT $CLIENT_IP:$SAME_PORT -> $ROUTER:80 XLATE_SRC ${p1:-?}}" \
		"${i_c:-MISSING: TCP IN $ROUTER:80 -> ${p1:-?} XLATE_DST $CLIENT_IP:$SAME_PORT}" \
		"${o_w:-MISSING: TCP OUT $WEB_CTR:$SAME_PORT -> $ROUTER:80 XLATE_SRC ${p2:-?}}" \
		"${i_w:-MISSING: TCP IN $ROUTER:80 -> ${p2:-?} XLATE_DST $WEB_CTR:$SAME_PORT}"
	((ok == 0)) || printf '%s\n' "$kn" | sed 's/^/          | /'
}

# g6. The same for IPv6: the kernel refuses the connected socket only if the
# ICMPv6 error quotes its own packet (translated back, checksums right).
check_g6_icmp_error() {
	local res ok=1 sport=41998 nat
	res=$(ip netns exec kdp-curl-pod "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(1.0)
s.bind((sys.argv[1], int(sys.argv[3])))
s.connect((sys.argv[2], int(sys.argv[4])))
for _ in range(2):
    try:
        s.send(b"kdp-e2e")
        s.recv(100)
        print("ANSWERED")
        break
    except ConnectionRefusedError:
        print("REFUSED")
        break
    except socket.timeout:
        continue
else:
    print("NONE")
' "$CLIENT_IP6" "$ROUTER6" "$sport" "$CLOSED_PORT" 2>&1)
	nat=$(nat_rows k8s-ctr | grep -F "[$CLIENT_IP6]:$sport" | head -1)
	[[ $res == REFUSED && -n $nat ]] && ok=0
	verdict "$ok" "g6. IPv6: UDP from curl-pod to a closed port ([$ROUTER6]:$CLOSED_PORT): the ICMPv6 port unreachable reaches curl-pod's socket translated back (connection refused)" \
		"socket in curl-pod ([$CLIENT_IP6]:$sport): ${res:-nothing}" "GET /v1/nat: ${nat:-no entry}"
}

check_g_icmp_error() {
	local res ccap rcap line inner rinner ok=1 sport=41999
	lab_capture_start g-c kdp-curl-pod eth0 -v icmp ||
		{ fail "g. capture in curl-pod" "tcpdump did not start"; return; }
	lab_capture_start g-r "$LAB_NS_ROUTER" eth1 -v icmp ||
		{ lab_capture_stop g-c >/dev/null; fail "g. capture in the router" "tcpdump did not start"; return; }
	res=$(udp_flows curl-pod "$CLIENT_IP" "$ROUTER" "$CLOSED_PORT" "$sport")
	ccap=$(lab_capture_stop g-c)
	rcap=$(lab_capture_stop g-r)
	line=$(grep -m1 -F "udp port $CLOSED_PORT unreachable" <<<"$ccap" | sed -E 's/^.*(\b[0-9]+(\.[0-9]+){3} > [0-9.]+: ICMP)/\1/')
	inner=$(grep -m1 -E "$(re "$CLIENT_IP")\.$sport > $(re "$ROUTER")\.$CLOSED_PORT: (\[[^]]*\] )?UDP" <<<"$ccap" | sed 's/^[[:space:]]*//')
	rinner=$(grep -m1 -E "$(re "$NODE_CTR")\.[0-9]+ > $(re "$ROUTER")\.$CLOSED_PORT: (\[[^]]*\] )?UDP" <<<"$rcap" | sed 's/^[[:space:]]*//')
	[[ $res == "$sport REFUSED" && $line == *"$ROUTER > $CLIENT_IP: ICMP $ROUTER udp port $CLOSED_PORT unreachable"* &&
		-n $inner ]] && ok=0
	verdict "$ok" "g. UDP from curl-pod to a closed port ($ROUTER:$CLOSED_PORT): the ICMP port unreachable reaches curl-pod with the inner header translated back" \
		"socket in curl-pod ($CLIENT_IP:$sport): ${res:-nothing}" \
		"tcpdump -v in curl-pod: ${line:-no ICMP unreachable}" \
		"  quoted packet: ${inner:-MISSING ($CLIENT_IP.$sport > $ROUTER.$CLOSED_PORT)}" \
		"tcpdump -v in the router, quoted packet of the ICMP it sent: ${rinner:-none}"
	((ok == 0)) || printf '%s\n' "$ccap" | sed 's/^/          | /'
}

check_h_file() {
	local out t0 t1 st ok=1 before after ms body want i
	mkdir -p "$IPMASQ_DIR"
	rm -f "$IPMASQ_FILE"
	export KDP_LAB_IPMASQ_FILE=$IPMASQ_FILE
	if ! out=$(restart_ctr 2>&1); then
		fail "h. restart kdp on k8s-ctr with ipMasqAgentConfig=$IPMASQ_FILE" "$out"
		return
	fi
	api k8s-ctr GET /v1/ipmasq
	st=$(python3 -c 'import json,sys; d=json.load(sys.stdin); print("file=%s fileError=%s" % (d.get("file"), d.get("fileError")))' <<<"$BODY" 2>&1)
	before=$(nonmasq k8s-ctr)
	# YAML, as the ConfigMap holds it; different from the API config
	body=$'nonMasqueradeCIDRs:\n  - 10.10.1.0/24\n  - 198.51.100.0/24\nmasqLinkLocal: true\n'
	t0=$(date +%s%3N)
	printf '%s' "$body" >"$IPMASQ_FILE.tmp" && mv "$IPMASQ_FILE.tmp" "$IPMASQ_FILE"
	# (and the IPv6 set: native CIDR, node addresses, fe80::/10 as
	# masqLinkLocalIPv6 is not set)
	want="10.10.1.0/24,172.20.0.0/16,192.168.10.100/32,192.168.10.101/32,198.51.100.0/24,fd00:10::100/128,fd00:10::101/128,fd00:20::/48,fe80::/10"
	for ((i = 0; i < 40; i++)); do
		after=$(nonmasq k8s-ctr)
		[[ $after == "$want" ]] && break
		sleep 0.05
	done
	t1=$(date +%s%3N)
	ms=$((t1 - t0))
	[[ $after == "$want" ]] && ((ms <= 2000)) && ok=0
	verdict "$ok" "h1. kdp restarted with ipMasqAgentConfig=$IPMASQ_FILE; writing the file (YAML) changes GET /v1/ipmasq within 2 s" \
		"after restart: $st; nonMasquerade: $before" \
		"file: $(tr '\n' ' ' <<<"$body")" \
		"after ${ms} ms: ${after} (want $want)"
	# and the datapath follows: 10.10.1.200 kept, 10.10.2.200 masqueraded now
	masq_case h2 "h2. with the file's config, curl-pod -> $EXTRA1 keeps $CLIENT_IP" "$EXTRA1" "$CLIENT_IP"
	masq_case h3 "h3. with the file's config, curl-pod -> $EXTRA2 (no longer exempt) is masqueraded to $NODE_CTR" "$EXTRA2" "$NODE_CTR"

	ok=1
	before=$after
	printf '%s' '{"nonMasqueradeCIDRs": ["10.10.3.0/33"]' >"$IPMASQ_FILE"
	for ((i = 0; i < 40; i++)); do
		after=$(nonmasq k8s-ctr)
		[[ $after == *fileError=* ]] && break
		sleep 0.05
	done
	[[ $after == "$before fileError="* ]] && ok=0
	verdict "$ok" "h4. a broken file is refused: fileError set in GET /v1/ipmasq, the previous set kept" \
		"file: $(<"$IPMASQ_FILE")" "GET /v1/ipmasq: $after" \
		"log: $(grep -F 'ip-masq-agent' "$(lab_logfile k8s-ctr)" | tail -n1)"
}

check_f_exhaustion() {
	local out before after pe0 pe1 res answered none ports recovered t0 t1 i kst natleft gone ok=1
	export KDP_LAB_CONFIG_EXTRA="{\"natPortRange\":\"$TINY_RANGE\",\"conntrack\":{\"otherSeconds\":$TINY_OTHER}}"
	unset KDP_LAB_IPMASQ_FILE
	# A kdp with empty tables: the flows of the checks before (kept across
	# restarts in the flow state file) would hold NAT entries for 60 s.
	lab_kdp_stop k8s-ctr >/dev/null
	rm -f "$(lab_flowfile k8s-ctr)"
	if ! out=$(restart_ctr 2>&1); then
		fail "f. restart kdp on k8s-ctr with natPortRange $TINY_RANGE, otherSeconds $TINY_OTHER" "$out"
		return
	fi
	# resolve the router's MAC (two flows), then wait for them to expire and
	# be collected
	udp_flows curl-pod "$CLIENT_IP" "$ROUTER" "$ECHO_PORT" 41500 41501 >/dev/null
	t0=$(date +%s%3N)
	for ((i = 0; i < 80; i++)); do
		[[ -z $(nat_rows k8s-ctr) ]] && break
		sleep 0.5
	done
	gone=$(secs $(($(date +%s%3N) - t0)))
	natleft=$(nat_rows k8s-ctr | wc -l)
	before=$(lab_drop_count k8s-ctr nat_port_exhausted) || before=ERR
	pe0=$(nat_stat k8s-ctr portExhausted)
	res=$(udp_flows curl-pod "$CLIENT_IP" "$ROUTER" "$ECHO_PORT" $(seq 41000 41011))
	after=$(lab_drop_count k8s-ctr nat_port_exhausted) || after=ERR
	pe1=$(nat_stat k8s-ctr portExhausted)
	answered=$(awk '$2 ~ /^[0-9.]+:[0-9]+$/' <<<"$res" | wc -l)
	none=$(awk '$2 == "NONE"' <<<"$res" | wc -l)
	ports=$(awk '$2 ~ /:/ {split($2, a, ":"); print a[2]}' <<<"$res" | sort -un | paste -sd, -)
	kst=$(lab_kdpctl k8s-ctr stats 2>&1)
	[[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && ((after > before && answered >= 1 && answered <= 4 &&
		none >= 8)) && [[ $pe1 =~ ^[0-9]+$ ]] && ((pe1 > 0)) && ok=0
	for i in ${ports//,/ }; do ((i >= 40000 && i <= 40003)) || ok=1; done
	verdict "$ok" "f1. natPortRange $TINY_RANGE: 12 UDP flows curl-pod -> $ROUTER:$ECHO_PORT; at most 4 get a NAT port, the rest are dropped as nat_port_exhausted" \
		"answered: $answered (router saw ports ${ports:-none}), unanswered: $none" \
		"before: 2 warm-up flows gone from /v1/nat after $gone (otherSeconds $TINY_OTHER + GC); NAT entries left: $natleft" \
		"/v1/stats drops nat_port_exhausted: $before before, $after after; nat.portExhausted: $pe0 -> $pe1"
	ok=1
	local l1 l2
	l1=$(grep -E -m1 '^Port exhausted:' <<<"$kst")
	l2=$(grep -E -m1 '^nat_port_exhausted ' <<<"$kst" | tr -s ' ')
	[[ $l1 =~ ([0-9]+)$ ]] && ((BASH_REMATCH[1] > 0)) && [[ -n $l2 ]] && ok=0
	verdict "$ok" "f2. kdpctl stats shows the exhaustion" "${l1:-no 'Port exhausted' line}" "${l2:-no nat_port_exhausted drop line}"
	((ok == 0)) || printf '%s\n' "$kst" | sed 's/^/          | /'

	# f3: once the entries expire (otherSeconds + GC), a new flow works
	ok=1
	t0=$(date +%s%3N)
	recovered=
	for ((i = 0; i < 45; i++)); do
		recovered=$(udp_flows curl-pod "$CLIENT_IP" "$ROUTER" "$ECHO_PORT" $((41100 + i)))
		[[ $recovered == *:* ]] && break
		sleep 0.5
	done
	t1=$(date +%s%3N)
	[[ $recovered == *" $NODE_CTR:4000"[0-3] ]] && ok=0
	verdict "$ok" "f3. traffic recovers once the entries expire (otherSeconds $TINY_OTHER + GC): a new flow gets an answer" \
		"after $(secs $((t1 - t0))) (since the last of the 12 flows), $((i + 1)) tries: ${recovered:-nothing} (port and source the router saw)" \
		"nat.portExhausted now $(nat_stat k8s-ctr portExhausted), NAT entries: $(nat_rows k8s-ctr | wc -l)"
	unset KDP_LAB_CONFIG_EXTRA
}

T_START=$(date +%s)
if setup; then
	check_a_router
	check_b_extra
	check_c_ipmasq
	check_d_cluster
	check_e_ports_i_natlist
	check_g_icmp_error
	check_g6_icmp_error
	check_h_file
	check_f_exhaustion
fi
echo "time: $(($(date +%s) - T_START)) s"
FINISHED=1
exit 0 # on_exit turns this into 1 if a check failed

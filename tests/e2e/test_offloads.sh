#!/usr/bin/env bash
# End-to-end test: the reference lab with every interface at the kernel's
# default offloads (transmit checksum, TSO, GSO on each veth, the router's
# included), so pods and the router send partial checksums and TSO/GSO
# super-frames, as real hosts do. Every kind of translated flow must carry
# data intact: ClusterIP to a local and to a remote backend, NodePort with
# SNAT, masquerade both ways, UDP with UDP_SEGMENT, DNS over UDP and TCP, IP
# fragments, and a DF packet over the egress MTU. kdp's port counters must
# show that it did see partial checksums and super-frames (so the checks
# cannot pass without them). Then, on purpose, offloads are turned off on the
# pods and the router and the transfers run again (kdp must not depend on
# them either way), and GRO is turned on on kdp's own side of a veth (the
# kernel merges segments into super-frames before kdp reads them). Tears the
# lab down on exit.
#
#   sudo tests/e2e/test_offloads.sh       (KDP_BUILD=<dir>, default build)
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

CURL=172.20.1.236
WEB_CTR=172.20.1.40
WEB_W1=172.20.0.130
NODE_CTR=192.168.10.100
ROUTER=192.168.10.200
SVC_CTR=10.96.100.1 # default/web-ctr: webpod-ctr only (local backend)
SVC_W1=10.96.100.2  # default/web-w1: webpod-w1 only (remote), NodePort 30090
BIG=$((LAB_WEB_BIG_MB * 1024 * 1024))
UP_MB=64

# counters NODE: "port|counter value" lines of kdp_port_driver_total.
counters() {
	curl -s --max-time 5 --unix-socket "$(lab_sock "$1")" http://kdp/metrics |
		sed -n 's/^kdp_port_driver_total{port="\([^"]*\)",role="[^"]*",counter="\([^"]*\)"} \([0-9]*\)$/\1|\2 \3/p'
}

# counter NODE ENDPOINT|uplink NAME: one driver counter of a port (0 if none).
counter() {
	local port
	if [[ $2 == uplink ]]; then
		port=$(lab_api "$1" GET /v1/status | "$LAB_PY" -c 'import json,sys
print(next(p["name"] for p in json.load(sys.stdin)["ports"] if p["role"] == "uplink"))')
	else
		port=$(lab_api "$1" GET /v1/status | "$LAB_PY" -c 'import json,sys
print(next(p["name"] for p in json.load(sys.stdin)["ports"] if p["endpoint"] == sys.argv[1]))' "$2")
	fi
	counters "$1" | awk -v k="$port|$3" '$1 == k {print $2; f=1} END {if (!f) print 0}'
}

# download DESC NETNS URL: GET URL, PASS if all BIG bytes arrive as served.
download() {
	local out code size sum speed want
	want=$(head -c "$BIG" /dev/zero | sha256sum | cut -d' ' -f1)
	out=$(ip netns exec "$2" sh -c "curl -s -m 60 -o /dev/stdout -w '%{stderr}%{http_code} %{size_download} %{speed_download}' '$3' 2>$KDP_LAB_DIR/dl.txt | sha256sum")
	read -r code size speed <"$KDP_LAB_DIR/dl.txt"
	sum=${out%% *}
	[[ $code == 200 && $size == "$BIG" && $sum == "$want" ]]
	verdict $? "$1: $((BIG / 1048576)) MiB intact" \
		"HTTP $code, $size bytes, sha256 ${sum:0:16}..., $(awk -v s="${speed:-0}" 'BEGIN {printf "%.0f Mbit/s", s * 8 / 1e6}')"
}

# upload DESC: curl-pod sends UP_MB MiB of a pattern to a sink in the router
# (masqueraded); PASS when the router got every byte in order and saw the
# node IP.
upload() {
	local out
	out=$(ip netns exec kdp-curl-pod "$LAB_PY" -c '
import hashlib, socket, sys
n = int(sys.argv[2]) * 1048576
block = bytes(range(256)) * 256
s = socket.create_connection((sys.argv[1], 9100), timeout=30)
s.sendall(n.to_bytes(8, "big"))
h = hashlib.sha256()
left = n
while left:
    b = block[:min(left, len(block))]
    s.sendall(b)
    h.update(b)
    left -= len(b)
s.shutdown(socket.SHUT_WR)
got = s.makefile().read().split()
print("ok" if got[1:] == [str(n), h.hexdigest()] else "bad", " ".join(got))
' "$ROUTER" "$UP_MB" 2>&1)
	[[ $out == "ok $NODE_CTR "* ]]
	verdict $? "$1: $UP_MB MiB from curl-pod to the router, intact, source $NODE_CTR" "$out"
}

# udp_gso DESC: 40 datagrams of 1200 bytes sent as UDP_SEGMENT super-frames
# (4 sends of 10) from curl-pod to the router; PASS when all 40 arrive whole,
# from the node IP.
udp_gso() {
	local out n0=0 ok0=0 n1 ok1 src
	read -r n0 ok0 _ <"$KDP_LAB_DIR/udp-gso.txt" 2>/dev/null
	out=$(ip netns exec kdp-curl-pod "$LAB_PY" -c '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_UDP, 103, 1200)  # UDP_SEGMENT
s.connect((sys.argv[1], 9200))
for k in range(4):
    s.send(b"".join(bytes([k * 10 + i]) * 1200 for i in range(10)))
    time.sleep(0.05)
print("sent")
' "$ROUTER" 2>&1)
	sleep 1
	read -r n1 ok1 src <"$KDP_LAB_DIR/udp-gso.txt" 2>/dev/null
	out="$out; router: $((${n1:-0} - ${n0:-0})) datagrams, $((${ok1:-0} - ${ok0:-0})) whole, from ${src:-?}"
	[[ $((n1 - n0)) == 40 && $((ok1 - ok0)) == 40 && $src == "$NODE_CTR" ]]
	verdict $? "$1: 40 UDP datagrams from 4 UDP_SEGMENT super-frames, all whole, source $NODE_CTR" "$out"
}

# sinks: the router's TCP sink (port 9100: reads a length, the bytes, answers
# "<source ip> <count> <sha256>") and UDP counter (port 9200: writes "<n
# datagrams> <n whole> <last source>" to udp-gso.txt after each one).
sinks() {
	: >"$KDP_LAB_DIR/udp-gso.txt"
	lab_pod_spawn kdp-router tcpsink "$LAB_PY" -c '
import hashlib, socket, threading
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 9100))
srv.listen(8)
def serve(c, peer):
    f = c.makefile("rb")
    n = int.from_bytes(f.read(8), "big")
    h, got = hashlib.sha256(), 0
    while got < n:
        b = f.read(min(65536, n - got))
        if not b:
            break
        h.update(b)
        got += len(b)
    c.sendall(("%s %d %s" % (peer[0], got, h.hexdigest())).encode())
    c.close()
while True:
    c, peer = srv.accept()
    threading.Thread(target=serve, args=(c, peer), daemon=True).start()
' || return 1
	lab_pod_spawn kdp-router udpsink "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9200))
n = ok = 0
while True:
    d, peer = s.recvfrom(65535)
    n += 1
    ok += len(d) == 1200 and d == bytes([d[0]]) * 1200
    open(sys.argv[1], "w").write("%d %d %s\n" % (n, ok, peer[0]))
' "$KDP_LAB_DIR/udp-gso.txt" || return 1
	_lab_wait_listening kdp-router tcp 9100 tcpsink && _lab_wait_listening kdp-router udp 9200 udpsink
}

# transfers TAG: every translated transfer of the test.
transfers() {
	download "$1 ClusterIP $SVC_CTR -> webpod-ctr (same node)" kdp-curl-pod "http://$SVC_CTR/big"
	download "$1 ClusterIP $SVC_W1 -> webpod-w1 (other node)" kdp-curl-pod "http://$SVC_W1/big"
	download "$1 NodePort $NODE_CTR:30090 from the router -> webpod-w1 (SNAT)" kdp-router \
		"http://$NODE_CTR:30090/big"
	download "$1 masquerade: curl-pod gets the router's /big" kdp-curl-pod "http://$ROUTER/big"
	# IPv6: TCPv6 super-frames and partial checksums over the IPv6
	# pseudo-header, through DNAT and masquerade
	download "$1 IPv6 ClusterIP [fd00:96::98d4] -> a webpod" kdp-curl-pod "http://[fd00:96::98d4]/big"
	local w0 t0 c0 w1 t1 c1
	w0=$(counter k8s-ctr uplink rx_gso_whole)
	c0=$(counter k8s-ctr uplink rx_gso_segments)
	t0=$(counter k8s-ctr default/curl-pod tx_tso)
	download "$1 IPv6 masquerade: curl-pod gets [$LAB_ROUTER_IP6]/big" kdp-curl-pod \
		"http://[$LAB_ROUTER_IP6]/big"
	if [[ $1 == b.* ]]; then
		# The router's TCPv6 super-frames cross kdp whole (LRO in, TSO
		# out to the pod), not cut into segments kdp then forwards.
		w1=$(counter k8s-ctr uplink rx_gso_whole)
		c1=$(counter k8s-ctr uplink rx_gso_segments)
		t1=$(counter k8s-ctr default/curl-pod tx_tso)
		verdict "$((w1 - w0 > 0 && t1 - t0 > 0 && c1 == c0 ? 0 : 1))" \
			"$1 IPv6 masquerade: the router's TCPv6 super-frames kept whole through kdp, handed to curl-pod whole (TSO)" \
			"uplink rx_gso_whole +$((w1 - w0)), rx_gso_segments +$((c1 - c0)); curl-pod tx_tso +$((t1 - t0))"
	fi
	upload "$1 masquerade"
	udp_gso "$1 masquerade"
}

e2e_lab_services_up || exit 1
LAB_ROUTER_BIG_MB=$LAB_WEB_BIG_MB lab_router_http_start >/dev/null 2>&1 ||
	fail "setup: the router's HTTP server"
sinks || fail "setup: the router's TCP and UDP sinks"
lab_service_put default/web-ctr "$(lab_service_json ClusterIP "$SVC_CTR" http:TCP:80:80 '' \
	"backends=[{\"ip\":\"$WEB_CTR\"}]")" || fail "setup: PUT default/web-ctr"
lab_service_put default/web-w1 "$(lab_service_json NodePort "$SVC_W1" http:TCP:80:80:30090 '' \
	"backends=[{\"ip\":\"$WEB_W1\"}]")" || fail "setup: PUT default/web-w1"

# a. Offloads as the kernel sets them, on the pods, the router and kdp's side.
bad=''
for nd in kdp-curl-pod:eth0 kdp-webpod-ctr:eth0 kdp-webpod-w1:eth0 kdp-router:eth1 \
	kdp-k8s-ctr:lxc-curl kdp-k8s-ctr:eth1 kdp-lan:br0; do
	f=$(ip netns exec "${nd%%:*}" ethtool -k "${nd#*:}" 2>&1)
	grep -q '^tx-checksumming: on' <<<"$f" && grep -q '^tcp-segmentation-offload: on' <<<"$f" ||
		bad+=" $nd"
done
verdict "$([[ -z $bad ]] && echo 0 || echo 1)" \
	"a. tx-checksumming and TSO on (kernel defaults) on pods, router, LAN and kdp's veths" \
	"${bad:+not on:$bad}"

# b. Every translated transfer, offloads on.
transfers "b. offloads on:"

# c. DNS over UDP and TCP to kube-dns, ping with IP fragments across nodes.
out=$(ip netns exec kdp-curl-pod dig +short +time=2 +tries=2 @10.96.0.10 webpod.default.svc.cluster.local 2>&1)
verdict "$([[ $out == 10.96.152.212 ]] && echo 0 || echo 1)" "c. DNS over UDP through kube-dns" "$out"
out=$(ip netns exec kdp-curl-pod dig +short +tcp +time=2 +tries=2 @10.96.0.10 webpod.default.svc.cluster.local 2>&1)
verdict "$([[ $out == 10.96.152.212 ]] && echo 0 || echo 1)" "c. DNS over TCP through kube-dns" "$out"
out=$(ip netns exec kdp-curl-pod ping -c 3 -W 2 -s 3000 "$WEB_W1" 2>&1)
verdict "$(grep -q ' 0% packet loss' <<<"$out" && echo 0 || echo 1)" \
	"c. ping -s 3000 (IP fragments) to webpod-w1 across nodes" "$(lab_ping_summary <<<"$out")"

# d. A pod whose link MTU (both ends of its veth) is larger than kdp's egress
# MTU (1500): a DF packet over it gets ICMP fragmentation needed with MTU
# 1500, not a silent drop.
ip -n kdp-k8s-ctr link set lxc-curl mtu 1900
ip -n kdp-curl-pod link set eth0 mtu 1900
out=$(ip netns exec kdp-curl-pod ping -c 2 -W 2 -M do -s 1800 "$WEB_W1" 2>&1)
ip -n kdp-curl-pod link set eth0 mtu 1500
ip -n kdp-k8s-ctr link set lxc-curl mtu 1500
ip netns exec kdp-curl-pod ip route flush cache >/dev/null 2>&1
verdict "$(grep -q 'mtu = 1500' <<<"$out" && echo 0 || echo 1)" \
	"d. DF packet of 1828 bytes from a pod with MTU 1900: ICMP frag needed, mtu 1500" \
	"$(grep -m1 -E 'mtu|Frag|transmitted' <<<"$out")"

# e. kdp saw what it was meant to see, and dropped nothing at its ports.
all_ctr=$(counters k8s-ctr)
all_w1=$(counters k8s-w1)
p_ctr=$(counter k8s-ctr default/curl-pod rx_csum_partial)
g_web=$(counter k8s-ctr default/webpod-ctr rx_gso_frames)
w_web=$(counter k8s-ctr default/webpod-ctr rx_gso_whole)
s_curl=$(counter k8s-ctr default/curl-pod rx_gso_segments)
g_w1=$(counter k8s-w1 default/webpod-w1 rx_gso_frames)
g_curl=$(counter k8s-ctr default/curl-pod rx_gso_frames)
o_curl=$(counter k8s-ctr default/curl-pod tx_csum_offload)
t_curl=$(counter k8s-ctr default/curl-pod tx_tso)
verdict "$((p_ctr > 0 && g_web > 0 && w_web > 0 && s_curl > 0 && g_w1 > 0 && g_curl > 0 && o_curl > 0 && t_curl > 0 ? 0 : 1))" \
	"e. kdp got partial checksums and super-frames, kept TCP ones whole to the pod (TSO), and handed checksums on" \
	"k8s-ctr curl-pod: rx_csum_partial $p_ctr, rx_gso_frames $g_curl (UDP_SEGMENT cut into $s_curl), tx_csum_offload $o_curl, tx_tso $t_curl" \
	"k8s-ctr webpod-ctr: rx_gso_frames $g_web ($w_web TCP whole); k8s-w1 webpod-w1: rx_gso_frames $g_w1"
drops=$(printf '%s\n%s\n' "$all_ctr" "$all_w1" | awk '$1 ~ /\|rx_drop_/ && $2 > 0')
verdict "$([[ -z $drops ]] && echo 0 || echo 1)" "e. no frame refused by net_kdp_afp (rx_drop_*)" "${drops:-none}"

# f. On purpose: offloads off on the pods and the router; the same transfers
# work, and kdp's pod ports see no partial checksum or super-frame any more.
for nd in kdp-curl-pod:eth0 kdp-webpod-ctr:eth0 kdp-webpod-w1:eth0 kdp-router:eth1; do
	ip netns exec "${nd%%:*}" ethtool -K "${nd#*:}" tx off tso off gso off >/dev/null 2>&1 ||
		fail "f. ethtool -K ${nd#*:} tx off tso off gso off in ${nd%%:*}"
done
before="$(counter k8s-ctr default/curl-pod rx_csum_partial) $(counter k8s-ctr default/webpod-ctr rx_gso_frames) $(counter k8s-w1 default/webpod-w1 rx_gso_frames) $(counter k8s-ctr default/webpod-ctr rx_csum_partial)"
transfers "f. offloads off:"
after="$(counter k8s-ctr default/curl-pod rx_csum_partial) $(counter k8s-ctr default/webpod-ctr rx_gso_frames) $(counter k8s-w1 default/webpod-w1 rx_gso_frames) $(counter k8s-ctr default/webpod-ctr rx_csum_partial)"
verdict "$([[ $before == "$after" ]] && echo 0 || echo 1)" \
	"f. with offloads off the pods' ports got no partial checksum or super-frame" \
	"curl rx_csum_partial, webpod-ctr rx_gso_frames, webpod-w1 rx_gso_frames, webpod-ctr rx_csum_partial: before $before, after $after"

# g. GRO on kdp's own side of webpod-ctr's veth (the webpod still sending
# MSS-sized segments, offloads off): the kernel merges them into super-frames
# before kdp reads them; kdp cuts them again and the data arrives intact.
ip netns exec kdp-k8s-ctr ethtool -K lxc-web-ctr gro on >/dev/null 2>&1 ||
	fail "g. ethtool -K lxc-web-ctr gro on in kdp-k8s-ctr"
g0=$(counter k8s-ctr default/webpod-ctr rx_gso_frames)
download "g. GRO on kdp's veth: ClusterIP $SVC_CTR -> webpod-ctr" kdp-curl-pod "http://$SVC_CTR/big"
g1=$(counter k8s-ctr default/webpod-ctr rx_gso_frames)
verdict "$((g1 > g0 ? 0 : 1))" "g. the GRO super-frames reached kdp and were cut" \
	"webpod-ctr rx_gso_frames $g0 -> $g1"

FINISHED=1

#!/usr/bin/env bash
# End-to-end test: the reference lab with kdp fed only by kdp-agent (issue
# #13). A fake kube-apiserver (tests/k8s/fake_apiserver.py, HTTPS with a
# bearer token, on 127.0.0.1) serves the lab's objects (DESIGN.md section 1:
# the two Nodes, the pods, the webpod, kube-dns and kube-dns-upstream
# Services and their EndpointSlices, the nodelocaldns
# CiliumLocalRedirectPolicy, the ip-masq-agent ConfigMap); one kdp-agent per
# node (with a kubeconfig: CA file, token file) applies them to its kdp. The
# test registers the pods' endpoints as kdp-cni does (ip, mac, devargs, no
# labels): nodes, services, labels, the policy and the masquerade config
# come from the agents alone.
#
#   a. both kdps converge to the lab (nodes, services, policy, ip-masq-agent
#      config, endpoint labels)
#   b-e. routing, service (ClusterIP, NodePort), masquerade (and the
#      ConfigMap's non-masquerade CIDRs) and DNS local redirect checks
#   f. rolling update of webpod while curl-pod fetches the ClusterIP every
#      10 ms: a new pod added, the old one terminating, then gone: no fetch
#      fails
#   g. an endpoint whose pod is not on the node is collected
#   h. watches cut and 410 forced: the agents list again and converge
#      (deleted, added and changed objects)
#   i. kdp killed and restarted while the cluster changes: the agent notices
#      and converges
#   j. the agent restarted: converges, and what kdp holds that the cluster
#      has not is removed
#   c3, e2 (a dual-stack lab, the default): the IPv6 ClusterIP of webpod
#      from curl-pod reaches both webpods, and a DNS query to kube-dns's
#      IPv6 ClusterIP is answered by node-local-dns-ctr: the IPv6 sides of
#      the Nodes, Services, EndpointSlices (one per family) and Pods from
#      the agents alone
#   l. the service fields of phase 2, enforced by kdp as the agent gives
#      them: externalTrafficPolicy=Local from the router (only the local
#      webpod answers and sees the router's address; with Cluster a remote
#      backend sees the node's), the healthCheckNodePort answering 200 on
#      the node with an endpoint and 503 on the other, internalTrafficPolicy
#      =Local, loadBalancerSourceRanges (the router refused and counted, then
#      let in), and the agent sending batches (PATCH /v1/objects)
#
#   sudo tests/e2e/test_agent.sh          (KDP_BUILD=<dir>, default build)
#
# Prints PASS/FAIL per check with what was observed; the last line is
# "N passed, M failed"; exit 0 only if every check passed.
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

# The pod the rolling update brings (its namespace exists from the start;
# it joins the service only when the test says so).
LAB_PODS+=("kdp-webpod-new|k8s-ctr|172.20.1.41|lxc-web-new|default|webpod-new|app=webpod")

K8S=$LAB_REPO/tests/k8s
AGENT_BIN=$KDP_BUILD/agent/kdp-agent
API_DIR=$KDP_LAB_DIR/agent-test
SVC_IP=10.96.152.212
DNS_IP=10.96.0.10
SVC_IP6=fd00:96::98d4   # their IPv6 ClusterIPs (tools/lab/lib.sh)
DNS_IP6=fd00:96::a
ROUTER=192.168.10.200
EXTRA1=10.10.1.200
ECHO_PORT=7007
URL=''
API_PID=''
declare -A AGENT_PID=()

kctl() { "$K8S/kctl.py" "$URL" "$@" >/dev/null; }
view() { /usr/bin/python3 "$K8S/kdp_view.py" "$(lab_sock "$1")" 2>&1; }

# wait_view NODE SECONDS PATTERN...: until view NODE matches every extended
# regular expression PATTERN (a line each); VIEW holds the last view.
VIEW=''
wait_view() {
	local node=$1 secs=$2 i p ok
	shift 2
	for ((i = 0; i < secs * 10; i++)); do
		VIEW=$(view "$node")
		ok=1
		for p in "$@"; do
			grep -Eq -- "$p" <<<"$VIEW" || { ok=0; break; }
		done
		((ok)) && return 0
		sleep 0.1
	done
	return 1
}

# wait_gone NODE SECONDS PATTERN: until no line of view NODE matches.
wait_gone() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		VIEW=$(view "$1")
		grep -Eq -- "$3" <<<"$VIEW" || return 0
		sleep 0.1
	done
	return 1
}

agent_start() {
	local node=$1
	"$AGENT_BIN" --kubeconfig "$API_DIR/kubeconfig" --node-name "$node" \
		--kdp-socket "$(lab_sock "$node")" --metrics "unix:$API_DIR/metrics-$node.sock" \
		--endpoint-gc 2 --kdp-poll 0.5 >>"$API_DIR/agent-$node.log" 2>&1 &
	AGENT_PID[$node]=$!
}

agent_stop() {
	local pid=${AGENT_PID[$1]:-}
	[[ -n $pid ]] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	AGENT_PID[$1]=''
}

# metric NODE NAME-AND-LABELS: the agent's value (sum over matching lines).
metric() {
	curl -s --max-time 3 --unix-socket "$API_DIR/metrics-$1.sock" http://agent/metrics |
		awk -v m="$2" 'index($0, m) == 1 {s += $NF} END {print s + 0}'
}

# shellcheck disable=SC2317 # run by the harness's EXIT trap
e2e_cleanup() {
	local n
	for n in "${!AGENT_PID[@]}"; do agent_stop "$n"; done
	if [[ -n $API_PID ]]; then
		kill "$API_PID" 2>/dev/null
		wait "$API_PID" 2>/dev/null
	fi
}

# register POD: PUT its endpoint as kdp-cni does (no labels; both addresses
# in a dual-stack lab).
register() {
	local row f mac ips=''
	row=$(lab_pod_row "$1") || return 1
	IFS='|' read -r -a f <<<"$row"
	mac=$(lab_pod_mac "${f[0]}") || return 1
	lab_ipv6 && [[ -n ${f[7]:-} ]] && ips=",\"ips\":[\"${f[2]}\",\"${f[7]}\"]"
	api "${f[1]}" PUT "/v1/endpoints/${f[4]}/${f[5]}" \
		"{\"ip\":\"${f[2]}\"$ips,\"mac\":\"$mac\",\"devargs\":\"net_kdp_afp,iface=${f[3]}\"}"
	[[ $CODE == 2?? ]] || { echo "PUT endpoint ${f[4]}/${f[5]}: HTTP $CODE $BODY"; return 1; }
}

# ------------------------------------------------------------------ setup

setup() {
	local node row out port
	[[ -x $AGENT_BIN ]] || { fail "setup: no $AGENT_BIN (tools/build.sh)"; return 1; }
	if [[ $(id -u) -ne 0 ]]; then
		fail "setup: must run as root"
		return 1
	fi
	lab_deps || { fail "setup: tools missing"; return 1; }
	lab_down >/dev/null 2>&1
	rm -rf "$API_DIR"
	mkdir -p "$API_DIR"
	if ! out=$(lab_topology_up 2>&1); then
		fail "setup: lab topology" "$out"
		return 1
	fi
	for node in $(lab_node_names); do
		E2E_LOG_START[$node]=$(stat -c %s "$(lab_logfile "$node")" 2>/dev/null || echo 0)
		if ! lab_kdp_config "$node" >"$API_DIR/setup.out" 2>&1 ||
			! lab_kdp_start "$node" >>"$API_DIR/setup.out" 2>&1; then
			fail "setup: start kdp on $node" "$(<"$API_DIR/setup.out")"
			return 1
		fi
	done
	for row in "${LAB_PODS[@]}"; do
		[[ ${row%%|*} == kdp-webpod-new ]] && continue
		out=$(register "${row%%|*}") || { fail "setup: register the endpoints" "$out"; return 1; }
	done
	# The API server: HTTPS (a self-signed certificate for 127.0.0.1) and a
	# bearer token, loaded with the lab's objects.
	if ! out=$(openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=fake-apiserver \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$API_DIR/key.pem" -out "$API_DIR/ca.pem" 2>&1); then
		fail "setup: openssl" "$out"
		return 1
	fi
	head -c 24 /dev/urandom | base64 | tr -d '=+/' >"$API_DIR/token"
	"$K8S/lab_objects.py" >"$API_DIR/objects.json"
	/usr/bin/python3 "$K8S/fake_apiserver.py" --port-file "$API_DIR/port" --objects "$API_DIR/objects.json" \
		--token "$(<"$API_DIR/token")" --cert "$API_DIR/ca.pem" --key "$API_DIR/key.pem" \
		--bookmark-seconds 1 >"$API_DIR/apiserver.log" 2>&1 &
	API_PID=$!
	for _ in $(seq 50); do [[ -s $API_DIR/port ]] && break; sleep 0.1; done
	port=$(cat "$API_DIR/port" 2>/dev/null) || { fail "setup: fake apiserver" "$(<"$API_DIR/apiserver.log")"; return 1; }
	URL=https://127.0.0.1:$port
	cat >"$API_DIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: lab
  cluster:
    server: $URL
    certificate-authority: ca.pem
users:
- name: kdp-agent
  user:
    tokenFile: token
contexts:
- name: lab
  context:
    cluster: lab
    user: kdp-agent
current-context: lab
EOF
	for node in $(lab_node_names); do agent_start "$node"; done
	if ! out=$(lab_apps_start 2>&1) || ! out=$(lab_router_http_start 2>&1) ||
		! out=$(lab_router_udp_echo_start "$ECHO_PORT" 2>&1); then
		fail "setup: the pods' and the router's applications" "$out"
		return 1
	fi
	echo "setup: lab up, kdp on $(lab_node_names | paste -sd, -), endpoints registered as kdp-cni does," \
		"fake apiserver at $URL (TLS, token), one kdp-agent per node"
}

# ------------------------------------------------------------------ checks

check_a_converged() {
	local node ok=0 t0 t1 lines=() v6=() masq6=''
	if lab_ipv6; then # the IPv6 sides, on lines of their own
		v6=('^node6 k8s-ctr fd00:10::100 fd00:20:0:1::/64$'
			'^node6 k8s-w1 fd00:10::101 fd00:20::/64$'
			'^service6 default/webpod fd00:96::98d4 fd00:20::130=active,fd00:20:0:1::40=active$'
			'^service6 kube-system/kube-dns fd00:96::a fd00:20::186=active,fd00:20:0:1::144=active$'
			'^service6 kube-system/kube-dns-upstream fd00:96::1faa ')
		masq6=', "fd00:10:1::/64"'
	fi
	t0=$(date +%s.%N)
	for node in k8s-ctr k8s-w1; do
		wait_view "$node" 15 "${v6[@]}" \
			'^node k8s-ctr 192\.168\.10\.100 172\.20\.1\.0/24$' \
			'^node k8s-w1 192\.168\.10\.101 172\.20\.0\.0/24$' \
			'^service default/webpod NodePort 10\.96\.152\.212 http:TCP:80>80:30080 172\.20\.0\.130=active,172\.20\.1\.40=active$' \
			'^service kube-system/kube-dns ClusterIP 10\.96\.0\.10 dns:UDP:53>53,dns-tcp:TCP:53>53 172\.20\.0\.186=active,172\.20\.1\.144=active$' \
			'^service kube-system/kube-dns-upstream ClusterIP 10\.96\.31\.170 ' \
			'^lrp kube-system/nodelocaldns active=True ' \
			"^ipmasq \\{\"masqLinkLocal\": false, \"nonMasqueradeCIDRs\": \\[\"10\\.10\\.1\\.0/24\", \"10\\.10\\.2\\.0/24\"$masq6\\]\\}\$" \
			'^endpoint kube-system/node-local-dns-[a-z0-9]+ [0-9.]+ k8s-app=node-local-dns up$' \
			'^endpoint default/curl-pod|^endpoint default/webpod-w1 [0-9.]+ app=webpod' || ok=1
		mapfile -t -O "${#lines[@]}" lines < <(sed "s/^/$node: /" <<<"$VIEW")
	done
	t1=$(date +%s.%N)
	verdict "$ok" "a. both kdps hold the lab as the agents read it from the API (nodes, services, policy, ip-masq-agent config, endpoint labels)" \
		"converged $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s after the apps started" "${lines[@]}"
}

check_b_routing() {
	lab_ping curl-pod 172.20.0.130 >/dev/null 2>&1 # the first waits for ARP
	ping_check "b. routing: curl-pod pings webpod-w1 (172.20.0.130, the other node) with the node routes from the agent" \
		curl-pod 172.20.0.130
}

check_c_service() {
	local out ok=1 np
	out=$(for _ in $(seq 20); do ip netns exec kdp-curl-pod curl -s -m 2 "http://$SVC_IP/"; done | sort | uniq -c | tr -s ' \n' ' ')
	[[ $out == *webpod-ctr* && $out == *webpod-w1* ]] && ok=0
	verdict "$ok" "c1. service: 20 fetches of ClusterIP $SVC_IP from curl-pod reach both webpods" "$out"
	np=$(ip netns exec "$LAB_NS_ROUTER" curl -s -m 3 http://192.168.10.101:30080/)
	[[ $np == webpod-* ]]
	verdict $? "c2. service: NodePort 30080 on k8s-w1 from the router" "answer: ${np:-none}"
	lab_ipv6 || return 0
	out=$(for _ in $(seq 20); do ip netns exec kdp-curl-pod curl -g -s -m 2 "http://[$SVC_IP6]/"; done | sort | uniq -c | tr -s ' \n' ' ')
	ok=1
	[[ $out == *webpod-ctr* && $out == *webpod-w1* ]] && ok=0
	verdict "$ok" "c3. service over IPv6: 20 fetches of the IPv6 ClusterIP [$SVC_IP6] from curl-pod reach both webpods (clusterIPs, the IPv6 EndpointSlice and nodes from the agents)" "$out"
}

# echo_src DST: the source the router's UDP echo server saw for a datagram
# from curl-pod to DST.
echo_src() {
	ip netns exec kdp-curl-pod "$LAB_PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
for _ in range(3):
    try:
        s.sendto(b"agent", (sys.argv[1], int(sys.argv[2])))
        print(s.recv(512).decode().split()[0].split(":")[0])
        break
    except socket.timeout:
        pass
else:
    print("none")' "$1" "$ECHO_PORT"
}

check_d_masq() {
	local a b
	lab_router_pod_routes add # replies to unmasqueraded pod sources
	a=$(echo_src "$ROUTER")
	b=$(echo_src "$EXTRA1")
	[[ $a == 192.168.10.100 ]]
	verdict $? "d1. masquerade: curl-pod -> router $ROUTER leaves as the node IP" "the router saw $a"
	[[ $b == 172.20.1.236 ]]
	verdict $? "d2. masquerade: curl-pod -> $EXTRA1 keeps the pod IP (nonMasqueradeCIDRs of the ip-masq-agent ConfigMap)" \
		"the router saw $b"
	lab_router_pod_routes del
}

# lrp_query LABEL SERVER TYPE WANT FROM: a query of TYPE for webpod from
# curl-pod (address FROM) to SERVER, answered WANT by node-local-dns-ctr.
lrp_query() {
	local before after ans
	before=$(lab_dns_queries nodelocal-ctr | grep -c "from $5")
	ans=$(ip netns exec kdp-curl-pod dig +short +tries=2 +timeout=2 "@$2" webpod.default.svc.cluster.local "$3" 2>&1)
	sleep 0.3
	after=$(lab_dns_queries nodelocal-ctr | grep -c "from $5")
	[[ $ans == "$4" ]] && ((after > before))
	verdict $? "$1" "answer: $ans; queries from $5 in node-local-dns-ctr's log: $before -> $after"
}

check_e_lrp() {
	lrp_query "e. DNS local redirect: a query to kube-dns $DNS_IP from curl-pod is answered by node-local-dns-ctr (the policy from the API, labels from the Pod)" \
		"$DNS_IP" A "$SVC_IP" 172.20.1.236
	lab_ipv6 || return 0
	lrp_query "e2. DNS local redirect over IPv6: a query to kube-dns [$DNS_IP6] from curl-pod is answered by node-local-dns-ctr (the Pods' podIPs of both families, the endpoints' IPv6 addresses)" \
		"$DNS_IP6" AAAA "$SVC_IP6" fd00:20:0:1::236
}

# A client in curl-pod: GET http://SVC_IP/ every 10 ms until FILE exists;
# prints "ok N failed M" and the answers per backend.
client_start() {
	ip netns exec kdp-curl-pod "$LAB_PY" -c '
import os, socket, sys, time, collections
ip, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
ok = failed = 0
who = collections.Counter()
errors = []
while not os.path.exists(stop):
    t = time.time()
    try:
        s = socket.create_connection((ip, 80), timeout=2)
        s.sendall(b"GET / HTTP/1.0\r\nHost: webpod\r\n\r\n")
        data = b""
        while True:
            c = s.recv(4096)
            if not c:
                break
            data += c
        s.close()
        body = data.split(b"\r\n\r\n", 1)[1].decode().strip()
        if not data.startswith(b"HTTP/1.0 200"):
            raise OSError(data[:40])
        ok += 1
        who[body] += 1
    except Exception as e:
        failed += 1
        errors.append("%.3f %r" % (t, e))
    time.sleep(max(0, 0.01 - (time.time() - t)))
with open(out, "w") as f:
    f.write("ok %d failed %d %s %s\n" % (ok, failed, dict(who), errors[:3]))
' "$SVC_IP" "$API_DIR/client.stop" "$API_DIR/client.out" &
	CLIENT_PID=$!
	BG_PIDS+=("$CLIENT_PID")
}

check_f_rolling() {
	local out ok=0 lat n
	local PORTS=http:TCP:80
	declare -A mark=()
	for n in k8s-ctr k8s-w1; do mark[$n]=$(stat -c %s "$API_DIR/agent-$n.log"); done
	rm -f "$API_DIR/client.stop" "$API_DIR/client.out"
	client_start
	sleep 1
	# the new pod is scheduled, its sandbox made (kdp-cni), then it is ready
	kctl pod default webpod-new k8s-ctr 172.20.1.41 app=webpod
	out=$(register webpod-new) || fail "f. register webpod-new" "$out"
	kctl slice default webpod webpod-lab01 "$PORTS" 172.20.1.40:k8s-ctr:ready 172.20.0.130:k8s-w1:ready 172.20.1.41:k8s-ctr:ready
	wait_view k8s-ctr 5 '^service default/webpod .*172\.20\.1\.41=active' ||
		fail "f. k8s-ctr: webpod-new never became a backend" "$VIEW"
	sleep 1.5
	# the old pod terminates: still serving while it drains
	kctl slice default webpod webpod-lab01 "$PORTS" 172.20.1.40:k8s-ctr:terminating 172.20.0.130:k8s-w1:ready 172.20.1.41:k8s-ctr:ready
	wait_view k8s-ctr 5 '^service default/webpod .*172\.20\.1\.40=terminating' ||
		fail "f. k8s-ctr: webpod-ctr never became terminating" "$VIEW"
	sleep 1.5
	# gone from the slice, then the pod and its sandbox go
	kctl slice default webpod webpod-lab01 "$PORTS" 172.20.0.130:k8s-w1:ready 172.20.1.41:k8s-ctr:ready
	wait_gone k8s-ctr 5 '^service default/webpod .*172\.20\.1\.40' ||
		fail "f. k8s-ctr: webpod-ctr still a backend" "$VIEW"
	sleep 0.5
	kctl delete Pod default webpod-ctr
	! lab_ipv6 || kctl slice default webpod webpod-lab06 "$PORTS" fd00:20::130:k8s-w1:ready
	api k8s-ctr DELETE /v1/endpoints/default/webpod-ctr
	lab_pod_app_stop webpod-ctr http
	sleep 1
	touch "$API_DIR/client.stop"
	wait "$CLIENT_PID" 2>/dev/null
	out=$(cat "$API_DIR/client.out" 2>/dev/null)
	[[ $out =~ ^ok\ ([0-9]+)\ failed\ 0\  && ${BASH_REMATCH[1]} -gt 300 && $out == *webpod-new* && $out == *webpod-ctr* ]] || ok=1
	lat=$(for n in k8s-ctr k8s-w1; do tail -c "+$((mark[$n] + 1))" "$API_DIR/agent-$n.log"; done |
		grep 'applied service default/webpod' |
		sed -E 's/.*[(:] ?([0-9.]+) ms; ([0-9.]+) ms after the change\)/\2/' | paste -sd, -)
	verdict "$ok" "f. rolling update of webpod (webpod-new added, webpod-ctr terminating, then gone) while curl-pod fetches $SVC_IP every 10 ms: no fetch fails" \
		"client: ${out:-no output}" "ms from each EndpointSlice change to kdp's answer (both agents): $lat"
}

check_g_gc() {
	local out ok=0
	api k8s-w1 PUT /v1/endpoints/default/orphan '{"ip":"172.20.0.99","mac":"02:00:00:00:00:99","devargs":"net_null9,no-rx=1"}'
	[[ $CODE == 200 ]] || ok=1
	wait_gone k8s-w1 20 '^endpoint default/orphan ' || ok=1
	out=$(grep -h 'endpoint default/orphan' "$API_DIR/agent-k8s-w1.log" | tail -1 | cut -c29-)
	verdict "$ok" "g. an endpoint whose pod is not on the node (kdp-cni's DEL lost) is removed by the agent" \
		"PUT: HTTP $CODE; agent: ${out:-nothing}"
}

check_h_relist() {
	local node ok=0 g0 g1 lines=()
	g0=$(($(metric k8s-ctr 'kdp_agent_watch_restarts_total{kind="Service",reason="gone"}') +
		$(metric k8s-w1 'kdp_agent_watch_restarts_total{kind="Service",reason="gone"}')))
	# Keep the agents out while the cluster changes and its history goes.
	kctl fail 100000 503
	kctl cut
	kctl delete Service kube-system kube-dns-upstream
	kctl delete EndpointSlice kube-system kube-dns-upstream-lab01
	kctl apply "$(/usr/bin/python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
import lab_objects as l
print(json.dumps([l.service("default", "late", "ClusterIP", "10.96.7.7", [("http", "TCP", 8080, 80)], {"app": "webpod"}),
                  l.endpoint_slice("default", "late", "late-x1", [l.endpoint("172.20.0.130", "k8s-w1")], [("http", "TCP", 8080, 80)]),
                  l.ipmasq_configmap("nonMasqueradeCIDRs:\n  - 10.10.1.0/24\nmasqLinkLocal: true\n")]))' "$K8S")"
	kctl compact
	kctl fail 0
	for node in k8s-ctr k8s-w1; do
		wait_view "$node" 15 '^service default/late ClusterIP 10\.96\.7\.7 http:TCP:8080>80 172\.20\.0\.130=active$' \
			'^ipmasq \{"masqLinkLocal": true, "nonMasqueradeCIDRs": \["10\.10\.1\.0/24"\]\}$' || ok=1
		grep -q '^service kube-system/kube-dns-upstream ' <<<"$VIEW" && ok=1
		lines+=("$node: $(grep -E '^(service|ipmasq)' <<<"$VIEW" | cut -d' ' -f1-3 | paste -sd';' -)")
	done
	g1=$(($(metric k8s-ctr 'kdp_agent_watch_restarts_total{kind="Service",reason="gone"}') +
		$(metric k8s-w1 'kdp_agent_watch_restarts_total{kind="Service",reason="gone"}')))
	((g1 > g0)) || ok=1
	verdict "$ok" "h. watches cut, history compacted (410): the agents list again and converge (kube-dns-upstream removed, default/late added, ip-masq-agent config changed)" \
		"Service watches ended by 410 (both agents): $g0 -> $g1" "${lines[@]}" \
		"$(grep -h 'is gone (410)' "$API_DIR"/agent-k8s-ctr.log | tail -1 | cut -c29-)"
}

check_i_kdp_restart() {
	local ok=0 r0 r1
	r0=$(metric k8s-w1 kdp_agent_resyncs_total)
	lab_kdp_kill k8s-w1 KILL
	# while kdp is down: webpod scales to webpod-w1 alone
	kctl slice default webpod webpod-lab01 http:TCP:80 172.20.0.130:k8s-w1:ready
	sleep 1
	lab_kdp_start k8s-w1 >/dev/null 2>&1 || ok=1
	wait_view k8s-w1 15 '^service default/webpod NodePort 10\.96\.152\.212 http:TCP:80>80:30080 172\.20\.0\.130=active$' || ok=1
	r1=$(metric k8s-w1 kdp_agent_resyncs_total)
	((r1 > r0)) || ok=1
	verdict "$ok" "i. kdp on k8s-w1 killed (-9) and restarted while webpod changed: the agent resyncs and kdp converges" \
		"resyncs: $r0 -> $r1; $(grep -E '^service default/webpod' <<<"$VIEW")" \
		"$(grep -hE 'kdp (unreachable|reachable|restarted)|resync' "$API_DIR/agent-k8s-w1.log" | tail -3 | cut -c29- | paste -sd'|' -)"
}

check_j_agent_restart() {
	local ok=0
	agent_stop k8s-ctr
	kctl delete Service default late
	kctl apply "$(/usr/bin/python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
import lab_objects as l
print(json.dumps(l.service("default", "late2", "ClusterIP", "10.96.7.8", [("http", "TCP", 80, 80)], {"app": "webpod"})))' "$K8S")"
	# something the cluster never had
	api k8s-ctr PUT /v1/services/default/stale '{"clusterIP":"10.96.9.9","ports":[{"port":80}],"backends":[{"ip":"172.20.0.5"}]}'
	agent_start k8s-ctr
	wait_view k8s-ctr 15 '^service default/late2 ClusterIP 10\.96\.7\.8 http:TCP:80>80 -$' || ok=1
	wait_gone k8s-ctr 10 '^service default/(late|stale) ' || ok=1
	verdict "$ok" "j. the agent of k8s-ctr restarted after the cluster changed: default/late2 added, default/late and a service only kdp had (default/stale) removed" \
		"$(grep -E '^service' <<<"$VIEW" | cut -d' ' -f2 | paste -sd, -)" \
		"$(grep -h 'resync (start)' "$API_DIR/agent-k8s-ctr.log" | tail -1 | cut -c29-)"
}

# router_get IP PORT [SRC]: the router fetches http://IP:PORT/ (from SRC);
# prints the body, or "refused" / "timeout".
router_get() {
	local out rc
	out=$(ip netns exec "$LAB_NS_ROUTER" curl -s -m 2 ${3:+--interface "$3"} "http://$1:$2/" 2>/dev/null)
	rc=$?
	case $rc in
	0) echo "$out" ;;
	7) echo refused ;;
	28) echo timeout ;;
	*) echo "error$rc" ;;
	esac
}

# hc NODE_IP PORT: the router asks the health check port; prints "CODE BODY".
hc() {
	ip netns exec "$LAB_NS_ROUTER" curl -s -m 2 -w ' %{http_code}' "http://$1:$2/healthz" 2>/dev/null |
		awk '{code = $NF; $NF = ""; sub(/ $/, ""); print code, $0}'
}

# a_log POD: the webpod's HTTP server log (clients as it saw them).
a_log() { cat "$KDP_LAB_DIR/app-kdp-$1-http.log" 2>/dev/null; }

check_l_policies() {
	local ok out n ctr w1 line obj src drop0 drop1 b0 b1 a b c
	b0=$(($(metric k8s-ctr kdp_agent_batch_applies_total) + $(metric k8s-w1 kdp_agent_batch_applies_total)))
	# A LoadBalancer service of the webpods with externalTrafficPolicy
	# Local and a health check port; a ClusterIP one with
	# internalTrafficPolicy Local; a LoadBalancer one with source ranges.
	obj=$(/usr/bin/python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
import lab_objects as l
ports = [("http", "TCP", 80, 80, 30090)]
eps = [l.endpoint("172.20.1.41", "k8s-ctr"), l.endpoint("172.20.0.130", "k8s-w1")]
lb = l.service("default", "web-local", "LoadBalancer", "10.96.90.1", ports, {"app": "webpod"},
               externalTrafficPolicy="Local", healthCheckNodePort=32000)
lb["status"] = {"loadBalancer": {"ingress": [{"ip": "192.168.10.250"}]}}
rng = l.service("default", "web-ranges", "LoadBalancer", "10.96.90.2", [("http", "TCP", 80, 80, 30091)],
                {"app": "webpod"}, loadBalancerSourceRanges=["10.10.1.0/24"])
itp = l.service("default", "web-itp", "ClusterIP", "10.96.90.3", [("http", "TCP", 80, 80)], {"app": "webpod"},
                internalTrafficPolicy="Local")
out = [lb, rng, itp]
for s in ("web-local", "web-ranges", "web-itp"):
    pp = ports if s != "web-itp" else [("http", "TCP", 80, 80)]
    out.append(l.endpoint_slice("default", s, s + "-x1", eps, pp))
print(json.dumps(out))' "$K8S")
	kctl apply "$obj"
	ok=0
	for n in k8s-ctr k8s-w1; do
		wait_view "$n" 15 '^policy default/web-local etp=Local itp=Cluster hc=32000 ranges=- local=1 nodes=172\.20\.0\.130@k8s-w1,172\.20\.1\.41@k8s-ctr$' \
			'^policy default/web-ranges etp=Cluster itp=Cluster hc=0 ranges=10\.10\.1\.0/24 ' \
			'^policy default/web-itp etp=Cluster itp=Local ' || ok=1
		line+="$n: $(grep '^policy' <<<"$VIEW" | paste -sd';' -) "
	done
	verdict "$ok" "l1. both kdps hold the fields of phase 2 as the agent read them (traffic policies, health check port, source ranges, backends' nodeName)" "$line"

	# externalTrafficPolicy Local: each node's NodePort only to its own webpod.
	b1=$(a_log webpod-new | wc -l)
	ctr=$(for _ in $(seq 8); do router_get 192.168.10.100 30090; done | sort | uniq -c | tr -s ' \n' ' ')
	w1=$(for _ in $(seq 8); do router_get 192.168.10.101 30090; done | sort | uniq -c | tr -s ' \n' ' ')
	src=$(a_log webpod-new | tail -n "+$((b1 + 1))" | awk '{print $1}' | sort | uniq -c | tr -s ' \n' ' ')
	[[ $ctr == " 8 webpod-new " && $w1 == " 8 webpod-w1 " ]]
	verdict $? "l2. externalTrafficPolicy Local from the router: NodePort 30090 on k8s-ctr only reaches webpod-new, on k8s-w1 only webpod-w1" \
		"k8s-ctr:${ctr}; k8s-w1:${w1}"
	[[ $src == " 8 192.168.10.200 " ]]
	verdict $? "l3. ... and webpod-new sees the router's address (no SNAT)" "clients in webpod-new's log:${src:-none}"
	# The same with Cluster (webpod's NodePort 30080, backend webpod-w1 only
	# since check i) on k8s-ctr: SNAT, webpod-w1 sees the node.
	b1=$(a_log webpod-w1 | wc -l)
	out=$(router_get 192.168.10.100 30080)
	src=$(a_log webpod-w1 | tail -n "+$((b1 + 1))" | awk '{print $1}' | paste -sd, -)
	[[ $out == webpod-w1 && $src == 192.168.10.100 ]]
	verdict $? "l4. with externalTrafficPolicy Cluster the other node's backend sees k8s-ctr's address (SNAT)" \
		"answer $out, webpod-w1 saw ${src:-nothing}"

	# Health check: both nodes have a local endpoint.
	ctr=$(hc 192.168.10.100 32000)
	w1=$(hc 192.168.10.101 32000)
	[[ $ctr == '200 {"service":{"namespace":"default","name":"web-local"},"localEndpoints":1}' &&
		$w1 == '200 {"service":{"namespace":"default","name":"web-local"},"localEndpoints":1}' ]]
	verdict $? "l5. healthCheckNodePort 32000: 200 with localEndpoints 1 on both nodes" "k8s-ctr: $ctr; k8s-w1: $w1"
	# webpod-new leaves the service: k8s-ctr has no local endpoint any more.
	kctl slice default web-local web-local-x1 http:TCP:80 172.20.0.130:k8s-w1:ready
	wait_view k8s-ctr 10 '^policy default/web-local .* local=0 ' || true
	ctr=$(hc 192.168.10.100 32000)
	w1=$(hc 192.168.10.101 32000)
	out=$(router_get 192.168.10.100 30090)
	[[ $ctr == '503 {"service":{"namespace":"default","name":"web-local"},"localEndpoints":0}' &&
		$w1 == '200 {"service":{"namespace":"default","name":"web-local"},"localEndpoints":1}' &&
		$out == refused ]]
	verdict $? "l6. the only endpoint on k8s-w1: the health check answers 503 (localEndpoints 0) on k8s-ctr and 200 on k8s-w1, and k8s-ctr's NodePort refuses (RST) instead of crossing to k8s-w1" \
		"k8s-ctr: $ctr; k8s-w1: $w1; router -> 192.168.10.100:30090: $out"

	# internalTrafficPolicy Local: curl-pod (on k8s-ctr) only reaches webpod-new.
	out=$(for _ in $(seq 8); do ip netns exec kdp-curl-pod curl -s -m 2 http://10.96.90.3/; done | sort | uniq -c | tr -s ' \n' ' ')
	[[ $out == " 8 webpod-new " ]]
	verdict $? "l7. internalTrafficPolicy Local: 8 fetches of 10.96.90.3 from curl-pod all reach webpod-new, on its node" "$out"

	# loadBalancerSourceRanges 10.10.1.0/24: the router's LAN address is
	# refused (dropped, counted), its 10.10.1.200 let in; then the agent
	# adds the LAN address.
	drop0=$(lab_api k8s-ctr GET /v1/stats | "$LAB_PY" -c 'import json,sys; print(next(d["packets"] for d in json.load(sys.stdin)["drops"] if d["reason"] == "svc_source_range"))')
	a=$(router_get 192.168.10.100 30091)
	b=$(router_get 192.168.10.100 30091 10.10.1.200)
	drop1=$(lab_api k8s-ctr GET /v1/stats | "$LAB_PY" -c 'import json,sys; print(next(d["packets"] for d in json.load(sys.stdin)["drops"] if d["reason"] == "svc_source_range"))')
	kctl apply "$(/usr/bin/python3 -c '
import json, sys
sys.path.insert(0, sys.argv[1])
import lab_objects as l
print(json.dumps(l.service("default", "web-ranges", "LoadBalancer", "10.96.90.2", [("http", "TCP", 80, 80, 30091)],
                           {"app": "webpod"}, loadBalancerSourceRanges=["10.10.1.0/24", "192.168.10.200/32"])))' "$K8S")"
	wait_view k8s-ctr 10 '^policy default/web-ranges .*ranges=10\.10\.1\.0/24,192\.168\.10\.200/32 ' || true
	c=$(router_get 192.168.10.100 30091)
	[[ $a == timeout && $b == webpod-* && $((drop1 - drop0)) -ge 1 && $c == webpod-* ]]
	verdict $? "l8. loadBalancerSourceRanges [10.10.1.0/24]: the router from 192.168.10.200 is dropped (svc_source_range), from 10.10.1.200 let in; with 192.168.10.200/32 added by the agent, let in" \
		"from 192.168.10.200: $a; from 10.10.1.200: $b; svc_source_range $drop0 -> $drop1; after the change: $c"

	b1=$(($(metric k8s-ctr kdp_agent_batch_applies_total) + $(metric k8s-w1 kdp_agent_batch_applies_total)))
	line=$(grep -h 'batch of' "$API_DIR"/agent-k8s-ctr.log | tail -1 | cut -c29-)
	((b1 > b0))
	verdict $? "l9. the agents sent these changes as batches (PATCH /v1/objects)" \
		"kdp_agent_batch_applies_total (both): $b0 -> $b1; ${line:-no batch line}"
}

check_k_clean() {
	local errs
	errs=$(grep -hE ' (error|warn) ' "$API_DIR"/agent-*.log | grep -vE 'watch from resourceVersion .* ended|kdp unreachable|extended service fields|HTTP 503|injected' | head -5)
	[[ -z $errs ]]
	verdict $? "k. the agents logged no unexpected warning or error (watch ends, kdp down and the basic service fields are expected)" \
		"${errs:-none}"
}

if setup; then
	check_a_converged
	check_b_routing
	check_c_service
	check_d_masq
	check_e_lrp
	check_f_rolling
	check_g_gc
	check_h_relist
	check_i_kdp_restart
	check_j_agent_restart
	check_l_policies
	check_k_clean
fi
FINISHED=1

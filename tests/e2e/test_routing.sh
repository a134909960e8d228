#!/usr/bin/env bash
# End-to-end test: pod-to-pod native routing through kdp in the reference lab
# (DESIGN.md section 1, scenario 2). Builds the lab in network namespaces,
# runs kdp on k8s-ctr and k8s-w1, checks, and always tears the lab down.
#
#   sudo tests/e2e/test_routing.sh        (KDP_BUILD=<dir>, default build)
#
# Prints PASS/FAIL per check with what was observed; the last line is
# "N passed, M failed"; exit 0 only if every check passed.
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"

OTHER_POD=172.20.0.130 # webpod on k8s-w1
SAME_POD=172.20.1.40   # webpod on k8s-ctr
CLIENT_IP=172.20.1.236 # curl-pod on k8s-ctr
SPOOF_IP=172.20.1.99
NODE_IP=192.168.10.100 # k8s-ctr
# The IPv6 side of the same pods (the lab is dual stack).
OTHER_POD6=fd00:20::130
SAME_POD6=fd00:20:0:1::40
CLIENT_IP6=fd00:20:0:1::236
SPOOF_IP6=fd00:20:0:1::99







# ------------------------------------------------------------------ setup

setup() {
	local out
	e2e_lab_up || return 1
	echo "setup: lab up, kdp running on $(lab_node_names | tr '\n' ' ')(state applied)"
}

# ------------------------------------------------------------------ checks

check_a_ping() {
	local ns out ttl
	ping_check "a1. curl-pod -> $OTHER_POD (webpod on the other node)" curl-pod "$OTHER_POD"
	ping_check "a2. curl-pod -> $SAME_POD (webpod on the same node)" curl-pod "$SAME_POD"
	# The node's own stack (behind the host tap) answers without a hop:
	# what it sends is not routed by kdp, so its TTL stays 64.
	for ns in kdp-curl-pod kdp-router; do
		if [[ $ns == kdp-router ]]; then
			out=$(ip netns exec "$ns" ping -n -c3 -i0.2 -W1 "$NODE_IP" 2>&1)
		else
			out=$(lab_ping curl-pod "$NODE_IP" 2>&1)
		fi
		ttl=$(grep -m1 -o 'ttl=[0-9]*' <<<"$out")
		verdict "$([[ $ttl == ttl=64 ]]; echo $?)" \
			"a3. ${ns#kdp-} -> $NODE_IP (k8s-ctr's own stack, through the host tap): ttl=64, not decremented" \
			"${ttl:-no reply}; $(lab_ping_summary <<<"$out")"
	done
	ping_check "a4. IPv6: curl-pod -> $OTHER_POD6 (webpod on the other node)" curl-pod "$OTHER_POD6"
	ping_check "a5. IPv6: curl-pod -> $SAME_POD6 (webpod on the same node)" curl-pod "$SAME_POD6"
	ping_check "a6. IPv6: curl-pod -> its gateway $LAB_POD_GATEWAY6 (link-local, kdp answers)" \
		curl-pod "$LAB_POD_GATEWAY6%eth0"
}

# An idle control thread ticks every 10 ms, not every millisecond, and a
# worker's punt wakes it at once: an ARP request from the router (its
# neighbour entry flushed) is answered, and counted as a wake-up.
ctl_counts() {
	lab_api k8s-ctr GET /v1/stats |
		python3 -c 'import json,sys; c=json.load(sys.stdin)["control"]; print(c["ticks"], c["wakeups"])'
}

check_a_idle_control() {
	local s0 s1 t0 t1 out out_ticks out_wakes rc=0
	s0=$(ctl_counts) && t0=$(date +%s.%N) || rc=1
	sleep 1
	ip netns exec kdp-router ip neigh flush dev eth1 2>/dev/null
	out=$(ip netns exec kdp-router ping -n -c2 -i0.3 -W1 "$NODE_IP" 2>&1) || rc=1
	s1=$(ctl_counts) && t1=$(date +%s.%N) || rc=1
	read -r out_ticks out_wakes < <(awk -v a="$s0" -v b="$s1" -v t0="$t0" -v t1="$t1" 'BEGIN {
		split(a, x, " "); split(b, y, " ");
		printf "%.0f %d\n", (y[1] - x[1]) / (t1 - t0), y[2] - x[2] }')
	[[ $rc -eq 0 && ${out_ticks:-9999} -le 200 && ${out_wakes:-0} -ge 1 ]]
	verdict "$?" "a7. idle control thread: <= 200 slow-path ticks/s (was 1000), woken by a punted ARP request" \
		"ticks/s ${out_ticks:-?}, wake-ups +${out_wakes:-?}; router ping: $(lab_ping_summary <<<"$out")"
}

check_b_native() {
	local cap req rep bad encap ok=0 rc=0
	lab_capture_start b kdp-lan "$LAB_LAN_BRIDGE" 'icmp or udp port 8472 or udp port 6081' ||
		{ fail "b1. capture on br0" "tcpdump did not start"; return; }
	lab_ping curl-pod "$OTHER_POD" >/dev/null || rc=$?
	cap=$(lab_capture_stop b)
	req=$(grep -cE "ethertype IPv4 .*: ${CLIENT_IP//./\\.} > ${OTHER_POD//./\\.}: ICMP echo request" <<<"$cap")
	rep=$(grep -cE "ethertype IPv4 .*: ${OTHER_POD//./\\.} > ${CLIENT_IP//./\\.}: ICMP echo reply" <<<"$cap")
	# an echo request to the pod with any other source would be NAT
	bad=$(grep -E "> ${OTHER_POD//./\\.}: ICMP echo request" <<<"$cap" | grep -vc " ${CLIENT_IP//./\\.} >")
	encap=$(grep -Ec '\.(8472|6081)[: ]|VXLAN|Geneve|UDP' <<<"$cap")
	((rc == 0 && req > 0 && rep > 0 && bad == 0 && encap == 0)) || ok=1
	verdict "$ok" "b1. on the LAN: plain IPv4 $CLIENT_IP > $OTHER_POD, no tunnel, no NAT" \
		"ping rc=$rc; echo requests $CLIENT_IP>$OTHER_POD: $req, replies: $rep, other sources: $bad, UDP 8472/6081: $encap" \
		"$(grep -m1 'echo request' <<<"$cap" || echo '(no echo request captured)')"

	rc=0
	lab_capture_start b2 kdp-lan "$LAB_LAN_BRIDGE" "icmp and host $SAME_POD" ||
		{ fail "b2. capture on br0" "tcpdump did not start"; return; }
	lab_ping curl-pod "$SAME_POD" >/dev/null || rc=$?
	cap=$(lab_capture_stop b2)
	req=$(grep -c "$SAME_POD" <<<"$cap")
	((rc == 0 && req == 0)) && ok=0 || ok=1
	verdict "$ok" "b2. same-node traffic ($CLIENT_IP > $SAME_POD) stays off the LAN" \
		"ping rc=$rc; packets with $SAME_POD on br0: $req"

	rc=0 ok=0
	lab_capture_start b3 kdp-lan "$LAB_LAN_BRIDGE" "ip6 and (icmp6 or udp) and not ip6 multicast" ||
		{ fail "b3. capture on br0" "tcpdump did not start"; return; }
	lab_ping curl-pod "$OTHER_POD6" >/dev/null || rc=$?
	cap=$(lab_capture_stop b3)
	req=$(grep -cE "ethertype IPv6 .*: $CLIENT_IP6 > $OTHER_POD6: ICMP6, echo request" <<<"$cap")
	rep=$(grep -cE "ethertype IPv6 .*: $OTHER_POD6 > $CLIENT_IP6: ICMP6, echo reply" <<<"$cap")
	bad=$(grep -E "> $OTHER_POD6: ICMP6, echo request" <<<"$cap" | grep -vc " $CLIENT_IP6 >")
	encap=$(grep -Ec 'UDP|VXLAN|Geneve' <<<"$cap")
	((rc == 0 && req > 0 && rep > 0 && bad == 0 && encap == 0)) || ok=1
	verdict "$ok" "b3. on the LAN: plain IPv6 $CLIENT_IP6 > $OTHER_POD6, no tunnel, no NAT" \
		"ping rc=$rc; echo requests: $req, replies: $rep, other sources: $bad, UDP: $encap" \
		"$(grep -m1 'echo request' <<<"$cap" || echo '(no echo request captured)')"
}

check_c_routes() {
	local out l1 l2 l3 rc=0 ok=0
	out=$(lab_kdpctl k8s-ctr route list 2>&1) || rc=$?
	l1=$(grep -F '172.20.0.0/24' <<<"$out" | grep -F -m1 '192.168.10.101')
	l2=$(grep -F -m1 "$CLIENT_IP/32" <<<"$out")
	l3=$(grep -F '0.0.0.0/0' <<<"$out" | grep -F -m1 "$LAB_ROUTER_IP")
	[[ $rc == 0 && -n $l1 && -n $l2 && -n $l3 ]] || ok=1
	verdict "$ok" "c. kdpctl route list on k8s-ctr: remote podCIDR, local endpoint, default" \
		"172.20.0.0/24 via 192.168.10.101: ${l1:-MISSING}" \
		"$CLIENT_IP/32 (endpoint):        ${l2:-MISSING}" \
		"0.0.0.0/0 via $LAB_ROUTER_IP:    ${l3:-MISSING}"
	l1=$(grep -F 'fd00:20::/64' <<<"$out" | grep -F -m1 'fd00:10::101')
	l2=$(grep -F -m1 "$CLIENT_IP6/128" <<<"$out")
	l3=$(grep -F '::/0 ' <<<"$out" | grep -F -m1 "$LAB_ROUTER_IP6")
	local l4
	l4=$(grep -F 'fe80::1/128' <<<"$out" | grep -F -m1 'pod-gateway')
	[[ $rc == 0 && -n $l1 && -n $l2 && -n $l3 && -n $l4 ]] || ok=1
	verdict "$ok" "c2. the same for IPv6: remote podCIDR, local endpoint, default, the pods' gateway" \
		"fd00:20::/64 via fd00:10::101: ${l1:-MISSING}" "$CLIENT_IP6/128: ${l2:-MISSING}" \
		"::/0 via $LAB_ROUTER_IP6: ${l3:-MISSING}" "fe80::1/128 local: ${l4:-MISSING}"
	if ((ok != 0)); then
		printf '        kdpctl (rc %s) printed:\n' "$rc"
		printf '%s\n' "$out" | sed 's/^/          | /'
	fi
}

check_d_node_delete() {
	local out rc=0 ok=0
	api k8s-ctr DELETE /v1/nodes/k8s-w1
	local del_code=$CODE
	out=$(lab_ping curl-pod "$OTHER_POD") || rc=$?
	local out6 rc6=0
	out6=$(ip netns exec kdp-curl-pod ping -n -c2 -W1 "$OTHER_POD6" 2>&1) || rc6=$?
	[[ $del_code == 2?? && $rc != 0 && $rc6 != 0 ]] || ok=1
	verdict "$ok" "d1. DELETE /v1/nodes/k8s-w1 on k8s-ctr -> $OTHER_POD and $OTHER_POD6 unreachable" \
		"DELETE: HTTP $del_code $BODY" "ping: $(lab_ping_summary <<<"$out")" \
		"ping -6: $(lab_ping_summary <<<"$out6")"

	rc=0 ok=0 rc6=0
	api k8s-ctr PUT /v1/nodes/k8s-w1 \
		'{"ip":"192.168.10.101","ips":["192.168.10.101","fd00:10::101"],"podCIDRs":["172.20.0.0/24","fd00:20::/64"]}'
	local put_code=$CODE
	out=$(lab_ping curl-pod "$OTHER_POD") || rc=$?
	out6=$(lab_ping curl-pod "$OTHER_POD6") || rc6=$?
	[[ $put_code == 2?? && $rc == 0 && $rc6 == 0 ]] || ok=1
	verdict "$ok" "d2. PUT /v1/nodes/k8s-w1 back (both families) -> both reachable again" \
		"PUT: HTTP $put_code $BODY" "ping: $(lab_ping_summary <<<"$out")" \
		"ping -6: $(lab_ping_summary <<<"$out6")"
}

check_e_spoof() {
	local mac before after seen cap ok=0
	lab_ping curl-pod "$OTHER_POD" >/dev/null # resolves the gateway MAC
	mac=$(lab_pod_gw_mac curl-pod) || { fail "e. spoofing" "no gateway MAC for curl-pod"; return; }
	before=$(lab_drop_count k8s-ctr spoofed_source) || before=ERR
	lab_capture_start e kdp-webpod-w1 eth0 "icmp and src host $SPOOF_IP" ||
		{ fail "e. spoofing" "tcpdump in the target pod did not start"; return; }
	lab_send_icmp curl-pod "$SPOOF_IP" "$OTHER_POD" "$mac" 5 ||
		{ lab_capture_stop e >/dev/null; fail "e. spoofing" "could not send the packets"; return; }
	sleep 1
	after=$(lab_drop_count k8s-ctr spoofed_source) || after=ERR
	cap=$(lab_capture_stop e)
	seen=$(grep -c "$SPOOF_IP >" <<<"$cap")
	if [[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && ((after >= 5 && after - before >= 5 && seen == 0)); then
		ok=0
	else
		ok=1
	fi
	verdict "$ok" "e. 5 echo requests from curl-pod with source $SPOOF_IP are dropped (spoofed_source)" \
		"sent to gateway MAC $mac; /v1/stats spoofed_source: $before before, $after after" \
		"received by webpod-w1 ($OTHER_POD): $seen"

	before=$after
	lab_capture_start e2 kdp-webpod-w1 eth0 "icmp6 and src host $SPOOF_IP6" ||
		{ fail "e2. IPv6 spoofing" "tcpdump in the target pod did not start"; return; }
	lab_send_icmp6 curl-pod "$SPOOF_IP6" "$OTHER_POD6" "$mac" 5 ||
		{ lab_capture_stop e2 >/dev/null; fail "e2. IPv6 spoofing" "could not send the packets"; return; }
	sleep 1
	after=$(lab_drop_count k8s-ctr spoofed_source) || after=ERR
	cap=$(lab_capture_stop e2)
	seen=$(grep -c "$SPOOF_IP6 >" <<<"$cap")
	if [[ $before =~ ^[0-9]+$ && $after =~ ^[0-9]+$ ]] && ((after - before >= 5 && seen == 0)); then
		ok=0
	else
		ok=1
	fi
	verdict "$ok" "e2. 5 ICMPv6 echo requests from curl-pod with source $SPOOF_IP6 are dropped (spoofed_source)" \
		"/v1/stats spoofed_source: $before before, $after after" \
		"received by webpod-w1 ($OTHER_POD6): $seen"
}

check_f_restart() {
	local pid1 pid2 out nodes state rc=0 ok=0
	state=$(lab_statefile k8s-ctr)
	pid1=$(lab_kdp_pid k8s-ctr) || pid1=none
	if [[ ! -s $state ]]; then
		fail "f. restart" "no state file $state before the restart"
	fi
	lab_kdp_kill k8s-ctr KILL || { fail "f. restart" "kdp (pid $pid1) survived SIGKILL"; return; }
	if ! out=$(lab_kdp_start k8s-ctr 2>&1); then
		fail "f. restart: kdp starts again with the same config" "$out"
		return
	fi
	pid2=$(lab_kdp_pid k8s-ctr) || pid2=none
	out=$(lab_ping curl-pod "$OTHER_POD") || rc=$?
	local out6 rc6=0
	out6=$(lab_ping curl-pod "$OTHER_POD6") || rc6=$?
	nodes=$(lab_nodes_list k8s-ctr 2>&1) || true
	grep -qx 'k8s-w1 192.168.10.101 172.20.0.0/24,fd00:20::/64' <<<"$nodes" && ((rc == 0 && rc6 == 0)) ||
		ok=1
	verdict "$ok" "f. kill -9 kdp on k8s-ctr, restart (no state re-applied): routing (both families) and nodes restored" \
		"pid $pid1 killed, new pid $pid2; ping: $(lab_ping_summary <<<"$out")" \
		"ping -6: $(lab_ping_summary <<<"$out6")" "GET /v1/nodes: $(tr '\n' ';' <<<"$nodes")"
}

check_g_bad_input() {
	local before after err out rc=0 ok
	before=$(lab_nodes_list k8s-ctr 2>&1)

	api k8s-ctr PUT /v1/nodes/bad '{"ip":"300.1.1.1","podCIDRs":["172.20.9.0/24"]}'
	err=$(lab_api_error <<<"$BODY")
	[[ $CODE == 400 && $err =~ (^|[^A-Za-z])ip([^A-Za-z]|$) ]] && ok=0 || ok=1
	verdict "$ok" "g1. PUT /v1/nodes/bad with ip 300.1.1.1 -> 400 naming ip" "HTTP $CODE: $BODY"

	api k8s-ctr PUT /v1/nodes/bad '{"ip":"192.168.10.102","podCIDRs":["172.20.0.128/25"]}'
	err=$(lab_api_error <<<"$BODY")
	[[ $CODE == 4?? && ${err,,} == *podcidr* ]] && ok=0 || ok=1
	verdict "$ok" "g2. PUT /v1/nodes/bad with a podCIDR inside k8s-w1's -> 4xx naming podCIDRs" \
		"HTTP $CODE: $BODY"

	# An endpoint whose interface does not exist: kdpctl says so.
	out=$(printf '{"ip":"172.20.1.77","mac":"02:00:00:00:00:77","devargs":"net_kdp_afp,iface=lxc-nope"}' |
		lab_kdpctl k8s-ctr endpoint put default/nope -f - 2>&1)
	rc=$?
	[[ $rc == 1 && $out == *"endpoints[default/nope].devargs: DPDK could not open"*"No such device"* ]] && ok=0 || ok=1
	verdict "$ok" "g4. an endpoint on an interface that does not exist: kdpctl exits 1 with 'No such device'" "$out"
	rc=0
	out=$(printf '{"ip":"172.20.0.77","mac":"02:00:00:00:00:77","devargs":"net_kdp_afp,iface=lxc-curl"}' |
		lab_kdpctl k8s-ctr endpoint put default/other -f - 2>&1)
	[[ $out == "Error: endpoints[default/other]: ip: 172.20.0.77 is inside podCIDR 172.20.0.0/24 of node k8s-w1, not this node's (HTTP 400)" ]] && ok=0 || ok=1
	verdict "$ok" "g5. an endpoint with an address of another node's podCIDR: 400 naming ip" "$out"

	api k8s-ctr PUT /v1/nodes/bad '{"ip":"192.168.10.102","ips":["192.168.10.102","fd00:10::1:2:3:4:5:6:7"],"podCIDRs":[]}'
	err=$(lab_api_error <<<"$BODY")
	[[ $CODE == 400 && $err == "ips[1]: not an IPv4 or IPv6 address"* ]] && ok=0 || ok=1
	verdict "$ok" "g6. PUT /v1/nodes/bad with a bad IPv6 address -> 400 naming ips[1]" "HTTP $CODE: $BODY"

	after=$(lab_nodes_list k8s-ctr 2>&1)
	rc=0
	out=$(lab_ping curl-pod "$OTHER_POD") || rc=$?
	[[ -n $before && $before == "$after" && $rc == 0 ]] && ok=0 || ok=1
	verdict "$ok" "g3. after the bad requests: GET /v1/nodes unchanged, routing works" \
		"before: $(tr '\n' ';' <<<"$before")" "after:  $(tr '\n' ';' <<<"$after")" \
		"ping: $(lab_ping_summary <<<"$out")"
}

# h. A pod port that disappears under traffic: kdp keeps forwarding for the
# others, reports the port down (API, metrics, log) and stays healthy.
check_h_port_gone() {
	local out rc=0 ok state metric sock log pid
	sock=$(lab_sock k8s-ctr)
	log=$KDP_LAB_DIR/k8s-ctr.log
	ip netns exec kdp-curl-pod ping -q -i 0.05 -c 60 -W 1 "$OTHER_POD" >"$KDP_LAB_DIR/ping-h.log" 2>&1 &
	pid=$!
	sleep 0.5
	ip netns exec kdp-k8s-ctr ip link del lxc-web-ctr 2>/dev/null
	wait "$pid" || rc=$?
	# Every one of the 60 answered: the others' traffic never paused.
	grep -q "^60 packets transmitted, 60 received" "$KDP_LAB_DIR/ping-h.log" || rc=1
	sleep 1.5 # the port watcher looks once a second
	state=$(curl -s --unix-socket "$sock" http://kdp/v1/endpoints/default/webpod-ctr |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["port"]["state"])' 2>&1)
	metric=$(curl -s --unix-socket "$sock" http://kdp/metrics | grep '^kdp_port_up' | grep -c ' 0$')
	out=$(lab_ping curl-pod "$OTHER_POD") || rc=$?
	[[ $rc == 0 && $state == down && $metric == 1 ]] && grep -q "is down" "$log" && ok=0 || ok=1
	verdict "$ok" "h. webpod-ctr's veth deleted under traffic: 60/60 pings to another pod answered, port reported down" \
		"ping during: $(tail -2 "$KDP_LAB_DIR/ping-h.log" | tr '\n' ' ')" \
		"endpoint port state: $state; kdp_port_up 0 for $metric port(s); log: $(grep -m1 'is down' "$log")" \
		"ping after: $(lab_ping_summary <<<"$out")"
}

# i. Endpoints deleted: their ports leave the workers' polls before they are
# closed (a worker polling a closed port logs "rx_pkt_burst for not ready
# port"; under ASan it would read freed memory).
check_i_delete() {
	local log out rc=0 ok hits ep
	log=$(lab_logfile k8s-ctr)
	for ep in default/webpod-ctr kube-system/coredns-ctr kube-system/node-local-dns-ctr; do
		lab_api k8s-ctr DELETE "/v1/endpoints/$ep" >/dev/null || rc=$?
	done
	sleep 1
	hits=$(tail -c "+$((E2E_LOG_START[k8s-ctr] + 1))" "$log" | grep -c 'not ready port')
	out=$(lab_ping curl-pod "$OTHER_POD") || rc=$?
	[[ $rc == 0 && $hits == 0 ]] && ok=0 || ok=1
	verdict "$ok" "i. three endpoints deleted: no worker polls a closed port, routing goes on" \
		"'not ready port' in kdp's log: $hits; ping: $(lab_ping_summary <<<"$out")"
}

if setup; then
	check_a_ping
	check_a_idle_control
	check_b_native
	check_c_routes
	check_d_node_delete
	check_e_spoof
	check_f_restart
	check_g_bad_input
	check_h_port_gone
	check_i_delete
fi
FINISHED=1
exit 0 # on_exit turns this into 1 if a check failed

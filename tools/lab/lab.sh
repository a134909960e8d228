#!/usr/bin/env bash
# kdp reference lab in network namespaces (see tools/lab/lib.sh).
#
#   tools/lab/lab.sh up      build the topology, start kdp on both nodes,
#                            apply the lab state, show pod-to-pod routing,
#                            start the webpods' HTTP servers, the CoreDNS and
#                            node-local DNS pods, PUT the services and curl
#                            10.96.152.212, show masquerade (with and without
#                            the ip-masq-agent config) and apply the DNS local
#                            redirect policy
#   tools/lab/lab.sh topo    only the namespaces and veths (no kdp)
#   tools/lab/lab.sh status  what is up
#   tools/lab/lab.sh down    stop kdp, delete the namespaces (idempotent)
#
# KDP_BUILD (default build) and KDP_LAB_DIR (default /tmp/kdp-lab) as in lib.sh.
# Needs root.
set -euo pipefail

# shellcheck source=tools/lab/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

LAB_SH=$0
if [[ $KDP_LAB_DIR != /tmp/kdp-lab ]]; then
	LAB_SH="KDP_LAB_DIR=$KDP_LAB_DIR $LAB_SH"
fi
FAILED=0

check() { # check DESCRIPTION CMD...: run CMD, print OK/FAIL
	local desc=$1
	shift
	if "$@"; then
		lab_ok "$desc"
	else
		lab_fail "$desc"
		FAILED=$((FAILED + 1))
		return 1
	fi
}

usage() {
	sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
}

need_root() {
	if [[ $(id -u) -ne 0 ]]; then
		lab_err "needs root (network namespaces)"
		exit 1
	fi
}

show_ping() { # show_ping POD DST LABEL
	local out
	if out=$(lab_ping "$1" "$2"); then
		lab_ok "$3: $(lab_ping_summary <<<"$out")"
	else
		lab_fail "$3: $(lab_ping_summary <<<"$out")"
		FAILED=$((FAILED + 1))
	fi
}

cmd_topo() {
	lab_step "Topology: namespaces, LAN bridge, router, nodes, pods"
	if ! lab_topology_up; then
		lab_fail "topology (tear down with: $LAB_SH down)"
		exit 1
	fi
	local ns
	while read -r ns; do lab_ok "netns $ns"; done < <(lab_namespaces)
}

cmd_up() {
	local node out
	lab_step "Build (installs missing Debian packages first)"
	if ! KDP_BUILD=$KDP_BUILD "$LAB_REPO/tools/build.sh"; then
		lab_fail "build"
		exit 1
	fi
	cmd_topo

	lab_step "kdp on each node ($LAB_KDP_BIN)"
	if [[ ! -x $LAB_KDP_BIN ]]; then
		lab_fail "kdp is not built: $LAB_KDP_BIN"
		lab_info "build it (meson setup build && ninja -C build) or set KDP_BUILD"
		lab_info "the topology stays up; tear down with: $LAB_SH down"
		exit 1
	fi
	local -a nodes
	mapfile -t nodes < <(lab_node_names)
	for node in "${nodes[@]}"; do
		check "config $(lab_cfg "$node")" lab_kdp_config "$node" || exit 1
		if lab_kdp_start "$node"; then
			lab_ok "kdp on $node: pid $(lab_kdp_pid "$node"), socket $(lab_sock "$node")"
		else
			lab_fail "kdp on $node did not start (log: $(lab_logfile "$node"))"
			lab_info "tear down with: $LAB_SH down"
			exit 1
		fi
	done

	lab_step "Desired state (PUT /v1/state: nodes + local endpoints)"
	for node in "${nodes[@]}"; do
		if out=$(lab_apply "$node" 2>&1); then
			lab_ok "state applied on $node"
		else
			lab_fail "state on $node: HTTP $LAB_API_CODE $out"
			FAILED=$((FAILED + 1))
		fi
	done

	lab_step "Pod-to-pod routing from curl-pod (172.20.1.236)"
	lab_capture_start demo kdp-lan "$LAB_LAN_BRIDGE" 'icmp or udp port 8472 or udp port 6081' ||
		FAILED=$((FAILED + 1))
	show_ping curl-pod 172.20.0.130 "ping 172.20.0.130 (webpod on k8s-w1, other node)"
	show_ping curl-pod 172.20.1.40 "ping 172.20.1.40 (webpod on k8s-ctr, same node)"
	out=$(lab_capture_stop demo)

	lab_step "On the LAN (tcpdump -nn -e icmp on br0 in kdp-lan)"
	if grep -q 'ethertype IPv4 .*172\.20\.1\.236 > 172\.20\.0\.130: ICMP echo request' <<<"$out"; then
		lab_ok "pod source 172.20.1.236 kept, plain IPv4 (no tunnel, no NAT)"
	else
		lab_fail "no plain 172.20.1.236 > 172.20.0.130 echo request seen on br0"
		FAILED=$((FAILED + 1))
	fi
	if grep -Eq '\.(8472|6081)[: ]' <<<"$out"; then
		lab_fail "VXLAN/Geneve (UDP 8472/6081) seen on the LAN"
		FAILED=$((FAILED + 1))
	fi
	grep -m4 'ICMP' <<<"$out" | sed 's/^/        /' || lab_info "(nothing captured)"

	lab_step "Pod apps: HTTP server in each webpod, dnsmasq in each CoreDNS and node-local DNS pod"
	if out=$(lab_apps_start 2>&1); then
		lab_ok "webpods answer their name on :80, CoreDNS pods and node-local DNS pods (forwarding to $LAB_NODELOCAL_UPSTREAM) on :53"
	else
		lab_fail "pod apps: $out"
		FAILED=$((FAILED + 1))
	fi

	lab_step "Services on every node (PUT /v1/services/{namespace}/{name})"
	local row
	for row in "${LAB_SERVICES[@]}"; do
		lab_info "${row%%|*}: $(cut -d'|' -f2- <<<"$row" | tr '|' ' ')"
	done
	if out=$(lab_services_apply 2>&1); then
		lab_ok "services applied on $(printf '%s ' "${nodes[@]}")"
	else
		lab_fail "services: $out"
		FAILED=$((FAILED + 1))
	fi

	lab_step "Service from curl-pod: 6 x curl http://10.96.152.212/ and a DNS lookup"
	local i answers=()
	for ((i = 0; i < 6; i++)); do
		answers+=("$(ip netns exec kdp-curl-pod curl -s --connect-timeout 2 -m 3 http://10.96.152.212/ ||
			echo "curl failed ($?)")")
	done
	if printf '%s\n' "${answers[@]}" | grep -q '^webpod-'; then
		lab_ok "answers: ${answers[*]}"
	else
		lab_fail "answers: ${answers[*]}"
		FAILED=$((FAILED + 1))
	fi
	out=$(ip netns exec kdp-curl-pod dig +short +tries=2 +timeout=2 @10.96.0.10 \
		webpod.default.svc.cluster.local 2>&1 | head -n1)
	if [[ $out == 10.96.152.212 ]]; then
		lab_ok "dig @10.96.0.10 webpod.default.svc.cluster.local: $out"
	else
		lab_fail "dig @10.96.0.10 webpod.default.svc.cluster.local: $out"
		FAILED=$((FAILED + 1))
	fi

	show_masquerade
	show_redirect

	lab_step "Routes of k8s-ctr (kdpctl route list)"
	lab_kdpctl k8s-ctr route list | sed 's/^/        /' || {
		lab_fail "kdpctl route list"
		FAILED=$((FAILED + 1))
	}

	lab_step "Play"
	cat <<EOF
  ping across nodes     ip netns exec kdp-curl-pod ping 172.20.0.130
  ping on the node      ip netns exec kdp-curl-pod ping 172.20.1.40
  service               ip netns exec kdp-curl-pod curl -s http://10.96.152.212/
  DNS (local redirect)  ip netns exec kdp-curl-pod dig @10.96.0.10 webpod.default.svc.cluster.local
  node-local DNS log    $KDP_LAB_DIR/app-kdp-nodelocal-ctr-dns.queries
  masquerade            ip netns exec kdp-curl-pod curl -s http://192.168.10.200/
  watch the router      ip netns exec kdp-router tcpdump -nn -i eth1 tcp port 80
  NAT table             $LAB_KDPCTL_BIN -s $(lab_sock k8s-ctr) nat list
  non-masquerade set    $LAB_KDPCTL_BIN -s $(lab_sock k8s-ctr) ipmasq list -o wide
  redirect policies     $LAB_KDPCTL_BIN -s $(lab_sock k8s-ctr) lrp list
  NodePort              ip netns exec kdp-router curl -s http://192.168.10.101:30080/
  services              curl -s --unix-socket $(lab_sock k8s-ctr) http://kdp/v1/services
  watch the LAN         ip netns exec kdp-lan tcpdump -nn -e -i br0 icmp
  routes of k8s-ctr     $LAB_KDPCTL_BIN -s $(lab_sock k8s-ctr) route list
  other CLI commands    $LAB_KDPCTL_BIN -s $(lab_sock k8s-ctr) --help
  raw API               curl -s --unix-socket $(lab_sock k8s-ctr) http://kdp/v1/status
  kdp logs              $KDP_LAB_DIR/k8s-ctr.log, $KDP_LAB_DIR/k8s-w1.log
  tear down             $LAB_SH down
EOF
	if ((FAILED > 0)); then
		printf '\n%d check(s) FAILED (the lab stays up; tear down with: %s down)\n' "$FAILED" "$LAB_SH"
		exit 1
	fi
	printf '\nlab is up\n'
}

# syn_src CAP DST: the source address of the first SYN to DST:80 in CAP.
syn_src() {
	grep -m1 -E "> ${2//./\\.}\.80: Flags \[S\]" <<<"$1" |
		grep -oE '[0-9]+(\.[0-9]+){3}\.[0-9]+ > ' | sed -E 's/^([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+).*/\1/'
}

# show_syn_src CAP DST WANT: OK if the router saw the SYN to DST from WANT.
show_syn_src() {
	local src
	src=$(syn_src "$1" "$2") || true
	if [[ $src == "$3" ]]; then
		lab_ok "curl-pod -> $2: the router sees source $src"
	else
		lab_fail "curl-pod -> $2: the router sees source ${src:-nothing} (want $3)"
		FAILED=$((FAILED + 1))
	fi
}

# masq_round TAG DST...: curl each DST from curl-pod with a capture of the
# SYNs in the router; prints the capture.
masq_round() {
	local tag=$1 dst
	shift
	lab_capture_start "$tag" "$LAB_NS_ROUTER" eth1 \
		'tcp port 80 and tcp[tcpflags] & tcp-syn != 0 and tcp[tcpflags] & tcp-ack == 0' >/dev/null 2>&1 ||
		return 1
	for dst in "$@"; do
		ip netns exec kdp-curl-pod curl -s --connect-timeout 2 -m 3 "http://$dst/" >/dev/null 2>&1 || true
	done
	lab_capture_stop "$tag"
}

show_masquerade() {
	local cap node_ip pod_ip
	node_ip=$(lab_node_ip k8s-ctr) pod_ip=$(lab_pod_ip curl-pod)
	lab_step "Masquerade: curl-pod ($pod_ip) -> the router (HTTP server in $LAB_NS_ROUTER on :80)"
	if ! lab_router_http_start >/dev/null 2>&1; then
		lab_fail "HTTP server in $LAB_NS_ROUTER did not start"
		FAILED=$((FAILED + 1))
		return
	fi
	cap=$(masq_round masq1 "$LAB_ROUTER_IP" 10.10.1.200) || true
	show_syn_src "$cap" "$LAB_ROUTER_IP" "$node_ip"
	show_syn_src "$cap" 10.10.1.200 "$node_ip"

	lab_step "ip-masq-agent config on every node: $LAB_IPMASQ_CONFIG (+ pod routes in the router)"
	if ! lab_ipmasq_apply "$LAB_IPMASQ_CONFIG" || ! lab_router_pod_routes add; then
		lab_fail "PUT /v1/ipmasq or the router's pod routes"
		FAILED=$((FAILED + 1))
		return
	fi
	cap=$(masq_round masq2 "$LAB_ROUTER_IP" 10.10.1.200 10.10.2.200) || true
	show_syn_src "$cap" "$LAB_ROUTER_IP" "$node_ip"
	show_syn_src "$cap" 10.10.1.200 "$pod_ip"
	show_syn_src "$cap" 10.10.2.200 "$pod_ip"
	lab_kdpctl k8s-ctr ipmasq list -o wide | sed 's/^/        /' || true
}

show_redirect() {
	local out log n0 n1
	lab_step "DNS local redirect: kube-system/nodelocaldns on every node (kube-dns -> local node-local DNS pod)"
	if ! lab_lrp_put kube-system/nodelocaldns "$LAB_LRP_NODELOCAL"; then
		lab_fail "PUT /v1/lrp/kube-system/nodelocaldns"
		FAILED=$((FAILED + 1))
		return
	fi
	n0=$(lab_dns_queries nodelocal-ctr | grep -c "from $(lab_pod_ip curl-pod)" || true)
	out=$(ip netns exec kdp-curl-pod dig +short +tries=2 +timeout=2 @10.96.0.10 \
		webpod.default.svc.cluster.local 2>&1 | head -n1)
	sleep 0.3
	log=$(lab_dns_queries nodelocal-ctr | grep "from $(lab_pod_ip curl-pod)" | tail -n1 || true)
	n1=$(lab_dns_queries nodelocal-ctr | grep -c "from $(lab_pod_ip curl-pod)" || true)
	if [[ $out == 10.96.152.212 ]] && ((n1 > n0)); then
		lab_ok "dig @10.96.0.10 from curl-pod: $out, answered by node-local-dns-ctr"
		lab_info "${log#*: }"
	else
		lab_fail "dig @10.96.0.10 from curl-pod: $out (node-local-dns-ctr logged $((n1 - n0)) queries)"
		FAILED=$((FAILED + 1))
	fi
	lab_kdpctl k8s-ctr lrp list | sed 's/^/        /' || true
}

cmd_status() {
	local ns node pid out
	lab_step "Namespaces"
	while read -r ns; do
		if [[ -e /run/netns/$ns ]]; then lab_ok "$ns"; else lab_fail "$ns missing"; fi
	done < <(lab_namespaces)
	lab_step "kdp"
	local -a nodes
	mapfile -t nodes < <(lab_node_names)
	for node in "${nodes[@]}"; do
		if pid=$(lab_kdp_pid "$node"); then
			if out=$(lab_api "$node" GET /v1/status 2>&1); then
				lab_ok "$node: pid $pid, socket $(lab_sock "$node") answers"
				lab_info "$out"
			else
				lab_fail "$node: pid $pid runs but $(lab_sock "$node") does not answer"
			fi
		else
			lab_fail "$node: not running (log: $(lab_logfile "$node"))"
		fi
	done
}

cmd_down() {
	lab_step "Tearing down the lab"
	lab_down
	local ns left=0
	while read -r ns; do
		if [[ -e /run/netns/$ns ]]; then
			lab_fail "netns $ns still there"
			left=1
		fi
	done < <(lab_namespaces)
	if ((left == 0)); then lab_ok "kdp stopped, namespaces and run files removed"; fi
	return "$left"
}

case ${1:-} in
	up) need_root && cmd_up ;;
	topo) need_root && cmd_topo ;;
	status) need_root && cmd_status ;;
	down) need_root && cmd_down ;;
	-h | --help | help) usage ;;
	*)
		usage >&2
		exit 2
		;;
esac

#!/usr/bin/env bash
# End-to-end test: DNS local redirect (CiliumLocalRedirectPolicy) through kdp
# in the reference lab (DESIGN.md sections 1-2, scenario 4). Builds the lab
# in network namespaces, runs kdp on k8s-ctr and k8s-w1, dnsmasq as CoreDNS
# in kdp-coredns-{ctr,w1} and as the node-local DNS cache in
# kdp-nodelocal-{ctr,w1} (172.20.1.13, 172.20.0.13, label
# k8s-app=node-local-dns, forwarding to kube-dns-upstream 10.96.31.170), PUTs
# the lab services (kube-system/kube-dns 10.96.0.10 and
# kube-system/kube-dns-upstream 10.96.31.170, both to the CoreDNS pods) on
# both nodes, applies the redirect policies, checks, and always tears the lab
# down.
#
#   sudo tests/e2e/test_lrp.sh            (KDP_BUILD=<dir>, default build)
#
# Prints PASS/FAIL per check with what was observed; the last line is
# "N passed, M failed"; exit 0 only if every check passed.
set -uo pipefail

# shellcheck source=tests/e2e/harness.sh
source "$(dirname "${BASH_SOURCE[0]}")/harness.sh"


CLIENT_IP=172.20.1.236   # curl-pod on k8s-ctr
NL_CTR=172.20.1.13       # node-local DNS pod on k8s-ctr
NL_W1=172.20.0.13        # node-local DNS pod on k8s-w1
CD_CTR=172.20.1.144      # CoreDNS pod on k8s-ctr
CD_W1=172.20.0.186       # CoreDNS pod on k8s-w1
DNS_IP=10.96.0.10        # kube-system/kube-dns
DNS_IP6=fd00:96::a       # ... its IPv6 ClusterIP (the lab is dual stack)
SVC_IP6=fd00:96::98d4    # default/webpod's IPv6 ClusterIP (the AAAA answer)
CLIENT_IP6=fd00:20:0:1::236
UPSTREAM_IP=10.96.31.170 # kube-system/kube-dns-upstream
LINK_IP=169.254.20.10    # addressMatcher frontend
LATE_IP=10.96.0.53       # kube-system/dns-late (created after its policy)
SVC_IP=10.96.152.212     # what CoreDNS answers for DNS_NAME
DNS_NAME=webpod.default.svc.cluster.local

TO_PORTS='[{"port":"53","name":"dns","protocol":"UDP"},{"port":"53","name":"dns-tcp","protocol":"TCP"}]'
# The reference policy (Cilium's node-local DNS example).
LRP_SVC='{"redirectFrontend":{"serviceMatcher":{"serviceName":"kube-dns","namespace":"kube-system"}},"redirectBackend":{"localEndpointSelector":{"matchLabels":{"k8s-app":"node-local-dns"}},"toPorts":'$TO_PORTS'}}'
LRP_ADDR='{"redirectFrontend":{"addressMatcher":{"ip":"'$LINK_IP'","toPorts":'$TO_PORTS'}},"redirectBackend":{"localEndpointSelector":{"matchLabels":{"k8s-app":"node-local-dns"}},"toPorts":'$TO_PORTS'}}'
LRP_LATE='{"redirectFrontend":{"serviceMatcher":{"serviceName":"dns-late","namespace":"kube-system"}},"redirectBackend":{"localEndpointSelector":{"matchLabels":{"k8s-app":"node-local-dns"}},"toPorts":'$TO_PORTS'}}'






# put_both PATH BODY: PUT on both nodes; prints "node HTTP code" pairs and
# fails if one was not 2xx.
put_both() {
	local node res=() rc=0
	for node in k8s-ctr k8s-w1; do
		api "$node" PUT "$1" "$2"
		res+=("$node: HTTP $CODE")
		[[ $CODE == 2?? ]] || { rc=1; res+=("($BODY)"); }
	done
	printf '%s\n' "${res[*]}"
	return "$rc"
}

# dig_q POD SERVER [+tcp]: one A query for DNS_NAME; sets ANS (answers),
# SRV (dig's SERVER line) and DIG_OUT.
ANS='' SRV='' DIG_OUT=''
dig_q() {
	local ns
	ns=$(lab_pod_ns "$1")
	DIG_OUT=$(ip netns exec "$ns" dig "${@:3}" +tries=2 +timeout=2 "@$2" "$DNS_NAME" A 2>&1)
	ANS=$(awk -v n="$DNS_NAME." '$1 == n && $4 == "A" {print $5}' <<<"$DIG_OUT" | paste -sd, -)
	SRV=$(grep -m1 '^;; SERVER:' <<<"$DIG_OUT" | sed 's/^;; SERVER: //')
}

# qc POD FROM: queries for DNS_NAME from FROM in POD's dnsmasq log.
qc() { lab_dns_queries "$1" | grep -cF "query[A] $DNS_NAME from $2"; }

# snap ARRAY: the query counts the checks compare, into the associative
# array ARRAY: nl_curl (node-local k8s-ctr, from curl-pod), nl_self (node-local
# k8s-ctr, from itself), nl_w1 (node-local k8s-w1, from anyone), cd_curl /
# cd_nl (both CoreDNS pods, from curl-pod / from node-local k8s-ctr), fwd
# (node-local k8s-ctr forwarded to kube-dns-upstream).
snap() {
	local -n _s=$1
	sleep 0.3 # dnsmasq writes its log
	_s["nl_curl"]=$(qc nodelocal-ctr "$CLIENT_IP")
	_s["nl_self"]=$(qc nodelocal-ctr "$NL_CTR")
	_s["nl_w1"]=$(lab_dns_queries nodelocal-w1 | grep -cF "query[A] $DNS_NAME from ")
	_s["cd_curl"]=$(($(qc coredns-ctr "$CLIENT_IP") + $(qc coredns-w1 "$CLIENT_IP")))
	_s["cd_nl"]=$(($(qc coredns-ctr "$NL_CTR") + $(qc coredns-w1 "$NL_CTR")))
	_s["fwd"]=$(lab_dns_queries nodelocal-ctr | grep -cF "forwarded $DNS_NAME to $UPSTREAM_IP")
}

# delta KEY: S1[KEY] - S0[KEY].
declare -A S0 S1
delta() { echo $((${S1[$1]:-0} - ${S0[$1]:-0})); }

# logs_line: the deltas as a line of evidence.
logs_line() {
	printf 'queries logged: node-local k8s-ctr from curl-pod %s, from itself %s; node-local k8s-w1 %s; CoreDNS (both) from curl-pod %s, from node-local %s; forwarded to %s: %s' \
		"$(delta nl_curl)" "$(delta nl_self)" "$(delta nl_w1)" "$(delta cd_curl)" \
		"$(delta cd_nl)" "$UPSTREAM_IP" "$(delta fwd)"
}

# svc_block NODE FRONTEND: the `kdpctl service list` rows of FRONTEND (its
# row and the backend rows under it), on one line.
svc_block() {
	lab_kdpctl "$1" service list 2>&1 | awk -v fe="$2" '
		/^[0-9]/ { on = ($2 == fe) }
		on { $1 = $1; printf "%s%s", (n++ ? " | " : ""), $0 }
		END { print "" }'
}

# lrp_state NODE NAME: "active=True|False frontends=a,b|none" of the policy
# kube-system/NAME per GET /v1/lrp on NODE ("not listed" if absent).
lrp_state() {
	lab_api "$1" GET /v1/lrp 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p.get("namespace") == "kube-system" and p.get("name") == sys.argv[1]:
        print("active=%s frontends=%s" % (p.get("active"), ",".join(p.get("frontends") or []) or "none"))
        break
else:
    print("not listed")' "$2" 2>&1
}

# ------------------------------------------------------------------ setup

setup() {
	local out
	e2e_lab_up || return 1
	if ! out=$(lab_apps_start 2>&1); then
		fail "setup: dnsmasq in the CoreDNS and node-local DNS pods" "$out"
		return 1
	fi
	if ! out=$(lab_services_apply 2>&1); then
		fail "setup: PUT the lab services on both nodes" "$out"
		return 1
	fi
	# The first packets of each pod wait for ARP: warm up (not counted).
	dig_q curl-pod "$DNS_IP"
	dig_q nodelocal-ctr "$UPSTREAM_IP"
	dig_q nodelocal-w1 "$UPSTREAM_IP"
	echo "setup: lab up, kdp on $(lab_node_names | paste -sd, -), CoreDNS and node-local DNS pods (dnsmasq)," \
		"services kube-dns ($DNS_IP) and kube-dns-upstream ($UPSTREAM_IP) on both nodes"
}

# ------------------------------------------------------------------ checks

check_a_policy() {
	local out ok=0
	out=$(put_both /v1/lrp/kube-system/nodelocaldns "$LRP_SVC") || ok=1
	verdict "$ok" "a. PUT /v1/lrp/kube-system/nodelocaldns (serviceMatcher kube-system/kube-dns -> k8s-app=node-local-dns, UDP+TCP 53) on both nodes" \
		"$out"
}

# query_case DESC SERVER PROTO WANT: one query from curl-pod to SERVER over
# PROTO (udp|tcp); WANT is "nodelocal" (answered by the node-local pod of
# k8s-ctr, which forwards to kube-dns-upstream) or "coredns" (answered by
# CoreDNS directly).
query_case() {
	local desc=$1 server=$2 proto=$3 want=$4 f=() ok=1
	[[ $proto == tcp ]] && f=(+tcp)
	snap S0
	dig_q curl-pod "$server" "${f[@]}"
	snap S1
	if [[ $ANS == "$SVC_IP" && $SRV == "$server#53($server) (${proto^^})" ]]; then
		if [[ $want == nodelocal ]]; then
			(($(delta nl_curl) == 1 && $(delta cd_curl) == 0 && $(delta cd_nl) >= 1 &&
				$(delta nl_w1) == 0)) && ok=0
		else
			(($(delta nl_curl) == 0 && $(delta cd_curl) == 1)) && ok=0
		fi
	fi
	verdict "$ok" "$desc" "answer: ${ANS:-none}; server: ${SRV:-none}" "$(logs_line)"
	((ok == 0)) || printf '%s\n' "$DIG_OUT" | sed 's/^/          | /'
}

check_b_redirect() {
	local t0 cap peers ok=1
	declare -A T0
	snap T0
	lab_capture_start b kdp-curl-pod eth0 port 53 ||
		{ fail "b. capture in curl-pod" "tcpdump did not start"; return; }
	query_case "b-udp. dig @$DNS_IP $DNS_NAME from curl-pod over UDP: answered from $DNS_IP by node-local-dns-ctr, which asked CoreDNS through kube-dns-upstream" \
		"$DNS_IP" udp nodelocal
	query_case "b-tcp. dig +tcp @$DNS_IP $DNS_NAME from curl-pod over TCP: answered from $DNS_IP by node-local-dns-ctr, which asked CoreDNS through kube-dns-upstream" \
		"$DNS_IP" tcp nodelocal
	cap=$(lab_capture_stop b)
	# every address curl-pod exchanged DNS packets with
	peers=$(grep -oE '[0-9]+(\.[0-9]+){4} > [0-9]+(\.[0-9]+){4}' <<<"$cap" |
		awk '{split($1, a, "."); split($3, b, "."); print a[1] "." a[2] "." a[3] "." a[4]; print b[1] "." b[2] "." b[3] "." b[4]}' |
		grep -vxF "$CLIENT_IP" | sort | uniq -c | awk '{printf "%s%s (%d)", (NR > 1 ? ", " : ""), $2, $1}')
	[[ $peers =~ ^${DNS_IP//./\\.}\ \([0-9]+\)$ ]] && ok=0
	verdict "$ok" "b-cap. tcpdump in curl-pod (port 53): its only DNS peer is $DNS_IP (never $NL_CTR or a CoreDNS pod)" \
		"peers (packets): ${peers:-none}"
	# c: over both queries, the node-local pod's own upstream queries went to
	# CoreDNS, never back to itself
	local self fwd cdnl ok=1
	for t0 in nl_self fwd cd_nl; do S0[$t0]=${T0[$t0]}; done
	self=$(delta nl_self) fwd=$(delta fwd) cdnl=$(delta cd_nl)
	((self == 0 && fwd >= 2 && cdnl >= 2)) && ok=0
	verdict "$ok" "c. node-local-dns-ctr's upstream queries (to $UPSTREAM_IP) reach CoreDNS and are not redirected back to itself" \
		"node-local log: forwarded to $UPSTREAM_IP: $fwd, queries from itself ($NL_CTR): $self" \
		"CoreDNS logs: queries from $NL_CTR: $cdnl" \
		"$(lab_dns_queries coredns-ctr | grep -F "from $NL_CTR" | tail -n1 | sed 's/^.*dnsmasq/coredns-ctr: dnsmasq/')"
}

# b6. The policy redirects kube-dns's IPv6 ClusterIP to the node-local
# pod's IPv6 address too (a dual-stack policy over a dual-stack service).
check_b6_redirect() {
	local proto f out ans srv nl cd ok
	for proto in udp tcp; do
		f=()
		[[ $proto == tcp ]] && f=(+tcp)
		nl=$(lab_dns_queries nodelocal-ctr | grep -cF "query[AAAA] $DNS_NAME from $CLIENT_IP6")
		cd=$(($(lab_dns_queries coredns-ctr | grep -cF "query[AAAA] $DNS_NAME from $CLIENT_IP6") +
			$(lab_dns_queries coredns-w1 | grep -cF "query[AAAA] $DNS_NAME from $CLIENT_IP6")))
		out=$(ip netns exec kdp-curl-pod dig "${f[@]}" +tries=2 +timeout=2 "@$DNS_IP6" "$DNS_NAME" AAAA 2>&1)
		ans=$(awk -v n="$DNS_NAME." '$1 == n && $4 == "AAAA" {print $5}' <<<"$out" | paste -sd, -)
		srv=$(grep -m1 '^;; SERVER:' <<<"$out" | sed 's/^;; SERVER: //')
		sleep 0.3
		nl=$(($(lab_dns_queries nodelocal-ctr | grep -cF "query[AAAA] $DNS_NAME from $CLIENT_IP6") - nl))
		cd=$(($(lab_dns_queries coredns-ctr | grep -cF "query[AAAA] $DNS_NAME from $CLIENT_IP6") +
			$(lab_dns_queries coredns-w1 | grep -cF "query[AAAA] $DNS_NAME from $CLIENT_IP6") - cd))
		ok=1
		[[ $ans == "$SVC_IP6" && $srv == "$DNS_IP6#53($DNS_IP6) (${proto^^})" ]] && ((nl == 1 && cd == 0)) && ok=0
		verdict "$ok" "b6-$proto. dig ${f[*]:+${f[*]} }@$DNS_IP6 AAAA from curl-pod over IPv6/${proto^^}: answered from $DNS_IP6 by node-local-dns-ctr" \
			"answer: ${ans:-none}; server: ${srv:-none}" \
			"queries from $CLIENT_IP6 logged: node-local k8s-ctr $nl, CoreDNS (both) $cd"
		((ok == 0)) || printf '%s\n' "$out" | sed 's/^/          | /'
	done
}

check_d_service_list() {
	local udp tcp up w1udp ok=1
	udp=$(svc_block k8s-ctr "$DNS_IP:53/UDP")
	tcp=$(svc_block k8s-ctr "$DNS_IP:53/TCP")
	up=$(svc_block k8s-ctr "$UPSTREAM_IP:53/UDP")
	w1udp=$(svc_block k8s-w1 "$DNS_IP:53/UDP")
	if [[ $udp == *LocalRedirect* && $udp == *"$NL_CTR:53/UDP"* && $udp != *"$CD_CTR"* && $udp != *"$CD_W1"* &&
		$tcp == *LocalRedirect* && $tcp == *"$NL_CTR:53/TCP"* && $tcp != *"$CD_CTR"* && $tcp != *"$CD_W1"* &&
		$up == *ClusterIP* && $up == *"$CD_CTR"* && $up == *"$CD_W1"* && $up != *"$NL_CTR"* &&
		$w1udp == *LocalRedirect* && $w1udp == *"$NL_W1:53/UDP"* ]]; then
		ok=0
	fi
	verdict "$ok" "d. kdpctl service list: $DNS_IP:53/UDP and /TCP are LocalRedirect to $NL_CTR on k8s-ctr ($NL_W1 on k8s-w1); kube-dns-upstream keeps the CoreDNS pods" \
		"k8s-ctr: ${udp:-no $DNS_IP:53/UDP row}" "k8s-ctr: ${tcp:-no $DNS_IP:53/TCP row}" \
		"k8s-ctr: ${up:-no $UPSTREAM_IP:53/UDP row}" "k8s-w1:  ${w1udp:-no $DNS_IP:53/UDP row}"
	((ok == 0)) || lab_kdpctl k8s-ctr service list 2>&1 | sed 's/^/          | /'
}

check_e_lrp_list() {
	local out rc=0 ok=1 l1 l2 l3
	out=$(lab_kdpctl k8s-ctr lrp list 2>&1) || rc=$?
	l1=$(grep -E -m1 '^kube-system +nodelocaldns +' <<<"$out")
	l2=$(grep -F -m1 "$DNS_IP:53/UDP -> $NL_CTR:53/UDP" <<<"$out")
	l3=$(grep -F -m1 "$DNS_IP:53/TCP -> $NL_CTR:53/TCP" <<<"$out")
	[[ $rc == 0 && $l1 == *kube-system/kube-dns* && -n $l2 && -n $l3 ]] && ok=0
	verdict "$ok" "e. kdpctl lrp list on k8s-ctr shows kube-system/nodelocaldns for kube-system/kube-dns with its redirects" \
		"policy row: ${l1:-MISSING}" "UDP: ${l2:-MISSING}" "TCP: ${l3:-MISSING}"
	((ok == 0)) || printf '%s\n' "$out" | sed 's/^/          | /'
}

check_f_address() {
	local out ok=0 st lrp
	out=$(put_both /v1/lrp/kube-system/nodelocaldns-addr "$LRP_ADDR") || ok=1
	st=$(lrp_state k8s-ctr nodelocaldns-addr)
	lrp=$(lab_kdpctl k8s-ctr lrp list 2>&1 | grep -F "$LINK_IP:53/" | sed 's/^[ |]*//' | paste -sd';' -)
	[[ $st == "active=True frontends=$LINK_IP:53/UDP,$LINK_IP:53/TCP" &&
		$lrp == *"$LINK_IP:53/UDP -> $NL_CTR:53/UDP"* && $lrp == *"$LINK_IP:53/TCP -> $NL_CTR:53/TCP"* ]] || ok=1
	verdict "$ok" "f1. PUT /v1/lrp/kube-system/nodelocaldns-addr (addressMatcher $LINK_IP:53 UDP+TCP) on both nodes: active on k8s-ctr" \
		"$out" "GET /v1/lrp on k8s-ctr: $st" "kdpctl lrp list: ${lrp:-no $LINK_IP row}"
	query_case "f2. dig @$LINK_IP over UDP from curl-pod: answered by node-local-dns-ctr" "$LINK_IP" udp nodelocal
	query_case "f3. dig +tcp @$LINK_IP over TCP from curl-pod: answered by node-local-dns-ctr" "$LINK_IP" tcp nodelocal
}

check_g_no_local() {
	local udp st_svc st_addr ok=1
	api k8s-ctr DELETE /v1/endpoints/kube-system/node-local-dns-ctr
	local code=$CODE
	udp=$(svc_block k8s-ctr "$DNS_IP:53/UDP")
	st_svc=$(lrp_state k8s-ctr nodelocaldns)
	st_addr=$(lrp_state k8s-ctr nodelocaldns-addr)
	[[ $code == 2?? && $udp != *LocalRedirect* && $udp == *"$CD_CTR:53/UDP"* && $udp == *"$CD_W1:53/UDP"* &&
		$st_svc == "active=False frontends=none" && $st_addr == "active=False frontends=none" ]] && ok=0
	verdict "$ok" "g1. DELETE the endpoint kube-system/node-local-dns-ctr on k8s-ctr: $DNS_IP:53 falls back to the CoreDNS pods, the $LINK_IP frontend is gone" \
		"DELETE: HTTP $code" "kdpctl service list: ${udp:-no $DNS_IP:53/UDP row}" \
		"GET /v1/lrp: nodelocaldns $st_svc; nodelocaldns-addr $st_addr"
	query_case "g2. without a local node-local pod, dig @$DNS_IP over UDP goes straight to CoreDNS (source curl-pod)" \
		"$DNS_IP" udp coredns
	query_case "g3. without a local node-local pod, dig +tcp @$DNS_IP over TCP goes straight to CoreDNS" \
		"$DNS_IP" tcp coredns
}

check_h_back() {
	local udp ok=1
	api k8s-ctr PUT "$(lab_endpoint_path nodelocal-ctr)" "$(lab_endpoint_json nodelocal-ctr)"
	local code=$CODE
	udp=$(svc_block k8s-ctr "$DNS_IP:53/UDP")
	[[ $code == 2?? && $udp == *LocalRedirect* && $udp == *"$NL_CTR:53/UDP"* ]] && ok=0
	verdict "$ok" "h1. PUT the endpoint back on k8s-ctr: $DNS_IP:53/UDP is LocalRedirect again (no restart)" \
		"PUT: HTTP $code" "kdpctl service list: ${udp:-no $DNS_IP:53/UDP row}"
	query_case "h2. dig @$DNS_IP over UDP is redirected to node-local-dns-ctr again" "$DNS_IP" udp nodelocal
	query_case "h3. dig +tcp @$DNS_IP over TCP is redirected to node-local-dns-ctr again" "$DNS_IP" tcp nodelocal
	query_case "h4. dig @$LINK_IP over UDP is answered by node-local-dns-ctr again" "$LINK_IP" udp nodelocal
}

check_i_late() {
	local ok=1 st body blk out
	api k8s-ctr PUT /v1/lrp/kube-system/dns-late "$LRP_LATE"
	local code=$CODE
	st=$(lrp_state k8s-ctr dns-late)
	[[ $code == 2?? && $st == "active=False frontends=none" ]] && ok=0
	verdict "$ok" "i1. a policy for kube-system/dns-late, which does not exist yet, is accepted (inactive)" \
		"PUT: HTTP $code $(tr -d '\n' <<<"$BODY" | tr -s ' ')" "GET /v1/lrp: $st"
	body=$(lab_service_json ClusterIP "$LATE_IP" dns:UDP:53:53,dns-tcp:TCP:53:53 k8s-app=kube-dns)
	ok=1
	out=$(lab_service_put kube-system/dns-late "$body" k8s-ctr 2>&1) && {
		blk=$(svc_block k8s-ctr "$LATE_IP:53/UDP")
		[[ $blk == *LocalRedirect* && $blk == *"$NL_CTR:53/UDP"* ]] && ok=0
	}
	verdict "$ok" "i2. PUT the service kube-system/dns-late ($LATE_IP, CoreDNS backends) on k8s-ctr: it is LocalRedirect at once" \
		"${out:-PUT ok}" "kdpctl service list: ${blk:-no $LATE_IP:53/UDP row}" \
		"GET /v1/lrp: $(lrp_state k8s-ctr dns-late)"
	query_case "i3. dig @$LATE_IP over UDP is answered by node-local-dns-ctr" "$LATE_IP" udp nodelocal
}

check_j_namespace() {
	local ok=1 after
	api k8s-ctr PUT /v1/lrp/default/wrong-ns "$LRP_SVC"
	local code=$CODE err
	err=$(lab_api_error <<<"$BODY")
	after=$(lab_api k8s-ctr GET /v1/lrp 2>/dev/null | python3 -c '
import json, sys
print(",".join("%s/%s" % (p.get("namespace"), p.get("name")) for p in json.load(sys.stdin)))' 2>&1)
	[[ $code == 4?? && ${err,,} == *namespace* && $after != *default/wrong-ns* ]] && ok=0
	verdict "$ok" "j. a policy in namespace default for the service kube-system/kube-dns is refused (4xx naming the namespace)" \
		"PUT /v1/lrp/default/wrong-ns: HTTP $code: $err" "policies now: $after"
}

T_START=$(date +%s)
if setup; then
	check_a_policy
	check_b_redirect
	check_b6_redirect
	check_d_service_list
	check_e_lrp_list
	check_f_address
	check_g_no_local
	check_h_back
	check_i_late
	check_j_namespace
fi
echo "time: $(($(date +%s) - T_START)) s"
FINISHED=1
exit 0 # on_exit turns this into 1 if a check failed

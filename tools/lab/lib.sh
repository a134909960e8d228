# shellcheck shell=bash
# kdp reference lab: network namespaces, veth pairs and kdp instances.
#
# Sourced by tools/lab/lab.sh and tests/e2e/*.sh. Every function is safe under
# `set -euo pipefail` and checks its own errors (returns non-zero with a message
# on stderr), so it also works when called from `if`/`||` where -e is off.
#
# Topology (DESIGN.md section 1):
#
#   kdp-curl-pod   kdp-webpod-ctr          kdp-webpod-w1
#     eth0            eth0                    eth0
#      |               |                       |
#   lxc-curl       lxc-web-ctr              lxc-web-w1
#   +---------------------------+          +-------------------+
#   | kdp-k8s-ctr  (kdp runs    |          | kdp-k8s-w1        |
#   |  here; kdp-host tap)      |          |                   |
#   +----------- eth1 ----------+          +------ eth1 -------+
#                 |                                 |
#                ctr ---------- br0 (kdp-lan) ----- w1
#                                |
#                               rtr
#                                |
#                    eth1 (kdp-router) 192.168.10.200/24, fd00:10::200/64
#                    loop1 (empty bridge) 10.10.1.200/24, 10.10.2.200/24,
#                          fd00:10:1::200/64, fd00:10:2::200/64
#
# The lab is dual stack (KDP_LAB_IPV6=off makes it IPv4 only): every node,
# pod and service has an address of each family, the IPv6 ones mirroring the
# IPv4 ones (LAN fd00:10::/64, pool fd00:20::/48 with a /64 per node,
# services fd00:96::/112); pods route IPv6 to fe80::1, kdp's link-local
# gateway, as they route IPv4 to 169.254.1.1.
#
# The CoreDNS pods kdp-coredns-ctr and kdp-coredns-w1 and the node-local DNS
# pods kdp-nodelocal-ctr and kdp-nodelocal-w1 hang off their nodes the same way
# (LAB_PODS). lab_apps_start runs an HTTP server in each webpod, dnsmasq in
# each CoreDNS pod and a forwarding dnsmasq (to kube-dns-upstream) in each
# node-local DNS pod; lab_services_apply PUTs LAB_SERVICES on every node. No
# Local Redirect Policy is applied by default, so the node-local DNS pods only
# answer queries sent to their own IP. lab_router_http_start and
# lab_router_udp_echo_start run servers in the router (outside the cluster).
#
# Nothing is ever configured in the root namespace.
#
# Environment:
#   KDP_BUILD    build directory (default: build); relative paths are taken
#                from the repository root. kdp is $KDP_BUILD/src/kdp, the CLI
#                $KDP_BUILD/tools/kdpctl/kdpctl.
#   KDP_LAB_DIR  run directory for configs, sockets, pids, state files and
#                logs (default: /tmp/kdp-lab).
#   KDP_LAB_WORKERS  "workers" in the node configs (default: 2).
#   KDP_LAB_IPMASQ_FILE  if set, "ipMasqAgentConfig" in the node configs (the
#                ip-masq-agent config file kdp watches; absolute path).
#   KDP_LAB_CONFIG_EXTRA  if set, a JSON object merged into the node configs
#                (objects merged key by key), e.g.
#                '{"natPortRange":"40000-40003","conntrack":{"otherSeconds":3}}'.
#   Both are read by lab_kdp_config; unset (the default) changes nothing.
#   KDP_LAB_OFFLOADS  on (default): every veth and the host tap keep the
#                kernel's offloads (partial checksums, TSO/GSO super-frames);
#                off: transmit checksum and segmentation offloads turned off.
#   KDP_LAB_IPV6 on (default): the lab is dual stack; off: IPv4 only (the
#                namespaces' IPv6 off, as before issue #17).
#   LAB_WEB_BIG_MB   size of the sparse /big file the webpods serve (200).
#   LAB_WRAP_<node with _ for ->  a command put before kdp on that node, e.g.
#                LAB_WRAP_k8s_ctr="valgrind --log-file=/tmp/v.log" (split on
#                spaces); unset: kdp runs as it is.
#   LAB_KDP_START_SECONDS  how long lab_kdp_start waits for the control
#                socket (20); LAB_KDP_STOP_SECONDS how long lab_kdp_kill
#                waits for kdp to exit (10). Raise both under valgrind.

LAB_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
LAB_REPO=$(cd "$LAB_LIB_DIR/../.." && pwd)

KDP_BUILD=${KDP_BUILD:-build}
case $KDP_BUILD in
	/*) ;;
	*) KDP_BUILD=$LAB_REPO/$KDP_BUILD ;;
esac
KDP_LAB_DIR=${KDP_LAB_DIR:-/tmp/kdp-lab}
case $KDP_LAB_DIR in
	/*) ;;
	*) KDP_LAB_DIR=$PWD/$KDP_LAB_DIR ;;
esac

LAB_KDP_BIN=$KDP_BUILD/src/kdp
LAB_KDPCTL_BIN=$KDP_BUILD/tools/kdpctl/kdpctl

# The LAN and the outside router.
LAB_NS_LAN=kdp-lan
LAB_NS_ROUTER=kdp-router
LAB_LAN_BRIDGE=br0
LAB_ROUTER_IP=192.168.10.200
LAB_ROUTER_PREFIX=24
LAB_ROUTER_LOOP_IPS=(10.10.1.200/24 10.10.2.200/24)
LAB_LAN_PREFIX=24
LAB_POD_GATEWAY=169.254.1.1
LAB_NATIVE_CIDR=172.20.0.0/16
LAB_HOST_TAP=kdp-host
# The IPv6 side (KDP_LAB_IPV6=on).
LAB_ROUTER_IP6=fd00:10::200
LAB_ROUTER_LOOP_IPS6=(fd00:10:1::200/64 fd00:10:2::200/64)
LAB_LAN_PREFIX6=64
LAB_POD_GATEWAY6=fe80::1
LAB_NATIVE_CIDR6=fd00:20::/48
LAB_SERVICE_CIDR6=fd00:96::/112

# Nodes: name|node IP|podCIDRs (comma separated; IPv6 ones only with
# KDP_LAB_IPV6=on)|name of its port on br0|node IPv6 address.
# The namespace of a node is kdp-<name>.
LAB_NODES=(
	"k8s-ctr|192.168.10.100|172.20.1.0/24,fd00:20:0:1::/64|ctr|fd00:10::100"
	"k8s-w1|192.168.10.101|172.20.0.0/24,fd00:20::/64|w1|fd00:10::101"
)

# Pods: netns|node|IP|node-side iface (<=15 chars)|k8s namespace|k8s name|labels
# (labels as k=v[,k=v...])|IPv6 address (optional). Add a row to add a pod.
LAB_PODS=(
	"kdp-curl-pod|k8s-ctr|172.20.1.236|lxc-curl|default|curl-pod|app=curl|fd00:20:0:1::236"
	"kdp-webpod-ctr|k8s-ctr|172.20.1.40|lxc-web-ctr|default|webpod-ctr|app=webpod|fd00:20:0:1::40"
	"kdp-webpod-w1|k8s-w1|172.20.0.130|lxc-web-w1|default|webpod-w1|app=webpod|fd00:20::130"
	"kdp-coredns-ctr|k8s-ctr|172.20.1.144|lxc-dns-ctr|kube-system|coredns-ctr|k8s-app=kube-dns|fd00:20:0:1::144"
	"kdp-coredns-w1|k8s-w1|172.20.0.186|lxc-dns-w1|kube-system|coredns-w1|k8s-app=kube-dns|fd00:20::186"
	"kdp-nodelocal-ctr|k8s-ctr|172.20.1.13|lxc-nld-ctr|kube-system|node-local-dns-ctr|k8s-app=node-local-dns|fd00:20:0:1::13"
	"kdp-nodelocal-w1|k8s-w1|172.20.0.13|lxc-nld-w1|kube-system|node-local-dns-w1|k8s-app=node-local-dns|fd00:20::13"
)

# Services of the lab (DESIGN.md section 1), PUT on every node by
# lab_services_apply: namespace/name|type|clusterIP[,IPv6 clusterIP]|ports|
# selector. ports is name:protocol:port:targetPort[:nodePort] (comma
# separated); the backends are the pods whose labels contain the selector
# k=v (both their addresses when the service is dual stack). The IPv6
# ClusterIPs end with the low 16 bits of the IPv4 ones (152.212 = 0x98d4).
LAB_SERVICES=(
	"default/webpod|NodePort|10.96.152.212,fd00:96::98d4|http:TCP:80:80:30080|app=webpod"
	"kube-system/kube-dns|ClusterIP|10.96.0.10,fd00:96::a|dns:UDP:53:53,dns-tcp:TCP:53:53|k8s-app=kube-dns"
	"kube-system/kube-dns-upstream|ClusterIP|10.96.31.170,fd00:96::1faa|dns:UDP:53:53,dns-tcp:TCP:53:53|k8s-app=kube-dns"
)
# Where the node-local DNS pods forward every query (kube-dns-upstream).
LAB_NODELOCAL_UPSTREAM=10.96.31.170
# The ip-masq-agent config of the reference lab (not applied by default;
# lab_ipmasq_apply PUTs it).
LAB_IPMASQ_CONFIG='{"nonMasqueradeCIDRs":["10.10.1.0/24","10.10.2.0/24"],"masqLinkLocal":false}'
# The Local Redirect Policy of the reference lab, kube-system/nodelocaldns
# (not applied by default; lab_lrp_put kube-system/nodelocaldns "$LAB_LRP_NODELOCAL").
# shellcheck disable=SC2034 # used by lab.sh
LAB_LRP_NODELOCAL='{"redirectFrontend":{"serviceMatcher":{"serviceName":"kube-dns","namespace":"kube-system"}},"redirectBackend":{"localEndpointSelector":{"matchLabels":{"k8s-app":"node-local-dns"}},"toPorts":[{"port":"53","name":"dns","protocol":"UDP"},{"port":"53","name":"dns-tcp","protocol":"TCP"}]}}'
# What the CoreDNS pods (dnsmasq) answer: name/address (repeatable).
LAB_DNS_RECORDS=(
	"webpod.default.svc.cluster.local/10.96.152.212"
	"kube-dns.kube-system.svc.cluster.local/10.96.0.10"
	"webpod.default.svc.cluster.local/fd00:96::98d4"
	"kube-dns.kube-system.svc.cluster.local/fd00:96::a"
)
# Size of the "big" file each webpod serves (sparse), in MiB.
LAB_WEB_BIG_MB=${LAB_WEB_BIG_MB:-200}
# Size of the "big" file the router's HTTP server serves (sparse), in MiB.
LAB_ROUTER_BIG_MB=${LAB_ROUTER_BIG_MB:-8}
# The interpreter of the pod servers (the Debian one: it has scapy).
LAB_PY=/usr/bin/python3

# ---------------------------------------------------------------- output

if [[ -t 1 ]]; then
	_LAB_C_OK=$'\e[32m' _LAB_C_FAIL=$'\e[31m' _LAB_C_HDR=$'\e[1m' _LAB_C_OFF=$'\e[0m'
else
	_LAB_C_OK='' _LAB_C_FAIL='' _LAB_C_HDR='' _LAB_C_OFF=''
fi

lab_step() { printf '\n%s== %s%s\n' "$_LAB_C_HDR" "$*" "$_LAB_C_OFF"; }
lab_ok() { printf '  %sOK%s    %s\n' "$_LAB_C_OK" "$_LAB_C_OFF" "$*"; }
lab_fail() { printf '  %sFAIL%s  %s\n' "$_LAB_C_FAIL" "$_LAB_C_OFF" "$*"; }
lab_info() { printf '        %s\n' "$*"; }
lab_err() { printf 'lab: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tables

# _lab_ns NAME: a namespace name, "kdp-" prefixed unless it already is.
_lab_ns() {
	case $1 in
		kdp-*) printf '%s\n' "$1" ;;
		*) printf 'kdp-%s\n' "$1" ;;
	esac
}

# lab_node_row NAME: the LAB_NODES row of node NAME (k8s-ctr or kdp-k8s-ctr).
lab_node_row() {
	local want=${1#kdp-} row
	for row in "${LAB_NODES[@]}"; do
		if [[ ${row%%|*} == "$want" ]]; then
			printf '%s\n' "$row"
			return 0
		fi
	done
	lab_err "unknown node '$1' (known: $(lab_node_names | tr '\n' ' '))"
	return 1
}

lab_node_names() {
	local row
	for row in "${LAB_NODES[@]}"; do printf '%s\n' "${row%%|*}"; done
}

# lab_ipv6: true when the lab is dual stack (KDP_LAB_IPV6, default on).
lab_ipv6() { [[ ${KDP_LAB_IPV6:-on} != off ]]; }

# lab_node_ip6 NAME: the node's IPv6 address (empty with KDP_LAB_IPV6=off).
lab_node_ip6() {
	local row f
	lab_ipv6 || return 0
	row=$(lab_node_row "$1") || return 1
	IFS='|' read -r -a f <<<"$row"
	printf '%s
' "${f[4]:-}"
}

# lab_node_ip NAME
lab_node_ip() {
	local row f
	row=$(lab_node_row "$1") || return 1
	IFS='|' read -r -a f <<<"$row"
	printf '%s\n' "${f[1]}"
}

# lab_pod_row POD: the LAB_PODS row of POD, given as its netns (kdp-curl-pod),
# netns without the prefix (curl-pod) or k8s name.
lab_pod_row() {
	local row f
	for row in "${LAB_PODS[@]}"; do
		IFS='|' read -r -a f <<<"$row"
		if [[ $1 == "${f[0]}" || "kdp-$1" == "${f[0]}" || $1 == "${f[5]}" ]]; then
			printf '%s\n' "$row"
			return 0
		fi
	done
	lab_err "unknown pod '$1'"
	return 1
}

# lab_pod_ns POD: the netns of POD.
lab_pod_ns() {
	local row
	row=$(lab_pod_row "$1") || return 1
	printf '%s\n' "${row%%|*}"
}

# Every namespace this lab makes, in teardown order.
lab_namespaces() {
	local row
	for row in "${LAB_PODS[@]}"; do printf '%s\n' "${row%%|*}"; done
	for row in "${LAB_NODES[@]}"; do printf 'kdp-%s\n' "${row%%|*}"; done
	printf '%s\n' "$LAB_NS_ROUTER" "$LAB_NS_LAN"
}

lab_sock() { printf '%s/%s.sock\n' "$KDP_LAB_DIR" "${1#kdp-}"; }
lab_cfg() { printf '%s/%s.json\n' "$KDP_LAB_DIR" "${1#kdp-}"; }
lab_pidfile() { printf '%s/%s.pid\n' "$KDP_LAB_DIR" "${1#kdp-}"; }
lab_logfile() { printf '%s/%s.log\n' "$KDP_LAB_DIR" "${1#kdp-}"; }
lab_statefile() { printf '%s/%s.state.json\n' "$KDP_LAB_DIR" "${1#kdp-}"; }
# lab_flowfile NODE: the node's flow state file (tmpfs, as on a node).
lab_flowfile() { printf '/dev/shm/kdp-lab-%s.flows\n' "${1#kdp-}"; }

_lab_mkdir() {
	mkdir -p "$KDP_LAB_DIR" || {
		lab_err "cannot create $KDP_LAB_DIR"
		return 1
	}
}

# ---------------------------------------------------------------- deps

# lab_deps: make sure the tools the lab uses exist; installs missing ones with
# apt-get (Debian package names).
lab_deps() {
	local missing=() pair
	for pair in ip:iproute2 ethtool:ethtool ping:iputils-ping tcpdump:tcpdump \
		curl:curl python3:python3 "$LAB_PY":python3 dnsmasq:dnsmasq-base dig:bind9-dnsutils; do
		command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
	done
	((${#missing[@]} == 0)) && return 0
	lab_err "installing ${missing[*]}"
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null || {
			lab_err "apt-get install ${missing[*]} failed"
			return 1
		}
	fi
}

# ---------------------------------------------------------------- topology

# lab_exec NS CMD...: run CMD inside namespace NS (kdp- prefix optional).
lab_exec() {
	local ns
	ns=$(_lab_ns "$1")
	shift
	ip netns exec "$ns" "$@"
}

_lab_netns_exists() { [[ -e /run/netns/$1 ]]; }

# _lab_netns_add NS [ipv6]: create NS (if missing) with lo up and IPv6 off,
# or, with "ipv6" and a dual-stack lab, on without duplicate address
# detection or router advertisements (every address is planned).
_lab_netns_add() {
	local ns=$1 off=1
	if ! _lab_netns_exists "$ns"; then
		ip netns add "$ns" || {
			lab_err "ip netns add $ns failed"
			return 1
		}
	fi
	[[ ${2:-} == ipv6 ]] && lab_ipv6 && off=0
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=$off \
		net.ipv6.conf.default.disable_ipv6=$off net.ipv6.conf.all.accept_dad=0 \
		net.ipv6.conf.default.accept_dad=0 net.ipv6.conf.all.accept_ra=0 \
		net.ipv6.conf.default.accept_ra=0 >/dev/null || {
		lab_err "$ns: cannot set IPv6 up"
		return 1
	}
	ip -n "$ns" link set lo up || return 1
}

_lab_link_exists() { ip -n "$1" link show dev "$2" >/dev/null 2>&1; }

# _lab_veth NS_A IF_A NS_B IF_B: a veth pair IF_A (in NS_A) <-> IF_B (in NS_B),
# both up, with the kernel's default offloads (transmit checksum, TSO, GSO on:
# partial checksums and super-frames, as real pods and hosts send), unless
# KDP_LAB_OFFLOADS=off turns transmit checksum and segmentation off.
_lab_veth() {
	local na=$1 ia=$2 nb=$3 ib=$4
	if _lab_link_exists "$na" "$ia" && ! _lab_link_exists "$nb" "$ib"; then
		ip -n "$na" link del "$ia" 2>/dev/null || true
	fi
	if ! _lab_link_exists "$na" "$ia"; then
		# A leftover with the peer's name would make the add fail.
		ip -n "$nb" link del "$ib" 2>/dev/null || true
		ip -n "$na" link add "$ia" type veth peer name "$ib" netns "$nb" || {
			lab_err "cannot create veth $na/$ia <-> $nb/$ib"
			return 1
		}
	fi
	local ns dev
	for ns in "$na" "$nb"; do
		if [[ $ns == "$na" ]]; then dev=$ia; else dev=$ib; fi
		ip -n "$ns" link set "$dev" up || return 1
		[[ ${KDP_LAB_OFFLOADS:-on} == off ]] || continue
		ip netns exec "$ns" ethtool -K "$dev" tx off tso off gso off gro off \
			>/dev/null 2>&1 || {
			lab_err "$ns: ethtool -K $dev tx off tso off gso off gro off failed"
			return 1
		}
	done
}

# _lab_bridge NS NAME: an (empty) bridge, up.
_lab_bridge() {
	if ! _lab_link_exists "$1" "$2"; then
		ip -n "$1" link add "$2" type bridge || {
			lab_err "$1: cannot create bridge $2"
			return 1
		}
	fi
	ip -n "$1" link set "$2" up
}

# _lab_kdp_owned NS DEV: the kernel of a node namespace must leave DEV (read by
# kdp through net_kdp_afp) alone: no ARP answers for the node's addresses,
# and packets arriving there are dropped by reverse-path filtering instead of
# being answered a second time by the node's own stack (kdp hands what is for
# the node to it through the host tap).
_lab_kdp_owned() {
	ip -n "$1" link set "$2" arp off || return 1
	ip netns exec "$1" sysctl -qw "net.ipv4.conf.$2.rp_filter=1" >/dev/null || return 1
	# No IPv6 of the node's own there either (no neighbour discovery).
	ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" >/dev/null 2>&1 || true
}

_lab_lan_up() {
	_lab_netns_add "$LAB_NS_LAN" || return 1
	_lab_bridge "$LAB_NS_LAN" "$LAB_LAN_BRIDGE" || return 1
}

_lab_router_up() {
	local ip
	_lab_netns_add "$LAB_NS_ROUTER" ipv6 || return 1
	_lab_veth "$LAB_NS_ROUTER" eth1 "$LAB_NS_LAN" rtr || return 1
	ip -n "$LAB_NS_LAN" link set rtr master "$LAB_LAN_BRIDGE" || return 1
	ip -n "$LAB_NS_ROUTER" addr replace "$LAB_ROUTER_IP/$LAB_ROUTER_PREFIX" dev eth1 || return 1
	_lab_bridge "$LAB_NS_ROUTER" loop1 || return 1
	for ip in "${LAB_ROUTER_LOOP_IPS[@]}"; do
		ip -n "$LAB_NS_ROUTER" addr replace "$ip" dev loop1 || return 1
	done
	ip netns exec "$LAB_NS_ROUTER" sysctl -qw net.ipv4.ip_forward=1 >/dev/null || return 1
	if lab_ipv6; then
		ip -n "$LAB_NS_ROUTER" addr replace "$LAB_ROUTER_IP6/$LAB_LAN_PREFIX6" dev eth1 nodad || return 1
		for ip in "${LAB_ROUTER_LOOP_IPS6[@]}"; do
			ip -n "$LAB_NS_ROUTER" addr replace "$ip" dev loop1 nodad || return 1
		done
		ip netns exec "$LAB_NS_ROUTER" sysctl -qw net.ipv6.conf.all.forwarding=1 >/dev/null || return 1
	fi
}

_lab_node_up() {
	local f ns
	IFS='|' read -r -a f <<<"$1"
	ns=kdp-${f[0]}
	_lab_netns_add "$ns" ipv6 || return 1
	# IPv6 only where it is asked for: the host tap (lab_host_tap_setup).
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.default.disable_ipv6=1 >/dev/null || return 1
	_lab_veth "$ns" eth1 "$LAB_NS_LAN" "${f[3]}" || return 1
	ip -n "$LAB_NS_LAN" link set "${f[3]}" master "$LAB_LAN_BRIDGE" || return 1
	_lab_kdp_owned "$ns" eth1 || return 1
	ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=0 >/dev/null || return 1
}

_lab_pod_up() {
	local f ns node
	IFS='|' read -r -a f <<<"$1"
	ns=${f[0]} node=kdp-${f[1]}
	_lab_netns_add "$ns" ipv6 || return 1
	_lab_veth "$ns" eth0 "$node" "${f[3]}" || return 1
	_lab_kdp_owned "$node" "${f[3]}" || return 1
	ip -n "$ns" addr replace "${f[2]}/32" dev eth0 || return 1
	ip -n "$ns" route replace "$LAB_POD_GATEWAY" dev eth0 scope link || return 1
	ip -n "$ns" route replace default via "$LAB_POD_GATEWAY" dev eth0 || return 1
	if lab_ipv6 && [[ -n ${f[7]:-} ]]; then
		# The pods' IPv6 gateway is link-local: on-link by definition.
		ip -n "$ns" addr replace "${f[7]}/128" dev eth0 nodad || return 1
		ip -n "$ns" -6 route replace default via "$LAB_POD_GATEWAY6" dev eth0 || return 1
	fi
}

# lab_topology_up: build (or complete) the whole lab topology. Idempotent.
lab_topology_up() {
	local row
	lab_deps || return 1
	_lab_mkdir || return 1
	_lab_lan_up || { lab_err "LAN namespace set-up failed"; return 1; }
	_lab_router_up || { lab_err "router set-up failed"; return 1; }
	for row in "${LAB_NODES[@]}"; do
		_lab_node_up "$row" || { lab_err "node ${row%%|*} set-up failed"; return 1; }
	done
	for row in "${LAB_PODS[@]}"; do
		_lab_pod_up "$row" || { lab_err "pod ${row%%|*} set-up failed"; return 1; }
	done
}

# lab_topology_down: delete every namespace of the lab. Never fails.
lab_topology_down() {
	local ns nss
	mapfile -t nss < <(lab_namespaces)
	for ns in "${nss[@]}"; do
		if _lab_netns_exists "$ns"; then
			ip netns del "$ns" 2>/dev/null || lab_err "could not delete netns $ns"
		fi
	done
	return 0
}

# ---------------------------------------------------------------- the kernel as the dataplane

# lab_kernel_routing_up: instead of kdp, each node's own kernel routes the
# same topology (the peer of the pod throughput benchmark): the node IP on
# eth1 (ARP on), IP forwarding, a /32 to each local pod through its veth
# with proxy ARP (the pods' gateway is answered as Calico does), each other
# node's podCIDRs via that node, the default route via the router. Services
# are DNAT rules as kube-proxy's iptables mode makes them, one per
# LAB_KERNEL_DNAT entry "clusterIP:port/proto=backendIP:port" (random
# choice among several backends is not modelled: one backend each). Call
# after lab_topology_up, with no kdp running; lab_down undoes it.
LAB_KERNEL_DNAT=()
lab_kernel_routing_up() {
	local row f ns me cidr prow pf dnat vip be proto
	command -v iptables >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iptables >/dev/null ||
		{ lab_err "iptables is missing"; return 1; }
	for row in "${LAB_NODES[@]}"; do
		IFS='|' read -r -a f <<<"$row"
		me=${f[0]} ns=kdp-${f[0]}
		ip -n "$ns" link set eth1 arp on || return 1
		ip -n "$ns" addr replace "${f[1]}/$LAB_LAN_PREFIX" dev eth1 || return 1
		ip netns exec "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.eth1.rp_filter=0 >/dev/null || return 1
		ip -n "$ns" route replace default via "$LAB_ROUTER_IP" dev eth1 || return 1
		for prow in "${LAB_PODS[@]}"; do
			IFS='|' read -r -a pf <<<"$prow"
			[[ ${pf[1]} == "$me" ]] || continue
			ip netns exec "$ns" sysctl -qw "net.ipv4.conf.${pf[3]}.proxy_arp=1" \
				"net.ipv4.conf.${pf[3]}.rp_filter=0" >/dev/null || return 1
			ip -n "$ns" link set "${pf[3]}" arp on || return 1
			ip -n "$ns" route replace "${pf[2]}/32" dev "${pf[3]}" || return 1
		done
		for prow in "${LAB_NODES[@]}"; do
			IFS='|' read -r -a pf <<<"$prow"
			[[ ${pf[0]} != "$me" ]] || continue
			for cidr in ${pf[2]//,/ }; do
				ip -n "$ns" route replace "$cidr" via "${pf[1]}" dev eth1 || return 1
			done
		done
		for dnat in "${LAB_KERNEL_DNAT[@]}"; do
			vip=${dnat%%=*} be=${dnat#*=}
			proto=${vip#*/} vip=${vip%/*}
			ip netns exec "$ns" iptables -t nat -A PREROUTING -d "${vip%:*}" -p "$proto" \
				--dport "${vip#*:}" -j DNAT --to-destination "$be" || return 1
		done
	done
}

# ---------------------------------------------------------------- many pods

# lab_pod_mac_of IP: the MAC lab_pods_bulk_up gives a pod, 02:00 and the IP.
lab_pod_mac_of() {
	local a b c d
	IFS=. read -r a b c d <<<"$1"
	printf '02:00:%02x:%02x:%02x:%02x\n' "$a" "$b" "$c" "$d"
}

# lab_pods_bulk_up ROW...: the pods of LAB_PODS-style ROWs (netns|node|IP|
# node-side iface|...), made with a few `ip -batch` runs instead of a dozen
# commands each (250 pods in seconds): namespace, veth with the MAC of
# lab_pod_mac_of, address, routes to the pod gateway, the node side left to
# kdp (arp off, rp_filter). Offloads stay at the kernel's defaults. The rows
# are not added to LAB_PODS: remove the pods with lab_pods_bulk_down.
lab_pods_bulk_up() {
	local row f node nodes=() rc=0
	declare -A byn=()
	for row; do
		IFS='|' read -r -a f <<<"$row"
		_lab_netns_exists "${f[0]}" || printf 'netns add %s\n' "${f[0]}"
	done | ip -b - || { lab_err "ip netns add (batch) failed"; return 1; }
	for row; do
		IFS='|' read -r -a f <<<"$row"
		node=kdp-${f[1]}
		[[ -n ${byn[$node]:-} ]] || nodes+=("$node")
		byn[$node]+="link add ${f[3]} type veth peer name eth0 address $(lab_pod_mac_of "${f[2]}") netns ${f[0]}"$'\n'
		byn[$node]+="link set ${f[3]} arp off up"$'\n'
	done
	for node in "${nodes[@]}"; do
		ip -n "$node" -b - <<<"${byn[$node]}" || { lab_err "$node: veths (batch) failed"; return 1; }
		# rp_filter on each new node-side interface (see _lab_kdp_owned)
		ip netns exec "$node" sh -c 'for i; do echo 1 >/proc/sys/net/ipv4/conf/$i/rp_filter; done' sh \
			$(for row; do IFS='|' read -r -a f <<<"$row"; [[ kdp-${f[1]} == "$node" ]] && echo "${f[3]}"; done) ||
			rc=1
	done
	for row; do
		IFS='|' read -r -a f <<<"$row"
		ip -n "${f[0]}" -b - <<EOB || { lab_err "${f[0]}: addresses (batch) failed"; return 1; }
link set lo up
link set eth0 up
addr add ${f[2]}/32 dev eth0
route add $LAB_POD_GATEWAY dev eth0 scope link
route add default via $LAB_POD_GATEWAY dev eth0
EOB
	done
	return "$rc"
}

# lab_pods_bulk_down ROW...: delete the namespaces of those pods (their veths
# go with them). Never fails.
lab_pods_bulk_down() {
	local row
	for row; do
		_lab_netns_exists "${row%%|*}" && printf 'netns del %s\n' "${row%%|*}"
	done | ip -b - 2>/dev/null
	return 0
}

# lab_pods_endpoints_json ROW...: one line per pod, "PATH BODY", for
# PUT /v1/endpoints (MACs as lab_pods_bulk_up sets them).
lab_pods_endpoints_json() {
	local row f
	for row; do
		IFS='|' read -r -a f <<<"$row"
		printf '/v1/endpoints/%s/%s {"ip":"%s","mac":"%s","labels":{%s},"devargs":"net_kdp_afp,iface=%s"}\n' \
			"${f[4]}" "${f[5]}" "${f[2]}" "$(lab_pod_mac_of "${f[2]}")" \
			"$(sed -E 's/([^,=]+)=([^,]*)/"\1":"\2"/g' <<<"${f[6]:-}")" "${f[3]}"
	done
}

# lab_router_pod_routes add|del: routes on the router to every node's
# podCIDRs via that node's IP (off by default).
lab_router_pod_routes() {
	local row f cidr rc=0
	for row in "${LAB_NODES[@]}"; do
		IFS='|' read -r -a f <<<"$row"
		for cidr in ${f[2]//,/ }; do
			if [[ $cidr == *:* ]]; then
				lab_ipv6 || continue
				case $1 in
					add) ip -n "$LAB_NS_ROUTER" route replace "$cidr" via "${f[4]}" dev eth1 || rc=1 ;;
					*) ip -n "$LAB_NS_ROUTER" route del "$cidr" 2>/dev/null || true ;;
				esac
				continue
			fi
			case $1 in
				add) ip -n "$LAB_NS_ROUTER" route replace "$cidr" via "${f[1]}" dev eth1 || rc=1 ;;
				del) ip -n "$LAB_NS_ROUTER" route del "$cidr" 2>/dev/null || true ;;
				*)
					lab_err "usage: lab_router_pod_routes add|del"
					return 2
					;;
			esac
		done
	done
	return "$rc"
}

# ---------------------------------------------------------------- JSON

# lab_pod_mac POD: MAC address of the pod's eth0.
lab_pod_mac() {
	local ns mac
	ns=$(lab_pod_ns "$1") || return 1
	mac=$(ip netns exec "$ns" cat /sys/class/net/eth0/address 2>/dev/null) || {
		lab_err "$ns: no eth0 (is the topology up?)"
		return 1
	}
	printf '%s\n' "$mac"
}

# _lab_endpoint_obj POD short|full: endpoint JSON; "full" adds namespace/name.
_lab_endpoint_obj() {
	local row f mac
	row=$(lab_pod_row "$1") || return 1
	IFS='|' read -r -a f <<<"$row"
	mac=$(lab_pod_mac "${f[0]}") || return 1
	lab_ipv6 || f[7]=''
	python3 - "$2" "${f[4]}" "${f[5]}" "${f[2]}" "$mac" "${f[6]}" \
		"net_kdp_afp,iface=${f[3]}" "${f[7]:-}" <<'PY'
import json, sys
mode, ns, name, ip, mac, labels, devargs, ip6 = sys.argv[1:9]
lab = {}
for kv in filter(None, labels.split(",")):
    k, _, v = kv.partition("=")
    lab[k] = v
obj = {}
if mode == "full":
    obj["namespace"], obj["name"] = ns, name
obj["ip"] = ip
if ip6:
    obj["ips"] = [ip, ip6]
obj.update({"mac": mac, "labels": lab, "devargs": devargs})
print(json.dumps(obj))
PY
}

# lab_endpoint_json POD: body for PUT /v1/endpoints/{namespace}/{name}.
lab_endpoint_json() { _lab_endpoint_obj "$1" short; }

# lab_endpoint_path POD: /v1/endpoints/{namespace}/{name} of POD.
lab_endpoint_path() {
	local row f
	row=$(lab_pod_row "$1") || return 1
	IFS='|' read -r -a f <<<"$row"
	printf '/v1/endpoints/%s/%s\n' "${f[4]}" "${f[5]}"
}

# lab_state_json NODE: body for PUT /v1/state on NODE: every node, and the
# endpoints of the pods of NODE.
lab_state_json() {
	local node row f ep eps=()
	lab_node_row "$1" >/dev/null || return 1
	node=${1#kdp-}
	for row in "${LAB_PODS[@]}"; do
		IFS='|' read -r -a f <<<"$row"
		[[ ${f[1]} == "$node" ]] || continue
		ep=$(_lab_endpoint_obj "${f[0]}" full) || return 1
		eps+=("$ep")
	done
	python3 - "${KDP_LAB_IPV6:-on}" "${#LAB_NODES[@]}" "${LAB_NODES[@]}" "${eps[@]}" <<'PY'
import json, sys
v6 = sys.argv[1] != "off"
n = int(sys.argv[2])
sys.argv = sys.argv[1:]
nodes = []
for row in sys.argv[2:2 + n]:
    name, ip, cidrs, _port, ip6 = (row.split("|") + [""])[:5]
    node = {"name": name, "ip": ip}
    if v6 and ip6:
        node["ips"] = [ip, ip6]
    node["podCIDRs"] = [c for c in cidrs.split(",") if c and (v6 or ":" not in c)]
    nodes.append(node)
eps = [json.loads(e) for e in sys.argv[2 + n:]]
print(json.dumps({"nodes": nodes, "endpoints": eps}))
PY
}

# lab_kdp_config NODE: write the node config to $KDP_LAB_DIR/<node>.json.
lab_kdp_config() {
	local row f node cfg
	row=$(lab_node_row "$1") || return 1
	IFS='|' read -r -a f <<<"$row"
	node=${f[0]}
	_lab_mkdir || return 1
	cfg=$(lab_cfg "$node")
	python3 - "$cfg" "$node" "${f[1]}/$LAB_LAN_PREFIX" "$LAB_ROUTER_IP" \
		"$LAB_POD_GATEWAY" "$LAB_HOST_TAP" "$LAB_NATIVE_CIDR" \
		"${KDP_LAB_WORKERS:-2}" "$(lab_sock "$node")" "$(lab_statefile "$node")" \
		"${KDP_LAB_IPMASQ_FILE:-}" "${KDP_LAB_CONFIG_EXTRA:-}" "$(lab_flowfile "$node")" \
		"$(lab_node_ip6 "$node")" "$LAB_LAN_PREFIX6" "$LAB_ROUTER_IP6" "$LAB_NATIVE_CIDR6" \
		"$LAB_SERVICE_CIDR6" "$LAB_POD_GATEWAY6" <<'PY'
import json, os, sys
(cfg, name, node_ip, gw, pod_gw, tap, native, workers, sock,
 state, ipmasq_file, extra, flows) = sys.argv[1:14]
node_ip6, plen6, gw6, native6, svc6, pod_gw6 = sys.argv[14:20]
conf = {
    "name": name,
    "nodeIP": node_ip,
    "gateway": gw,
    "podGateway": pod_gw,
    "uplink": {"devargs": "net_kdp_afp0,iface=eth1"},
    "hostTap": {"devargs": "net_tap0,iface=" + tap},
    "nativeRoutingCIDR": native,
    "serviceCIDR": "10.96.0.0/16",
    "workers": int(workers),
    "pollMode": "adaptive",
    "controlSocket": sock,
    "stateFile": state,
    "flowStateFile": flows,
    "allowedDrivers": ["net_kdp_afp", "net_tap", "net_memif", "net_null",
                       "net_ring"],
    "eal": ["--no-pci", "--no-huge", "-m", "512", "--file-prefix",
            "kdp-lab-" + name, "--no-shconf", "--no-telemetry"],
}
if node_ip6:
    # An rte_lpm6 route table takes 68 MiB, and a route change builds the
    # next one before the old one goes.
    conf["eal"][3] = "1024"
if ipmasq_file:
    conf["ipMasqAgentConfig"] = ipmasq_file
if node_ip6:
    conf.update({"nodeIPv6": node_ip6 + "/" + plen6, "gatewayIPv6": gw6,
                 "podGatewayIPv6": pod_gw6, "nativeRoutingCIDRv6": native6,
                 "serviceCIDRv6": svc6})
def merge(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            merge(dst[k], v)
        else:
            dst[k] = v
if extra:
    try:
        more = json.loads(extra)
    except ValueError as e:
        sys.exit("KDP_LAB_CONFIG_EXTRA is not JSON: %s" % e)
    if not isinstance(more, dict):
        sys.exit("KDP_LAB_CONFIG_EXTRA must be a JSON object")
    merge(conf, more)
tmp = cfg + ".tmp"
with open(tmp, "w") as f:
    json.dump(conf, f, indent=2)
    f.write("\n")
os.replace(tmp, cfg)
PY
}

# ---------------------------------------------------------------- kdp

# _lab_pid_alive PID: PID exists and is not a zombie.
_lab_pid_alive() {
	local stat
	[[ -r /proc/$1/stat ]] || return 1
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]]
}

# lab_kdp_pid NODE: the PID of our kdp on NODE if it is running (the PID from
# our pid file, and that process runs with our config), else fails.
lab_kdp_pid() {
	local pidf pid cmdline
	pidf=$(lab_pidfile "$1")
	[[ -s $pidf ]] || return 1
	pid=$(<"$pidf")
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	_lab_pid_alive "$pid" || return 1
	cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[[ $cmdline == *"--config $(lab_cfg "$1")"* ]] || return 1
	printf '%s\n' "$pid"
}

# lab_kdp_status_ok NODE: the control socket answers GET /v1/status.
lab_kdp_status_ok() {
	curl -sf --max-time 2 --unix-socket "$(lab_sock "$1")" http://kdp/v1/status >/dev/null 2>&1
}

_lab_log_tail() {
	local log
	log=$(lab_logfile "$1")
	lab_err "last lines of $log (this start):"
	# from the last start marker written by lab_kdp_start
	awk '/^=== /{n = 0} {l[n++] = $0} END {for (i = (n > 25 ? n - 25 : 0); i < n; i++) print "    | " l[i]}' \
		"$log" >&2 2>/dev/null || true
}

# lab_kdp_start NODE: start kdp in NODE's namespace (writes the config if
# missing), wait up to 20 s for its control socket, then set up the host tap.
lab_kdp_start() {
	local node ns cfg log pidf sock pid i wrapvar wrap
	lab_node_row "$1" >/dev/null || return 1
	node=${1#kdp-} ns=kdp-${1#kdp-}
	cfg=$(lab_cfg "$node") log=$(lab_logfile "$node")
	pidf=$(lab_pidfile "$node") sock=$(lab_sock "$node")
	_lab_netns_exists "$ns" || {
		lab_err "namespace $ns does not exist (run lab_topology_up first)"
		return 1
	}
	[[ -x $LAB_KDP_BIN ]] || {
		lab_err "kdp binary not found at $LAB_KDP_BIN (build it: meson setup build && ninja -C build, or set KDP_BUILD)"
		return 1
	}
	if pid=$(lab_kdp_pid "$node"); then
		lab_kdp_status_ok "$node" && { lab_host_tap_setup "$node" || true; return 0; }
		lab_err "kdp on $node (pid $pid) runs but does not answer; restarting it"
		lab_kdp_stop "$node" || return 1
	fi
	_lab_mkdir || return 1
	[[ -f $cfg ]] || lab_kdp_config "$node" || return 1
	rm -f "$sock" "$pidf"
	wrapvar=LAB_WRAP_${node//-/_}
	read -r -a wrap <<<"${!wrapvar:-}"
	printf '=== %s: %s%s --config %s (netns %s)\n' "$(date '+%F %T')" "${wrap[*]:+${wrap[*]} }" \
		"$LAB_KDP_BIN" "$cfg" "$ns" >>"$log"
	# nohup, `ip netns exec` (and valgrind) all exec: $! is kdp's own PID.
	nohup ip netns exec "$ns" "${wrap[@]}" "$LAB_KDP_BIN" --config "$cfg" </dev/null >>"$log" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$pidf"
	for ((i = 0; i < ${LAB_KDP_START_SECONDS:-20} * 5; i++)); do
		if ! _lab_pid_alive "$pid"; then
			lab_err "kdp on $node exited during start-up"
			_lab_log_tail "$node"
			rm -f "$pidf"
			return 1
		fi
		if lab_kdp_status_ok "$node"; then
			lab_host_tap_setup "$node" || lab_err "kdp on $node: host tap not configured"
			return 0
		fi
		sleep 0.2
	done
	lab_err "kdp on $node did not answer on $sock within ${LAB_KDP_START_SECONDS:-20} s"
	_lab_log_tail "$node"
	lab_kdp_stop "$node" || true
	return 1
}

# lab_kdp_kill NODE [SIGNAL]: send SIGNAL (default TERM) to our kdp on NODE
# and wait up to LAB_KDP_STOP_SECONDS (10) for it to go. Only PIDs from our
# pid file are signalled.
lab_kdp_kill() {
	local node=${1#kdp-} sig=${2:-TERM} pid i
	pid=$(lab_kdp_pid "$node") || return 0
	kill -s "$sig" "$pid" 2>/dev/null || true
	for ((i = 0; i < ${LAB_KDP_STOP_SECONDS:-10} * 5; i++)); do
		_lab_pid_alive "$pid" || break
		sleep 0.2
	done
	if _lab_pid_alive "$pid"; then
		return 1
	fi
	# reap it if it is our child (never wait on a live process: that blocks)
	wait "$pid" 2>/dev/null || true
	rm -f "$(lab_pidfile "$node")"
	return 0
}

# lab_kdp_stop NODE: SIGTERM, up to LAB_KDP_STOP_SECONDS (10), then SIGKILL.
# Never fails if kdp is already gone.
lab_kdp_stop() {
	local node=${1#kdp-}
	if ! lab_kdp_kill "$node" TERM; then
		lab_err "kdp on $node ignored SIGTERM for ${LAB_KDP_STOP_SECONDS:-10} s; sending SIGKILL"
		lab_kdp_kill "$node" KILL || {
			lab_err "kdp on $node (pid $(cat "$(lab_pidfile "$node")" 2>/dev/null)) does not die"
			return 1
		}
	fi
	rm -f "$(lab_pidfile "$node")" "$(lab_sock "$node")"
}

# lab_kdp_upgrade NODE [--force]: `kdpctl upgrade` on NODE: the kdp binary
# now at the running one's path (LAB_KDP_BIN) takes over, keeping every flow;
# the pid file follows the new kdp. Prints kdpctl's output; fails as it does.
lab_kdp_upgrade() {
	local node=${1#kdp-} out pid
	shift
	out=$(lab_kdpctl "$node" upgrade "$@" 2>&1) || {
		printf '%s\n' "$out"
		return 1
	}
	printf '%s\n' "$out"
	pid=$(lab_api "$node" GET /v1/status | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])') ||
		return 1
	printf '%s\n' "$pid" >"$(lab_pidfile "$node")"
}

# lab_host_tap_setup NODE: give kdp's host tap (kdp-host, created by kdp in the
# node namespace) the node IP and the default route. Waits up to 5 s for it.
lab_host_tap_setup() {
	local node ns ip i
	node=${1#kdp-} ns=kdp-${1#kdp-}
	ip=$(lab_node_ip "$node") || return 1
	for ((i = 0; i < 25; i++)); do
		_lab_link_exists "$ns" "$LAB_HOST_TAP" && break
		sleep 0.2
	done
	_lab_link_exists "$ns" "$LAB_HOST_TAP" || {
		lab_err "$ns: no $LAB_HOST_TAP interface after 5 s"
		return 1
	}
	if [[ ${KDP_LAB_OFFLOADS:-on} == off ]]; then
		ip netns exec "$ns" ethtool -K "$LAB_HOST_TAP" tx off >/dev/null 2>&1 || true
	fi
	ip -n "$ns" addr replace "$ip/$LAB_LAN_PREFIX" dev "$LAB_HOST_TAP" || return 1
	ip -n "$ns" link set "$LAB_HOST_TAP" up || return 1
	ip -n "$ns" route replace default via "$LAB_ROUTER_IP" dev "$LAB_HOST_TAP" || return 1
	ip=$(lab_node_ip6 "$node") || return 1
	if [[ -n $ip ]]; then
		ip netns exec "$ns" sysctl -qw "net.ipv6.conf.$LAB_HOST_TAP.disable_ipv6=0" >/dev/null || return 1
		ip -n "$ns" addr replace "$ip/$LAB_LAN_PREFIX6" dev "$LAB_HOST_TAP" nodad || return 1
		ip -n "$ns" -6 route replace default via "$LAB_ROUTER_IP6" dev "$LAB_HOST_TAP" || return 1
	fi
}

# ---------------------------------------------------------------- API

# lab_api NODE METHOD PATH [JSON]: HTTP over NODE's control socket. Prints the
# body; fails on HTTP >= 400 or when the socket does not answer. The HTTP code
# (000 if none) is left in LAB_API_CODE, visible when not called in $(...).
LAB_API_CODE=000
lab_api() {
	local node=$1 method=$2 path=$3 out args
	args=(-s --max-time "${LAB_API_TIMEOUT:-10}" --unix-socket "$(lab_sock "$node")"
		-X "$method" -w '\n%{http_code}')
	if (($# >= 4)); then
		args+=(-H 'Content-Type: application/json' --data-binary "$4")
	fi
	out=$(curl "${args[@]}" "http://kdp$path") || true
	LAB_API_CODE=${out##*$'\n'}
	[[ $LAB_API_CODE =~ ^[0-9]{3}$ ]] || LAB_API_CODE=000
	out=${out%$'\n'*}
	[[ $out == "$LAB_API_CODE" ]] && out=''
	[[ -n $out ]] && printf '%s\n' "$out"
	if [[ $LAB_API_CODE == 000 ]]; then
		lab_err "$node: $method $path: no answer on $(lab_sock "$node")"
		return 1
	fi
	((10#$LAB_API_CODE < 400))
}

# lab_apply NODE: PUT /v1/state with lab_state_json NODE.
lab_apply() {
	local body
	body=$(lab_state_json "$1") || return 1
	lab_api "$1" PUT /v1/state "$body"
}

# lab_kdpctl NODE ARGS...: kdpctl against NODE's socket.
lab_kdpctl() {
	local node=$1
	shift
	[[ -x $LAB_KDPCTL_BIN ]] || {
		lab_err "kdpctl not found at $LAB_KDPCTL_BIN"
		return 1
	}
	"$LAB_KDPCTL_BIN" -s "$(lab_sock "$node")" "$@"
}

# lab_drop_count NODE REASON: packets dropped for REASON according to
# GET /v1/stats (0 if the reason is not listed). Accepts {"REASON": n},
# {"REASON": {"packets": n}} and [{"reason"|"name": "REASON", "packets": n}]
# anywhere in the document; the shallowest occurrences are summed (deeper
# ones are taken as per-lcore breakdowns of the same counter).
lab_drop_count() {
	local body
	body=$(lab_api "$1" GET /v1/stats) || return 1
	python3 -c '
import json, sys
reason = sys.argv[1]
doc = json.loads(sys.stdin.read())
found = []  # (depth, value)
def num(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return v
    if isinstance(v, dict):
        for k in ("packets", "count", "pkts", "value"):
            if isinstance(v.get(k), (int, float)):
                return v[k]
    return None
def walk(x, d):
    if isinstance(x, dict):
        if x.get("reason") == reason or x.get("name") == reason:
            n = num(x)
            if n is not None:
                found.append((d, n))
                return
        for k, v in x.items():
            if k == reason and num(v) is not None:
                found.append((d, num(v)))
            else:
                walk(v, d + 1)
    elif isinstance(x, list):
        for v in x:
            walk(v, d + 1)
walk(doc, 0)
if not found:
    print(0)
else:
    top = min(d for d, _ in found)
    print(int(sum(n for d, n in found if d == top)))
' "$2" <<<"$body"
}

# lab_nodes_list NODE: GET /v1/nodes on NODE as sorted "name ip cidr,cidr"
# lines (accepts a list, {"nodes": [...]} or an object keyed by name).
lab_nodes_list() {
	local body
	body=$(lab_api "$1" GET /v1/nodes) || return 1
	python3 -c '
import json, sys
doc = json.loads(sys.stdin.read())
if isinstance(doc, dict) and isinstance(doc.get("nodes"), (list, dict)):
    doc = doc["nodes"]
items = []
if isinstance(doc, dict):
    for name, v in doc.items():
        v = dict(v)
        v.setdefault("name", name)
        items.append(v)
else:
    items = list(doc)
for v in sorted(items, key=lambda v: str(v.get("name"))):
    print(v.get("name"), v.get("ip"), ",".join(v.get("podCIDRs") or []))
' <<<"$body"
}

# lab_api_error: the "error" string of a JSON error body on stdin (or the body).
lab_api_error() {
	python3 -c '
import json, sys
s = sys.stdin.read()
try:
    print(json.loads(s).get("error", s.strip()))
except Exception:
    print(s.strip())
'
}

# ---------------------------------------------------------------- traffic

# lab_ping POD DST: ping DST from POD. The first packets of a pod wait for ARP,
# so up to 5 single pings are tried first; then `ping -c3 -i0.2 -W1` decides.
# Prints the output of the last ping.
lab_ping() {
	local ns i out
	ns=$(lab_pod_ns "$1") || return 1
	for ((i = 0; i < 5; i++)); do
		if out=$(ip netns exec "$ns" ping -n -c1 -W1 "$2" 2>&1); then
			ip netns exec "$ns" ping -n -c3 -i0.2 -W1 "$2" 2>&1
			return
		fi
	done
	printf '%s\n' "$out"
	return 1
}

# lab_ping_summary: the "N packets transmitted, M received" line of ping
# output on stdin.
lab_ping_summary() { grep -m1 'packets transmitted' || echo 'no ping output'; }

# lab_pod_gw_mac POD: the MAC the pod resolved for its gateway (after some
# traffic), else the "mac" of GET /v1/status on the pod's node.
lab_pod_gw_mac() {
	local row f mac
	row=$(lab_pod_row "$1") || return 1
	IFS='|' read -r -a f <<<"$row"
	mac=$(ip -n "${f[0]}" neigh show "$LAB_POD_GATEWAY" dev eth0 2>/dev/null |
		awk '{for (i = 1; i < NF; i++) if ($i == "lladdr") { print $(i + 1); exit }}')
	if [[ -z $mac ]]; then
		mac=$(lab_api "${f[1]}" GET /v1/status 2>/dev/null |
			python3 -c 'import json,sys; print(json.load(sys.stdin).get("mac",""))' 2>/dev/null) || mac=''
	fi
	[[ -n $mac ]] || {
		lab_err "no gateway MAC known for ${f[0]}"
		return 1
	}
	printf '%s\n' "$mac"
}

# lab_send_icmp POD SRC DST DSTMAC [COUNT]: send COUNT (default 5) raw ICMP
# echo requests out of the pod's eth0 with source SRC (spoofing tests).
lab_send_icmp() {
	local ns
	ns=$(lab_pod_ns "$1") || return 1
	ip netns exec "$ns" python3 - eth0 "$2" "$3" "$4" "${5:-5}" <<'PY'
import socket, struct, sys
ifc, src, dst, dmac, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
smac = open("/sys/class/net/%s/address" % ifc).read().strip()
mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifc, 0))
for seq in range(1, count + 1):
    payload = b"kdp-lab-spoof".ljust(32, b".")
    icmp = struct.pack("!BBHHH", 8, 0, 0, 0x4b44, seq) + payload
    icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), seq, 0x4000, 64, 1, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    s.send(mac(dmac) + mac(smac) + b"\x08\x00" + ip + icmp)
PY
}

# lab_send_icmp6 POD SRC DST DSTMAC [COUNT]: lab_send_icmp for IPv6 (ICMPv6
# echo requests with source SRC out of the pod's eth0).
lab_send_icmp6() {
	local ns
	ns=$(lab_pod_ns "$1") || return 1
	ip netns exec "$ns" python3 - eth0 "$2" "$3" "$4" "${5:-5}" <<'PY'
import socket, struct, sys
ifc, src, dst, dmac, count = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF
smac = open("/sys/class/net/%s/address" % ifc).read().strip()
mac = lambda m: bytes(int(x, 16) for x in m.split(":"))
s6, d6 = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifc, 0))
for seq in range(1, count + 1):
    icmp = struct.pack("!BBHHH", 128, 0, 0, 0x4b44, seq) + b"kdp-lab-spoof".ljust(32, b".")
    pseudo = s6 + d6 + struct.pack("!I3xB", len(icmp), 58)
    icmp = icmp[:2] + struct.pack("!H", csum(pseudo + icmp)) + icmp[4:]
    ip = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 64) + s6 + d6
    s.send(mac(dmac) + mac(smac) + b"\x86\xdd" + ip + icmp)
PY
}

# lab_capture_start TAG NS IFACE FILTER...: tcpdump -nn -e in the background,
# text to $KDP_LAB_DIR/cap-TAG.txt; returns once tcpdump listens.
lab_capture_start() {
	local tag=$1 ns pid i base
	ns=$(_lab_ns "$2")
	local ifc=$3
	shift 3
	_lab_mkdir || return 1
	base=$KDP_LAB_DIR/cap-$tag
	lab_capture_stop "$tag" >/dev/null 2>&1 || true
	rm -f "$base.txt" "$base.err"
	ip netns exec "$ns" tcpdump -nn -e -l -i "$ifc" "$@" >"$base.txt" 2>"$base.err" </dev/null &
	pid=$!
	printf '%s\n' "$pid" >"$base.pid"
	for ((i = 0; i < 50; i++)); do
		grep -q 'listening on' "$base.err" 2>/dev/null && return 0
		_lab_pid_alive "$pid" || break
		sleep 0.1
	done
	lab_err "tcpdump in $ns on $ifc did not start: $(cat "$base.err" 2>/dev/null)"
	lab_capture_stop "$tag" >/dev/null 2>&1 || true
	return 1
}

# lab_capture_stop TAG: stop that tcpdump (our PID only) and print its lines.
lab_capture_stop() {
	local base=$KDP_LAB_DIR/cap-$1 pid i
	if [[ -s $base.pid ]]; then
		pid=$(<"$base.pid")
		if [[ $pid =~ ^[0-9]+$ ]] && _lab_pid_alive "$pid" &&
			tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q tcpdump; then
			sleep 0.3 # let the last packets be written
			kill -INT "$pid" 2>/dev/null || true
			for ((i = 0; i < 30; i++)); do
				_lab_pid_alive "$pid" || break
				sleep 0.1
			done
			if _lab_pid_alive "$pid"; then
				kill -KILL "$pid" 2>/dev/null || true
				sleep 0.1
			fi
			_lab_pid_alive "$pid" || wait "$pid" 2>/dev/null || true
		fi
		rm -f "$base.pid"
	fi
	cat "$base.txt" 2>/dev/null || true
}

# ---------------------------------------------------------------- pod apps

# lab_pod_ip POD: the IP of POD.
lab_pod_ip() {
	local row f
	row=$(lab_pod_row "$1") || return 1
	IFS='|' read -r -a f <<<"$row"
	printf '%s\n' "${f[2]}"
}

# lab_pod_ip6 POD: the IPv6 address of POD (empty when it has none or the
# lab is IPv4 only).
lab_pod_ip6() {
	local row f
	lab_ipv6 || return 0
	row=$(lab_pod_row "$1") || return 1
	IFS='|' read -r -a f <<<"$row"
	printf '%s\n' "${f[7]:-}"
}

# lab_pods_with_label K=V: the netns of every pod whose labels include K=V.
lab_pods_with_label() {
	local row f
	for row in "${LAB_PODS[@]}"; do
		IFS='|' read -r -a f <<<"$row"
		[[ ,${f[6]}, == *",$1,"* ]] && printf '%s\n' "${f[0]}"
	done
	return 0
}

# _lab_app_ns POD|ROUTER: the netns of POD, or the router's namespace when
# given kdp-router (or router).
_lab_app_ns() {
	if [[ $1 == "$LAB_NS_ROUTER" || kdp-$1 == "$LAB_NS_ROUTER" ]]; then
		printf '%s\n' "$LAB_NS_ROUTER"
		return 0
	fi
	lab_pod_ns "$1"
}

_lab_app_base() {
	local ns
	ns=$(_lab_app_ns "$1") || return 1
	printf '%s/app-%s-%s\n' "$KDP_LAB_DIR" "$ns" "$2"
}

# lab_pod_spawn POD TAG CMD...: run CMD in the background in POD's namespace
# (POD may also be the router: kdp-router); its PID goes to
# $KDP_LAB_DIR/app-<netns>-TAG.pid, its output to ...log.
# lab_pod_app_stop / lab_down stop it (that PID only).
lab_pod_spawn() {
	local ns tag=$2 base pid
	ns=$(_lab_app_ns "$1") || return 1
	shift 2
	_lab_mkdir || return 1
	base=$(_lab_app_base "$ns" "$tag")
	lab_pod_app_stop "$ns" "$tag"
	# `ip netns exec` execs: $! is the PID of CMD itself.
	ip netns exec "$ns" "$@" </dev/null >"$base.log" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$base.pid"
	printf '%s\n' "$1" >"$base.cmd"
}

# lab_pod_app_stop POD TAG: stop what lab_pod_spawn POD TAG started, if it
# still runs that command. Never fails.
lab_pod_app_stop() {
	local base pid cmd i
	base=$(_lab_app_base "$1" "$2") || return 0
	[[ -s $base.pid ]] || return 0
	pid=$(<"$base.pid")
	cmd=$(cat "$base.cmd" 2>/dev/null) || cmd=
	if [[ $pid =~ ^[0-9]+$ ]] && _lab_pid_alive "$pid" && [[ -n $cmd ]] &&
		tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n1 | grep -qxF -- "$cmd"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < 30; i++)); do
			_lab_pid_alive "$pid" || break
			sleep 0.1
		done
		_lab_pid_alive "$pid" && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null || true
	fi
	rm -f "$base.pid" "$base.cmd"
	return 0
}

# lab_pod_apps_stop: stop every process lab_pod_spawn started. Never fails.
lab_pod_apps_stop() {
	local f ns tag row
	for f in "$KDP_LAB_DIR"/app-*.pid; do
		[[ -e $f ]] || continue
		f=${f##*/app-}
		f=${f%.pid}
		for row in "${LAB_PODS[@]}" "$LAB_NS_ROUTER"; do
			ns=${row%%|*}
			if [[ $f == "$ns"-* ]]; then
				tag=${f#"$ns"-}
				lab_pod_app_stop "$ns" "$tag"
				break
			fi
		done
	done
	return 0
}

# lab_pod_listening POD tcp|udp PORT: something listens on PORT in POD.
lab_pod_listening() {
	local ns opt=-Hltn
	ns=$(_lab_app_ns "$1") || return 1
	[[ $2 == udp ]] && opt=-Hlun
	[[ -n $(ip netns exec "$ns" ss "$opt" "( sport = :$3 )" 2>/dev/null) ]]
}

# _lab_wait_listening POD tcp|udp PORT TAG: wait up to 5 s; on failure show
# the app's log.
_lab_wait_listening() {
	local i base
	for ((i = 0; i < 50; i++)); do
		lab_pod_listening "$1" "$2" "$3" && return 0
		sleep 0.1
	done
	base=$(_lab_app_base "$1" "$4")
	lab_err "$1: nothing listens on $2 port $3 after 5 s; $base.log:"
	sed 's/^/    | /' "$base.log" >&2 2>/dev/null || true
	return 1
}

# lab_webpod_start POD: an HTTP server on POD's IP, port 80, answering "/"
# with the pod's k8s name and serving /big (LAB_WEB_BIG_MB MiB, sparse).
lab_webpod_start() {
	local ns row f dir ip6 i
	row=$(lab_pod_row "$1") || return 1
	IFS='|' read -r -a f <<<"$row"
	ns=${f[0]}
	dir=$KDP_LAB_DIR/www/$ns
	mkdir -p "$dir" || return 1
	printf '%s\n' "${f[5]}" >"$dir/index.html" || return 1
	rm -f "$dir/big"
	truncate -s "${LAB_WEB_BIG_MB}M" "$dir/big" || return 1
	# http.server's own main() resolves the host name (getfqdn), which
	# waits for DNS timeouts in a pod: bind without it.
	lab_pod_spawn "$ns" http "$LAB_PY" -c '
import functools, http.server, socketserver, sys
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
Server((sys.argv[1], 80), handler).serve_forever()
' "${f[2]}" "$dir" || return 1
	_lab_wait_listening "$ns" tcp 80 http || return 1
	ip6=$(lab_pod_ip6 "$ns") || return 1
	[[ -n $ip6 ]] || return 0
	# and on its IPv6 address
	lab_pod_spawn "$ns" http6 "$LAB_PY" -c '
import functools, http.server, socket, socketserver, sys
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    address_family = socket.AF_INET6
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[2])
Server((sys.argv[1], 80), handler).serve_forever()
' "$ip6" "$dir" || return 1
	for ((i = 0; i < 50; i++)); do
		[[ -n $(ip netns exec "$ns" ss -Hltn '( sport = :80 )' 2>/dev/null | grep -F "[$ip6]") ]] &&
			return 0
		sleep 0.1
	done
	lab_err "$ns: no IPv6 HTTP server on port 80"
	return 1
}

# lab_coredns_start POD: dnsmasq on POD's IP, UDP and TCP 53, answering the
# LAB_DNS_RECORDS names (and nothing else: no upstream, no /etc/hosts).
# Queries are logged to $KDP_LAB_DIR/app-<netns>-dns.queries.
lab_coredns_start() {
	local ns ip base rec args=() ip6
	ns=$(lab_pod_ns "$1") || return 1
	ip=$(lab_pod_ip "$ns") || return 1
	ip6=$(lab_pod_ip6 "$ns") || return 1
	[[ -n $ip6 ]] && args+=("--listen-address=$ip6")
	base=$(_lab_app_base "$ns" dns)
	: >"$base.queries"
	for rec in "${LAB_DNS_RECORDS[@]}"; do
		[[ ${rec##*/} == *:* ]] && ! lab_ipv6 && continue
		args+=("--address=/${rec%/*}/${rec##*/}")
	done
	lab_pod_spawn "$ns" dns dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--pid-file="$base.dnsmasq-pid" --user=root --group=root --no-resolv --no-hosts \
		--listen-address="$ip" --bind-interfaces "${args[@]}" --log-queries \
		--log-facility="$base.queries" || return 1
	_lab_wait_listening "$ns" udp 53 dns && _lab_wait_listening "$ns" tcp 53 dns
}

# lab_nodelocal_start POD: the node-local DNS cache of a node: dnsmasq on
# POD's IP, UDP and TCP 53, forwarding every query to kube-dns-upstream
# (LAB_NODELOCAL_UPSTREAM) with caching off, so that each query it gets is
# also seen upstream. Queries are logged to $KDP_LAB_DIR/app-<netns>-dns.queries.
lab_nodelocal_start() {
	local ns ip base ip6 args=()
	ns=$(lab_pod_ns "$1") || return 1
	ip=$(lab_pod_ip "$ns") || return 1
	ip6=$(lab_pod_ip6 "$ns") || return 1
	[[ -n $ip6 ]] && args+=("--listen-address=$ip6")
	base=$(_lab_app_base "$ns" dns)
	: >"$base.queries"
	lab_pod_spawn "$ns" dns dnsmasq --keep-in-foreground --conf-file=/dev/null \
		--pid-file="$base.dnsmasq-pid" --user=root --group=root --no-resolv --no-hosts \
		--listen-address="$ip" "${args[@]}" --bind-interfaces --server="$LAB_NODELOCAL_UPSTREAM" \
		--cache-size=0 --log-queries --log-facility="$base.queries" || return 1
	_lab_wait_listening "$ns" udp 53 dns && _lab_wait_listening "$ns" tcp 53 dns
}

# lab_dns_queries POD: the query log of the dnsmasq of POD (CoreDNS or
# node-local DNS pod), or nothing.
lab_dns_queries() {
	local base
	base=$(_lab_app_base "$1" dns) || return 1
	cat "$base.queries" 2>/dev/null || true
}

# lab_apps_start: the HTTP server in every app=webpod pod, dnsmasq in every
# k8s-app=kube-dns pod and the forwarding dnsmasq in every
# k8s-app=node-local-dns pod.
lab_apps_start() {
	local ns
	for ns in $(lab_pods_with_label app=webpod); do
		lab_webpod_start "$ns" || { lab_err "$ns: HTTP server did not start"; return 1; }
	done
	for ns in $(lab_pods_with_label k8s-app=kube-dns); do
		lab_coredns_start "$ns" || { lab_err "$ns: dnsmasq did not start"; return 1; }
	done
	for ns in $(lab_pods_with_label k8s-app=node-local-dns); do
		lab_nodelocal_start "$ns" || { lab_err "$ns: dnsmasq (node-local) did not start"; return 1; }
	done
}

# ---------------------------------------------------------------- router apps

# lab_router_http_start: an HTTP server in the router on 0.0.0.0:80 (all its
# addresses: 192.168.10.200, 10.10.1.200, 10.10.2.200) answering "/" with
# "router" and serving /big (LAB_ROUTER_BIG_MB MiB, sparse). Its access log
# (client addresses as the router sees them) is $KDP_LAB_DIR/app-kdp-router-http.log.
lab_router_http_start() {
	local dir=$KDP_LAB_DIR/www/$LAB_NS_ROUTER i
	mkdir -p "$dir" || return 1
	printf 'router\n' >"$dir/index.html" || return 1
	rm -f "$dir/big"
	truncate -s "${LAB_ROUTER_BIG_MB}M" "$dir/big" || return 1
	lab_pod_spawn "$LAB_NS_ROUTER" http "$LAB_PY" -c '
import functools, http.server, socketserver, sys
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
Server(("0.0.0.0", 80), handler).serve_forever()
' "$dir" || return 1
	_lab_wait_listening "$LAB_NS_ROUTER" tcp 80 http || return 1
	lab_ipv6 || return 0
	# The same on its IPv6 addresses (a server of its own, IPv6 only).
	lab_pod_spawn "$LAB_NS_ROUTER" http6 "$LAB_PY" -c '
import functools, http.server, socket, socketserver, sys
class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
Server(("::", 80), handler).serve_forever()
' "$dir" || return 1
	for ((i = 0; i < 50; i++)); do
		[[ -n $(ip netns exec "$LAB_NS_ROUTER" ss -Hltn '( sport = :80 )' 2>/dev/null | grep -F '[::]') ]] &&
			return 0
		sleep 0.1
	done
	lab_err "router: no IPv6 HTTP server on port 80"
	return 1
}

# lab_router_udp_echo_start [PORT]: a UDP server in the router on 0.0.0.0:PORT
# (and [::]:PORT when the lab is dual stack)
# (default 7007) answering each datagram with "<source ip>:<source port>
# <payload>", i.e. the source address the router saw.
lab_router_udp_echo_start() {
	local port=${1:-7007}
	lab_pod_spawn "$LAB_NS_ROUTER" "udp$port" "$LAB_PY" -c '
import socket, sys
import select
socks = []
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
socks.append(s)
if sys.argv[2] != "off":
    s6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s6.bind(("::", int(sys.argv[1])))
    socks.append(s6)
while True:
    for r in select.select(socks, [], [])[0]:
        data, peer = r.recvfrom(65535)
        r.sendto(("%s:%d " % peer[:2]).encode() + data, peer)
' "$port" "${KDP_LAB_IPV6:-on}" || return 1
	_lab_wait_listening "$LAB_NS_ROUTER" udp "$port" "udp$port"
}

# ---------------------------------------------------------------- services

# lab_service_json TYPE CLUSTERIP[,CLUSTERIP6] PORTS SELECTOR [KEY=JSON...]: a
# service body for PUT /v1/services/{ns}/{name} (dual stack with two
# addresses and KDP_LAB_IPV6 on). PORTS and SELECTOR as in LAB_SERVICES
# (SELECTOR may be empty: no backends); each KEY=JSON adds or replaces a
# top-level field, e.g. 'sessionAffinity="ClientIP"' or
# 'backends=[{"ip":"172.20.1.40","state":"terminating"}]'.
lab_service_json() {
	local ips=() ns cip=$2 ip6
	lab_ipv6 || cip=${cip%%,*}
	if [[ -n $4 ]]; then
		for ns in $(lab_pods_with_label "$4"); do
			ips+=("$(lab_pod_ip "$ns")") || return 1
			# a dual-stack service has both addresses of each pod
			if [[ $cip == *,* ]]; then
				ip6=$(lab_pod_ip6 "$ns") || return 1
				[[ -n $ip6 ]] && ips+=("$ip6")
			fi
		done
	fi
	python3 - "$1" "$cip" "$3" "${#ips[@]}" "${ips[@]}" "${@:5}" <<'PY'
import json, sys
typ, cip, ports, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
ips, extra = sys.argv[5:5 + n], sys.argv[5 + n:]
cips = cip.split(",")
pl = []
for p in filter(None, ports.split(",")):
    f = p.split(":")
    d = {"name": f[0], "protocol": f[1], "port": int(f[2]), "targetPort": int(f[3])}
    if len(f) > 4 and f[4]:
        d["nodePort"] = int(f[4])
    pl.append(d)
svc = {"type": typ, "clusterIP": cips[0], "ports": pl,
       "backends": [{"ip": ip} for ip in ips]}
if len(cips) > 1:
    svc["clusterIPs"] = cips
    svc["ipFamilies"] = ["IPv6" if ":" in c else "IPv4" for c in cips]
    svc["ipFamilyPolicy"] = "PreferDualStack"
for kv in extra:
    k, _, v = kv.partition("=")
    svc[k] = json.loads(v)
print(json.dumps(svc))
PY
}

# lab_service_put NS/NAME JSON [NODE...]: PUT the service on NODEs (default:
# every node). Fails (with the answer on stderr) if one node refuses it.
lab_service_put() {
	local svc=$1 body=$2 node out rc=0 nodes
	shift 2
	if (($# > 0)); then nodes=("$@"); else mapfile -t nodes < <(lab_node_names); fi
	for node in "${nodes[@]}"; do
		if ! out=$(lab_api "$node" PUT "/v1/services/$svc" "$body" 2>&1); then
			lab_err "$node: PUT /v1/services/$svc: $out"
			rc=1
		fi
	done
	return "$rc"
}

# lab_service_delete NS/NAME [NODE...]: DELETE the service (default: every
# node); a service that does not exist is not an error.
lab_service_delete() {
	local svc=$1 node out rc=0 nodes
	shift
	if (($# > 0)); then nodes=("$@"); else mapfile -t nodes < <(lab_node_names); fi
	for node in "${nodes[@]}"; do
		out=$(lab_api "$node" DELETE "/v1/services/$svc" 2>&1) ||
			[[ $out == *404* || $out == *"no such"* ]] || {
			lab_err "$node: DELETE /v1/services/$svc: $out"
			rc=1
		}
	done
	return "$rc"
}

# lab_ipmasq_apply [JSON [NODE...]]: PUT /v1/ipmasq with JSON (default
# LAB_IPMASQ_CONFIG) on NODEs (default: every node).
lab_ipmasq_apply() {
	local body=${1:-$LAB_IPMASQ_CONFIG} node out rc=0 nodes
	shift $(($# > 0 ? 1 : 0))
	if (($# > 0)); then nodes=("$@"); else mapfile -t nodes < <(lab_node_names); fi
	for node in "${nodes[@]}"; do
		if ! out=$(lab_api "$node" PUT /v1/ipmasq "$body" 2>&1); then
			lab_err "$node: PUT /v1/ipmasq: $out"
			rc=1
		fi
	done
	return "$rc"
}

# lab_lrp_put NS/NAME JSON [NODE...]: PUT the Local Redirect Policy spec on
# NODEs (default: every node).
lab_lrp_put() {
	local lrp=$1 body=$2 node out rc=0 nodes
	shift 2
	if (($# > 0)); then nodes=("$@"); else mapfile -t nodes < <(lab_node_names); fi
	for node in "${nodes[@]}"; do
		if ! out=$(lab_api "$node" PUT "/v1/lrp/$lrp" "$body" 2>&1); then
			lab_err "$node: PUT /v1/lrp/$lrp: $out"
			rc=1
		fi
	done
	return "$rc"
}

# lab_services_apply: PUT every LAB_SERVICES service on every node.
lab_services_apply() {
	local row f body
	for row in "${LAB_SERVICES[@]}"; do
		IFS='|' read -r -a f <<<"$row"
		body=$(lab_service_json "${f[1]}" "${f[2]}" "${f[3]}" "${f[4]}") || return 1
		lab_service_put "${f[0]}" "$body" || return 1
	done
}

# ---------------------------------------------------------------- all

# lab_down: stop the kdp instances, captures and pod apps, delete the
# namespaces and the run files (sockets, pids, state, webpod files). Logs and
# configs stay. Never fails.
lab_down() {
	local node f nodes
	mapfile -t nodes < <(lab_node_names)
	for node in "${nodes[@]}"; do
		lab_kdp_stop "$node" || true
	done
	for f in "$KDP_LAB_DIR"/cap-*.pid; do
		[[ -e $f ]] || continue
		f=${f##*/cap-}
		lab_capture_stop "${f%.pid}" >/dev/null 2>&1 || true
	done
	lab_pod_apps_stop
	lab_topology_down
	rm -rf "$KDP_LAB_DIR/www" 2>/dev/null || true
	for node in "${nodes[@]}"; do
		rm -f "$(lab_sock "$node")" "$(lab_pidfile "$node")" "$(lab_statefile "$node")" \
			"$(lab_statefile "$node").tmp" "$(lab_flowfile "$node")"{,.new,.rejected} \
			2>/dev/null || true
		# DPDK runtime files of the --file-prefix we gave this node.
		rm -rf "/var/run/dpdk/kdp-lab-$node" 2>/dev/null || true
	done
	rm -f "$KDP_LAB_DIR"/cap-*.txt "$KDP_LAB_DIR"/cap-*.err 2>/dev/null || true
	return 0
}

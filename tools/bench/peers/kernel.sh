#!/bin/bash
# kdp-bench peer: the Linux kernel doing kube-proxy's (iptables mode) job on
# the nodeport pcap of tools/bench/mkpcap.py.
#
#   tools/bench/peers/kernel.sh [--install] PCAP SECONDS
#
# Three network namespaces made here and deleted on exit:
#
#   src (feeder)            node (the kernel under test)              sink
#   dpdk-testpmd            up0 02:00:00:00:01:00 192.168.10.100/24
#   net_pcap infinite_rx -> src0 ==veth== up0 -> conntrack, nat PREROUTING
#   --forward-mode=io       (kube-proxy's KUBE-SERVICES/KUBE-NODEPORTS/
#   -> net_af_packet(src0)   KUBE-EXT/KUBE-SVC/KUBE-SEP chains: DNAT to one
#                            of 64 backends 172.20.0.10-73:80 by statistic
#                            random), route 172.20.0.0/24 via 192.168.10.101
#                            (static neighbour 02:00:00:00:01:01), filter
#                            KUBE-FORWARD, POSTROUTING MASQUERADE to
#                            192.168.10.100 -> eg0 ==veth== sk0 (drops:
#                                                        other-host MAC)
#
# kdp sends the translated frames back out of the uplink they came in on; here
# the egress is a second veth so that its tx counter counts forwarded frames
# only and the feeder never receives its own traffic (the kernel's work per
# frame is the same: receive on a veth, transmit on a veth).
#
# Cores: the feeder (testpmd, both its lcores) is pinned to CPU 0. Both veths
# receive through threaded NAPI (GRO on, as a NIC driver's NAPI receive): the
# NAPI thread of up0, which runs the node's whole forwarding path (ip_rcv,
# conntrack, NAT, routing, forward, neighbour output, veth xmit), is pinned to
# CPU 1, the sink's to CPU 0. Where threaded NAPI is unavailable, RPS steers
# up0's frames to CPU 1's backlog instead (costlier: an IPI per batch). /proc/stat
# of both CPUs and the NAPI thread's CPU time are read over the window.
#
# Phases: (1) verification: tcpdump in the sink namespace captures egress
# frames and tools/bench/peers/egress_check.py checks every one of them
# (MACs, TTL 63, source 192.168.10.100, destination a backend :80,
# checksums); (2) warm-up until the node's conntrack holds an entry for
# (nearly) every flow of the pcap; (3) the measured window: Mpps = eg0
# tx_packets / wall time; cycles/packet = CPU 1's system+irq+softirq time x
# TSC Hz / forwarded packets.
#
# Output: progress on stderr; one JSON line on stdout:
#   {"peer": "kernel", "mpps": X, "cyclesPerPacket": Y, "seconds": S,
#    "packets": N, "notes": "..."}
# Exit 0 measured, 1 failed (nothing printed on stdout), 2 usage, 3 packages
# missing (run with --install to apt-get them), 4 not measurable here (more
# flows than nf_conntrack_max of the root namespace, which a namespace may
# not raise).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PEER=kernel
# shellcheck source=tools/bench/peers/common.sh
source "$HERE/common.sh"
peer_args "$@"

PKGS="iptables iproute2 dpdk-dev librte-net-pcap23 librte-net-af-packet23 tcpdump python3 util-linux"
# shellcheck disable=SC2086
peer_packages $PKGS
peer_checks "network namespaces, iptables" "feeder on CPU 0, kernel forwarding on CPU 1"

# Frames of the pcap and UDP flows (every UDP frame is its own flow).
peer_pcap_counts
CT_MAX=$(cat /proc/sys/net/netfilter/nf_conntrack_max)
if [ "$FLOWS" -gt $((CT_MAX * 9 / 10)) ]; then
	# Linux refuses a network namespace a limit above the root one's
	# (EINVAL), and the root namespace is not this script's to change.
	log "cannot: $FLOWS flows do not fit nf_conntrack_max=$CT_MAX (set in the root namespace only; a namespace may not raise it)"
	exit 4
fi

ID=$$
NS_SRC=kdpk-src-$ID
NS_NODE=kdpk-node-$ID
NS_SINK=kdpk-sink-$ID
UP=kpu$((ID % 100000)) # unique names: their NAPI threads are found by name
SK=kps$((ID % 100000))
PREFIX=kdpk-tpmd-$ID
TMP=$(mktemp -d /tmp/kdp-peer-kernel-XXXXXX)
FEEDER=""
CAPTURE=""

cleanup() {
	local rc=$?
	stop_pid "$CAPTURE"
	stop_pid "$FEEDER"
	for ns in "$NS_SRC" "$NS_NODE" "$NS_SINK"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "/var/run/dpdk/$PREFIX" "$TMP"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

log "pcap $PCAP: $FRAMES frames, $FLOWS UDP flows"
for ns in "$NS_SRC" "$NS_NODE" "$NS_SINK"; do
	ip netns add "$ns"
	ip -n "$ns" link set lo up
done
ip -n "$NS_SRC" link add src0 type veth peer name $UP netns "$NS_NODE"
ip -n "$NS_NODE" link add eg0 type veth peer name $SK netns "$NS_SINK"
ip -n "$NS_SRC" link set src0 address 02:00:00:00:01:c8 up
ip -n "$NS_SINK" link set $SK address 02:00:00:00:0f:0f up
ip -n "$NS_NODE" link set $UP address 02:00:00:00:01:00 up
ip -n "$NS_NODE" link set eg0 address 02:00:00:00:01:00 up
ip -n "$NS_NODE" addr add 192.168.10.100/24 dev $UP
ip -n "$NS_NODE" addr add 192.168.10.100/32 dev eg0
ip -n "$NS_NODE" route add default via 192.168.10.200 dev $UP
ip -n "$NS_NODE" route add 172.20.0.0/24 via 192.168.10.101 dev eg0 onlink
ip -n "$NS_NODE" neigh replace 192.168.10.101 lladdr 02:00:00:00:01:01 dev eg0 nud permanent
ip -n "$NS_NODE" neigh replace 192.168.10.200 lladdr 02:00:00:00:01:c8 dev $UP nud permanent
nsx "$NS_NODE" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.send_redirects=0 \
	"net.ipv4.conf.$UP.send_redirects=0"
nsx "$NS_SRC" ethtool -K src0 tx off >/dev/null 2>&1 || true
# Cores: threaded NAPI on both veths (GRO on makes a veth receive through
# NAPI, as a NIC driver does); up0's NAPI thread, which runs the node's whole
# forwarding path, pinned to CPU 1; sk0's (the sink's drop) to CPU 0 with the
# feeder. Without threaded NAPI: RPS steers up0's frames to CPU 1.
napi_thread() { ps -e -o pid=,comm= | awk -v n="napi/$1-" 'index($2, n) == 1 { print $1; exit }'; }
MODE=rps
if nsx "$NS_NODE" ethtool -K $UP gro on >/dev/null 2>&1 &&
	nsx "$NS_SINK" ethtool -K $SK gro on >/dev/null 2>&1 &&
	nsx "$NS_NODE" sh -c "echo 1 > /sys/class/net/$UP/threaded" 2>/dev/null &&
	nsx "$NS_SINK" sh -c "echo 1 > /sys/class/net/$SK/threaded" 2>/dev/null; then
	sleep 0.2
	T_UP=$(napi_thread $UP)
	T_SK=$(napi_thread $SK)
	if [ -n "$T_UP" ] && [ -n "$T_SK" ] && taskset -pc 1 "$T_UP" >/dev/null &&
		taskset -pc 0 "$T_SK" >/dev/null; then
		MODE="threaded NAPI"
	fi
fi
if [ "$MODE" = rps ]; then
	nsx "$NS_NODE" sh -c "echo 2 > /sys/class/net/$UP/queues/rx-0/rps_cpus"
	nsx "$NS_SINK" sh -c "echo 1 > /sys/class/net/$SK/queues/rx-0/rps_cpus"
fi
log "node's receive: $MODE on CPU 1"
RP=$(nsx "$NS_NODE" cat /proc/sys/net/ipv4/conf/all/rp_filter)

# kube-proxy's rules (iptables mode, v1.28 layout) for a NodePort service
# default/bench-np: UDP 30080 on the node's addresses, 64 endpoints.
{
	echo "*nat"
	for c in KUBE-SERVICES KUBE-NODEPORTS KUBE-POSTROUTING KUBE-MARK-MASQ \
		KUBE-SVC-BENCHNP KUBE-EXT-BENCHNP; do echo ":$c - [0:0]"; done
	for i in $(seq 0 63); do echo ":KUBE-SEP-BENCHNP$i - [0:0]"; done
	echo "-A PREROUTING -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
	echo "-A OUTPUT -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
	echo "-A POSTROUTING -m comment --comment \"kubernetes postrouting rules\" -j KUBE-POSTROUTING"
	echo "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000"
	echo "-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN"
	echo "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0"
	echo "-A KUBE-POSTROUTING -m comment --comment \"kubernetes service traffic requiring SNAT\" -j MASQUERADE --random-fully"
	echo "-A KUBE-SERVICES -d 10.96.200.1/32 -p udp -m comment --comment \"default/bench-np:u cluster IP\" -m udp --dport 80 -j KUBE-SVC-BENCHNP"
	echo "-A KUBE-SERVICES -m comment --comment \"kubernetes service nodeports\" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS"
	echo "-A KUBE-NODEPORTS -p udp -m comment --comment \"default/bench-np:u\" -m udp --dport 30080 -j KUBE-EXT-BENCHNP"
	echo "-A KUBE-EXT-BENCHNP -m comment --comment \"masquerade traffic for default/bench-np:u external destinations\" -j KUBE-MARK-MASQ"
	echo "-A KUBE-EXT-BENCHNP -j KUBE-SVC-BENCHNP"
	for i in $(seq 0 63); do
		ip=172.20.0.$((10 + i))
		if [ "$i" -lt 63 ]; then
			p=$(python3 -c "print(f'{1 / (64 - $i):.11f}')")
			echo "-A KUBE-SVC-BENCHNP -m comment --comment \"default/bench-np:u -> $ip:80\" -m statistic --mode random --probability $p -j KUBE-SEP-BENCHNP$i"
		else
			echo "-A KUBE-SVC-BENCHNP -m comment --comment \"default/bench-np:u -> $ip:80\" -j KUBE-SEP-BENCHNP$i"
		fi
		echo "-A KUBE-SEP-BENCHNP$i -s $ip/32 -m comment --comment \"default/bench-np:u\" -j KUBE-MARK-MASQ"
		echo "-A KUBE-SEP-BENCHNP$i -p udp -m comment --comment \"default/bench-np:u\" -m udp -j DNAT --to-destination $ip:80"
	done
	echo "COMMIT"
	echo "*filter"
	for c in KUBE-FORWARD KUBE-SERVICES KUBE-EXTERNAL-SERVICES KUBE-NODEPORTS \
		KUBE-PROXY-FIREWALL KUBE-FIREWALL; do echo ":$c - [0:0]"; done
	echo "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"
	echo "-A INPUT -m comment --comment \"kubernetes health check service ports\" -j KUBE-NODEPORTS"
	echo "-A INPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"
	echo "-A INPUT -j KUBE-FIREWALL"
	echo "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"
	echo "-A FORWARD -m comment --comment \"kubernetes forwarding rules\" -j KUBE-FORWARD"
	echo "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
	echo "-A FORWARD -m conntrack --ctstate NEW -m comment --comment \"kubernetes externally-visible service portals\" -j KUBE-EXTERNAL-SERVICES"
	echo "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes load balancer firewall\" -j KUBE-PROXY-FIREWALL"
	echo "-A OUTPUT -m conntrack --ctstate NEW -m comment --comment \"kubernetes service portals\" -j KUBE-SERVICES"
	echo "-A OUTPUT -j KUBE-FIREWALL"
	echo "-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment \"block incoming localnet connections\" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP"
	echo "-A KUBE-FORWARD -m conntrack --ctstate INVALID -j DROP"
	echo "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding rules\" -m mark --mark 0x4000/0x4000 -j ACCEPT"
	echo "-A KUBE-FORWARD -m comment --comment \"kubernetes forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT"
	echo "COMMIT"
} >"$TMP/rules"
nsx "$NS_NODE" iptables-restore <"$TMP/rules" || die "iptables-restore failed"
IPT=$(iptables --version)
log "node: $(nsx "$NS_NODE" iptables -t nat -S | wc -l) nat rules, $(nsx "$NS_NODE" iptables -S | wc -l) filter rules ($IPT)"

eg_tx() { nsx "$NS_NODE" cat /sys/class/net/eg0/statistics/tx_packets; }
up_rx() { nsx "$NS_NODE" cat /sys/class/net/$UP/statistics/rx_packets; }
ct_count() { nsx "$NS_NODE" cat /proc/sys/net/netfilter/nf_conntrack_count; }

# Capture first, then feed: the verification sees the first frames out.
VERIFY=2000
[ "$FLOWS" -lt "$VERIFY" ] && VERIFY=$FLOWS
ip netns exec "$NS_SINK" tcpdump -i "$SK" -nn -p -c "$VERIFY" -w "$TMP/egress.pcap" udp \
	>"$TMP/tcpdump.log" 2>&1 &
CAPTURE=$!
for _ in $(seq 50); do
	grep -q "listening on" "$TMP/tcpdump.log" 2>/dev/null && break
	sleep 0.1
done

# The feeder: testpmd replays the pcap from memory (mbufs: the pcap plus
# ring room) into the af_packet socket on src0, both lcores on CPU 0.
MBUFS=$((FRAMES + 32768))
MEM=$((MBUFS * 1280 / 1048576 + 256))
# (ip netns exec and taskset exec: $! is testpmd itself, stopped by that PID)
ip netns exec "$NS_SRC" taskset -c 0 dpdk-testpmd --lcores '0@0,1@0' --no-pci --no-huge -m "$MEM" \
	--file-prefix="$PREFIX" --no-telemetry --log-level='lib.*:warning' \
	--vdev "net_pcap0,rx_pcap=$PCAP,infinite_rx=1" \
	--vdev "net_af_packet0,iface=src0,qpairs=1,qdisc_bypass=1,framesz=512,blocksz=4096,framecnt=4096" \
	-- --forward-mode=io --nb-cores=1 --total-num-mbufs="$MBUFS" --mbuf-size=1024 \
	--no-flush-rx --stats-period=1 --rxd=1024 --txd=1024 \
	>"$TMP/testpmd.log" 2>&1 </dev/null &
FEEDER=$!
for _ in $(seq 300); do
	kill -0 "$FEEDER" 2>/dev/null || { tail -20 "$TMP/testpmd.log" >&2; die "testpmd exited"; }
	[ "$(up_rx)" -gt 0 ] && break
	sleep 0.1
done
[ "$(up_rx)" -gt 0 ] || { tail -20 "$TMP/testpmd.log" >&2; die "no frames reach the node after 30 s"; }
[ "$(cat "/proc/$FEEDER/comm")" = dpdk-testpmd ] || die "feeder pid $FEEDER is not testpmd"
log "feeder running (testpmd pid $FEEDER on CPU 0)"

# (1) verification
for _ in $(seq 300); do
	kill -0 "$CAPTURE" 2>/dev/null || break
	sleep 0.1
done
kill -0 "$CAPTURE" 2>/dev/null && die "tcpdump saw fewer than $VERIFY egress frames in 30 s (eg0 tx $(eg_tx))"
wait "$CAPTURE" || true
CAPTURE=""
CHECK=$(python3 "$HERE/egress_check.py" "$TMP/egress.pcap" "$VERIFY") ||
	die "egress frames are not translated as expected (see above)"
log "verified $CHECK"

# (2) warm-up: conntrack holds (nearly) every flow; drops at the backlog are
# random, so a few flows may still be missing: at most 0.5 %.
WANT=$((FLOWS - FLOWS / 200))
T_END=$(($(date +%s) + 120))
while [ "$(ct_count)" -lt "$WANT" ]; do
	kill -0 "$FEEDER" 2>/dev/null || die "testpmd exited during warm-up"
	[ "$(date +%s)" -lt "$T_END" ] || die "warm-up: $(ct_count) conntrack entries after 120 s, expected $WANT"
	sleep 0.5
done
sleep 1
CT0=$(ct_count)
log "warm-up done: $CT0 conntrack entries"

# (3) the window
cpu() { awk -v c="cpu$1" '$1 == c { print $2, $3, $4, $5, $6, $7, $8, $9 }' /proc/stat; }
thr() { [ -n "${T_UP:-}" ] && awk '{ print $14 + $15 }' "/proc/$T_UP/stat" || echo 0; }
th0=$(thr)
read -r u0 n0 s0 i0 w0 q0 sq0 st0 < <(cpu 1)
read -r a0 b0 c0 d0 e0 f0 g0 h0 < <(cpu 0)
tx0=$(eg_tx)
rx0=$(up_rx)
t0=$(date +%s.%N)
sleep "$SECS"
tx1=$(eg_tx)
rx1=$(up_rx)
t1=$(date +%s.%N)
read -r u1 n1 s1 i1 w1 q1 sq1 st1 < <(cpu 1)
th1=$(thr)
read -r a1 b1 c1 d1 e1 f1 g1 h1 < <(cpu 0)
CT1=$(ct_count)
kill -0 "$FEEDER" 2>/dev/null || die "testpmd exited during the window"
MHZ=$(awk -F: '/^cpu MHz/ { if (++n == 2) { print $2; exit } }' /proc/cpuinfo)

python3 - "$tx0" "$tx1" "$rx0" "$rx1" "$t0" "$t1" "$MHZ" "$CT1" "$FLOWS" "$RP" "$IPT" "$CHECK" \
	"$u0 $n0 $s0 $i0 $w0 $q0 $sq0 $st0" "$u1 $n1 $s1 $i1 $w1 $q1 $sq1 $st1" \
	"$a0 $b0 $c0 $d0 $e0 $f0 $g0 $h0" "$a1 $b1 $c1 $d1 $e1 $f1 $g1 $h1" "$MODE" "$((th1 - th0))" <<'EOF'
import json, os, sys
a = sys.argv[1:]
tx, rx = int(a[1]) - int(a[0]), int(a[3]) - int(a[2])
secs = float(a[5]) - float(a[4])
hz = float(a[6]) * 1e6
c1 = [int(y) - int(x) for x, y in zip(a[12].split(), a[13].split())]
c0 = [int(y) - int(x) for x, y in zip(a[14].split(), a[15].split())]
tck = os.sysconf("SC_CLK_TCK")
def share(c):  # user nice system idle iowait irq softirq steal
    tot = sum(c) or 1
    return {k: round(100 * v / tot, 1) for k, v in zip(
        ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"), c)}
kern1 = (c1[2] + c1[5] + c1[6]) / tck  # seconds of CPU 1 in the kernel
if tx <= 0:
    sys.exit("kernel-peer: FAILED: nothing forwarded in the window")
cpp = kern1 * hz / tx
p1, p0 = share(c1), share(c0)
chk = json.loads(a[11])
thr = int(a[17]) / tck / secs * 100
notes = (f"{a[10]}; receive by {a[16]} (its thread {thr:.0f}% of a CPU); kube-proxy iptables-mode chains, 64 KUBE-SEP DNAT + MASQUERADE --random-fully; "
         f"offered {rx / secs / 1e6:.2f} Mpps on up0, forwarded {tx / secs / 1e6:.3f} Mpps on eg0; "
         f"CPU1 (kernel forwarding) sys {p1['system']}% softirq {p1['softirq']}% "
         f"user {p1['user']}% idle {p1['idle']}%; CPU0 (feeder) idle {p0['idle']}%; "
         f"conntrack {a[7]} entries for {a[8]} flows; rp_filter={a[9]}; "
         f"verified {chk['frames']} egress frames, {chk['backends']} backends, "
         f"{chk['portsKept']:.0%} source ports kept; cycles = CPU1 sys+irq+softirq time x "
         f"{hz / 1e6:.0f} MHz / forwarded")
if p1["idle"] > 10:
    notes += f"; NOT SATURATED: CPU1 {p1['idle']}% idle, the feeder limits the rate"
    print(f"kernel-peer: warning: CPU1 {p1['idle']}% idle: the feeder, not the kernel, "
          "limits this figure", file=sys.stderr)
print(f"kernel-peer: {tx / secs / 1e6:.3f} Mpps forwarded, {cpp:.0f} cycles/packet "
      f"(CPU1 busy {100 - p1['idle']:.0f}%)", file=sys.stderr)
print(json.dumps({"peer": "kernel", "mpps": round(tx / secs / 1e6, 4),
                  "cyclesPerPacket": round(cpp), "seconds": round(secs, 3),
                  "packets": tx, "notes": notes}))
EOF

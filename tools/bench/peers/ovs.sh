#!/bin/bash
# kdp-bench peer: OVS-DPDK's userspace datapath (Debian's
# openvswitch-switch-dpdk) doing the NodePort job with ct(nat) on the nodeport
# pcap of tools/bench/mkpcap.py, one PMD thread on CPU 1.
#
#   tools/bench/peers/ovs.sh [--install] PCAP SECONDS
#
# A private ovsdb-server and ovs-vswitchd-dpdk (run dir, db, pid files and
# unixctl sockets in a temp dir; both in a network namespace of their own so
# the netdev bridge's tap stays out of the root namespace), stopped by PID on
# exit. EAL: --no-pci --no-huge -m ... --legacy-mem --no-shconf
# --file-prefix=<unique>; the non-PMD threads on CPU 0 (taskset), the PMD on
# CPU 1 (pmd-cpu-mask=0x2). Bridge br0 (datapath_type=netdev, fail_mode=secure):
#   port 1 in0   net_pcap,rx_pcap=PCAP,infinite_rx=1   (the pcap from memory)
#   port 2 out0  net_null,no-rx=1                       (a free sink)
# or, for a pcap of more than 250,000 frames (below), port 1
#   in0          net_pcap,rx_pcap=STREAM                (a file read as it goes)
#
# OpenFlow pipeline (conntrack zone 1 = DNAT, zone 2 = SNAT, as OVN does:
# a connection is NATed in one direction per zone):
#   table 0  udp to 192.168.10.100:30080 from port 1 -> ct(zone=1,nat,table=1)
#            (look the flow up in zone 1, applying its DNAT if it has one);
#            anything else (the ARP requests) -> drop
#   table 1  ct_state=+trk+new ->
#              ct(commit,zone=1,nat(dst=172.20.0.10-172.20.0.73:80),table=2)
#              (OVS's conntrack picks the address of the range by a hash of
#              the connection: one of the 64 backends per flow; a select group
#              of 64 ct(commit,nat(dst=backend)) buckets, OVN's way, sent every
#              flow of a client IP to the same bucket in OVS 3.1 here)
#            ct_state=+trk+est -> table 2
#   table 2  ct(commit,zone=2,nat(src=192.168.10.100),table=3)
#            (committed on every packet: one-way UDP never becomes
#             "established" for OVS, and a commit of a known connection only
#             applies its existing SNAT)
#   table 3  mod_dl_src:02:00:00:00:01:00, mod_dl_dst:02:00:00:00:01:01,
#            dec_ttl, output:2
#
# Phases: (1) verification: the pcap replayed into a net_pcap tx_pcap port
# until two passes are out; tools/bench/peers/egress_check.py checks every
# frame (MACs, TTL 63, source 192.168.10.100, destination a backend :80,
# checksums); (2) the measurement ports replace those (conntrack keeps the
# flows); warm-up until two more passes are out; (3) the window:
# Mpps = out0 tx packets / wall time, cycles/packet = the PMD's "avg processing
# cycles per packet" (pmd-stats-show, cleared at the start of the window).
#
# net_pcap's infinite_rx keeps the whole pcap in mbufs of OVS's shared mempool,
# which OVS sizes to at most 262,144 mbufs. A pcap of more frames (1,000,000
# flows) is read from a file as it goes instead: STREAM, the pcap's frames
# written PASSES times over, enough for the verification's two passes, the
# warm-up's two and the window at up to 1.5 Mpps; net_pcap then allocates and
# fills one mbuf per frame read (libpcap's buffered read of a file in the page
# cache), which the PMD's cycles include. The window fails if the file ran out.
# KDP_OVS_STREAM=1 reads any pcap that way (to compare the two feeds).
#
# Output: progress on stderr; one JSON line on stdout:
#   {"peer": "ovs", "mpps": X, "cyclesPerPacket": Y, "seconds": S,
#    "packets": N, "notes": "..."}
# Exit 0 measured, 1 failed (nothing printed on stdout), 2 usage, 3 packages
# missing (run with --install to apt-get them).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
PEER=ovs
# shellcheck source=tools/bench/peers/common.sh
source "$HERE/common.sh"
peer_args "$@"

VSWITCHD=/usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk
SCHEMA=/usr/share/openvswitch/vswitch.ovsschema
PKGS="openvswitch-switch-dpdk librte-net-pcap23 librte-net-null23 python3 iproute2 util-linux"
had_service=0
[ -e /var/run/openvswitch/ovs-vswitchd.pid ] && had_service=1
# shellcheck disable=SC2086
peer_packages $PKGS
if [ "$had_service" = 0 ] && [ -e /var/run/openvswitch/ovs-vswitchd.pid ]; then
	log "apt started the system service openvswitch-switch; stopping it (this script runs its own)"
	service openvswitch-switch stop >&2 || true
fi
for f in "$VSWITCHD" "$SCHEMA"; do
	[ -e "$f" ] || { log "missing $f (openvswitch-switch-dpdk; run with --install)"; exit 3; }
done
peer_checks "network namespace, DPDK" "OVS main thread on CPU 0, the PMD on CPU 1"

peer_pcap_counts

ID=$$
NS=kdpo-$ID
PREFIX=kdpo-$ID
D=$(mktemp -d /tmp/kdp-peer-ovs-XXXXXX)
DBPID=""
VSPID=""
export OVS_RUNDIR=$D OVS_LOGDIR=$D OVS_DBDIR=$D OVS_SYSCONFDIR=$D

cleanup() {
	local rc=$?
	stop_pid "$VSPID" 100
	stop_pid "$DBPID" 100
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "/var/run/dpdk/$PREFIX" "$D"
	exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

vsctl() { ovs-vsctl --db="unix:$D/db.sock" --timeout=60 "$@"; }
ofctl() { ovs-ofctl "$@"; }
appctl() { ovs-appctl -t "$D/ovs-vswitchd.ctl" "$@"; }

log "pcap $PCAP: $FRAMES frames, $FLOWS UDP flows"
RX="rx_pcap=$PCAP,infinite_rx=1"
TOTAL=0 # frames port 1 can read (0: without end)
if [ "$FRAMES" -gt 250000 ] || [ "${KDP_OVS_STREAM:-0}" = 1 ]; then
	PASSES=$(python3 -c 'import math, sys; print(5 + math.ceil(float(sys.argv[1]) * 1.5e6 / int(sys.argv[2])))' "$SECS" "$FRAMES")
	TOTAL=$((PASSES * FRAMES))
	{
		head -c 24 "$PCAP"
		for _ in $(seq "$PASSES"); do tail -c +25 "$PCAP"; done
	} >"$D/stream.pcap"
	RX="rx_pcap=$D/stream.pcap"
	log "more than OVS's mempool holds (250,000 frames): port 1 reads $D/stream.pcap as it goes, the pcap's frames $PASSES times ($TOTAL frames)"
fi
ip netns add "$NS"
ip -n "$NS" link set lo up
ovsdb-tool create "$D/conf.db" "$SCHEMA"
ip netns exec "$NS" taskset -c 0 ovsdb-server "$D/conf.db" --remote="punix:$D/db.sock" \
	--pidfile="$D/ovsdb-server.pid" --unixctl="$D/ovsdb-server.ctl" \
	--log-file="$D/ovsdb-server.log" --no-chdir -vconsole:off &
DBPID=$!
for _ in $(seq 100); do
	[ -S "$D/db.sock" ] && break
	sleep 0.1
done
vsctl --no-wait init
MEM=$((1024 + (TOTAL ? 250000 : FRAMES) * 3 / 1024))
vsctl --no-wait set Open_vSwitch . other_config:dpdk-init=true \
	other_config:pmd-cpu-mask=0x2 \
	"other_config:dpdk-extra=--no-pci --no-huge -m $MEM --legacy-mem --no-shconf --no-telemetry --file-prefix=$PREFIX"
ip netns exec "$NS" taskset -c 0 "$VSWITCHD" "unix:$D/db.sock" --pidfile="$D/ovs-vswitchd.pid" \
	--unixctl="$D/ovs-vswitchd.ctl" --log-file="$D/ovs-vswitchd.log" --no-chdir \
	-vconsole:off &
VSPID=$!
for _ in $(seq 300); do
	kill -0 "$VSPID" 2>/dev/null || { tail -20 "$D/ovs-vswitchd.log" >&2; die "ovs-vswitchd exited"; }
	[ "$(vsctl get Open_vSwitch . dpdk_initialized 2>/dev/null)" = true ] && break
	sleep 0.1
done
[ "$(vsctl get Open_vSwitch . dpdk_initialized)" = true ] || die "DPDK did not initialise in ovs-vswitchd (see $D/ovs-vswitchd.log)"
VERSION="$("$VSWITCHD" --version | awk 'NR == 1 { print $NF }'), $(vsctl get Open_vSwitch . dpdk_version | tr -d '"')"
log "ovs-vswitchd pid $VSPID up: $VERSION"

vsctl add-br br0 -- set bridge br0 datapath_type=netdev fail_mode=secure \
	protocols=OpenFlow10,OpenFlow13,OpenFlow15
ofctl del-flows br0
cat >"$D/flows" <<'EOF'
table=0,priority=100,in_port=1,udp,nw_dst=192.168.10.100,tp_dst=30080 actions=ct(zone=1,nat,table=1)
table=0,priority=0 actions=drop
table=1,priority=100,ct_state=+trk+new,udp actions=ct(commit,zone=1,nat(dst=172.20.0.10-172.20.0.73:80),table=2)
table=1,priority=100,ct_state=+trk+est,udp actions=resubmit(,2)
table=1,priority=0 actions=drop
table=2,priority=100,udp actions=ct(commit,zone=2,nat(src=192.168.10.100),table=3)
table=2,priority=0 actions=drop
table=3,priority=100,udp,nw_src=192.168.10.100 actions=mod_dl_src:02:00:00:00:01:00,mod_dl_dst:02:00:00:00:01:01,dec_ttl,output:2
table=3,priority=0 actions=drop
EOF
ofctl -O OpenFlow13 add-flows br0 "$D/flows"

# Ports: the sink first, then the source (so no frame arrives before the
# flows and the sink exist).
add_ports() { # IN_DEVARGS OUT_DEVARGS
	vsctl add-port br0 out0 -- set Interface out0 type=dpdk ofport_request=2 \
		"options:dpdk-devargs=$2"
	vsctl add-port br0 in0 -- set Interface in0 type=dpdk ofport_request=1 \
		"options:dpdk-devargs=$1"
	local p
	for p in in0 out0; do
		[ "$(vsctl get Interface $p ofport)" -gt 0 ] ||
			die "port $p not added: $(vsctl get Interface $p error)"
	done
}
port_pkts() { # OFPORT rx|tx
	ofctl dump-ports br0 "$1" | awk -v d="$2" '$0 ~ d" pkts=" {
		for (i = 1; i <= NF; i++) if ($i ~ /^pkts=/) { sub(/^pkts=/, "", $i); sub(/,$/, "", $i); print $i; exit } }'
}

# (1) verification: the pcap replayed into a pcap file until two passes are
# out (the first frames polled while the PMD is being reconfigured may be
# lost), every frame out checked.
add_ports "net_pcap0,$RX" "net_pcap1,tx_pcap=$D/egress.pcap"
T_END=$(($(date +%s) + 120))
while [ "$(port_pkts 2 tx)" -lt $((2 * FLOWS)) ]; do
	kill -0 "$VSPID" 2>/dev/null || die "ovs-vswitchd exited"
	[ "$(date +%s)" -lt "$T_END" ] || die "verification: $(port_pkts 2 tx) of $((2 * FLOWS)) frames out after 120 s"
	sleep 0.2
done
vsctl del-port br0 in0 -- del-port br0 out0
CHECK=$(python3 "$HERE/egress_check.py" "$D/egress.pcap" "$((2 * FLOWS))") ||
	die "egress frames are not translated as expected (see above)"
log "verified $CHECK"
rm -f "$D/egress.pcap"
CT=$(appctl dpctl/ct-get-nconns 2>/dev/null || echo '?')

# (2) measurement ports, warm-up: two passes out.
add_ports "net_pcap2,$RX" "net_null0,no-rx=1"
T_END=$(($(date +%s) + 120))
while [ "$(port_pkts 2 tx)" -lt $((2 * FLOWS)) ]; do
	kill -0 "$VSPID" 2>/dev/null || die "ovs-vswitchd exited"
	[ "$(date +%s)" -lt "$T_END" ] || die "warm-up: $(port_pkts 2 tx) frames out after 120 s"
	sleep 0.2
done
log "warm-up done ($CT conntrack connections after the verification pass)"

# (3) the window
appctl dpif-netdev/pmd-stats-clear >/dev/null
rx0=$(port_pkts 1 rx)
tx0=$(port_pkts 2 tx)
t0=$(date +%s.%N)
sleep "$SECS"
rx1=$(port_pkts 1 rx)
tx1=$(port_pkts 2 tx)
t1=$(date +%s.%N)
appctl dpif-netdev/pmd-stats-show >"$D/pmd-stats"
appctl dpif-netdev/pmd-rxq-show >"$D/pmd-rxq" || true
kill -0 "$VSPID" 2>/dev/null || die "ovs-vswitchd exited during the window"
[ "$TOTAL" = 0 ] || [ "$rx1" -lt "$TOTAL" ] ||
	die "port 1 read all $TOTAL frames of the stream before the window ended"
CT=$(appctl dpctl/ct-get-nconns 2>/dev/null || echo '?')
cat "$D/pmd-stats" >&2

python3 - "$rx0" "$rx1" "$tx0" "$tx1" "$t0" "$t1" "$FRAMES" "$FLOWS" "$D/pmd-stats" \
	"$VERSION" "$CHECK" "${CT:-?}" "$TOTAL" <<'EOF'
import json, re, sys
a = sys.argv[1:]
rx, tx = int(a[1]) - int(a[0]), int(a[3]) - int(a[2])
secs = float(a[5]) - float(a[4])
frames, flows = int(a[6]), int(a[7])
text = open(a[8]).read()
pmd = text[text.index("pmd thread"):] if "pmd thread" in text else ""
def num(key):
    m = re.search(re.escape(key) + r":\s*([0-9.]+)", pmd)
    return float(m.group(1)) if m else None
cpp = num("avg processing cycles per packet")
passes = num("avg. datapath passes per packet")
busy = re.search(r"processing cycles:\s*[0-9]+\s*\(([0-9.]+)%\)", pmd)
failed = num("miss with failed upcall") or 0
if tx <= 0 or cpp is None:
    sys.exit("ovs-peer: FAILED: nothing forwarded in the window or no PMD statistics")
expect = rx * flows / frames
if tx < 0.99 * expect:
    sys.exit(f"ovs-peer: FAILED: {rx} frames in but {tx} out (expected {expect:.0f}): OVS drops")
chk = json.loads(a[10])
notes = (f"OVS {a[9].strip()} userspace datapath, 1 PMD on CPU 1; "
         f"ct(zone=1,nat) + ct(commit,zone=1,nat(dst=172.20.0.10-73:80)) + ct(commit,zone=2,nat(src=192.168.10.100)); "
         f"{passes} datapath passes per packet, PMD busy {busy.group(1) if busy else '?'}%, "
         f"{failed:.0f} failed upcalls; {a[11]} conntrack connections (both zones); "
         f"verified {chk['frames']} egress frames, {chk['backends']} backends, "
         f"{chk['portsKept']:.0%} source ports kept; cycles = pmd-stats-show avg processing "
         f"cycles per packet (TSC); port 1 net_pcap " +
         ("infinite_rx (the pcap in mbufs)" if a[12] == "0" else
          f"reading a file of the pcap's frames {int(a[12]) // frames} times as it goes "
          "(more frames than OVS's mempool holds)"))
print(f"ovs-peer: {tx / secs / 1e6:.3f} Mpps forwarded, {cpp:.0f} cycles/packet", file=sys.stderr)
print(json.dumps({"peer": "ovs", "mpps": round(tx / secs / 1e6, 4), "cyclesPerPacket": round(cpp),
                  "seconds": round(secs, 3), "packets": tx, "notes": notes}))
EOF

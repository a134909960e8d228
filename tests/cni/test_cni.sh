#!/usr/bin/env bash
# kdp-cni as kubelet runs it: CNI_* variables and the network configuration
# on standard input, against the real host-local IPAM plugin
# (/usr/lib/cni/host-local, Debian's containernetworking-plugins), in a node
# namespace of its own (kcni-node) with pods as namespaces (kcni-pod-N).
#
#   a. VERSION lists 1.0.0
#   b. against a real kdp (net_null uplink): 110 ADDs: 110 results per the
#      spec, 110 distinct addresses of the podCIDR, 110 veths and endpoints
#      whose ports are up; every pod pings the next one through kdp; then 110
#      DELs free everything (and kdp never polls a closed port)
#   c. 3 more pods ping each other through kdp
#   d. CHECK passes, and fails with code 102 on a wrong prevResult
#   e. DEL twice for the same container, and DEL of an unknown container
#      with no netns: exit 0, everything released; DEL with kdp unreachable
#      and nothing cached: exit 0, the veth deleted
#   f. errors as CNI JSON with the spec's codes: not JSON (6), no ipam (7),
#      unsupported version (1), CNI_CONTAINERID missing (4), kdp unreachable
#      (11), kdp refusing the endpoint (100, and everything undone)
#   g. cniVersion 0.4.0 gets a 0.4.0 result; the pods' veths keep the
#      kernel's default offloads
#   h. dual stack (the node's podCIDRs of both families, host-local given
#      both): each pod gets an IPv4 /32 and an IPv6 /128 with default routes
#      via kdp's two pod gateways, kdp's endpoint both addresses; the pods
#      ping each other over IPv6 through kdp; CHECK looks at the IPv6
#      address too; DEL releases both; a 0.4.0 result says "version": "6"
#
#   sudo tests/cni/test_cni.sh      (KDP_BUILD=<dir>, default build)
#
# Prints PASS/FAIL per check; the last line is "N passed, M failed". Touches
# no kdp-* namespace (runs beside the lab tests without the lab lock); every
# namespace, veth and process it makes is removed on exit.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
KDP_BUILD=${KDP_BUILD:-build}
[[ $KDP_BUILD == /* ]] || KDP_BUILD=$REPO/$KDP_BUILD
CNI=$KDP_BUILD/cni/kdp-cni
KDP=$KDP_BUILD/src/kdp
CNI_PATH_DIR=${CNI_PATH_DIR:-/usr/lib/cni}
DIR=$(mktemp -d /tmp/kdp-cni-test.XXXXXX)
NODE=kcni-node
CIDR=172.20.1.0/24
PASSED=0
FAILED=0
PIDS=()
NSS=()

pass() { PASSED=$((PASSED + 1)); printf 'PASS  %s\n' "$1"; shift; local l; for l in "$@"; do printf '        %s\n' "$l"; done; }
fail() { FAILED=$((FAILED + 1)); printf 'FAIL  %s\n' "$1"; shift; local l; for l in "$@"; do printf '        %s\n' "$l"; done; }
verdict() { local ok=$1; shift; if [[ $ok == 0 ]]; then pass "$@"; else fail "$@"; fi; }

cleanup() {
	local pid ns
	for pid in "${PIDS[@]}"; do
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	for ns in "${NSS[@]}"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "/var/run/dpdk/kdp-cni-test-$$" "$DIR"
	printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
	exit $((FAILED == 0 ? 0 : 1))
}
trap cleanup EXIT
trap 'exit 130' INT TERM

netns() { ip netns add "$1" && NSS+=("$1"); }

# conf SOCKET [VERSION] [EXTRA-JSON]: a network configuration.
conf() {
	/usr/bin/python3 - "$1" "${2:-1.0.0}" "${3:-}" "$DIR" <<'PY'
import json, sys
sock, ver, extra, d = sys.argv[1:5]
c = {"cniVersion": ver, "name": "kdp", "type": "kdp-cni", "kdpSocket": sock,
     "cacheDir": d + "/cache", "ipam": {"type": "host-local", "dataDir": d + "/ipam"}}
c.update(json.loads(extra or "{}"))
print(json.dumps(c))
PY
}

# cni COMMAND CONTAINER NETNS POD CONF: runs kdp-cni in the node namespace,
# output in OUT, exit status in RC.
OUT='' RC=0
cni() {
	OUT=$(ip netns exec "$NODE" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin CNI_COMMAND="$1" \
		CNI_CONTAINERID="$2" CNI_NETNS="$3" CNI_IFNAME=eth0 CNI_PATH="$CNI_PATH_DIR" \
		CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=$4" "$CNI" <<<"$5" 2>&1)
	RC=$?
}

# code: the "code" of the CNI error JSON in OUT, or "none".
code() { /usr/bin/python3 -c 'import json,sys
try: print(json.loads(sys.stdin.read())["code"])
except Exception: print("none")' <<<"$OUT"; }

veths() { ip -n "$NODE" -o link show type veth 2>/dev/null | grep -c ' lxc'; }
# cni_host_name CONTAINER IFNAME: the host side's name kdp-cni gives (lxc +
# 12 hex digits of FNV-1a 64 over "CONTAINER/IFNAME", its top 48 bits).
cni_host_name() {
	/usr/bin/python3 -c 'import sys
h = 0xcbf29ce484222325
for b in (sys.argv[1] + "/" + sys.argv[2]).encode():
    h = ((h ^ b) * 0x100000001b3) % 2**64
print("lxc%012x" % (h >> 16))' "$1" "$2"
}
ipam_files() { find "$DIR/ipam" -type f -name '172.*' 2>/dev/null | wc -l; }
api() { curl -s --max-time 5 --unix-socket "$1" -X "${3:-GET}" ${4:+-d "$4"} "http://kdp$2"; }

if [[ $(id -u) -ne 0 ]]; then
	fail "setup: must run as root"
	exit 1
fi
for f in "$CNI" "$KDP" "$CNI_PATH_DIR/host-local"; do
	[[ -x $f ]] || { fail "setup: $f missing (tools/build.sh; apt-get install containernetworking-plugins)"; exit 1; }
done
netns "$NODE" || { fail "setup: ip netns add $NODE"; exit 1; }
ip -n "$NODE" link set lo up

# ---------------------------------------------------------------- a
OUT=$(env -i CNI_COMMAND=VERSION "$CNI" </dev/null)
grep -q '"1.0.0"' <<<"$OUT"
verdict $? "a. VERSION: supportedVersions has 1.0.0" "$(tr -d ' \n' <<<"$OUT")"

# ---------------------------------------------------------------- b
SOCK=$DIR/kdp.sock
cat >"$DIR/kdp.json" <<EOF
{"name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": "192.168.10.200",
 "uplink": {"devargs": "net_null0,no-rx=1"}, "nativeRoutingCIDR": "172.20.0.0/16",
 "nodeIPv6": "fd00:10::100/64", "gatewayIPv6": "fd00:10::200", "nativeRoutingCIDRv6": "fd00:20::/48",
 "controlSocket": "$SOCK", "stateFile": "$DIR/state.json", "flowStateFile": "",
 "allowedDrivers": ["net_null", "net_kdp_afp"],
 "eal": ["--no-pci", "--no-huge", "-m", "1024", "--file-prefix=kdp-cni-test-$$", "--no-shconf",
         "--no-telemetry", "--log-level=lib.*:error"]}
EOF
ip netns exec "$NODE" "$KDP" --config "$DIR/kdp.json" >"$DIR/kdp.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do api "$SOCK" /v1/status >/dev/null 2>&1 && break; sleep 0.2; done
api "$SOCK" /v1/nodes/k8s-ctr PUT '{"ip":"192.168.10.100","podCIDRs":["'$CIDR'"]}' >/dev/null
C=$(conf "$SOCK")
bad=0 t0=$(date +%s.%N)
: >"$DIR/results"
for i in $(seq 1 110); do
	netns "kcni-pod-$i" || { bad=$((bad + 1)); continue; }
	cni ADD "c$i" "/run/netns/kcni-pod-$i" "pod-$i" "$C"
	if ((RC != 0)); then
		bad=$((bad + 1))
		[[ $bad == 1 ]] && first_bad="pod-$i: $OUT"
	fi
	tr -d '\n' <<<"$OUT" >>"$DIR/results"
	echo >>"$DIR/results"
done
t1=$(date +%s.%N)
summary=$(/usr/bin/python3 - "$DIR/results" "$CIDR" <<'PY'
import ipaddress, json, re, sys
net = ipaddress.ip_network(sys.argv[2])
ips, hosts, problems = set(), set(), []
for n, line in enumerate(open(sys.argv[1]), 1):
    try:
        r = json.loads(line)
        assert r["cniVersion"] == "1.0.0"
        host, pod = r["interfaces"]
        assert re.fullmatch(r"lxc[0-9a-f]{12}", host["name"]) and "sandbox" not in host
        assert pod["name"] == "eth0" and pod["sandbox"].startswith("/run/netns/kcni-pod-")
        assert re.fullmatch(r"([0-9a-f]{2}:){5}[0-9a-f]{2}", pod["mac"])
        (ip,) = r["ips"]
        assert ip["interface"] == 1 and ip["gateway"] == "169.254.1.1" and "version" not in ip
        a = ipaddress.ip_interface(ip["address"])
        assert a.network.prefixlen == 32 and a.ip in net
        assert r["routes"] == [{"dst": "0.0.0.0/0", "gw": "169.254.1.1"}]
        ips.add(str(a.ip)); hosts.add(host["name"])
    except Exception as e:
        problems.append("result %d: %r" % (n, e))
print("%d results, %d distinct addresses, %d distinct host veths%s" %
      (n, len(ips), len(hosts), ("; " + problems[0]) if problems else ""))
sys.exit(1 if problems or len(ips) != 110 or len(hosts) != 110 else 0)
PY
)
ok=$?
((bad == 0)) || ok=1
verdict $ok "b1. 110 ADDs: exit 0, results per the spec (interfaces, ips in $CIDR, routes)" \
	"$summary; $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s for 110 (each: host-local, veth, netlink, kdp)" ${first_bad:+"$first_bad"}
neps=$(api "$SOCK" /v1/endpoints | /usr/bin/python3 -c 'import json,sys; e=json.load(sys.stdin); print(len(e), len({x["devargs"] for x in e}), all(x["devargs"].startswith("net_kdp_afp,iface=lxc") for x in e), sum((x.get("port") or {}).get("state") == "up" for x in e))')
nv=$(veths) nf=$(ipam_files)
[[ $neps == "110 110 True 110" && $nv == 110 && $nf == 110 ]]
verdict $? "b2. 110 veths in the node, 110 addresses held by host-local, 110 endpoints registered in kdp (net_kdp_afp,iface=lxc...), their ports up" \
	"veths $nv, host-local files $nf, endpoints/distinct devargs/all net_kdp_afp/ports up: $neps"
# Every pod pings the next one (pod-110 pings pod-1), 22 at a time.
for i in $(seq 1 110); do
	ip -n "kcni-pod-$i" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1 >"$DIR/ip.$i"
done
: >"$DIR/pings"
batch=()
for i in $(seq 1 110); do
	n=$((i % 110 + 1))
	( out=$(ip netns exec "kcni-pod-$i" ping -c 3 -i 0.3 -W 3 "$(cat "$DIR/ip.$n")" 2>&1)
	  echo "$i $n $(grep -oE '[0-9]+ received' <<<"$out" | cut -d' ' -f1)" >>"$DIR/pings" ) &
	batch+=($!)
	if ((i % 22 == 0)); then
		wait "${batch[@]}" # not kdp, also a child
		batch=()
	fi
done
lost=$(awk '$3 != 3 {n++} END {print n + 0}' "$DIR/pings")
replies=$(awk '{s += $3} END {print s + 0}' "$DIR/pings")
first=$(awk '$3 != 3 {print "pod-" $1 " -> pod-" $2 ": " ($3 == "" ? 0 : $3) " of 3 answered"; exit}' "$DIR/pings")
[[ $(wc -l <"$DIR/pings") == 110 && $lost == 0 ]]
verdict $? "b3. each of the 110 pods pings the next one through kdp: 3 of 3 answered" \
	"$(wc -l <"$DIR/pings") pods pinged, $replies of 330 echo replies, $lost with a loss" ${first:+"$first"}
bad=0
for i in $(seq 1 110); do
	cni DEL "c$i" "/run/netns/kcni-pod-$i" "pod-$i" "$C"
	((RC == 0)) || bad=$((bad + 1))
done
neps=$(api "$SOCK" /v1/endpoints | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
notready=$(grep -c 'not ready port' "$DIR/kdp.log")
nv=$(veths) nf=$(ipam_files)
[[ $bad == 0 && $neps == 0 && $nv == 0 && $nf == 0 && $notready == 0 ]]
verdict $? "b4. 110 DELs: exit 0; no veth, no address, no endpoint left; kdp never polled a closed port" \
	"failed DELs $bad, veths $nv, host-local files $nf, endpoints $neps, 'not ready port' lines in kdp's log $notready"
for i in $(seq 1 110); do ip netns del "kcni-pod-$i" 2>/dev/null; done

# ---------------------------------------------------------------- c
C=$(conf "$SOCK")
bad=''
for i in 1 2 3; do
	netns "kcni-k$i"
	cni ADD "k$i" "/run/netns/kcni-k$i" "kpod-$i" "$C"
	((RC == 0)) || bad+="kpod-$i: $OUT "
done
ip_of() { ip -n "kcni-k$1" -4 -o addr show dev eth0 | awk '{print $4}' | cut -d/ -f1; }
P1=$(ip_of 1) P2=$(ip_of 2) P3=$(ip_of 3)
eps=$(api "$SOCK" /v1/endpoints | /usr/bin/python3 -c 'import json,sys; print(" ".join("%s=%s/%s" % (e["name"], e["ip"], (e.get("port") or {}).get("state")) for e in json.load(sys.stdin)))')
[[ -z $bad && $eps == *"kpod-1=$P1/up"* && $eps == *"kpod-3=$P3/up"* ]]
verdict $? "c1. 3 ADDs against kdp: endpoints registered, their ports up" "$eps" ${bad:+"$bad"}
ping_ok() {
	local out
	ip netns exec "kcni-k$1" ping -c 1 -W 2 "$2" >/dev/null 2>&1 # the first waits for ARP
	out=$(ip netns exec "kcni-k$1" ping -c 3 -i 0.2 -W 2 "$2" 2>&1)
	verdict $? "$3" "$(grep -E 'packets transmitted' <<<"$out")"
}
ping_ok 1 "$P2" "c2. kpod-1 ($P1) pings kpod-2 ($P2) through kdp"
ping_ok 3 "$P1" "c3. kpod-3 ($P3) pings kpod-1 ($P1) through kdp"
route=$(ip -n kcni-k1 route show default)
[[ $route == "default via 169.254.1.1 dev eth0 onlink"* ]]
verdict $? "c4. the pod's default route is via kdp's pod gateway, on-link" "$route"

# ---------------------------------------------------------------- d
R1=$(/usr/bin/python3 -c 'import json,sys; c=json.loads(sys.argv[1]); c["prevResult"]={"cniVersion":"1.0.0","ips":[{"address":sys.argv[2]+"/32"}]}; print(json.dumps(c))' "$C" "$P1")
cni CHECK k1 /run/netns/kcni-k1 kpod-1 "$R1"
[[ $RC == 0 && -z $OUT ]]
verdict $? "d1. CHECK of kpod-1: exit 0, nothing printed" "exit $RC ${OUT:0:200}"
R1=$(/usr/bin/python3 -c 'import json,sys; c=json.loads(sys.argv[1]); c["prevResult"]={"cniVersion":"1.0.0","ips":[{"address":"172.20.1.250/32"}]}; print(json.dumps(c))' "$C")
cni CHECK k1 /run/netns/kcni-k1 kpod-1 "$R1"
[[ $RC != 0 && $(code) == 102 ]]
verdict $? "d2. CHECK with another address in prevResult: CNI error 102" "$(tr -d '\n' <<<"$OUT" | cut -c1-200)"

# ---------------------------------------------------------------- e
cni DEL k3 /run/netns/kcni-k3 kpod-3 "$C"
rc1=$RC out1=$OUT
cni DEL k3 /run/netns/kcni-k3 kpod-3 "$C"
rc2=$RC
eps=$(api "$SOCK" /v1/endpoints | /usr/bin/python3 -c 'import json,sys; print(",".join(e["name"] for e in json.load(sys.stdin)))')
held=$(grep -l '^k3' "$DIR"/ipam/kdp/172.* 2>/dev/null | wc -l)
[[ $rc1 == 0 && $rc2 == 0 && $eps != *kpod-3* && $(veths) == 2 && $held == 0 ]]
verdict $? "e1. DEL twice for kpod-3: exit 0 both times; its endpoint, veth and address are gone" \
	"exits $rc1 $rc2 ${out1:0:100}; endpoints now: $eps; veths $(veths); addresses held for k3: $held"
cni DEL no-such-container /run/netns/kcni-none ghost "$C"
verdict "$RC" "e2. DEL of an unknown container whose netns does not exist: exit 0" "exit $RC ${OUT:0:200}"
ip netns exec kcni-k2 ping -c 2 -i 0.2 -W 2 "$P1" >/dev/null 2>&1
verdict $? "e3. the others still ping after the DELs (kpod-2 -> kpod-1)"
# A DEL for an ADD that failed before the IPAM plugin answered (nothing
# cached) while kdp is down: kubelet would retry it until kdp is back.
netns kcni-e4
e4host=$(cni_host_name e4 eth0)
ip -n "$NODE" link add "$e4host" type veth peer name eth0 netns kcni-e4
had=$(ip -n "$NODE" -o link show "$e4host" 2>/dev/null | wc -l)
cni DEL e4 /run/netns/kcni-e4 e4pod "$(conf "$DIR/nothing.sock")"
[[ $had == 1 && $RC == 0 && $OUT == *"no address released"* && -z $(ip -n "$NODE" -o link show "$e4host" 2>/dev/null) ]]
verdict $? "e4. DEL with kdp unreachable and no IPAM configuration cached: exit 0, the veth deleted, why no address was released on stderr" \
	"exit $RC ${OUT:0:200}"

# ---------------------------------------------------------------- f
netns kcni-bad
check_err() { # DESC WANT-CODE: OUT and RC from the last cni call
	local c
	c=$(code)
	[[ $RC != 0 && $c == "$2" ]]
	verdict $? "$1" "exit $RC, code $c: $(tr -d '\n' <<<"$OUT" | tr -s ' ' | cut -c1-220)"
}
cni ADD b1 /run/netns/kcni-bad bad 'not json'
check_err "f1. a configuration that is not JSON: error 6" 6
cni ADD b1 /run/netns/kcni-bad bad '{"cniVersion":"1.0.0","name":"kdp","type":"kdp-cni"}'
check_err "f2. no ipam section: error 7 (invalid network config)" 7
cni ADD b1 /run/netns/kcni-bad bad "$(conf "$SOCK" 2.0.0)"
check_err "f3. cniVersion 2.0.0: error 1 (incompatible version)" 1
OUT=$(ip netns exec "$NODE" env -i CNI_COMMAND=ADD CNI_NETNS=/run/netns/kcni-bad CNI_IFNAME=eth0 \
	CNI_PATH="$CNI_PATH_DIR" "$CNI" <<<"$C" 2>&1)
RC=$?
check_err "f4. CNI_CONTAINERID missing: error 4 (invalid environment)" 4
cni ADD b1 /run/netns/kcni-bad bad "$(conf "$DIR/nothing.sock")"
check_err "f5. kdp not reachable: error 11 (try again later)" 11
before=$(ipam_files)
cni ADD b2 /run/netns/kcni-bad bad "$(conf "$SOCK" 1.0.0 '{"driver": "net_ring"}')"
check_err "f6. kdp refuses the endpoint (driver not allowed): error 100 with kdp's reason" 100
[[ $(veths) == 2 && $(ipam_files) == "$before" && -z $(ip -n kcni-bad -o link show eth0 2>/dev/null) ]]
verdict $? "f7. ... and the ADD was undone: no veth, address released" \
	"veths $(veths) (2 pods), host-local files $(ipam_files) (before $before)"

# ---------------------------------------------------------------- g
netns kcni-old
cni ADD o1 /run/netns/kcni-old oldpod "$(conf "$SOCK" 0.4.0)"
grep -q '"cniVersion": "0.4.0"' <<<"$OUT" && grep -q '"version": "4"' <<<"$OUT"
verdict $? "g1. cniVersion 0.4.0: a 0.4.0 result (ips with version 4)" "exit $RC $(tr -d '\n ' <<<"$OUT" | cut -c1-160)"
cni DEL o1 /run/netns/kcni-old oldpod "$(conf "$SOCK" 0.4.0)"
off=$(ip netns exec kcni-k1 ethtool -k eth0 2>/dev/null | grep -E '^(tx-checksumming|tcp-segmentation-offload|generic-segmentation-offload):' | tr -s ' \n' ' ')
[[ $off == *"tx-checksumming: on"* && $off == *"generic-segmentation-offload: on"* ]]
verdict $? "g2. the pod's veth keeps the kernel's default offloads" "$off"

# ---------------------------------------------------------------- h
CIDR6=fd00:20:0:1::/64
api "$SOCK" /v1/nodes/k8s-ctr PUT '{"ip":"192.168.10.100","ips":["192.168.10.100","fd00:10::100"],"podCIDRs":["'$CIDR'","'$CIDR6'"]}' >/dev/null
C=$(conf "$SOCK")
bad=''
for i in 1 2; do
	netns "kcni-d$i"
	cni ADD "d$i" "/run/netns/kcni-d$i" "dpod-$i" "$C"
	((RC == 0)) || bad+="dpod-$i: $OUT "
	tr -d '\n' <<<"$OUT" >"$DIR/dual.$i"
done
summary=$(/usr/bin/python3 - "$DIR/dual.1" "$DIR/dual.2" "$CIDR" "$CIDR6" <<'PY'
import ipaddress, json, sys
n4, n6 = ipaddress.ip_network(sys.argv[3]), ipaddress.ip_network(sys.argv[4])
out = []
for f in sys.argv[1:3]:
    r = json.load(open(f))
    a4, a6 = (ipaddress.ip_interface(i["address"]) for i in r["ips"])
    assert [(i["gateway"], i["interface"]) for i in r["ips"]] == [("169.254.1.1", 1), ("fe80::1", 1)], r["ips"]
    assert a4.network.prefixlen == 32 and a4.ip in n4 and a6.network.prefixlen == 128 and a6.ip in n6, r["ips"]
    assert r["routes"] == [{"dst": "0.0.0.0/0", "gw": "169.254.1.1"}, {"dst": "::/0", "gw": "fe80::1"}], r["routes"]
    out.append("%s %s" % (a4.ip, a6.ip))
print(" ".join(out))
PY
)
ok=$?
[[ -z $bad ]] || ok=1
read -r D1 D16 D2 D26 <<<"$summary"
verdict $ok "h1. dual stack: each ADD's result has an IPv4 /32 and an IPv6 /128 of the podCIDRs, routes via 169.254.1.1 and fe80::1" \
	"${summary:0:300}" ${bad:+"${bad:0:300}"}
have6=$(ip -n kcni-d1 -6 -o addr show dev eth0 scope global)
route6=$(ip -n kcni-d1 -6 route show default)
[[ $(awk '{print $4}' <<<"$have6") == "$D16/128" && $have6 == *nodad* && $route6 == "default via fe80::1 dev eth0"* ]]
verdict $? "h2. in the pod: $D16/128 on eth0 without DAD (usable at once), IPv6 default route via fe80::1" \
	"address: $(tr -s ' ' <<<"$have6" | cut -c1-160); route: $route6"
eps=$(api "$SOCK" /v1/endpoints | /usr/bin/python3 -c 'import json,sys; print(" ".join("%s=%s/%s" % (e["name"], ",".join(e.get("ips") or [e["ip"]]), (e.get("port") or {}).get("state")) for e in json.load(sys.stdin) if e["name"].startswith("dpod-")))')
[[ $eps == *"dpod-1=$D1,$D16/up"* && $eps == *"dpod-2=$D2,$D26/up"* ]]
verdict $? "h3. kdp's endpoints have both addresses, their ports up" "$eps"
ip netns exec kcni-d1 ping -6 -c 1 -W 2 "$D26" >/dev/null 2>&1 # the first waits for ND
out=$(ip netns exec kcni-d1 ping -6 -c 3 -i 0.2 -W 2 "$D26" 2>&1)
grep -q "3 packets transmitted, 3 received" <<<"$out"
verdict $? "h4. dpod-1 ($D16) pings dpod-2 ($D26) over IPv6 through kdp: 3 of 3 answered" "$(grep -E 'packets transmitted' <<<"$out")"
R1=$(/usr/bin/python3 -c 'import json,sys; c=json.loads(sys.argv[1]); c["prevResult"]=json.load(open(sys.argv[2])); print(json.dumps(c))' "$C" "$DIR/dual.1")
cni CHECK d1 /run/netns/kcni-d1 dpod-1 "$R1"
rc1=$RC out1=$OUT
R1=$(/usr/bin/python3 -c 'import json,sys; c=json.loads(sys.argv[1]); r=json.load(open(sys.argv[2])); r["ips"][1]["address"]="fd00:20:0:1::fff/128"; c["prevResult"]=r; print(json.dumps(c))' "$C" "$DIR/dual.1")
cni CHECK d1 /run/netns/kcni-d1 dpod-1 "$R1"
[[ $rc1 == 0 && -z $out1 && $RC != 0 && $(code) == 102 && $OUT == *"fd00:20:0:1::fff"* ]]
verdict $? "h5. CHECK of dpod-1 with its result: exit 0; with another IPv6 address: error 102 naming it" \
	"exit $rc1 ${out1:0:120}; then exit $RC $(tr -d '\n' <<<"$OUT" | tr -s ' ' | cut -c1-200)"
bad=0
for i in 1 2; do
	cni DEL "d$i" "/run/netns/kcni-d$i" "dpod-$i" "$C"
	((RC == 0)) || bad=$((bad + 1))
done
held6=$(find "$DIR/ipam" -type f -name 'fd00*' 2>/dev/null | wc -l)
eps=$(api "$SOCK" /v1/endpoints | /usr/bin/python3 -c 'import json,sys; print("endpoints:" + ",".join(e["name"] for e in json.load(sys.stdin)))')
[[ $bad == 0 && $held6 == 0 && $eps == endpoints:* && $eps != *dpod-* ]]
verdict $? "h6. DEL of both: exit 0; no IPv6 address left with host-local, no endpoint" \
	"failed DELs $bad, IPv6 addresses held $held6, endpoints: $eps"
# A 0.4.0 configuration: the IPv6 entry of the result says "version": "6".
netns kcni-d3
cni ADD d3 /run/netns/kcni-d3 dpod-3 "$(conf "$SOCK" 0.4.0)"
v=$(/usr/bin/python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print(" ".join(i["version"] + ":" + i["address"].split("/")[1] for i in r["ips"]))' <<<"$OUT" 2>&1)
cni DEL d3 /run/netns/kcni-d3 dpod-3 "$(conf "$SOCK" 0.4.0)"
[[ $v == "4:32 6:128" && $RC == 0 ]]
verdict $? "h7. dual stack with cniVersion 0.4.0: ips with version 4 (/32) and 6 (/128); DEL exit 0" "ips: $v; DEL exit $RC"
# A global IPv6 pod gateway (podGatewayIPv6 in the configuration): the route
# is on-link, as the IPv4 one (the pod has no other route to it).
netns kcni-d4
G4=$(conf "$SOCK" 1.0.0 '{"podGatewayIPv6": "fd00:20:0:1::1"}')
cni ADD d4 /run/netns/kcni-d4 dpod-4 "$G4"
rc1=$RC out1=$OUT
route6=$(ip -n kcni-d4 -6 route show default)
cni DEL d4 /run/netns/kcni-d4 dpod-4 "$G4"
[[ $rc1 == 0 && $route6 == "default via fd00:20:0:1::1 dev eth0"*onlink* && $RC == 0 ]]
verdict $? "h8. podGatewayIPv6 fd00:20:0:1::1 (not link-local): ADD exit 0, the pod's IPv6 default route via it on-link" \
	"ADD exit $rc1 $(tr -d '\n' <<<"$out1" | cut -c1-160); route: $route6; DEL exit $RC"

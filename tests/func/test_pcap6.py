#!/usr/bin/python3
"""Functional test of IPv6: crafted packets in through net_pcap ports, the
output pcaps checked field by field, on a dual-stack copy of node k8s-ctr
(the IPv6 side of the reference lab):

  uplink   net_pcap   fd00:10::100/64, gateway fe80::c8 (the router's link-local)
  curl-pod net_pcap   172.20.1.236, fd00:20:0:1::236
  webpod   net_pcap   172.20.1.40,  fd00:20:0:1::40

Neighbour discovery on each port role, native routing to a remote pod,
ICMPv6 errors (hop limit, packet too big) and echo from the pods' gateway
fe80::1, the API views with IPv6 (routes, neighbours, status, nodes,
endpoints, metrics) and bad IPv6 input refused with 400 naming the field.
Usage: test_pcap6.py <path to kdp>
"""
import json
import os
from ipaddress import IPv6Address
import subprocess
import sys
import tempfile

from scapy.all import TCP, Ether, Raw, UDP, rdpcap, wrpcap
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoReply, ICMPv6EchoRequest,
                                ICMPv6ND_NA, ICMPv6ND_NS, ICMPv6NDOptDstLLAddr,
                                ICMPv6NDOptSrcLLAddr, ICMPv6PacketTooBig, ICMPv6TimeExceeded,
                                IPv6, IPerror6, UDPerror)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pcap import api, check, finish, run_kdp  # noqa: E402
from test_security import request  # noqa: E402

KDP_MAC, W1_MAC, ROUTER_MAC = "02:00:00:00:00:64", "02:00:00:00:00:65", "02:00:00:00:00:c8"
CURL_MAC, WEB_MAC = "02:00:ac:14:01:ec", "02:00:ac:14:01:28"
NODE6, W1_6, GW6 = "fd00:10::100", "fd00:10::101", "fe80::c8"
CURL6, WEB6, REMOTE_WEB6 = "fd00:20:0:1::236", "fd00:20:0:1::40", "fd00:20::130"
CURL_LL, POD_GW6 = "fe80::1:236", "fe80::1"
VIP6, EMPTY6, DNS6, NODELOCAL6 = "fd00:96::98d4", "fd00:96::99", "fd00:96::a", "fd00:20:0:1::13"
NODELOCAL_MAC = "02:00:ac:14:01:0d"
# An IPv6 addressMatcher policy's address, as given (not canonical) and as printed.
LRP6_IN, LRP6 = "FD00:DEAD:BEEF:0:0:0:0:A", "fd00:dead:beef::a"
KDPCTL = os.path.join(os.path.dirname(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")),
                      "..", "tools", "kdpctl", "kdpctl")


def sol_mcast(addr):
    """Solicited-node multicast address and MAC of an IPv6 address."""
    raw = IPv6Address(addr).packed
    return (str(IPv6Address(bytes.fromhex("ff0200000000000000000001ff") + raw[13:])),
            "33:33:ff:" + ":".join(f"{x:02x}" for x in raw[13:]))


def ns(src_mac, src, target, dst_mac=None, dst=None):
    sn, smac = sol_mcast(target)
    return (Ether(src=src_mac, dst=dst_mac or smac) / IPv6(src=src, dst=dst or sn, hlim=255)
            / ICMPv6ND_NS(tgt=target) / ICMPv6NDOptSrcLLAddr(lladdr=src_mac))


def icmp6_ok(pkt):
    """Recomputes the ICMPv6/UDP checksum with scapy and compares."""
    ip = IPv6(bytes(pkt[IPv6]))
    layer = ip.payload
    got = layer.cksum if hasattr(layer, "cksum") else layer.chksum
    if hasattr(layer, "cksum"):
        del layer.cksum
        return IPv6(bytes(ip)).payload.cksum == got
    del layer.chksum
    return IPv6(bytes(ip)).payload.chksum == got


def main():
    kdp = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-func6-")
    p = lambda n: os.path.join(d, n)  # noqa: E731

    uplink_in = [
        # k8s-w1 asks for the node's IPv6 address: answered, and learnt.
        ns(W1_MAC, W1_6, NODE6),
        # It asks again from its link-local address.
        ns(W1_MAC, "fe80::65", NODE6),
        # A solicitation for someone else: ignored.
        ns(W1_MAC, W1_6, "fd00:10::77"),
        # The remote webpod answers curl-pod across the LAN.
        Ether(src=W1_MAC, dst=KDP_MAC) / IPv6(src=REMOTE_WEB6, dst=CURL6, hlim=63, fl=11)
        / ICMPv6EchoReply(id=7, seq=1, data=b"x" * 32),
    ]
    curl_in = [
        # curl-pod resolves its gateway fe80::1, as its default route says.
        ns(CURL_MAC, CURL_LL, POD_GW6),
        # Its own address (duplicate address detection): never answered.
        Ether(src=CURL_MAC, dst="33:33:ff:00:02:36") / IPv6(src="::", dst="ff02::1:ff00:236", hlim=255)
        / ICMPv6ND_NS(tgt=CURL6),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=REMOTE_WEB6, fl=1)
        / ICMPv6EchoRequest(id=7, seq=1, data=b"a" * 56),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=WEB6, fl=2) / UDP(sport=40000, dport=80)
        / Raw(b"hello webpod"),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=REMOTE_WEB6, hlim=1, fl=3)
        / UDP(sport=33434, dport=33435) / Raw(b"trace"),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL_LL, dst=POD_GW6, fl=4)
        / ICMPv6EchoRequest(id=9, seq=4, data=b"gw"),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=REMOTE_WEB6, fl=5)
        / UDP(sport=40001, dport=9) / Raw(b"B" * 1600),
        # Off the cluster: via the gateway, resolved by a solicitation to fe80::c8.
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst="2001:db8::8", fl=6)
        / UDP(sport=40002, dport=53) / Raw(b"query"),
        # A spoofed source.
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src="fd00:20:0:1::99", dst=REMOTE_WEB6) / UDP(),
        # Masqueraded: to a LAN host that is no node (it waits for ND).
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst="fd00:10::77", fl=8)
        / UDP(sport=40005, dport=53) / Raw(b"q"),
        # Services: a connection to the IPv6 ClusterIP (DNAT to webpod:8080).
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=VIP6, fl=20)
        / TCP(sport=41000, dport=80, flags="S", seq=1000),
        # UDP to it: the backend answers with port unreachable (translated back).
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=VIP6, fl=21)
        / UDP(sport=47000, dport=5353) / Raw(b"u"),
        # A service without backends: RST and port unreachable from its address.
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=EMPTY6, fl=22)
        / TCP(sport=48000, dport=80, flags="S", seq=777),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=EMPTY6, fl=23)
        / UDP(sport=48001, dport=53) / Raw(b"q"),
        # DNS to kube-dns over IPv6: redirected to the node-local pod.
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=DNS6, fl=24)
        / UDP(sport=45000, dport=53) / Raw(b"dnsq"),
        # DNS to the IPv6 addressMatcher policy's address: to the node-local pod's port 5300.
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=LRP6, fl=26)
        / UDP(sport=45001, dport=53) / Raw(b"dnsq6"),
        # Unknown port of the IPv6 service range.
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst="fd00:96::1", fl=25) / UDP(dport=9),
    ]
    web_in = [
        # The router's advertisement for its link-local address comes later
        # on the uplink; the webpod here only pings the node's IPv6 address
        # (kdp hands it to the host tap when there is one; here there is none).
        Ether(src=WEB_MAC, dst=KDP_MAC) / IPv6(src=WEB6, dst=NODE6, fl=7)
        / ICMPv6EchoRequest(id=5, seq=2, data=b"node"),
        # The backend answers the SYN, and refuses the datagram.
        Ether(src=WEB_MAC, dst=KDP_MAC) / IPv6(src=WEB6, dst=CURL6, fl=30)
        / TCP(sport=8080, dport=41000, flags="SA", seq=5000, ack=1001),
        Ether(src=WEB_MAC, dst=KDP_MAC) / IPv6(src=WEB6, dst=CURL6, fl=31) / ICMPv6DestUnreach(code=4)
        / IPv6(src=CURL6, dst=WEB6, fl=21, hlim=63) / UDP(sport=47000, dport=5353, len=9) / Raw(b"u"),
    ]
    wrpcap(p("uplink_in.pcap"), uplink_in)
    wrpcap(p("curl_in.pcap"), curl_in)
    wrpcap(p("web_in.pcap"), web_in)
    nl_in = [
        # The node-local pod answers the redirected query (translated back).
        Ether(src=NODELOCAL_MAC, dst=KDP_MAC) / IPv6(src=NODELOCAL6, dst=CURL6, fl=27)
        / UDP(sport=5300, dport=45001) / Raw(b"dnsa6"),
    ]
    wrpcap(p("nl_in.pcap"), nl_in)
    cfg = {
        "name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": "192.168.10.200",
        "nodeIPv6": "fd00:10::100/64", "gatewayIPv6": GW6, "nativeRoutingCIDRv6": "fd00:20::/48",
        "serviceCIDRv6": "fd00:96::/112",
        "uplink": {"devargs": f"net_pcap0,rx_pcap={p('uplink_in.pcap')},tx_pcap={p('uplink_out.pcap')}",
                   "mac": KDP_MAC},
        "nativeRoutingCIDR": "172.20.0.0/16",
        "allowedDrivers": ["net_pcap", "net_null"], "workers": 1, "pollMode": "adaptive",
        "controlSocket": p("kdp.sock"), "stateFile": p("state.json"), "flowStateFile": "",
        "eal": ["--no-pci", "--no-huge", "-m", "1024", f"--file-prefix=kdp-func6-{os.getpid()}",
                "--no-telemetry", "--log-level=lib.*:error"],
    }
    state = {
        "nodes": [{"name": "k8s-ctr", "ip": "192.168.10.100", "ips": ["192.168.10.100", NODE6],
                   "podCIDRs": ["172.20.1.0/24", "fd00:20:0:1::/64"]},
                  {"name": "k8s-w1", "ip": "192.168.10.101", "ips": ["192.168.10.101", W1_6],
                   "podCIDRs": ["172.20.0.0/24", "fd00:20::/64"]}],
        "endpoints": [
            {"namespace": "default", "name": "curl-pod", "ip": "172.20.1.236",
             "ips": ["172.20.1.236", CURL6], "mac": CURL_MAC,
             "devargs": f"net_pcap,rx_pcap={p('curl_in.pcap')},tx_pcap={p('curl_out.pcap')}"},
            {"namespace": "default", "name": "webpod", "ip": "172.20.1.40", "ips": ["172.20.1.40", WEB6],
             "mac": WEB_MAC,
             "devargs": f"net_pcap,rx_pcap={p('web_in.pcap')},tx_pcap={p('web_out.pcap')}"},
            {"namespace": "kube-system", "name": "node-local-dns-x", "ip": "172.20.1.13",
             "ips": ["172.20.1.13", NODELOCAL6], "mac": NODELOCAL_MAC, "labels": {"k8s-app": "node-local-dns"},
             "devargs": f"net_pcap,rx_pcap={p('nl_in.pcap')},tx_pcap={p('nl_out.pcap')}"},
        ],
        "services": [
            {"namespace": "default", "name": "webpod", "type": "ClusterIP", "clusterIP": "10.96.152.212",
             "clusterIPs": ["10.96.152.212", VIP6], "ipFamilies": ["IPv4", "IPv6"],
             "ipFamilyPolicy": "RequireDualStack",
             "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                       {"name": "mdns", "protocol": "UDP", "port": 5353}],
             "backends": [{"ip": "172.20.1.40"}, {"ip": WEB6}]},
            {"namespace": "default", "name": "empty6", "clusterIP": EMPTY6, "ipFamilies": ["IPv6"],
             "ports": [{"name": "http", "protocol": "TCP", "port": 80}, {"name": "dns", "protocol": "UDP", "port": 53}]},
            {"namespace": "kube-system", "name": "kube-dns", "clusterIP": "10.96.0.10",
             "clusterIPs": ["10.96.0.10", DNS6],
             "ports": [{"name": "dns", "protocol": "UDP", "port": 53}, {"name": "dns-tcp", "protocol": "TCP", "port": 53}],
             "backends": [{"ip": "172.20.0.186"}, {"ip": "fd00:20::186"}]},
        ],
        "localRedirectPolicies": [
            {"namespace": "kube-system", "name": "nodelocaldns",
             "redirectFrontend": {"serviceMatcher": {"serviceName": "kube-dns", "namespace": "kube-system"}},
             "redirectBackend": {"localEndpointSelector": {"matchLabels": {"k8s-app": "node-local-dns"}},
                                 "toPorts": [{"port": "53", "name": "dns", "protocol": "UDP"},
                                             {"port": "53", "name": "dns-tcp", "protocol": "TCP"}]}},
            {"namespace": "kube-system", "name": "nodelocaldns6",
             "redirectFrontend": {"addressMatcher": {"ip": LRP6_IN, "toPorts": [
                 {"port": "53", "name": "dns", "protocol": "UDP"},
                 {"port": "53", "name": "dns-tcp", "protocol": "TCP"}]}},
             "redirectBackend": {"localEndpointSelector": {"matchLabels": {"k8s-app": "node-local-dns"}},
                                 "toPorts": [{"port": "5300", "name": "dns", "protocol": "UDP"},
                                             {"port": "5300", "name": "dns-tcp", "protocol": "TCP"}]}},
        ],
    }
    with open(p("kdp.json"), "w") as f:
        json.dump(cfg, f)
    with open(p("state.json"), "w") as f:
        json.dump(state, f)

    sock = p("kdp.sock")

    def lrp6(ip, port=53, proto="UDP"):
        return {"redirectFrontend": {"addressMatcher": {"ip": ip, "toPorts": [
                    {"port": str(port), "name": "dns", "protocol": proto}]}},
                "redirectBackend": {"localEndpointSelector": {"matchLabels": {"k8s-app": "node-local-dns"}},
                                    "toPorts": [{"port": "53", "name": "dns", "protocol": proto}]}}

    def collect():
        """While kdp runs: an endpoint added with its IPv6 address, the
        API views and the refusals."""
        out = {}
        body = json.dumps({"ip": "172.20.1.50", "ips": ["172.20.1.50", "fd00:20:0:1::50"],
                           "mac": "02:00:ac:14:01:32", "devargs": "net_null7"})
        out["put_ep"] = request(sock, "PUT", "/v1/endpoints/default/gw-feeder", body.encode())
        for path in ("/v1/routes", "/v1/neighbours", "/v1/status", "/v1/nodes", "/v1/endpoints",
                     "/v1/nat", "/v1/ct", "/v1/ipmasq", "/v1/services/default/webpod", "/v1/lrp",
                     "/v1/lrp/kube-system/nodelocaldns6", "/v1/services"):
            out[path] = api(sock, path)
        out["metrics"] = request(sock, "GET", "/metrics")[1].decode()
        out["kdpctl"] = {}
        for cmd in (["service", "list"], ["lrp", "get", "kube-system/nodelocaldns6"]):
            r = subprocess.run([KDPCTL, "-s", sock] + cmd, capture_output=True, text=True, timeout=30)
            out["kdpctl"][" ".join(cmd)] = (r.returncode, r.stdout + r.stderr)
        bad = {
            "services clusterIPs: two IPv4": ("/v1/services/default/x", {
                "clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5", "10.96.0.6"], "ports": [{"port": 80}]}),
            "services clusterIPs: not clusterIP": ("/v1/services/default/x", {
                "clusterIP": "10.96.0.5", "clusterIPs": ["fd00:96::5"], "ports": [{"port": 80}]}),
            "services clusterIPs: outside serviceCIDRv6": ("/v1/services/default/x", {
                "clusterIPs": ["fd00:97::5"], "ports": [{"port": 80}]}),
            "services ipFamilies: mismatch": ("/v1/services/default/x", {
                "clusterIPs": ["10.96.0.5", "fd00:96::5"], "ipFamilies": ["IPv6", "IPv4"], "ports": [{"port": 80}]}),
            "services ipFamilyPolicy: SingleStack with two": ("/v1/services/default/x", {
                "clusterIPs": ["10.96.0.5", "fd00:96::5"], "ipFamilyPolicy": "SingleStack", "ports": [{"port": 80}]}),
            "services ipFamilyPolicy: RequireDualStack with one": ("/v1/services/default/x", {
                "clusterIP": "fd00:96::5", "ipFamilyPolicy": "RequireDualStack", "ports": [{"port": 80}]}),
            "services backends: bad IPv6": ("/v1/services/default/x", {
                "clusterIP": "fd00:96::5", "ports": [{"port": 80}], "backends": [{"ip": "fd00:20::1::2"}]}),
            "services: IPv6 frontend taken": ("/v1/services/default/x", {
                "clusterIP": VIP6, "ports": [{"name": "http", "protocol": "TCP", "port": 80}]}),
            "nodes ips: not an address": ("/v1/nodes/k8s-w2", {"ip": "192.168.10.102",
                                                               "ips": ["192.168.10.102", "fd00:10::zz"],
                                                               "podCIDRs": []}),
            "nodes ips: two IPv6": ("/v1/nodes/k8s-w2", {"ip": "192.168.10.102",
                                                         "ips": ["fd00:10::102", "fd00:10::103"],
                                                         "podCIDRs": []}),
            "nodes ips: IPv4 not ip": ("/v1/nodes/k8s-w2", {"ip": "192.168.10.102",
                                                            "ips": ["192.168.10.103", "fd00:10::102"],
                                                            "podCIDRs": []}),
            "nodes podCIDRs: IPv6 host bits": ("/v1/nodes/k8s-w2", {"ip": "192.168.10.102",
                                                                    "ips": ["192.168.10.102", "fd00:10::102"],
                                                                    "podCIDRs": ["fd00:20:0:2::1/64"]}),
            "nodes podCIDRs: IPv6 overlap": ("/v1/nodes/k8s-w2", {"ip": "192.168.10.102",
                                                                  "ips": ["192.168.10.102", "fd00:10::102"],
                                                                  "podCIDRs": ["fd00:20::/63"]}),
            "nodes podCIDRs: IPv6 without an IPv6 address": ("/v1/nodes/k8s-w2", {
                "ip": "192.168.10.102", "podCIDRs": ["fd00:20:0:2::/64"]}),
            "nodes ips: this node's IPv6": ("/v1/nodes/k8s-w2", {"ip": "192.168.10.102",
                                                                 "ips": ["192.168.10.102", NODE6],
                                                                 "podCIDRs": []}),
            "endpoints ips: link-local": ("/v1/endpoints/default/x", {
                "ip": "172.20.1.51", "ips": ["172.20.1.51", "fe80::51"], "mac": "02:00:00:00:00:51",
                "devargs": "net_null1"}),
            "endpoints ips: taken": ("/v1/endpoints/default/x", {
                "ip": "172.20.1.51", "ips": ["172.20.1.51", CURL6], "mac": "02:00:00:00:00:51",
                "devargs": "net_null1"}),
            "lrp addressMatcher: not a host IPv6": ("/v1/lrp/kube-system/x", lrp6("ff02::1")),
            "lrp addressMatcher: bad IPv6": ("/v1/lrp/kube-system/x", lrp6("fd00:dead::beef::1")),
            "lrp addressMatcher: link-local IPv6": ("/v1/lrp/kube-system/x", lrp6("fe80::a")),
            "lrp addressMatcher: an IPv6 service frontend": ("/v1/lrp/kube-system/x", lrp6(VIP6, 80, "TCP")),
            "lrp addressMatcher: IPv6 address taken": ("/v1/lrp/kube-system/x", lrp6("fd00:dead:beef:0::a", 54)),
        }
        out["bad"] = {}
        for name, (path, obj) in bad.items():
            out["bad"][name] = request(sock, "PUT", path, json.dumps(obj).encode())
        out["nodes_after"] = api(sock, "/v1/nodes")
        return out

    want_rx = len(uplink_in) + len(curl_in) + len(web_in) + len(nl_in)
    stats, rc, got = run_kdp(kdp, d, want_rx, collect)
    check("kdp started and read every input packet",
          stats is not None and stats["totals"]["rxPackets"] >= want_rx, f"stats={stats and stats['totals']}")
    check("kdp exits 0 on SIGTERM", rc == 0, f"rc={rc}")
    if stats is None or got is None:
        print(open(p("kdp.log")).read()[-3000:])
        return finish(d)
    drops = {x["reason"]: x["packets"] for x in stats["drops"]}
    for reason, n in [("spoofed_source", 1), ("ttl_exceeded", 1), ("pkt_too_big", 1), ("nd_ignored", 2)]:
        check(f"drop counter {reason} == {n}", drops.get(reason) == n, f"got {drops.get(reason)}")

    up = rdpcap(p("uplink_out.pcap"))
    curl = rdpcap(p("curl_out.pcap"))
    web = rdpcap(p("web_out.pcap"))

    # Uplink: advertisements for the node's IPv6, the remote echo, the solicitation for the gateway.
    na = [x for x in up if ICMPv6ND_NA in x]
    for who, mac, ip in (("k8s-w1", W1_MAC, W1_6), ("k8s-w1's link-local address", W1_MAC, "fe80::65")):
        a = [x for x in na if x[IPv6].dst == ip]
        check(f"uplink: NA {NODE6} to {who}: solicited, override, router, kdp's MAC, hop limit 255",
              len(a) == 1 and a[0][ICMPv6ND_NA].tgt == NODE6 and a[0][IPv6].src == NODE6
              and a[0][ICMPv6ND_NA].S == 1 and a[0][ICMPv6ND_NA].O == 1 and a[0][ICMPv6ND_NA].R == 1
              and a[0][ICMPv6NDOptDstLLAddr].lladdr == KDP_MAC and a[0][Ether].dst == mac
              and a[0][Ether].src == KDP_MAC and a[0][IPv6].hlim == 255 and icmp6_ok(a[0]), repr(a))
    check("uplink: no advertisement for someone else's address",
          not [x for x in na if x[ICMPv6ND_NA].tgt == "fd00:10::77"])
    echo = [x for x in up if IPv6 in x and x[IPv6].fl == 1]
    check("uplink: curl-pod -> fd00:20::130 leaves once, to k8s-w1's MAC (learnt from its NS)",
          len(echo) == 1 and echo[0][Ether].dst == W1_MAC and echo[0][Ether].src == KDP_MAC, repr(echo))
    if echo:
        e = echo[0]
        check("uplink: source kept fd00:20:0:1::236 (no masquerade, no tunnel)",
              e[IPv6].src == CURL6 and e[IPv6].dst == REMOTE_WEB6 and e[Ether].type == 0x86DD
              and e[IPv6].nh == 58)
        check("uplink: hop limit 64 -> 63, ICMPv6 checksum valid, payload intact",
              e[IPv6].hlim == 63 and icmp6_ok(e) and e[ICMPv6EchoRequest].data == b"a" * 56)
    sol = [x for x in up if ICMPv6ND_NS in x and x[ICMPv6ND_NS].tgt == GW6]
    check("uplink: kdp solicits its gateway fe80::c8 at its solicited-node address, from the node's IPv6",
          len(sol) >= 1 and sol[0][IPv6].dst == "ff02::1:ff00:c8" and sol[0][Ether].dst == "33:33:ff:00:00:c8"
          and sol[0][IPv6].src == NODE6 and sol[0][IPv6].hlim == 255
          and sol[0][ICMPv6NDOptSrcLLAddr].lladdr == KDP_MAC and icmp6_ok(sol[0]), repr(sol[:1]))
    check("uplink: the packet to 2001:db8::8 waits for the gateway's answer",
          not [x for x in up if IPv6 in x and x[IPv6].fl == 6])

    # curl-pod port.
    na = [x for x in curl if ICMPv6ND_NA in x]
    check("curl-pod: NA for its gateway fe80::1 with kdp's MAC, router flag, to its link-local",
          len(na) == 1 and na[0][ICMPv6ND_NA].tgt == POD_GW6 and na[0][IPv6].src == POD_GW6
          and na[0][IPv6].dst == CURL_LL and na[0][ICMPv6ND_NA].R == 1
          and na[0][ICMPv6NDOptDstLLAddr].lladdr == KDP_MAC and na[0][Ether].dst == CURL_MAC
          and icmp6_ok(na[0]), repr(na))
    gw = [x for x in curl if ICMPv6EchoReply in x and x[IPv6].src == POD_GW6]
    check("curl-pod: echo reply from fe80::1 with the same id/seq/data",
          len(gw) == 1 and gw[0][IPv6].dst == CURL_LL and gw[0][ICMPv6EchoReply].id == 9
          and gw[0][ICMPv6EchoReply].seq == 4 and gw[0][ICMPv6EchoReply].data == b"gw" and icmp6_ok(gw[0]),
          repr(gw))
    te = [x for x in curl if ICMPv6TimeExceeded in x]
    check("curl-pod: ICMPv6 time exceeded from the node's IPv6, quoting the datagram",
          len(te) == 1 and te[0][IPv6].src == NODE6 and te[0][IPv6].dst == CURL6
          and te[0][IPerror6].src == CURL6 and te[0][IPerror6].dst == REMOTE_WEB6
          and te[0][IPerror6].hlim == 1 and te[0][UDPerror].sport == 33434 and icmp6_ok(te[0]), repr(te))
    ptb = [x for x in curl if ICMPv6PacketTooBig in x]
    check("curl-pod: packet too big (MTU 1500) for the 1648-byte datagram, quote cut at 1280 bytes",
          len(ptb) == 1 and ptb[0][ICMPv6PacketTooBig].mtu == 1500 and ptb[0][IPv6].src == NODE6
          and len(bytes(ptb[0][IPv6])) == 1280 and ptb[0][IPerror6].fl == 5 and icmp6_ok(ptb[0]), repr(ptb))
    back = [x for x in curl if IPv6 in x and x[IPv6].fl == 11]
    check("curl-pod: the remote reply delivered with the pod's MAC, hop limit 62",
          len(back) == 1 and back[0][Ether].dst == CURL_MAC and back[0][IPv6].hlim == 62, repr(back))
    check("curl-pod: its duplicate address detection went unanswered",
          not [x for x in curl if ICMPv6ND_NA in x and x[ICMPv6ND_NA].tgt == CURL6])
    check("spoofed IPv6 packet forwarded nowhere",
          not [x for x in up + web if IPv6 in x and x[IPv6].src == "fd00:20:0:1::99"])
    udp = [x for x in web if IPv6 in x and x[IPv6].fl == 2]
    check("webpod: UDP from curl-pod delivered, hop limit 63, UDP checksum valid",
          len(udp) == 1 and udp[0][Ether].dst == WEB_MAC and udp[0][IPv6].hlim == 63
          and udp[0][UDP].dport == 80 and icmp6_ok(udp[0]), repr(udp))
    node = [x for x in web if ICMPv6EchoReply in x and x[IPv6].src == NODE6]
    check("webpod: kdp answers ping to the node's IPv6 (no host tap)",
          len(node) == 1 and node[0][IPv6].dst == WEB6 and icmp6_ok(node[0]), repr(node))

    # The API.
    check("PUT of an endpoint with an IPv6 address: 200 created", got["put_ep"][0] == 200
          and b"created" in got["put_ep"][1], str(got["put_ep"]))
    routes = {r["prefix"]: r for r in got["/v1/routes"]}
    for pfx, typ, nh, tgt in [("::/0", "gateway", GW6, None), ("fd00:10::/64", "connected", None, None),
                              ("fd00:20::/64", "remote-node", W1_6, "k8s-w1"),
                              ("fd00:20:0:1::/64", "local-podcidr", None, "k8s-ctr"),
                              (CURL6 + "/128", "endpoint", None, "default/curl-pod"),
                              (NODE6 + "/128", "local", None, "k8s-ctr"),
                              ("fe80::1/128", "local", None, "pod-gateway"),
                              ("fd00:20:0:1::50/128", "endpoint", None, "default/gw-feeder")]:
        r = routes.get(pfx)
        check(f"GET /v1/routes: {pfx} {typ}", r is not None and r["type"] == typ and r["nexthop"] == nh
              and r.get("target") == tgt, str(r))
    check("GET /v1/routes: IPv4 routes first, IPv6 most specific first",
          got["/v1/routes"][0]["prefix"].count(".") == 3 and got["/v1/routes"][-1]["prefix"] == "::/0")
    neigh = {n["ip"]: n for n in got["/v1/neighbours"]}
    for ip, mac in ((W1_6, W1_MAC), ("fe80::65", W1_MAC)):
        n = neigh.get(ip)
        check(f"GET /v1/neighbours: {ip} reachable at {mac} on the uplink",
              n is not None and n["mac"] == mac and n["state"] == "reachable" and n["port"] == "uplink", str(n))
    n = neigh.get(GW6)
    check("GET /v1/neighbours: the gateway fe80::c8 incomplete (solicited, no answer yet; fd00:10::77 too)",
          n is not None and n["mac"] is None and n["state"] == "incomplete", str(n))
    st = got["/v1/status"]
    check("GET /v1/status: nodeIPv6, gatewayIPv6, podGatewayIPv6, nativeRoutingCIDRv6, IPv6 counts",
          st.get("nodeIPv6") == "fd00:10::100/64" and st.get("gatewayIPv6") == GW6
          and st.get("podGatewayIPv6") == POD_GW6 and st.get("nativeRoutingCIDRv6") == "fd00:20::/48"
          and st["counts"].get("routesIPv6") == len([r for r in routes if ":" in r])
          and st["counts"].get("neighboursIPv6") == 4, json.dumps(st)[:400])
    nodes = {n["name"]: n for n in got["/v1/nodes"]}
    check("GET /v1/nodes: ips and both families of podCIDRs as given",
          nodes["k8s-w1"].get("ips") == ["192.168.10.101", W1_6]
          and nodes["k8s-w1"]["podCIDRs"] == ["172.20.0.0/24", "fd00:20::/64"], str(nodes.get("k8s-w1")))
    eps = {e["name"]: e for e in got["/v1/endpoints"]}
    check("GET /v1/endpoints: ips of curl-pod", eps["curl-pod"].get("ips") == ["172.20.1.236", CURL6],
          str(eps.get("curl-pod")))
    m = got["metrics"]
    nr6 = len([r for r in routes if ":" in r])
    check("/metrics: kdp_routes and kdp_neighbours by family",
          f'kdp_routes{{family="ipv6"}} {nr6}' in m and 'kdp_neighbours{family="ipv6"} 4' in m,
          [x for x in m.splitlines() if x.startswith(("kdp_routes", "kdp_neighbours"))])
    want_err = {
        "nodes ips: not an address": "ips[1]: not an IPv4 or IPv6 address",
        "nodes ips: two IPv6": "ips[1]: a second IPv6 address",
        "nodes ips: IPv4 not ip": "ips[0]: 192.168.10.103 is not ip 192.168.10.102",
        "nodes podCIDRs: IPv6 host bits": "podCIDRs[0]: not an IPv6 CIDR (like fd00:20::/64, host bits zero)",
        "nodes podCIDRs: IPv6 overlap":
            "nodes[k8s-w2]: podCIDRs: fd00:20::/63 overlaps fd00:20:0:1::/64 of node k8s-ctr",
        "nodes podCIDRs: IPv6 without an IPv6 address":
            "podCIDRs[0]: an IPv6 podCIDR needs the node's IPv6 address in ips",
        "nodes ips: this node's IPv6": "nodes[k8s-w2]: ips: fd00:10::100 is this node's IPv6",
        "endpoints ips: link-local": "ips[1]: not a global unicast IPv6 address",
        "endpoints ips: taken": "endpoints[default/x]: ips: fd00:20:0:1::236 already belongs to default/curl-pod",
        "services clusterIPs: two IPv4": "clusterIPs[1]: a second IPv4 address (one per family)",
        "services clusterIPs: not clusterIP": "clusterIPs[0]: 'fd00:96::5' is not clusterIP 10.96.0.5",
        "services clusterIPs: outside serviceCIDRv6":
            "clusterIPs[0]: fd00:97::5 is outside serviceCIDRv6 fd00:96::/112",
        "services ipFamilies: mismatch": "ipFamilies[0]: IPv6 does not match the family of clusterIPs[0]",
        "services ipFamilyPolicy: SingleStack with two": "ipFamilyPolicy: SingleStack with two families",
        "services ipFamilyPolicy: RequireDualStack with one": "ipFamilyPolicy: RequireDualStack with one family",
        "services backends: bad IPv6": "backends[0].ip: not a global unicast IPv6 address",
        "services: IPv6 frontend taken":
            "services[default/x]: frontend [fd00:96::98d4]:80/TCP is already default/webpod's",
        "lrp addressMatcher: not a host IPv6": "redirectFrontend.addressMatcher.ip: not a global unicast IPv6 address",
        "lrp addressMatcher: bad IPv6": "redirectFrontend.addressMatcher.ip: not an IPv6 address",
        "lrp addressMatcher: link-local IPv6": "redirectFrontend.addressMatcher.ip: not a global unicast IPv6 address",
        "lrp addressMatcher: an IPv6 service frontend":
            "localRedirectPolicies[kube-system/x]: its address [fd00:96::98d4]:80 is service default/webpod's frontend",
        "lrp addressMatcher: IPv6 address taken":
            "localRedirectPolicies[kube-system/x]: address already redirected by kube-system/nodelocaldns6",
    }
    for name, (status, body) in got["bad"].items():
        try:
            msg = json.loads(body).get("error", "")
        except ValueError:
            msg = body.decode(errors="replace")
        check(f"400 naming the field: {name}", status == 400 and msg.startswith(want_err[name]),
              f"{status} {msg}")
    nat = got["/v1/nat"]
    check("GET /v1/nat: the masqueraded IPv6 flow, out and in",
          {"protocol": "UDP", "direction": "OUT", "src": f"[{CURL6}]:40005", "dst": "[fd00:10::77]:53",
           "xlate": "XLATE_SRC", "to": f"[{NODE6}]:40005"} in [{k: v for k, v in x.items() if k != "ageSeconds"}
                                                            for x in nat]
          and any(x["direction"] == "IN" and x["src"] == "[fd00:10::77]:53" and x["to"] == f"[{CURL6}]:40005"
                  for x in nat), json.dumps(nat))
    ct = got["/v1/ct"]
    check("GET /v1/ct: IPv6 entries counted and listed",
          ct.get("entriesIPv6") == 6 and ct.get("capacityIPv6") == 65536
          and any(f["original"]["src"] == f"[{CURL6}]:40005" and f["reply"]["dst"] == f"[{NODE6}]:40005"
                  and "snat" in f["flags"] for f in ct["flows"]), json.dumps(ct)[:600])
    pfx = {(x["prefix"], x["reason"]) for x in got["/v1/ipmasq"]["nonMasquerade"]}
    check("GET /v1/ipmasq: the IPv6 non-masquerade prefixes (native CIDR, nodes)",
          {("fd00:20::/48", "native-routing-cidr"), (f"{NODE6}/128", "node-ip"),
           (f"{W1_6}/128", "node-ip")} <= pfx, str(pfx))
    check("/metrics: conntrack entries by family",
          'kdp_conntrack_entries{family="ipv6"} 6' in m, [x for x in m.splitlines() if "conntrack_entries" in x])
    # Services over IPv6.
    syn = [x for x in web if TCP in x and x[IPv6].fl == 20]
    check("service: SYN to [fd00:96::98d4]:80 reaches webpod at [fd00:20:0:1::40]:8080, TCP checksum valid",
          len(syn) == 1 and syn[0][IPv6].dst == WEB6 and syn[0][TCP].dport == 8080 and syn[0][IPv6].src == CURL6
          and syn[0][TCP].sport == 41000 and syn[0][Ether].dst == WEB_MAC and icmp6_ok(syn[0]), repr(syn))
    sa = [x for x in curl if TCP in x and x[IPv6].fl == 30]
    check("service: the SYN-ACK reaches curl-pod from [fd00:96::98d4]:80 (reverse NAT), checksum valid",
          len(sa) == 1 and sa[0][IPv6].src == VIP6 and sa[0][TCP].sport == 80 and sa[0][TCP].dport == 41000
          and sa[0][TCP].ack == 1001 and icmp6_ok(sa[0]), repr(sa))
    err = [x for x in curl if ICMPv6DestUnreach in x and x[IPv6].fl == 31]
    check("ICMPv6 error from the backend about a DNATed flow: curl-pod sees it from the ClusterIP, "
          "quoting its own datagram to [fd00:96::98d4]:5353, checksums valid",
          len(err) == 1 and err[0][IPv6].src == VIP6 and err[0][IPv6].dst == CURL6
          and err[0][IPerror6].src == CURL6 and err[0][IPerror6].dst == VIP6
          and err[0][UDPerror].sport == 47000 and err[0][UDPerror].dport == 5353 and icmp6_ok(err[0]), repr(err))
    rst = [x for x in curl if TCP in x and x[IPv6].src == EMPTY6]
    check("reject: SYN to an IPv6 service without backends gets RST+ACK from [fd00:96::99]:80",
          len(rst) == 1 and rst[0][TCP].flags == "RA" and rst[0][TCP].ack == 778 and icmp6_ok(rst[0]), repr(rst))
    unr = [x for x in curl if ICMPv6DestUnreach in x and x[IPv6].src == EMPTY6]
    check("reject: UDP to it gets ICMPv6 port unreachable from fd00:96::99 quoting the datagram",
          len(unr) == 1 and unr[0][ICMPv6DestUnreach].code == 4 and unr[0][IPerror6].fl == 23
          and icmp6_ok(unr[0]), repr(unr))
    nl = rdpcap(p("nl_out.pcap"))
    q = [x for x in nl if IPv6 in x and x[IPv6].fl == 24]
    check("local redirect: DNS to [fd00:96::a]:53 goes to the node-local pod [fd00:20:0:1::13]:53",
          len(q) == 1 and q[0][IPv6].dst == NODELOCAL6 and q[0][UDP].dport == 53
          and q[0][Ether].dst == NODELOCAL_MAC and icmp6_ok(q[0]), repr(q))
    check("local redirect: nothing to CoreDNS on the other node",
          not [x for x in up if IPv6 in x and x[IPv6].fl == 24])
    q = [x for x in nl if IPv6 in x and x[IPv6].fl == 26]
    check(f"local redirect (IPv6 addressMatcher): [{LRP6}]:53/UDP goes to the node-local pod "
          f"[{NODELOCAL6}]:5300, source kept, checksum valid",
          len(q) == 1 and q[0][IPv6].dst == NODELOCAL6 and q[0][UDP].dport == 5300 and q[0][IPv6].src == CURL6
          and q[0][UDP].sport == 45001 and q[0][Ether].dst == NODELOCAL_MAC and icmp6_ok(q[0]), repr(q))
    a = [x for x in curl if IPv6 in x and x[IPv6].fl == 27]
    check(f"local redirect (IPv6 addressMatcher): the answer reaches curl-pod from [{LRP6}]:53, checksum valid",
          len(a) == 1 and a[0][IPv6].src == LRP6 and a[0][UDP].sport == 53 and a[0][UDP].dport == 45001
          and a[0][IPv6].dst == CURL6 and icmp6_ok(a[0]), repr(a))
    check("local redirect (IPv6 addressMatcher): nothing on the uplink",
          not [x for x in up if IPv6 in x and x[IPv6].fl in (26, 27)])
    lv = got["/v1/lrp/kube-system/nodelocaldns6"]
    check("GET /v1/lrp/kube-system/nodelocaldns6: the IPv6 address canonical, active, its two frontends "
          "and the node-local pod's IPv6 address on port 5300",
          lv.get("redirectFrontend", {}).get("addressMatcher", {}).get("ip") == LRP6
          and lv.get("frontend", {}).get("type") == "addressMatcher" and lv["frontend"].get("ip") == LRP6
          and lv.get("active") is True
          and sorted(lv.get("frontends", [])) == [f"[{LRP6}]:53/TCP", f"[{LRP6}]:53/UDP"]
          and sorted(lv.get("backends", []), key=lambda b: b["address"]) == [
              {"address": f"[{NODELOCAL6}]:5300/TCP", "endpoint": "kube-system/node-local-dns-x"},
              {"address": f"[{NODELOCAL6}]:5300/UDP", "endpoint": "kube-system/node-local-dns-x"}],
          json.dumps(lv)[:800])
    check("GET /v1/lrp lists both policies",
          sorted(x["name"] for x in got["/v1/lrp"]) == ["nodelocaldns", "nodelocaldns6"],
          json.dumps(got["/v1/lrp"])[:400])
    lfe = [x for x in got["/v1/services"] if x.get("kind") == "LocalRedirectPolicy"]
    check("GET /v1/services: the IPv6 addressMatcher policy's frontends, LocalRedirect, to the local pod",
          len(lfe) == 1 and lfe[0]["name"] == "nodelocaldns6"
          and sorted((f["frontend"], f["type"], f["service"], f["backends"][0]["address"], len(f["backends"]))
                     for f in lfe[0]["frontends"]) == [
              (f"[{LRP6}]:53/TCP", "LocalRedirect", "kube-system/nodelocaldns6", f"[{NODELOCAL6}]:5300/TCP", 1),
              (f"[{LRP6}]:53/UDP", "LocalRedirect", "kube-system/nodelocaldns6", f"[{NODELOCAL6}]:5300/UDP", 1)],
          json.dumps(lfe)[:800])
    rc, out = got["kdpctl"]["service list"]
    check(f"kdpctl service list: [{LRP6}]:53/UDP LocalRedirect to [{NODELOCAL6}]:5300",
          rc == 0 and any(f"[{LRP6}]:53/UDP" in x and "LocalRedirect" in x for x in out.splitlines())
          and f"[{NODELOCAL6}]:5300" in out, out[-1500:])
    rc, out = got["kdpctl"]["lrp get kube-system/nodelocaldns6"]
    check(f"kdpctl lrp get: addressMatcher, address {LRP6}, active",
          rc == 0 and "addressMatcher" in out and LRP6 in out and LRP6_IN not in out, out[-1500:])
    for reason, n in [("svc_no_backend", 2), ("svc_unknown", 1)]:
        check(f"drop counter {reason} == {n}", drops.get(reason) == n, f"got {drops.get(reason)}")
    sv = got["/v1/services/default/webpod"]
    fes = {f["frontend"]: f for f in sv.get("frontends", [])}
    check("GET /v1/services/default/webpod: clusterIPs, ipFamilies, ipFamilyPolicy, both backends, IPv6 frontends",
          sv.get("clusterIPs") == ["10.96.152.212", VIP6] and sv.get("ipFamilies") == ["IPv4", "IPv6"]
          and sv.get("ipFamilyPolicy") == "RequireDualStack"
          and [b["ip"] for b in sv["backends"]] == ["172.20.1.40", WEB6]
          and fes.get(f"[{VIP6}]:80/TCP", {}).get("backends", [{}])[0].get("address") == f"[{WEB6}]:8080/TCP"
          and fes.get("10.96.152.212:80/TCP", {}).get("backends", [{}])[0].get("address") == "172.20.1.40:8080/TCP"
          and len(fes) == 4, json.dumps(sv)[:800])
    check("refused updates changed nothing", [n["name"] for n in got["nodes_after"]] == ["k8s-ctr", "k8s-w1"])
    return finish(d)


if __name__ == "__main__":
    sys.exit(main())

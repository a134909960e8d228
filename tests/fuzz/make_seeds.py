#!/usr/bin/python3
"""Writes the seed corpora of the fuzz targets: the frames and request bodies
the functional and unit tests use (run once; the seeds are committed)."""
import json
import os

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr,
                                IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                                IPv6ExtHdrSegmentRouting)

HERE = os.path.dirname(os.path.abspath(__file__))
K, P = "02:00:00:00:00:64", "02:00:00:00:00:65"


def write(kind, name, data):
    os.makedirs(os.path.join(HERE, "corpus", kind), exist_ok=True)
    with open(os.path.join(HERE, "corpus", kind, name), "wb") as f:
        f.write(data)


frames = {
    "pod_to_remote_pod": (1, Ether(src=P, dst=K) / IP(src="172.20.1.236", dst="172.20.0.130") / ICMP()),
    "pod_to_clusterip": (1, Ether(src=P, dst=K) / IP(src="172.20.1.236", dst="10.96.152.212") / TCP(sport=40000, dport=80, flags="S")),
    "pod_to_router_udp": (1, Ether(src=P, dst=K) / IP(src="172.20.1.236", dst="192.168.10.200") / UDP(sport=40001, dport=53) / Raw(b"q")),
    "reply_to_node": (0, Ether(src=P, dst=K) / IP(src="192.168.10.200", dst="192.168.10.100") / UDP(sport=53, dport=40001)),
    "icmp_error": (0, Ether(src=P, dst=K) / IP(src="192.168.10.200", dst="192.168.10.100") / ICMP(type=3, code=3)
                   / IP(src="192.168.10.100", dst="192.168.10.200") / UDP(sport=40001, dport=53)),
    "arp_request": (0, Ether(src=P, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=P, psrc="192.168.10.101", pdst="192.168.10.100")),
    "ttl1": (1, Ether(src=P, dst=K) / IP(src="172.20.1.236", dst="172.20.0.130", ttl=1) / UDP()),
    "gw_echo": (1, Ether(src=P, dst=K) / IP(src="172.20.1.236", dst="169.254.1.1") / ICMP()),
    "fragment": (1, Ether(src=P, dst=K) / IP(src="172.20.1.236", dst="172.20.0.130", frag=185) / Raw(b"x" * 20)),
    "host_out": (2, Ether(src=P, dst=K) / IP(src="192.168.10.100", dst="192.168.10.101") / TCP(dport=22)),
}
C6, R6 = "fd00:20:0:1::236", "fd00:20::130"
frames.update({
    "v6_pod_to_remote_pod": (1, Ether(src=P, dst=K) / IPv6(src=C6, dst=R6) / ICMPv6EchoRequest()),
    "v6_pod_to_router_udp": (1, Ether(src=P, dst=K) / IPv6(src=C6, dst="fd00:10::200") / UDP(sport=40001, dport=53)),
    "v6_tcp_syn": (1, Ether(src=P, dst=K) / IPv6(src=C6, dst=R6) / TCP(sport=40000, dport=80, flags="S")),
    "v6_ext_chain": (1, Ether(src=P, dst=K) / IPv6(src=C6, dst=R6) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt()
                     / IPv6ExtHdrSegmentRouting(addresses=[R6], segleft=0) / UDP()),
    "v6_fragment": (1, Ether(src=P, dst=K) / IPv6(src=C6, dst=R6) / IPv6ExtHdrFragment(m=1, id=5) / UDP(len=3000)
                    / Raw(b"f" * 16)),
    "v6_later_fragment": (1, Ether(src=P, dst=K) / IPv6(src=C6, dst=R6) / IPv6ExtHdrFragment(offset=10, id=5, nh=17)
                          / Raw(b"g" * 16)),
    "v6_ns_gateway": (1, Ether(src=P, dst="33:33:ff:00:00:01") / IPv6(src="fe80::1:236", dst="ff02::1:ff00:1", hlim=255)
                      / ICMPv6ND_NS(tgt="fe80::1") / ICMPv6NDOptSrcLLAddr(lladdr=P)),
    "v6_gw_echo": (1, Ether(src=P, dst=K) / IPv6(src="fe80::1:236", dst="fe80::1") / ICMPv6EchoRequest()),
    "v6_hlim1": (1, Ether(src=P, dst=K) / IPv6(src=C6, dst=R6, hlim=1) / UDP()),
    "v6_icmp_error": (0, Ether(src=P, dst=K) / IPv6(src="fd00:10::200", dst=C6) / ICMPv6DestUnreach(code=4)
                      / IPv6(src=C6, dst="fd00:10::200") / UDP(sport=40001, dport=53)),
    "v6_host_out": (2, Ether(src=P, dst=K) / IPv6(src="fd00:10::100", dst="fd00:10::101") / TCP(dport=22)),
})
for name, (port, pkt) in frames.items():
    write("packet", name, bytes([port]) + bytes(pkt))


def partial(pkt):
    """Frame bytes with the L4 checksum left as a kernel sender with
    checksum offload leaves it (the pseudo-header sum)."""
    raw = bytearray(bytes(pkt))
    ip = Ether(bytes(raw))[IP]
    at = 34 + (16 if ip.proto == 6 else 6)
    w = bytes(map(int, ip.src.split("."))) + bytes(map(int, ip.dst.split("."))) + \
        bytes([0, ip.proto]) + (ip.len - 20).to_bytes(2, "big")
    s = sum(int.from_bytes(w[i:i + 2], "big") for i in range(0, len(w), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    raw[at:at + 2] = s.to_bytes(2, "big")
    return bytes(raw)


def vnet(flags, gso_type, hdr_len, gso_size, start, off):
    return bytes([flags, gso_type]) + b"".join(v.to_bytes(2, "little") for v in (hdr_len, gso_size, start, off))


# First byte: port | 0x80 partial flag | 0x40 egress offload | 0x20 vnet header follows.
curl = Ether(src=P, dst=K) / IP(src="172.20.1.236", dst="10.96.152.212")
write("packet", "partial_tcp_dnat", bytes([0x81]) + partial(curl / TCP(sport=40000, dport=80, flags="PA") / Raw(b"d" * 200)))
write("packet", "partial_udp_masq_sw", bytes([0x81]) + partial(
    Ether(src=P, dst=K) / IP(src="172.20.1.236", dst="192.168.10.200") / UDP(sport=40001, dport=53) / Raw(b"q" * 40)))
write("packet", "vnet_csum_tcp", bytes([0x21]) + vnet(1, 0, 0, 0, 34, 16) +
      partial(curl / TCP(sport=40000, dport=80, flags="A") / Raw(b"v" * 64)))
write("packet", "vnet_gso_tcp", bytes([0x61]) + vnet(1, 1, 54, 500, 34, 16) +
      partial(curl / TCP(sport=40000, dport=80, flags="PA") / Raw(bytes(range(256)) * 6)))
write("packet", "vnet_gso_udp", bytes([0x21]) + vnet(1, 5, 42, 400, 34, 6) +
      partial(Ether(src=P, dst=K) / IP(src="172.20.1.236", dst="192.168.10.200") / UDP(sport=40002, dport=9) / Raw(b"u" * 1000)))

bodies = {
    "state": (0, {"nodes": [{"name": "k8s-w1", "ip": "192.168.10.101", "podCIDRs": ["172.20.0.0/24"]}],
                  "endpoints": [{"namespace": "default", "name": "curl-pod", "ip": "172.20.1.236",
                                 "mac": "02:00:ac:14:01:ec", "labels": {"app": "curl"},
                                 "devargs": "net_kdp_afp,iface=lxc-curl"}],
                  "services": [{"namespace": "default", "name": "webpod", "type": "NodePort",
                                "clusterIP": "10.96.152.212",
                                "ports": [{"name": "http", "protocol": "TCP", "port": 80, "nodePort": 30080}],
                                "backends": [{"ip": "172.20.1.40"}]}],
                  "ipMasqAgent": {"nonMasqueradeCIDRs": ["10.10.1.0/24"]}}),
    "node": (1, {"ip": "192.168.10.101", "podCIDRs": ["172.20.0.0/24"]}),
    "endpoint": (2, {"ip": "172.20.1.236", "mac": "02:00:ac:14:01:ec", "devargs": "net_tap,iface=x"}),
    "service": (3, {"type": "LoadBalancer", "clusterIP": "10.96.0.10", "loadBalancerIPs": ["192.168.10.210"],
                    "ports": [{"name": "dns", "protocol": "UDP", "port": 53, "nodePort": 30053}],
                    "sessionAffinity": "ClientIP", "algorithm": "maglev",
                    "backends": [{"ip": "172.20.0.186", "state": "terminating"}]}),
    "lrp": (4, {"redirectFrontend": {"addressMatcher": {"ip": "169.254.20.10",
                                                        "toPorts": [{"port": "53", "name": "dns", "protocol": "UDP"}]}},
                "redirectBackend": {"localEndpointSelector": {"matchLabels": {"k8s-app": "node-local-dns"}},
                                    "toPorts": [{"port": "53", "name": "dns", "protocol": "UDP"}]}}),
    "config": (6, {"name": "n", "nodeIP": "10.0.0.1/24", "gateway": "10.0.0.2",
                   "uplink": {"devargs": "net_null0"}, "nativeRoutingCIDR": "172.20.0.0/16",
                   "conntrack": {"maxFlows": 4096}, "natPortRange": "40000-40010"}),
}
bodies.update({
    "node_dual": (1, {"ip": "192.168.10.101", "ips": ["192.168.10.101", "fd00:10::101"],
                      "podCIDRs": ["172.20.0.0/24", "fd00:20::/64"]}),
    "endpoint_dual": (2, {"ip": "172.20.1.236", "ips": ["172.20.1.236", "fd00:20:0:1::236"],
                          "mac": "02:00:ac:14:01:ec", "devargs": "net_tap,iface=x"}),
    "config_dual": (6, {"name": "n", "nodeIP": "10.0.0.1/24", "gateway": "10.0.0.2",
                        "uplink": {"devargs": "net_null0"}, "nativeRoutingCIDR": "172.20.0.0/16",
                        "nodeIPv6": "fd00:10::1/64", "gatewayIPv6": "fe80::2",
                        "podGatewayIPv6": "fe80::1", "nativeRoutingCIDRv6": "fd00:20::/48",
                        "serviceCIDRv6": "fd00:96::/112", "serviceLoopbackIPv6": "fe80::a9fe:2a01"}),
})
for name, (sel, body) in bodies.items():
    write("api", name, bytes([sel]) + json.dumps(body).encode())
write("api", "ipmasq_yaml", bytes([5]) + b"nonMasqueradeCIDRs:\n  - 10.10.1.0/24\nmasqLinkLocal: true\n")
write("api", "ipmasq_json", bytes([5]) + b'{"nonMasqueradeCIDRs": ["10.10.2.0/24"]}')

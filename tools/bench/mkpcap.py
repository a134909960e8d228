#!/usr/bin/python3
"""Writes the benchmark pcaps: 64-byte UDP frames (60 bytes + FCS on the wire)
for one scenario of tools/bench/kdp-bench on a copy of node k8s-ctr, every
frame a distinct 5-tuple, with correct IPv4 and UDP checksums. The IPv6
scenarios' frames are the smallest UDP-over-IPv6 frame: no payload, 62 bytes
(14 + 40 + 8) + FCS = 66 bytes on the wire.

  mkpcap.py SCENARIO FLOWS OUT.pcap
  mkpcap.py arp OUT.pcap          # the LAN neighbours announcing themselves
  mkpcap.py arpnd OUT.pcap        # the same, by ARP and by IPv6 neighbour
                                  # solicitations of the node's IPv6 address

Scenarios (addresses of the reference lab; see tools/bench/README.md):
  routing   curl-pod 172.20.1.236 -> pods 172.20.0.0/24 on k8s-w1 (no NAT)
  dnat      curl-pod -> ClusterIPs 10.96.100.N:80 (one VIP per 60,000 flows)
  nodeport  clients 198.18.0.0/15 -> 192.168.10.100:30080 on the uplink
            (DNAT to a pod on k8s-w1 + SNAT to the node IP)
  masq      curl-pod -> 198.18.0.0/15 (masqueraded to 192.168.10.100)
  routing6  curl-pod fd00:20:0:1::236 -> pods fd00:20::/64 on k8s-w1 (no NAT)
  dnat6     curl-pod -> IPv6 ClusterIPs fd00:96::64NN:80 (one VIP per 60,000
            flows; the IPv6 twins of the dnat scenario's VIPs)
  masq6     curl-pod -> 2001:2::/48 (RFC 5180's benchmark range; masqueraded
            to fd00:10::100)
Written by struct, not scapy: a million frames take seconds, not minutes.
"""
import socket
import struct
import sys

KDP_MAC = bytes.fromhex("020000000100")
CURL_MAC = bytes.fromhex("020000000236")
W1_MAC = bytes.fromhex("020000000101")
ROUTER_MAC = bytes.fromhex("0200000001c8")
CURL = (172, 20, 1, 236)
NODE = (192, 168, 10, 100)
W1 = (192, 168, 10, 101)
ROUTER = (192, 168, 10, 200)
VIP_BASE = (10, 96, 100, 0)
NODEPORT = 30080
PER_VIP = 60000
PAYLOAD = b"kdp-bench-64B....."  # 18 bytes: 14 + 20 + 8 + 18 = 60
# IPv6 (the lab's dual-stack addresses, tools/lab/lib.sh)
CURL6 = "fd00:20:0:1::236"
NODE6 = "fd00:10::100"
W1_6 = "fd00:10::101"
ROUTER6 = "fd00:10::200"
VIP6_BASE = "fd00:96::6400"


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(t):
    return bytes(t)


def udp_frame(smac, dmac, src, dst, sport, dport, ttl=64):
    udp_len = 8 + len(PAYLOAD)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0x4000, ttl, 17, 0,
                     ip4(src), ip4(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    pseudo = ip4(src) + ip4(dst) + struct.pack("!BBH", 0, 17, udp_len)
    udp = struct.pack("!HHHH", sport, dport, udp_len, 0) + PAYLOAD
    c = csum(pseudo + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c) + udp[8:]
    return dmac + smac + b"\x08\x00" + ip + udp


def ip6(a):
    return socket.inet_pton(socket.AF_INET6, a)


def add6(base, i):
    """The IPv6 address base plus i, as a string."""
    v = int.from_bytes(ip6(base), "big") + i
    return socket.inet_ntop(socket.AF_INET6, v.to_bytes(16, "big"))


def udp6_frame(smac, dmac, src, dst, sport, dport, hlim=64):
    """The smallest UDP-over-IPv6 frame: no payload, 62 bytes."""
    s6, d6 = ip6(src), ip6(dst)
    ip = struct.pack("!IHBB", 6 << 28, 8, 17, hlim) + s6 + d6
    udp = struct.pack("!HHHH", sport, dport, 8, 0)
    c = csum(s6 + d6 + struct.pack("!IxxxB", 8, 17) + udp) or 0xFFFF
    udp = udp[:6] + struct.pack("!H", c)
    return dmac + smac + b"\x86\xdd" + ip + udp


def nd_solicit(smac, src, target):
    """A neighbour solicitation of target from src, with its source
    link-layer address option (RFC 4861 4.3), to target's solicited-node
    multicast group."""
    t6 = ip6(target)
    group = ip6("ff02::1:ff00:0")[:13] + t6[13:]
    icmp = struct.pack("!BBHI", 135, 0, 0, 0) + t6 + struct.pack("!BB", 1, 1) + smac
    c = csum(ip6(src) + group + struct.pack("!IxxxB", len(icmp), 58) + icmp)
    icmp = icmp[:2] + struct.pack("!H", c) + icmp[4:]
    ip = struct.pack("!IHBB", 6 << 28, len(icmp), 58, 255) + ip6(src) + group
    return b"\x33\x33" + group[12:] + smac + b"\x86\xdd" + ip + icmp


def arp_request(smac, sip, tip):
    arp = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, smac, ip4(sip), b"\0" * 6, ip4(tip))
    return b"\xff" * 6 + smac + b"\x08\x06" + arp + b"\0" * 18


def addr(base, i):
    """base (a.b.c.d) plus i, as a tuple."""
    v = ((base[0] << 24) | (base[1] << 16) | (base[2] << 8) | base[3]) + i
    return ((v >> 24) & 255, (v >> 16) & 255, (v >> 8) & 255, v & 255)


def frames(scenario, n):
    if scenario == "routing":
        # 254 pods x source ports: (dst, sport) distinct for every i.
        for i in range(n):
            yield udp_frame(CURL_MAC, KDP_MAC, CURL, (172, 20, 0, 1 + i % 254),
                            1024 + i // 254, 5001)
    elif scenario == "dnat":
        for i in range(n):
            yield udp_frame(CURL_MAC, KDP_MAC, CURL, addr(VIP_BASE, 1 + i // PER_VIP),
                            1024 + i % PER_VIP, 80)
    elif scenario == "nodeport":
        yield arp_request(W1_MAC, W1, NODE)
        yield arp_request(ROUTER_MAC, ROUTER, NODE)
        for i in range(n):
            yield udp_frame(ROUTER_MAC, KDP_MAC, addr((198, 18, 0, 0), 1 + i // 50000),
                            NODE, 10000 + i % 50000, NODEPORT)
    elif scenario == "masq":
        for i in range(n):
            yield udp_frame(CURL_MAC, KDP_MAC, CURL, addr((198, 18, 0, 0), 1 + i // 16),
                            32768 + i % 30011, 7000 + i % 16)
    elif scenario == "routing6":
        for i in range(n):
            yield udp6_frame(CURL_MAC, KDP_MAC, CURL6, add6("fd00:20::", 1 + i % 254),
                             1024 + i // 254, 5001)
    elif scenario == "dnat6":
        for i in range(n):
            yield udp6_frame(CURL_MAC, KDP_MAC, CURL6, add6(VIP6_BASE, 1 + i // PER_VIP),
                             1024 + i % PER_VIP, 80)
    elif scenario == "masq6":
        for i in range(n):
            yield udp6_frame(CURL_MAC, KDP_MAC, CURL6, add6("2001:2::", 1 + i // 16),
                             32768 + i % 30011, 7000 + i % 16)
    elif scenario in ("arp", "arpnd"):
        yield arp_request(W1_MAC, W1, NODE)
        yield arp_request(ROUTER_MAC, ROUTER, NODE)
        if scenario == "arpnd":
            yield nd_solicit(W1_MAC, W1_6, NODE6)
            yield nd_solicit(ROUTER_MAC, ROUTER6, NODE6)
    else:
        raise SystemExit(f"mkpcap: unknown scenario {scenario!r}")


def vips(flows):
    """The ClusterIPs the dnat scenario uses for this many flows."""
    return [".".join(map(str, addr(VIP_BASE, 1 + v))) for v in range((flows + PER_VIP - 1) // PER_VIP)]


def vips6(flows):
    """The IPv6 ClusterIPs the dnat6 scenario uses for this many flows."""
    return [add6(VIP6_BASE, 1 + v) for v in range((flows + PER_VIP - 1) // PER_VIP)]


def write(path, it):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        n = 0
        for fr in it:
            f.write(struct.pack("<IIII", 0, 0, len(fr), len(fr)))
            f.write(fr)
            n += 1
    return n


def main():
    if len(sys.argv) == 3 and sys.argv[1] in ("arp", "arpnd"):
        write(sys.argv[2], frames(sys.argv[1], 0))
        return
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    n = write(sys.argv[3], frames(sys.argv[1], int(sys.argv[2])))
    print(f"{sys.argv[3]}: {n} frames")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
"""Bad packets: malformed, odd and hostile frames through net_pcap ports.

Each case is one frame with the drop reason it must be counted under (or
None when it must be forwarded). kdp must count every drop exactly, forward
the rest, and exit 0 on SIGTERM (no crash). Usage: test_badpkts.py <kdp>
"""
import json
import os
import sys
import tempfile

from scapy.all import ICMP, IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap
from scapy.layers.inet6 import (ICMPv6DestUnreach, ICMPv6EchoRequest, ICMPv6ND_NS, ICMPv6ND_RA,
                                IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop,
                                IPv6ExtHdrRouting, IPv6ExtHdrSegmentRouting, ICMPv6NDOptSrcLLAddr)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pcap import check, finish, run_kdp  # noqa: E402

KDP_MAC, W1_MAC, CURL_MAC = "02:00:00:00:00:64", "02:00:00:00:00:65", "02:00:ac:14:01:ec"
CURL, REMOTE, VIP = "172.20.1.236", "172.20.0.130", "10.96.152.212"
CURL6, REMOTE6, NODE6 = "fd00:20:0:1::236", "fd00:20::130", "fd00:10::100"


def ip6(**kw):
    """An IPv6 header from curl-pod to the remote pod; fl identifies forwarded ones."""
    return IPv6(src=kw.pop("src", CURL6), dst=kw.pop("dst", REMOTE6), **kw)


def eth6(pkt, src=CURL_MAC, dst=KDP_MAC):
    return bytes(Ether(src=src, dst=dst) / pkt)


def v6_raw(**kw):
    return bytes(ip6(**kw) / UDP(sport=1000, dport=2000) / Raw(b"x" * 10))


def ip_raw(**kw):
    """An IPv4 packet with a fixed header we may break byte by byte."""
    return bytes(IP(src=CURL, dst=REMOTE, **kw) / UDP(sport=1000, dport=2000) / Raw(b"x" * 10))


def eth(payload, src=CURL_MAC, dst=KDP_MAC, etype=0x0800):
    return bytes(Ether(src=src, dst=dst, type=etype)) + payload


def patch(b, off, val):
    b = bytearray(b)
    b[off] = val
    return bytes(b)


def with_csum(raw_ip):
    """Recomputes the IPv4 header checksum of raw bytes."""
    b = bytearray(raw_ip)
    ihl = (b[0] & 0xF) * 4
    b[10] = b[11] = 0
    s = sum(int.from_bytes(b[i:i + 2], "big") for i in range(0, ihl, 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    c = ~s & 0xFFFF
    b[10], b[11] = c >> 8, c & 0xFF
    return bytes(b)


# (name, port: "curl" or "uplink", frame bytes, expected drop reason or None=forwarded)
cases = [
    ("runt frame", "curl", b"\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a", "eth_truncated"),
    ("IPv6 jumbogram (payload length 0, Hop-by-Hop)", "curl", eth(b"\x60" + b"\0" * 39, etype=0x86DD),
     "ip6_bad_payload_length"),
    ("802.1Q VLAN", "curl", eth(b"\x00\x64\x08\x00" + ip_raw(), etype=0x8100), "ethertype_unsupported"),
    ("IPv4 header cut", "curl", eth(ip_raw()[:12]), "ip_truncated"),
    ("version 6 in an IPv4 frame", "curl", eth(with_csum(patch(ip_raw(), 0, 0x65))), "ip_bad_version"),
    ("IHL 4", "curl", eth(patch(ip_raw(), 0, 0x44)), "ip_bad_ihl"),
    ("IHL beyond the frame", "curl", eth(with_csum(patch(ip_raw(), 0, 0x4F))[:30]), "ip_bad_ihl"),
    ("total length beyond the frame", "curl", eth(with_csum(patch(ip_raw(), 2, 0x05))), "ip_bad_total_length"),
    ("total length below the header", "curl", eth(with_csum(patch(patch(ip_raw(), 2, 0), 3, 12))), "ip_bad_total_length"),
    ("bad header checksum", "curl", eth(patch(ip_raw(), 10, 0)), "ip_bad_checksum"),
    ("broadcast source", "uplink", eth(bytes(IP(src="255.255.255.255", dst=CURL) / UDP()), src=W1_MAC), "ip_bad_source"),
    ("multicast source", "uplink", eth(bytes(IP(src="224.0.0.5", dst=CURL) / UDP()), src=W1_MAC), "ip_bad_source"),
    ("multicast destination", "curl", eth(bytes(IP(src=CURL, dst="239.1.1.1") / UDP())), "dst_not_unicast"),
    ("TTL 0", "curl", eth(bytes(IP(src=CURL, dst=REMOTE, ttl=0) / UDP())), "ttl_exceeded"),
    ("TTL 1", "curl", eth(bytes(IP(src=CURL, dst=REMOTE, ttl=1) / UDP())), "ttl_exceeded"),
    ("UDP length 0", "curl", eth(bytes(IP(src=CURL, dst=REMOTE) / UDP(len=0))), "l4_truncated"),
    ("UDP length beyond the packet", "curl", eth(bytes(IP(src=CURL, dst=REMOTE) / UDP(len=200) / Raw(b"ab"))), "l4_truncated"),
    ("TCP header cut", "curl", eth(bytes(IP(src=CURL, dst=REMOTE, proto=6) / Raw(b"\0" * 10))), "l4_truncated"),
    ("TCP data offset 15", "curl", eth(bytes(IP(src=CURL, dst=REMOTE) / TCP(dataofs=15))), "l4_truncated"),
    ("ICMP header cut", "curl", eth(bytes(IP(src=CURL, dst=REMOTE, proto=1) / Raw(b"\x08\x00"))), "l4_truncated"),
    ("ICMP error quoting garbage", "uplink",
     eth(bytes(IP(src="192.168.10.200", dst=CURL) / ICMP(type=3, code=1) / Raw(b"\x45\x00")), src=W1_MAC), "icmp_quote_bad"),
    ("spoofed source", "curl", eth(bytes(IP(src="10.1.2.3", dst=REMOTE) / UDP())), "spoofed_source"),
    ("later fragment to a service address", "curl",
     eth(bytes(IP(src=CURL, dst=VIP, frag=100, proto=17) / Raw(b"y" * 16))), "ct_untrackable"),
    ("unknown service port", "curl", eth(bytes(IP(src=CURL, dst="10.96.1.1") / UDP(dport=9))), "svc_unknown"),
    ("unicast for another MAC on the LAN", "uplink",
     eth(bytes(IP(src="192.168.10.200", dst=CURL) / UDP()), src=W1_MAC, dst="02:00:00:00:00:99"), "l2_not_for_us"),
    ("to this node's podCIDR, no such pod", "curl", eth(bytes(IP(src=CURL, dst="172.20.1.99") / UDP())), "no_endpoint"),
    # Forwarded: odd but valid.
    ("IP options", "curl", eth(bytes(IP(src=CURL, dst=REMOTE, id=901, options=b"\x01\x01\x01\x00") / UDP())), None),
    ("first fragment", "curl", eth(bytes(IP(src=CURL, dst=REMOTE, id=902, flags="MF") / UDP(len=3000) / Raw(b"z" * 64))), None),
    ("later fragment", "curl", eth(bytes(IP(src=CURL, dst=REMOTE, id=903, frag=185, proto=17) / Raw(b"w" * 32))), None),
    ("zero-length UDP payload", "curl", eth(bytes(IP(src=CURL, dst=REMOTE, id=904) / UDP())), None),
    ("ICMP error about an unknown flow", "uplink",
     eth(bytes(IP(src="192.168.10.200", dst=CURL, id=905) / ICMP(type=3, code=3) / IP(src=CURL, dst="8.8.8.8") / UDP()), src=W1_MAC), None),
]
# IPv6: every malformed case has its own reason too; the odd-but-valid are
# forwarded (found again on the uplink by their flow label).
cases += [
    ("IPv6 header cut", "curl", eth(v6_raw()[:30], etype=0x86DD), "ip6_truncated"),
    ("version 4 in an IPv6 frame", "curl", eth(patch(v6_raw(), 0, 0x45), etype=0x86DD), "ip_bad_version"),
    ("IPv6 payload length beyond the frame", "curl", eth(patch(v6_raw(), 4, 0x05), etype=0x86DD),
     "ip6_bad_payload_length"),
    ("IPv6 multicast source", "uplink", eth6(ip6(src="ff02::1", dst=CURL6) / UDP(), src=W1_MAC), "ip6_bad_source"),
    ("IPv6 loopback source", "uplink", eth6(ip6(src="::1", dst=CURL6) / UDP(), src=W1_MAC), "ip6_bad_source"),
    ("IPv6 unspecified source, not ND", "curl", eth6(ip6(src="::") / UDP()), "ip6_bad_source"),
    ("IPv6 destination options longer than the packet", "curl",
     eth(bytes(IPv6(src=CURL6, dst=REMOTE6, nh=60, plen=8)) + b"\x11\x05" + b"\0" * 6, etype=0x86DD),
     "ip6_ext_truncated"),
    ("nine IPv6 extension headers", "curl", eth6(ip6() / (IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()
                                                          / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()
                                                          / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()
                                                          / IPv6ExtHdrDestOpt() / IPv6ExtHdrDestOpt()
                                                          / IPv6ExtHdrDestOpt()) / UDP()),
     "ip6_ext_chain_too_long"),
    ("Hop-by-Hop after another header", "curl",
     eth6(ip6() / IPv6ExtHdrDestOpt() / IPv6ExtHdrHopByHop() / UDP()), "ip6_hop_by_hop_misplaced"),
    ("IPv6 source routing (segments left 1)", "curl",
     eth6(ip6() / IPv6ExtHdrSegmentRouting(addresses=[REMOTE6, "fd00:20::131"], segleft=1) / UDP()),
     "ip6_routing_header"),
    ("IPv6 fragment of 9 bytes with more to come", "curl",
     eth6(ip6() / IPv6ExtHdrFragment(m=1, id=7, nh=17) / Raw(b"q" * 9)), "ip6_frag_bad"),
    ("IPv6 UDP length beyond the packet", "curl", eth6(ip6() / UDP(len=200) / Raw(b"ab")), "l4_truncated"),
    ("IPv6 TCP data offset 15", "curl", eth6(ip6() / TCP(dataofs=15)), "l4_truncated"),
    ("ICMPv6 header cut", "curl", eth6(ip6(nh=58) / Raw(b"\x80\x00")), "l4_truncated"),
    ("neighbour solicitation with hop limit 64", "curl",
     eth6(ip6(src="fe80::1:236", dst="fe80::1", hlim=64) / ICMPv6ND_NS(tgt="fe80::1")), "nd_malformed"),
    ("router advertisement", "uplink",
     eth6(ip6(src="fe80::200", dst="ff02::1", hlim=255) / ICMPv6ND_RA(), src=W1_MAC), "nd_ignored"),
    ("IPv6 multicast destination", "curl", eth6(ip6(dst="ff05::1:3") / UDP()), "dst_not_unicast"),
    ("IPv6 link-local destination", "curl", eth6(ip6(dst="fe80::99") / UDP()), "link_local_not_forwarded"),
    ("IPv6 link-local source to a remote pod", "curl", eth6(ip6(src="fe80::1:236") / UDP()),
     "link_local_not_forwarded"),
    ("IPv6 spoofed source", "curl", eth6(ip6(src="fd00:20:0:1::99") / UDP()), "spoofed_source"),
    ("IPv6 hop limit 1", "curl", eth6(ip6(hlim=1) / UDP()), "ttl_exceeded"),
    ("IPv6 larger than the MTU", "curl", eth6(ip6() / UDP() / Raw(b"m" * 1500)), "pkt_too_big"),
    ("IPv6 to this node's podCIDR, no such pod", "curl", eth6(ip6(dst="fd00:20:0:1::99") / UDP()), "no_endpoint"),
    ("IPv6 unicast for another MAC on the LAN", "uplink",
     eth6(ip6(src="fd00:10::200", dst=CURL6) / UDP(), src=W1_MAC, dst="02:00:00:00:00:99"), "l2_not_for_us"),
    # Forwarded.
    ("IPv6 Hop-by-Hop and destination options", "curl",
     eth6(ip6(fl=801) / IPv6ExtHdrHopByHop() / IPv6ExtHdrDestOpt() / UDP()), None),
    ("IPv6 spent routing header", "curl",
     eth6(ip6(fl=802) / IPv6ExtHdrSegmentRouting(addresses=[REMOTE6], segleft=0) / UDP()), None),
    ("IPv6 first fragment", "curl",
     eth6(ip6(fl=803) / IPv6ExtHdrFragment(m=1, id=8, nh=17) / UDP(len=3000) / Raw(b"z" * 64)), None),
    ("IPv6 later fragment", "curl",
     eth6(ip6(fl=804) / IPv6ExtHdrFragment(offset=185, id=8, nh=17) / Raw(b"w" * 32)), None),
    ("IPv6 atomic fragment", "curl", eth6(ip6(fl=805) / IPv6ExtHdrFragment(id=9) / UDP()), None),
    ("IPv6 no next header", "curl", eth6(ip6(fl=806, nh=59)), None),
    ("ICMPv6 error about an unknown flow", "uplink",
     eth6(ip6(src="fd00:10::200", dst=CURL6, fl=807) / ICMPv6DestUnreach(code=4)
          / ip6(src=CURL6, dst="2001:db8::8") / UDP(), src=W1_MAC), None),
    ("IPv6 exactly the MTU", "curl", eth6(ip6(fl=808) / UDP() / Raw(b"m" * (1500 - 48))), None),
]
# Every TCP flag combination towards the remote pod: all routed, none crash.
for flags in range(256):
    cases.append((f"TCP flags 0x{flags:02x}", "curl",
                  eth(bytes(IP(src=CURL, dst=REMOTE, id=1000 + flags) / TCP(sport=3000 + flags, dport=80, flags=flags))), None))


def main():
    kdp = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-bad-")
    p = lambda n: os.path.join(d, n)  # noqa: E731
    frames = {"curl": [], "uplink": []}
    # Teach kdp the neighbour first so forwarded packets leave at once.
    frames["uplink"].append(bytes(Ether(src=W1_MAC, dst="ff:ff:ff:ff:ff:ff", type=0x0806))
                            + bytes.fromhex("0001080006040001") + bytes.fromhex(W1_MAC.replace(":", ""))
                            + bytes([192, 168, 10, 101]) + b"\0" * 6 + bytes([192, 168, 10, 100]))
    # And its IPv6 side: a solicitation for the node's IPv6 address.
    frames["uplink"].append(eth6(IPv6(src="fd00:10::101", dst="ff02::1:ff00:100", hlim=255)
                                 / ICMPv6ND_NS(tgt=NODE6) / ICMPv6NDOptSrcLLAddr(lladdr=W1_MAC),
                                 src=W1_MAC, dst="33:33:ff:00:01:00"))
    for _, port, frame, _ in cases:
        frames[port].append(frame)
    for port, fr in frames.items():
        wrpcap(p(f"{port}_in.pcap"), [Ether(f) if len(f) >= 14 else Raw(f) for f in fr])
    cfg = {"name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": "192.168.10.200",
           "uplink": {"devargs": f"net_pcap0,rx_pcap={p('uplink_in.pcap')},tx_pcap={p('uplink_out.pcap')}",
                      "mac": KDP_MAC},
           "nativeRoutingCIDR": "172.20.0.0/16",
           "nodeIPv6": "fd00:10::100/64", "gatewayIPv6": "fd00:10::200",
           "nativeRoutingCIDRv6": "fd00:20::/48",
        "allowedDrivers": ["net_pcap", "net_null"], "serviceCIDR": "10.96.0.0/16", "workers": 1,
           "controlSocket": p("kdp.sock"), "stateFile": p("state.json"), "flowStateFile": "",
           "eal": ["--no-pci", "--no-huge", "-m", "1024", f"--file-prefix=kdp-bad-{os.getpid()}",
                   "--no-telemetry", "--log-level=lib.*:error"]}
    state = {"nodes": [{"name": "k8s-ctr", "ip": "192.168.10.100", "ips": ["192.168.10.100", NODE6],
                        "podCIDRs": ["172.20.1.0/24", "fd00:20:0:1::/64"]},
                       {"name": "k8s-w1", "ip": "192.168.10.101", "ips": ["192.168.10.101", "fd00:10::101"],
                        "podCIDRs": ["172.20.0.0/24", "fd00:20::/64"]}],
             "endpoints": [{"namespace": "default", "name": "curl-pod", "ip": CURL, "ips": [CURL, CURL6],
                            "mac": CURL_MAC,
                            "devargs": f"net_pcap,rx_pcap={p('curl_in.pcap')},tx_pcap={p('curl_out.pcap')}"}],
             "services": [{"namespace": "default", "name": "webpod", "clusterIP": VIP,
                           "ports": [{"port": 80}], "backends": [{"ip": REMOTE}]}]}
    json.dump(cfg, open(p("kdp.json"), "w"))
    json.dump(state, open(p("state.json"), "w"))
    want = sum(len(f) for f in frames.values())
    stats, rc, _ = run_kdp(kdp, d, want)
    check(f"kdp read all {want} frames", stats is not None and stats["totals"]["rxPackets"] == want,
          str(stats and stats["totals"]))
    check("kdp exits 0 on SIGTERM after the bad packets (no crash, ASan clean)", rc == 0, f"rc={rc}")
    if stats is None:
        print(open(p("kdp.log")).read()[-2000:])
        return finish(d)
    got = {x["reason"]: x["packets"] for x in stats["drops"]}
    want_drops = {}
    for _, _, _, reason in cases:
        if reason:
            want_drops[reason] = want_drops.get(reason, 0) + 1
    for reason, n in sorted(want_drops.items()):
        check(f"drop reason {reason}: {n}", got.get(reason) == n, f"got {got.get(reason)}")
    others = {r: n for r, n in got.items() if n and r not in want_drops and r != "arp_ignored"}
    check("no other drop reason counted", not others, str(others))
    out = rdpcap(p("uplink_out.pcap"))
    ids = {x[IP].id for x in out if IP in x}
    fls = {x[IPv6].fl for x in out if IPv6 in x}
    for name, _, frame, reason in cases:
        if reason is None and not name.startswith("TCP flags") and "unknown flow" not in name:
            if frame[12:14] == b"\x86\xdd":
                fl = IPv6(frame[14:]).fl
                check(f"forwarded: {name}", fl in fls, f"flow label {fl}")
                continue
            pid = IP(frame[14:]).id
            check(f"forwarded: {name}", pid in ids, f"id {pid}")
    tcp = [x for x in out if TCP in x and 1000 <= x[IP].id < 1256]
    check("all 256 TCP flag combinations routed to the remote pod", len(tcp) == 256, f"{len(tcp)} routed")
    icmp = [x for x in rdpcap(p("curl_out.pcap")) if ICMP in x and x[IP].id == 905]
    check("forwarded: ICMP error about an unknown flow reaches the pod untouched", len(icmp) == 1)
    icmp6 = [x for x in rdpcap(p("curl_out.pcap")) if IPv6 in x and x[IPv6].fl == 807]
    check("forwarded: ICMPv6 error about an unknown flow reaches the pod untouched", len(icmp6) == 1)
    return finish(d)


if __name__ == "__main__":
    sys.exit(main())

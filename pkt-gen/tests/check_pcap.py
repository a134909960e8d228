#!/usr/bin/python3
"""Checks a pcap written by kdp-pktgen (net_pcap tx_pcap=...): frame size,
addresses, flows and checksums (recomputed by scapy) of every frame.

  check_pcap.py FILE PROTO FLOWS SIZE [SRC_LO-SRC_HI] [SPORT_LO-SPORT_HI]
"""
import ipaddress
import sys

from scapy.all import ICMP, IP, TCP, UDP, Ether, rdpcap


def main():
    f, proto, flows, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    src = sys.argv[5] if len(sys.argv) > 5 else "172.20.1.236-172.20.1.236"
    sports = sys.argv[6] if len(sys.argv) > 6 else "1024-65535"
    slo, shi = (int(ipaddress.IPv4Address(a)) for a in src.split("-"))
    plo, phi = (int(p) for p in sports.split("-"))
    pkts = rdpcap(f)
    seen, bad = set(), 0
    for i, p in enumerate(pkts):
        errs = []
        if len(p) != size - 4:
            errs.append(f"len {len(p)}")
        ip = p[IP]
        if ip.dst != "10.96.152.212" or ip.ttl != 64:
            errs.append("ip fields")
        if not slo <= int(ipaddress.IPv4Address(ip.src)) <= shi:
            errs.append(f"src {ip.src}")
        c = ip.copy(); c.chksum = None
        if IP(bytes(c)).chksum != ip.chksum:
            errs.append("ip cksum")
        l4 = {"udp": UDP, "tcp-syn": TCP, "tcp-ack": TCP, "icmp": ICMP}[proto]
        h = p[l4]
        c = ip.copy(); c[l4].chksum = None
        if IP(bytes(c))[l4].chksum != h.chksum:
            errs.append(f"l4 cksum {h.chksum:#x} != {IP(bytes(c))[l4].chksum:#x}")
        if proto == "icmp":
            key = (ip.src, h.id)
            port = h.id
        else:
            key = (ip.src, h.sport)
            port = h.sport
            if h.dport != 80:
                errs.append("dport")
        if proto == "tcp-syn" and h.flags != "S" or proto == "tcp-ack" and h.flags != "A":
            errs.append(f"flags {h.flags}")
        if not plo <= port <= phi:
            errs.append(f"sport {port}")
        seen.add(key)
        if errs:
            bad += 1
            if bad < 5:
                print(f"frame {i}: {', '.join(errs)}")
    ok = bad == 0 and len(seen) == min(flows, len(pkts))
    print(f"{f}: {len(pkts)} frames, {len(seen)} distinct flows (want {min(flows, len(pkts))}), "
          f"{bad} bad -> {'OK' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Probes through kdp, one per flow every INTERVAL, each numbered, so that
what a restart or a hand-over costs can be counted exactly: probes lost,
answers duplicated, the longest time without an answer.

  probe.py send LOG [--interval S] [--icmp DST] [--dns DST] [--udp DST:PORT]
      (in a pod; runs until killed) every INTERVAL (0.005 s) sends an ICMP
      echo to the --icmp address (routed), a DNS query to the --dns address
      (UDP, always from port 45353: one conntrack flow, e.g. to a ClusterIP)
      and a datagram to the --udp echo server (from port 45354: e.g. a
      masqueraded flow; the server answers with the source it saw). LOG gets
      "s KIND SEQ TIME" per probe sent and "r KIND SEQ TIME [SOURCE]" per
      answer (epoch seconds).
  probe.py report LOG FROM TO [--json]
      for the probes sent between FROM and TO (epoch seconds; give their
      answers a second after TO before reporting): per kind, how many were
      sent, lost (never answered) and answered twice, the longest time
      without an answer, and the sources the echo server saw.
"""
import json
import os
import select
import socket
import struct
import sys
import time


def csum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def send(args):
    log = open(args[0], "w", buffering=1)
    interval, icmp, dns, udp = 0.005, None, None, None
    i = 1
    while i < len(args):
        k, v = args[i], args[i + 1]
        if k == "--interval":
            interval = float(v)
        elif k == "--icmp":
            icmp = v
        elif k == "--dns":
            dns = v
        elif k == "--udp":
            host, port = v.rsplit(":", 1)
            udp = (host, int(port))
        i += 2
    socks = {}
    ident = os.getpid() & 0xFFFF
    if icmp:
        socks["icmp"] = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    if dns:
        socks["dns"] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        socks["dns"].bind(("0.0.0.0", 45353))
    if udp:
        socks["udp"] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        socks["udp"].bind(("0.0.0.0", 45354))
    kind_of = {s.fileno(): k for k, s in socks.items()}
    qname = b"".join(bytes([len(p)]) + p for p in b"webpod.default.svc.cluster.local".split(b".")) + b"\0"
    seq, nxt = 0, time.time()
    while True:
        now = time.time()
        if now >= nxt:
            seq = (seq + 1) & 0xFFFF
            if icmp:
                h = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + b"kdp-probe"
                socks["icmp"].sendto(h[:2] + struct.pack("!H", csum(h)) + h[4:], (icmp, 0))
                log.write("s icmp %d %.6f\n" % (seq, now))
            if dns:
                socks["dns"].sendto(struct.pack("!HHHHHH", seq, 0x0100, 1, 0, 0, 0) + qname + b"\0\1\0\1",
                                    (dns, 53))
                log.write("s dns %d %.6f\n" % (seq, now))
            if udp:
                socks["udp"].sendto(b"%d" % seq, udp)
                log.write("s udp %d %.6f\n" % (seq, now))
            nxt += interval
            if nxt < now:
                nxt = now + interval
        r, _, _ = select.select(list(socks.values()), [], [], max(0.0, nxt - time.time()))
        for s in r:
            data = s.recv(2048)
            t = time.time()
            kind = kind_of[s.fileno()]
            if kind == "icmp":
                ihl = (data[0] & 15) * 4
                if data[ihl] == 0 and struct.unpack("!H", data[ihl + 4:ihl + 6])[0] == ident:
                    log.write("r icmp %d %.6f\n" % (struct.unpack("!H", data[ihl + 6:ihl + 8])[0], t))
            elif kind == "dns":
                log.write("r dns %d %.6f\n" % (struct.unpack("!H", data[:2])[0], t))
            else:
                src, _, n = data.decode(errors="replace").partition(" ")
                if n.isdigit():
                    log.write("r udp %s %.6f %s\n" % (n, t, src))


def report(args):
    path, t_from, t_to = args[0], float(args[1]), float(args[2])
    sent, got, srcs, times = {}, {}, {}, {}
    for line in open(path):
        f = line.split()
        if len(f) < 4:
            continue
        kind, seq, t = f[1], int(f[2]), float(f[3])
        if f[0] == "s":
            # a wrapped sequence number: the latest send is the one answered
            sent.setdefault(kind, {})[seq] = t
            got.setdefault(kind, {}).pop(seq, None)
        elif f[0] == "r":
            got.setdefault(kind, {})[seq] = got.get(kind, {}).get(seq, 0) + 1
            times.setdefault(kind, []).append(t)
            if len(f) > 4 and t_from <= t <= t_to + 1:
                srcs.setdefault(kind, set()).add(f[4])
    out = {}
    for kind in sorted(sent):
        window = [s for s, t in sent[kind].items() if t_from <= t <= t_to]
        lost = sum(1 for s in window if got.get(kind, {}).get(s, 0) == 0)
        dup = sum(got[kind][s] - 1 for s in window if got.get(kind, {}).get(s, 0) > 1)
        ts = sorted(x for x in times.get(kind, []) if t_from - 1 <= x <= t_to + 1)
        gap = max((b - a for a, b in zip(ts, ts[1:])), default=float("nan")) * 1000
        out[kind] = {"sent": len(window), "lost": lost, "duplicated": dup,
                     "longestGapMs": round(gap, 1), "sources": sorted(srcs.get(kind, []))}
    if "--json" in args:
        print(json.dumps(out))
    else:
        for kind, r in out.items():
            print("%-5s sent %5d  lost %4d  duplicated %4d  longest gap %7.1f ms%s"
                  % (kind, r["sent"], r["lost"], r["duplicated"], r["longestGapMs"],
                     "  sources seen: " + ",".join(r["sources"]) if r["sources"] else ""))


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] not in ("send", "report"):
        sys.exit(__doc__)
    (send if sys.argv[1] == "send" else report)(sys.argv[2:])

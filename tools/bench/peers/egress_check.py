#!/usr/bin/python3
"""Checks frames a peer forwarded in the nodeport scenario (mkpcap.py nodeport).

  egress_check.py OUT.pcap MIN_FRAMES

Every frame must be the nodeport UDP frame after DNAT + SNAT + forwarding:
Ethernet 02:00:00:00:01:00 -> 02:00:00:00:01:01 (node -> k8s-w1), IPv4
192.168.10.100 -> 172.20.0.10-73, UDP destination port 80, TTL 63, valid
IPv4 and UDP checksums, the 18-byte payload of mkpcap.py. At least MIN_FRAMES
frames must be there and, from 1,000 frames on, all 64 backends used. Prints one JSON line (frames, backends used, share of
source ports kept) and exits 1 with the reason on the first bad frame.
Reads classic pcap (what tcpdump -w and DPDK's net_pcap write).
"""
import json
import struct
import sys

NODE_MAC = bytes.fromhex("020000000100")
W1_MAC = bytes.fromhex("020000000101")
NODE = bytes((192, 168, 10, 100))
PAYLOAD = b"kdp-bench-64B....."


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def frames(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            end = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            end = ">"
        else:
            raise SystemExit(f"egress_check: {path}: not a classic pcap")
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            _, _, caplen, _ = struct.unpack(end + "IIII", rec)
            data = f.read(caplen)
            if len(data) < caplen:
                return
            yield data


def fail(i, why, fr):
    print(f"egress_check: frame {i}: {why}: {fr[:42].hex()}", file=sys.stderr)
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    out, want = sys.argv[1], int(sys.argv[2])
    n, backends, kept = 0, {}, 0
    for i, fr in enumerate(frames(out)):
        if len(fr) < 60:
            fail(i, f"short frame ({len(fr)} bytes)", fr)
        if fr[12:14] != b"\x08\x00":
            fail(i, "not IPv4", fr)
        if fr[0:6] != W1_MAC or fr[6:12] != NODE_MAC:
            fail(i, "MACs are not 02:00:00:00:01:00 -> 02:00:00:00:01:01", fr)
        ip = fr[14:34]
        if ip[0] != 0x45 or ip[9] != 17:
            fail(i, "not IPv4/UDP without options", fr)
        if csum(ip) != 0xFFFF:
            fail(i, "bad IPv4 header checksum", fr)
        if ip[8] != 63:
            fail(i, f"TTL {ip[8]}, expected 63", fr)
        if ip[12:16] != NODE:
            fail(i, f"source {'.'.join(map(str, ip[12:16]))}, expected 192.168.10.100", fr)
        d = ip[16:20]
        if d[:3] != bytes((172, 20, 0)) or not 10 <= d[3] <= 73:
            fail(i, f"destination {'.'.join(map(str, d))} not a backend 172.20.0.10-73", fr)
        tot = struct.unpack("!H", ip[2:4])[0]
        udp = fr[34:14 + tot]
        sport, dport, ulen, uck = struct.unpack("!HHHH", udp[:8])
        if dport != 80:
            fail(i, f"destination port {dport}, expected 80", fr)
        if udp[8:8 + len(PAYLOAD)] != PAYLOAD:
            fail(i, "payload changed", fr)
        if uck != 0:
            pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, ulen)
            if csum(pseudo + udp) != 0xFFFF:
                fail(i, "bad UDP checksum", fr)
        backends[d[3]] = backends.get(d[3], 0) + 1
        if 10000 <= sport < 60000:
            kept += 1
        n += 1
    if n < want:
        print(f"egress_check: {out}: {n} frames, expected at least {want}", file=sys.stderr)
        sys.exit(1)
    if n >= 1000 and len(backends) < 64:
        print(f"egress_check: {out}: {n} frames reach only {len(backends)} of the 64 backends",
              file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"frames": n, "backends": len(backends),
                      "portsKept": round(kept / n, 3) if n else 0}))


if __name__ == "__main__":
    main()

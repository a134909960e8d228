#!/usr/bin/python3
"""Functional test: frames with a kernel sender's offloads (partial checksums,
TSO/GSO super-frames) through kdp's own AF_PACKET driver (net_kdp_afp), and the
exact checksums that leave.

In a network namespace of its own (removed at the end, even on failure):
  in0  <-> in0p   curl-pod's port: kdp reads in0; the test writes frames on
                  in0p with a virtio_net_hdr (PACKET_VNET_HDR), as a pod's
                  stack with checksum offload and TSO leaves them
  out0 <-> out0p  webpod's port: kdp writes out0; the test reads out0p with
                  PACKET_VNET_HDR, so it sees whether a checksum left partial
  uplink          net_pcap (rx: an ARP from the router, tx: uplink_out.pcap):
                  a port without checksum offload or TSO, where kdp must
                  finish every checksum itself and cut TCP super-frames
A TCP super-frame travels whole from pod to pod (LRO in, TSO out: one frame
with GSO_TCPV4 and the sender's MSS, as a kernel router forwards it) and is
cut into exact segments for the uplink; a UDP_SEGMENT one is cut on receive;
a TCPv6 one is kept whole too.
Usage (root): test_offload.py <path to kdp>
"""
import ctypes
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

from scapy.all import ARP, IP, TCP, UDP, Ether, IPv6, Raw, rdpcap, wrpcap  # noqa: E402

KDP_MAC = "02:00:00:00:00:64"
ROUTER_MAC = "02:00:00:00:00:c8"
NODE_IP, W1_IP, ROUTER = "192.168.10.100", "192.168.10.101", "192.168.10.200"
CURL, WEB, VIP = "172.20.1.236", "172.20.1.40", "10.96.152.212"
NS = f"kdp-fo-{os.getpid()}"
SOL_PACKET, PACKET_VNET_HDR, ETH_P_ALL, PACKET_OUTGOING = 263, 15, 3, 4
NEEDS_CSUM = 1
GSO_NONE, GSO_TCPV4, GSO_TCPV6, GSO_UDP_L4 = 0, 1, 4, 5

results = {"passed": 0, "failed": 0}
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        raise OSError(ctypes.get_errno(), "setns")


def check(name, cond, detail=""):
    if cond:
        results["passed"] += 1
        print(f"PASS {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name} {detail}")


def sh(*args, check_rc=True):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if check_rc and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def nsx(*args, **kw):
    return sh("ip", "netns", "exec", NS, *args, **kw)


def http(sock, method, path, body=None):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(sock)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: kdp\r\nConnection: close\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    out = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        out += c
    s.close()
    head, _, rest = out.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest.decode()


def ones(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def pseudo_sum(src, dst, proto, l4len):
    """The partial value a kernel leaves: the folded pseudo-header sum."""
    return ones(socket.inet_aton(src) + socket.inet_aton(dst) + bytes([0, proto]) +
                l4len.to_bytes(2, "big"))


def vnet(flags=0, gso_type=GSO_NONE, hdr_len=0, gso_size=0, csum_start=0, csum_offset=0):
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, csum_start, csum_offset)


def partial(pkt):
    """Frame bytes of scapy @pkt with its L4 checksum left partial."""
    raw = bytearray(bytes(pkt))
    ip = Ether(bytes(raw))[IP]  # built: lengths filled in
    proto = ip.proto
    at = 34 + (16 if proto == 6 else 6)
    ps = pseudo_sum(ip.src, ip.dst, proto, ip.len - ip.ihl * 4)
    raw[at:at + 2] = ps.to_bytes(2, "big")
    return bytes(raw), at


class Port:
    """A packet socket with PACKET_VNET_HDR on an interface of the namespace."""

    def __init__(self, ifname, rx):
        fd = os.open(f"/var/run/netns/{NS}", os.O_RDONLY)
        old = os.open("/proc/self/ns/net", os.O_RDONLY)
        setns(fd)
        try:
            self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW,
                                   socket.htons(ETH_P_ALL) if rx else 0)
            self.s.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
            self.s.bind((ifname, ETH_P_ALL if rx else 0))  # CPython swaps it itself
        finally:
            setns(old)
            os.close(fd)
            os.close(old)
        self.s.settimeout(0.2)

    def send(self, hdr, frame):
        self.s.send(hdr + frame)

    def recv_all(self, seconds):
        """Every (vnet header, frame) received (not sent) within @seconds."""
        got, end = [], time.time() + seconds
        while time.time() < end:
            try:
                data, addr = self.s.recvfrom(262144)
            except socket.timeout:
                continue
            if addr[2] == PACKET_OUTGOING:
                continue
            fl, gt, hl, gs, cs, co = struct.unpack("<BBHHHH", data[:10])
            got.append(({"flags": fl, "gso_type": gt, "hdr_len": hl, "gso_size": gs,
                         "csum_start": cs, "csum_offset": co}, data[10:]))
        return got


def l4_valid(frame):
    """The finished L4 checksum of an IPv4 frame is right."""
    ip = IP(frame[14:])
    l4 = frame[14 + ip.ihl * 4:14 + ip.len]
    return ones(socket.inet_aton(ip.src) + socket.inet_aton(ip.dst) + bytes([0, ip.proto]) +
                len(l4).to_bytes(2, "big") + l4) == 0xFFFF


def finish_partial(frame, start, offset):
    """What the kernel does with NEEDS_CSUM: the sum from csum_start on."""
    f = bytearray(frame)
    c = (~ones(bytes(f[start:]))) & 0xFFFF
    f[start + offset:start + offset + 2] = (c or 0xFFFF).to_bytes(2, "big")
    return bytes(f)


def setup_ns():
    sh("ip", "netns", "add", NS)
    nsx("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
    nsx("sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
    for a, b in (("in0", "in0p"), ("out0", "out0p")):
        nsx("ip", "link", "add", a, "type", "veth", "peer", "name", b)
        nsx("ip", "link", "set", a, "up")
        nsx("ip", "link", "set", b, "up")
    nsx("ip", "link", "set", "lo", "up")


def mac_of(ifname):
    return nsx("cat", f"/sys/class/net/{ifname}/address").strip()


def main():
    kdp = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-offload-")
    p = lambda n: os.path.join(d, n)  # noqa: E731
    proc = None
    try:
        setup_ns()
        # The pods' interfaces keep the kernel's defaults: checksum offload on.
        feat = nsx("ethtool", "-k", "in0p")
        check("in0p keeps tx-checksumming and TSO on (kernel defaults)",
              "tx-checksumming: on" in feat and "tcp-segmentation-offload: on" in feat)
        curl_mac, web_mac = mac_of("in0p"), mac_of("out0p")
        wrpcap(p("uplink_in.pcap"),
               [Ether(src=ROUTER_MAC, dst="ff:ff:ff:ff:ff:ff") /
                ARP(op=1, hwsrc=ROUTER_MAC, psrc=ROUTER, pdst=NODE_IP)])
        cfg = {
            "name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": ROUTER,
            "uplink": {"devargs": f"net_pcap0,rx_pcap={p('uplink_in.pcap')},tx_pcap={p('uplink_out.pcap')}",
                       "mac": KDP_MAC},
            "nativeRoutingCIDR": "172.20.0.0/16", "serviceCIDR": "10.96.0.0/16",
            "allowedDrivers": ["net_pcap", "net_kdp_afp"], "workers": 1, "pollMode": "adaptive",
            "controlSocket": p("kdp.sock"), "stateFile": p("state.json"), "flowStateFile": "",
            "eal": ["--no-pci", "--no-huge", "-m", "512", f"--file-prefix={NS}", "--no-shconf",
                    "--no-telemetry", "--log-level=lib.*:error"],
        }
        state = {
            "nodes": [{"name": "k8s-ctr", "ip": NODE_IP, "podCIDRs": ["172.20.1.0/24"]},
                      {"name": "k8s-w1", "ip": W1_IP, "podCIDRs": ["172.20.0.0/24"]}],
            "endpoints": [
                {"namespace": "default", "name": "curl-pod", "ip": CURL, "mac": curl_mac,
                 "devargs": "net_kdp_afp,iface=in0"},
                {"namespace": "default", "name": "webpod", "ip": WEB, "mac": web_mac,
                 "devargs": "net_kdp_afp,iface=out0"},
            ],
            "services": [
                {"namespace": "default", "name": "webpod", "type": "ClusterIP", "clusterIP": VIP,
                 "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                           {"name": "mdns", "protocol": "UDP", "port": 5353}],
                 "backends": [{"ip": WEB}]},
            ],
        }
        with open(p("kdp.json"), "w") as f:
            json.dump(cfg, f)
        with open(p("state.json"), "w") as f:
            json.dump(state, f)
        log = open(p("kdp.log"), "w")
        proc = subprocess.Popen(["ip", "netns", "exec", NS, kdp, "--config", p("kdp.json")],
                                stdout=log, stderr=subprocess.STDOUT)
        up = False
        for _ in range(100):
            time.sleep(0.1)
            try:
                code, body = http(p("kdp.sock"), "GET", "/v1/status")
                up = code == 200 and len(json.loads(body)["ports"]) == 3
            except (OSError, ValueError):
                continue
            if up:
                break
        check("kdp started with its net_kdp_afp pod ports", up)
        if not up:
            print(open(p("kdp.log")).read())
            return 1
        inj, cap = Port("in0p", rx=False), Port("out0p", rx=True)
        e = Ether(src=curl_mac, dst=KDP_MAC)
        sent_partial = 0

        # 1. A SYN and a data segment to the ClusterIP, partial checksums.
        syn = e / IP(src=CURL, dst=VIP, id=1) / TCP(sport=41000, dport=80, flags="S", seq=1000)
        data = e / IP(src=CURL, dst=VIP, id=2) / TCP(sport=41000, dport=80, flags="PA", seq=1001,
                                                     ack=1) / Raw(bytes(range(256)) * 4)
        for pkt in (syn, data):
            raw, _ = partial(pkt)
            inj.send(vnet(NEEDS_CSUM, csum_start=34, csum_offset=16), raw)
            sent_partial += 1
        # 2. The same flow, checksum complete (no offload): stays complete.
        full = e / IP(src=CURL, dst=VIP, id=3) / TCP(sport=41000, dport=80, flags="A", seq=2025,
                                                     ack=1) / Raw(b"z" * 100)
        inj.send(vnet(), bytes(full))
        # 3. UDP to the service, partial.
        udp = e / IP(src=CURL, dst=VIP, id=4) / UDP(sport=47000, dport=5353) / Raw(b"mdns query")
        raw, _ = partial(udp)
        inj.send(vnet(NEEDS_CSUM, csum_start=34, csum_offset=6), raw)
        sent_partial += 1
        # 4. A TCP super-frame (TSO): 3 x 1448 + 100 bytes at MSS 1448.
        big = e / IP(src=CURL, dst=VIP, id=10) / TCP(sport=41000, dport=80, flags="PA", seq=2125,
                                                     ack=1) / Raw(bytes(i % 251 for i in range(4444)))
        raw, _ = partial(big)
        inj.send(vnet(NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16), raw)
        got = cap.recv_all(1.5)
        by_seq = {TCP(f[34:]).seq: (h, f) for h, f in got if f[23] == 6}
        # What left on the webpod's port.
        for name, seq, want_len in (("SYN", 1000, 0), ("data", 1001, 1024), ("complete", 2025, 100)):
            h, f = by_seq.get(seq, (None, None))
            check(f"{name}: delivered to webpod {WEB}:8080", f is not None and
                  IP(f[14:]).dst == WEB and TCP(f[34:]).dport == 8080 and len(TCP(f[34:]).payload) == want_len,
                  f"got {len(got)} frames")
            if f is None:
                continue
            ip = IP(f[14:])
            field = int.from_bytes(f[50:52], "big")
            if name == "complete":
                check("complete: sent without NEEDS_CSUM, checksum valid (updated incrementally)",
                      h["flags"] == 0 and l4_valid(f), str(h))
            else:
                check(f"{name}: left partial for the kernel (NEEDS_CSUM, csum_start 34, offset 16)",
                      h["flags"] == NEEDS_CSUM and h["csum_start"] == 34 and h["csum_offset"] == 16, str(h))
                want = pseudo_sum(CURL, WEB, 6, ip.len - 20)
                check(f"{name}: field is the pseudo-header sum of {CURL} -> {WEB} (0x{want:04x})",
                      field == want, f"0x{field:04x}")
                check(f"{name}: finished as the kernel does, the checksum is valid",
                      l4_valid(finish_partial(f, 34, 16)))
        # The super-frame leaves whole, as a kernel router forwards one: one
        # frame with GSO_TCPV4 at the sender's MSS for the receiving kernel.
        segs = sorted(s for s in by_seq if s >= 2125)
        h, f = by_seq.get(2125, ({}, b""))
        check("super-frame: leaves whole to the pod (one frame, 4444 bytes of payload)",
              segs == [2125] and len(TCP(f[34:]).payload) == 4444 and IP(f[14:]).dst == WEB,
              f"{segs} {len(f)}")
        check("super-frame: TSO for the kernel (GSO_TCPV4, gso_size 1448, hdr_len 54)",
              h.get("gso_type") == GSO_TCPV4 and h.get("gso_size") == 1448 and h.get("hdr_len") == 54,
              str(h))
        check("super-frame: partial (NEEDS_CSUM 34/16), the pseudo-header sum of the whole frame",
              h.get("flags") == NEEDS_CSUM and h.get("csum_start") == 34 and h.get("csum_offset") == 16 and
              int.from_bytes(f[50:52], "big") == pseudo_sum(CURL, WEB, 6, 20 + 4444), str(h))
        check("super-frame: IP ID 10, PSH kept, valid once finished",
              f != b"" and IP(f[14:]).id == 10 and TCP(f[34:]).flags.value & 0x08 and
              l4_valid(finish_partial(f, 34, 16)))
        check("super-frame: the payload arrives byte for byte",
              bytes(TCP(f[34:]).payload) == bytes(i % 251 for i in range(4444)))
        udp_out = [(h, f) for h, f in got if f[23] == 17]
        check("UDP to the service: delivered to webpod:5353, partial, valid once finished",
              len(udp_out) == 1 and UDP(udp_out[0][1][34:]).dport == 5353 and
              udp_out[0][0]["flags"] == NEEDS_CSUM and udp_out[0][0]["csum_offset"] == 6 and
              int.from_bytes(udp_out[0][1][40:42], "big") ==
              pseudo_sum(CURL, WEB, 17, 8 + len(b"mdns query")) and
              l4_valid(finish_partial(udp_out[0][1], 34, 6)), str(udp_out))

        # 5. Masqueraded to the router through the pcap uplink (no offload):
        #    kdp finishes the checksums; a UDP_SEGMENT super-frame too.
        m1 = e / IP(src=CURL, dst=ROUTER, id=20) / UDP(sport=40001, dport=53) / Raw(b"q" * 33)
        m2 = e / IP(src=CURL, dst=ROUTER, id=21) / TCP(sport=40002, dport=80, flags="S", seq=9)
        m3 = e / IP(src=CURL, dst=ROUTER, id=22) / UDP(sport=40003, dport=9000) / Raw(bytes(range(250)) * 12)
        for pkt, off in ((m1, 6), (m2, 16)):
            raw, _ = partial(pkt)
            inj.send(vnet(NEEDS_CSUM, csum_start=34, csum_offset=off), raw)
            sent_partial += 1
        raw, _ = partial(m3)
        inj.send(vnet(NEEDS_CSUM, GSO_UDP_L4, 42, 1200, 34, 6), raw)
        # A TCP super-frame to the router: kept whole by the driver, cut by
        # the worker for the uplink, which has no TSO (and no checksum offload).
        m4 = e / IP(src=CURL, dst=ROUTER, id=30) / TCP(sport=40004, dport=80, flags="PA", seq=7000,
                                                       ack=1) / Raw(bytes(i % 241 for i in range(4444)))
        raw, _ = partial(m4)
        inj.send(vnet(NEEDS_CSUM, GSO_TCPV4, 54, 1448, 34, 16), raw)
        # 6. A TCPv6 super-frame: kept whole too (LRO), but this node has no
        # IPv6, so it is a spoofed source to the pipeline (one drop, not 3).
        v6 = Ether(src=curl_mac, dst=KDP_MAC) / IPv6(src="fd00::1", dst="fd00::2") / \
            TCP(sport=1, dport=2, flags="A") / Raw(b"6" * 3000)
        inj.send(vnet(NEEDS_CSUM, GSO_TCPV6, 74, 1400, 54, 16), bytes(v6))
        time.sleep(1.0)
        code, body = http(p("kdp.sock"), "GET", "/v1/status")
        ports = {x["name"]: x for x in json.loads(body)["ports"]}
        stats = json.loads(http(p("kdp.sock"), "GET", "/v1/stats")[1])
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        subprocess.run(["ip", "netns", "del", NS], capture_output=True)
    check("kdp exits 0 on SIGTERM", proc is not None and proc.returncode == 0,
          f"rc={proc.returncode if proc else None}")
    out = rdpcap(p("uplink_out.pcap")) if os.path.exists(p("uplink_out.pcap")) else []
    ip_out = [x for x in out if IP in x]
    for name, sport, proto in (("UDP", 40001, 17), ("TCP SYN", 40002, 6)):
        hit = [x for x in ip_out if x[IP].proto == proto and x[IP].payload.sport == sport]
        if not hit:
            check(f"masquerade {name}: on the uplink", False, f"{len(ip_out)} IPv4 frames")
            continue
        x = hit[0]
        f = bytes(x)
        want = IP(bytes(x[IP]))
        del want.payload.chksum
        want = IP(bytes(want)).payload.chksum
        check(f"masquerade {name}: source {NODE_IP}, checksum finished by kdp, exactly 0x{want:04x}",
              x[IP].src == NODE_IP and x[IP].payload.chksum == want and l4_valid(f),
              f"src={x[IP].src} csum=0x{x[IP].payload.chksum:04x}")
    uso = [x for x in ip_out if x[IP].proto == 17 and x[UDP].dport == 9000]
    check("UDP_SEGMENT super-frame: 3 datagrams of 1200, 1200, 600 bytes on the uplink",
          [len(x[UDP].payload) for x in uso] == [1200, 1200, 600], str([len(x[UDP].payload) for x in uso]))
    check("UDP_SEGMENT: each datagram masqueraded with a valid, finished checksum",
          len(uso) == 3 and all(x[IP].src == NODE_IP and l4_valid(bytes(x)) for x in uso))
    check("UDP_SEGMENT: the payload arrives in order",
          b"".join(bytes(x[UDP].payload) for x in uso) == bytes(range(250)) * 12)
    tso = sorted((x for x in ip_out if x[IP].proto == 6 and x[TCP].sport != 40002), key=lambda x: x[TCP].seq)
    check("TCP super-frame to a port without TSO: 4 segments of 1448, 1448, 1448, 100 bytes",
          [len(x[TCP].payload) for x in tso] == [1448, 1448, 1448, 100], str([len(x[TCP].payload) for x in tso]))
    check("TCP super-frame cut: sequence numbers 7000 + k * 1448, IP IDs 30-33, PSH on the last only",
          [x[TCP].seq for x in tso] == [7000, 8448, 9896, 11344] and [x[IP].id for x in tso] == [30, 31, 32, 33]
          and [x[TCP].flags.value & 0x08 for x in tso] == [0, 0, 0, 8])
    exact = []
    for x in tso:
        w = IP(bytes(x[IP]))
        del w.payload.chksum
        exact.append(IP(bytes(w)).payload.chksum)
    check("TCP super-frame cut: each segment masqueraded, checksum finished by kdp, exact",
          len(tso) == 4 and all(x[IP].src == NODE_IP and x[TCP].chksum == c and l4_valid(bytes(x))
                                for x, c in zip(tso, exact)), str([(x[IP].src, x[TCP].chksum) for x in tso]))
    check("TCP super-frame cut: the payload arrives in order",
          b"".join(bytes(x[TCP].payload) for x in tso) == bytes(i % 241 for i in range(4444)))
    curl = next((x for x in ports.values() if x["endpoint"] == "default/curl-pod"), {})
    web = next((x for x in ports.values() if x["endpoint"] == "default/webpod"), {})
    dc, wc = curl.get("driverCounters", {}), web.get("driverCounters", {})
    check(f"curl-pod port counted {sent_partial + 3} partial checksums (3 super-frames whole)",
          dc.get("rx_csum_partial") == sent_partial + 3, str(dc))
    check("curl-pod port counted 4 super-frames: 2 TCP and 1 TCPv6 whole, UDP cut in 3",
          dc.get("rx_gso_frames") == 4 and dc.get("rx_gso_whole") == 3 and
          dc.get("rx_gso_segments") == 3, str(dc))
    check("curl-pod port refused no super-frame",
          not dc.get("rx_drop_gso_unsupported") and not dc.get("rx_drop_gso_malformed"), str(dc))
    check("webpod port handed 3 partial checksums and 1 super-frame (TSO) to the kernel",
          wc.get("tx_csum_offload") == 3 and wc.get("tx_tso") == 1, str(wc))
    drops = {x["reason"]: x["packets"] for x in stats.get("drops", [])}
    check("no packet dropped by the pipeline but the TCPv6 super-frame (spoofed_source: no nodeIPv6)",
          {r: n for r, n in drops.items() if n} == {"spoofed_source": 1}, str(drops))
    print(f"{results['passed']} passed, {results['failed']} failed")
    if results["failed"] == 0:
        shutil.rmtree(d, ignore_errors=True)
    else:
        print(f"kept {d} for inspection")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

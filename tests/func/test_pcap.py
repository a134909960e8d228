#!/usr/bin/python3
"""Functional test: crafted packets in through net_pcap ports, the output
pcaps checked field by field (the PKTGEN -> SETUP -> CHECK idea).

kdp runs as node k8s-ctr of the reference lab with one worker:
  uplink   net_pcap (rx: uplink_in.pcap, tx: uplink_out.pcap)
  curl-pod net_pcap (rx: curl_in.pcap,   tx: curl_out.pcap)   172.20.1.236
  webpod   net_pcap (rx: empty,          tx: web_out.pcap)    172.20.1.40
Usage: test_pcap.py <path to kdp>
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap  # noqa: E402
from scapy.layers.inet import IPerror, UDPerror  # noqa: E402

KDP_MAC = "02:00:00:00:00:64"
W1_MAC = "02:00:00:00:00:65"
CURL_MAC = "02:00:ac:14:01:ec"
WEB_MAC = "02:00:ac:14:01:28"
OTHER_MAC = "02:00:00:00:00:77"
NODE_IP, W1_IP = "192.168.10.100", "192.168.10.101"
CURL, WEB, REMOTE_WEB, POD_GW = "172.20.1.236", "172.20.1.40", "172.20.0.130", "169.254.1.1"
VIP, ROUTER, ROUTER_MAC = "10.96.152.212", "192.168.10.200", "02:00:00:00:00:c8"
DNS_VIP, COREDNS_W1, NODELOCAL, NODELOCAL_MAC = "10.96.0.10", "172.20.0.186", "172.20.1.13", "02:00:ac:14:01:0d"

results = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        results["passed"] += 1
        print(f"PASS {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name} {detail}")


def http_get(sock, path):
    """GET over the Unix socket; returns the body as text."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: kdp\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if b"chunked" in head.lower():
        out, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            out, rest = out + rest[:size], rest[size + 2:]
        body = out
    return body.decode()


def dpdk_telemetry(path, cmds):
    """Asks DPDK's telemetry socket, as dpdk-telemetry.py does."""
    out = {}
    try:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        s.connect(path)
        json.loads(s.recv(16384))  # the greeting
        for c in cmds:
            s.send(c.encode())
            out.update(json.loads(s.recv(65536)))
        s.close()
    except OSError as e:
        print(f"telemetry: {e}")
    return out


def api(sock, path):
    return json.loads(http_get(sock, path))


def ones_sum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(int.from_bytes(data[i:i + 2], "big") for i in range(0, len(data), 2))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ip_csum_ok(pkt):
    """The one's-complement sum over the header, checksum included, is 0xffff."""
    raw = bytes(pkt[IP])[: pkt[IP].ihl * 4]
    return ones_sum(raw) == 0xFFFF


def l4_csum_ok(pkt):
    """Recomputes the L4 checksum with scapy and compares."""
    ip = IP(bytes(pkt[IP]))
    layer = ip.payload
    got = layer.chksum
    del layer.chksum
    return IP(bytes(ip)).payload.chksum == got


def run_kdp(kdp, d, want_rx, collect=None):
    """Runs kdp on d/kdp.json until it has read want_rx packets (10 s at
    most), lets the slow path settle, calls collect() for more readings,
    then stops it with SIGTERM. Returns (stats, exit code, collect's result)."""
    sock = os.path.join(d, "kdp.sock")
    log = open(os.path.join(d, "kdp.log"), "w")
    proc = subprocess.Popen([kdp, "--config", os.path.join(d, "kdp.json")], stdout=log,
                            stderr=subprocess.STDOUT)
    stats, extra = None, None
    try:
        for _ in range(100):
            time.sleep(0.1)
            if proc.poll() is not None:
                break
            try:
                stats = api(sock, "/v1/stats")
            except (OSError, ValueError):
                continue
            if stats["totals"]["rxPackets"] >= want_rx:
                time.sleep(0.5)  # let the slow path answer ARP and flush
                stats = api(sock, "/v1/stats")
                extra = collect() if collect else None
                break
    finally:
        rc = stop_kdp(proc)
        log.close()
    return stats, rc, extra


def stop_kdp(proc):
    """SIGTERM (if still running), 15 s to exit, then SIGKILL; returns the
    exit code (-9 when it had to be killed)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return -9


def main():
    kdp = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-func-")
    p = lambda n: os.path.join(d, n)  # noqa: E731

    uplink_in = [
        # A neighbour asks for the node IP: kdp answers and learns it.
        Ether(src=W1_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=W1_MAC, psrc=W1_IP, pdst=NODE_IP),
        Ether(src=ROUTER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=ROUTER_MAC, psrc=ROUTER, pdst=NODE_IP),
        # The remote webpod answers curl-pod across the LAN.
        Ether(src=W1_MAC, dst=KDP_MAC) / IP(src=REMOTE_WEB, dst=CURL, ttl=63) / ICMP(type=0, id=7, seq=1) / Raw(b"x" * 32),
        # Unicast for another host on the LAN.
        Ether(src=W1_MAC, dst=OTHER_MAC) / IP(src=W1_IP, dst=CURL) / ICMP(),
        # Truncated IPv4 header, and a VLAN-tagged frame.
        Ether(src=W1_MAC, dst=KDP_MAC, type=0x0800) / Raw(b"\x45\x00\x00"),
        Ether(src=W1_MAC, dst=KDP_MAC, type=0x8100) / Raw(b"\x00\x64\x08\x00" + b"\0" * 40),
    ]
    curl_in = [
        Ether(src=CURL_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=CURL_MAC, psrc=CURL, pdst=POD_GW),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst=REMOTE_WEB, ttl=64, id=100) / ICMP(id=7, seq=1) / Raw(b"a" * 56),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst=WEB, ttl=64, id=101) / UDP(sport=40000, dport=80) / Raw(b"hello webpod"),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src="172.20.1.99", dst=REMOTE_WEB) / ICMP(),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst=REMOTE_WEB, ttl=1, id=102) / UDP(sport=33434, dport=33435) / Raw(b"trace"),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst=POD_GW, id=103) / ICMP(id=9, seq=4) / Raw(b"gw"),
        # A connection to the ClusterIP, and a datagram to the router (masqueraded).
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst=VIP, id=104) / TCP(sport=41000, dport=80, flags="S", seq=1000),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst=ROUTER, id=105) / UDP(sport=40000, dport=53) / Raw(b"query"),
        # DNS to kube-dns: the Local Redirect Policy sends it to the node-local pod.
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst=DNS_VIP, id=106) / UDP(sport=45000, dport=53) / Raw(b"dnsq"),
        # UDP to the webpod service (DNATed); the backend answers it with an ICMP error.
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst=VIP, id=108) / UDP(sport=47000, dport=5353) / Raw(b"u"),
        # A service without backends: TCP gets a RST, UDP an ICMP port unreachable.
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst="10.96.99.99", id=109) / TCP(sport=48000, dport=80, flags="S", seq=777),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst="10.96.99.99", id=110) / UDP(sport=48001, dport=53) / Raw(b"q"),
        # DNS to the policy's address (addressMatcher), TCP.
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst="169.254.20.10", id=107) / TCP(sport=45001, dport=53, flags="S"),
    ]
    # The backend answers the SYN (read after curl-pod's burst: ports are polled in order).
    web_in = [
        Ether(src=WEB_MAC, dst=KDP_MAC) / IP(src=WEB, dst=CURL, id=200) / TCP(sport=8080, dport=41000, flags="SA", seq=5000, ack=1001),
        Ether(src=WEB_MAC, dst=KDP_MAC) / IP(src=WEB, dst=CURL, id=201) / ICMP(type=3, code=3)
        / IP(src=CURL, dst=WEB, id=108, ttl=63) / UDP(sport=47000, dport=5353, len=9),
    ]
    wrpcap(p("uplink_in.pcap"), uplink_in)
    wrpcap(p("curl_in.pcap"), curl_in)
    wrpcap(p("web_in.pcap"), web_in)
    wrpcap(p("nl_in.pcap"), [])
    cfg = {
        "name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": "192.168.10.200",
        "uplink": {"devargs": f"net_pcap0,rx_pcap={p('uplink_in.pcap')},tx_pcap={p('uplink_out.pcap')}",
                   "mac": KDP_MAC},
        "nativeRoutingCIDR": "172.20.0.0/16",
        "allowedDrivers": ["net_pcap", "net_null"], "workers": 1, "pollMode": "adaptive",
        "controlSocket": p("kdp.sock"), "stateFile": p("state.json"),
        "flowStateFile": p("flows"),
        "eal": ["--no-pci", "--no-huge", "-m", "512", f"--file-prefix=kdp-func-{os.getpid()}",
                "--log-level=lib.*:error"],
    }
    state = {
        "nodes": [{"name": "k8s-ctr", "ip": NODE_IP, "podCIDRs": ["172.20.1.0/24"]},
                  {"name": "k8s-w1", "ip": W1_IP, "podCIDRs": ["172.20.0.0/24"]}],
        "endpoints": [
            {"namespace": "default", "name": "curl-pod", "ip": CURL, "mac": CURL_MAC, "labels": {"app": "curl"},
             "devargs": f"net_pcap,rx_pcap={p('curl_in.pcap')},tx_pcap={p('curl_out.pcap')}"},
            {"namespace": "default", "name": "webpod", "ip": WEB, "mac": WEB_MAC, "labels": {"app": "webpod"},
             "devargs": f"net_pcap,rx_pcap={p('web_in.pcap')},tx_pcap={p('web_out.pcap')}"},
            {"namespace": "kube-system", "name": "node-local-dns-x", "ip": NODELOCAL, "mac": NODELOCAL_MAC,
             "labels": {"k8s-app": "node-local-dns"},
             "devargs": f"net_pcap,rx_pcap={p('nl_in.pcap')},tx_pcap={p('nl_out.pcap')}"},
        ],
        "services": [
            {"namespace": "default", "name": "webpod", "type": "ClusterIP", "clusterIP": VIP,
             "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                       {"name": "mdns", "protocol": "UDP", "port": 5353}],
             "backends": [{"ip": WEB}]},
            {"namespace": "default", "name": "empty", "clusterIP": "10.96.99.99",
             "ports": [{"name": "http", "protocol": "TCP", "port": 80}, {"name": "dns", "protocol": "UDP", "port": 53}]},
            {"namespace": "kube-system", "name": "kube-dns", "clusterIP": DNS_VIP,
             "ports": [{"name": "dns", "protocol": "UDP", "port": 53},
                       {"name": "dns-tcp", "protocol": "TCP", "port": 53}],
             "backends": [{"ip": COREDNS_W1}]},
        ],
        "localRedirectPolicies": [
            {"namespace": "kube-system", "name": "nodelocaldns",
             "redirectFrontend": {"serviceMatcher": {"serviceName": "kube-dns", "namespace": "kube-system"}},
             "redirectBackend": {"localEndpointSelector": {"matchLabels": {"k8s-app": "node-local-dns"}},
                                 "toPorts": [{"port": "53", "name": "dns", "protocol": "UDP"},
                                             {"port": "53", "name": "dns-tcp", "protocol": "TCP"}]}},
            {"namespace": "kube-system", "name": "nodelocaldns-addr",
             "redirectFrontend": {"addressMatcher": {"ip": "169.254.20.10",
                                                     "toPorts": [{"port": "53", "name": "dns-tcp", "protocol": "TCP"}]}},
             "redirectBackend": {"localEndpointSelector": {"matchLabels": {"k8s-app": "node-local-dns"}},
                                 "toPorts": [{"port": "53", "name": "dns-tcp", "protocol": "TCP"}]}},
        ],
    }
    with open(p("kdp.json"), "w") as f:
        json.dump(cfg, f)
    with open(p("state.json"), "w") as f:
        json.dump(state, f)

    want_rx = len(uplink_in) + len(curl_in) + len(web_in)
    stats, rc, extra = run_kdp(kdp, d, want_rx, lambda: (
        http_get(p("kdp.sock"), "/metrics"),
        dpdk_telemetry(f"/var/run/dpdk/kdp-func-{os.getpid()}/dpdk_telemetry.v2", ["/kdp/stats", "/kdp/ct"])))
    metrics_text, telemetry = extra if extra else ("", {})
    check("kdp started and read every input packet",
          stats is not None and stats["totals"]["rxPackets"] == want_rx,
          f"stats={stats and stats['totals']}")
    check("kdp exits 0 on SIGTERM", rc == 0, f"rc={rc}")
    if stats is None:
        print(open(p("kdp.log")).read())
        return finish(d)

    drops = {x["reason"]: x["packets"] for x in stats["drops"]}
    for reason, n in [("spoofed_source", 1), ("l2_not_for_us", 1), ("ip_truncated", 1),
                      ("ethertype_unsupported", 1), ("ttl_exceeded", 1), ("svc_no_backend", 2)]:
        check(f"drop counter {reason} == {n}", drops.get(reason) == n, f"got {drops.get(reason)}")

    # /metrics parses as Prometheus text and agrees with the traffic.
    from prometheus_client.parser import text_string_to_metric_families
    samples = {}
    try:
        for fam in text_string_to_metric_families(metrics_text):
            for smp in fam.samples:
                samples[(smp.name, tuple(sorted(smp.labels.items())))] = smp.value
        parsed = True
    except ValueError as e:
        parsed = False
        print(f"metrics parse error: {e}")
    check("/metrics parses as the Prometheus text format", parsed and len(samples) > 50,
          f"{len(samples)} samples")
    check("/metrics: kdp_packets_total{direction=rx} equals the packets sent in",
          samples.get(("kdp_packets_total", (("direction", "rx"),))) == want_rx,
          str(samples.get(("kdp_packets_total", (("direction", "rx"),)))))
    check("/metrics: spoofed_source drop counted once",
          samples.get(("kdp_dropped_packets_total", (("reason", "spoofed_source"), ("stage", "ingress")))) == 1)
    check("/metrics: 3 services, 7 frontends (6 service ports + 1 addressMatcher), 3 endpoints",
          samples.get(("kdp_services", ())) == 3 and samples.get(("kdp_endpoints", ())) == 3
          and samples.get(("kdp_service_frontends", (("family", "ipv4"),))) == 7,
          f"services={samples.get(('kdp_services', ()))} fe={samples.get(('kdp_service_frontends', (('family', 'ipv4'),)))}")
    check("/metrics: conntrack holds the DNAT, redirect and masquerade flows (>= 4)",
          (samples.get(("kdp_conntrack_entries", (("family", "ipv4"),))) or 0) >= 4, str(samples.get(("kdp_conntrack_entries", (("family", "ipv4"),)))))
    check("/metrics: one masqueraded flow",
          samples.get(("kdp_nat_masqueraded_flows_total", ())) == 1)
    check("/metrics: the API requests are counted",
          (samples.get(("kdp_api_requests_total", (("code", "200"), ("method", "GET"), ("path", "/v1/stats")))) or 0) >= 1)

    ts = telemetry.get("/kdp/stats") or {}
    check("DPDK telemetry /kdp/stats: rx_packets and drop_spoofed_source match",
          ts.get("rx_packets") == want_rx and ts.get("drop_spoofed_source") == 1, str(ts)[:200])
    check("DPDK telemetry /kdp/ct: entries equal /metrics' kdp_conntrack_entries",
          (telemetry.get("/kdp/ct") or {}).get("entries") == samples.get(("kdp_conntrack_entries", (("family", "ipv4"),))),
          str(telemetry.get("/kdp/ct")))

    up = rdpcap(p("uplink_out.pcap"))
    curl = rdpcap(p("curl_out.pcap"))
    web = rdpcap(p("web_out.pcap"))

    # Uplink: ARP answer for the node IP, and curl-pod's ping routed natively.
    arp = [x for x in up if ARP in x and x[ARP].op == 2 and x[ARP].pdst == W1_IP]
    check("uplink: ARP reply 192.168.10.100 is-at kdp MAC to k8s-w1",
          len(arp) == 1 and arp[0][ARP].psrc == NODE_IP and arp[0][ARP].hwsrc == KDP_MAC
          and arp[0][ARP].pdst == W1_IP and arp[0][Ether].dst == W1_MAC, repr(arp))
    echo = [x for x in up if ICMP in x and x[IP].id == 100]
    check("uplink: curl-pod -> 172.20.0.130 leaves once", len(echo) == 1, f"{len(echo)} copies")
    if echo:
        e = echo[0]
        check("uplink: L2 is kdp MAC -> k8s-w1 MAC", e[Ether].src == KDP_MAC and e[Ether].dst == W1_MAC,
              f"{e[Ether].src} -> {e[Ether].dst}")
        check("uplink: source kept 172.20.1.236 (no masquerade), dst 172.20.0.130",
              e[IP].src == CURL and e[IP].dst == REMOTE_WEB)
        check("uplink: no encapsulation (plain IPv4/ICMP)", e[Ether].type == 0x0800 and e[IP].proto == 1)
        check("uplink: TTL 64 -> 63", e[IP].ttl == 63, f"ttl={e[IP].ttl}")
        check("uplink: IPv4 checksum valid after TTL update", ip_csum_ok(e))
        check("uplink: ICMP checksum valid", l4_csum_ok(e))
        check("uplink: payload intact", bytes(e[Raw]) == b"a" * 56)

    # curl-pod port: gateway ARP, gateway echo, time exceeded, the remote echo.
    arp = [x for x in curl if ARP in x]
    check("curl-pod: ARP reply for the pods' gateway 169.254.1.1 with kdp MAC",
          len(arp) == 1 and arp[0][ARP].op == 2 and arp[0][ARP].psrc == POD_GW
          and arp[0][ARP].hwsrc == KDP_MAC and arp[0][Ether].dst == CURL_MAC, repr(arp))
    gw = [x for x in curl if ICMP in x and x[ICMP].type == 0 and x[IP].src == POD_GW]
    check("curl-pod: echo reply from 169.254.1.1 with same id/seq",
          len(gw) == 1 and gw[0][IP].dst == CURL and gw[0][ICMP].id == 9 and gw[0][ICMP].seq == 4
          and bytes(gw[0][Raw]) == b"gw" and ip_csum_ok(gw[0]) and l4_csum_ok(gw[0]), repr(gw))
    te = [x for x in curl if ICMP in x and x[ICMP].type == 11]
    check("curl-pod: ICMP time exceeded from the node IP", len(te) == 1 and te[0][IP].src == NODE_IP
          and te[0][IP].dst == CURL and te[0][ICMP].code == 0, repr(te))
    if te:
        inner = te[0][IPerror]
        check("curl-pod: time exceeded quotes the original header + 8 bytes",
              inner.src == CURL and inner.dst == REMOTE_WEB and inner.id == 102 and inner.ttl == 1
              and te[0][UDPerror].sport == 33434 and te[0][UDPerror].dport == 33435, repr(te[0]))
        check("curl-pod: time exceeded checksums valid", ip_csum_ok(te[0]) and l4_csum_ok(te[0]))
    back = [x for x in curl if ICMP in x and x[ICMP].type == 0 and x[IP].src == REMOTE_WEB]
    check("curl-pod: reply from 172.20.0.130 delivered with pod MAC, TTL 62",
          len(back) == 1 and back[0][Ether].dst == CURL_MAC and back[0][Ether].src == KDP_MAC
          and back[0][IP].ttl == 62 and ip_csum_ok(back[0]), repr(back))
    spoofed = [x for x in up + web if IP in x and x[IP].src == "172.20.1.99"]
    check("spoofed packet forwarded nowhere", not spoofed)

    # Service: DNAT to the backend's targetPort, and the reply from the ClusterIP.
    syn = [x for x in web if TCP in x and x[IP].id == 104]
    check("service: SYN to 10.96.152.212:80 reaches webpod at 172.20.1.40:8080",
          len(syn) == 1 and syn[0][IP].dst == WEB and syn[0][TCP].dport == 8080
          and syn[0][IP].src == CURL and syn[0][TCP].sport == 41000 and syn[0][Ether].dst == WEB_MAC, repr(syn))
    if syn:
        check("service: DNATed SYN has valid IP and TCP checksums (pseudo-header)",
              ip_csum_ok(syn[0]) and l4_csum_ok(syn[0]) and syn[0][TCP].seq == 1000)
    sa = [x for x in curl if TCP in x and x[IP].id == 200]
    check("service: SYN-ACK reaches curl-pod from 10.96.152.212:80 (reverse NAT)",
          len(sa) == 1 and sa[0][IP].src == VIP and sa[0][TCP].sport == 80
          and sa[0][TCP].dport == 41000 and sa[0][TCP].ack == 1001, repr(sa))
    if sa:
        check("service: reply checksums valid", ip_csum_ok(sa[0]) and l4_csum_ok(sa[0]))
    masq = [x for x in up if UDP in x and x[IP].id == 105]
    check("masquerade: curl-pod -> 192.168.10.200 leaves as 192.168.10.100:40000",
          len(masq) == 1 and masq[0][IP].src == NODE_IP and masq[0][UDP].sport == 40000
          and masq[0][IP].dst == ROUTER and masq[0][Ether].dst == ROUTER_MAC, repr(masq))
    if masq:
        check("masquerade: IP and UDP checksums valid", ip_csum_ok(masq[0]) and l4_csum_ok(masq[0]))

    err = [x for x in curl if ICMP in x and x[IP].id != 0 and x[ICMP].type == 3 and IPerror in x
           and x[IPerror].id == 108]
    check("ICMP error from the backend about a DNATed flow: curl-pod sees it from the ClusterIP, "
          "quoting its own packet to 10.96.152.212:5353",
          len(err) == 1 and err[0][IP].src == VIP and err[0][IP].dst == CURL
          and err[0][IPerror].src == CURL and err[0][IPerror].dst == VIP
          and err[0][UDPerror].sport == 47000 and err[0][UDPerror].dport == 5353, repr(err))
    if err:
        check("ICMP error checksums valid (outer IP, ICMP, quoted IP)",
              ip_csum_ok(err[0]) and l4_csum_ok(err[0])
              and ones_sum(bytes(err[0][IPerror])[:20]) == 0xFFFF)
    rst = [x for x in curl if TCP in x and x[IP].src == "10.96.99.99"]
    check("reject: SYN to a service without backends gets RST+ACK from 10.96.99.99:80",
          len(rst) == 1 and rst[0][TCP].flags == "RA" and rst[0][TCP].ack == 778
          and rst[0][TCP].dport == 48000 and ip_csum_ok(rst[0]) and l4_csum_ok(rst[0]), repr(rst))
    unr = [x for x in curl if ICMP in x and x[IP].src == "10.96.99.99"]
    check("reject: UDP to it gets ICMP port unreachable from 10.96.99.99 quoting the datagram",
          len(unr) == 1 and unr[0][ICMP].type == 3 and unr[0][ICMP].code == 3
          and unr[0][IPerror].id == 110 and l4_csum_ok(unr[0]), repr(unr))

    nl = rdpcap(p("nl_out.pcap"))
    q = [x for x in nl if UDP in x and x[IP].id == 106]
    check("local redirect: DNS to 10.96.0.10:53/UDP goes to the node-local pod 172.20.1.13:53",
          len(q) == 1 and q[0][IP].dst == NODELOCAL and q[0][UDP].dport == 53
          and q[0][Ether].dst == NODELOCAL_MAC and l4_csum_ok(q[0]), repr(q))
    check("local redirect: nothing sent towards CoreDNS on the other node",
          not [x for x in up if IP in x and x[IP].id == 106])
    t = [x for x in nl if TCP in x and x[IP].id == 107]
    check("local redirect (addressMatcher): 169.254.20.10:53/TCP goes to 172.20.1.13:53",
          len(t) == 1 and t[0][IP].dst == NODELOCAL and t[0][TCP].dport == 53 and l4_csum_ok(t[0]), repr(t))

    # webpod port: the UDP datagram, untouched but for TTL and L2.
    udp = [x for x in web if UDP in x and x[IP].id == 101]
    check("webpod: UDP 172.20.1.236:40000 -> 172.20.1.40:80 delivered",
          len(udp) == 1 and udp[0][IP].src == CURL and udp[0][UDP].sport == 40000
          and udp[0][UDP].dport == 80 and udp[0][Ether].dst == WEB_MAC, repr(udp))
    if udp:
        check("webpod: TTL 63, IP and UDP checksums valid",
              udp[0][IP].ttl == 63 and ip_csum_ok(udp[0]) and l4_csum_ok(udp[0]))
    return finish(d)


def finish(d):
    print(f"{results['passed']} passed, {results['failed']} failed")
    if results["failed"] == 0:
        shutil.rmtree(d, ignore_errors=True)
    else:
        print(f"kept {d} for inspection")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

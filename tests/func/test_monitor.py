#!/usr/bin/python3
"""Functional test of the flow monitor: kdpctl monitor listens on node
k8s-ctr (net_pcap ports, one worker) before curl-pod's port opens; the
port then replays crafted packets once and the events must read exactly:
a spoofed packet DROPPED (spoofed_source), a SYN to the ClusterIP
TRANSLATED to the webpod, a datagram to the webpod FORWARDED. Bad filters
get a 400 naming the parameter; the counters reach /metrics.
Usage: test_monitor.py <path to kdp>   (kdpctl is found next to it)
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time

from scapy.all import ICMP, IP, TCP, UDP, Ether, wrpcap  # noqa: E402
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pcap import (CURL, CURL_MAC, KDP_MAC, NODE_IP, REMOTE_WEB, VIP, W1_IP, WEB,  # noqa: E402
                       WEB_MAC, api, check, finish, http_get, results, stop_kdp)

SPOOF = "172.20.1.99"
CURL6, WEB6, SPOOF6, REMOTE6 = "fd00:20:0:1::236", "fd00:20:0:1::40", "fd00:20:0:1::99", "fd00:20::130"
TIME = re.compile(r"^[A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d\.\d{3}: (.*)$")


def curl_put(sock, path, body):
    """PUT over the Unix socket with curl; returns the HTTP code."""
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--unix-socket", sock,
                        "-X", "PUT", "--data-binary", json.dumps(body), f"http://kdp{path}"],
                       capture_output=True, text=True, timeout=20)
    return r.stdout


def main():
    kdp = os.path.abspath(sys.argv[1])
    kdpctl = os.path.join(os.path.dirname(os.path.dirname(kdp)), "tools", "kdpctl", "kdpctl")
    d = tempfile.mkdtemp(prefix="kdp-func-monitor-")

    def p(n):
        return os.path.join(d, n)

    wrpcap(p("curl_in.pcap"), [
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=SPOOF, dst=REMOTE_WEB) / ICMP(id=7, seq=1),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst=VIP) / TCP(sport=40000, dport=80, flags="S"),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IP(src=CURL, dst=WEB) / UDP(sport=40001, dport=5353),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=SPOOF6, dst=REMOTE6) / ICMPv6EchoRequest(id=7, seq=1),
        Ether(src=CURL_MAC, dst=KDP_MAC) / IPv6(src=CURL6, dst=WEB6) / UDP(sport=40002, dport=5353),
    ])
    for f in ("uplink_in.pcap", "web_in.pcap"):
        wrpcap(p(f), [])
    sock = p("kdp.sock")
    cfg = {
        "name": "k8s-ctr", "nodeIP": f"{NODE_IP}/24", "gateway": "192.168.10.200",
        "uplink": {"devargs": f"net_pcap0,rx_pcap={p('uplink_in.pcap')},tx_pcap={p('uplink_out.pcap')}",
                   "mac": KDP_MAC},
        "nativeRoutingCIDR": "172.20.0.0/16", "serviceCIDR": "10.96.0.0/16",
        "nodeIPv6": "fd00:10::100/64", "gatewayIPv6": "fd00:10::200", "nativeRoutingCIDRv6": "fd00:20::/48",
        "allowedDrivers": ["net_pcap"], "workers": 1, "pollMode": "adaptive",
        "controlSocket": sock, "stateFile": p("state.json"), "flowStateFile": "",
        "eal": ["--no-pci", "--no-huge", "-m", "1024", f"--file-prefix=kdp-func-mon-{os.getpid()}",
                "--log-level=lib.*:error", "--no-telemetry"],
    }
    state = {
        "nodes": [{"name": "k8s-ctr", "ip": NODE_IP, "podCIDRs": ["172.20.1.0/24"]},
                  {"name": "k8s-w1", "ip": W1_IP, "podCIDRs": ["172.20.0.0/24"]}],
        "endpoints": [{"namespace": "default", "name": "webpod", "ip": WEB, "ips": [WEB, WEB6], "mac": WEB_MAC,
                       "labels": {"app": "webpod"},
                       "devargs": f"net_pcap,rx_pcap={p('web_in.pcap')},tx_pcap={p('web_out.pcap')}"}],
        "services": [{"namespace": "default", "name": "webpod", "clusterIP": VIP,
                      "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
                      "backends": [{"ip": WEB}]}],
    }
    curl_pod = {"ip": CURL, "ips": [CURL, CURL6], "mac": CURL_MAC, "labels": {"app": "curl"},
                "devargs": f"net_pcap,rx_pcap={p('curl_in.pcap')},tx_pcap={p('curl_out.pcap')}"}
    with open(p("kdp.json"), "w") as f:
        json.dump(cfg, f)
    log = open(p("kdp.log"), "w")
    proc = subprocess.Popen([kdp, "--config", p("kdp.json")], stdout=log, stderr=subprocess.STDOUT)
    mon = None
    try:
        for _ in range(100):
            time.sleep(0.1)
            if os.path.exists(sock) and proc.poll() is None:
                break
        check("kdp started", curl_put(sock, "/v1/state", state) == "200")

        bad = json.loads(http_get(sock, "/v1/monitor?verdict=ACCEPTED"))
        check("a bad filter gets 400 naming the parameter",
              bad.get("error") == "verdict: 'ACCEPTED' is not FORWARDED, DROPPED or TRANSLATED", bad)
        bad = json.loads(http_get(sock, "/v1/monitor?port=80"))
        check("an unknown parameter gets 400 naming it",
              bad.get("error") == "port: unknown parameter (pod, ip, proto, verdict)", bad)

        mon = subprocess.Popen([kdpctl, "-s", sock, "monitor", "-n", "5"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        first = mon.stderr.readline()
        check("kdpctl monitor starts listening",
              first.startswith("Listening for flow events on node k8s-ctr (1 workers"), first)
        code = curl_put(sock, "/v1/endpoints/default/curl-pod", curl_pod)
        try:
            out, _ = mon.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            mon.kill()
            out, _ = mon.communicate()
        lines = [TIME.match(x).group(1) if TIME.match(x) else x for x in out.splitlines()]
        ports = {x.get("endpoint") or x["role"]: x["name"] for x in api(sock, "/v1/status")["ports"]}
        pc, pw = ports.get("default/curl-pod"), ports.get("default/webpod")
        c = f"default/curl-pod:40000 ({CURL})"
        # One burst: drops as they happen, then what was sent, in order.
        want = [
            f"{SPOOF} -> {REMOTE_WEB} icmp DROPPED (spoofed_source) port {pc} (ICMP EchoRequest)",
            f"{SPOOF6} -> {REMOTE6} icmpv6 DROPPED (spoofed_source) port {pc} (ICMPv6 EchoRequest)",
            f"{c} -> {VIP}:80 tcp TRANSLATED to {c} -> default/webpod:80 ({WEB}) port {pc} -> {pw} (TCP Flags: SYN)",
            f"default/curl-pod:40001 ({CURL}) -> default/webpod:5353 ({WEB}) udp FORWARDED port {pc} -> {pw}",
            f"default/curl-pod:40002 ({CURL6}) -> default/webpod:5353 ({WEB6}) udp FORWARDED port {pc} -> {pw}",
        ]
        check("PUT curl-pod (its port replays the packets)", code == "200", code)
        check("kdpctl monitor -n 5 exits 0 after five events", mon.returncode == 0, mon.returncode)
        for i, w in enumerate(want):
            got = lines[i] if i < len(lines) else None
            check(f"event {i + 1}: {w.split(' port ')[0]}", got == w, f"\n  got:  {got}\n  want: {w}")

        metrics = http_get(sock, "/metrics")
        m = dict(x.rsplit(" ", 1) for x in metrics.splitlines() if x.startswith("kdp_monitor_"))
        check("/metrics: 5 events, none lost, nobody listening now",
              m.get("kdp_monitor_events_total") == "5" and m.get("kdp_monitor_listeners") == "0"
              and m.get('kdp_monitor_events_lost_total{reason="rate_limited"}') == "0", m)
    finally:
        if mon is not None and mon.poll() is None:
            mon.kill()
        rc = stop_kdp(proc)
        log.close()
    check("kdp exits 0 on SIGTERM", rc == 0, rc)
    if results["failed"]:
        print(open(p("kdp.log")).read())
    return finish(d)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Functional test of issue #13's service fields (phase 2), with net_pcap ports
and exact checks: externalTrafficPolicy and internalTrafficPolicy Local (which
backend answered, SNAT or not, the reject and its counter), backends'
nodeName, loadBalancerSourceRanges (the svc_source_range counter), the
healthCheckNodePort answers (200/503 and the exact body), then the API of
phase 2: PATCH /v1/objects (all or nothing, the index of a bad update, one
journal line replayed by a restart), PUT /v1/state?keep=endpoints, bootId,
GET /v1/ipmasq's text, and a random sequence of updates whose frontends must
equal those of a kdp that built them whole.

kdp runs in a network namespace of its own (kdp-ftest-<pid>), where the node
IP is put on lo so that the health check socket can be reached; nothing is
configured in the root namespace. Usage: test_policies.py <path to kdp>
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from scapy.all import ARP, ICMP, IP, TCP, UDP, Ether, Raw, rdpcap, wrpcap  # noqa: E402
from scapy.layers.inet6 import IPv6, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr  # noqa: E402

KDP_MAC = "02:00:00:00:00:64"
W1_MAC = "02:00:00:00:00:65"
ROUTER_MAC = "02:00:00:00:00:c8"
CURL_MAC = "02:00:ac:14:01:ec"
WEB_MAC = "02:00:ac:14:01:28"
NODE_IP, W1_IP, ROUTER = "192.168.10.100", "192.168.10.101", "192.168.10.200"
CURL, WEB, REMOTE_WEB = "172.20.1.236", "172.20.1.40", "172.20.0.130"
OUTSIDER = "198.51.100.7"  # reaches the node through the router
LB_LOCAL, LB_RANGES = "203.0.113.10", "203.0.113.20"
HC_PORT = 31000
# The IPv6 part (issue #17): the same cases on IPv6 frontends.
NODE6, W1_6, ROUTER6, GW6 = "fd00:10::100", "fd00:10::101", "fd00:10::200", "fe80::c8"
CURL6, WEB6, REMOTE_WEB6 = "fd00:20:0:1::236", "fd00:20:0:1::40", "fd00:20::130"
OUTSIDER6 = "2001:db8:1::7"
LB6_LOCAL, LB6_RANGES = "2001:db8:2::10", "2001:db8:2::20"

results = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        results["passed"] += 1
        print(f"PASS {name}")
    else:
        results["failed"] += 1
        print(f"FAIL {name} {detail}")


def call(sock, method, path, body=None):
    """One request on the Unix socket: (status, parsed JSON or text)."""
    data = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock)
    s.sendall((f"{method} {path} HTTP/1.1\r\nHost: kdp\r\nConnection: close\r\n"
               f"Content-Length: {len(data)}\r\n\r\n").encode() + data)
    out = b""
    while True:
        c = s.recv(1 << 20)
        if not c:
            break
        out += c
    s.close()
    head, _, rest = out.partition(b"\r\n\r\n")
    try:
        return int(head.split()[1]), json.loads(rest)
    except ValueError:
        return int(head.split()[1]), rest.decode(errors="replace")


def in_ns(ns, cmd, **kw):
    return subprocess.run(["ip", "netns", "exec", ns] + cmd, capture_output=True, text=True, **kw)


def health(ns, path="/", host=NODE_IP, port=HC_PORT):
    """curl of the health check port from inside the namespace: (code, body, headers)."""
    host = f"[{host}]" if ":" in host else host
    r = subprocess.run(["ip", "netns", "exec", ns, "curl", "-g", "-s", "-m", "5", "-D", "-",
                        f"http://{host}:{port}{path}"], capture_output=True)
    head, _, body = r.stdout.decode().partition("\r\n\r\n")
    code = int(head.split()[1]) if head.startswith("HTTP/") else 0
    return code, body, head


class Kdp:
    def __init__(self, binary, d, ns):
        self.binary, self.d, self.ns = binary, d, ns
        self.sock = os.path.join(d, "kdp.sock")
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.d, "kdp.log"), "a")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.ns, self.binary, "--config",
                                      os.path.join(self.d, "kdp.json")], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        for _ in range(150):
            time.sleep(0.1)
            if self.proc.poll() is not None:
                return False
            try:
                if call(self.sock, "GET", "/v1/status")[0] == 200:
                    return True
            except OSError:
                pass
        return False

    def stop(self, sig=signal.SIGTERM):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        return rc

    def get(self, path):
        return call(self.sock, "GET", path)[1]

    def wait_rx(self, n, secs=10):
        t = time.time() + secs
        while time.time() < t:
            st = self.get("/v1/stats")
            if st["totals"]["rxPackets"] >= n:
                time.sleep(0.5)
                return self.get("/v1/stats")
            time.sleep(0.1)
        return self.get("/v1/stats")


def syn(src_mac, src, dst, sport, dport, ident):
    """A SYN told apart by @p ident: its IPv4 id, or its IPv6 flow label
    (kdp keeps both)."""
    l3 = IPv6(src=src, dst=dst, fl=ident) if ":" in dst else IP(src=src, dst=dst, id=ident)
    return Ether(src=src_mac, dst=KDP_MAC) / l3 / TCP(sport=sport, dport=dport, flags="S", seq=1000)


def flows_in(node, router, outsider, lb_local, lb_ranges, curl, itp, itp_none):
    """The SYNs of the traffic part, to the addresses of one family: (from
    the uplink, from curl-pod)."""
    up = [syn(ROUTER_MAC, router, node, 50000 + i, 30080, 3000 + i) for i in range(10)]
    up += [syn(ROUTER_MAC, router, lb_local, 50010 + i, 80, 3010 + i) for i in range(10)]
    up += [syn(ROUTER_MAC, router, node, 50020, 30081, 3020),
           syn(ROUTER_MAC, router, node, 50030, 30082, 3030),
           syn(ROUTER_MAC, router, lb_ranges, 50040, 80, 3300),
           syn(ROUTER_MAC, outsider, lb_ranges, 50041, 80, 3301),
           syn(ROUTER_MAC, outsider, node, 50042, 30083, 3302)]
    pod = [syn(CURL_MAC, curl, node, 50100 + i, 30080, 3100 + i) for i in range(20)]
    pod += [syn(CURL_MAC, curl, itp, 50200 + i, 80, 3200 + i) for i in range(20)]
    pod += [syn(CURL_MAC, curl, itp_none, 50220, 80, 3220)]
    return up, pod


def kdp_config(p, prefix, mem, **extra):
    """kdp's configuration, its ports the pcaps in directory @p p."""
    return dict({"name": "k8s-ctr", "nodeIP": NODE_IP + "/24", "gateway": ROUTER,
                 "uplink": {"devargs": f"net_pcap0,rx_pcap={p('uplink_in.pcap')},tx_pcap={p('uplink_out.pcap')}",
                            "mac": KDP_MAC},
                 "nativeRoutingCIDR": "172.20.0.0/16", "serviceCIDR": "10.96.0.0/16",
                 "allowedDrivers": ["net_pcap", "net_null"], "workers": 1,
                 "controlSocket": p("kdp.sock"), "stateFile": p("state.json"),
                 # flows in memory: the default file in /dev/shm outlives
                 # the test and is any other k8s-ctr's
                 "flowStateFile": "",
                 "eal": ["--no-pci", "--no-huge", "-m", str(mem), f"--file-prefix={prefix}-{os.getpid()}",
                         "--no-shconf", "--no-telemetry", "--log-level=lib.*:error"]}, **extra)


def services(p):
    """The services of the traffic part."""
    web_here = {"ip": WEB, "state": "active", "nodeName": "k8s-ctr"}
    web_there = {"ip": REMOTE_WEB, "state": "active", "nodeName": "k8s-w1"}
    port = lambda n, np=None: dict({"name": "http", "protocol": "TCP", "port": 80,  # noqa: E731
                                    "targetPort": 8080}, **({"nodePort": np} if np else {}))
    return [
        {"namespace": "default", "name": "etp-local", "type": "LoadBalancer", "clusterIP": "10.96.20.1",
         "loadBalancerIPs": [LB_LOCAL], "ports": [port(80, 30080)], "externalTrafficPolicy": "Local",
         "healthCheckNodePort": HC_PORT, "backends": [web_here, web_there]},
        {"namespace": "default", "name": "etp-cluster", "type": "NodePort", "clusterIP": "10.96.20.2",
         "ports": [port(80, 30081)], "backends": [web_there]},
        {"namespace": "default", "name": "etp-local-none", "type": "NodePort", "clusterIP": "10.96.20.3",
         "ports": [port(80, 30082)], "externalTrafficPolicy": "Local", "backends": [web_there]},
        {"namespace": "default", "name": "itp-local", "clusterIP": "10.96.10.1", "ports": [port(80)],
         "internalTrafficPolicy": "Local", "backends": [web_here, web_there]},
        {"namespace": "default", "name": "itp-local-none", "clusterIP": "10.96.10.2", "ports": [port(80)],
         "internalTrafficPolicy": "Local", "backends": [web_there]},
        {"namespace": "default", "name": "lb-ranges", "type": "LoadBalancer", "clusterIP": "10.96.20.4",
         "loadBalancerIPs": [LB_RANGES], "ports": [port(80, 30083)],
         "loadBalancerSourceRanges": [ROUTER + "/32", "10.10.0.0/16"], "backends": [web_here]},
        # nodeName decides what is local: a pod IP kdp does not know but on
        # this node, and kdp's own endpoint said to be elsewhere.
        {"namespace": "default", "name": "by-node-name", "clusterIP": "10.96.20.5", "ports": [port(80)],
         "backends": [{"ip": "172.20.1.77", "state": "active", "nodeName": "k8s-ctr"},
                      {"ip": WEB, "state": "active", "nodeName": "k8s-w1"},
                      {"ip": REMOTE_WEB, "state": "active", "nodeName": ""}]},
    ]


def traffic(p, seen):
    """The traffic part: the pcaps kdp wrote, and what it showed while
    running (@p seen: path -> answer)."""
    up = rdpcap(p("uplink_out.pcap"))
    web = rdpcap(p("web_out.pcap"))
    curl = rdpcap(p("curl_out.pcap"))
    drops = {x["reason"]: x["packets"] for x in seen["/v1/stats"]["drops"]}

    # eTP Local from the router: the local webpod, the router's address kept.
    got = [x for x in web if TCP in x and 3000 <= x[IP].id < 3010]
    check("externalTrafficPolicy Local, NodePort from the router: all 10 SYNs reach the local webpod",
          len(got) == 10 and all(x[IP].dst == WEB and x[TCP].dport == 8080 for x in got), repr(got[:2]))
    check("externalTrafficPolicy Local: the client source is kept (no SNAT): src 192.168.10.200",
          got and all(x[IP].src == ROUTER for x in got), repr([x[IP].src for x in got]))
    check("externalTrafficPolicy Local: nothing sent to the remote backend",
          not [x for x in up if IP in x and 3000 <= x[IP].id < 3020])
    got = [x for x in web if TCP in x and 3010 <= x[IP].id < 3020]
    check("externalTrafficPolicy Local, LoadBalancer IP 203.0.113.10: the local webpod, src kept",
          len(got) == 10 and all(x[IP].src == ROUTER and x[IP].dst == WEB for x in got), repr(got[:2]))
    # eTP Cluster: to the other node, SNATed to the node IP.
    got = [x for x in up if TCP in x and x[IP].id == 3020]
    check("externalTrafficPolicy Cluster to a remote backend: SNAT to 192.168.10.100",
          len(got) == 1 and got[0][IP].src == NODE_IP and got[0][IP].dst == REMOTE_WEB
          and got[0][TCP].dport == 8080, repr(got))
    # eTP Local without a local backend: rejected.
    rst = [x for x in up if TCP in x and x[IP].dst == ROUTER and x[TCP].dport == 50030]
    check("externalTrafficPolicy Local, no local backend: the SYN gets a RST",
          len(rst) == 1 and "R" in str(rst[0][TCP].flags), repr(rst))
    # From a pod, eTP Local does not apply: any backend.
    got_web = [x for x in web if TCP in x and 3100 <= x[IP].id < 3120]
    got_up = [x for x in up if TCP in x and 3100 <= x[IP].id < 3120]
    check("externalTrafficPolicy Local from a pod on the node: both backends answer (20 SYNs)",
          len(got_web) + len(got_up) == 20 and got_web and got_up,
          f"local {len(got_web)}, remote {len(got_up)}")
    check("... and a pod's source is never SNATed", all(x[IP].src == CURL for x in got_web + got_up))
    # iTP Local: only the local webpod; none local: rejected.
    got = [x for x in web if TCP in x and 3200 <= x[IP].id < 3220]
    check("internalTrafficPolicy Local: all 20 SYNs from curl-pod reach the local webpod",
          len(got) == 20 and not [x for x in up if TCP in x and 3200 <= x[IP].id < 3220], str(len(got)))
    rst = [x for x in curl if TCP in x and x[IP].src == "10.96.10.2"]
    check("internalTrafficPolicy Local, no local backend: RST from 10.96.10.2:80",
          len(rst) == 1 and "R" in str(rst[0][TCP].flags) and rst[0][TCP].dport == 50220, repr(rst))
    check("drop counter svc_no_backend == 2 (the two rejects)", drops.get("svc_no_backend") == 2,
          str(drops.get("svc_no_backend")))
    # Source ranges.
    got = [x for x in web if TCP in x and x[IP].id == 3300]
    check("loadBalancerSourceRanges: the router (192.168.10.200/32) reaches 203.0.113.20",
          len(got) == 1 and got[0][IP].src == ROUTER, repr(got))
    check("loadBalancerSourceRanges: 198.51.100.7 to the LoadBalancer IP and to the NodePort: dropped",
          not [x for x in web + up if IP in x and x[IP].id in (3301, 3302)])
    check("drop counter svc_source_range == 2", drops.get("svc_source_range") == 2,
          str(drops.get("svc_source_range")))
    check("no RST or ICMP for the source-range drops",
          not [x for x in up if IP in x and x[IP].dst == OUTSIDER])
    # nodeName decides locality.
    svc = seen["/v1/services/default/by-node-name"]
    loc = {b["address"]: b["local"] for b in svc["frontends"][0]["backends"]}
    check("nodeName k8s-ctr: 172.20.1.77 is local though kdp has no such endpoint",
          loc.get("172.20.1.77:8080/TCP") is True, str(loc))
    check("nodeName k8s-w1: 172.20.1.40 is not local though it is kdp's endpoint",
          loc.get("172.20.1.40:8080/TCP") is False, str(loc))
    check("nodeName \"\": 172.20.0.130 falls back to the endpoint table (not local)",
          loc.get("172.20.0.130:8080/TCP") is False, str(loc))
    # What GET shows.
    svc = seen["/v1/services/default/etp-local"]
    want = services(p)[0]
    check("GET echoes externalTrafficPolicy, internalTrafficPolicy, healthCheckNodePort, "
          "loadBalancerSourceRanges, backends' nodeName",
          svc.get("externalTrafficPolicy") == "Local" and svc.get("internalTrafficPolicy") == "Cluster"
          and svc.get("healthCheckNodePort") == HC_PORT and svc.get("loadBalancerSourceRanges") == []
          and [b.get("nodeName") for b in svc["backends"]] == [b["nodeName"] for b in want["backends"]],
          json.dumps(svc)[:400])
    fes = {f["frontend"]: f for f in svc["frontends"]}
    check("the NodePort and LoadBalancer frontends say trafficPolicy Local, the ClusterIP does not",
          fes.get(f"{NODE_IP}:30080/TCP", {}).get("trafficPolicy") == "Local"
          and fes.get(f"{LB_LOCAL}:80/TCP", {}).get("trafficPolicy") == "Local"
          and "trafficPolicy" not in fes.get("10.96.20.1:80/TCP", {}), str(list(fes)))
    check("GET shows the health check: port, 1 local endpoint, listening",
          svc.get("healthCheck", {}).get("port") == HC_PORT
          and svc["healthCheck"].get("localEndpoints") == 1 and svc["healthCheck"].get("listening") is True,
          str(svc.get("healthCheck")))


def health_checks(kdp, ns):
    body1 = '{"service":{"namespace":"default","name":"etp-local"},"localEndpoints":1}'
    code, body, head = health(ns)
    check("health check: 200 with the exact body while the local webpod is active",
          code == 200 and body == body1, f"{code} {body!r}")
    check("health check: application/json, nosniff, endpoint weight 1",
          "Content-Type: application/json" in head and "X-Content-Type-Options: nosniff" in head
          and "X-Load-Balancing-Endpoint-Weight: 1" in head, head)
    code, body, _ = health(ns, "/any/path?x=1")
    check("health check: any path answers the same", code == 200 and body == body1, f"{code} {body!r}")
    # The local backend terminating: no local active endpoint, 503.
    svc = services(None)[0]
    svc["backends"][0]["state"] = "terminating"
    code, ans = call(kdp.sock, "PUT", "/v1/services/default/etp-local", svc)
    check("PUT with the local backend terminating: 200", code == 200, str(ans))
    code, body, head = health(ns)
    check("health check: 503 and localEndpoints 0 with no local active endpoint",
          code == 503 and body == '{"service":{"namespace":"default","name":"etp-local"},"localEndpoints":0}'
          and "X-Load-Balancing-Endpoint-Weight: 0" in head, f"{code} {body!r}")
    # The port moved: the old one closes, the new one answers.
    svc["backends"][0]["state"] = "active"
    svc["healthCheckNodePort"] = HC_PORT + 1
    call(kdp.sock, "PUT", "/v1/services/default/etp-local", svc)
    time.sleep(0.2)
    r = in_ns(ns, ["curl", "-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}",
                   f"http://{NODE_IP}:{HC_PORT + 1}/"])
    code_old, _, _ = health(ns)
    check("health check moved to another port: the new one answers 200, the old one is closed",
          r.stdout == "200" and code_old == 0, f"new {r.stdout} old {code_old}")
    # Clashes are refused and change nothing.
    bad = dict(services(None)[1], healthCheckNodePort=30080)  # etp-local's nodePort
    code, ans = call(kdp.sock, "PUT", "/v1/services/default/etp-cluster", bad)
    check("a healthCheckNodePort that is another service's nodePort: 400 naming it",
          code == 400 and "healthCheckNodePort 30080 is service default/etp-local's nodePort" in ans.get("error", ""),
          str(ans))
    bad = dict(services(None)[1], healthCheckNodePort=HC_PORT + 1)
    code, ans = call(kdp.sock, "PUT", "/v1/services/default/etp-cluster", bad)
    check("a healthCheckNodePort already another service's: 400",
          code == 400 and f"healthCheckNodePort {HC_PORT + 1} is already service default/etp-local's"
          in ans.get("error", ""), str(ans))
    svc["healthCheckNodePort"] = HC_PORT
    call(kdp.sock, "PUT", "/v1/services/default/etp-local", svc)


def validation(kdp):
    base = services(None)[1]
    cases = [
        ({"externalTrafficPolicy": "Global"}, "externalTrafficPolicy: expected \"Cluster\" or \"Local\""),
        ({"internalTrafficPolicy": "local"}, "internalTrafficPolicy: expected \"Cluster\" or \"Local\""),
        ({"healthCheckNodePort": 80}, "healthCheckNodePort: expected 0 (none) or a port from 30000 to 32767"),
        ({"healthCheckNodePort": 30081}, "healthCheckNodePort: 30081 is also the nodePort of ports[0]"),
        ({"loadBalancerSourceRanges": ["10.0.0.1/8"]}, "loadBalancerSourceRanges[0]: not an IPv4 CIDR"),
        ({"loadBalancerSourceRanges": "10.0.0.0/8"}, "loadBalancerSourceRanges: expected an array"),
        ({"backends": [{"ip": REMOTE_WEB, "nodeName": 3}]}, "backends[0].nodeName: expected a string"),
    ]
    before = kdp.get("/v1/services/default/etp-cluster")
    for extra, want in cases:
        code, ans = call(kdp.sock, "PUT", "/v1/services/default/etp-cluster", dict(base, **extra))
        check(f"400 naming the field: {want}", code == 400 and want in ans.get("error", ""), str(ans))
    check("... and nothing changed", kdp.get("/v1/services/default/etp-cluster") == before)


def batches(kdp, p):
    svc = lambda name, ip, be: {"clusterIP": ip, "ports": [{"name": "http", "port": 80}],  # noqa: E731
                                "backends": [{"ip": b} for b in be]}
    ops = [{"kind": "/v1/services", "id": ["batch", "a"], "body": svc("a", "10.96.30.1", ["172.20.5.1"])},
           {"kind": "/v1/services", "id": ["batch", "b"], "body": svc("b", "10.96.30.2", ["172.20.5.2"])},
           {"kind": "/v1/nodes", "id": ["k8s-w2"], "body": {"ip": "192.168.10.102", "podCIDRs": ["172.20.2.0/24"]}},
           {"kind": "/v1/services", "id": ["default", "itp-local-none"]},
           {"kind": "/v1/services", "id": ["batch", "never"]}]
    jlen = os.path.getsize(p("state.json.journal"))
    code, ans = call(kdp.sock, "PATCH", "/v1/objects", {"objects": ops})
    check("PATCH /v1/objects of 5 updates: 200, one result each",
          code == 200 and [r["result"] for r in ans.get("results", [])]
          == ["created", "created", "created", "deleted", "absent"], str(ans))
    lines = open(p("state.json.journal")).read()[jlen:].splitlines()
    check("the batch is one journal line", len(lines) == 1 and json.loads(lines[0]).get("objects") == ops,
          str(lines)[:300])
    names = {s["name"] for s in kdp.get("/v1/services")}
    check("the batch's services are there, the deleted one is not",
          {"a", "b"} <= names and "itp-local-none" not in names, str(names))
    before = kdp.get("/v1/state")
    bad = [{"kind": "/v1/services", "id": ["batch", "c"], "body": svc("c", "10.96.30.3", [])},
           {"kind": "/v1/services", "id": ["batch", "d"], "body": {"clusterIP": "10.96.30.4", "ports": []}},
           {"kind": "/v1/services", "id": ["batch", "a"]}]
    code, ans = call(kdp.sock, "PATCH", "/v1/objects", {"objects": bad})
    check("a bad update in a batch: 400 naming it with its index, nothing applied",
          code == 400 and ans.get("index") == 1
          and ans.get("error", "").startswith("objects[1] (/v1/services batch/d): ports:")
          and kdp.get("/v1/state") == before, str(ans))
    clash = [{"kind": "/v1/services", "id": ["batch", "e"], "body": svc("e", "10.96.30.5", [])},
             {"kind": "/v1/services", "id": ["batch", "f"], "body": svc("f", "10.96.30.1", [])}]
    code, ans = call(kdp.sock, "PATCH", "/v1/objects", {"objects": clash})
    check("a batch taking another service's frontend: 400 naming both, nothing applied",
          code == 400 and "services[batch/f]: frontend 10.96.30.1:80/TCP is already batch/a's" in ans.get("error", "")
          and kdp.get("/v1/state") == before, str(ans))
    # A frontend moves from one service to another within a batch: fine.
    move = [{"kind": "/v1/services", "id": ["batch", "a"]},
            {"kind": "/v1/services", "id": ["batch", "g"], "body": svc("g", "10.96.30.1", ["172.20.5.9"])}]
    code, ans = call(kdp.sock, "PATCH", "/v1/objects", {"objects": move})
    check("a frontend handed from one service to another in one batch: 200", code == 200, str(ans))
    for body, want in [({"objects": {}}, "objects: expected an array"),
                       ({"ops": []}, "ops: unknown field"),
                       ({"objects": [{"kind": "/v1/pods", "id": ["a", "b"]}]}, "objects[0].kind: expected"),
                       ({"objects": [{"kind": "/v1/nodes", "id": ["a", "b"]}]}, "objects[0].id: expected [name]"),
                       ({"objects": [{"kind": "/v1/services", "id": ["A", "b"]}]}, "objects[0].id: expected")]:
        code, ans = call(kdp.sock, "PATCH", "/v1/objects", body)
        check(f"PATCH /v1/objects refused: {want}", code == 400 and want in ans.get("error", ""), str(ans))
    code, ans = call(kdp.sock, "PUT", "/v1/objects", {"objects": []})
    check("PUT /v1/objects: 405", code == 405, str(ans))


def state_and_restart(kdp, p):
    eps = kdp.get("/v1/endpoints")
    st = kdp.get("/v1/state")
    st.pop("endpoints")
    st["services"] = [s for s in st["services"] if s["name"] != "b"]
    code, ans = call(kdp.sock, "PUT", "/v1/state?keep=endpoints", st)
    check("PUT /v1/state?keep=endpoints: 200, endpoints kept",
          code == 200 and kdp.get("/v1/endpoints") == eps and "(kept)" in ans.get("message", ""), str(ans))
    check("... and the rest is the body's (service batch/b gone)",
          "b" not in {s["name"] for s in kdp.get("/v1/services")})
    code, ans = call(kdp.sock, "PUT", "/v1/state?keep=endpoints", dict(st, endpoints=[]))
    check("PUT /v1/state?keep=endpoints with endpoints: 400",
          code == 400 and ans.get("error", "").startswith("endpoints: not with ?keep=endpoints"), str(ans))
    code, ans = call(kdp.sock, "PUT", "/v1/state?keep=nodes", st)
    check("PUT /v1/state?keep=nodes: 400 naming keep", code == 400 and ans.get("error", "").startswith("keep:"),
          str(ans))
    text = "nonMasqueradeCIDRs:\n  - 10.10.1.0/24\nmasqLinkLocal: false\n"
    jlen = os.path.getsize(p("state.json.journal"))
    code, ans = call(kdp.sock, "PUT", "/v1/ipmasq", text.encode())
    check("GET /v1/ipmasq shows the text last applied",
          code == 200 and kdp.get("/v1/ipmasq").get("text") == text, str(kdp.get("/v1/ipmasq"))[:200])
    lines = open(p("state.json.journal")).read()[jlen:].splitlines()
    check("PUT /v1/ipmasq is one journal line (no whole state written)",
          len(lines) == 1 and json.loads(lines[0]) == {"kind": "/v1/ipmasq", "id": [], "body": text},
          str(lines)[:300])
    code, ans = call(kdp.sock, "PATCH", "/v1/objects", {"objects": [
        {"kind": "/v1/ipmasq", "id": []},
        {"kind": "/v1/ipmasq", "id": [], "body": {"nonMasqueradeCIDRs": ["10.10.2.0/24"]}}]})
    im = kdp.get("/v1/ipmasq")
    check("a batch sets the ip-masq-agent config too (removed, then given as an object)",
          code == 200 and [x["result"] for x in ans["results"]] == ["deleted", "created"]
          and im.get("text") is None and im.get("config", {}).get("nonMasqueradeCIDRs") == ["10.10.2.0/24"],
          json.dumps([ans, im])[:300])
    code, ans = call(kdp.sock, "PUT", "/v1/ipmasq", text.encode())
    boot = kdp.get("/v1/status").get("bootId", "")
    before = kdp.get("/v1/state")
    rc = kdp.stop(signal.SIGKILL)
    started = kdp.start()
    check("kdp killed (-9) and started again", started and rc == -9, f"rc={rc}")
    after = kdp.get("/v1/state")
    check("after the restart GET /v1/state equals the one before (base with the kept endpoints, "
          "journal with the batches)", after == before,
          json.dumps([before, after])[:600])
    b2 = kdp.get("/v1/status").get("bootId", "")
    check("bootId is a UUID and changed with the restart", len(b2) == 36 and b2.count("-") == 4 and b2 != boot,
          f"{boot} -> {b2}")
    check("GET /v1/ipmasq's text survived the restart", kdp.get("/v1/ipmasq").get("text") == text)


def normal(svcs):
    """Services' frontends without ids, for comparing two kdps."""
    out = {}
    for s in svcs:
        fes = []
        for f in s.get("frontends", []):
            f = dict(f)
            f.pop("id")
            f["backends"] = sorted(json.dumps(b, sort_keys=True) for b in f["backends"])
            fes.append(json.dumps(f, sort_keys=True))
        out[s.get("namespace", "") + "/" + s["name"]] = sorted(fes)
    return out


def incremental_equals_whole(kdp, p):
    """Random updates (services, batches, endpoints changing what is local,
    a redirect policy) applied one by one: the frontends kdp built
    incrementally equal those of a kdp that builds them whole, and ids of
    untouched frontends never change."""
    rng = random.Random(13)
    names = [f"r{i}" for i in range(40)]
    pods = {f"p{i}": f"172.20.1.{100 + i}" for i in range(6)}
    live = {}

    def body(name):
        n = int(name[1:])
        bes = []
        for _ in range(rng.randint(0, 5)):
            ip = rng.choice(list(pods.values()) + ["172.20.0.%d" % rng.randint(2, 50)])
            if ip not in [b["ip"] for b in bes]:
                bes.append({"ip": ip, "state": rng.choice(["active", "active", "terminating", "maintenance"]),
                            "nodeName": rng.choice(["", "", "k8s-ctr", "k8s-w1"])})
        s = {"type": rng.choice(["ClusterIP", "NodePort"]), "clusterIP": f"10.96.40.{n + 1}",
             "ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}],
             "externalTrafficPolicy": rng.choice(["Cluster", "Local"]),
             "internalTrafficPolicy": rng.choice(["Cluster", "Local"]),
             "algorithm": rng.choice(["random", "maglev"]), "backends": bes}
        if s["type"] == "NodePort":
            s["ports"][0]["nodePort"] = 31100 + n
        return s

    def ep(name, ip, app):
        return {"ip": ip, "mac": "02:00:00:00:01:%02x" % int(name[1:]), "labels": {"app": app},
                "devargs": f"net_null{10 + int(name[1:])}"}

    lrp = {"redirectFrontend": {"serviceMatcher": {"serviceName": "r1", "namespace": "rnd"}},
           "redirectBackend": {"localEndpointSelector": {"matchExpressions": [
               {"key": "app", "operator": "In", "values": ["dns", "other"]}]},
               "toPorts": [{"port": "53", "protocol": "TCP"}]}}
    code, ans = call(kdp.sock, "PUT", "/v1/lrp/rnd/redirect-r1", lrp)
    check("a policy with matchExpressions is taken", code == 200, str(ans))
    errors = []
    for step in range(160):
        what = rng.random()
        if what < 0.55:
            name = rng.choice(names)
            code, ans = call(kdp.sock, "PUT", f"/v1/services/rnd/{name}", body(name))
            live[name] = True
        elif what < 0.7:
            ops = []
            for name in rng.sample(names, 4):
                if rng.random() < 0.25:
                    ops.append({"kind": "/v1/services", "id": ["rnd", name]})
                    live.pop(name, None)
                else:
                    ops.append({"kind": "/v1/services", "id": ["rnd", name], "body": body(name)})
                    live[name] = True
            code, ans = call(kdp.sock, "PATCH", "/v1/objects", {"objects": ops})
        elif what < 0.8 and live:
            name = rng.choice(sorted(live))
            code, ans = call(kdp.sock, "DELETE", f"/v1/services/rnd/{name}")
            live.pop(name)
        else:
            pod = rng.choice(sorted(pods))
            if rng.random() < 0.5:
                code, ans = call(kdp.sock, "PUT", f"/v1/endpoints/rnd/{pod}",
                                 ep(pod, pods[pod], rng.choice(["dns", "web"])))
            else:
                code, ans = call(kdp.sock, "DELETE", f"/v1/endpoints/rnd/{pod}")
                code = 200 if code == 404 else code
        if code != 200:
            errors.append((step, code, ans))
    check("160 random updates (services, batches, deletes, local endpoints coming and going) all taken",
          not errors, str(errors[:3]))
    # Untouched frontends keep their ids across everything.
    ids_before = {f["frontend"]: f["id"] for s in kdp.get("/v1/services") for f in s.get("frontends", [])}
    call(kdp.sock, "PUT", "/v1/services/rnd/r0", body("r0"))
    ids_after = {f["frontend"]: f["id"] for s in kdp.get("/v1/services") for f in s.get("frontends", [])}
    check("an update keeps every frontend's id", all(ids_after.get(k) == v for k, v in ids_before.items()),
          str([(k, v, ids_after.get(k)) for k, v in ids_before.items() if ids_after.get(k) != v][:3]))
    incr = normal(kdp.get("/v1/services"))
    kdp.stop()
    kdp.start()
    whole = normal(kdp.get("/v1/services"))
    diff = [k for k in set(incr) | set(whole) if incr.get(k) != whole.get(k)]
    check(f"the frontends built change by change equal those built whole ({len(incr)} services)",
          incr and not diff, json.dumps([(k, incr.get(k), whole.get(k)) for k in diff[:2]])[:800])
    lrp_view = kdp.get("/v1/lrp/rnd/redirect-r1")
    check("GET echoes matchExpressions", lrp_view["redirectBackend"]["localEndpointSelector"].get(
        "matchExpressions") == lrp["redirectBackend"]["localEndpointSelector"]["matchExpressions"],
        json.dumps(lrp_view)[:300])


def services6():
    """The IPv6 services: the cases of services() on IPv6 frontends, and a
    dual-stack service whose health check answers on both node addresses."""
    here = {"ip": WEB6, "state": "active", "nodeName": "k8s-ctr"}
    there = {"ip": REMOTE_WEB6, "state": "active", "nodeName": "k8s-w1"}
    port = lambda np=None: dict({"name": "http", "protocol": "TCP", "port": 80,  # noqa: E731
                                 "targetPort": 8080}, **({"nodePort": np} if np else {}))
    v6 = lambda name, cip, **kw: dict({"namespace": "default", "name": name, "clusterIP": cip,  # noqa: E731
                                       "ipFamilies": ["IPv6"]}, **kw)
    return [
        v6("etp-local6", "fd00:96::2001", type="LoadBalancer", loadBalancerIPs=[LB6_LOCAL], ports=[port(30080)],
           externalTrafficPolicy="Local", healthCheckNodePort=HC_PORT, backends=[here, there]),
        v6("etp-cluster6", "fd00:96::2002", type="NodePort", ports=[port(30081)], backends=[there]),
        v6("etp-local-none6", "fd00:96::2003", type="NodePort", ports=[port(30082)],
           externalTrafficPolicy="Local", backends=[there]),
        v6("itp-local6", "fd00:96::1001", ports=[port()], internalTrafficPolicy="Local", backends=[here, there]),
        v6("itp-local-none6", "fd00:96::1002", ports=[port()], internalTrafficPolicy="Local", backends=[there]),
        # An IPv4 range among them: it applies to IPv4 frontends only.
        v6("lb-ranges6", "fd00:96::2004", type="LoadBalancer", loadBalancerIPs=[LB6_RANGES], ports=[port(30083)],
           loadBalancerSourceRanges=[ROUTER6 + "/128", "2001:db8:9::/48", "198.51.100.0/24"], backends=[here]),
        {"namespace": "default", "name": "etp-dual", "type": "NodePort", "clusterIP": "10.96.20.9",
         "clusterIPs": ["10.96.20.9", "fd00:96::2009"], "ipFamilies": ["IPv4", "IPv6"],
         "ipFamilyPolicy": "RequireDualStack", "ports": [port(30084)], "externalTrafficPolicy": "Local",
         "healthCheckNodePort": HC_PORT + 2,
         "backends": [{"ip": WEB, "nodeName": "k8s-ctr"}, {"ip": "172.20.1.41", "nodeName": "k8s-ctr"},
                      here, there]},
    ]


def traffic6(p, seen):
    """traffic() for the IPv6 frontends."""
    up = [x for x in rdpcap(p("uplink_out.pcap")) if IPv6 in x]
    web = [x for x in rdpcap(p("web_out.pcap")) if TCP in x and IPv6 in x]
    curl = [x for x in rdpcap(p("curl_out.pcap")) if TCP in x and IPv6 in x]
    drops = {x["reason"]: x["packets"] for x in seen["/v1/stats"]["drops"]}
    fl = lambda pkts, lo, hi: [x for x in pkts if TCP in x and lo <= x[IPv6].fl < hi]  # noqa: E731

    got = fl(web, 3000, 3010)
    check(f"IPv6 externalTrafficPolicy Local, NodePort [{NODE6}]:30080 from the router: all 10 SYNs reach "
          "the local webpod", len(got) == 10 and all(x[IPv6].dst == WEB6 and x[TCP].dport == 8080 for x in got),
          repr(got[:2]))
    check(f"IPv6 externalTrafficPolicy Local: the client source is kept (no SNAT): src {ROUTER6}",
          got and all(x[IPv6].src == ROUTER6 for x in got), repr([x[IPv6].src for x in got]))
    check("IPv6 externalTrafficPolicy Local: nothing sent to the remote backend", not fl(up, 3000, 3020))
    got = fl(web, 3010, 3020)
    check(f"IPv6 externalTrafficPolicy Local, LoadBalancer IP {LB6_LOCAL}: the local webpod, src kept",
          len(got) == 10 and all(x[IPv6].src == ROUTER6 and x[IPv6].dst == WEB6 for x in got), repr(got[:2]))
    got = fl(up, 3020, 3021)
    check(f"IPv6 externalTrafficPolicy Cluster to a remote backend: SNAT to {NODE6}",
          len(got) == 1 and got[0][IPv6].src == NODE6 and got[0][IPv6].dst == REMOTE_WEB6
          and got[0][TCP].dport == 8080, repr(got))
    rst = [x for x in up if TCP in x and x[IPv6].dst == ROUTER6 and x[TCP].dport == 50030]
    check("IPv6 externalTrafficPolicy Local, no local backend: the SYN gets a RST",
          len(rst) == 1 and "R" in str(rst[0][TCP].flags) and rst[0][IPv6].src == NODE6
          and rst[0][TCP].sport == 30082, repr(rst))
    got_web, got_up = fl(web, 3100, 3120), fl(up, 3100, 3120)
    check("IPv6 externalTrafficPolicy Local from a pod on the node: both backends answer (20 SYNs)",
          len(got_web) + len(got_up) == 20 and got_web and got_up, f"local {len(got_web)}, remote {len(got_up)}")
    check("... and a pod's IPv6 source is never SNATed", all(x[IPv6].src == CURL6 for x in got_web + got_up))
    got = fl(web, 3200, 3220)
    check("IPv6 internalTrafficPolicy Local: all 20 SYNs from curl-pod reach the local webpod",
          len(got) == 20 and not fl(up, 3200, 3220), str(len(got)))
    rst = [x for x in curl if x[IPv6].src == "fd00:96::1002"]
    check("IPv6 internalTrafficPolicy Local, no local backend: RST from [fd00:96::1002]:80",
          len(rst) == 1 and "R" in str(rst[0][TCP].flags) and rst[0][TCP].dport == 50220
          and rst[0][TCP].sport == 80, repr(rst))
    check("drop counter svc_no_backend == 2 (the two IPv6 rejects)", drops.get("svc_no_backend") == 2,
          str(drops.get("svc_no_backend")))
    got = fl(web, 3300, 3301)
    check(f"IPv6 loadBalancerSourceRanges: the router ({ROUTER6}/128) reaches {LB6_RANGES}",
          len(got) == 1 and got[0][IPv6].src == ROUTER6, repr(got))
    got = fl(web, 3303, 3304)
    check(f"IPv6 loadBalancerSourceRanges: 2001:db8:9::5 (in 2001:db8:9::/48) reaches {LB6_RANGES}",
          len(got) == 1 and got[0][IPv6].src == "2001:db8:9::5", repr(got))
    check(f"IPv6 loadBalancerSourceRanges: {OUTSIDER6} to the LoadBalancer IP and to the NodePort: dropped",
          not fl(web + up, 3301, 3303))
    check("drop counter svc_source_range == 2", drops.get("svc_source_range") == 2,
          str(drops.get("svc_source_range")))
    check("no RST or ICMPv6 for the IPv6 source-range drops", not [x for x in up if x[IPv6].dst == OUTSIDER6])
    svc = seen["/v1/services/default/etp-local6"]
    fes = {f["frontend"]: f for f in svc["frontends"]}
    check("the IPv6 NodePort and LoadBalancer frontends say trafficPolicy Local, the ClusterIP does not",
          fes.get(f"[{NODE6}]:30080/TCP", {}).get("trafficPolicy") == "Local"
          and fes.get(f"[{LB6_LOCAL}]:80/TCP", {}).get("trafficPolicy") == "Local"
          and "trafficPolicy" not in fes.get("[fd00:96::2001]:80/TCP", {"trafficPolicy": 1}), str(list(fes)))
    svc = seen["/v1/services/default/lb-ranges6"]
    fes = {f["frontend"]: f for f in svc["frontends"]}
    check("lb-ranges6: GET echoes the ranges; its IPv6 LoadBalancer and NodePort frontends have 2 "
          "(the IPv6 ones), the ClusterIP none",
          svc.get("loadBalancerSourceRanges") == [ROUTER6 + "/128", "2001:db8:9::/48", "198.51.100.0/24"]
          and fes.get(f"[{LB6_RANGES}]:80/TCP", {}).get("sourceRanges") == 2
          and fes.get(f"[{NODE6}]:30083/TCP", {}).get("sourceRanges") == 2
          and "sourceRanges" not in fes.get("[fd00:96::2004]:80/TCP", {"sourceRanges": 1}),
          json.dumps(svc)[:500])


def health_checks6(kdp, ns):
    """health_checks() on nodeIPv6: an IPv6-only service's, then a dual-stack
    one answering on both addresses with each family's local endpoints."""
    body = lambda name, n: '{"service":{"namespace":"default","name":"%s"},"localEndpoints":%d}' % (name, n)  # noqa
    code, got, head = health(ns, host=NODE6)
    check(f"IPv6 health check on [{NODE6}]:{HC_PORT}: 200 with the exact body",
          code == 200 and got == body("etp-local6", 1), f"{code} {got!r}")
    check("IPv6 health check: application/json, nosniff, endpoint weight 1",
          "Content-Type: application/json" in head and "X-Content-Type-Options: nosniff" in head
          and "X-Load-Balancing-Endpoint-Weight: 1" in head, head)
    code, _, _ = health(ns)
    check(f"an IPv6-only service has no health check on the IPv4 node IP ({NODE_IP}:{HC_PORT} closed)",
          code == 0, str(code))
    hc = kdp.get("/v1/services/default/etp-local6").get("healthCheck", {})
    check("GET shows the IPv6-only service's health check: port, 1 local endpoint, listening",
          hc.get("port") == HC_PORT and hc.get("localEndpoints") == 1 and hc.get("listening") is True
          and "ipv6" not in hc, str(hc))
    svc = services6()[0]
    svc["backends"][0]["state"] = "terminating"
    code, ans = call(kdp.sock, "PUT", "/v1/services/default/etp-local6", svc)
    code, got, head = health(ns, host=NODE6)
    check("IPv6 health check: 503 and localEndpoints 0 with no local active endpoint",
          code == 503 and got == body("etp-local6", 0) and "X-Load-Balancing-Endpoint-Weight: 0" in head,
          f"{code} {got!r}")
    svc["backends"][0]["state"] = "active"
    call(kdp.sock, "PUT", "/v1/services/default/etp-local6", svc)
    code4, got4, _ = health(ns, port=HC_PORT + 2)
    code6, got6, _ = health(ns, host=NODE6, port=HC_PORT + 2)
    check("dual-stack health check: 200 on the IPv4 node IP with its 2 local IPv4 endpoints, 200 on "
          "nodeIPv6 with its 1 local IPv6 endpoint",
          code4 == 200 and got4 == body("etp-dual", 2) and code6 == 200 and got6 == body("etp-dual", 1),
          f"{code4} {got4!r} {code6} {got6!r}")
    hc = kdp.get("/v1/services/default/etp-dual").get("healthCheck", {})
    check("GET of the dual-stack service: the IPv4 listener's figures, and the IPv6 one's under ipv6",
          hc.get("localEndpoints") == 2 and hc.get("listening") is True
          and hc.get("ipv6", {}).get("localEndpoints") == 1 and hc["ipv6"].get("listening") is True
          and hc["ipv6"].get("answered") == {"200": 1, "503": 0}, str(hc))
    # A backend without nodeName is local while kdp has an endpoint of its
    # IPv6 address: the count follows the endpoint coming and going.
    nn = {"namespace": "default", "name": "nn6", "type": "LoadBalancer", "clusterIP": "fd00:96::2005",
          "ipFamilies": ["IPv6"], "loadBalancerIPs": ["2001:db8:2::30"], "externalTrafficPolicy": "Local",
          "ports": [{"name": "http", "protocol": "TCP", "port": 80, "nodePort": 30085}],
          "healthCheckNodePort": HC_PORT + 4, "backends": [{"ip": "fd00:20:0:1::77", "nodeName": ""}]}
    ep = {"ip": "172.20.1.77", "ips": ["172.20.1.77", "fd00:20:0:1::77"], "mac": "02:00:ac:14:01:4d",
          "devargs": "net_null9"}
    steps = [call(kdp.sock, "PUT", "/v1/services/default/nn6", nn)[0],
             health(ns, host=NODE6, port=HC_PORT + 4)[:2],
             call(kdp.sock, "PUT", "/v1/endpoints/default/nn-pod", ep)[0],
             health(ns, host=NODE6, port=HC_PORT + 4)[:2],
             call(kdp.sock, "DELETE", "/v1/endpoints/default/nn-pod")[0],
             health(ns, host=NODE6, port=HC_PORT + 4)[:2],
             call(kdp.sock, "DELETE", "/v1/services/default/nn6")[0]]
    time.sleep(0.3)
    steps.append(health(ns, host=NODE6, port=HC_PORT + 4)[0])
    check("IPv6 health check of a backend without nodeName: 503 (0), 200 (1) once kdp has an endpoint of "
          "its IPv6 address, 503 (0) when it goes; the port closed with the service",
          steps == [200, (503, body("nn6", 0)), 200, (200, body("nn6", 1)), 200, (503, body("nn6", 0)),
                    200, 0], str(steps))
    bad = dict(services6()[1], healthCheckNodePort=30080)  # etp-local6's nodePort (IPv6 only)
    code, ans = call(kdp.sock, "PUT", "/v1/services/default/etp-cluster6", bad)
    check("a healthCheckNodePort that is an IPv6-only service's nodePort: 400 naming it",
          code == 400 and "healthCheckNodePort 30080 is service default/etp-local6's nodePort"
          in ans.get("error", ""), str(ans))
    before = kdp.get("/v1/services/default/lb-ranges6")
    for ranges, want in [(["2001:db8::1/64"], "loadBalancerSourceRanges[0]: not an IPv6 CIDR"),
                         ([ROUTER6 + "/128", "fd00:10::200/128"], "loadBalancerSourceRanges[1]: listed twice")]:
        bad = dict(services6()[5], loadBalancerSourceRanges=ranges)
        code, ans = call(kdp.sock, "PUT", "/v1/services/default/lb-ranges6", bad)
        check(f"400 naming the field: {want}", code == 400 and want in ans.get("error", ""), str(ans))
    check("... and nothing changed", kdp.get("/v1/services/default/lb-ranges6") == before)


def ipv6_part(kdp_bin, ns):
    """The IPv6 frontends' traffic policies, source ranges and health checks,
    on a dual-stack kdp of their own (exact counters)."""
    from test_pcap6 import ns as solicit  # noqa: E402 (neighbour solicitation)
    d = tempfile.mkdtemp(prefix="kdp-ftest-pol6-")
    p = lambda n: os.path.join(d, n)  # noqa: E731
    os.chmod(d, 0o755)
    kdp = Kdp(kdp_bin, d, ns)
    up, curl_in = flows_in(NODE6, ROUTER6, OUTSIDER6, LB6_LOCAL, LB6_RANGES, CURL6, "fd00:96::1001",
                           "fd00:96::1002")
    uplink_in = [solicit(W1_MAC, W1_6, NODE6), solicit(ROUTER_MAC, ROUTER6, NODE6)] + up
    uplink_in += [syn(ROUTER_MAC, "2001:db8:9::5", LB6_RANGES, 50043, 80, 3303)]
    wrpcap(p("uplink_in.pcap"), uplink_in)
    wrpcap(p("curl_in.pcap"), curl_in)
    wrpcap(p("web_in.pcap"), [])
    cfg = kdp_config(p, "kdp-ftest-pol6", 1024, nodeIPv6=NODE6 + "/64", gatewayIPv6=GW6,
                     nativeRoutingCIDRv6="fd00:20::/48", serviceCIDRv6="fd00:96::/112", flowStateFile="")
    state = {
        "nodes": [{"name": "k8s-ctr", "ip": NODE_IP, "ips": [NODE_IP, NODE6],
                   "podCIDRs": ["172.20.1.0/24", "fd00:20:0:1::/64"]},
                  {"name": "k8s-w1", "ip": W1_IP, "ips": [W1_IP, W1_6],
                   "podCIDRs": ["172.20.0.0/24", "fd00:20::/64"]}],
        "endpoints": [
            {"namespace": "default", "name": "curl-pod", "ip": CURL, "ips": [CURL, CURL6], "mac": CURL_MAC,
             "labels": {}, "devargs": f"net_pcap1,rx_pcap={p('curl_in.pcap')},tx_pcap={p('curl_out.pcap')}"},
            {"namespace": "default", "name": "webpod", "ip": WEB, "ips": [WEB, WEB6], "mac": WEB_MAC,
             "labels": {}, "devargs": f"net_pcap2,rx_pcap={p('web_in.pcap')},tx_pcap={p('web_out.pcap')}"}],
        "services": services6()}
    json.dump(cfg, open(p("kdp.json"), "w"))
    json.dump(state, open(p("state.json"), "w"))
    started = kdp.start()
    check("a dual-stack kdp starts with the IPv6 services of phase 2", started, open(p("kdp.log")).read()[-2000:])
    if not started:
        return
    try:
        seen = {"/v1/stats": kdp.wait_rx(len(uplink_in) + len(curl_in))}
        for path in ["/v1/services/default/etp-local6", "/v1/services/default/lb-ranges6"]:
            seen[path] = kdp.get(path)
        health_checks6(kdp, ns)
        check("the dual-stack kdp exits 0 on SIGTERM", kdp.stop() == 0)
        traffic6(p, seen)
    finally:
        kdp.stop()
    if results["failed"] == 0:
        shutil.rmtree(d, ignore_errors=True)
    else:
        print(f"kept {d} for inspection")


def main():
    kdp_bin = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-ftest-pol-")
    ns = f"kdp-ftest-{os.getpid()}"
    p = lambda n: os.path.join(d, n)  # noqa: E731
    os.chmod(d, 0o755)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    kdp = Kdp(kdp_bin, d, ns)
    try:
        in_ns(ns, ["ip", "link", "set", "lo", "up"], check=True)
        in_ns(ns, ["ip", "addr", "add", NODE_IP + "/32", "dev", "lo"], check=True)
        in_ns(ns, ["ip", "-6", "addr", "add", NODE6 + "/128", "dev", "lo", "nodad"], check=True)
        uplink_in = [
            Ether(src=W1_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=W1_MAC, psrc=W1_IP, pdst=NODE_IP),
            Ether(src=ROUTER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=ROUTER_MAC, psrc=ROUTER, pdst=NODE_IP),
        ]
        up, curl_in = flows_in(NODE_IP, ROUTER, OUTSIDER, LB_LOCAL, LB_RANGES, CURL, "10.96.10.1", "10.96.10.2")
        uplink_in += up
        wrpcap(p("uplink_in.pcap"), uplink_in)
        wrpcap(p("curl_in.pcap"), curl_in)
        wrpcap(p("web_in.pcap"), [])
        cfg = kdp_config(p, "kdp-ftest-pol", 512)
        state = {
            "nodes": [{"name": "k8s-ctr", "ip": NODE_IP, "podCIDRs": ["172.20.1.0/24"]},
                      {"name": "k8s-w1", "ip": W1_IP, "podCIDRs": ["172.20.0.0/24"]}],
            "endpoints": [
                {"namespace": "default", "name": "curl-pod", "ip": CURL, "mac": CURL_MAC, "labels": {},
                 "devargs": f"net_pcap1,rx_pcap={p('curl_in.pcap')},tx_pcap={p('curl_out.pcap')}"},
                {"namespace": "default", "name": "webpod", "ip": WEB, "mac": WEB_MAC, "labels": {},
                 "devargs": f"net_pcap2,rx_pcap={p('web_in.pcap')},tx_pcap={p('web_out.pcap')}"}],
            "services": services(p)}
        json.dump(cfg, open(p("kdp.json"), "w"))
        json.dump(state, open(p("state.json"), "w"))
        started = kdp.start()
        check("kdp starts with the services of phase 2", started, open(p("kdp.log")).read()[-2000:])
        if not started:
            return finish(d)
        # What kdp shows while running; the pcaps are complete once it stops.
        seen = {"/v1/stats": kdp.wait_rx(len(uplink_in) + len(curl_in))}
        for path in ["/v1/services/default/by-node-name", "/v1/services/default/etp-local"]:
            seen[path] = kdp.get(path)
        health_checks(kdp, ns)
        validation(kdp)
        check("kdp exits 0 on SIGTERM", kdp.stop() == 0)
        traffic(p, seen)
        # The rest without traffic: the pcaps read nothing any more.
        for f in ["uplink_in.pcap", "curl_in.pcap"]:
            wrpcap(p(f), [])
        check("kdp starts again", kdp.start())
        batches(kdp, p)
        state_and_restart(kdp, p)
        incremental_equals_whole(kdp, p)
        check("kdp exits 0 on SIGTERM at the end", kdp.stop() == 0)
        ipv6_part(kdp_bin, ns)
        return finish(d)
    finally:
        kdp.stop()
        subprocess.run(["ip", "netns", "del", ns])


def finish(d):
    print(f"{results['passed']} passed, {results['failed']} failed")
    if results["failed"] == 0:
        shutil.rmtree(d, ignore_errors=True)
    else:
        print(f"kept {d} for inspection")
    return 1 if results["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())

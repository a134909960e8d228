#!/usr/bin/python3
"""Flow state across restarts (the flow state file, lib/flowstore): after
kill -9, a SIGTERM and a restart with another maxFlows, translated flows keep
their backend, their SNAT port and their ClientIP pin, and the frontend ids
they refer to; a damaged, foreign or stale file is refused with one clear
log line and kdp starts with empty tables. net_pcap ports, one worker.

  run A  services old, web (ClientIP); old deleted and new added over the
         API, then curl-pod's port opens: UDP to new, to web, and to the
         router (masqueraded, port picked in 50000-50099); kill -9
  run B  the same node (state: web, new with one backend more): the
         backend's answer, curl-pod again on each flow, a new flow to web
         (its pin), the router's answer; SIGTERM
  run C  maxFlows 4096 instead of 2048: the file is resized, flows kept
  run D- the file damaged, of another layout, of another boot, short:
         refused, kdp starts empty
  runs A6-C6  the same with IPv6 (a dual-stack node): an IPv6 ClusterIP
         flow, a ClientIP pin and a masqueraded flow to the router's IPv6
         address kept across kill -9 (same backend, same SNAT port, the
         IPv6 frontend ids), then across maxFlowsIPv6 changed
  then a hand-over: kdp --takeover given up at the prepare step and after
         the freeze (the running kdp goes on), and kdpctl upgrade
Usage: test_flowstate.py <kdp>   (as root)"""
import json
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib  # noqa: F401  (crc32c is computed below)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scapy.all import IP, UDP, Ether, Raw, rdpcap, wrpcap  # noqa: E402
from scapy.layers.inet6 import IPv6, ICMPv6ND_NS, ICMPv6NDOptSrcLLAddr  # noqa: E402
from test_pcap import check, finish, api, ip_csum_ok, l4_csum_ok  # noqa: E402
from test_security import request  # noqa: E402

KDPCTL = os.path.join(os.path.dirname(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")),
                      "..", "tools", "kdpctl", "kdpctl")

KDP_MAC, ROUTER_MAC = "02:00:00:00:00:64", "02:00:00:00:00:c8"
CURL_MAC, WEB1_MAC, WEB2_MAC = "02:00:ac:14:01:ec", "02:00:ac:14:01:28", "02:00:ac:14:01:29"
NODE_IP, W1_IP, ROUTER = "192.168.10.100", "192.168.10.101", "192.168.10.200"
CURL, WEB1, WEB2, REMOTE = "172.20.1.236", "172.20.1.40", "172.20.1.41", "172.20.0.130"
VIP_OLD, VIP_WEB, VIP_NEW = "10.96.50.1", "10.96.50.2", "10.96.50.3"
MAC_OF = {WEB1: WEB1_MAC, WEB2: WEB2_MAC}


def crc32c(data, crc=0xFFFFFFFF):
    """CRC32-C (Castagnoli) without the final xor, as rte_hash_crc."""
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc


HDR_CRC_OFF = 160  # offsetof(struct kdp_flowstore_hdr, crc)


def patch_header(path, off, data):
    """Writes @data at @off of the header and fixes its CRC (a file that is
    intact but not what this kdp reads)."""
    with open(path, "r+b") as f:
        f.seek(off)
        f.write(data)
        f.seek(0)
        h = f.read(HDR_CRC_OFF)
        f.seek(HDR_CRC_OFF)
        f.write(struct.pack("<I", crc32c(h)))


def svc(name, vip, backends, affinity=False):
    s = {"namespace": "default", "name": name, "clusterIP": vip,
         "ports": [{"name": "u", "protocol": "UDP", "port": 80}],
         "backends": [{"ip": b} for b in backends]}
    if affinity:
        s["sessionAffinity"] = "ClientIP"
    return s


class Run:
    """One kdp process of the test over d/kdp.json."""

    def __init__(self, kdp, d, name):
        self.kdp, self.d, self.name = kdp, d, name
        self.sock = os.path.join(d, "kdp.sock")
        self.logpath = os.path.join(d, f"kdp-{name}.log")

    def p(self, n):
        return os.path.join(self.d, f"{self.name}-{n}")

    def ep(self, name, ip, mac, rx):
        wrpcap(self.p(f"{name}_in.pcap"), rx)
        return {"namespace": "default", "name": name, "ip": ip, "mac": mac,
                "devargs": f"net_pcap,rx_pcap={self.p(name + '_in.pcap')},tx_pcap={self.p(name + '_out.pcap')}"}

    def start(self, cfg, state):
        uplink_in = state.pop("_uplink_in", [])
        wrpcap(self.p("uplink_in.pcap"), uplink_in)
        cfg = dict(cfg, uplink={"devargs": f"net_pcap0,rx_pcap={self.p('uplink_in.pcap')},"
                                           f"tx_pcap={self.p('uplink_out.pcap')}", "mac": KDP_MAC})
        with open(os.path.join(self.d, "kdp.json"), "w") as f:
            json.dump(cfg, f)
        with open(os.path.join(self.d, "state.json"), "w") as f:
            json.dump(state, f)
        for j in ("state.json.journal",):
            if os.path.exists(os.path.join(self.d, j)):
                os.unlink(os.path.join(self.d, j))
        self.log = open(self.logpath, "w")
        self.proc = subprocess.Popen([self.kdp, "--config", os.path.join(self.d, "kdp.json")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            time.sleep(0.05)
            if self.proc.poll() is not None:
                return False
            try:
                if request(self.sock, "GET", "/v1/status")[0] == 200:
                    return True
            except OSError:
                pass
        return False

    def call(self, method, path, body=None):
        return request(self.sock, method, path, json.dumps(body).encode() if body is not None else b"")

    def settle(self, rx):
        """Waits until kdp read @rx packets, then a little for the slow path."""
        for _ in range(100):
            if api(self.sock, "/v1/stats")["totals"]["rxPackets"] >= rx:
                break
            time.sleep(0.05)
        time.sleep(0.3)

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.log.close()
        return rc

    def logtext(self):
        with open(self.logpath) as f:
            return f.read()

    def out(self, name):
        path = self.p(f"{name}_out.pcap")
        return rdpcap(path) if os.path.exists(path) and os.path.getsize(path) > 24 else []


def cleanup(runs, flows):
    """Kills what runs of @runs, removes the flow state file @flows."""
    for r in runs:
        if getattr(r, "proc", None) is not None and r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()
    for f in (flows, flows + ".new", flows + ".rejected"):
        if os.path.exists(f):
            os.unlink(f)


def udp(src, dst, sport, dport, payload, src_mac, ident):
    return Ether(src=src_mac, dst=KDP_MAC) / IP(src=src, dst=dst, id=ident) / UDP(sport=sport, dport=dport) / Raw(payload)


def line_with(text, what):
    return next((ln for ln in text.splitlines() if what in ln), "")


def node_config(d, flows, prefix):
    """k8s-ctr's config (one worker, net_pcap, socket and state in @d,
    flow state file @flows) and the two nodes of its state."""
    cfg = {"name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": ROUTER,
           "nativeRoutingCIDR": "172.20.0.0/16", "serviceCIDR": "10.96.0.0/16",
           "allowedDrivers": ["net_pcap", "net_null"], "workers": 1, "pollMode": "adaptive",
           "natPortRange": "50000-50099", "conntrack": {"maxFlows": 2048},
           "controlSocket": os.path.join(d, "kdp.sock"), "stateFile": os.path.join(d, "state.json"),
           "flowStateFile": flows,
           "eal": ["--no-pci", "--no-huge", "-m", "512", f"--file-prefix={prefix}-{os.getpid()}",
                   "--no-shconf", "--no-telemetry", "--log-level=lib.*:error"]}
    nodes = [{"name": "k8s-ctr", "ip": NODE_IP, "podCIDRs": ["172.20.1.0/24"]},
             {"name": "k8s-w1", "ip": W1_IP, "podCIDRs": ["172.20.0.0/24"]}]
    return cfg, nodes


def main():
    kdp = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-flowstate-")
    flows = f"/dev/shm/kdp-func-flowstate-{os.getpid()}.flows"
    cfg, nodes = node_config(d, flows, "kdp-flowstate")
    runs = []
    try:
        # ---- run A
        a = Run(kdp, d, "a")
        runs.append(a)
        # The router is known before anything leaves (an ARP answer).
        from scapy.all import ARP
        arp = Ether(src=ROUTER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=ROUTER_MAC, psrc=ROUTER,
                                                                  pdst=NODE_IP)
        state = {"nodes": nodes, "_uplink_in": [arp],
                 "endpoints": [a.ep("web1", WEB1, WEB1_MAC, []), a.ep("web2", WEB2, WEB2_MAC, [])],
                 "services": [svc("old", VIP_OLD, [WEB1]), svc("web", VIP_WEB, [WEB1, WEB2], True)]}
        check("run A: kdp starts", a.start(cfg, state), a.logtext()[-400:])
        code, body = a.call("DELETE", "/v1/services/default/old")
        code2, body2 = a.call("PUT", "/v1/services/default/new", svc("new", VIP_NEW, [WEB1, WEB2]))
        check("run A: service old deleted, new added over the API", code == 200 and code2 == 200,
              f"{code} {body[:80]} / {code2} {body2[:80]}")
        fe = {s["name"]: s["frontends"][0]["id"] for s in api(a.sock, "/v1/services")}
        check("run A: frontend ids web 2, new 3 (old had 1)", fe == {"web": 2, "new": 3}, str(fe))
        curl_a = [udp(CURL, VIP_NEW, 41000, 80, b"new-1", CURL_MAC, 1),
                  udp(CURL, VIP_WEB, 41001, 80, b"web-1", CURL_MAC, 2),
                  udp(CURL, ROUTER, 40000, 53, b"masq-1", CURL_MAC, 3)]
        code, body = a.call("PUT", "/v1/endpoints/default/curl", a.ep("curl", CURL, CURL_MAC, curl_a))
        check("run A: curl-pod's port opens", code == 200, body[:120])
        a.settle(len(curl_a) + 1)
        rc = a.stop(signal.SIGKILL)
        check("run A: kdp killed with SIGKILL", rc == -9, str(rc))
        got = {}
        for web, ip in (("web1", WEB1), ("web2", WEB2)):
            for x in a.out(web):
                if UDP in x:
                    got[bytes(x[Raw])] = ip
        up = [x for x in a.out("uplink") if UDP in x and x[IP].id == 3]
        be_new, be_web = got.get(b"new-1"), got.get(b"web-1")
        port = up[0][UDP].sport if up else None
        check("run A: the flows were translated (new -> a backend, web -> a backend, masquerade)",
              be_new in (WEB1, WEB2) and be_web in (WEB1, WEB2) and port is not None
              and 50000 <= port <= 50099 and up[0][IP].src == NODE_IP,
              f"new->{be_new} web->{be_web} masq port {port}")
        if None in (be_new, be_web, port):
            return finish(d)

        # ---- run B: the same node after the crash
        b = Run(kdp, d, "b")
        runs.append(b)
        curl_b = [udp(CURL, VIP_NEW, 41000, 80, b"new-2", CURL_MAC, 11),
                  udp(CURL, VIP_WEB, 41002, 80, b"web-2", CURL_MAC, 12),
                  udp(CURL, ROUTER, 40000, 53, b"masq-2", CURL_MAC, 13)]
        answer = udp(be_new, CURL, 80, 41000, b"new-answer", MAC_OF[be_new], 21)
        web_rx = {WEB1: [], WEB2: []}
        web_rx[be_new].append(answer)
        uplink_b = [arp, Ether(src=ROUTER_MAC, dst=KDP_MAC) / IP(src=ROUTER, dst=NODE_IP, id=31)
                    / UDP(sport=53, dport=port) / Raw(b"masq-answer")]
        state = {"nodes": nodes, "_uplink_in": uplink_b,
                 # listed the other way round, new with a third backend: a
                 # fresh start would give other ids and other choices
                 "services": [svc("new", VIP_NEW, [WEB1, WEB2, REMOTE]),
                              svc("web", VIP_WEB, [WEB1, WEB2], True)],
                 "endpoints": [b.ep("web1", WEB1, WEB1_MAC, web_rx[WEB1]),
                               b.ep("web2", WEB2, WEB2_MAC, web_rx[WEB2]),
                               b.ep("curl", CURL, CURL_MAC, curl_b)]}
        check("run B: kdp starts after kill -9", b.start(cfg, state), b.logtext()[-400:])
        b.settle(len(curl_b) + len(uplink_b) + 1)
        st = api(b.sock, "/v1/status")
        fs = st.get("flowState") or {}
        fe = {s["name"]: s["frontends"][0]["id"] for s in api(b.sock, "/v1/services")}
        b.stop()
        log = b.logtext()
        check("run B: the log says the flows were tracked again",
              "3 flows tracked again" in log and "reusing its tables" in log,
              line_with(log, "tracked again"))
        check("run B: GET /v1/status flowState: reused, 3 imported, 1 affinity pin",
              fs.get("origin") == "reused" and fs.get("restored", {}).get("imported") == 3
              and fs.get("affinityPins") == 1, json.dumps(fs))
        check("run B: frontend ids kept (web 2, new 3), not renumbered", fe == {"web": 2, "new": 3}, str(fe))
        got = {}
        for web, ip in (("web1", WEB1), ("web2", WEB2)):
            for x in b.out(web):
                if UDP in x:
                    got[bytes(x[Raw])] = (ip, x)
        check(f"run B: the flow to {VIP_NEW} keeps its backend {be_new}",
              got.get(b"new-2", (None,))[0] == be_new, str({k: v[0] for k, v in got.items()}))
        check(f"run B: a new flow to {VIP_WEB} (ClientIP) goes to the pinned backend {be_web}",
              got.get(b"web-2", (None,))[0] == be_web, str({k: v[0] for k, v in got.items()}))
        curl = b.out("curl")
        ans = [x for x in curl if UDP in x and x[IP].id == 21]
        check(f"run B: the backend's answer reaches curl-pod from {VIP_NEW}:80 (reverse DNAT)",
              len(ans) == 1 and ans[0][IP].src == VIP_NEW and ans[0][UDP].sport == 80
              and ip_csum_ok(ans[0]) and l4_csum_ok(ans[0]), repr(ans))
        up = [x for x in b.out("uplink") if UDP in x and x[IP].id == 13]
        check(f"run B: curl-pod's datagram to the router leaves with the same SNAT port {port}",
              len(up) == 1 and up[0][IP].src == NODE_IP and up[0][UDP].sport == port, repr(up))
        ma = [x for x in curl if UDP in x and x[IP].id == 31]
        check("run B: the router's answer to the SNAT port reaches curl-pod:40000",
              len(ma) == 1 and ma[0][IP].src == ROUTER and ma[0][UDP].dport == 40000
              and ma[0][IP].dst == CURL and l4_csum_ok(ma[0]), repr(ma))

        # ---- run C: another maxFlows: the file is resized, flows kept
        c = Run(kdp, d, "c")
        runs.append(c)
        curl_c = [udp(CURL, ROUTER, 40000, 53, b"masq-3", CURL_MAC, 41)]
        state = {"nodes": nodes, "_uplink_in": [arp],
                 "services": [svc("new", VIP_NEW, [WEB1, WEB2, REMOTE]),
                              svc("web", VIP_WEB, [WEB1, WEB2], True)],
                 "endpoints": [c.ep("web1", WEB1, WEB1_MAC, []), c.ep("web2", WEB2, WEB2_MAC, []),
                               c.ep("curl", CURL, CURL_MAC, curl_c)]}
        size_before = os.path.getsize(flows)
        check("run C: kdp starts with conntrack.maxFlows 4096",
              c.start(dict(cfg, conntrack={"maxFlows": 4096}), state), c.logtext()[-400:])
        c.settle(2)
        fs = api(c.sock, "/v1/status").get("flowState") or {}
        c.stop()
        up = [x for x in c.out("uplink") if UDP in x and x[IP].id == 41]
        check("run C: resized (tables of 2048 flows imported into 4096), 4 flows kept",
              fs.get("origin") == "resized" and fs.get("restored", {}).get("imported") == 4
              and os.path.getsize(flows) > size_before and not os.path.exists(flows + ".new"),
              json.dumps(fs))
        check(f"run C: the masqueraded flow still leaves with port {port}",
              len(up) == 1 and up[0][UDP].sport == port, repr(up))

        # ---- runs D-G: files this kdp must refuse
        cfg4k = dict(cfg, conntrack={"maxFlows": 4096})
        for name, damage, want in [
                ("d", lambda: patch_bytes(flows, 64, b"\xff"), "header checksum mismatch: the file is damaged"),
                ("e", lambda: patch_header(flows, 8, struct.pack("<I", 99)),
                 "layout version 99, this kdp reads version 2"),
                ("e1", lambda: write_v1(flows), "header checksum mismatch: the file is damaged"),
                ("f", lambda: patch_header(flows, 24, b"00000000-0000-0000-0000-000000000000"),
                 "written before the machine restarted"),
                ("g", lambda: os.truncate(flows, 100), "shorter than its header")]:
            r = Run(kdp, d, name)
            runs.append(r)
            damage()
            state = {"nodes": nodes, "_uplink_in": [],
                     "services": [svc("web", VIP_WEB, [WEB1, WEB2], True)], "endpoints": []}
            ok = r.start(cfg4k, state)
            fs = api(r.sock, "/v1/status").get("flowState") if ok else {}
            ct = api(r.sock, "/v1/ct") if ok else None
            rc = r.stop()
            refused = [ln for ln in r.logtext().splitlines() if "refused" in ln]
            refused = refused[0] if len(refused) == 1 else refused
            check(f"run {name.upper()}: a file with '{want}' is refused with one log line; kdp starts "
                  "with empty tables and exits 0",
                  ok and want in refused and "starting with empty tables" in refused
                  and fs.get("origin") == "refused" and ct and ct["entries"] == 0 and rc == 0
                  and os.path.exists(flows + ".rejected"),
                  f"log: {refused!r} status: {fs and fs.get('origin')} ct: {ct} rc {rc}")
        ipv6_flows(kdp, d, cfg, nodes)
        handover(kdp, d)
        return finish(d)
    finally:
        cleanup(runs, flows)


NODE6, ROUTER6 = "fd00:10::100", "fd00:10::200"
CURL6, WEB1_6, WEB2_6, REMOTE6 = "fd00:20:0:1::236", "fd00:20:0:1::40", "fd00:20:0:1::41", "fd00:20::130"
VIP6_OLD, VIP6_WEB, VIP6_NEW = "fd00:96::1", "fd00:96::2", "fd00:96::3"
MAC_OF6 = {WEB1_6: WEB1_MAC, WEB2_6: WEB2_MAC}


def write_v1(path):
    """A flow state file that says it is of the previous layout (version
    1), with no checksum where that layout has it: a damaged one (an intact
    one is imported: unit flowstore)."""
    with open(path, "r+b") as f:
        f.seek(8)
        f.write(struct.pack("<I", 1))


def pl(x):
    """A datagram's payload (scapy may have parsed it as DNS)."""
    return bytes(x[UDP].payload)


def udp6(src, dst, sport, dport, payload, src_mac):
    return Ether(src=src_mac, dst=KDP_MAC) / IPv6(src=src, dst=dst) / UDP(sport=sport, dport=dport) / Raw(payload)


def svc6(name, vip, backends, affinity=False):
    s = dict(svc(name, vip, backends, affinity), ipFamilies=["IPv6"])
    return s


def ep6(r, name, ip, ip6, mac, rx):
    e = r.ep(name, ip, mac, rx)
    e["ips"] = [ip, ip6]
    return e


def ipv6_flows(kdp, d, cfg4, nodes4):
    """Runs A6-C6: IPv6 flows through a restart, on a dual-stack node."""
    flows = f"/dev/shm/kdp-func-flowstate6-{os.getpid()}.flows"
    cfg = dict(cfg4, flowStateFile=flows, nodeIPv6="fd00:10::100/64", gatewayIPv6="fe80::c8",
               nativeRoutingCIDRv6="fd00:20::/48", serviceCIDRv6="fd00:96::/112",
               conntrack={"maxFlows": 2048, "maxFlowsIPv6": 1024},
               controlSocket=os.path.join(d, "kdp6.sock"))
    nodes = [dict(nodes4[0], ips=[NODE_IP, NODE6], podCIDRs=["172.20.1.0/24", "fd00:20:0:1::/64"]),
             dict(nodes4[1], ips=[W1_IP, "fd00:10::101"], podCIDRs=["172.20.0.0/24", "fd00:20::/64"])]
    # The router makes itself known (a solicitation for the node's address).
    router_ns = (Ether(src=ROUTER_MAC, dst="33:33:ff:00:01:00") / IPv6(src=ROUTER6, dst="ff02::1:ff00:100", hlim=255)
                 / ICMPv6ND_NS(tgt=NODE6) / ICMPv6NDOptSrcLLAddr(lladdr=ROUTER_MAC))
    runs = []

    def run(name):
        r = Run(kdp, d, name)
        r.sock = cfg["controlSocket"]
        runs.append(r)
        return r

    def ids(r):
        return {s["name"]: [(f["frontend"], f["id"]) for f in s["frontends"]] for s in api(r.sock, "/v1/services")}

    def by_payload(r):
        got = {}
        for web, ip in (("web1", WEB1_6), ("web2", WEB2_6)):
            for x in r.out(web):
                if IPv6 in x and UDP in x:
                    got[pl(x)] = (ip, x)
        return got

    try:
        # ---- run A6
        a = run("a6")
        state = {"nodes": nodes, "_uplink_in": [router_ns],
                 "endpoints": [ep6(a, "web1", WEB1, WEB1_6, WEB1_MAC, []), ep6(a, "web2", WEB2, WEB2_6, WEB2_MAC, [])],
                 "services": [svc6("old6", VIP6_OLD, [WEB1_6]), svc6("web6", VIP6_WEB, [WEB1_6, WEB2_6], True)]}
        check("run A6: dual-stack kdp starts", a.start(cfg, state), a.logtext()[-400:])
        code, body = a.call("DELETE", "/v1/services/default/old6")
        code2, body2 = a.call("PUT", "/v1/services/default/new6", svc6("new6", VIP6_NEW, [WEB1_6, WEB2_6]))
        check("run A6: service old6 deleted, new6 added over the API", code == 200 and code2 == 200,
              f"{code} {body[:80]} / {code2} {body2[:80]}")
        fe_a = ids(a)
        check("run A6: IPv6 frontend ids web6 2, new6 3 (old6 had 1)",
              fe_a == {"web6": [(f"[{VIP6_WEB}]:80/UDP", 2)], "new6": [(f"[{VIP6_NEW}]:80/UDP", 3)]}, str(fe_a))
        curl_a = [udp6(CURL6, VIP6_NEW, 41000, 80, b"new6-1", CURL_MAC),
                  udp6(CURL6, VIP6_WEB, 41001, 80, b"web6-1", CURL_MAC),
                  udp6(CURL6, ROUTER6, 40000, 53, b"masq6-1", CURL_MAC)]
        code, body = a.call("PUT", "/v1/endpoints/default/curl", ep6(a, "curl", CURL, CURL6, CURL_MAC, curl_a))
        check("run A6: curl-pod's port opens", code == 200, body[:120])
        a.settle(len(curl_a) + 1)
        ct6 = [f for f in api(a.sock, "/v1/ct")["flows"] if f["original"]["src"].startswith("[")]
        rc = a.stop(signal.SIGKILL)
        check("run A6: kdp killed with SIGKILL", rc == -9, str(rc))
        got = by_payload(a)
        be_new, be_web = got.get(b"new6-1", (None,))[0], got.get(b"web6-1", (None,))[0]
        up = [x for x in a.out("uplink") if IPv6 in x and UDP in x and pl(x) == b"masq6-1"]
        port = up[0][UDP].sport if up else None
        check("run A6: 3 IPv6 flows tracked, translated (new6 -> a backend, web6 -> a backend, "
              f"masquerade to {NODE6} port 50000-50099)",
              len(ct6) == 3 and be_new in (WEB1_6, WEB2_6) and be_web in (WEB1_6, WEB2_6)
              and port is not None and 50000 <= port <= 50099 and up[0][IPv6].src == NODE6
              and up[0][IPv6].dst == ROUTER6 and up[0][UDP].dport == 53 and up[0][Ether].dst == ROUTER_MAC,
              f"ct {len(ct6)} new6->{be_new} web6->{be_web} masq {up[0][IPv6].src if up else None} port {port}")
        if None in (be_new, be_web, port):
            return

        # ---- run B6: the same node after the crash
        b = run("b6")
        curl_b = [udp6(CURL6, VIP6_NEW, 41000, 80, b"new6-2", CURL_MAC),
                  udp6(CURL6, VIP6_WEB, 41002, 80, b"web6-2", CURL_MAC),
                  udp6(CURL6, ROUTER6, 40000, 53, b"masq6-2", CURL_MAC)]
        web_rx = {WEB1_6: [], WEB2_6: []}
        web_rx[be_new].append(udp6(be_new, CURL6, 80, 41000, b"new6-answer", MAC_OF6[be_new]))
        uplink_b = [router_ns, Ether(src=ROUTER_MAC, dst=KDP_MAC) / IPv6(src=ROUTER6, dst=NODE6)
                    / UDP(sport=53, dport=port) / Raw(b"masq6-answer")]
        state = {"nodes": nodes, "_uplink_in": uplink_b,
                 # the other way round, new6 with a third backend: a fresh
                 # start would give other ids and other choices
                 "services": [svc6("new6", VIP6_NEW, [WEB1_6, WEB2_6, REMOTE6]),
                              svc6("web6", VIP6_WEB, [WEB1_6, WEB2_6], True)],
                 "endpoints": [ep6(b, "web1", WEB1, WEB1_6, WEB1_MAC, web_rx[WEB1_6]),
                               ep6(b, "web2", WEB2, WEB2_6, WEB2_MAC, web_rx[WEB2_6]),
                               ep6(b, "curl", CURL, CURL6, CURL_MAC, curl_b)]}
        check("run B6: kdp starts after kill -9", b.start(cfg, state), b.logtext()[-400:])
        b.settle(len(curl_b) + len(uplink_b) + 1)
        fs = api(b.sock, "/v1/status").get("flowState") or {}
        fe_b = ids(b)
        ct = api(b.sock, "/v1/ct")
        b.stop()
        tuples = {(f["original"]["src"], f["original"]["dst"]): (f["reply"]["src"], f["reply"]["dst"])
                  for f in ct["flows"] if f["original"]["src"].startswith("[")}
        want = {(f"[{CURL6}]:41000", f"[{VIP6_NEW}]:80"): (f"[{be_new}]:80", f"[{CURL6}]:41000"),
                (f"[{CURL6}]:41001", f"[{VIP6_WEB}]:80"): (f"[{be_web}]:80", f"[{CURL6}]:41001"),
                (f"[{CURL6}]:41002", f"[{VIP6_WEB}]:80"): (f"[{be_web}]:80", f"[{CURL6}]:41002"),
                (f"[{CURL6}]:40000", f"[{ROUTER6}]:53"): (f"[{ROUTER6}]:53", f"[{NODE6}]:{port}")}
        check("run B6: GET /v1/ct: the 3 IPv6 flows of run A6 with their backends and SNAT port, and the "
              "new pinned one", ct.get("entriesIPv6") == 4 and tuples == want, str(tuples))
        log = b.logtext()
        check("run B6: the log says the IPv6 flows and pin were tracked again",
              "conntrack: 0 flows tracked again" in log and "IPv6 conntrack: 3 flows tracked again "
              "(3 live: 0 expired, 0 damaged, 0 duplicates, 0 without room)" in log
              and "1 IPv6 affinity pins" in log, line_with(log, "tracked again"))
        check("run B6: GET /v1/status flowState: reused, 3 IPv6 flows imported, 1 IPv6 pin, 0 IPv4",
              fs.get("origin") == "reused" and fs.get("restoredIPv6", {}).get("imported") == 3
              and fs.get("restoredIPv6", {}).get("live") == 3 and fs.get("affinityPinsIPv6") == 1
              and fs.get("restored", {}).get("imported") == 0 and fs.get("affinityPins") == 0
              and fs.get("frontendIds") == 2, json.dumps(fs))
        check("run B6: IPv6 frontend ids kept (web6 2, new6 3), not renumbered", fe_b == fe_a, str(fe_b))
        got = by_payload(b)
        check(f"run B6: the flow to [{VIP6_NEW}]:80 keeps its backend {be_new}",
              got.get(b"new6-2", (None,))[0] == be_new, str({k: v[0] for k, v in got.items()}))
        check(f"run B6: a new flow to [{VIP6_WEB}]:80 (ClientIP) goes to the pinned backend {be_web}",
              got.get(b"web6-2", (None,))[0] == be_web, str({k: v[0] for k, v in got.items()}))
        curl = b.out("curl")
        ans = [x for x in curl if IPv6 in x and UDP in x and pl(x) == b"new6-answer"]
        check(f"run B6: the backend's answer reaches curl-pod from [{VIP6_NEW}]:80 (reverse DNAT)",
              len(ans) == 1 and ans[0][IPv6].src == VIP6_NEW and ans[0][IPv6].dst == CURL6
              and ans[0][UDP].sport == 80 and ans[0][UDP].dport == 41000 and l4_csum_ok6(ans[0]), repr(ans))
        up = [x for x in b.out("uplink") if IPv6 in x and UDP in x and pl(x) == b"masq6-2"]
        check(f"run B6: curl-pod's datagram to the router leaves from [{NODE6}]:{port}, the same SNAT port",
              len(up) == 1 and up[0][IPv6].src == NODE6 and up[0][UDP].sport == port
              and up[0][IPv6].dst == ROUTER6 and l4_csum_ok6(up[0]), repr(up))
        ma = [x for x in curl if IPv6 in x and UDP in x and pl(x) == b"masq6-answer"]
        check(f"run B6: the router's answer to port {port} reaches [{CURL6}]:40000",
              len(ma) == 1 and ma[0][IPv6].src == ROUTER6 and ma[0][IPv6].dst == CURL6
              and ma[0][UDP].sport == 53 and ma[0][UDP].dport == 40000 and l4_csum_ok6(ma[0]), repr(ma))

        # ---- run C6: another maxFlowsIPv6: the file is resized, flows kept
        c = run("c6")
        curl_c = [udp6(CURL6, ROUTER6, 40000, 53, b"masq6-3", CURL_MAC)]
        state = {"nodes": nodes, "_uplink_in": [router_ns],
                 "services": [svc6("new6", VIP6_NEW, [WEB1_6, WEB2_6, REMOTE6]),
                              svc6("web6", VIP6_WEB, [WEB1_6, WEB2_6], True)],
                 "endpoints": [ep6(c, "web1", WEB1, WEB1_6, WEB1_MAC, []), ep6(c, "web2", WEB2, WEB2_6, WEB2_MAC, []),
                               ep6(c, "curl", CURL, CURL6, CURL_MAC, curl_c)]}
        size_before = os.path.getsize(flows)
        check("run C6: kdp starts with conntrack.maxFlowsIPv6 2048",
              c.start(dict(cfg, conntrack={"maxFlows": 2048, "maxFlowsIPv6": 2048}), state), c.logtext()[-400:])
        c.settle(2)
        fs = api(c.sock, "/v1/status").get("flowState") or {}
        c.stop()
        up = [x for x in c.out("uplink") if IPv6 in x and UDP in x and pl(x) == b"masq6-3"]
        check("run C6: resized (1024 IPv6 flows imported into 2048), 4 IPv6 flows and the pin kept",
              fs.get("origin") == "resized" and fs.get("restoredIPv6", {}).get("imported") == 4
              and fs.get("affinityPinsIPv6") == 1
              and os.path.getsize(flows) > size_before and not os.path.exists(flows + ".new"),
              json.dumps(fs))
        check(f"run C6: the masqueraded IPv6 flow still leaves with port {port}",
              len(up) == 1 and up[0][UDP].sport == port and up[0][IPv6].src == NODE6, repr(up))
    finally:
        cleanup(runs, flows)


def l4_csum_ok6(pkt):
    """Recomputes the UDP checksum of an IPv6 packet with scapy and compares."""
    ip = IPv6(bytes(pkt[IPv6]))
    got = ip[UDP].chksum
    del ip[UDP].chksum
    return IPv6(bytes(ip))[UDP].chksum == got


def alive(pid):
    """The process runs (not gone, not a zombie)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def handover(kdp, d):
    """kdp --takeover given up at each step leaves the running kdp going on;
    kdpctl upgrade replaces it (net_null uplink: no traffic needed)."""
    flows = f"/dev/shm/kdp-func-handover-{os.getpid()}.flows"
    sock = os.path.join(d, "ho.sock")
    cfg = {"name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": ROUTER,
           "uplink": {"devargs": "net_null0,no-rx=1"}, "nativeRoutingCIDR": "172.20.0.0/16",
           "workers": 2, "controlSocket": sock, "stateFile": os.path.join(d, "ho-state.json"),
           "flowStateFile": flows,
           "eal": ["--no-pci", "--no-huge", "-m", "512", f"--file-prefix=kdp-handover-{os.getpid()}",
                   "--no-shconf", "--no-telemetry", "--log-level=lib.*:error"]}
    cpath = os.path.join(d, "ho.json")
    log = open(os.path.join(d, "ho.log"), "w")
    procs, pids = [], []

    def write(c):
        with open(cpath, "w") as f:
            json.dump(c, f)

    def status():
        return json.loads(request(sock, "GET", "/v1/status")[1])

    def takeover(env=None, c=None):
        write(c or cfg)
        p = subprocess.run([kdp, "--config", cpath, "--takeover"], capture_output=True, text=True,
                           timeout=60, env=dict(os.environ, **(env or {})))
        write(cfg)
        return p

    try:
        write(cfg)
        a = subprocess.Popen([kdp, "--config", cpath], stdout=log, stderr=subprocess.STDOUT)
        procs.append(a)
        for _ in range(200):
            time.sleep(0.05)
            try:
                if request(sock, "GET", "/v1/status")[0] == 200:
                    break
            except OSError:
                pass
        node = json.dumps({"ip": W1_IP, "podCIDRs": ["172.20.0.0/24"]}).encode()
        check("hand-over: kdp A runs", request(sock, "PUT", "/v1/nodes/k8s-w1", node)[0] == 200)
        before = request(sock, "GET", "/v1/state")[1]

        # 1. a new kdp whose flows would be lost gives up at the prepare step
        p = takeover(c=dict(cfg, flowStateFile=""))
        st = status()
        code, _ = request(sock, "PUT", "/v1/nodes/k8s-w2", json.dumps(
            {"ip": "192.168.10.102", "podCIDRs": ["172.20.2.0/24"]}).encode())
        check("hand-over: a new kdp that would lose the flows gives up (exit 1, says why); "
              "kdp A takes updates again",
              p.returncode == 1 and "would be lost" in p.stderr and st["pid"] == a.pid
              and st["handover"]["phase"] == "none" and "abandoned" in (st["handover"]["last"] or "")
              and code == 200, f"exit {p.returncode}: {p.stderr.strip()[-200:]!r} / {st['handover']} / PUT {code}")
        request(sock, "DELETE", "/v1/nodes/k8s-w2")

        # 2. a new kdp that dies once kdp A froze: A takes workers and socket back
        p = takeover(env={"KDP_TEST_TAKEOVER_DIE": "1"})
        time.sleep(0.3)
        st = status()
        code, _ = request(sock, "PUT", "/v1/nodes/k8s-w2", json.dumps(
            {"ip": "192.168.10.102", "podCIDRs": ["172.20.2.0/24"]}).encode())
        request(sock, "DELETE", "/v1/nodes/k8s-w2")
        check("hand-over: a new kdp dead after the freeze: kdp A serves the socket again, its "
              "workers unparked, updates taken",
              p.returncode == 3 and st["pid"] == a.pid and st["handover"]["phase"] == "none"
              and st["handover"]["parkedWorkers"] == 0 and code == 200
              and "abandoned" in (st["handover"]["last"] or ""),
              f"exit {p.returncode}; {st['handover']}; PUT {code}")
        p = subprocess.run([kdp, "--config", cpath], capture_output=True, text=True, timeout=60)
        check("hand-over: a second kdp on the same flow state file is refused",
              p.returncode == 1 and "is in use by another kdp" in p.stderr, p.stderr.strip()[-200:])

        # 3. kdpctl upgrade: a new kdp takes over, A exits
        kc = subprocess.run([KDPCTL, "-s", sock, "upgrade"], capture_output=True, text=True, timeout=90)
        rc = a.wait(timeout=10)
        st = status()
        pids.append(st["pid"])
        check("hand-over: kdpctl upgrade: a new kdp serves, kdp A exited 0, the state is the same",
              kc.returncode == 0 and "upgraded: kdp" in kc.stdout and rc == 0 and st["pid"] != a.pid
              and st["handover"]["tookOverFrom"]["pid"] == a.pid
              and request(sock, "GET", "/v1/state")[1] == before,
              f"kdpctl exit {kc.returncode}: {kc.stdout.strip()!r} {kc.stderr.strip()!r}; A rc {rc}")
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGTERM)
                for _ in range(100):
                    if not alive(pid):
                        break
                    time.sleep(0.1)
        log.close()
        for f in (flows, flows + ".new", flows + ".rejected"):
            if os.path.exists(f):
                os.unlink(f)


def patch_bytes(path, off, data):
    """Flips bytes without fixing the CRC: a damaged file."""
    with open(path, "r+b") as f:
        f.seek(off)
        old = f.read(len(data))
        f.seek(off)
        f.write(bytes(x ^ y for x, y in zip(old, data)))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Frontend ids are reused, and a reused id never takes over an old flow.

A service frontend's id is what its conntrack entries and affinity pins
name. When a service goes, its id waits: the workers' grace period, then two
GC passes of the conntrack and affinity tables, each clearing the id from
what still names it (a flow of the deleted service dies as it did before:
"backend-gone", then removed). Only then is the id handed out again, the
lowest first; when the highest ids are free the id range shrinks back, so
the id-indexed arrays stay the size of the services, however many came and
went. net_pcap ports, one worker, a flow state file.

  1. services old (id 1) and web (id 2); curl-pod sends UDP to old: a flow
     naming id 1
  2. old deleted: id 1 waits; the GC clears the flow (gcOrphaned 1); id 1
     free after the grace period and two passes
  3. service new (the same backend as old): id 1 again (reused 1, highest 2);
     /metrics says the same
  4. curl-pod's old flow again and a flow to new: the old one is not
     translated (its service is gone: dropped, svc_unknown once its cleared
     entry is removed, svc_backend_gone until then), new's is
  5. 100 services put and deleted: ids 3-102, then the range shrinks back
     to 2 once they are free; 100 more get 3-102 again, not 103-202
  6. restart over the flow state file: new keeps 1, web 2, the other ids up
     to the highest the file had wait (flows of the file may name them)
  7. a dual-stack node: an IPv6 frontend's id (id 1, one id space with
     IPv4) waits, its IPv6 flow is cleared, an IPv4 service gets the id,
     the old IPv6 flow's next packet is dropped
Usage: test_feid.py <kdp>   (as root)"""
import os
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from scapy.all import ARP, UDP, Ether, Raw  # noqa: E402
from test_flowstate import (CURL, CURL6, CURL_MAC, NODE_IP, ROUTER, ROUTER_MAC, VIP6_OLD,  # noqa: E402
                            VIP_NEW, VIP_OLD, VIP_WEB, W1_IP, WEB1, WEB1_6, WEB1_MAC, Run, cleanup,
                            ep6, node_config, svc, svc6, udp, udp6)
from test_pcap import api, check, finish, http_get  # noqa: E402


def ids(sock):
    return {s["name"]: s["frontends"][0]["id"] for s in api(sock, "/v1/services")}


def feids(sock):
    return api(sock, "/v1/status")["frontendIds"]


def wait_for(what, seconds):
    """Polls @what() every 0.2 s for up to @seconds: its last value."""
    end = time.monotonic() + seconds
    v = what()
    while not v and time.monotonic() < end:
        time.sleep(0.2)
        v = what()
    return v


def flow_of(sock, sport, src=CURL):
    want = f"[{src}]:{sport}" if ":" in src else f"{src}:{sport}"
    return next((f for f in api(sock, "/v1/ct")["flows"] if f["original"]["src"] == want), None)


def batch(run, names, delete):
    ops = [{"kind": "/v1/services", "id": ["churn", n]} for n in names]
    if not delete:
        for i, o in enumerate(ops):
            o["body"] = {"clusterIP": f"10.96.{60 + i // 250}.{i % 250 + 1}",
                         "ports": [{"name": "u", "protocol": "UDP", "port": 80}],
                         "backends": [{"ip": WEB1}]}
    return run.call("PATCH", "/v1/objects", {"objects": ops})


def main():
    kdp = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-feid-")
    flows = f"/dev/shm/kdp-func-feid-{os.getpid()}.flows"
    cfg, nodes = node_config(d, flows, "kdp-feid")
    arp = Ether(src=ROUTER_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc=ROUTER_MAC, psrc=ROUTER,
                                                              pdst=NODE_IP)
    runs = []
    try:
        a = Run(kdp, d, "a")
        runs.append(a)
        state = {"nodes": nodes, "_uplink_in": [arp],
                 "endpoints": [a.ep("web1", WEB1, WEB1_MAC, [])],
                 "services": [svc("old", VIP_OLD, [WEB1]), svc("web", VIP_WEB, [WEB1])]}
        check("kdp starts", a.start(cfg, state), a.logtext()[-400:])
        check("1: frontend ids old 1, web 2", ids(a.sock) == {"old": 1, "web": 2}, str(ids(a.sock)))
        code, body = a.call("PUT", "/v1/endpoints/default/curl",
                            a.ep("curl", CURL, CURL_MAC, [udp(CURL, VIP_OLD, 41000, 80, b"old-1", CURL_MAC, 1)]))
        a.settle(2)
        f = flow_of(a.sock, 41000)
        check("1: curl-pod's flow to old is tracked, naming id 1, translated to web1",
              code == 200 and f is not None and f["serviceId"] == 1
              and f["reply"]["src"] == f"{WEB1}:80", f"{code} {body[:80]} {f}")

        # 2. old goes
        code, body = a.call("DELETE", "/v1/services/default/old")
        st = feids(a.sock)
        check("2: old deleted: id 1 waits (released 1, waiting 1, free 0, in use 1)",
              code == 200 and st["released"] == 1 and st["waiting"] == 1 and st["free"] == 0
              and st["inUse"] == 1 and st["highest"] == 2, f"{code} {st}")
        orphaned = wait_for(lambda: api(a.sock, "/v1/ct")["gcOrphaned"] == 1, 20)
        f = flow_of(a.sock, 41000)
        check("2: the GC cleared id 1 from the old flow (gcOrphaned 1; the flow backend-gone "
              "without an id, or removed)",
              orphaned and (f is None or (f["serviceId"] == 0 and "backend-gone" in f["flags"])),
              f"{api(a.sock, '/v1/ct')['gcOrphaned']} {f}")
        free = wait_for(lambda: feids(a.sock)["free"] == 1, 40)
        st = feids(a.sock)
        check("2: id 1 free after the grace period and two GC passes (free 1, waiting 0)",
              free and st["waiting"] == 0 and st["highest"] == 2, str(st))

        # 3. the id comes back
        code, body = a.call("PUT", "/v1/services/default/new", svc("new", VIP_NEW, [WEB1]))
        st = feids(a.sock)
        check("3: service new takes id 1 again (reused 1, free 0, highest 2, in use 2)",
              code == 200 and ids(a.sock) == {"new": 1, "web": 2} and st["reused"] == 1
              and st["free"] == 0 and st["highest"] == 2 and st["inUse"] == 2,
              f"{code} {ids(a.sock)} {st}")

        text = http_get(a.sock, "/metrics")
        want = ['kdp_frontend_ids{state="in_use"} 2', 'kdp_frontend_ids{state="waiting"} 0',
                'kdp_frontend_ids{state="free"} 0', 'kdp_frontend_ids{state="reserved"} 0',
                'kdp_conntrack_gc_orphaned_total{family="ipv4"} 1',
                'kdp_conntrack_gc_lost_races_total{family="ipv4"} 0']
        check("3: /metrics: kdp_frontend_ids by state, kdp_conntrack_gc_orphaned_total and "
              "kdp_conntrack_gc_lost_races_total agree",
              all(w in text.splitlines() for w in want),
              str([ln for ln in text.splitlines()
                   if "frontend_ids" in ln or "orphaned" in ln or "lost_races" in ln]))

        # 4. the old flow again, and a flow to new
        a.call("DELETE", "/v1/endpoints/default/curl")
        rx0 = api(a.sock, "/v1/stats")["totals"]["rxPackets"]
        c2 = Run(kdp, d, "c2")
        code, body = a.call("PUT", "/v1/endpoints/default/curl",
                            c2.ep("curl", CURL, CURL_MAC,
                                  [udp(CURL, VIP_OLD, 41000, 80, b"old-2", CURL_MAC, 2),
                                   udp(CURL, VIP_NEW, 41001, 80, b"new-1", CURL_MAC, 3)]))
        a.settle(rx0 + 2)
        stats = api(a.sock, "/v1/stats")
        drops = {x["reason"]: x["packets"] for x in stats["drops"]}
        f = flow_of(a.sock, 41001)
        old = flow_of(a.sock, 41000)
        check("4: the flow to new names id 1, translated to web1; the old flow's packet dropped: "
              "svc_unknown (its entry removed) or svc_backend_gone (its entry cleared, dead, not "
              "removed yet)",
              code == 200 and f is not None and f["serviceId"] == 1
              and f["original"]["dst"] == f"{VIP_NEW}:80"
              and drops.get("svc_unknown", 0) + drops.get("svc_backend_gone", 0) == 1
              and (old is None or old["serviceId"] == 0),
              f"{f} svc_unknown {drops.get('svc_unknown')} svc_backend_gone "
              f"{drops.get('svc_backend_gone')} {old}")

        # A build that fails gives back the ids it took.
        code, body = a.call("PUT", "/v1/services/default/clash", svc("clash", VIP_WEB, [WEB1]))
        st = feids(a.sock)
        check("4: a service whose frontend is web's is refused, its id given back (highest 2, "
              "in use 2)", code == 400 and b"already" in body and st["highest"] == 2
              and st["inUse"] == 2, f"{code} {body[:120]} {st}")

        # 5. churn
        names = [f"c{i}" for i in range(100)]
        code, body = batch(a, names, False)
        got = ids(a.sock)
        check("5: 100 services get ids 3-102",
              code == 200 and sorted(v for k, v in got.items() if k.startswith("c")) == list(range(3, 103)),
              f"{code} {body[:120]}")
        code, body = batch(a, names, True)
        done = wait_for(lambda: feids(a.sock)["waiting"] == 0, 40)
        st = feids(a.sock)
        check("5: deleted, then free: the id range shrinks back to the highest in use (2)",
              code == 200 and done and st["highest"] == 2 and st["free"] == 0 and st["released"] == 101,
              f"{code} {st}")
        names2 = [f"d{i}" for i in range(100)]
        code, body = batch(a, names2, False)
        got = ids(a.sock)
        st = feids(a.sock)
        check("5: 100 other services get ids 3-102 again, not 103-202 (highest 102)",
              code == 200 and sorted(v for k, v in got.items() if k.startswith("d")) == list(range(3, 103))
              and st["highest"] == 102, f"{code} {st}")
        code, body = batch(a, names2, True)
        rc = a.stop()
        check("kdp stops on SIGTERM", rc == 0, str(rc))
        web1 = [bytes(x[Raw]) for x in a.out("web1") if UDP in x and Raw in x]
        check("web1 got old-1 and new-1, not old-2 (a reused id took over no flow)",
              web1 == [b"old-1", b"new-1"], str(web1))

        # 6. restart over the file
        b = Run(kdp, d, "b")
        runs.append(b)
        state = {"nodes": nodes, "_uplink_in": [arp],
                 "endpoints": [b.ep("web1", WEB1, WEB1_MAC, [])],
                 "services": [svc("web", VIP_WEB, [WEB1]), svc("new", VIP_NEW, [WEB1])]}
        check("restart: kdp starts over the flow state file", b.start(cfg, state), b.logtext()[-400:])
        st = feids(b.sock)
        check("6: new keeps 1 and web 2; the file's other ids up to its highest (102) wait",
              ids(b.sock) == {"new": 1, "web": 2} and st["highest"] == 102 and st["inUse"] == 2
              and st["waiting"] == 100 and st["reserved"] == 0, f"{ids(b.sock)} {st}")
        rc = b.stop(signal.SIGTERM)
        check("kdp stops on SIGTERM", rc == 0, str(rc))
        ipv6_ids(kdp, d, cfg, nodes, runs)
    finally:
        cleanup(runs, flows)
        cleanup([], flows + "6")
    return finish(d)


def ipv6_ids(kdp, d, cfg4, nodes4, runs):
    """7. A dual-stack node: an IPv6 frontend's id waits and is reused the
    same way (the families share one id space), and its IPv6 flow is
    cleared and not translated again."""
    cfg = dict(cfg4, flowStateFile=cfg4["flowStateFile"] + "6", nodeIPv6="fd00:10::100/64",
               gatewayIPv6="fe80::c8", nativeRoutingCIDRv6="fd00:20::/48",
               serviceCIDRv6="fd00:96::/112", conntrack={"maxFlows": 2048, "maxFlowsIPv6": 1024})
    nodes = [dict(nodes4[0], ips=[NODE_IP, "fd00:10::100"], podCIDRs=["172.20.1.0/24", "fd00:20:0:1::/64"]),
             dict(nodes4[1], ips=[W1_IP, "fd00:10::101"], podCIDRs=["172.20.0.0/24", "fd00:20::/64"])]
    r = Run(kdp, d, "v6")
    runs.append(r)
    state = {"nodes": nodes, "endpoints": [ep6(r, "web1", WEB1, WEB1_6, WEB1_MAC, [])],
             "services": [svc6("old6", VIP6_OLD, [WEB1_6])]}
    check("7: dual-stack kdp starts", r.start(cfg, state), r.logtext()[-400:])
    code, body = r.call("PUT", "/v1/services/default/web", svc("web", VIP_WEB, [WEB1]))
    check("7: frontend ids old6 (IPv6) 1, web (IPv4) 2", code == 200
          and ids(r.sock) == {"old6": 1, "web": 2}, f"{code} {ids(r.sock)}")
    code, body = r.call("PUT", "/v1/endpoints/default/curl",
                        ep6(r, "curl", CURL, CURL6, CURL_MAC,
                            [udp6(CURL6, VIP6_OLD, 42000, 80, b"old6-1", CURL_MAC)]))
    r.settle(1)
    f = flow_of(r.sock, 42000, CURL6)
    check("7: curl-pod's IPv6 flow to old6 names id 1", code == 200 and f is not None
          and f["serviceId"] == 1, f"{code} {body[:80]} {f}")
    code, body = r.call("DELETE", "/v1/services/default/old6")
    orphaned = wait_for(lambda: api(r.sock, "/v1/ct")["gcOrphanedIPv6"] == 1, 20)
    free = wait_for(lambda: feids(r.sock)["free"] == 1, 40)
    check("7: old6 deleted: the GC cleared id 1 from its IPv6 flow (gcOrphanedIPv6 1), id 1 free",
          code == 200 and orphaned and free, f"{api(r.sock, '/v1/ct')['gcOrphanedIPv6']} {feids(r.sock)}")
    # The IPv6 id goes to an IPv4 frontend: one id space.
    code, body = r.call("PUT", "/v1/services/default/new", svc("new", VIP_NEW, [WEB1]))
    check("7: an IPv4 service takes the IPv6 frontend's id 1 again", code == 200
          and ids(r.sock) == {"new": 1, "web": 2} and feids(r.sock)["reused"] == 1, str(ids(r.sock)))
    r.call("DELETE", "/v1/endpoints/default/curl")
    rx0 = api(r.sock, "/v1/stats")["totals"]["rxPackets"]
    r2 = Run(kdp, d, "v6b")
    code, body = r.call("PUT", "/v1/endpoints/default/curl",
                        ep6(r2, "curl", CURL, CURL6, CURL_MAC,
                            [udp6(CURL6, VIP6_OLD, 42000, 80, b"old6-2", CURL_MAC)]))
    r.settle(rx0 + 1)
    drops = {x["reason"]: x["packets"] for x in api(r.sock, "/v1/stats")["drops"]}
    old = flow_of(r.sock, 42000, CURL6)
    check("7: the old IPv6 flow's packet is dropped (svc_unknown or svc_backend_gone)",
          code == 200 and drops.get("svc_unknown", 0) + drops.get("svc_backend_gone", 0) == 1
          and (old is None or old["serviceId"] == 0),
          f"{drops.get('svc_unknown')} {drops.get('svc_backend_gone')} {old}")
    rc = r.stop()
    got = [bytes(x[UDP].payload) for x in r.out("web1") if UDP in x]
    check("7: web1 got old6-1 only", rc == 0 and got == [b"old6-1"], f"{rc} {got}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""What a kdp holds, one line per object, for tests to compare:

  node k8s-w1 192.168.10.101 172.20.0.0/24
  node6 k8s-w1 fd00:10::101 fd00:20::/64                       (its IPv6 side, if any)
  service default/webpod NodePort 10.96.152.212 http:TCP:80>80:30080 172.20.0.130=active,172.20.1.40=active
  service6 default/webpod fd00:96::98d4 fd00:20::130=active,fd00:20:0:1::40=active  (IPv6 side)
  lrp kube-system/nodelocaldns active=True backends=172.20.1.13:53/UDP,...
  policy default/web-local etp=Local itp=Cluster hc=32000 ranges=- local=1 nodes=172.20.1.41@k8s-ctr,...
  ipmasq {"nonMasqueradeCIDRs": [...], "masqLinkLocal": false}
  endpoint default/curl-pod 172.20.1.236 app=curl up

Usage: kdp_view.py SOCKET
"""
import http.client
import json
import socket
import sys


class Conn(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("kdp", timeout=10)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(10)
        self.sock.connect(self.path)


def get(sock, path):
    c = Conn(sock)
    c.request("GET", path)
    r = c.getresponse()
    return json.loads(r.read())


def main():
    s = sys.argv[1]
    for n in get(s, "/v1/nodes"):
        print("node", n["name"], n["ip"], ",".join(c for c in n["podCIDRs"] if ":" not in c))
        if n.get("ips"):
            print("node6", n["name"], n["ips"][-1], ",".join(c for c in n["podCIDRs"] if ":" in c))
    for v in get(s, "/v1/services"):
        if v.get("kind"):
            continue
        ports = ",".join("%s:%s:%d>%d%s" % (p["name"], p["protocol"], p["port"], p["targetPort"],
                                            ":%d" % p["nodePort"] if p.get("nodePort") else "")
                         for p in v["ports"])
        def bes(six):
            return ",".join("%s%s=%s" % (b["ip"], ":%d" % b["port"] if b.get("port") else "", b["state"])
                            for b in v["backends"] if (":" in b["ip"]) == six) or "-"
        cip4 = [c for c in v.get("clusterIPs") or [v["clusterIP"]] if ":" not in c]
        print("service %s/%s %s %s %s %s" % (v["namespace"], v["name"], v["type"],
                                             cip4[0] if cip4 else v["clusterIP"], ports, bes(False)))
        cip6 = [c for c in v.get("clusterIPs") or [] if ":" in c]
        if cip6:
            print("service6 %s/%s %s %s" % (v["namespace"], v["name"], cip6[0], bes(True)))
        # The fields of phase 2, on a line of their own when not the defaults.
        pol = (v.get("externalTrafficPolicy", "Cluster"), v.get("internalTrafficPolicy", "Cluster"),
               v.get("healthCheckNodePort", 0), v.get("loadBalancerSourceRanges") or [])
        if pol != ("Cluster", "Cluster", 0, []):
            hc = v.get("healthCheck") or {}
            print("policy %s/%s etp=%s itp=%s hc=%s ranges=%s local=%s nodes=%s" % (
                v["namespace"], v["name"], pol[0], pol[1], pol[2], ",".join(pol[3]) or "-",
                hc.get("localEndpoints", "-"),
                ",".join("%s@%s" % (b["ip"], b.get("nodeName") or "-") for b in v["backends"]) or "-"))
    for p in get(s, "/v1/lrp"):
        print("lrp %s/%s active=%s backends=%s" % (p["namespace"], p["name"], p.get("active"),
                                                   ",".join(b["address"] for b in p.get("backends", [])) or "-"))
    print("ipmasq", json.dumps(get(s, "/v1/ipmasq").get("config"), sort_keys=True))
    for e in get(s, "/v1/endpoints"):
        lab = ",".join("%s=%s" % kv for kv in sorted(e["labels"].items())) or "-"
        print("endpoint %s/%s %s %s %s" % (e["namespace"], e["name"], e["ip"], lab,
                                           (e.get("port") or {}).get("state", "-")))


if __name__ == "__main__":
    main()

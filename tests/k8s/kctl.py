#!/usr/bin/python3
"""Drives the fake apiserver (fake_apiserver.py) through its /control/*
endpoints, for shell tests.

  kctl.py URL lab                         load every object of the lab
  kctl.py URL apply JSON                  one object or a list of objects
  kctl.py URL delete KIND NS NAME         (NS "" for nodes)
  kctl.py URL pod NS NAME NODE IP [k=v,...] [IPv6]
  kctl.py URL slice NS SVC NAME PORTS [IP:NODE:STATE ...]
                                          PORTS name:PROTO:port[,...]; STATE
                                          ready|terminating|gone|notready
  kctl.py URL ipmasq CONFIG               the ip-masq-agent ConfigMap's config
  kctl.py URL cut [KIND] | compact | fail COUNT [CODE] | status
  kctl.py URL wait-watches COUNT [SECONDS]  until COUNT watches are open

URL is the server's base URL (http or https; certificates are not checked:
this talks to the test's own server on 127.0.0.1). Prints the answer.
"""
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab_objects as lab  # noqa: E402


def post(url, what, body):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url.rstrip("/") + "/control/" + what, data=json.dumps(body).encode(),
                                 method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return json.load(r)
    except urllib.error.HTTPError as e:
        sys.exit("kctl: %s: HTTP %d %s" % (what, e.code, e.read().decode(errors="replace").strip()))


def labels(s):
    out = {}
    for kv in filter(None, (s or "").split(",")):
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    url, cmd, a = argv[1], argv[2], argv[3:]
    if cmd == "lab":
        out = post(url, "apply", {"objects": lab.lab_objects()})
    elif cmd == "apply":
        o = json.loads(a[0])
        out = post(url, "apply", {"objects": o} if isinstance(o, list) else o)
    elif cmd == "delete":
        out = post(url, "delete", {"kind": a[0], "namespace": a[1], "name": a[2]})
    elif cmd == "pod":
        out = post(url, "apply", lab.pod(a[0], a[1], a[2], a[3], labels(a[4] if len(a) > 4 else ""),
                                         a[5] if len(a) > 5 else None))
    elif cmd == "slice":
        ports = []
        for p in a[3].split(","):
            n, proto, port = p.split(":")
            ports.append((n, proto, int(port), int(port)))
        eps = []
        for e in a[4:]:
            ip, node, state = e.rsplit(":", 2)  # the IP may be IPv6
            eps.append(lab.endpoint(ip, node, state))
        out = post(url, "apply", lab.endpoint_slice(a[0], a[1], a[2], eps, ports))
    elif cmd == "ipmasq":
        out = post(url, "apply", lab.ipmasq_configmap(a[0]))
    elif cmd == "cut":
        out = post(url, "cut", {"kind": a[0]} if a else {})
    elif cmd == "compact":
        out = post(url, "compact", {})
    elif cmd == "fail":
        out = post(url, "fail", {"count": int(a[0]), "code": int(a[1]) if len(a) > 1 else 500})
    elif cmd == "status":
        out = post(url, "status", {})
    elif cmd == "wait-watches":
        want, end = int(a[0]), time.time() + (float(a[1]) if len(a) > 1 else 10)
        while True:
            out = post(url, "status", {})
            if len(out["watchers"]) >= want:
                break
            if time.time() > end:
                sys.exit("kctl: %d watches open, wanted %d" % (len(out["watchers"]), want))
            time.sleep(0.1)
        out = {"watches": len(out["watchers"])}
    else:
        sys.exit("kctl: unknown command %r\n%s" % (cmd, __doc__))
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv)

#!/usr/bin/python3
"""A stand-in for kdp's control socket, for kdp-cni's test: it answers what
kdp-cni asks (GET /v1/status, GET /v1/nodes, GET/PUT/DELETE
/v1/endpoints[/{ns}/{name}]) and keeps the endpoints in memory, without the
one-DPDK-port-per-pod limit of the real kdp (30 endpoints), so that 110 pods
fit. It checks bodies as kdp does (the keys, ip, mac, devargs).

Usage: fake_kdp.py SOCKET PODCIDR        (prints "ready" once listening)
"""
import http.server
import json
import os
import re
import socketserver
import sys

EP_KEYS = {"namespace", "name", "ip", "mac", "labels", "devargs"}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def address_string(self):
        return "unix"

    def reply(self, code, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        eps = self.server.eps
        if self.path == "/v1/status":
            return self.reply(200, {"node": "k8s-ctr", "podGateway": "169.254.1.1",
                                    "uptimeSeconds": 1, "counts": {"endpoints": len(eps)}})
        if self.path == "/v1/nodes":
            return self.reply(200, [{"name": "k8s-ctr", "ip": "192.168.10.100",
                                     "podCIDRs": [self.server.cidr], "local": True}])
        if self.path == "/v1/endpoints":
            return self.reply(200, list(eps.values()))
        m = re.fullmatch(r"/v1/endpoints/([^/]+)/([^/]+)", self.path)
        if m and m.group(0) and (m.group(1), m.group(2)) in eps:
            return self.reply(200, eps[(m.group(1), m.group(2))])
        return self.reply(404, {"error": "not found"})

    def do_PUT(self):
        m = re.fullmatch(r"/v1/endpoints/([^/]+)/([^/]+)", self.path)
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n))
        except ValueError:
            return self.reply(400, {"error": "body: invalid JSON"})
        if not m:
            return self.reply(404, {"error": "no such path"})
        extra = set(body) - EP_KEYS
        if extra:
            return self.reply(400, {"error": "%s: unknown field" % sorted(extra)[0]})
        for k in ("ip", "mac", "devargs"):
            if not isinstance(body.get(k), str):
                return self.reply(400, {"error": "%s: required field missing" % k})
        for (ns, name), e in self.server.eps.items():
            if e["ip"] == body["ip"] and (ns, name) != (m.group(1), m.group(2)):
                return self.reply(400, {"error": "ip: %s already belongs to %s/%s" % (body["ip"], ns, name)})
        ep = {"namespace": m.group(1), "name": m.group(2), "ip": body["ip"], "mac": body["mac"],
              "labels": body.get("labels") or {}, "devargs": body["devargs"], "port": None}
        self.server.eps[(m.group(1), m.group(2))] = ep
        return self.reply(200, {"message": "endpoint %s/%s created" % (m.group(1), m.group(2))})

    def do_DELETE(self):
        m = re.fullmatch(r"/v1/endpoints/([^/]+)/([^/]+)", self.path)
        if not m or self.server.eps.pop((m.group(1), m.group(2)), None) is None:
            return self.reply(404, {"error": "not found"})
        return self.reply(200, {"message": "deleted"})


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    sock, cidr = sys.argv[1], sys.argv[2]
    if os.path.exists(sock):
        os.unlink(sock)
    srv = Server(sock, Handler)
    srv.eps, srv.cidr = {}, cidr
    print("ready", flush=True)
    srv.serve_forever(poll_interval=0.2)


if __name__ == "__main__":
    main()

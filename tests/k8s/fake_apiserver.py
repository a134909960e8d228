#!/usr/bin/python3
"""A fake kube-apiserver for kdp-agent's tests: list and watch with the API's
semantics for the kinds kdp-agent reads, plus the discovery documents kubectl
needs for a client-side dry run.

What it does like the real one:
  - one resourceVersion counter for every object; each change stores an
    event in a bounded history;
  - list: GET .../<plural>[?limit=N&continue=T&fieldSelector=&labelSelector=];
    the list's metadata.resourceVersion is the counter at the time of the
    list; a continue token of a compacted resourceVersion is 410 Expired;
  - watch: ?watch=1&resourceVersion=RV: a chunked stream of JSON lines
    {"type": ADDED|MODIFIED|DELETED|BOOKMARK|ERROR, "object": ...}, every event
    after RV that matches the selectors; RV older than the history is a 410
    (an ERROR event with a Status of code 410, or with --gone-as-http an HTTP
    410 answer); allowWatchBookmarks=true gets a BOOKMARK every
    --bookmark-seconds; timeoutSeconds ends the stream; an empty or "0" RV
    starts with ADDED events for what exists;
  - bearer token (--token) and TLS (--cert/--key) when given.

The test drives it through /control/* (POST, JSON, no token needed, only on
this listener):
  /control/apply    {"objects": [obj, ...]} or one object: create or replace
                    (kind from "kind"); answers {"resourceVersions": [...]}
  /control/delete   {"kind": "Service", "namespace": "default", "name": "x"}
  /control/cut      {"kind": "Service"} (optional): close open watches
  /control/compact  {}: forget the history (older watches get 410)
  /control/fail     {"count": N, "code": 500}: the next N API requests fail
  /control/status   {}: the counter, open watches, objects per kind, requests
  /control/times    {}: commit time (time.time()) of each resourceVersion

Usage: fake_apiserver.py [--port 0] [--objects FILE.json] [--token T]
       [--cert C --key K] [--port-file F] [--bench-services N --bench-endpoints M]
It listens on 127.0.0.1 only and prints "listening on PORT" once ready.
"""
import argparse
import base64
import bisect
import copy
import http.server
import json
import os
import socket
import socketserver
import ssl
import sys
import threading
import time
import urllib.parse
import uuid

# plural -> (path prefix, namespaced, kind, apiVersion)
KINDS = {
    "nodes": ("/api/v1", False, "Node", "v1"),
    "services": ("/api/v1", True, "Service", "v1"),
    "pods": ("/api/v1", True, "Pod", "v1"),
    "configmaps": ("/api/v1", True, "ConfigMap", "v1"),
    "endpointslices": ("/apis/discovery.k8s.io/v1", True, "EndpointSlice",
                       "discovery.k8s.io/v1"),
    "ciliumlocalredirectpolicies": ("/apis/cilium.io/v2", True, "CiliumLocalRedirectPolicy",
                                    "cilium.io/v2"),
}
PLURAL_OF = {v[2]: k for k, v in KINDS.items()}

# Discovery for kubectl (kinds it may be asked to apply, whether or not they
# are stored here).
DISCOVERY = {
    "/api/v1": [("namespaces", "Namespace", False), ("nodes", "Node", False),
                ("pods", "Pod", True), ("services", "Service", True),
                ("configmaps", "ConfigMap", True), ("secrets", "Secret", True),
                ("serviceaccounts", "ServiceAccount", True)],
    "/apis/apps/v1": [("daemonsets", "DaemonSet", True), ("deployments", "Deployment", True)],
    "/apis/rbac.authorization.k8s.io/v1": [
        ("clusterroles", "ClusterRole", False), ("clusterrolebindings", "ClusterRoleBinding", False),
        ("roles", "Role", True), ("rolebindings", "RoleBinding", True)],
    "/apis/discovery.k8s.io/v1": [("endpointslices", "EndpointSlice", True)],
    "/apis/cilium.io/v2": [("ciliumlocalredirectpolicies", "CiliumLocalRedirectPolicy", True)],
}

HISTORY = 100000  # events kept before the oldest are compacted away


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class Store:
    """Every object, the resourceVersion counter and the event history."""

    def __init__(self):
        self.cond = threading.Condition()
        self.rv = 100
        self.objects = {k: {} for k in KINDS}
        self.events = []        # (rv, plural, type, object)
        self.event_rvs = []     # the rvs of events, for bisect
        self.compacted = 0      # events at or below this rv are gone
        self.cut_gen = {k: 0 for k in KINDS}
        self.times = {}         # rv -> time.time() of the commit
        self.watchers = {}      # id -> {"kind", "rv", "since"}
        self.requests = {}
        self.fail = [0, 500]

    def _commit(self, plural, typ, obj):
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)
        self.events.append((self.rv, plural, typ, obj))
        self.event_rvs.append(self.rv)
        self.times[self.rv] = time.time()
        if len(self.events) > HISTORY + HISTORY // 10:
            drop = len(self.events) - HISTORY
            self.compacted = self.events[drop - 1][0]
            del self.events[:drop]
            del self.event_rvs[:drop]
        return self.rv

    def apply(self, obj):
        plural = PLURAL_OF.get(obj.get("kind"))
        if plural is None:
            raise ValueError("unknown kind %r" % obj.get("kind"))
        obj = copy.deepcopy(obj)
        md = obj.setdefault("metadata", {})
        if not md.get("name"):
            raise ValueError("metadata.name missing")
        if KINDS[plural][1]:
            md.setdefault("namespace", "default")
        else:
            md.pop("namespace", None)
        obj["apiVersion"] = KINDS[plural][3]
        key = (md.get("namespace", ""), md["name"])
        with self.cond:
            old = self.objects[plural].get(key)
            md["uid"] = old["metadata"]["uid"] if old else str(uuid.uuid4())
            md.setdefault("creationTimestamp", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
            rv = self._commit(plural, "MODIFIED" if old else "ADDED", obj)
            self.objects[plural][key] = obj
            self.cond.notify_all()
        return rv

    def delete(self, kind, ns, name):
        plural = PLURAL_OF.get(kind, kind)
        if plural not in KINDS:
            raise ValueError("unknown kind %r" % kind)
        key = (ns or "" if KINDS[plural][1] else "", name)
        with self.cond:
            obj = self.objects[plural].pop(key, None)
            if obj is None:
                return None
            obj = copy.deepcopy(obj)
            rv = self._commit(plural, "DELETED", obj)
            self.cond.notify_all()
        return rv

    def compact(self):
        with self.cond:
            self.compacted = self.rv
            self.events = []
            self.event_rvs = []

    def cut(self, kind=None):
        with self.cond:
            for k in KINDS:
                if kind is None or KINDS[k][2] == kind or k == kind:
                    self.cut_gen[k] += 1
            self.cond.notify_all()


def parse_selector(s):
    """k=v,k2=v2 (also ==) into a list of (key, value)."""
    out = []
    for part in filter(None, (s or "").split(",")):
        k, sep, v = part.partition("==") if "==" in part else part.partition("=")
        if not sep:
            raise ValueError("unsupported selector %r" % part)
        out.append((k.strip(), v.strip()))
    return out


def field_value(obj, path):
    cur = obj
    for p in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(p)
    return "" if cur is None else str(cur)


def matches(obj, ns, fields, labels):
    md = obj.get("metadata", {})
    if ns and md.get("namespace") != ns:
        return False
    for k, v in fields:
        if field_value(obj, k) != v:
            return False
    lab = md.get("labels") or {}
    return all(lab.get(k) == v for k, v in labels)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-apiserver"

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("fake-apiserver: " + (fmt % args) + "\n")

    # ---- plumbing

    def send_json(self, code, obj):
        body = (json.dumps(obj) + "\n").encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def authorized(self):
        tok = self.server.token
        if not tok:
            return True
        return self.headers.get("Authorization", "") == "Bearer " + tok

    # ---- control

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        st = self.server.store
        if not url.path.startswith("/control/"):
            return self.send_json(405, status(405, "MethodNotAllowed", "only GET here"))
        try:
            req = json.loads(self.read_body() or b"{}")
        except ValueError as e:
            return self.send_json(400, {"error": "body: %s" % e})
        what = url.path[len("/control/"):]
        try:
            if what == "apply":
                objs = req["objects"] if "objects" in req else [req]
                rvs = [st.apply(o) for o in objs]
                return self.send_json(200, {"resourceVersions": rvs, "time": time.time()})
            if what == "delete":
                rv = st.delete(req["kind"], req.get("namespace", ""), req["name"])
                return self.send_json(200 if rv else 404, {"resourceVersion": rv})
            if what == "cut":
                st.cut(req.get("kind"))
                return self.send_json(200, {"cut": req.get("kind", "all")})
            if what == "compact":
                st.compact()
                return self.send_json(200, {"compacted": st.compacted})
            if what == "fail":
                with st.cond:
                    st.fail = [int(req.get("count", 1)), int(req.get("code", 500))]
                return self.send_json(200, {"fail": st.fail})
            if what == "status":
                with st.cond:
                    return self.send_json(200, {
                        "resourceVersion": st.rv, "compacted": st.compacted,
                        "watchers": list(st.watchers.values()),
                        "objects": {k: len(v) for k, v in st.objects.items()},
                        "requests": dict(st.requests)})
            if what == "times":
                with st.cond:
                    return self.send_json(200, {str(k): v for k, v in st.times.items()})
        except (KeyError, ValueError, TypeError) as e:
            return self.send_json(400, {"error": str(e)})
        return self.send_json(404, {"error": "no such control " + what})

    # ---- API

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        st = self.server.store
        path = url.path.rstrip("/")
        if not self.authorized():
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        if path in ("/version", "/api", "/apis") or path in DISCOVERY:
            return self.discovery(path)
        m = path.split("/")
        if len(m) == 5 and path.startswith("/api/v1/namespaces/"):
            if m[4] in ("default", "kube-system", "kube-public"):
                return self.send_json(200, {"kind": "Namespace", "apiVersion": "v1",
                                            "metadata": {"name": m[4]}, "status": {"phase": "Active"}})
            return self.send_json(404, status(404, "NotFound", 'namespaces "%s" not found' % m[4]))
        parts = path.strip("/").split("/")
        # /api/v1/... or /apis/<group>/<version>/...
        n = 2 if parts[0] == "api" else 3
        prefix = "/" + "/".join(parts[:n])
        rest = parts[n:]
        ns = ""
        if len(rest) >= 3 and rest[0] == "namespaces":
            ns, rest = rest[1], rest[2:]
        if not rest or rest[0] not in KINDS or KINDS[rest[0]][0] != prefix or len(rest) > 2:
            return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
        plural = rest[0]
        with st.cond:
            st.requests[plural + (" watch" if q.get("watch") in ("1", "true") else " list")] = \
                st.requests.get(plural + (" watch" if q.get("watch") in ("1", "true") else " list"), 0) + 1
            if st.fail[0] > 0:
                st.fail[0] -= 1
                code = st.fail[1]
                return self.send_json(code, status(code, "InternalError", "injected failure"))
        if len(rest) == 2:
            with st.cond:
                obj = st.objects[plural].get((ns if KINDS[plural][1] else "", rest[1]))
            if obj is None:
                return self.send_json(404, status(404, "NotFound", '%s "%s" not found' % (plural, rest[1])))
            return self.send_json(200, obj)
        try:
            fields = parse_selector(q.get("fieldSelector"))
            labels = parse_selector(q.get("labelSelector"))
        except ValueError as e:
            return self.send_json(400, status(400, "BadRequest", str(e)))
        if q.get("watch") in ("1", "true"):
            return self.watch(plural, ns, fields, labels, q)
        return self.list(plural, ns, fields, labels, q)

    def discovery(self, path):
        if path == "/version":
            return self.send_json(200, {"major": "1", "minor": "20", "gitVersion": "v1.20.2-fake",
                                        "platform": "linux/amd64"})
        if path == "/api":
            return self.send_json(200, {"kind": "APIVersions", "versions": ["v1"],
                                        "serverAddressByClientCIDRs": []})
        if path == "/apis":
            groups = []
            for p in DISCOVERY:
                if p.startswith("/apis/"):
                    g, v = p.split("/")[2:4]
                    gv = {"groupVersion": g + "/" + v, "version": v}
                    groups.append({"name": g, "versions": [gv], "preferredVersion": gv})
            return self.send_json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
        gv = "v1" if path == "/api/v1" else path[len("/apis/"):]
        res = [{"name": p, "singularName": k.lower(), "namespaced": nsd, "kind": k,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
               for p, k, nsd in DISCOVERY[path]]
        return self.send_json(200, {"kind": "APIResourceList", "apiVersion": "v1",
                                    "groupVersion": gv, "resources": res})

    def list(self, plural, ns, fields, labels, q):
        st = self.server.store
        limit = int(q.get("limit") or 0)
        offset = 0
        with st.cond:
            rv = st.rv
            if q.get("continue"):
                try:
                    tok = json.loads(base64.b64decode(q["continue"]))
                    rv, offset = int(tok["rv"]), int(tok["offset"])
                except (ValueError, KeyError, TypeError):
                    return self.send_json(400, status(400, "BadRequest", "invalid continue token"))
                if rv <= st.compacted:
                    return self.send_json(410, status(410, "Expired",
                                                      "The provided continue parameter is too old"))
            items = [o for _, o in sorted(st.objects[plural].items()) if matches(o, ns, fields, labels)]
        # A continued list answers from the snapshot of its first page: a
        # fake may only approximate that (objects changed since then show
        # their new version; the watch from rv replays the change anyway).
        page = items[offset:offset + limit] if limit else items[offset:]
        md = {"resourceVersion": str(rv)}
        if limit and offset + limit < len(items):
            md["continue"] = base64.b64encode(json.dumps({"rv": rv, "offset": offset + limit}).encode()).decode()
            md["remainingItemCount"] = len(items) - offset - limit
        _, _, kind, api = KINDS[plural]
        self.send_json(200, {"kind": kind + "List", "apiVersion": api, "metadata": md, "items": page})

    def chunk(self, obj):
        data = (json.dumps(obj) + "\n").encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def watch(self, plural, ns, fields, labels, q):
        st = self.server.store
        rv_s = q.get("resourceVersion", "")
        try:
            rv = int(rv_s) if rv_s not in ("", "0") else None
        except ValueError:
            return self.send_json(400, status(400, "BadRequest", "bad resourceVersion %r" % rv_s))
        timeout = float(q.get("timeoutSeconds") or self.server.watch_timeout)
        bookmarks = q.get("allowWatchBookmarks") in ("1", "true")
        with st.cond:
            gone = rv is not None and rv < st.compacted
        if gone and self.server.gone_as_http:
            return self.send_json(410, status(410, "Gone", "too old resource version: %d (%d)" % (rv, st.compacted)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        wid = object()
        try:
            if gone:
                self.chunk({"type": "ERROR", "object": status(410, "Expired",
                                                               "too old resource version: %d (%d)" % (rv, st.compacted))})
                self.wfile.write(b"0\r\n\r\n")
                return
            with st.cond:
                gen = st.cut_gen[plural]
                if rv is None:
                    rv = st.rv
                    initial = [copy.deepcopy(o) for _, o in sorted(st.objects[plural].items())
                               if matches(o, ns, fields, labels)]
                else:
                    initial = []
                st.watchers[id(wid)] = {"kind": KINDS[plural][2], "resourceVersion": rv,
                                        "since": time.time()}
            for o in initial:
                self.chunk({"type": "ADDED", "object": o})
            end = time.time() + timeout
            next_bm = time.time() + self.server.bookmark_seconds
            while True:
                with st.cond:
                    while True:
                        now = time.time()
                        if st.cut_gen[plural] != gen:
                            raise ConnectionAbortedError("cut")
                        if rv < st.compacted:
                            # history lost under a running watch: the
                            # apiserver ends it with 410
                            batch = [("ERROR", status(410, "Expired", "too old resource version"))]
                            break
                        first = bisect.bisect_right(st.event_rvs, rv)
                        batch = [(t, copy.deepcopy(o)) for (r, p, t, o) in st.events[first:]
                                 if p == plural and matches(o, ns, fields, labels)]
                        if st.events and st.events[-1][0] > rv:
                            rv = st.events[-1][0]
                        if batch or now >= end or (bookmarks and now >= next_bm):
                            break
                        st.cond.wait(min(end, next_bm if bookmarks else end) - now)
                    st.watchers[id(wid)]["resourceVersion"] = rv
                for t, o in batch:
                    self.chunk({"type": t, "object": o})
                if batch and batch[0][0] == "ERROR":
                    break
                if bookmarks and time.time() >= next_bm:
                    _, _, kind, api = KINDS[plural]
                    self.chunk({"type": "BOOKMARK", "object": {
                        "kind": kind, "apiVersion": api,
                        "metadata": {"resourceVersion": str(rv),
                                     "annotations": {"k8s.io/initial-events-end": "true"}}}})
                    next_bm = time.time() + self.server.bookmark_seconds
                if time.time() >= end:
                    break
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except ConnectionAbortedError:
            # cut: drop the connection without the last chunk, as a broken
            # connection looks to the client
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True
        finally:
            with st.cond:
                st.watchers.pop(id(wid), None)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def bench_ip(k):
    """The k-th backend address of the benchmark objects (172.16.0.1 on)."""
    return "172.%d.%d.%d" % (16 + k // 62500, (k // 250) % 250, 1 + k % 250)


def bench_objects(n_svc, n_ep):
    """n_svc ClusterIP services of n_ep endpoints each, in namespace bench."""
    out = []
    for i in range(n_svc):
        name = "svc-%d" % i
        cip = "10.96.%d.%d" % (100 + i // 250, 1 + i % 250)
        out.append({"kind": "Service", "metadata": {"namespace": "bench", "name": name},
                    "spec": {"type": "ClusterIP", "clusterIP": cip, "clusterIPs": [cip],
                             "ports": [{"name": "http", "protocol": "TCP", "port": 80,
                                        "targetPort": 8080}]}})
        eps = [{"addresses": [bench_ip(i * n_ep + j)],
                "conditions": {"ready": True, "serving": True, "terminating": False},
                "nodeName": "k8s-w1"} for j in range(n_ep)]
        out.append({"kind": "EndpointSlice",
                    "metadata": {"namespace": "bench", "name": name + "-abcde",
                                 "labels": {"kubernetes.io/service-name": name}},
                    "addressType": "IPv4", "endpoints": eps,
                    "ports": [{"name": "http", "protocol": "TCP", "port": 8080}]})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file", help="write the port here once listening")
    ap.add_argument("--objects", help="JSON file: a list of objects to start with")
    ap.add_argument("--token", help="require Authorization: Bearer TOKEN on the API")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--bookmark-seconds", type=float, default=1.0)
    ap.add_argument("--watch-timeout", type=float, default=300.0,
                    help="watch length when the client gives no timeoutSeconds")
    ap.add_argument("--gone-as-http", action="store_true",
                    help="answer a too old watch with HTTP 410 (default: an ERROR event)")
    ap.add_argument("--bench-services", type=int, default=0)
    ap.add_argument("--bench-endpoints", type=int, default=10)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()
    store = Store()
    if a.objects:
        with open(a.objects) as f:
            for o in json.load(f):
                store.apply(o)
    for o in bench_objects(a.bench_services, a.bench_endpoints):
        store.apply(o)
    srv = Server(("127.0.0.1", a.port), Handler)
    srv.store, srv.token, srv.verbose = store, a.token, a.verbose
    srv.bookmark_seconds, srv.watch_timeout = a.bookmark_seconds, a.watch_timeout
    srv.gone_as_http = a.gone_as_http
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    if a.port_file:
        with open(a.port_file + ".tmp", "w") as f:
            f.write("%d\n" % port)
        os.replace(a.port_file + ".tmp", a.port_file)
    print("listening on %d" % port, flush=True)
    try:
        srv.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

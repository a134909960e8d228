#!/usr/bin/python3
"""The state on disk: a whole state is the base file, each object update is
one journal line, and after kill -9 a restart restores exactly what was
answered 200: journal replayed in order, an unfinished last line ignored, a
journal of another generation ignored, the journal folded into a new base.
Usage: test_persist.py <kdp>"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_security import request  # noqa: E402
from test_pcap import check, finish  # noqa: E402


def svc(name, vip, backends):
    return {"namespace": "default", "name": name, "clusterIP": vip,
            "ports": [{"name": "http", "protocol": "TCP", "port": 80}],
            "backends": [{"ip": b} for b in backends]}


class Daemon:
    def __init__(self, kdp, d):
        self.kdp, self.d = kdp, d
        self.sock = os.path.join(d, "kdp.sock")
        self.proc = None

    def start(self):
        self.log = open(os.path.join(self.d, "kdp.log"), "a")
        self.proc = subprocess.Popen([self.kdp, "--config", os.path.join(self.d, "kdp.json")],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            time.sleep(0.05)
            if self.proc.poll() is not None:
                return False
            try:
                if request(self.sock, "GET", "/v1/status")[0] == 200:
                    return True
            except OSError:
                pass
        return False

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.log.close()

    def call(self, method, path, body=None):
        code, data = request(self.sock, method, path,
                             json.dumps(body).encode() if body is not None else b"")
        return code, json.loads(data) if data else None


def lines(path):
    with open(path) as f:
        return f.read().splitlines()


def main():
    kdp = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-persist-")
    state = os.path.join(d, "state.json")
    journal = state + ".journal"
    cfg = {"name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": "192.168.10.200",
           "uplink": {"devargs": "net_null0,no-rx=1"}, "nativeRoutingCIDR": "172.20.0.0/16",
           "serviceCIDR": "10.96.0.0/16", "controlSocket": os.path.join(d, "kdp.sock"),
           "stateFile": state, "flowStateFile": "",
           "eal": ["--no-pci", "--no-huge", "-m", "512", f"--file-prefix=kdp-persist-{os.getpid()}",
                   "--no-telemetry", "--log-level=lib.*:error"]}
    with open(os.path.join(d, "kdp.json"), "w") as f:
        json.dump(cfg, f)
    k = Daemon(kdp, d)
    nodes = [{"name": "k8s-ctr", "ip": "192.168.10.100", "podCIDRs": ["172.20.1.0/24"]},
             {"name": "k8s-w1", "ip": "192.168.10.101", "podCIDRs": ["172.20.0.0/24"]}]
    try:
        check("kdp starts with no state file", k.start())
        code, _ = k.call("PUT", "/v1/state", {"nodes": nodes, "services": [
            svc("a", "10.96.0.11", ["172.20.0.10"]), svc("b", "10.96.0.12", ["172.20.0.11"])]})
        check("PUT /v1/state: 200", code == 200, str(code))
        base = json.load(open(state))
        gen = base.get("journalGeneration")
        check("the base holds the whole state and a generation",
              isinstance(gen, int) and [s["name"] for s in base["state"]["services"]] == ["a", "b"],
              json.dumps(base)[:200])
        check("the journal starts empty at that generation",
              lines(journal) == [json.dumps({"journalGeneration": gen})], str(lines(journal)))

        updates = [("PUT", "/v1/services/default/c", svc("c", "10.96.0.13", ["172.20.0.12"])),
                   ("PUT", "/v1/services/default/a", svc("a", "10.96.0.11", ["172.20.0.10", "172.20.0.20"])),
                   ("DELETE", "/v1/services/default/b", None),
                   ("PUT", "/v1/nodes/k8s-w2", {"ip": "192.168.10.102", "podCIDRs": ["172.20.2.0/24"]})]
        codes = [k.call(m, p, b)[0] for m, p, b in updates]
        check("4 object updates answered 200", codes == [200] * 4, str(codes))
        jl = lines(journal)
        ops = [json.loads(x) for x in jl[1:]]
        check("each update is one journal line, in order",
              [(o["kind"], o["id"], "body" in o) for o in ops] ==
              [("/v1/services", ["default", "c"], True), ("/v1/services", ["default", "a"], True),
               ("/v1/services", ["default", "b"], False), ("/v1/nodes", ["k8s-w2"], True)],
              "\n".join(jl))
        check("the base was not rewritten by object updates",
              json.load(open(state)) == base)
        code, want = k.call("GET", "/v1/state")

        k.kill9()
        check("restart after kill -9", k.start())
        code, got = k.call("GET", "/v1/state")
        check("the restored state is exactly the answered one (base + journal)",
              got == want, f"got {json.dumps(got)[:300]}\nwant {json.dumps(want)[:300]}")
        base2 = json.load(open(state))
        check("restart folded the journal into a new base (generation + 1)",
              base2["journalGeneration"] == gen + 1 and
              lines(journal) == [json.dumps({"journalGeneration": gen + 1})],
              f"{base2.get('journalGeneration')} {lines(journal)}")

        # A crash in the middle of an append: the half line was never answered.
        code, _ = k.call("PUT", "/v1/services/default/d", svc("d", "10.96.0.14", ["172.20.0.13"]))
        check("service d answered 200", code == 200, str(code))
        code, want = k.call("GET", "/v1/state")
        k.kill9()
        with open(journal, "a") as f:
            f.write('{"kind":"/v1/services","id":["default","e"],"body":{"clusterIP":"10.96.0')
        check("restart with an unfinished last journal line", k.start())
        code, got = k.call("GET", "/v1/state")
        names = sorted(s["name"] for s in got["services"])
        check("d is restored, the unfinished e is not", got == want and names == ["a", "c", "d"],
              str(names))

        # A journal of another generation (a crash between a new base and
        # the journal's reset) is ignored.
        code, want = k.call("GET", "/v1/state")
        k.kill9()
        g = json.load(open(state))["journalGeneration"]
        with open(journal, "w") as f:
            f.write(json.dumps({"journalGeneration": g - 1}) + "\n")
            f.write(json.dumps({"kind": "/v1/services", "id": ["default", "c"]}) + "\n")
        check("restart with a stale journal", k.start())
        code, got = k.call("GET", "/v1/state")
        check("the stale journal's delete of c is not replayed", got == want,
              str(sorted(s["name"] for s in got["services"])))

        # A bad update changes nothing, on disk either.
        before = lines(journal)
        code, _ = k.call("PUT", "/v1/services/default/x", {"clusterIP": "10.97.0.1"})
        check("a refused update (400) appends nothing", code == 400 and lines(journal) == before,
              f"{code} {lines(journal)[len(before):]}")

        # How fast object updates go with the journal (a figure, not a check).
        t0 = time.monotonic()
        n = 300
        for i in range(n):
            k.call("PUT", "/v1/services/default/a",
                   svc("a", "10.96.0.11", ["172.20.0.10", f"172.20.0.{30 + i % 200}"]))
        dt = time.monotonic() - t0
        print(f"        {n} service updates in {dt:.2f} s ({n / dt:.0f} per second, one client,"
              f" new connection each)")
        check("300 updates: one journal line each", len(lines(journal)) == len(before) + n,
              str(len(lines(journal))))
    finally:
        k.stop()
        subprocess.run(["rm", "-rf", f"/var/run/dpdk/kdp-persist-{os.getpid()}"])
    return finish(d)


if __name__ == "__main__":
    sys.exit(main())

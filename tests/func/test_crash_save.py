#!/usr/bin/python3
"""kill -9 while the state is being saved: a client PUTs updates as fast as
kdp answers them and kdp is killed with SIGKILL at a random moment, ROUNDS
times (default 12). After each kill the state on disk (the base file and its
journal, read here the way kdp reads them) must be the state of the last
acknowledged update or of the one in flight (saved before the answer), never
a mix or a broken file; the next kdp must start from it and GET /v1/state
must equal it. Then the test hook KDP_TEST_CRASH_IN_SAVE makes kdp kill
itself half-way through a save: through an object update, half a journal
line is written and the state is the one before; through PUT /v1/state,
half the temporary base file is written and the base file is left byte for
byte as it was; the next start serves the old state and removes the
half-written temporary file.
Usage: test_crash_save.py <kdp>   (as root)"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pcap import check, finish, stop_kdp  # noqa: E402
from test_security import request  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "12"))


def node_body(seq):
    """The update number seq: node "n" with an IP that encodes seq."""
    return {"ip": f"10.{(seq >> 16) & 255}.{(seq >> 8) & 255}.{seq & 255}", "podCIDRs": []}


def next_seq(seq):
    seq += 1
    while seq & 255 in (0, 255):  # no network or broadcast-looking IPs
        seq += 1
    return seq


def seq_of(state):
    """The seq of node "n" in a state document, or None."""
    for n in state.get("nodes", []):
        if n.get("name") == "n":
            a = [int(x) for x in n["ip"].split(".")]
            return (a[1] << 16) | (a[2] << 8) | a[3]
    return None


KINDS = {"/v1/nodes": "nodes", "/v1/endpoints": "endpoints", "/v1/services": "services",
         "/v1/lrp": "localRedirectPolicies"}


def disk_state(d):
    """The state kdp would restore: the base file's state, then the journal's
    complete lines of the same generation (an object each, put or deleted)."""
    base = json.load(open(os.path.join(d, "state.json")))
    gen, st = (base["journalGeneration"], base["state"]) if "state" in base else (0, base)
    try:
        complete = open(os.path.join(d, "state.json.journal")).read().split("\n")[:-1]
    except FileNotFoundError:
        return st
    if not complete or json.loads(complete[0]).get("journalGeneration") != gen:
        return st
    for line in complete[1:]:
        try:
            op = json.loads(line)
        except ValueError:
            break
        key, ident = KINDS[op["kind"]], op["id"]
        names = {"namespace": ident[0], "name": ident[1]} if len(ident) == 2 else {"name": ident[0]}
        objs = [o for o in st.get(key, []) if any(o.get(k) != v for k, v in names.items())]
        if "body" in op:
            objs.append(dict(op["body"], **names))
        st[key] = objs
    return st


def start(kdp, d, sock, env=None):
    log = open(os.path.join(d, "kdp.log"), "a")
    proc = subprocess.Popen([kdp, "--config", os.path.join(d, "kdp.json")], stdout=log,
                            stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))
    log.close()
    for _ in range(200):
        time.sleep(0.05)
        if proc.poll() is not None:
            return proc
        try:
            if request(sock, "GET", "/v1/status", timeout=2)[0] == 200:
                return proc
        except OSError:
            pass
    return proc


def main():
    kdp = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-crash-")
    sock, state_file = os.path.join(d, "kdp.sock"), os.path.join(d, "state.json")
    cfg = {"name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": "192.168.10.200",
           "uplink": {"devargs": "net_null0,no-rx=1"}, "nativeRoutingCIDR": "172.20.0.0/16",
           "controlSocket": sock, "stateFile": state_file, "flowStateFile": "",
           "eal": ["--no-pci", "--no-huge", "-m", "512", f"--file-prefix=kdp-crash-{os.getpid()}",
                   "--no-shconf", "--no-telemetry", "--log-level=lib.*:error"]}
    json.dump(cfg, open(os.path.join(d, "kdp.json"), "w"))
    rng = random.Random(int(os.environ.get("SEED", "8")))
    seq, updates, in_flight_hits, bad = next_seq(0), 0, 0, []
    proc = None
    for rnd in range(ROUNDS):
        proc = start(kdp, d, sock)
        if proc.poll() is not None:
            bad.append(f"round {rnd}: kdp exited with {proc.returncode} at start")
            break
        if rnd > 0:
            now = json.loads(request(sock, "GET", "/v1/state")[1])
            want = disk_state(d)
            if now != want:
                bad.append(f"round {rnd}: GET /v1/state after restart differs from the file")
        acked = {"seq": seq_of(json.loads(request(sock, "GET", "/v1/state")[1]))}
        sending = {"seq": None}
        stop = threading.Event()

        def client():
            s = seq
            while not stop.is_set():
                sending["seq"] = s
                try:
                    code, _ = request(sock, "PUT", "/v1/nodes/n", json.dumps(node_body(s)).encode(),
                                      timeout=2)
                except OSError:
                    return
                if code != 200:
                    return
                acked["seq"] = s
                s = next_seq(s)

        t = threading.Thread(target=client)
        t.start()
        time.sleep(rng.uniform(0.05, 0.4))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stop.set()
        t.join()
        try:
            got = seq_of(disk_state(d))
        except (OSError, ValueError) as e:
            bad.append(f"round {rnd}: state file unreadable after SIGKILL: {e}")
            break
        if got == sending["seq"] and got != acked["seq"]:
            in_flight_hits += 1
        elif got != acked["seq"]:
            bad.append(f"round {rnd}: file has update {got}, acknowledged {acked['seq']}, "
                       f"in flight {sending['seq']}")
        updates += 0 if acked["seq"] is None else acked["seq"] - seq
        seq = next_seq(max(x for x in (got, acked["seq"], sending["seq"], seq) if x is not None))
    check(f"{ROUNDS} SIGKILLs during a stream of PUTs (about {updates} acknowledged): the state file "
          "always parses and is the last acknowledged update or the one in flight; kdp restarts from it",
          not bad and proc is not None, "; ".join(bad))
    print(f"    the in-flight update was already in the file {in_flight_hits} time(s)")

    # The hook through an object update: half a journal line, then death.
    before = disk_state(d)
    proc = start(kdp, d, sock, {"KDP_TEST_CRASH_IN_SAVE": "1"})
    code, _ = request(sock, "PUT", "/v1/nodes/n", json.dumps(node_body(seq)).encode(), timeout=5)
    rc = proc.wait(timeout=15)
    tail = open(os.path.join(d, "state.json.journal")).read().split("\n")[-1]
    check("KDP_TEST_CRASH_IN_SAVE, object update: kdp is killed half-way through the journal "
          "line, the PUT gets no answer, the state on disk is the one before",
          code == 0 and rc == -signal.SIGKILL and tail.startswith('{"kind":"/v1/nodes"')
          and disk_state(d) == before, f"answer {code}, exit {rc}, unfinished line {tail!r}")
    proc = start(kdp, d, sock)
    now = json.loads(request(sock, "GET", "/v1/state")[1]) if proc.poll() is None else {}
    check("the next start serves the state before the unfinished line", now == before)
    if proc.poll() is None:
        stop_kdp(proc)

    # The hook through a whole state: half the temporary base file.
    before = open(state_file, "rb").read()
    whole = dict(disk_state(d))
    proc = start(kdp, d, sock, {"KDP_TEST_CRASH_IN_SAVE": "1"})
    code, _ = request(sock, "PUT", "/v1/state", json.dumps(whole).encode(), timeout=5)
    rc = proc.wait(timeout=15)
    temps = [os.path.join(d, f) for f in os.listdir(d) if f.startswith("state.json.tmp.")]
    half = [f for f in temps if 0 < os.path.getsize(f) < len(before) + 64]
    check("KDP_TEST_CRASH_IN_SAVE, whole state: kdp is killed half-way through writing the "
          "temporary file, the PUT gets no answer, the base file is unchanged byte for byte",
          code == 0 and rc == -signal.SIGKILL and len(half) == 1
          and open(state_file, "rb").read() == before,
          f"answer {code}, exit {rc}, temporary files {temps}")
    proc = start(kdp, d, sock)
    final = request(sock, "GET", "/v1/state")[1] if proc.poll() is None else b"{}"
    left = [f for f in os.listdir(d) if f.startswith("state.json.tmp")]
    check("the next start serves the old state and removes the temporary files of killed kdps",
          proc.poll() is None and json.loads(final) == whole and left == [],
          f"left: {left}")
    if proc.poll() is None:
        rc = stop_kdp(proc)
        check("kdp exits 0 on SIGTERM afterwards", rc == 0, f"rc={rc}")
    # The killed instances could not remove their EAL runtime directory.
    shutil.rmtree(f"/var/run/dpdk/kdp-crash-{os.getpid()}", ignore_errors=True)
    return finish(d)


if __name__ == "__main__":
    sys.exit(main())

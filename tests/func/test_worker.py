#!/usr/bin/python3
"""Functional test: what GET /v1/stats and /metrics say about the threads
themselves. A busy-polling worker counts the passes of its loop that ended
more than 100 us after the last one (stalls: its CPU taken away); the
control thread ticks every 10 ms when idle (not every millisecond).

kdp runs with one busy-polling worker on a net_null uplink (no traffic).
The process is stopped (SIGSTOP) for 300 ms: the worker must count that as
one stall of at least 250 ms.
Usage: test_worker.py <path to kdp>
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from test_pcap import check, finish, http_get, stop_kdp  # noqa: E402

def stats(sock):
    return json.loads(http_get(sock, "/v1/stats"))


def metric(text, name):
    """The value of the sample of @name (one worker: one sample)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return None


def main():
    kdp = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-func-worker-")
    sock = os.path.join(d, "kdp.sock")
    cfg = {
        "name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": "192.168.10.200",
        "uplink": {"devargs": "net_null0,no-rx=1", "mac": "02:00:00:00:00:64"},
        "nativeRoutingCIDR": "172.20.0.0/16",
        "allowedDrivers": ["net_null"], "workers": 1, "pollMode": "busy",
        "controlSocket": sock, "stateFile": os.path.join(d, "state.json"),
        "flowStateFile": os.path.join(d, "flows"),
        "eal": ["--no-pci", "--no-huge", "-m", "512", "-l", "0,1",
                f"--file-prefix=kdp-func-worker-{os.getpid()}", "--log-level=lib.*:error"],
    }
    with open(os.path.join(d, "kdp.json"), "w") as f:
        json.dump(cfg, f)
    log = open(os.path.join(d, "kdp.log"), "w")
    proc = subprocess.Popen([kdp, "--config", os.path.join(d, "kdp.json")], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        s0 = None
        for _ in range(100):
            time.sleep(0.1)
            if proc.poll() is not None:
                break
            try:
                s0 = stats(sock)
                break
            except (OSError, ValueError):
                continue
        check("kdp started", s0 is not None, f"exit {proc.poll()}")
        if s0 is None:
            print(open(os.path.join(d, "kdp.log")).read()[-2000:])
            return finish(d)
        w0, c0, t0 = s0["workers"][0], s0["control"], time.monotonic()
        check("/v1/stats: each worker has stalls, stallCycles, stallMaxCycles; control has ticks, wakeups",
              all(isinstance(w0.get(x), int) for x in ("stalls", "stallCycles", "stallMaxCycles"))
              and all(isinstance(c0.get(x), int) for x in ("ticks", "wakeups")), json.dumps(w0))
        proc.send_signal(signal.SIGSTOP)
        time.sleep(0.3)
        proc.send_signal(signal.SIGCONT)
        time.sleep(0.7)
        s1 = stats(sock)
        w1, c1, t1 = s1["workers"][0], s1["control"], time.monotonic()
        hz = w1["tscHz"]
        stalled = (w1["stallCycles"] - w0["stallCycles"]) / hz
        check("stopped 300 ms: the worker counts it as a stall (+1 or more, the longest >= 250 ms, "
              "stallCycles +250 ms or more)",
              w1["stalls"] >= w0["stalls"] + 1 and w1["stallMaxCycles"] / hz >= 0.25 and stalled >= 0.25,
              f"stalls {w0['stalls']} -> {w1['stalls']}, longest {w1['stallMaxCycles'] / hz * 1e3:.1f} ms, "
              f"stallCycles +{stalled * 1e3:.1f} ms")
        check("a stall's cycles add up: stallMaxCycles <= stallCycles, and stallCycles >= stalls x 100 us",
              w1["stallMaxCycles"] <= w1["stallCycles"]
              and w1["stallCycles"] >= w1["stalls"] * hz // 10000, json.dumps(w1))
        rate = (c1["ticks"] - c0["ticks"]) / (t1 - t0)
        check("idle control thread: at most 200 slow-path ticks a second (every 10 ms, not every 1 ms)",
              0 < rate <= 200, f"{rate:.0f} ticks/s ({c0['ticks']} -> {c1['ticks']})")
        text = http_get(sock, "/metrics")
        m_stalls = metric(text, "kdp_worker_stalls_total")
        m_secs = metric(text, "kdp_worker_stall_seconds_total")
        check("/metrics: kdp_worker_stalls_total and kdp_worker_stall_seconds_total agree with /v1/stats",
              m_stalls is not None and m_stalls >= w1["stalls"] and m_secs is not None
              and m_secs >= w1["stallCycles"] / hz - 1e-6, f"{m_stalls} {m_secs}")
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
        rc = stop_kdp(proc)
        log.close()
        shutil.rmtree(f"/var/run/dpdk/kdp-func-worker-{os.getpid()}", ignore_errors=True)
    check("kdp exits 0 on SIGTERM", rc == 0, f"rc={rc}")
    return finish(d)


if __name__ == "__main__":
    sys.exit(main())

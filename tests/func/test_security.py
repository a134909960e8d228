#!/usr/bin/python3
"""The control socket: mode 0660 and its group, no TCP listener, clients
without permission refused, oversized bodies refused with 413, a slow client
cannot block the others, bad requests change nothing.
Usage: test_security.py <kdp>   (as root)"""
import json
import os
import pwd
import socket
import stat
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_pcap import check, finish, stop_kdp  # noqa: E402


def request(sock, method, path, body=b"", timeout=5, send_body=True):
    """One request; with send_body False only the headers go (the daemon
    may answer from them, as for 413)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: kdp\r\nConnection: close\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode() + (body if send_body else b""))
    data = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            data += c
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return status, data.partition(b"\r\n\r\n")[2]


KDPCTL = os.path.join(os.path.dirname(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")),
                      "..", "tools", "kdpctl", "kdpctl")


def raw(sock, data, timeout=5):
    """Sends @data as is; returns [(status, body)] of every answer read
    until the daemon closes (or goes quiet)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(sock)
    s.sendall(data)
    buf = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            buf += c
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    out = []
    while buf.startswith(b"HTTP/"):
        head, _, rest = buf.partition(b"\r\n\r\n")
        n = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
        out.append((int(head.split(b" ", 2)[1]), rest[:n]))
        buf = rest[n:]
    return out


def main():
    kdp = os.path.abspath(sys.argv[1])
    d = tempfile.mkdtemp(prefix="kdp-sec-")
    os.chmod(d, 0o755)
    sock = os.path.join(d, "kdp.sock")
    cfg = {"name": "k8s-ctr", "nodeIP": "192.168.10.100/24", "gateway": "192.168.10.200",
           "uplink": {"devargs": "net_null0,no-rx=1"}, "nativeRoutingCIDR": "172.20.0.0/16",
           "nodeIPv6": "fd00:10::100/64", "gatewayIPv6": "fe80::c8", "nativeRoutingCIDRv6": "fd00:20::/48",
           "serviceCIDRv6": "fd00:20:0:ffff::/112",
           "controlSocket": sock, "controlSocketGroup": "daemon", "stateFile": os.path.join(d, "state.json"),
           "flowStateFile": "",
           "maxBodyBytes": 4096, "memifSocketDir": os.path.join(d, "memif"),
           "eal": ["--no-pci", "--no-huge", "-m", "1024", f"--file-prefix=kdp-sec-{os.getpid()}",
                   "--no-telemetry", "--log-level=lib.*:error"]}
    json.dump(cfg, open(os.path.join(d, "kdp.json"), "w"))
    log = open(os.path.join(d, "kdp.log"), "w")
    proc = subprocess.Popen([kdp, "--config", os.path.join(d, "kdp.json")], stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            time.sleep(0.1)
            if os.path.exists(sock):
                try:
                    if request(sock, "GET", "/v1/status")[0] == 200:
                        break
                except OSError:
                    pass
        # A client that sends half a request and stops: kdp's HTTP timeout
        # (10 s) closes it; checked at the end.
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        idle.connect(sock)
        idle.sendall(b"GET /v1/status HTTP/1.1\r\nHost: kd")
        t_idle = time.time()
        st = os.stat(sock)
        check("control socket mode is 0660", stat.S_IMODE(st.st_mode) == 0o660, oct(st.st_mode))
        check("control socket group is controlSocketGroup (daemon)", st.st_gid == 1, str(st.st_gid))
        tcp = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        check("no TCP listener", f"pid={proc.pid}," not in tcp, tcp)

        # A user outside the group is refused by the kernel.
        nobody = pwd.getpwnam("nobody")
        r = subprocess.run([sys.executable, "-c", f"import socket; s=socket.socket(socket.AF_UNIX); s.connect({sock!r})"],
                           preexec_fn=lambda: (os.setgid(nobody.pw_gid), os.setuid(nobody.pw_uid)),
                           capture_output=True, text=True)
        check("a client without permission is refused", r.returncode != 0 and "PermissionError" in r.stderr,
              r.stderr[-200:])

        before = request(sock, "GET", "/v1/state")[1]
        code, body = request(sock, "PUT", "/v1/state", b"{" + b" " * 8000 + b"}", send_body=False)
        over = "body: larger than maxBodyBytes (4096 bytes)"
        check("a body over maxBodyBytes gets 413 with a JSON error naming maxBodyBytes "
              "(not libevent's HTML page), before the body is sent",
              code == 413 and json.loads(body or b"{}").get("error") == over, f"{code} {body[:120]!r}")
        chunk = b"1000\r\n" + b" " * 4096 + b"\r\n"
        for name, req, want_code, want in [
                ("the same, the body sent whole", b"PUT /v1/state HTTP/1.1\r\nHost: kdp\r\n"
                 b"Content-Length: 6000\r\n\r\n" + b" " * 6000, 413, over),
                ("a chunked body over maxBodyBytes", b"PUT /v1/state HTTP/1.1\r\nHost: kdp\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 2 + b"0\r\n\r\n", 413, over),
                ("a malformed request line", b"hello there\r\n\r\n", 400,
                 "malformed request (request line, headers or chunked body)"),
                ("a malformed header", b"GET /v1/status HTTP/1.1\r\n no colon here\r\n\r\n", 400,
                 "malformed request (request line, headers or chunked body)"),
                ("OPTIONS", b"OPTIONS /v1/status HTTP/1.1\r\nHost: kdp\r\nConnection: close\r\n\r\n", 405,
                 "only GET on /v1/status")]:
            answers = raw(sock, req)
            got = answers[0] if answers else (0, b"")
            check(f"{name} gets a JSON {want_code}: {want}",
                  got[0] == want_code and json.loads(got[1] or b"{}").get("error") == want, repr(got))
        big = os.path.join(d, "big.json")
        with open(big, "w") as f:
            json.dump({"nodes": [], "endpoints": [], "services": [], "pad": "x" * 6000}, f)
        kc = subprocess.run([KDPCTL, "-s", sock, "apply", "-f", big], capture_output=True, text=True)
        check("kdpctl prints the 413 as an error and exits 1",
              kc.returncode == 1 and kc.stderr.strip()
              == f"Error: {over} (HTTP 413)",
              f"exit {kc.returncode}: {kc.stderr.strip()!r}")
        code, body = request(sock, "PUT", "/v1/nodes/k8s-w1", b'{"ip": "192.168.10.101", "podCIDRs": ["172.20.0.0/24"],')
        check("invalid JSON gets 400 naming the body", code == 400 and b"body: invalid JSON" in body, body[:120])
        code, body = request(sock, "PUT", "/v1/endpoints/default/x",
                             b'{"ip":"172.20.1.5","mac":"02:00:00:00:00:01","devargs":"0000:00:03.0"}')
        check("devargs outside the allow-list (a PCI address) refused", code == 400 and b"allowedDrivers" in body,
              body[:160])
        code, body = request(sock, "PUT", "/v1/endpoints/default/x",
                             b'{"ip":"172.20.1.5","mac":"02:00:00:00:00:01","devargs":"net_pcap,rx_pcap=/etc/shadow"}')
        check("net_pcap (reads and writes any file) is not allowed unless the node config says so",
              code == 400 and b"allowedDrivers" in body
              and request(sock, "GET", "/v1/endpoints")[1].strip() == b"[]", body[:160])
        code, body = request(sock, "PUT", "/v1/endpoints/default/x",
                             b'{"ip":"172.20.1.5","mac":"02:00:00:00:00:01","devargs":"net_kdp_afp,iface=no-such-if"}')
        check("an interface that does not exist is refused as 'No such device', nothing created",
              code == 400 and b"DPDK could not open" in body and b"No such device" in body
              and request(sock, "GET", "/v1/endpoints")[1].strip() == b"[]", body[:200])
        # Devargs keys and values are checked per driver: nothing the API
        # accepts makes DPDK create a file outside memifSocketDir.
        memif_dir = os.path.join(d, "memif")
        os.mkdir(memif_dir)
        outside = os.path.join(d, "outside.sock")
        not_under = (f"is not a file under memifSocketDir {memif_dir} "
                     "(names of a-z, A-Z, 0-9, '.', '_', '-'; no '.' or '..')")
        for devargs, want in [
                (f"net_memif0,socket={outside},socket-abstract=no,role=server",
                 f"devargs: socket: '{outside}' {not_under}"),
                (f"net_memif0,socket={memif_dir}/../outside.sock,socket-abstract=no,role=server",
                 f"devargs: socket: '{memif_dir}/../outside.sock' {not_under}"),
                (f"net_memif0,socket={memif_dir}/a.sock,role=server",
                 "devargs: socket-abstract: net_memif needs socket-abstract=no (DPDK's default is an "
                 "abstract socket; memifAbstractSockets is false)"),
                (f"net_memif0,socket={memif_dir}/a.sock,socket-abstract=yes,role=server",
                 "devargs: socket-abstract: abstract sockets are not allowed (memifAbstractSockets is false)"),
                ("net_memif0,role=server", "devargs: socket: net_memif needs socket=<file under memifSocketDir "
                 f"{memif_dir}>"),
                ("net_kdp_afp,iface=../../x",
                 "devargs: iface: '../../x' is not an interface name (1-15 of a-z, A-Z, 0-9, '.', '_', '-')"),
                ("net_tap,iface=t0,remote=eth0", "devargs: 'remote' is not a key kdp allows for net_tap"),
                ("net_tapx,iface=t0", "devargs: device name 'net_tapx' must be an allowed driver name, "
                 "optionally followed by digits (like net_tap0)")]:
            body = json.dumps({"ip": "172.20.1.5", "mac": "02:00:00:00:00:01", "devargs": devargs}).encode()
            code, ans = request(sock, "PUT", "/v1/endpoints/default/x", body)
            got = json.loads(ans or b"{}").get("error")
            check(f"devargs {devargs} -> 400 {want}",
                  code == 400 and got == f"endpoints[default/x]: {want}"
                  and request(sock, "GET", "/v1/endpoints")[1].strip() == b"[]"
                  and not os.path.exists(outside) and os.listdir(memif_dir) == [], f"{code} {got}")
        good = f"{memif_dir}/web.sock"
        code, ans = request(sock, "PUT", "/v1/endpoints/default/x", json.dumps(
            {"ip": "172.20.1.5", "mac": "02:00:00:00:00:01",
             "devargs": f"net_memif0,socket={good},socket-abstract=no,role=server"}).encode())
        check("a memif server socket under memifSocketDir is accepted and created there",
              code == 200 and stat.S_ISSOCK(os.stat(good).st_mode), f"{code} {ans[:160]!r}")
        code, ans = request(sock, "DELETE", "/v1/endpoints/default/x")
        check("... and DELETE removes the endpoint", code == 200 and
              request(sock, "GET", "/v1/endpoints")[1].strip() == b"[]", f"{code} {ans[:160]!r}")

        code, body = request(sock, "POST", "/v1/nodes")
        check("other methods get a JSON 405", code == 405 and b"error" in body, f"{code} {body[:80]!r}")
        check("nothing changed after the bad requests", request(sock, "GET", "/v1/state")[1] == before)

        # Endpoints that cannot be this node's pods.
        code, ans = request(sock, "PUT", "/v1/nodes/k8s-w1", b'{"ip": "192.168.10.101", "ips": '
                            b'["192.168.10.101", "fd00:10::101"], "podCIDRs": ["172.20.0.0/24", "fd00:20::/64"]}')
        check("a dual-stack node k8s-w1 is taken", code == 200, f"{code} {ans[:200]!r}")
        state0 = request(sock, "GET", "/v1/state")[1]
        for ip, ip6, want in [
                ("172.20.0.9", None, "ip: 172.20.0.9 is inside podCIDR 172.20.0.0/24 of node k8s-w1, not this node's"),
                ("10.1.2.3", None, "ip: 10.1.2.3 is outside the native routing CIDR 172.20.0.0/16 (the pods' addresses)"),
                # The same checks of the IPv6 address (issue #17), the IPv4 one fine.
                ("172.20.1.9", "fd00:20::9", "ips: fd00:20::9 is inside podCIDR fd00:20::/64 of node k8s-w1, not this node's"),
                ("172.20.1.9", "fd00:30::9", "ips: fd00:30::9 is outside the native routing CIDR fd00:20::/48 (the pods' addresses)"),
                ("172.20.1.9", "fd00:20:0:ffff::9", "ips: fd00:20:0:ffff::9 is inside the service CIDR fd00:20:0:ffff::/112")]:
            body = {"ip": ip, "mac": "02:00:00:00:00:01", "devargs": "net_null,no-rx=1"}
            if ip6:
                body["ips"] = [ip, ip6]
            c, ans = request(sock, "PUT", "/v1/endpoints/default/x", json.dumps(body).encode())
            got = json.loads(ans or b"{}").get("error")
            check(f"an endpoint at {ip6 or ip} -> 400 {want}",
                  code == 200 and c == 400 and got == f"endpoints[default/x]: {want}"
                  and request(sock, "GET", "/v1/endpoints")[1].strip() == b"[]"
                  and request(sock, "GET", "/v1/state")[1] == state0, f"{c} {got}")
        c, ans = request(sock, "PATCH", "/v1/objects", json.dumps({"objects": [
            {"kind": "/v1/endpoints", "id": ["default", "y"], "body": {
                "ip": "172.20.1.8", "ips": ["172.20.1.8", "fd00:20:0:1::8"], "mac": "02:00:00:00:00:02",
                "devargs": "net_null,no-rx=1,size=80"}},
            {"kind": "/v1/endpoints", "id": ["default", "x"], "body": {
                "ip": "172.20.1.9", "ips": ["172.20.1.9", "fd00:20::9"], "mac": "02:00:00:00:00:01",
                "devargs": "net_null,no-rx=1"}}]}).encode())
        got = json.loads(ans or b"{}").get("error", "")
        check("a batch with an endpoint in another node's IPv6 podCIDR -> 400 naming it, nothing applied",
              c == 400 and got.endswith("endpoints[default/x]: ips: fd00:20::9 is inside podCIDR fd00:20::/64 "
                                        "of node k8s-w1, not this node's")
              and request(sock, "GET", "/v1/state")[1] == state0, f"{c} {got}")
        c, ans = request(sock, "PUT", "/v1/endpoints/default/x", json.dumps(
            {"ip": "172.20.1.9", "ips": ["172.20.1.9", "fd00:20:0:1::9"], "mac": "02:00:00:00:00:01",
             "devargs": "net_null,no-rx=1"}).encode())
        check("an endpoint in this node's IPv6 podCIDR is taken",
              c == 200 and request(sock, "DELETE", "/v1/endpoints/default/x")[0] == 200, f"{c} {ans[:160]!r}")
        request(sock, "DELETE", "/v1/nodes/k8s-w1")

        # An endpoint's port leaves the workers' polls before it is closed.
        ok, first = True, None
        for rnd in range(3):
            for i in range(6):
                c, ans = request(sock, "PUT", f"/v1/endpoints/default/p{i}", json.dumps(
                    {"ip": f"172.20.1.{10 + i}", "mac": f"02:00:00:00:01:{i:02x}",
                     "devargs": f"net_null,no-rx=1,size={64 + i}"}).encode())
                ok = ok and c == 200
                first = first or (None if c == 200 else ans[:160])
            for i in range(6):
                c, ans = request(sock, "DELETE", f"/v1/endpoints/default/p{i}")
                ok = ok and c == 200
        time.sleep(0.5)
        log.flush()
        text = open(os.path.join(d, "kdp.log")).read()
        check("18 endpoints opened and deleted: no worker polls a closed port "
              "('rx_pkt_burst for not ready port' never logged)",
              ok and "not ready port" not in text and request(sock, "GET", "/v1/endpoints")[1].strip() == b"[]",
              f"ok={ok} {first!r} {[ln for ln in text.splitlines() if 'not ready' in ln][:2]}")

        # A slow client that never finishes its request does not block others.
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        slow.connect(sock)
        slow.sendall(b"PUT /v1/state HTTP/1.1\r\nHost: kdp\r\nContent-Length: 100\r\n\r\n{")
        t0 = time.time()
        code, _ = request(sock, "GET", "/v1/status", timeout=3)
        check("a stuck client does not block another one", code == 200 and time.time() - t0 < 1,
              f"{code} in {time.time() - t0:.2f}s")
        slow.close()

        time.sleep(max(0.0, t_idle + 12 - time.time()))
        idle.settimeout(0.5)
        try:
            left = idle.recv(4096)
        except socket.timeout:
            left = None
        except ConnectionResetError:
            left = b""
        idle.close()
        check("a client stuck half-way through its request is disconnected within 12 s (HTTP timeout 10 s)",
              left is not None and (left == b"" or left.startswith(b"HTTP/1.1 408")), repr(left))
    finally:
        rc = stop_kdp(proc)
        log.close()
    check("kdp exits 0 and removes its socket", rc == 0 and not os.path.exists(sock), f"rc={rc}")
    return finish(d)


if __name__ == "__main__":
    sys.exit(main())

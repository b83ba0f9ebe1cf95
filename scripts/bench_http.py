#!/usr/bin/env python3
"""HTTP benchmark driver for scripts/bench-http.sh (issue 12).

Starts a fake hub (JWKS of the test RSA key in tests/it/support/keys, empty revocation
list) on a thread, signs a hub token with `openssl`, mints a local token with the binary,
starts the daemon with three http-ui channels and measures with `wrk`:
  /health, local-token GET /api/channels, hub-token GET /api/channels
at each connection count (req/s, p50, p99), several short rounds; then start -> first
/health 200 over N starts, and RSS idle / after load. Prints the goal-column ratios.
Only the standard library, `wrk` and `openssl` are needed.
"""

import argparse
import base64
import http.server
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KEYS = os.path.join(ROOT, "tests", "it", "support", "keys")
KID = "test-kid-1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_hub():
    with open(os.path.join(KEYS, "hub.jwk.json")) as f:
        jwk = json.load(f)
    jwks = json.dumps({"keys": [{"kty": "RSA", "n": jwk["n"], "e": jwk["e"], "kid": KID,
                                 "alg": "RS256", "use": "sig"}]}).encode()
    revocation = json.dumps({"generated_at": "2026-01-01T00:00:00.000Z", "jtis": []}).encode()

    class Hub(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = {"/.well-known/jwks.json": jwks,
                    "/.well-known/parachute-revocation.json": revocation}.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *_):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def hub_token(origin: str) -> str:
    now = int(time.time())
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": KID}).encode())
    claims = b64url(json.dumps({
        "iss": origin, "sub": "bench-user", "aud": "agent", "iat": now, "exp": now + 3600,
        "jti": b64url(os.urandom(16)), "scope": "agent:read agent:send agent:admin",
        "client_id": "bench"}).encode())
    signing_input = f"{header}.{claims}".encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", os.path.join(KEYS, "hub.pem")],
                         input=signing_input, capture_output=True, check=True).stdout
    return f"{header}.{claims}.{b64url(sig)}"


def get_status(port: int, path: str = "/health", timeout: float = 1.0) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = s.recv(64)
    return int(head.split(b" ", 2)[1])


def spawn(binary: str, env: dict, port: int, state: str):
    return subprocess.Popen([binary, "serve", "--port", str(port), "--state-dir", state],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_health(port: int, deadline_s: float = 10.0):
    """Seconds until the first 200 from /health (polling every 0.2 ms), or None."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < deadline_s:
        try:
            if get_status(port) == 200:
                return time.perf_counter() - t0
        except (ConnectionError, OSError, IndexError, ValueError):
            pass
        time.sleep(0.0002)
    return None


def rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def wrk(port: int, path: str, conns: int, duration: int, token=None) -> dict:
    cmd = ["wrk", "-t2", f"-c{conns}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if token:
        cmd += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(cmd + [f"http://127.0.0.1:{port}{path}"], capture_output=True,
                         text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    lat = {}
    for pct, val, unit in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M):
        lat[pct] = float(val) * UNITS[unit]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors:.*", out)
    return {"rps": rps, "p50": lat.get("50"), "p99": lat.get("99"),
            "non2xx": int(non2xx.group(1)) if non2xx else 0,
            "errors": errors.group(0) if errors else ""}


def fmt_range(values, spec="{:.0f}"):
    lo, hi = min(values), max(values)
    return spec.format(lo) if lo == hi else f"{spec.format(lo)}-{spec.format(hi)}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--conns", default="32,256")
    ap.add_argument("--starts", type=int, default=20)
    args = ap.parse_args()
    conns = [int(c) for c in args.conns.split(",")]

    hub, origin = start_hub()
    tmp = tempfile.mkdtemp(prefix="bench-http-")
    state, home = os.path.join(tmp, "state"), os.path.join(tmp, "home", ".parachute")
    os.makedirs(state, mode=0o700)
    os.makedirs(home)
    with open(os.path.join(state, "channels.json"), "w") as f:
        json.dump({"channels": [{"name": n, "transport": "http-ui"} for n in ("web", "ops", "eng")]}, f)
    os.chmod(os.path.join(state, "channels.json"), 0o600)
    env = dict(os.environ, HOME=os.path.dirname(home), PARACHUTE_HOME=home,
               PARACHUTE_HUB_ORIGIN=origin, RUST_LOG="error")
    local = subprocess.run([args.bin, "token", "mint", "--scope", "agent:admin", "--state-dir", state],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    hub_tok = hub_token(origin)

    # Start -> first /health 200, over N starts (each a fresh process on the same state).
    starts = []
    for _ in range(args.starts):
        port = free_port()
        t0 = time.perf_counter()
        p = spawn(args.bin, env, port, state)
        took = wait_health(port)
        if took is not None:
            starts.append((time.perf_counter() - t0) * 1000)
        p.terminate()
        p.wait()

    port = free_port()
    daemon = spawn(args.bin, env, port, state)
    if wait_health(port) is None:
        sys.exit("daemon did not answer /health")
    for tok in (local, hub_tok):
        st = get_status_auth(port, tok)
        if st != 200:
            sys.exit(f"token check failed: GET /api/channels -> {st}")
    time.sleep(1)
    rss_idle = rss_kb(daemon.pid)

    cases = [("/health", "/health", None), ("local", "/api/channels", local),
             ("hub", "/api/channels", hub_tok)]
    results = {(name, c): [] for name, _, _ in cases for c in conns}
    for rnd in range(args.rounds):
        for c in conns:
            for name, path, tok in cases:
                r = wrk(port, path, c, args.duration, tok)
                if r["non2xx"] or r["errors"]:
                    print(f"  warning: {name} c={c}: {r['non2xx']} non-2xx {r['errors']}", file=sys.stderr)
                results[(name, c)].append(r)
                print(f"  round {rnd + 1} c={c:<4} {name:<8} {r['rps']:>9.0f} req/s  "
                      f"p50 {r['p50']:.2f} ms  p99 {r['p99']:.2f} ms", file=sys.stderr)
    rss_load = rss_kb(daemon.pid)
    daemon.terminate()
    daemon.wait()
    hub.shutdown()

    print(f"\nbinary: {args.bin}   wrk -t2 -d{args.duration}s, {args.rounds} round(s); ranges are min-max over rounds")
    print(f"{'case':<28}{'conns':>6}{'req/s':>16}{'p50 ms':>14}{'p99 ms':>14}{'x /health':>14}")
    for c in conns:
        health = results[("/health", c)]
        for name, _, _ in cases:
            rs = results[(name, c)]
            ratios = [r["rps"] / h["rps"] for r, h in zip(rs, health)]
            label = {"/health": "/health", "local": "local-token /api/channels",
                     "hub": "hub-token /api/channels"}[name]
            print(f"{label:<28}{c:>6}{fmt_range([r['rps'] for r in rs]):>16}"
                  f"{fmt_range([r['p50'] for r in rs], '{:.2f}'):>14}"
                  f"{fmt_range([r['p99'] for r in rs], '{:.2f}'):>14}"
                  f"{fmt_range(ratios, '{:.2f}'):>14}")
    if starts:
        print(f"start -> first /health 200 ({len(starts)} starts): min {min(starts):.1f} ms, "
              f"median {statistics.median(starts):.1f} ms, max {max(starts):.1f} ms")
    print(f"RSS idle {rss_idle / 1024:.1f} MB, after load {rss_load / 1024:.1f} MB")
    c0 = conns[0]
    health = results[("/health", c0)]
    ratio = lambda name: fmt_range([r["rps"] / h["rps"] for r, h in zip(results[(name, c0)], health)], "{:.2f}")
    print(f"\ngoals (c={c0}): hub-token/health {ratio('hub')}x (goal >= 0.75), "
          f"local-token/health {ratio('local')}x (goal >= 0.75), "
          f"local p99 {fmt_range([r['p99'] for r in results[('local', c0)]], '{:.2f}')} ms (goal <= 3), "
          f"start median {statistics.median(starts) if starts else float('nan'):.1f} ms (goal <= 10), "
          f"idle RSS {rss_idle / 1024:.1f} MB (goal <= 6)")


def get_status_auth(port: int, token: str) -> int:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET /api/channels HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n"
                  f"Connection: close\r\n\r\n".encode())
        head = s.recv(64)
    return int(head.split(b" ", 2)[1])


if __name__ == "__main__":
    main()

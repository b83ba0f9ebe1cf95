#!/usr/bin/env python3
"""Driver of scripts/bench-journal.sh (issue 13): see that script for what is measured."""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Daemon:
    def __init__(self, bin_path, tmp):
        self.bin, self.tmp = bin_path, tmp
        self.state = os.path.join(tmp, "state")
        self.port = free_port()
        self.log_path = os.path.join(tmp, "daemon.log")
        self.proc = None
        os.makedirs(os.path.join(tmp, "home/.parachute"), exist_ok=True)
        os.makedirs(self.state, exist_ok=True)
        with open(os.path.join(self.state, "channels.json"), "w") as f:
            json.dump({"channels": [{"name": "j", "transport": "http-ui"},
                                    {"name": "plain", "transport": "http-ui"}]}, f)
        with open(os.path.join(self.state, "credentials.json"), "w") as f:
            json.dump({"claude": {"default": "sk-ant-oat01-bench"}, "env": {}}, f)
        os.chmod(os.path.join(self.state, "credentials.json"), 0o600)
        self.env = {
            "PATH": os.path.join(ROOT, "tests/fakes") + ":" + os.environ.get("PATH", ""),
            "HOME": os.path.join(tmp, "home"),
            "PARACHUTE_HOME": os.path.join(tmp, "home/.parachute"),
            "PARACHUTE_HUB_ORIGIN": "http://127.0.0.1:9",
            "PARACHUTE_AGENT_STATE_DIR": self.state,
            "PARACHUTE_AGENT_STOP_GRACE_SECS": "1",
            "PORT": str(self.port),
            "RUST_LOG": "info",
        }

    def start(self):
        t0 = time.monotonic()
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen([self.bin, "serve"], env=self.env, stdout=log,
                                     stderr=log, stdin=subprocess.DEVNULL)
        while True:
            try:
                c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return time.monotonic() - t0
            except OSError:
                pass
            if self.proc.poll() is not None:
                sys.exit("daemon exited:\n" + open(self.log_path).read())
            time.sleep(0.005)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def mint(self, scopes):
        out = subprocess.run([self.bin, "token", "mint", "--scope", scopes, "--ttl", "1h",
                              "--state-dir", self.state], capture_output=True, text=True,
                             env=self.env, check=True)
        return out.stdout.strip().split()[-1]


class Client:
    """One keep-alive connection; reconnects once when the daemon closed an idle one."""

    def __init__(self, port, token):
        self.port = port
        self.c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.h = {"Authorization": "Bearer " + token, "Content-Type": "application/json"}

    def call(self, method, path, body=None):
        for attempt in (0, 1):
            try:
                self.c.request(method, path, body, self.h)
                r = self.c.getresponse()
                return r.status, r.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                if attempt:
                    raise
                self.c.close()
                self.c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def post(self, path, body):
        return self.call("POST", path, json.dumps(body))

    def get(self, path):
        return self.call("GET", path)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def latencies(cl, channel, n):
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        st, body = cl.post("/api/channels/%s/send" % channel, {"text": "m%d" % i})
        out.append(time.perf_counter() - t0)
        if st != 200:
            sys.exit("send failed: %s %s" % (st, body))
    return out


def flood(port, token, total, senders):
    per = total // senders
    def run():
        cl = Client(port, token)
        for i in range(per):
            st, body = cl.post("/api/channels/j/send", {"text": "f%d" % i})
            if st != 200:
                sys.exit("send failed: %s %s" % (st, body))
    ts = [threading.Thread(target=run) for _ in range(senders)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return per * senders / (time.perf_counter() - t0)


def health(cl):
    return json.loads(cl.get("/health")[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--messages", type=int, default=2000)
    ap.add_argument("--replay", type=int, default=10000)
    ap.add_argument("--senders", type=int, default=8)
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="bench-journal-")
    d = Daemon(os.path.abspath(a.bin), tmp)
    try:
        d.start()
        tok = d.mint("agent:admin agent:read agent:send")
        cl = Client(d.port, tok)
        st, body = cl.post("/api/agents", {"name": "jbot", "channels": ["j"]})
        if st != 200:
            sys.exit("agent registration failed: %s %s" % (st, body))
        cl.post("/api/channels/j/send", {"text": "[fake:hang] hold the queue"})
        time.sleep(1.0)
        base = latencies(cl, "plain", a.messages)
        jour = latencies(cl, "j", a.messages)
        ms = lambda s: s * 1000.0
        print("send latency, not journaled (http-ui, no agent): p50 %.3f ms  p99 %.3f ms"
              % (ms(pct(base, 50)), ms(pct(base, 99))))
        print("send latency, journaled (append + fdatasync):    p50 %.3f ms  p99 %.3f ms"
              % (ms(pct(jour, 50)), ms(pct(jour, 99))))
        print("added by the journal:                            p50 %.3f ms  p99 %.3f ms"
              % (ms(pct(jour, 50) - pct(base, 50)), ms(pct(jour, 99) - pct(base, 99))))
        rate = flood(d.port, tok, a.messages * 2, a.senders)
        print("accepted messages/s, %d concurrent senders: %.0f" % (a.senders, rate))
        pending = health(cl).get("journal", {}).get("pending", 0)
        missing = a.replay - pending
        if missing > 0:
            flood(d.port, tok, missing + a.senders, a.senders)
        pending = health(cl)["journal"]["pending"]
        size = os.path.getsize(os.path.join(d.state, "journal/inbound.log"))
        print("journaled before the kill: %d messages, %d bytes (%.0f bytes/message)"
              % (pending, size, size / max(pending, 1)))
        d.kill9()
        up = d.start()
        cl = Client(d.port, tok)
        t0 = time.monotonic()
        while True:
            rows = health(cl).get("programmatic_agents", [])
            status = rows[0]["status"] if rows else ""
            if status.startswith("queued:") and int(status.split(":")[1]) >= pending - 1:
                break
            if time.monotonic() - t0 > 120:
                sys.exit("replay did not finish: %s" % status)
            time.sleep(0.01)
        queued = time.monotonic() - t0
        read_ms = None
        for line in open(d.log_path):
            if "journal:" in line and "read in" in line:
                read_ms = line.rsplit("read in", 1)[1].strip()
        print("restart replay of %d journaled messages: journal read %s; start -> /health %.0f ms; "
              "start -> all re-queued %.0f ms" % (pending, read_ms, up * 1000, (up + queued) * 1000))
    finally:
        d.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()

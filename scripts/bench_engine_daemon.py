#!/usr/bin/env python3
"""End-to-end turn latency through a running daemon (used by scripts/bench-engine.sh):
an http-ui channel, one programmatic agent, `claude` = tests/fakes/claude-bench inside the
daemon's sandbox. Per message: POST /api/channels/<ch>/send, wait for the `reply` event on
/ui/events; the fake records its own start/end ($EPOCHREALTIME) in the agent's private dir.
Prints inbound -> claude exec and inbound -> reply minus the fake's own time (p50/p99).
Usage: bench_engine_daemon.py BASE TOKEN CHANNEL RECORD_FILE N"""
import http.client
import json
import sys
import time
import urllib.parse

base, token, channel, record, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
u = urllib.parse.urlparse(base)


def post(path, body):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", path, json.dumps(body),
              {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        raise SystemExit("POST %s -> %d %s" % (path, r.status, data))
    return json.loads(data)


ticket = post("/api/ui/sse-ticket", {})["ticket"]
sse = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
sse.request("GET", "/ui/events?channel=%s&ticket=%s" % (channel, ticket))
stream = sse.getresponse()
assert stream.status == 200, stream.status


def next_reply():
    event = None
    while True:
        line = stream.fp.readline().decode()
        if not line:
            raise SystemExit("stream closed")
        line = line.rstrip("\r\n")
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:") and event == "reply":
            return json.loads(line[5:])


exec_ms, overhead_ms = [], []
for i in range(n + 3):
    t_in = time.time()
    post("/api/channels/%s/send" % channel, {"text": "ping %d" % i})
    next_reply()
    t_reply = time.time()
    with open(record) as f:
        f0, f1 = map(float, f.read().split("\n")[-2].split())
    if i < 3:
        continue
    exec_ms.append((f0 - t_in) * 1000)
    overhead_ms.append(((t_reply - t_in) - (f1 - f0)) * 1000)


def pct(v, p):
    v = sorted(v)
    return v[int(round(p / 100 * (len(v) - 1)))]


print("daemon end-to-end (http-ui, sandboxed), %d turns:" % n)
print("  inbound -> claude exec: p50 %.1f ms, p99 %.1f ms" % (pct(exec_ms, 50), pct(exec_ms, 99)))
print("  inbound -> reply delivered, minus fake's own time: p50 %.1f ms, p99 %.1f ms"
      % (pct(overhead_ms, 50), pct(overhead_ms, 99)))

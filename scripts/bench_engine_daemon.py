#!/usr/bin/env python3
"""End-to-end turn latency through a running daemon (used by scripts/bench-engine.sh):
an http-ui channel, one programmatic agent, `claude` = tests/fakes/claude-bench inside the
daemon's sandbox. Per message: POST /api/channels/<ch>/send, wait for the `reply` event on
/ui/events; the fake records its own start/end ($EPOCHREALTIME) in the agent's private dir.
Prints inbound -> claude exec and inbound -> reply minus the fake's own time (p50/p99).
Usage: bench_engine_daemon.py BASE TOKEN CHANNEL RECORD_FILE N"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_page import Page, pct  # noqa: E402

base, token, channel, record, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
page = Page(base, token, channel, timeout=60)

exec_ms, overhead_ms = [], []
for i in range(n + 3):
    t_in = time.time()
    page.send("ping %d" % i)
    page.next_reply()
    t_reply = time.time()
    with open(record) as f:
        f0, f1 = map(float, f.read().split("\n")[-2].split())
    if i < 3:
        continue
    exec_ms.append((f0 - t_in) * 1000)
    overhead_ms.append(((t_reply - t_in) - (f1 - f0)) * 1000)


print("daemon end-to-end (http-ui, sandboxed), %d turns:" % n)
print("  inbound -> claude exec: p50 %.1f ms, p99 %.1f ms" % (pct(exec_ms, 50), pct(exec_ms, 99)))
print("  inbound -> reply delivered, minus fake's own time: p50 %.1f ms, p99 %.1f ms"
      % (pct(overhead_ms, 50), pct(overhead_ms, 99)))

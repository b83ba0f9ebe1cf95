#!/usr/bin/env python3
"""Real-CLI turn latency (used by scripts/bench-real-claude.sh).
  direct CLAUDE W API N   `claude -p` run by hand in W with a turn's environment, exec to
                          the `result` line; every run after the first resumes
  daemon BASE TOKEN N     http-ui send -> sandboxed turn -> `reply` on the page stream
Both skip the first two runs (cold caches) and print p50/p99/min/max in ms."""
import json
import os
import subprocess
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_page import Page, pct  # noqa: E402


def report(label, times, extra=""):
    print("%-8s p50 %.0f ms  p99 %.0f ms  (min %.0f, max %.0f)%s"
          % (label, pct(times, 50), pct(times, 99), min(times), max(times), extra))


def direct(claude, w, api, n):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": w + "/home", "IS_SANDBOX": "1",
           "CLAUDE_CONFIG_DIR": w + "/home/.claude", "TMPDIR": w + "/tmp",
           "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-bench", "ANTHROPIC_BASE_URL": api,
           "DISABLE_AUTOUPDATER": "1"}
    session, times = str(uuid.uuid4()), []
    for i in range(n + 2):
        flag = ["--session-id", session] if i == 0 else ["--resume", session]
        t0 = time.time()
        out = subprocess.run([claude, "-p", "ping %d" % i, "--output-format", "stream-json",
                              "--verbose", "--dangerously-skip-permissions"] + flag,
                             cwd=w, env=env, capture_output=True, text=True, timeout=120)
        t1 = time.time()
        last = json.loads(out.stdout.strip().splitlines()[-1])
        assert last.get("type") == "result" and last.get("result") == "pong", out.stdout[-500:]
        if i >= 2:
            times.append((t1 - t0) * 1000)
    report("direct", times)


def daemon(base, token, n):
    page = Page(base, token, "web")
    times = []
    for i in range(n + 2):
        t0 = time.time()
        page.send("ping %d" % i)
        reply = page.next_reply()
        assert reply.get("text") == "pong", reply
        if i >= 2:
            times.append((time.time() - t0) * 1000)
    report("daemon", times, "  inbound -> reply")


if __name__ == "__main__":
    if sys.argv[1] == "direct":
        direct(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        daemon(sys.argv[2], sys.argv[3], int(sys.argv[4]))

#!/usr/bin/env bash
# Real-CLI turn latency (issue 18): the real Claude Code CLI (scripts/install-real-claude.sh)
# against the fake Anthropic API (tests/fakes/anthropic), offline.
#  1. direct: `claude -p … --output-format stream-json` run by hand in a private workspace,
#     with the environment a turn gets (private CLAUDE_CONFIG_DIR, the OAuth token,
#     ANTHROPIC_BASE_URL), from exec to the `result` line;
#  2. through the daemon: http-ui send → routing → sandboxed turn (bubblewrap) → reply on
#     the page stream, for a single-threaded agent (every turn after the first resumes).
# The difference is the daemon's and the sandbox's share.
# Usage: scripts/bench-real-claude.sh [N=20]   (BENCH_RELEASE=1 for a release daemon)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20}"
claude=$(scripts/install-real-claude.sh)
claude=$(readlink -f "$claude")
profile=(); target=target/debug
[ "${BENCH_RELEASE:-0}" = 1 ] && { profile=(--release); target=target/release; }
cargo build --quiet "${profile[@]}" --bins
tmp=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/state" "$tmp/home/.parachute" "$tmp/direct/home/.claude" "$tmp/direct/tmp"
ln -s "$claude" "$tmp/bin/claude"
echo '{"default":{"text":"pong"}}' > "$tmp/script.json"
tests/fakes/anthropic --script "$tmp/script.json" --record "$tmp/requests.jsonl" > "$tmp/api.port" &
pids+=($!)
for _ in $(seq 50); do [ -s "$tmp/api.port" ] && break; sleep 0.1; done
api="http://127.0.0.1:$(awk '{print $2}' "$tmp/api.port")"

echo "== direct: claude -p (no daemon, no sandbox), $n runs"
python3 - "$claude" "$tmp/direct" "$api" "$n" <<'PY'
import json, os, subprocess, sys, time, uuid
claude, w, api, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": w + "/home", "IS_SANDBOX": "1",
       "CLAUDE_CONFIG_DIR": w + "/home/.claude", "TMPDIR": w + "/tmp",
       "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-bench", "ANTHROPIC_BASE_URL": api,
       "DISABLE_AUTOUPDATER": "1"}
session, times = str(uuid.uuid4()), []
for i in range(n + 2):
    flag = ["--session-id", session] if i == 0 else ["--resume", session]
    t0 = time.time()
    out = subprocess.run([claude, "-p", "ping %d" % i, "--output-format", "stream-json", "--verbose",
                          "--dangerously-skip-permissions"] + flag,
                         cwd=w, env=env, capture_output=True, text=True, timeout=120)
    t1 = time.time()
    last = json.loads(out.stdout.strip().splitlines()[-1])
    assert last.get("type") == "result" and last.get("result") == "pong", out.stdout[-500:]
    if i >= 2:
        times.append((t1 - t0) * 1000)
times.sort()
print("direct    p50 %.0f ms  p99 %.0f ms  (min %.0f, max %.0f)" % (
    times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))], times[0], times[-1]))
PY

echo "== through the daemon (sandboxed), $n turns"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo '{"channels":[{"name":"web","transport":"http-ui"}]}' > "$tmp/state/channels.json"
printf '{"claude":{"default":"sk-ant-oat01-bench"},"env":{"default":{"ANTHROPIC_BASE_URL":"%s"}}}' "$api" \
  > "$tmp/state/credentials.json"
env -i PATH="$tmp/bin:/usr/local/bin:/usr/bin:/bin" HOME="$tmp/home" PARACHUTE_HOME="$tmp/home/.parachute" \
  PARACHUTE_AGENT_STATE_DIR="$tmp/state" PORT="$port" RUST_LOG=warn \
  "$target/parachute-agent" serve > "$tmp/daemon.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
token=$("$target/parachute-agent" token mint --scope "agent:admin agent:read agent:send" --ttl 1h --state-dir "$tmp/state")
curl -sf -X POST "http://127.0.0.1:$port/api/agents" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"name":"bench","channels":["web"]}' >/dev/null
python3 - "http://127.0.0.1:$port" "$token" "$n" <<'PY'
import http.client, json, sys, time, urllib.parse
base, token, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
u = urllib.parse.urlparse(base)
def post(path, body):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    c.request("POST", path, json.dumps(body), {"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    r = c.getresponse(); data = r.read(); c.close()
    assert r.status == 200, (path, r.status, data)
    return json.loads(data)
ticket = post("/api/ui/sse-ticket", {})["ticket"]
sse = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
sse.request("GET", "/ui/events?channel=web&ticket=" + ticket)
stream = sse.getresponse()
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
times = []
for i in range(n + 2):
    t0 = time.time()
    post("/api/channels/web/send", {"text": "ping %d" % i})
    reply = next_reply()
    assert reply.get("text") == "pong", reply
    if i >= 2:
        times.append((time.time() - t0) * 1000)
times.sort()
print("daemon    p50 %.0f ms  p99 %.0f ms  (min %.0f, max %.0f)  inbound -> reply" % (
    times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))], times[0], times[-1]))
PY

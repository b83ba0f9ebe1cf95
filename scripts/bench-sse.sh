#!/usr/bin/env bash
# SSE broadcast benchmark: start a daemon with one http-ui channel on a temp state dir,
# open N `/events` subscribers, send R messages on the channel, report broadcast latency
# p50/p99 and the daemon's RSS with the subscribers (client: scripts/bench_sse.py).
#
# Usage: scripts/bench-sse.sh [SUBSCRIBERS=1000] [ROUNDS=30]
# Env:   BIN=path/to/parachute-agent (default target/release if built, else target/debug)
#        PORT=free port (default 19411)
set -euo pipefail
cd "$(dirname "$0")/.."
SUBS=${1:-1000}
ROUNDS=${2:-30}
PORT=${PORT:-19411}
if [ -z "${BIN:-}" ]; then
  if [ -x target/release/parachute-agent ]; then BIN=target/release/parachute-agent
  else cargo build -q; BIN=target/debug/parachute-agent; fi
fi
STATE=$(mktemp -d)
trap 'kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; rm -rf "$STATE"' EXIT
cat >"$STATE/channels.json" <<'EOF'
{ "channels": [ { "name": "bench", "transport": "http-ui" } ] }
EOF
chmod 600 "$STATE/channels.json"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
TOKEN=$("$BIN" token mint --scope "agent:read agent:send" --state-dir "$STATE")
RUST_LOG=warn "$BIN" serve --port "$PORT" --state-dir "$STATE" &
PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "binary: $BIN  subscribers: $SUBS  rounds: $ROUNDS" >&2
python3 scripts/bench_sse.py --base "http://127.0.0.1:$PORT" --token "$TOKEN" \
  --channel bench --subscribers "$SUBS" --rounds "$ROUNDS" --pid "$PID"

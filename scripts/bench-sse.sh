#!/usr/bin/env bash
# SSE broadcast benchmark: start a daemon with one http-ui channel on a temp state dir,
# open N `/events` subscribers, send R messages on the channel, report broadcast latency
# p50/p99 and the daemon's RSS with the subscribers (client: scripts/bench_sse.py).
#
# Usage: scripts/bench-sse.sh [SUBSCRIBERS=1000] [ROUNDS=30]
# Env:   BIN=path/to/parachute-agent (default target/release if built, else target/debug)
#        PORT=free port (default 19411)
#        BURST=connections opened at once before waiting for them (default 1)
#        CONNECTION_CLOSE=1 subscribers send `Connection: close` (as `parachute-agent bridge` does)
set -euo pipefail
cd "$(dirname "$0")/.."
SUBS=${1:-1000}
ROUNDS=${2:-30}
PORT=${PORT:-19411}
if [ -z "${BIN:-}" ]; then
  if [ -x target/release/parachute-agent ]; then BIN=target/release/parachute-agent
  else cargo build -q; BIN=target/debug/parachute-agent; fi
fi
TMP=$(mktemp -d)
STATE=$TMP/state
mkdir -p "$STATE" "$TMP/home/.parachute"
# A private HOME so the daemon registers in a throw-away services.json, not the operator's.
export HOME=$TMP/home PARACHUTE_HOME=$TMP/home/.parachute PARACHUTE_HUB_ORIGIN=http://127.0.0.1:9
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT
cat >"$STATE/channels.json" <<'EOF'
{ "channels": [ { "name": "bench", "transport": "http-ui" } ] }
EOF
chmod 600 "$STATE/channels.json"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
TOKEN=$("$BIN" token mint --scope "agent:read agent:send" --state-dir "$STATE")
RUST_LOG=error "$BIN" serve --port "$PORT" --state-dir "$STATE" &
PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "binary: $BIN  subscribers: $SUBS  rounds: $ROUNDS" >&2
python3 scripts/bench_sse.py --base "http://127.0.0.1:$PORT" --token "$TOKEN" \
  --channel bench --subscribers "$SUBS" --rounds "$ROUNDS" --pid "$PID" --burst "${BURST:-1}" ${CONNECTION_CLOSE:+--connection-close}

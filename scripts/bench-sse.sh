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
source "$(dirname "$0")/bench-common.sh"
SUBS=${1:-1000}
ROUNDS=${2:-30}
PORT=${PORT:-19411}
bench_setup bench
TOKEN=$("$BIN" token mint --scope "agent:read agent:send" --state-dir "$STATE")
bench_serve error
echo "binary: $BIN  subscribers: $SUBS  rounds: $ROUNDS" >&2
python3 scripts/bench_sse.py --base "http://127.0.0.1:$PORT" --token "$TOKEN" \
  --channel bench --subscribers "$SUBS" --rounds "$ROUNDS" --pid "$PID" --burst "${BURST:-1}" ${CONNECTION_CLOSE:+--connection-close}

#!/usr/bin/env bash
# Front-door benchmark (issue 11): /health p50/p99 while 1,000 slowloris clients, 2,000 idle
# connections and a 100 MiB-body flood run at once, and the daemon's RSS before, at its
# peak and after. Loopback only; every attacker is bounded in count and time and stops by
# itself (client: scripts/bench_hostile.py).
#
# Usage: scripts/bench-hostile.sh [SECONDS=15] [SLOWLORIS=1000] [IDLE=2000] [FLOODERS=4]
# Env:   BIN=path/to/parachute-agent (default target/release if built, else target/debug)
#        PORT=free port (default 19412)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-15}
SLOW=${2:-1000}
IDLE=${3:-2000}
FLOOD=${4:-4}
PORT=${PORT:-19412}
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
cat >"$STATE/channels.json" <<'JSON'
{ "channels": [ { "name": "bench", "transport": "http-ui" } ] }
JSON
chmod 600 "$STATE/channels.json"
# The client holds ~3,000 sockets.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
RUST_LOG=warn "$BIN" serve --port "$PORT" --state-dir "$STATE" 2>"$TMP/daemon.log" &
PID=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
  sleep 0.1
done
echo "binary: $BIN" >&2
python3 scripts/bench_hostile.py --port "$PORT" --pid "$PID" --seconds "$SECS" \
  --slowloris "$SLOW" --idle "$IDLE" --flooders "$FLOOD"
kill -0 "$PID" 2>/dev/null && echo "daemon: alive" || { echo "daemon: DEAD"; tail -20 "$TMP/daemon.log"; exit 1; }
grep -c . "$TMP/daemon.log" | xargs -I{} echo "daemon log lines (warn+): {}"

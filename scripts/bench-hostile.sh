#!/usr/bin/env bash
# Front-door benchmark (issue 11): /health p50/p99 while 1,000 slowloris clients, 2,000 idle
# connections and a 100 MiB-body flood run at once, and the daemon's RSS before, at its
# peak and after. Loopback only; every attacker is bounded in count and time and stops by
# itself (client: scripts/bench_hostile.py).
#
# Usage: scripts/bench-hostile.sh [SECONDS=15] [SLOWLORIS=1000] [IDLE=2000] [FLOODERS=4]
# Env:   BIN=path/to/parachute-agent (default target/release if built, else target/debug)
#        PORT=free port (default 19412)
source "$(dirname "$0")/bench-common.sh"
SECS=${1:-15}
SLOW=${2:-1000}
IDLE=${3:-2000}
FLOOD=${4:-4}
PORT=${PORT:-19412}
bench_setup bench
bench_serve warn "$TMP/daemon.log"
echo "binary: $BIN" >&2
python3 scripts/bench_hostile.py --port "$PORT" --pid "$PID" --seconds "$SECS" \
  --slowloris "$SLOW" --idle "$IDLE" --flooders "$FLOOD"
kill -0 "$PID" 2>/dev/null && echo "daemon: alive" || { echo "daemon: DEAD"; tail -20 "$TMP/daemon.log"; exit 1; }
grep -c . "$TMP/daemon.log" | xargs -I{} echo "daemon log lines (warn+): {}"

# Shared set-up of the daemon benchmarks (sourced, not run): picks the binary, makes a
# throw-away state dir and HOME with one http-ui channel, starts `serve` and waits for
# /health, and stops the daemon and removes everything on exit.
#
#   source scripts/bench-common.sh
#   bench_setup <channel>            # sets BIN, TMP, STATE; exports HOME, PARACHUTE_HOME, …
#   bench_serve <RUST_LOG> [log]     # sets PID; stderr to [log] when given
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench_setup() {
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
  printf '{ "channels": [ { "name": "%s", "transport": "http-ui" } ] }\n' "$1" >"$STATE/channels.json"
  chmod 600 "$STATE/channels.json"
  # The benchmark clients hold thousands of sockets.
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
}

bench_serve() {
  RUST_LOG=$1 "$BIN" serve --port "$PORT" --state-dir "$STATE" 2>"${2:-/dev/stderr}" &
  PID=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break
    sleep 0.1
  done
}

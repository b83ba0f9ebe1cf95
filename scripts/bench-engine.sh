#!/usr/bin/env bash
# Turn-engine latency (issue 6), with tests/fakes/claude-bench as `claude`:
#  1. in-process: inbound -> `claude` exec and inbound -> reply overhead (excluding the
#     fake's own time) through the real registry, worker, launcher seam (no sandbox) and
#     process runner (examples/bench_engine.rs);
#  2. end-to-end: the same through a running daemon — http-ui send, routing fork, sandboxed
#     turn, reply on the page stream (scripts/bench_engine_daemon.py).
# Usage: scripts/bench-engine.sh [N]   (debug build; BENCH_RELEASE=1 for --release)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
profile=()
[ "${BENCH_RELEASE:-0}" = 1 ] && profile=(--release)
cargo build --quiet "${profile[@]}" --bins --examples
target=target/debug
[ "${BENCH_RELEASE:-0}" = 1 ] && target=target/release

echo "== in-process engine"
"$target/examples/bench_engine" "$n"

echo "== daemon"
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT
mkdir -p "$tmp/bin" "$tmp/state" "$tmp/home/.parachute"
ln -s "$PWD/tests/fakes/claude-bench" "$tmp/bin/claude"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
record="$tmp/state/sessions/bench/bench-record.txt"
echo '{"channels":[{"name":"web","transport":"http-ui"}]}' > "$tmp/state/channels.json"
printf '{"claude":{"default":"sk-ant-oat01-bench"},"env":{"default":{"BENCH_RECORD":"%s"}}}' "$record" \
  > "$tmp/state/credentials.json"
env -i PATH="$tmp/bin:/usr/local/bin:/usr/bin:/bin" HOME="$tmp/home" PARACHUTE_HOME="$tmp/home/.parachute" \
  PARACHUTE_AGENT_STATE_DIR="$tmp/state" PORT="$port" RUST_LOG=warn \
  "$target/parachute-agent" serve > "$tmp/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
token=$("$target/parachute-agent" token mint --scope "agent:admin agent:read agent:send" --ttl 1h --state-dir "$tmp/state")
curl -sf -X POST "http://127.0.0.1:$port/api/agents" -H "Authorization: Bearer $token" \
  -H 'Content-Type: application/json' -d '{"name":"bench","channels":["web"]}' >/dev/null
python3 scripts/bench_engine_daemon.py "http://127.0.0.1:$port" "$token" web "$record" "$(( n < 100 ? n : 100 ))"

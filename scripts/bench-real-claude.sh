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
python3 scripts/bench_real_claude.py direct "$claude" "$tmp/direct" "$api" "$n"

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
python3 scripts/bench_real_claude.py daemon "http://127.0.0.1:$port" "$token" "$n"

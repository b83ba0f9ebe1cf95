#!/usr/bin/env bash
# tools/call round-trip latency of the MCP endpoint (/mcp/<ch>): starts the daemon with the
# fake vault and times sequential calls on one keep-alive connection, as a Claude Code
# session makes them (test mcp::bench, #[ignore]d in the normal suite).
#
# Usage: scripts/bench-mcp.sh [--release | --opt-deps | --debug]
#   --release   (default) release build
#   --opt-deps  dev build of our crate with every dependency at opt-level 3, in
#               target/bench (crypto for the token check dominates an unoptimised build)
#   --debug     the plain debug build (token verification alone costs ~15-30 ms there)
# BENCH_N=<calls> changes the sample size (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:---release}" in
  --release) args=(--release) ;;
  --opt-deps) args=(--config 'profile.dev.package."*".opt-level=3' --target-dir target/bench) ;;
  --debug) args=() ;;
  *) echo "usage: $0 [--release | --opt-deps | --debug]" >&2; exit 2 ;;
esac
cargo test "${args[@]}" --test it mcp::bench -- --ignored --nocapture --test-threads=1 2>&1 \
  | grep -E '^(tools/call|ping|tools/list|baseline)|round trip|test result'

#!/usr/bin/env bash
# tools/call round-trip latency of the MCP endpoint (/mcp/<ch>): starts the daemon with the
# fake vault and times sequential calls on one keep-alive connection, as a Claude Code
# session makes them. Usage: scripts/bench-mcp.sh [--debug] (default: release build).
# BENCH_N=<calls> changes the sample size (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=(--release)
if [ "${1:-}" = "--debug" ]; then profile=(); fi
cargo test "${profile[@]}" --test it mcp::bench -- --ignored --nocapture --test-threads=1 2>&1 \
  | grep -E '^(tools/call|ping|tools/list|baseline)|round trip|test result'

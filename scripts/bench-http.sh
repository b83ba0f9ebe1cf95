#!/usr/bin/env bash
# HTTP request benchmark (issue 12): /health, local-token and hub-token (fake hub JWKS)
# GET /api/channels at 32 and 256 keep-alive connections (wrk: req/s, p50, p99), start ->
# first /health over 20 starts, RSS idle and after load, and the ratios of the issue's goal
# column (/health measured in the same round is the baseline). Driver: scripts/bench_http.py.
#
# Usage: scripts/bench-http.sh [ROUNDS=3] [SECONDS=5]
# Env:   BIN=path/to/parachute-agent (default: build and use target/release)
#        CONNS=32,256   STARTS=20
# Needs wrk and openssl. On a shared machine run a few short rounds and report the ranges.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
SECS=${2:-5}
if [ -z "${BIN:-}" ]; then
  cargo build --release -q
  BIN=target/release/parachute-agent
fi
command -v wrk >/dev/null || { echo "wrk is required (apt install wrk)" >&2; exit 1; }
command -v openssl >/dev/null || { echo "openssl is required" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
exec python3 scripts/bench_http.py --bin "$BIN" --rounds "$ROUNDS" --duration "$SECS" \
  --conns "${CONNS:-32,256}" --starts "${STARTS:-20}"

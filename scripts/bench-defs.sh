#!/usr/bin/env bash
# Definition-registry figures (issue 5): cold load of N definitions, a warm poll pass over
# them unchanged, and the reload of one unchanged definition, through the real registry and
# vault client against the fake vault over loopback HTTP (channels and backends stubbed).
# Usage: scripts/bench-defs.sh [N] [M]   (debug build by default; BENCH_RELEASE=1 for --release)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${BENCH_RELEASE:-0}" = 1 ]; then
  cargo run --quiet --release --example bench_defs -- "$@"
else
  cargo run --quiet --example bench_defs -- "$@"
fi

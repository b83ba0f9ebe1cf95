#!/usr/bin/env bash
# Turn-engine latency (issue 6): inbound -> `claude` exec and inbound -> reply overhead
# excluding the fake's own time, measured in-process through the real registry, worker,
# launcher seam and process runner, with tests/fakes/claude-bench as `claude`.
# Usage: scripts/bench-engine.sh [N]    (debug build by default; BENCH_RELEASE=1 for --release)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-200}"
if [ "${BENCH_RELEASE:-0}" = 1 ]; then
  cargo run --quiet --release --example bench_engine -- "$n"
else
  cargo run --quiet --example bench_engine -- "$n"
fi

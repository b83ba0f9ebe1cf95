#!/usr/bin/env bash
# Added latency of sandboxing one turn: the fake claude (tests/fakes/claude) run directly,
# in an `open` bubblewrap sandbox and in a `restricted` one (per-turn proxies, in-sandbox
# forwarders, seccomp), median of N runs each. Needs bwrap.
# Usage: scripts/bench-sandbox.sh [runs] [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
profile=debug; flag=()
if [ "${2:-}" = "--release" ]; then profile=release; flag=(--release); fi
cargo build -q "${flag[@]}" --bin parachute-agent --example bench_sandbox
echo "profile: $profile, bwrap: $(bwrap --version 2>/dev/null || echo missing)"
"target/$profile/examples/bench_sandbox" "$runs" "$PWD/tests/fakes/claude" "$PWD/target/$profile/parachute-agent"

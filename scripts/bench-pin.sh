#!/usr/bin/env bash
# Measure one step-up PIN verification (argon2id m=65536 KiB, t=2, p=1) on this machine.
# Usage: scripts/bench-pin.sh [rounds] [--release]
#   dev profile: argon2/blake2 are built with opt-level 3 (Cargo.toml), the rest unoptimised.
#   --release:   the shipped profile.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
profile=()
label=dev
if [[ "${2:-}" == "--release" || "${1:-}" == "--release" ]]; then
  profile=(--release); label=release
  [[ "${1:-}" == "--release" ]] && rounds=${2:-10}
fi
echo "bench-pin: profile=$label rounds=$rounds cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
cargo run -q "${profile[@]}" --example bench_pin -- "$rounds"

#!/usr/bin/env bash
# Terminal figures: keystroke -> echo round trip through the daemon and a real tmux
# session (p50, p99), and flood throughput (through the daemon alone, and through tmux).
# Needs tmux. Usage: scripts/bench-terminal.sh [keystrokes] [flood MiB] [--release]
set -euo pipefail
cd "$(dirname "$0")/.."
keys=${1:-300}
mib=${2:-100}
profile=()
dir=debug
label=dev
for a in "$@"; do
  if [[ "$a" == "--release" ]]; then profile=(--release); dir=release; label=release; fi
done
command -v tmux >/dev/null || { echo "bench-terminal: tmux is not installed"; exit 1; }
cargo build -q "${profile[@]}" --bin parachute-agent --example bench_terminal
echo "bench-terminal: profile=$label keys=$keys flood=${mib}MiB cores=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"
"target/$dir/examples/bench_terminal" "target/$dir/parachute-agent" "$keys" "$mib"

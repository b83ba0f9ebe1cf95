#!/usr/bin/env bash
# Boot figures of the release binary: stripped size, start-to-first-/health time (median
# of N runs), and idle RSS after boot. Usage: scripts/bench-boot.sh [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-20}
cargo build --release -q
bin=target/release/parachute-agent
echo "binary: $(stat -c %s "$bin") bytes ($(du -h "$bin" | cut -f1), stripped by the release profile)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
times=()
for i in $(seq "$runs"); do
  start=$(date +%s%N)
  PORT=$port PARACHUTE_AGENT_STATE_DIR=$tmp/state PARACHUTE_HOME=$tmp/home RUST_LOG=error "$bin" & pid=$!
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do sleep 0.001; done
  end=$(date +%s%N)
  times+=($(( (end - start) / 1000 )))
  if [ "$i" -eq "$runs" ]; then
    sleep 1
    echo "idle RSS after boot: $(awk '/VmRSS/ {print $2, $3}' /proc/$pid/status)"
    echo "threads: $(ls /proc/$pid/task | wc -l)"
  fi
  kill -TERM $pid; wait $pid || true
done
sorted=($(printf '%s\n' "${times[@]}" | sort -n))
echo "start to first /health (µs, $runs runs): min ${sorted[0]}, median ${sorted[$((runs/2))]}, max ${sorted[$((runs-1))]}"

#!/usr/bin/env bash
# Inbound journal benchmark (issue 13): the latency an accepted message gains from the
# journal (append + fdatasync before the 2xx) as p50/p99 against the same send on a
# channel without an agent (not journaled), accepted messages per second with concurrent
# senders, and the restart replay time of 10,000 journaled messages (kill -9, start,
# until the agent's queue holds them all again). Driver: scripts/bench_journal.py.
#
# Usage: scripts/bench-journal.sh [MESSAGES=2000] [REPLAY=10000]
# Env:   BIN=path/to/parachute-agent (default: target/release if built, else a debug build)
#        SENDERS=8 (concurrent senders of the throughput round)
# Turns run through the sandbox (bwrap) with the fake claude of tests/fakes: the agent's
# first message hangs, so everything after it stays journaled. Keep runs short on a
# shared machine and report the ranges of a few runs.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${BIN:-}" ]; then
  if [ -x target/release/parachute-agent ]; then BIN=target/release/parachute-agent
  else cargo build -q; BIN=target/debug/parachute-agent; fi
fi
exec python3 scripts/bench_journal.py --bin "$BIN" --messages "${1:-2000}" \
  --replay "${2:-10000}" --senders "${SENDERS:-8}"

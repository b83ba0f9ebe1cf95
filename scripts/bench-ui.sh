#!/usr/bin/env bash
# Web UI page-load benchmark (issue 15: first screen rendered ≤ 300 ms on loopback): starts a
# daemon on a throw-away state dir, opens /app/ in Debian's chromium (Playwright, Python)
# from a cold browser context each run, and reports first contentful paint, the app's
# first render (`pa:first-render`: shell, nav and the screen's frame in the DOM) and the
# Agents list drawn from data after a one-time-link sign-in (`pa:agents-listed`), plus the
# page weight (JS + CSS bytes the browser fetched). Driver: scripts/bench_ui.py.
#
# Usage: scripts/bench-ui.sh [RUNS=20]
# Env:   BIN=path/to/parachute-agent (default target/release if built, else target/debug)
#        PORT=free port (default 19415)
source "$(dirname "$0")/bench-common.sh"
RUNS=${1:-20}
PORT=${PORT:-19415}
bench_setup web
bench_serve error "$TMP/daemon.log"
echo "binary: $BIN  runs: $RUNS" >&2
python3 scripts/bench_ui.py --base "http://127.0.0.1:$PORT" --bin "$BIN" --state-dir "$STATE" --runs "$RUNS"

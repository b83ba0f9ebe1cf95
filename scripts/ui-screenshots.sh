#!/usr/bin/env bash
# Renders each web UI screen to PNG with Debian's chromium (Playwright, Python) against the
# same rig as the browser tests (real daemon, fake vault, fake claude, fake hub origin):
# agents, agent detail, create, chat with a live turn, 404, the step-up dialog, and agents
# on a phone in the dark scheme. Then copies Agents and Chat to docs/screenshots/ (the
# README shows them).
# Usage: scripts/ui-screenshots.sh [out-dir]   (default target/ui-screenshots)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-target/ui-screenshots}")
mkdir -p "$out" docs/screenshots
UI_SCREENSHOTS_DIR="$out" cargo test -q --test it webui::browser::ui_screenshots -- --ignored --exact
cp "$out/agents.png" docs/screenshots/agents.png
cp "$out/chat.png" docs/screenshots/chat.png
ls -1 "$out"

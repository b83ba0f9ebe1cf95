#!/usr/bin/env bash
# Installs the real Claude Code CLI, at the version the real-CLI tests are pinned to, into
# target/real-claude (never onto the system PATH): the wrapper package
# @anthropic-ai/claude-code and its native platform package from the npm registry. The
# native binary needs no Node at run time; npm is only the download tool.
#
#   scripts/install-real-claude.sh          # idempotent; prints the binary's path
#
# The tests (tests/it/real_claude/) find it at target/real-claude/bin/claude, or wherever
# PARACHUTE_TEST_CLAUDE_BIN points. CLAUDE_CODE_VERSION overrides the pin (to try a new CLI
# release before moving the pin).
set -euo pipefail
cd "$(dirname "$0")/.."
version=${CLAUDE_CODE_VERSION:-2.1.332}
dest=target/real-claude
bin=$dest/bin/claude
if [ -x "$bin" ] && "$bin" --version 2>/dev/null | grep -q "^$version "; then
  echo "$bin"; exit 0
fi
case "$(uname -m)" in
  x86_64) platform=linux-x64 ;;
  aarch64|arm64) platform=linux-arm64 ;;
  *) echo "install-real-claude: no native Claude Code package for $(uname -m)" >&2; exit 1 ;;
esac
if ! command -v npm >/dev/null; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
fi
rm -rf "$dest"
mkdir -p "$dest/bin"
# --ignore-scripts: the wrapper's postinstall only copies the native binary over its
# placeholder; we link the native binary ourselves, so no install script runs.
npm install --prefix "$dest" --no-audit --no-fund --no-save --ignore-scripts --loglevel=error \
  "@anthropic-ai/claude-code@$version" "@anthropic-ai/claude-code-$platform@$version" >&2
native=$dest/node_modules/@anthropic-ai/claude-code-$platform/claude
[ -x "$native" ] || { echo "install-real-claude: $native missing after npm install" >&2; exit 1; }
ln -sf "../node_modules/@anthropic-ai/claude-code-$platform/claude" "$bin"
"$bin" --version >&2
echo "$bin"

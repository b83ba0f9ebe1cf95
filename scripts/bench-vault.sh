#!/usr/bin/env bash
# Vault figures (debug build, fake vault on loopback): VaultClient create round trip,
# transcript read of a busy vault, and the end-to-end wake latency (note created → vault
# trigger → POST /api/vault/inbound → /events frame). Usage: scripts/bench-vault.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test -q --test it vault_channels::bench -- --ignored --nocapture 2>&1 | grep -E "create_note|transcript|events frame|test result"

//! Black-box integration tests: each test spawns the real `parachute-agent` binary on a
//! free loopback port with a private state dir, and talks HTTP to it. The outside world
//! (hub, vault, claude, Telegram, the Anthropic API) is replaced by the fakes in
//! `support/` and `tests/fakes/`. One module per source area it drives (`auth` →
//! `src/auth`, `programmatic` → `src/backend/programmatic`, …); `hostile`, `ops` and
//! `real_claude` are cross-cutting suites (hostile clients, operating the service, the
//! real Claude CLI).

mod support;

mod agent_defs;
mod attached;
mod auth;
mod channels;
mod daemon;
mod hostile;
mod http;
mod jobs;
mod journal;
mod mcp;
mod ops;
mod programmatic;
mod real_claude;
mod sandbox;
mod security;
mod telegram;
mod terminal;
mod vault;
mod vault_channels;
mod webui;

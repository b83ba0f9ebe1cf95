//! Black-box integration tests: each test spawns the real `parachute-agent` binary on a
//! free loopback port with a private state dir, and talks HTTP to it. The outside world
//! (hub, vault, claude) is replaced by the fakes in `support/`. One module per area.

mod support;

mod agent_defs;
mod attached_queue;
mod auth_cache;
mod boot_readiness;
mod channels;
mod engine;
mod foundation_auth;
mod foundation_boot;
mod foundation_http;
mod hostile;
mod jobs;
mod journal;
mod mcp;
mod ops;
mod real_claude;
mod sandbox;
mod security;
mod telegram;
mod terminal;
mod vault_channels;
mod vault_client;
mod webui;

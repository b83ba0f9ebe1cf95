//! parachute-agent: a daemon that turns channel messages into Claude Code turns.
//! See ARCHITECTURE.md for the map of modules and threads.

pub mod agents;
pub mod api;
pub mod auth;
pub mod backend;
pub mod bridge;
pub mod channels;
pub mod cli;
pub mod config;
pub mod credentials;
pub mod daemon;
pub mod doctor;
pub mod http;
pub mod hub;
pub mod instance;
pub mod jobs;
pub mod journal;
pub mod lifecycle;
pub mod logging;
pub mod mcp;
pub mod metrics;
pub mod reload;
pub mod sandbox;
pub mod security;
pub mod services;
pub mod state;
pub mod supervision;
pub mod terminal;
pub mod util;
pub mod vault;
pub mod webui;

//! parachute-agent: a daemon that turns channel messages into Claude Code turns.
//! See ARCHITECTURE.md for the map of modules and threads.

pub mod agents;
pub mod auth;
pub mod backend;
pub mod channels;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod http;
pub mod services;
pub mod state;
pub mod util;

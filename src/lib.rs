//! parachute-agent: a daemon that turns channel messages into Claude Code turns.
//! See ARCHITECTURE.md for the map of modules and threads.

pub mod agents;
pub mod backend;
pub mod bridge;
pub mod credentials;
pub mod mcp;
pub mod mint;
pub mod security;
pub mod util;
pub mod vault;

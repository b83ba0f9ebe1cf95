//! parachute-agent: a daemon that turns channel messages into Claude Code turns.
//! See ARCHITECTURE.md for the map of modules and threads.

pub mod agents;
pub mod backend;
pub mod sandbox;
pub mod util;

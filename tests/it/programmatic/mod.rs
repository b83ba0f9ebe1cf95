//! Black-box tests of the programmatic turn engine: the agents API, and turns
//! run against the fake `claude` (`tests/fakes/claude`, first on the daemon's PATH).

pub(crate) mod api;
mod defs;
mod http_ui;
mod live;
pub(crate) mod turns;

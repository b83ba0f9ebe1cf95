//! The programmatic backend (spec 03 §4): one inbound message becomes one headless
//! `claude -p` run. Pure parts (stream parser, outcome rules, argv, environment, private
//! files) sit in their own modules; [`runner`] owns the child process and [`turn`] the
//! per-turn attempt loop. `claude` is only ever started through the
//! [`crate::sandbox::launch::Launcher`] seam, so the sandbox wraps it without this module
//! knowing how.

pub mod argv;
pub mod attachments;
pub mod boot;
pub mod daemon_host;
pub mod durable;
pub mod env;
pub mod events;
pub mod grants;
pub mod hold;
pub mod host;
pub mod hub;
pub mod interactive;
pub mod notes;
pub mod outcome;
pub mod persist;
pub mod registry;
pub mod runner;
pub mod service;
pub mod spawn_request;
pub mod stream;
pub mod turn;
pub mod turn_report;
pub mod worker;
pub mod workspace;

#[cfg(test)]
mod registry_tests;
#[cfg(test)]
mod tests;

//! The programmatic backend (spec 03 §4): one inbound message becomes one headless
//! `claude -p` run. The per-turn pipeline is [`turn`] (stream parser, outcome rules, argv,
//! environment, private files, notes, the child process and the attempt loop); around it
//! the daemon side: [`registry`] and [`worker`] (one thread per wake channel), [`host`]
//! (the seam to the daemon) with [`daemon_host`], [`service`], [`turn_events`] (the live
//! event fan-out seam), [`persist`], [`spawn_request`] and [`boot`]. `claude` is only ever started through the
//! [`crate::sandbox::launch::Launcher`] seam, so the sandbox wraps it without this module
//! knowing how.

pub mod boot;
pub mod daemon_host;
pub mod durable;
pub mod hold;
pub mod host;
pub mod interactive;
pub mod persist;
pub mod registry;
pub mod service;
pub mod spawn_request;
pub mod turn;
pub mod turn_events;
pub mod worker;

#[cfg(test)]
mod registry_tests;
#[cfg(test)]
mod tests;

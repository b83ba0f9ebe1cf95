//! Agents: the in-memory agent spec every definition becomes (spec 03 §1).
//! Definition notes, the HTTP-spawned agents API and the registry plug in here.

pub mod def_ops;
pub mod def_status;
pub mod def_triggers;
pub mod definition;
pub mod registry;
pub mod sink;
pub mod spec;
pub mod vaults;
pub mod wants;

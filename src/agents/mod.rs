//! Agents: the in-memory agent spec every definition becomes (spec 03 §1).
//! Definition notes, the HTTP-spawned agents API and the registry plug in here.

pub mod spec;

//! Execution backends: the launcher seam shared by the programmatic turn engine and the
//! sandbox (spec 03 §4.8, spec 04 §6). The programmatic and attached backends plug in here.

pub mod attached;
pub mod launch;
pub mod programmatic;

//! Execution backends (spec 03): the programmatic turn engine (`claude -p` per message,
//! through the sandbox's `Launcher` seam, spec 03 §4.8) and the attached queue.

pub mod attached;
pub mod programmatic;

//! The daemon's service lifecycle (spec 01 §6.7 [ext]): whether new work is
//! accepted (`running`) or the daemon is `draining` for a stop, whether running turns were
//! abandoned at the end of the grace period; [`notify`] speaks systemd's notify protocol.

pub mod notify;

use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Default)]
pub struct Lifecycle {
    draining: AtomicBool,
    abandoned: AtomicBool,
}

impl Lifecycle {
    pub fn new() -> Lifecycle {
        Lifecycle::default()
    }

    /// Stop accepting new work (SIGTERM/SIGINT).
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    pub fn draining(&self) -> bool {
        self.draining.load(Ordering::SeqCst)
    }

    /// The grace period ran out: turns still running are killed and must record nothing
    /// (their messages stay in the journal for the next start).
    pub fn abandon_turns(&self) {
        self.abandoned.store(true, Ordering::SeqCst);
    }

    pub fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::SeqCst)
    }
}

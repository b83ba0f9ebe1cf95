//! The daemon's service lifecycle (spec 01 §6.7 [ext]): whether new work is
//! accepted (`running`) or the daemon is `draining` for a stop, how long running turns may
//! finish then (the stop grace; SIGHUP may change it), whether running turns were
//! abandoned at the end of the grace period; [`notify`] speaks systemd's notify protocol.

pub mod notify;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// The stop grace until one is set (`PARACHUTE_AGENT_STOP_GRACE_SECS`'s default).
const DEFAULT_GRACE_MS: u64 = 20_000;

pub struct Lifecycle {
    draining: AtomicBool,
    abandoned: AtomicBool,
    grace_ms: AtomicU64,
}

impl Default for Lifecycle {
    fn default() -> Self {
        Lifecycle {
            draining: AtomicBool::new(false),
            abandoned: AtomicBool::new(false),
            grace_ms: AtomicU64::new(DEFAULT_GRACE_MS),
        }
    }
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

    pub fn set_stop_grace(&self, grace: Duration) {
        self.grace_ms
            .store(grace.as_millis() as u64, Ordering::SeqCst);
    }

    /// How long running turns may finish after SIGTERM/SIGINT.
    pub fn stop_grace(&self) -> Duration {
        Duration::from_millis(self.grace_ms.load(Ordering::SeqCst))
    }
}

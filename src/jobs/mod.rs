//! Scheduled jobs (spec 06 §1): a job posts a message to a vault channel on a cron
//! schedule by writing an ordinary inbound note, which the vault trigger then delivers; the
//! runner never runs a turn itself. `cron` is the dialect (§1.5), `schedule` zones and the
//! next-fire walk (§1.6, §1.7), `job` the note/JSON shapes (§1.2, §1.3), `store` the vault
//! I/O, `validate` the create rules (§1.4), `runner` the horizons and fires (§1.8), `routes`
//! the HTTP API (route step 9). [`JobService`] ties them to the daemon and owns the
//! `job-scheduler` thread: a tick every `PARACHUTE_AGENT_JOB_TICK_MS` (default 30 000; the
//! first tick one interval after start).
//!
//! Test clock (debug builds with `PARACHUTE_AGENT_TEST_HOOKS=1` only): the runner's clock is
//! real time plus an offset, initially `PARACHUTE_AGENT_TEST_JOB_CLOCK_OFFSET_MS`, changed by
//! `POST /__test/job-clock {"offsetMs":n}` — so black-box tests cross cron slots without
//! waiting for them. Release builds ignore both.

pub mod cron;
pub mod job;
pub mod runner;
pub mod schedule;
pub mod store;
pub mod validate;

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError};
use jiff::{SignedDuration, Timestamp};

use crate::channels::ChannelRegistry;
pub use job::Job;
pub use runner::Runner;
pub use store::JobStore;

/// Default scheduler tick (spec 06 §1.8).
pub const DEFAULT_TICK: Duration = Duration::from_secs(30);

pub struct JobService {
    pub store: JobStore,
    pub runner: Arc<Runner>,
    clock_offset_ms: Arc<AtomicI64>,
}

/// `PARACHUTE_AGENT_JOB_TICK_MS` (default 30 s, at least 10 ms).
pub fn tick_from_env() -> Duration {
    std::env::var("PARACHUTE_AGENT_JOB_TICK_MS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|ms| Duration::from_millis(ms.max(10)))
        .unwrap_or(DEFAULT_TICK)
}

/// Whether the test clock hooks are active (debug builds, `PARACHUTE_AGENT_TEST_HOOKS=1`).
pub fn test_hooks_enabled() -> bool {
    cfg!(debug_assertions) && std::env::var("PARACHUTE_AGENT_TEST_HOOKS").as_deref() == Ok("1")
}

impl JobService {
    pub fn new(channels: Arc<ChannelRegistry>) -> Arc<JobService> {
        let store = JobStore::new(channels);
        let initial = if test_hooks_enabled() {
            std::env::var("PARACHUTE_AGENT_TEST_JOB_CLOCK_OFFSET_MS")
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(0)
        } else {
            0
        };
        let offset = Arc::new(AtomicI64::new(initial));
        let (l, f, p) = (store.clone(), store.clone(), store.clone());
        let clock = offset.clone();
        let runner = Runner::new(
            Box::new(move || l.list()),
            Box::new(move |j: &Job| f.fire(j)),
            Box::new(move |j: &Job| p.persist(j)),
            Box::new(move || {
                let ms = clock.load(Ordering::Relaxed);
                Timestamp::now()
                    .checked_add(SignedDuration::from_millis(ms))
                    .unwrap_or_else(|_| Timestamp::now())
            }),
        );
        Arc::new(JobService {
            store,
            runner: Arc::new(runner),
            clock_offset_ms: offset,
        })
    }

    /// Test hook: shift the runner's clock.
    pub fn set_clock_offset_ms(&self, ms: i64) {
        self.clock_offset_ms.store(ms, Ordering::Relaxed);
    }

    /// The `job-scheduler` thread: one tick per interval until `stop` fires or is dropped.
    pub fn spawn_scheduler(
        self: &Arc<Self>,
        interval: Duration,
        stop: Receiver<()>,
    ) -> std::io::Result<JoinHandle<()>> {
        let runner = self.runner.clone();
        std::thread::Builder::new()
            .name("job-scheduler".into())
            .spawn(move || loop {
                match stop.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => runner.tick(),
                    _ => return,
                }
            })
    }
}

//! Scheduled jobs (spec 06 §1): a job posts a message to a vault channel on a cron
//! schedule by writing an ordinary inbound note, which the vault trigger then delivers; the
//! runner never runs a turn itself. `cron` is the dialect (§1.5), `schedule` zones and the
//! next-fire walk (§1.6, §1.7), `job` the note/JSON shapes (§1.2, §1.3), `store` the vault
//! I/O, `validate` the create rules (§1.4), `runner` the horizons and fires (§1.8), `routes`
//! the HTTP API is `api/jobs.rs` (route step 9). [`JobService`] ties them to the daemon and
//! owns the `job-scheduler` thread: a tick every `Config::jobs.tick` (the first tick one
//! interval after start).
//!
//! Test clock (`Config::test`, debug builds only): the runner's clock is real time plus an
//! offset, initially `PARACHUTE_AGENT_TEST_JOB_CLOCK_OFFSET_MS`, changed by
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
use crate::util::backoff::{jitter_unit, Backoff, BackoffPolicy};
pub use job::Job;
pub use runner::Runner;
pub use store::JobStore;

pub struct JobService {
    pub store: JobStore,
    pub runner: Arc<Runner>,
    clock_offset_ms: Arc<AtomicI64>,
}

impl JobService {
    /// `clock_offset_ms` is the test clock's initial offset (0 outside tests).
    pub fn new(channels: Arc<ChannelRegistry>, clock_offset_ms: i64) -> Arc<JobService> {
        let store = JobStore::new(channels);
        let offset = Arc::new(AtomicI64::new(clock_offset_ms));
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
    /// While loading keeps failing, ticks skip loading for a growing cooldown
    /// (`backoff`, spec 06 §6), logged once when it starts and once when it ends.
    pub fn spawn_scheduler(
        self: &Arc<Self>,
        interval: Duration,
        backoff: BackoffPolicy,
        stop: Receiver<()>,
    ) -> std::io::Result<JoinHandle<()>> {
        let runner = self.runner.clone();
        let mut backoff = Backoff::new(backoff);
        std::thread::Builder::new()
            .name("job-scheduler".into())
            .spawn(move || loop {
                match stop.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) => guarded_tick(&runner, &mut backoff),
                    _ => return,
                }
            })
    }
}

fn guarded_tick(runner: &Runner, backoff: &mut Backoff) {
    if !backoff.ready(std::time::Instant::now()) {
        return;
    }
    match runner.try_tick() {
        Ok(()) => {
            if let Some(n) = backoff.succeeded() {
                log::info!("jobs: loading jobs works again (after {n} failed attempt(s))");
            }
        }
        Err(e) => {
            let f = backoff.failed(std::time::Instant::now(), jitter_unit());
            if f.first {
                log::warn!(
                    "jobs: cannot load jobs ({e}); backing off (next attempt in {} ms, growing while it fails)",
                    f.delay.as_millis()
                );
            } else {
                log::debug!(
                    "jobs: still cannot load jobs ({e}); next attempt in {} ms",
                    f.delay.as_millis()
                );
            }
        }
    }
}

//! The job runner (spec 06 §1.8): in-memory horizons (jobKey → next fire instant) and the
//! in-flight set, behind one `parking_lot::Mutex` that is never held across vault I/O.
//! `load`, `fire`, `persist` and `now` are injected (spec 06 §1.10), so [`Runner::tick`] is
//! tested with a fake clock and no sleeping; the daemon's scheduler thread calls it every
//! tick interval.
//!
//! Policies: first sight only seeds a horizon (no back-fire); a due job fires once on the
//! first tick at or after its slot and its horizon jumps to the next slot after the fire
//! time (missed slots are never replayed); disabled jobs never fire from ticks but keep
//! their horizon; a job mid-fire is skipped by ticks and run-now; horizons are not
//! persisted, so nothing is caught up after a restart. Fires of one tick run sequentially.

use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use parking_lot::Mutex;

use super::cron;
use super::job::Job;
use super::schedule::{job_zone, next_after};

type LoadFn = Box<dyn Fn() -> Result<Vec<Job>, String> + Send + Sync>;
type JobFn = Box<dyn Fn(&Job) -> Result<(), String> + Send + Sync>;
type NowFn = Box<dyn Fn() -> Timestamp + Send + Sync>;

/// The answer of run-now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunNow {
    /// Fired: `"ok"` or `"error: <message>"`.
    Fired(String),
    /// Already mid-fire: its persisted `lastStatus`, or `"already running"`.
    AlreadyRunning(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunNowError {
    UnknownJob,
    Load(String),
}

#[derive(Default)]
struct Memory {
    horizons: HashMap<String, Timestamp>,
    in_flight: HashSet<String>,
}

pub struct Runner {
    load: LoadFn,
    fire: JobFn,
    persist: JobFn,
    now: NowFn,
    memory: Mutex<Memory>,
}

/// The next slot of a job strictly after `at` (`Err` = unschedulable cron or zone).
pub fn next_fire(job: &Job, at: Timestamp) -> Result<Option<Timestamp>, String> {
    let expr = cron::parse(&job.cron)?;
    let tz = job_zone(job.tz.as_deref())?;
    Ok(next_after(&expr, &tz, at))
}

impl Runner {
    pub fn new(load: LoadFn, fire: JobFn, persist: JobFn, now: NowFn) -> Runner {
        Runner {
            load,
            fire,
            persist,
            now,
            memory: Mutex::new(Memory::default()),
        }
    }

    pub fn now(&self) -> Timestamp {
        (self.now)()
    }

    /// One scheduler tick (§1.8 steps 1–4); a load failure is logged.
    pub fn tick(&self) {
        if let Err(e) = self.try_tick() {
            log::warn!("jobs: tick skipped, cannot load jobs: {e}");
        }
    }

    /// One tick; `Err` when the jobs could not be loaded (nothing fired).
    pub fn try_tick(&self) -> Result<(), String> {
        let now = self.now();
        let jobs = (self.load)()?;
        let due: Vec<Job> = {
            let mut mem = self.memory.lock();
            let keys: HashSet<&str> = jobs.iter().map(Job::key).collect();
            mem.horizons.retain(|k, _| keys.contains(k.as_str()));
            let mut due = Vec::new();
            for job in &jobs {
                if !job.enabled || mem.in_flight.contains(job.key()) {
                    continue;
                }
                match mem.horizons.get(job.key()) {
                    Some(h) if *h <= now => {
                        // Claimed under the same lock that decided it is due, so a
                        // run-now between this decision and the fire cannot double-fire.
                        mem.in_flight.insert(job.key().to_string());
                        due.push(job.clone());
                    }
                    Some(_) => {}
                    None => match next_fire(job, now) {
                        Ok(Some(h)) => {
                            mem.horizons.insert(job.key().to_string(), h);
                        }
                        Ok(None) => log::warn!("job {}: no next run; unschedulable", job.id),
                        Err(e) => log::warn!("job {}: unschedulable: {e}", job.id),
                    },
                }
            }
            due
        };
        for job in due {
            self.fire_claimed(job, now);
        }
        Ok(())
    }

    /// Fire one job at `at` (§1.8 "Fire"); `None` if it is already in flight.
    fn fire_job(&self, job: Job, at: Timestamp) -> Option<String> {
        if !self.memory.lock().in_flight.insert(job.key().to_string()) {
            return None;
        }
        Some(self.fire_claimed(job, at))
    }

    /// Fire a job already marked in flight by the caller; returns its status.
    fn fire_claimed(&self, mut job: Job, at: Timestamp) -> String {
        let status = match (self.fire)(&job) {
            Ok(()) => "ok".to_string(),
            Err(e) => format!("error: {e}"),
        };
        log::info!("job {} fired on channel {}: {status}", job.id, job.channel);
        job.last_status = Some(status.clone());
        job.last_run_at = Some(crate::util::time::iso_from_ms(
            at.as_millisecond().max(0) as u64
        ));
        {
            let mut mem = self.memory.lock();
            match next_fire(&job, at) {
                Ok(Some(h)) => {
                    mem.horizons.insert(job.key().to_string(), h);
                }
                _ => {
                    mem.horizons.remove(job.key());
                }
            }
            mem.in_flight.remove(job.key());
        }
        if let Err(e) = (self.persist)(&job) {
            log::warn!("job {}: bookkeeping not saved: {e}", job.id);
        }
        status
    }

    /// Fire the job with slug `id` now, whatever its schedule or `enabled` flag.
    pub fn run_now(&self, id: &str) -> Result<RunNow, RunNowError> {
        let jobs = (self.load)().map_err(RunNowError::Load)?;
        let job = jobs
            .into_iter()
            .find(|j| j.id == id)
            .ok_or(RunNowError::UnknownJob)?;
        let previous = job.last_status.clone();
        match self.fire_job(job, self.now()) {
            Some(status) => Ok(RunNow::Fired(status)),
            None => Ok(RunNow::AlreadyRunning(
                previous.unwrap_or_else(|| "already running".into()),
            )),
        }
    }

    /// The in-memory horizon of a job key (tests, diagnostics).
    pub fn horizon(&self, key: &str) -> Option<Timestamp> {
        self.memory.lock().horizons.get(key).copied()
    }
}

#[cfg(test)]
#[path = "runner_tests.rs"]
mod tests;

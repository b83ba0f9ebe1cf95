//! Runner ticks with a fake clock and fake load/fire/persist (spec 06 §5 "Runner").

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::*;

#[derive(Default)]
struct World {
    jobs: Mutex<Vec<Job>>,
    now: Mutex<Option<Timestamp>>,
    fired: Mutex<Vec<String>>,
    persisted: Mutex<Vec<Job>>,
    load_fails: AtomicBool,
    /// Jobs whose fire fails.
    failing: Mutex<HashSet<String>>,
    /// While set, fires of this job re-enter the runner (an interleaving tick / run-now).
    reenter: Mutex<Option<Arc<Runner>>>,
    reentry_results: Mutex<Vec<Result<RunNow, RunNowError>>>,
}

fn job(id: &str, cron: &str) -> Job {
    Job {
        id: id.into(),
        note_id: format!("Channels/eng/jobs/{id}"),
        channel: "eng".into(),
        message: "go".into(),
        cron: cron.into(),
        tz: Some("UTC".into()),
        enabled: true,
        created_at: String::new(),
        last_run_at: None,
        last_status: None,
        subject: None,
    }
}

fn at(s: &str) -> Timestamp {
    format!("2026-06-17T{s}:00Z").parse().unwrap()
}

fn runner(w: &Arc<World>) -> Arc<Runner> {
    let (wl, wf, wp, wn) = (w.clone(), w.clone(), w.clone(), w.clone());
    Arc::new(Runner::new(
        Box::new(move || {
            if wl.load_fails.load(Ordering::SeqCst) {
                return Err("vault down".into());
            }
            Ok(wl.jobs.lock().clone())
        }),
        Box::new(move |j: &Job| {
            wf.fired.lock().push(j.id.clone());
            let inner = wf.reenter.lock().clone();
            if let Some(r) = inner {
                r.tick();
                let res = r.run_now(&j.id);
                wf.reentry_results.lock().push(res);
            }
            if wf.failing.lock().contains(&j.id) {
                return Err("vault transport: write inbound failed (500) boom".into());
            }
            Ok(())
        }),
        Box::new(move |j: &Job| {
            wp.persisted.lock().push(j.clone());
            Ok(())
        }),
        Box::new(move || wn.now.lock().expect("clock set")),
    ))
}

fn set(w: &World, t: &str) {
    *w.now.lock() = Some(at(t));
}

fn fired(w: &World) -> Vec<String> {
    w.fired.lock().clone()
}

#[test]
fn first_sight_seeds_then_fires_once_per_slot() {
    let w = Arc::new(World::default());
    w.jobs.lock().push(job("hourly", "0 * * * *"));
    let r = runner(&w);
    set(&w, "10:30");
    r.tick();
    assert!(fired(&w).is_empty(), "first sight never fires");
    assert_eq!(r.horizon("Channels/eng/jobs/hourly"), Some(at("11:00")));
    set(&w, "11:00");
    r.tick();
    assert_eq!(fired(&w), vec!["hourly"]);
    let p = w.persisted.lock().clone();
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].last_status.as_deref(), Some("ok"));
    assert_eq!(
        p[0].last_run_at.as_deref(),
        Some("2026-06-17T11:00:00.000Z")
    );
    set(&w, "11:05");
    r.tick();
    assert_eq!(fired(&w).len(), 1);
}

#[test]
fn disabled_jobs_never_fire_but_keep_their_horizon() {
    let w = Arc::new(World::default());
    w.jobs.lock().push(job("j", "0 * * * *"));
    let r = runner(&w);
    set(&w, "10:30");
    r.tick();
    w.jobs.lock()[0].enabled = false;
    for t in ["11:00", "12:00", "13:30"] {
        set(&w, t);
        r.tick();
    }
    assert!(fired(&w).is_empty());
    // Re-enabled after its old horizon passed: fires once, then resumes.
    w.jobs.lock()[0].enabled = true;
    set(&w, "13:40");
    r.tick();
    assert_eq!(fired(&w).len(), 1);
    assert_eq!(r.horizon("Channels/eng/jobs/j"), Some(at("14:00")));
    // A job disabled from first sight never even gets a horizon.
    let w2 = Arc::new(World::default());
    let mut off = job("off", "* * * * *");
    off.enabled = false;
    w2.jobs.lock().push(off);
    let r2 = runner(&w2);
    for t in ["10:00", "10:01", "10:02"] {
        set(&w2, t);
        r2.tick();
    }
    assert!(fired(&w2).is_empty());
}

#[test]
fn missed_slots_fire_once() {
    let w = Arc::new(World::default());
    w.jobs.lock().push(job("j", "0 * * * *"));
    let r = runner(&w);
    set(&w, "05:30");
    r.tick();
    set(&w, "11:30");
    r.tick();
    assert_eq!(fired(&w).len(), 1, "six missed slots, one fire");
    set(&w, "11:45");
    r.tick();
    assert_eq!(fired(&w).len(), 1);
    set(&w, "12:00");
    r.tick();
    assert_eq!(fired(&w).len(), 2);
}

#[test]
fn a_job_mid_fire_is_skipped_by_ticks_and_run_now() {
    let w = Arc::new(World::default());
    w.jobs.lock().push(job("slow", "0 * * * *"));
    let r = runner(&w);
    set(&w, "10:30");
    r.tick();
    *w.reenter.lock() = Some(r.clone());
    set(&w, "11:00");
    r.tick();
    *w.reenter.lock() = None;
    assert_eq!(fired(&w), vec!["slow"], "no double fire while in flight");
    assert_eq!(
        w.reentry_results.lock().clone(),
        vec![Ok(RunNow::AlreadyRunning("already running".into()))]
    );
}

#[test]
fn failures_are_recorded_and_do_not_stop_others() {
    let w = Arc::new(World::default());
    w.jobs.lock().push(job("bad", "0 * * * *"));
    w.jobs.lock().push(job("good", "0 * * * *"));
    w.failing.lock().insert("bad".into());
    let r = runner(&w);
    set(&w, "10:30");
    r.tick();
    set(&w, "11:00");
    r.tick();
    assert_eq!(fired(&w), vec!["bad", "good"]);
    let p = w.persisted.lock().clone();
    assert_eq!(
        p[0].last_status.as_deref(),
        Some("error: vault transport: write inbound failed (500) boom")
    );
    assert_eq!(p[1].last_status.as_deref(), Some("ok"));
    assert_eq!(r.horizon("Channels/eng/jobs/bad"), Some(at("12:00")));
}

#[test]
fn failed_load_is_a_quiet_no_op_and_deleted_jobs_lose_their_horizon() {
    let w = Arc::new(World::default());
    w.jobs.lock().push(job("j", "0 * * * *"));
    let r = runner(&w);
    set(&w, "10:30");
    r.tick();
    w.load_fails.store(true, Ordering::SeqCst);
    set(&w, "11:00");
    r.tick();
    assert!(fired(&w).is_empty());
    assert_eq!(r.horizon("Channels/eng/jobs/j"), Some(at("11:00")));
    w.load_fails.store(false, Ordering::SeqCst);
    w.jobs.lock().clear();
    r.tick();
    assert_eq!(r.horizon("Channels/eng/jobs/j"), None);
    // Unschedulable jobs are skipped without a horizon.
    let mut bad = job("tz", "0 * * * *");
    bad.tz = Some("Mars/Olympus".into());
    w.jobs.lock().push(bad);
    r.tick();
    assert_eq!(r.horizon("Channels/eng/jobs/tz"), None);
}

#[test]
fn run_now_ignores_schedule_and_enabled() {
    let w = Arc::new(World::default());
    let mut j = job("j", "0 0 1 1 *");
    j.enabled = false;
    w.jobs.lock().push(j);
    w.jobs.lock().push(job("bad", "0 0 1 1 *"));
    w.failing.lock().insert("bad".into());
    let r = runner(&w);
    set(&w, "10:07");
    assert_eq!(r.run_now("j"), Ok(RunNow::Fired("ok".into())));
    let p = w.persisted.lock().clone();
    assert_eq!(
        p[0].last_run_at.as_deref(),
        Some("2026-06-17T10:07:00.000Z")
    );
    assert_eq!(r.run_now("nope"), Err(RunNowError::UnknownJob));
    match r.run_now("bad") {
        Ok(RunNow::Fired(s)) => assert!(s.starts_with("error: "), "{s}"),
        other => panic!("{other:?}"),
    }
    w.load_fails.store(true, Ordering::SeqCst);
    assert_eq!(r.run_now("j"), Err(RunNowError::Load("vault down".into())));
}

#[test]
fn a_restart_loses_horizons_and_catches_nothing_up() {
    let w = Arc::new(World::default());
    w.jobs.lock().push(job("j", "0 * * * *"));
    let before = runner(&w);
    set(&w, "10:30");
    before.tick();
    drop(before);
    let after = runner(&w);
    set(&w, "11:30");
    after.tick();
    assert!(fired(&w).is_empty(), "the 11:00 slot passed while down");
    set(&w, "12:00");
    after.tick();
    assert_eq!(fired(&w).len(), 1);
}

//! Poll back-off (spec 06 §6, upstream after rc.10; applied to the job load and the
//! def-vault poll): while a poll keeps failing the attempts spread out exponentially (with
//! jitter) instead of hammering the vault every tick, the log says so once, and once more
//! when it works again; then the poll runs at its interval again.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_vault::{FailRule, FakeVault};

fn attempts(fv: &FakeVault, tag: &str) -> usize {
    fv.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.url.contains(tag))
        .count()
}

/// When each new attempt was seen during `window` (sampled every 10 ms).
fn attempt_times(fv: &FakeVault, tag: &str, window: Duration) -> Vec<Duration> {
    let start = Instant::now();
    let mut seen = attempts(fv, tag);
    let mut times = Vec::new();
    while start.elapsed() < window {
        let n = attempts(fv, tag);
        if n > seen {
            times.extend(std::iter::repeat_n(start.elapsed(), n - seen));
            seen = n;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    times
}

fn lines(d: &Daemon, needle: &str) -> usize {
    d.log().lines().filter(|l| l.contains(needle)).count()
}

/// Attempts under a 30 ms poll with base 200 ms, cap 800 ms: far fewer than the polls,
/// and the gaps grow (200 → 400 → 800 ms, ±20 %).
fn assert_backs_off(times: &[Duration], log: &str) {
    assert!(times.len() >= 4, "too few attempts {times:?}\n{log}");
    assert!(
        times.len() <= 14,
        "no back-off: {} attempts in 3.5 s {times:?}",
        times.len()
    );
    let gaps: Vec<u128> = times
        .windows(2)
        .map(|w| (w[1] - w[0]).as_millis())
        .collect();
    assert!(
        gaps[2] as f64 >= 1.5 * gaps[0] as f64,
        "gaps do not grow: {gaps:?}"
    );
}

fn wait_line(d: &Daemon, needle: &str) {
    assert!(d.wait_log(needle), "no {needle:?} in:\n{}", d.log());
}

#[test]
fn the_job_load_backs_off_while_the_vault_fails_and_resets_on_recovery() {
    let fv = FakeVault::start();
    let b = DaemonBuilder::new()
        .env("PARACHUTE_AGENT_JOB_TICK_MS", "30")
        .env("PARACHUTE_AGENT_BACKOFF_BASE_MS", "200")
        .env("PARACHUTE_AGENT_BACKOFF_CAP_MS", "800");
    let channels = json!({"channels": [{"name": "eng", "transport": "vault", "config": {
        "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}}]});
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(b.state_dir().join("channels.json"), channels.to_string()).unwrap();
    fv.fail(FailRule::always(Some("GET"), "tag=agent%2Fjob", 503));
    let d = b.start();
    let tag = "tag=agent%2Fjob";
    let times = attempt_times(&fv, tag, Duration::from_millis(3500));
    assert_backs_off(&times, &d.log());
    assert_eq!(lines(&d, "jobs: cannot load jobs"), 1, "{}", d.log());
    fv.clear_failures();
    wait_line(&d, "jobs: loading jobs works again");
    // Back at the tick rate.
    let times = attempt_times(&fv, tag, Duration::from_millis(1500));
    assert!(times.len() >= 8, "not reset: {times:?}");
    assert_eq!(lines(&d, "jobs: loading jobs works again"), 1);
    assert_eq!(lines(&d, "jobs: cannot load jobs"), 1);
}

#[test]
fn the_def_vault_poll_backs_off_per_vault_and_resets_on_recovery() {
    let fv = FakeVault::start();
    let b = DaemonBuilder::new()
        .env("PARACHUTE_AGENT_DEF_POLL_MS", "30")
        .env("PARACHUTE_AGENT_BACKOFF_BASE_MS", "200")
        .env("PARACHUTE_AGENT_BACKOFF_CAP_MS", "800");
    std::fs::create_dir_all(b.state_dir()).unwrap();
    let bindings =
        json!({"vaults": [{"vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}]});
    std::fs::write(
        b.state_dir().join("agent-vaults.json"),
        bindings.to_string(),
    )
    .unwrap();
    let d = b.start();
    let tag = "tag=agent%2Fdefinition";
    // Let boot's first load pass, then break the vault.
    let started = Instant::now();
    while attempts(&fv, tag) == 0 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    fv.fail(FailRule::always(Some("GET"), tag, 503));
    let times = attempt_times(&fv, tag, Duration::from_millis(3500));
    assert_backs_off(&times, &d.log());
    assert_eq!(
        lines(&d, "agent-defs: polling def-vault \"default\" failed"),
        1,
        "{}",
        d.log()
    );
    fv.clear_failures();
    wait_line(&d, "agent-defs: def-vault \"default\" answers again");
    let times = attempt_times(&fv, tag, Duration::from_millis(1500));
    assert!(times.len() >= 8, "not reset: {times:?}");
}

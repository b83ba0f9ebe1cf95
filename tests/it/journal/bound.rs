//! The journal stays bounded through a long run, black-box: 10,000 messages go through an
//! http-ui channel's programmatic agent. Its Claude credential is gone, so every turn fails
//! at once without spawning `claude` — the cheapest path that still journals the whole
//! life of a message (`accept` fsynced before the 2xx, `start`, `done` with the outcome).
//! The file must end far below what the records would take without compaction, and a
//! `kill -9` + restart must find nothing to replay.

use std::time::{Duration, Instant};

use super::{http_ui_rig, wait_until};
use crate::programmatic::api::write_credentials;
use crate::support::daemon::DaemonBuilder;

const MESSAGES: usize = 10_000;
const SENDERS: usize = 4;
/// Each message's records take more than this without compaction (its `accept` alone is
/// longer: the queued message's JSON, ids, channel, agent, two time stamps, framing).
const RECORD_BYTES_AT_LEAST: u64 = 200;

#[test]
fn ten_thousand_messages_leave_a_small_journal_and_nothing_to_replay() {
    let mut rig = http_ui_rig(
        DaemonBuilder::new()
            .env("PARACHUTE_AGENT_JOURNAL_COMPACT_BYTES", "65536")
            .env("RUST_LOG", "info"),
    );
    let state = rig.d.state_dir();
    std::fs::remove_file(state.join("credentials.json")).unwrap();
    let t0 = Instant::now();
    std::thread::scope(|s| {
        for sender in 0..SENDERS {
            let rig = &rig;
            s.spawn(move || {
                for i in (sender..MESSAGES).step_by(SENDERS) {
                    let r = rig.send(&format!("m{i}"));
                    assert_eq!(r.status, 200, "message {i}: {}", r.body);
                }
            });
        }
    });
    let health = || rig.d.get("/health", None).json();
    assert!(
        wait_until(Duration::from_secs(60), || health()["journal"]["pending"]
            == 0),
        "every message done: {}",
        health()
    );
    let took = t0.elapsed();
    let h = health();
    let path = state.join("journal/inbound.log");
    let on_disk = std::fs::metadata(&path).unwrap().len();
    let unbounded = MESSAGES as u64 * RECORD_BYTES_AT_LEAST;
    assert!(
        h["journal"]["compactions"].as_u64().unwrap_or(0) > 0,
        "compacted: {h}"
    );
    assert!(
        on_disk < 256 * 1024 && on_disk * 10 < unbounded,
        "{on_disk} bytes on disk (no compaction: more than {unbounded})"
    );
    eprintln!("{MESSAGES} messages in {took:?}; journal {on_disk} bytes");
    // A Claude credential again: anything replayed now would run `claude`.
    write_credentials(&state, serde_json::json!({}));
    rig.d.kill9();
    rig.d.respawn();
    assert!(
        rig.d.wait_log("message(s) pending, read in"),
        "{}",
        rig.d.log()
    );
    let log = rig.d.log();
    let boot = log
        .lines()
        .rev()
        .find(|l| l.contains("journal: ") && l.contains("pending, read in"));
    assert!(
        boot.is_some_and(|l| l.contains(" 0 message(s) pending")),
        "{boot:?}"
    );
    std::thread::sleep(Duration::from_millis(1000));
    assert!(rig.prompts().is_empty(), "nothing was replayed");
    assert!(rig.replies().is_empty());
    assert_eq!(rig.d.get("/health", None).json()["journal"]["pending"], 0);
}

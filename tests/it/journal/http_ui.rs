//! http-ui + programmatic agent: every acknowledged message is answered exactly once, in
//! order, across `kill -9` and SIGTERM; a message that kills the daemon on every attempt
//! is failed visibly after the attempt limit; a torn journal record is cut and reported.

use std::time::Duration;

use super::{http_ui_rig, wait_until};
use crate::support::daemon::DaemonBuilder;

fn msg(i: usize, ms: u32) -> String {
    format!("[fake:sleep:{ms}] m{i:02}")
}

#[test]
fn kill_9_mid_turn_loses_nothing_and_retries_the_in_flight_one_as_attempt_2() {
    let mut rig = http_ui_rig(DaemonBuilder::new());
    for i in 0..20 {
        let r = rig.send(&msg(i, 400));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    // mid-turn: the fifth turn has started and is sleeping
    assert!(wait_until(Duration::from_secs(60), || rig.prompts().len() >= 5));
    rig.d.kill9();
    let started = rig.prompts().len();
    let in_flight = started - 1;
    rig.d.respawn();
    let before = rig.wait_replies(20 - in_flight, Duration::from_secs(90));
    // replies of the first run went to the first run's ring; count them from the calls
    let prompts = rig.prompts();
    assert_eq!(
        prompts.len(),
        21,
        "one extra run, of the in-flight one: {prompts:#?}"
    );
    assert_eq!(prompts[in_flight], msg(in_flight, 400));
    assert_eq!(prompts[in_flight + 1], msg(in_flight, 400), "retried first");
    let mut order: Vec<String> = prompts[..in_flight].to_vec();
    order.extend(prompts[in_flight + 1..].iter().cloned());
    let want: Vec<String> = (0..20).map(|i| msg(i, 400)).collect();
    assert_eq!(
        order, want,
        "each message ran to completion exactly once, in order"
    );
    // the second run answered the in-flight one and everything behind it, once each
    let expect: Vec<String> = (in_flight..20).map(|i| msg(i, 400)).collect();
    assert_eq!(before.len(), expect.len(), "{before:#?}");
    for (r, m) in before.iter().zip(&expect) {
        assert!(r.starts_with(&format!("echo: {m} (turn")), "{r:?} for {m}");
    }
    let log = rig.d.log();
    assert!(
        log.contains("attempt 2 (the daemon stopped during attempt 1)"),
        "log names the retry:\n{log}"
    );
    let h = rig.d.get("/health", None).json();
    assert_eq!(h["journal"]["pending"], 0, "{h}");
}

#[test]
fn sigterm_lets_the_running_turn_finish_and_queued_ones_run_after_restart() {
    let mut rig = http_ui_rig(DaemonBuilder::new().env("PARACHUTE_AGENT_STOP_GRACE_SECS", "15"));
    for i in 0..4 {
        assert_eq!(rig.send(&msg(i, 1500)).status, 200);
    }
    assert!(wait_until(Duration::from_secs(30), || !rig
        .prompts()
        .is_empty()));
    let (code, took) = rig.d.terminate();
    assert_eq!(code, Some(0), "clean exit after the drain");
    assert!(took < Duration::from_secs(10), "took {took:?}");
    assert_eq!(rig.prompts().len(), 1, "no new turn started while draining");
    assert!(rig
        .d
        .log()
        .contains("draining: waiting up to 15 s for 1 running turn(s)"));
    rig.d.respawn();
    let replies = rig.wait_replies(3, Duration::from_secs(60));
    let expect: Vec<String> = (1..4).map(|i| msg(i, 1500)).collect();
    assert_eq!(replies.len(), 3, "{replies:#?}");
    for (r, m) in replies.iter().zip(&expect) {
        assert!(r.starts_with(&format!("echo: {m} (turn")), "{r:?}");
    }
    let prompts = rig.prompts();
    assert_eq!(
        prompts.len(),
        4,
        "the finished turn did not run again: {prompts:#?}"
    );
    assert!(!rig.d.log().contains("attempt 2"));
}

#[test]
fn a_draining_daemon_refuses_new_messages_with_503_and_reports_draining() {
    let mut rig = http_ui_rig(DaemonBuilder::new().env("PARACHUTE_AGENT_STOP_GRACE_SECS", "20"));
    assert_eq!(rig.send("[fake:sleep:4000] long").status, 200);
    assert!(wait_until(Duration::from_secs(30), || !rig
        .prompts()
        .is_empty()));
    let pid = rig.d.child.as_ref().unwrap().id() as i32;
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert!(wait_until(Duration::from_secs(10), || {
        rig.d.get("/health", None).json()["status"] == "draining"
    }));
    let r = rig.send("too late");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.json()["code"], "draining");
    assert_eq!(r.header("retry-after"), Some("5"));
    let (code, _) = rig.d.terminate();
    assert_eq!(code, Some(0));
    rig.d.respawn();
    let replies = rig.wait_replies(1, Duration::from_secs(30));
    assert!(
        !replies.iter().any(|r| r.contains("too late")),
        "{replies:#?}"
    );
}

#[test]
fn a_message_that_kills_the_daemon_every_time_fails_visibly_and_the_queue_continues() {
    let mut rig =
        http_ui_rig(DaemonBuilder::new().env("PARACHUTE_AGENT_JOURNAL_MAX_ATTEMPTS", "2"));
    assert_eq!(rig.send("[fake:hang] poison").status, 200);
    assert_eq!(rig.send(&msg(1, 10)).status, 200);
    for attempt in 1..=2 {
        assert!(
            wait_until(Duration::from_secs(30), || rig.prompts().len() >= attempt),
            "attempt {attempt} started"
        );
        rig.d.kill9(); // what the poison message does to the daemon
        rig.d.respawn();
    }
    let replies = rig.wait_replies(2, Duration::from_secs(60));
    assert_eq!(replies.len(), 2, "{replies:#?}");
    assert!(
        replies[0].contains("gave up after 2 attempt(s)"),
        "the poison message failed visibly: {replies:#?}"
    );
    assert!(replies[1].starts_with(&format!("echo: {} (turn", msg(1, 10))));
    assert_eq!(
        rig.prompts().len(),
        3,
        "poison ran twice, the next one once"
    );
    assert!(rig
        .d
        .log()
        .contains("message failed without a turn: gave up after 2 attempt(s)"));
}

#[test]
fn a_torn_last_journal_record_is_reported_and_earlier_records_survive() {
    let mut rig = http_ui_rig(DaemonBuilder::new());
    assert_eq!(rig.send("[fake:hang] first").status, 200);
    assert!(wait_until(Duration::from_secs(30), || !rig
        .prompts()
        .is_empty()));
    assert_eq!(rig.send("[fake:sleep:10] second").status, 200);
    assert_eq!(rig.send("[fake:sleep:10] third").status, 200);
    rig.d.kill9();
    let path = rig.d.state_dir().join("journal/inbound.log");
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(len - 5).unwrap();
    drop(f);
    rig.d.respawn();
    assert!(
        rig.d.wait_log("journal: torn last record"),
        "{}",
        rig.d.log()
    );
    // the first (hanging) one is retried, "second" survives, the torn "third" is gone
    assert!(wait_until(Duration::from_secs(30), || rig.prompts().len() >= 2));
    let prompts = rig.prompts();
    assert_eq!(prompts[1], "[fake:hang] first");
    let h = rig.d.get("/health", None).json();
    assert_eq!(h["journal"]["pending"], 2, "first and second survive: {h}");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&path).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}

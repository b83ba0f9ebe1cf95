//! API failures with the real CLI: overloads and rate limits go through the CLI's own
//! retries, then the daemon's transient-retry rule; an authentication failure is permanent
//! (one clear failure, no retry storm); a stalled stream ends at the turn timeout.

use std::time::Duration;

use serde_json::json;

use super::*;

const FAST_RETRIES: (&str, &str) = ("PARACHUTE_AGENT_TURN_RETRY_DELAYS_MS", "200,200");

#[test]
fn overload_and_rate_limit_recover_through_the_cli_then_the_daemon_retry() {
    let Some(claude) = real_claude() else { return };
    // CLAUDE_CODE_MAX_RETRIES=1: the CLI tries twice, then reports the failure; the
    // daemon's second attempt gets the answer.
    let script = json!({"main": [{"status": 529, "times": 2}, {"text": "recovered after 529"}]});
    let e = http_ui_env(&claude, &script, &[], &[FAST_RETRIES]);
    e.spawn("bot", json!({}));
    let page = e.page();
    e.send("are you there");
    assert_eq!(next_reply(&page, &e.d)["text"], "recovered after 529");
    assert_eq!(
        e.api.main_requests().len(),
        3,
        "2 CLI attempts + 1 daemon retry"
    );
    assert!(
        e.d.log().contains("transient failure (attempt 1/3)"),
        "the daemon retried: {}",
        e.d.log()
    );

    e.api.set_script(
        &json!({"main": [{"status": 429, "times": 2}, {"text": "recovered after 429"}]}),
    );
    let before = e.api.main_requests().len();
    e.send("and now");
    assert_eq!(next_reply(&page, &e.d)["text"], "recovered after 429");
    assert_eq!(e.api.main_requests().len() - before, 3);
}

#[test]
fn authentication_failure_is_permanent_with_a_clear_reason() {
    let Some(claude) = real_claude() else { return };
    let script = json!({"main": [{"status": 401, "times": 1000, "message": "invalid x-api-key"}]});
    let e = http_ui_env(&claude, &script, &[], &[FAST_RETRIES]);
    e.spawn("bot", json!({}));
    let page = e.page();
    let turns = e.turn_events();
    e.send("hello");
    let events = events_until_end(&turns, &e.d);
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "error", "{events:?}");
    let reason = last["error"].as_str().unwrap();
    assert!(
        reason.contains("Claude authentication failed (API status 401)")
            && reason.contains("POST /api/credentials/claude"),
        "{reason}"
    );
    let reply = next_reply(&page, &e.d);
    assert!(reply["text"].as_str().unwrap().contains("401"), "{reply}");
    // no retry storm: the CLI's own single retry, nothing from the daemon
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        e.api.main_requests().len(),
        2,
        "{:?}",
        e.api.main_requests()
    );
    assert!(!e.d.log().contains("transient failure"), "{}", e.d.log());
}

#[test]
fn a_stalled_stream_ends_at_the_turn_timeout() {
    let Some(claude) = real_claude() else { return };
    let script = json!({"main": [{"stall": true}]});
    let e = http_ui_env(
        &claude,
        &script,
        &[],
        // long enough for the CLI to start and reach the API on a loaded machine
        &[FAST_RETRIES, ("PARACHUTE_AGENT_TURN_TIMEOUT_SECS", "12")],
    );
    e.spawn("bot", json!({}));
    let turns = e.turn_events();
    e.send("hello");
    let events = events_until_end(&turns, &e.d);
    assert_eq!(
        events.last().unwrap(),
        &json!({"kind": "error", "error": "turn timed out after 12s"}),
        "{events:?}"
    );
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(e.api.main_requests().len(), 1, "a timeout is never retried");
    let left = crate::programmatic::turns::processes_with_arg("--dangerously-skip-permissions")
        .into_iter()
        .filter(|pid| {
            std::fs::read_link(format!("/proc/{pid}/cwd"))
                .is_ok_and(|cwd| cwd.starts_with(e.d.state_dir()))
        })
        .count();
    assert_eq!(left, 0, "the timed-out claude is gone");
}

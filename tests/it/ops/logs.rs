//! The default log an operator sees: one line per boot step, per turn and per
//! warning; no DEBUG lines and no HTTP-client internals; journald priorities under
//! systemd; never a secret.

use serde_json::json;

use crate::programmatic::api::{fakes_path, write_credentials};
use crate::support::daemon::{Daemon, DaemonBuilder};

/// A daemon with one http-ui channel `web`, logging at its default level.
pub fn http_ui_daemon(b: DaemonBuilder) -> Daemon {
    let b = b.env("PATH", &fakes_path()).unset("RUST_LOG");
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [{"name": "web", "transport": "http-ui"}]}).to_string(),
    )
    .unwrap();
    write_credentials(&b.state_dir(), json!({}));
    b.start()
}

/// Registers agent `name` on `web` (with extra spawn fields) and sends it one message.
pub fn one_turn(d: &Daemon, admin: &str, name: &str, extra: serde_json::Value) {
    let mut body = json!({"name": name, "channels": ["web"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let r = d.post("/api/agents", Some(admin), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.post(
        "/api/channels/web/send",
        Some(admin),
        &json!({"text": "hello"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn default_log_of_a_boot_and_one_turn_has_no_debug_and_one_turn_line() {
    let d = http_ui_daemon(DaemonBuilder::new());
    let admin = d.mint("agent:admin agent:read agent:send");
    one_turn(&d, &admin, "webbot", json!({}));
    assert!(d.wait_log("turn finished"), "{}", d.log());
    let log = d.log();
    assert!(log.contains("daemon listening on"), "{log}");
    assert!(log.contains("1 channel(s): web→http-ui"), "{log}");
    let turns: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("turn finished"))
        .collect();
    assert_eq!(turns.len(), 1, "{log}");
    let line = turns[0];
    for part in [
        "channel=web",
        "agent=webbot",
        "outcome=ok",
        "attempts=1",
        "duration=",
    ] {
        assert!(line.contains(part), "{part} missing: {line}");
    }
    for l in log.lines() {
        assert!(
            !l.contains("DEBUG") && !l.contains("TRACE"),
            "debug line at the default level: {l}\n{log}"
        );
        assert!(!l.contains("ureq"), "HTTP client internals: {l}");
        assert!(!l.contains("\u{1b}["), "colour escape off a TTY: {l:?}");
    }
    assert!(
        !log.contains("sk-ant-oat01-fake"),
        "a secret in the log:\n{log}"
    );
    assert!(!log.contains(&admin), "a bearer token in the log:\n{log}");
}

#[test]
fn under_journald_every_line_carries_its_priority() {
    let b = DaemonBuilder::new().env("JOURNAL_STREAM", "8:12345");
    let d = http_ui_daemon(b);
    let admin = d.mint("agent:admin agent:read agent:send");
    one_turn(&d, &admin, "webbot", json!({}));
    assert!(d.wait_log("turn finished"), "{}", d.log());
    let log = d.log();
    let mut seen = Vec::new();
    for l in log.lines().filter(|l| !l.is_empty()) {
        let prio = l
            .strip_prefix('<')
            .and_then(|r| r.split_once('>'))
            .map(|(n, _)| n)
            .unwrap_or_else(|| panic!("no <N> prefix: {l:?}\n{log}"));
        assert!(["3", "4", "6"].contains(&prio), "{l}");
        seen.push(prio.to_string());
        // journald stamps lines itself: no timestamp of ours.
        let after = l.split_once('>').unwrap().1;
        assert!(
            after.starts_with(['I', 'W', 'E']),
            "a timestamp or prefix: {l}"
        );
    }
    assert!(seen.contains(&"6".to_string()), "{log}");
    assert!(log.contains("<6>INFO "), "{log}");
}

#[test]
fn under_journald_the_preflight_warning_is_filed_as_a_warning() {
    let empty = tempfile::tempdir().unwrap();
    let d = DaemonBuilder::new()
        .env("JOURNAL_STREAM", "8:12345")
        .env("PATH", &empty.path().display().to_string())
        .unset("RUST_LOG")
        .start();
    assert!(d.wait_log("PREFLIGHT"), "{}", d.log());
    let log = d.log();
    let block: Vec<&str> = log
        .lines()
        .skip_while(|l| !l.contains("PREFLIGHT"))
        .take(3)
        .collect();
    assert_eq!(block.len(), 3, "{log}");
    for l in &block {
        assert!(l.starts_with("<4>"), "not filed as a warning: {l:?}\n{log}");
    }
    assert!(block[1].starts_with("<4>    - "), "{log}");
}

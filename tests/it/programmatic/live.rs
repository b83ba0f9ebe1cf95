//! Turn events over SSE (spec 03 §7), step-up for `filesystem:"full"` spawns, and no
//! orphaned `claude` after the daemon stops mid-turn.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::turns::{processes_with_arg, setup};
use crate::support::sse;

fn ticket(e: &super::turns::Env, token: &str) -> String {
    let r = e.d.post("/api/ui/sse-ticket", Some(token), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["ticket"].as_str().unwrap().to_string()
}

#[test]
fn turn_events_stream_init_text_tool_and_done_per_channel() {
    let e = setup(&[]);
    e.spawn("w");
    e.spawn("boss");
    let r = e.d.get("/api/channels/w/turn-events", None);
    assert_eq!(r.status, 401);
    let read = e.d.mint("agent:read");
    let w_events = sse::connect(
        &e.d.url(&format!(
            "/api/channels/w/turn-events?ticket={}",
            ticket(&e, &read)
        )),
        None,
    )
    .unwrap_or_else(|r| panic!("{} {}", r.status, r.body));
    assert_eq!(w_events.status, 200);
    assert_eq!(w_events.content_type, "text/event-stream");
    let boss_events = sse::connect(
        &e.d.url(&format!(
            "/api/channels/boss/turn-events?ticket={}",
            ticket(&e, &read)
        )),
        None,
    )
    .unwrap();
    e.send("w", "stream me", &[]);
    let mut got = Vec::new();
    while let Some((name, data)) = w_events.next_event(Duration::from_secs(20)) {
        assert_eq!(name, "turn");
        let done = data["kind"] == "done";
        got.push(data);
        if done {
            break;
        }
    }
    let kinds: Vec<&str> = got.iter().map(|v| v["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["init", "text", "tool", "tool_result", "text", "done"]
    );
    assert!(got[0]["sessionId"].as_str().is_some_and(|s| s.len() == 36));
    assert_eq!(got[1], json!({"kind": "text", "text": "Working on it."}));
    assert_eq!(got[2]["tool"], "Bash");
    assert!(got[2]["input"].as_str().unwrap().contains("echo hi"));
    assert_eq!(
        got[3],
        json!({"kind": "tool_result", "tool": "Bash", "ok": true, "preview": "hi"})
    );
    assert_eq!(
        got[5],
        json!({"kind": "done", "reply": "echo: stream me (turn 1)"})
    );
    // a failure ends with exactly one error event
    e.send("w", "[fake:is_error]", &[]);
    let mut last = Value::Null;
    while let Some((_, data)) = w_events.next_event(Duration::from_secs(20)) {
        let end = data["kind"] == "error" || data["kind"] == "done";
        last = data;
        if end {
            break;
        }
    }
    assert_eq!(
        last,
        json!({"kind": "error", "error": "API Error: 401 authentication_failed"})
    );
    // the other channel's subscriber saw nothing
    assert!(boss_events.next_event(Duration::from_millis(200)).is_none());
}

#[test]
fn full_filesystem_spawn_requires_step_up() {
    let e = setup(&[]);
    let body = json!({"name": "full", "channels": ["boss"], "filesystem": "full"});
    let r = e.d.post("/api/agents", Some(&e.admin), &body);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["reason"], "setup");
    let r = e.d.post(
        "/api/step-up/pin",
        Some(&e.admin),
        &json!({"newPin": "4821"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r =
        e.d.post("/api/step-up", Some(&e.admin), &json!({"pin": "4821"}));
    let step = r.json()["stepUpToken"].as_str().unwrap().to_string();
    let r = e.d.post("/api/agents", Some(&e.admin), &body);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, json!("token"))
    );
    let bytes = serde_json::to_vec(&body).unwrap();
    let r = e.d.send(
        "POST",
        "/api/agents",
        Some(&e.admin),
        &[
            ("X-Step-Up-Token", &step),
            ("Content-Type", "application/json"),
        ],
        Some(&bytes),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn stopping_the_daemon_mid_turn_leaves_no_claude_behind() {
    let e = setup(&[]);
    e.spawn("w");
    let marker = format!("[fake:hang-term] {}", parachute_agent::util::rand::uuid());
    e.send("w", &marker, &[]);
    wait_until_running(&marker);
    let super::turns::Env { mut d, fv, .. } = e;
    let (code, took) = d.terminate();
    assert_eq!(code, Some(0), "clean shutdown");
    assert!(took < Duration::from_secs(8), "{took:?}");
    assert_gone_within(
        &marker,
        Duration::from_secs(3),
        "claude outlived the daemon",
    );
    drop(fv);
}

#[test]
fn a_killed_daemon_takes_its_claude_with_it() {
    let e = setup(&[]);
    e.spawn("w");
    let marker = format!("[fake:hang-term] {}", parachute_agent::util::rand::uuid());
    e.send("w", &marker, &[]);
    wait_until_running(&marker);
    let super::turns::Env { mut d, fv, .. } = e;
    let mut child = d.child.take().unwrap();
    child.kill().unwrap(); // SIGKILL: no shutdown code runs
    child.wait().unwrap();
    assert_gone_within(
        &marker,
        Duration::from_secs(10),
        "claude outlived a SIGKILLed daemon",
    );
    drop(fv);
}

/// Waits (20 s at most) until a process whose argv carries `marker` runs.
fn wait_until_running(marker: &str) {
    let t0 = Instant::now();
    while processes_with_arg(marker).is_empty() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "claude never started"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Fails with `what` and the survivors' `/proc/<pid>/status` unless every process whose
/// argv carries `marker` is gone within `limit`.
fn assert_gone_within(marker: &str, limit: Duration, what: &str) {
    let t0 = Instant::now();
    while !processes_with_arg(marker).is_empty() {
        assert!(
            t0.elapsed() < limit,
            "{what}: {}",
            processes_with_arg(marker)
                .iter()
                .map(|p| std::fs::read_to_string(format!("/proc/{p}/status")).unwrap_or_default())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

//! Per-agent limits (beyond the reference): `max_turns`, `max_budget_usd` and
//! `turn_timeout_secs` are validated like the other fields, reach `claude`'s argv only
//! where set, are listed by `GET /api/agents`, and a turn they stop says so in its
//! events, its failure reply and the log.

use std::time::Duration;

use serde_json::{json, Value};

use super::logs::{http_ui_daemon, one_turn};
use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::sse;

fn calls(d: &Daemon, agent: &str) -> Vec<Value> {
    let path = d
        .state_dir()
        .join(format!("sessions/{agent}/fake-claude-calls.jsonl"));
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn turn_line(d: &Daemon, agent: &str) -> String {
    let needle = format!("agent={agent} ");
    for _ in 0..300 {
        if let Some(l) = d
            .log()
            .lines()
            .find(|l| l.contains("turn finished") && l.contains(&needle))
        {
            return l.to_string();
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no turn line for {agent}:\n{}", d.log());
}

#[test]
fn limits_are_validated_like_other_fields() {
    let d = DaemonBuilder::new().start();
    let admin = d.mint("agent:admin");
    for (field, value, error) in [
        (
            "max_turns",
            json!(0),
            "body.max_turns must be a whole number from 1 to 1000",
        ),
        (
            "max_turns",
            json!(2.5),
            "body.max_turns must be a whole number from 1 to 1000",
        ),
        (
            "turn_timeout_secs",
            json!("soon"),
            "body.turn_timeout_secs must be a whole number from 1 to 86400",
        ),
        (
            "max_budget_usd",
            json!(-1),
            "body.max_budget_usd must be a number above 0 and at most 10000",
        ),
        (
            "max_budget_usd",
            json!("lots"),
            "body.max_budget_usd must be a number above 0 and at most 10000",
        ),
    ] {
        let r = d.post(
            "/api/agents",
            Some(&admin),
            &json!({"name": "eng", "channels": ["eng"], field: value}),
        );
        assert_eq!(
            (r.status, r.error()),
            (400, error.to_string()),
            "{field}={value}"
        );
    }
}

#[test]
fn limits_reach_claudes_argv_only_where_set_and_are_listed() {
    let d = http_ui_daemon(DaemonBuilder::new());
    let admin = d.mint("agent:admin agent:read agent:send");
    one_turn(
        &d,
        &admin,
        "capped",
        json!({"max_turns": 5, "max_budget_usd": 2.5, "turn_timeout_secs": 60}),
    );
    assert!(turn_line(&d, "capped").contains("outcome=ok"));
    let argv: Vec<String> = serde_json::from_value(calls(&d, "capped")[0]["argv"].clone()).unwrap();
    let at = argv
        .iter()
        .position(|a| a == "--max-turns")
        .expect("--max-turns");
    assert_eq!(argv[at + 1], "5");
    let at = argv
        .iter()
        .position(|a| a == "--max-budget-usd")
        .expect("--max-budget-usd");
    assert_eq!(argv[at + 1], "2.5");
    let list = d.get("/api/agents", Some(&admin)).json();
    let row = list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "capped")
        .unwrap()
        .clone();
    assert_eq!(
        row["limits"],
        json!({"max_turns": 5, "turn_timeout_secs": 60, "max_budget_usd": 2.5})
    );

    // Without limits: no limit flag at all, no `limits` row.
    d.post("/api/agents/capped", Some(&admin), &json!({}));
    let r = d.send("DELETE", "/api/agents/capped", Some(&admin), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    one_turn(&d, &admin, "plain", json!({}));
    turn_line(&d, "plain");
    let argv: Vec<String> = serde_json::from_value(calls(&d, "plain")[0]["argv"].clone()).unwrap();
    assert!(!argv.iter().any(|a| a.starts_with("--max-")), "{argv:?}");
    let list = d.get("/api/agents", Some(&admin)).json();
    assert!(list["agents"][0].get("limits").is_none(), "{list}");
}

#[test]
fn a_turn_stopped_by_max_turns_says_so_everywhere() {
    let d = http_ui_daemon(DaemonBuilder::new());
    let admin = d.mint("agent:admin agent:read agent:send");
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "short", "channels": ["web"], "max_turns": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let ticket = d
        .post("/api/ui/sse-ticket", Some(&admin), &json!({}))
        .json()["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let page = sse::connect(
        &d.url(&format!("/ui/events?channel=web&ticket={ticket}")),
        None,
    )
    .unwrap_or_else(|r| panic!("{}", r.body));
    let ticket = d
        .post("/api/ui/sse-ticket", Some(&admin), &json!({}))
        .json()["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let turns = sse::connect(
        &d.url(&format!("/api/channels/web/turn-events?ticket={ticket}")),
        None,
    )
    .unwrap();
    let r = d.post(
        "/api/channels/web/send",
        Some(&admin),
        &json!({"text": "a long job"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let reason = "turn stopped by the agent's limit max_turns=1 (error_max_turns)";
    let error = loop {
        let (_, ev) = turns
            .next_event(Duration::from_secs(20))
            .expect("turn events");
        if ev["kind"] == "error" {
            break ev;
        }
        assert_ne!(ev["kind"], "done", "{ev}");
    };
    assert!(error.to_string().contains(reason), "{error}");
    let reply = loop {
        let (name, data) = page
            .next_event(Duration::from_secs(20))
            .expect("a failure reply");
        if name == "reply" {
            break data;
        }
    };
    assert!(reply["text"].as_str().unwrap().contains(reason), "{reply}");
    let line = turn_line(&d, "short");
    assert!(
        line.contains("outcome=limit") && line.contains(reason),
        "{line}"
    );
    assert_eq!(calls(&d, "short").len(), 1, "a limit is never retried");
}

#[test]
fn a_turn_over_its_turn_timeout_is_stopped() {
    let d = http_ui_daemon(DaemonBuilder::new());
    let admin = d.mint("agent:admin agent:read agent:send");
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "slow", "channels": ["web"], "turn_timeout_secs": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let started = std::time::Instant::now();
    let r = d.post(
        "/api/channels/web/send",
        Some(&admin),
        &json!({"text": "[fake:hang] wait"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let line = turn_line(&d, "slow");
    assert!(line.contains("outcome=timeout"), "{line}");
    assert!(
        line.contains("turn timed out after 1s (the agent's turn_timeout_secs)"),
        "{line}"
    );
    // The daemon-wide limit is 1800 s: the agent's own one stopped it.
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
}

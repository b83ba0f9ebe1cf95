//! `GET /metrics`: gated by `agent:read` (or the loopback knob), parsed by the
//! official Prometheus client's text parser after real traffic, with every counter
//! matching what the test did.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use super::logs::{http_ui_daemon, one_turn};
use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::hub::FakeHub;
use crate::support::sse;

/// The parsed families, or `None` (with a visible skip) when `prometheus_client` is
/// missing; under `PARACHUTE_TEST_REQUIRE_ALL=1` a missing parser fails.
fn parse(text: &str) -> Option<Vec<Value>> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/ops/prom_parse.py");
    let mut child = Command::new("python3")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if out.status.code() == Some(3) {
        assert!(
            std::env::var("PARACHUTE_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
            "prometheus_client is required here: pip install prometheus_client"
        );
        eprintln!(
            "SKIP: the prometheus_client Python package is missing (pip install prometheus_client)"
        );
        return None;
    }
    assert!(
        out.status.success(),
        "not valid Prometheus text: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

/// The value of the sample `name` whose labels include all of `labels`.
fn value(families: &[Value], name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<&Value> = families
        .iter()
        .flat_map(|f| f["samples"].as_array().unwrap())
        .filter(|s| s["name"] == name)
        .filter(|s| labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    match &found[0]["value"] {
        Value::String(s) if s == "+Inf" => f64::INFINITY,
        v => v.as_f64().unwrap(),
    }
}

fn family_type(families: &[Value], name: &str) -> String {
    families
        .iter()
        .find(|f| f["name"] == name)
        .unwrap_or_else(|| panic!("family {name} missing"))["type"]
        .as_str()
        .unwrap()
        .to_string()
}

fn wait_turns(d: &Daemon, n: usize) {
    for _ in 0..300 {
        if d.log().matches("turn finished").count() >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("{n} turns did not finish:\n{}", d.log());
}

#[test]
fn metrics_after_real_traffic_parse_and_match() {
    let hub = FakeHub::start();
    let d = http_ui_daemon(DaemonBuilder::new().hub(&hub.origin));
    let admin = d.mint("agent:admin agent:read agent:send");
    // Two turns of `alpha`: one ok, one failing (the fake claude's `fail` scenario).
    one_turn(&d, &admin, "alpha", json!({}));
    wait_turns(&d, 1);
    let r = d.post(
        "/api/channels/web/send",
        Some(&admin),
        &json!({"text": "[fake:fail] please"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    wait_turns(&d, 2);
    // Webhooks: two malformed inbound bodies, one definition reload without a token.
    for _ in 0..2 {
        let r = d.send("POST", "/api/vault/inbound", None, &[], Some(b"{nope"));
        assert_eq!(r.status, 400);
    }
    let def = d.post("/api/vault/agent-def?vault=default", None, &json!({}));
    let def_result = match def.status {
        200..=299 => "accepted",
        401 | 403 => "unauthorized",
        404 => "not_found",
        400..=499 => "bad_request",
        _ => "error",
    };
    // Auth failures: no token, a garbage token, a token without agent:read, an expired
    // hub token.
    assert_eq!(d.get("/metrics", None).status, 401);
    assert_eq!(d.get("/metrics", Some("garbage")).status, 401);
    assert_eq!(d.get("/metrics", Some(&d.mint("agent:send"))).status, 403);
    let expired = hub.token("agent:read", json!({"exp": 1_000_000, "iat": 999_000}));
    assert_eq!(d.get("/metrics", Some(&expired)).status, 401);
    // One open /events stream.
    let stream = sse::connect(&d.url("/events?channel=web"), Some(&admin)).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let r = d.get("/metrics", Some(&hub.token("agent:read", json!({}))));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        r.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")),
        "{:?}",
        r.headers
    );
    let Some(f) = parse(&r.body) else { return };
    drop(stream);
    let v = |name: &str, labels: &[(&str, &str)]| value(&f, name, labels);
    assert_eq!(family_type(&f, "parachute_agent_turns"), "counter");
    assert_eq!(
        v(
            "parachute_agent_turns_total",
            &[("agent", "alpha"), ("outcome", "ok")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "parachute_agent_turns_total",
            &[("agent", "alpha"), ("outcome", "failed")]
        ),
        1.0
    );
    assert_eq!(
        v(
            "parachute_agent_turns_total",
            &[("agent", "alpha"), ("outcome", "timeout")]
        ),
        0.0
    );
    assert_eq!(
        family_type(&f, "parachute_agent_turn_duration_seconds"),
        "histogram"
    );
    let h = "parachute_agent_turn_duration_seconds";
    assert_eq!(v(&format!("{h}_count"), &[("agent", "alpha")]), 2.0);
    assert_eq!(
        v(
            &format!("{h}_bucket"),
            &[("agent", "alpha"), ("le", "+Inf")]
        ),
        2.0
    );
    assert!(v(&format!("{h}_sum"), &[("agent", "alpha")]) > 0.0);
    assert_eq!(v("parachute_agent_queue_depth", &[("agent", "alpha")]), 0.0);
    assert_eq!(
        v("parachute_agent_turns_running", &[("agent", "alpha")]),
        0.0
    );
    assert_eq!(
        v("parachute_agent_sse_subscribers", &[("stream", "events")]),
        1.0
    );
    assert_eq!(
        v("parachute_agent_mcp_sessions", &[("channel", "web")]),
        0.0
    );
    let hooks = "parachute_agent_webhooks_total";
    assert_eq!(
        v(hooks, &[("webhook", "inbound"), ("result", "bad_request")]),
        2.0
    );
    assert_eq!(
        v(hooks, &[("webhook", "inbound"), ("result", "accepted")]),
        0.0
    );
    assert_eq!(
        v(hooks, &[("webhook", "agent-def"), ("result", def_result)]),
        1.0
    );
    let auth = "parachute_agent_auth_failures_total";
    // `/metrics` without a token, and the reload webhook if its gate refused it.
    let gate_refusals = if def_result == "unauthorized" {
        2.0
    } else {
        1.0
    };
    assert_eq!(v(auth, &[("reason", "missing_token")]), gate_refusals);
    assert_eq!(v(auth, &[("reason", "invalid_token")]), 1.0);
    assert_eq!(v(auth, &[("reason", "insufficient_scope")]), 1.0);
    assert_eq!(v(auth, &[("reason", "expired")]), 1.0);
    // The hub token's validation fetched the fake hub's JWKS: at least one timed call.
    let up = "parachute_agent_upstream_request_duration_seconds";
    assert!(
        v(&format!("{up}_count"), &[("upstream", "hub")]) >= 1.0,
        "{}",
        r.body
    );
    assert_eq!(
        v(
            "parachute_agent_upstream_errors_total",
            &[("upstream", "hub")]
        ),
        0.0
    );
    assert_eq!(
        v(
            "parachute_agent_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert!(
        !r.body.contains("parachute_agent_journal_backlog")
            || r.body
                .contains("# TYPE parachute_agent_journal_backlog gauge")
    );
}

#[test]
fn the_loopback_knob_opens_metrics_without_a_token_but_not_through_a_proxy() {
    let d = DaemonBuilder::new().start();
    assert_eq!(d.get("/metrics", None).status, 401, "closed by default");
    drop(d);
    let d = DaemonBuilder::new()
        .env("PARACHUTE_AGENT_METRICS_OPEN", "1")
        .start();
    let r = d.get("/metrics", None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("# TYPE parachute_agent_build_info gauge"));
    let proxied = d.send(
        "GET",
        "/metrics",
        None,
        &[("X-Forwarded-For", "203.0.113.9")],
        None,
    );
    assert_eq!(
        proxied.status, 401,
        "a forwarded request still needs agent:read"
    );
    // A presented token is still checked.
    assert_eq!(d.get("/metrics", Some("garbage")).status, 401);
}

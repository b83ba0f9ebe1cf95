//! An open `/events`, `/ui/events`, turn-events or MCP GET stream
//! outlived the expiry, rotation or revocation of the token that opened it. Now the stream
//! re-validates its token every `PARACHUTE_AGENT_SSE_AUTH_CHECK_SECS` and ends with an
//! `event: error` once it no longer holds.

use std::time::Duration;

use serde_json::json;

use super::state_common::{assert_health_fast, assert_same, snapshot, wait_channel};
use crate::mcp::client::McpClient;
use crate::support::daemon::{mint_in, Daemon, DaemonBuilder};
use crate::support::sse::{self, SseClient};

fn daemon() -> Daemon {
    let b = DaemonBuilder::new().env("PARACHUTE_AGENT_SSE_AUTH_CHECK_SECS", "1");
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [{"name": "web", "transport": "http-ui"}]}).to_string(),
    )
    .unwrap();
    let d = b.start();
    wait_channel(&d, "web");
    d
}

/// The stream ends with `event: error` (unauthorized) within `within`.
fn ends_with_error(s: &SseClient, within: Duration) {
    let (name, data) = s
        .next_event(within)
        .expect("an event: error before the end");
    assert_eq!(name, "error", "{data}");
    assert_eq!(data["error"], "unauthorized", "{data}");
    assert!(
        s.closed_within(Duration::from_secs(2)),
        "the stream ends after it"
    );
}

#[test]
fn events_stream_ends_when_its_token_expires() {
    let d = daemon();
    let short = mint_in(&d.state_dir(), "agent:read", "3s");
    // The one message delivered below advances delivery-state.json; nothing else changes.
    let before = snapshot(&d.state_dir(), &["delivery-state.json"]);
    let s = sse::connect(&d.url("/events?channel=web"), Some(&short))
        .unwrap_or_else(|r| panic!("{}", r.body));
    // Still delivering while the token holds.
    let send = d.mint("agent:send");
    let r = d.post(
        "/api/channels/web/send",
        Some(&send),
        &json!({"text": "hi"}),
    );
    assert_eq!(r.status, 200);
    let (name, _) = s.next_event(Duration::from_secs(2)).expect("message");
    assert_eq!(name, "message");
    ends_with_error(&s, Duration::from_secs(10));
    assert_health_fast(&d);
    assert_same(&before, &snapshot(&d.state_dir(), &["delivery-state.json"]));
}

#[test]
fn events_stream_ends_after_token_rotate() {
    let d = daemon();
    let token = d.mint("agent:read");
    let s = sse::connect(&d.url("/events?channel=web"), Some(&token))
        .unwrap_or_else(|r| panic!("{}", r.body));
    assert!(
        !s.closed_within(Duration::from_millis(1500)),
        "open while valid"
    );
    let out = d.run_cli(&["token", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The daemon notices the key change within 5 s; the stream within one check more.
    ends_with_error(&s, Duration::from_secs(15));
    assert_health_fast(&d);
}

#[test]
fn ticket_streams_end_when_the_minting_token_expires() {
    let d = daemon();
    let short = mint_in(&d.state_dir(), "agent:read", "3s");
    let ticket = |d: &Daemon| {
        let r = d.post("/api/ui/sse-ticket", Some(&short), &json!({}));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["ticket"].as_str().unwrap().to_string()
    };
    let ui = sse::connect(
        &d.url(&format!("/ui/events?channel=web&ticket={}", ticket(&d))),
        None,
    )
    .unwrap_or_else(|r| panic!("{}", r.body));
    let turns = sse::connect(
        &d.url(&format!(
            "/api/channels/web/turn-events?ticket={}",
            ticket(&d)
        )),
        None,
    )
    .unwrap_or_else(|r| panic!("{}", r.body));
    ends_with_error(&ui, Duration::from_secs(10));
    ends_with_error(&turns, Duration::from_secs(3));
    assert_health_fast(&d);
}

#[test]
fn mcp_push_stream_ends_when_its_token_expires() {
    let d = daemon();
    let short = mint_in(&d.state_dir(), "agent:read", "3s");
    let mut c = McpClient::new(&d, "web", Some(&short));
    c.initialize();
    let stream = c.open_stream().map_err(|e| e.body).unwrap();
    let last = stream
        .next(Duration::from_secs(10))
        .expect("an error event");
    assert_eq!(last["error"], "unauthorized", "{last}");
    assert!(stream.ended_within(Duration::from_secs(2)));
    assert_health_fast(&d);
}

//! `/events`, `/ui/events` and the http-ui `/send` (spec 05 §2, §7): fan-out to both kinds
//! of subscriber, `/health` counts, reaping of a vanished subscriber, channel isolation,
//! the send route's errors, and the recent-messages ring [ext].

use std::time::Duration;

use serde_json::{json, Value};

use super::{add_channel, clients, daemon, eventually, health, RawSse, ALL};
use crate::support::daemon::Daemon;

const WAIT: Duration = Duration::from_secs(5);

/// A one-time SSE ticket minted with `token`.
fn ticket(d: &Daemon, token: &str) -> String {
    let r = d.post("/api/ui/sse-ticket", Some(token), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["ticket"].as_str().unwrap().to_string()
}

fn ui_path(channel: &str, ticket: &str) -> String {
    format!("/ui/events?channel={channel}&ticket={ticket}")
}

#[test]
fn a_send_reaches_events_and_ui_subscribers_and_health_counts_them() {
    let d = daemon();
    let tok = d.mint(ALL);
    add_channel(&d, &tok, "web", "http-ui");
    add_channel(&d, &tok, "other", "http-ui");

    let mut bridge = RawSse::open(d.port, "/events?channel=web", Some(&tok));
    assert!(bridge.head.starts_with("HTTP/1.1 200"), "{}", bridge.head);
    assert!(bridge
        .head
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream"));
    let mut page = RawSse::open(d.port, &ui_path("web", &ticket(&d, &tok)), None);
    let mut elsewhere = RawSse::open(d.port, "/events?channel=other", Some(&tok));

    // `/health` counts `/events` subscribers only (not UI pages).
    assert!(eventually(WAIT, || clients(&d, "web") == Some(1)));
    let h = health(&d);
    assert_eq!(h["total_clients"], 2);
    assert_eq!(clients(&d, "other"), Some(1));

    let r = d.post(
        "/api/channels/web/send",
        Some(&tok),
        &json!({"text": "hello web"}),
    );
    assert_eq!((r.status, r.json()), (200, json!({"ok": true})));
    let msg = bridge
        .event("message", WAIT)
        .expect("message event on /events");
    assert_eq!(msg["content"], "hello web");
    assert_eq!(msg["source"], "http-ui");
    assert_eq!(msg["meta"]["source"], "http-ui");
    assert_eq!(msg["meta"]["ts"].as_str().unwrap().len(), 24, "{msg}");

    // The session answers through the bridge REST route; the page gets the reply.
    let r = d.post(
        "/api/reply",
        Some(&tok),
        &json!({"channel": "web", "text": "hi human", "files": ["/tmp/x.png"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let sent = r.json()["sent"].as_array().unwrap().clone();
    assert_eq!(sent.len(), 1, "{}", r.body);
    let id = sent[0].as_str().unwrap();
    let reply = page
        .event("reply", WAIT)
        .expect("reply event on /ui/events");
    assert_eq!(
        reply,
        json!({"id": id, "text": "hi human", "files": ["/tmp/x.png"]})
    );

    // edit and permission reach the page too.
    let r = d.post(
        "/api/edit",
        Some(&tok),
        &json!({"channel": "web", "message_id": id, "text": "edited"}),
    );
    assert_eq!(r.json(), json!({"ok": true}));
    assert_eq!(
        page.event("edit", WAIT),
        Some(json!({"id": id, "text": "edited"}))
    );
    let r = d.post(
        "/api/permission",
        Some(&tok),
        &json!({"channel": "web", "request_id": "abcde", "tool_name": "Bash", "description": "run ls", "input_preview": "ls"}),
    );
    assert_eq!(r.json(), json!({"sent": ["abcde"]}));
    assert_eq!(
        page.event("permission", WAIT),
        Some(
            json!({"request_id": "abcde", "tool_name": "Bash", "description": "run ls", "input_preview": "ls"})
        )
    );

    // Nothing crossed over to the other channel.
    assert!(
        !elsewhere.wait_for("event:", Duration::from_millis(300)),
        "{}",
        elsewhere.text()
    );

    // The ring buffer [ext] keeps the exchange, oldest first, with the edit applied.
    let msgs = d.get("/api/channels/web/messages", Some(&tok)).json()["messages"].clone();
    let rows: Vec<(Value, Value, Value)> = msgs
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["direction"].clone(),
                m["text"].clone(),
                m["sender"].clone(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            (json!("inbound"), json!("hello web"), json!("operator")),
            (json!("outbound"), json!("edited"), json!("agent")),
        ]
    );
    assert_eq!(msgs[1]["id"], id);
    assert_eq!(msgs[1]["files"], json!(["/tmp/x.png"]));
    assert_eq!(
        d.get("/api/channels/other/messages", Some(&tok)).json(),
        json!({"messages": []})
    );
    assert_eq!(d.get("/api/channels/web/messages", None).status, 401);
    let r = d.get("/api/channels/ghost/messages", Some(&tok));
    assert_eq!(r.status, 404);
    assert!(
        r.error().starts_with("unknown channel \"ghost\""),
        "{}",
        r.body
    );
}

#[test]
fn ui_events_needs_a_live_http_ui_channel_and_a_fresh_ticket() {
    let d = daemon();
    let tok = d.mint(ALL);
    add_channel(&d, &tok, "web", "http-ui");
    // Unknown channel: 404 and the ticket is not consumed.
    let t = ticket(&d, &tok);
    let r = d.get(&ui_path("nope", &t), None);
    assert_eq!((r.status, r.error()), (404, "not found".into()));
    let _ok = RawSse::open(d.port, &ui_path("web", &t), None);
    // Reuse → 401; a JWT in ?token= is not accepted.
    let r = d.get(&ui_path("web", &t), None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["message"], "valid one-time SSE ticket required");
    let r = d.get(&format!("/ui/events?channel=web&token={tok}"), None);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn a_vanished_subscriber_is_reaped_and_others_keep_receiving() {
    let d = daemon();
    let tok = d.mint(ALL);
    add_channel(&d, &tok, "web", "http-ui");
    let quitter = RawSse::open(d.port, "/events?channel=web", Some(&tok));
    let mut stayer = RawSse::open(d.port, "/events?channel=web", Some(&tok));
    assert!(eventually(WAIT, || clients(&d, "web") == Some(2)));
    drop(quitter);
    // Keepalives run every second here: the dead socket fails a write and is dropped.
    assert!(
        eventually(Duration::from_secs(8), || clients(&d, "web") == Some(1)),
        "a disconnected subscriber was never reaped: {}",
        health(&d)
    );
    assert_eq!(health(&d)["total_clients"], 1);
    let r = d.post(
        "/api/channels/web/send",
        Some(&tok),
        &json!({"text": "after"}),
    );
    assert_eq!(r.status, 200);
    assert!(stayer.wait_for("after", WAIT));
    assert!(
        stayer.wait_for(":\n\n", Duration::from_secs(3)),
        "no keepalive comment"
    );
}

#[test]
fn http_ui_send_checks_auth_and_body() {
    let d = daemon();
    let admin = d.mint("agent:admin");
    add_channel(&d, &admin, "web", "http-ui");
    let read = d.mint("agent:read");
    let mut sub = RawSse::open(d.port, "/events?channel=web", Some(&read));
    let body = json!({"text": "x"});
    assert_eq!(d.post("/api/channels/web/send", None, &body).status, 401);
    let write = d.mint("agent:write");
    let r = d.post("/api/channels/web/send", Some(&write), &body);
    assert_eq!((r.status, r.error()), (403, "insufficient_scope".into()));
    let send = d.mint("agent:send");
    let raw = |b: &[u8]| {
        d.send(
            "POST",
            "/api/channels/web/send",
            Some(&send),
            &[("content-type", "application/json")],
            Some(b),
        )
    };
    assert_eq!(raw(b"{bad").error(), "invalid JSON body");
    assert_eq!(raw(b"null").error(), "invalid JSON body");
    for bad in [
        json!({"text": ""}),
        json!({"text": 5}),
        json!({"text": ["a"]}),
        json!({}),
        json!(3),
    ] {
        let r = d.post("/api/channels/web/send", Some(&send), &bad);
        assert_eq!(
            (r.status, r.error()),
            (400, "body must be { text: <non-empty string> }".into()),
            "{bad}"
        );
    }
    // Whitespace-only is accepted.
    assert_eq!(
        d.post("/api/channels/web/send", Some(&send), &json!({"text": " "}))
            .status,
        200
    );
    assert_eq!(sub.event("message", WAIT).unwrap()["content"], " ");
    assert!(
        !sub.wait_for("\"content\":\"x\"", Duration::from_millis(200)),
        "a refused send was emitted"
    );
    // Another channel's path is not owned; unknown → 404.
    assert_eq!(
        d.post("/api/channels/zzz/send", Some(&send), &body).status,
        404
    );
}

//! Vault channels, black-box against the fake vault (issue 5 "Inbound", "Outbound",
//! "Transcript"): the daemon runs with a `vault` channel in `channels.json`, the fake vault's
//! trigger engine posts to `/api/vault/inbound` with the bearer it was registered with, and
//! the daemon's `/events` subscribers see what the routing fork delivered.

use std::time::Duration;

use parachute_agent::channels::transport::OutboundArgs;
use parachute_agent::channels::Transport;
use parachute_agent::vault::notes::{self, TAG_INBOUND, TAG_MESSAGE, TAG_OUTBOUND};
use parachute_agent::vault::VaultTransport;
use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_vault::FakeVault;
use crate::support::sse;

const SECRET: &str = "s3cret-webhook";
const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(400);

/// A daemon with vault channels `eng` (with a webhook secret) and `ops` (JWT only).
fn setup(fv: &FakeVault) -> Daemon {
    setup_with(fv, DaemonBuilder::new())
}

fn setup_with(fv: &FakeVault, b: DaemonBuilder) -> Daemon {
    let channels = json!({"channels": [
        {"name": "eng", "transport": "vault", "config": {
            "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN, "webhookSecret": SECRET}},
        {"name": "ops", "transport": "vault", "config": {
            "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}}
    ]});
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(b.state_dir().join("channels.json"), channels.to_string()).unwrap();
    b.start()
}

/// The per-vault inbound trigger of spec 02 §4.6, pointed at this daemon.
fn register_inbound_trigger(fv: &FakeVault, d: &Daemon, name: &str) {
    fv.register_trigger(
        "default",
        json!({"name": name, "events": ["created"],
               "when": {"tags": [TAG_INBOUND], "has_metadata": ["agent"],
                        "missing_metadata": ["channel_inbound_rendered_at"]},
               "action": {"webhook": d.url("/api/vault/inbound"), "send": "json",
                          "auth": {"bearer": d.mint("agent:send")}}}),
    )
    .unwrap();
}

fn subscribe(d: &Daemon, channel: &str) -> sse::SseClient {
    let c = sse::connect(
        &d.url(&format!("/events?channel={channel}")),
        Some(&d.mint("agent:read")),
    )
    .unwrap_or_else(|r| panic!("events: {} {}", r.status, r.body));
    assert_eq!(c.status, 200);
    c
}

fn inbound_note(channel: &str, text: &str, ts: &str) -> Value {
    let (_, body) = notes::inbound_message_body("channel", channel, text, "operator", ts, &[]);
    body
}

fn webhook(note: Value) -> Value {
    json!({"trigger": "conn_agentinbound-default", "event": "created", "note": note})
}

fn post_raw(
    d: &Daemon,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let r = d.send("POST", path, token, headers, Some(body));
    (r.status, r.body)
}

#[test]
fn note_created_in_vault_reaches_channel_subscribers_once() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    register_inbound_trigger(&fv, &d, "conn_agentinbound-default");
    let events = subscribe(&d, "eng");
    let ts = parachute_agent::util::time::now_iso();
    let note = fv.create_note("default", inbound_note("eng", "hello agent", &ts));
    let id = note["id"].as_str().unwrap().to_string();

    let (name, data) = events.next_event(WAIT).expect("message event");
    assert_eq!(name, "message");
    assert_eq!(data["content"], "hello agent");
    assert_eq!(data["source"], "vault");
    let meta = &data["meta"];
    assert_eq!(meta["note_id"], Value::String(id.clone()));
    assert_eq!(meta["agent"], "eng");
    assert_eq!(meta["source"], "vault");
    assert_eq!(meta["sender"], "operator");
    assert_eq!(meta["direction"], "inbound");
    assert_eq!(meta["ts"], Value::String(ts.clone()));
    assert!(meta.get("channel").is_none());

    // The webhook was answered 2xx with JSON: the vault wrote the rendered marker.
    assert!(fv.wait_until(WAIT, |fv| fv
        .note("default", &id)
        .is_some_and(|n| n["metadata"]
            .get("conn_agentinbound-default_rendered_at")
            .is_some())));
    let deliveries = fv.hook_deliveries();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].status, Some(200));

    // A second trigger on the same note fires its own webhook: deduplicated by markSeen.
    register_inbound_trigger(&fv, &d, "channel_inbound_eng");
    fv.patch_note(
        "default",
        &id,
        json!({"metadata": {"touched": "1"}, "force": true}),
    );
    let second = json!({"trigger": "channel_inbound_eng", "event": "created",
                        "note": fv.note("default", &id).unwrap()});
    let r = d.post("/api/vault/inbound", Some(&d.mint("agent:send")), &second);
    assert_eq!((r.status, r.json()), (200, json!({"ok": true})));
    assert!(
        events.next_event(QUIET).is_none(),
        "a duplicate must not wake twice"
    );

    // Delivered to a live subscriber → the delivery mark advanced to the note's ts.
    let marks: Value = serde_json::from_str(
        &std::fs::read_to_string(d.state_dir().join("delivery-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(marks["eng"], Value::String(ts));
}

#[test]
fn same_webhook_delivered_twice_wakes_once() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    let events = subscribe(&d, "eng");
    let token = d.mint("agent:send");
    let body = webhook(
        json!({"id": "n-dup", "content": "once", "tags": [TAG_MESSAGE, TAG_INBOUND],
                              "metadata": {"agent": "eng", "sender": "operator", "ts": "2030-01-01T00:00:00.000Z"}}),
    );
    for _ in 0..2 {
        let r = d.post("/api/vault/inbound", Some(&token), &body);
        assert_eq!((r.status, r.json()), (200, json!({"ok": true})));
    }
    let (_, data) = events.next_event(WAIT).expect("first delivery");
    assert_eq!(data["content"], "once");
    assert!(
        events.next_event(QUIET).is_none(),
        "second delivery must be acked silently"
    );
    // Legacy routing key `channel` still routes; numbers are flattened to strings.
    let legacy = webhook(
        json!({"id": "n-legacy", "content": "old", "metadata": {"channel": "eng", "delegation_depth": 2}}),
    );
    assert_eq!(
        d.post("/api/vault/inbound", Some(&token), &legacy).status,
        200
    );
    let (_, data) = events.next_event(WAIT).expect("legacy delivery");
    assert_eq!(data["meta"]["delegation_depth"], "2");
    assert_eq!(data["meta"]["agent"], "eng");
}

#[test]
fn outbound_notes_are_dropped() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    let events = subscribe(&d, "eng");
    let token = d.mint("agent:send");
    let tagged = webhook(
        json!({"id": "o1", "content": "my reply", "tags": [TAG_MESSAGE, TAG_OUTBOUND],
                                "metadata": {"agent": "eng"}}),
    );
    let directed = webhook(
        json!({"id": "o2", "content": "my reply", "metadata": {"agent": "eng", "direction": "outbound"}}),
    );
    for body in [tagged, directed] {
        let r = d.post("/api/vault/inbound", Some(&token), &body);
        assert_eq!((r.status, r.json()), (200, json!({"ok": true})));
    }
    assert!(
        events.next_event(QUIET).is_none(),
        "our own replies never wake the channel"
    );
}

#[test]
fn bad_bodies_are_400_before_auth() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    let cases: [(&[u8], &str); 4] = [
        (b"{not json", "invalid JSON body"),
        (b"{}", "body must include note.id"),
        (br#"{"note":{"id":""}}"#, "body must include note.id"),
        (
            br#"{"note":{"id":"x","metadata":{"agent":""}}}"#,
            "note.metadata.agent (or legacy channel) is required to route the message",
        ),
    ];
    for (body, error) in cases {
        let (status, text) = post_raw(&d, "/api/vault/inbound", None, &[], body);
        assert_eq!(status, 400, "{text}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"error": error})
        );
    }
}

#[test]
fn wrong_or_missing_credentials_get_the_uniform_401() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    let events = subscribe(&d, "eng");
    let body = |id: &str, ch: &str| {
        webhook(json!({"id": id, "content": "x", "metadata": {"agent": ch}})).to_string()
    };
    let uniform = |status: u16, text: String, what: &str| {
        assert_eq!(status, 401, "{what}: {text}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"error": "unauthorized"}),
            "{what}"
        );
    };
    let b = body("a1", "eng");
    let (s, t) = post_raw(&d, "/api/vault/inbound", None, &[], b.as_bytes());
    uniform(s, t, "no credentials");
    let (s, t) = post_raw(
        &d,
        "/api/vault/inbound?secret=wrong",
        None,
        &[],
        b.as_bytes(),
    );
    uniform(s, t, "wrong secret");
    let (s, t) = post_raw(&d, "/api/vault/inbound?secret=", None, &[], b.as_bytes());
    uniform(s, t, "empty ?secret= wins over the header");
    let (s, t) = post_raw(
        &d,
        "/api/vault/inbound",
        None,
        &[("X-Channel-Webhook-Secret", "s3cret-webhoo")],
        b.as_bytes(),
    );
    uniform(s, t, "secret of another length");
    let ops = body("a2", "ops");
    let (s, t) = post_raw(
        &d,
        &format!("/api/vault/inbound?secret={SECRET}"),
        None,
        &[],
        ops.as_bytes(),
    );
    uniform(s, t, "channel without a secret");
    let nochan = body("a3", "nope");
    let (s, t) = post_raw(
        &d,
        &format!("/api/vault/inbound?secret={SECRET}"),
        None,
        &[],
        nochan.as_bytes(),
    );
    uniform(s, t, "unknown channel, secret path");
    let (s, t) = post_raw(
        &d,
        "/api/vault/inbound",
        Some(&d.mint("agent:send")),
        &[],
        nochan.as_bytes(),
    );
    uniform(s, t, "unknown channel, valid token");
    let (s, t) = post_raw(
        &d,
        "/api/vault/inbound",
        Some("not-a-jwt"),
        &[],
        b.as_bytes(),
    );
    uniform(s, t, "garbage bearer");
    let (s, t) = post_raw(
        &d,
        "/api/vault/inbound",
        Some(&d.mint("agent:read")),
        &[],
        b.as_bytes(),
    );
    uniform(s, t, "agent:read only");
    let (s, t) = post_raw(
        &d,
        &format!("/api/vault/inbound?secret={SECRET}"),
        None,
        &[("Authorization", "Bearer  ")],
        b.as_bytes(),
    );
    uniform(
        s,
        t,
        "a blank Authorization header never falls back to the secret",
    );
    assert!(events.next_event(QUIET).is_none(), "nothing was delivered");

    // The right secret works, by query or by header.
    let (s, _) = post_raw(
        &d,
        &format!("/api/vault/inbound?secret={SECRET}"),
        None,
        &[],
        b.as_bytes(),
    );
    assert_eq!(s, 200);
    let hb = body("a4", "eng");
    let (s, _) = post_raw(
        &d,
        "/api/vault/inbound",
        None,
        &[("X-Channel-Webhook-Secret", SECRET)],
        hb.as_bytes(),
    );
    assert_eq!(s, 200);
    assert!(events.next_event(WAIT).is_some());
    assert!(events.next_event(WAIT).is_some());
    assert!(d.wait_log("DEPRECATED ?secret= shared secret"));
}

#[test]
fn chat_send_writes_an_inbound_note_and_the_trigger_wakes_once() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    register_inbound_trigger(&fv, &d, "conn_agentinbound-default");
    let events = subscribe(&d, "eng");
    let send = d.mint("agent:send");

    let r = d.post("/api/channels/eng/send", None, &json!({"text": "hi"}));
    assert_eq!(r.status, 401);
    let r = d.post(
        "/api/channels/eng/send",
        Some(&d.mint("agent:write")),
        &json!({"text": "hi"}),
    );
    assert_eq!(r.status, 403);
    let r = d.post("/api/channels/eng/send", Some(&send), &json!({"text": ""}));
    assert_eq!(
        (r.status, r.error()),
        (400, "body must be { text: <non-empty string> }".to_string())
    );
    let (s, t) = post_raw(&d, "/api/channels/eng/send", Some(&send), &[], b"{oops");
    assert_eq!(
        (s, serde_json::from_str::<Value>(&t).unwrap()),
        (400, json!({"error": "invalid JSON body"}))
    );
    assert!(
        fv.notes("default").is_empty(),
        "rejected sends write nothing"
    );

    let r = d.post(
        "/api/channels/eng/send",
        Some(&send),
        &json!({"text": "hello from the UI"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let note = fv.note("default", &id).expect("note written");
    assert_eq!(note["tags"], json!([TAG_MESSAGE, TAG_INBOUND]));
    assert_eq!(note["metadata"]["agent"], "eng");
    assert_eq!(note["metadata"]["sender"], "operator");
    assert_eq!(note["metadata"]["direction"], "inbound");
    assert!(note["path"].as_str().unwrap().starts_with("channel/eng/"));
    let (_, data) = events.next_event(WAIT).expect("the trigger is the wake");
    assert_eq!(data["meta"]["note_id"], Value::String(id));
    assert!(
        events.next_event(QUIET).is_none(),
        "the send itself does not emit"
    );

    // Vault down: 500 with the reference's error text, nothing written.
    fv.set_down(true);
    let r = d.post(
        "/api/channels/eng/send",
        Some(&send),
        &json!({"text": "lost?"}),
    );
    assert_eq!(r.status, 500);
    assert!(
        r.error()
            .starts_with("Error: vault transport: write inbound failed"),
        "{}",
        r.body
    );
    fv.set_down(false);
    assert_eq!(fv.notes("default").len(), 1);
    // A non-vault or unknown channel falls through to 404.
    assert_eq!(
        d.post(
            "/api/channels/nope/send",
            Some(&send),
            &json!({"text": "x"})
        )
        .status,
        404
    );
}

fn transport(fv: &FakeVault, name: &str) -> VaultTransport {
    let cfg = json!({"vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN});
    VaultTransport::new(name, cfg.as_object()).unwrap()
}

#[test]
fn reply_writes_an_outbound_note_with_both_tags() {
    let fv = FakeVault::start();
    let t = transport(&fv, "eng");
    let mut args = OutboundArgs {
        text: Some("done!".into()),
        ..Default::default()
    };
    args.meta.insert("in_reply_to".into(), json!("n-123"));
    args.meta.insert("thread".into(), json!("th-9"));
    let sent = t.reply(&args).unwrap();
    assert_eq!(sent.len(), 1);
    let note = fv.note("default", &sent[0]).expect("reply note");
    assert_eq!(note["tags"], json!([TAG_MESSAGE, TAG_OUTBOUND]));
    assert_eq!(note["content"], "done!");
    let meta = note["metadata"].as_object().unwrap();
    assert_eq!(meta["agent"], "eng");
    assert_eq!(meta["direction"], "outbound");
    assert_eq!(meta["sender"], "session");
    assert_eq!(meta["in_reply_to"], "n-123");
    assert_eq!(meta["thread"], "th-9");
    assert!(meta["ts"].as_str().unwrap().ends_with('Z'));
    assert!(!meta.contains_key("channel"));
    let post = fv
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    assert_eq!(post.url, "/vault/default/api/notes");
    assert_eq!(
        post.header("authorization"),
        Some("Bearer fake-vault-write-token")
    );

    // Vault down: an error, nothing reported as sent, nothing written.
    fv.set_down(true);
    let err = t.reply(&args).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("vault transport: write reply failed"),
        "{err}"
    );
    fv.set_down(false);
    // Vault refuses: the status is in the error.
    fv.fail(crate::support::fake_vault::FailRule::always(
        Some("POST"),
        "/api/notes",
        503,
    ));
    let err = t.reply(&args).unwrap_err();
    assert!(err.to_string().contains("(503)"), "{err}");
    assert_eq!(fv.notes_tagged("default", TAG_OUTBOUND).len(), 1);
}

#[test]
fn transcript_returns_the_newest_messages_in_order() {
    let fv = FakeVault::start();
    let t = transport(&fv, "eng");
    // 1,200 messages of `eng` interleaved with 400 of `ops`; ts increase with creation.
    let base = 1_900_000_000_000u64;
    for i in 0..1600u64 {
        let ts = parachute_agent::util::time::iso_from_ms(base + i * 1000);
        let (channel, text) = if i % 4 == 3 {
            ("ops", format!("ops {i}"))
        } else {
            ("eng", format!("eng {i}"))
        };
        let body = if i % 2 == 0 {
            inbound_note(channel, &text, &ts)
        } else {
            notes::outbound_message_body("channel", channel, &text, &ts, None, None).1
        };
        fv.create_note("default", body);
    }
    let msgs = t.transcript().unwrap();
    assert_eq!(msgs.len(), 200);
    let expected: Vec<String> = (0..1600u64)
        .filter(|i| i % 4 != 3)
        .map(|i| format!("eng {i}"))
        .collect();
    let got: Vec<&str> = msgs.iter().map(|m| m["text"].as_str().unwrap()).collect();
    assert_eq!(
        got,
        expected[expected.len() - 200..]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert!(msgs
        .windows(2)
        .all(|w| w[0]["ts"].as_str() < w[1]["ts"].as_str()));
    assert_eq!(msgs.last().unwrap()["text"], "eng 1598");
    assert_eq!(msgs.last().unwrap()["direction"], "inbound");
    assert_eq!(msgs[msgs.len() - 2]["direction"], "outbound");
    // Newest first from the vault; ascending in the answer.
    let list = fv
        .requests()
        .into_iter()
        .find(|r| r.method == "GET")
        .unwrap();
    assert_eq!(
        list.url,
        "/vault/default/api/notes?tag=agent%2Fmessage&include_content=true&limit=800&sort=desc"
    );
    fv.set_down(true);
    let err = t.transcript().unwrap_err();
    assert!(
        err.to_string()
            .starts_with("vault transport: load transcript failed"),
        "{err}"
    );
}

#[test]
fn tag_schema_is_declared_once_per_vault_on_connect() {
    let fv = FakeVault::start();
    fv.add_vault("quiet");
    let b = DaemonBuilder::new();
    let channels = json!({"channels": [
        {"name": "eng", "transport": "vault", "config": {"vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}},
        {"name": "ops", "transport": "vault", "config": {"vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}},
        {"name": "q", "transport": "vault", "config": {"vault": "quiet", "vaultUrl": fv.url(), "token": FakeVault::TOKEN,
                                                       "declareSchemaOnStart": false}}
    ]});
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(b.state_dir().join("channels.json"), channels.to_string()).unwrap();
    let _d = b.start();
    let puts = |fv: &FakeVault| {
        fv.requests()
            .into_iter()
            .filter(|r| r.method == "PUT")
            .collect::<Vec<_>>()
    };
    assert!(fv.wait_until(WAIT, |fv| puts(fv).len() >= 7));
    std::thread::sleep(QUIET);
    let puts = puts(&fv);
    assert_eq!(puts.len(), 7, "two channels on one vault declare once");
    assert!(puts
        .iter()
        .all(|r| r.url.starts_with("/vault/default/api/tags/")));
    assert_eq!(
        puts[4].url,
        "/vault/default/api/tags/agent%2Fmessage%2Foutbound"
    );
    assert_eq!(
        fv.tag("default", "agent/thread").unwrap()["parent_names"],
        json!(["agent"])
    );
}

#[test]
fn inline_attachments_are_listed_and_a_list_failure_still_delivers() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    let events = subscribe(&d, "eng");
    let token = d.mint("agent:send");
    let note = fv.create_note(
        "default",
        inbound_note("eng", "see pic", "2030-01-01T00:00:00.000Z"),
    );
    let id = note["id"].as_str().unwrap().to_string();
    fv.add_attachment("default", &id, "2030-01-01/pic.png", "image/png", b"PNG");
    let mut inline = fv.note("default", &id).unwrap();
    inline["attachments"] = json!([{"path": "2030-01-01/pic.png", "mimeType": "image/png"}]);
    let payload = webhook(inline);
    assert_eq!(
        d.post("/api/vault/inbound", Some(&token), &payload).status,
        200
    );
    assert!(events.next_event(WAIT).is_some());
    let listed = fv
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "GET" && r.url == format!("/vault/default/api/notes/{id}/attachments")
        })
        .count();
    assert_eq!(listed, 1);
    // The authoritative list fails (note gone): the message is still delivered.
    let gone = webhook(
        json!({"id": "gone-1", "content": "still here", "metadata": {"agent": "eng"},
                              "attachments": [{"path": "x/y.png", "mimeType": "image/png"}]}),
    );
    assert_eq!(
        d.post("/api/vault/inbound", Some(&token), &gone).status,
        200
    );
    let (_, data) = events
        .next_event(WAIT)
        .expect("delivered without attachments");
    assert_eq!(data["content"], "still here");
    // No inline attachments → no list call.
    fv.clear_requests();
    let plain = webhook(
        json!({"id": "plain-1", "content": "p", "metadata": {"agent": "eng"}, "attachments": []}),
    );
    assert_eq!(
        d.post("/api/vault/inbound", Some(&token), &plain).status,
        200
    );
    assert!(events.next_event(WAIT).is_some());
    assert!(fv.requests().is_empty());
}

#[test]
fn bridge_reply_over_http_writes_the_outbound_note() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    let write = d.mint("agent:write");
    let body = json!({"channel": "eng", "text": "on it", "meta": {"in_reply_to": "n-42"}});
    let r = d.post("/api/reply", Some(&write), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let sent = r.json()["sent"].as_array().cloned().unwrap();
    assert_eq!(sent.len(), 1);
    let note = fv
        .note("default", sent[0].as_str().unwrap())
        .expect("outbound note");
    assert_eq!(note["tags"], json!([TAG_MESSAGE, TAG_OUTBOUND]));
    assert_eq!(note["metadata"]["in_reply_to"], "n-42");
    assert_eq!(note["metadata"]["sender"], "session");

    // Vault down: the caller gets an error and nothing is reported as sent.
    fv.set_down(true);
    let r = d.post("/api/reply", Some(&write), &body);
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(
        r.error()
            .starts_with("Error: vault transport: write reply failed"),
        "{}",
        r.body
    );
    assert!(r.json().get("sent").is_none());
    fv.set_down(false);
    assert_eq!(fv.notes_tagged("default", TAG_OUTBOUND).len(), 1);
}

#[test]
fn messages_route_returns_the_newest_transcript() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    let base = 1_900_000_000_000u64;
    for i in 0..1050u64 {
        let ts = parachute_agent::util::time::iso_from_ms(base + i * 10);
        fv.create_note("default", inbound_note("eng", &format!("m{i}"), &ts));
    }
    let read = d.mint("agent:read");
    let r = d.get("/api/channels/eng/messages", Some(&read));
    assert_eq!(r.status, 200, "{}", r.body);
    let msgs = r.json()["messages"].as_array().cloned().unwrap();
    assert_eq!(msgs.len(), 200);
    assert_eq!(msgs[0]["text"], "m850");
    assert_eq!(msgs[199]["text"], "m1049");
    assert_eq!(
        msgs[0]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .len(),
        5,
        "id, text, direction, sender, ts (no inReplyTo on inbound notes)"
    );
    assert_eq!(d.get("/api/channels/eng/messages", None).status, 401);
    assert_eq!(
        d.get("/api/channels/nope/messages", Some(&read)).status,
        404
    );
    fv.set_down(true);
    let r = d.get("/api/channels/eng/messages", Some(&read));
    assert_eq!(r.status, 502, "{}", r.body);
    assert!(
        r.error()
            .starts_with("Error: vault transport: load transcript failed"),
        "{}",
        r.body
    );
}

#[test]
fn channel_api_validates_hot_adds_and_swaps_the_secret() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    let admin = d.mint("agent:admin");
    let r = d.post(
        "/api/channels",
        Some(&admin),
        &json!({"name": "new", "transport": "vault", "config": {"vault": "default"}}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        "invalid channel config: VaultTransport: config.token (vault:<name>:write JWT) is required"
    );
    let r = d.post(
        "/api/channels",
        Some(&admin),
        &json!({"name": "new", "transport": "vault"}),
    );
    assert_eq!(
        r.error(),
        "invalid channel config: VaultTransport: config.vault (vault name) is required"
    );

    // Hot-add with a secret: the webhook works at once; replacing the secret retires the old.
    let add = |secret: &str| {
        let r = d.post(
            "/api/channels",
            Some(&admin),
            &json!({"name": "new", "transport": "vault", "config": {
                "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN, "webhookSecret": secret}}),
        );
        assert_eq!(
            (r.status, r.json()["live"].clone()),
            (200, json!(true)),
            "{}",
            r.body
        );
    };
    add("first-secret");
    let events = subscribe(&d, "new");
    let b1 =
        webhook(json!({"id": "h1", "content": "hot", "metadata": {"agent": "new"}})).to_string();
    let (s, _) = post_raw(
        &d,
        "/api/vault/inbound?secret=first-secret",
        None,
        &[],
        b1.as_bytes(),
    );
    assert_eq!(s, 200);
    assert_eq!(events.next_event(WAIT).unwrap().1["content"], "hot");
    add("second-secret");
    let b2 = webhook(json!({"id": "h2", "content": "x", "metadata": {"agent": "new"}})).to_string();
    let (s, _) = post_raw(
        &d,
        "/api/vault/inbound?secret=first-secret",
        None,
        &[],
        b2.as_bytes(),
    );
    assert_eq!(s, 401, "the replaced secret stops working");
    let (s, _) = post_raw(
        &d,
        "/api/vault/inbound?secret=second-secret",
        None,
        &[],
        b2.as_bytes(),
    );
    assert_eq!(s, 200);
    let listed = d.get("/api/channels", Some(&admin)).json();
    let row = listed["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "new")
        .cloned()
        .unwrap();
    assert_eq!(
        row,
        json!({"name": "new", "transport": "vault", "vault": "default"})
    );
    assert!(!listed.to_string().contains("secret") && !listed.to_string().contains("token"));
}

#[test]
fn no_subscriber_no_delivery_mark() {
    let fv = FakeVault::start();
    let d = setup(&fv);
    let token = d.mint("agent:send");
    let body = webhook(json!({"id": "m1", "content": "x",
                              "metadata": {"agent": "ops", "ts": "2031-01-01T00:00:00.000Z"}}));
    assert_eq!(
        d.post("/api/vault/inbound", Some(&token), &body).status,
        200
    );
    let events = subscribe(&d, "eng");
    let body = webhook(json!({"id": "m2", "content": "y",
                              "metadata": {"agent": "eng", "ts": "2031-01-02T00:00:00.000Z"}}));
    assert_eq!(
        d.post("/api/vault/inbound", Some(&token), &body).status,
        200
    );
    assert!(events.next_event(WAIT).is_some());
    let marks: Value = serde_json::from_str(
        &std::fs::read_to_string(d.state_dir().join("delivery-state.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(marks, json!({"eng": "2031-01-02T00:00:00.000Z"}));
}

#[test]
fn transcript_reaches_past_other_channels_notes() {
    let fv = FakeVault::start();
    let t = transport(&fv, "eng");
    let base = 1_900_000_000_000u64;
    for i in 0..100u64 {
        let ts = parachute_agent::util::time::iso_from_ms(base + i);
        fv.create_note("default", inbound_note("eng", &format!("eng {i}"), &ts));
    }
    for i in 0..2500u64 {
        let ts = parachute_agent::util::time::iso_from_ms(base + 1000 + i);
        fv.create_note("default", inbound_note("ops", &format!("ops {i}"), &ts));
    }
    let msgs = t.transcript().unwrap();
    assert_eq!(
        msgs.len(),
        100,
        "older messages of a quiet channel are still found"
    );
    assert_eq!(msgs[0]["text"], "eng 0");
    assert_eq!(msgs[99]["text"], "eng 99");
    let pages = fv
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .count();
    assert_eq!(pages, 4, "800-note pages until the vault ran out");
}

#[test]
fn hub_tokens_agent_send_and_legacy_channel_send_route_inbound() {
    let hub = crate::support::hub::FakeHub::start();
    let fv = FakeVault::start();
    let d = setup_with(&fv, DaemonBuilder::new().hub(&hub.origin));
    let events = subscribe(&d, "eng");
    for (i, scope) in ["agent:send", "channel:send"].iter().enumerate() {
        let body = webhook(
            json!({"id": format!("hub-{i}"), "content": scope, "metadata": {"agent": "eng"}}),
        );
        let r = d.post(
            "/api/vault/inbound",
            Some(&hub.token(scope, json!({}))),
            &body,
        );
        assert_eq!(r.status, 200, "{scope}: {}", r.body);
        assert_eq!(events.next_event(WAIT).unwrap().1["content"], *scope);
    }
    let body = webhook(json!({"id": "hub-x", "content": "x", "metadata": {"agent": "eng"}}));
    for token in [
        hub.token("agent:read agent:write", json!({})),
        hub.token_wrong_key("agent:send"),
    ] {
        let r = d.post("/api/vault/inbound", Some(&token), &body);
        assert_eq!(
            (r.status, r.json()),
            (401, json!({"error": "unauthorized"}))
        );
    }
}

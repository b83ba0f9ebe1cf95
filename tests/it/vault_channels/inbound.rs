//! `POST /api/vault/inbound` (spec 02 §3): routing, dedup, outbound drop, the 400s before
//! auth, the uniform 401, attachments, delivery marks.

use super::*;

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
fn a_note_delivered_before_a_restart_is_not_delivered_again() {
    let fv = FakeVault::start();
    let mut d = setup(&fv);
    register_inbound_trigger(&fv, &d, "conn_agentinbound-default");
    let events = subscribe(&d, "eng");
    let ts = parachute_agent::util::time::now_iso();
    let note = fv.create_note("default", inbound_note("eng", "once only", &ts));
    let id = note["id"].as_str().unwrap().to_string();
    let (_, data) = events.next_event(WAIT).expect("delivered");
    assert_eq!(data["content"], "once only");
    // One nobody received (`ops` has no subscriber) is not remembered: it still can be.
    let unheard = fv.create_note("default", inbound_note("ops", "unheard", &ts));
    let unheard = unheard["id"].as_str().unwrap().to_string();
    assert!(fv.wait_until(WAIT, |fv| fv.hook_deliveries().len() == 2));
    drop(events);
    d.kill9();
    d.respawn();
    let events = subscribe(&d, "eng");
    let ops = subscribe(&d, "ops");
    let again = |id: &str| {
        let body = json!({"trigger": "channel_inbound_eng", "event": "created",
                          "note": fv.note("default", id).unwrap()});
        let r = d.post("/api/vault/inbound", Some(&d.mint("agent:send")), &body);
        assert_eq!((r.status, r.json()), (200, json!({"ok": true})));
    };
    again(&id);
    assert!(
        events.next_event(QUIET).is_none(),
        "delivered before the restart: not again"
    );
    assert!(d
        .log()
        .contains("was taken care of already (the journal knows it, also across a restart)"));
    again(&unheard);
    let (_, data) = ops.next_event(WAIT).expect("never received before");
    assert_eq!(data["content"], "unheard");
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

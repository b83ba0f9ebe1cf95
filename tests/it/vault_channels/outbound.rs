//! The daemon writing to the vault (spec 02 §1.2 #1/#2/#6/#11, §6): chat send, bridge
//! replies, transcripts (newest first), tag schema on connect, the channel API.

use parachute_agent::channels::transport::OutboundArgs;
use parachute_agent::channels::vault::VaultTransport;
use parachute_agent::channels::Transport;

use super::*;

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

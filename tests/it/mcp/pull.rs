//! The pull surface of an attached agent (spec 05 §1.8.2, spec 03 §6) through MCP: the
//! queue in the vault, claims, replies, release, the TTL sweep, the routing fork, and the
//! official MCP Python SDK as a real client.

use std::process::Command;
use std::time::Duration;

use serde_json::{json, Value};

use super::client::McpClient;
use super::rig::{self, deliver, inbound, PROMPT};

fn meta(r: &rig::Rig, id: &str) -> Value {
    r.fv.note("default", id).unwrap()["metadata"].clone()
}

#[test]
fn pull_tools_drive_the_vault_queue() {
    let r = rig::start(true, &[]);
    let d = &r.d;
    let a = inbound(&r.fv, "eng", "first   question", "2026-01-01T00:00:01.000Z");
    let b = inbound(&r.fv, "eng", "second", "2026-01-01T00:00:02.000Z");
    let mut c = McpClient::new(d, "eng", Some(&d.mint("agent:read agent:write")));
    let init = c.initialize();
    assert!(init["instructions"]
        .as_str()
        .unwrap()
        .contains("next-message"));
    assert_eq!(
        c.tool_names(),
        ["pending", "next-message", "reply", "release"]
    );

    let (text, err) = c.call("pending", json!({}));
    assert!(!err, "{text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["count"], 2);
    assert_eq!(p["items"][0], json!({"id": a, "preview": "first question"}));

    let (text, _) = c.call("next-message", json!({}));
    let m: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        m,
        json!({"id": a, "text": "first   question", "inReplyTo": a, "systemPrompt": PROMPT})
    );
    assert_eq!(meta(&r, &a)["status"], "in-flight");

    let (text, err) = c.call("reply", json!({"inReplyTo": a, "text": "the answer"}));
    assert!(!err, "{text}");
    let out_id = text
        .strip_prefix("replied + marked handled (outbound id: ")
        .and_then(|t| t.strip_suffix(')'))
        .expect(&text);
    let out = r.fv.note("default", out_id).unwrap();
    assert_eq!(out["content"], "the answer");
    assert_eq!(out["metadata"]["in_reply_to"], Value::String(a.clone()));
    assert_eq!(out["metadata"]["agent"], "eng");
    assert_eq!(out["metadata"]["sender"], "session");
    assert_eq!(meta(&r, &a)["status"], "handled");

    let (text, _) = c.call("next-message", json!({}));
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["id"],
        Value::String(b.clone())
    );
    assert_eq!(
        c.call("release", json!({})),
        ("release requires an id".into(), true)
    );
    let (text, err) = c.call("release", json!({"id": b}));
    assert_eq!(
        (text, err),
        (format!("released {b} back to pending"), false)
    );
    assert_eq!(meta(&r, &b)["status"], "pending");
    assert_eq!(
        c.call("react", json!({})),
        ("unknown channel tool: react".into(), true)
    );

    // read-only token: pending allowed, writes refused, vault untouched
    let mut ro = McpClient::new(d, "eng", Some(&d.mint("agent:read")));
    ro.initialize();
    assert!(!ro.call("pending", json!({})).1);
    let (text, err) = ro.call("next-message", json!({}));
    assert!(err && text.contains("agent:write"), "{text}");
    assert_eq!(meta(&r, &b)["status"], "pending");
    // empty queue
    c.call("next-message", json!({}));
    let (text, _) = c.call("next-message", json!({}));
    assert_eq!(text, r#"{"message":null,"note":"no pending messages"}"#);
}

#[test]
fn racing_sessions_claim_each_message_once() {
    let r = rig::start(true, &[]);
    for i in 0..10 {
        inbound(
            &r.fv,
            "eng",
            &format!("m{i}"),
            &format!("2026-01-01T00:00:{i:02}.000Z"),
        );
    }
    let token = r.d.mint("agent:read agent:write");
    let got: Vec<Vec<String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..3)
            .map(|_| {
                let (d, token) = (&r.d, &token);
                s.spawn(move || {
                    let mut c = McpClient::new(d, "eng", Some(token));
                    c.initialize();
                    let mut mine = Vec::new();
                    loop {
                        let (text, err) = c.call("next-message", json!({}));
                        assert!(!err, "{text}");
                        let v: Value = serde_json::from_str(&text).unwrap();
                        match v["text"].as_str() {
                            Some(t) => mine.push(t.to_string()),
                            None => return mine,
                        }
                    }
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<String> = got.into_iter().flatten().collect();
    all.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(all, want, "each message claimed exactly once");
}

#[test]
fn expired_claims_return_after_a_sweep_and_nothing_is_fanned_out() {
    let r = rig::start(
        true,
        &[
            ("PARACHUTE_AGENT_SWEEP_MS", "100"),
            ("PARACHUTE_AGENT_CLAIM_TTL_MS", "300"),
        ],
    );
    let d = &r.d;
    let a = inbound(&r.fv, "eng", "claim me", "2026-01-01T00:00:01.000Z");
    let mut c = McpClient::new(d, "eng", Some(&d.mint("agent:read agent:write")));
    c.initialize();
    let stream = c.open_stream().map_err(|e| e.body).unwrap();
    c.call("next-message", json!({}));
    assert_eq!(meta(&r, &a)["status"], "in-flight");
    assert!(
        rig::wait(5, || meta(&r, &a)["status"] == "pending"),
        "claim not released by the sweep"
    );
    assert_eq!(meta(&r, &a)["claimedAt"], "");
    // routing fork step 1: an inbound for an attached channel is not pushed anywhere
    let note = r.fv.note("default", &a).unwrap();
    assert_eq!(deliver(d, &note), 200);
    assert!(stream.next(Duration::from_millis(400)).is_none());
}

#[test]
fn switching_backend_takes_effect_without_restart() {
    let r = rig::start(true, &[]);
    let d = &r.d;
    let token = d.mint("agent:read agent:write");
    let mut pull = McpClient::new(d, "eng", Some(&token));
    pull.initialize();
    // switch the definition to programmatic through the reload webhook
    let def =
        r.fv.notes_tagged("default", "agent/definition")
            .into_iter()
            .next()
            .unwrap();
    let id = def["id"].as_str().unwrap().to_string();
    r.fv.patch_note(
        "default",
        &id,
        json!({"metadata": {"backend": "programmatic"}, "force": true}),
    );
    let hook = json!({"trigger": "agent_def", "event": "updated", "note": {"id": id}});
    let resp = d.post(
        "/api/vault/agent-def?vault=default",
        Some(&d.mint("agent:send")),
        &hook,
    );
    assert!(resp.status == 200, "{} {}", resp.status, resp.body);
    assert!(
        rig::wait(10, || {
            let (text, err) = pull.call("pending", json!({}));
            err && text.contains("has no attached-backend agent")
        }),
        "pull tools still served after the switch"
    );
    let mut fresh = McpClient::new(d, "eng", Some(&token));
    fresh.initialize();
    assert_eq!(
        fresh.tool_names()[0],
        "reply",
        "a new session gets the push surface"
    );
}

/// The official MCP Python SDK (`pip install "mcp<2"`) as a real Streamable-HTTP client.
#[test]
fn official_python_sdk_runs_the_pull_loop() {
    let probe = Command::new("python3").args(["-c", "import mcp"]).output();
    if !probe.map(|o| o.status.success()).unwrap_or(false) {
        assert!(
            std::env::var("PARACHUTE_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
            "the MCP Python SDK is required here (PARACHUTE_TEST_REQUIRE_ALL=1): pip install \"mcp<2\""
        );
        eprintln!(
            "SKIPPED official_python_sdk_runs_the_pull_loop: `python3 -c \"import mcp\"` failed; \
             install the SDK with: pip install \"mcp<2\""
        );
        return;
    }
    let r = rig::start(true, &[]);
    let a = inbound(
        &r.fv,
        "eng",
        "question for the SDK",
        "2026-01-01T00:00:01.000Z",
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp_sdk/client.py");
    let out = Command::new("python3")
        .args([
            script,
            &r.d.url("/mcp/eng"),
            &r.d.mint("agent:read agent:write"),
            "sdk answer",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "client.py failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["server_name"], "agent-eng");
    assert_eq!(
        seen["tools"],
        json!(["pending", "next-message", "reply", "release"])
    );
    assert_eq!(seen["pending_before"]["count"], 1);
    assert_eq!(seen["claimed"]["id"], Value::String(a.clone()));
    assert_eq!(seen["claimed"]["systemPrompt"], PROMPT);
    assert_eq!(seen["reply_is_error"], false);
    assert_eq!(seen["pending_after"]["count"], 0);
    assert_eq!(seen["unknown_tool"]["isError"], true);
    assert_eq!(meta(&r, &a)["status"], "handled");
    let out_note =
        r.fv.notes_tagged("default", "agent/message/outbound")
            .into_iter()
            .find(|n| n["content"] == "sdk answer")
            .expect("outbound note written by the SDK's reply");
    assert_eq!(out_note["metadata"]["in_reply_to"], Value::String(a));
    // the SDK deletes its session on exit
    assert!(rig::wait(5, || rig::mcp_sessions(&r.d, "eng") == 0));
}

#[test]
fn daemon_restart_loses_nothing() {
    let mut r = rig::start(true, &[]);
    let a = inbound(
        &r.fv,
        "eng",
        "claimed before the restart",
        "2026-01-01T00:00:01.000Z",
    );
    let b = inbound(&r.fv, "eng", "still pending", "2026-01-01T00:00:02.000Z");
    let token = r.d.mint("agent:read agent:write");
    let mut c = McpClient::new(&r.d, "eng", Some(&token));
    c.initialize();
    c.call("next-message", json!({}));
    let sid = c.session.clone().unwrap();
    drop(c);
    r.d.restart();
    // the same session id keeps working once the definition's channel is back
    let mut c = McpClient::new(&r.d, "eng", Some(&token));
    c.session = Some(sid);
    assert!(
        rig::wait(10, || c
            .post_raw(
                &json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
                super::client::ACCEPT_BOTH
            )
            .status
            == 200),
        "old session not served after restart:\n{}",
        r.d.log()
    );
    assert_eq!(meta(&r, &a)["status"], "in-flight");
    let (text, _) = c.call("pending", json!({}));
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["items"][0]["id"],
        Value::String(b)
    );
    let (text, err) = c.call("reply", json!({"inReplyTo": a, "text": "after restart"}));
    assert!(!err, "{text}");
    assert_eq!(meta(&r, &a)["status"], "handled");
}

//! The push surface on a plain (non-attached) vault channel, with the scripted client:
//! auth and challenge, initialize, transport checks, tools, JSON vs SSE framing.

use serde_json::{json, Value};

use super::client::{sse_messages, McpClient, ACCEPT_BOTH};
use super::rig::{self, mcp_sessions};

#[test]
fn auth_gate_and_challenge() {
    let r = rig::start(false, &[]);
    let d = &r.d;
    let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}});
    let body = serde_json::to_vec(&init).unwrap();
    let no_token = d.send("POST", "/mcp/plain", None, &[], Some(&body));
    assert_eq!(no_token.status, 401);
    assert_eq!(no_token.error(), "unauthorized");
    let challenge = no_token.header("www-authenticate").expect("challenge");
    let want = format!(
        "Bearer resource_metadata=\"http://127.0.0.1:{}/.well-known/oauth-protected-resource/mcp/plain\"",
        d.port
    );
    assert_eq!(challenge, want);
    let doc = d.get("/.well-known/oauth-protected-resource/mcp/plain", None);
    assert_eq!(doc.status, 200);

    let fwd = d.send(
        "GET",
        "/mcp/plain",
        Some("garbage"),
        &[
            ("x-forwarded-host", "h.example"),
            ("x-forwarded-proto", "https"),
        ],
        None,
    );
    assert_eq!(fwd.status, 401);
    assert_eq!(
        fwd.header("www-authenticate"),
        Some("Bearer resource_metadata=\"https://h.example/agent/.well-known/oauth-protected-resource/mcp/plain\"")
    );
    let send_only = d.send(
        "POST",
        "/mcp/plain",
        Some(&d.mint("agent:send")),
        &[],
        Some(&body),
    );
    assert_eq!(send_only.status, 403);
    assert_eq!(send_only.error(), "insufficient_scope");
    assert!(send_only.header("www-authenticate").is_none());
    // other routes never challenge
    assert!(d
        .get("/events?channel=plain", None)
        .header("www-authenticate")
        .is_none());
    // a foreign Origin is refused before auth
    let evil = d.send(
        "POST",
        "/mcp/plain",
        None,
        &[("Origin", "https://evil.example")],
        Some(&body),
    );
    assert_eq!(evil.status, 403);
}

#[test]
fn initialize_tools_and_errors() {
    let r = rig::start(false, &[]);
    let d = &r.d;
    let token = d.mint("agent:read agent:write");
    let mut c = McpClient::new(d, "plain", Some(&token));
    assert_eq!(mcp_sessions(d, "plain"), 0);
    let init = c.initialize();
    let sid = c.session.clone().unwrap();
    assert!(uuid::Uuid::parse_str(&sid).is_ok(), "{sid}");
    assert_eq!(
        init["serverInfo"],
        json!({"name": "agent-plain", "version": "0.1.0"})
    );
    assert_eq!(init["protocolVersion"], "2025-06-18");
    assert!(init["capabilities"]["experimental"]["claude/agent"].is_object());
    assert!(init["capabilities"]["experimental"]["claude/agent/permission"].is_object());
    assert!(init["capabilities"]["tools"].is_object());
    assert!(init["instructions"].as_str().unwrap().contains("reply"));
    assert_eq!(mcp_sessions(d, "plain"), 1);
    assert_eq!(mcp_sessions(d, "other"), 0);

    let tools = c.request("tools/list", json!({}));
    let list = tools["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = list.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["reply", "react", "edit_message", "download_attachment"]
    );
    let required: Vec<Value> = list
        .iter()
        .map(|t| t["inputSchema"]["required"].clone())
        .collect();
    assert_eq!(
        required,
        [
            json!([]),
            json!(["message_id", "emoji"]),
            json!(["message_id", "text"]),
            json!(["file_id"])
        ]
    );
    assert_eq!(c.request("ping", json!({}))["result"], json!({}));
    assert_eq!(
        c.request("resources/list", json!({}))["error"]["code"],
        -32601
    );
    assert_eq!(
        c.request("server/discover", json!({}))["error"]["code"],
        -32601
    );

    // reply on a vault channel writes an outbound note
    let (text, err) = c.call("reply", json!({"text": "hello from MCP", "chat_id": "42"}));
    assert!(!err, "{text}");
    let id = text
        .strip_prefix("sent 1 part (id: ")
        .and_then(|t| t.strip_suffix(')'))
        .expect(&text);
    let note = r.fv.note("default", id).expect("outbound note");
    assert_eq!(note["content"], "hello from MCP");
    assert_eq!(note["metadata"]["agent"], "plain");
    assert_eq!(note["metadata"]["direction"], "outbound");
    assert_eq!(
        c.call("react", json!({"message_id": "1", "emoji": "👍"})),
        (
            "transport \"vault\" for channel \"plain\" does not support react".into(),
            true
        )
    );
    assert_eq!(c.call("x", json!({})), ("unknown tool: x".into(), true));
    let bad = c.request("tools/call", json!({"arguments": {}}));
    assert!(bad["error"]["code"].as_i64().unwrap() <= -32602);

    // a second initialize on a live session
    let again = c.post_raw(
        &json!({"jsonrpc":"2.0","id":9,"method":"initialize","params":{"protocolVersion":"1999-01-01","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}),
        ACCEPT_BOTH,
    );
    assert_eq!(
        (again.status, again.json()["error"]["code"].clone()),
        (400, json!(-32600))
    );

    // DELETE ends the session
    assert_eq!(c.delete().status, 200);
    assert_eq!(mcp_sessions(d, "plain"), 0);
    let gone = c.post_raw(
        &json!({"jsonrpc":"2.0","id":10,"method":"ping"}),
        ACCEPT_BOTH,
    );
    assert_eq!(gone.status, 404);
    assert_eq!(gone.json()["error"]["code"], -32001);
}

#[test]
fn write_scope_is_checked_per_call() {
    let hub = crate::support::hub::FakeHub::start();
    let r = rig::start(false, &[("PARACHUTE_HUB_ORIGIN", &hub.origin)]);
    let d = &r.d;
    let mut c = McpClient::new(d, "plain", Some(&d.mint("agent:read")));
    c.initialize();
    let before = r.fv.notes("default").len();
    let (text, err) = c.call("reply", json!({"text": "nope"}));
    assert!(err && text.contains("agent:write"), "{text}");
    assert_eq!(
        r.fv.notes("default").len(),
        before,
        "transport must not be called"
    );
    // same session, a token with write scope from now on (scopes refresh per request)
    c.token = Some(hub.token("channel:read channel:write", json!({})));
    let (text, err) = c.call("reply", json!({"text": "legacy ok"}));
    assert!(!err, "{text}");
    assert_eq!(r.fv.notes("default").len(), before + 1);
}

#[test]
fn transport_rules_and_unknown_sessions() {
    let r = rig::start(false, &[]);
    let d = &r.d;
    let token = d.mint("agent:read");
    let t = Some(token.as_str());
    let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let json_ct = ("Content-Type", "application/json");
    let post = |headers: &[(&str, &str)], body: &[u8]| {
        d.send("POST", "/mcp/plain", t, headers, Some(body))
    };
    let code = |r: &crate::support::http::Reply| r.json()["error"]["code"].clone();

    let r406 = post(&[json_ct, ("Accept", "text/html")], ping);
    assert_eq!((r406.status, code(&r406)), (406, json!(-32000)));
    let r415 = post(
        &[("Content-Type", "text/plain"), ("Accept", ACCEPT_BOTH)],
        ping,
    );
    assert_eq!((r415.status, code(&r415)), (415, json!(-32000)));
    let bad = post(&[json_ct, ("Accept", ACCEPT_BOTH)], b"{oops");
    assert_eq!((bad.status, code(&bad)), (400, json!(-32700)));
    let not_init = post(&[json_ct, ("Accept", ACCEPT_BOTH)], ping);
    assert_eq!(not_init.status, 400);
    assert_eq!(
        not_init.json()["error"]["message"],
        "Bad Request: Server not initialized"
    );
    assert_eq!(mcp_sessions(d, "plain"), 0);

    // stale / unknown session ids → 404 so clients re-initialize
    let stale = [("mcp-session-id", "0b7c2f5e-0000-4000-8000-000000000000")];
    let p = post(&[json_ct, ("Accept", ACCEPT_BOTH), stale[0]], ping);
    assert_eq!((p.status, code(&p)), (404, json!(-32001)));
    let g = d.send(
        "GET",
        "/mcp/plain",
        t,
        &[("Accept", "text/event-stream"), stale[0]],
        None,
    );
    assert_eq!(g.status, 404);
    let del = d.send("DELETE", "/mcp/plain", t, &stale, None);
    assert_eq!(del.status, 404);
    // no session at all
    assert_eq!(d.send("DELETE", "/mcp/plain", t, &[], None).status, 204);
    let g = d.send(
        "GET",
        "/mcp/plain",
        t,
        &[("Accept", "text/event-stream")],
        None,
    );
    assert_eq!(g.status, 405);
    assert!(g.header("allow").is_some());
    assert_eq!(d.send("PUT", "/mcp/plain", t, &[], None).status, 400);

    // an unknown protocol version header is refused; any known one accepted
    let mut c = McpClient::new(d, "plain", t);
    c.initialize();
    let sid = c.session.clone().unwrap();
    let with = |v: &str| {
        post(
            &[
                json_ct,
                ("Accept", ACCEPT_BOTH),
                ("mcp-session-id", &sid),
                ("mcp-protocol-version", v),
            ],
            ping,
        )
    };
    assert_eq!(with("2099-01-01").status, 400);
    assert_eq!(with("2024-11-05").status, 200);
    // JSON-only clients get plain JSON; SSE clients get SSE frames
    let j = post(
        &[
            json_ct,
            ("Accept", "application/json"),
            ("mcp-session-id", &sid),
        ],
        ping,
    );
    assert_eq!(j.header("content-type"), Some("application/json"));
    assert_eq!(j.json(), json!({"jsonrpc":"2.0","id":1,"result":{}}));
    let s = post(
        &[json_ct, ("Accept", ACCEPT_BOTH), ("mcp-session-id", &sid)],
        ping,
    );
    assert_eq!(s.header("content-type"), Some("text/event-stream"));
    assert_eq!(s.header("mcp-session-id"), Some(sid.as_str()));
    assert_eq!(sse_messages(&s.body)[0]["result"], json!({}));
    // a batch answers every request, in order; notifications-only → 202
    let batch = br#"[{"jsonrpc":"2.0","id":"a","method":"ping"},{"jsonrpc":"2.0","method":"notifications/progress","params":{}},{"jsonrpc":"2.0","id":"b","method":"tools/list"}]"#;
    let b = post(
        &[json_ct, ("Accept", ACCEPT_BOTH), ("mcp-session-id", &sid)],
        batch,
    );
    let ids: Vec<Value> = sse_messages(&b.body)
        .iter()
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, [json!("a"), json!("b")]);
    let n = post(
        &[json_ct, ("Accept", ACCEPT_BOTH), ("mcp-session-id", &sid)],
        br#"{"jsonrpc":"2.0","method":"notifications/whatever"}"#,
    );
    assert_eq!((n.status, n.body.as_str()), (202, ""));
    // a session is bound to its channel
    let mut other = McpClient::new(d, "other", t);
    other.session = Some(sid.clone());
    let o = other.post_raw(
        &json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
        ACCEPT_BOTH,
    );
    assert_eq!(o.status, 404);
}

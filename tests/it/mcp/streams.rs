//! The GET push stream (spec 05 §1.3, §1.7): inbound fan-out as `notifications/claude/agent`
//! to streaming sessions of that channel only, one stream per session, DELETE ends it; and
//! sessions surviving a daemon restart (spec 07 §3).

use std::time::Duration;

use serde_json::json;

use super::client::McpClient;
use super::rig::{self, deliver, mcp_sessions};

const WAIT: Duration = Duration::from_secs(5);

#[test]
fn inbound_is_pushed_to_streaming_sessions_of_the_channel() {
    let r = rig::start(false, &[("PARACHUTE_AGENT_SSE_KEEPALIVE_SECS", "1")]);
    let d = &r.d;
    let token = d.mint("agent:read");
    let t = Some(token.as_str());
    let mut a1 = McpClient::new(d, "plain", t);
    let mut a2 = McpClient::new(d, "plain", t);
    let mut idle = McpClient::new(d, "plain", t);
    let mut b = McpClient::new(d, "other", t);
    for c in [&mut a1, &mut a2, &mut idle, &mut b] {
        c.initialize();
    }
    let s1 = a1.open_stream().map_err(|e| e.body).unwrap();
    assert_eq!(s1.header("content-type"), Some("text/event-stream"));
    assert_eq!(s1.header("mcp-session-id"), a1.session.as_deref());
    assert_eq!(s1.header("cache-control"), Some("no-cache, no-transform"));
    assert_eq!(s1.header("x-accel-buffering"), Some("no"));
    let s2 = a2.open_stream().map_err(|e| e.body).unwrap();
    let sb = b.open_stream().map_err(|e| e.body).unwrap();
    let dup = a1.open_stream().err().expect("second stream refused");
    assert_eq!(dup.status, 409);
    assert_eq!(mcp_sessions(d, "plain"), 3);

    let note = json!({"id": "n-1", "content": "hi there",
                      "metadata": {"agent": "plain", "sender": "operator", "ts": "2030-01-01T00:00:00.000Z"}});
    assert_eq!(deliver(d, &note), 200);
    for s in [&s1, &s2] {
        let m = s.next(WAIT).expect("pushed notification");
        assert_eq!(m["method"], "notifications/claude/agent");
        assert_eq!(m["params"]["content"], "hi there");
        let meta = &m["params"]["meta"];
        assert_eq!(
            meta["source"], "vault",
            "inbound meta overlays the default source"
        );
        assert_eq!(meta["note_id"], "n-1");
        assert_eq!(meta["ts"], "2030-01-01T00:00:00.000Z");
    }
    assert!(
        sb.next(Duration::from_millis(300)).is_none(),
        "other channel got a push"
    );

    // DELETE closes the push stream and unregisters the session
    assert_eq!(a1.delete().status, 200);
    assert!(s1.ended_within(WAIT), "push stream should end after DELETE");
    assert_eq!(mcp_sessions(d, "plain"), 2);
    // the slot frees when a client goes away
    drop(s2);
    let note2 = json!({"id": "n-2", "content": "again", "metadata": {"agent": "plain"}});
    deliver(d, &note2);
    assert!(
        rig::wait(5, || a2.open_stream().is_ok()),
        "a dropped stream must free the slot"
    );
}

#[test]
fn sessions_survive_a_restart_and_expire_when_idle() {
    let mut r = rig::start(false, &[("PARACHUTE_AGENT_MCP_SESSION_IDLE_SECS", "5")]);
    let token = r.d.mint("agent:read");
    let mut c = McpClient::new(&r.d, "plain", Some(&token));
    c.initialize();
    let sid = c.session.clone().unwrap();
    drop(c);
    let channels_json = std::fs::read_to_string(r.d.state_dir().join("channels.json")).unwrap();
    // while the channel is not live yet, the persisted session is told to retry, not 404
    std::fs::write(r.d.state_dir().join("channels.json"), r#"{"channels":[]}"#).unwrap();
    r.d.restart();
    let wait_reply = r.d.send(
        "POST",
        "/mcp/plain",
        Some(&token),
        &[
            ("mcp-session-id", &sid),
            ("Content-Type", "application/json"),
        ],
        Some(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
    );
    assert_eq!(wait_reply.status, 503, "{}", wait_reply.body);
    assert_eq!(wait_reply.header("retry-after"), Some("1"));
    std::fs::write(r.d.state_dir().join("channels.json"), &channels_json).unwrap();
    r.d.restart();
    rig::wait_channels(&r.d);
    let mut c = McpClient::new(&r.d, "plain", Some(&token));
    c.session = Some(sid.clone());
    assert_eq!(c.tool_names().len(), 4, "old session id must still work");
    assert_eq!(mcp_sessions(&r.d, "plain"), 1);
    let file = std::fs::read_to_string(r.d.state_dir().join("mcp-sessions.json")).unwrap();
    assert!(file.contains(&sid) && !file.contains(&token));
    // idle past the lifetime (no stream): reaped, the client gets 404 and can re-initialize
    std::thread::sleep(Duration::from_millis(5200));
    let mut fresh = McpClient::new(&r.d, "plain", Some(&token));
    fresh.initialize();
    let stale = c.post_raw(
        &json!({"jsonrpc":"2.0","id":5,"method":"ping"}),
        super::client::ACCEPT_BOTH,
    );
    assert_eq!(stale.status, 404);
    assert_eq!(mcp_sessions(&r.d, "plain"), 1);
}

#[test]
fn deleting_the_channel_ends_its_streams_and_sessions() {
    let r = rig::start(true, &[("PARACHUTE_AGENT_SSE_KEEPALIVE_SECS", "1")]);
    let d = &r.d;
    let mut c = McpClient::new(d, "eng", Some(&d.mint("agent:read")));
    c.initialize();
    let sid = c.session.clone().unwrap();
    let stream = c.open_stream().map_err(|e| e.body).unwrap();
    let def = r.fv.notes_tagged("default", "agent/definition").remove(0);
    r.fv.delete_note("default", def["id"].as_str().unwrap());
    let hook = json!({"trigger": "agent_def", "event": "deleted", "note": {"id": def["id"]}});
    let resp = d.post(
        "/api/vault/agent-def?vault=default",
        Some(&d.mint("agent:send")),
        &hook,
    );
    assert_eq!(resp.status, 200, "{}", resp.body);
    assert!(
        stream.ended_within(Duration::from_secs(5)),
        "stream outlived its channel"
    );
    let file = r.d.state_dir().join("mcp-sessions.json");
    assert!(
        rig::wait(5, || !std::fs::read_to_string(&file)
            .unwrap_or_default()
            .contains(&sid)),
        "session of a deleted channel still registered"
    );
    let gone = c.post_raw(
        &json!({"jsonrpc":"2.0","id":3,"method":"ping"}),
        super::client::ACCEPT_BOTH,
    );
    assert_eq!(gone.status, 404);
}

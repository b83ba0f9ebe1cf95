//! Unit tests of the HTTP-free MCP endpoint logic (sessions, transport rules, dispatch).

use super::*;
use std::time::Duration;

struct Host;
impl McpHost for Host {
    fn surface_for(&self, channel: &str) -> Surface {
        if channel == "pullch" {
            Surface::Pull
        } else {
            Surface::Push
        }
    }
    fn call_tool(&self, s: &SessionInfo, name: &str, args: &Value) -> ToolResult {
        ToolResult::ok(format!(
            "{}:{name}:{args}:{}",
            s.channel,
            s.scopes.join(",")
        ))
    }
}

const BOTH: &str = "application/json, text/event-stream";

fn req<'a>(method: &'a str, sid: Option<&'a str>, body: &'a str) -> McpHttpRequest<'a> {
    McpHttpRequest {
        method,
        channel: "eng",
        session_id: sid,
        accept: Some(BOTH),
        content_type: Some("application/json"),
        protocol_version: None,
        body: body.as_bytes(),
        scopes: vec!["agent:read".into()],
    }
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

fn store() -> McpSessionStore {
    McpSessionStore::new(None, Duration::from_secs(3600))
}

fn sse_messages(body: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(body).unwrap();
    text.split("\n\n")
        .filter(|f| !f.is_empty())
        .map(|f| {
            let mut lines = f.lines();
            assert_eq!(lines.next(), Some("event: message"));
            serde_json::from_str(lines.next().unwrap().strip_prefix("data: ").unwrap()).unwrap()
        })
        .collect()
}

fn init(st: &McpSessionStore) -> String {
    match handle(st, &Host, &req("POST", None, INIT)) {
        McpHttpResponse::Sse { body, session_id } => {
            let m = sse_messages(&body);
            assert_eq!(m.len(), 1);
            assert_eq!(m[0]["id"], 0);
            assert_eq!(m[0]["result"]["protocolVersion"], "2025-06-18");
            assert_eq!(m[0]["result"]["serverInfo"]["name"], "agent-eng");
            session_id
        }
        _ => panic!("initialize did not answer SSE"),
    }
}

fn status_code(r: &McpHttpResponse) -> (u16, i64) {
    match r {
        McpHttpResponse::Json { status, body, .. } => {
            (*status, body["error"]["code"].as_i64().unwrap_or(0))
        }
        McpHttpResponse::Empty { status } => (*status, 0),
        McpHttpResponse::Sse { .. } | McpHttpResponse::PushStream { .. } => (200, 0),
    }
}

#[test]
fn initialize_then_tools_in_sse_and_json() {
    let st = store();
    let sid = init(&st);
    assert_eq!(st.count_for_channel("eng"), 1);
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let McpHttpResponse::Sse { body, .. } = handle(&st, &Host, &req("POST", Some(&sid), list))
    else {
        panic!()
    };
    let m = sse_messages(&body);
    assert_eq!(m[0]["result"]["tools"].as_array().unwrap().len(), 4);
    // JSON-only client gets plain JSON
    let mut r = req(
        "POST",
        Some(&sid),
        r#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#,
    );
    r.accept = Some("application/json");
    match handle(&st, &Host, &r) {
        McpHttpResponse::Json {
            status,
            body,
            session_id,
            ..
        } => {
            assert_eq!(status, 200);
            assert_eq!(body, json!({"jsonrpc":"2.0","id":"p","result":{}}));
            assert_eq!(session_id.as_deref(), Some(sid.as_str()));
        }
        _ => panic!("expected JSON"),
    }
}

#[test]
fn tools_call_refreshes_scopes_and_reports_errors_in_band() {
    let st = store();
    let sid = init(&st);
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"reply","arguments":{"text":"x"}}}"#;
    let mut r = req("POST", Some(&sid), call);
    r.scopes = vec!["agent:read".into(), "agent:write".into()];
    let McpHttpResponse::Sse { body, .. } = handle(&st, &Host, &r) else {
        panic!()
    };
    let m = sse_messages(&body);
    assert_eq!(
        m[0]["result"]["content"][0]["text"],
        r#"eng:reply:{"text":"x"}:agent:read,agent:write"#
    );
    let bad = r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{}}"#;
    let McpHttpResponse::Sse { body, .. } = handle(&st, &Host, &req("POST", Some(&sid), bad))
    else {
        panic!()
    };
    assert_eq!(sse_messages(&body)[0]["error"]["code"], -32602);
    let unknown = r#"{"jsonrpc":"2.0","id":4,"method":"server/discover"}"#;
    let McpHttpResponse::Sse { body, .. } = handle(&st, &Host, &req("POST", Some(&sid), unknown))
    else {
        panic!()
    };
    assert_eq!(sse_messages(&body)[0]["error"]["code"], -32601);
}

#[test]
fn batches_and_notifications() {
    let st = store();
    let sid = init(&st);
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    assert_eq!(
        status_code(&handle(&st, &Host, &req("POST", Some(&sid), note))),
        (202, 0)
    );
    let batch = r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/progress","params":{}},{"jsonrpc":"2.0","id":2,"method":"tools/list"}]"#;
    let McpHttpResponse::Sse { body, .. } = handle(&st, &Host, &req("POST", Some(&sid), batch))
    else {
        panic!()
    };
    let m = sse_messages(&body);
    assert_eq!(
        (m[0]["id"].clone(), m[1]["id"].clone()),
        (json!(1), json!(2))
    );
    let mut r = req("POST", Some(&sid), batch);
    r.accept = Some("application/json");
    let McpHttpResponse::Json { body, .. } = handle(&st, &Host, &r) else {
        panic!()
    };
    assert_eq!(body.as_array().unwrap().len(), 2);
    // an initialize inside a batch on a fresh session
    let two = format!("[{INIT},{note}]");
    assert_eq!(
        status_code(&handle(&st, &Host, &req("POST", None, &two))),
        (400, -32600)
    );
    // cancellation of a request in the same batch suppresses its response
    let cancel = r#"[{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}},{"jsonrpc":"2.0","id":9,"method":"ping"}]"#;
    let McpHttpResponse::Sse { body, .. } = handle(&st, &Host, &req("POST", Some(&sid), cancel))
    else {
        panic!()
    };
    assert!(body.is_empty());
}

#[test]
fn transport_checks_in_order() {
    let st = store();
    let sid = init(&st);
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let mut r = req("POST", Some(&sid), ping);
    r.accept = Some("text/html");
    assert_eq!(status_code(&handle(&st, &Host, &r)), (406, -32000));
    let mut r = req("POST", Some(&sid), ping);
    r.content_type = Some("text/plain");
    assert_eq!(status_code(&handle(&st, &Host, &r)), (415, -32000));
    assert_eq!(
        status_code(&handle(&st, &Host, &req("POST", Some(&sid), "{"))),
        (400, -32700)
    );
    assert_eq!(
        status_code(&handle(&st, &Host, &req("POST", Some(&sid), "[1]"))),
        (400, -32700)
    );
    assert_eq!(
        status_code(&handle(&st, &Host, &req("POST", Some(&sid), INIT))),
        (400, -32600)
    );
    let mut r = req("POST", Some(&sid), ping);
    r.protocol_version = Some("2099-01-01");
    assert_eq!(status_code(&handle(&st, &Host, &r)), (400, -32000));
    // any known version is accepted, even one not negotiated
    r.protocol_version = Some("2024-11-05");
    assert_eq!(status_code(&handle(&st, &Host, &r)), (200, 0));
}

#[test]
fn unknown_sessions() {
    let st = store();
    let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    assert_eq!(
        status_code(&handle(&st, &Host, &req("POST", None, ping))),
        (400, -32000)
    );
    assert_eq!(
        status_code(&handle(&st, &Host, &req("POST", Some("stale"), ping))),
        (404, -32001)
    );
    assert_eq!(
        status_code(&handle(&st, &Host, &req("GET", Some("stale"), ""))),
        (404, -32001)
    );
    assert_eq!(
        status_code(&handle(&st, &Host, &req("DELETE", Some("stale"), ""))),
        (404, -32001)
    );
    assert_eq!(
        status_code(&handle(&st, &Host, &req("DELETE", None, ""))),
        (204, 0)
    );
    assert_eq!(
        status_code(&handle(&st, &Host, &req("PUT", None, ""))),
        (400, -32000)
    );
    match handle(&st, &Host, &req("GET", None, "")) {
        McpHttpResponse::Json {
            status: 405, allow, ..
        } => assert!(allow.unwrap().contains("POST")),
        _ => panic!("GET without session should be 405"),
    }
    // a stale id with an initialize body re-initializes
    let McpHttpResponse::Sse { session_id, .. } =
        handle(&st, &Host, &req("POST", Some("stale"), INIT))
    else {
        panic!()
    };
    assert_ne!(session_id, "stale");
    // a session addressed through another channel is unknown there
    let mut r = req("POST", Some(&session_id), ping);
    r.channel = "other";
    assert_eq!(status_code(&handle(&st, &Host, &r)), (404, -32001));
}

#[test]
fn get_stream_and_delete() {
    let st = store();
    let sid = init(&st);
    let mut g = req("GET", Some(&sid), "");
    g.accept = Some("application/json");
    assert_eq!(status_code(&handle(&st, &Host, &g)), (406, -32000));
    g.accept = Some("text/event-stream");
    let McpHttpResponse::PushStream { rx, stream_id, .. } = handle(&st, &Host, &g) else {
        panic!()
    };
    assert_eq!(status_code(&handle(&st, &Host, &g)), (409, -32000));
    assert_eq!(st.push_to_channel("eng", b"f"), 1);
    assert_eq!(rx.recv().unwrap(), b"f");
    st.close_push(&sid, stream_id);
    assert_eq!(
        status_code(&handle(&st, &Host, &req("PATCH", Some(&sid), ""))),
        (405, -32000)
    );
    assert_eq!(
        status_code(&handle(&st, &Host, &req("DELETE", Some(&sid), ""))),
        (200, 0)
    );
    assert_eq!(st.count_for_channel("eng"), 0);
    assert_eq!(
        status_code(&handle(&st, &Host, &req("DELETE", Some(&sid), ""))),
        (404, -32001)
    );
}

#[test]
fn surface_is_fixed_at_creation() {
    let st = store();
    let mut r = req("POST", None, INIT);
    r.channel = "pullch";
    let McpHttpResponse::Sse { body, session_id } = handle(&st, &Host, &r) else {
        panic!()
    };
    let m = sse_messages(&body);
    assert!(m[0]["result"]["instructions"]
        .as_str()
        .unwrap()
        .contains("next-message"));
    assert_eq!(st.get(&session_id).unwrap().surface, Surface::Pull);
}

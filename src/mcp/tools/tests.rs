//! Unit tests of the MCP tool surfaces (lists, write checks, push and pull calls).

use super::*;
use parking_lot::Mutex;

fn scopes(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[derive(Default)]
struct FakeTransport {
    supports_react: bool,
    calls: Mutex<Vec<String>>,
    fail: Option<String>,
}

impl PushTransport for FakeTransport {
    fn kind(&self) -> String {
        "http-ui".into()
    }
    fn reply(&self, a: ReplyArgs) -> Result<Vec<String>, PushError> {
        if let Some(f) = &self.fail {
            return Err(PushError::Failed(f.clone()));
        }
        self.calls.lock().push(format!(
            "reply text={:?} files={:?} reply_to={:?} meta={}",
            a.text,
            a.files,
            a.reply_to,
            Value::Object(a.meta)
        ));
        Ok(vec!["m1".into()])
    }
    fn react(&self, id: &str, emoji: &str, _m: Map<String, Value>) -> Result<(), PushError> {
        if !self.supports_react {
            return Err(PushError::Unsupported);
        }
        self.calls.lock().push(format!("react {id} {emoji}"));
        Ok(())
    }
    fn edit(&self, id: &str, text: &str, _m: Map<String, Value>) -> Result<(), PushError> {
        self.calls.lock().push(format!("edit {id} {text}"));
        Ok(())
    }
    fn download(&self, _f: &str) -> Result<String, PushError> {
        Err(PushError::Unsupported)
    }
}

#[test]
fn tool_lists_have_the_exact_schemas() {
    let push = list(Surface::Push);
    let names: Vec<&str> = push["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["reply", "react", "edit_message", "download_attachment"]
    );
    let react = &push["tools"][1]["inputSchema"];
    assert_eq!(react["required"], json!(["message_id", "emoji"]));
    assert_eq!(push["tools"][0]["inputSchema"]["required"], json!([]));
    assert_eq!(
        push["tools"][0]["inputSchema"]["properties"]["files"]["items"],
        json!({"type":"string"})
    );
    let pull = list(Surface::Pull);
    let names: Vec<&str> = pull["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["pending", "next-message", "reply", "release"]);
    assert_eq!(pull["tools"][2]["inputSchema"]["required"], json!(["text"]));
    assert_eq!(pull["tools"][3]["inputSchema"]["required"], json!(["id"]));
    assert_eq!(pull["tools"][0]["inputSchema"]["properties"], json!({}));
}

#[test]
fn push_reply_passes_only_chat_id_meta() {
    let t = FakeTransport::default();
    let r = call_push(
        &t,
        "ui",
        &scopes("agent:read agent:write"),
        "reply",
        &json!({"text":"hi","chat_id":"42","reply_to":"7","files":["/a"],"meta":{"x":"y"}}),
    );
    assert_eq!(r, ToolResult::ok("sent 1 part (id: m1)"));
    let call = &t.calls.lock()[0];
    assert!(call.contains(r#"meta={"chat_id":"42"}"#), "{call}");
    assert!(call.contains(r#"reply_to=Some("7")"#));
}

#[test]
fn push_write_tools_need_write_scope() {
    let t = FakeTransport::default();
    let r = call_push(
        &t,
        "ui",
        &scopes("agent:read"),
        "reply",
        &json!({"text":"x"}),
    );
    assert!(r.is_error);
    assert!(r.text.contains("requires the agent:write scope"));
    assert!(t.calls.lock().is_empty());
    // legacy alias accepted
    let r = call_push(
        &t,
        "ui",
        &scopes("channel:write"),
        "edit_message",
        &json!({"message_id":1,"text":"t"}),
    );
    assert_eq!(r, ToolResult::ok("edited"));
    assert_eq!(t.calls.lock()[0], "edit 1 t");
    // download needs only read: reaches the transport (which lacks it)
    let r = call_push(
        &t,
        "ui",
        &scopes("agent:read"),
        "download_attachment",
        &json!({"file_id":"f"}),
    );
    assert_eq!(
        r,
        ToolResult::err("transport \"http-ui\" for channel \"ui\" does not support download")
    );
}

#[test]
fn push_errors() {
    let t = FakeTransport {
        fail: Some("boom".into()),
        ..Default::default()
    };
    let w = scopes("agent:write");
    assert_eq!(
        call_push(&t, "ui", &w, "react", &json!({})).text,
        "transport \"http-ui\" for channel \"ui\" does not support react"
    );
    assert_eq!(
        call_push(&t, "ui", &w, "reply", &json!({})),
        ToolResult::err("reply failed: boom")
    );
    assert_eq!(
        call_push(&t, "ui", &w, "nope", &json!({})),
        ToolResult::err("unknown tool: nope")
    );
    assert_eq!(
        sent_text(&["a".into(), "b".into()]),
        "sent 2 parts (ids: a, b)"
    );
    assert_eq!(sent_text(&[]), "sent 0 parts (ids: )");
}

struct FakeQueue {
    attached: bool,
    log: Mutex<Vec<String>>,
}

impl PullQueue for FakeQueue {
    fn is_attached(&self, _c: &str) -> bool {
        self.attached
    }
    fn pending(&self, _c: &str) -> Result<Value, String> {
        Ok(json!({"count":0,"items":[]}))
    }
    fn next_message(&self, _c: &str) -> Result<Option<Value>, String> {
        Ok(None)
    }
    fn reply(&self, _c: &str, text: &str, irt: Option<&str>) -> Result<Vec<String>, String> {
        self.log.lock().push(format!("reply {text:?} {irt:?}"));
        Ok(vec!["o1".into()])
    }
    fn release(&self, _c: &str, id: &str) -> Result<(), String> {
        Err(format!("vault down for {id}"))
    }
}

#[test]
fn pull_dispatch() {
    let q = FakeQueue {
        attached: true,
        log: Mutex::default(),
    };
    let rw = scopes("agent:read agent:write");
    let r = call_pull(&q, "eng", &scopes("agent:read"), "pending", &json!({}));
    assert_eq!(r, ToolResult::ok(r#"{"count":0,"items":[]}"#));
    let r = call_pull(&q, "eng", &scopes("agent:read"), "next-message", &json!({}));
    assert!(r.is_error && r.text.contains("agent:write"));
    let r = call_pull(&q, "eng", &rw, "next-message", &json!({}));
    assert_eq!(
        r,
        ToolResult::ok(r#"{"message":null,"note":"no pending messages"}"#)
    );
    let r = call_pull(
        &q,
        "eng",
        &rw,
        "reply",
        &json!({"text": 5, "inReplyTo": "n1"}),
    );
    assert_eq!(
        r,
        ToolResult::ok("replied + marked handled (outbound id: o1)")
    );
    assert_eq!(q.log.lock()[0], r#"reply "" Some("n1")"#);
    assert_eq!(
        call_pull(&q, "eng", &rw, "release", &json!({})),
        ToolResult::err("release requires an id")
    );
    assert_eq!(
        call_pull(&q, "eng", &rw, "release", &json!({"id":"n1"})),
        ToolResult::err("release failed: vault down for n1")
    );
    assert_eq!(
        call_pull(&q, "eng", &rw, "react", &json!({})),
        ToolResult::err("unknown channel tool: react")
    );
    let detached = FakeQueue {
        attached: false,
        log: Mutex::default(),
    };
    let r = call_pull(&detached, "eng", &rw, "pending", &json!({}));
    assert!(r.is_error && r.text.contains("has no attached-backend agent"));
}

#[test]
fn tool_result_json() {
    assert_eq!(
        ToolResult::err("x").to_json(),
        json!({"content":[{"type":"text","text":"x"}],"isError":true})
    );
    assert_eq!(
        ToolResult::ok("y").to_json(),
        json!({"content":[{"type":"text","text":"y"}]})
    );
}

//! The push surface on an http-ui channel: a message sent by a human reaches the MCP push
//! stream (and `/events`), and the tools reach the http-ui transport.

use std::time::Duration;

use serde_json::json;

use super::client::McpClient;
use crate::support::daemon::DaemonBuilder;
use crate::support::sse;

#[test]
fn http_ui_send_is_pushed_and_tools_reach_the_transport() {
    let b = DaemonBuilder::new();
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [{"name": "web", "transport": "http-ui"}]}).to_string(),
    )
    .unwrap();
    let d = b.start();
    assert!(super::rig::wait(10, || d
        .get("/health", None)
        .body
        .contains("\"web\"")));
    let mut c = McpClient::new(&d, "web", Some(&d.mint("agent:read agent:write")));
    c.initialize();
    let stream = c.open_stream().map_err(|e| e.body).unwrap();
    let events = sse::connect(&d.url("/events?channel=web"), Some(&d.mint("agent:read")))
        .unwrap_or_else(|r| panic!("{}", r.body));
    let sent = d.post(
        "/api/channels/web/send",
        Some(&d.mint("agent:send")),
        &json!({"text": "hello MCP"}),
    );
    assert_eq!(sent.status, 200, "{}", sent.body);
    let m = stream.next(Duration::from_secs(5)).expect("push");
    assert_eq!(m["method"], "notifications/claude/agent");
    assert_eq!(m["params"]["content"], "hello MCP");
    assert_eq!(m["params"]["meta"]["source"], "http-ui");
    assert!(m["params"]["meta"]["ts"].is_string());
    let (name, data) = events
        .next_event(Duration::from_secs(5))
        .expect("/events too");
    assert_eq!(
        (name.as_str(), &data["content"]),
        ("message", &json!("hello MCP"))
    );

    // no browser page open: the http-ui reply reaches nobody, which is not an error
    assert_eq!(
        c.call("reply", json!({"text": "hi", "chat_id": "42"})),
        ("sent 0 parts (ids: )".into(), false)
    );
    assert_eq!(
        c.call("edit_message", json!({"message_id": "m1", "text": "t"})),
        ("edited".into(), false)
    );
    assert_eq!(
        c.call("react", json!({"message_id": "m1", "emoji": "👍"})),
        (
            "transport \"http-ui\" for channel \"web\" does not support react".into(),
            true
        )
    );
    // download needs only agent:read: a read-only session reaches the transport
    let mut ro = McpClient::new(&d, "web", Some(&d.mint("agent:read")));
    ro.initialize();
    assert_eq!(
        ro.call("download_attachment", json!({"file_id": "f"})),
        (
            "transport \"http-ui\" for channel \"web\" does not support download".into(),
            true
        )
    );
}

//! An agent on an http-ui channel: the reply reaches the channel's page subscribers, the
//! turn streams its events, and the conversation continues on the next message (the
//! reference forgets it outside vault channels; we keep a local session record).

use std::time::Duration;

use serde_json::{json, Value};

use super::api::{fakes_path, write_credentials};
use crate::support::daemon::DaemonBuilder;
use crate::support::sse;

#[test]
fn http_ui_message_gets_a_reply_and_keeps_its_conversation() {
    let b = DaemonBuilder::new().env("PATH", &fakes_path());
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [{"name": "web", "transport": "http-ui"}]}).to_string(),
    )
    .unwrap();
    write_credentials(&b.state_dir(), json!({}));
    let d = b.start();
    let admin = d.mint("agent:admin agent:read agent:send");
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "webbot", "channels": ["web"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let ticket = |d: &crate::support::daemon::Daemon| {
        d.post("/api/ui/sse-ticket", Some(&admin), &json!({}))
            .json()["ticket"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let page = sse::connect(
        &d.url(&format!("/ui/events?channel=web&ticket={}", ticket(&d))),
        None,
    )
    .unwrap_or_else(|r| panic!("{} {}", r.status, r.body));
    let turns = sse::connect(
        &d.url(&format!(
            "/api/channels/web/turn-events?ticket={}",
            ticket(&d)
        )),
        None,
    )
    .unwrap();
    let next_reply = || -> Value {
        loop {
            let (name, data) = page
                .next_event(Duration::from_secs(20))
                .expect("a reply on the page stream");
            if name == "reply" {
                return data;
            }
        }
    };
    let r = d.post(
        "/api/channels/web/send",
        Some(&admin),
        &json!({"text": "hello web"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(next_reply()["text"], "echo: hello web (turn 1)");
    let mut kinds = Vec::new();
    while let Some((_, ev)) = turns.next_event(Duration::from_secs(5)) {
        let k = ev["kind"].as_str().unwrap().to_string();
        kinds.push(k.clone());
        if k == "done" {
            break;
        }
    }
    assert_eq!(
        kinds,
        ["init", "text", "tool", "tool_result", "text", "done"]
    );
    d.post(
        "/api/channels/web/send",
        Some(&admin),
        &json!({"text": "and again"}),
    );
    assert_eq!(next_reply()["text"], "echo: and again (turn 2)");
    // the fake ran from the agent's private dir, resuming the first turn's session
    let calls: Vec<Value> = std::fs::read_to_string(
        d.state_dir()
            .join("sessions/webbot/fake-claude-calls.jsonl"),
    )
    .unwrap()
    .lines()
    .map(|l| serde_json::from_str(l).unwrap())
    .collect();
    assert_eq!(calls[0]["argv"][9], "--session-id");
    assert_eq!(calls[1]["argv"][9], "--resume");
    assert_eq!(calls[1]["argv"][10], calls[0]["argv"][10]);
    // a restart forgets the conversation
    d.post("/api/agents/webbot/restart", Some(&admin), &json!({}));
    d.post(
        "/api/channels/web/send",
        Some(&admin),
        &json!({"text": "fresh"}),
    );
    assert_eq!(next_reply()["text"], "echo: fresh (turn 1)");
}

//! http-ui turns with the real CLI: the reply is the API's answer, the turn events carry
//! the CLI's own session id, and a single-threaded agent's second turn resumes the first
//! conversation (the second API request carries the first exchange).

use serde_json::{json, Value};

use super::*;

#[test]
fn http_ui_turn_replies_with_the_api_answer_and_the_next_turn_resumes() {
    let Some(claude) = real_claude() else { return };
    let script = json!({"main": [{"text": "Hello from the fake API"}, {"text": "Second answer"}]});
    let e = http_ui_env(&claude, &script, &[], &[]);
    e.spawn(
        "bot",
        json!({"systemPrompt": "You are the parachute test agent."}),
    );
    let page = e.page();
    let turns = e.turn_events();

    e.send("first question");
    assert_eq!(next_reply(&page, &e.d)["text"], "Hello from the fake API");
    let events = events_until_end(&turns, &e.d);
    let k = kinds(&events);
    assert_eq!(k.first(), Some(&"init"), "{events:?}");
    assert!(k.contains(&"text"), "{events:?}");
    assert_eq!(k.last(), Some(&"done"), "{events:?}");
    assert_eq!(events.last().unwrap()["reply"], "Hello from the fake API");
    // the init event carries the session the CLI really used: the one recorded for resume
    let session = events[0]["sessionId"].as_str().unwrap().to_string();
    let record: Value = serde_json::from_str(
        &std::fs::read_to_string(e.d.state_dir().join("sessions/bot/session.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(record["session"], session.as_str());

    let first = e.api.main_requests();
    assert_eq!(first.len(), 1, "one API call for a plain answer: {first:?}");
    let req = &first[0];
    assert_eq!(
        req["auth_kind"], "bearer",
        "the stored OAuth token is used, never an API key"
    );
    assert_eq!(req["body"]["stream"], true);
    assert!(
        req["body"]["system"]
            .to_string()
            .contains("You are the parachute test agent."),
        "the agent's prompt file reached the CLI inside the sandbox: {}",
        req["body"]["system"]
    );
    let texts = message_texts(&req["body"]);
    assert!(
        texts
            .iter()
            .any(|(r, t)| r == "user" && t.contains("first question")),
        "{texts:?}"
    );

    e.send("second question");
    assert_eq!(next_reply(&page, &e.d)["text"], "Second answer");
    let events = events_until_end(&turns, &e.d);
    assert_eq!(
        events[0]["sessionId"],
        session.as_str(),
        "same conversation"
    );
    let reqs = e.api.main_requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    let texts = message_texts(&reqs[1]["body"]);
    let pos = |role: &str, needle: &str| {
        texts
            .iter()
            .position(|(r, t)| r == role && t.contains(needle))
            .unwrap_or_else(|| {
                panic!("{role} {needle:?} missing from the resumed request: {texts:?}")
            })
    };
    assert!(pos("user", "first question") < pos("assistant", "Hello from the fake API"));
    assert!(pos("assistant", "Hello from the fake API") < pos("user", "second question"));
}

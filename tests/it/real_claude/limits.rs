//! Per-agent limits with the real CLI: `--max-turns` and `--max-budget-usd` (hidden or
//! not in `claude --help`) are accepted, and a turn the CLI stops on `max_turns` ends with
//! the limit named in its events and reply, without a retry.

use serde_json::{json, Value};

use super::*;

fn bash(command: &str) -> Value {
    json!({"tool_use": {"name": "Bash", "input": {"command": command, "description": "step"}}})
}

#[test]
fn the_real_cli_accepts_the_limit_flags_and_stops_on_max_turns() {
    let Some(claude) = real_claude() else { return };
    let e = http_ui_env(
        &claude,
        &json!({"main": [{"text": "within budget"}]}),
        &[],
        &[("PARACHUTE_AGENT_TURN_RETRY_DELAYS_MS", "200,200")],
    );
    e.spawn("bot", json!({"max_turns": 1, "max_budget_usd": 5}));
    let page = e.page();
    let turns = e.turn_events();
    e.send("a short one");
    assert_eq!(next_reply(&page, &e.d)["text"], "within budget");
    events_until_end(&turns, &e.d);

    // one tool round uses the only turn; the CLI stops before the next API call
    e.api
        .set_script(&json!({"main": [bash("echo one"), bash("echo two"), {"text": "never"}]}));
    e.send("a long one");
    let events = events_until_end(&turns, &e.d);
    let last = events.last().unwrap();
    assert_eq!(last["kind"], "error", "{events:?}");
    assert!(
        last["error"].as_str().unwrap().contains("max_turns=1"),
        "the limit is named: {last}"
    );
    let reply = next_reply(&page, &e.d);
    assert!(
        reply["text"].as_str().unwrap().contains("max_turns=1"),
        "{reply}"
    );
    // the first turn's single call, then this turn's single call: no retry of a limit
    assert_eq!(
        e.api.main_requests().len(),
        2,
        "{:?}",
        e.api.main_requests()
    );
}

//! Tool use with the real CLI: the fake API asks for the CLI's Bash tool, the command runs
//! inside the sandbox, its output reaches the API in the next request, and the final answer
//! is delivered. In `network: restricted` the API works through the turn's proxy while a
//! host outside the allowlist stays unreachable.

use serde_json::{json, Value};

use super::*;

/// The `tool_result` texts of the latest main request.
fn tool_results(api: &crate::support::fake_anthropic::FakeAnthropic) -> String {
    let reqs = api.main_requests();
    let last = reqs.last().expect("a request");
    let mut out = Vec::new();
    for m in last["body"]["messages"].as_array().into_iter().flatten() {
        for b in m["content"].as_array().into_iter().flatten() {
            if b["type"] == "tool_result" {
                out.push(tool_result_text(b));
            }
        }
    }
    out.join("\n")
}

fn bash_step(command: &str) -> Value {
    json!({"tool_use": {"name": "Bash", "input": {"command": command, "description": "look around"}}})
}

#[test]
fn bash_tool_runs_in_the_sandbox_and_its_result_reaches_the_api() {
    let Some(claude) = real_claude() else { return };
    let e = http_ui_env(&claude, &json!({}), &[], &[]);
    let state = e.d.state_dir();
    let command = format!(
        "pwd; echo HOME=$HOME; ls ~; cat {}/credentials.json || echo cat-failed; ls {} || echo ls-home-failed",
        state.display(),
        e.d.tmp().join("home").display()
    );
    e.api
        .set_script(&json!({"main": [bash_step(&command), {"text": "I looked around"}]}));
    e.spawn("bot", json!({}));
    let page = e.page();
    let turns = e.turn_events();
    e.send("look around please");
    assert_eq!(next_reply(&page, &e.d)["text"], "I looked around");
    let k = events_until_end(&turns, &e.d);
    let k = kinds(&k);
    assert!(k.contains(&"tool") && k.contains(&"tool_result"), "{k:?}");

    let reqs = e.api.main_requests();
    assert_eq!(reqs.len(), 2, "tool call, then the final answer: {reqs:?}");
    let out = tool_results(&e.api);
    let workspace = state.join("sessions/bot");
    let workspace = std::fs::canonicalize(&workspace).unwrap_or(workspace);
    assert!(
        out.lines().next() == Some(&workspace.display().to_string()),
        "the workspace is the cwd: {out}"
    );
    assert!(out.contains("cat-failed"), "the state dir is hidden: {out}");
    assert!(
        !out.contains(".parachute") && !out.contains("ls-home-failed"),
        "the daemon user's home is an empty tmpfs inside: {out}"
    );
    assert!(
        !out.contains(OAUTH_TOKEN),
        "no credential leaks into the tool output"
    );
    assert!(!out.contains("local-issuer"), "{out}");
}

#[test]
fn restricted_network_reaches_the_api_through_the_proxy_and_nothing_else() {
    let Some(claude) = real_claude() else { return };
    if std::process::Command::new("curl")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var("PARACHUTE_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
            "curl is required here (PARACHUTE_TEST_REQUIRE_ALL=1)"
        );
        eprintln!("SKIPPED: curl is not installed");
        return;
    }
    if !crate::support::daemon::bwrap_usable() {
        return; // restricted mode needs the sandbox; bwrap_usable() already reported why
    }
    let e = http_ui_env(&claude, &json!({}), &[], &[]);
    let command = "curl -sS -m 5 -o /dev/null https://example.com/; echo curl-proxied=$?; \
                   curl -sS -m 5 --noproxy '*' -o /dev/null http://1.1.1.1/; echo curl-direct=$?";
    e.api
        .set_script(&json!({"main": [bash_step(command), {"text": "network checked"}]}));
    e.spawn(
        "bot",
        json!({"network": "restricted", "egress": [format!("127.0.0.1:{}", e.api.port)]}),
    );
    let page = e.page();
    e.send("check the network");
    assert_eq!(next_reply(&page, &e.d)["text"], "network checked");
    let out = tool_results(&e.api);
    let code = |label: &str| -> i32 {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("{label}=")))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or_else(|| panic!("{label} missing in {out}"))
    };
    assert_ne!(
        code("curl-proxied"),
        0,
        "a host outside the allowlist is refused: {out}"
    );
    assert_ne!(
        code("curl-direct"),
        0,
        "no route out of the namespace: {out}"
    );
}

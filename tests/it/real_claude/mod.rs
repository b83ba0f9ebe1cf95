//! The real Claude Code CLI in the loop: turns through the daemon and its
//! sandbox with the real `claude` binary, offline, against the fake Anthropic Messages API
//! (`tests/fakes/anthropic`). The CLI is installed at the pinned version by
//! `scripts/install-real-claude.sh` (into `target/real-claude/`; `.ci/run` runs it) or named
//! by `PARACHUTE_TEST_CLAUDE_BIN`. Without it these tests skip with a visible reason; under
//! `PARACHUTE_TEST_REQUIRE_ALL=1` (CI) they fail instead.
//!
//! The CLI gets exactly what an operator would give it: a (made-up) OAuth token stored as
//! the default Claude credential, and `ANTHROPIC_BASE_URL` (plus a short
//! `CLAUDE_CODE_MAX_RETRIES`) in the env store, i.e. what `/api/credentials/env` sets.

mod doctor;
mod failures;
mod limits;
mod tools;
mod turns;
mod vault;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_anthropic::FakeAnthropic;
use crate::support::sse::{self, SseClient};

/// The CLI version the tests (and `scripts/install-real-claude.sh`) are pinned to.
pub const PINNED_VERSION: &str = "2.1.332";
/// How long one real-CLI turn may take on a loaded 2-core CI machine.
pub const TURN_WAIT: Duration = Duration::from_secs(90);
/// The made-up OAuth token the CLI sends to the fake API.
pub const OAUTH_TOKEN: &str = "sk-ant-oat01-real-cli-test-token";

/// The real `claude` binary, or `None` (with the skip reason printed) where it is not
/// installed. Under `PARACHUTE_TEST_REQUIRE_ALL=1` a missing CLI is a failure.
pub fn real_claude() -> Option<PathBuf> {
    let path = std::env::var_os("PARACHUTE_TEST_CLAUDE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("target/real-claude/bin/claude")
        });
    let version = std::process::Command::new(&path)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    match version {
        Some(v) => {
            if !v.starts_with(PINNED_VERSION) {
                eprintln!(
                    "note: real claude at {} is {v}, tests are pinned to {PINNED_VERSION}",
                    path.display()
                );
            }
            Some(path)
        }
        None => {
            assert!(
                std::env::var("PARACHUTE_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
                "the real Claude Code CLI is required here (PARACHUTE_TEST_REQUIRE_ALL=1): \
                 run scripts/install-real-claude.sh (or set PARACHUTE_TEST_CLAUDE_BIN)"
            );
            eprintln!(
                "SKIPPED: the real Claude Code CLI is not installed ({} missing): \
                 run scripts/install-real-claude.sh to include the real-CLI tests",
                path.display()
            );
            None
        }
    }
}

/// A PATH for the daemon with the real `claude` first and no test fakes on it.
pub fn path_with(claude: &Path) -> String {
    let dir = claude.parent().unwrap();
    format!("{}:/usr/local/bin:/usr/bin:/bin", dir.display())
}

/// The default Claude credential plus the env store every real-CLI turn gets.
pub fn write_credentials(state: &Path, api: &FakeAnthropic, extra_env: &[(&str, &str)]) {
    let mut env = json!({
        "ANTHROPIC_BASE_URL": api.url(),
        // the CLI's own retries of a 429/529 (default 10, with back-off up to minutes)
        "CLAUDE_CODE_MAX_RETRIES": "1",
    });
    for (k, v) in extra_env {
        env[*k] = json!(v);
    }
    std::fs::create_dir_all(state).unwrap();
    let doc = json!({"claude": {"default": OAUTH_TOKEN}, "env": {"default": env}});
    std::fs::write(state.join("credentials.json"), doc.to_string()).unwrap();
}

/// A daemon with the real CLI, an http-ui channel `web`, and the fake API wired in.
pub struct HttpUiEnv {
    pub api: FakeAnthropic,
    pub d: Daemon,
    pub admin: String,
}

pub fn http_ui_env(
    claude: &Path,
    script: &Value,
    extra_env: &[(&str, &str)],
    knobs: &[(&str, &str)],
) -> HttpUiEnv {
    let api = FakeAnthropic::start(script);
    let mut b = DaemonBuilder::new().env("PATH", &path_with(claude));
    for (k, v) in knobs {
        b = b.env(k, v);
    }
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [{"name": "web", "transport": "http-ui"}]}).to_string(),
    )
    .unwrap();
    write_credentials(&b.state_dir(), &api, extra_env);
    let d = b.start();
    let admin = d.mint("agent:admin agent:read agent:write agent:send");
    HttpUiEnv { api, d, admin }
}

impl HttpUiEnv {
    /// Registers a programmatic agent (`POST /api/agents`) with `extra` fields.
    pub fn spawn(&self, name: &str, extra: Value) {
        let mut body = json!({"name": name, "channels": ["web"]});
        for (k, v) in extra.as_object().into_iter().flatten() {
            body[k] = v.clone();
        }
        let r = self.d.post("/api/agents", Some(&self.admin), &body);
        assert_eq!(r.status, 200, "{}", r.body);
    }

    fn ticket(&self) -> String {
        let r = self
            .d
            .post("/api/ui/sse-ticket", Some(&self.admin), &json!({}));
        r.json()["ticket"].as_str().unwrap().to_string()
    }

    /// The page stream of `web` (replies arrive as `event: reply`).
    pub fn page(&self) -> SseClient {
        let url = self
            .d
            .url(&format!("/ui/events?channel=web&ticket={}", self.ticket()));
        sse::connect(&url, None).unwrap_or_else(|r| panic!("{} {}", r.status, r.body))
    }

    /// The turn-event stream of `web`.
    pub fn turn_events(&self) -> SseClient {
        let url = self.d.url(&format!(
            "/api/channels/web/turn-events?ticket={}",
            self.ticket()
        ));
        sse::connect(&url, None).unwrap_or_else(|r| panic!("{} {}", r.status, r.body))
    }

    pub fn send(&self, text: &str) {
        let r = self.d.post(
            "/api/channels/web/send",
            Some(&self.admin),
            &json!({"text": text}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

/// The next `reply` event on a page stream.
pub fn next_reply(page: &SseClient, d: &Daemon) -> Value {
    let deadline = Instant::now() + TURN_WAIT;
    while Instant::now() < deadline {
        if let Some((name, data)) = page.next_event(Duration::from_secs(1)) {
            if name == "reply" {
                return data;
            }
        }
    }
    panic!("no reply within {TURN_WAIT:?}; log:\n{}", d.log());
}

/// Turn events up to and including the first `done` or `error`.
pub fn events_until_end(turns: &SseClient, d: &Daemon) -> Vec<Value> {
    let deadline = Instant::now() + TURN_WAIT;
    let mut out = Vec::new();
    while Instant::now() < deadline {
        if let Some((_, ev)) = turns.next_event(Duration::from_secs(1)) {
            let end = matches!(ev["kind"].as_str(), Some("done" | "error"));
            out.push(ev);
            if end {
                return out;
            }
        }
    }
    panic!(
        "turn did not end within {TURN_WAIT:?}: {out:?}; log:\n{}",
        d.log()
    );
}

pub fn kinds(events: &[Value]) -> Vec<&str> {
    events.iter().filter_map(|e| e["kind"].as_str()).collect()
}

/// The texts of every message of a Messages API request body (string or block content).
pub fn message_texts(body: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in body["messages"].as_array().into_iter().flatten() {
        let role = m["role"].as_str().unwrap_or("").to_string();
        match &m["content"] {
            Value::String(s) => out.push((role.clone(), s.clone())),
            Value::Array(blocks) => {
                for b in blocks {
                    let text = match b["type"].as_str() {
                        Some("text") => b["text"].as_str().unwrap_or("").to_string(),
                        Some("tool_result") => tool_result_text(b),
                        _ => continue,
                    };
                    out.push((role.clone(), text));
                }
            }
            _ => {}
        }
    }
    out
}

/// The text of a `tool_result` block (string content or text parts).
pub fn tool_result_text(block: &Value) -> String {
    match &block["content"] {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

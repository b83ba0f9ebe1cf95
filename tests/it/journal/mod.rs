//! Black-box tests of the durable inbound journal (kill -9 and SIGTERM mid-turn,
//! attempt limit, torn record), Telegram offsets, vault notes (kill -9, the boot backlog
//! scan, redelivered webhooks), the systemd notify socket.
//! The fake `claude` (`tests/fakes/claude`) is slowed per message with `[fake:sleep:<ms>]`.

mod bound;
mod http_ui;
mod notify;
mod reload;
mod telegram;
mod vault;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::programmatic::api::{fakes_path, write_credentials};
use crate::support::daemon::{Daemon, DaemonBuilder};

/// A daemon with the http-ui channel `web` and the programmatic agent `webbot` on it.
pub struct Rig {
    pub d: Daemon,
    pub admin: String,
}

pub fn http_ui_rig(b: DaemonBuilder) -> Rig {
    let b = b.env("PATH", &fakes_path());
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [{"name": "web", "transport": "http-ui"}]}).to_string(),
    )
    .unwrap();
    write_credentials(&b.state_dir(), json!({}));
    let d = b.start();
    wait_channel(&d, "web");
    let admin = d.mint("agent:admin agent:read agent:send");
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "webbot", "channels": ["web"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    Rig { d, admin }
}

impl Rig {
    pub fn send(&self, text: &str) -> crate::support::http::Reply {
        self.d.post(
            "/api/channels/web/send",
            Some(&self.admin),
            &json!({ "text": text }),
        )
    }

    pub fn calls_file(&self) -> PathBuf {
        self.d
            .state_dir()
            .join("sessions/webbot/fake-claude-calls.jsonl")
    }

    /// The prompts the fake `claude` was started with, in order.
    pub fn prompts(&self) -> Vec<String> {
        prompts_in(&self.calls_file())
    }

    /// Outbound texts in the channel's ring (`GET /api/channels/web/messages`).
    pub fn replies(&self) -> Vec<String> {
        let r = self.d.get("/api/channels/web/messages", Some(&self.admin));
        if r.status == 404 {
            return Vec::new(); // the channel starts just after /health answers
        }
        assert_eq!(r.status, 200, "{}", r.body);
        outbound_texts(&r.json())
    }

    /// Waits until the ring holds `n` replies.
    pub fn wait_replies(&self, n: usize, within: Duration) -> Vec<String> {
        let deadline = Instant::now() + within;
        loop {
            let got = self.replies();
            if got.len() >= n || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

pub fn prompts_in(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| {
            let argv = v["argv"].as_array()?.clone();
            let i = argv.iter().position(|a| a == "-p")?;
            argv.get(i + 1)?.as_str().map(str::to_string)
        })
        .collect()
}

/// Waits until `/health` lists `channel` (channels start just after `/health` answers).
pub fn wait_channel(d: &Daemon, channel: &str) {
    let live = || {
        d.get("/health", None).json()["channels"]
            .as_array()
            .is_some_and(|a| a.iter().any(|c| c["name"] == channel))
    };
    assert!(wait_until(Duration::from_secs(20), live), "{}", d.log());
}

/// Polls `cond` until it holds or `within` passes.
pub fn wait_until(within: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// The texts of the outbound (reply) messages of a `GET /api/channels/<ch>/messages` body.
pub fn outbound_texts(body: &serde_json::Value) -> Vec<String> {
    body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["direction"] == "outbound")
        .map(|m| m["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

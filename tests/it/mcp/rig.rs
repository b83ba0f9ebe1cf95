//! Daemons for the MCP tests: a plain vault channel (push surface) and an attached agent
//! defined by an `agent/definition` note in a def-vault (pull surface), both on one fake
//! vault.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_vault::FakeVault;

pub const PROMPT: &str = "You are Eng, a careful engineer.";

pub struct Rig {
    pub fv: FakeVault,
    pub d: Daemon,
}

/// Vault channels `plain` and `other` in `channels.json`; optionally an attached agent
/// `eng` (definition note in the def-vault `default`).
pub fn start(attached: bool, extra_env: &[(&str, &str)]) -> Rig {
    let fv = FakeVault::start();
    let mut b = DaemonBuilder::new();
    for (k, v) in extra_env {
        b = b.env(k, v);
    }
    let dir = b.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let ch = |name: &str| {
        json!({"name": name, "transport": "vault",
               "config": {"vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}})
    };
    let channels = json!({"channels": [ch("plain"), ch("other")]});
    // a Claude credential, so a definition may switch to the programmatic backend
    std::fs::write(
        dir.join("credentials.json"),
        json!({"claude": {"default": "test-oauth-token"}}).to_string(),
    )
    .unwrap();
    std::fs::write(dir.join("channels.json"), channels.to_string()).unwrap();
    if attached {
        std::fs::write(
            dir.join("agent-vaults.json"),
            json!({"vaults": [{"vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}]})
                .to_string(),
        )
        .unwrap();
        fv.create_note(
            "default",
            json!({"content": PROMPT, "tags": ["agent/definition"], "path": "Agents/eng",
                   "metadata": {"name": "eng", "backend": "attached"}}),
        );
    }
    let d = b.start();
    wait_channels(&d);
    if attached {
        assert!(
            wait(10, || d.log().contains("attached agent \"eng\" registered")),
            "attached agent did not register:\n{}",
            d.log()
        );
    }
    Rig { fv, d }
}

/// Channels start after the listener is up: wait until `/health` lists both.
pub fn wait_channels(d: &Daemon) {
    let up = || {
        let h = d.get("/health", None).json();
        let names: Vec<Value> = h["channels"].as_array().cloned().unwrap_or_default();
        ["plain", "other"]
            .iter()
            .all(|n| names.iter().any(|c| c["name"] == *n))
    };
    assert!(wait(10, up), "channels did not come up:\n{}", d.log());
}

pub fn wait(secs: u64, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// An inbound note for `channel` in the fake vault (not delivered to the daemon).
pub fn inbound(fv: &FakeVault, channel: &str, text: &str, ts: &str) -> String {
    let (_, body) = parachute_agent::vault::notes::inbound_message_body(
        "channel",
        channel,
        text,
        "operator",
        ts,
        &[],
    );
    fv.create_note("default", body)["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Delivers a note to the daemon the way the vault's trigger does.
pub fn deliver(d: &Daemon, note: &Value) -> u16 {
    let body = json!({"trigger": "channel_inbound", "event": "created", "note": note});
    d.post("/api/vault/inbound", Some(&d.mint("agent:send")), &body)
        .status
}

pub fn mcp_sessions(d: &Daemon, channel: &str) -> u64 {
    let h = d.get("/health", None).json();
    h["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == channel)
        .map(|c| c["mcp_sessions"].as_u64().unwrap())
        .unwrap_or_else(|| panic!("no channel {channel} in {h}"))
}

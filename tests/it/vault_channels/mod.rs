//! Vault channels, black-box against the fake vault (inbound, outbound,
//! transcript): the daemon runs with a `vault` channel in `channels.json`, the fake vault's
//! trigger engine posts to `/api/vault/inbound` with the bearer it was registered with, and
//! the daemon's `/events` subscribers see what the routing fork delivered. `inbound`: the
//! webhook; `outbound`: chat send, replies, transcripts, schema, channel API.

mod bench;
mod inbound;
mod outbound;

use std::time::Duration;

use parachute_agent::vault::notes::{self, TAG_INBOUND, TAG_MESSAGE, TAG_OUTBOUND};
use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_vault::FakeVault;
use crate::support::sse;

const SECRET: &str = "s3cret-webhook";
const WAIT: Duration = Duration::from_secs(5);
const QUIET: Duration = Duration::from_millis(400);

/// A daemon with vault channels `eng` (with a webhook secret) and `ops` (JWT only).
fn setup(fv: &FakeVault) -> Daemon {
    setup_with(fv, DaemonBuilder::new())
}

fn setup_with(fv: &FakeVault, b: DaemonBuilder) -> Daemon {
    let channels = json!({"channels": [
        {"name": "eng", "transport": "vault", "config": {
            "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN, "webhookSecret": SECRET}},
        {"name": "ops", "transport": "vault", "config": {
            "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}}
    ]});
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(b.state_dir().join("channels.json"), channels.to_string()).unwrap();
    let d = b.start();
    // channels start just after /health first answers
    crate::journal::wait_channel(&d, "eng");
    crate::journal::wait_channel(&d, "ops");
    d
}

/// The per-vault inbound trigger of spec 02 §4.6, pointed at this daemon.
fn register_inbound_trigger(fv: &FakeVault, d: &Daemon, name: &str) {
    fv.register_trigger(
        "default",
        json!({"name": name, "events": ["created"],
               "when": {"tags": [TAG_INBOUND], "has_metadata": ["agent"],
                        "missing_metadata": ["channel_inbound_rendered_at"]},
               "action": {"webhook": d.url("/api/vault/inbound"), "send": "json",
                          "auth": {"bearer": d.mint("agent:send")}}}),
    )
    .unwrap();
}

fn subscribe(d: &Daemon, channel: &str) -> sse::SseClient {
    let c = sse::connect(
        &d.url(&format!("/events?channel={channel}")),
        Some(&d.mint("agent:read")),
    )
    .unwrap_or_else(|r| panic!("events: {} {}", r.status, r.body));
    assert_eq!(c.status, 200);
    c
}

fn inbound_note(channel: &str, text: &str, ts: &str) -> Value {
    let (_, body) = notes::inbound_message_body("channel", channel, text, "operator", ts, &[]);
    body
}

fn webhook(note: Value) -> Value {
    json!({"trigger": "conn_agentinbound-default", "event": "created", "note": note})
}

fn post_raw(
    d: &Daemon,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, String) {
    let r = d.send("POST", path, token, headers, Some(body));
    (r.status, r.body)
}

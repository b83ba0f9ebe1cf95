//! The open routes (spec 01 §2.1): `/health`, `/.parachute/config[/schema]` and the page
//! redirects. The SPA under `/app` is `webui::routes`.

use std::borrow::Cow;

use serde::Serialize;
use serde_json::{json, Value};

use crate::http::{Req, Resp};
use crate::sandbox::boot::Dependencies;
use crate::state::AppState;

/// `/health` (any method): status, channels with subscriber counts, programmatic agents,
/// and the preflight's dependencies once it ran. Serialized straight from borrowed
/// rows (no intermediate `Value` tree): it is the most frequent request of all.
pub fn health(state: &AppState) -> Resp {
    let mcp = state.health.mcp_sessions.read().clone();
    let live = state.channels.list();
    let channels: Vec<ChannelRow<'_>> = live
        .iter()
        .map(|c| ChannelRow {
            name: &c.name,
            kind: c.transport.kind(),
            clients: state.events.count(&c.name),
            mcp_sessions: mcp.as_ref().map_or(0, |f| f(&c.name)),
            poller: c.transport.health(),
        })
        .collect();
    let programmatic_agents = state
        .health
        .programmatic_agents
        .read()
        .clone()
        .map(|f| f())
        .unwrap_or_default();
    let starting = state
        .health
        .starting
        .load(std::sync::atomic::Ordering::Relaxed);
    let deps = state.health.dependencies.read();
    let dependencies = deps.as_ref().map(|deps| {
        if state.terminal.tmux_missing() {
            let mut deps = deps.clone();
            deps.missing.push("tmux".into());
            deps.ok = false;
            Cow::Owned(deps)
        } else {
            Cow::Borrowed(deps)
        }
    });
    let body = Health {
        // [ext] `draining` while a stop lets running turns finish.
        status: if state.lifecycle.draining() {
            "draining"
        } else if starting {
            "starting"
        } else {
            "ok"
        },
        channels,
        total_clients: state.events.total(),
        programmatic_agents,
        dependencies,
        journal: state.journal.as_ref().map(|j| {
            let s = j.stats();
            JournalRow {
                pending: s.pending,
                bytes: s.bytes,
                compactions: s.compactions,
            }
        }),
    };
    Resp::ok(&body)
}

#[derive(Serialize)]
struct Health<'a> {
    status: &'static str,
    channels: Vec<ChannelRow<'a>>,
    total_clients: usize,
    programmatic_agents: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dependencies: Option<Cow<'a, Dependencies>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    journal: Option<JournalRow>,
}

#[derive(Serialize)]
struct ChannelRow<'a> {
    name: &'a str,
    kind: &'a str,
    clients: usize,
    mcp_sessions: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    poller: Option<Value>,
}

#[derive(Serialize)]
struct JournalRow {
    pending: usize,
    bytes: u64,
    compactions: u64,
}

/// `GET /.parachute/config`: channels (never secrets) and the vault trigger template.
pub fn parachute_config(state: &AppState) -> Resp {
    let channels: Vec<Value> = state
        .channels
        .list()
        .iter()
        .map(|c| json!({ "name": c.name, "transport": c.transport.kind() }))
        .collect();
    Resp::ok(&json!({
        "channels": channels,
        "triggerTemplate": {
            "name": "channel_inbound_<channel>",
            "events": ["created"],
            "when": {
                "tags": ["agent/message/inbound"],
                "has_metadata": ["agent"],
                "missing_metadata": ["channel_inbound_rendered_at"],
            },
            "action": { "webhook": "<hub-origin>/agent/api/vault/inbound", "send": "json" },
        },
    }))
}

/// `GET /.parachute/config/schema` (spec 01 §2.1.3).
pub fn parachute_config_schema() -> Resp {
    Resp::ok(&json!({
        "title": "parachute-agent config",
        "description": "Named channels, each bound to a transport.",
        "type": "object",
        "required": ["channels"],
        "properties": {
            "channels": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "transport"],
                    "properties": {
                        "name": { "type": "string" },
                        "transport": { "type": "string", "enum": ["telegram", "http-ui", "vault"] },
                        "config": { "type": "object", "description": "secrets live here, not returned by /config" },
                    },
                },
            },
        },
    }))
}

/// The page redirects of spec 01 §2.1 (relative `Location`s).
pub fn redirect(req: &Req) -> Option<Resp> {
    if !req.is("GET") {
        return None;
    }
    match req.raw_path() {
        "/" | "/agents" | "/jobs" | "/home" | "/admin" => Some(Resp::redirect("app/")),
        "/ui" => Some(Resp::redirect("app/chat")),
        _ => None,
    }
}

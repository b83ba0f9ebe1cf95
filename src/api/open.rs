//! The open routes (spec 01 §2.1): `/health`, `/.parachute/config[/schema]` and the page
//! redirects. The SPA under `/app` is `webui::routes`.

use serde_json::{json, Value};

use crate::http::{Req, Resp};
use crate::state::AppState;

/// `/health` (any method): status, channels with subscriber counts, programmatic agents,
/// and the preflight's dependencies once it ran.
pub fn health(state: &AppState) -> Resp {
    let mcp = state.health.mcp_sessions.read().clone();
    let channels: Vec<Value> = state
        .channels
        .list()
        .iter()
        .map(|c| {
            let mut row = json!({
                "name": c.name,
                "kind": c.transport.kind(),
                "clients": state.events.count(&c.name),
                "mcp_sessions": mcp.as_ref().map_or(0, |f| f(&c.name)),
            });
            if let Some(live) = c.transport.health() {
                row["poller"] = live;
            }
            row
        })
        .collect();
    let agents = state
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
    let mut body = json!({
        // [ext] `draining` while a stop lets running turns finish.
        "status": if state.lifecycle.draining() {
            "draining"
        } else if starting {
            "starting"
        } else {
            "ok"
        },
        "channels": channels,
        "total_clients": state.events.total(),
        "programmatic_agents": agents,
    });
    if let Some(deps) = state.health.dependencies.read().as_ref() {
        let mut deps = deps.clone();
        if state.terminal.tmux_missing() {
            deps.missing.push("tmux".into());
            deps.ok = false;
        }
        body["dependencies"] = json!(deps);
    }
    if let Some(j) = &state.journal {
        let s = j.stats();
        body["journal"] =
            json!({"pending": s.pending, "bytes": s.bytes, "compactions": s.compactions});
    }
    Resp::ok(&body)
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

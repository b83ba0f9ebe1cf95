//! The open routes (spec 01 §2.1): `/health`, `/.parachute/config[/schema]`, the page
//! redirects and the SPA under `/app` (served from `static/app` in the install dir).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::http::{ApiError, Req, Resp};
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
        // [ext] issue 13: `draining` while a stop lets running turns finish.
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
        body["journal"] = json!({"pending": s.pending, "bytes": s.bytes});
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

/// `GET /app`, `/app/…`: an asset-shaped path serves the file, anything else the shell.
pub fn spa(state: &AppState, req: &Req) -> Result<Resp, ApiError> {
    let dist = state.config.install_dir.join("static").join("app");
    if !dist.join("index.html").is_file() {
        return Ok(Resp::text(
            503,
            "text/plain; charset=utf-8",
            "web UI bundle missing: install the static/app folder next to the binary",
        ));
    }
    let sub = req.path.segments[1..].join("/");
    match asset_path(&dist, &sub) {
        Some(AssetLookup::File(p)) => serve_file(&p),
        Some(AssetLookup::Escapes) => Ok(Resp::text(404, "text/plain; charset=utf-8", "not found")),
        None => serve_file(&dist.join("index.html")),
    }
}

enum AssetLookup {
    File(PathBuf),
    Escapes,
}

fn asset_path(dist: &Path, sub: &str) -> Option<AssetLookup> {
    let ext = sub.rsplit_once('.').map(|(_, e)| e)?;
    if sub.is_empty()
        || ext.is_empty()
        || !ext.bytes().all(|b| b.is_ascii_alphanumeric())
        || sub.contains("..")
    {
        return None;
    }
    let path = dist.join(sub);
    let real = path.canonicalize().ok()?;
    let root = dist.canonicalize().ok()?;
    if !real.starts_with(&root) {
        return Some(AssetLookup::Escapes);
    }
    real.is_file().then_some(AssetLookup::File(real))
}

fn serve_file(path: &Path) -> Result<Resp, ApiError> {
    let bytes = std::fs::read(path).map_err(|_| ApiError::Internal)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    Ok(Resp::new(200, content_type(ext), bytes))
}

fn content_type(ext: &str) -> &'static str {
    match ext {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "application/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

//! The browser terminal's WebSocket route (spec 01 §2.7, spec 06 §2.2–§2.3), taken first in
//! the route order: `/terminal/<agent>` with `Upgrade: websocket`, any method. The gate, in
//! order: agent-name check (400), `agent:admin` from the Bearer header or `?token=`
//! (401/403), step-up from `X-Step-Up-Token` or `?step_up=` (403), geometry from
//! `cols`/`rows`; then `tmux` must be on `PATH` (else `503`), the handshake headers must be
//! valid (`400 websocket upgrade failed`) and the connection's socket must be found
//! (`503 websocket upgrade unavailable on this server`); then `101` and the terminal runs
//! on its own thread (`crate::terminal`). Without the upgrade header `/terminal…` is the
//! page and its assets ([`page_route`]).

use serde_json::json;

use super::gate;
use crate::auth::{parse_bearer, Scope};
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;
use crate::terminal::protocol::{query_dim, DEFAULT_COLS, DEFAULT_ROWS};
use crate::terminal::{page, socket, AttachRequest};

/// `Some` when the request is a terminal upgrade.
pub fn route(state: &AppState, req: &Req) -> Option<Result<Resp, ApiError>> {
    let segs = req.segs();
    let upgrade = req
        .header("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    if !upgrade || segs.len() != 2 || segs[0] != "terminal" {
        return None;
    }
    Some(check_gate(state, req, segs[1]).and_then(|name| upgrade_to_terminal(state, req, name)))
}

/// Steps 1–3 of spec 06 §2.3; returns the agent name.
fn check_gate<'a>(state: &AppState, req: &Req, name: &'a str) -> Result<&'a str, ApiError> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !valid {
        return Err(ApiError::bad_request(format!(
            "invalid agent name \"{name}\" (alphanumeric, dash, underscore only)"
        )));
    }
    // `?token=` is accepted here and nowhere else (spec 01 §3.1).
    let token = req
        .header("authorization")
        .and_then(parse_bearer)
        .or_else(|| {
            req.query("token")
                .filter(|t| !t.is_empty())
                .map(str::to_string)
        })
        .ok_or_else(|| ApiError::Unauthorized("Bearer token required".into()))?;
    gate::authorize(state, &token, Scope::Admin)?;
    let step_up = req
        .header(gate::STEP_UP_HEADER)
        .or_else(|| req.query("step_up"))
        .map(str::trim);
    state.step_up.gate(step_up).map_err(ApiError::from)?;
    Ok(name)
}

fn unavailable(message: &str) -> ApiError {
    ApiError::custom(503, json!({ "error": message }))
}

/// Steps 4–5: geometry, the handshake, then `101` with the terminal on its own thread.
fn upgrade_to_terminal(state: &AppState, req: &Req, name: &str) -> Result<Resp, ApiError> {
    let cols = query_dim(req.query("cols"), DEFAULT_COLS);
    let rows = query_dim(req.query("rows"), DEFAULT_ROWS);
    let tmux = state.terminal.tmux().ok_or_else(|| {
        unavailable("terminal unavailable: tmux is not installed (not found on PATH)")
    })?;
    let key = req
        .header("sec-websocket-key")
        .filter(|_| req.header("sec-websocket-version").map(str::trim) == Some("13"))
        .ok_or_else(|| ApiError::bad_request("websocket upgrade failed"))?;
    let accept = tungstenite::handshake::derive_accept_key(key.trim().as_bytes());
    let socket = req
        .remote_addr()
        .ok_or_else(|| "no peer address".to_string())
        .and_then(|peer| socket::duplicate_connection(peer).map_err(|e| e.0))
        .map_err(|why| {
            log::warn!("terminal: cannot take over the connection: {why}");
            unavailable("websocket upgrade unavailable on this server")
        })?;
    let slot = state
        .terminal
        .reserve()
        .ok_or_else(|| unavailable("too many open terminals"))?;
    let attach = AttachRequest {
        agent: name.to_string(),
        tmux,
        cols,
        rows,
    };
    let service = state.terminal.clone();
    let run = Box::new(move |stream: Box<dyn tiny_http::ReadWrite + Send>| {
        service.attach(attach, socket, slot);
        // Dropping tiny_http's half shuts the connection down and frees its thread.
        drop(stream);
    });
    Ok(Resp::upgrade("websocket", format!("terminal-{name}"), run)
        .header("Sec-WebSocket-Accept", &accept))
}

/// Steps 2–3 of spec 01 §2.8: `GET /terminal/assets/<name>` (the vendored assets, immutable
/// cache; any other name `404`) and `GET /terminal` or `/terminal/<seg>` (the page; `<seg>`
/// is not validated; `/terminal/` with an empty segment is not matched).
pub fn page_route(req: &Req) -> Option<Result<Resp, ApiError>> {
    if !req.is("GET") {
        return None;
    }
    let segs = req.segs();
    match segs.as_slice() {
        ["terminal", "assets", name] => Some(match page::asset(name) {
            Some(a) => Ok(Resp::new(200, a.content_type, a.body.to_vec())
                .header("Cache-Control", "public, max-age=31536000, immutable")),
            None => Err(ApiError::not_found()),
        }),
        ["terminal"] => Some(Ok(page_resp())),
        ["terminal", seg] if !seg.is_empty() => Some(Ok(page_resp())),
        _ => None,
    }
}

fn page_resp() -> Resp {
    Resp::new(200, "text/html; charset=utf-8", page::page().to_vec())
        .header("Cache-Control", "no-cache")
}

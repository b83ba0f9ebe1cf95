//! The browser terminal's WebSocket gate (spec 01 §2.7, spec 06 §2.2–§2.3), taken first in
//! the route order: `/terminal/<agent>` with `Upgrade: websocket`, any method. The tmux
//! backend it attached to is retired in the reference, and this build has no pty/WebSocket
//! terminal, so after the full authorization chain — agent-name check (400), `agent:admin`
//! from the Bearer header or `?token=` (401/403), step-up from `X-Step-Up-Token` or
//! `?step_up=` (403) — it answers `501 {"error":"terminal not supported"}`, the deferral the
//! spec allows. Without the upgrade header `/terminal…` is not ours (404).

use serde_json::json;

use super::gate;
use crate::auth::{parse_bearer, Scope};
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;

/// `Some` when the request is a terminal upgrade.
pub fn route(state: &AppState, req: &Req) -> Option<Result<Resp, ApiError>> {
    let segs = req.segs();
    let upgrade = req
        .header("upgrade")
        .is_some_and(|u| u.eq_ignore_ascii_case("websocket"));
    if !upgrade || segs.len() != 2 || segs[0] != "terminal" {
        return None;
    }
    Some(check_upgrade(state, req, segs[1]))
}

fn check_upgrade(state: &AppState, req: &Req, name: &str) -> Result<Resp, ApiError> {
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
    Ok(Resp::json(
        501,
        &json!({ "error": "terminal not supported" }),
    ))
}

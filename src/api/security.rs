//! HTTP routes of the security stores: `GET/POST /api/step-up`, `POST /api/step-up/pin`
//! (spec 01 §5.4, route-table step 10) and `POST /api/ui/sse-ticket` (spec 01 §4, step 19).
//! Neither the PIN, its hash, nor a token is ever logged or echoed.

use super::gate;
use crate::auth::Scope;
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;
use serde_json::{json, Value};

type Routed = Option<Result<Resp, ApiError>>;

/// Route-table step 10: the step-up endpoints.
pub fn route_step_up(state: &AppState, req: &mut Req) -> Routed {
    match (req.method.as_str(), req.raw_path()) {
        ("GET", "/api/step-up") => Some(status(state, req)),
        ("POST", "/api/step-up") => Some(exchange(state, req)),
        ("POST", "/api/step-up/pin") => Some(set_pin(state, req)),
        _ => None,
    }
}

/// Route-table step 19: `POST /api/ui/sse-ticket`.
pub fn route_ticket(state: &AppState, req: &mut Req) -> Routed {
    if req.is("POST") && req.raw_path() == "/api/ui/sse-ticket" {
        return Some(mint_ticket(state, req));
    }
    None
}

fn status(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let configured = state.step_up.is_configured()?;
    Ok(Resp::ok(&json!({ "configured": configured })))
}

fn exchange(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    let principal = gate::require(state, req, Scope::Admin)?;
    if !state.step_up.is_configured()? {
        return Err(crate::security::StepUpError::NotConfigured.into());
    }
    let body = req.json_object()?;
    let pin = body
        .get("pin")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| ApiError::bad_request("body.pin (non-empty string) is required"))?;
    let minted = state.step_up.exchange(&principal.sub, pin)?;
    Ok(Resp::ok(&json!({
        "stepUpToken": minted.token,
        "expires_at": minted.expires_at,
    })))
}

fn set_pin(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    let principal = gate::require(state, req, Scope::Admin)?;
    let body = req.json_object()?;
    let new_pin = body.get("newPin").and_then(Value::as_str).unwrap_or("");
    let current = body.get("currentPin").and_then(Value::as_str);
    state.step_up.set_pin(&principal.sub, new_pin, current)?;
    Ok(Resp::ok(&json!({ "ok": true, "configured": true })))
}

fn mint_ticket(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    let principal = gate::require(state, req, Scope::Read)?;
    let minted = state.tickets.mint_for(&principal.scopes, gate::bearer(req));
    Ok(Resp::ok(&json!({
        "ticket": minted.ticket,
        "expires_at": minted.expires_at,
    })))
}

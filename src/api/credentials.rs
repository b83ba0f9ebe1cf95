//! `/api/credentials/*` (spec 04 §2.4, spec 01 §2.5, route-table step 11). Auth
//! `agent:admin` on all; every write is step-up gated *before* its body is read
//! (spec 01 §2.5.1). Responses never contain a token or a value, and nothing here logs
//! one.

use super::gate::{self, require_step_up};
use crate::auth::Scope;
use crate::credentials::store::CredentialError;
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;
use serde_json::{json, Map, Value};

type Routed = Option<Result<Resp, ApiError>>;

/// Route-table step 11.
pub fn route(state: &AppState, req: &mut Req) -> Routed {
    let segs: Vec<String> = req.segs().iter().map(|s| s.to_string()).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let method = req.method.clone();
    match (method.as_str(), segs.as_slice()) {
        ("GET", ["api", "credentials", "claude"]) => Some(claude_status(state, req)),
        ("POST", ["api", "credentials", "claude"]) => Some(claude_set(state, req, None)),
        ("POST", ["api", "credentials", "claude", ch]) if !ch.is_empty() => {
            Some(claude_set(state, req, Some(ch)))
        }
        ("DELETE", ["api", "credentials", "claude", ch]) if !ch.is_empty() => {
            Some(claude_remove(state, req, ch))
        }
        ("GET", ["api", "credentials", "env"]) => Some(env_status(state, req)),
        ("POST", ["api", "credentials", "env"]) => Some(env_set(state, req)),
        ("DELETE", ["api", "credentials", "env"]) => Some(env_remove(state, req)),
        _ => None,
    }
}

/// Scope gate, then the step-up gate: the common head of every write.
fn admin_with_step_up(state: &AppState, req: &Req) -> Result<(), ApiError> {
    gate::require(state, req, Scope::Admin)?;
    require_step_up(state, req)
}

fn claude_status(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let summary = state.credentials.describe_tokens().map_err(read_failed)?;
    Ok(Resp::ok(&summary))
}

fn claude_set(state: &AppState, req: &mut Req, channel: Option<&str>) -> Result<Resp, ApiError> {
    admin_with_step_up(state, req)?;
    let body = req.json_object()?;
    let token = non_empty(&body, "token")?;
    let store = &state.credentials;
    let result = match channel {
        None => store.set_default_token(token),
        Some(ch) => store.set_channel_token(ch, token),
    };
    result.map_err(|e| write_failed(e, "write"))?;
    Ok(Resp::ok(&match channel {
        None => json!({"ok": true, "scope": "default"}),
        Some(ch) => json!({"ok": true, "scope": "channel", "channel": ch}),
    }))
}

fn claude_remove(state: &AppState, req: &mut Req, channel: &str) -> Result<Resp, ApiError> {
    admin_with_step_up(state, req)?;
    let removed = state
        .credentials
        .remove_channel_token(channel)
        .map_err(|e| write_failed(e, "update"))?;
    Ok(Resp::ok(
        &json!({"ok": true, "channel": channel, "removed": removed}),
    ))
}

fn env_status(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let summary = state.credentials.describe_env().map_err(read_failed)?;
    Ok(Resp::ok(&summary))
}

fn env_set(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    admin_with_step_up(state, req)?;
    let body = req.json_object()?;
    let name = non_empty(&body, "name")?;
    let value = non_empty(&body, "value")?;
    let channel = channel_of(&body);
    state
        .credentials
        .set_env(channel, name, value)
        .map_err(|e| write_failed(e, "write"))?;
    let mut out = scope_json(channel);
    out.insert("name".into(), name.into());
    Ok(Resp::ok(&Value::Object(out)))
}

fn env_remove(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    admin_with_step_up(state, req)?;
    // A JSON body is required; query parameters are deliberately not read.
    let body = req.json_object()?;
    let name = non_empty(&body, "name")?;
    let channel = channel_of(&body);
    let removed = state
        .credentials
        .remove_env(channel, name)
        .map_err(|e| write_failed(e, "update"))?;
    let mut out = scope_json(channel);
    out.insert("name".into(), name.into());
    out.insert("removed".into(), removed.into());
    Ok(Resp::ok(&Value::Object(out)))
}

/// `body[field]` as a non-empty string, else 400 `body.<field> (non-empty string) is required`.
fn non_empty<'a>(body: &'a Map<String, Value>, field: &str) -> Result<&'a str, ApiError> {
    body.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(format!("body.{field} (non-empty string) is required"))
        })
}

/// `channel` of an env body: a non-string or empty value means the default layer.
fn channel_of(body: &Map<String, Value>) -> Option<&str> {
    body.get("channel")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
}

/// `{ok, scope, channel?}` of the env responses.
fn scope_json(channel: Option<&str>) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("ok".into(), true.into());
    match channel {
        None => {
            out.insert("scope".into(), "default".into());
        }
        Some(ch) => {
            out.insert("scope".into(), "channel".into());
            out.insert("channel".into(), ch.into());
        }
    }
    out
}

/// A validation error is the caller's (400 with its text); anything else is a 500
/// `failed to <verb> credentials.json: <msg>`.
fn write_failed(e: CredentialError, verb: &str) -> ApiError {
    if e.is_bad_request() {
        return ApiError::bad_request(e.to_string());
    }
    ApiError::custom(
        500,
        json!({ "error": format!("failed to {verb} credentials.json: {e}") }),
    )
}

/// A read of a malformed or unreadable file (the reference's unhandled 500).
fn read_failed(e: CredentialError) -> ApiError {
    log::error!("credentials: {e}");
    ApiError::Internal
}

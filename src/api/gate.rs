//! Request gating, next to the routes (spec 01 §3, §4, §5.6): every guard a handler calls
//! in one line. `auth/` only validates token strings; this file reads them from requests
//! and maps each refusal to its HTTP answer once.
//!
//! - [`require`]: Bearer token → [`Principal`] holding `scope`, else 401/403 (spec 01 §3.8).
//! - [`require_uniform`]: the webhook gate, any failure is `401 {"error":"unauthorized"}`.
//! - [`require_step_up`]: after the `agent:admin` scope gate, before body parsing, on every
//!   dangerous action. 403 `step_up_required` with `reason: "setup"` (no PIN yet) or
//!   `reason: "token"` (no valid `X-Step-Up-Token`).
//! - [`consume_ticket`]: the gate of the SSE routes that an EventSource opens
//!   (`/ui/events`, `/api/channels/<ch>/turn-events`): consumes `?ticket=` and requires
//!   `scope` of it. 401 for a missing/unknown/used/expired ticket, 403 when the ticket
//!   lacks the scope (the ticket is consumed either way). No network I/O.

use crate::auth::{parse_bearer, Principal, Scope};
use crate::channels::stream_guard::StreamGuard;
use crate::http::{ApiError, Req};
use crate::metrics::{metrics, AuthFailure};
use crate::security::stepup::{GateError, StepUpError};
use crate::security::tickets::TicketError;
use crate::state::AppState;
use serde_json::json;

/// Header carrying the step-up token (case-insensitive, spec 01 §5.3).
pub const STEP_UP_HEADER: &str = "x-step-up-token";

/// The scope gate: Bearer token → principal with `scope`, else the 401/403 bodies.
pub fn require(state: &AppState, req: &Req, scope: Scope) -> Result<Principal, ApiError> {
    let Some(token) = bearer(req) else {
        metrics().auth_failure(AuthFailure::MissingToken);
        return Err(ApiError::Unauthorized("Bearer token required".into()));
    };
    authorize(state, &token, scope)
}

/// A raw token (from wherever the route reads it) → principal with `scope`, else 401/403.
pub fn authorize(state: &AppState, token: &str, scope: Scope) -> Result<Principal, ApiError> {
    let principal = state.auth.validate(token).map_err(|e| {
        metrics().auth_failure(AuthFailure::of_message(&e.0));
        ApiError::Unauthorized(e.0)
    })?;
    check_scope(&principal, scope).inspect_err(|_| {
        metrics().auth_failure(AuthFailure::InsufficientScope);
    })?;
    Ok(principal)
}

/// The webhook gate: any failure is the uniform `401 {"error":"unauthorized"}`.
pub fn require_uniform(state: &AppState, req: &Req, scope: Scope) -> Result<Principal, ApiError> {
    require(state, req, scope).map_err(|_| ApiError::UnauthorizedUniform)
}

/// 403 unless `principal` holds `scope`.
pub fn check_scope(principal: &Principal, scope: Scope) -> Result<(), ApiError> {
    if principal.has(scope) {
        Ok(())
    } else {
        Err(ApiError::InsufficientScope {
            required: scope.name(),
            granted: principal.scopes.clone(),
        })
    }
}

/// `Authorization: Bearer <token>` (scheme case-insensitive, value trimmed, empty → none).
/// `?token=` is deliberately not read here (spec 01 §3.1).
pub fn bearer(req: &Req) -> Option<String> {
    parse_bearer(req.header("authorization")?)
}

/// The step-up gate: `Ok(())` when a PIN is configured and the request carries a live
/// step-up token.
pub fn require_step_up(state: &AppState, req: &Req) -> Result<(), ApiError> {
    let token = req.header(STEP_UP_HEADER).map(str::trim);
    state.step_up.gate(token).map_err(ApiError::from)
}

/// [ext] A guard that ends a stream once `token` no longer validates with `scope` (checked
/// every `sse_auth_check` through the ordinary validation: expiry, revocation, rotation).
pub fn stream_guard(state: &AppState, token: String, scope: Scope) -> StreamGuard {
    let auth = state.auth.clone();
    StreamGuard::new(state.config.sse_auth_check, move || {
        let principal = auth.validate(&token).map_err(|e| e.0)?;
        if principal.has(scope) {
            Ok(())
        } else {
            Err(format!("the token no longer holds {}", scope.name()))
        }
    })
}

/// [`require`] for a stream route: the guard that keeps re-checking the bearer.
pub fn require_for_stream(
    state: &AppState,
    req: &Req,
    scope: Scope,
) -> Result<StreamGuard, ApiError> {
    require(state, req, scope)?;
    let token = bearer(req).unwrap_or_default();
    Ok(stream_guard(state, token, scope))
}

/// [`consume_ticket`] for a stream route: a guard on the ticket's minting bearer (tickets
/// minted without one, e.g. by tests, get none).
pub fn consume_ticket_for_stream(
    state: &AppState,
    req: &Req,
    scope: Scope,
) -> Result<Option<StreamGuard>, ApiError> {
    let ticket = req.query("ticket").unwrap_or("");
    let (_, token) = state
        .tickets
        .consume_with_token(ticket, scope)
        .map_err(|e| ticket_error(e, scope))?;
    Ok(token.map(|t| stream_guard(state, t, scope)))
}

/// Consume the request's `?ticket=` and require `scope`; returns the ticket's scopes.
pub fn consume_ticket(state: &AppState, req: &Req, scope: Scope) -> Result<Vec<String>, ApiError> {
    let ticket = req.query("ticket").unwrap_or("");
    state
        .tickets
        .consume_for(ticket, scope)
        .map_err(|e| ticket_error(e, scope))
}

fn ticket_error(e: TicketError, scope: Scope) -> ApiError {
    match e {
        TicketError::Invalid => ApiError::Unauthorized("valid one-time SSE ticket required".into()),
        TicketError::LacksScope { granted } => ApiError::custom(
            403,
            json!({
                "error": "insufficient_scope",
                "message": format!("ticket lacks {}", scope.name()),
                "granted": granted,
            }),
        ),
    }
}

impl From<GateError> for ApiError {
    fn from(e: GateError) -> ApiError {
        match e {
            GateError::Setup => ApiError::custom(
                403,
                json!({
                    "error": "step_up_required",
                    "reason": "setup",
                    "message": "set a step-up PIN before performing this action",
                }),
            ),
            GateError::Token => ApiError::custom(
                403,
                json!({
                    "error": "step_up_required",
                    "reason": "token",
                    "message": "enter your step-up PIN to confirm this action",
                }),
            ),
            GateError::Storage(msg) => {
                log::error!("step-up: {msg}");
                ApiError::Internal
            }
        }
    }
}

impl From<StepUpError> for ApiError {
    fn from(e: StepUpError) -> ApiError {
        match e {
            StepUpError::NotConfigured => ApiError::custom(
                409,
                json!({
                    "error": "step_up_not_configured",
                    "message": "set a step-up PIN first (POST /api/step-up/pin)",
                }),
            ),
            StepUpError::RateLimited(r) => ApiError::Custom {
                status: 429,
                body: json!({
                    "error": "rate_limited",
                    "message": "too many PIN attempts — wait before retrying",
                    "retry_after_seconds": r.seconds,
                }),
                headers: vec![("retry-after".into(), r.seconds.to_string())],
            },
            StepUpError::InvalidPin => ApiError::custom(
                401,
                json!({"error": "invalid_pin", "message": "incorrect PIN"}),
            ),
            StepUpError::CurrentPinRequired => ApiError::custom(
                401,
                json!({
                    "error": "invalid_pin",
                    "message": "the current PIN is required to change it",
                }),
            ),
            StepUpError::BadNewPin => ApiError::bad_request("body.newPin must be 4–12 digits"),
            StepUpError::Storage(msg) => {
                log::error!("step-up: {msg}");
                ApiError::Internal
            }
            StepUpError::WriteFailed(msg) => {
                ApiError::custom(500, json!({ "error": format!("failed to set PIN: {msg}") }))
            }
        }
    }
}

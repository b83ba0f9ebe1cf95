//! The http-ui channel's two routes (spec 05 §7, spec 01 §2.3), tried after every other
//! route (spec 01 §2.8 step 23), for each live http-ui channel in map order:
//! - `POST /api/channels/<own>/send` (matched on the **raw** path; `agent:send`), body
//!   `{text: <non-empty string>}` → the channel's inbound, `{"ok":true}`;
//! - `GET /ui/events?channel=<own>&ticket=…` (one-time SSE ticket carrying `agent:read`) →
//!   the page stream.

use serde_json::{json, Value};

use super::gate;
use crate::auth::Scope;
use crate::channels::http_ui::{HttpUiTransport, OperatorSendError};
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;

/// Step 23: the first http-ui channel whose route matches.
pub fn route(state: &AppState, req: &mut Req) -> Option<Result<Resp, ApiError>> {
    for ch in state.channels.list() {
        let Some(ui) = ch.transport.as_any().downcast_ref::<HttpUiTransport>() else {
            continue;
        };
        if req.is("POST") && req.raw_path() == format!("/api/channels/{}/send", ui.name()) {
            return Some(send(state, req, ui));
        }
        if req.is("GET")
            && req.raw_path() == "/ui/events"
            && req.query("channel") == Some(ui.name())
        {
            return Some(
                gate::consume_ticket_for_stream(state, req, Scope::Read)
                    .map(|guard| ui.subscribe_page(state.config.sse_keepalive, guard)),
            );
        }
    }
    None
}

fn send(state: &AppState, req: &mut Req, ui: &HttpUiTransport) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Send)?;
    let body = req.json()?;
    if body.is_null() {
        return Err(ApiError::InvalidJson);
    }
    let text = match body.get("text").and_then(Value::as_str) {
        Some(t) if !t.is_empty() => t.to_string(),
        _ => {
            return Err(ApiError::bad_request(
                "body must be { text: <non-empty string> }",
            ))
        }
    };
    ui.emit_operator(text).map_err(|e| match e {
        OperatorSendError::Transport(e) => {
            ApiError::custom(500, json!({ "error": format!("Error: {e}") }))
        }
        OperatorSendError::Refused(r) => super::unavailable::refused(&r),
    })?;
    Ok(Resp::ok(&json!({"ok": true})))
}

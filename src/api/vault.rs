//! The vault routes of the daemon:
//! - `POST /api/vault/inbound` (spec 02 §3.3, spec 01 §2.4; route step 18), in the exact
//!   order: body (400s before any auth) → channel lookup → auth branch on the *presence* of
//!   `Authorization` (hub/local JWT with `agent:send`, or the deprecated per-channel secret,
//!   constant-time) with one uniform 401 → `markSeen` dedup (kept across restarts, see
//!   `channels::vault::seen`) → ingest (outbound drop, emit through the routing fork) →
//!   `200 {"ok":true}`; [ext] `503` + `Retry-After` when the agent's backend refused the
//!   note (the daemon is stopping): the next start finds it in the channel's backlog.
//! - `POST /api/channels/<ch>/send` for live vault channels (spec 02 §6.2, step 20): writes
//!   an inbound note with sender `operator`; the vault trigger is the wake, so no emit here.
//!   Any other channel falls through (http-ui's own route, or 404).

use serde_json::{json, Value};

use super::gate;
use crate::auth::Scope;
use crate::channels::vault::inbound::{parse_webhook, secret_valid, WebhookBodyError};
use crate::channels::vault::transport::VaultTransport;
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;

type Routed = Option<Result<Resp, ApiError>>;

/// Step 18: `POST /api/vault/inbound`.
pub fn route_inbound(state: &AppState, req: &mut Req) -> Routed {
    if req.is("POST") && req.raw_path() == "/api/vault/inbound" {
        return Some(inbound(state, req));
    }
    None
}

/// Step 20: `POST /api/channels/<ch>/send` when `<ch>` is a live vault channel.
pub fn route_send(state: &AppState, req: &mut Req) -> Routed {
    if !req.is("POST") {
        return None;
    }
    let ch = match req.segs().as_slice() {
        ["api", "channels", ch, "send"] if !ch.is_empty() => ch.to_string(),
        _ => return None,
    };
    let channel = state.channels.get(&ch)?;
    VaultTransport::of(channel.transport.as_ref())?;
    Some(send(state, req, &channel))
}

fn inbound(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    let webhook = parse_webhook(req.body()?).map_err(|e| match e {
        WebhookBodyError::InvalidJson => ApiError::InvalidJson,
        other => ApiError::bad_request(other.message()),
    })?;
    let channel = state.channels.get(&webhook.routing_key);
    let transport = channel
        .as_ref()
        .and_then(|c| VaultTransport::of(c.transport.as_ref()));
    if req.header("authorization").is_some() {
        gate::require_uniform(state, req, Scope::Send)?;
        if transport.is_none() {
            return Err(ApiError::UnauthorizedUniform);
        }
    } else {
        let presented = match req.query("secret") {
            Some(s) => s.to_string(),
            None => req
                .header("x-channel-webhook-secret")
                .unwrap_or_default()
                .to_string(),
        };
        let ok = transport
            .is_some_and(|t| secret_valid(t.config().webhook_secret.as_deref(), &presented));
        if !ok {
            return Err(ApiError::UnauthorizedUniform);
        }
        log::warn!(
            "parachute-agent: /api/vault/inbound authenticated via DEPRECATED ?secret= shared secret for channel \"{}\". Migrate to a hub-JWT trigger (action.auth.bearer, scope agent:send).",
            webhook.routing_key
        );
    }
    let transport = transport.ok_or(ApiError::UnauthorizedUniform)?;
    state
        .vault
        .receive(transport, &webhook.note, &webhook.note_id)
        .map_err(|r| super::unavailable::refused(&r))?;
    Ok(Resp::ok(&json!({"ok": true})))
}

fn send(
    state: &AppState,
    req: &mut Req,
    channel: &crate::channels::Channel,
) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Send)?;
    let body = req.json()?;
    let text = body
        .get("text")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::bad_request("body must be { text: <non-empty string> }"))?;
    let transport =
        VaultTransport::of(channel.transport.as_ref()).ok_or_else(ApiError::not_found)?;
    match transport.write_inbound(text, crate::vault::notes::meta::SENDER_OPERATOR, &[]) {
        Ok(id) => Ok(Resp::ok(&json!({"ok": true, "id": id}))),
        Err(e) => Err(ApiError::custom(
            500,
            json!({"error": format!("Error: {e}")}),
        )),
    }
}

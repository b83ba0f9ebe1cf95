//! HTTP glue of the MCP endpoint (spec 05 §1.1, §1.9; spec 01 §2.2.2, §2.6): the two OAuth
//! discovery documents (route step 15) and `/mcp/<ch>` (step 22): unknown channel → 404
//! before auth, the [ext] `Origin` check, the `agent:read` gate with the `WWW-Authenticate`
//! challenge on 401, then [`crate::mcp::endpoint::handle`]. GET push streams run on their own
//! stream thread and end when the client leaves or the session is deleted.
//!
//! [ext] Beyond the reference: an unknown channel asked for with a session id persisted for
//! it, in the first two minutes after boot, gets `503` + `Retry-After: 1` instead of 404
//! (definition channels come up after their def-vault is read); a push stream whose channel
//! was deleted ends at its next keepalive and the session is unregistered.

use std::sync::Arc;

use super::gate;
use crate::auth::Scope;
use crate::channels::stream_guard::StreamGuard;
use crate::http::{ApiError, Req, Resp};
use crate::mcp::discovery::{self, PublicBase};
use crate::mcp::endpoint::{self, McpHttpRequest, McpHttpResponse};
use crate::mcp::service::McpService;
use crate::mcp::sse;
use crate::state::AppState;

type Routed = Option<Result<Resp, ApiError>>;

fn base(state: &AppState, req: &Req) -> PublicBase {
    PublicBase::from_headers(
        req.header("x-forwarded-host"),
        req.header("x-forwarded-proto"),
        req.header("host"),
        state.config.port,
    )
}

/// Step 15: `GET /.well-known/oauth-{protected-resource,authorization-server}/mcp/<seg>`.
pub fn discovery_route(state: &AppState, req: &mut Req) -> Routed {
    if !req.is("GET") {
        return None;
    }
    let raw = &req.path.raw_segments;
    if raw.len() != 4 || raw[0] != ".well-known" || raw[2] != "mcp" || raw[3].is_empty() {
        return None;
    }
    let channel = req.path.segments[3].clone();
    let hub = state.auth.hub_origin();
    let doc = match raw[1].as_str() {
        "oauth-protected-resource" => {
            discovery::protected_resource(&base(state, req), &channel, &hub)
        }
        "oauth-authorization-server" => discovery::authorization_server(&hub),
        _ => return None,
    };
    let body = serde_json::to_vec(&doc).unwrap_or_default();
    Some(Ok(Resp::new(200, "application/json;charset=utf-8", body)))
}

/// Step 22: any method on `/mcp/<seg>`.
pub fn endpoint_route(state: &AppState, req: &mut Req) -> Routed {
    let raw = &req.path.raw_segments;
    if raw.len() != 2 || raw[0] != "mcp" || raw[1].is_empty() {
        return None;
    }
    let channel = req.path.segments[1].clone();
    Some(serve(state, req, &channel))
}

fn serve(state: &AppState, req: &mut Req, channel: &str) -> Result<Resp, ApiError> {
    if state.channels.get(channel).is_none() {
        if state
            .mcp
            .channel_starting(channel, req.header("mcp-session-id"))
        {
            return Ok(Resp::json(
                503,
                &crate::mcp::jsonrpc::transport_error(
                    crate::mcp::jsonrpc::TRANSPORT_ERROR,
                    "Service Unavailable: the channel is starting, retry",
                ),
            )
            .header("Retry-After", "1"));
        }
        return Err(ApiError::NotFound(format!(
            "unknown channel \"{channel}\" — known channels: {}",
            state.channels.known_list()
        )));
    }
    if !discovery::origin_allowed(
        req.header("origin"),
        req.header("host"),
        req.header("x-forwarded-host"),
        &state.auth.hub_origin(),
    ) {
        return Ok(Resp::json(
            403,
            &crate::mcp::jsonrpc::transport_error(
                crate::mcp::jsonrpc::TRANSPORT_ERROR,
                "Forbidden: Origin not allowed",
            ),
        ));
    }
    let principal = match gate::require(state, req, Scope::Read) {
        Ok(p) => p,
        Err(e @ ApiError::Unauthorized(_)) => {
            return Err(ApiError::Custom {
                status: 401,
                body: e.body(),
                headers: vec![(
                    "WWW-Authenticate".into(),
                    base(state, req).challenge(channel),
                )],
            })
        }
        Err(e) => return Err(e),
    };
    let body = if req.is("POST") {
        req.body()?.to_vec()
    } else {
        Vec::new()
    };
    let mcp = state.mcp.clone();
    let guard = gate::bearer(req).map(|t| gate::stream_guard(state, t, Scope::Read));
    let request = McpHttpRequest {
        method: &req.method,
        channel,
        session_id: req.header("mcp-session-id"),
        accept: req.header("accept"),
        content_type: req.header("content-type"),
        protocol_version: req.header("mcp-protocol-version"),
        body: &body,
        scopes: principal.scopes,
    };
    Ok(to_resp(
        &mcp,
        endpoint::handle(&mcp.sessions, &*mcp, &request),
        guard,
    ))
}

fn to_resp(mcp: &Arc<McpService>, r: McpHttpResponse, guard: Option<StreamGuard>) -> Resp {
    match r {
        McpHttpResponse::Json {
            status,
            body,
            session_id,
            allow,
        } => {
            let mut resp = Resp::json(status, &body);
            if let Some(sid) = session_id {
                resp = resp.header("mcp-session-id", &sid);
            }
            if let Some(allow) = allow {
                resp = resp.header("Allow", allow);
            }
            resp
        }
        McpHttpResponse::Sse { body, session_id } => Resp::new(200, "text/event-stream", body)
            .header("Cache-Control", "no-cache")
            .header("X-Accel-Buffering", "no")
            .header("mcp-session-id", &session_id),
        McpHttpResponse::Empty { status } => Resp::empty(status),
        McpHttpResponse::PushStream {
            session_id,
            stream_id,
            rx,
        } => {
            let svc = mcp.clone();
            let sid = session_id.clone();
            Resp::sse(Box::new(move |mut w| {
                let channel = svc.sessions.get(&sid).map(|s| s.channel);
                let live = || channel.as_deref().is_some_and(|c| svc.channel_live(c));
                // [ext] at each keepalive, a stream whose channel was deleted ends and its
                // session is unregistered (the reference keeps both forever)
                let mut send = |b: &[u8]| {
                    if b == sse::KEEPALIVE && !live() {
                        return Err(std::io::Error::other("channel removed"));
                    }
                    w.send(b)
                };
                let _ = sse::pump(&rx, &mut send, svc.keepalive, guard);
                if live() {
                    svc.sessions.close_push(&sid, stream_id);
                } else {
                    svc.sessions.remove(&sid);
                }
                let _ = w.finish();
            }))
            .header("Cache-Control", "no-cache, no-transform")
            .header("mcp-session-id", &session_id)
        }
    }
}

//! The route table, in the precedence order of spec 01 §2.8 (first match wins). Each
//! subsystem contributes one `route` call that returns `None` when the request is not
//! its own; whatever nobody takes is `404 {"error":"not found"}` (there is no 405).

use super::{channels_api, events, open, terminal, ApiError, Req, Resp};
use crate::state::AppState;

type Routed = Option<Result<Resp, ApiError>>;

pub fn route(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    if let Some(r) = daemon_routes(state, req) {
        return r;
    }
    // Step 23: each channel transport's own routes (http-ui `/send`, `/ui/events`).
    for ch in state.channels.list() {
        if let Some(r) = ch.transport.route(state, req) {
            return r;
        }
    }
    Err(ApiError::not_found())
}

fn daemon_routes(state: &AppState, req: &mut Req) -> Routed {
    // Step 1: the terminal WebSocket upgrade (before every other route).
    if let Some(r) = terminal::route(state, req) {
        return Some(r);
    }
    // Steps 2–5: page redirects, SPA.
    if let Some(r) = open::redirect(req) {
        return Some(Ok(r));
    }
    if req.is("GET") && req.segs().first() == Some(&"app") {
        return crate::webui::routes::route(&state.webui, req);
    }
    // Step 6: any method on /health.
    if req.raw_path() == "/health" {
        return Some(Ok(open::health(state)));
    }
    // Step 7: the config documents.
    if req.is("GET") && req.raw_path() == "/.parachute/config" {
        return Some(Ok(open::parachute_config(state)));
    }
    if req.is("GET") && req.raw_path() == "/.parachute/config/schema" {
        return Some(Ok(open::parachute_config_schema()));
    }
    // Steps 8–22: subsystem routes plug in below, in spec order.
    // Step 8: channel CRUD.
    if req.is("GET") && req.raw_path() == "/api/channels" {
        return Some(channels_api::list(state, req));
    }
    if let Some(r) = crate::channels::api::route(state, req) {
        return Some(r);
    }
    // Step 9: scheduled jobs.
    if let Some(r) = crate::jobs::routes::route(state, req) {
        return Some(r);
    }
    // Step 10: step-up PIN.
    if let Some(r) = crate::security::routes::route_step_up(state, req) {
        return Some(r);
    }
    // Step 11: credentials.
    if let Some(r) = crate::credentials::routes::route(state, req) {
        return Some(r);
    }
    // Step 12: the agents API (programmatic spawn, list, delete, restart, env view).
    if let Some(r) = crate::backend::programmatic::api::route(state, req) {
        return Some(r);
    }
    // Steps 12 (`/api/vaults`), 13 (`/api/agent-defs`), 14 (`/api/agent-vaults`).
    if let Some(r) = crate::agents::def_routes::route(state, req) {
        return Some(r);
    }
    // Step 15: the MCP endpoint's OAuth discovery documents.
    if let Some(r) = crate::mcp::route::discovery_route(state, req) {
        return Some(r);
    }
    // Step 16: the bridge's SSE stream.
    if req.is("GET") && req.raw_path() == "/events" {
        return Some(events::events(state, req));
    }
    // Step 17: the bridge REST routes.
    if let Some(r) = crate::channels::session_api::route(state, req) {
        return Some(r);
    }
    // Step 18: the vault inbound webhook, then the definition reload webhook.
    if let Some(r) = crate::vault::routes::route_inbound(state, req) {
        return Some(r);
    }
    if let Some(r) = crate::agents::def_routes::route_webhook(state, req) {
        return Some(r);
    }
    // Step 19: SSE ticket mint, and [ext] the web UI's one-time login exchange.
    if let Some(r) = crate::webui::routes::route(&state.webui, req) {
        return Some(r);
    }
    if let Some(r) = crate::security::routes::route_ticket(state, req) {
        return Some(r);
    }
    // Step 20: the live turn events of programmatic agents.
    if let Some(r) = crate::backend::programmatic::api::route_turn_events(state, req) {
        return Some(r);
    }
    // Step 20: POST /api/channels/<vault channel>/send (other channels fall through).
    if let Some(r) = crate::vault::routes::route_send(state, req) {
        return Some(r);
    }
    // Step 20: GET /api/channels/<ch>/messages (the transport's transcript).
    if let Some(r) = crate::channels::session_api::route_messages(state, req) {
        return Some(r);
    }
    // Step 22: the Streamable-HTTP MCP endpoint, any method.
    if let Some(r) = crate::mcp::route::endpoint_route(state, req) {
        return Some(r);
    }
    test_hooks(req)
}

/// Debug builds only, and only when `PARACHUTE_AGENT_TEST_HOOKS=1`, so black-box tests
/// can exercise the HTTP core without depending on a product route: `/__test/panic`
/// panics inside a handler; `POST /__test/echo` parses the JSON body and echoes it.
#[cfg(debug_assertions)]
fn test_hooks(req: &mut Req) -> Routed {
    if std::env::var("PARACHUTE_AGENT_TEST_HOOKS").as_deref() != Ok("1") {
        return None;
    }
    match req.raw_path() {
        "/__test/panic" => panic!("test hook: deliberate panic"),
        "/__test/echo" if req.is("POST") => Some(req.json().map(|v| Resp::ok(&v))),
        _ => None,
    }
}

#[cfg(not(debug_assertions))]
fn test_hooks(_req: &mut Req) -> Routed {
    None
}

//! The HTTP face (spec 01 §2): the route table, in the precedence order of spec 01 §2.8
//! (first match wins), and one handler file per resource. Each resource contributes a
//! `route` call that returns `None` when the request is not its own; whatever nobody takes
//! is `404 {"error":"not found"}` (there is no 405). Request gating (scope, step-up,
//! tickets) lives beside the routes in [`gate`]. This is the top layer: nothing below
//! imports it; [`handler`] is what the daemon hands to `http::HttpServer::start`.

pub mod agent_defs;
pub mod agents;
pub mod app;
pub mod bridge;
pub mod channels;
pub mod credentials;
pub mod events;
pub mod gate;
pub mod http_ui;
pub mod jobs;
pub mod mcp;
pub mod metrics;
pub mod open;
pub mod operator;
pub mod security;
pub mod terminal;
pub mod test_hooks;
pub mod unavailable;
pub mod vault;

use std::sync::Arc;

use crate::http::{ApiError, Handler, Req, Resp};
use crate::metrics::Webhook;
use crate::state::AppState;

type Routed = Option<Result<Resp, ApiError>>;

/// Counts a webhook's answer for `/metrics`.
fn counted(hook: Webhook, r: Result<Resp, ApiError>) -> Result<Resp, ApiError> {
    let status = match &r {
        Ok(resp) => resp.status,
        Err(e) => e.status(),
    };
    crate::metrics::metrics().webhook(hook, status);
    r
}

/// The server's handler: every request of `state`'s daemon through [`route`].
pub fn handler(state: Arc<AppState>) -> Handler {
    Arc::new(move |req: &mut Req| route(&state, req))
}

pub fn route(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    if let Some(r) = daemon_routes(state, req) {
        return r;
    }
    // Step 23: the http-ui channels' own routes (`/send`, `/ui/events`).
    if let Some(r) = http_ui::route(state, req) {
        return r;
    }
    Err(ApiError::not_found())
}

fn daemon_routes(state: &AppState, req: &mut Req) -> Routed {
    // Step 1: the terminal WebSocket upgrade (before every other route).
    if let Some(r) = terminal::route(state, req) {
        return Some(r);
    }
    // Steps 2–3: the terminal's assets and page.
    if let Some(r) = terminal::page_route(req) {
        return Some(r);
    }
    // Steps 2–5: page redirects, SPA.
    if let Some(r) = open::redirect(req) {
        return Some(Ok(r));
    }
    if req.is("GET") && req.segs().first() == Some(&"app") {
        return app::route(&state.webui, req);
    }
    // [ext] The Prometheus metrics, next to /health.
    if let Some(r) = metrics::route(state, req) {
        return Some(r);
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
        return Some(channels::list(state, req));
    }
    if let Some(r) = channels::route(state, req) {
        return Some(r);
    }
    // Step 9: scheduled jobs.
    if let Some(r) = jobs::route(state, req) {
        return Some(r);
    }
    // Step 10: step-up PIN.
    if let Some(r) = security::route_step_up(state, req) {
        return Some(r);
    }
    // Step 11: credentials.
    if let Some(r) = credentials::route(state, req) {
        return Some(r);
    }
    // Step 12: the agents API (programmatic spawn, list, delete, restart, env view).
    if let Some(r) = agents::route(state, req) {
        return Some(r);
    }
    // [ext] Operator sessions: POST|DELETE /api/agents/<name>/session.
    if let Some(r) = operator::route(state, req) {
        return Some(r);
    }
    // Steps 12 (`/api/vaults`), 13 (`/api/agent-defs`), 14 (`/api/agent-vaults`).
    if let Some(r) = agent_defs::route(state, req) {
        return Some(r);
    }
    // Step 15: the MCP endpoint's OAuth discovery documents.
    if let Some(r) = mcp::discovery_route(state, req) {
        return Some(r);
    }
    // Step 16: the bridge's SSE stream.
    if req.is("GET") && req.raw_path() == "/events" {
        return Some(events::events(state, req));
    }
    // Step 17: the bridge REST routes.
    if let Some(r) = bridge::route(state, req) {
        return Some(r);
    }
    // Step 18: the vault inbound webhook, then the definition reload webhook.
    if let Some(r) = vault::route_inbound(state, req) {
        return Some(counted(Webhook::Inbound, r));
    }
    if let Some(r) = agent_defs::route_webhook(state, req) {
        return Some(counted(Webhook::AgentDef, r));
    }
    // Step 19: SSE ticket mint, and [ext] the web UI's one-time login exchange.
    if let Some(r) = app::route(&state.webui, req) {
        return Some(r);
    }
    if let Some(r) = security::route_ticket(state, req) {
        return Some(r);
    }
    // Step 20: the live turn events of programmatic agents.
    if let Some(r) = agents::route_turn_events(state, req) {
        return Some(r);
    }
    // Step 20: POST /api/channels/<vault channel>/send (other channels fall through).
    if let Some(r) = vault::route_send(state, req) {
        return Some(r);
    }
    // Step 20: GET /api/channels/<ch>/messages (the transport's transcript).
    if let Some(r) = bridge::route_messages(state, req) {
        return Some(r);
    }
    // Step 22: the Streamable-HTTP MCP endpoint, any method.
    if let Some(r) = mcp::endpoint_route(state, req) {
        return Some(r);
    }
    test_hooks::route(state, req)
}

//! `GET /metrics` (beyond the reference): the Prometheus text format of the
//! process counters in `metrics/` plus the gauges read now from their owners (queue depth
//! per agent, stream subscribers, MCP sessions). Gate: `agent:read`, or no token at all for
//! a direct loopback client when `PARACHUTE_AGENT_METRICS_OPEN` is on (a request that
//! carries proxy forwarding headers came through the hub and still needs the token).

use super::gate;
use crate::auth::Scope;
use crate::http::{ApiError, Req, Resp};
use crate::metrics::exposition::{Exposition, CONTENT_TYPE};
use crate::metrics::{metrics, AuthFailure, Upstream, Webhook, TURN_OUTCOMES, WEBHOOK_RESULTS};
use crate::state::AppState;

type Routed = Option<Result<Resp, ApiError>>;

const FORWARDING_HEADERS: [&str; 3] = ["forwarded", "x-forwarded-for", "x-forwarded-host"];

pub fn route(state: &AppState, req: &mut Req) -> Routed {
    if !(req.is("GET") && req.raw_path() == "/metrics") {
        return None;
    }
    Some(authorized(state, req).map(|()| render(state)))
}

fn authorized(state: &AppState, req: &Req) -> Result<(), ApiError> {
    let direct = FORWARDING_HEADERS.iter().all(|h| req.header(h).is_none());
    if state.config.metrics_open && direct && req.peer_is_loopback() && gate::bearer(req).is_none()
    {
        return Ok(());
    }
    gate::require(state, req, Scope::Read).map(|_| ())
}

fn render(state: &AppState) -> Resp {
    let m = metrics();
    let mut e = Exposition::default();
    e.family(
        "parachute_agent_build_info",
        "gauge",
        "Build of the running daemon.",
    )
    .sample(
        "parachute_agent_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
    e.family(
        "parachute_agent_start_time_seconds",
        "gauge",
        "Start of the daemon process, seconds since the Unix epoch.",
    )
    .sample(
        "parachute_agent_start_time_seconds",
        &[],
        m.start_time_seconds(),
    );
    turns(&mut e);
    queues(state, &mut e);
    streams(state, &mut e);
    requests(&mut e);
    upstreams(&mut e);
    if let Some(backlog) = m.journal_backlog() {
        e.family(
            "parachute_agent_journal_backlog",
            "gauge",
            "Inbound journal entries not yet processed.",
        )
        .sample("parachute_agent_journal_backlog", &[], backlog as f64);
    }
    Resp::text(200, CONTENT_TYPE, e.finish())
}

fn turns(e: &mut Exposition) {
    let agents = metrics().agents();
    e.family(
        "parachute_agent_turns_total",
        "counter",
        "Finished programmatic turns by agent and outcome.",
    );
    for (name, t) in &agents {
        for outcome in TURN_OUTCOMES {
            let labels = [("agent", name.as_str()), ("outcome", outcome)];
            e.sample(
                "parachute_agent_turns_total",
                &labels,
                t.count(outcome) as f64,
            );
        }
    }
    e.family(
        "parachute_agent_turn_duration_seconds",
        "histogram",
        "Wall-clock duration of programmatic turns (retries included).",
    );
    for (name, t) in &agents {
        e.histogram(
            "parachute_agent_turn_duration_seconds",
            &[("agent", name)],
            &t.duration,
        );
    }
}

fn queues(state: &AppState, e: &mut Exposition) {
    let depths = state.programmatic.registry.queue_depths();
    e.family(
        "parachute_agent_queue_depth",
        "gauge",
        "Messages waiting in a programmatic agent's queue.",
    );
    for (name, waiting, _) in &depths {
        e.sample(
            "parachute_agent_queue_depth",
            &[("agent", name)],
            *waiting as f64,
        );
    }
    e.family(
        "parachute_agent_turns_running",
        "gauge",
        "Turns running now per programmatic agent (0 or 1).",
    );
    for (name, _, busy) in &depths {
        let v = if *busy { 1.0 } else { 0.0 };
        e.sample("parachute_agent_turns_running", &[("agent", name)], v);
    }
}

fn streams(state: &AppState, e: &mut Exposition) {
    e.family(
        "parachute_agent_sse_subscribers",
        "gauge",
        "Open SSE streams by stream kind.",
    )
    .sample(
        "parachute_agent_sse_subscribers",
        &[("stream", "events")],
        state.events.total() as f64,
    )
    .sample(
        "parachute_agent_sse_subscribers",
        &[("stream", "turn-events")],
        state.turn_events.total() as f64,
    );
    let count = state.health.mcp_sessions.read().clone();
    e.family(
        "parachute_agent_mcp_sessions",
        "gauge",
        "Live MCP sessions per channel.",
    );
    for ch in state.channels.list() {
        let n = count.as_ref().map_or(0, |f| f(&ch.name));
        e.sample(
            "parachute_agent_mcp_sessions",
            &[("channel", &ch.name)],
            n as f64,
        );
    }
}

fn requests(e: &mut Exposition) {
    let m = metrics();
    e.family(
        "parachute_agent_webhooks_total",
        "counter",
        "Inbound vault webhooks by webhook and result.",
    );
    for hook in Webhook::ALL {
        for (i, result) in WEBHOOK_RESULTS.iter().enumerate() {
            let labels = [("webhook", hook.as_str()), ("result", result)];
            e.sample(
                "parachute_agent_webhooks_total",
                &labels,
                m.webhook_count(hook, i) as f64,
            );
        }
    }
    e.family(
        "parachute_agent_auth_failures_total",
        "counter",
        "Requests refused by the token gate, by reason.",
    );
    for reason in AuthFailure::ALL {
        let n = m.auth_failure_count(reason) as f64;
        e.sample(
            "parachute_agent_auth_failures_total",
            &[("reason", reason.as_str())],
            n,
        );
    }
}

fn upstreams(e: &mut Exposition) {
    let m = metrics();
    e.family(
        "parachute_agent_upstream_request_duration_seconds",
        "histogram",
        "Latency of calls to the vault and the hub (until the response head).",
    );
    for u in Upstream::ALL {
        e.histogram(
            "parachute_agent_upstream_request_duration_seconds",
            &[("upstream", u.as_str())],
            &m.calls(u).duration,
        );
    }
    e.family(
        "parachute_agent_upstream_errors_total",
        "counter",
        "Calls to the vault and the hub that failed in transport or answered 5xx.",
    );
    for u in Upstream::ALL {
        let n = m.calls(u).errors.load(std::sync::atomic::Ordering::Relaxed) as f64;
        e.sample(
            "parachute_agent_upstream_errors_total",
            &[("upstream", u.as_str())],
            n,
        );
    }
}

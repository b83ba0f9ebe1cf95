//! Process-wide counters for `/metrics` (beyond the reference). Every count on
//! a hot path is one relaxed atomic add on a fixed slot: no lock, no allocation. Per-agent
//! turn counters are looked up once per worker thread ([`Metrics::agent`]) and then
//! counted lock-free. Scrape-time gauges (queue depth, subscribers, MCP sessions) are
//! read from their owners when `/metrics` renders; see `render` for the text format.
//!
//! Like a Prometheus client library's default registry, the counters are one global
//! ([`metrics`]): the vault and hub HTTP clients and the auth gate count without any
//! plumbing through their constructors.

pub mod exposition;
pub mod histogram;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use parking_lot::RwLock;

pub use histogram::Histogram;

/// Turn duration buckets (seconds): turns run from seconds to the 30 min default limit.
pub const TURN_BUCKETS: &[f64] = &[1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0];
/// Upstream call buckets (seconds).
pub const CALL_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Turn outcomes, the `outcome` label (the engine's `TurnOutcome::as_str` values).
pub const TURN_OUTCOMES: [&str; 5] = ["ok", "failed", "timeout", "limit", "undelivered"];

/// Turn counters of one agent.
pub struct AgentTurns {
    by_outcome: [AtomicU64; TURN_OUTCOMES.len()],
    pub duration: Histogram,
}

impl AgentTurns {
    fn new() -> Self {
        AgentTurns {
            by_outcome: Default::default(),
            duration: Histogram::new(TURN_BUCKETS),
        }
    }

    /// Counts one finished turn (`outcome` one of [`TURN_OUTCOMES`]).
    pub fn record(&self, outcome: &str, took: Duration) {
        if let Some(i) = TURN_OUTCOMES.iter().position(|o| *o == outcome) {
            self.by_outcome[i].fetch_add(1, Ordering::Relaxed);
        }
        self.duration.observe(took);
    }

    pub fn count(&self, outcome: &str) -> u64 {
        TURN_OUTCOMES
            .iter()
            .position(|o| *o == outcome)
            .map_or(0, |i| self.by_outcome[i].load(Ordering::Relaxed))
    }
}

/// The inbound webhooks (`webhook` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Webhook {
    Inbound,
    AgentDef,
}

impl Webhook {
    pub const ALL: [Webhook; 2] = [Webhook::Inbound, Webhook::AgentDef];
    pub fn as_str(self) -> &'static str {
        match self {
            Webhook::Inbound => "inbound",
            Webhook::AgentDef => "agent-def",
        }
    }
}

/// The `result` label of a webhook, from its response status.
pub const WEBHOOK_RESULTS: [&str; 5] = [
    "accepted",
    "bad_request",
    "unauthorized",
    "not_found",
    "error",
];

fn webhook_result(status: u16) -> usize {
    match status {
        200..=299 => 0,
        401 | 403 => 2,
        404 => 3,
        400..=499 => 1,
        _ => 4,
    }
}

/// Why a request was refused by the scope gate (`reason` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthFailure {
    MissingToken,
    InvalidToken,
    Expired,
    Revoked,
    InsufficientScope,
}

impl AuthFailure {
    pub const ALL: [AuthFailure; 5] = [
        AuthFailure::MissingToken,
        AuthFailure::InvalidToken,
        AuthFailure::Expired,
        AuthFailure::Revoked,
        AuthFailure::InsufficientScope,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::MissingToken => "missing_token",
            AuthFailure::InvalidToken => "invalid_token",
            AuthFailure::Expired => "expired",
            AuthFailure::Revoked => "revoked",
            AuthFailure::InsufficientScope => "insufficient_scope",
        }
    }

    /// The reason of a token validation error, from its message (spec 01 §3.6).
    pub fn of_message(message: &str) -> AuthFailure {
        let m = message.to_ascii_lowercase();
        if m.contains("expired") {
            AuthFailure::Expired
        } else if m.contains("revoked") {
            AuthFailure::Revoked
        } else {
            AuthFailure::InvalidToken
        }
    }
}

/// An upstream the daemon calls (`upstream` label).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Upstream {
    Vault,
    Hub,
}

impl Upstream {
    pub const ALL: [Upstream; 2] = [Upstream::Vault, Upstream::Hub];
    pub fn as_str(self) -> &'static str {
        match self {
            Upstream::Vault => "vault",
            Upstream::Hub => "hub",
        }
    }
}

/// Latency and errors of the calls to one upstream.
pub struct CallStats {
    pub duration: Histogram,
    /// Transport failures and 5xx answers.
    pub errors: AtomicU64,
}

/// Every counter of the process.
pub struct Metrics {
    started: SystemTime,
    agents: RwLock<BTreeMap<String, Arc<AgentTurns>>>,
    webhooks: [[AtomicU64; WEBHOOK_RESULTS.len()]; 2],
    auth_failures: [AtomicU64; 5],
    calls: [CallStats; 2],
    journal_backlog: AtomicI64,
    journal_present: AtomicBool,
}

/// The process-wide registry.
pub fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::new)
}

impl Metrics {
    fn new() -> Self {
        let calls = || CallStats {
            duration: Histogram::new(CALL_BUCKETS),
            errors: AtomicU64::new(0),
        };
        Metrics {
            started: SystemTime::now(),
            agents: RwLock::new(BTreeMap::new()),
            webhooks: Default::default(),
            auth_failures: Default::default(),
            calls: [calls(), calls()],
            journal_backlog: AtomicI64::new(0),
            journal_present: AtomicBool::new(false),
        }
    }

    /// The turn counters of `agent` (created on first use). Take it once per worker.
    pub fn agent(&self, agent: &str) -> Arc<AgentTurns> {
        if let Some(a) = self.agents.read().get(agent) {
            return a.clone();
        }
        self.agents
            .write()
            .entry(agent.to_string())
            .or_insert_with(|| Arc::new(AgentTurns::new()))
            .clone()
    }

    pub fn agents(&self) -> Vec<(String, Arc<AgentTurns>)> {
        let map = self.agents.read();
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    pub fn webhook(&self, hook: Webhook, status: u16) {
        self.webhooks[hook as usize][webhook_result(status)].fetch_add(1, Ordering::Relaxed);
    }

    pub fn webhook_count(&self, hook: Webhook, result: usize) -> u64 {
        self.webhooks[hook as usize][result].load(Ordering::Relaxed)
    }

    pub fn auth_failure(&self, reason: AuthFailure) {
        self.auth_failures[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn auth_failure_count(&self, reason: AuthFailure) -> u64 {
        self.auth_failures[reason as usize].load(Ordering::Relaxed)
    }

    pub fn calls(&self, upstream: Upstream) -> &CallStats {
        &self.calls[upstream as usize]
    }

    /// The durable inbound journal reports its backlog (entries not yet processed); the
    /// gauge appears in `/metrics` from its first report on.
    pub fn set_journal_backlog(&self, entries: i64) {
        self.journal_backlog.store(entries, Ordering::Relaxed);
        self.journal_present.store(true, Ordering::Relaxed);
    }

    pub fn journal_backlog(&self) -> Option<i64> {
        self.journal_present
            .load(Ordering::Relaxed)
            .then(|| self.journal_backlog.load(Ordering::Relaxed))
    }

    pub fn start_time_seconds(&self) -> f64 {
        self.started
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// A ureq middleware timing every call to `upstream` (until the response head) and
/// counting transport failures and 5xx answers as errors.
pub struct CallTimer(pub Upstream);

impl ureq::middleware::Middleware for CallTimer {
    fn handle(
        &self,
        request: ureq::http::Request<ureq::SendBody>,
        next: ureq::middleware::MiddlewareNext,
    ) -> Result<ureq::http::Response<ureq::Body>, ureq::Error> {
        let started = Instant::now();
        let result = next.handle(request);
        let stats = metrics().calls(self.0);
        stats.duration.observe(started.elapsed());
        let failed = match &result {
            Ok(resp) => resp.status().is_server_error(),
            Err(_) => true,
        };
        if failed {
            stats.errors.fetch_add(1, Ordering::Relaxed);
        }
        result
    }
}

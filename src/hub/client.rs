//! The shared outbound HTTP client for calls to the hub (token mint, grants): one ureq
//! agent (connection pool) with explicit timeouts, 4xx/5xx returned as responses so
//! callers can read the hub's error bodies (spec 07 §1).

use std::sync::OnceLock;
use std::time::Duration;

/// The process-wide hub client (5 s to connect, 30 s per call).
pub fn hub_agent() -> ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT
        .get_or_init(|| {
            crate::util::http_client::lean_buffers(ureq::Agent::config_builder())
                .http_status_as_error(false)
                .timeout_connect(Some(Duration::from_secs(5)))
                .timeout_global(Some(Duration::from_secs(30)))
                .middleware(crate::metrics::CallTimer(crate::metrics::Upstream::Hub))
                .build()
                .new_agent()
        })
        .clone()
}

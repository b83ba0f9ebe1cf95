//! Operator security stores (spec 01 §4, §5): one-time SSE tickets ([`tickets`]), the
//! step-up PIN and its tokens ([`stepup`]) and the PIN attempt limiter ([`limiter`]).
//! The HTTP routes and guards built on them live in `routes` once the HTTP layer exists.

pub mod limiter;
pub mod stepup;
pub mod tickets;

pub use limiter::{RateLimiter, RetryAfter};
pub use stepup::{GateError, MintedStepUp, StepUpError, StepUpStore};
pub use tickets::{MintedTicket, TicketError, TicketStore};

use std::time::Duration;

/// A lifetime knob that may only shorten `max` (spec 08): whole seconds from `var`;
/// unset, empty, non-numeric or zero → `max`; larger values are clamped to `max`.
pub fn ttl_from_env(var: &str, max: Duration) -> Duration {
    parse_ttl(std::env::var(var).ok().as_deref(), max)
}

fn parse_ttl(value: Option<&str>, max: Duration) -> Duration {
    match value.map(str::trim).and_then(|v| v.parse::<u64>().ok()) {
        Some(secs) if secs > 0 => Duration::from_secs(secs).min(max),
        _ => max,
    }
}

/// Whether `scopes` satisfies `required` (`agent:<verb>`), accepting the legacy
/// `channel:<verb>` alias; exact membership, no hierarchy (spec 01 §3.7).
pub fn scope_granted(scopes: &[String], required: &str) -> bool {
    let legacy = required
        .strip_prefix("agent:")
        .map(|verb| format!("channel:{verb}"));
    scopes
        .iter()
        .any(|s| s == required || Some(s) == legacy.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_knob_may_only_shorten() {
        let max = Duration::from_secs(60);
        assert_eq!(parse_ttl(None, max), max);
        assert_eq!(parse_ttl(Some(""), max), max);
        assert_eq!(parse_ttl(Some("abc"), max), max);
        assert_eq!(parse_ttl(Some("0"), max), max);
        assert_eq!(parse_ttl(Some(" 2 "), max), Duration::from_secs(2));
        assert_eq!(parse_ttl(Some("9999"), max), max);
    }

    #[test]
    fn scope_dual_accept_without_hierarchy() {
        let s = |v: &str| -> Vec<String> { v.split(' ').map(String::from).collect() };
        assert!(scope_granted(&s("agent:read"), "agent:read"));
        assert!(scope_granted(&s("channel:read"), "agent:read"));
        assert!(!scope_granted(&s("channel:read"), "agent:write"));
        assert!(!scope_granted(&s("agent:admin"), "agent:read"));
        assert!(!scope_granted(&s("agent:read agent:send"), "agent:admin"));
    }
}

//! Exponential back-off with jitter for polling that keeps failing (spec 06 §6: the
//! reference's job-load circuit breaker after rc.10, also applied to the def-vault poll):
//! after the n-th failure in a row the next attempt waits `min(cap, base·2^(n-1))`,
//! ±20 % jitter; a success closes it again. The caller logs once when a streak starts
//! ([`Failure::first`]) and once when it ends ([`Backoff::succeeded`] returns the streak).

use std::time::{Duration, Instant};

/// Share of the delay used as jitter (±).
pub const JITTER: f64 = 0.2;

/// Base and cap of one back-off (`PARACHUTE_AGENT_BACKOFF_BASE_MS` / `_CAP_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            base: Duration::from_secs(60),
            cap: Duration::from_secs(30 * 60),
        }
    }
}

/// What a failure did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The first failure of a streak (log it).
    pub first: bool,
    /// How long the next attempt waits.
    pub delay: Duration,
}

#[derive(Debug)]
pub struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
    until: Option<Instant>,
}

impl Backoff {
    pub fn new(policy: BackoffPolicy) -> Backoff {
        Backoff {
            policy,
            failures: 0,
            until: None,
        }
    }

    /// May an attempt run at `now`?
    pub fn ready(&self, now: Instant) -> bool {
        self.until.is_none_or(|u| now >= u)
    }

    /// The un-jittered delay after `failures` failures in a row.
    pub fn delay_for(policy: BackoffPolicy, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(31);
        policy.base.saturating_mul(1u32 << exp).min(policy.cap)
    }

    /// Records a failure at `now`; `unit` in `[0, 1)` picks the jitter.
    pub fn failed(&mut self, now: Instant, unit: f64) -> Failure {
        self.failures = self.failures.saturating_add(1);
        let plain = Self::delay_for(self.policy, self.failures).as_secs_f64();
        let factor = 1.0 + JITTER * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let delay = Duration::from_secs_f64(plain * factor);
        self.until = Some(now + delay);
        Failure {
            first: self.failures == 1,
            delay,
        }
    }

    /// Records a success; `Some(n)` when it ends a streak of `n` failures.
    pub fn succeeded(&mut self) -> Option<u32> {
        let streak = self.failures;
        self.failures = 0;
        self.until = None;
        (streak > 0).then_some(streak)
    }
}

/// A uniform number in `[0, 1)` for the jitter.
pub fn jitter_unit() -> f64 {
    let mut b = [0u8; 8];
    if getrandom::getrandom(&mut b).is_err() {
        return 0.5;
    }
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_the_cap_with_jitter_and_resets() {
        let policy = BackoffPolicy {
            base: Duration::from_secs(60),
            cap: Duration::from_secs(30 * 60),
        };
        let plain: Vec<u64> = (1..=7)
            .map(|n| Backoff::delay_for(policy, n).as_secs())
            .collect();
        assert_eq!(plain, [60, 120, 240, 480, 960, 1800, 1800]);
        let mut b = Backoff::new(policy);
        let t0 = Instant::now();
        assert!(b.ready(t0));
        let f = b.failed(t0, 0.5);
        assert_eq!(
            f,
            Failure {
                first: true,
                delay: Duration::from_secs(60)
            }
        );
        assert!(!b.ready(t0 + Duration::from_secs(59)) && b.ready(t0 + Duration::from_secs(60)));
        let low = b.failed(t0, 0.0).delay.as_secs_f64();
        assert!((low - 96.0).abs() < 1e-6, "{low}");
        let high = b.failed(t0, 1.0).delay.as_secs_f64();
        assert!((high - 288.0).abs() < 1e-6, "{high}");
        assert!(!b.failed(t0, 0.5).first);
        assert_eq!(b.succeeded(), Some(4));
        assert!(b.ready(t0));
        assert_eq!(b.succeeded(), None);
        assert!(b.failed(t0, 0.5).first);
        let u = jitter_unit();
        assert!((0.0..1.0).contains(&u));
    }
}

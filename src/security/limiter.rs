//! Sliding-window attempt limiter for PIN checks (spec 01 §5.5): at most `max` admitted
//! attempts per key inside `window`. An attempt is recorded only when admitted, so hammering
//! a locked key does not extend the lockout. Buckets live in memory and reset on restart.

use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Attempts admitted per window (spec 01 §5.5).
pub const MAX_ATTEMPTS: usize = 5;
/// Window length (spec 01 §5.5: 300 000 ms).
pub const WINDOW: Duration = Duration::from_secs(300);

/// A denied attempt: how long until the oldest admitted attempt leaves the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter {
    /// `max(1, ceil((oldest + window - now) / 1 s))`.
    pub seconds: u64,
}

/// Per-key sliding-window limiter.
pub struct RateLimiter {
    max: usize,
    window: Duration,
    buckets: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(MAX_ATTEMPTS, WINDOW)
    }
}

impl RateLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        RateLimiter {
            max,
            window,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Admit (and record) one attempt for `key`, or deny it without recording.
    pub fn attempt(&self, key: &str) -> Result<(), RetryAfter> {
        self.attempt_at(key, Instant::now())
    }

    /// [`attempt`](Self::attempt) at an explicit instant (tests drive the clock).
    pub fn attempt_at(&self, key: &str, now: Instant) -> Result<(), RetryAfter> {
        let mut buckets = self.buckets.lock();
        let bucket = buckets.entry(key.to_string()).or_default();
        while let Some(&oldest) = bucket.front() {
            if now.saturating_duration_since(oldest) >= self.window {
                bucket.pop_front();
            } else {
                break;
            }
        }
        if bucket.len() >= self.max {
            let oldest = *bucket.front().expect("a full bucket is not empty");
            let left = (oldest + self.window).saturating_duration_since(now);
            let seconds = left.as_millis().div_ceil(1000).max(1) as u64;
            return Err(RetryAfter { seconds });
        }
        bucket.push_back(now);
        Ok(())
    }

    /// Forget every attempt of `key` (a correct PIN clears its bucket).
    pub fn clear(&self, key: &str) {
        self.buckets.lock().remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_admitted_then_denied_without_recording() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        for i in 0..5 {
            assert!(l.attempt_at("k", t0 + Duration::from_secs(i)).is_ok());
        }
        let denied = l.attempt_at("k", t0 + Duration::from_secs(10)).unwrap_err();
        assert_eq!(denied.seconds, 290);
        // Hammering does not extend the lockout: once the first attempt ages out, one
        // slot frees up even though denied attempts happened in between.
        for s in 11..299 {
            assert!(l.attempt_at("k", t0 + Duration::from_secs(s)).is_err());
        }
        assert!(l.attempt_at("k", t0 + Duration::from_secs(300)).is_ok());
        assert!(l.attempt_at("k", t0 + Duration::from_secs(300)).is_err());
    }

    #[test]
    fn retry_after_is_at_least_one_and_rounds_up() {
        let l = RateLimiter::new(1, Duration::from_secs(300));
        let t0 = Instant::now();
        l.attempt_at("k", t0).unwrap();
        let r = l
            .attempt_at("k", t0 + Duration::from_millis(299_999))
            .unwrap_err();
        assert_eq!(r.seconds, 1);
        let r = l
            .attempt_at("k", t0 + Duration::from_millis(100_500))
            .unwrap_err();
        assert_eq!(r.seconds, 200);
    }

    #[test]
    fn keys_are_independent_and_clear_resets() {
        let l = RateLimiter::new(2, Duration::from_secs(300));
        let t0 = Instant::now();
        l.attempt_at("a", t0).unwrap();
        l.attempt_at("a", t0).unwrap();
        assert!(l.attempt_at("a", t0).is_err());
        assert!(l.attempt_at("b", t0).is_ok());
        l.clear("a");
        assert!(l.attempt_at("a", t0).is_ok());
    }
}

//! [ext] The re-check of a long-lived stream's credentials: an SSE
//! stream (`/events`, `/ui/events`, turn-events, the MCP GET stream) is opened by a token
//! that may later expire, be revoked, or stop verifying after `token rotate`. The stream's
//! thread calls [`StreamGuard::check_if_due`] between frames and at least every `every`;
//! once the check fails it writes [`error_frame`] and ends the response, so no stream
//! outlives its token by more than about one interval. The check itself is a closure built
//! by the route (it calls the auth module's ordinary token validation), so this module
//! knows nothing about tokens.

use std::time::{Duration, Instant};

use serde_json::json;

/// Re-validation of one stream's credentials.
pub struct StreamGuard {
    check: Box<dyn Fn() -> Result<(), String> + Send>,
    every: Duration,
    next: Instant,
}

impl StreamGuard {
    /// `check` returns why the stream must end (`Err`), or `Ok` to keep it; it is first
    /// called `every` after now.
    pub fn new(every: Duration, check: impl Fn() -> Result<(), String> + Send + 'static) -> Self {
        let every = every.max(Duration::from_millis(100));
        StreamGuard {
            check: Box::new(check),
            every,
            next: Instant::now() + every,
        }
    }

    /// How long the stream may wait for a frame before the next check is due.
    pub fn until_next(&self) -> Duration {
        self.next.saturating_duration_since(Instant::now())
    }

    /// Runs the check when it is due; the reason when the stream must end.
    pub fn check_if_due(&mut self) -> Result<(), String> {
        let now = Instant::now();
        if now < self.next {
            return Ok(());
        }
        self.next = now + self.every;
        (self.check)()
    }
}

/// Runs `guard`'s check when due (no guard: always fine).
pub fn check(guard: &mut Option<StreamGuard>) -> Result<(), String> {
    guard.as_mut().map_or(Ok(()), StreamGuard::check_if_due)
}

/// How long to wait for the next frame: `keepalive_in`, shortened to the guard's next check.
pub fn wait(guard: &Option<StreamGuard>, keepalive_in: Duration) -> Duration {
    guard
        .as_ref()
        .map_or(keepalive_in, |g| keepalive_in.min(g.until_next()))
}

/// The last event of a stream whose token no longer holds:
/// `event: error` with `{"error":"unauthorized","message":<why>}`.
pub fn error_frame(reason: &str) -> Vec<u8> {
    let data = json!({"error": "unauthorized", "message": reason});
    format!("event: error\ndata: {data}\n\n").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    #[test]
    fn checks_only_when_due_and_reports_the_reason() {
        let ok = Arc::new(AtomicBool::new(true));
        let flag = ok.clone();
        let mut g = Some(StreamGuard::new(Duration::from_millis(100), move || {
            if flag.load(Ordering::SeqCst) {
                Ok(())
            } else {
                Err("token expired".into())
            }
        }));
        ok.store(false, Ordering::SeqCst);
        assert_eq!(check(&mut g), Ok(()), "not due yet");
        assert!(wait(&g, Duration::from_secs(25)) <= Duration::from_millis(100));
        std::thread::sleep(Duration::from_millis(120));
        assert_eq!(check(&mut g), Err("token expired".into()));
        assert_eq!(check(&mut None), Ok(()));
        let frame = String::from_utf8(error_frame("token expired")).unwrap();
        assert_eq!(
            frame,
            "event: error\ndata: {\"error\":\"unauthorized\",\"message\":\"token expired\"}\n\n"
        );
    }
}

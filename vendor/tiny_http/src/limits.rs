//! parachute-agent patch (see PATCHED.md): the limits every connection is held to, and the
//! shared accounting behind them — open connections, buffered request-body bytes, and the
//! per-connection read clock that turns the header deadline and the body idle timeout into
//! socket read timeouts.

use std::io::{Error as IoError, ErrorKind, Result as IoResult};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a client may send and how long it may take. Every size here bounds an allocation
/// or a wait; none is ever taken from a number the client sent.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of the request line plus all header lines (beyond: 431 and close).
    pub max_header_bytes: usize,
    /// Number of header lines (beyond: 431 and close).
    pub max_headers: usize,
    /// From "ready for the next request" (accept, or the previous response written) to the
    /// blank line that ends the headers. Expired with nothing received: a quiet close (an
    /// idle keep-alive connection); expired mid-head: 408 and close.
    pub header_timeout: Duration,
    /// Longest wait for the next bytes of a request body, and for a response write to
    /// make progress (beyond: 408, or the connection is dropped).
    pub body_idle_timeout: Duration,
    /// Largest body read into memory; a larger one is never read (the handler answers 413
    /// from `Request::body_too_large`) and the connection closes after the response.
    pub max_body_bytes: usize,
    /// Bytes of request bodies buffered at once over all connections (beyond: 503).
    pub body_buffer_bytes: usize,
    /// How much of an unread body is drained before closing, so the client sees the
    /// response rather than a reset.
    pub drain_bytes: usize,
    /// Open connections (beyond: an immediate 503 and close from the accept thread).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_header_bytes: 64 * 1024,
            max_headers: 100,
            header_timeout: Duration::from_secs(10),
            body_idle_timeout: Duration::from_secs(10),
            max_body_bytes: 10 * 1024 * 1024,
            body_buffer_bytes: 64 * 1024 * 1024,
            drain_bytes: 64 * 1024,
            max_connections: 4096,
        }
    }
}

/// State shared by the accept thread and every connection.
pub(crate) struct Shared {
    pub(crate) limits: Limits,
    open: AtomicUsize,
    buffered: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(limits: Limits) -> Arc<Shared> {
        Arc::new(Shared {
            limits,
            open: AtomicUsize::new(0),
            buffered: AtomicUsize::new(0),
        })
    }

    pub(crate) fn open_connections(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Counts one more open connection, unless the cap is reached.
    pub(crate) fn try_open(self: &Arc<Self>) -> Option<ConnGuard> {
        let max = self.limits.max_connections;
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| ConnGuard(self.clone()))
    }

    /// An empty share of the body buffer budget, grown as bytes arrive.
    pub(crate) fn budget(self: &Arc<Self>) -> Budget {
        Budget {
            shared: self.clone(),
            held: 0,
        }
    }
}

/// One open connection; dropped when both halves of its socket are.
pub(crate) struct ConnGuard(Arc<Shared>);

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Body bytes held in memory by one request; released on drop.
pub(crate) struct Budget {
    shared: Arc<Shared>,
    held: usize,
}

impl Budget {
    /// Takes `n` more bytes of the global budget; false when it is exhausted.
    pub(crate) fn grow(&mut self, n: usize) -> bool {
        let max = self.shared.limits.body_buffer_bytes;
        let ok = self
            .shared
            .buffered
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                b.checked_add(n).filter(|t| *t <= max)
            })
            .is_ok();
        if ok {
            self.held += n;
        }
        ok
    }
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.shared.buffered.fetch_sub(self.held, Ordering::AcqRel);
    }
}

/// The read timeout policy of one connection: an absolute deadline while a request head
/// is read, the idle timeout otherwise (none once the connection is upgraded).
pub(crate) struct ReadClock {
    state: Mutex<(Option<Instant>, Option<Duration>)>,
}

impl ReadClock {
    pub(crate) fn new(idle: Duration) -> ReadClock {
        ReadClock {
            state: Mutex::new((None, Some(idle))),
        }
    }

    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        self.state.lock().unwrap_or_else(|e| e.into_inner()).0 = deadline;
    }

    /// An upgraded connection (WebSocket) may stay quiet as long as it likes.
    pub(crate) fn disable_idle(&self) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = (None, None);
    }

    /// How long the next socket read may wait (`None`: forever); `TimedOut` once the
    /// deadline has passed.
    pub(crate) fn next_timeout(&self) -> IoResult<Option<Duration>> {
        let (deadline, idle) = *self.state.lock().unwrap_or_else(|e| e.into_inner());
        let Some(deadline) = deadline else {
            return Ok(idle);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left < Duration::from_millis(1) {
            return Err(timed_out());
        }
        // Millisecond steps, so an unchanged value does not need a new setsockopt.
        let left = Duration::from_millis(left.as_millis() as u64);
        Ok(Some(idle.map_or(left, |i| i.min(left))))
    }
}

pub(crate) fn timed_out() -> IoError {
    IoError::new(ErrorKind::TimedOut, "read timed out")
}

/// RFC 9110 §7.2 `Host` syntax, strictly: `host [":" port]` where host is a DNS-style
/// name or IPv4 address (letters, digits, `-._~`) or a bracketed IPv6 literal, and port is
/// at most five digits. Anything else (quotes, spaces, `@`, `/`, control bytes) is refused,
/// so a value that passes can be copied into a URL or a response header as it is.
pub fn is_valid_authority(value: &str) -> bool {
    if value.is_empty() || value.len() > 255 {
        return false;
    }
    let (host, port) = if let Some(rest) = value.strip_prefix('[') {
        let Some((ip6, after)) = rest.split_once(']') else {
            return false;
        };
        let ip6_ok = !ip6.is_empty()
            && ip6
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        if !ip6_ok {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("x", Some(port)),
                None => return false,
            },
        }
    } else {
        match value.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (value, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let port_ok = port.map_or(true, |p| {
        !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
    });
    host_ok && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_syntax() {
        for ok in [
            "x",
            "127.0.0.1:1941",
            "agent.example.com",
            "[::1]:8080",
            "[::1]",
            "a-b_c~d",
        ] {
            assert!(is_valid_authority(ok), "{ok}");
        }
        for bad in [
            "",
            "a\"b",
            "a b",
            "a\r\nb",
            "a\nb",
            "a@b",
            "a/b",
            "a:",
            "a:123456",
            "a:1x",
            "[::1",
            "[zz]",
            "[::1]x",
            ":80",
            "a:1:2",
        ] {
            assert!(!is_valid_authority(bad), "{bad:?}");
        }
    }

    #[test]
    fn budget_and_connection_caps() {
        let shared = Shared::new(Limits {
            max_connections: 2,
            body_buffer_bytes: 10,
            ..Limits::default()
        });
        let a = shared.try_open().unwrap();
        let _b = shared.try_open().unwrap();
        assert!(shared.try_open().is_none());
        drop(a);
        assert!(shared.try_open().is_some());
        let mut one = shared.budget();
        assert!(one.grow(6));
        let mut two = shared.budget();
        assert!(!two.grow(5));
        drop(one);
        assert!(two.grow(10));
    }
}

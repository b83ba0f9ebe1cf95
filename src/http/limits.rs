//! The front door's limits: [`HttpLimits`] (filled from the environment by
//! `config`), the open-file limit raised at boot, and the connection
//! [`tiny_http::Limits`] built from them. The enforcement itself lives in the vendored
//! tiny_http (`vendor/tiny_http/PATCHED.md`).

use std::time::Duration;

/// What one client may send and hold: each field is a knob with a safe default,
/// see the README's configuration table.
#[derive(Debug, Clone)]
pub struct HttpLimits {
    /// `PARACHUTE_AGENT_MAX_HEADER_BYTES` (65536; 1 KiB–1 MiB): request line + headers;
    /// beyond → 431 and close.
    pub max_header_bytes: usize,
    /// `PARACHUTE_AGENT_MAX_HEADERS` (100; 8–10000): header lines; beyond → 431 and close.
    pub max_headers: usize,
    /// `PARACHUTE_AGENT_HEADER_TIMEOUT_SECS` (10; ≥ 1): from "ready for a request" to the
    /// end of its head; also how long an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// `PARACHUTE_AGENT_BODY_IDLE_TIMEOUT_SECS` (10; ≥ 1): longest pause inside a request
    /// body (→ 408 and close) or a response write (→ connection dropped).
    pub body_idle_timeout: Duration,
    /// `PARACHUTE_AGENT_BODY_BUFFER_BYTES` (67108864; at least the body limit): request
    /// bodies held in memory at once over all connections; beyond → 503.
    pub body_buffer_bytes: u64,
    /// `PARACHUTE_AGENT_DRAIN_BYTES` (65536; ≤ 16 MiB): how much of an unread (too large)
    /// body is read and dropped before the connection closes.
    pub drain_bytes: usize,
    /// `PARACHUTE_AGENT_MAX_CONNECTIONS` (unset: 4096, lowered to fit the open-file limit;
    /// ≥ 1): open connections; beyond → an immediate 503 and close.
    pub max_connections: Option<usize>,
}

/// Large buffers (request bodies up to the body limit) are always `mmap`ed, so freeing one
/// gives its memory back at once. glibc otherwise raises its mmap threshold after the first
/// large free (up to 32 MiB) and keeps later bodies in the heap, where RSS stays at its peak
/// after a body flood. Setting the threshold explicitly turns that adjustment off.
pub fn return_large_buffers_to_os() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator tunable.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
    }
}

/// The default connection cap, when the open-file limit allows it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Descriptors kept free of connections: state files, vault and hub sockets, turn pipes.
const FD_RESERVE: u64 = 256;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (systemd's soft default is 1024) and
/// returns the soft limit now in force. Best effort: a failure keeps the old limit.
pub fn raise_nofile_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: a valid resource id and a pointer to a properly sized rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 1024;
    }
    let before = lim.rlim_cur;
    // An unlimited hard limit still cannot exceed fs.nr_open; 2^20 is its default.
    let target = if lim.rlim_max == libc::RLIM_INFINITY {
        1 << 20
    } else {
        lim.rlim_max
    };
    if target <= before {
        return before;
    }
    let raised = libc::rlimit {
        rlim_cur: target,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above; only the soft limit changes, within the hard limit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } != 0 {
        log::warn!(
            "http: cannot raise the open-file limit from {before} to {target}: {}",
            std::io::Error::last_os_error()
        );
        return before;
    }
    log::info!("http: open-file limit raised from {before} to {target}");
    target
}

/// The connection cap: the configured one, else the default lowered so that connections
/// alone cannot exhaust the descriptors (`nofile` − 256, at least 16).
pub fn connection_cap(http: &HttpLimits, nofile: u64) -> usize {
    if let Some(n) = http.max_connections {
        if n as u64 + FD_RESERVE > nofile {
            log::warn!(
                "http: PARACHUTE_AGENT_MAX_CONNECTIONS={n} is above what the open-file limit \
                 {nofile} leaves; accept will back off when descriptors run out"
            );
        }
        return n;
    }
    let fit = nofile.saturating_sub(FD_RESERVE).max(16);
    DEFAULT_MAX_CONNECTIONS.min(usize::try_from(fit).unwrap_or(usize::MAX))
}

/// The tiny_http limits of these settings.
pub fn server_limits(http: &HttpLimits, max_body_bytes: u64, nofile: u64) -> tiny_http::Limits {
    tiny_http::Limits {
        max_header_bytes: http.max_header_bytes,
        max_headers: http.max_headers,
        header_timeout: http.header_timeout,
        body_idle_timeout: http.body_idle_timeout,
        max_body_bytes: usize::try_from(max_body_bytes).unwrap_or(usize::MAX),
        body_buffer_bytes: usize::try_from(http.body_buffer_bytes).unwrap_or(usize::MAX),
        drain_bytes: http.drain_bytes,
        max_connections: connection_cap(http, nofile),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_connections: Option<usize>) -> HttpLimits {
        HttpLimits {
            max_header_bytes: 1,
            max_headers: 1,
            header_timeout: Duration::from_secs(1),
            body_idle_timeout: Duration::from_secs(1),
            body_buffer_bytes: 1,
            drain_bytes: 1,
            max_connections,
        }
    }

    #[test]
    fn cap_fits_the_descriptor_limit_unless_set() {
        assert_eq!(connection_cap(&limits(None), 1 << 20), 4096);
        assert_eq!(connection_cap(&limits(None), 1024), 768);
        assert_eq!(connection_cap(&limits(None), 100), 16);
        assert_eq!(connection_cap(&limits(Some(50_000)), 1024), 50_000);
    }
}

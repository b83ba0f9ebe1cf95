//! Shared helpers of the front-door tests (`http_*.rs`): raw connections, a daemon with one
//! http-ui channel, the fast-`/health` check and state-dir snapshots.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::state_common::{assert_same, snapshot};
use crate::support::daemon::{Daemon, DaemonBuilder};

/// A daemon with one http-ui channel `web` (so there is state to lose).
pub fn daemon_with(env: &[(&str, &str)]) -> Daemon {
    let mut b = DaemonBuilder::new();
    for (k, v) in env {
        b = b.env(k, v);
    }
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        r#"{"channels":[{"name":"web","transport":"http-ui"}]}"#,
    )
    .unwrap();
    let d = b.start();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !d.get("/health", None).body.contains("\"web\"") {
        assert!(Instant::now() < deadline, "channel web never came up");
        std::thread::sleep(Duration::from_millis(20));
    }
    d
}

/// Sends `bytes` on a fresh connection (write errors ignored: the daemon may close early)
/// and returns everything read until the daemon closes or `wait` passes.
pub fn raw(d: &Daemon, bytes: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    let _ = s.write_all(bytes);
    read_until_close(&mut s, wait).0
}

/// Reads until EOF (or reset) or `wait`; the text and whether the peer closed.
pub fn read_until_close(s: &mut TcpStream, wait: Duration) -> (String, bool) {
    let deadline = Instant::now() + wait;
    let mut out = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (String::from_utf8_lossy(&out).into_owned(), false);
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                return (String::from_utf8_lossy(&out).into_owned(), false)
            }
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {
                return (String::from_utf8_lossy(&out).into_owned(), false)
            }
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), true),
        }
    }
}

/// The status code of a raw response ("" → 0).
pub fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

/// The daemon answers `/health` within 100 ms (retried on a loaded machine).
pub use super::state_common::assert_health_fast as assert_serving;

/// Runs `attack`, then checks the daemon serves `/health` fast and its state files are
/// byte-identical to before.
pub fn survives(d: &Daemon, attack: impl FnOnce()) {
    let before = snapshot(&d.state_dir(), &[]);
    attack();
    assert_serving(d);
    assert_same(&before, &snapshot(&d.state_dir(), &[]));
}

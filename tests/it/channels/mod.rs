//! Channels, black-box (spec 05 §2, §3, §4, §5, §7): the CRUD API, the http-ui
//! transport, `/events` and `/ui/events`, the bridge REST routes, the stdio bridge, and
//! 1,000 concurrent subscribers.

mod bridge;
mod crud;
mod rest;
mod scale;
mod streams;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};

/// Scopes of the tokens the tests use.
pub const ALL: &str = "agent:read agent:write agent:send agent:admin";

/// A daemon with a 1 s SSE keepalive (so dead subscribers are reaped quickly).
pub fn daemon() -> Daemon {
    DaemonBuilder::new()
        .env("PARACHUTE_AGENT_SSE_KEEPALIVE_SECS", "1")
        .start()
}

/// Creates a channel through the API and asserts it went live.
pub fn add_channel(d: &Daemon, admin: &str, name: &str, transport: &str) {
    let r = d.post(
        "/api/channels",
        Some(admin),
        &json!({"name": name, "transport": transport}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["live"], true, "{}", r.body);
}

/// `/health` body.
pub fn health(d: &Daemon) -> Value {
    let r = d.get("/health", None);
    assert_eq!(r.status, 200);
    r.json()
}

/// `channels[].clients` of one channel in `/health` (None if the channel is not live).
pub fn clients(d: &Daemon, channel: &str) -> Option<u64> {
    health(d)["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == channel)
        .map(|c| c["clients"].as_u64().unwrap())
}

/// Polls `pred` every 20 ms until it holds or `timeout` passes.
pub fn eventually(timeout: Duration, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if pred() {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A raw SSE connection: a plain socket the test can close or read byte-wise, so a
/// disconnect is a real disconnect (no reader thread keeps it open).
pub struct RawSse {
    pub stream: TcpStream,
    pub head: String,
    buf: Vec<u8>,
}

impl RawSse {
    /// Connects and sends `GET <path>`; returns once the response head and the
    /// `: connected` comment arrived (panics otherwise).
    pub fn open(port: u16, path: &str, token: Option<&str>) -> RawSse {
        let mut sse = RawSse::connect(port, path, token);
        assert!(
            sse.wait_for(": connected", Duration::from_secs(10)),
            "no `: connected` on {path}: {}",
            sse.text()
        );
        sse
    }

    /// Connects and sends the request without waiting for anything.
    pub fn connect(port: u16, path: &str, token: Option<&str>) -> RawSse {
        RawSse::connect_with(port, path, token, "")
    }

    /// Like [`RawSse::connect`] with extra header lines (each ending in `\r\n`).
    pub fn connect_with(port: u16, path: &str, token: Option<&str>, extra: &str) -> RawSse {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}{extra}Accept: text/event-stream\r\n\r\n"
        )
        .unwrap();
        RawSse {
            stream,
            head: String::new(),
            buf: Vec::new(),
        }
    }

    /// Reads until `needle` shows up in the (chunk-framed) bytes; consumes through it.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = find(&self.buf, needle.as_bytes()) {
                let consumed: Vec<u8> = self.buf.drain(..pos + needle.len()).collect();
                if self.head.is_empty() {
                    self.head = String::from_utf8_lossy(&consumed).into_owned();
                }
                return true;
            }
            if !matches!(self.read_more(deadline), Some(Ok(n)) if n > 0) {
                return false;
            }
        }
    }

    /// Reads once more into the buffer, waiting at most until `deadline`: `None` when the
    /// deadline has passed, else the read's result (`Ok(0)` = end of stream).
    fn read_more(&mut self, deadline: Instant) -> Option<std::io::Result<usize>> {
        let left = deadline.checked_duration_since(Instant::now())?;
        self.stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        let mut chunk = [0u8; 8192];
        let read = self.stream.read(&mut chunk);
        if let Ok(n) = read {
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Some(read)
    }

    /// Waits for the next `event: <name>` frame and returns its data as JSON.
    pub fn event(&mut self, name: &str, timeout: Duration) -> Option<Value> {
        if !self.wait_for(&format!("event: {name}\ndata: "), timeout) {
            return None;
        }
        if !self.wait_until_contains("\n\n", timeout) {
            return None;
        }
        let end = find(&self.buf, b"\n\n")?;
        let data: Vec<u8> = self.buf.drain(..end + 2).collect();
        serde_json::from_slice(&data[..end]).ok()
    }

    fn wait_until_contains(&mut self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while find(&self.buf, needle.as_bytes()).is_none() {
            if !matches!(self.read_more(deadline), Some(Ok(n)) if n > 0) {
                return false;
            }
        }
        true
    }

    /// True once the server ended the stream within `timeout`: the last chunk of the
    /// chunked body (`0\r\n\r\n`) arrived, or the connection closed.
    pub fn ended_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if find(&self.buf, b"\r\n0\r\n\r\n").is_some() || self.buf.starts_with(b"0\r\n\r\n") {
                return true;
            }
            match self.read_more(deadline) {
                None => return false,
                Some(Ok(0)) => return true,
                Some(Ok(_)) => {}
                Some(Err(e)) if e.kind() == std::io::ErrorKind::WouldBlock => return false,
                Some(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => return false,
                Some(Err(_)) => return true,
            }
        }
    }

    /// What was received and not yet consumed.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

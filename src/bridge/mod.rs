//! `parachute-agent bridge`: the stdio MCP server Claude Code spawns (spec 05 §4). It relays
//! between one session and the daemon: inbound via the daemon's `/events` SSE stream
//! (→ `notifications/claude/agent[/permission]` lines on stdout), outbound via the bridge
//! REST routes of §3 (`tools/call` → `POST /api/reply|react|edit|download`).
//!
//! Threads: the caller's thread reads stdin line by line; one thread runs the SSE loop
//! (`events`); each `tools/call` runs on a short-lived worker. All of them write whole lines
//! to stdout through one [`Output`] lock, so lines never interleave. Logs go to stderr only.
//!
//! Configuration is by environment (§4.1): `PARACHUTE_AGENT_URL` (legacy
//! `PARACHUTE_CHANNEL_URL`, default `http://127.0.0.1:1941`), `PARACHUTE_AGENT_TOKEN` (legacy
//! `PARACHUTE_CHANNEL_TOKEN`), `PARACHUTE_CHANNEL_NAME` (default `telegram`; empty counts as
//! unset [ext]). [ext] The bridge exits with status 0 when stdin reaches EOF.

mod client;
mod events;
mod rpc;
mod sse;
mod surface;

pub use client::DaemonClient;
pub use sse::{SseEvent, SseParser};
pub use surface::Namespace;

use std::io::{BufRead, Write};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::Value;

/// Default daemon URL (spec 05 §4.1).
pub const DEFAULT_URL: &str = "http://127.0.0.1:1941";
/// Default channel of a bridge (spec 05 §4.1).
pub const DEFAULT_CHANNEL: &str = "telegram";
/// How long to wait for `notifications/initialized` before the "no client" notice (§4.5).
const INIT_WARNING_AFTER: Duration = Duration::from_secs(15);

/// Everything the bridge needs (from `config::BridgeSettings`).
#[derive(Debug, Clone)]
pub struct BridgeConfig {
    pub url: String,
    pub token: Option<String>,
    pub channel: String,
    pub namespace: Namespace,
    /// Delay before reconnecting after a stream ended (3 s; see `events` for the backoff).
    pub retry_base: Duration,
}

impl BridgeConfig {
    /// The bridge's settings as `config::BridgeSettings` read them from the environment.
    pub fn new(s: crate::config::BridgeSettings) -> Self {
        BridgeConfig {
            url: s.url.unwrap_or_else(|| DEFAULT_URL.into()),
            token: s.token,
            channel: s.channel.unwrap_or_else(|| DEFAULT_CHANNEL.into()),
            namespace: Namespace::from_legacy_flag(s.channel_namespace),
            retry_base: s.retry_base,
        }
    }
}

/// Serialised writer of JSON-RPC lines (stdout in production, memory in tests).
pub struct Output {
    sink: Mutex<Box<dyn Write + Send>>,
    memory: Option<Arc<Mutex<Vec<u8>>>>,
}

impl Output {
    pub fn new(sink: Box<dyn Write + Send>) -> Self {
        Output {
            sink: Mutex::new(sink),
            memory: None,
        }
    }

    /// Write one message as one line and flush it. A closed stdout is logged; stdin EOF
    /// ends the bridge soon after anyway.
    pub fn send(&self, msg: &Value) {
        let mut line = serde_json::to_vec(msg).unwrap_or_default();
        line.push(b'\n');
        if let Some(mem) = &self.memory {
            mem.lock().extend_from_slice(&line);
            return;
        }
        let mut sink = self.sink.lock();
        if let Err(e) = sink.write_all(&line).and_then(|_| sink.flush()) {
            log::debug!("bridge: stdout write failed: {e}");
        }
    }

    #[cfg(test)]
    pub(crate) fn memory() -> Self {
        Output {
            sink: Mutex::new(Box::new(std::io::sink())),
            memory: Some(Arc::new(Mutex::new(Vec::new()))),
        }
    }

    #[cfg(test)]
    pub(crate) fn lines(&self) -> Vec<Value> {
        let mem = self.memory.as_ref().expect("memory output").lock();
        String::from_utf8_lossy(&mem)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Run the bridge on the process's stdin/stdout; returns the exit status.
pub fn run(config: BridgeConfig) -> i32 {
    let stdin = std::io::stdin().lock();
    run_io(
        config,
        stdin,
        Arc::new(Output::new(Box::new(std::io::stdout()))),
    )
}

/// Run the bridge over the given input and output (the testable core of [`run`]).
pub fn run_io(config: BridgeConfig, mut input: impl BufRead, out: Arc<Output>) -> i32 {
    eprintln!(
        "parachute-agent bridge: connected to Claude Code (channel=\"{}\"), connecting to daemon...",
        config.channel
    );
    let client = Arc::new(DaemonClient::new(&config.url, config.token.clone()));
    {
        let (client, channel, out) = (
            Arc::clone(&client),
            config.channel.clone(),
            Arc::clone(&out),
        );
        let (ns, base) = (config.namespace, config.retry_base);
        std::thread::Builder::new()
            .name("bridge-events".into())
            .spawn(move || events::run_loop(client, channel, ns, out, base))
            .expect("spawn bridge events thread");
    }
    let session = Arc::new(rpc::Session::new(
        client,
        config.channel.clone(),
        config.namespace,
        out,
    ));
    {
        let session = Arc::clone(&session);
        std::thread::spawn(move || {
            std::thread::sleep(INIT_WARNING_AFTER);
            if !session.is_initialized() {
                eprintln!(
                    "parachute-agent bridge: running, but no MCP client has initialized within {}s \
                     (is it started by Claude Code?)",
                    INIT_WARNING_AFTER.as_secs()
                );
            }
        });
    }
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match input.read_until(b'\n', &mut buf) {
            Ok(0) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                session.handle_line(line.trim_end_matches('\n'));
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("parachute-agent bridge: stdin read failed: {e}");
                session.join_workers();
                return 1;
            }
        }
    }
    session.join_workers();
    0
}

#[cfg(test)]
mod tests;

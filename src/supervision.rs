//! The daemon's life under a service manager ([ext] over spec 01 §6.7): opening
//! the inbound journal at boot (a torn tail reported), systemd notifications (`READY=1`
//! once `/health` answers on the listener, `STATUS=` with queue depths, `WATCHDOG=1`
//! while the HTTP workers and every turn worker are alive, `STOPPING=1`), and the drain
//! on SIGTERM/SIGINT: refuse new work (503 + `Retry-After`), let running turns finish for
//! the grace period, then abandon them — their messages stay journaled for the next start.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::programmatic::durable::Durable;
use crate::config::Config;
use crate::journal::Journal;
use crate::lifecycle::notify::{spawn_watchdog, Notifier};
use crate::lifecycle::Lifecycle;
use crate::state::AppState;

/// Opens `<state>/journal/inbound.log` (a failure is a boot failure: without it no
/// message could be accepted durably).
pub fn open_durable(config: &Config) -> Result<Durable, String> {
    let k = &config.durability;
    let (journal, report) = Journal::open(&config.state_dir, k.compact_bytes)
        .map_err(|e| format!("cannot open the inbound journal: {e}"))?;
    if let Some(t) = &report.torn {
        log::warn!(
            "journal: torn last record at byte {} ({} byte(s), {}) ignored and cut off; the {} record(s) before it are intact",
            t.offset,
            t.bytes,
            t.reason,
            report.records
        );
    }
    log::info!(
        "journal: {} record(s), {} message(s) pending, read in {} ms",
        report.records,
        report.pending,
        report.elapsed.as_millis()
    );
    let lifecycle = Arc::new(Lifecycle::new());
    lifecycle.set_stop_grace(k.stop_grace);
    Ok(Durable::new(
        Some(journal),
        lifecycle,
        k.max_attempts,
        k.max_age,
    ))
}

/// One `GET /health` over loopback: the accept loop and a connection thread answer.
pub fn probe_http(port: u16, timeout: Duration) -> Result<(), String> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, timeout).map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_read_timeout(Some(timeout));
    let _ = s.set_write_timeout(Some(timeout));
    s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).map_err(|e| format!("read: {e}"))?;
    if head.starts_with(b"HTTP/1.1 200") || head.starts_with(b"HTTP/1.0 200") {
        Ok(())
    } else {
        Err(format!(
            "/health answered {:?}",
            String::from_utf8_lossy(&head)
        ))
    }
}

/// `STATUS=` text: state, journal depth per channel, running turns.
pub fn status_line(state: &AppState) -> String {
    let phase = if state.lifecycle.draining() {
        "draining"
    } else {
        "running"
    };
    let depths = state
        .journal
        .as_ref()
        .map(|j| j.depths())
        .unwrap_or_default();
    let pending: usize = depths.values().sum();
    let per: Vec<String> = depths.iter().map(|(c, n)| format!("{c}:{n}")).collect();
    let running = state.programmatic.registry.running();
    let mut s = format!("{phase}; {running} turn(s) running; {pending} message(s) journaled");
    if !per.is_empty() {
        s.push_str(&format!(" ({})", per.join(", ")));
    }
    s
}

/// The notifier and its watchdog thread.
pub struct Supervisor {
    notifier: Arc<Notifier>,
    stop_watchdog: Option<crossbeam_channel::Sender<()>>,
    watchdog: Option<std::thread::JoinHandle<()>>,
}

/// After the listener is bound: `READY=1` once `/health` answers, then the watchdog.
pub fn announce_ready(state: &Arc<AppState>) -> Supervisor {
    let k = &state.config.durability;
    let notifier = Arc::new(Notifier::new(k.notify_socket.as_deref()));
    let port = state.config.port;
    if notifier.enabled() {
        let deadline = Instant::now() + Duration::from_secs(30);
        while let Err(e) = probe_http(port, Duration::from_secs(2)) {
            if Instant::now() > deadline {
                log::warn!("/health did not answer within 30 s ({e}); notifying READY anyway");
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        notifier.ready(&status_line(state));
    }
    let (tx, rx) = crossbeam_channel::bounded::<()>(1);
    let (alive_state, status_state) = (state.clone(), state.clone());
    let interval = k.watchdog;
    let probe_timeout = interval.map_or(Duration::from_secs(5), |i| {
        (i / 2).max(Duration::from_millis(100))
    });
    let watchdog = spawn_watchdog(
        notifier.clone(),
        interval,
        Box::new(move || {
            probe_http(port, probe_timeout).map_err(|e| format!("HTTP workers: {e}"))?;
            alive_state.programmatic.registry.workers_alive()
        }),
        Box::new(move || status_line(&status_state)),
        rx,
    );
    Supervisor {
        notifier,
        stop_watchdog: Some(tx),
        watchdog,
    }
}

impl Supervisor {
    /// The systemd notifier (a reload reports through it).
    pub fn notifier(&self) -> Arc<Notifier> {
        self.notifier.clone()
    }

    /// SIGTERM/SIGINT: `STOPPING=1`, refuse new work, wait up to the grace period for the
    /// running turns, then mark the rest abandoned (the caller kills them).
    pub fn drain(&mut self, state: &AppState) {
        state.lifecycle.start_draining();
        self.notifier.stopping(&status_line(state));
        let grace = state.lifecycle.stop_grace();
        let registry = &state.programmatic.registry;
        let running = registry.running();
        if running > 0 {
            log::info!(
                "draining: waiting up to {} s for {running} running turn(s)",
                grace.as_secs()
            );
        }
        let deadline = Instant::now() + grace;
        while registry.running() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let left = registry.running();
        if left > 0 {
            log::warn!(
                "draining: grace period over; stopping {left} turn(s), their messages stay journaled"
            );
        }
        state.lifecycle.abandon_turns();
        if let Some(j) = &state.journal {
            let s = j.stats();
            log::info!(
                "journal: {} message(s) left for the next start ({} bytes)",
                s.pending,
                s.bytes
            );
        }
        drop(self.stop_watchdog.take());
        if let Some(h) = self.watchdog.take() {
            let _ = h.join();
        }
    }
}

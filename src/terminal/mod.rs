//! The browser terminal (spec 06 §2): a WebSocket attached to a tmux client in a fresh
//! pseudo-terminal. The route (`/terminal/<agent>` + `Upgrade: websocket`) runs the gate of
//! §2.3 and hands the upgraded connection to [`TerminalService::attach`], which spawns the
//! viewer `tmux attach -t =<agent>-agent` ([`pty`]) and runs the connection to its end on
//! one thread ([`session`]).
//!
//! Design, because tiny_http's upgraded stream cannot be split between a reader and a
//! writer thread (spec 07 §1): the route duplicates the connection's socket before the
//! upgrade ([`socket`]); the terminal thread makes it and the pty master non-blocking and
//! multiplexes both with `poll(2)`. One thread per terminal owns everything, so teardown
//! (kill the viewer's process group, reap it, close frame, socket shutdown) runs exactly
//! once, and no process outlives its socket; the tmux session itself lives on.
//!
//! [ext] The viewer attaches with `-t =<name>-agent` (exact name): plain `-t` also matches
//! a session whose name merely starts with it.

pub mod exec_shim;
pub mod operator;
pub mod page;
pub mod protocol;
pub mod pty;
pub mod session;
pub mod socket;
pub mod tmux;

use std::ffi::OsString;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// At most this many terminals at once (each holds a thread, a pty and ≤ ~20 MiB).
pub const MAX_OPEN: usize = 16;

/// The terminal subsystem: configuration and the count of open terminals (cheap to clone).
#[derive(Clone)]
pub struct TerminalService {
    stall: Duration,
    path: Option<OsString>,
    open: Arc<AtomicUsize>,
    /// Someone asked for a terminal or an operator session: from then on a missing
    /// `tmux` is a missing dependency in `/health` (a host that never uses the terminal
    /// does not need tmux, spec 08).
    wanted: Arc<AtomicBool>,
    /// The operator sessions this daemon started (`POST /api/agents/<name>/session`).
    pub operator: operator::OperatorSessions,
}

/// A reserved terminal slot, released on drop.
pub struct Slot(Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What one attach needs.
pub struct AttachRequest {
    pub agent: String,
    pub tmux: PathBuf,
    pub cols: u16,
    pub rows: u16,
}

impl TerminalService {
    /// `stall`: how long a client may accept nothing while its queue is full (1013);
    /// `path`: the daemon's `PATH`, where tmux is looked up.
    pub fn new(stall: Duration, path: Option<OsString>) -> TerminalService {
        TerminalService {
            stall,
            path,
            open: Arc::new(AtomicUsize::new(0)),
            wanted: Arc::new(AtomicBool::new(false)),
            operator: operator::OperatorSessions::default(),
        }
    }

    /// `tmux` on the daemon's `PATH`, looked up now (installing tmux needs no restart).
    /// Asking marks tmux as needed (see [`TerminalService::tmux_missing`]).
    pub fn tmux(&self) -> Option<PathBuf> {
        self.wanted.store(true, Ordering::Relaxed);
        tmux::find(self.path.as_deref())
    }

    /// Whether `/health` must list `tmux` as missing: the terminal was asked for on a host
    /// without it.
    pub fn tmux_missing(&self) -> bool {
        self.wanted.load(Ordering::Relaxed) && tmux::find(self.path.as_deref()).is_none()
    }

    /// Whether an attach can succeed on this host (tmux present).
    pub fn available(&self) -> bool {
        tmux::find(self.path.as_deref()).is_some()
    }

    /// Whether to advertise the terminal (spec 09: only when `/terminal` serves its page —
    /// always, it is embedded — and an upgrade can succeed).
    pub fn advertised(&self) -> bool {
        self.available()
    }

    /// Reserves one of [`MAX_OPEN`] slots.
    pub fn reserve(&self) -> Option<Slot> {
        let prev = self.open.fetch_add(1, Ordering::SeqCst);
        let slot = Slot(self.open.clone());
        (prev < MAX_OPEN).then_some(slot)
    }

    /// Runs one attached terminal to its end (on the connection's own thread).
    pub fn attach(&self, req: AttachRequest, socket: TcpStream, slot: Slot) {
        let cmd = tmux::viewer_command(&req.tmux, &req.agent);
        let viewer = pty::Viewer::spawn(&cmd, req.cols, req.rows);
        if let Ok(v) = &viewer {
            log::info!(
                "terminal: attached to {} ({}x{}, viewer pid {})",
                tmux::session_name(&req.agent),
                req.cols,
                req.rows,
                v.pid()
            );
        }
        let end = session::run(socket, viewer, session::Limits::new(self.stall));
        log::info!(
            "terminal: {} closed ({end:?})",
            tmux::session_name(&req.agent)
        );
        drop(slot);
    }
}

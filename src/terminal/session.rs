//! One attached terminal: a single thread multiplexing the WebSocket and the pty master
//! with `poll(2)`, both non-blocking (spec 06 §2.5–§2.7). One thread owns both ends, so
//! there is no reader/writer split of the socket (spec 07 §1), no lock, and teardown runs
//! exactly once, at the end of [`run`], whichever side ended first.
//!
//! Flow control (§2.6), with the reference's numbers:
//! - `pending` = bytes handed to the WebSocket but not yet accepted by the kernel (the
//!   reference's `bufferedAmount`). Forwarding pauses when it reaches 4 MiB; pty output
//!   read meanwhile is queued in order; forwarding resumes when `pending` ≤ 2 MiB and
//!   the queue has been handed over (hysteresis).
//! - The queue holds at most 16 MiB. [ext] The reference closes 1013 the moment the queue
//!   passes 16 MiB, which also closes a client that *is* reading but slower than a burst,
//!   against its own "a flood never closes the socket" contract. Here a full queue first
//!   stops reading the pty (the viewer blocks in `write`; tmux keeps the session running
//!   and repaints the client when it catches up), and 1013 is sent only when the queue is
//!   full **and** the client accepted no byte for `stall`. Nothing is ever dropped or
//!   reordered, and a terminal holds at most ~20 MiB of output plus one input message.
//! - Input is written to the pty as the viewer takes it; while more than 1 MiB waits,
//!   the socket is not read (back-pressure to the client). Client frames > 16 MiB → 1009.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::frame::CloseFrame;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Error as WsError, Message, WebSocket};

use super::protocol::{classify_text, TextFrame};
use super::pty::Viewer;

const MIB: usize = 1024 * 1024;
/// Pending input above which the socket is not read.
const INPUT_HIGH: usize = MIB;
/// One pty read.
const CHUNK: usize = 64 * 1024;
/// How long a closing handshake may take.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The flow-control and liveness numbers of one terminal.
#[derive(Debug, Clone)]
pub struct Limits {
    pub pause_at: usize,
    pub resume_at: usize,
    pub queue_max: usize,
    pub max_frame: usize,
    /// A full queue with no byte accepted by the client for this long → 1013.
    pub stall: Duration,
    /// Ping the client this often.
    pub ping_every: Duration,
    /// Nothing received (not even a pong) for this long → the client is gone.
    pub idle_timeout: Duration,
}

impl Limits {
    pub fn new(stall: Duration) -> Limits {
        Limits {
            pause_at: 4 * MIB,
            resume_at: 2 * MIB,
            queue_max: 16 * MIB,
            max_frame: 16 * MIB,
            stall,
            ping_every: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(90),
        }
    }
}

/// How a terminal ended.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum End {
    /// The viewer exited (or its pty closed): 1000.
    SessionEnded,
    /// The viewer could not be started: 1011.
    AttachFailed,
    /// The client stopped reading: 1013.
    TooSlow,
    /// A client frame or message over the limit: 1009.
    TooBig,
    /// A protocol violation by the client: 1002.
    Protocol,
    /// The client sent a close frame (answered by tungstenite).
    ClientClosed,
    /// The connection broke or went silent.
    ClientGone,
}

impl End {
    fn close_frame(self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            End::SessionEnded => (CloseCode::Normal, "terminal session ended"),
            End::AttachFailed => (CloseCode::Error, "failed to attach terminal session"),
            End::TooSlow => (CloseCode::Again, "terminal consumer too slow"),
            End::TooBig => (CloseCode::Size, "message too big"),
            End::Protocol => (CloseCode::Protocol, "protocol error"),
            End::ClientClosed | End::ClientGone => return None,
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

/// The socket, counting the bytes the kernel accepted.
struct Counted {
    inner: TcpStream,
    written: u64,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Wire size of an unmasked server frame with `len` payload bytes.
fn frame_len(len: usize) -> u64 {
    let header = match len {
        0..=125 => 2,
        126..=65535 => 4,
        _ => 10,
    };
    (header + len) as u64
}

fn would_block(e: &WsError) -> bool {
    matches!(e, WsError::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

struct Terminal {
    ws: WebSocket<Counted>,
    limits: Limits,
    /// Wire bytes handed to tungstenite (data, our pings, its automatic pongs).
    submitted: u64,
    paused: bool,
    queue: VecDeque<Vec<u8>>,
    queued: usize,
    input: VecDeque<u8>,
    pty_eof: bool,
    /// The viewer process exited (its output may still be in the pty buffer).
    viewer_gone: bool,
    last_written: u64,
    last_progress: Instant,
    last_rx: Instant,
    last_ping: Instant,
    buf: Box<[u8]>,
}

/// Runs one terminal to its end. `viewer` is the spawned viewer or why it failed.
pub fn run(socket: TcpStream, viewer: io::Result<Viewer>, limits: Limits) -> End {
    let config = WebSocketConfig::default()
        .max_frame_size(Some(limits.max_frame))
        .max_message_size(Some(limits.max_frame));
    if let Err(e) = socket.set_nonblocking(true) {
        log::warn!("terminal: socket not usable: {e}");
        return End::ClientGone;
    }
    let now = Instant::now();
    let mut t = Terminal {
        ws: WebSocket::from_raw_socket(
            Counted {
                inner: socket,
                written: 0,
            },
            Role::Server,
            Some(config),
        ),
        limits,
        submitted: 0,
        paused: false,
        queue: VecDeque::new(),
        queued: 0,
        input: VecDeque::new(),
        pty_eof: false,
        viewer_gone: false,
        last_written: 0,
        last_progress: now,
        last_rx: now,
        last_ping: now,
        buf: vec![0u8; CHUNK].into_boxed_slice(),
    };
    let end = match viewer {
        Ok(mut viewer) => {
            let end = t.pump(&mut viewer);
            if end == End::SessionEnded {
                t.drain_output();
            }
            drop(viewer); // kills the viewer's process group, reaps it
            end
        }
        Err(e) => {
            log::warn!("terminal: viewer could not start: {e}");
            End::AttachFailed
        }
    };
    t.close(end);
    end
}

impl Terminal {
    fn pending(&self) -> u64 {
        self.submitted.saturating_sub(self.ws.get_ref().written)
    }

    /// The main loop: until the viewer or the client ends.
    fn pump(&mut self, viewer: &mut Viewer) -> End {
        loop {
            if self.pty_eof {
                return End::SessionEnded;
            }
            let read_pty = self.queued < self.limits.queue_max;
            let read_sock = self.input.len() < INPUT_HIGH;
            let mut fds = [
                pollfd(
                    self.ws.get_ref().inner.as_raw_fd(),
                    read_sock,
                    self.pending() > 0,
                ),
                pollfd(viewer.master_fd(), read_pty, !self.input.is_empty()),
            ];
            if let Err(e) = poll(&mut fds, Duration::from_millis(500)) {
                log::warn!("terminal: poll failed: {e}");
                return End::ClientGone;
            }
            if fds[0].revents != 0 {
                if let Some(end) = self.read_socket(viewer) {
                    return end;
                }
            }
            let mut drained = false;
            if fds[1].revents != 0 || (self.viewer_gone && read_pty) {
                drained = self.read_pty(viewer);
            }
            self.write_input(viewer);
            if let Err(end) = self.forward() {
                return end;
            }
            if let Some(end) = self.timers() {
                return end;
            }
            // A viewer that exited may have left output in the pty buffer: the session
            // ends once that is read (or the pty reports that its slave side is closed).
            if self.viewer_gone && drained {
                self.pty_eof = true;
            }
            if !self.viewer_gone && viewer.exited() {
                self.viewer_gone = true;
            }
        }
    }

    fn read_socket(&mut self, viewer: &Viewer) -> Option<End> {
        while self.input.len() < INPUT_HIGH {
            let msg = match self.ws.read() {
                Ok(m) => m,
                Err(e) if would_block(&e) => return None,
                Err(WsError::Capacity(e)) => {
                    log::info!("terminal: client frame refused: {e}");
                    return Some(End::TooBig);
                }
                Err(WsError::Protocol(e)) => {
                    log::info!("terminal: client protocol error: {e}");
                    return Some(End::Protocol);
                }
                Err(_) => return Some(End::ClientGone),
            };
            self.last_rx = Instant::now();
            match msg {
                Message::Binary(b) => self.input.extend(b.iter()),
                Message::Text(t) => match classify_text(t.as_str()) {
                    TextFrame::Resize { cols, rows } => {
                        if let Err(e) = viewer.resize(cols, rows) {
                            log::debug!("terminal: resize failed: {e}");
                        }
                    }
                    TextFrame::Input => self.input.extend(t.as_bytes()),
                },
                // tungstenite queues the pong; count its bytes as submitted.
                Message::Ping(p) => self.submitted += frame_len(p.len()),
                Message::Close(_) => return Some(End::ClientClosed),
                Message::Pong(_) | Message::Frame(_) => {}
            }
        }
        None
    }

    /// Reads what the pty has (bounded per round). Returns true once nothing more is
    /// there for now.
    fn read_pty(&mut self, viewer: &mut Viewer) -> bool {
        // A bounded number of reads per round keeps the socket side responsive.
        for _ in 0..16 {
            if self.queued >= self.limits.queue_max {
                return false;
            }
            match viewer.master().read(&mut self.buf) {
                Ok(0) => self.pty_eof = true,
                Ok(n) => {
                    let chunk = self.buf[..n].to_vec();
                    self.output(chunk);
                    continue;
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // EIO: every slave fd is closed, the viewer is gone.
                Err(_) => self.pty_eof = true,
            }
            return true;
        }
        false
    }

    /// One chunk of pty output: to the socket, or to the queue while paused.
    fn output(&mut self, chunk: Vec<u8>) {
        if self.paused {
            self.queued += chunk.len();
            self.queue.push_back(chunk);
        } else {
            self.send(chunk);
            if self.pending() >= self.limits.pause_at as u64 {
                self.paused = true;
            }
        }
    }

    fn send(&mut self, chunk: Vec<u8>) {
        self.submitted += frame_len(chunk.len());
        // A would-block leaves the frame in tungstenite's buffer; other errors show up
        // on the next read or flush.
        let _ = self.ws.write(Message::Binary(chunk.into()));
    }

    fn write_input(&mut self, viewer: &mut Viewer) {
        while !self.input.is_empty() {
            let (head, _) = self.input.as_slices();
            match viewer.master().write(head) {
                Ok(n) => drop(self.input.drain(..n)),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // Would-block: the viewer is busy; EIO: it is gone (the read side sees it).
                Err(_) => return,
            }
        }
    }

    /// Flushes the socket and resumes forwarding once below the low-water mark.
    fn forward(&mut self) -> Result<(), End> {
        if self.paused && self.pending() <= self.limits.resume_at as u64 {
            while let Some(chunk) = self.queue.pop_front() {
                self.queued -= chunk.len();
                self.send(chunk);
                if self.pending() >= self.limits.pause_at as u64 {
                    break;
                }
            }
            self.paused = !self.queue.is_empty() || self.pending() >= self.limits.pause_at as u64;
        }
        match self.ws.flush() {
            // Everything handed over is on the wire: resynchronise the count.
            Ok(()) => self.submitted = self.ws.get_ref().written,
            Err(e) if would_block(&e) => {}
            Err(_) => return Err(End::ClientGone),
        }
        let written = self.ws.get_ref().written;
        if written != self.last_written {
            self.last_written = written;
            self.last_progress = Instant::now();
        }
        Ok(())
    }

    fn timers(&mut self) -> Option<End> {
        let now = Instant::now();
        let full = self.queued >= self.limits.queue_max;
        if full && now.duration_since(self.last_progress) >= self.limits.stall {
            log::warn!(
                "terminal: client accepted nothing for {:?} with {} MiB queued: closing 1013",
                self.limits.stall,
                self.queued / MIB
            );
            return Some(End::TooSlow);
        }
        if now.duration_since(self.last_rx) >= self.limits.idle_timeout {
            log::info!("terminal: client silent for {:?}", self.limits.idle_timeout);
            return Some(End::ClientGone);
        }
        if now.duration_since(self.last_ping) >= self.limits.ping_every {
            self.last_ping = now;
            self.submitted += frame_len(0);
            let _ = self.ws.write(Message::Ping(Vec::new().into()));
        }
        None
    }

    /// After the viewer ended: hands every queued byte to the client (it keeps reading, or
    /// the stall limit ends the wait).
    fn drain_output(&mut self) {
        loop {
            if self.forward().is_err() {
                return;
            }
            let all_sent = self.queue.is_empty() && self.pending() == 0;
            if all_sent || self.last_progress.elapsed() >= self.limits.stall {
                return;
            }
            let mut fds = [pollfd(self.ws.get_ref().inner.as_raw_fd(), false, true)];
            if poll(&mut fds, Duration::from_millis(200)).is_err() {
                return;
            }
        }
    }

    /// Sends the close frame for `end` (if any) behind what tungstenite already framed
    /// (output still queued is dropped: the connection is ending, and a reconnect repaints
    /// the screen), ends our side, and waits briefly for the client to end its side, so
    /// the close frame is read before the connection goes.
    fn close(&mut self, end: End) {
        self.queue.clear();
        self.queued = 0;
        if let Some(frame) = end.close_frame() {
            let _ = self.ws.close(Some(frame));
        }
        // A client that is reading gets everything up to the close frame; one that is not
        // gets `max(stall, 2 s)` without progress.
        let grace = self.limits.stall.max(CLOSE_GRACE);
        self.last_progress = Instant::now();
        loop {
            match self.ws.flush() {
                Ok(()) => break,
                Err(e) if would_block(&e) => {}
                Err(_) => break,
            }
            let written = self.ws.get_ref().written;
            if written != self.last_written {
                self.last_written = written;
                self.last_progress = Instant::now();
            }
            if self.last_progress.elapsed() >= grace {
                break;
            }
            let mut fds = [pollfd(self.ws.get_ref().inner.as_raw_fd(), false, true)];
            if poll(&mut fds, Duration::from_millis(100)).is_err() {
                break;
            }
        }
        let sock = &mut self.ws.get_mut().inner;
        let _ = sock.shutdown(Shutdown::Write);
        // Discard whatever the client still sends (e.g. the rest of an oversized frame)
        // until it closes, so our close frame is not lost to a reset.
        let deadline = Instant::now() + CLOSE_GRACE;
        let mut sink = [0u8; 16 * 1024];
        while Instant::now() < deadline {
            match sock.read(&mut sink) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    let mut fds = [pollfd(sock.as_raw_fd(), true, false)];
                    if poll(&mut fds, Duration::from_millis(100)).is_err() {
                        break;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
    }
}

/// A poll entry; one with no interest is disabled (a negative fd), so a hung-up fd we
/// do not want to read from cannot make `poll` spin.
fn pollfd(fd: std::os::fd::RawFd, read: bool, write: bool) -> libc::pollfd {
    let mut events = 0;
    if read {
        events |= libc::POLLIN;
    }
    if write {
        events |= libc::POLLOUT;
    }
    libc::pollfd {
        fd: if events == 0 { -1 } else { fd },
        events,
        revents: 0,
    }
}

fn poll(fds: &mut [libc::pollfd], timeout: Duration) -> io::Result<()> {
    // SAFETY: poll reads and writes the pollfd array we own, of the length we pass.
    let rc = unsafe {
        libc::poll(
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            timeout.as_millis() as libc::c_int,
        )
    };
    if rc < 0 {
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
    Ok(())
}

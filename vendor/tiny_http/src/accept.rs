//! parachute-agent patch (see PATCHED.md): the accept loop. Upstream ended the accept thread
//! on the first `accept` error (EMFILE under a connection flood), which left a live process
//! that no longer served anything, and panicked when a connection thread could not be
//! spawned. Here transient errors are retried with a bounded back-off (logged once per
//! burst), connections beyond the cap get an immediate `503` and close, and only a listener
//! that is really gone ends the loop — reported to `recv` as an error so the embedding
//! program can exit and be restarted by its supervisor.

use std::io::{Error as IoError, ErrorKind, Read, Result as IoResult, Write};
use std::net::Shutdown;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::client::ClientConnection;
use crate::connection::{Connection, Listener};
use crate::limits::{ReadClock, Shared};
use crate::util::{MessagesQueue, RefinedTcpStream, TaskPool, CONN_STACK};
use crate::{Handler, Message, Request};

/// First and longest sleep after a resource error: short enough that a freed descriptor
/// is used within a tenth of a second, long enough not to spin.
const BACKOFF_MIN: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_millis(100);

/// The body of the 503 sent beyond the connection cap.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n\
Content-Length: 32\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{\"error\":\"too many connections\"}";

/// What to do after a failed `accept`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum AcceptError {
    /// The pending connection failed or the call was interrupted: accept again at once.
    Retry,
    /// Out of descriptors, memory or buffers: back off, then accept again.
    Exhausted,
    /// The listener itself is unusable.
    Fatal,
}

/// Classifies an `accept(2)` error (Linux man page: the network errors of the pending
/// connection are to be treated like EAGAIN).
pub(crate) fn classify(e: &IoError) -> AcceptError {
    match e.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => AcceptError::Exhausted,
        Some(
            libc::EAGAIN
            | libc::EINTR
            | libc::ECONNABORTED
            | libc::EPROTO
            | libc::ENETDOWN
            | libc::ENOPROTOOPT
            | libc::EHOSTDOWN
            | libc::ENONET
            | libc::EHOSTUNREACH
            | libc::EOPNOTSUPP
            | libc::ENETUNREACH
            | libc::EPERM
            | libc::ETIMEDOUT
            | libc::ECONNRESET,
        ) => AcceptError::Retry,
        Some(_) => AcceptError::Fatal,
        None => match e.kind() {
            ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::ConnectionAborted => {
                AcceptError::Retry
            }
            _ => AcceptError::Fatal,
        },
    }
}

/// Where a connection thread puts each complete request (parachute-agent patch).
#[derive(Clone)]
pub(crate) enum Dispatch {
    /// Upstream's model: onto the queue `Server::recv` pops, for threads of the embedder.
    Queue(Arc<MessagesQueue<Message>>),
    /// Into the handler, on the connection's own thread (no handoff to another thread
    /// and back); the pool threads get the handler's stack size.
    Inline(Arc<dyn Handler>, usize),
}

impl Dispatch {
    /// Hands `rq` on; false when the connection should close.
    fn request(&self, rq: Request) -> bool {
        match self {
            Dispatch::Queue(messages) => {
                messages.push(rq.into());
                true
            }
            // A panic that escapes the handler drops the request (an unanswered one gets
            // an empty 500) and ends this connection, never the pool thread.
            Dispatch::Inline(handler, _) => {
                let handled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    handler.handle(rq)
                }));
                if handled.is_err() {
                    log::error!("http: the request handler panicked; connection closed");
                }
                handled.is_ok()
            }
        }
    }

    fn listener_lost(&self, e: IoError) {
        match self {
            Dispatch::Queue(messages) => messages.push(Message::Error(e)),
            Dispatch::Inline(handler, _) => handler.listener_lost(e),
        }
    }

    fn stack(&self) -> usize {
        match self {
            Dispatch::Queue(_) => CONN_STACK,
            Dispatch::Inline(_, stack) => *stack,
        }
    }
}

pub(crate) fn start(
    listener: Listener,
    ssl: bool,
    shared: Arc<Shared>,
    dispatch: Dispatch,
    close: Arc<AtomicBool>,
) -> IoResult<()> {
    if ssl {
        return Err(IoError::new(
            ErrorKind::Unsupported,
            "the patched tiny_http accept loop does not support SSL",
        ));
    }
    thread::Builder::new()
        .name("http-accept".into())
        .spawn(move || run(&listener, &shared, &dispatch, &close))
        .map(|_| ())
}

/// Counts the failures of one burst, so it is logged when it starts and when it ends.
#[derive(Default)]
struct Burst {
    failures: u64,
    since: Option<Instant>,
}

impl Burst {
    fn fail(&mut self, what: &str, detail: &dyn std::fmt::Display) {
        if self.failures == 0 {
            log::warn!("http: {what} ({detail}); retrying, logged once per burst");
            self.since = Some(Instant::now());
        }
        self.failures += 1;
    }

    fn ok(&mut self, what: &str) {
        if self.failures > 0 {
            let secs = self.since.map_or(0.0, |s| s.elapsed().as_secs_f64());
            log::info!(
                "http: {what}: recovered after {} in {secs:.1} s",
                self.failures
            );
            self.failures = 0;
        }
    }
}

fn run(listener: &Listener, shared: &Arc<Shared>, dispatch: &Dispatch, close: &AtomicBool) {
    let pool = TaskPool::new(dispatch.stack());
    let mut errors = Burst::default();
    let mut busy = Burst::default();
    let mut backoff = BACKOFF_MIN;
    log::debug!("Running accept thread");
    while !close.load(Relaxed) {
        let sock = match listener.accept() {
            Ok((sock, _)) => sock,
            Err(e) => match classify(&e) {
                AcceptError::Retry => continue,
                AcceptError::Exhausted => {
                    errors.fail("accept failed", &e);
                    thread::sleep(backoff);
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
                AcceptError::Fatal => {
                    log::error!("http: the listening socket failed: {e}");
                    dispatch.listener_lost(e);
                    break;
                }
            },
        };
        errors.ok("accept failed");
        backoff = BACKOFF_MIN;
        let Some(slot) = shared.try_open() else {
            busy.fail(
                "connection cap reached, answering 503",
                &shared.limits.max_connections,
            );
            reject_busy(&sock);
            continue;
        };
        busy.ok("connection cap reached");
        let idle = shared.limits.body_idle_timeout;
        // A response write that makes no progress for the idle timeout fails (a client
        // that never reads cannot pin a worker). Best effort.
        sock.set_write_timeout(Some(idle)).ok();
        let clock = Arc::new(ReadClock::new(idle));
        let (read, write) = RefinedTcpStream::new(sock, Some(clock.clone()), Some(slot));
        let client = ClientConnection::new(write, read, shared.clone(), clock);
        let dispatch = dispatch.clone();
        let mut client = Some(client);
        pool.spawn(Box::new(move || {
            if let Some(client) = client.take() {
                for rq in client {
                    if !dispatch.request(rq) {
                        break;
                    }
                }
            }
        }));
    }
    log::debug!("Terminating accept thread");
}

/// Beyond the cap: whatever request bytes already arrived are read (so closing does not
/// reset the connection), the 503 is written without blocking, and the socket is closed.
fn reject_busy(sock: &Connection) {
    if sock.set_nonblocking(true).is_err() {
        return;
    }
    let mut buf = [0u8; 4096];
    let mut read = 0;
    while read < 64 * 1024 {
        match sock.read_shared(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    let _ = sock.write_shared(BUSY);
    let _ = sock.shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_accept_errors() {
        let os = IoError::from_raw_os_error;
        assert_eq!(classify(&os(libc::EMFILE)), AcceptError::Exhausted);
        assert_eq!(classify(&os(libc::ENFILE)), AcceptError::Exhausted);
        assert_eq!(classify(&os(libc::ENOBUFS)), AcceptError::Exhausted);
        assert_eq!(classify(&os(libc::EAGAIN)), AcceptError::Retry);
        assert_eq!(classify(&os(libc::ECONNABORTED)), AcceptError::Retry);
        assert_eq!(classify(&os(libc::EINTR)), AcceptError::Retry);
        assert_eq!(classify(&os(libc::EBADF)), AcceptError::Fatal);
        assert_eq!(classify(&os(libc::EINVAL)), AcceptError::Fatal);
        assert_eq!(classify(&os(libc::ENOTSOCK)), AcceptError::Fatal);
    }

    #[test]
    fn busy_response_is_well_formed() {
        let text = std::str::from_utf8(BUSY).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.contains(&format!("Content-Length: {}", body.len())));
    }
}

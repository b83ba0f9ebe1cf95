//! Per-turn filtering proxies for `network: restricted` (spec 04 §6.3, §1.6.4).
//!
//! Each restricted turn gets its own [`TurnProxies`]: a fresh 0700 dir under the runtime
//! root holding two Unix sockets, `h.sock` (HTTP proxy: `CONNECT` and absolute-URI
//! requests) and `s.sock` (SOCKS5, no auth, `CONNECT`), each served by its own accept
//! thread and filtering by that turn's immutable [`Allowlist`]. The dir is bound into the
//! turn's sandbox (and only that one); the in-sandbox helper forwards
//! `127.0.0.1:3128`/`:1080` to it. Dropping the value (after the child exited) stops the
//! accept loops, cuts every open connection and removes the dir — nothing is shared
//! between turns, so one turn's end never cuts another's network (the reference's G3).
//!
//! [ext] A host allowed by *name* never reaches a loopback or unspecified address
//! (DNS pointing a name at `127.0.0.1` must not open the daemon's own ports); loopback
//! is reachable only through a rule naming the address or `localhost` itself.

mod http;
mod socks;

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use parking_lot::Mutex;

use super::hosts::{Allowlist, Host};

/// Upstream connect timeout (spec 04 §1.6.4).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a client may take to send its request head / SOCKS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Open connections of one turn, so they can all be cut when the turn ends.
#[derive(Default)]
struct Conns {
    next: AtomicU64,
    open: Mutex<HashMap<u64, Vec<Cut>>>,
}

enum Cut {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Cut {
    fn shutdown(&self) {
        let _ = match self {
            Cut::Unix(s) => s.shutdown(Shutdown::Both),
            Cut::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }
}

impl Conns {
    fn add(&self, id: u64, cut: Cut) {
        self.open.lock().entry(id).or_default().push(cut);
    }
    fn remove(&self, id: u64) {
        self.open.lock().remove(&id);
    }
    fn cut_all(&self) {
        for cuts in self.open.lock().drain().map(|(_, v)| v) {
            cuts.iter().for_each(Cut::shutdown);
        }
    }
}

/// The shared state of one turn's proxies.
pub(crate) struct Turn {
    allowlist: Allowlist,
    conns: Conns,
}

/// One client connection as a protocol handler sees it.
pub(crate) struct Conn<'a> {
    turn: &'a Turn,
    id: u64,
}

impl Conn<'_> {
    /// The canonical host when `host:port` is allowed for this turn.
    fn allows(&self, host: &str, port: u16) -> Option<Host> {
        self.turn.allowlist.allows(host, port)
    }

    /// Dial an allowed host and register the upstream for the end-of-turn cut.
    fn dial(&self, host: &Host, port: u16) -> io::Result<TcpStream> {
        let up = dial(host, port)?;
        if let Ok(c) = up.try_clone() {
            self.turn.conns.add(self.id, Cut::Tcp(c));
        }
        Ok(up)
    }
}

type Handler = fn(UnixStream, &Conn<'_>) -> io::Result<()>;

/// The two filtering proxies of one restricted turn.
pub struct TurnProxies {
    dir: PathBuf,
    stop: Arc<AtomicBool>,
    turn: Arc<Turn>,
}

/// The runtime root `/tmp/parachute-agent-<uid>` (short, so socket paths stay < 108 bytes).
pub fn default_runtime_root() -> PathBuf {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() };
    PathBuf::from(format!("/tmp/parachute-agent-{uid}"))
}

/// Create (or check) the runtime root: a real dir owned by us, mode 0700. A symlink or a
/// dir owned by someone else (planted in a shared `/tmp`) is refused.
pub fn ensure_runtime_root(root: &Path) -> io::Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(root) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    let meta = fs::symlink_metadata(root)?;
    // SAFETY: as above.
    let uid = unsafe { libc::geteuid() };
    if !meta.is_dir() || meta.uid() != uid {
        return Err(io::Error::other(format!(
            "{} is not a directory owned by uid {uid}",
            root.display()
        )));
    }
    if meta.mode() & 0o077 != 0 {
        fs::set_permissions(root, fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

impl TurnProxies {
    /// Create this turn's socket dir under `runtime_root` and start both proxies.
    pub fn start(runtime_root: &Path, allowlist: Allowlist) -> io::Result<TurnProxies> {
        ensure_runtime_root(runtime_root)?;
        let dir = runtime_root.join(hex16());
        fs::DirBuilder::new().mode(0o700).create(&dir)?;
        let proxies = TurnProxies {
            dir,
            stop: Arc::new(AtomicBool::new(false)),
            turn: Arc::new(Turn {
                allowlist,
                conns: Conns::default(),
            }),
        };
        proxies.serve(&proxies.http_socket(), http::handle)?;
        proxies.serve(&proxies.socks_socket(), socks::handle)?;
        Ok(proxies)
    }

    /// The turn's socket dir (bound into the sandbox).
    pub fn dir(&self) -> &Path {
        &self.dir
    }
    pub fn http_socket(&self) -> PathBuf {
        self.dir.join("h.sock")
    }
    pub fn socks_socket(&self) -> PathBuf {
        self.dir.join("s.sock")
    }

    fn serve(&self, path: &Path, handler: Handler) -> io::Result<()> {
        let listener = UnixListener::bind(path)?;
        let stop = self.stop.clone();
        let shared = self.turn.clone();
        thread::Builder::new()
            .name("sandbox-proxy".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let shared = shared.clone();
                    let _ = thread::Builder::new()
                        .name("sandbox-proxy-conn".into())
                        .spawn(move || serve_conn(conn, &shared, handler));
                }
            })?;
        Ok(())
    }
}

/// Runs one connection with its own id, so the end-of-turn cut can find it.
fn serve_conn(conn: UnixStream, turn: &Turn, handler: Handler) {
    let id = turn.conns.next.fetch_add(1, Ordering::SeqCst) + 1;
    if let Ok(c) = conn.try_clone() {
        turn.conns.add(id, Cut::Unix(c));
    }
    if let Err(e) = handler(conn, &Conn { turn, id }) {
        log::debug!("sandbox proxy connection ended: {e}");
    }
    turn.conns.remove(id);
}

impl Drop for TurnProxies {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake both accept loops so they see the flag and drop their listeners.
        let _ = UnixStream::connect(self.http_socket());
        let _ = UnixStream::connect(self.socks_socket());
        self.turn.conns.cut_all();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn hex16() -> String {
    crate::util::rand::bytes(8)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Connect to an allowed host: every resolved address in turn, 30 s each. A name never
/// reaches loopback/unspecified addresses unless it is `localhost`.
pub(crate) fn dial(host: &Host, port: u16) -> io::Result<TcpStream> {
    let addrs: Vec<SocketAddr> = (host.dial_name().as_str(), port)
        .to_socket_addrs()?
        .filter(|a| match host {
            Host::Name(n) if n != "localhost" => !(a.ip().is_loopback() || a.ip().is_unspecified()),
            _ => true,
        })
        .collect();
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no usable address");
    for a in addrs {
        match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Copy both directions until each side is done; `pending` (bytes the handler already
/// read past the request head) goes upstream first.
pub(crate) fn splice(client: UnixStream, upstream: TcpStream, pending: &[u8]) -> io::Result<()> {
    let mut up_w = upstream.try_clone()?;
    up_w.write_all(pending)?;
    let mut client_r = client.try_clone()?;
    let forward = thread::Builder::new()
        .name("sandbox-proxy-up".into())
        .spawn(move || {
            let _ = io::copy(&mut client_r, &mut up_w);
            let _ = up_w.shutdown(Shutdown::Write);
        })?;
    let mut up_r = upstream;
    let mut client_w = client;
    let _ = io::copy(&mut up_r, &mut client_w);
    let _ = client_w.shutdown(Shutdown::Write);
    let _ = forward.join();
    Ok(())
}

/// Read exactly `n` bytes (handshake fields).
pub(crate) fn read_n(r: &mut impl Read, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests;

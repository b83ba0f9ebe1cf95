//! The raw socket under an upgraded tiny_http connection (spec 07 §1). tiny_http's
//! `upgrade()` yields one boxed `Read + Write` stream that cannot be split between threads
//! nor polled, and hides its fd. The terminal needs to wait on the socket and the pty at
//! once, so before upgrading we find the connection's socket among our own fds — the one
//! TCP socket whose peer is the request's remote address (a TCP 4-tuple names exactly one
//! connection) — and duplicate it. The duplicate is a plain [`TcpStream`] we can poll and
//! make non-blocking; the boxed stream stays alive next to it (dropping it shuts the
//! socket down, which is how teardown ends tiny_http's connection thread).

use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Why the connection's socket could not be found.
#[derive(Debug)]
pub struct NotFound(pub String);

/// A duplicate of the socket of the connection whose peer is `peer`.
pub fn duplicate_connection(peer: SocketAddr) -> Result<TcpStream, NotFound> {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| NotFound(e.to_string()))?;
    let mut found: Option<OwnedFd> = None;
    for entry in dir.flatten() {
        let Some(fd) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<RawFd>().ok())
        else {
            continue;
        };
        // Duplicate first, check the duplicate: an fd number that is closed and reused
        // meanwhile can never be mistaken for ours.
        let Some(dup) = dup_cloexec(fd) else { continue };
        if peer_of(&dup) != Some(peer) {
            continue;
        }
        match &found {
            None => found = Some(dup),
            // tiny_http holds a read and a write clone of one socket: same connection.
            Some(first) if same_socket(first, &dup) => {}
            Some(_) => return Err(NotFound(format!("two sockets have peer {peer}"))),
        }
    }
    found
        .map(TcpStream::from)
        .ok_or_else(|| NotFound(format!("no socket with peer {peer}")))
}

fn dup_cloexec(fd: RawFd) -> Option<OwnedFd> {
    // SAFETY: F_DUPFD_CLOEXEC on any fd number; a closed one fails with EBADF.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    // SAFETY: a fresh fd we own.
    (new >= 0).then(|| unsafe { OwnedFd::from_raw_fd(new) })
}

/// The peer of a connected TCP socket (`None` for anything else).
fn peer_of(fd: &OwnedFd) -> Option<SocketAddr> {
    let mut kind: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes a c_int into our local; non-sockets fail with ENOTSOCK.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            (&mut kind as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 || kind != libc::SOCK_STREAM {
        return None;
    }
    // SAFETY: borrowed only for the call; `ManuallyDrop` keeps our fd open.
    let stream = std::mem::ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd.as_raw_fd()) });
    stream.peer_addr().ok()
}

/// Whether two fds are the same open socket (same inode in sockfs).
fn same_socket(a: &OwnedFd, b: &OwnedFd) -> bool {
    let ino = |fd: &OwnedFd| {
        // SAFETY: fstat writes into a zeroed stat we own.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        (unsafe { libc::fstat(fd.as_raw_fd(), &mut st) } == 0).then_some((st.st_dev, st.st_ino))
    };
    ino(a).is_some() && ino(a) == ino(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    #[test]
    fn finds_the_accepted_socket_by_its_peer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_accepted, peer) = listener.accept().unwrap();
        let mut dup = duplicate_connection(peer).unwrap();
        dup.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"hi");
        let unknown: SocketAddr = "127.0.0.1:9".parse().unwrap();
        assert!(duplicate_connection(unknown).is_err());
    }
}

//! systemd's notify protocol without a crate (`sd_notify(3)`): one datagram per
//! state change on the Unix socket named by `$NOTIFY_SOCKET` (a path, or `@name` in the
//! abstract namespace) — `READY=1` once the listener answers (and again after a reload,
//! which `RELOADING=1` opens), `STOPPING=1` when a stop
//! begins, `STATUS=…` lines, and `WATCHDOG=1` pings from [`spawn_watchdog`], sent only
//! while the caller's liveness probe passes (a wedged daemon is then restarted by
//! systemd). Without `$NOTIFY_SOCKET` every call is a no-op.

use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

pub struct Notifier {
    target: Option<(UnixDatagram, SocketAddr)>,
}

fn address(spec: &str) -> std::io::Result<SocketAddr> {
    match spec.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())
        }
        None => SocketAddr::from_pathname(spec),
    }
}

impl Notifier {
    /// A notifier for `$NOTIFY_SOCKET` (as read into `Config`); `None` → disabled.
    pub fn new(socket: Option<&str>) -> Notifier {
        let target = socket.and_then(|spec| {
            let open = || -> std::io::Result<(UnixDatagram, SocketAddr)> {
                Ok((UnixDatagram::unbound()?, address(spec)?))
            };
            open()
                .map_err(|e| log::warn!("NOTIFY_SOCKET {spec}: {e}; systemd notifications off"))
                .ok()
        });
        Notifier { target }
    }

    pub fn enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Sends one notification (`KEY=VALUE` lines); failures are logged at debug only.
    pub fn send(&self, state: &str) {
        if let Some((sock, addr)) = &self.target {
            if let Err(e) = sock.send_to_addr(state.as_bytes(), addr) {
                log::debug!("sd_notify {state:?}: {e}");
            }
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    pub fn stopping(&self, status: &str) {
        self.send(&format!("STOPPING=1\nSTATUS={status}"));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}"));
    }

    /// A reload begins (`RELOADING=1` with the `MONOTONIC_USEC` that `Type=notify-reload`
    /// asks for); [`Notifier::ready`] says when it is done.
    pub fn reloading(&self) {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec we own; CLOCK_MONOTONIC always exists.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        let usec = ts.tv_sec as u64 * 1_000_000 + ts.tv_nsec as u64 / 1000;
        self.send(&format!(
            "RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS=reloading"
        ));
    }
}

/// Pings `WATCHDOG=1` every half `interval` while `alive()` holds, and refreshes
/// `STATUS=` from `status()` on the same beat. Ends when `stop` is dropped or fires.
pub fn spawn_watchdog(
    notifier: std::sync::Arc<Notifier>,
    interval: Option<Duration>,
    alive: Box<dyn Fn() -> Result<(), String> + Send>,
    status: Box<dyn Fn() -> String + Send>,
    stop: crossbeam_channel::Receiver<()>,
) -> Option<std::thread::JoinHandle<()>> {
    if !notifier.enabled() {
        return None;
    }
    let beat = interval.map_or(Duration::from_secs(5), |i| {
        (i / 2).max(Duration::from_millis(50))
    });
    let spawned = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || {
            let mut last_status = String::new();
            loop {
                match stop.recv_timeout(beat) {
                    Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let s = status();
                if s != last_status {
                    notifier.status(&s);
                    last_status = s;
                }
                if interval.is_none() {
                    continue;
                }
                match alive() {
                    Ok(()) => notifier.send("WATCHDOG=1"),
                    Err(why) => log::error!("watchdog: not pinging systemd: {why}"),
                }
            }
        });
    spawned
        .map_err(|e| log::error!("could not start the watchdog thread: {e}"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_reach_a_path_socket_and_abstract_names_parse() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::new(Some(path.to_str().unwrap()));
        assert!(n.enabled());
        n.ready("listening");
        let mut buf = [0u8; 256];
        let len = server.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=listening");
        assert!(address("@parachute-test").is_ok());
        assert!(!Notifier::new(None).enabled());
        Notifier::new(None).send("READY=1");
    }
}

//! systemd notify protocol: the test binds the notify socket the daemon is
//! given in `NOTIFY_SOCKET` and checks `READY=1` after `/health` answers, `WATCHDOG=1` at
//! the rate `WATCHDOG_USEC` asks for, `STATUS=` lines, `RELOADING=1` then `READY=1` on
//! SIGHUP, and `STOPPING=1` on SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::support::daemon::DaemonBuilder;

fn recv_all(sock: &UnixDatagram, for_: Duration) -> Vec<(Instant, String)> {
    let deadline = Instant::now() + for_;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        sock.set_read_timeout(Some(left)).unwrap();
        if let Ok(n) = sock.recv(&mut buf) {
            out.push((
                Instant::now(),
                String::from_utf8_lossy(&buf[..n]).to_string(),
            ));
        }
    }
    out
}

#[test]
fn ready_after_health_watchdog_at_the_requested_rate_reloading_on_sighup_and_stopping_on_sigterm() {
    let b = DaemonBuilder::new();
    let path = b.state_dir().parent().unwrap().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    let mut d = b
        .env("NOTIFY_SOCKET", path.to_str().unwrap())
        .env("WATCHDOG_USEC", "400000")
        .start();
    let got = recv_all(&sock, Duration::from_secs(3));
    let ready = got
        .iter()
        .position(|(_, m)| m.starts_with("READY=1"))
        .unwrap_or_else(|| panic!("no READY=1 in {got:?}"));
    assert!(got[ready].1.contains("STATUS=running;"), "{got:?}");
    let pings: Vec<Instant> = got
        .iter()
        .filter(|(_, m)| m == "WATCHDOG=1")
        .map(|(t, _)| *t)
        .collect();
    // every 200 ms (half the interval) for ~3 s; generous bounds for a loaded machine
    assert!(pings.len() >= 5, "{} pings: {got:?}", pings.len());
    let gaps: Vec<Duration> = pings.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().all(|g| *g < Duration::from_millis(1500)),
        "{gaps:?}"
    );
    assert!(
        d.get("/health", None).status == 200,
        "READY came from a daemon that answers"
    );
    let pid = d.child.as_ref().unwrap().id() as i32;
    unsafe { libc::kill(pid, libc::SIGHUP) };
    let reload = recv_all(&sock, Duration::from_secs(2));
    let reloading = reload
        .iter()
        .position(|(_, m)| m.starts_with("RELOADING=1\nMONOTONIC_USEC="))
        .unwrap_or_else(|| panic!("no RELOADING=1 in {reload:?}"));
    assert!(
        reload[reloading..]
            .iter()
            .any(|(_, m)| m.starts_with("READY=1")),
        "READY=1 after the reload: {reload:?}"
    );
    unsafe { libc::kill(pid, libc::SIGTERM) };
    let after = recv_all(&sock, Duration::from_secs(2));
    assert!(
        after.iter().any(|(_, m)| m.starts_with("STOPPING=1")),
        "{after:?}"
    );
    assert_eq!(d.terminate().0, Some(0));
}

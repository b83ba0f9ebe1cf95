//! Slow bodies, `Connection: Upgrade` with a body, and slow heads never hold one of
//! the request permits; the idle timeout and the head deadline cut them.

use std::io::Write;
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::http_common::{assert_serving, daemon_with, read_until_close, status_of, survives};

/// More than the 16 request permits.
const PEERS: usize = 40;

fn open_with(d: &crate::support::daemon::Daemon, bytes: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    s.write_all(bytes.as_bytes()).unwrap();
    s
}

#[test]
fn slow_bodies_and_upgrades_do_not_pin_workers_and_are_cut() {
    let d = daemon_with(&[("PARACHUTE_AGENT_BODY_IDLE_TIMEOUT_SECS", "3")]);
    survives(&d, || {
        let started = Instant::now();
        let mut held = Vec::new();
        for i in 0..PEERS {
            let req = if i % 2 == 0 {
                "POST /api/vault/inbound HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n12345678"
            } else {
                "POST /health HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: x\r\n\
                 Content-Length: 5000\r\n\r\n12345678"
            };
            held.push(open_with(&d, req));
        }
        // All of them held open: the workers still answer at once.
        assert_serving(&d);
        // And the idle timeout cuts every one of them with a 408.
        for mut s in held {
            let (r, closed) = read_until_close(&mut s, Duration::from_secs(20));
            assert!(closed, "not cut: {r}");
            assert_eq!(status_of(&r), 408, "{r}");
        }
        assert!(started.elapsed() < Duration::from_secs(20));
    });
}

#[test]
fn slow_heads_are_cut_at_the_deadline_and_idle_connections_closed() {
    let d = daemon_with(&[("PARACHUTE_AGENT_HEADER_TIMEOUT_SECS", "2")]);
    survives(&d, || {
        let mut slow: Vec<TcpStream> = (0..PEERS)
            .map(|_| open_with(&d, "GET /health HTTP/1.1\r\nHost: x\r\n"))
            .collect();
        let idle: Vec<TcpStream> = (0..PEERS)
            .map(|_| TcpStream::connect(("127.0.0.1", d.port)).unwrap())
            .collect();
        // Trickle a header byte now and then: the deadline is for the whole head.
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(400));
            for s in &mut slow {
                let _ = s.write_all(b"X");
            }
        }
        assert_serving(&d);
        for mut s in slow {
            let (r, closed) = read_until_close(&mut s, Duration::from_secs(20));
            assert!(closed, "not cut: {r}");
            assert_eq!(status_of(&r), 408, "{r}");
        }
        // A connection that never sent a byte is closed quietly.
        for mut s in idle {
            let (r, closed) = read_until_close(&mut s, Duration::from_secs(20));
            assert!(closed && r.is_empty(), "{closed} {r:?}");
        }
    });
}

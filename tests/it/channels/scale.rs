//! 1,000 concurrent `/events` subscribers: ordinary requests are still served
//! promptly, `/health` counts every subscriber, and one broadcast reaches all of them.
//!
//! The subscribers connect all at once, as bridges do after a daemon restart, and like
//! `parachute-agent bridge` they send `Connection: close`. (Keep-alive clients connecting
//! in such a burst can be left unserved by tiny_http's connection pool, which queues a
//! connection behind threads pinned by open streams; see scripts/bench-sse.sh BURST=.)

use std::time::{Duration, Instant};

use serde_json::json;

use super::{add_channel, clients, daemon, RawSse, ALL};

const SUBSCRIBERS: usize = 1000;

/// Raises this process's open-file limit (the daemon child inherits it): 1,000 client
/// sockets here and 1,000 server sockets there, plus headroom.
fn raise_nofile(want: u64) {
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return;
        }
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

#[test]
fn a_thousand_subscribers_all_get_a_broadcast_and_health_still_answers() {
    raise_nofile(4096);
    let d = daemon();
    let tok = d.mint(ALL);
    add_channel(&d, &tok, "big", "http-ui");

    let started = Instant::now();
    let mut subs: Vec<RawSse> = (0..SUBSCRIBERS)
        .map(|_| {
            RawSse::connect_with(
                d.port,
                "/events?channel=big",
                Some(&tok),
                "Connection: close\r\n",
            )
        })
        .collect();
    for (i, s) in subs.iter_mut().enumerate() {
        assert!(
            s.wait_for(": connected", Duration::from_secs(30)),
            "subscriber {i} never got its stream: {}",
            s.text()
        );
    }
    let opened_in = started.elapsed();

    let t = Instant::now();
    let r = d.get("/health", None);
    let health_took = t.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["total_clients"], SUBSCRIBERS);
    assert!(
        health_took < Duration::from_secs(2),
        "/health took {health_took:?} with {SUBSCRIBERS} streams"
    );
    assert_eq!(clients(&d, "big"), Some(SUBSCRIBERS as u64));
    let listed = d.get("/api/channels", Some(&tok));
    assert_eq!(listed.status, 200);

    let t = Instant::now();
    let r = d.post(
        "/api/channels/big/send",
        Some(&tok),
        &json!({"text": "to everyone"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    for (i, s) in subs.iter_mut().enumerate() {
        assert!(
            s.wait_for("to everyone", Duration::from_secs(15)),
            "subscriber {i} missed the broadcast: {}",
            s.text()
        );
    }
    eprintln!(
        "{SUBSCRIBERS} subscribers: opened in {opened_in:?}, /health in {health_took:?}, broadcast delivered to all in {:?}",
        t.elapsed()
    );
}

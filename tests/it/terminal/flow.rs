//! Flow control and limits (spec 06 §2.5–§2.6) on the byte stream itself: the viewer is a
//! fake `tmux` that writes straight into its pty in raw mode (real tmux repaints rather
//! than relays, so only a direct writer makes "complete and in order" checkable).

use std::time::{Duration, Instant};

use super::*;

/// 100 MiB of consecutive little-endian u64 counters, then exit.
const FLOOD: &str = r#"#!/usr/bin/python3
import array, os, tty
tty.setraw(1)
total = (100 << 20) // 8
i = 0
while i < total:
    k = min(8192, total - i)
    data = memoryview(array.array("Q", range(i, i + k)).tobytes())
    while data:
        n = os.write(1, data)
        data = data[n:]
    i += k
"#;

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// A 100 MiB flood arrives complete and in order, the socket is not closed until the
/// viewer ends (then 1000), and the daemon's peak RSS grows by far less than the flood.
#[test]
fn a_flood_arrives_complete_and_in_order_with_bounded_memory() {
    let tmux = Tmux::new();
    let (_dir, path) = fake_tmux(FLOOD);
    let d = daemon(&tmux, &[("PATH", &path)]);
    let pid = d.child.as_ref().unwrap().id();
    let (admin, su) = admin_and_step_up(&d);
    let before = rss_kib(pid, "VmRSS:");
    let mut ws = attach(&d, "flood", "", &admin, &su);
    let (mut next, mut carry, mut total) = (0u64, Vec::<u8>::new(), 0usize);
    let deadline = Instant::now() + Duration::from_secs(240);
    let close = loop {
        assert!(Instant::now() < deadline, "flood not done: {total} bytes");
        match ws.read() {
            Ok(Message::Binary(b)) => {
                total += b.len();
                carry.extend_from_slice(&b);
                let whole = carry.len() / 8 * 8;
                for c in carry[..whole].chunks_exact(8) {
                    let v = u64::from_le_bytes(c.try_into().unwrap());
                    assert_eq!(v, next, "byte stream out of order at {}", next * 8);
                    next += 1;
                }
                carry.drain(..whole);
            }
            Ok(Message::Close(f)) => break f.map(|f| u16::from(f.code)),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("socket failed after {total} bytes: {e}"),
        }
    };
    assert_eq!(total, 100 << 20, "every byte arrived");
    assert!(carry.is_empty());
    assert_eq!(close, Some(1000));
    let peak = rss_kib(pid, "VmHWM:");
    assert!(
        peak < before + 64 * 1024,
        "daemon peak RSS {peak} KiB vs {before} KiB before the flood"
    );
}

/// A client that stops reading while the viewer keeps writing gets 1013 once its queue
/// is full and it accepted nothing for the stall time.
#[test]
fn a_client_that_stops_reading_gets_1013() {
    let tmux = Tmux::new();
    let (_dir, path) = fake_tmux("#!/bin/sh\nexec cat /dev/zero\n");
    let d = daemon(
        &tmux,
        &[
            ("PATH", &path),
            ("PARACHUTE_AGENT_TERMINAL_STALL_SECS", "1"),
        ],
    );
    let (admin, su) = admin_and_step_up(&d);
    let mut ws = attach(&d, "stalled", "", &admin, &su);
    // Not reading: the daemon's queue fills, then the stall time passes.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !d.log().contains("closing 1013") {
        assert!(
            Instant::now() < deadline,
            "no 1013 decision; log:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut seen = Seen::default();
    read_until(&mut ws, &mut seen, Duration::from_secs(30), |_| false);
    assert_eq!(
        seen.close.clone().map(|c| c.0),
        Some(1013),
        "after {} bytes",
        seen.output.len()
    );
    assert_eq!(seen.close.unwrap().1, "terminal consumer too slow");
}

/// A client frame over 16 MiB is refused with 1009; one of 1 MiB is input.
#[test]
fn frames_over_16_mib_get_1009() {
    let tmux = Tmux::new();
    let (_dir, path) = fake_tmux("#!/bin/sh\nstty raw -echo\nexec cat >/dev/null\n");
    let d = daemon(&tmux, &[("PATH", &path)]);
    let (admin, su) = admin_and_step_up(&d);
    let mut ws = attach(&d, "big", "", &admin, &su);
    ws.send(Message::Binary(vec![b'a'; 1 << 20].into()))
        .unwrap();
    let mut seen = Seen::default();
    read_until(&mut ws, &mut seen, Duration::from_secs(1), |_| false);
    assert_eq!(seen.close, None, "1 MiB is fine");
    let _ = ws.send(Message::Binary(vec![b'b'; (16 << 20) + 1].into()));
    assert_eq!(
        expect_close(&mut ws, &mut seen),
        (1009, "message too big".to_string())
    );
}

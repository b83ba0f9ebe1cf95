//! The upgrade gate of spec 06 §2.3, in order: name, `agent:admin` by Bearer or
//! `?token=`, step-up by header or `?step_up=`, geometry (parsed and clamped), handshake.
//! The viewer is a fake `tmux` that prints its pty's size, so this needs no real tmux.

use serde_json::json;

use super::*;

const WS: [(&str, &str); 4] = [
    ("Upgrade", "websocket"),
    ("Connection", "Upgrade"),
    ("Sec-WebSocket-Version", "13"),
    ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
];

/// The size the viewer saw (`stty size` → "rows cols"), then the 1000 close.
fn size_seen(ws: &mut Ws) -> String {
    let mut seen = Seen::default();
    assert_eq!(expect_close(ws, &mut seen).0, 1000);
    seen.text().trim().to_string()
}

#[test]
fn every_gate_runs_in_order_and_the_geometry_is_clamped() {
    let tmux = Tmux::new();
    let (_dir, path) = fake_tmux("#!/bin/sh\nstty size\n");
    let d = daemon(&tmux, &[("PATH", &path)]);
    let admin = d.mint("agent:admin");
    let r = d.send("GET", "/terminal/bad%20name", Some(&admin), &WS, None);
    assert_eq!(
        (r.status, r.error()),
        (
            400,
            "invalid agent name \"bad name\" (alphanumeric, dash, underscore only)".into()
        )
    );
    assert_eq!(d.send("GET", "/terminal/eng", None, &WS, None).status, 401);
    let garbage = d.send("GET", "/terminal/eng", Some("garbage"), &WS, None);
    assert_eq!(garbage.status, 401);
    let read = d.mint("agent:read");
    assert_eq!(
        d.send("GET", "/terminal/eng", Some(&read), &WS, None)
            .status,
        403
    );
    let q = format!("/terminal/eng?token={read}");
    assert_eq!(d.send("GET", &q, None, &WS, None).status, 403);
    let r = d.send("GET", "/terminal/eng", Some(&admin), &WS, None);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, json!("setup"))
    );
    let (_, su) = admin_and_step_up(&d);
    let r = d.send("GET", "/terminal/eng", Some(&admin), &WS, None);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, json!("token"))
    );
    let bad_su = format!("/terminal/eng?token={admin}&step_up=nope");
    assert_eq!(d.send("GET", &bad_su, None, &WS, None).status, 403);
    // A broken handshake after a passing gate.
    let no_key = &WS[..3];
    let q = format!("/terminal/eng?token={admin}&step_up={su}");
    let r = d.send("GET", &q, None, no_key, None);
    assert_eq!(
        (r.status, r.error()),
        (400, "websocket upgrade failed".into())
    );

    // Token and step-up from the query, from headers, and mixed.
    let mut ws = connect(&d, &q, &[]).expect("query token + query step-up");
    assert_eq!(size_seen(&mut ws), "24 80");
    let bearer = format!("Bearer {admin}");
    let headers = [
        ("Authorization", bearer.as_str()),
        ("X-Step-Up-Token", su.as_str()),
    ];
    let mut ws = connect(&d, "/terminal/eng", &headers).expect("header token + header step-up");
    assert_eq!(size_seen(&mut ws), "24 80");
    let mut ws = connect(&d, &format!("/terminal/eng?step_up={su}"), &headers[..1])
        .expect("header token + query step-up");
    assert_eq!(size_seen(&mut ws), "24 80");
    let mut ws = connect(&d, &format!("/terminal/eng?token={admin}"), &headers[1..])
        .expect("query token + header step-up");
    assert_eq!(size_seen(&mut ws), "24 80");

    for (query, size) in [
        ("&cols=132&rows=43", "43 132"),
        ("&cols=0&rows=abc", "24 80"),
        ("&cols=-4&rows=99999", "9999 80"),
        ("&cols=100000&rows=12x", "12 9999"),
        ("&cols=%2042", "24 42"),
    ] {
        let mut ws = connect(&d, &format!("{q}{query}"), &[]).unwrap();
        assert_eq!(size_seen(&mut ws), size, "{query}");
    }
    // `?token=` is honoured only here.
    let r = d.get(&format!("/api/channels?token={admin}"), None);
    assert_eq!(r.status, 401);
}

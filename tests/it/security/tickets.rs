//! One-time SSE tickets (spec 01 §4), consumed through the `/__test/ticket` hook.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::json;

use super::{consume, daemon, mint_ticket};
use crate::support::daemon::DaemonBuilder;
use crate::support::hub::FakeHub;

#[test]
fn ticket_mint_needs_a_bearer_with_read() {
    let d = daemon();
    let read = d.mint("agent:read agent:send");
    let r = d.post("/api/ui/sse-ticket", None, &json!({}));
    assert_eq!((r.status, r.error()), (401, "unauthorized".into()));
    let r = d.post(
        &format!("/api/ui/sse-ticket?token={read}"),
        None,
        &json!({}),
    );
    assert_eq!(r.status, 401, "?token= is not a credential here");
    let admin_only = d.mint("agent:admin");
    let r = d.post("/api/ui/sse-ticket", Some(&admin_only), &json!({}));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["granted"], json!(["agent:admin"]));
    let r = d.post("/api/ui/sse-ticket", Some(&read), &json!({}));
    assert_eq!(r.status, 200);
    let ticket = r.json()["ticket"].as_str().unwrap().to_string();
    assert_eq!(ticket.len(), 43);
    assert!(ticket
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let expires = r.json()["expires_at"].as_str().unwrap().to_string();
    assert!(expires.ends_with('Z') && expires.len() == 24, "{expires}");
}

#[test]
fn ticket_is_single_use_and_carries_the_minting_scopes() {
    let d = daemon();
    let token = d.mint("agent:read agent:send");
    let ticket = mint_ticket(&d, &token);
    let r = consume(&d, &ticket, "agent:read");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["scopes"], json!(["agent:read", "agent:send"]));
    let r = consume(&d, &ticket, "agent:read");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!({"error": "unauthorized", "message": "valid one-time SSE ticket required"})
    );
    assert_eq!(
        d.get("/__test/ticket?scope=agent:read", None).status,
        401,
        "no ticket"
    );
    assert_eq!(consume(&d, "made-up", "agent:read").status, 401);
    // A read+send ticket fails an admin check, is 403, and is consumed all the same.
    let ticket = mint_ticket(&d, &token);
    let r = consume(&d, &ticket, "agent:admin");
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error": "insufficient_scope", "message": "ticket lacks agent:admin", "granted": ["agent:read", "agent:send"]})
    );
    assert_eq!(consume(&d, &ticket, "agent:read").status, 401);
}

#[test]
fn legacy_channel_read_ticket_passes() {
    let hub = FakeHub::start();
    let d = DaemonBuilder::new().hub(&hub.origin).start();
    let ticket = mint_ticket(&d, &hub.token("channel:read", json!({})));
    assert_eq!(consume(&d, &ticket, "agent:read").status, 200);
}

#[test]
fn expired_ticket_is_401() {
    let d = DaemonBuilder::new()
        .env("PARACHUTE_AGENT_SSE_TICKET_TTL_SECS", "1")
        .start();
    let ticket = mint_ticket(&d, &d.mint("agent:read"));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(consume(&d, &ticket, "agent:read").status, 401);
}

#[test]
fn eight_racing_consumers_exactly_one_wins() {
    let d = Arc::new(daemon());
    let token = d.mint("agent:read");
    for _ in 0..3 {
        let ticket = mint_ticket(&d, &token);
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (d, ticket, barrier) = (d.clone(), ticket.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    consume(&d, &ticket, "agent:read").status
                })
            })
            .collect();
        let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        statuses.sort();
        assert_eq!(statuses, vec![200, 401, 401, 401, 401, 401, 401, 401]);
    }
}

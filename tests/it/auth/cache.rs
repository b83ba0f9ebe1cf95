//! The verified-token cache, black-box: a token the daemon has already verified
//! (and cached) is still refused on its first request after the hub revokes it, exactly as
//! an uncached token with the same `jti`; a `token rotate` refuses cached local tokens on
//! their next request.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::daemon::DaemonBuilder;
use crate::support::hub::FakeHub;

const ROUTE: &str = "/api/channels";

#[test]
fn a_cached_hub_token_is_refused_once_the_revocation_list_lists_it() {
    let hub = FakeHub::start();
    let d = DaemonBuilder::new()
        .hub(&hub.origin)
        .env("PARACHUTE_AGENT_REVOCATION_MAX_AGE_MS", "200")
        .start();
    let token = hub.token("agent:admin", json!({"jti": "jti-cached"}));
    for _ in 0..5 {
        assert_eq!(d.get(ROUTE, Some(&token)).status, 200);
    }
    let fetches = hub.state.revocation_fetches.load(Ordering::SeqCst);
    hub.revoke("jti-cached");
    // The first request after the daemon refreshed its list is refused.
    let deadline = Instant::now() + Duration::from_secs(20);
    let cached = loop {
        let r = d.get(ROUTE, Some(&token));
        let refreshed = hub.state.revocation_fetches.load(Ordering::SeqCst) > fetches;
        if refreshed || Instant::now() > deadline {
            break r;
        }
        assert_eq!(r.status, 200, "refused before any refresh");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(cached.status, 401, "{}", cached.body);
    // An uncached token with the same jti gets the very same answer.
    let uncached = d.get(
        ROUTE,
        Some(&hub.token("agent:admin", json!({"jti": "jti-cached", "iat": 1}))),
    );
    assert_eq!(uncached.status, 401);
    assert_eq!(cached.json(), uncached.json());
    assert_eq!(
        cached.json()["message"],
        "hub JWT revoked: jti \"jti-cached\" is in the revocation list"
    );
    // Other tokens keep working.
    assert_eq!(
        d.get(ROUTE, Some(&hub.token("agent:admin", json!({}))))
            .status,
        200
    );
}

#[test]
fn token_rotate_refuses_cached_local_tokens_on_their_next_request() {
    let d = DaemonBuilder::new().start();
    let admin = d.mint("agent:admin");
    for _ in 0..5 {
        assert_eq!(d.get(ROUTE, Some(&admin)).status, 200);
    }
    let out = d.run_cli(&["token", "rotate"]);
    assert!(out.status.success());
    let r = d.get(ROUTE, Some(&admin));
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .starts_with("local token verification failed"));
    assert_eq!(d.get(ROUTE, Some(&d.mint("agent:admin"))).status, 200);
}

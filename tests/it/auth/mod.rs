//! Token validation, black-box (spec 01 §3): hub RS256 tokens against the fake
//! hub's JWKS and revocation list, local standalone tokens, and the scope rules.

mod cache;

use std::sync::atomic::Ordering;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::hub::FakeHub;
use crate::support::sse;

const ADMIN_ROUTE: &str = "/api/channels";

fn setup() -> (FakeHub, Daemon) {
    let hub = FakeHub::start();
    let d = DaemonBuilder::new().hub(&hub.origin).start();
    (hub, d)
}

fn status(d: &Daemon, token: &str) -> u16 {
    d.get(ADMIN_ROUTE, Some(token)).status
}

#[test]
fn no_token_is_401_without_any_hub_fetch() {
    let (hub, d) = setup();
    let r = d.get(ADMIN_ROUTE, None);
    assert_eq!(r.status, 401);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(
        r.json(),
        json!({"error":"unauthorized","message":"Bearer token required"})
    );
    let r = d.get("/events?channel=x", None);
    assert_eq!(r.status, 401, "SSE must refuse before opening the stream");
    assert_eq!(r.header("content-type"), Some("application/json"));
    let r = d.get(ADMIN_ROUTE, Some("not-a-jwt"));
    assert_eq!(r.status, 401);
    assert_eq!(r.error(), "unauthorized");
    assert_eq!(hub.state.jwks_fetches.load(Ordering::SeqCst), 0);
    assert_eq!(hub.state.revocation_fetches.load(Ordering::SeqCst), 0);
}

#[test]
fn valid_hub_token_passes_and_bad_ones_fail() {
    let (hub, d) = setup();
    assert_eq!(status(&d, &hub.token("agent:admin", json!({}))), 200);
    let cases = [
        ("wrong signature", hub.token_wrong_key("agent:admin")),
        (
            "wrong iss",
            hub.token("agent:admin", json!({"iss": "https://evil.example"})),
        ),
        (
            "expired",
            hub.token("agent:admin", json!({"exp": 1_000_000_000})),
        ),
        (
            "missing sub",
            hub.token("agent:admin", json!({"sub": null})),
        ),
        (
            "missing jti",
            hub.token("agent:admin", json!({"jti": null})),
        ),
        (
            "wrong aud",
            hub.token("agent:admin", json!({"aud": "vault.default"})),
        ),
        (
            "aud array, first not agent",
            hub.token("agent:admin", json!({"aud": ["vault.x", "agent"]})),
        ),
        (
            "nbf in future",
            hub.token("agent:admin", json!({"nbf": 4_000_000_000u64})),
        ),
    ];
    for (what, token) in cases {
        let r = d.get(ADMIN_ROUTE, Some(&token));
        assert_eq!(r.status, 401, "{what}: {}", r.body);
        assert_eq!(r.error(), "unauthorized", "{what}");
        assert!(r.json()["message"].is_string(), "{what}");
    }
    assert_eq!(
        status(
            &d,
            &hub.token("agent:admin", json!({"aud": ["agent", "x"]}))
        ),
        200
    );
    assert_eq!(
        status(&d, &hub.token("agent:admin", json!({"aud": "channel"}))),
        200
    );
}

#[test]
fn alg_none_and_hs256_confusion_are_refused() {
    let (hub, d) = setup();
    let claims = hub.claims("agent:admin", json!({}));
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    assert_eq!(status(&d, &none), 401);
    let public_pem = include_bytes!("../support/keys/hub.pub.pem");
    let hs = jsonwebtoken::encode(
        &Header {
            kid: Some(crate::support::hub::KID.into()),
            ..Header::new(Algorithm::HS256)
        },
        &claims,
        &EncodingKey::from_secret(public_pem),
    )
    .unwrap();
    assert_eq!(status(&d, &hs), 401);
    assert_eq!(
        hub.state.jwks_fetches.load(Ordering::SeqCst),
        0,
        "non-RS256 is refused before any fetch"
    );
}

#[test]
fn scopes_are_exact_with_legacy_dual_accept() {
    let (hub, d) = setup();
    let r = d.get(
        ADMIN_ROUTE,
        Some(&hub.token("agent:read agent:send", json!({}))),
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error":"insufficient_scope","message":"requires agent:admin","granted":["agent:read","agent:send"]})
    );
    assert_eq!(
        status(&d, &hub.token("channel:admin", json!({}))),
        200,
        "legacy channel: scope"
    );
    // admin does not imply read.
    let admin_only = hub.token("agent:admin", json!({}));
    let r = d.get("/events?channel=x", Some(&admin_only));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["message"], "requires agent:read");
    let read = hub.token("agent:read", json!({}));
    let stream = sse::connect(&d.url("/events?channel=x"), Some(&read)).expect("stream opens");
    assert_eq!(stream.content_type, "text/event-stream");
    assert_eq!(
        stream.next(Duration::from_secs(5)),
        Some(sse::SseItem::Comment("connected".into()))
    );
    assert!(sse::connect(
        &d.url("/events?channel=x"),
        Some(&hub.token("channel:read", json!({})))
    )
    .is_ok());
    let r = d.get(
        "/events?channel=x",
        Some(&hub.token("channel:write", json!({}))),
    );
    assert_eq!(r.status, 403, "channel:write does not satisfy agent:read");
}

#[test]
fn revoked_jti_is_refused() {
    let (hub, d) = setup();
    hub.revoke("jti-revoked");
    let r = d.get(
        ADMIN_ROUTE,
        Some(&hub.token("agent:admin", json!({"jti": "jti-revoked"}))),
    );
    assert_eq!(r.status, 401);
    assert!(r.json()["message"].as_str().unwrap().contains("revoked"));
    assert_eq!(status(&d, &hub.token("agent:admin", json!({}))), 200);
}

#[test]
fn revocation_down_before_first_load_rejects_everything() {
    let hub = FakeHub::start();
    hub.state.revocation_down.store(true, Ordering::SeqCst);
    let d = DaemonBuilder::new().hub(&hub.origin).start();
    let r = d.get(ADMIN_ROUTE, Some(&hub.token("agent:admin", json!({}))));
    assert_eq!(r.status, 401);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("revocation list unavailable"));
    hub.state.revocation_down.store(false, Ordering::SeqCst);
    assert_eq!(
        status(&d, &hub.token("agent:admin", json!({}))),
        200,
        "retried on the next validation"
    );
}

#[test]
fn revocation_down_after_a_good_load_keeps_the_last_list() {
    let hub = FakeHub::start();
    hub.revoke("jti-bad");
    let d = DaemonBuilder::new()
        .hub(&hub.origin)
        .env("PARACHUTE_AGENT_REVOCATION_MAX_AGE_MS", "200")
        .start();
    assert_eq!(status(&d, &hub.token("agent:admin", json!({}))), 200);
    hub.state.revocation_down.store(true, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(400));
    let before = hub.state.revocation_fetches.load(Ordering::SeqCst);
    assert_eq!(
        status(&d, &hub.token("agent:admin", json!({}))),
        200,
        "fail-open with a last good list"
    );
    assert!(
        hub.state.revocation_fetches.load(Ordering::SeqCst) > before,
        "a refresh was attempted"
    );
    assert_eq!(
        status(&d, &hub.token("agent:admin", json!({"jti": "jti-bad"}))),
        401,
        "last list still applies"
    );
}

#[test]
fn unknown_kid_refetches_at_most_once_per_cooldown() {
    let hub = FakeHub::start();
    let d = DaemonBuilder::new()
        .hub(&hub.origin)
        .env("PARACHUTE_AGENT_JWKS_COOLDOWN_MS", "3000")
        .start();
    assert_eq!(status(&d, &hub.token("agent:admin", json!({}))), 200);
    assert_eq!(hub.state.jwks_fetches.load(Ordering::SeqCst), 1);
    assert_eq!(status(&d, &hub.token_unknown_kid("agent:admin")), 401);
    assert_eq!(
        hub.state.jwks_fetches.load(Ordering::SeqCst),
        1,
        "no refetch inside the cooldown after a fetch"
    );
    std::thread::sleep(Duration::from_millis(3100));
    assert_eq!(status(&d, &hub.token_unknown_kid("agent:admin")), 401);
    assert_eq!(
        hub.state.jwks_fetches.load(Ordering::SeqCst),
        2,
        "one refetch for an unknown kid"
    );
    for _ in 0..3 {
        assert_eq!(status(&d, &hub.token_unknown_kid("agent:admin")), 401);
    }
    assert_eq!(
        hub.state.jwks_fetches.load(Ordering::SeqCst),
        2,
        "cooldown holds further refetches"
    );
}

#[test]
fn local_tokens_mint_scope_and_rotate() {
    let d = DaemonBuilder::new().start();
    let admin = d.mint("agent:admin");
    assert_eq!(status(&d, &admin), 200);
    let read = d.mint("agent:read");
    let r = d.get(ADMIN_ROUTE, Some(&read));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["granted"], json!(["agent:read"]));
    let key = d.state_dir().join("local-issuer.key");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = d.run_cli(&["token", "rotate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = d.get(ADMIN_ROUTE, Some(&admin));
    assert_eq!(
        r.status, 401,
        "rotated key invalidates earlier local tokens on a running daemon"
    );
    assert_eq!(status(&d, &d.mint("agent:admin")), 200);
    let out = d.run_cli(&["token", "mint", "--scope", "agent:root"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn local_and_hub_tokens_work_side_by_side() {
    let (hub, d) = setup();
    assert_eq!(status(&d, &d.mint("agent:admin")), 200);
    assert_eq!(status(&d, &hub.token("agent:admin", json!({}))), 200);
    // A local-issuer claim on an RS256 token signed by another key goes nowhere.
    let forged = hub.token_wrong_key("agent:admin");
    assert_eq!(status(&d, &forged), 401);
}

//! Unit tests of the verified-token cache through [`Auth::validate`]: expiry at
//! `exp`, revocation and key rotation on cached tokens, forged signatures never hitting,
//! and garbage never entering the cache. Hub tokens are checked against a tiny in-process
//! hub serving a JWKS and a revocation list the test changes.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::local::LocalIssuer;
use super::validate::HubValidator;
use super::Auth;
use crate::util::time::now_secs;

const HUB_PEM: &str = include_str!("../../tests/it/support/keys/hub.pem");
const HUB_JWK: &str = include_str!("../../tests/it/support/keys/hub.jwk.json");
const OTHER_PEM: &str = include_str!("../../tests/it/support/keys/other.pem");
const OTHER_JWK: &str = include_str!("../../tests/it/support/keys/other.jwk.json");

/// What the in-process hub serves.
struct Docs {
    /// `(kid, jwk json)` pairs in the JWKS.
    keys: Vec<(&'static str, &'static str)>,
    revoked: Vec<String>,
}

struct TestHub {
    origin: String,
    docs: Arc<Mutex<Docs>>,
    server: Arc<tiny_http::Server>,
}

impl TestHub {
    fn start() -> TestHub {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let docs = Arc::new(Mutex::new(Docs {
            keys: vec![("k1", HUB_JWK)],
            revoked: vec![],
        }));
        let (srv, d) = (server.clone(), docs.clone());
        std::thread::spawn(move || {
            for req in srv.incoming_requests() {
                let body = {
                    let d = d.lock();
                    match req.url() {
                        "/.well-known/jwks.json" => {
                            let keys: Vec<Value> = d
                                .keys
                                .iter()
                                .map(|(kid, jwk)| {
                                    let j: Value = serde_json::from_str(jwk).unwrap();
                                    json!({"kty":"RSA","n":j["n"],"e":j["e"],"kid":kid,"alg":"RS256"})
                                })
                                .collect();
                            json!({ "keys": keys })
                        }
                        _ => json!({"generated_at": "x", "jtis": d.revoked}),
                    }
                };
                let _ = req.respond(tiny_http::Response::from_string(body.to_string()));
            }
        });
        TestHub {
            origin: format!("http://127.0.0.1:{port}"),
            docs,
            server,
        }
    }

    fn token(&self, pem: &str, kid: &str, jti: &str) -> String {
        let now = now_secs();
        let claims = json!({"iss": self.origin, "sub": "u", "aud": "agent", "jti": jti,
            "iat": now, "exp": now + 600, "scope": "agent:read"});
        let header = Header {
            kid: Some(kid.to_string()),
            ..Header::new(Algorithm::RS256)
        };
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
        )
        .unwrap()
    }
}

impl Drop for TestHub {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

fn auth_for(hub: &TestHub, dir: &std::path::Path, entries: usize) -> Auth {
    Auth::from_parts(
        HubValidator::for_origin(&hub.origin),
        LocalIssuer::new(dir.to_path_buf()),
        entries,
    )
}

#[test]
fn a_cached_token_skips_the_signature_check() {
    let hub = TestHub::start();
    let dir = tempfile::tempdir().unwrap();
    let auth = auth_for(&hub, dir.path(), 16);
    let token = hub.token(HUB_PEM, "k1", "j1");
    for _ in 0..5 {
        assert_eq!(auth.validate(&token).unwrap().sub, "u");
    }
    assert_eq!(auth.full_checks(), 1);
    assert_eq!(auth.cached_tokens(), 1);
}

#[test]
fn revocation_is_enforced_on_a_cached_token() {
    let hub = TestHub::start();
    let dir = tempfile::tempdir().unwrap();
    let auth = auth_for(&hub, dir.path(), 16);
    let token = hub.token(HUB_PEM, "k1", "j-rev");
    auth.validate(&token).unwrap();
    hub.docs.lock().revoked.push("j-rev".into());
    let err = auth.validate(&token).unwrap_err();
    assert_eq!(
        err.0,
        "hub JWT revoked: jti \"j-rev\" is in the revocation list"
    );
    assert_eq!(
        auth.full_checks(),
        1,
        "the refusal came from the cached path"
    );
    // Another token is unaffected.
    assert!(auth.validate(&hub.token(HUB_PEM, "k1", "j-ok")).is_ok());
}

#[test]
fn key_rotation_evicts_the_tokens_of_the_retired_key() {
    let hub = TestHub::start();
    let dir = tempfile::tempdir().unwrap();
    let auth = auth_for(&hub, dir.path(), 16);
    let old = hub.token(HUB_PEM, "k1", "j-old");
    auth.validate(&old).unwrap();
    // The hub rotates to a new key and retires the old one.
    hub.docs.lock().keys = vec![("k2", OTHER_JWK)];
    let new = hub.token(OTHER_PEM, "k2", "j-new");
    assert!(
        auth.validate(&new).is_ok(),
        "unknown kid refetches the JWKS"
    );
    let err = auth.validate(&old).unwrap_err();
    assert!(err.0.starts_with("hub JWT verification failed"), "{err:?}");
    assert_eq!(auth.cached_tokens(), 1, "only the new token stays cached");
}

#[test]
fn a_bad_signature_under_the_same_kid_never_hits() {
    let hub = TestHub::start();
    let dir = tempfile::tempdir().unwrap();
    let auth = auth_for(&hub, dir.path(), 16);
    let good = hub.token(HUB_PEM, "k1", "j-sig");
    auth.validate(&good).unwrap();
    let forged_sig = hub.token(OTHER_PEM, "k1", "j-sig");
    let (head_payload, _) = good.rsplit_once('.').unwrap();
    let (_, other_sig) = forged_sig.rsplit_once('.').unwrap();
    let forged = format!("{head_payload}.{other_sig}");
    for _ in 0..3 {
        assert!(auth.validate(&forged).is_err());
    }
    assert_eq!(
        auth.full_checks(),
        4,
        "every forged attempt paid the full check"
    );
    assert_eq!(auth.cached_tokens(), 1);
}

#[test]
fn a_local_token_expires_at_exp_even_when_cached() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start();
    let auth = auth_for(&hub, dir.path(), 16);
    let issuer = LocalIssuer::new(dir.path().to_path_buf());
    let token = issuer
        .mint(&["agent:read".to_string()], Duration::from_secs(2))
        .unwrap();
    let exp = now_secs() + 2;
    auth.validate(&token).unwrap();
    auth.validate(&token).unwrap();
    assert_eq!(auth.full_checks(), 1);
    while now_secs() < exp + 1 {
        std::thread::sleep(Duration::from_millis(100));
    }
    let err = auth.validate(&token).unwrap_err();
    assert!(err.0.contains("ExpiredSignature"), "{err:?}");
    assert_eq!(auth.cached_tokens(), 0, "the expired entry was dropped");
}

#[test]
fn token_rotate_refuses_cached_local_tokens_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start();
    let auth = auth_for(&hub, dir.path(), 16);
    let issuer = LocalIssuer::new(dir.path().to_path_buf());
    let token = issuer
        .mint(&["agent:read".to_string()], Duration::from_secs(600))
        .unwrap();
    auth.validate(&token).unwrap();
    issuer.rotate().unwrap();
    assert!(auth.validate(&token).is_err());
    let fresh = issuer
        .mint(&["agent:read".to_string()], Duration::from_secs(600))
        .unwrap();
    assert!(auth.validate(&fresh).is_ok());
}

#[test]
fn garbage_floods_never_enter_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let hub = TestHub::start();
    let auth = auth_for(&hub, dir.path(), 2);
    let issuer = LocalIssuer::new(dir.path().to_path_buf());
    let token = issuer
        .mint(&["agent:read".to_string()], Duration::from_secs(600))
        .unwrap();
    auth.validate(&token).unwrap();
    let (head, _) = token.split_once('.').unwrap();
    for i in 0..200 {
        let junk = format!("{head}.eyJzdWIiOiJ4In0.c2lnbmF0dXJl{i}");
        assert!(auth.validate(&junk).is_err());
        assert!(auth.validate(&format!("not-a-jwt-{i}")).is_err());
    }
    assert_eq!(auth.cached_tokens(), 1);
    let before = auth.full_checks();
    auth.validate(&token).unwrap();
    assert_eq!(auth.full_checks(), before, "the working set still hits");
}

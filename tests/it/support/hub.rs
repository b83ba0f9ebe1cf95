//! A fake Parachute hub: serves a JWKS for a test RSA-2048 key and a revocation list,
//! counts fetches, can be switched down, and signs tokens with chosen claims the way the
//! real hub does (RS256, `kid` in the header).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::{json, Value};

pub const KID: &str = "test-kid-1";
const HUB_PEM: &str = include_str!("keys/hub.pem");
const OTHER_PEM: &str = include_str!("keys/other.pem");
const HUB_JWK: &str = include_str!("keys/hub.jwk.json");

#[derive(Default)]
pub struct HubState {
    pub jwks_fetches: AtomicUsize,
    pub revocation_fetches: AtomicUsize,
    pub revocation_down: AtomicBool,
    pub jwks_down: AtomicBool,
    pub revoked: Mutex<Vec<String>>,
}

pub struct FakeHub {
    pub origin: String,
    pub state: Arc<HubState>,
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
}

impl FakeHub {
    pub fn start() -> FakeHub {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(HubState::default());
        let (srv, st) = (server.clone(), state.clone());
        let thread = std::thread::spawn(move || {
            for req in srv.incoming_requests() {
                let (status, body) = answer(&st, req.url());
                let resp = tiny_http::Response::from_string(body.to_string())
                    .with_status_code(status)
                    .with_header(
                        tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap(),
                    );
                let _ = req.respond(resp);
            }
        });
        FakeHub {
            origin: format!("http://127.0.0.1:{port}"),
            state,
            server,
            thread: Some(thread),
        }
    }

    /// A hub token with sensible defaults, overridden by `extra` (a `null` removes a claim).
    pub fn token(&self, scope: &str, extra: Value) -> String {
        let claims = self.claims(scope, extra);
        sign(&claims, HUB_PEM, Some(KID))
    }

    pub fn claims(&self, scope: &str, extra: Value) -> Value {
        let now = now();
        let mut claims = json!({
            "iss": self.origin, "sub": "user-1", "aud": "agent", "iat": now, "exp": now + 600,
            "jti": format!("jti-{}", uuid::Uuid::new_v4()), "scope": scope, "client_id": "test",
        });
        for (k, v) in extra.as_object().cloned().unwrap_or_default() {
            if v.is_null() {
                claims.as_object_mut().unwrap().remove(&k);
            } else {
                claims[k] = v;
            }
        }
        claims
    }

    /// Signs `claims` with a key the hub does not publish.
    pub fn token_wrong_key(&self, scope: &str) -> String {
        sign(&self.claims(scope, json!({})), OTHER_PEM, Some(KID))
    }

    /// Signs with the hub key but a `kid` the JWKS does not list.
    pub fn token_unknown_kid(&self, scope: &str) -> String {
        sign(&self.claims(scope, json!({})), HUB_PEM, Some("unknown-kid"))
    }

    pub fn revoke(&self, jti: &str) {
        self.state.revoked.lock().push(jti.to_string());
    }
}

impl Drop for FakeHub {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub fn sign(claims: &Value, pem: &str, kid: Option<&str>) -> String {
    let header = Header {
        kid: kid.map(str::to_string),
        ..Header::new(Algorithm::RS256)
    };
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// The hub's public key as a PEM-less JWK (n, e), for crafting attacks in tests.
pub fn hub_jwk() -> Value {
    serde_json::from_str(HUB_JWK).unwrap()
}

fn answer(st: &HubState, url: &str) -> (u16, Value) {
    match url {
        "/.well-known/jwks.json" => {
            st.jwks_fetches.fetch_add(1, Ordering::SeqCst);
            if st.jwks_down.load(Ordering::SeqCst) {
                return (503, json!({"error": "down"}));
            }
            let jwk = hub_jwk();
            (
                200,
                json!({"keys": [{"kty": "RSA", "n": jwk["n"], "e": jwk["e"], "kid": KID, "alg": "RS256", "use": "sig"}]}),
            )
        }
        "/.well-known/parachute-revocation.json" => {
            st.revocation_fetches.fetch_add(1, Ordering::SeqCst);
            if st.revocation_down.load(Ordering::SeqCst) {
                return (503, json!({"error": "down"}));
            }
            (
                200,
                json!({"generated_at": "2026-01-01T00:00:00.000Z", "jtis": *st.revoked.lock()}),
            )
        }
        _ => (404, json!({"error": "not found"})),
    }
}

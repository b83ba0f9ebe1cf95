//! A fake Parachute hub: serves a JWKS for a test RSA-2048 key and a revocation list,
//! counts fetches, can be switched down, and signs tokens with chosen claims the way the
//! real hub does (RS256, `kid` in the header). For the operator token [`OPERATOR_TOKEN`]
//! it also mints child tokens (`POST /api/auth/mint-token`, spec 01 §3.9) and answers the
//! grants API (`/admin/grants…`, spec 04 §3.2), recording every call.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use parking_lot::Mutex;
use serde_json::{json, Value};

pub const KID: &str = "test-kid-1";
/// The operator bearer the hub accepts for minting and grants.
pub const OPERATOR_TOKEN: &str = "op-token";
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
    /// Bodies of `POST /api/auth/mint-token`, in order.
    pub mints: Mutex<Vec<Value>>,
    /// Status a `PUT /admin/grants` answers per connection target (default `pending`).
    pub grant_status: Mutex<HashMap<String, String>>,
    /// Every authorised `/admin/grants…` call: (`"<METHOD> <url>"`, body or null).
    pub grant_calls: Mutex<Vec<(String, Value)>>,
    /// What `GET /admin/grants?agent=<a>` lists, per agent.
    pub grants: Mutex<HashMap<String, Vec<Value>>>,
    /// What `GET /admin/grants/<id>/material` answers, per grant id.
    pub materials: Mutex<HashMap<String, Value>>,
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
            for mut req in srv.incoming_requests() {
                let mut raw = String::new();
                let _ = req.as_reader().read_to_string(&mut raw);
                let body: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
                let authed = req.headers().iter().any(|h| {
                    h.field.equiv("Authorization")
                        && h.value == format!("Bearer {OPERATOR_TOKEN}").as_str()
                });
                let method = req.method().as_str().to_string();
                let (status, body) = match answer(&st, req.url()) {
                    Some(answer) => answer,
                    None if !authed => (
                        403,
                        json!({"error": "forbidden", "error_description": "bad operator token"}),
                    ),
                    None => operator_answer(&st, &method, req.url(), &body),
                };
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

/// The public documents (JWKS, revocation list); `None` for everything else.
fn answer(st: &HubState, url: &str) -> Option<(u16, Value)> {
    Some(match url {
        "/.well-known/jwks.json" => {
            st.jwks_fetches.fetch_add(1, Ordering::SeqCst);
            if st.jwks_down.load(Ordering::SeqCst) {
                return Some((503, json!({"error": "down"})));
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
                return Some((503, json!({"error": "down"})));
            }
            (
                200,
                json!({"generated_at": "2026-01-01T00:00:00.000Z", "jtis": *st.revoked.lock()}),
            )
        }
        _ => return None,
    })
}

/// The operator-authenticated API: token mint and grants.
fn operator_answer(st: &HubState, method: &str, url: &str, body: &Value) -> (u16, Value) {
    if url == "/api/auth/mint-token" && method == "POST" {
        st.mints.lock().push(body.clone());
        let scope = body["scope"].as_str().unwrap_or("").to_string();
        return (
            200,
            json!({"jti": "j", "token": format!("minted-{scope}"), "scope": scope}),
        );
    }
    if !url.starts_with("/admin/grants") {
        return (404, json!({"error": "not found"}));
    }
    st.grant_calls
        .lock()
        .push((format!("{method} {url}"), body.clone()));
    match method {
        "PUT" if url == "/admin/grants" => {
            let target = body["connection"]["target"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let status = st
                .grant_status
                .lock()
                .get(&target)
                .cloned()
                .unwrap_or("pending".into());
            let id = format!("{}--{target}", body["agent"].as_str().unwrap_or(""));
            (
                200,
                json!({"id": id, "agent": body["agent"], "connection": body["connection"], "status": status}),
            )
        }
        "POST" if url == "/admin/grants/reconcile" => (200, json!({"pruned": 0})),
        "GET" => grant_lookup(st, url),
        _ => (404, json!({"error": "not_found"})),
    }
}

fn grant_lookup(st: &HubState, url: &str) -> (u16, Value) {
    if let Some(agent) = url.strip_prefix("/admin/grants?agent=") {
        let list = st.grants.lock().get(agent).cloned().unwrap_or_default();
        return (200, json!({ "grants": list }));
    }
    let id = url
        .strip_prefix("/admin/grants/")
        .and_then(|r| r.strip_suffix("/material"));
    match id.and_then(|id| st.materials.lock().get(id).cloned()) {
        Some(material) => (200, material),
        None => (404, json!({"error": "not_found"})),
    }
}

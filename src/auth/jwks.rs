//! The hub's JWKS (spec 01 §3.3): fetched from `<origin>/.well-known/jwks.json`, cached per
//! origin for 5 minutes; a token whose `kid` is unknown triggers a refetch at most once
//! per 30 s. A fetch failure fails the validation (no stale fallback past the max age).
//! Each key carries an id that survives refetches of the same material, so the
//! verified-token cache ([`super::cache`]) drops a token the moment its key leaves the set.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use parking_lot::{Mutex, RwLock};
use serde::Deserialize;

pub const MAX_AGE: Duration = Duration::from_secs(300);
pub const KID_REFETCH_COOLDOWN: Duration = Duration::from_secs(30);
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Deserialize)]
struct JwkSet {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    n: Option<String>,
    e: Option<String>,
}

/// One usable RSA key of a JWKS document. `id` names the key material for the life of the
/// process: a refetch that returns the same `(kid, n, e)` keeps the id, so the verified-token
/// cache can tell "still the key that signed this token" from "rotated" with one compare.
pub struct HubKey {
    pub id: u64,
    pub kid: Option<String>,
    n: String,
    e: String,
    pub key: DecodingKey,
}

/// The usable RSA keys of one JWKS document: an immutable snapshot shared by `Arc`, so a
/// request reads it under a short read lock without copying any key.
#[derive(Default)]
pub struct KeySet {
    keys: Vec<HubKey>,
}

impl KeySet {
    /// The key for `kid`, or (for a kid-less token) every key.
    pub fn candidates<'a>(&'a self, kid: Option<&'a str>) -> impl Iterator<Item = &'a HubKey> {
        self.keys
            .iter()
            .filter(move |k| kid.is_none() || k.kid.as_deref() == kid)
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Whether the key material with this id is still in the set.
    pub fn has_key_id(&self, id: u64) -> bool {
        self.keys.iter().any(|k| k.id == id)
    }
}

struct Entry {
    keys: Arc<KeySet>,
    fetched_at: Instant,
}

/// Per-origin cache of key sets. Read-mostly: a `RwLock` of `Arc` snapshots.
pub struct JwksCache {
    agent: ureq::Agent,
    cooldown: Duration,
    entries: RwLock<HashMap<String, Entry>>,
    last_attempt: Mutex<HashMap<String, Instant>>,
    /// Serialises fetches, so a burst of unknown-`kid` tokens costs one request.
    fetching: Mutex<()>,
    next_id: AtomicU64,
}

impl JwksCache {
    /// `cooldown` is [`KID_REFETCH_COOLDOWN`] unless shortened (`Config::jwks_cooldown`, a
    /// test and operations knob that can only shorten).
    pub fn new(agent: ureq::Agent, cooldown: Duration) -> JwksCache {
        let cooldown = cooldown.min(KID_REFETCH_COOLDOWN);
        JwksCache {
            agent,
            cooldown,
            entries: RwLock::new(HashMap::new()),
            last_attempt: Mutex::new(HashMap::new()),
            fetching: Mutex::new(()),
            next_id: AtomicU64::new(1),
        }
    }

    /// The key set for `origin`, refetched when stale, or when `kid` is unknown and the
    /// cooldown allows.
    pub fn keys(&self, origin: &str, kid: Option<&str>) -> Result<Arc<KeySet>, String> {
        if let Some(keys) = self.usable(origin, kid) {
            return Ok(keys);
        }
        let _one_fetch = self.fetching.lock();
        // Another thread may have fetched while we waited (its attempt restarted the cooldown).
        if let Some(keys) = self.usable(origin, kid) {
            return Ok(keys);
        }
        self.fetch(origin)
    }

    /// The cached set if it can answer for `kid` without a fetch.
    fn usable(&self, origin: &str, kid: Option<&str>) -> Option<Arc<KeySet>> {
        let entries = self.entries.read();
        let e = entries.get(origin)?;
        if e.fetched_at.elapsed() >= MAX_AGE {
            return None;
        }
        match kid {
            Some(k) if !e.keys.has_kid(k) && self.cooldown_passed(origin) => None,
            _ => Some(e.keys.clone()),
        }
    }

    fn cooldown_passed(&self, origin: &str) -> bool {
        self.last_attempt
            .lock()
            .get(origin)
            .is_none_or(|t| t.elapsed() >= self.cooldown)
    }

    fn fetch(&self, origin: &str) -> Result<Arc<KeySet>, String> {
        self.last_attempt
            .lock()
            .insert(origin.to_string(), Instant::now());
        let url = format!("{origin}/.well-known/jwks.json");
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .map_err(|e| format!("JWKS fetch failed: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!(
                "JWKS fetch failed: HTTP {}",
                resp.status().as_u16()
            ));
        }
        let set: JwkSet = resp
            .body_mut()
            .read_json()
            .map_err(|e| format!("JWKS malformed: {e}"))?;
        let previous = self.entries.read().get(origin).map(|e| e.keys.clone());
        let keys = Arc::new(self.parse_keys(set, previous.as_deref()));
        log::debug!(
            "auth: fetched JWKS from {origin} ({} RSA keys)",
            keys.keys.len()
        );
        self.entries.write().insert(
            origin.to_string(),
            Entry {
                keys: keys.clone(),
                fetched_at: Instant::now(),
            },
        );
        Ok(keys)
    }

    /// The usable keys of `set`; key material already in `previous` keeps its id.
    fn parse_keys(&self, set: JwkSet, previous: Option<&KeySet>) -> KeySet {
        let keys = set
            .keys
            .into_iter()
            .filter(|k| {
                k.kty.as_deref() == Some("RSA") && k.alg.as_deref().is_none_or(|a| a == "RS256")
            })
            .filter_map(|k| {
                let (n, e) = (k.n?, k.e?);
                let key = DecodingKey::from_rsa_components(&n, &e).ok()?;
                let same = |p: &&HubKey| p.kid == k.kid && p.n == n && p.e == e;
                let id = previous
                    .and_then(|p| p.keys.iter().find(same))
                    .map(|p| p.id)
                    .unwrap_or_else(|| self.next_id.fetch_add(1, Ordering::Relaxed));
                Some(HubKey {
                    id,
                    kid: k.kid,
                    n,
                    e,
                    key,
                })
            })
            .collect();
        KeySet { keys }
    }
}

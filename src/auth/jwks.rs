//! The hub's JWKS (spec 01 §3.3): fetched from `<origin>/.well-known/jwks.json`, cached per
//! origin for 5 minutes; a token whose `kid` is unknown triggers a refetch at most once
//! per 30 s. A fetch failure fails the validation (no stale fallback past the max age).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use parking_lot::Mutex;
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

/// The usable RSA keys of one JWKS document.
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<(Option<String>, DecodingKey)>,
}

impl KeySet {
    /// The key for `kid`, or (for a kid-less token) every key.
    pub fn candidates(&self, kid: Option<&str>) -> Vec<&DecodingKey> {
        self.keys
            .iter()
            .filter(|(k, _)| kid.is_none() || k.as_deref() == kid)
            .map(|(_, key)| key)
            .collect()
    }

    pub fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|(k, _)| k.as_deref() == Some(kid))
    }
}

struct Entry {
    keys: KeySet,
    fetched_at: Instant,
}

/// Per-origin cache of key sets.
pub struct JwksCache {
    agent: ureq::Agent,
    cooldown: Duration,
    entries: Mutex<HashMap<String, Entry>>,
    last_attempt: Mutex<HashMap<String, Instant>>,
}

impl JwksCache {
    /// `cooldown` is [`KID_REFETCH_COOLDOWN`] unless shortened
    /// (`PARACHUTE_AGENT_JWKS_COOLDOWN_MS`, a test and operations knob that can only shorten).
    pub fn new(agent: ureq::Agent, cooldown: Duration) -> JwksCache {
        let cooldown = cooldown.min(KID_REFETCH_COOLDOWN);
        JwksCache {
            agent,
            cooldown,
            entries: Mutex::new(HashMap::new()),
            last_attempt: Mutex::new(HashMap::new()),
        }
    }

    /// The key set for `origin`, refetched when stale, or when `kid` is unknown and the
    /// cooldown allows.
    pub fn keys(&self, origin: &str, kid: Option<&str>) -> Result<KeySet, String> {
        let cached = self
            .entries
            .lock()
            .get(origin)
            .map(|e| (e.keys.clone(), e.fetched_at.elapsed() < MAX_AGE));
        match cached {
            Some((keys, true)) => match kid {
                Some(k) if !keys.has_kid(k) && self.cooldown_passed(origin) => self.fetch(origin),
                _ => Ok(keys),
            },
            _ => self.fetch(origin),
        }
    }

    fn cooldown_passed(&self, origin: &str) -> bool {
        self.last_attempt
            .lock()
            .get(origin)
            .is_none_or(|t| t.elapsed() >= self.cooldown)
    }

    fn fetch(&self, origin: &str) -> Result<KeySet, String> {
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
        let keys = parse_keys(set);
        log::debug!(
            "auth: fetched JWKS from {origin} ({} RSA keys)",
            keys.keys.len()
        );
        self.entries.lock().insert(
            origin.to_string(),
            Entry {
                keys: keys.clone(),
                fetched_at: Instant::now(),
            },
        );
        Ok(keys)
    }
}

fn parse_keys(set: JwkSet) -> KeySet {
    let keys = set
        .keys
        .into_iter()
        .filter(|k| {
            k.kty.as_deref() == Some("RSA") && k.alg.as_deref().is_none_or(|a| a == "RS256")
        })
        .filter_map(|k| {
            let key = DecodingKey::from_rsa_components(k.n.as_deref()?, k.e.as_deref()?).ok()?;
            Some((k.kid, key))
        })
        .collect();
    KeySet { keys }
}

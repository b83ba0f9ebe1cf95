//! The hub's revocation list (spec 01 §3.5): `GET <origin>/.well-known/parachute-revocation.json`,
//! cached 60 s and refreshed synchronously when stale, one fetch in flight at a time.
//! A failure with a previous good list keeps it (fail-open, clock restarted); a failure
//! with no good list yet rejects every token (fail-closed).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};

pub const MAX_AGE: Duration = Duration::from_secs(60);

struct Entry {
    jtis: HashSet<String>,
    checked_at: Instant,
}

pub struct RevocationCache {
    agent: ureq::Agent,
    max_age: Duration,
    /// Read on every authenticated hub request, written once a minute.
    entries: RwLock<HashMap<String, Entry>>,
    /// Held while fetching, so concurrent refreshes share one request.
    fetching: Mutex<()>,
}

/// The verdict on one `jti`.
#[derive(Debug, PartialEq)]
pub enum Revocation {
    Valid,
    Revoked,
    Unavailable,
}

impl RevocationCache {
    /// `max_age` is [`MAX_AGE`] unless shortened (`Config::revocation_max_age`,
    /// a test and operations knob that can only shorten).
    pub fn new(agent: ureq::Agent, max_age: Duration) -> RevocationCache {
        let max_age = max_age.min(MAX_AGE);
        RevocationCache {
            agent,
            max_age,
            entries: RwLock::new(HashMap::new()),
            fetching: Mutex::new(()),
        }
    }

    pub fn check(&self, origin: &str, jti: &str) -> Revocation {
        if let Some(v) = self.fresh_verdict(origin, jti) {
            return v;
        }
        let _guard = self.fetching.lock();
        if let Some(v) = self.fresh_verdict(origin, jti) {
            return v; // another thread refreshed while we waited
        }
        match self.fetch(origin) {
            Ok(jtis) => {
                let revoked = jtis.contains(jti);
                self.entries.write().insert(
                    origin.to_string(),
                    Entry {
                        jtis,
                        checked_at: Instant::now(),
                    },
                );
                if revoked {
                    Revocation::Revoked
                } else {
                    Revocation::Valid
                }
            }
            Err(e) => {
                let mut entries = self.entries.write();
                match entries.get_mut(origin) {
                    Some(last_good) => {
                        log::warn!("auth: revocation list refresh failed ({e}); keeping the last good list");
                        last_good.checked_at = Instant::now();
                        if last_good.jtis.contains(jti) {
                            Revocation::Revoked
                        } else {
                            Revocation::Valid
                        }
                    }
                    None => {
                        log::warn!("auth: revocation list unavailable ({e}); rejecting tokens until it loads");
                        Revocation::Unavailable
                    }
                }
            }
        }
    }

    fn fresh_verdict(&self, origin: &str, jti: &str) -> Option<Revocation> {
        let entries = self.entries.read();
        let e = entries
            .get(origin)
            .filter(|e| e.checked_at.elapsed() < self.max_age)?;
        Some(if e.jtis.contains(jti) {
            Revocation::Revoked
        } else {
            Revocation::Valid
        })
    }

    fn fetch(&self, origin: &str) -> Result<HashSet<String>, String> {
        let url = format!("{origin}/.well-known/parachute-revocation.json");
        let mut resp = self.agent.get(&url).call().map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        let v: serde_json::Value = resp.body_mut().read_json().map_err(|e| e.to_string())?;
        let list = v
            .get("jtis")
            .and_then(|j| j.as_array())
            .ok_or("jtis is not an array")?;
        list.iter()
            .map(|j| {
                j.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| "non-string jti".to_string())
            })
            .collect()
    }
}

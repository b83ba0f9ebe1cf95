//! The verified-token cache [ext]: after a token passed the full check of spec
//! 01 §3.4 (or the local issuer's, spec 08) once, later requests with the same token skip
//! the signature verification. What the signature proved is immutable (the claims); what
//! can change is re-checked on every request by [`super::Auth::validate`]:
//!
//! - `exp` and `nbf` against the clock (an entry never outlives its token's `exp`);
//! - hub tokens: the resolved origin is still the issuer the token was pinned to, the key
//!   that verified it is still in the (possibly refetched) JWKS — a rotated or removed key
//!   drops every token it signed at once — and the revocation list (§3.5) for its `jti`;
//! - local tokens: the issuer key is still the one that verified it (`token rotate`
//!   replaces the key file, and every token of the old key misses at once);
//! - the scope check runs on the returned principal as before.
//!
//! Keys are the SHA-256 of the whole token string, so neither a token nor a prefix of it
//! sits in the map, and a token differing in any byte (another signature under the same
//! `kid`) is another key and goes through the full check. Only tokens that passed the full
//! check are inserted; garbage, forged and expired tokens never are, so a flood of
//! distinct bad tokens cannot evict the working set: evicting needs valid tokens. The size
//! is bounded (`Config::token_cache_entries`, `PARACHUTE_AGENT_TOKEN_CACHE_ENTRIES`);
//! when full, CLOCK eviction (a "referenced" bit set by lookups under the read lock) picks
//! the victim, so hits never take the write lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::RwLock;
use sha2::{Digest, Sha256};

use super::Principal;

/// Default number of cached tokens (about 300 bytes each); the knob is `Config::auth`.
pub const DEFAULT_ENTRIES: usize = crate::config::TOKEN_CACHE_DEFAULT_ENTRIES;
/// Upper clamp of the knob.
pub const MAX_ENTRIES: usize = crate::config::TOKEN_CACHE_MAX_ENTRIES;

/// SHA-256 of the token string: the map key.
pub type TokenHash = [u8; 32];

pub fn hash(token: &str) -> TokenHash {
    Sha256::digest(token.as_bytes()).into()
}

/// Which key verified a token, and what must still hold for the token to stay good.
#[derive(Debug, Clone, PartialEq)]
pub enum Proof {
    /// The local issuer key with this id ([`super::local::LocalIssuer`] numbers each key
    /// it loads).
    Local { key_id: u64 },
    /// A hub key ([`super::jwks::HubKey::id`]) of the JWKS of `origin`.
    Hub {
        origin: String,
        kid: Option<String>,
        key_id: u64,
        jti: String,
    },
}

/// What one full verification established.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    pub principal: Principal,
    /// `exp` (required for both issuers), Unix seconds.
    pub exp: u64,
    /// `nbf`, Unix seconds; 0 when the token has none.
    pub nbf: u64,
    pub proof: Proof,
}

impl Verified {
    /// Inside the token's validity window at `now` (Unix seconds): `nbf <= now < exp`.
    pub fn in_window(&self, now: u64) -> bool {
        self.nbf <= now && now < self.exp
    }
}

struct Slot {
    hash: TokenHash,
    verified: Arc<Verified>,
    referenced: AtomicBool,
}

#[derive(Default)]
struct Slots {
    index: HashMap<TokenHash, usize>,
    slots: Vec<Slot>,
    hand: usize,
}

/// A bounded map from token hash to what its verification proved.
pub struct TokenCache {
    capacity: usize,
    inner: RwLock<Slots>,
}

impl TokenCache {
    /// `capacity` 0 disables the cache (every request pays the full check).
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache {
            capacity: capacity.min(MAX_ENTRIES),
            inner: RwLock::new(Slots::default()),
        }
    }

    pub fn get(&self, hash: &TokenHash) -> Option<Arc<Verified>> {
        let inner = self.inner.read();
        let slot = &inner.slots[*inner.index.get(hash)?];
        slot.referenced.store(true, Ordering::Relaxed);
        Some(slot.verified.clone())
    }

    pub fn insert(&self, hash: TokenHash, verified: Verified) {
        if self.capacity == 0 {
            return;
        }
        let mut inner = self.inner.write();
        let slot = Slot {
            hash,
            verified: Arc::new(verified),
            referenced: AtomicBool::new(false),
        };
        if let Some(&i) = inner.index.get(&hash) {
            inner.slots[i] = slot;
        } else if inner.slots.len() < self.capacity {
            let i = inner.slots.len();
            inner.slots.push(slot);
            inner.index.insert(hash, i);
        } else {
            let victim = inner.clock_victim();
            let old = std::mem::replace(&mut inner.slots[victim], slot);
            inner.index.remove(&old.hash);
            inner.index.insert(hash, victim);
        }
    }

    /// Drops an entry (its key rotated away, its window closed).
    pub fn remove(&self, hash: &TokenHash) {
        let mut inner = self.inner.write();
        let Some(i) = inner.index.remove(hash) else {
            return;
        };
        inner.slots.swap_remove(i);
        if let Some(moved) = inner.slots.get(i).map(|s| s.hash) {
            inner.index.insert(moved, i);
        }
        if inner.hand >= inner.slots.len() {
            inner.hand = 0;
        }
    }

    pub fn len(&self) -> usize {
        self.inner.read().slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Slots {
    /// CLOCK: the first slot from the hand whose referenced bit is clear, clearing the bits
    /// it passes (at most two turns).
    fn clock_victim(&mut self) -> usize {
        loop {
            let i = self.hand;
            self.hand = (self.hand + 1) % self.slots.len();
            if !self.slots[i].referenced.swap(false, Ordering::Relaxed) {
                return i;
            }
        }
    }
}

/// A cheap shape check run on a cache miss before any signature work: three non-empty
/// base64url segments within `max_len` bytes. What fails it goes straight to the full
/// check, which refuses it with its usual message and never reaches the cache.
pub fn looks_like_jws(token: &str, max_len: usize) -> bool {
    if token.len() > max_len {
        return false;
    }
    let mut parts = 0;
    for seg in token.split('.') {
        parts += 1;
        if parts > 3
            || seg.is_empty()
            || !seg
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    parts == 3
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(sub: &str, exp: u64) -> Verified {
        Verified {
            principal: Principal {
                sub: sub.into(),
                scopes: vec!["agent:read".into()],
                local: true,
            },
            exp,
            nbf: 0,
            proof: Proof::Local { key_id: 1 },
        }
    }

    #[test]
    fn window_is_nbf_inclusive_exp_exclusive() {
        let mut v = verified("a", 100);
        v.nbf = 50;
        assert!(!v.in_window(49));
        assert!(v.in_window(50));
        assert!(v.in_window(99));
        assert!(!v.in_window(100));
    }

    #[test]
    fn bounded_under_100k_distinct_tokens_and_keeps_the_working_set() {
        let cache = TokenCache::new(1000);
        let hot = hash("hot.token.sig");
        cache.insert(hot, verified("hot", u64::MAX));
        for i in 0..100_000 {
            // The working set is used between insertions, as a live client would.
            assert!(cache.get(&hot).is_some(), "hot entry evicted at {i}");
            cache.insert(hash(&format!("t{i}.x.y")), verified("cold", u64::MAX));
        }
        assert_eq!(cache.len(), 1000);
        assert!(cache.get(&hot).is_some());
    }

    #[test]
    fn remove_keeps_the_index_consistent() {
        let cache = TokenCache::new(3);
        let (a, b, c) = (hash("a"), hash("b"), hash("c"));
        cache.insert(a, verified("a", 9));
        cache.insert(b, verified("b", 9));
        cache.insert(c, verified("c", 9));
        cache.remove(&a);
        assert!(cache.get(&a).is_none());
        assert_eq!(cache.get(&c).unwrap().principal.sub, "c");
        assert_eq!(cache.get(&b).unwrap().principal.sub, "b");
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn zero_capacity_disables() {
        let cache = TokenCache::new(0);
        cache.insert(hash("a"), verified("a", 9));
        assert!(cache.is_empty());
    }

    #[test]
    fn shape_check() {
        assert!(looks_like_jws("aGVh.Ym9keQ.c2ln-_", 100));
        assert!(!looks_like_jws("not-a-jwt", 100));
        assert!(!looks_like_jws("a..c", 100));
        assert!(!looks_like_jws("a.b.c.d", 100));
        assert!(!looks_like_jws("a.b.c=", 100));
        assert!(!looks_like_jws("a.b.c", 4));
    }
}

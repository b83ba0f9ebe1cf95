//! Token validation and scope checks (spec 01 §3): hub-issued RS256 JWTs checked against
//! the hub's JWKS and revocation list, plus standalone tokens from the local issuer
//! (spec 08). This module validates token strings and nothing more: reading them from a
//! request and the 401/403 answers of spec 01 §3.8 are the gates in `api::gate`. A token
//! that verified once skips the signature check on later requests ([`cache`]); everything
//! that can change is re-checked on every request.

pub mod cache;
pub mod hub;
pub mod jwks;
pub mod local;
pub mod revocation;
pub mod validate;

#[cfg(test)]
mod cache_tests;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::config::AuthConfig;

/// The four `agent:*` scopes. There is no hierarchy: `admin` does not imply `read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Read,
    Write,
    Send,
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Send, Scope::Admin];

    pub fn verb(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Send => "send",
            Scope::Admin => "admin",
        }
    }

    /// `agent:<verb>`.
    pub fn name(self) -> String {
        format!("agent:{}", self.verb())
    }

    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|sc| sc.name() == s)
    }
}

/// Whether `scopes` grant `scope`: exact `agent:<verb>` or the legacy `channel:<verb>`
/// (spec 01 §3.7 dual-accept).
pub fn grants(scopes: &[String], scope: Scope) -> bool {
    scopes.iter().any(|s| {
        s.strip_prefix("agent:")
            .or_else(|| s.strip_prefix("channel:"))
            .is_some_and(|verb| verb == scope.verb())
    })
}

/// Who a validated token speaks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    pub sub: String,
    pub scopes: Vec<String>,
    /// True for tokens of the local (standalone) issuer.
    pub local: bool,
}

impl Principal {
    pub fn has(&self, scope: Scope) -> bool {
        grants(&self.scopes, scope)
    }
}

/// Why a token was refused; the text becomes the 401 `message`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthError(pub String);

impl AuthError {
    pub fn new(msg: impl Into<String>) -> Self {
        AuthError(msg.into())
    }
}

/// Longest token the validator looks at; anything longer is refused before hashing.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The validator shared by every handler.
pub struct Auth {
    hub: validate::HubValidator,
    local: local::LocalIssuer,
    cache: cache::TokenCache,
    /// Full verifications run (cache misses, garbage included).
    full_checks: AtomicU64,
}

impl Auth {
    pub fn new(state_dir: PathBuf, parachute_home: PathBuf, cfg: &AuthConfig) -> Auth {
        Auth::from_parts(
            validate::HubValidator::new(parachute_home, cfg),
            local::LocalIssuer::new(state_dir),
            cfg.token_cache_entries,
        )
    }

    /// `cache_entries`: bound of the verified-token cache (0 disables it).
    pub fn from_parts(
        hub: validate::HubValidator,
        local: local::LocalIssuer,
        cache_entries: usize,
    ) -> Auth {
        Auth {
            hub,
            local,
            cache: cache::TokenCache::new(cache_entries),
            full_checks: AtomicU64::new(0),
        }
    }

    /// How many full verifications ran so far (the rest were answered by the cache).
    pub fn full_checks(&self) -> u64 {
        self.full_checks.load(Ordering::Relaxed)
    }

    /// Tokens in the verified-token cache.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    /// Validates a raw token (hub or local). No network I/O for garbage or local tokens.
    /// A token seen before is answered from the cache after the per-request re-checks.
    pub fn validate(&self, token: &str) -> Result<Principal, AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::new("invalid token"));
        }
        let key = cache::hash(token);
        if let Some(hit) = self.cache.get(&key) {
            match self.recheck(&hit) {
                Ok(true) => return Ok(hit.principal.clone()),
                // Revoked or JWKS unreachable: refused exactly as uncached; the entry stays
                // so the next attempt is refused without crypto.
                Err(e) => return Err(e),
                Ok(false) => self.cache.remove(&key),
            }
        }
        // A miss: what is not even shaped like a JWS is refused by the full check (cheaply,
        // before any signature work) and never reaches the cache.
        if !cache::looks_like_jws(token, MAX_TOKEN_BYTES) {
            return self.verify(token).map(|v| v.principal);
        }
        let verified = self.verify(token)?;
        let principal = verified.principal.clone();
        self.cache.insert(key, verified);
        Ok(principal)
    }

    /// The full check, by issuer.
    fn verify(&self, token: &str) -> Result<cache::Verified, AuthError> {
        self.full_checks.fetch_add(1, Ordering::Relaxed);
        if local::is_local_token(token) {
            return self.local.verify(token);
        }
        self.hub.verify(token)
    }

    /// What a cached token must still satisfy: `Ok(false)` = no longer provably good
    /// (window closed, key rotated, issuer pin moved): drop it and check in full.
    fn recheck(&self, v: &cache::Verified) -> Result<bool, AuthError> {
        if !v.in_window(crate::util::time::now_secs()) {
            return Ok(false);
        }
        match &v.proof {
            cache::Proof::Local { key_id } => Ok(self.local.is_current(*key_id)),
            cache::Proof::Hub {
                origin,
                kid,
                key_id,
                jti,
            } => self.hub.recheck(origin, kid.as_deref(), *key_id, jti),
        }
    }

    pub fn hub_origin(&self) -> String {
        self.hub.origin()
    }
}

/// The token of an `Authorization: Bearer <token>` value (scheme case-insensitive, value
/// trimmed, empty → none).
pub fn parse_bearer(value: &str) -> Option<String> {
    let value = value.trim_start();
    let (scheme, rest) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case("bearer") || !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn scopes_have_no_hierarchy_but_dual_accept() {
        assert!(grants(&s(&["agent:read"]), Scope::Read));
        assert!(grants(&s(&["channel:read"]), Scope::Read));
        assert!(!grants(&s(&["agent:admin"]), Scope::Read));
        assert!(!grants(&s(&["channel:read"]), Scope::Write));
        assert!(!grants(&s(&["read"]), Scope::Read));
    }

    #[test]
    fn bearer_parsing() {
        assert_eq!(parse_bearer("Bearer abc"), Some("abc".into()));
        assert_eq!(parse_bearer("bearer   abc  "), Some("abc".into()));
        assert_eq!(parse_bearer("Bearer   "), None);
        assert_eq!(parse_bearer("Basic abc"), None);
        assert_eq!(parse_bearer("Bearerabc"), None);
    }
}

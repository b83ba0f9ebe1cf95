//! Hub JWT validation in the order of spec 01 §3.4: parse → RS256 signature against the
//! JWKS, `iss` pinned to the resolved hub origin, `exp`/`nbf` with zero leeway → `sub` →
//! `jti` → revocation → audience (first element only) → scopes. Garbage and non-RS256
//! tokens are refused before any network I/O.

use std::path::PathBuf;

use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use super::cache::{Proof, Verified};
use super::jwks::{self, JwksCache};
use super::revocation::{Revocation, RevocationCache};
use super::{AuthError, Principal};
use crate::config::AuthConfig;
use crate::util::http_client::lean_buffers;

pub struct HubValidator {
    parachute_home: PathBuf,
    /// `PARACHUTE_HUB_ORIGIN`, when set.
    origin_override: Option<String>,
    /// `PARACHUTE_HUB_ORIGINS`: more accepted issuers besides the canonical origin.
    extra_issuers: Vec<String>,
    jwks: JwksCache,
    revocation: RevocationCache,
}

fn verification_failed(detail: impl std::fmt::Display) -> AuthError {
    AuthError(format!("hub JWT verification failed: {detail}"))
}

impl HubValidator {
    pub fn new(parachute_home: PathBuf, cfg: &AuthConfig) -> HubValidator {
        let agent: ureq::Agent = lean_buffers(ureq::Agent::config_builder())
            .timeout_global(Some(jwks::FETCH_TIMEOUT))
            .http_status_as_error(false)
            .middleware(crate::metrics::CallTimer(crate::metrics::Upstream::Hub))
            .build()
            .into();
        let max_age = cfg.revocation_max_age.unwrap_or(super::revocation::MAX_AGE);
        let cooldown = cfg.jwks_cooldown.unwrap_or(jwks::KID_REFETCH_COOLDOWN);
        HubValidator {
            parachute_home,
            origin_override: cfg.hub_origin.clone(),
            extra_issuers: cfg.hub_origins.clone(),
            jwks: JwksCache::new(agent.clone(), cooldown),
            revocation: RevocationCache::new(agent, max_age),
        }
    }

    /// A validator for `origin` whose revocation list is refetched on every check and whose
    /// unknown-`kid` refetch has no cooldown.
    #[cfg(test)]
    pub fn for_origin(origin: &str) -> HubValidator {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        HubValidator {
            parachute_home: PathBuf::from("/nonexistent"),
            origin_override: Some(origin.to_string()),
            extra_issuers: Vec::new(),
            jwks: JwksCache::new(agent.clone(), std::time::Duration::ZERO),
            revocation: RevocationCache::new(agent, std::time::Duration::ZERO),
        }
    }

    pub fn origin(&self) -> String {
        crate::hub::origin::resolve_origin(self.origin_override.as_deref(), &self.parachute_home)
    }

    /// The full check of spec 01 §3.4; what it proved goes to the verified-token cache.
    pub fn verify(&self, token: &str) -> Result<Verified, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(verification_failed)?;
        if header.alg != Algorithm::RS256 {
            return Err(verification_failed(format!(
                "algorithm {:?} not accepted (RS256 only)",
                header.alg
            )));
        }
        let origin = self.origin();
        let kid = header.kid;
        let keys = self
            .jwks
            .keys(&origin, kid.as_deref())
            .map_err(verification_failed)?;
        let mut validation = Validation::new(Algorithm::RS256);
        // The issuer set (spec 01 §10): jsonwebtoken checks `iss` after the signature.
        let mut issuers = vec![origin.as_str()];
        issuers.extend(self.extra_issuers.iter().map(String::as_str));
        validation.set_issuer(&issuers);
        validation.validate_aud = false;
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "iss"]);
        let mut last_err = None;
        for key in keys.candidates(kid.as_deref()) {
            match jsonwebtoken::decode::<Value>(token, &key.key, &validation) {
                Ok(data) => return self.check_claims(origin, kid.clone(), key.id, data.claims),
                Err(e) => last_err = Some(e),
            }
        }
        Err(verification_failed(match last_err {
            Some(e) => e.to_string(),
            None => "no matching key in the hub's JWKS".to_string(),
        }))
    }

    /// Re-checks a cached hub token: same issuer pin, its key still in the JWKS (refetched
    /// when stale, exactly as for an uncached token), and the revocation list.
    pub fn recheck(
        &self,
        pinned: &str,
        kid: Option<&str>,
        key_id: u64,
        jti: &str,
    ) -> Result<bool, AuthError> {
        let origin = self.origin();
        if origin != pinned {
            return Ok(false);
        }
        let keys = self.jwks.keys(&origin, kid).map_err(verification_failed)?;
        if !keys.has_key_id(key_id) {
            return Ok(false);
        }
        self.check_revocation(&origin, jti)?;
        Ok(true)
    }

    fn check_claims(
        &self,
        origin: String,
        kid: Option<String>,
        key_id: u64,
        claims: Value,
    ) -> Result<Verified, AuthError> {
        let (sub, jti) = required_ids(&claims)?;
        self.check_revocation(&origin, &jti)?;
        check_audience(&claims)?;
        let (exp, nbf) = window(&claims);
        Ok(Verified {
            principal: Principal {
                sub,
                scopes: scopes_of(&claims),
                local: false,
            },
            exp,
            nbf,
            proof: Proof::Hub {
                origin,
                kid,
                key_id,
                jti,
            },
        })
    }

    fn check_revocation(&self, origin: &str, jti: &str) -> Result<(), AuthError> {
        match self.revocation.check(origin, jti) {
            Revocation::Valid => Ok(()),
            Revocation::Revoked => Err(AuthError(format!(
                "hub JWT revoked: jti \"{jti}\" is in the revocation list"
            ))),
            Revocation::Unavailable => Err(AuthError::new(
                "hub JWT cannot be validated: revocation list unavailable (no last-good cache)",
            )),
        }
    }
}

/// `exp` and `nbf` of verified claims (the library already checked both are integers when
/// present, and `exp` is required); `nbf` absent → 0.
pub fn window(claims: &Value) -> (u64, u64) {
    let secs = |k: &str| claims.get(k).and_then(Value::as_u64);
    (secs("exp").unwrap_or(0), secs("nbf").unwrap_or(0))
}

/// `sub` then `jti`, both non-empty strings (spec 01 §3.4 steps 3–4).
pub fn required_ids(claims: &Value) -> Result<(String, String), AuthError> {
    let non_empty = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let sub =
        non_empty("sub").ok_or_else(|| AuthError::new("hub JWT missing required `sub` claim"))?;
    let jti =
        non_empty("jti").ok_or_else(|| AuthError::new("hub JWT missing required `jti` claim"))?;
    Ok((sub, jti))
}

/// The representative `aud` (the string, or an array's first string) must be `agent` or
/// `channel`.
pub fn check_audience(claims: &Value) -> Result<(), AuthError> {
    let aud = match claims.get("aud") {
        Some(Value::String(s)) => Some(s.as_str()),
        Some(Value::Array(items)) => items.first().and_then(Value::as_str),
        _ => None,
    };
    match aud {
        Some("agent") | Some("channel") => Ok(()),
        _ => Err(AuthError::new(
            "unexpected \"aud\" claim value; this resource accepts \"agent\" or \"channel\"",
        )),
    }
}

/// The whitespace-separated `scope` claim (non-string → no scopes).
pub fn scopes_of(claims: &Value) -> Vec<String> {
    claims
        .get("scope")
        .and_then(Value::as_str)
        .map(|s| s.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audience_uses_first_element_only() {
        assert!(check_audience(&json!({"aud":"agent"})).is_ok());
        assert!(check_audience(&json!({"aud":"channel"})).is_ok());
        assert!(check_audience(&json!({"aud":["agent","x"]})).is_ok());
        assert!(check_audience(&json!({"aud":["vault.x","agent"]})).is_err());
        assert!(check_audience(&json!({})).is_err());
    }

    #[test]
    fn ids_and_scopes() {
        assert!(required_ids(&json!({"sub":"u","jti":""})).is_err());
        assert!(required_ids(&json!({"jti":"j"})).is_err());
        assert_eq!(
            required_ids(&json!({"sub":"u","jti":"j"})).unwrap(),
            ("u".into(), "j".into())
        );
        assert_eq!(
            scopes_of(&json!({"scope":"agent:read  agent:send"})),
            vec!["agent:read", "agent:send"]
        );
        assert!(scopes_of(&json!({"scope":5})).is_empty());
    }
}

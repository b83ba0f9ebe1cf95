//! The local (standalone) issuer of spec 08: tokens minted by `parachute-agent token mint`
//! for hosts without a hub. The Ed25519 signing key lives in `<state>/local-issuer.key`
//! (PKCS#8 PEM, mode 0600, created on first use); `token rotate` replaces it, and a running
//! daemon notices the change on the next validation (it compares the file's identity on
//! every check, well inside the 5 s the spec allows). Only EdDSA is accepted for the local
//! issuer, and hub tokens are RS256 only, so neither key can stand in for the other.
//!
//! Trust model: whoever can read the state dir can mint tokens. The dir is 0700 and the key
//! file 0600.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::SigningKey;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parking_lot::Mutex;
use serde_json::{json, Value};

use super::cache::{Proof, Verified};
use super::validate::{check_audience, required_ids, scopes_of, window};
use super::{AuthError, Principal};
use crate::util::{fsx, rand, time};

pub const ISSUER: &str = "parachute-agent-local";
pub const KEY_FILE: &str = "local-issuer.key";
pub const MAX_TTL: Duration = Duration::from_secs(365 * 86_400);
pub const DEFAULT_TTL: Duration = Duration::from_secs(30 * 86_400);

/// A token is local when its header says EdDSA (the hub signs RS256 only).
pub fn is_local_token(token: &str) -> bool {
    jsonwebtoken::decode_header(token).is_ok_and(|h| h.alg == Algorithm::EdDSA)
}

struct LoadedKey {
    identity: (u64, i64, i64),
    /// Numbers each key this process loaded: the verified-token cache's proof of "same key".
    id: u64,
    decoding: Arc<DecodingKey>,
}

pub struct LocalIssuer {
    path: PathBuf,
    cache: Mutex<Option<LoadedKey>>,
    loads: AtomicU64,
}

fn identity(path: &Path) -> Option<(u64, i64, i64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.ino(), m.mtime(), m.mtime_nsec()))
}

fn read_key(path: &Path) -> Result<SigningKey, String> {
    let pem = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| format!("{} is not an Ed25519 PKCS#8 key: {e}", path.display()))
}

fn write_new_key(path: &Path) -> Result<SigningKey, String> {
    let seed: [u8; 32] = rand::bytes(32).try_into().expect("32 bytes");
    let key = SigningKey::from_bytes(&seed);
    let pem = key
        .to_pkcs8_pem(Default::default())
        .map_err(|e| e.to_string())?;
    fsx::write_atomic(path, pem.as_bytes(), fsx::PRIVATE_FILE)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(key)
}

impl LocalIssuer {
    pub fn new(state_dir: PathBuf) -> LocalIssuer {
        LocalIssuer {
            path: state_dir.join(KEY_FILE),
            cache: Mutex::new(None),
            loads: AtomicU64::new(0),
        }
    }

    /// Mints a token for `scopes` valid for `ttl`, creating the key on first use.
    pub fn mint(&self, scopes: &[String], ttl: Duration) -> Result<String, String> {
        let key = if self.path.exists() {
            read_key(&self.path)?
        } else {
            write_new_key(&self.path)?
        };
        let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
        let now = time::now_secs();
        let claims = json!({
            "iss": ISSUER, "aud": "agent", "sub": "local-operator", "jti": rand::token(16),
            "iat": now, "exp": now + ttl.as_secs(), "scope": scopes.join(" "),
        });
        let header = Header {
            kid: Some(ISSUER.to_string()),
            ..Header::new(Algorithm::EdDSA)
        };
        jsonwebtoken::encode(&header, &claims, &EncodingKey::from_ed_der(der.as_bytes()))
            .map_err(|e| e.to_string())
    }

    /// Replaces the signing key: every earlier local token stops validating.
    pub fn rotate(&self) -> Result<(), String> {
        write_new_key(&self.path).map(|_| ())
    }

    pub fn validate(&self, token: &str) -> Result<Principal, AuthError> {
        self.verify(token).map(|v| v.principal)
    }

    /// The full check: EdDSA signature by the current key, `iss`, `exp` and `nbf` with zero
    /// leeway (a future `nbf` is refused), `sub`, `jti`, audience.
    pub fn verify(&self, token: &str) -> Result<Verified, AuthError> {
        let (key_id, decoding) = self.current_key()?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.validate_aud = false;
        validation.validate_nbf = true;
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iss"]);
        let data = jsonwebtoken::decode::<Value>(token, &decoding, &validation)
            .map_err(|e| AuthError(format!("local token verification failed: {e}")))?;
        let (sub, _jti) = required_ids(&data.claims)?;
        check_audience(&data.claims)?;
        let (exp, nbf) = window(&data.claims);
        Ok(Verified {
            principal: Principal {
                sub,
                scopes: scopes_of(&data.claims),
                local: true,
            },
            exp,
            nbf,
            proof: Proof::Local { key_id },
        })
    }

    /// Whether the key with `key_id` is still the issuer key (a `token rotate`, even by
    /// another process, replaces the file and so the key).
    pub fn is_current(&self, key_id: u64) -> bool {
        self.current_key().is_ok_and(|(id, _)| id == key_id)
    }

    fn current_key(&self) -> Result<(u64, Arc<DecodingKey>), AuthError> {
        let id = identity(&self.path).ok_or_else(|| {
            AuthError::new("local token verification failed: no local issuer key")
        })?;
        let mut cache = self.cache.lock();
        if let Some(k) = cache.as_ref().filter(|k| k.identity == id) {
            return Ok((k.id, k.decoding.clone()));
        }
        let key = read_key(&self.path)
            .map_err(|e| AuthError(format!("local token verification failed: {e}")))?;
        let decoding = Arc::new(DecodingKey::from_ed_der(key.verifying_key().as_bytes()));
        let key_id = self.loads.fetch_add(1, Ordering::Relaxed) + 1;
        *cache = Some(LoadedKey {
            identity: id,
            id: key_id,
            decoding: decoding.clone(),
        });
        Ok((key_id, decoding))
    }
}

/// `<n>s|m|h|d` (spec 08), at most 365 days.
pub fn parse_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("invalid --ttl {s:?}: use <n>s, <n>m, <n>h or <n>d")),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid --ttl {s:?}: use <n>s, <n>m, <n>h or <n>d"))?;
    let ttl = Duration::from_secs(n.saturating_mul(mult));
    if ttl.is_zero() || ttl > MAX_TTL {
        return Err(format!("invalid --ttl {s:?}: must be between 1s and 365d"));
    }
    Ok(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mint_validate_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = LocalIssuer::new(dir.path().to_path_buf());
        let scopes = vec!["agent:read".to_string()];
        let token = issuer.mint(&scopes, Duration::from_secs(60)).unwrap();
        assert!(is_local_token(&token));
        let p = issuer.validate(&token).unwrap();
        assert_eq!(p.scopes, scopes);
        assert!(p.local);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        issuer.rotate().unwrap();
        assert!(issuer.validate(&token).is_err());
    }

    #[test]
    fn a_future_nbf_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = LocalIssuer::new(dir.path().to_path_buf());
        issuer.mint(&[], Duration::from_secs(60)).unwrap();
        let der = read_key(&issuer.path).unwrap().to_pkcs8_der().unwrap();
        let now = time::now_secs();
        let sign = |nbf: u64| {
            let claims = json!({"iss": ISSUER, "aud": "agent", "sub": "local-operator",
                "jti": "j", "iat": now, "nbf": nbf, "exp": now + 600, "scope": "agent:read"});
            jsonwebtoken::encode(
                &Header::new(Algorithm::EdDSA),
                &claims,
                &EncodingKey::from_ed_der(der.as_bytes()),
            )
            .unwrap()
        };
        let err = issuer.validate(&sign(now + 3600)).unwrap_err();
        assert!(err.0.contains("ImmatureSignature"), "{err:?}");
        assert!(issuer.validate(&sign(now.saturating_sub(1))).is_ok());
    }

    #[test]
    fn ttl_grammar() {
        assert_eq!(parse_ttl("30d").unwrap(), Duration::from_secs(30 * 86_400));
        assert_eq!(parse_ttl("90s").unwrap(), Duration::from_secs(90));
        assert!(parse_ttl("366d").is_err());
        assert!(parse_ttl("0s").is_err());
        assert!(parse_ttl("5w").is_err());
        assert!(parse_ttl("").is_err());
    }
}

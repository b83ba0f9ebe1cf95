//! [ext] Lifetime of persisted hub tokens (spec 02 D5): the def-vault `vault:<v>:write`
//! tokens and the trigger webhook bearers are minted with the hub's default 90 days and
//! the reference never refreshes them. We read `iat`/`exp` from the JWT payload (no
//! signature check: only our own copy's expiry is in question) and refresh when less than
//! a quarter of the lifetime remains.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::Value;

/// Refresh a token without `iat` when less than this remains.
const NO_IAT_MARGIN_SECS: u64 = 7 * 24 * 3600;

/// `iat`/`exp` of a JWT, in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetime {
    pub iat: Option<u64>,
    pub exp: u64,
}

impl Lifetime {
    /// True when less than 25 % of the lifetime (or, without `iat`, 7 days) remains.
    pub fn needs_refresh(&self, now: u64) -> bool {
        let remaining = self.exp.saturating_sub(now);
        match self.iat.filter(|iat| *iat < self.exp) {
            Some(iat) => remaining.saturating_mul(4) < self.exp - iat,
            None => remaining < NO_IAT_MARGIN_SECS,
        }
    }
}

/// The lifetime of `token` if it is a JWT with a numeric `exp`; `None` for opaque tokens.
pub fn lifetime(token: &str) -> Option<Lifetime> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    Some(Lifetime {
        iat: claims.get("iat").and_then(Value::as_u64),
        exp: claims.get("exp").and_then(Value::as_u64)?,
    })
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        format!(
            "eyJhbGciOiJSUzI1NiJ9.{}.sig",
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn reads_exp_and_iat() {
        let l = lifetime(&jwt(r#"{"iat":1000,"exp":5000}"#)).unwrap();
        assert_eq!(
            l,
            Lifetime {
                iat: Some(1000),
                exp: 5000
            }
        );
        assert!(!l.needs_refresh(3999));
        assert!(l.needs_refresh(4001));
        assert!(l.needs_refresh(9999));
        assert_eq!(lifetime("pvt_opaque"), None);
        assert_eq!(lifetime(&jwt(r#"{"iat":1}"#)), None);
        assert_eq!(lifetime("a.b.c.d"), None);
        assert_eq!(lifetime("a.!!!.c"), None);
    }

    #[test]
    fn without_iat_a_week_of_margin() {
        let l = Lifetime {
            iat: None,
            exp: 10 * 24 * 3600,
        };
        assert!(!l.needs_refresh(0));
        assert!(l.needs_refresh(4 * 24 * 3600));
        let bad_iat = Lifetime {
            iat: Some(99),
            exp: 10,
        };
        assert!(bad_iat.needs_refresh(5));
    }
}

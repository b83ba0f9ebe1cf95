//! Token validation and scope checks (spec 01 §3): hub-issued RS256 JWTs checked against
//! the hub's JWKS and revocation list, plus standalone tokens from the local issuer
//! (spec 08). This module validates token strings and nothing more: reading them from a
//! request and the 401/403 answers of spec 01 §3.8 are the gates in `api::gate`.

pub mod hub;
pub mod jwks;
pub mod local;
pub mod revocation;
pub mod validate;

use std::path::PathBuf;

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
    let (modern, legacy) = (scope.name(), format!("channel:{}", scope.verb()));
    scopes.iter().any(|s| *s == modern || *s == legacy)
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

/// The validator shared by every handler.
pub struct Auth {
    hub: validate::HubValidator,
    local: local::LocalIssuer,
}

impl Auth {
    pub fn new(state_dir: PathBuf, parachute_home: PathBuf, cfg: &AuthConfig) -> Auth {
        Auth {
            hub: validate::HubValidator::new(parachute_home, cfg),
            local: local::LocalIssuer::new(state_dir),
        }
    }

    /// Validates a raw token (hub or local). No network I/O for garbage or local tokens.
    pub fn validate(&self, token: &str) -> Result<Principal, AuthError> {
        if local::is_local_token(token) {
            return self.local.validate(token);
        }
        self.hub.validate(token)
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

//! Minting child tokens at the hub (spec 02 §1.1 "Mint call", spec 03 §4.3):
//! `POST <hub>/api/auth/mint-token` with the operator bearer
//! (`$PARACHUTE_HOME/operator.token`), body `{scope, audience?, expires_in?, permissions?}`
//! → `{jti, token, expires_at, scope}`.
//!
//! Used for def-vault tokens (`vault:<v>:write`), trigger registration (`vault:<v>:admin`,
//! 60 s) and webhook bearers (`agent:send`). Tokens are never logged. [ext] Explicit
//! timeouts (connect 5 s, whole call 30 s); the reference has none.

use std::fmt;
use std::path::Path;

use serde_json::{json, Map, Value};

use crate::hub::client::hub_agent;

/// File holding the operator bearer, inside `$PARACHUTE_HOME`.
pub const OPERATOR_TOKEN_FILE: &str = "operator.token";

/// The operator bearer, trimmed; `None` when the file is missing, unreadable or blank.
pub fn read_operator_token(parachute_home: &Path) -> Option<String> {
    let text = std::fs::read_to_string(parachute_home.join(OPERATOR_TOKEN_FILE)).ok()?;
    let t = text.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// One mint request.
#[derive(Debug, Clone, Default)]
pub struct MintRequest {
    pub scope: String,
    pub audience: Option<String>,
    pub expires_in: Option<u64>,
    pub permissions: Option<Map<String, Value>>,
}

impl MintRequest {
    pub fn scope(scope: impl Into<String>) -> MintRequest {
        MintRequest {
            scope: scope.into(),
            ..MintRequest::default()
        }
    }

    pub fn expires_in(mut self, secs: u64) -> MintRequest {
        self.expires_in = Some(secs);
        self
    }

    fn body(&self) -> Value {
        let mut b = Map::new();
        b.insert("scope".into(), json!(self.scope));
        if let Some(a) = &self.audience {
            b.insert("audience".into(), json!(a));
        }
        if let Some(e) = self.expires_in {
            b.insert("expires_in".into(), json!(e));
        }
        if let Some(p) = &self.permissions {
            b.insert("permissions".into(), Value::Object(p.clone()));
        }
        Value::Object(b)
    }
}

/// A refused or failed mint. `status` is 0 when the hub was not reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MintError {
    pub message: String,
    pub status: u16,
}

impl fmt::Display for MintError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for MintError {}

/// A hub origin plus the operator bearer.
#[derive(Clone)]
pub struct MintClient {
    origin: String,
    bearer: String,
}

impl fmt::Debug for MintClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MintClient")
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl MintClient {
    pub fn new(hub_origin: &str, operator_bearer: &str) -> MintClient {
        MintClient {
            origin: hub_origin.trim_end_matches('/').to_string(),
            bearer: operator_bearer.to_string(),
        }
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// Mint one token; returns the token text.
    pub fn mint(&self, req: &MintRequest) -> Result<String, MintError> {
        let url = format!("{}/api/auth/mint-token", self.origin);
        let sent = hub_agent()
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.bearer))
            .header("content-type", "application/json")
            .send(req.body().to_string().as_bytes());
        let mut resp = sent.map_err(|e| MintError {
            message: format!("mint request failed to reach hub: {e}"),
            status: 0,
        })?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if !(200..300).contains(&status) {
            return Err(refusal(status, &body));
        }
        match body.get("token").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => Ok(t.to_string()),
            _ => Err(MintError {
                message: "mint succeeded but response had no token".into(),
                status,
            }),
        }
    }
}

/// `mint refused (<error|"error">): <error_description | message | "HTTP <status>">`.
fn refusal(status: u16, body: &Value) -> MintError {
    let s = |k: &str| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let code = s("error").unwrap_or("error");
    let detail = s("error_description")
        .or_else(|| s("message"))
        .map(str::to_string)
        .unwrap_or_else(|| format!("HTTP {status}"));
    MintError {
        message: format!("mint refused ({code}): {detail}"),
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_body_has_only_given_fields() {
        assert_eq!(
            MintRequest::scope("agent:send").body(),
            json!({"scope": "agent:send"})
        );
        assert_eq!(
            MintRequest::scope("vault:v:admin").expires_in(60).body(),
            json!({"scope": "vault:v:admin", "expires_in": 60})
        );
    }

    #[test]
    fn refusal_texts() {
        let e = refusal(
            403,
            &json!({"error": "forbidden", "error_description": "nope"}),
        );
        assert_eq!(e.message, "mint refused (forbidden): nope");
        assert_eq!(e.status, 403);
        assert_eq!(
            refusal(500, &json!({"message": "boom"})).message,
            "mint refused (error): boom"
        );
        assert_eq!(
            refusal(502, &Value::Null).message,
            "mint refused (error): HTTP 502"
        );
    }

    #[test]
    fn unreachable_hub_is_status_zero() {
        let c = MintClient::new("http://127.0.0.1:9/", "op");
        let e = c.mint(&MintRequest::scope("agent:send")).unwrap_err();
        assert_eq!(e.status, 0);
        assert!(e.message.starts_with("mint request failed to reach hub: "));
    }

    #[test]
    fn operator_token_is_trimmed_and_optional() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_operator_token(dir.path()), None);
        std::fs::write(dir.path().join(OPERATOR_TOKEN_FILE), "  \n").unwrap();
        assert_eq!(read_operator_token(dir.path()), None);
        std::fs::write(dir.path().join(OPERATOR_TOKEN_FILE), " tok\n").unwrap();
        assert_eq!(read_operator_token(dir.path()).as_deref(), Some("tok"));
    }
}

//! The hub grants API as the daemon consumes it (spec 04 §3.2): register (idempotent
//! upsert), list, material and reconcile, all with the operator bearer. The daemon never
//! approves or revokes. Material is secret: never logged, never cached.
//!
//! Used by the definition registry (registration + status at instantiate, GC on removal,
//! spec 04 §3.3/§3.5) and by the turn engine (injection, §3.4).

use std::fmt;

use serde_json::{json, Value};

use super::connection::Connection;
use crate::hub::client::hub_agent;

/// A failed grants call: `<op> failed (<status>) <body>` (status 0 = hub unreachable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantsError {
    pub message: String,
    pub status: u16,
}

impl fmt::Display for GrantsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for GrantsError {}

/// A grant record (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub status: String,
    /// The raw record (`agent`, `connection`, `reason?`, `approvedAt?`).
    pub raw: Value,
}

impl GrantRecord {
    fn from_json(v: &Value) -> GrantRecord {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        GrantRecord {
            id: s("id"),
            status: s("status"),
            raw: v.clone(),
        }
    }
}

/// What the registry needs from the hub (a seam so its lifecycle is testable offline).
pub trait GrantsApi: Send + Sync {
    /// `PUT /admin/grants {agent, connection}`.
    fn register(&self, agent: &str, connection: &Connection) -> Result<GrantRecord, GrantsError>;
    /// `POST /admin/grants/reconcile {agent, liveConnections}` → pruned count.
    fn reconcile(&self, agent: &str, live: &[Connection]) -> Result<u64, GrantsError>;
}

/// The hub grants client.
#[derive(Clone)]
pub struct GrantsClient {
    base: String,
    bearer: String,
}

impl fmt::Debug for GrantsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantsClient")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

impl GrantsClient {
    pub fn new(hub_origin: &str, operator_bearer: &str) -> GrantsClient {
        GrantsClient {
            base: hub_origin
                .strip_suffix('/')
                .unwrap_or(hub_origin)
                .to_string(),
            bearer: operator_bearer.to_string(),
        }
    }

    /// One call; `Ok((status, body text))` for any answer, 2xx or not.
    fn call(
        &self,
        op: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(u16, String), GrantsError> {
        let url = format!("{}{path}", self.base);
        let auth = format!("Bearer {}", self.bearer);
        let a = hub_agent();
        let sent = match (method, body) {
            ("GET", _) => a.get(&url).header("Authorization", &auth).call(),
            ("PUT", Some(b)) => a
                .put(&url)
                .header("Authorization", &auth)
                .header("content-type", "application/json")
                .send(b.to_string().as_bytes()),
            (_, b) => a
                .post(&url)
                .header("Authorization", &auth)
                .header("content-type", "application/json")
                .send(b.map(Value::to_string).unwrap_or_default().as_bytes()),
        };
        let mut resp = sent.map_err(|e| GrantsError {
            message: format!("{op} failed: {e}"),
            status: 0,
        })?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().unwrap_or_default();
        Ok((status, text))
    }

    fn check(op: &str, status: u16, text: String) -> Result<String, GrantsError> {
        if (200..300).contains(&status) {
            Ok(text)
        } else {
            Err(GrantsError {
                message: format!("{op} failed ({status}) {text}").trim().to_string(),
                status,
            })
        }
    }

    /// `GET /admin/grants?agent=<name>` → the records (missing/non-array `grants` → `[]`).
    pub fn list(&self, agent: &str) -> Result<Vec<GrantRecord>, GrantsError> {
        let (st, text) = self.call(
            "list grants",
            "GET",
            &format!("/admin/grants?agent={}", enc(agent)),
            None,
        )?;
        let text = Self::check("list grants", st, text)?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(v.get("grants")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(GrantRecord::from_json).collect())
            .unwrap_or_default())
    }

    /// `GET /admin/grants/<id>/material`: `Ok(None)` on 404 (unknown) or 409 (not approved).
    /// The material holds a secret token.
    pub fn material(&self, id: &str) -> Result<Option<Value>, GrantsError> {
        let op = "get grant material";
        let (st, text) = self.call(
            op,
            "GET",
            &format!("/admin/grants/{}/material", enc(id)),
            None,
        )?;
        if st == 404 || st == 409 {
            return Ok(None);
        }
        let text = Self::check(op, st, text)?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| GrantsError {
                message: format!("{op} — bad JSON: {e}"),
                status: st,
            })
    }
}

impl GrantsApi for GrantsClient {
    fn register(&self, agent: &str, connection: &Connection) -> Result<GrantRecord, GrantsError> {
        let body = json!({"agent": agent, "connection": connection});
        let (st, text) = self.call("register grant", "PUT", "/admin/grants", Some(&body))?;
        let text = Self::check("register grant", st, text)?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(GrantRecord::from_json(&v))
    }

    fn reconcile(&self, agent: &str, live: &[Connection]) -> Result<u64, GrantsError> {
        let body = json!({"agent": agent, "liveConnections": live});
        let (st, text) = self.call(
            "reconcile grants",
            "POST",
            "/admin/grants/reconcile",
            Some(&body),
        )?;
        let text = Self::check("reconcile grants", st, text)?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(v.get("pruned").and_then(Value::as_u64).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreachable_hub_errors_carry_the_op() {
        let c = GrantsClient::new("http://127.0.0.1:9/", "op");
        let conn = Connection::Mcp {
            target: "https://x/mcp".into(),
        };
        let e = c.register("a", &conn).unwrap_err();
        assert_eq!(e.status, 0);
        assert!(e.message.starts_with("register grant failed: "));
        assert!(c
            .list("a")
            .unwrap_err()
            .message
            .starts_with("list grants failed"));
        assert!(c
            .reconcile("a", &[])
            .unwrap_err()
            .message
            .starts_with("reconcile grants failed"));
    }

    #[test]
    fn status_errors_are_trimmed() {
        let e = GrantsClient::check("list grants", 500, String::new()).unwrap_err();
        assert_eq!(e.message, "list grants failed (500)");
        assert_eq!(GrantsClient::check("x", 204, "ok".into()).unwrap(), "ok");
        assert_eq!(enc("a b/c"), "a%20b%2Fc");
    }
}

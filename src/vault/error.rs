//! Typed errors of the vault client (spec 02 §0 "Agent-side error strings", §1.1 error
//! bodies). The vault's status classes the daemon branches on — 404 (missing note), 409
//! (path conflict or stale `if_updated_at`), 428 (mutation without `if_updated_at`/`force`)
//! — are variants of their own; every other non-2xx is `Status`. The response body text is
//! kept verbatim (trimmed) so callers can build the reference's error text with
//! [`VaultError::context`].

use std::fmt;

/// A failed vault call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// No HTTP answer: connection refused/reset, DNS, timeout, malformed response.
    Unreachable(String),
    /// 404 — the note (or vault) does not exist.
    NotFound(String),
    /// 409 — `path_conflict` on create, or `conflict` on a stale `if_updated_at`.
    Conflict(String),
    /// 428 — update without `if_updated_at` or `force: true`.
    PreconditionRequired(String),
    /// Any other non-2xx status, with the response body text.
    Status { code: u16, message: String },
    /// A 2xx whose body is not the JSON the call needs.
    BadJson(String),
}

impl VaultError {
    /// Classify a non-2xx answer.
    pub fn from_status(code: u16, body: &str) -> Self {
        let message = body.trim().to_string();
        match code {
            404 => VaultError::NotFound(message),
            409 => VaultError::Conflict(message),
            428 => VaultError::PreconditionRequired(message),
            _ => VaultError::Status { code, message },
        }
    }

    /// The HTTP status, if the vault answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            VaultError::NotFound(_) => Some(404),
            VaultError::Conflict(_) => Some(409),
            VaultError::PreconditionRequired(_) => Some(428),
            VaultError::Status { code, .. } => Some(*code),
            VaultError::Unreachable(_) | VaultError::BadJson(_) => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, VaultError::NotFound(_))
    }

    pub fn is_unreachable(&self) -> bool {
        matches!(self, VaultError::Unreachable(_))
    }

    /// The response body (status errors) or the cause (others).
    pub fn message(&self) -> &str {
        match self {
            VaultError::Unreachable(m)
            | VaultError::NotFound(m)
            | VaultError::Conflict(m)
            | VaultError::PreconditionRequired(m)
            | VaultError::BadJson(m) => m,
            VaultError::Status { message, .. } => message,
        }
    }

    /// The reference's error text for a call with this `prefix` (spec 02 §0):
    /// `<prefix> failed (<status>) <body>` (trimmed), `<prefix> — bad JSON from vault: <msg>`,
    /// or `<prefix> failed: <cause>` when the vault could not be reached.
    pub fn context(&self, prefix: &str) -> String {
        match self {
            VaultError::Unreachable(m) => format!("{prefix} failed: {m}"),
            VaultError::BadJson(m) => format!("{prefix} — bad JSON from vault: {m}"),
            other => {
                let code = other.status().unwrap_or(0);
                format!("{prefix} failed ({code}) {}", other.message())
                    .trim()
                    .to_string()
            }
        }
    }
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context("vault call"))
    }
}

impl std::error::Error for VaultError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses() {
        assert!(VaultError::from_status(404, "{}").is_not_found());
        assert_eq!(
            VaultError::from_status(409, "x"),
            VaultError::Conflict("x".into())
        );
        assert_eq!(
            VaultError::from_status(428, " y \n"),
            VaultError::PreconditionRequired("y".into())
        );
        assert_eq!(VaultError::from_status(500, "").status(), Some(500));
        assert_eq!(VaultError::Unreachable("refused".into()).status(), None);
    }

    #[test]
    fn context_text_matches_reference() {
        let e = VaultError::from_status(500, "{\"error\":\"boom\"}\n");
        assert_eq!(
            e.context("vault transport: write reply"),
            "vault transport: write reply failed (500) {\"error\":\"boom\"}"
        );
        assert_eq!(
            VaultError::from_status(502, "").context("p"),
            "p failed (502)"
        );
        assert_eq!(
            VaultError::BadJson("eof".into()).context("vault transport: load transcript"),
            "vault transport: load transcript — bad JSON from vault: eof"
        );
    }
}

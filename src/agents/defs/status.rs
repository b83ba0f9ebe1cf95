//! The status a definition note is stamped with (spec 03 §2.6), and the change check that
//! avoids the reference's self-trigger loop (spec 03 §2.8 #1).
//!
//! The reference PATCHes `status`/`pending` after every instantiate; that PATCH is a
//! `note.updated` event, which fires the def-watch trigger, which reloads the note, which
//! PATCHes again… We compute the stamp, compare it with what the note already carries,
//! and PATCH only when it differs ([`DefStamp::is_current_on`]).

use serde_json::{json, Map, Value};
use std::collections::HashMap;

use crate::agents::definition::{list, scalar, ParsedDef};

/// `status` values written onto a definition note.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefStatus {
    Enabled,
    Pending,
    Error,
}

impl DefStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DefStatus::Enabled => "enabled",
            DefStatus::Pending => "pending",
            DefStatus::Error => "error",
        }
    }
}

/// The `{status, pending}` pair stamped onto a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefStamp {
    pub status: DefStatus,
    pub pending: Vec<String>,
}

impl DefStamp {
    /// The stamp of a note that failed to parse or to come up.
    pub fn error() -> DefStamp {
        DefStamp {
            status: DefStatus::Error,
            pending: Vec::new(),
        }
    }

    /// `pending` as written: the names joined by `", "`, or `""`.
    pub fn pending_text(&self) -> String {
        self.pending.join(", ")
    }

    /// The PATCH body: `{"metadata":{"status":…,"pending":…},"force":true}`.
    pub fn patch_body(&self) -> Value {
        json!({
            "metadata": {"status": self.status.as_str(), "pending": self.pending_text()},
            "force": true,
        })
    }

    /// Whether `metadata` already carries this stamp (so no PATCH is needed). A missing
    /// `pending` equals an empty one; a `pending` array equals its joined text.
    pub fn is_current_on(&self, metadata: &Map<String, Value>) -> bool {
        let status = scalar(metadata.get("status"));
        let pending = list(metadata.get("pending"));
        status.as_deref() == Some(self.status.as_str()) && pending == self.pending
    }
}

/// Resolve the status of a live definition (spec 03 §2.6).
///
/// `grants` is `None` without a hub grants client; otherwise the hub status of each wants
/// key (a key missing from the map — e.g. a failed upsert — counts as not approved).
pub fn resolve_status(def: &ParsedDef, grants: Option<&HashMap<String, String>>) -> DefStamp {
    let keys = def.wants_keys();
    if keys.is_empty() && def.uses.is_empty() {
        return DefStamp {
            status: DefStatus::Enabled,
            pending: Vec::new(),
        };
    }
    match grants {
        Some(statuses) if !keys.is_empty() => {
            let mut pending: Vec<String> = keys
                .into_iter()
                .filter(|k| statuses.get(k).map(String::as_str) != Some("approved"))
                .collect();
            pending.extend(def.uses.iter().cloned());
            let status = if pending.is_empty() {
                DefStatus::Enabled
            } else {
                DefStatus::Pending
            };
            DefStamp { status, pending }
        }
        _ => {
            let mut pending = def.uses.clone();
            pending.extend(keys);
            DefStamp {
                status: DefStatus::Pending,
                pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::definition::{parse_definition, DefNote};

    fn def(meta: Value) -> ParsedDef {
        let n = DefNote::from_json(&json!({"id": "n", "metadata": meta}));
        parse_definition(&n, "v").unwrap()
    }

    #[test]
    fn plain_def_is_enabled() {
        let s = resolve_status(&def(json!({"name": "a"})), None);
        assert_eq!(s.status, DefStatus::Enabled);
        assert_eq!(
            s.patch_body(),
            json!({"metadata": {"status": "enabled", "pending": ""}, "force": true})
        );
    }

    #[test]
    fn without_grants_client_uses_then_wants_are_pending() {
        let d = def(json!({"name": "a", "uses": "github", "wants": "env:slack,vault:r:read"}));
        let s = resolve_status(&d, None);
        assert_eq!(s.status, DefStatus::Pending);
        assert_eq!(s.pending_text(), "github, env:slack, vault:r:read");
        // a grants client but no wants: still uses-only pending
        let d = def(json!({"name": "a", "uses": "github"}));
        let s = resolve_status(&d, Some(&HashMap::new()));
        assert_eq!(s.pending, vec!["github"]);
    }

    #[test]
    fn with_grants_enabled_iff_all_approved_and_no_uses() {
        let d = def(json!({"name": "a", "wants": "env:slack,vault:r:read"}));
        let mut g = HashMap::new();
        g.insert("env:slack".to_string(), "approved".to_string());
        g.insert("vault:r:read".to_string(), "pending".to_string());
        let s = resolve_status(&d, Some(&g));
        assert_eq!(
            (s.status, s.pending_text()),
            (DefStatus::Pending, "vault:r:read".into())
        );
        g.insert("vault:r:read".to_string(), "approved".to_string());
        assert_eq!(resolve_status(&d, Some(&g)).status, DefStatus::Enabled);
        let d = def(json!({"name": "a", "wants": "env:slack", "uses": "old"}));
        let s = resolve_status(&d, Some(&g));
        assert_eq!(
            (s.status, s.pending_text()),
            (DefStatus::Pending, "old".into())
        );
    }

    #[test]
    fn change_detection() {
        let stamp = DefStamp {
            status: DefStatus::Pending,
            pending: vec!["a".into(), "b".into()],
        };
        let meta = |v: Value| v.as_object().unwrap().clone();
        assert!(stamp.is_current_on(&meta(json!({"status": "pending", "pending": "a, b"}))));
        assert!(stamp.is_current_on(&meta(json!({"status": " pending", "pending": ["a", "b"]}))));
        assert!(!stamp.is_current_on(&meta(json!({"status": "pending", "pending": "a"}))));
        assert!(!stamp.is_current_on(&meta(json!({"status": "enabled", "pending": "a, b"}))));
        assert!(!stamp.is_current_on(&meta(json!({}))));
        let err = DefStamp::error();
        assert!(err.is_current_on(&meta(json!({"status": "error"}))));
        assert!(err.is_current_on(&meta(json!({"status": "error", "pending": ""}))));
        assert!(!err.is_current_on(&meta(json!({"status": "error", "pending": "x"}))));
    }
}

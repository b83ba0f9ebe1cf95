//! Telegram access control: `access.json` (spec 05 §6.4), read on every inbound
//! message, callback and permission prompt (no cache).
//!
//! [ext] Fail closed (spec 07 §4, and what later upstream versions do, spec 05 §9): a
//! missing, unreadable or invalid file denies everyone (the reference fell back to
//! `dmPolicy: "open"`), and a gated file without an `allowFrom` array denies instead of
//! crashing the poll loop. Only an explicit `"dmPolicy": "open"` lets everyone in.

use std::path::Path;

use serde_json::Value;

/// The parsed gate.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Access {
    pub open: bool,
    /// User ids (string entries only).
    pub allow_from: Vec<String>,
    /// Chat ids, when the key is present (string entries only).
    pub allow_in_chats: Option<Vec<String>>,
}

/// Why the file could not be used (logged by the caller; the gate is then closed).
pub type LoadProblem = String;

impl Access {
    /// Reads `path`; any problem gives the closed gate and a description.
    pub fn load(path: &Path) -> (Access, Option<LoadProblem>) {
        match std::fs::read_to_string(path) {
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(v) if v.is_object() => (Access::from_json(&v), None),
                Ok(_) => (Access::default(), Some("not a JSON object".into())),
                Err(e) => (Access::default(), Some(format!("invalid JSON: {e}"))),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (
                Access::default(),
                Some("missing (create it with an \"allowFrom\" list of user ids)".into()),
            ),
            Err(e) => (Access::default(), Some(format!("unreadable: {e}"))),
        }
    }

    pub fn from_json(v: &Value) -> Access {
        Access {
            open: v.get("dmPolicy").and_then(Value::as_str) == Some("open"),
            allow_from: strings(v.get("allowFrom")).unwrap_or_default(),
            allow_in_chats: strings(v.get("allowInChats")),
        }
    }

    /// The decision of spec 05 §6.4 for a sender and (if known) its chat.
    pub fn allowed(&self, user_id: &str, chat_id: Option<&str>) -> bool {
        if self.open {
            return true;
        }
        if let (Some(chat), Some(chats)) = (chat_id, &self.allow_in_chats) {
            if chat.starts_with('-') && chats.iter().any(|c| c == chat) {
                return true;
            }
        }
        if !self.allow_from.iter().any(|u| u == user_id) {
            return false;
        }
        match (&self.allow_in_chats, chat_id) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(chats), Some(chat)) => chats.iter().any(|c| c == chat),
        }
    }
}

/// String elements of an array (numbers never match); `None` when not an array.
fn strings(v: Option<&Value>) -> Option<Vec<String>> {
    v?.as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn gate(v: Value) -> Access {
        Access::from_json(&v)
    }

    #[test]
    fn the_spec_matrix() {
        let open = gate(json!({"dmPolicy": "open", "allowFrom": []}));
        assert!(open.allowed("7", Some("7")));
        let list = gate(json!({"dmPolicy": "allowlist", "allowFrom": ["42"]}));
        assert!(list.allowed("42", Some("42")));
        assert!(!list.allowed("7", Some("7")));
        let group = gate(json!({"allowFrom": ["42"], "allowInChats": ["-100200300"]}));
        assert!(group.allowed("7", Some("-100200300")));
        assert!(!group.allowed("7", Some("-555")));
        let both = gate(json!({"allowFrom": ["42"], "allowInChats": ["42"]}));
        assert!(both.allowed("42", Some("42")));
        assert!(!both.allowed("42", Some("99")));
        let other = gate(json!({"allowFrom": ["1"], "allowInChats": ["42"]}));
        assert!(!other.allowed("42", Some("42")));
        let empty_chats = gate(json!({"allowFrom": ["42"], "allowInChats": []}));
        assert!(!empty_chats.allowed("42", Some("42")));
        assert!(list.allowed("42", Some("12345")));
        assert!(list.allowed("42", None));
        let nobody = gate(json!({"dmPolicy": "allowlist", "allowFrom": []}));
        assert!(!nobody.allowed("1", Some("1")));
        assert!(!nobody.allowed("42", Some("-100")));
    }

    #[test]
    fn numbers_never_match_and_missing_allow_from_denies() {
        assert!(!gate(json!({"allowFrom": [42]})).allowed("42", Some("42")));
        assert!(!gate(json!({"dmPolicy": "pairing"})).allowed("42", Some("42")));
        assert!(!gate(json!({"allowFrom": "42"})).allowed("42", Some("42")));
    }

    #[test]
    fn missing_or_corrupt_file_fails_closed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.json");
        let (a, problem) = Access::load(&path);
        assert!(!a.allowed("42", Some("42")) && problem.is_some());
        std::fs::write(&path, "{not json").unwrap();
        let (a, problem) = Access::load(&path);
        assert!(!a.allowed("42", Some("42")) && problem.unwrap().contains("invalid JSON"));
        std::fs::write(&path, r#"{"dmPolicy":"allowlist","allowFrom":["42"]}"#).unwrap();
        let (a, problem) = Access::load(&path);
        assert!(a.allowed("42", Some("42")) && problem.is_none());
    }
}

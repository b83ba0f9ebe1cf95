//! [`DefStore`] over the vault client: spec 02 §1.2 calls #12–#17 for one def-vault, with
//! the reference's error texts (`def-vault "<v>": …`).

use serde_json::Value;

use crate::vault::{NoteQuery, VaultClient, VaultError};

use super::status::DefStamp;
use crate::agents::definition::{DefNote, DEFINITION_TAG};
use crate::agents::registry::DEF_LIST_LIMIT;
use crate::agents::sink::DefStore;
use crate::agents::vaults::DefVaultBinding;

/// One def-vault's notes, read and written with the binding's token.
pub struct VaultDefStore {
    client: VaultClient,
    vault: String,
}

impl VaultDefStore {
    pub fn new(binding: &DefVaultBinding) -> VaultDefStore {
        VaultDefStore {
            client: VaultClient::new(binding.vault_url.as_deref(), &binding.vault, &binding.token),
            vault: binding.vault.clone(),
        }
    }

    fn err(&self, what: &str, e: &VaultError) -> String {
        e.context(&format!("def-vault \"{}\": {what}", self.vault))
    }
}

/// A note id from a create/patch answer (`id`, else `note.id`).
fn note_id(v: &Value) -> Option<String> {
    v.get("id")
        .or_else(|| v.get("note").and_then(|n| n.get("id")))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// [ext] A fetched note whose `tags` no longer include `agent/definition` is no longer a
/// definition: treated as gone, as the next poll's list would. Notes read without `tags`
/// are taken as they are (the reference checks nothing here).
fn still_a_definition(note: &Value) -> bool {
    match note.get("tags").and_then(Value::as_array) {
        Some(tags) => tags.iter().any(|t| t.as_str() == Some(DEFINITION_TAG)),
        None => true,
    }
}

impl DefStore for VaultDefStore {
    fn list_defs(&self) -> Result<Vec<DefNote>, String> {
        let q = NoteQuery::tagged(DEFINITION_TAG, DEF_LIST_LIMIT);
        match self.client.list_notes(&q) {
            Ok(notes) => Ok(notes
                .iter()
                .map(DefNote::from_json)
                .filter(|n| !n.id.is_empty())
                .collect()),
            Err(VaultError::BadJson(m)) => Err(format!(
                "def-vault \"{}\": list defs — bad JSON: {m}",
                self.vault
            )),
            Err(e) => Err(self.err("list defs", &e)),
        }
    }

    fn get_def(&self, id: &str) -> Result<Option<DefNote>, String> {
        match self.client.get_note(id, true) {
            Ok(v) => {
                let note = DefNote::from_json(&v);
                Ok((!note.id.is_empty() && still_a_definition(&v)).then_some(note))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(self.err(&format!("get note {id}"), &e)),
        }
    }

    fn stamp(&self, id: &str, stamp: &DefStamp) -> Result<(), String> {
        self.client
            .patch_note(id, &stamp.patch_body())
            .map(|_| ())
            .map_err(|e| self.err(&format!("patch status {id}"), &e))
    }

    fn create_def(&self, body: &Value) -> Result<String, String> {
        let created = self
            .client
            .create_note(body)
            .map_err(|e| self.err("create def", &e))?;
        note_id(&created).ok_or_else(|| {
            format!(
                "def-vault \"{}\": create def succeeded but response had no note id",
                self.vault
            )
        })
    }

    fn patch_def(&self, id: &str, body: &Value) -> Result<(), String> {
        self.client
            .patch_note(id, body)
            .map(|_| ())
            .map_err(|e| self.err(&format!("patch def {id}"), &e))
    }

    fn delete_def(&self, id: &str) -> Result<(), String> {
        match self.client.delete_note(id) {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(self.err(&format!("delete def {id}"), &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_from_create_answers() {
        assert_eq!(note_id(&json!({"id": "a"})).as_deref(), Some("a"));
        assert_eq!(note_id(&json!({"note": {"id": "b"}})).as_deref(), Some("b"));
        assert_eq!(note_id(&json!({"id": ""})), None);
        assert_eq!(note_id(&Value::Null), None);
    }

    #[test]
    fn untagged_notes_are_no_longer_definitions() {
        assert!(still_a_definition(&json!({"id": "a"})));
        assert!(still_a_definition(
            &json!({"id": "a", "tags": ["x", "agent/definition"]})
        ));
        assert!(!still_a_definition(
            &json!({"id": "a", "tags": ["agent/message"]})
        ));
    }

    #[test]
    fn unreachable_vault_gives_prefixed_errors() {
        let s = VaultDefStore::new(&DefVaultBinding {
            vault: "v".into(),
            vault_url: Some("http://127.0.0.1:9".into()),
            token: "t".into(),
        });
        assert!(s
            .list_defs()
            .unwrap_err()
            .starts_with("def-vault \"v\": list defs failed"));
        assert!(s
            .get_def("x")
            .unwrap_err()
            .starts_with("def-vault \"v\": get note x failed"));
        assert!(s
            .delete_def("x")
            .unwrap_err()
            .starts_with("def-vault \"v\": delete def x"));
    }
}

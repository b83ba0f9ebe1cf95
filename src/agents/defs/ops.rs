//! Authoring definitions over the API (spec 03 §2.7 "Create / edit / delete", spec 01
//! §2.5.3): write the note to its def-vault, then reload it so the agent is live before
//! the call returns. Also the `AgentDefFull` view, whose prompt is re-read from the vault.

use serde_json::{json, Map, Value};

use crate::agents::definition::{backend_from_word, DEFINITION_TAG};
use crate::agents::registry::{
    backend_word, mode_word, DefRegistry, LiveDef, ReloadEvent, Reloaded,
};
use crate::agents::spec::is_slug;

/// A failed authoring operation; `status()` is the HTTP status of spec 01 §2.5.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefOpError {
    BadRequest(String),
    NotFound(String),
    Conflict(String),
    /// The vault failed or the note did not come up (502).
    Upstream(String),
}

impl DefOpError {
    pub fn status(&self) -> u16 {
        match self {
            DefOpError::BadRequest(_) => 400,
            DefOpError::NotFound(_) => 404,
            DefOpError::Conflict(_) => 409,
            DefOpError::Upstream(_) => 502,
        }
    }

    pub fn message(&self) -> &str {
        match self {
            DefOpError::BadRequest(m)
            | DefOpError::NotFound(m)
            | DefOpError::Conflict(m)
            | DefOpError::Upstream(m) => m,
        }
    }
}

/// `POST /api/agent-defs` after body validation.
#[derive(Debug, Clone, Default)]
pub struct CreateDef {
    pub vault: String,
    pub name: String,
    pub backend: Option<String>,
    pub system_prompt: String,
    pub wants: Option<String>,
    /// Caller metadata, already stringified (null dropped).
    pub metadata: Map<String, Value>,
}

/// `PATCH /api/agent-defs/<id>` after body validation.
#[derive(Debug, Clone, Default)]
pub struct EditDef {
    pub system_prompt: Option<String>,
    pub wants: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// `DELETE /api/agent-defs/<id>` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deleted {
    pub vault: String,
    pub name: String,
    pub grants_reconciled: bool,
}

impl DefRegistry {
    /// The unique live definition with this note id (spec 03 §2.7 "Finding a live def").
    pub fn find_live(&self, note_id: &str) -> Result<LiveDef, DefOpError> {
        let mut found = self.find_by_note(note_id);
        match found.len() {
            0 => Err(DefOpError::NotFound(format!(
                "note {note_id} is not a live agent definition"
            ))),
            1 => Ok(found.remove(0)),
            _ => {
                let vaults: Vec<&str> = found.iter().map(|d| d.def.vault.as_str()).collect();
                Err(DefOpError::Conflict(format!(
                    "note {note_id} is a live agent definition in multiple def-vaults ({}); \
                     ambiguous note id across vaults — specify vault",
                    vaults.join(", ")
                )))
            }
        }
    }

    pub fn create_def(&self, req: CreateDef) -> Result<LiveDef, DefOpError> {
        let store = self.store(&req.vault).ok_or_else(|| {
            DefOpError::BadRequest(format!(
                "unknown def-vault \"{}\" (configure it first)",
                req.vault
            ))
        })?;
        if !is_slug(&req.name) {
            return Err(DefOpError::BadRequest(format!(
                "name \"{}\" must be a slug (alphanumeric, dash, underscore)",
                req.name
            )));
        }
        let backend = match req.backend.as_deref() {
            None => crate::agents::spec::Backend::Programmatic,
            Some(w) => backend_from_word(w).ok_or_else(|| {
                DefOpError::BadRequest("backend must be \"programmatic\" or \"attached\"".into())
            })?,
        };
        if let Some(d) = self.live_defs().into_iter().find(|d| d.name() == req.name) {
            return Err(DefOpError::Conflict(format!(
                "an agent named \"{}\" already exists (note {} in \"{}\")",
                req.name, d.def.note_id, d.def.vault
            )));
        }
        let mut metadata = req.metadata;
        metadata.insert("name".into(), json!(req.name));
        metadata.insert("backend".into(), json!(backend_word(backend)));
        if let Some(w) = req.wants.as_deref().filter(|w| !w.trim().is_empty()) {
            metadata.insert("wants".into(), json!(w));
        }
        let body = json!({
            "content": req.system_prompt,
            "tags": [DEFINITION_TAG],
            "metadata": metadata,
            "path": format!("Agents/{}", req.name),
        });
        let id = store
            .create_def(&body)
            .map_err(|e| DefOpError::Upstream(format!("failed to create agent def: {e}")))?;
        match self.reload(&req.vault, &id, Some(ReloadEvent::Created)) {
            Reloaded::Instantiated => self
                .live_def(&req.vault, &id)
                .ok_or_else(|| not_up(&id, &req.vault)),
            _ => Err(not_up(&id, &req.vault)),
        }
    }

    pub fn edit_def(&self, note_id: &str, req: EditDef) -> Result<LiveDef, DefOpError> {
        let live = self.find_live(note_id)?;
        let vault = live.def.vault.clone();
        let mut patch = Map::new();
        patch.insert("force".into(), json!(true));
        if let Some(p) = req.system_prompt {
            patch.insert("content".into(), json!(p));
        }
        if req.metadata.is_some() || req.wants.is_some() {
            let mut meta = req.metadata.unwrap_or_default();
            if let Some(w) = req.wants {
                meta.insert("wants".into(), json!(w));
            }
            patch.insert("metadata".into(), Value::Object(meta));
        }
        if patch.len() == 1 {
            return Err(DefOpError::BadRequest(
                "nothing to edit (provide systemPrompt, wants, or metadata)".into(),
            ));
        }
        let store = self.store(&vault).ok_or_else(|| not_live(note_id))?;
        store
            .patch_def(note_id, &Value::Object(patch))
            .map_err(|e| DefOpError::Upstream(format!("failed to edit agent def: {e}")))?;
        let outcome = self.reload(&vault, note_id, Some(ReloadEvent::Updated));
        match (outcome, self.live_def(&vault, note_id)) {
            (Reloaded::Instantiated, Some(d)) => Ok(d),
            _ => Err(DefOpError::Upstream(format!(
                "def note {note_id} edited but failed to re-instantiate (check the note's status field)"
            ))),
        }
    }

    /// Delete the note first (a 404 counts as done), then remove the agent.
    pub fn delete_def(&self, note_id: &str) -> Result<Deleted, DefOpError> {
        let live = self.find_live(note_id)?;
        let vault = live.def.vault.clone();
        let store = self.store(&vault).ok_or_else(|| not_live(note_id))?;
        store
            .delete_def(note_id)
            .map_err(|e| DefOpError::Upstream(format!("failed to delete agent def: {e}")))?;
        let _ops = self.ops.lock();
        let grants_reconciled = self.confirm_removal(&vault, note_id, true);
        Ok(Deleted {
            vault,
            name: live.name().to_string(),
            grants_reconciled,
        })
    }

    /// `AgentDefFull`: the live record plus the body re-read from the vault now.
    pub fn full_view(&self, note_id: &str) -> Result<Value, DefOpError> {
        let live = self.find_live(note_id)?;
        let store = self
            .store(&live.def.vault)
            .ok_or_else(|| not_live(note_id))?;
        let note = store
            .get_def(note_id)
            .map_err(DefOpError::Upstream)?
            .ok_or_else(|| not_live(note_id))?;
        let spec = &live.def.spec;
        let mut v = json!({
            "noteId": live.def.note_id,
            "name": spec.name,
            "backend": backend_word(spec.backend),
            "vault": live.def.vault,
            "mode": mode_word(spec.mode),
            "wants": live.def.wants_keys(),
            "connections": live.connections(),
        });
        if let Some(m) = &spec.model {
            v["model"] = json!(m);
        }
        v["systemPrompt"] = json!(note.content);
        v["status"] = json!(live.stamp.status.as_str());
        Ok(v)
    }
}

fn not_live(note_id: &str) -> DefOpError {
    DefOpError::NotFound(format!("note {note_id} is not a live agent definition"))
}

fn not_up(id: &str, vault: &str) -> DefOpError {
    DefOpError::Upstream(format!(
        "def note {id} written to \"{vault}\" but failed to instantiate (check the note's status field for the error)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::registry::tests::rig;
    use crate::agents::vaults::DefVaultBinding;

    fn create(name: &str) -> CreateDef {
        CreateDef {
            vault: "v".into(),
            name: name.into(),
            system_prompt: "hello".into(),
            ..CreateDef::default()
        }
    }

    #[test]
    fn create_writes_note_and_goes_live() {
        let r = rig();
        let mut req = create("eng");
        req.backend = Some("channel".into());
        req.wants = Some(" ".into());
        req.metadata.insert("model".into(), json!("opus"));
        req.metadata.insert("name".into(), json!("ignored"));
        let d = r.reg.create_def(req).unwrap();
        assert_eq!(d.name(), "eng");
        assert_eq!(d.def.spec.backend, crate::agents::spec::Backend::Attached);
        let notes = r.store.notes.lock().clone();
        assert_eq!(notes[0].metadata["name"], "eng");
        assert_eq!(notes[0].metadata["backend"], "attached");
        assert_eq!(notes[0].metadata["model"], "opus");
        assert!(!notes[0].metadata.contains_key("wants"));
        let e = r.reg.create_def(create("eng")).unwrap_err();
        assert_eq!(e.status(), 409);
        assert_eq!(
            e.message(),
            format!(
                "an agent named \"eng\" already exists (note {} in \"v\")",
                d.def.note_id
            )
        );
    }

    #[test]
    fn create_errors() {
        let r = rig();
        let mut bad = create("eng");
        bad.vault = "nope".into();
        assert_eq!(
            r.reg.create_def(bad).unwrap_err(),
            DefOpError::BadRequest("unknown def-vault \"nope\" (configure it first)".into())
        );
        assert_eq!(r.reg.create_def(create("a b")).unwrap_err().status(), 400);
        let mut b = create("x");
        b.backend = Some("interactive".into());
        assert_eq!(
            r.reg.create_def(b).unwrap_err().message(),
            "backend must be \"programmatic\" or \"attached\""
        );
        let mut w = create("y");
        w.wants = Some("bogus".into());
        let e = r.reg.create_def(w).unwrap_err();
        assert_eq!(e.status(), 502);
        assert!(e.message().contains("but failed to instantiate"));
    }

    #[test]
    fn edit_delete_and_lookup() {
        let r = rig();
        let d = r.reg.create_def(create("eng")).unwrap();
        let id = d.def.note_id.clone();
        assert_eq!(
            r.reg
                .edit_def(&id, EditDef::default())
                .unwrap_err()
                .status(),
            400
        );
        let e = r
            .reg
            .edit_def(
                &id,
                EditDef {
                    system_prompt: Some("new".into()),
                    ..EditDef::default()
                },
            )
            .unwrap();
        assert_eq!(e.def.spec.system_prompt.as_deref(), Some("new"));
        let bad = EditDef {
            wants: Some("nope".into()),
            ..EditDef::default()
        };
        assert_eq!(r.reg.edit_def(&id, bad).unwrap_err().status(), 502);
        assert_eq!(r.reg.full_view(&id).unwrap()["systemPrompt"], "new");
        assert_eq!(
            r.reg
                .edit_def("zzz", EditDef::default())
                .unwrap_err()
                .status(),
            404
        );
        let del = r.reg.delete_def(&id).unwrap();
        assert_eq!((del.vault.as_str(), del.name.as_str()), ("v", "eng"));
        assert!(r.reg.live_defs().is_empty());
        assert!(r.store.notes.lock().is_empty());
        assert_eq!(r.reg.delete_def(&id).unwrap_err().status(), 404);
    }

    #[test]
    fn same_note_id_in_two_vaults_is_ambiguous() {
        let r = rig();
        r.reg
            .bind(DefVaultBinding {
                vault: "w".into(),
                vault_url: None,
                token: "t".into(),
            })
            .unwrap();
        // both vaults share the in-memory store in this rig
        r.store.put("n1", "", json!({"name": "a"}));
        r.reg.load_all();
        let e = r.reg.find_live("n1").unwrap_err();
        assert_eq!(e.status(), 409);
        assert!(e.message().contains("(v, w)"));
    }
}

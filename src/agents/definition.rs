//! `agent/definition` notes → [`AgentSpec`] (spec 03 §2.1–§2.3, §2.5).
//!
//! A definition is a vault note tagged `agent/definition`: its body is the system prompt,
//! its metadata the config. [`parse_definition`] validates the fields in the spec's order
//! (first failure wins) and returns either a [`ParsedDef`] or a [`DefError`] whose
//! `Display` is the spec's exact text. Pure: no I/O, no existence checks.
//!
//! Secrets never come from notes: keys such as `token` or `CLAUDE_CODE_OAUTH_TOKEN` are
//! ignored, as are the daemon-written `status`/`pending`.

use serde_json::{Map, Value};
use std::fmt;

use super::spec::{
    is_slug, AgentLimits, AgentSpec, Backend, ChannelRef, FilesystemMode, Mount, MountMode,
    NetworkMode, SystemPromptMode, ThreadMode, VaultAccess,
};
use super::wants::{parse_wants, split_list, value_text, Connection};

/// The tag every definition note carries (bare, no `#`).
pub const DEFINITION_TAG: &str = "agent/definition";

/// Length (in characters) of `systemPromptPreview` in the definition views.
const PREVIEW_CHARS: usize = 200;

/// A definition note as read from a vault (list entry or single fetch).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DefNote {
    /// The note id; empty when the vault gave none (a parse error).
    pub id: String,
    /// The note path ("" when the vault gave none).
    pub path: String,
    /// The body; a non-string `content` reads as empty.
    pub content: String,
    pub metadata: Map<String, Value>,
}

impl DefNote {
    /// Read a note object defensively (missing or mistyped fields become empty).
    pub fn from_json(note: &Value) -> DefNote {
        DefNote {
            id: note
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            path: note
                .get("path")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            content: note
                .get("content")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            metadata: note
                .get("metadata")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// `metadata.name` as a scalar, for bookkeeping when the note does not parse.
    pub fn name(&self) -> Option<String> {
        scalar(self.metadata.get("name"))
    }
}

/// Why a note is not a valid definition. `Display` gives the spec's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DefError {
    /// `#agent/definition note has no id`
    NoId,
    /// `#agent/definition note <id> has no metadata.name`
    NoName { note_id: String },
    /// `#agent/definition note <id>: <message>`
    Invalid { note_id: String, message: String },
}

impl fmt::Display for DefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefError::NoId => f.write_str("#agent/definition note has no id"),
            DefError::NoName { note_id } => {
                write!(f, "#agent/definition note {note_id} has no metadata.name")
            }
            DefError::Invalid { note_id, message } => {
                write!(f, "#agent/definition note {note_id}: {message}")
            }
        }
    }
}

impl std::error::Error for DefError {}

/// A successfully parsed definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedDef {
    pub note_id: String,
    /// The def-vault the note lives in.
    pub vault: String,
    pub spec: AgentSpec,
    /// Legacy informational `uses:` names (force status `pending`).
    pub uses: Vec<String>,
    /// Declared grant requests (§2.4).
    pub wants: Vec<Connection>,
}

impl ParsedDef {
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// The grant keys of `wants`, in declaration order.
    pub fn wants_keys(&self) -> Vec<String> {
        self.wants.iter().map(Connection::key).collect()
    }

    /// The first 200 characters of the system prompt ("" when there is none).
    pub fn system_prompt_preview(&self) -> String {
        self.spec
            .system_prompt
            .as_deref()
            .unwrap_or_default()
            .chars()
            .take(PREVIEW_CHARS)
            .collect()
    }
}

/// scalar(v): string → trimmed (empty → absent); number/boolean → its text; else absent.
pub fn scalar(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => {
            let t = s.trim();
            (!t.is_empty()).then(|| t.to_string())
        }
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// list(v): array → each element as text; string → split on `[,\s]+`; trimmed, empties
/// dropped. Anything else → empty.
pub fn list(v: Option<&Value>) -> Vec<String> {
    let parts: Vec<String> = match v {
        Some(Value::Array(items)) => items.iter().map(value_text).collect(),
        Some(Value::String(s)) => split_list(s),
        _ => Vec::new(),
    };
    parts
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Parse one note of def-vault `vault` into a definition (spec 03 §2.3, in order).
pub fn parse_definition(note: &DefNote, vault: &str) -> Result<ParsedDef, DefError> {
    if note.id.is_empty() {
        return Err(DefError::NoId);
    }
    let id = note.id.as_str();
    let meta = &note.metadata;
    let invalid = |message: String| DefError::Invalid {
        note_id: id.to_string(),
        message,
    };
    let Some(name) = scalar(meta.get("name")) else {
        return Err(DefError::NoName {
            note_id: id.to_string(),
        });
    };
    if !is_slug(&name) {
        return Err(invalid(format!(
            "name \"{name}\" must be a slug (alphanumeric, dash, underscore)"
        )));
    }
    let backend = parse_backend(meta).map_err(invalid)?;
    let mode = parse_mode(meta).map_err(invalid)?;
    let mut spec = AgentSpec {
        name: name.clone(),
        channels: vec![ChannelRef::Name(name)],
        backend,
        mode,
        definition: Some(id.to_string()),
        vault: Some(VaultAccess {
            name: vault.to_string(),
            access: "write".into(),
            tags: None,
        }),
        system_prompt: None,
        system_prompt_mode: None,
        model: None,
        workspace: None,
        filesystem: None,
        network: None,
        egress: None,
        mounts: None,
        limits: Default::default(),
    };
    if !note.content.trim().is_empty() {
        spec.system_prompt = Some(note.content.clone());
        spec.system_prompt_mode = parse_prompt_mode(meta).map_err(invalid)?;
    }
    spec.model = parse_model(meta).map_err(invalid)?;
    spec.limits = AgentLimits::parse(&|k| meta.get(k).cloned(), "").map_err(invalid)?;
    spec.workspace = parse_workspace(meta).map_err(invalid)?;
    spec.filesystem = parse_filesystem(meta).map_err(invalid)?;
    spec.network = parse_network(meta).map_err(invalid)?;
    let egress = list(meta.get("egress"));
    spec.egress = (!egress.is_empty()).then_some(egress);
    let mounts = parse_mounts(meta.get("mounts"));
    spec.mounts = (!mounts.is_empty()).then_some(mounts);
    let uses = list(meta.get("uses"));
    let wants = parse_wants(meta.get("wants")).map_err(|e| invalid(e.to_string()))?;
    Ok(ParsedDef {
        note_id: id.to_string(),
        vault: vault.to_string(),
        spec,
        uses,
        wants,
    })
}

/// Normalise an API/metadata backend word: legacy `channel` → `attached`.
pub fn backend_from_word(word: &str) -> Option<Backend> {
    match word {
        "programmatic" => Some(Backend::Programmatic),
        "attached" | "channel" => Some(Backend::Attached),
        _ => None,
    }
}

fn parse_backend(meta: &Map<String, Value>) -> Result<Backend, String> {
    let Some(word) = scalar(meta.get("backend")) else {
        return Ok(Backend::Programmatic);
    };
    if word == "interactive" {
        return Err(
            "the \"interactive\" backend is retired — use \"programmatic\" (daemon-run turns, \
                    the default) or \"attached\" (handled by a Claude Code session you connect to \
                    the channel)."
                .into(),
        );
    }
    backend_from_word(&word)
        .ok_or_else(|| "backend must be \"programmatic\" or \"attached\"".into())
}

fn parse_mode(meta: &Map<String, Value>) -> Result<ThreadMode, String> {
    match scalar(meta.get("mode")).as_deref() {
        None | Some("single-threaded") | Some("resident") => Ok(ThreadMode::SingleThreaded),
        Some("multi-threaded") | Some("one-shot") | Some("per-thread") => {
            Ok(ThreadMode::MultiThreaded)
        }
        Some(_) => Err("mode must be \"single-threaded\" or \"multi-threaded\"".into()),
    }
}

fn parse_prompt_mode(meta: &Map<String, Value>) -> Result<Option<SystemPromptMode>, String> {
    match scalar(meta.get("systemPromptMode")).as_deref() {
        None => Ok(None),
        Some("append") => Ok(Some(SystemPromptMode::Append)),
        Some("replace") => Ok(Some(SystemPromptMode::Replace)),
        Some(_) => Err("systemPromptMode must be \"append\" or \"replace\"".into()),
    }
}

/// `^[a-zA-Z0-9][a-zA-Z0-9._:-]*$`
fn is_model_name(m: &str) -> bool {
    let mut bytes = m.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b))
}

fn parse_model(meta: &Map<String, Value>) -> Result<Option<String>, String> {
    match scalar(meta.get("model")) {
        None => Ok(None),
        Some(m) if is_model_name(&m) => Ok(Some(m)),
        Some(m) => Err(format!(
            "model \"{m}\" is not a valid model name (letters, numbers, dot, underscore, colon, dash)"
        )),
    }
}

fn parse_workspace(meta: &Map<String, Value>) -> Result<Option<String>, String> {
    match scalar(meta.get("workspace")) {
        None => Ok(None),
        Some(w) if w.starts_with('/') => Ok(Some(w)),
        Some(_) => Err("workspace must be an absolute path (start with \"/\")".into()),
    }
}

fn parse_filesystem(meta: &Map<String, Value>) -> Result<Option<FilesystemMode>, String> {
    match scalar(meta.get("filesystem")).as_deref() {
        None => Ok(None),
        Some("workspace") => Ok(Some(FilesystemMode::Workspace)),
        Some("full") => Ok(Some(FilesystemMode::Full)),
        Some(_) => Err("filesystem must be \"workspace\" or \"full\"".into()),
    }
}

fn parse_network(meta: &Map<String, Value>) -> Result<Option<NetworkMode>, String> {
    match scalar(meta.get("network")).as_deref() {
        None => Ok(None),
        Some("open") => Ok(Some(NetworkMode::Open)),
        Some("restricted") => Ok(Some(NetworkMode::Restricted)),
        Some(_) => Err("network must be \"open\" or \"restricted\"".into()),
    }
}

/// `mounts`: a JSON-array string or a real array; bad input and bad entries are dropped
/// silently (never an error).
fn parse_mounts(v: Option<&Value>) -> Vec<Mount> {
    let parsed;
    let items = match v {
        Some(Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() {
                return Vec::new();
            }
            parsed = match serde_json::from_str::<Value>(t) {
                Ok(p) => p,
                Err(_) => return Vec::new(),
            };
            &parsed
        }
        Some(other) => other,
        None => return Vec::new(),
    };
    let Some(items) = items.as_array() else {
        return Vec::new();
    };
    items.iter().filter_map(mount_entry).collect()
}

fn mount_entry(raw: &Value) -> Option<Mount> {
    let abs = |k: &str| {
        raw.get(k)
            .and_then(Value::as_str)
            .filter(|p| p.starts_with('/'))
            .map(str::to_string)
    };
    let host_path = abs("hostPath")?;
    let mount_path = abs("mountPath")?;
    let mode = match raw.get("mode").and_then(Value::as_str)? {
        "ro" => MountMode::Ro,
        "rw" => MountMode::Rw,
        _ => return None,
    };
    let shared = raw
        .get("shared")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    Some(Mount {
        host_path,
        mount_path: Some(mount_path),
        mode,
        shared,
    })
}

#[cfg(test)]
#[path = "definition_tests.rs"]
mod tests;

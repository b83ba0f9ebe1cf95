//! `CredentialStore`: the Claude token and env-var store over `<state>/credentials.json`
//! (spec 04 §2.3).
//!
//! Shape: `{"claude":{"default":"…","channels":{"<ch>":"…"}},
//! "env":{"default":{"NAME":"…"},"channels":{"<ch>":{"NAME":"…"}}}}`; unknown keys are
//! preserved by every read-modify-write. Every operation reads the file fresh, so a change
//! applies to the next turn without a restart. [ext] over the reference: one mutex around
//! each read-modify-write, and the file is replaced atomically (temp file 0600 + fsync +
//! rename, `fsx::write_atomic`), so a crash leaves the old file intact and the file is
//! never readable by others, not even for an instant. Values are never logged and never
//! returned by the describe operations.

use super::names::{denylisted_message, denylisted_warning, is_denylisted, name_shape_ok};
use crate::util::fsx;
use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File name inside the state dir.
pub const FILE_NAME: &str = "credentials.json";

/// Errors of the credentials store; the HTTP layer maps them once.
#[derive(Debug)]
pub enum CredentialError {
    /// A rejected input (`credentials: …` text) → 400.
    Invalid(String),
    /// A denylisted env name (the `DenylistedEnvError` text) → 400.
    Denylisted(String),
    /// No Claude token for the channel (the `CredentialNotConfiguredError` text).
    NotConfigured(String),
    /// The file is not valid JSON or not an object → 500.
    Malformed(String),
    /// Reading or writing the file failed → 500.
    Io(std::io::Error),
}

impl CredentialError {
    /// Whether the error is the caller's fault (400) rather than the store's (500).
    pub fn is_bad_request(&self) -> bool {
        matches!(
            self,
            CredentialError::Invalid(_) | CredentialError::Denylisted(_)
        )
    }
}

impl std::fmt::Display for CredentialError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CredentialError::Invalid(m)
            | CredentialError::Denylisted(m)
            | CredentialError::NotConfigured(m)
            | CredentialError::Malformed(m) => f.write_str(m),
            CredentialError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CredentialError {}

/// `GET /api/credentials/claude` body: presence and channel names, never a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenSummary {
    #[serde(rename = "defaultSet")]
    pub default_set: bool,
    pub channels: Vec<String>,
}

/// `GET /api/credentials/env` body: names only, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvSummary {
    pub default: Vec<String>,
    pub channels: BTreeMap<String, Vec<String>>,
}

/// The store. Cheap to share behind an `Arc`.
pub struct CredentialStore {
    path: PathBuf,
    write_lock: Mutex<()>,
}

type Doc = Map<String, Value>;

impl CredentialStore {
    /// A store over `<state_dir>/credentials.json`.
    pub fn new(state_dir: &Path) -> Self {
        CredentialStore {
            path: state_dir.join(FILE_NAME),
            write_lock: Mutex::new(()),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    // ---- the Claude token ----------------------------------------------------------

    /// Set the operator default token.
    pub fn set_default_token(&self, token: &str) -> Result<(), CredentialError> {
        require_token(token)?;
        self.update(|doc| {
            object_at(doc, "claude").insert("default".into(), token.into());
            true
        })
        .map(drop)
    }

    /// Set the override token of `channel`.
    pub fn set_channel_token(&self, channel: &str, token: &str) -> Result<(), CredentialError> {
        if channel.is_empty() {
            return Err(invalid("credentials: a channel name is required"));
        }
        require_token(token)?;
        self.update(|doc| {
            let claude = object_at(doc, "claude");
            object_at(claude, "channels").insert(channel.into(), token.into());
            true
        })
        .map(drop)
    }

    /// Remove the override of `channel`; `false` (file untouched) when there was none. An
    /// emptied `channels` map is kept as `{}` (reference behaviour).
    pub fn remove_channel_token(&self, channel: &str) -> Result<bool, CredentialError> {
        self.update(|doc| {
            doc.get_mut("claude")
                .and_then(Value::as_object_mut)
                .and_then(|c| c.get_mut("channels"))
                .and_then(Value::as_object_mut)
                .is_some_and(|chs| chs.remove(channel).is_some())
        })
    }

    /// The token a turn on `channel` runs with: the channel override if non-empty, else
    /// the default, else [`CredentialError::NotConfigured`] with the operator's fix.
    pub fn resolve_claude_token(&self, channel: &str) -> Result<String, CredentialError> {
        let doc = self.read()?;
        let claude = doc.get("claude");
        let over = pick(
            claude
                .and_then(|c| c.get("channels"))
                .and_then(|c| c.get(channel)),
        );
        match over.or_else(|| pick(claude.and_then(|c| c.get("default")))) {
            Some(token) => Ok(token.to_string()),
            None => Err(CredentialError::NotConfigured(not_configured_message(
                channel,
            ))),
        }
    }

    /// [`resolve_claude_token`](Self::resolve_claude_token) for callers that only need
    /// presence; a malformed file is logged (never its content) and counts as absent.
    pub fn claude_token(&self, channel: &str) -> Option<String> {
        match self.resolve_claude_token(channel) {
            Ok(t) => Some(t),
            Err(CredentialError::NotConfigured(_)) => None,
            Err(e) => {
                log::warn!("credentials: cannot read {}: {e}", self.path.display());
                None
            }
        }
    }

    /// Presence of the default token and the channels with an override (sorted).
    pub fn describe_tokens(&self) -> Result<TokenSummary, CredentialError> {
        let doc = self.read()?;
        let claude = doc.get("claude");
        let default_set = claude
            .and_then(|c| c.get("default"))
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        let mut channels: Vec<String> = claude
            .and_then(|c| c.get("channels"))
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        channels.sort();
        Ok(TokenSummary {
            default_set,
            channels,
        })
    }

    // ---- the env store -------------------------------------------------------------

    /// Set `name=value` on the default layer (`channel` `None` or empty) or on `channel`.
    /// Nothing is written when a check fails.
    pub fn set_env(
        &self,
        channel: Option<&str>,
        name: &str,
        value: &str,
    ) -> Result<(), CredentialError> {
        check_env_name(name)?;
        if value.is_empty() {
            return Err(invalid(
                "credentials: a non-empty env var value is required",
            ));
        }
        let channel = channel.filter(|c| !c.is_empty());
        self.update(|doc| {
            let env = object_at(doc, "env");
            let layer = match channel {
                None => object_at(env, "default"),
                Some(ch) => object_at(object_at(env, "channels"), ch),
            };
            layer.insert(name.into(), value.into());
            true
        })
        .map(drop)
    }

    /// Remove `name` from a layer; returns whether it existed. Emptied maps are pruned.
    pub fn remove_env(&self, channel: Option<&str>, name: &str) -> Result<bool, CredentialError> {
        let channel = channel.filter(|c| !c.is_empty());
        self.update(|doc| {
            let Some(env) = doc.get_mut("env").and_then(Value::as_object_mut) else {
                return false;
            };
            match channel {
                None => remove_and_prune(env, "default", name),
                Some(ch) => {
                    let Some(chs) = env.get_mut("channels").and_then(Value::as_object_mut) else {
                        return false;
                    };
                    let removed = remove_and_prune(chs, ch, name);
                    if removed && chs.is_empty() {
                        env.remove("channels");
                    }
                    removed
                }
            }
        })
    }

    /// Names per layer, sorted; never values.
    pub fn describe_env(&self) -> Result<EnvSummary, CredentialError> {
        let doc = self.read()?;
        let env = doc.get("env");
        let default = sorted_keys(env.and_then(|e| e.get("default")));
        let channels = env
            .and_then(|e| e.get("channels"))
            .and_then(Value::as_object)
            .map(|chs| {
                chs.iter()
                    .map(|(ch, layer)| (ch.clone(), sorted_keys(Some(layer))))
                    .collect()
            })
            .unwrap_or_default();
        Ok(EnvSummary { default, channels })
    }

    /// The stored variables a turn on `channel` receives: `{…default, …channels[ch]}`,
    /// empty values and non-string values skipped, denylisted names dropped with a
    /// warning (defensive against hand edits), sorted by name.
    pub fn try_env_for(&self, channel: &str) -> Result<Vec<(String, String)>, CredentialError> {
        let doc = self.read()?;
        let mut merged: BTreeMap<String, String> = BTreeMap::new();
        for layer in self.env_layers(&doc, channel) {
            for (name, value) in layer {
                if is_denylisted(name) {
                    log::warn!("{}", denylisted_warning(name));
                    continue;
                }
                match value.as_str().filter(|v| !v.is_empty()) {
                    Some(v) => merged.insert(name.clone(), v.to_string()),
                    None => merged.remove(name),
                };
            }
        }
        Ok(merged.into_iter().collect())
    }

    /// [`try_env_for`](Self::try_env_for) for the turn engine; a malformed file is logged
    /// and yields no variables.
    pub fn env_for(&self, channel: &str) -> Vec<(String, String)> {
        self.try_env_for(channel).unwrap_or_else(|e| {
            log::warn!("credentials: cannot read {}: {e}", self.path.display());
            Vec::new()
        })
    }

    /// Names set on the default layer and on `channel`'s layer (non-empty string values,
    /// denylisted names excluded), for the effective-env view (spec 04 §2.5).
    pub fn env_names(&self, channel: &str) -> Result<(Vec<String>, Vec<String>), CredentialError> {
        let doc = self.read()?;
        let [default, chan] = self.env_layers(&doc, channel);
        let names = |layer: &Doc| -> Vec<String> {
            let mut v: Vec<String> = layer
                .iter()
                .filter(|(n, v)| !is_denylisted(n) && v.as_str().is_some_and(|s| !s.is_empty()))
                .map(|(n, _)| n.clone())
                .collect();
            v.sort();
            v
        };
        Ok((names(default), names(chan)))
    }

    fn env_layers<'a>(&self, doc: &'a Doc, channel: &str) -> [&'a Doc; 2] {
        static EMPTY: std::sync::OnceLock<Doc> = std::sync::OnceLock::new();
        let empty = EMPTY.get_or_init(Doc::new);
        let env = doc.get("env");
        let default = env
            .and_then(|e| e.get("default"))
            .and_then(Value::as_object)
            .unwrap_or(empty);
        let chan = env
            .and_then(|e| e.get("channels"))
            .and_then(|c| c.get(channel))
            .and_then(Value::as_object)
            .unwrap_or(empty);
        [default, chan]
    }

    // ---- file access ---------------------------------------------------------------

    /// Read the document: no file → `{}`; invalid JSON → error; `null`/scalar → error; an
    /// array reads as an empty store (reference behaviour).
    fn read(&self) -> Result<Doc, CredentialError> {
        let Some(text) = fsx::read_optional(&self.path).map_err(CredentialError::Io)? else {
            return Ok(Doc::new());
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(Value::Array(_)) => Ok(Doc::new()),
            Ok(_) => Err(CredentialError::Malformed(format!(
                "credentials: {} must be a JSON object",
                self.path.display()
            ))),
            Err(e) => Err(CredentialError::Malformed(format!(
                "credentials: {}: {e}",
                self.path.display()
            ))),
        }
    }

    /// Read-modify-write under the store's mutex. `change` returns whether it changed
    /// anything; only then is the file rewritten. Returns that flag.
    fn update(&self, change: impl FnOnce(&mut Doc) -> bool) -> Result<bool, CredentialError> {
        let _guard = self.write_lock.lock();
        let mut doc = self.read()?;
        if !change(&mut doc) {
            return Ok(false);
        }
        fsx::write_json_atomic(&self.path, &doc, fsx::PRIVATE_FILE).map_err(CredentialError::Io)?;
        Ok(true)
    }
}

/// A non-empty string value.
fn pick(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// The `CredentialNotConfiguredError` text (spec 04 §2.3).
pub fn not_configured_message(channel: &str) -> String {
    format!(
        "no Claude credential for channel \"{channel}\": set a per-channel override or the \
         default/operator token (POST /api/credentials/claude). Get one with `claude setup-token`."
    )
}

fn invalid(msg: &str) -> CredentialError {
    CredentialError::Invalid(msg.to_string())
}

fn require_token(token: &str) -> Result<(), CredentialError> {
    if token.is_empty() {
        return Err(invalid("credentials: a non-empty token is required"));
    }
    Ok(())
}

/// Name checks in the reference order: non-empty → not denylisted → shape.
fn check_env_name(name: &str) -> Result<(), CredentialError> {
    if name.is_empty() {
        return Err(invalid("credentials: an env var name is required"));
    }
    if is_denylisted(name) {
        return Err(CredentialError::Denylisted(denylisted_message(name)));
    }
    if !name_shape_ok(name) {
        return Err(CredentialError::Invalid(format!(
            "credentials: env var name \"{name}\" is invalid (letters, digits, underscore; no leading digit)"
        )));
    }
    Ok(())
}

/// `parent[key]` as an object, replacing a missing or non-object value with `{}`.
fn object_at<'a>(parent: &'a mut Doc, key: &str) -> &'a mut Doc {
    let slot = parent
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Doc::new()));
    if !slot.is_object() {
        *slot = Value::Object(Doc::new());
    }
    slot.as_object_mut().expect("just made an object")
}

/// Remove `name` from the object at `parent[key]`; drop that object when it empties.
fn remove_and_prune(parent: &mut Doc, key: &str, name: &str) -> bool {
    let Some(layer) = parent.get_mut(key).and_then(Value::as_object_mut) else {
        return false;
    };
    let removed = layer.remove(name).is_some();
    if removed && layer.is_empty() {
        parent.remove(key);
    }
    removed
}

fn sorted_keys(v: Option<&Value>) -> Vec<String> {
    let mut keys: Vec<String> = v
        .and_then(Value::as_object)
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

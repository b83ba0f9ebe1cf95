//! `agent-vaults.json`: the def-vault bindings (spec 02 §4.1).
//!
//! `{"vaults":[{"vault":"default","vaultUrl":"http://127.0.0.1:1940","token":"eyJ…"}]}`,
//! 2-space JSON + newline, mode 0600, written atomically (the reference writes in place).
//! The token is a secret: it never appears in `Debug` output or in API views.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use crate::util::fsx;

/// File name inside the state dir.
pub const FILE_NAME: &str = "agent-vaults.json";

/// The vault base URL when a binding names none (the loopback vault; deliberately not
/// `PARACHUTE_VAULT_URL`, spec 02 §4.2).
pub const DEFAULT_VAULT_URL: &str = "http://127.0.0.1:1940";

/// One def-vault binding `{vault, vaultUrl?, token}`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefVaultBinding {
    pub vault: String,
    #[serde(rename = "vaultUrl", default, skip_serializing_if = "Option::is_none")]
    pub vault_url: Option<String>,
    #[serde(default)]
    pub token: String,
}

impl fmt::Debug for DefVaultBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DefVaultBinding")
            .field("vault", &self.vault)
            .field("vault_url", &self.vault_url)
            .field(
                "token",
                &if self.token.is_empty() {
                    ""
                } else {
                    "<redacted>"
                },
            )
            .finish()
    }
}

impl DefVaultBinding {
    /// The REST base: `vaultUrl` or the loopback default, one trailing `/` stripped.
    pub fn url(&self) -> String {
        let u = self.vault_url.as_deref().unwrap_or(DEFAULT_VAULT_URL);
        u.strip_suffix('/').unwrap_or(u).to_string()
    }
}

/// A malformed `agent-vaults.json` (`Display` is the spec's text).
#[derive(Debug)]
pub enum VaultsFileError {
    Io(io::Error),
    /// `def-vaults: <file> must have a "vaults" array`
    NoVaultsArray(PathBuf),
    /// `def-vaults: each entry needs a non-empty "vault" (got <json>)`
    BadEntry(String),
}

impl fmt::Display for VaultsFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultsFileError::Io(e) => write!(f, "def-vaults: {e}"),
            VaultsFileError::NoVaultsArray(p) => write!(
                f,
                "def-vaults: {} must have a \"vaults\" array",
                p.display()
            ),
            VaultsFileError::BadEntry(got) => {
                write!(
                    f,
                    "def-vaults: each entry needs a non-empty \"vault\" (got {got})"
                )
            }
        }
    }
}

impl std::error::Error for VaultsFileError {}

/// `<state dir>/agent-vaults.json`.
pub fn file_path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// Read the bindings: `Ok(None)` when the file does not exist.
pub fn load(path: &Path) -> Result<Option<Vec<DefVaultBinding>>, VaultsFileError> {
    let Some(text) = fsx::read_optional(path).map_err(VaultsFileError::Io)? else {
        return Ok(None);
    };
    let no_array = || VaultsFileError::NoVaultsArray(path.to_path_buf());
    let doc: Value = serde_json::from_str(&text).map_err(|_| no_array())?;
    let entries = doc
        .get("vaults")
        .and_then(Value::as_array)
        .ok_or_else(no_array)?;
    entries
        .iter()
        .map(binding_from)
        .collect::<Result<_, _>>()
        .map(Some)
}

fn binding_from(entry: &Value) -> Result<DefVaultBinding, VaultsFileError> {
    let vault = entry
        .get("vault")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| VaultsFileError::BadEntry(redacted(entry)))?;
    let text = |k: &str| entry.get(k).and_then(Value::as_str).unwrap_or_default();
    let url = text("vaultUrl");
    Ok(DefVaultBinding {
        vault: vault.to_string(),
        vault_url: (!url.is_empty()).then(|| url.to_string()),
        token: text("token").to_string(),
    })
}

/// An entry as JSON for an error message, with any token masked.
fn redacted(entry: &Value) -> String {
    let mut e = entry.clone();
    if let Some(obj) = e.as_object_mut() {
        if obj.contains_key("token") {
            obj.insert("token".into(), Value::String("<redacted>".into()));
        }
    }
    e.to_string()
}

/// Write the bindings atomically with mode 0600 (the state dir is created if missing).
pub fn save(path: &Path, bindings: &[DefVaultBinding]) -> io::Result<()> {
    fsx::write_json_atomic(
        path,
        &serde_json::json!({ "vaults": bindings }),
        fsx::PRIVATE_FILE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn binding(v: &str, url: Option<&str>) -> DefVaultBinding {
        DefVaultBinding {
            vault: v.into(),
            vault_url: url.map(str::to_string),
            token: format!("tok-{v}"),
        }
    }

    #[test]
    fn absent_file_is_none_and_round_trip_is_0600() {
        let dir = tempfile::tempdir().unwrap();
        let p = file_path(&dir.path().join("state"));
        assert!(load(&p).unwrap().is_none());
        let b = vec![binding("default", Some("http://h:1/")), binding("r", None)];
        save(&p, &b).unwrap();
        assert_eq!(load(&p).unwrap().unwrap(), b);
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.ends_with("}\n") && text.contains("\n  \"vaults\""));
        assert!(!text.contains("\"vaultUrl\": null"));
        // rewrite keeps 0600 and replaces the content
        save(&p, &b[..1]).unwrap();
        assert_eq!(load(&p).unwrap().unwrap().len(), 1);
    }

    #[test]
    fn malformed_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        for bad in ["nope", "[]", "{\"vaults\":{}}", "{}"] {
            std::fs::write(&p, bad).unwrap();
            let e = load(&p).unwrap_err().to_string();
            assert_eq!(
                e,
                format!("def-vaults: {} must have a \"vaults\" array", p.display())
            );
        }
        std::fs::write(&p, r#"{"vaults":[{"vault":"","token":"secret"}]}"#).unwrap();
        let e = load(&p).unwrap_err().to_string();
        assert_eq!(
            e,
            r#"def-vaults: each entry needs a non-empty "vault" (got {"token":"<redacted>","vault":""})"#
        );
        std::fs::write(&p, r#"{"vaults":[5]}"#).unwrap();
        assert!(load(&p).unwrap_err().to_string().ends_with("(got 5)"));
    }

    #[test]
    fn falsy_url_and_missing_token_are_tolerated() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE_NAME);
        std::fs::write(&p, r#"{"vaults":[{"vault":"a","vaultUrl":""}]}"#).unwrap();
        let b = load(&p).unwrap().unwrap();
        assert_eq!(b[0].vault_url, None);
        assert_eq!(b[0].token, "");
        assert_eq!(b[0].url(), DEFAULT_VAULT_URL);
        assert_eq!(binding("x", Some("http://v:9//")).url(), "http://v:9/");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let text = format!("{:?}", binding("a", None));
        assert!(!text.contains("tok-a") && text.contains("<redacted>"));
    }
}

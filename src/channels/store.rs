//! `channels.json` (spec 05 §5.1): `{"channels":[{"name","transport","config"?}]}`, mode
//! 0600 (it holds tokens and secrets), pretty JSON with a trailing newline, written
//! atomically. Loading validates the shape with the reference's error texts.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::util::fsx;

pub const FILE: &str = "channels.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelEntry {
    pub name: String,
    pub transport: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<Map<String, Value>>,
}

impl ChannelEntry {
    /// A config string field, if present and a string.
    pub fn config_str(&self, key: &str) -> Option<&str> {
        self.config.as_ref()?.get(key)?.as_str()
    }
}

/// Loads the file: `Ok(None)` when it does not exist; `Err` with the reference's message
/// for a malformed file, a missing array, an incomplete entry or a duplicate name.
pub fn load(path: &Path) -> Result<Option<Vec<ChannelEntry>>, String> {
    let Some(text) = fsx::read_optional(path)
        .map_err(|e| format!("registry: cannot read {}: {e}", path.display()))?
    else {
        return Ok(None);
    };
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| format!("registry: {} is not valid JSON: {e}", path.display()))?;
    let list = v.get("channels").and_then(Value::as_array).ok_or_else(|| {
        format!(
            "registry: {} must have a \"channels\" array",
            path.display()
        )
    })?;
    let mut entries: Vec<ChannelEntry> = Vec::with_capacity(list.len());
    for item in list {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let transport = item
            .get("transport")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let (Some(name), Some(transport)) = (name, transport) else {
            return Err(format!(
                "registry: each channel needs \"name\" and \"transport\" (got {item})"
            ));
        };
        if entries.iter().any(|e| e.name == name) {
            return Err(format!("registry: duplicate channel name \"{name}\""));
        }
        let config = item.get("config").and_then(Value::as_object).cloned();
        entries.push(ChannelEntry {
            name: name.to_string(),
            transport: transport.to_string(),
            config,
        });
    }
    Ok(Some(entries))
}

/// Writes the whole list (0600, atomic).
pub fn save(path: &Path, entries: &[ChannelEntry]) -> std::io::Result<()> {
    fsx::write_json_atomic(
        path,
        &serde_json::json!({ "channels": entries }),
        fsx::PRIVATE_FILE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_validates_shape() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(FILE);
        assert_eq!(load(&p).unwrap(), None);
        std::fs::write(&p, "{").unwrap();
        assert!(load(&p).unwrap_err().contains("not valid JSON"));
        std::fs::write(&p, r#"{"x":1}"#).unwrap();
        assert!(load(&p).unwrap_err().contains("\"channels\" array"));
        std::fs::write(&p, r#"{"channels":[{"name":"a"}]}"#).unwrap();
        assert!(load(&p)
            .unwrap_err()
            .contains("needs \"name\" and \"transport\""));
        std::fs::write(
            &p,
            r#"{"channels":[{"name":"a","transport":"http-ui"},{"name":"a","transport":"vault"}]}"#,
        )
        .unwrap();
        assert!(load(&p).unwrap_err().contains("duplicate channel name"));
        let entries = vec![ChannelEntry {
            name: "web".into(),
            transport: "http-ui".into(),
            config: None,
        }];
        save(&p, &entries).unwrap();
        assert_eq!(load(&p).unwrap(), Some(entries));
        assert!(!std::fs::read_to_string(&p).unwrap().contains("config"));
    }
}

//! Self-registration in `$PARACHUTE_HOME/services.json` (spec 01 §6.5): our row is
//! shallow-merged over an existing `parachute-agent` row (hub-stamped extras survive) or
//! appended; other modules' rows are untouched; a malformed file is left alone.

use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

pub const SERVICE_NAME: &str = "parachute-agent";

pub fn manifest_path(parachute_home: &Path) -> PathBuf {
    parachute_home.join("services.json")
}

/// `startCmd` from `<install>/.parachute/module.json` (a non-empty array of strings),
/// else `["parachute-agent"]`.
pub fn start_cmd(install_dir: &Path) -> Value {
    let fallback = json!(["parachute-agent"]);
    let Ok(text) = std::fs::read_to_string(install_dir.join(".parachute/module.json")) else {
        return fallback;
    };
    let Ok(v) = serde_json::from_str::<Value>(&text) else {
        return fallback;
    };
    match v.get("startCmd").and_then(Value::as_array) {
        Some(a) if !a.is_empty() && a.iter().all(Value::is_string) => Value::Array(a.clone()),
        _ => fallback,
    }
}

/// What this binary really serves, the input of the `services.json` row (spec 09, last
/// section: advertise only what is served).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Served {
    /// The web UI (`/app`) is served: advertises `uiUrl`, `configUiUrl` and `uis.agents`.
    pub ui: bool,
    /// `/terminal/<agent>` serves its page and an upgrade can succeed: advertises
    /// `uis.terminal` and `websocket: true`.
    pub terminal: bool,
}

impl Served {
    /// Today's truth for this build: `/app` is built into the binary (`webui`), so the web
    /// UI is always served; the terminal's flag is set by the daemon from the host (it
    /// works where `tmux` is on `PATH`).
    pub fn this_build() -> Served {
        Served {
            ui: true,
            terminal: false,
        }
    }
}

/// Keys of our row that are present only when their surface is served; a merge removes a
/// stale one left by an older version.
const SERVED_ONLY: [&str; 2] = ["uiUrl", "configUiUrl"];

pub fn our_row(port: u16, install_dir: &Path, served: Served) -> Map<String, Value> {
    let mut uis = Map::new();
    if served.ui {
        uis.insert("agents".into(), json!({ "displayName": "Agents", "tagline": "Spawn, scope, and watch sandboxed Claude Code sessions.", "path": "/agent/agents", "audience": "surface" }));
    }
    if served.terminal {
        uis.insert("terminal".into(), json!({ "displayName": "Terminal", "tagline": "Attach to a session's live tmux pane in the browser.", "path": "/agent/terminal", "audience": "surface" }));
    }
    let mut row = json!({
        "name": SERVICE_NAME, "port": port, "paths": ["/agent"], "health": "/health",
        "version": env!("CARGO_PKG_VERSION"), "displayName": "Agent",
        "tagline": "Chat with your Claude Code sessions — a channel per session.",
        "installDir": install_dir.display().to_string(), "startCmd": start_cmd(install_dir),
        "stripPrefix": true, "websocket": served.terminal, "uis": uis,
    });
    if served.ui {
        row["uiUrl"] = json!("/agent/app/");
        row["configUiUrl"] = json!("/agent/app/");
    }
    match row {
        Value::Object(m) => m,
        _ => unreachable!("literal object"),
    }
}

/// Merges our row into the manifest at `path` and writes it atomically.
pub fn register(path: &Path, row: Map<String, Value>) -> Result<(), String> {
    let mut doc = match crate::util::fsx::read_optional(path).map_err(|e| e.to_string())? {
        None => json!({ "services": [] }),
        Some(text) => serde_json::from_str::<Value>(&text)
            .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?,
    };
    let services = doc
        .as_object_mut()
        .and_then(|o| o.get_mut("services"))
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("{} has no \"services\" array", path.display()))?;
    match services
        .iter_mut()
        .find(|s| s.get("name").and_then(Value::as_str) == Some(SERVICE_NAME))
    {
        Some(Value::Object(existing)) => {
            existing.retain(|k, _| !SERVED_ONLY.contains(&k.as_str()) || row.contains_key(k));
            existing.extend(row);
        }
        _ => services.push(Value::Object(row)),
    }
    crate::util::fsx::write_json_atomic(path, &doc, crate::util::fsx::PUBLIC_FILE)
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_and_preserves() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("services.json");
        std::fs::write(&p, r#"{"services":[{"name":"vault","port":1940},{"name":"parachute-agent","port":1,"hubStamp":"x"}]}"#).unwrap();
        let all = Served {
            ui: true,
            terminal: true,
        };
        register(&p, our_row(1941, dir.path(), all)).unwrap();
        register(&p, our_row(1941, dir.path(), all)).unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let rows = v["services"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["port"], 1941);
        assert_eq!(rows[1]["hubStamp"], "x");
        assert_eq!(rows[1]["startCmd"], json!(["parachute-agent"]));
        assert_eq!(rows[1]["uis"]["terminal"]["path"], "/agent/terminal");
        register(&p, our_row(1941, dir.path(), Served::default())).unwrap();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
        let row = &v["services"][1];
        assert_eq!(row["uis"], json!({}));
        assert_eq!(row["websocket"], false);
        assert!(row.get("uiUrl").is_none() && row.get("configUiUrl").is_none());
        assert_eq!(row["hubStamp"], "x");
        std::fs::write(&p, "[1]").unwrap();
        assert!(register(&p, our_row(1941, dir.path(), all)).is_err());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "[1]");
    }
}

//! `<state>/sessions/<name>/spec.json` (spec 03 §1, §3; spec 04 §4.3): the persisted
//! record of a programmatic agent — 2-space JSON + newline, mode 0600, written atomically
//! — and the boot scan that re-registers HTTP-created agents.
//!
//! Fix of a reference defect (spec 04 §4.3): `DELETE /api/agents/<name>` removes
//! `spec.json`, so a deleted agent does not come back at the next restart. The rest of
//! the private dir (transcripts, home) is kept.

use std::io;
use std::path::{Path, PathBuf};

use crate::agents::spec::{AgentSpec, Backend};
use crate::util::fsx;

pub const SPEC_FILE: &str = "spec.json";

pub fn spec_path(sessions_dir: &Path, name: &str) -> PathBuf {
    sessions_dir.join(name).join(SPEC_FILE)
}

pub fn spec_exists(sessions_dir: &Path, name: &str) -> bool {
    spec_path(sessions_dir, name).is_file()
}

/// Write `spec` with `backend:"programmatic"`; creates `W` (0700).
pub fn write_spec(sessions_dir: &Path, spec: &AgentSpec) -> io::Result<()> {
    let mut spec = spec.clone();
    spec.backend = Backend::Programmatic;
    fsx::ensure_private_dir(&sessions_dir.join(&spec.name))?;
    fsx::write_json_atomic(
        &spec_path(sessions_dir, &spec.name),
        &spec,
        fsx::PRIVATE_FILE,
    )
}

/// Remove the persisted spec (no error if it is already gone).
pub fn remove_spec(sessions_dir: &Path, name: &str) -> io::Result<()> {
    match std::fs::remove_file(spec_path(sessions_dir, name)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Every readable `sessions/*/spec.json` with `backend == "programmatic"` and a
/// non-empty channel list, sorted by name. Others are skipped with a log line.
pub fn scan(sessions_dir: &Path) -> Vec<AgentSpec> {
    let Ok(dir) = std::fs::read_dir(sessions_dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let path = entry.path().join(SPEC_FILE);
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        let raw: serde_json::Value = match serde_json::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                log::warn!("skipping {}: unreadable JSON ({e})", path.display());
                continue;
            }
        };
        if raw.get("backend").and_then(|b| b.as_str()) != Some("programmatic") {
            log::info!("skipping {}: not a programmatic spec", path.display());
            continue;
        }
        match serde_json::from_value::<AgentSpec>(raw) {
            Ok(s) if !s.channels.is_empty() && !s.wake_channel().is_empty() => out.push(s),
            Ok(_) => log::warn!("skipping {}: declares no channels", path.display()),
            Err(e) => log::warn!("skipping {}: {e}", path.display()),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn write_scan_remove() {
        let d = tempfile::tempdir().unwrap();
        let s: AgentSpec =
            serde_json::from_str(r#"{"name":"eng","channels":["eng"],"backend":"attached"}"#)
                .unwrap();
        write_spec(d.path(), &s).unwrap();
        let p = spec_path(d.path(), "eng");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.ends_with("}\n") && text.contains("\"backend\": \"programmatic\""));
        std::fs::create_dir_all(d.path().join("bad")).unwrap();
        std::fs::write(d.path().join("bad/spec.json"), "{nope").unwrap();
        std::fs::create_dir_all(d.path().join("att")).unwrap();
        std::fs::write(
            d.path().join("att/spec.json"),
            r#"{"name":"att","channels":["x"],"backend":"attached"}"#,
        )
        .unwrap();
        std::fs::create_dir_all(d.path().join("none")).unwrap();
        std::fs::write(
            d.path().join("none/spec.json"),
            r#"{"name":"none","channels":[],"backend":"programmatic"}"#,
        )
        .unwrap();
        let found = scan(d.path());
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name, "eng");
        remove_spec(d.path(), "eng").unwrap();
        remove_spec(d.path(), "eng").unwrap();
        assert!(scan(d.path()).is_empty());
        assert!(scan(&d.path().join("missing")).is_empty());
    }
}

//! The agent's private directory `W = <state>/sessions/<name>` and the files a turn writes
//! there (spec 03 §4.5, spec 04 §1.8 and §2.2): `.mcp.json` (0600, every turn),
//! `system-prompt.txt` (0600, every turn with a prompt), the private home seed
//! (`home/.claude/.claude.json` and `settings.json`, 0600, only if absent) and `tmp/`.
//!
//! Deviation [ext, spec 04 G8]: the seed copied from the operator's `~/.claude.json` also
//! drops `mcpServers`, `primaryApiKey`, `customApiKeyResponses` and every key whose name
//! contains `token`, `apikey` or `oauth` (case-insensitive), so no operator secret reaches
//! an agent. All files are written atomically with their final mode.

use std::io;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};

use super::argv::{MCP_CONFIG_FILE, PROMPT_FILE};
use crate::util::fsx::{self, PRIVATE_FILE};

/// One HTTP MCP server of `.mcp.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServer {
    pub name: String,
    pub url: String,
    /// Sent as `Authorization: Bearer <token>`; no `headers` when absent.
    pub token: Option<String>,
}

/// Replace `path` with a complete new file (temp file with `mode` from the start, the old
/// file unlinked, then the temp renamed into place), without fsync. A reader never sees a
/// torn or wider-mode file. Unlinking first (instead of renaming over the old file, or
/// truncating it) avoids ext4's `auto_da_alloc` flush on replace, which measured ~4 ms per
/// file on the turn's path; the file is absent for an instant, which is harmless because
/// only this agent's next `claude` reads it and an agent's turns never overlap.
pub fn write_replace(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp-{}", crate::util::rand::token(6)));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        drop(f);
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The private dir of an agent.
pub fn private_dir(sessions_dir: &Path, name: &str) -> PathBuf {
    sessions_dir.join(name)
}

/// `.mcp.json` content: `{"mcpServers":{…}}`, 2-space indent, no trailing newline.
pub fn mcp_config_json(servers: &[McpServer]) -> String {
    let mut map = Map::new();
    for s in servers {
        let mut entry = json!({"type": "http", "url": s.url});
        if let Some(t) = &s.token {
            entry["headers"] = json!({"Authorization": format!("Bearer {t}")});
        }
        map.insert(s.name.clone(), entry);
    }
    serde_json::to_string_pretty(&json!({ "mcpServers": map })).unwrap_or_default()
}

/// Write every per-turn file: `W/.mcp.json`, the prompt file (when `prompt` is set),
/// `W/tmp/` and the home seed for `cwd`. `operator_home` is the daemon's `HOME`.
pub fn prepare(
    w: &Path,
    servers: &[McpServer],
    prompt: Option<&str>,
    cwd: &Path,
    operator_home: Option<&Path>,
) -> io::Result<()> {
    if !w.is_dir() {
        fsx::ensure_private_dir(w)?;
    }
    write_replace(
        &w.join(MCP_CONFIG_FILE),
        mcp_config_json(servers).as_bytes(),
        PRIVATE_FILE,
    )?;
    if let Some(p) = prompt {
        write_replace(&w.join(PROMPT_FILE), p.as_bytes(), PRIVATE_FILE)?;
    }
    std::fs::create_dir_all(w.join("tmp"))?;
    seed_home(w, servers, cwd, operator_home)
}

/// Seed `W/home/.claude/{.claude.json,settings.json}` once (spec 04 §2.2).
pub fn seed_home(
    w: &Path,
    servers: &[McpServer],
    cwd: &Path,
    operator_home: Option<&Path>,
) -> io::Result<()> {
    let dir = w.join("home/.claude");
    std::fs::create_dir_all(&dir)?;
    let cfg = dir.join(".claude.json");
    if !cfg.exists() {
        let base = operator_home
            .and_then(|h| std::fs::read_to_string(h.join(".claude.json")).ok())
            .and_then(|t| serde_json::from_str::<Value>(&t).ok());
        let seed = seed_config(base, servers, cwd);
        fsx::write_json_atomic(&cfg, &seed, PRIVATE_FILE)?;
    }
    let settings = dir.join("settings.json");
    if !settings.exists() {
        fsx::write_json_atomic(
            &settings,
            &json!({"skipDangerousModePermissionPrompt": true}),
            PRIVATE_FILE,
        )?;
    }
    Ok(())
}

fn is_secret_key(k: &str) -> bool {
    let l = k.to_ascii_lowercase();
    matches!(
        k,
        "mcpServers" | "primaryApiKey" | "customApiKeyResponses" | "oauthAccount"
    ) || l.contains("token")
        || l.contains("apikey")
        || l.contains("oauth")
}

/// The seeded `.claude.json`: the operator's config minus secrets, onboarding done, and
/// exactly one trusted project (the turn's cwd) with this turn's servers enabled.
pub fn seed_config(base: Option<Value>, servers: &[McpServer], cwd: &Path) -> Value {
    let mut obj = match base {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    obj.retain(|k, _| !is_secret_key(k));
    obj.insert("hasCompletedOnboarding".into(), Value::Bool(true));
    let names: Vec<&str> = servers.iter().map(|s| s.name.as_str()).collect();
    let mut projects = Map::new();
    projects.insert(
        cwd.to_string_lossy().into_owned(),
        json!({
            "hasTrustDialogAccepted": true,
            "hasCompletedProjectOnboarding": true,
            "enabledMcpjsonServers": names,
            "enableAllProjectMcpServers": true
        }),
    );
    obj.insert("projects".into(), Value::Object(projects));
    Value::Object(obj)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_modes_and_contents() {
        let st = tempfile::tempdir().unwrap();
        let home = tempfile::tempdir().unwrap();
        std::fs::write(
            home.path().join(".claude.json"),
            r#"{"theme":"dark","oauthAccount":{"x":1},"primaryApiKey":"k","mcpServers":{},"projects":{"/a":{}},"someTokenCache":"t"}"#,
        )
        .unwrap();
        let w = private_dir(st.path(), "eng");
        let servers = vec![McpServer {
            name: "parachute-vault-v".into(),
            url: "http://127.0.0.1:1940/vault/v/mcp".into(),
            token: Some("tok".into()),
        }];
        prepare(&w, &servers, Some("be nice"), &w, Some(home.path())).unwrap();
        let mcp = std::fs::read_to_string(w.join(".mcp.json")).unwrap();
        assert!(!mcp.ends_with('\n'));
        let v: Value = serde_json::from_str(&mcp).unwrap();
        assert_eq!(
            v,
            json!({"mcpServers":{"parachute-vault-v":{"type":"http","url":"http://127.0.0.1:1940/vault/v/mcp","headers":{"Authorization":"Bearer tok"}}}})
        );
        assert_eq!(mode(&w.join(".mcp.json")), 0o600);
        assert_eq!(
            std::fs::read_to_string(w.join("system-prompt.txt")).unwrap(),
            "be nice"
        );
        assert_eq!(mode(&w.join("system-prompt.txt")), 0o600);
        assert!(w.join("tmp").is_dir());
        let seed: Value = serde_json::from_str(
            &std::fs::read_to_string(w.join("home/.claude/.claude.json")).unwrap(),
        )
        .unwrap();
        let key = w.to_string_lossy().into_owned();
        assert_eq!(seed["theme"], "dark");
        assert_eq!(seed["hasCompletedOnboarding"], true);
        for gone in [
            "oauthAccount",
            "primaryApiKey",
            "mcpServers",
            "someTokenCache",
        ] {
            assert!(seed.get(gone).is_none(), "{gone}");
        }
        assert_eq!(seed["projects"].as_object().unwrap().len(), 1);
        assert_eq!(
            seed["projects"][&key]["enabledMcpjsonServers"],
            json!(["parachute-vault-v"])
        );
        assert_eq!(mode(&w.join("home/.claude/.claude.json")), 0o600);
        assert_eq!(
            std::fs::read_to_string(w.join("home/.claude/settings.json")).unwrap(),
            "{\n  \"skipDangerousModePermissionPrompt\": true\n}\n"
        );
        // Seed is written only once; .mcp.json is rewritten every turn.
        prepare(&w, &[], None, Path::new("/elsewhere"), None).unwrap();
        let again = std::fs::read_to_string(w.join("home/.claude/.claude.json")).unwrap();
        assert!(again.contains(&key));
        assert_eq!(
            std::fs::read_to_string(w.join(".mcp.json")).unwrap(),
            "{\n  \"mcpServers\": {}\n}"
        );
    }
}

//! The state-dir checks: the directory and every secret file owned by the daemon's user
//! with no group/other access; `channels.json` and `agent-vaults.json` parse.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::Check;
use crate::config::Config;

/// State files that hold secrets (mode 0600 expected).
const SECRET_FILES: [&str; 7] = [
    "channels.json",
    "credentials.json",
    "step-up.json",
    "agent-vaults.json",
    "local-issuer.key",
    "mcp-sessions.json",
    ".env",
];

fn uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

pub fn checks(config: &Config, out: &mut Vec<Check>) {
    let dir = &config.state_dir;
    out.push(state_dir(dir));
    for name in SECRET_FILES {
        if let Some(c) = secret_file(&dir.join(name)) {
            out.push(c);
        }
    }
    out.push(channels(dir));
    out.push(agent_vaults(dir));
}

fn state_dir(dir: &Path) -> Check {
    let name = "state dir";
    let meta = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(_) => {
            return Check::ok(
                name,
                format!(
                    "{} does not exist yet (serve creates it 0700)",
                    dir.display()
                ),
            )
        }
    };
    if !meta.is_dir() {
        return Check::fail(
            name,
            format!("{} is not a directory", dir.display()),
            format!(
                "move it away; serve creates {} as a 0700 directory",
                dir.display()
            ),
        );
    }
    let mode = meta.mode() & 0o777;
    if meta.uid() != uid() {
        return Check::fail(
            name,
            format!(
                "{} is owned by uid {}, not by this user (uid {})",
                dir.display(),
                meta.uid(),
                uid()
            ),
            format!(
                "run doctor as the daemon's user, or: chown -R $(id -u):$(id -g) {}",
                dir.display()
            ),
        );
    }
    if mode & 0o077 != 0 {
        return Check::fail(
            name,
            format!(
                "{} has mode {mode:04o}: other users can reach its secrets",
                dir.display()
            ),
            format!("chmod 700 {}", dir.display()),
        );
    }
    Check::ok(name, format!("{} (mode {mode:04o}, ours)", dir.display()))
}

fn secret_file(path: &Path) -> Option<Check> {
    let meta = std::fs::metadata(path).ok()?;
    let label = path.file_name()?.to_string_lossy().into_owned();
    let mode = meta.mode() & 0o777;
    Some(if meta.uid() != uid() {
        Check::fail(
            &label,
            format!("owned by uid {}, not by this user", meta.uid()),
            format!("chown $(id -u):$(id -g) {}", path.display()),
        )
    } else if mode & 0o077 != 0 {
        Check::fail(
            &label,
            format!("mode {mode:04o}: it holds secrets other users can read"),
            format!("chmod 600 {}", path.display()),
        )
    } else {
        Check::ok(&label, format!("mode {mode:04o}"))
    })
}

fn channels(dir: &Path) -> Check {
    let path = dir.join(crate::channels::store::FILE);
    match crate::channels::store::load(&path) {
        Ok(None) => Check::ok("channels.json parses", "no channels.json: the daemon starts idle"),
        Ok(Some(entries)) => {
            let names: Vec<String> = entries
                .iter()
                .map(|e| format!("{}→{}", e.name, e.transport))
                .collect();
            Check::ok("channels.json parses", format!("{} channel(s): {}", names.len(), names.join(", ")))
        }
        Err(e) => Check::fail(
            "channels.json parses",
            e,
            format!("fix or remove {} (serve exits 1 on it): {{\"channels\":[{{\"name\",\"transport\",\"config\"?}}]}}", path.display()),
        ),
    }
}

fn agent_vaults(dir: &Path) -> Check {
    let path = crate::agents::vaults::file_path(dir);
    match crate::agents::vaults::load(&path) {
        Ok(None) => Check::ok("agent-vaults.json parses", "no agent-vaults.json (no def-vault bound)"),
        Ok(Some(b)) => Check::ok("agent-vaults.json parses", format!("{} def-vault(s)", b.len())),
        Err(e) => Check::fail(
            "agent-vaults.json parses",
            e.to_string(),
            format!("fix {} ({{\"vaults\":[{{\"vault\",\"vaultUrl\"?,\"token\"}}]}}) or re-bind with POST /api/agent-vaults", path.display()),
        ),
    }
}

//! One-time sign-in links for the standalone web UI ([ext], spec 06 §3.2 "a standalone Rust
//! build may offer…"): `parachute-agent login-url` runs in its own process, so it hands the
//! code to the daemon through the state dir. It writes only the SHA-256 of a fresh random
//! code (with its expiry) into `<state>/ui-login-codes.json` (0600, atomic rename) and prints
//! the link with the code in the URL *fragment* (never sent to a server, so never in a log
//! or a `Referer`). The daemon's `POST /api/ui/login {code}` removes a matching unexpired
//! entry (single use) and answers a short-lived local `agent:read agent:send agent:admin`
//! token that the page keeps in memory only. Both sides take an exclusive `flock` on
//! `<state>/ui-login-codes.lock` around their read-modify-write, so a link printed while
//! the daemon redeems another is never lost.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::util::{fsx, rand, secret_eq, time};

pub const CODES_FILE: &str = "ui-login-codes.json";
const LOCK_FILE: &str = "ui-login-codes.lock";
/// How long a printed link stays redeemable.
pub const CODE_TTL: Duration = Duration::from_secs(300);
/// Lifetime of the token a code buys (the page cannot renew it; a new link can).
pub const TOKEN_TTL: Duration = Duration::from_secs(3600);
/// Scopes of that token: what the hub's `/admin/agent-token` hands the SPA (spec 06 §3.2).
pub const TOKEN_SCOPES: [&str; 3] = ["agent:read", "agent:send", "agent:admin"];
/// Outstanding codes kept at most (the oldest go first).
const MAX_CODES: usize = 16;

#[derive(Serialize, Deserialize, Default)]
struct CodesFile {
    codes: Vec<Entry>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Entry {
    /// Hex SHA-256 of the code.
    sha256: String,
    /// Unix seconds.
    expires_at: u64,
}

/// The exclusive advisory lock held while the codes file is read and rewritten; closing
/// the file (on drop) releases it.
struct CodesLock {
    _file: File,
}

impl CodesLock {
    fn take(state_dir: &Path) -> std::io::Result<CodesLock> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(state_dir.join(LOCK_FILE))?;
        // SAFETY: flock on a file descriptor this function owns; released on close.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(CodesLock { _file: file })
    }
}

fn codes_path(state_dir: &Path) -> PathBuf {
    state_dir.join(CODES_FILE)
}

fn hash(code: &str) -> String {
    Sha256::digest(code.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read(state_dir: &Path) -> CodesFile {
    fsx::read_optional(&codes_path(state_dir))
        .ok()
        .flatten()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn write(state_dir: &Path, file: &CodesFile) -> std::io::Result<()> {
    fsx::write_json_atomic(&codes_path(state_dir), file, fsx::PRIVATE_FILE)
}

/// Creates a fresh code, stores its hash, and returns the code (for the printed link).
pub fn issue(state_dir: &Path) -> std::io::Result<String> {
    fsx::ensure_private_dir(state_dir)?;
    let _lock = CodesLock::take(state_dir)?;
    let now = time::now_secs();
    let code = rand::token(24);
    let mut file = read(state_dir);
    file.codes.retain(|e| e.expires_at > now);
    file.codes.push(Entry {
        sha256: hash(&code),
        expires_at: now + CODE_TTL.as_secs(),
    });
    let excess = file.codes.len().saturating_sub(MAX_CODES);
    file.codes.drain(..excess);
    write(state_dir, &file)?;
    Ok(code)
}

/// Consumes `code` if it is outstanding and unexpired. Expired entries are pruned.
pub fn redeem(state_dir: &Path, code: &str) -> std::io::Result<bool> {
    let _lock = CodesLock::take(state_dir)?;
    let now = time::now_secs();
    let wanted = hash(code);
    let mut file = read(state_dir);
    let before = file.codes.len();
    let mut hit = false;
    file.codes.retain(|e| {
        let matches = secret_eq(e.sha256.as_bytes(), wanted.as_bytes());
        hit |= matches && e.expires_at > now;
        !matches && e.expires_at > now
    });
    if file.codes.len() != before {
        write(state_dir, &file)?;
    }
    Ok(hit)
}

/// `parachute-agent login-url`: issues a code and prints the link alone on stdout (so
/// scripts can `$(…)` it), a reminder of its limits on stderr. Returns the exit code.
pub fn print_link(state_dir: &Path, port: u16) -> i32 {
    match issue(state_dir) {
        Ok(code) => {
            println!("http://127.0.0.1:{port}/app/#login={code}");
            eprintln!(
                "parachute-agent: open the link within {} minutes; it works once and signs \
                 the page in for {} minutes",
                CODE_TTL.as_secs() / 60,
                TOKEN_TTL.as_secs() / 60
            );
            0
        }
        Err(e) => {
            eprintln!(
                "parachute-agent: cannot write {}: {e}",
                codes_path(state_dir).display()
            );
            1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_redeems_once_and_the_file_holds_only_its_hash() {
        let dir = tempfile::tempdir().unwrap();
        let code = issue(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(CODES_FILE)).unwrap();
        assert!(!text.contains(&code));
        assert!(text.contains(&hash(&code)));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join(CODES_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!redeem(dir.path(), "wrong").unwrap());
        assert!(redeem(dir.path(), &code).unwrap());
        assert!(!redeem(dir.path(), &code).unwrap(), "single use");
    }

    #[test]
    fn an_expired_code_does_not_redeem() {
        let dir = tempfile::tempdir().unwrap();
        let code = "c0de";
        let file = CodesFile {
            codes: vec![Entry {
                sha256: hash(code),
                expires_at: time::now_secs() - 1,
            }],
        };
        write(dir.path(), &file).unwrap();
        assert!(!redeem(dir.path(), code).unwrap());
        assert!(read(dir.path()).codes.is_empty(), "pruned");
    }

    #[test]
    fn outstanding_codes_are_capped() {
        let dir = tempfile::tempdir().unwrap();
        let first = issue(dir.path()).unwrap();
        for _ in 0..MAX_CODES {
            issue(dir.path()).unwrap();
        }
        assert_eq!(read(dir.path()).codes.len(), MAX_CODES);
        assert!(
            !redeem(dir.path(), &first).unwrap(),
            "the oldest went first"
        );
    }
}

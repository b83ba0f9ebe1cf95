//! `parachute-agent operator-exec <launch file>` (hidden): what tmux runs for an operator
//! session ([`super::operator`]). Reads the command, its whole environment and cwd from the
//! 0600 launch file and deletes the file, re-opens the daemon's liveness pipe under the fd
//! number the sandbox helper was told (`/proc/<daemon>/fd/<n>`; a daemon that is gone makes
//! this fail, so nothing starts), then execs the command with exactly that environment.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::sandbox::launch::LaunchSpec;

pub const SUBCOMMAND: &str = "operator-exec";

/// The launch file's content.
#[derive(Debug, Serialize, Deserialize)]
pub struct LaunchFile {
    pub program: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// The daemon and the fd number of its liveness pipe's read end, if it has one.
    pub daemon_pid: u32,
    pub alive_fd: Option<i32>,
}

fn text(s: &std::ffi::OsStr) -> std::io::Result<String> {
    s.to_str()
        .map(str::to_string)
        .ok_or_else(|| std::io::Error::other("not UTF-8"))
}

impl LaunchFile {
    pub fn from_command(cmd: &LaunchSpec) -> LaunchFile {
        let lossy = |s: &std::ffi::OsStr| text(s).unwrap_or_else(|_| s.to_string_lossy().into());
        LaunchFile {
            program: lossy(&cmd.program),
            args: cmd.args.iter().map(|a| lossy(a)).collect(),
            env: cmd.env.iter().map(|(k, v)| (lossy(k), lossy(v))).collect(),
            cwd: cmd.cwd.clone(),
            daemon_pid: std::process::id(),
            alive_fd: crate::sandbox::liveness::read_fd(),
        }
    }

    /// Written atomically, mode 0600 (it carries the agent's credentials).
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        crate::util::fsx::write_json_atomic(path, self, crate::util::fsx::PRIVATE_FILE)
    }
}

/// Runs the shim; returns only on failure (exit code).
pub fn run(args: Vec<OsString>) -> i32 {
    let Some(path) = args.first().map(PathBuf::from) else {
        eprintln!("usage: parachute-agent {SUBCOMMAND} <launch file>");
        return 2;
    };
    let launch: LaunchFile = match std::fs::read(&path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(l) => l,
        Err(e) => {
            eprintln!("operator session: cannot read {}: {e}", path.display());
            return 1;
        }
    };
    let _ = std::fs::remove_file(&path);
    if let Some(fd) = launch.alive_fd {
        if let Err(e) = reopen_liveness(launch.daemon_pid, fd) {
            eprintln!("operator session: the daemon is gone ({e}); not starting");
            return 1;
        }
    }
    let err = std::process::Command::new(&launch.program)
        .args(&launch.args)
        .env_clear()
        .envs(launch.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&launch.cwd)
        .exec();
    eprintln!("operator session: cannot run {}: {err}", launch.program);
    1
}

/// Opens the daemon's pipe end as our fd `fd` (inherited by the exec'd command).
fn reopen_liveness(pid: u32, fd: i32) -> std::io::Result<()> {
    use std::os::fd::IntoRawFd;
    let file = std::fs::File::open(format!("/proc/{pid}/fd/{fd}"))?;
    let raw = file.into_raw_fd();
    if raw != fd {
        // SAFETY: dup2 onto the fd number the helper expects; `raw` is ours to close.
        unsafe {
            if libc::dup2(raw, fd) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            libc::close(raw);
        }
    }
    // SAFETY: clears close-on-exec on an fd we own, so the command inherits it.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    Ok(())
}

//! tmux, as the terminal uses it: finding the binary, the session name of an agent
//! (`<agent>-agent`, spec 06 §2.1) and the viewer command (§2.4).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::pty::ViewerCommand;

/// `tmux` on `path` (the daemon's `PATH`, read once into `Config::host`).
pub fn find(path: Option<&OsStr>) -> Option<PathBuf> {
    crate::sandbox::preflight::which_in("tmux", path)
}

/// The tmux session an agent's terminal attaches to.
pub fn session_name(agent: &str) -> String {
    format!("{agent}-agent")
}

/// `tmux attach -t =<agent>-agent` with the daemon's environment plus
/// `TERM=xterm-256color` (under systemd there is no `TERM`, and tmux refuses to start
/// without one) and without `TMUX` (a daemon started inside tmux would make the viewer
/// refuse to nest).
pub fn viewer_command(tmux: &Path, agent: &str) -> ViewerCommand {
    ViewerCommand {
        program: tmux.as_os_str().to_owned(),
        args: vec![
            "attach".into(),
            "-t".into(),
            format!("={}", session_name(agent)).into(),
        ],
        set_env: vec![("TERM".into(), "xterm-256color".into())],
        remove_env: vec![OsString::from("TMUX"), OsString::from("TMUX_PANE")],
    }
}

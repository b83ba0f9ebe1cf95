//! [ext] Operator sessions (the reference never creates the tmux session its
//! terminal attaches to): `<agent>-agent` runs an interactive `claude` inside the agent's
//! own sandbox, workspace, environment and credentials, so the browser terminal has
//! something to attach to and an operator can watch and steer the agent by hand.
//!
//! The command (built by the turn engine and wrapped by the sandbox launcher) carries
//! secrets in its environment, which must reach the process exactly and never appear on a
//! command line (`/proc/<pid>/cmdline` is world-readable) nor in the tmux server's
//! environment. So tmux runs our own executable, `parachute-agent operator-exec <file>`
//! ([`super::exec_shim`]): the file (0600, in the agent's private dir) holds the command and
//! its environment; the shim reads and deletes it, re-opens the daemon-liveness pipe (so the
//! session dies with the daemon, like a turn) and execs the sandbox.
//!
//! A watcher thread per session polls `tmux has-session`; when the session is gone
//! (`claude` exited, `DELETE`, `tmux kill-session`) it runs the session's end hook (the
//! caller releases the agent's turn hold there) and drops the launcher's guard (per-session
//! proxies of a restricted agent).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::exec_shim::{LaunchFile, SUBCOMMAND};
use super::tmux::session_name;
use crate::sandbox::launch::PreparedLaunch;

/// How often a watcher checks that its session is still there.
const WATCH_EVERY: Duration = Duration::from_millis(500);

/// Runs when a session ends (whatever ended it).
pub type EndHook = Box<dyn FnOnce() + Send>;

/// Runs its hook when dropped: exactly once, even if the watcher never ran.
struct OnEnd(Option<EndHook>);

impl Drop for OnEnd {
    fn drop(&mut self) {
        if let Some(hook) = self.0.take() {
            hook();
        }
    }
}

/// What starting a session needs.
pub struct StartRequest {
    pub agent: String,
    pub tmux: PathBuf,
    /// The sandboxed command and its guard (from the turn engine + launcher).
    pub launch: PreparedLaunch,
    /// The agent's private dir (holds the launch file for a moment).
    pub private_dir: PathBuf,
    /// Our own executable (runs the shim).
    pub self_exe: PathBuf,
    pub on_end: EndHook,
}

/// Why a session could not start.
#[derive(Debug)]
pub enum StartError {
    AlreadyRunning,
    Failed(String),
}

struct Live {
    tmux: PathBuf,
}

/// The operator sessions this daemon started.
#[derive(Default, Clone)]
pub struct OperatorSessions {
    live: Arc<Mutex<HashMap<String, Live>>>,
}

fn tmux_cmd(tmux: &Path) -> Command {
    let mut c = Command::new(tmux);
    c.env_remove("TMUX")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

/// Whether tmux has a session of exactly this name.
pub fn has_session(tmux: &Path, name: &str) -> bool {
    tmux_cmd(tmux)
        .args(["has-session", "-t", &format!("={name}")])
        .status()
        .is_ok_and(|s| s.success())
}

impl OperatorSessions {
    pub fn running(&self, agent: &str) -> bool {
        self.live.lock().contains_key(agent)
    }

    /// Starts `<agent>-agent` in tmux; the watcher takes over from there.
    pub fn start(&self, req: StartRequest) -> Result<(), StartError> {
        let name = session_name(&req.agent);
        let mut live = self.live.lock();
        if live.contains_key(&req.agent) || has_session(&req.tmux, &name) {
            return Err(StartError::AlreadyRunning);
        }
        let file = req.private_dir.join(".operator-launch.json");
        LaunchFile::from_command(&req.launch.command)
            .write(&file)
            .map_err(|e| StartError::Failed(format!("cannot write the launch file: {e}")))?;
        let out = tmux_cmd(&req.tmux)
            .args([
                "new-session",
                "-d",
                "-s",
                &name,
                "-x",
                "200",
                "-y",
                "50",
                "--",
            ])
            .arg(&req.self_exe)
            .arg(SUBCOMMAND)
            .arg(&file)
            .output();
        let failed = match &out {
            Ok(o) if o.status.success() => None,
            Ok(o) => Some(String::from_utf8_lossy(&o.stderr).trim().to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(why) = failed {
            let _ = std::fs::remove_file(&file);
            return Err(StartError::Failed(format!(
                "tmux new-session failed: {why}"
            )));
        }
        live.insert(
            req.agent.clone(),
            Live {
                tmux: req.tmux.clone(),
            },
        );
        drop(live);
        log::info!("operator session {name} started");
        self.watch(req.agent, req.tmux, req.launch.guard, req.on_end);
        Ok(())
    }

    fn watch(
        &self,
        agent: String,
        tmux: PathBuf,
        guard: crate::sandbox::launch::LaunchGuard,
        on_end: EndHook,
    ) {
        let live = self.live.clone();
        let name = session_name(&agent);
        let on_end = OnEnd(Some(on_end));
        let thread = format!("operator-{agent}");
        let spawned = std::thread::Builder::new()
            .name(thread.clone())
            .spawn(move || {
                while has_session(&tmux, &name) {
                    std::thread::sleep(WATCH_EVERY);
                }
                live.lock().remove(&agent);
                drop(guard);
                drop(on_end);
                log::info!("operator session {name} ended");
            });
        if let Err(e) = spawned {
            // The closure (and with it the hook) is dropped: the hold is released.
            log::error!("{thread}: no watcher thread ({e})");
            self.live.lock().remove(&thread["operator-".len()..]);
        }
    }

    /// Ends the agent's session (the watcher then releases it). False if none was running.
    pub fn stop(&self, agent: &str) -> bool {
        let tmux = match self.live.lock().get(agent) {
            Some(l) => l.tmux.clone(),
            None => return false,
        };
        let _ = tmux_cmd(&tmux)
            .args(["kill-session", "-t", &format!("={}", session_name(agent))])
            .status();
        true
    }

    /// Ends every session (daemon shutdown).
    pub fn stop_all(&self) {
        let agents: Vec<String> = self.live.lock().keys().cloned().collect();
        for a in agents {
            self.stop(&a);
        }
    }
}

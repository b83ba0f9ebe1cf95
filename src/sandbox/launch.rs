//! The launcher seam (spec 03 §4.8, spec 04 §6.1): the turn engine builds a plain
//! `claude` command ([`LaunchSpec`]) and hands it, with the agent's sandbox inputs
//! ([`LaunchContext`]), to a [`Launcher`]. The launcher returns the command that is really
//! exec'd (e.g. wrapped in `bwrap`) plus a guard for per-turn resources (filtering
//! proxies) that must live until the child has exited. The engine never knows whether or
//! how it is sandboxed; the sandbox never knows about stream-json.

use std::ffi::OsString;
use std::path::PathBuf;

use crate::agents::spec::AgentSpec;

/// A command as a vector (never a shell string) with an explicit, complete environment.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchSpec {
    pub program: OsString,
    pub args: Vec<OsString>,
    /// The child's whole environment: nothing is inherited from the daemon.
    pub env: Vec<(OsString, OsString)>,
    pub cwd: PathBuf,
}

/// What a sandbox needs to know about the turn (paths, modes and hosts; never secrets).
#[derive(Debug, Clone)]
pub struct LaunchContext {
    /// The agent spec (filesystem/network modes, egress, mounts, workspace).
    pub spec: AgentSpec,
    /// The agent's private dir `W` = `<state>/sessions/<name>` (always read+write).
    pub private_dir: PathBuf,
}

/// Per-turn resources (proxies, sockets) released when dropped, after the child exits.
pub type LaunchGuard = Box<dyn Send>;

/// A launch the engine can exec: the final command plus its guard.
pub struct PreparedLaunch {
    pub command: LaunchSpec,
    pub guard: LaunchGuard,
}

/// Why a turn could not be launched. The message is shown to the user (failure note,
/// turn `error` event), so it must never contain a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct LaunchError(pub String);

impl std::fmt::Display for LaunchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LaunchError {}

/// Turns a plain command into the command actually exec'd.
pub trait Launcher: Send + Sync {
    fn prepare(
        &self,
        command: LaunchSpec,
        ctx: &LaunchContext,
    ) -> Result<PreparedLaunch, LaunchError>;
}

/// Runs the command as given, without a sandbox. Only for tests of the turn engine and
/// for explicitly unsandboxed development setups; the daemon's default is the sandbox.
pub struct DirectLauncher;

impl Launcher for DirectLauncher {
    fn prepare(
        &self,
        command: LaunchSpec,
        _ctx: &LaunchContext,
    ) -> Result<PreparedLaunch, LaunchError> {
        Ok(PreparedLaunch {
            command,
            guard: Box::new(()),
        })
    }
}

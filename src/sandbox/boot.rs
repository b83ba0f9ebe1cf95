//! The daemon's sandbox handle and its boot step (spec 04 §5, §6.1): the preflight runs
//! once before channels load, its result goes to `/health.dependencies`, and the
//! [`BwrapLauncher`] becomes the launcher every programmatic turn goes through: the
//! engine holds `state.sandbox.launcher()`, which forwards to the installed launcher.
//! Until boot installs it — and in bare handler tests — every turn is refused: nothing
//! ever runs unsandboxed by default.

use std::sync::Arc;

use parking_lot::RwLock;

use super::launcher::{BwrapLauncher, SandboxSettings};
use super::preflight::Preflight;
use crate::config::Config;
use crate::sandbox::launch::{LaunchContext, LaunchError, LaunchSpec, Launcher, PreparedLaunch};

/// Result of the boot dependency preflight (`/health.dependencies`, spec 01 §2.1.1).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Dependencies {
    pub ok: bool,
    pub missing: Vec<String>,
    /// [ext] Present but unusable dependencies (e.g. bwrap without user namespaces).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

type Current = Arc<RwLock<Arc<dyn Launcher>>>;

/// Holds the launcher the turn engine must use.
pub struct Sandbox {
    current: Current,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    /// A handle whose launcher refuses every turn until [`boot`] installs the real one.
    pub fn new() -> Sandbox {
        let refuse: Arc<dyn Launcher> =
            Arc::new(FailClosed("the sandbox preflight has not run".into()));
        Sandbox {
            current: Arc::new(RwLock::new(refuse)),
        }
    }

    /// The launcher to give the turn engine: it always forwards to whatever launcher is
    /// installed at the time of the turn (so it can be handed out before boot ran).
    pub fn launcher(&self) -> Arc<dyn Launcher> {
        Arc::new(Delegate(self.current.clone()))
    }

    /// Replace the launcher (boot; tests of the turn engine).
    pub fn install(&self, launcher: Arc<dyn Launcher>) {
        *self.current.write() = launcher;
    }
}

/// Forwards to the currently installed launcher.
struct Delegate(Current);

impl Launcher for Delegate {
    fn prepare(
        &self,
        command: LaunchSpec,
        ctx: &LaunchContext,
    ) -> Result<PreparedLaunch, LaunchError> {
        let current = self.0.read().clone();
        current.prepare(command, ctx)
    }
}

/// A launcher that refuses every turn with the spec's message.
pub struct FailClosed(pub String);

impl Launcher for FailClosed {
    fn prepare(&self, _: LaunchSpec, _: &LaunchContext) -> Result<PreparedLaunch, LaunchError> {
        Err(LaunchError(format!(
            "Sandbox dependencies not available: {}",
            self.0
        )))
    }
}

/// Boot step: preflight (with the daemon's `PATH`), the one warning, the launcher
/// installed into `sandbox`; returns what `/health.dependencies` shows.
pub fn boot(sandbox: &Sandbox, config: &Config, hub_origin: String) -> Dependencies {
    let preflight = Preflight::run(config.host.path.as_deref());
    match preflight.warning() {
        Some(w) => eprintln!("{w}"),
        None => log::info!("sandbox: bwrap and claude found; turns run in bubblewrap"),
    }
    let dependencies = Dependencies {
        ok: preflight.ok(),
        missing: preflight.missing().iter().map(|s| s.to_string()).collect(),
        problems: preflight.problems(),
    };
    let settings = SandboxSettings::for_daemon(
        &preflight,
        &config.state_dir,
        Some(hub_origin).filter(|h| !h.is_empty()),
        Some(config.vault_url.clone()),
        &config.host,
    );
    match settings {
        Ok(s) => sandbox.install(Arc::new(BwrapLauncher::new(&preflight, s))),
        Err(e) => {
            log::error!("sandbox: cannot locate our own executable ({e}); every turn will fail");
            sandbox.install(Arc::new(FailClosed(format!(
                "cannot locate the parachute-agent executable: {e}"
            ))));
        }
    }
    dependencies
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::launch::DirectLauncher;

    #[test]
    fn refuses_until_installed_then_forwards() {
        let sandbox = Sandbox::new();
        let handed_out = sandbox.launcher();
        let spec =
            serde_json::from_value(serde_json::json!({"name": "a", "channels": ["a"]})).unwrap();
        let ctx = LaunchContext {
            spec,
            private_dir: "/w".into(),
        };
        let cmd = LaunchSpec {
            program: "claude".into(),
            args: vec![],
            env: vec![],
            cwd: "/w".into(),
        };
        let err = handed_out.prepare(cmd.clone(), &ctx).err().unwrap();
        assert!(
            err.0.starts_with("Sandbox dependencies not available: "),
            "{err}"
        );
        sandbox.install(Arc::new(DirectLauncher));
        assert_eq!(handed_out.prepare(cmd.clone(), &ctx).unwrap().command, cmd);
    }
}

//! The daemon's sandbox handle and its boot step (spec 04 §5, §6.1): the preflight runs
//! once before channels load, its result goes to `/health.dependencies`, and the
//! [`BwrapLauncher`] becomes the launcher every programmatic turn goes through
//! (`state.sandbox.launcher()`). Until then — and in bare handler tests — the launcher
//! refuses every turn: nothing ever runs unsandboxed by default.

use std::sync::Arc;

use parking_lot::RwLock;

use super::launcher::{BwrapLauncher, SandboxSettings};
use super::preflight::Preflight;
use crate::backend::launch::{LaunchContext, LaunchError, LaunchSpec, Launcher, PreparedLaunch};
use crate::state::{AppState, Dependencies};

/// Default vault URL of the restricted-mode allowlist (spec 04 §1.1).
const DEFAULT_VAULT_URL: &str = "http://127.0.0.1:1940";

/// Holds the launcher the turn engine must use.
pub struct Sandbox {
    launcher: RwLock<Arc<dyn Launcher>>,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

impl Sandbox {
    /// A handle whose launcher refuses every turn until [`boot`] installs the real one.
    pub fn new() -> Sandbox {
        Sandbox {
            launcher: RwLock::new(Arc::new(FailClosed(
                "the sandbox preflight has not run".into(),
            ))),
        }
    }

    /// The launcher for the next turn.
    pub fn launcher(&self) -> Arc<dyn Launcher> {
        self.launcher.read().clone()
    }

    /// Replace the launcher (boot; tests of the turn engine).
    pub fn install(&self, launcher: Arc<dyn Launcher>) {
        *self.launcher.write() = launcher;
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

/// Boot step: preflight (with the daemon's `PATH`), the one warning, `/health`, launcher.
pub fn boot(state: &AppState) -> Preflight {
    let preflight = Preflight::run(std::env::var_os("PATH").as_deref());
    match preflight.warning() {
        Some(w) => eprintln!("{w}"),
        None => log::info!("sandbox: bwrap and claude found; turns run in bubblewrap"),
    }
    *state.health.dependencies.write() = Some(Dependencies {
        ok: preflight.ok(),
        missing: preflight.missing().iter().map(|s| s.to_string()).collect(),
        problems: preflight.problems(),
    });
    let hub = state.auth.hub_origin();
    let vault = crate::config::env_nonempty("PARACHUTE_VAULT_URL")
        .unwrap_or_else(|| DEFAULT_VAULT_URL.to_string());
    let settings = SandboxSettings::for_daemon(
        &preflight,
        &state.config.state_dir,
        Some(hub).filter(|h| !h.is_empty()),
        Some(vault),
    );
    match settings {
        Ok(s) => state
            .sandbox
            .install(Arc::new(BwrapLauncher::new(&preflight, s))),
        Err(e) => {
            log::error!("sandbox: cannot locate our own executable ({e}); every turn will fail");
            state.sandbox.install(Arc::new(FailClosed(format!(
                "cannot locate the parachute-agent executable: {e}"
            ))));
        }
    }
    preflight
}

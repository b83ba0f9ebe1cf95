//! The daemon's sandbox handle and its boot step (spec 04 §5, §6.1): the preflight runs
//! once at boot on a thread of its own ([`start`]; the listener answers meanwhile and
//! `/health.dependencies` says `checking: true`), its result goes to
//! `/health.dependencies`, and the [`BwrapLauncher`] becomes the launcher every
//! programmatic turn goes through: the engine holds `state.sandbox.launcher()`, which
//! forwards to the installed launcher. A turn that arrives while the preflight runs waits
//! for its result (bounded by [`PREFLIGHT_WAIT`]); in bare handler tests, where no
//! preflight ever starts, every turn is refused at once: nothing ever runs unsandboxed by
//! default.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

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
    /// [ext] The preflight is still running (its own thread at boot): `ok` is false and
    /// `missing` empty until it is done. Absent once done.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub checking: bool,
}

impl Dependencies {
    /// What `/health` shows while the boot preflight runs.
    pub fn checking() -> Dependencies {
        Dependencies {
            ok: false,
            missing: Vec::new(),
            problems: Vec::new(),
            checking: true,
        }
    }
}

/// How long a turn waits for a preflight still running (its probes are bounded by 10 s
/// each) before it is refused.
pub const PREFLIGHT_WAIT: Duration = Duration::from_secs(60);

/// Where the launcher stands: refused until a preflight starts, pending while it runs.
enum Phase {
    NotStarted(Arc<dyn Launcher>),
    Pending,
    Installed(Arc<dyn Launcher>),
}

struct Shared {
    phase: Mutex<Phase>,
    changed: Condvar,
}

impl Shared {
    /// The launcher to use now, waiting up to `wait` while the preflight is pending.
    fn current(&self, wait: Duration) -> Arc<dyn Launcher> {
        let deadline = Instant::now() + wait;
        let mut phase = self.phase.lock();
        loop {
            match &*phase {
                Phase::NotStarted(l) | Phase::Installed(l) => return l.clone(),
                Phase::Pending => {
                    if self.changed.wait_until(&mut phase, deadline).timed_out() {
                        return Arc::new(FailClosed(
                            "the sandbox preflight did not finish in time".into(),
                        ));
                    }
                }
            }
        }
    }
}

/// Holds the launcher the turn engine must use.
pub struct Sandbox {
    shared: Arc<Shared>,
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
            shared: Arc::new(Shared {
                phase: Mutex::new(Phase::NotStarted(refuse)),
                changed: Condvar::new(),
            }),
        }
    }

    /// The launcher to give the turn engine: it always forwards to whatever launcher is
    /// installed at the time of the turn (so it can be handed out before boot ran).
    pub fn launcher(&self) -> Arc<dyn Launcher> {
        Arc::new(Delegate(self.shared.clone()))
    }

    /// The preflight started: turns wait for [`Sandbox::install`] instead of failing.
    pub fn mark_pending(&self) {
        *self.shared.phase.lock() = Phase::Pending;
    }

    /// Replace the launcher (boot; tests of the turn engine); wakes waiting turns.
    pub fn install(&self, launcher: Arc<dyn Launcher>) {
        *self.shared.phase.lock() = Phase::Installed(launcher);
        self.shared.changed.notify_all();
    }
}

/// Forwards to the currently installed launcher.
struct Delegate(Arc<Shared>);

impl Launcher for Delegate {
    fn prepare(
        &self,
        command: LaunchSpec,
        ctx: &LaunchContext,
    ) -> Result<PreparedLaunch, LaunchError> {
        let current = self.0.current(PREFLIGHT_WAIT);
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
        Some(w) => crate::logging::warn_block(&w),
        None => log::info!("sandbox: bwrap and claude found; turns run in bubblewrap"),
    }
    let dependencies = Dependencies {
        ok: preflight.ok(),
        missing: preflight.missing().iter().map(|s| s.to_string()).collect(),
        problems: preflight.problems(),
        checking: false,
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
        let (cmd, ctx) = fixture();
        let err = handed_out.prepare(cmd.clone(), &ctx).err().unwrap();
        assert!(
            err.0.starts_with("Sandbox dependencies not available: "),
            "{err}"
        );
        sandbox.install(Arc::new(DirectLauncher));
        assert_eq!(handed_out.prepare(cmd.clone(), &ctx).unwrap().command, cmd);
    }

    fn fixture() -> (LaunchSpec, LaunchContext) {
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
        (cmd, ctx)
    }

    #[test]
    fn a_turn_during_the_preflight_waits_for_its_result() {
        let sandbox = Sandbox::new();
        sandbox.mark_pending();
        let shared = sandbox.shared.clone();
        let waiter = std::thread::spawn(move || {
            let (cmd, ctx) = fixture();
            shared
                .current(Duration::from_secs(30))
                .prepare(cmd, &ctx)
                .map(|p| p.command.program)
        });
        std::thread::sleep(Duration::from_millis(50));
        assert!(
            !waiter.is_finished(),
            "the turn waits while the preflight runs"
        );
        sandbox.install(Arc::new(FailClosed("bwrap missing".into())));
        let err = waiter.join().unwrap().err().unwrap();
        assert!(err.0.contains("bwrap missing"), "{err}");
    }

    #[test]
    fn a_preflight_that_never_finishes_refuses_the_turn() {
        let stuck = Sandbox::new();
        stuck.mark_pending();
        let (cmd, ctx) = fixture();
        let l = stuck.shared.current(Duration::from_millis(20));
        assert!(l
            .prepare(cmd, &ctx)
            .err()
            .unwrap()
            .0
            .contains("did not finish"));
    }
}

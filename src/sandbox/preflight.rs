//! Boot dependency preflight (spec 04 §5, spec 08 "Health"): resolved once at boot, never
//! re-probed, advisory (never fatal). Checks, in order, `bwrap` and `claude` on the
//! daemon's `PATH` — our restricted mode needs neither `rg` nor `socat` (the in-sandbox
//! helper and the per-turn proxies replace them), so they are not listed.
//!
//! [ext] A `bwrap` that is present but cannot build our sandbox (unprivileged user
//! namespaces disabled, Ubuntu ≥ 23.10 AppArmor restriction — implementation notes §4) is
//! detected by one trial run at boot and reported with the fix, in the boot warning, in
//! `/health.dependencies.problems` and in every failed turn's message.

use std::ffi::OsStr;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const BWRAP_LABEL: &str = "bubblewrap (bwrap)";
const BWRAP_HINT: &str = "apt install bubblewrap";
const CLAUDE_LABEL: &str = "Claude Code CLI (claude)";
const CLAUDE_HINT: &str =
    "curl -fsSL https://claude.ai/install.sh | bash  (native build — no node/npm needed)";
const USERNS_HINT: &str = "unprivileged user namespaces are not allowed: on Ubuntu >= 23.10 \
add an AppArmor profile for bwrap (or sysctl kernel.apparmor_restrict_unprivileged_userns=0); \
elsewhere sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0";
/// [ext] bwrap could not open the netlink socket it brings the
/// sandbox's loopback up with: the classic cause is a systemd unit's address-family filter.
const NETLINK_HINT: &str = "the sandbox cannot open a netlink socket (bwrap --unshare-net brings \
up loopback over AF_NETLINK): under systemd add AF_NETLINK to RestrictAddressFamilies= (as \
scripts/parachute-agent.service does); otherwise a seccomp policy or container runtime blocks \
AF_NETLINK";
/// [ext] The kernel refused bwrap a fresh `/proc`: parts of `/proc` are over-mounted in the
/// daemon's mount namespace, which a user namespace may not hide by mounting a new one.
const PROC_HINT: &str = "the kernel refused the sandbox a fresh /proc because parts of /proc \
are read-only or masked in the daemon's mount namespace: under systemd remove \
ProtectKernelTunables= and ProtectKernelLogs= (and ProtectProc=/ProcSubset=) from the unit \
(as scripts/parachute-agent.service does); in a container, give it an unmasked /proc";
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What the boot preflight found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preflight {
    pub bwrap: Option<PathBuf>,
    pub claude: Option<PathBuf>,
    /// `bwrap` is on `PATH` but the trial sandbox failed: the reason (with a hint).
    pub bwrap_unusable: Option<String>,
}

impl Preflight {
    /// Probe the real system with the daemon's `PATH`.
    pub fn run(path: Option<&OsStr>) -> Preflight {
        let which = |name: &str| which_in(name, path);
        Preflight::run_with(&which, &trial_sandbox)
    }

    /// The probe with injected lookups (unit tests).
    pub fn run_with(
        which: &dyn Fn(&str) -> Option<PathBuf>,
        trial: &dyn Fn(&Path) -> Result<(), String>,
    ) -> Preflight {
        let bwrap = which("bwrap");
        let bwrap_unusable = bwrap.as_deref().and_then(|b| trial(b).err());
        Preflight {
            bwrap,
            claude: which("claude"),
            bwrap_unusable,
        }
    }

    /// Binary names not on `PATH`, in the order `bwrap`, `claude`.
    pub fn missing(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.bwrap.is_none() {
            out.push("bwrap");
        }
        if self.claude.is_none() {
            out.push("claude");
        }
        out
    }

    /// Present but unusable dependencies, one line each with the fix.
    pub fn problems(&self) -> Vec<String> {
        self.bwrap_unusable
            .iter()
            .map(|p| format!("{BWRAP_LABEL}: {p}"))
            .collect()
    }

    /// Everything needed is present and usable.
    pub fn ok(&self) -> bool {
        self.missing().is_empty() && self.bwrap_unusable.is_none()
    }

    /// `/health.dependencies`: `{ok, missing}` (+ `problems` when bwrap is unusable).
    pub fn health_json(&self) -> Value {
        let mut v = json!({ "ok": self.ok(), "missing": self.missing() });
        if self.bwrap_unusable.is_some() {
            v["problems"] = json!(self.problems());
        }
        v
    }

    /// The one boot warning (spec 04 §5), `None` when everything is in place.
    pub fn warning(&self) -> Option<String> {
        let mut lines = Vec::new();
        if self.bwrap.is_none() {
            lines.push(format!("    - {BWRAP_LABEL}: {BWRAP_HINT}"));
        }
        if self.claude.is_none() {
            lines.push(format!("    - {CLAUDE_LABEL}: {CLAUDE_HINT}"));
        }
        let mut out = String::new();
        if !lines.is_empty() {
            let n = lines.len();
            let (deps, be) = if n == 1 {
                ("dependency", "is")
            } else {
                ("dependencies", "are")
            };
            out = format!(
                "parachute-agent: PREFLIGHT — {n} {deps} for programmatic (claude -p) turns {be} \
                 NOT on PATH. Programmatic-backend turns will FAIL until installed \
                 (attached-backend agents are unaffected):\n{}",
                lines.join("\n")
            );
        }
        if let Some(p) = &self.bwrap_unusable {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!(
                "parachute-agent: PREFLIGHT — {BWRAP_LABEL} cannot create the turn sandbox, so \
                 programmatic-backend turns will FAIL: {p}"
            ));
        }
        (!out.is_empty()).then_some(out)
    }

    /// Why no sandboxed turn can start, as the text after
    /// `Sandbox dependencies not available: ` (spec 04 §1.6.1); `None` when it can.
    pub fn sandbox_unavailable(&self) -> Option<String> {
        if self.bwrap.is_none() {
            return Some(format!("{BWRAP_LABEL} not installed"));
        }
        self.bwrap_unusable
            .as_ref()
            .map(|p| format!("{BWRAP_LABEL} cannot create a sandbox: {p}"))
    }
}

/// First regular file with an execute bit named `name` on `path` (`Bun.which`).
pub fn which_in(name: &str, path: Option<&OsStr>) -> Option<PathBuf> {
    if name.contains('/') {
        return is_executable(Path::new(name)).then(|| PathBuf::from(name));
    }
    std::env::split_paths(path?)
        .filter(|d| d.is_absolute())
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Run `bwrap` once with the namespaces a turn uses; `Err` = the reason plus a hint.
pub fn trial_sandbox(bwrap: &Path) -> Result<(), String> {
    let mut child = Command::new(bwrap)
        .args([
            "--new-session",
            "--die-with-parent",
            "--cap-drop",
            "ALL",
            "--unshare-net",
            "--ro-bind",
            "/",
            "/",
            "--dev",
            "/dev",
            "--unshare-pid",
            "--proc",
            "/proc",
            "--",
            "true",
        ])
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bwrap.display()))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() < PROBE_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("trial sandbox timed out".into());
            }
        }
    };
    if status.success() {
        return Ok(());
    }
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    Err(explain_failure(stderr.trim()))
}

/// The trial's stderr with the hint that fits: a blocked netlink socket or a denied
/// `/proc` mount name the systemd directive (they also say "Operation not permitted", so
/// they are told apart first); otherwise the user-namespace hint when it looks like that.
pub fn explain_failure(stderr: &str) -> String {
    let msg = if stderr.is_empty() {
        "trial sandbox failed"
    } else {
        stderr
    };
    if stderr.contains("NETLINK") {
        return format!("{msg} ({NETLINK_HINT})");
    }
    if stderr.contains("mount proc") {
        return format!("{msg} ({PROC_HINT})");
    }
    let userns = [
        "Permission denied",
        "No permissions to create new namespace",
        "setting up uid map",
        "Operation not permitted",
        "Creating new namespace failed",
    ]
    .iter()
    .any(|s| stderr.contains(s));
    if userns {
        format!("{msg} ({USERNS_HINT})")
    } else {
        msg.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_which(present: &'static [&'static str]) -> impl Fn(&str) -> Option<PathBuf> {
        move |n: &str| {
            present
                .contains(&n)
                .then(|| PathBuf::from(format!("/usr/bin/{n}")))
        }
    }

    #[test]
    fn all_present_is_ok_and_silent() {
        let p = Preflight::run_with(&fake_which(&["bwrap", "claude"]), &|_| Ok(()));
        assert_eq!(p.health_json(), json!({"ok": true, "missing": []}));
        assert_eq!(p.warning(), None);
        assert_eq!(p.sandbox_unavailable(), None);
    }

    #[test]
    fn missing_listed_in_order_with_hints() {
        let p = Preflight::run_with(&fake_which(&[]), &|_| panic!("no trial without bwrap"));
        assert_eq!(
            p.health_json(),
            json!({"ok": false, "missing": ["bwrap", "claude"]})
        );
        let w = p.warning().unwrap();
        assert!(w.contains("2 dependencies") && w.contains("are NOT on PATH"));
        assert!(w.contains("Programmatic-backend turns will FAIL"));
        assert!(w.contains("attached-backend agents are unaffected"));
        assert!(
            w.contains("    - bubblewrap (bwrap): apt install bubblewrap\n    - Claude Code CLI")
        );
        assert_eq!(
            p.sandbox_unavailable().unwrap(),
            "bubblewrap (bwrap) not installed"
        );
        let only_claude = Preflight::run_with(&fake_which(&["bwrap"]), &|_| Ok(()));
        assert_eq!(only_claude.missing(), ["claude"]);
        assert!(only_claude.warning().unwrap().contains("1 dependency for"));
        assert_eq!(only_claude.sandbox_unavailable(), None);
    }

    #[test]
    fn unusable_bwrap_is_a_problem_with_hint() {
        let p = Preflight::run_with(&fake_which(&["bwrap", "claude"]), &|_| {
            Err(explain_failure(
                "bwrap: setting up uid map: Permission denied",
            ))
        });
        let h = p.health_json();
        assert_eq!(h["ok"], false);
        assert_eq!(h["missing"], json!([]));
        assert!(h["problems"][0].as_str().unwrap().contains("AppArmor"));
        assert!(p.sandbox_unavailable().unwrap().contains("uid map"));
        assert!(p
            .warning()
            .unwrap()
            .contains("cannot create the turn sandbox"));
        assert!(!explain_failure("bwrap: Can't find source path /x").contains("AppArmor"));
        let nl = explain_failure(
            "bwrap: loopback: Failed to create NETLINK_ROUTE socket: Address family not supported by protocol",
        );
        assert!(
            nl.contains("RestrictAddressFamilies=") && !nl.contains("AppArmor"),
            "{nl}"
        );
        let proc =
            explain_failure("bwrap: Can't mount proc on /newroot/proc: Operation not permitted");
        assert!(
            proc.contains("ProtectKernelTunables=") && !proc.contains("AppArmor"),
            "{proc}"
        );
    }

    #[test]
    fn which_scans_path_for_executables() {
        let tmp = tempfile::tempdir().unwrap();
        let exe = tmp.path().join("tool");
        std::fs::write(&exe, "#!/bin/sh\n").unwrap();
        let path = std::env::join_paths([Path::new("relative"), tmp.path()]).unwrap();
        assert_eq!(which_in("tool", Some(&path)), None);
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(which_in("tool", Some(&path)), Some(exe.clone()));
        assert_eq!(which_in("tool", None), None);
        assert_eq!(which_in(exe.to_str().unwrap(), None), Some(exe));
    }
}

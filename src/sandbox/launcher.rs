//! [`BwrapLauncher`]: the sandbox behind the turn engine's launcher seam
//! (`crate::sandbox::launch`, spec 04 §6). Per turn: policy → (restricted: start this
//! turn's proxies) → bwrap argv → the command the engine execs. Fails closed: without a
//! usable `bwrap` every turn fails with `Sandbox dependencies not available: …` and nothing
//! runs unsandboxed.
//!
//! The sandboxed command is always our own `sandbox-helper` wrapping the engine's
//! command (seccomp in both modes, like the reference; plus the TCP forwarders in
//! restricted mode). Environment changes, all [ext]: `TMPDIR`/`TMP`/`TEMP` = `W/tmp` in
//! every turn (G6); restricted turns get the proxy variables of spec 04 §1.6.4 without
//! any `NO_PROXY` (G4: inside the empty network namespace nothing is reachable directly,
//! so loopback hub/vault must go through the proxy) and without the `socat`-based
//! `GIT_SSH_COMMAND` and the `CLAUDE_CODE_HOST_*` markers (no host ports exist).

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use super::bwrap::{build_args, Layout, RealFs};
use super::helper::{HTTP_PORT, SOCKS_PORT, SUBCOMMAND};
use super::policy::{policy_for, HostEnv, Network};
use super::preflight::{which_in, Preflight};
use super::proxy::TurnProxies;
use crate::sandbox::launch::{LaunchContext, LaunchError, LaunchSpec, Launcher, PreparedLaunch};

/// Boot-time facts the launcher needs besides the preflight.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    /// Read binds, secret dirs, hub/vault origins (see [`HostEnv`]).
    pub host: HostEnv,
    /// Parent of the per-turn socket dirs (`/tmp/parachute-agent-<uid>`).
    pub runtime_root: PathBuf,
    /// Our own executable (runs `sandbox-helper` inside the sandbox).
    pub self_exe: PathBuf,
}

impl SandboxSettings {
    /// Settings for this daemon process (its own executable runs the helper).
    pub fn for_daemon(
        preflight: &Preflight,
        state_dir: &Path,
        hub_origin: Option<String>,
        vault_url: Option<String>,
        host: &crate::config::HostConfig,
    ) -> std::io::Result<SandboxSettings> {
        let exe = std::env::current_exe()?;
        Ok(SandboxSettings::new(
            preflight, state_dir, hub_origin, vault_url, exe, host,
        ))
    }

    /// Settings for a daemon with this state dir, hub origin, vault URL and executable,
    /// and the `HOME`/`PARACHUTE_HOME` of `host` (`Config::host`).
    pub fn new(
        preflight: &Preflight,
        state_dir: &Path,
        hub_origin: Option<String>,
        vault_url: Option<String>,
        self_exe: PathBuf,
        host: &crate::config::HostConfig,
    ) -> SandboxSettings {
        let home = host.home.clone();
        let parachute_home = host.parachute_home.clone();
        let mut runtime_read = Vec::new();
        if let Some(c) = &preflight.claude {
            runtime_read.extend(install_binds(c));
        }
        runtime_read.extend(exe_binds(&self_exe));
        let state_dir = std::fs::canonicalize(state_dir).unwrap_or_else(|_| state_dir.into());
        SandboxSettings {
            host: HostEnv {
                runtime_read,
                daemon_home: home,
                secret_dirs: [Some(state_dir), parachute_home]
                    .into_iter()
                    .flatten()
                    .collect(),
                hub_origin,
                vault_url,
            },
            runtime_root: super::proxy::default_runtime_root(),
            self_exe,
        }
    }
}

/// Runtime read binds of an installed program (spec 04 §1.2): the path, its real path,
/// the real path's dir and that dir's parent (de-duplicated, in that order).
pub fn install_binds(found: &Path) -> Vec<PathBuf> {
    let mut out = vec![found.to_path_buf()];
    if let Ok(real) = std::fs::canonicalize(found) {
        let dir = real.parent().map(Path::to_path_buf);
        let parent = dir.as_deref().and_then(Path::parent).map(Path::to_path_buf);
        for p in [Some(real), dir, parent].into_iter().flatten() {
            if !out.contains(&p) && p != Path::new("/") {
                out.push(p);
            }
        }
    }
    out
}

/// Our own executable: the path and its real path only.
fn exe_binds(exe: &Path) -> Vec<PathBuf> {
    let mut out = vec![exe.to_path_buf()];
    if let Ok(real) = std::fs::canonicalize(exe) {
        if real != exe {
            out.push(real);
        }
    }
    out
}

/// The sandboxing launcher.
pub struct BwrapLauncher {
    /// `Ok(bwrap path)`, or why no sandbox can be built.
    bwrap: Result<PathBuf, String>,
    settings: SandboxSettings,
    seccomp: bool,
}

impl BwrapLauncher {
    pub fn new(preflight: &Preflight, settings: SandboxSettings) -> BwrapLauncher {
        let bwrap = match (preflight.sandbox_unavailable(), &preflight.bwrap) {
            (None, Some(b)) => Ok(b.clone()),
            (Some(why), _) => Err(why),
            (None, None) => Err("bubblewrap (bwrap) not installed".into()),
        };
        let seccomp = match super::seccomp::build() {
            Ok(_) => true,
            Err(e) => {
                log::warn!("sandbox: no seccomp filter on this architecture ({e}); AF_UNIX sockets stay allowed");
                false
            }
        };
        BwrapLauncher {
            bwrap,
            settings,
            seccomp,
        }
    }

    /// The inner command: `<self> sandbox-helper [--http h --socks s] [--seccomp] -- …`.
    fn helper_command(&self, command: &LaunchSpec, proxies: Option<&TurnProxies>) -> Vec<OsString> {
        let mut argv: Vec<OsString> =
            vec![self.settings.self_exe.clone().into(), SUBCOMMAND.into()];
        if let Some(p) = proxies {
            argv.push("--http".into());
            argv.push(p.http_socket().into());
            argv.push("--socks".into());
            argv.push(p.socks_socket().into());
        }
        if self.seccomp {
            argv.push("--seccomp".into());
        }
        if !command.env.iter().any(|(k, _)| k == "PWD") {
            argv.push("--unset-pwd".into());
        }
        if let Some(fd) = super::liveness::read_fd() {
            argv.push("--alive-fd".into());
            argv.push(fd.to_string().into());
        }
        argv.push("--".into());
        argv.push(command.program.clone());
        argv.extend(command.args.iter().cloned());
        argv
    }
}

impl Launcher for BwrapLauncher {
    fn prepare(
        &self,
        command: LaunchSpec,
        ctx: &LaunchContext,
    ) -> Result<PreparedLaunch, LaunchError> {
        let bwrap = self
            .bwrap
            .as_ref()
            .map_err(|why| LaunchError(format!("Sandbox dependencies not available: {why}")))?;
        let mut host = self.settings.host.clone();
        for program in programs_to_bind(&command) {
            host.runtime_read.extend(install_binds(&program));
        }
        // W is the daemon's own dir (agents cannot replace it): bind its real path, so a
        // symlink among its ancestors does not make it look like an escaping write root.
        let w = std::fs::canonicalize(&ctx.private_dir).unwrap_or_else(|_| ctx.private_dir.clone());
        // Re-checked per turn: a spec.json from disk, or a path swapped for a symlink since
        // the spec was accepted, must not expose the daemon's secrets.
        super::exposure::ProtectedPaths::for_host(&host)
            .check(&ctx.spec, &w)
            .map_err(|e| LaunchError(format!("Sandbox refused the agent's binds: {e}")))?;
        let policy = policy_for(&ctx.spec, &w, &host);
        let tmp = w.join("tmp");
        let _ = std::fs::create_dir_all(&tmp);

        let proxies = match &policy.network {
            Network::Open => None,
            Network::Restricted(list) => Some(
                TurnProxies::start(&self.settings.runtime_root, list.clone()).map_err(|e| {
                    LaunchError(format!("Sandbox network proxy could not start: {e}"))
                })?,
            ),
        };
        let inner = self.helper_command(&command, proxies.as_ref());
        let built = build_args(
            &Layout {
                policy: &policy,
                cwd: &command.cwd,
                runtime_root: Some(&self.settings.runtime_root),
                turn_dir: proxies.as_ref().map(TurnProxies::dir),
                command: &inner,
            },
            &RealFs,
        );
        for s in &built.skipped {
            log::warn!("sandbox for agent {:?}: skipped {s}", ctx.spec.name);
        }
        let env = turn_env(command.env, &tmp, proxies.is_some());
        Ok(PreparedLaunch {
            command: LaunchSpec {
                program: bwrap.clone().into(),
                args: built.args,
                env,
                cwd: command.cwd,
            },
            guard: Box::new(proxies),
        })
    }
}

/// The command's program as a path (itself when it has a `/`, else looked up on the
/// command's own `PATH`), plus the interpreter its `#!` line names (an npm-installed
/// `claude` needs a `node` that may live under a denied dir, e.g. `~/.nvm` — the
/// reference's §1.2 gotcha).
fn programs_to_bind(command: &LaunchSpec) -> Vec<PathBuf> {
    let path = command
        .env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_os_str());
    let resolve = |name: &str| -> Option<PathBuf> {
        if name.contains('/') {
            Some(PathBuf::from(name))
        } else {
            which_in(name, path)
        }
    };
    let Some(program) = command.program.to_str().and_then(resolve) else {
        return Vec::new();
    };
    let interpreter = shebang_interpreter(&program).and_then(|i| resolve(&i));
    std::iter::once(program).chain(interpreter).collect()
}

/// The program a script's `#!` line runs (through `env` when it uses `env`).
fn shebang_interpreter(script: &Path) -> Option<String> {
    use std::io::Read;
    let mut head = [0u8; 256];
    let n = std::fs::File::open(script).ok()?.read(&mut head).ok()?;
    let text = std::str::from_utf8(&head[..n]).ok()?;
    let line = text.strip_prefix("#!")?.lines().next()?;
    let mut words = line.split_whitespace();
    let first = words.next()?;
    if Path::new(first).file_name().is_some_and(|f| f == "env") {
        return words.find(|w| !w.starts_with('-')).map(String::from);
    }
    Some(first.to_string())
}

/// Proxy variables of a restricted turn (spec 04 §1.6.4, adjusted as in the module doc).
fn proxy_vars() -> Vec<(&'static str, String)> {
    let http = format!("http://localhost:{HTTP_PORT}");
    let socks = format!("socks5h://localhost:{SOCKS_PORT}");
    vec![
        ("SANDBOX_RUNTIME", "1".into()),
        ("HTTP_PROXY", http.clone()),
        ("HTTPS_PROXY", http.clone()),
        ("http_proxy", http.clone()),
        ("https_proxy", http.clone()),
        ("ALL_PROXY", socks.clone()),
        ("all_proxy", socks.clone()),
        ("FTP_PROXY", socks.clone()),
        ("ftp_proxy", socks),
        ("RSYNC_PROXY", format!("localhost:{HTTP_PORT}")),
        ("GRPC_PROXY", http.clone()),
        ("grpc_proxy", http.clone()),
        ("DOCKER_HTTP_PROXY", http.clone()),
        ("DOCKER_HTTPS_PROXY", http),
        ("CLOUDSDK_PROXY_TYPE", "http".into()),
        ("CLOUDSDK_PROXY_ADDRESS", "localhost".into()),
        ("CLOUDSDK_PROXY_PORT", HTTP_PORT.to_string()),
    ]
}

/// Names removed from a restricted turn's env (set by the daemon's own environment).
const DROPPED_IN_RESTRICTED: [&str; 5] = [
    "NO_PROXY",
    "no_proxy",
    "GIT_SSH_COMMAND",
    "CLAUDE_CODE_HOST_HTTP_PROXY_PORT",
    "CLAUDE_CODE_HOST_SOCKS_PROXY_PORT",
];

/// The engine's env with `TMPDIR` in `W/tmp` and, for restricted turns, the proxy vars.
fn turn_env(
    env: Vec<(OsString, OsString)>,
    tmp: &Path,
    restricted: bool,
) -> Vec<(OsString, OsString)> {
    let mut set: Vec<(&str, OsString)> = ["TMPDIR", "TMP", "TEMP"]
        .into_iter()
        .map(|k| (k, tmp.as_os_str().to_owned()))
        .collect();
    if restricted {
        set.extend(
            proxy_vars()
                .into_iter()
                .map(|(k, v)| (k, OsString::from(v))),
        );
    }
    let replaced = |k: &OsStr| {
        set.iter().any(|(n, _)| OsStr::new(n) == k)
            || (restricted && DROPPED_IN_RESTRICTED.iter().any(|n| OsStr::new(n) == k))
    };
    let mut out: Vec<(OsString, OsString)> =
        env.into_iter().filter(|(k, _)| !replaced(k)).collect();
    out.extend(set.into_iter().map(|(k, v)| (OsString::from(k), v)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get<'a>(env: &'a [(OsString, OsString)], k: &str) -> Option<&'a OsStr> {
        env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_os_str())
    }

    #[test]
    fn env_gets_private_tmp_and_proxies_only_when_restricted() {
        let base: Vec<(OsString, OsString)> = [
            ("PATH", "/usr/bin"),
            ("TMPDIR", "/tmp"),
            ("NO_PROXY", "localhost"),
            ("HTTP_PROXY", "http://corp:8080"),
        ]
        .iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect();
        let open = turn_env(base.clone(), Path::new("/w/tmp"), false);
        assert_eq!(get(&open, "TMPDIR"), Some(OsStr::new("/w/tmp")));
        assert_eq!(get(&open, "TEMP"), Some(OsStr::new("/w/tmp")));
        assert_eq!(
            get(&open, "HTTP_PROXY"),
            Some(OsStr::new("http://corp:8080"))
        );
        assert_eq!(get(&open, "NO_PROXY"), Some(OsStr::new("localhost")));
        let r = turn_env(base, Path::new("/w/tmp"), true);
        assert_eq!(
            get(&r, "HTTP_PROXY"),
            Some(OsStr::new("http://localhost:3128"))
        );
        assert_eq!(
            get(&r, "ALL_PROXY"),
            Some(OsStr::new("socks5h://localhost:1080"))
        );
        assert_eq!(get(&r, "NO_PROXY"), None);
        assert_eq!(get(&r, "PATH"), Some(OsStr::new("/usr/bin")));
        assert_eq!(r.iter().filter(|(k, _)| k == "TMPDIR").count(), 1);
    }

    #[test]
    fn missing_bwrap_fails_closed_with_spec_message() {
        let pf = Preflight::default();
        let settings = SandboxSettings {
            host: HostEnv::default(),
            runtime_root: PathBuf::from("/tmp/unused"),
            self_exe: PathBuf::from("/bin/true"),
        };
        let l = BwrapLauncher::new(&pf, settings);
        let spec =
            serde_json::from_value(serde_json::json!({"name": "a", "channels": ["a"]})).unwrap();
        let cmd = LaunchSpec {
            program: "claude".into(),
            args: vec![],
            env: vec![],
            cwd: PathBuf::from("/"),
        };
        let err = l
            .prepare(
                cmd,
                &LaunchContext {
                    spec,
                    private_dir: PathBuf::from("/nonexistent/w"),
                },
            )
            .err()
            .unwrap();
        assert_eq!(
            err.0,
            "Sandbox dependencies not available: bubblewrap (bwrap) not installed"
        );
    }

    #[test]
    fn scripts_bring_their_interpreter() {
        let tmp = tempfile::tempdir().unwrap();
        let bin = tmp.path().join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        let node = bin.join("node");
        std::fs::write(&node, "").unwrap();
        std::fs::set_permissions(&node, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let script = tmp.path().join("cli.js");
        std::fs::write(&script, "#!/usr/bin/env -S node --no-warnings\n").unwrap();
        assert_eq!(shebang_interpreter(&script).as_deref(), Some("node"));
        let cmd = LaunchSpec {
            program: script.clone().into(),
            args: vec![],
            env: vec![("PATH".into(), bin.clone().into())],
            cwd: PathBuf::from("/"),
        };
        assert_eq!(programs_to_bind(&cmd), vec![script.clone(), node]);
        std::fs::write(&script, "#!/usr/bin/python3 -u\n").unwrap();
        assert_eq!(
            shebang_interpreter(&script).as_deref(),
            Some("/usr/bin/python3")
        );
        std::fs::write(&script, "\x7fELF").unwrap();
        assert_eq!(shebang_interpreter(&script), None);
    }

    #[test]
    fn install_binds_follow_symlinked_installs() {
        let tmp = tempfile::tempdir().unwrap();
        let versions = tmp.path().join("share/claude/versions");
        std::fs::create_dir_all(&versions).unwrap();
        std::fs::write(versions.join("2.1"), "").unwrap();
        std::fs::create_dir_all(tmp.path().join("bin")).unwrap();
        let link = tmp.path().join("bin/claude");
        std::os::unix::fs::symlink(versions.join("2.1"), &link).unwrap();
        let real = std::fs::canonicalize(&versions).unwrap();
        assert_eq!(
            install_binds(&link),
            vec![
                link.clone(),
                real.join("2.1"),
                real.clone(),
                real.parent().unwrap().into()
            ]
        );
        assert_eq!(
            install_binds(Path::new("/missing/claude")),
            vec![PathBuf::from("/missing/claude")]
        );
    }
}

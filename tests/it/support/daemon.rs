//! Spawns the real daemon binary on a free loopback port with a private state dir and a
//! clean, explicit environment; waits for `/health`; stops it on drop (SIGTERM, then
//! SIGKILL). The daemon's log goes to `<tmp>/daemon.log` (printed if startup fails).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::http::{self, Reply};

pub const BIN: &str = env!("CARGO_BIN_EXE_parachute-agent");
const UNSET: &str = "\u{0}unset";

pub struct DaemonBuilder {
    env: Vec<(String, String)>,
    args: Vec<String>,
    tmp: tempfile::TempDir,
    settle: bool,
}

pub struct Daemon {
    pub port: u16,
    pub base: String,
    pub child: Option<Child>,
    tmp: tempfile::TempDir,
    env: Vec<(String, String)>,
    args: Vec<String>,
    /// `start` waits for boot to finish (preflight included), not only the first 200.
    settle: bool,
}

enum Ready {
    Yes,
    BindFailed,
}

impl DaemonBuilder {
    pub fn new() -> DaemonBuilder {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(tmp.path().join("home/.parachute")).unwrap();
        DaemonBuilder {
            env: Vec::new(),
            args: Vec::new(),
            tmp,
            settle: true,
        }
    }

    /// `start` returns at the first `/health` 200, while the preflight may still run.
    pub fn unsettled(mut self) -> Self {
        self.settle = false;
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Self {
        self.env.retain(|(key, _)| key != k);
        self.env.push((k.to_string(), v.to_string()));
        self
    }

    /// Removes a variable from the daemon's environment entirely.
    pub fn unset(mut self, k: &str) -> Self {
        self.env.retain(|(key, _)| key != k);
        self.env.push((k.to_string(), UNSET.to_string()));
        self
    }

    pub fn arg(mut self, a: &str) -> Self {
        self.args.push(a.to_string());
        self
    }

    /// Points the daemon at a fake hub.
    pub fn hub(self, origin: &str) -> Self {
        self.env("PARACHUTE_HUB_ORIGIN", origin)
    }

    /// Binds `vault_url` as the daemon's `default` def-vault (`agent-vaults.json` with
    /// `token`) and gives it the operator token the fake hub accepts for minting.
    pub fn def_vault(self, vault_url: &str, token: &str) -> Self {
        let dir = self.state_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let vaults = serde_json::json!({"vaults": [
            {"vault": "default", "vaultUrl": vault_url, "token": token}]});
        std::fs::write(dir.join("agent-vaults.json"), vaults.to_string()).unwrap();
        std::fs::write(
            self.tmp.path().join("home/.parachute/operator.token"),
            super::hub::OPERATOR_TOKEN,
        )
        .unwrap();
        self
    }

    /// The state dir the daemon will use (to pre-seed files before start).
    pub fn state_dir(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    /// Spawns on a free port and waits for `/health`. A port picked free can be taken by
    /// another test's connection before the daemon binds it; then the daemon exits with
    /// "cannot bind" and we try again on another port.
    pub fn start(self) -> Daemon {
        let mut d = self.spawn_on(super::free_port());
        for _ in 0..4 {
            match d.wait_ready() {
                Ready::Yes => return d,
                Ready::BindFailed => {
                    let port = super::free_port();
                    d.port = port;
                    d.base = format!("http://127.0.0.1:{port}");
                    d.env.retain(|(k, _)| k != "PORT");
                    d.env.push(("PORT".into(), port.to_string()));
                    d.child = Some(spawn(&d.env, &d.args, d.tmp.path()));
                }
            }
        }
        panic!("daemon could not bind a free port; log:\n{}", d.log());
    }

    /// Spawns without waiting (for boot-failure tests).
    pub fn spawn_on(self, port: u16) -> Daemon {
        let mut env = vec![
            (
                "PATH".to_string(),
                std::env::var("PATH").unwrap_or_default(),
            ),
            (
                "HOME".to_string(),
                self.tmp.path().join("home").display().to_string(),
            ),
            (
                "PARACHUTE_HOME".to_string(),
                self.tmp
                    .path()
                    .join("home/.parachute")
                    .display()
                    .to_string(),
            ),
            (
                "PARACHUTE_AGENT_STATE_DIR".to_string(),
                self.state_dir().display().to_string(),
            ),
            // An unreachable hub unless the test supplies one.
            (
                "PARACHUTE_HUB_ORIGIN".to_string(),
                "http://127.0.0.1:9".to_string(),
            ),
            // No test ever reaches the real Telegram Bot API.
            (
                "PARACHUTE_AGENT_TELEGRAM_API".to_string(),
                "http://127.0.0.1:9".to_string(),
            ),
            ("PORT".to_string(), port.to_string()),
            ("RUST_LOG".to_string(), "debug".to_string()),
            ("PARACHUTE_AGENT_TEST_HOOKS".to_string(), "1".to_string()),
            // A stop waits for running turns this long (the default 20 s would make every
            // test that ends with a hanging turn wait); the journal tests set their own.
            (
                "PARACHUTE_AGENT_STOP_GRACE_SECS".to_string(),
                "2".to_string(),
            ),
        ];
        if !bwrap_usable() {
            env.push((
                "PARACHUTE_AGENT_TEST_UNSANDBOXED".to_string(),
                "1".to_string(),
            ));
        }
        for (k, v) in self.env {
            env.retain(|(key, _)| *key != k);
            if v != UNSET {
                env.push((k, v));
            }
        }
        let child = spawn(&env, &self.args, self.tmp.path());
        Daemon {
            port,
            base: format!("http://127.0.0.1:{port}"),
            child: Some(child),
            tmp: self.tmp,
            env,
            args: self.args,
            settle: self.settle,
        }
    }
}

/// Whether bubblewrap can build a sandbox on this host (probed once per test run). Where it
/// cannot, a bare developer machine runs the turn tests unsandboxed (a debug-build test
/// switch); under `PARACHUTE_TEST_REQUIRE_ALL=1` (CI) that is a failure instead.
pub fn bwrap_usable() -> bool {
    static USABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *USABLE.get_or_init(|| {
        let ok = Command::new("bwrap")
            .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
            .args(["--unshare-pid", "--unshare-net", "--die-with-parent", "--", "true"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var("PARACHUTE_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
                "bubblewrap is required here (PARACHUTE_TEST_REQUIRE_ALL=1): apt-get install bubblewrap"
            );
            eprintln!("bwrap cannot build a sandbox here: turn tests run unsandboxed (CI runs them sandboxed)");
        }
        ok
    })
}

fn spawn(env: &[(String, String)], args: &[String], tmp: &Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(tmp.join("daemon.log"))
        .unwrap();
    Command::new(BIN)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn daemon")
}

impl Daemon {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn state_dir(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    pub fn tmp(&self) -> &Path {
        self.tmp.path()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.tmp.path().join("daemon.log")).unwrap_or_default()
    }

    /// Waits until the daemon's log contains `needle` (boot steps after `/health` is up).
    pub fn wait_log(&self, needle: &str) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Waits until `path` exists (files written by boot steps after `/health` is up).
    pub fn wait_file(&self, path: &Path) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if path.exists() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn env_value(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Waits until this daemon (not another test's on a recycled port: its own log must
    /// say it listens) answers `/health`, or exits because its port was taken.
    fn wait_ready(&mut self) -> Ready {
        let listening = format!("listening on http://127.0.0.1:{}", self.port);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            let log = self.log();
            if log.contains(&listening) && self.settled() {
                return Ready::Yes;
            }
            let exited = self
                .child
                .as_mut()
                .is_some_and(|c| c.try_wait().ok().flatten().is_some());
            if exited && log.contains("cannot bind") {
                self.child = None;
                return Ready::BindFailed;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("daemon did not become healthy; log:\n{}", self.log());
    }

    /// `/health` answers 200 with boot done: `status` is `ok` (not `starting`) and the
    /// preflight finished (no `dependencies.checking`). A refused request is "not yet"
    /// too: a bare TCP connect can succeed before the daemon listens (a loopback
    /// self-connect when the port is still free).
    fn settled(&self) -> bool {
        let Ok(mut r) = http::agent().get(self.url("/health")).call() else {
            return false;
        };
        let body: Value = r.body_mut().read_json().unwrap_or(Value::Null);
        let booted = body["status"] == "ok" && body["dependencies"]["checking"] != true;
        r.status() == 200 && (booted || !self.settle)
    }

    pub fn wait_healthy(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.settled() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("daemon did not become healthy; log:\n{}", self.log());
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Reply {
        http::get(&self.url(path), token)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        http::post_json(&self.url(path), token, body)
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Reply {
        http::send(method, &self.url(path), token, headers, body)
    }

    /// Mints a local (standalone) token via the CLI, against this daemon's state dir.
    pub fn mint(&self, scopes: &str) -> String {
        mint_in(&self.state_dir(), scopes, "1h")
    }

    /// Runs the binary with extra args and this daemon's environment.
    pub fn run_cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(BIN)
            .args(args)
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap()
    }

    /// Sends SIGTERM and waits for exit; returns the exit code and how long it took.
    pub fn terminate(&mut self) -> (Option<i32>, Duration) {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return (status.code(), start.elapsed());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return (None, start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Stops the daemon (SIGTERM) and starts it again on the same port, state dir and
    /// environment; waits for `/health`.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.terminate();
        }
        self.child = Some(spawn(&self.env, &self.args, self.tmp.path()));
        self.wait_healthy();
    }

    /// `kill -9`: the daemon dies without any shutdown step.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the daemon again (same port, state dir, environment) after it died or was
    /// stopped; waits for `/health`.
    pub fn respawn(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.child = Some(spawn(&self.env, &self.args, self.tmp.path()));
        self.wait_healthy();
    }

    /// Waits for a daemon that is expected to exit on its own (boot failures).
    pub fn wait_exit(&mut self, within: Duration) -> Option<i32> {
        let mut child = self.child.take()?;
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.terminate();
        }
    }
}

/// `parachute-agent token mint --scope <scopes> --ttl <ttl> --state-dir <dir>`.
pub fn mint_in(state_dir: &Path, scopes: &str, ttl: &str) -> String {
    let out = Command::new(BIN)
        .args([
            "token",
            "mint",
            "--scope",
            scopes,
            "--ttl",
            ttl,
            "--state-dir",
        ])
        .arg(state_dir)
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "mint failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

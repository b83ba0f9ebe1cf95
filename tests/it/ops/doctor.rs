//! `parachute-agent doctor`: on a healthy install every check passes (exit 0);
//! on a broken one (no `bwrap` on PATH, open modes, an unreachable hub, a broken
//! `channels.json`, a foreign program on the port, a def-vault with a bad token) each
//! failure is named with its fix and the exit code is 1.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::support::daemon::{bwrap_usable, DaemonBuilder, BIN};
use crate::support::fake_vault::FakeVault;
use crate::support::hub::FakeHub;

fn fakes() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes")
}

struct Install {
    tmp: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Install {
    /// A state dir with a 0600 credential and channels file, a fake hub, a def-vault on a
    /// fake vault, the fake `claude` and the host's `bwrap` on PATH.
    fn healthy(hub: &FakeHub, vault: &FakeVault) -> Install {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        std::fs::create_dir_all(&state).unwrap();
        std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o700)).unwrap();
        let write = |name: &str, v: Value| {
            let p = state.join(name);
            std::fs::write(&p, v.to_string()).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        };
        write(
            "credentials.json",
            json!({"claude": {"default": "sk-ant-oat01-fake"}}),
        );
        write(
            "channels.json",
            json!({"channels": [{"name": "web", "transport": "http-ui"}]}),
        );
        write(
            "agent-vaults.json",
            json!({"vaults": [{"vault": "default", "vaultUrl": vault.url(), "token": FakeVault::TOKEN}]}),
        );
        std::fs::create_dir_all(tmp.path().join("home/.parachute")).unwrap();
        let path = format!(
            "{}:{}",
            fakes().display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let env = vec![
            ("PATH".into(), path),
            ("HOME".into(), tmp.path().join("home").display().to_string()),
            (
                "PARACHUTE_HOME".into(),
                tmp.path().join("home/.parachute").display().to_string(),
            ),
            (
                "PARACHUTE_AGENT_STATE_DIR".into(),
                state.display().to_string(),
            ),
            ("PARACHUTE_HUB_ORIGIN".into(), hub.origin.clone()),
            ("PORT".into(), crate::support::free_port().to_string()),
        ];
        Install { tmp, env }
    }

    fn state(&self) -> PathBuf {
        self.tmp.path().join("state")
    }

    fn set(&mut self, k: &str, v: &str) {
        self.env.retain(|(key, _)| key != k);
        self.env.push((k.into(), v.into()));
    }

    fn run(&self, json: bool) -> (i32, String) {
        let mut cmd = Command::new(BIN);
        cmd.arg("doctor");
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn checks(&self) -> (i32, Vec<Value>) {
        let (code, out) = self.run(true);
        let doc: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
        assert_eq!(doc["ok"], code == 0, "{doc}");
        (code, doc["checks"].as_array().unwrap().clone())
    }
}

fn check<'a>(checks: &'a [Value], name: &str) -> &'a Value {
    checks
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {checks:?}"))
}

#[test]
fn a_healthy_install_passes_every_check() {
    if !bwrap_usable() {
        eprintln!("SKIP: bwrap cannot build a sandbox here, so no install on this host is healthy");
        return;
    }
    let (hub, vault) = (FakeHub::start(), FakeVault::start());
    let mut install = Install::healthy(&hub, &vault);
    // Like the real CLI (2.1.332), hide two accepted flags from --help: still healthy.
    install.set(
        "FAKE_CLAUDE_HELP_HIDES",
        "--max-turns --append-system-prompt-file",
    );
    // The port held by a running parachute-agent counts as healthy.
    let d = DaemonBuilder::new().start();
    install.set("PORT", &d.port.to_string());
    let (code, checks) = install.checks();
    let failed: Vec<&Value> = checks.iter().filter(|c| c["status"] == "fail").collect();
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(code, 0);
    for (name, needle) in [
        ("claude", "2.1.0 (Claude Code)"),
        ("claude credential", "default"),
        ("claude flags", "hidden from --help"),
        ("bwrap", "builds the turn sandbox"),
        ("state dir", "0700"),
        ("credentials.json", "0600"),
        ("channels.json parses", "web→http-ui"),
        ("agent-vaults.json parses", "1 def-vault"),
        ("hub", "RS256 key"),
        ("def-vault default", "answers with its token"),
        ("port", "held by a running parachute-agent"),
    ] {
        let c = check(&checks, name);
        assert_eq!(c["status"], "ok", "{c}");
        assert!(
            c["detail"].as_str().unwrap().contains(needle),
            "{name}: {c}"
        );
    }
    let (code, text) = install.run(false);
    assert_eq!(code, 0);
    assert!(text.ends_with("doctor: all checks passed\n"), "{text}");
}

#[test]
fn a_broken_install_names_each_failure_with_its_fix() {
    let (hub, vault) = (FakeHub::start(), FakeVault::start());
    let mut install = Install::healthy(&hub, &vault);
    // PATH: only the fake claude (no bwrap), and a CLI that does not know one flag.
    let bin = install.tmp.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(fakes().join("claude"), bin.join("claude")).unwrap();
    install.set("PATH", &bin.display().to_string());
    install.set("FAKE_CLAUDE_REJECTS", "--max-budget-usd");
    // Open modes, a corrupt channels.json, no credential.
    let state = install.state();
    std::fs::set_permissions(&state, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(state.join("credentials.json"), "{}").unwrap();
    std::fs::set_permissions(
        state.join("credentials.json"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    std::fs::write(
        state.join("channels.json"),
        "{\"channels\": [{\"name\": \"x\"}]}",
    )
    .unwrap();
    // A def-vault whose token the vault refuses; a hub that is not there; a foreign port.
    std::fs::write(
        state.join("agent-vaults.json"),
        json!({"vaults": [{"vault": "default", "vaultUrl": vault.url(), "token": "wrong"}]})
            .to_string(),
    )
    .unwrap();
    install.set("PARACHUTE_HUB_ORIGIN", "http://127.0.0.1:9");
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    install.set("PORT", &squatter.local_addr().unwrap().port().to_string());

    let (code, checks) = install.checks();
    assert_eq!(code, 1);
    for (name, detail, fix) in [
        ("bwrap", "not on PATH", "apt install bubblewrap"),
        ("state dir", "mode 0755", "chmod 700"),
        ("credentials.json", "mode 0644", "chmod 600"),
        ("claude credential", "no Claude token", "claude setup-token"),
        ("channels.json parses", "", "fix or remove"),
        ("hub", "unreachable", "PARACHUTE_HUB_ORIGIN"),
        ("def-vault default", "", "re-bind the def-vault"),
        ("port", "held by another program", "--port"),
    ] {
        let c = check(&checks, name);
        assert_eq!(c["status"], "fail", "{c}");
        assert!(
            c["detail"].as_str().unwrap().contains(detail),
            "{name}: {c}"
        );
        assert!(c["fix"].as_str().unwrap().contains(fix), "{name}: {c}");
    }
    let flags = check(&checks, "claude flags");
    assert_eq!(flags["status"], "fail", "{flags}");
    assert!(
        flags["detail"]
            .as_str()
            .unwrap()
            .contains("--max-budget-usd"),
        "{flags}"
    );
    let (code, text) = install.run(false);
    assert_eq!(code, 1);
    assert!(
        text.contains("[FAIL] bwrap:") && text.contains("fix: apt install bubblewrap"),
        "{text}"
    );
    assert!(text.contains("check(s) failed"), "{text}");
    drop(squatter);
}

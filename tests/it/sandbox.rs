//! Live sandbox boundary tests (spec 04 §6.7 tiers 4–5, §7 "Live" and
//! "Hardening"): real `bwrap`, the real binary's `sandbox-helper`, `sh -c` / a Python probe
//! as the sandboxed command. They skip when bwrap cannot build a sandbox here, unless
//! `PARACHUTE_TEST_REQUIRE_ALL=1` (CI), which turns the skip into a failure.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use parachute_agent::agents::spec::AgentSpec;
use parachute_agent::sandbox::launch::{LaunchContext, LaunchSpec, Launcher, PreparedLaunch};
use parachute_agent::sandbox::preflight::trial_sandbox;
use parachute_agent::sandbox::{BwrapLauncher, Preflight, SandboxSettings};
use serde_json::{json, Value};

use crate::support::daemon::{DaemonBuilder, BIN};

const PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// The Python probe run inside the sandbox (no curl needed).
const PROBE: &str = r#"
import socket, sys, urllib.request, urllib.error
cmd = sys.argv[1]
if cmd == "get":
    try:
        r = urllib.request.urlopen(sys.argv[2], timeout=10)
        print("status", r.status, r.read().decode())
    except urllib.error.HTTPError as e:
        print("status", e.code, e.headers.get("X-Proxy-Error"))
    except Exception as e:
        print("error", type(e).__name__)
elif cmd == "direct":
    try:
        socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=3)
        print("connected")
    except OSError as e:
        print("failed", type(e).__name__)
elif cmd == "connect":
    s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
    s.sendall(("CONNECT %s HTTP/1.1\r\n\r\n" % sys.argv[2]).encode())
    head = s.recv(4096).decode()
    print("proxy", head.split("\r\n")[0])
    if " 200 " in head:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        print("upstream", s.recv(4096).decode().split("\r\n")[0])
elif cmd == "socks":
    host, port = sys.argv[2], int(sys.argv[3])
    s = socket.create_connection(("127.0.0.1", 1080), timeout=10)
    s.sendall(b"\x05\x01\x00"); s.recv(2)
    s.sendall(b"\x05\x01\x00\x03" + bytes([len(host)]) + host.encode() + port.to_bytes(2, "big"))
    print("socks", s.recv(10)[1])
elif cmd == "unix":
    try:
        socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        print("unix created")
    except PermissionError:
        print("unix denied")
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    print("tcp created")
"#;

/// `true` when bwrap can build our sandbox here; otherwise skip (or fail in CI).
fn sandbox_available() -> bool {
    let pf = Preflight::run(std::env::var_os("PATH").as_deref());
    let why = match (&pf.bwrap, pf.sandbox_unavailable()) {
        (Some(b), None) => match trial_sandbox(b) {
            Ok(()) => return true,
            Err(e) => e,
        },
        (_, Some(w)) => w,
        (None, None) => "bwrap not found".into(),
    };
    if std::env::var_os("PARACHUTE_TEST_REQUIRE_ALL").is_some_and(|v| v == "1") {
        panic!("sandbox tests required but bwrap is unusable: {why}");
    }
    eprintln!("skipping live sandbox test: {why}");
    false
}

/// One daemon-like sandbox setup: a state dir, the agent's `W`, a launcher.
struct Sbx {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    w: PathBuf,
    launcher: BwrapLauncher,
}

impl Sbx {
    fn new(hub_origin: Option<String>) -> Sbx {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().canonicalize().unwrap();
        let state = root.join("state");
        let w = state.join("sessions/eng");
        std::fs::create_dir_all(&w).unwrap();
        std::fs::write(w.join("probe.py"), PROBE).unwrap();
        let pf = Preflight::run(Some(PATH.as_ref()));
        let settings = SandboxSettings::new(
            &pf,
            &state,
            hub_origin,
            None,
            PathBuf::from(BIN),
            &parachute_agent::config::HostConfig::from_env(),
        );
        Sbx {
            _tmp: tmp,
            root,
            w,
            launcher: BwrapLauncher::new(&pf, settings),
        }
    }

    fn spec(&self, extra: Value) -> AgentSpec {
        let mut v = json!({"name": "eng", "channels": ["eng"]});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        serde_json::from_value(v).unwrap()
    }

    fn prepare(&self, extra: Value, script: &str) -> PreparedLaunch {
        let spec = self.spec(extra);
        let cwd = spec
            .workspace
            .as_ref()
            .map(PathBuf::from)
            .unwrap_or_else(|| self.w.clone());
        let command = LaunchSpec {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: vec![("PATH".into(), PATH.into())],
            cwd,
        };
        let ctx = LaunchContext {
            spec,
            private_dir: self.w.clone(),
        };
        self.launcher.prepare(command, &ctx).expect("prepare")
    }

    /// Runs `script` in the agent's sandbox; returns (exit code, stdout + stderr).
    fn run(&self, extra: Value, script: &str) -> (i32, String) {
        let p = self.prepare(extra, script);
        let out = exec(&p);
        drop(p.guard);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }
}

fn exec(p: &PreparedLaunch) -> Output {
    spawn(p).wait_with_output().unwrap()
}

fn spawn(p: &PreparedLaunch) -> std::process::Child {
    let c = &p.command;
    Command::new(&c.program)
        .args(&c.args)
        .env_clear()
        .envs(c.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&c.cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A directory under the host's `/home` (removed on drop); `None` when /home is not
/// writable here (not root).
struct HomeDir(PathBuf);

impl HomeDir {
    fn new() -> Option<HomeDir> {
        let d = PathBuf::from(format!(
            "/home/pa-sbx-{}",
            parachute_agent::util::rand::token(6).replace(['-', '_'], "x")
        ));
        std::fs::create_dir_all(d.join("refs")).ok()?;
        std::fs::write(d.join("secret"), "top-secret\n").ok()?;
        std::fs::write(d.join("refs/doc.txt"), "reference\n").ok()?;
        Some(HomeDir(d))
    }
}

impl Drop for HomeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn euid() -> u32 {
    unsafe { libc::geteuid() }
}

#[test]
fn positive_control_and_private_dir() {
    if !sandbox_available() {
        return;
    }
    let s = Sbx::new(None);
    std::fs::write(s.w.join("own.txt"), "mine\n").unwrap();
    let (code, out) = s.run(
        json!({}),
        "echo hello; cat own.txt; echo new > made.txt; echo $TMPDIR; touch $TMPDIR/t && echo tmp-ok",
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("hello\nmine\n"), "{out}");
    assert!(
        out.contains(&format!("{}/tmp\ntmp-ok", s.w.display())),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(s.w.join("made.txt")).unwrap(),
        "new\n"
    );
}

#[test]
fn home_secret_hidden_in_workspace_mode_readable_in_full() {
    if !sandbox_available() {
        return;
    }
    let Some(home) = HomeDir::new() else {
        eprintln!("skipping: /home not writable here");
        return;
    };
    let s = Sbx::new(None);
    let secret = home.0.join("secret");
    let refs = home.0.join("refs");
    let mounts = json!({"mounts": [{"hostPath": refs, "mode": "ro"}]});
    let script = format!(
        "cat {0} || echo SECRET-HIDDEN; cat {1}/doc.txt; echo x > {1}/new || echo RO-MOUNT; \
         echo y > {2}/scratch && echo TMPFS-WRITE",
        secret.display(),
        refs.display(),
        home.0.display()
    );
    let (_, out) = s.run(mounts.clone(), &script);
    assert!(
        out.contains("SECRET-HIDDEN") && !out.contains("top-secret"),
        "{out}"
    );
    assert!(
        out.contains("reference"),
        "ro mount under /home readable: {out}"
    );
    assert!(out.contains("RO-MOUNT"), "{out}");
    assert!(out.contains("TMPFS-WRITE"), "{out}");
    assert!(
        !home.0.join("scratch").exists(),
        "tmpfs write reached the host"
    );
    assert!(!refs.join("new").exists());

    let (_, out) = s.run(json!({"filesystem": "full"}), &script);
    assert!(
        out.contains("top-secret"),
        "full mode reads the home tree: {out}"
    );
    assert!(
        !home.0.join("scratch").exists(),
        "full mode never widens writes"
    );
}

#[test]
fn writes_outside_roots_fail_workspace_writable() {
    if !sandbox_available() {
        return;
    }
    let s = Sbx::new(None);
    let ws = s.root.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let outside = s.root.join("outside.txt");
    let script = format!(
        "echo a > {} || echo OUTSIDE-RO; echo b > /etc/pa-sbx-test || echo ETC-RO; \
         echo c > shared.txt && pwd",
        outside.display()
    );
    let (_, out) = s.run(json!({"workspace": ws}), &script);
    assert!(
        out.contains("OUTSIDE-RO") && out.contains("ETC-RO"),
        "{out}"
    );
    assert!(out.contains("Read-only file system"), "{out}");
    assert!(
        out.contains(&ws.display().to_string()),
        "cwd is the workspace: {out}"
    );
    assert!(!outside.exists() && !Path::new("/etc/pa-sbx-test").exists());
    assert_eq!(
        std::fs::read_to_string(ws.join("shared.txt")).unwrap(),
        "c\n"
    );
}

#[test]
fn state_dir_secrets_hidden_but_private_dir_visible() {
    if !sandbox_available() {
        return;
    }
    let s = Sbx::new(None);
    let state = s.w.parent().unwrap().parent().unwrap().to_path_buf();
    std::fs::write(state.join("credentials.json"), "{\"claude\":1}").unwrap();
    let other = state.join("sessions/other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join(".mcp.json"), "token").unwrap();
    let script = format!(
        "cat {0}/credentials.json || echo CREDS-HIDDEN; cat {1}/.mcp.json || echo OTHER-HIDDEN; \
         ls probe.py",
        state.display(),
        other.display()
    );
    for mode in ["workspace", "full"] {
        let (_, out) = s.run(json!({"filesystem": mode}), &script);
        assert!(
            out.contains("CREDS-HIDDEN") && out.contains("OTHER-HIDDEN"),
            "{mode}: {out}"
        );
        assert!(out.contains("probe.py"), "{mode}: {out}");
    }
}

#[test]
fn agent_cannot_modify_its_own_spec_or_mcp_config() {
    if !sandbox_available() {
        return;
    }
    let s = Sbx::new(None);
    std::fs::write(s.w.join("spec.json"), "{\"name\":\"eng\"}\n").unwrap();
    std::fs::write(s.w.join(".mcp.json"), "{}").unwrap();
    let (_, out) = s.run(
        json!({}),
        "echo '{\"mounts\":[]}' > spec.json || echo SPEC-RO; rm -f spec.json || echo RM-FAIL; \
         mv .mcp.json x.json || echo MV-FAIL; echo z >> .mcp.json || echo MCP-RO",
    );
    assert!(out.contains("SPEC-RO") && out.contains("RM-FAIL"), "{out}");
    assert!(out.contains("MV-FAIL") && out.contains("MCP-RO"), "{out}");
    assert_eq!(
        std::fs::read_to_string(s.w.join("spec.json")).unwrap(),
        "{\"name\":\"eng\"}\n"
    );
    assert_eq!(
        std::fs::read_to_string(s.w.join(".mcp.json")).unwrap(),
        "{}"
    );
}

#[test]
fn as_root_no_capabilities_and_daemon_home_hidden() {
    if !sandbox_available() {
        return;
    }
    if euid() != 0 {
        eprintln!("skipping: not root");
        return;
    }
    let home = PathBuf::from(std::env::var("HOME").unwrap_or_default());
    if !home.is_absolute() || home.starts_with("/home") || home == Path::new("/") {
        eprintln!("skipping: HOME {} is not a root-style home", home.display());
        return;
    }
    let marker = home.join(format!(
        ".pa-sbx-secret-{}",
        parachute_agent::util::rand::token(6)
    ));
    std::fs::write(&marker, "root-secret\n").unwrap();
    let s = Sbx::new(None);
    let script = format!(
        "umount /home && echo UMOUNTED || echo UMOUNT-FAILED; cat {} || echo ROOT-HIDDEN; \
         grep CapEff /proc/self/status",
        marker.display()
    );
    let (_, out) = s.run(json!({}), &script);
    let _ = std::fs::remove_file(&marker);
    assert!(
        out.contains("UMOUNT-FAILED") && !out.contains("UMOUNTED"),
        "{out}"
    );
    assert!(
        out.contains("ROOT-HIDDEN") && !out.contains("root-secret"),
        "{out}"
    );
    assert!(out.contains("CapEff:\t0000000000000000"), "{out}");
}

#[test]
fn unix_sockets_denied_tcp_allowed() {
    if !sandbox_available() {
        return;
    }
    let s = Sbx::new(None);
    for net in ["open", "restricted"] {
        let (_, out) = s.run(json!({"network": net}), "python3 probe.py unix");
        assert!(
            out.contains("unix denied") && out.contains("tcp created"),
            "{net}: {out}"
        );
    }
}

/// A loopback HTTP server answering `ok` to every request; returns its port.
fn http_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                let mut line = String::new();
                while r.read_line(&mut line).unwrap_or(0) > 0 {
                    if line == "\r\n" {
                        let mut w = s;
                        let _ = w.write_all(
                            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
                        );
                        return;
                    }
                    line.clear();
                }
            });
        }
    });
    port
}

#[test]
fn restricted_network_allowlist_through_proxies_only() {
    if !sandbox_available() {
        return;
    }
    let (allowed, other) = (http_server(), http_server());
    let s = Sbx::new(Some(format!("http://127.0.0.1:{allowed}")));
    let script = format!(
        "python3 probe.py get http://127.0.0.1:{allowed}/; \
         python3 probe.py get http://localhost:{allowed}/; \
         python3 probe.py get http://127.0.0.1:{other}/; \
         python3 probe.py direct 127.0.0.1 {allowed}; \
         python3 probe.py connect 127.0.0.1:{allowed}; \
         python3 probe.py connect 127.0.0.1:{other}; \
         python3 probe.py socks 127.0.0.1 {allowed}; \
         python3 probe.py socks example.com 443; \
         echo TMPDIR=$TMPDIR"
    );
    let (_, out) = s.run(json!({"network": "restricted"}), &script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "status 200 ok", "allowed host via proxy: {out}");
    assert_eq!(
        lines[1], "status 403 blocked-by-allowlist",
        "host string differs: {out}"
    );
    assert_eq!(
        lines[2], "status 403 blocked-by-allowlist",
        "port not allowed: {out}"
    );
    assert!(
        lines[3].starts_with("failed"),
        "direct connection must fail: {out}"
    );
    assert_eq!(
        lines[4], "proxy HTTP/1.1 200 Connection Established",
        "{out}"
    );
    assert_eq!(lines[5], "upstream HTTP/1.1 200 OK", "{out}");
    assert_eq!(lines[6], "proxy HTTP/1.1 403 Forbidden", "{out}");
    assert_eq!(lines[7], "socks 0", "{out}");
    assert_eq!(lines[8], "socks 2", "{out}");
    assert_eq!(lines[9], format!("TMPDIR={}/tmp", s.w.display()), "{out}");

    // Open network: the host loopback is reachable directly, no proxy variables.
    let (_, out) = s.run(
        json!({}),
        &format!("python3 probe.py direct 127.0.0.1 {other}; echo proxy=${{HTTP_PROXY:-none}}"),
    );
    assert_eq!(out, "connected\nproxy=none\n");
}

#[test]
fn concurrent_restricted_turns_keep_their_own_proxies() {
    if !sandbox_available() {
        return;
    }
    let (pa, pb) = (http_server(), http_server());
    let a = Sbx::new(Some(format!("http://127.0.0.1:{pa}")));
    let b = Sbx::new(Some(format!("http://127.0.0.1:{pb}")));
    let restricted = json!({"network": "restricted"});
    let long = a.prepare(
        restricted.clone(),
        &format!(
            "python3 probe.py get http://127.0.0.1:{pa}/; sleep 1; \
             python3 probe.py get http://127.0.0.1:{pa}/; python3 probe.py get http://127.0.0.1:{pb}/"
        ),
    );
    let child = spawn(&long);
    // Turn b starts, runs and ends (its proxies are torn down) while turn a is running.
    let (_, out_b) = b.run(
        restricted,
        &format!(
            "python3 probe.py get http://127.0.0.1:{pb}/; python3 probe.py get http://127.0.0.1:{pa}/"
        ),
    );
    assert_eq!(out_b, "status 200 ok\nstatus 403 blocked-by-allowlist\n");
    let out_a = child.wait_with_output().unwrap();
    drop(long.guard);
    assert_eq!(
        String::from_utf8_lossy(&out_a.stdout),
        "status 200 ok\nstatus 200 ok\nstatus 403 blocked-by-allowlist\n"
    );
}

#[test]
fn symlinked_write_root_is_not_writable() {
    if !sandbox_available() {
        return;
    }
    let s = Sbx::new(None);
    let target = s.root.join("target");
    std::fs::create_dir_all(&target).unwrap();
    let link = s.root.join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let mounts = json!({"mounts": [{"hostPath": link, "mode": "rw"}]});
    let (_, out) = s.run(
        mounts,
        &format!("echo x > {}/f || echo LINK-RO", link.display()),
    );
    assert!(out.contains("LINK-RO"), "{out}");
    assert!(!target.join("f").exists());
}

/// A dir holding only the given programs (symlinks), to use as a daemon's `PATH`.
fn path_with(tools: &[&Path]) -> (tempfile::TempDir, String) {
    let d = tempfile::tempdir().unwrap();
    for t in tools {
        std::os::unix::fs::symlink(t, d.path().join(t.file_name().unwrap())).unwrap();
    }
    let p = d.path().display().to_string();
    (d, p)
}

#[test]
fn health_lists_missing_bwrap_and_claude() {
    let (_d, empty) = path_with(&[]);
    let daemon = DaemonBuilder::new().env("PATH", &empty).start();
    let h = daemon.get("/health", None).json();
    assert_eq!(
        h["dependencies"],
        json!({"ok": false, "missing": ["bwrap", "claude"]})
    );
    assert!(
        daemon.log().contains("PREFLIGHT — 2 dependencies"),
        "{}",
        daemon.log()
    );
}

#[test]
fn health_with_bwrap_and_fake_claude_is_ok() {
    if !sandbox_available() {
        return;
    }
    let pf = Preflight::run(std::env::var_os("PATH").as_deref());
    let bwrap = pf.bwrap.unwrap();
    let fake = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/claude");
    let (_d, only_bwrap) = path_with(&[&bwrap]);
    let daemon = DaemonBuilder::new().env("PATH", &only_bwrap).start();
    assert_eq!(
        daemon.get("/health", None).json()["dependencies"],
        json!({"ok": false, "missing": ["claude"]})
    );
    let (_d2, both) = path_with(&[&bwrap, &fake]);
    let daemon = DaemonBuilder::new().env("PATH", &both).start();
    assert_eq!(
        daemon.get("/health", None).json()["dependencies"],
        json!({"ok": true, "missing": []})
    );
}

#[test]
fn helper_subcommand_reports_child_status() {
    let out = Command::new(BIN)
        .args(["sandbox-helper", "--", "sh", "-c", "echo in-helper; exit 7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(7));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "in-helper\n");
    let bad = Command::new(BIN).args(["sandbox-helper"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(125));
}

#[test]
fn turn_without_bwrap_fails_closed_with_a_failure_note() {
    let fake = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/claude");
    let (_d, only_claude) = path_with(&[&fake]);
    // Never the unsandboxed test switch here: this test is about failing closed.
    let e = crate::programmatic::turns::setup(&[
        ("PATH", &only_claude),
        ("PARACHUTE_AGENT_TEST_UNSANDBOXED", "0"),
    ]);
    assert_eq!(
        e.d.get("/health", None).json()["dependencies"],
        json!({"ok": false, "missing": ["bwrap"]})
    );
    e.spawn("w");
    e.send("w", "hello", &[]);
    let out = e.wait_outbound("w", 1);
    let text = out[0]["content"].as_str().unwrap_or("");
    assert!(
        text.starts_with(
            "⚠️ I couldn't complete that — the turn failed: Sandbox dependencies not available: \
             bubblewrap (bwrap) not installed"
        ),
        "{text}"
    );
    assert!(e.calls("w").is_empty(), "claude must never run unsandboxed");
}

#[test]
fn spawn_needs_step_up_for_paths_outside_the_sessions_dir() {
    let d = DaemonBuilder::new().start();
    let admin = d.mint("agent:admin agent:read agent:write agent:send");
    let sessions = d.state_dir().join("sessions").display().to_string();
    let outside = d.tmp().join("outside").display().to_string();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(format!("{sessions}/eng/ws")).unwrap();
    let post = |extra: Value| {
        let mut body = json!({"name": "eng", "channels": ["eng"]});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        d.post("/api/agents", Some(&admin), &body)
    };
    for gated in [
        json!({"filesystem": "full"}),
        json!({"workspace": outside}),
        json!({"mounts": [{"hostPath": outside, "mountPath": outside, "mode": "rw"}]}),
    ] {
        let r = post(gated.clone());
        assert_eq!(
            (r.status, r.error()),
            (403, "step_up_required".into()),
            "{gated}"
        );
    }
    // Inside the sessions dir, or read-only: no step-up (400 here: no Claude credential).
    for free in [
        json!({"workspace": format!("{sessions}/eng/ws")}),
        json!({"mounts": [{"hostPath": outside, "mountPath": outside, "mode": "ro"}]}),
    ] {
        let r = post(free.clone());
        assert_eq!(r.status, 400, "{free}: {}", r.body);
    }
}

#[test]
fn bwrap_without_user_namespaces_is_reported_with_the_fix() {
    // A stand-in bwrap failing the way it does under Ubuntu's AppArmor userns restriction.
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("bwrap");
    std::fs::write(
        &fake,
        "#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
    )
    .unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let claude = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/claude");
    std::os::unix::fs::symlink(&claude, dir.path().join("claude")).unwrap();
    let e = crate::programmatic::turns::setup(&[
        ("PATH", &dir.path().display().to_string()),
        ("PARACHUTE_AGENT_TEST_UNSANDBOXED", "0"),
    ]);
    let deps = e.d.get("/health", None).json()["dependencies"].clone();
    assert_eq!((&deps["ok"], &deps["missing"]), (&json!(false), &json!([])));
    let problem = deps["problems"][0].as_str().unwrap();
    assert!(
        problem.contains("uid map: Permission denied") && problem.contains("AppArmor"),
        "{problem}"
    );
    assert!(e.d.log().contains("cannot create the turn sandbox"));
    e.spawn("w");
    e.send("w", "hello", &[]);
    let out = e.wait_outbound("w", 1);
    let text = out[0]["content"].as_str().unwrap_or("");
    assert!(
        text.contains(
            "Sandbox dependencies not available: bubblewrap (bwrap) cannot create a sandbox"
        ),
        "{text}"
    );
    assert!(e.calls("w").is_empty());
}

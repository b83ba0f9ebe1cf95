//! The browser terminal (spec 06 §2): WebSocket attach to tmux sessions through the real
//! daemon, with a real `tmux` (a private server per test via `TMUX_TMPDIR`) or, where the
//! byte stream itself is under test, a fake `tmux` first on the daemon's `PATH` that writes
//! a checkable pattern into its pty. Skips without tmux; fails under
//! `PARACHUTE_TEST_REQUIRE_ALL=1`.

mod attach;
mod flow;
mod gate;
mod operator;
mod page;

use std::io::ErrorKind;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::json;
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use crate::support::daemon::{Daemon, DaemonBuilder};

pub type Ws = WebSocket<TcpStream>;

/// Whether the live terminal tests can run (tmux on PATH).
pub fn tmux_available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var("PARACHUTE_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
            "tmux is required here (PARACHUTE_TEST_REQUIRE_ALL=1): apt-get install tmux"
        );
        eprintln!("SKIPPED: tmux is not installed (apt-get install tmux)");
    }
    ok
}

/// A private tmux server (its socket under a temp dir), killed on drop.
pub struct Tmux {
    dir: tempfile::TempDir,
}

impl Tmux {
    pub fn new() -> Tmux {
        Tmux {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The `TMUX_TMPDIR` the daemon must share.
    pub fn tmpdir(&self) -> &Path {
        self.dir.path()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-f", "/dev/null"])
            .args(args)
            .env("TMUX_TMPDIR", self.dir.path())
            .env_remove("TMUX")
            .output()
            .unwrap()
    }

    /// A detached session running `sh` with no status line (so the pane is the client's
    /// whole size).
    pub fn session(&self, name: &str) {
        let out = self.run(&[
            "new-session",
            "-d",
            "-s",
            name,
            "-x",
            "80",
            "-y",
            "24",
            "sh",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.run(&["set-option", "-g", "status", "off"]);
    }

    pub fn has_session(&self, name: &str) -> bool {
        self.run(&["has-session", "-t", &format!("={name}")])
            .status
            .success()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-server"])
            .env("TMUX_TMPDIR", self.dir.path())
            .output();
    }
}

/// A daemon sharing `tmux`'s server, with extra env.
pub fn daemon(tmux: &Tmux, env: &[(&str, &str)]) -> Daemon {
    let mut b = DaemonBuilder::new().env("TMUX_TMPDIR", &tmux.tmpdir().display().to_string());
    for (k, v) in env {
        b = b.env(k, v);
    }
    b.start()
}

/// An admin token and a step-up token (PIN set first).
pub fn admin_and_step_up(d: &Daemon) -> (String, String) {
    let admin = d.mint("agent:admin");
    assert_eq!(
        d.post("/api/step-up/pin", Some(&admin), &json!({"newPin": "4821"}))
            .status,
        200
    );
    let su = d
        .post("/api/step-up", Some(&admin), &json!({"pin": "4821"}))
        .json()["stepUpToken"]
        .as_str()
        .unwrap()
        .to_string();
    (admin, su)
}

/// Opens `ws://…<path_query>` with extra request headers.
pub fn connect(
    d: &Daemon,
    path_query: &str,
    headers: &[(&str, &str)],
) -> Result<Ws, tungstenite::Error> {
    let mut req = format!("ws://127.0.0.1:{}{path_query}", d.port)
        .into_client_request()
        .unwrap();
    for (k, v) in headers {
        req.headers_mut().insert(
            tungstenite::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    let stream = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let config = WebSocketConfig::default()
        .max_frame_size(None)
        .max_message_size(None);
    tungstenite::client::client_with_config(req, stream, Some(config))
        .map(|(ws, _)| ws)
        .map_err(|e| match e {
            tungstenite::HandshakeError::Failure(e) => e,
            tungstenite::HandshakeError::Interrupted(_) => {
                tungstenite::Error::Io(ErrorKind::WouldBlock.into())
            }
        })
}

/// Attaches to `agent`'s session with admin + step-up in the query.
pub fn attach(d: &Daemon, agent: &str, query: &str, admin: &str, su: &str) -> Ws {
    connect(
        d,
        &format!("/terminal/{agent}?token={admin}&step_up={su}{query}"),
        &[],
    )
    .expect("upgrade")
}

/// What the client saw.
#[derive(Debug, Default)]
pub struct Seen {
    pub output: Vec<u8>,
    /// `(code, reason)` of the server's close frame.
    pub close: Option<(u16, String)>,
    pub text_frames: usize,
}

impl Seen {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.output).into_owned()
    }
}

/// Reads until `done(seen)` or a close or the deadline.
pub fn read_until(ws: &mut Ws, seen: &mut Seen, within: Duration, done: impl Fn(&Seen) -> bool) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline && seen.close.is_none() && !done(seen) {
        match ws.read() {
            Ok(Message::Binary(b)) => seen.output.extend_from_slice(&b),
            Ok(Message::Text(_)) => seen.text_frames += 1,
            Ok(Message::Close(f)) => {
                seen.close = Some(f.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                }))
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(e) => {
                seen.close.get_or_insert((1006, e.to_string()));
            }
        }
    }
}

/// Reads until the output contains `needle`; panics with what was seen otherwise.
pub fn expect_output(ws: &mut Ws, seen: &mut Seen, needle: &str) {
    read_until(ws, seen, Duration::from_secs(20), |s| {
        s.text().contains(needle)
    });
    assert!(
        seen.text().contains(needle),
        "no {needle:?} in the terminal output: {:?} (close {:?})",
        seen.text(),
        seen.close
    );
}

/// Reads until the server's close frame arrives; returns its code and reason.
pub fn expect_close(ws: &mut Ws, seen: &mut Seen) -> (u16, String) {
    read_until(ws, seen, Duration::from_secs(30), |_| false);
    seen.close.clone().expect("the server closed the socket")
}

pub fn type_text(ws: &mut Ws, text: &str) {
    ws.send(Message::Binary(text.as_bytes().to_vec().into()))
        .unwrap();
}

/// Pids of live viewer processes attached to `session` (`tmux attach -t =<session>`).
pub fn viewers_of(session: &str) -> Vec<u32> {
    let target = format!("={session}");
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        if args.contains(&target.as_bytes()) && args.contains(&&b"attach"[..]) {
            out.push(pid);
        }
    }
    out
}

/// Waits until no viewer of `session` is left.
pub fn wait_no_viewer(session: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !viewers_of(session).is_empty() {
        assert!(
            Instant::now() < deadline,
            "viewer of {session} still running: {:?}",
            viewers_of(session)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A directory holding an executable `tmux` with `script` as its body, to put first on
/// the daemon's `PATH`.
pub fn fake_tmux(script: &str) -> (tempfile::TempDir, String) {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin: PathBuf = dir.path().join("tmux");
    std::fs::write(&bin, script).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        dir.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    (dir, path)
}

/// A unique session-safe agent name.
pub fn agent_name(prefix: &str) -> String {
    format!("{prefix}{}", std::process::id())
}

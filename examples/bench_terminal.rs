//! Terminal figures (spec 06 §2): keystroke → echo round trip through the daemon and a
//! real tmux session, and flood throughput — through the daemon alone (a raw pty writer
//! as the viewer, every byte relayed) and through real tmux (which repaints rather than
//! relays, so fewer bytes arrive than the session wrote). Run by `scripts/bench-terminal.sh`.
//!
//! Usage: `bench_terminal <daemon binary> [keystrokes] [flood MiB]`.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<TcpStream>;

struct Daemon {
    child: Child,
    port: u16,
    state: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signals the daemon we spawned.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start(bin: &Path, dir: &Path, tmux_dir: &Path, path: &str) -> Daemon {
    let port = free_port();
    let state = dir.join("state");
    let home = dir.join("home");
    std::fs::create_dir_all(home.join(".parachute")).unwrap();
    let log = std::fs::File::create(dir.join(format!("daemon-{port}.log"))).unwrap();
    let child = Command::new(bin)
        .env_clear()
        .env("PATH", path)
        .env("HOME", &home)
        .env("PARACHUTE_HOME", home.join(".parachute"))
        .env("PARACHUTE_AGENT_STATE_DIR", &state)
        .env("PARACHUTE_HUB_ORIGIN", "http://127.0.0.1:9")
        .env("TMUX_TMPDIR", tmux_dir)
        .env("PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("spawn daemon");
    let deadline = Instant::now() + Duration::from_secs(20);
    while ureq::get(&format!("http://127.0.0.1:{port}/health"))
        .call()
        .is_err()
    {
        assert!(Instant::now() < deadline, "daemon did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Daemon { child, port, state }
}

/// An admin token and a step-up token.
fn tokens(bin: &Path, d: &Daemon) -> (String, String) {
    let out = Command::new(bin)
        .args([
            "token",
            "mint",
            "--scope",
            "agent:admin",
            "--ttl",
            "1h",
            "--state-dir",
        ])
        .arg(&d.state)
        .output()
        .unwrap();
    let admin = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let base = format!("http://127.0.0.1:{}", d.port);
    let auth = format!("Bearer {admin}");
    ureq::post(&format!("{base}/api/step-up/pin"))
        .header("Authorization", &auth)
        .send_json(serde_json::json!({"newPin": "4821"}))
        .expect("set PIN");
    let v: serde_json::Value = ureq::post(&format!("{base}/api/step-up"))
        .header("Authorization", &auth)
        .send_json(serde_json::json!({"pin": "4821"}))
        .expect("step-up")
        .body_mut()
        .read_json()
        .unwrap();
    (admin, v["stepUpToken"].as_str().unwrap().to_string())
}

fn connect(d: &Daemon, agent: &str, admin: &str, su: &str) -> Ws {
    let url = format!(
        "ws://127.0.0.1:{}/terminal/{agent}?token={admin}&step_up={su}&cols=120&rows=40",
        d.port
    );
    let stream = TcpStream::connect(("127.0.0.1", d.port)).unwrap();
    stream.set_nodelay(true).unwrap();
    let config = WebSocketConfig::default()
        .max_frame_size(None)
        .max_message_size(None);
    let (ws, _) = tungstenite::client::client_with_config(
        url.into_client_request().unwrap(),
        stream,
        Some(config),
    )
    .unwrap_or_else(|e| panic!("upgrade: {e}"));
    ws
}

fn tmux(dir: &Path, args: &[&str]) {
    let ok = Command::new("tmux")
        .args(["-f", "/dev/null"])
        .args(args)
        .env("TMUX_TMPDIR", dir)
        .env_remove("TMUX")
        .status()
        .unwrap()
        .success();
    assert!(ok, "tmux {args:?}");
}

/// Reads binary frames until `done(all bytes so far)`; returns the byte count.
fn read_until(ws: &mut Ws, mut done: impl FnMut(&[u8]) -> bool) -> usize {
    let mut total = 0;
    loop {
        match ws.read() {
            Ok(Message::Binary(b)) => {
                total += b.len();
                if done(&b) {
                    return total;
                }
            }
            Ok(Message::Close(_)) => return total,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Text of `bytes` outside escape sequences.
fn visible(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut esc = false;
    for &b in bytes {
        if esc {
            if b.is_ascii_alphabetic() || b == b'~' {
                esc = false;
            }
        } else if b == 0x1b {
            esc = true;
        } else {
            out.push(b);
        }
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn keystrokes(d: &Daemon, dir: &Path, admin: &str, su: &str, n: usize) {
    tmux(
        dir,
        &[
            "new-session",
            "-d",
            "-s",
            "echo-agent",
            "-x",
            "120",
            "-y",
            "40",
            "sh",
        ],
    );
    tmux(dir, &["set-option", "-g", "status", "off"]);
    let mut ws = connect(d, "echo", admin, su);
    // The shell is ready once it answered.
    ws.send(Message::Binary(b"echo rdy-$((1+1))\r".to_vec().into()))
        .unwrap();
    let mut seen = Vec::new();
    read_until(&mut ws, |b| {
        seen.extend_from_slice(&visible(b));
        seen.windows(5).any(|w| w == b"rdy-2")
    });
    drain(&mut ws);
    let letters = b"abcdefgijknopsuvwxyz";
    let mut times = Vec::with_capacity(n);
    for i in 0..n {
        let c = letters[i % letters.len()];
        let t = Instant::now();
        ws.send(Message::Binary(vec![c].into())).unwrap();
        read_until(&mut ws, |b| visible(b).contains(&c));
        times.push(t.elapsed());
        if i % 60 == 59 {
            // Keep the line short: erase it (Ctrl-U) and wait for the redraw to settle.
            ws.send(Message::Binary(vec![0x15].into())).unwrap();
            std::thread::sleep(Duration::from_millis(50));
            drain(&mut ws);
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "keystroke -> echo (daemon + tmux + sh), {n} keys: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&times, 0.50)),
        ms(percentile(&times, 0.99)),
        ms(times[n - 1])
    );
    let _ = ws.close(None);
}

fn drain(ws: &mut Ws) {
    let timeout = Some(Duration::from_millis(20));
    ws.get_ref().set_read_timeout(timeout).unwrap();
    while ws.read().is_ok() {}
    ws.get_ref().set_read_timeout(None).unwrap();
}

fn flood_raw(bin: &Path, dir: &Path, mib: usize) {
    // The viewer writes `mib` MiB straight into its pty (raw mode): every byte is relayed.
    let fake = dir.join("fakebin");
    std::fs::create_dir_all(&fake).unwrap();
    let script = format!(
        "#!/bin/sh\nstty raw -echo\nexec head -c {} /dev/zero\n",
        mib << 20
    );
    let tmux_bin = fake.join("tmux");
    std::fs::write(&tmux_bin, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&tmux_bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:/usr/bin:/bin", fake.display());
    let d = start(bin, &dir.join("raw"), &dir.join("tmux-raw"), &path);
    let (admin, su) = tokens(bin, &d);
    let mut ws = connect(&d, "flood", &admin, &su);
    let t = Instant::now();
    let total = read_until(&mut ws, |_| false);
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(total, mib << 20, "every byte relayed");
    println!(
        "flood through the daemon (raw pty writer): {mib} MiB in {secs:.2} s = {:.0} MiB/s",
        mib as f64 / secs
    );
}

fn flood_tmux(d: &Daemon, dir: &Path, admin: &str, su: &str, mib: usize) {
    tmux(
        dir,
        &[
            "new-session",
            "-d",
            "-s",
            "tflood-agent",
            "-x",
            "120",
            "-y",
            "40",
            "sh",
        ],
    );
    let mut ws = connect(d, "tflood", admin, su);
    let cmd = format!(
        "head -c {} /dev/zero | tr '\\0' 'x' | fold -w 100; echo FLOOD-END-$((40+2))\r",
        mib << 20
    );
    ws.send(Message::Binary(cmd.into_bytes().into())).unwrap();
    let t = Instant::now();
    let mut tail = Vec::new();
    let total = read_until(&mut ws, |b| {
        tail.extend_from_slice(b);
        let keep = tail.len().saturating_sub(4096);
        tail.drain(..keep);
        let v = visible(&tail);
        v.windows(13)
            .any(|w| w == b"FLOOD-END-42\r" || w == b"FLOOD-END-42\n")
    });
    let secs = t.elapsed().as_secs_f64();
    println!(
        "flood through real tmux: the session wrote {mib} MiB in {secs:.2} s = {:.0} MiB/s of session output; {:.1} MiB of repaint reached the client",
        mib as f64 / secs,
        total as f64 / (1 << 20) as f64
    );
}

/// Kills the bench's private tmux server, even when a phase panics.
struct TmuxServer(PathBuf);

impl Drop for TmuxServer {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .arg("kill-server")
            .env("TMUX_TMPDIR", &self.0)
            .status();
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let bin = PathBuf::from(
        args.next()
            .expect("usage: bench_terminal <daemon> [keys] [MiB]"),
    );
    let keys: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let mib: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let dir = tempfile::tempdir().unwrap();
    let tmux_dir = dir.path().join("tmux");
    std::fs::create_dir_all(&tmux_dir).unwrap();
    let _server = TmuxServer(tmux_dir.clone());
    let path = std::env::var("PATH").unwrap_or_default();
    {
        let d = start(&bin, &dir.path().join("real"), &tmux_dir, &path);
        let (admin, su) = tokens(&bin, &d);
        keystrokes(&d, &tmux_dir, &admin, &su, keys);
        flood_tmux(&d, &tmux_dir, &admin, &su, mib);
    }
    flood_raw(&bin, dir.path(), mib);
}

//! Attaching to real tmux sessions: typing and reading back, resizing, the session's end,
//! a missing session, a viewer that cannot start, and nothing left running after a close.

use std::time::Duration;

use super::*;

/// Type into a session and read the shell's answer back; the query's geometry and a
/// resize frame reach the pane (`stty size` inside the session); the client's close
/// detaches the viewer (no process left) while the tmux session lives on.
#[test]
fn typing_reaches_the_session_and_resizes_reach_the_pane() {
    if !tmux_available() {
        return;
    }
    let tmux = Tmux::new();
    let agent = agent_name("type");
    let session = format!("{agent}-agent");
    tmux.session(&session);
    let d = daemon(&tmux, &[]);
    let (admin, su) = admin_and_step_up(&d);
    let mut ws = attach(&d, &agent, "&cols=90&rows=20", &admin, &su);
    let mut seen = Seen::default();
    // Arithmetic the shell must do: the echo of our keystrokes alone cannot match.
    type_text(&mut ws, "echo sum-$((6*7))-end; stty size\r");
    expect_output(&mut ws, &mut seen, "sum-42-end");
    expect_output(&mut ws, &mut seen, "20 90");
    assert_eq!(viewers_of(&session).len(), 1, "one viewer while attached");

    ws.send(Message::Text(
        r#"{"type":"resize","cols":100,"rows":30}"#.into(),
    ))
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    seen.output.clear();
    type_text(&mut ws, "stty size\r");
    expect_output(&mut ws, &mut seen, "30 100");

    // A text frame that is not a resize is input.
    seen.output.clear();
    ws.send(Message::Text("echo text-$((2+3))\r".into()))
        .unwrap();
    expect_output(&mut ws, &mut seen, "text-5");

    ws.close(None).unwrap();
    read_until(&mut ws, &mut seen, Duration::from_secs(5), |_| false);
    wait_no_viewer(&session);
    assert!(tmux.has_session(&session), "the tmux session lives on");
    assert_eq!(seen.text_frames, 0, "the server sends binary frames only");
}

/// The session's end closes the socket 1000 "terminal session ended".
#[test]
fn the_end_of_the_session_closes_1000() {
    if !tmux_available() {
        return;
    }
    let tmux = Tmux::new();
    let agent = agent_name("end");
    let session = format!("{agent}-agent");
    tmux.session(&session);
    let d = daemon(&tmux, &[]);
    let (admin, su) = admin_and_step_up(&d);
    let mut ws = attach(&d, &agent, "", &admin, &su);
    let mut seen = Seen::default();
    type_text(&mut ws, "echo bye-$((1+1))\r");
    expect_output(&mut ws, &mut seen, "bye-2");
    // The shell's exit ends the only pane, so the session and its viewer end.
    type_text(&mut ws, "exit\r");
    let (code, reason) = expect_close(&mut ws, &mut seen);
    assert_eq!((code, reason.as_str()), (1000, "terminal session ended"));
    wait_no_viewer(&session);
}

/// A session that does not exist: tmux attach exits at once → 1000 (spec 06 §2.1).
#[test]
fn a_missing_session_closes_1000() {
    if !tmux_available() {
        return;
    }
    let tmux = Tmux::new();
    let d = daemon(&tmux, &[]);
    let (admin, su) = admin_and_step_up(&d);
    let mut ws = attach(&d, &agent_name("nosuch"), "", &admin, &su);
    let mut seen = Seen::default();
    assert_eq!(expect_close(&mut ws, &mut seen).0, 1000);
}

/// A viewer that cannot be started (its interpreter is missing) → 1011.
#[test]
fn a_viewer_that_cannot_start_closes_1011() {
    if !tmux_available() {
        return;
    }
    let tmux = Tmux::new();
    let (_dir, path) = fake_tmux("#!/nonexistent/interpreter\n");
    let d = daemon(&tmux, &[("PATH", &path)]);
    let (admin, su) = admin_and_step_up(&d);
    let mut ws = attach(&d, "broken", "", &admin, &su);
    let mut seen = Seen::default();
    assert_eq!(
        expect_close(&mut ws, &mut seen),
        (1011, "failed to attach terminal session".to_string())
    );
}

/// `/health.dependencies.missing`, once the preflight filled it in.
fn missing_deps(d: &crate::support::daemon::Daemon) -> Vec<String> {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let h = d.get("/health", None).json();
        if let Some(m) = h["dependencies"]["missing"].as_array() {
            return m
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no dependencies in {h}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Without tmux on PATH the upgrade is refused with a clear 503, and from then on
/// `/health` lists tmux as missing (not before: a host that never uses the terminal does
/// not need it).
#[test]
fn without_tmux_the_upgrade_is_503() {
    let tmux = Tmux::new();
    let empty = tempfile::tempdir().unwrap();
    let d = daemon(&tmux, &[("PATH", &empty.path().display().to_string())]);
    assert!(!missing_deps(&d).contains(&"tmux".to_string()));
    let (admin, su) = admin_and_step_up(&d);
    let ws = [
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("X-Step-Up-Token", su.as_str()),
    ];
    let r = d.send("GET", "/terminal/eng", Some(&admin), &ws, None);
    assert_eq!(r.status, 503);
    assert!(r.error().contains("tmux"), "{}", r.error());
    let post = d.send(
        "POST",
        "/api/agents/eng/session",
        Some(&admin),
        &[("X-Step-Up-Token", su.as_str())],
        Some(b"{}"),
    );
    assert_eq!(post.status, 503);
    assert!(post.error().contains("tmux"), "{}", post.error());
    let missing = missing_deps(&d);
    assert_eq!(
        missing.last().map(String::as_str),
        Some("tmux"),
        "{missing:?}"
    );
}

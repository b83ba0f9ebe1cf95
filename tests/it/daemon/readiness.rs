//! Boot readiness, black-box: the listener answers `/health` while the sandbox
//! preflight still runs (`dependencies.checking: true`), a turn that arrives meanwhile
//! waits for the preflight's verdict and never runs unsandboxed, and a configured channel
//! is never answered as unknown in the first milliseconds after boot.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::daemon::DaemonBuilder;

/// A PATH dir with the fake `claude` and a stand-in `bwrap` whose sandbox trial blocks
/// until `<dir>/gate` exists, then fails the way bwrap does without user namespaces.
fn gated_tools() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    let script = format!(
        "#!/bin/sh\nwhile [ ! -e '{}' ]; do sleep 0.02; done\n\
         echo 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n",
        gate.display()
    );
    let bwrap = dir.path().join("bwrap");
    std::fs::write(&bwrap, script).unwrap();
    std::fs::set_permissions(&bwrap, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let claude = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/claude");
    std::os::unix::fs::symlink(claude, dir.path().join("claude")).unwrap();
    (dir, gate)
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn health_answers_while_the_preflight_runs() {
    let (dir, gate) = gated_tools();
    let d = DaemonBuilder::new()
        .env("PATH", &dir.path().display().to_string())
        .unsettled()
        .start();
    let h = d.get("/health", None).json();
    assert_eq!(
        h["dependencies"],
        json!({"ok": false, "missing": [], "checking": true})
    );
    assert!(h["channels"].is_array() && h["programmatic_agents"].is_array());
    std::fs::write(&gate, "").unwrap();
    wait_until("the preflight result", || {
        d.get("/health", None).json()["dependencies"]["checking"] != true
    });
    let deps = d.get("/health", None).json()["dependencies"].clone();
    assert_eq!((&deps["ok"], &deps["missing"]), (&json!(false), &json!([])));
    assert!(deps.get("checking").is_none(), "{deps}");
    assert!(deps["problems"][0]
        .as_str()
        .unwrap()
        .contains("uid map: Permission denied"));
}

#[test]
fn a_turn_during_the_preflight_waits_for_it_and_never_runs_unsandboxed() {
    let (dir, gate) = gated_tools();
    let b = DaemonBuilder::new().unsettled();
    let e = crate::programmatic::turns::setup_from(
        b,
        &[
            ("PATH", &dir.path().display().to_string()),
            // Never the unsandboxed test switch: this test is about the sandbox verdict.
            ("PARACHUTE_AGENT_TEST_UNSANDBOXED", "0"),
        ],
    );
    e.spawn("w");
    e.send("w", "hello", &[]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        e.d.get("/health", None).json()["dependencies"]["checking"],
        true
    );
    assert!(e.calls("w").is_empty());
    std::fs::write(&gate, "").unwrap();
    let out = e.wait_outbound("w", 1);
    let text = out[0]["content"].as_str().unwrap_or("");
    assert!(
        text.contains(
            "Sandbox dependencies not available: bubblewrap (bwrap) cannot create a sandbox"
        ),
        "the turn got the preflight's verdict, not 'has not run': {text}"
    );
    assert!(e.calls("w").is_empty(), "claude must never run unsandboxed");
}

#[test]
fn a_configured_channel_is_never_unknown_at_boot() {
    for _ in 0..3 {
        let b = DaemonBuilder::new();
        std::fs::create_dir_all(b.state_dir()).unwrap();
        std::fs::write(
            b.state_dir().join("channels.json"),
            json!({"channels": [{"name": "web", "transport": "http-ui"}]}).to_string(),
        )
        .unwrap();
        let port = crate::support::free_port();
        let d = b.spawn_on(port);
        // The very first answer of /mcp/web (no token) must be the 401 of a known
        // channel, never `404 unknown channel`.
        let deadline = Instant::now() + Duration::from_secs(20);
        let first = loop {
            assert!(Instant::now() < deadline, "no answer; log:\n{}", d.log());
            let r = crate::support::http::agent()
                .post(d.url("/mcp/web"))
                .header("Content-Type", "application/json")
                .header("Accept", "application/json, text/event-stream")
                .send(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
            if let Ok(r) = r {
                break r.status().as_u16();
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        if d.log().contains("cannot bind") {
            continue; // another test took the port first
        }
        assert_eq!(first, 401, "log:\n{}", d.log());
    }
}

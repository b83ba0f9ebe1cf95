//! A channel DELETE that failed to persist (full disk) still removed the channel
//! from the live map, and it came back after a restart. Now the file is rewritten first;
//! a failed write is a 500 and changes nothing. The full disk is emulated by making the
//! state dir immutable (`chattr +i`), so the atomic rewrite's temp file cannot be created.

use serde_json::{json, Value};

use super::state_common::{assert_health_fast, assert_same, snapshot, wait_channel};
use crate::support::daemon::{Daemon, DaemonBuilder};

/// Makes `dir` immutable (`chattr +i`: no file may be created or renamed in it, even by
/// root — the full-disk stand-in) or mutable again. `false` when the file system or
/// `chattr` cannot do it (skip; a failure under `PARACHUTE_TEST_REQUIRE_ALL=1`).
fn immutable(dir: &std::path::Path, on: bool) -> bool {
    let ok = std::process::Command::new("chattr")
        .arg(if on { "+i" } else { "-i" })
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var("PARACHUTE_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
            "chattr +i is required here (PARACHUTE_TEST_REQUIRE_ALL=1)"
        );
        eprintln!("skipping: chattr +i does not work on {}", dir.display());
    }
    ok
}

fn channel_names(d: &Daemon, admin: &str) -> Vec<String> {
    let r = d.get("/api/channels", Some(admin));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn channel_delete_that_cannot_persist_changes_nothing() {
    let b = DaemonBuilder::new();
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [{"name": "web", "transport": "http-ui"},
                            {"name": "keep", "transport": "http-ui"}]})
        .to_string(),
    )
    .unwrap();
    let mut d = b.start();
    wait_channel(&d, "keep");
    let admin = d.mint("agent:admin");
    let before = snapshot(&d.state_dir(), &[]);

    if !immutable(&d.state_dir(), true) {
        return;
    }
    let r = d.send("DELETE", "/api/channels/web", Some(&admin), &[], None);
    assert_eq!(r.status, 500, "{}", r.body);
    let body: Value = r.json();
    assert!(
        body["error"].as_str().unwrap().contains("channels.json"),
        "{body}"
    );
    assert_eq!(
        channel_names(&d, &admin),
        ["web", "keep"],
        "live map unchanged"
    );
    assert_health_fast(&d);
    assert!(immutable(&d.state_dir(), false));
    assert_same(&before, &snapshot(&d.state_dir(), &[]));

    // Disk space back: the delete works, and stays done after a restart.
    let r = d.send("DELETE", "/api/channels/web", Some(&admin), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(channel_names(&d, &admin), ["keep"]);
    d.restart();
    wait_channel(&d, "keep");
    assert_eq!(channel_names(&d, &admin), ["keep"]);
}

#[test]
fn agent_delete_that_cannot_remove_its_spec_keeps_the_agent() {
    let b = DaemonBuilder::new().env("PATH", &crate::programmatic::api::fakes_path());
    crate::programmatic::api::write_credentials(&b.state_dir(), json!({}));
    let d = b.start();
    let admin = d.mint("agent:admin");
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "eng", "channels": ["eng"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // spec.json cannot be removed (a directory in its place; as root, permissions would
    // not stop the removal).
    let spec = d.state_dir().join("sessions/eng/spec.json");
    let saved = std::fs::read(&spec).unwrap();
    std::fs::remove_file(&spec).unwrap();
    std::fs::create_dir_all(spec.join("blocker")).unwrap();
    let r = d.send("DELETE", "/api/agents/eng", Some(&admin), &[], None);
    assert_eq!(r.status, 500, "{}", r.body);
    assert!(r.error().contains("spec.json"), "{}", r.body);
    let agents = d.get("/api/agents", Some(&admin)).json();
    assert_eq!(
        agents["agents"][0]["name"], "eng",
        "still registered: {agents}"
    );
    assert_health_fast(&d);
    std::fs::remove_dir_all(&spec).unwrap();
    std::fs::write(&spec, saved).unwrap();
    let r = d.send("DELETE", "/api/agents/eng", Some(&admin), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(!spec.exists());
}

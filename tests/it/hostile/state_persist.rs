//! Defect 12: a channel DELETE that failed to persist (full disk) still removed the channel
//! from the live map, and it came back after a restart. Now the file is rewritten first;
//! a failed write is a 500 and changes nothing. The full disk is emulated with
//! `RLIMIT_FSIZE` on the running daemon (which ignores `SIGXFSZ`, so the write fails with
//! `EFBIG` instead of killing it).

use serde_json::{json, Value};

use super::state_common::{assert_health_fast, assert_same, snapshot, wait_channel};
use crate::support::daemon::{Daemon, DaemonBuilder};

/// Sets the daemon's `RLIMIT_FSIZE` (bytes; `None` = unlimited).
fn limit_file_size(d: &Daemon, bytes: Option<u64>) {
    let pid = d.child.as_ref().unwrap().id() as libc::pid_t;
    let v = bytes.unwrap_or(libc::RLIM_INFINITY);
    let lim = libc::rlimit {
        rlim_cur: v,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: prlimit on a child we spawned, with a valid rlimit value.
    let rc = unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &lim, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
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

    limit_file_size(&d, Some(16));
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
    assert_same(&before, &snapshot(&d.state_dir(), &[]));

    // Disk space back: the delete works, and stays done after a restart.
    limit_file_size(&d, None);
    let r = d.send("DELETE", "/api/channels/web", Some(&admin), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(channel_names(&d, &admin), ["keep"]);
    d.restart();
    wait_channel(&d, "keep");
    assert_eq!(channel_names(&d, &admin), ["keep"]);
}

#[test]
fn agent_delete_that_cannot_remove_its_spec_keeps_the_agent() {
    let b = DaemonBuilder::new().env("PATH", &crate::engine::api::fakes_path());
    crate::engine::api::write_credentials(&b.state_dir(), json!({}));
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

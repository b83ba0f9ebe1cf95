//! Two daemons on one state dir both ran; `--port 0` registered port 0.

use std::time::Duration;

use super::state_common::{assert_health_fast, assert_same, snapshot};
use crate::support::daemon::DaemonBuilder;

#[test]
fn second_daemon_on_one_state_dir_exits_naming_the_first() {
    let first = DaemonBuilder::new().start();
    let pid = first.child.as_ref().unwrap().id();
    let before = snapshot(&first.state_dir(), &[]);
    let mut second = DaemonBuilder::new()
        .env(
            "PARACHUTE_AGENT_STATE_DIR",
            &first.state_dir().display().to_string(),
        )
        .spawn_on(crate::support::free_port());
    let code = second.wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(1), "second daemon must exit non-zero at once");
    let log = second.log();
    assert!(
        log.contains(&format!("another parachute-agent daemon (pid {pid})")),
        "the message names the running daemon's pid: {log}"
    );
    assert!(!log.contains("listening on"), "it never served: {log}");
    assert_health_fast(&first);
    assert_same(&before, &snapshot(&first.state_dir(), &[]));
}

#[test]
fn port_zero_binds_an_ephemeral_port_and_registers_it() {
    let mut d = DaemonBuilder::new()
        .arg("serve")
        .arg("--port")
        .arg("0")
        .spawn_on(0);
    assert!(d.wait_log("listening on http://127.0.0.1:"), "{}", d.log());
    let log = d.log();
    let port: u16 = log
        .split("listening on http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|p| p.parse().ok())
        .expect("a port in the log");
    assert_ne!(port, 0, "{log}");
    d.port = port;
    d.base = format!("http://127.0.0.1:{port}");
    d.wait_healthy();
    let services = d.tmp().join("home/.parachute/services.json");
    assert!(d.wait_file(&services));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&services).unwrap()).unwrap();
    let row = doc["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "parachute-agent")
        .expect("our row")
        .clone();
    assert_eq!(row["port"], port, "services.json carries the real port");
    assert_health_fast(&d);
}

//! Boot and shutdown, black-box (spec 01 §6): port precedence, state dir,
//! services.json, channels.json failures, `.env`, SIGTERM.

mod readiness;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::daemon::DaemonBuilder;
use crate::support::free_port;

#[test]
fn port_precedence_port_over_agent_port() {
    let (p1, p2) = (free_port(), free_port());
    let mut d = DaemonBuilder::new()
        .env("PARACHUTE_AGENT_PORT", &p2.to_string())
        .spawn_on(p1);
    d.wait_healthy();
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", p2)).is_err(),
        "PARACHUTE_AGENT_PORT must lose to PORT"
    );
    assert_eq!(d.terminate().0, Some(0));
}

#[test]
fn agent_port_and_legacy_port_fall_through_in_order() {
    let (p_agent, p_legacy) = (free_port(), free_port());
    let b = DaemonBuilder::new()
        .env("PORT", "")
        .env("PARACHUTE_AGENT_PORT", "not-a-number")
        .env("PARACHUTE_CHANNEL_PORT", &p_legacy.to_string());
    let mut d = b.spawn_on(p_agent);
    // PORT empty and PARACHUTE_AGENT_PORT non-numeric fall through to the legacy variable.
    d.port = p_legacy;
    d.base = format!("http://127.0.0.1:{p_legacy}");
    d.wait_healthy();
    assert_eq!(d.terminate().0, Some(0));
}

#[test]
fn boot_creates_private_state_dir_and_registers_in_services_json() {
    let d = DaemonBuilder::new().start();
    let mode = std::fs::metadata(d.state_dir())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);
    assert!(d.state_dir().join("inbox").is_dir());
    let path = d.tmp().join("home/.parachute/services.json");
    assert!(d.wait_file(&path));
    let manifest: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let row = &manifest["services"][0];
    assert_eq!(row["name"], "parachute-agent");
    assert_eq!(row["port"], d.port);
    assert_eq!(row["health"], "/health");
    assert_eq!(row["paths"], json!(["/agent"]));
    assert_eq!(row["stripPrefix"], true);
}

#[test]
fn services_json_rows_of_others_and_hub_stamps_survive() {
    let b = DaemonBuilder::new();
    let home = b.state_dir().parent().unwrap().join("home/.parachute");
    std::fs::write(
        home.join("services.json"),
        r#"{"services":[{"name":"parachute-vault","port":1940},{"name":"parachute-agent","port":1,"hubField":"kept"}]}"#,
    )
    .unwrap();
    let d = b.start();
    assert!(d.wait_log("registered in"));
    let manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(home.join("services.json")).unwrap())
            .unwrap();
    let rows = manifest["services"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["name"], "parachute-vault");
    assert_eq!(rows[1]["port"], d.port);
    assert_eq!(rows[1]["hubField"], "kept");
}

#[test]
fn sigterm_exits_zero_promptly() {
    let mut d = DaemonBuilder::new().start();
    let (code, took) = d.terminate();
    assert_eq!(code, Some(0), "log:\n{}", d.log());
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[test]
fn malformed_channels_json_exits_1_and_missing_file_starts_idle() {
    let b = DaemonBuilder::new();
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(b.state_dir().join("channels.json"), "{ nope").unwrap();
    let mut d = b.spawn_on(free_port());
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(1));
    assert!(
        d.log().contains("channels.json"),
        "log names the file:\n{}",
        d.log()
    );

    let b = DaemonBuilder::new();
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        r#"{"channels":[{"name":"x","transport":"carrier-pigeon"}]}"#,
    )
    .unwrap();
    let mut d = b.spawn_on(free_port());
    assert_eq!(d.wait_exit(Duration::from_secs(10)), Some(1));
    assert!(d.log().contains("unknown transport kind"), "{}", d.log());

    let d = DaemonBuilder::new().start();
    assert!(d.wait_log("starting idle"), "{}", d.log());
}

#[test]
fn dotenv_sets_only_unset_variables_and_is_made_private() {
    // The hub origin comes from .env unless the environment already has one.
    let hub = crate::support::hub::FakeHub::start();
    let b = DaemonBuilder::new().unset("PARACHUTE_HUB_ORIGIN");
    std::fs::create_dir_all(b.state_dir()).unwrap();
    let env_file = b.state_dir().join(".env");
    std::fs::write(
        &env_file,
        format!(
            "PARACHUTE_HUB_ORIGIN={}\n# comment\nPATH=/nowhere\n",
            hub.origin
        ),
    )
    .unwrap();
    let d = b.start();
    assert_eq!(
        std::fs::metadata(&env_file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let token = hub.token("agent:admin", json!({}));
    assert_eq!(
        d.get("/api/channels", Some(&token)).status,
        200,
        ".env supplied the hub origin"
    );
}

#[test]
fn version_and_help() {
    let out = std::process::Command::new(crate::support::daemon::BIN)
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("parachute-agent "));
    let out = std::process::Command::new(crate::support::daemon::BIN)
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("token mint"));
    let out = std::process::Command::new(crate::support::daemon::BIN)
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

//! `parachute-agent doctor` against the real CLI: it reports the installed version and
//! that the CLI accepts every flag of the daemon's command lines — including the ones the
//! real CLI hides from `--help` — so a CLI update that renames a flag shows up here.

use std::process::Command;

use serde_json::Value;

use super::*;
use crate::support::daemon::BIN;

#[test]
fn doctor_reports_the_real_cli_version_and_that_it_accepts_our_flags() {
    let Some(claude) = real_claude() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let scratch = tmp.path().join("tmp");
    std::fs::create_dir_all(&scratch).unwrap();
    let out = Command::new(BIN)
        .args(["doctor", "--json"])
        .env_clear()
        .env("PATH", path_with(&claude))
        .env("HOME", tmp.path().join("home"))
        .env("PARACHUTE_HOME", tmp.path().join("home/.parachute"))
        .env("PARACHUTE_AGENT_STATE_DIR", tmp.path().join("state"))
        .env("PARACHUTE_HUB_ORIGIN", "http://127.0.0.1:9")
        .env("TMPDIR", &scratch)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let check = |name: &str| -> Value {
        doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no check {name}: {doc}"))
    };
    let version = check("claude");
    assert_eq!(version["status"], "ok", "{version}");
    assert!(
        version["detail"].as_str().unwrap().contains(PINNED_VERSION),
        "{version}"
    );
    let flags = check("claude flags");
    assert_eq!(flags["status"], "ok", "{flags}");
    assert!(
        flags["detail"].as_str().unwrap().contains("accepts all"),
        "{flags}"
    );
    // nothing of the probe is left behind
    let leftovers = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("parachute-doctor-")
        })
        .count();
    assert_eq!(leftovers, 0);
}

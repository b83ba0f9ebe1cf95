//! Boot resolution of def-vaults, trigger auto-registration, and token refresh.

use serde_json::{json, Value};

use super::*;
use crate::support::daemon::DaemonBuilder;
use crate::support::fake_vault::{FakeVault, Verb};

#[test]
fn boot_registers_triggers_with_an_operator_token() {
    let fv = FakeVault::start();
    fv.grant("minted-vault:default:admin", None, Verb::Admin);
    let hub = FakeHub::start();
    let b = DaemonBuilder::new()
        .hub(&hub.origin)
        .env("PARACHUTE_AGENT_DEF_POLL_MS", "600000");
    write_bindings(&b, &fv, &["default"]);
    let home = b.state_dir().parent().unwrap().join("home/.parachute");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("operator.token"), "op-token\n").unwrap();
    let d = b.start();
    assert!(d.wait_log("auto-registered 3 trigger(s)"), "{}", d.log());
    let scopes: Vec<Value> = hub.state.mints.lock().clone();
    assert_eq!(
        scopes[0],
        json!({"scope": "vault:default:admin", "expires_in": 60})
    );
    assert_eq!(scopes[1], json!({"scope": "agent:send"}));
    let triggers = fv.triggers("default");
    let names: Vec<&str> = triggers.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "conn_agentdefs-create-default",
            "conn_agentdefs-edit-default",
            "conn_agentinbound-default"
        ]
    );
    assert_eq!(triggers[0].bearer().as_deref(), Some("minted-agent:send"));
    assert_eq!(
        triggers[0].webhook(),
        format!("{}/agent/api/vault/agent-def?vault=default", hub.origin)
    );
    assert_eq!(
        triggers[2].webhook(),
        format!("{}/agent/api/vault/inbound", hub.origin)
    );
    let posts: Vec<_> = fv
        .requests()
        .into_iter()
        .filter(|q| q.method == "POST" && q.url.ends_with("/api/triggers"))
        .collect();
    assert_eq!(posts.len(), 3);
    assert!(posts
        .iter()
        .all(|p| p.header("authorization") == Some("Bearer minted-vault:default:admin")));
}

#[test]
fn boot_mints_the_default_def_vault_when_no_file_exists() {
    let hub = FakeHub::start();
    let b = DaemonBuilder::new().hub(&hub.origin);
    let home = b.state_dir().parent().unwrap().join("home/.parachute");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("operator.token"), "op-token").unwrap();
    let file = b.state_dir().join("agent-vaults.json");
    let d = b.start();
    assert!(d.wait_file(&file), "{}", d.log());
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(
        v,
        json!({"vaults": [{"vault": "default", "vaultUrl": "http://127.0.0.1:1940",
                           "token": "minted-vault:default:write"}]})
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        hub.state.mints.lock()[0],
        json!({"scope": "vault:default:write"})
    );
}

#[test]
fn no_operator_token_and_no_file_means_no_def_vaults() {
    let d = DaemonBuilder::new().start();
    assert!(
        d.wait_log("no operator token — skipping the default def-vault"),
        "{}",
        d.log()
    );
    let read = d.mint("agent:read");
    assert_eq!(
        d.get("/api/agent-vaults", Some(&read)).json(),
        json!({"vaults": []})
    );
    assert_eq!(
        d.get("/api/agent-defs", Some(&read)).json(),
        json!({"defs": []})
    );
    assert!(!d.state_dir().join("agent-vaults.json").exists());
}

#[test]
fn one_vaults_trigger_failure_does_not_stop_the_next() {
    let fv = FakeVault::start();
    fv.add_vault("b");
    fv.grant("minted-vault:b:admin", Some("b"), Verb::Admin);
    let hub = FakeHub::start();
    let d = start_with_hub(&fv, &hub, &["a", "b"], "op-token");
    assert!(d.wait_log("vault-native agent defs —"), "{}", d.log());
    let log = d.log();
    assert!(
        log.contains("def-vault \"a\" — registered 0, 3 failed"),
        "{log}"
    );
    assert!(log.contains("conn_agentdefs-create-a: HTTP 40"), "{log}");
    assert!(
        log.contains("def-vault \"b\" — auto-registered 3 trigger(s)"),
        "{log}"
    );
    assert_eq!(fv.triggers("b").len(), 3);
}

#[test]
fn a_failed_default_mint_leaves_no_def_vault() {
    let hub = FakeHub::start();
    let fv = FakeVault::start();
    let d = start_with_hub(&fv, &hub, &[], "wrong-operator-token");
    assert!(
        d.wait_log("minting the default def-vault token failed (continuing)"),
        "{}",
        d.log()
    );
    assert!(!d.state_dir().join("agent-vaults.json").exists());
    let read = d.mint("agent:read");
    assert_eq!(
        d.get("/api/agent-vaults", Some(&read)).json(),
        json!({"vaults": []})
    );
}

#[test]
fn a_def_vault_token_near_expiry_is_re_minted_and_persisted() {
    use base64::Engine;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let payload = json!({"scope": "vault:default:write", "iat": now - 3000, "exp": now + 60});
    let old = format!(
        "eyJhbGciOiJSUzI1NiJ9.{}.sig",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let fv = FakeVault::start();
    fv.grant(&old, None, Verb::Write);
    fv.grant("minted-vault:default:write", None, Verb::Write);
    let hub = FakeHub::start();
    let b = DaemonBuilder::new()
        .hub(&hub.origin)
        .env("PARACHUTE_AGENT_DEF_POLL_MS", "150");
    let dir = b.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("credentials.json"),
        json!({"claude": {"default": "sk-ant-oat01-test"}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("agent-vaults.json"),
        json!({"vaults": [{"vault": "default", "vaultUrl": fv.url(), "token": old}]}).to_string(),
    )
    .unwrap();
    let home = dir.parent().unwrap().join("home/.parachute");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("operator.token"), "op-token").unwrap();
    fv.create_note("default", def_note("eng", "", json!({"name": "eng"})));
    let d = b.start();
    let file = d.state_dir().join("agent-vaults.json");
    assert!(
        wait(10, || std::fs::read_to_string(&file)
            .unwrap_or_default()
            .contains("minted-vault:default:write")),
        "token not refreshed:\n{}",
        d.log()
    );
    // later vault calls use the new token, and the agent stays live
    fv.clear_requests();
    assert!(wait(10, || fv.requests().iter().any(|q| q
        .header("authorization")
        == Some("Bearer minted-vault:default:write"))));
    let read = d.mint("agent:read");
    let defs = d.get("/api/agent-defs", Some(&read)).json();
    assert_eq!(defs["defs"][0]["name"], "eng", "{defs}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&old));
}

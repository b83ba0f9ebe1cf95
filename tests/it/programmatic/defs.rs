//! A vault-native (definition note) agent: multi-threaded mode, the per-turn vault token
//! minted at the hub and handed to `claude` in `.mcp.json`, one thread note per fire.

use std::time::{Duration, Instant};

use parachute_agent::vault::notes::TAG_INBOUND;
use serde_json::{json, Value};

use super::api::fakes_path;
use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_vault::{FakeVault, Verb};
use crate::support::hub::FakeHub;

/// The fake hub, with the grants the tests' agent `m` has: one approved service grant
/// (with material) and one pending vault grant.
fn hub_with_grants() -> FakeHub {
    let hub = FakeHub::start();
    hub.state.grants.lock().insert(
        "m".into(),
        vec![
            json!({"id": "g-ok", "status": "approved", "agent": "m",
                   "connection": {"kind": "service", "target": "github", "inject": ["env", "mcp"]}}),
            json!({"id": "g-pending", "status": "pending", "agent": "m",
                   "connection": {"kind": "vault", "target": "research", "access": "read"}}),
        ],
    );
    hub.state.materials.lock().insert(
        "g-ok".into(),
        json!({"kind": "service", "token": "ghp_granted", "inject": ["env", "mcp"]}),
    );
    hub
}

/// A daemon with the fake claude on PATH, a Claude token, `fv`'s `default` vault bound as
/// its def-vault, and the operator token the fake hub accepts for minting.
fn start_def_daemon(fv: &FakeVault, hub: &FakeHub) -> Daemon {
    let b = DaemonBuilder::new()
        .env("PATH", &fakes_path())
        .hub(&hub.origin)
        .env("PARACHUTE_VAULT_URL", &fv.url())
        .def_vault(&fv.url(), FakeVault::TOKEN);
    std::fs::write(
        b.state_dir().join("credentials.json"),
        json!({"claude": {"default": "sk-ant-oat01-fake"}}).to_string(),
    )
    .unwrap();
    b.start()
}

#[test]
fn multi_threaded_definition_agent_mints_per_turn_and_writes_a_note_per_fire() {
    let fv = FakeVault::start();
    let hub = hub_with_grants();
    fv.create_note(
        "default",
        json!({"content": "You are terse.", "tags": ["agent/definition"], "path": "Agents/m",
               "metadata": {"name": "m", "mode": "multi-threaded"}}),
    );
    fv.create_note(
        "default",
        json!({"content": "Be kind.", "tags": ["agent/definition"], "path": "Agents/att",
               "metadata": {"name": "att", "backend": "attached"}}),
    );
    let d = start_def_daemon(&fv, &hub);
    let admin = d.mint("agent:admin");
    let t0 = Instant::now();
    let agents = loop {
        let a = d.get("/api/agents", Some(&admin)).json()["agents"].clone();
        if a.as_array().unwrap().len() == 2 {
            break a;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "defs never registered:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    };
    // programmatic first, then attached
    assert_eq!(agents[0]["name"], "m");
    assert_eq!(agents[0]["systemPromptMode"], "append");
    let sessions = d.state_dir().join("sessions");
    assert_eq!(
        agents[1],
        json!({"name": "att", "session": "att-agent",
               "workspace": sessions.join("att").display().to_string(), "hasWorkspace": false,
               "backend": "attached", "status": "idle", "channel": "att",
               "systemPromptMode": "append"})
    );
    fv.register_trigger(
        "default",
        json!({"name": "engine-test-inbound", "events": ["created"],
               "when": {"tags": [TAG_INBOUND], "has_metadata": ["agent"]},
               "action": {"webhook": d.url("/api/vault/inbound"), "send": "json",
                          "auth": {"bearer": d.mint("agent:send")}}}),
    )
    .unwrap();
    for text in ["first", "second"] {
        let ts = parachute_agent::util::time::now_iso();
        let (_, body) = parachute_agent::vault::notes::inbound_message_body(
            "channel",
            "m",
            text,
            "operator",
            &ts,
            &[],
        );
        fv.create_note("default", body);
        let t0 = Instant::now();
        while !fv
            .notes_tagged("default", "agent/message/outbound")
            .iter()
            .any(|n| n["content"].as_str().unwrap_or("").contains(text))
        {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "no reply:\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }
    // one thread note per fire, each counting one turn, carrying the definition id
    let threads = fv.notes_tagged("default", "agent/thread");
    assert_eq!(threads.len(), 2, "{threads:?}");
    for t in &threads {
        assert_eq!(t["metadata"]["mode"], "multi-threaded");
        assert_eq!(t["metadata"]["turn_count"], "1");
        assert!(t["path"].as_str().unwrap().starts_with("Threads/m/"));
        assert!(t["metadata"]["definition"].as_str().is_some());
    }
    // fresh session per fire; the append prompt file is passed every turn
    let calls: Vec<Value> =
        std::fs::read_to_string(d.state_dir().join("sessions/m/fake-claude-calls.jsonl"))
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
    assert_eq!(calls.len(), 2);
    for c in &calls {
        assert_eq!(c["argv"][9], "--append-system-prompt-file");
        assert_eq!(c["argv"][11], "--session-id");
    }
    assert_ne!(calls[0]["argv"][12], calls[1]["argv"][12]);
    // the vault token was minted per turn with the spec's request and reached .mcp.json
    let mints: Vec<Value> = hub
        .state
        .mints
        .lock()
        .iter()
        .filter(|r| r["scope"] == "vault:default:write")
        .cloned()
        .collect();
    assert_eq!(mints.len(), 2, "{mints:?}");
    assert_eq!(
        mints[0],
        json!({"scope": "vault:default:write", "audience": "vault.default"})
    );
    // approved grants: fetched fresh every turn; the pending one never fetched
    let calls_to_hub: Vec<String> = hub
        .state
        .grant_calls
        .lock()
        .iter()
        .filter_map(|(call, _)| call.strip_prefix("GET ").map(str::to_string))
        .collect();
    assert_eq!(
        calls_to_hub
            .iter()
            .filter(|u| *u == "/admin/grants/g-ok/material")
            .count(),
        2
    );
    assert!(!calls_to_hub
        .iter()
        .any(|u| u.contains("g-pending/material")));
    assert_eq!(calls[0]["env"]["GITHUB_TOKEN"], "ghp_granted");
    let mcp: Value = serde_json::from_str(
        &std::fs::read_to_string(d.state_dir().join("sessions/m/.mcp.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        mcp,
        json!({"mcpServers": {
            "parachute-vault-default": {"type": "http",
                "url": format!("{}/vault/default/mcp", fv.url()),
                "headers": {"Authorization": "Bearer minted-vault:default:write"}},
            "grant-service-github": {"type": "http",
                "url": "https://api.githubcopilot.com/mcp/",
                "headers": {"Authorization": "Bearer ghp_granted"}}}})
    );
    assert_eq!(
        std::fs::read_to_string(d.state_dir().join("sessions/m/system-prompt.txt")).unwrap(),
        "You are terse."
    );
}

#[test]
fn attachments_of_an_inbound_note_are_staged_for_a_vault_agent() {
    let fv = FakeVault::start();
    let hub = hub_with_grants();
    fv.create_note(
        "default",
        json!({"content": "", "tags": ["agent/definition"], "path": "Agents/m",
               "metadata": {"name": "m"}}),
    );
    // The per-turn token the hub mints is valid on the vault.
    fv.grant("minted-vault:default:write", Some("default"), Verb::Read);
    let d = start_def_daemon(&fv, &hub);
    let admin = d.mint("agent:admin");
    let t0 = Instant::now();
    while d.get("/api/agents", Some(&admin)).json()["agents"] == json!([]) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "def never registered:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    // An inbound note (untagged, so no vault trigger races us) with two attachments, one
    // of them with a hostile name; then the webhook as the vault would send it.
    let note = fv.create_note(
        "default",
        json!({"content": "see files", "path": "channel/m/x1",
               "metadata": {"agent": "m", "direction": "inbound", "sender": "operator"}}),
    );
    let id = note["id"].as_str().unwrap().to_string();
    fv.add_attachment(
        "default",
        &id,
        "uploads/../../etc/passwd",
        "text/plain",
        b"not really",
    );
    fv.add_attachment("default", &id, "uploads/chart.png", "image/png", b"\x89PNG");
    // The vault's webhook payload lists the attachments inline.
    let mut inline = fv.note("default", &id).unwrap();
    inline["attachments"] = json!([{"path": "uploads/chart.png"}]);
    let payload = json!({"trigger": "t", "event": "created", "note": inline});
    let r = d.post("/api/vault/inbound", Some(&d.mint("agent:send")), &payload);
    assert_eq!(r.status, 200, "{}", r.body);
    let t0 = Instant::now();
    while fv
        .notes_tagged("default", "agent/message/outbound")
        .is_empty()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "no reply:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
    let att = d.state_dir().join("sessions/m/attachments");
    assert_eq!(std::fs::read(att.join("passwd")).unwrap(), b"not really");
    assert_eq!(std::fs::read(att.join("chart.png")).unwrap(), b"\x89PNG");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(att.join("chart.png"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let calls =
        std::fs::read_to_string(d.state_dir().join("sessions/m/fake-claude-calls.jsonl")).unwrap();
    let call: Value = serde_json::from_str(calls.lines().next().unwrap()).unwrap();
    assert_eq!(
        call["argv"][1],
        Value::String(format!(
            "see files\n\n[Attached files — read them as needed:\n- {} (text/plain)\n- {} (image/png)\n]",
            att.join("passwd").display(),
            att.join("chart.png").display()
        ))
    );
}

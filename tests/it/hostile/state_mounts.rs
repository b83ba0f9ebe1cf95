//! `POST /api/agents` with only `agent:admin` accepted a read-only mount of the
//! state dir (every secret readable by the turn), and with step-up `workspace=<state dir>`
//! let a turn rewrite them. Now no mount or workspace may be, contain or lie inside the
//! state dir or `$PARACHUTE_HOME`, or be or contain the daemon user's home — 400 naming
//! the rule, with or without step-up; definition notes get `status: error`.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::state_common::{assert_health_fast, assert_same, snapshot};
use crate::programmatic::api::{fakes_path, write_credentials};
use crate::security::{exchange, set_pin};
use crate::support::daemon::DaemonBuilder;
use crate::support::fake_vault::FakeVault;

fn spawn_body(extra: Value) -> Value {
    let mut body = json!({"name": "thief", "channels": ["thief"]});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

fn ro(p: &Path) -> Value {
    json!({"mounts": [{"hostPath": p, "mountPath": p, "mode": "ro"}]})
}

#[test]
fn no_bind_of_the_state_dir_home_or_their_parents_with_or_without_step_up() {
    let b = DaemonBuilder::new().env("PATH", &fakes_path());
    write_credentials(&b.state_dir(), json!({}));
    let d = b.start();
    let admin = d.mint("agent:admin agent:read agent:write agent:send");
    set_pin(&d, &admin, "482913");
    let step_up = exchange(&d, &admin, "482913");
    let state = d.state_dir();
    let home = d.tmp().join("home");
    let link = d.tmp().join("innocent");
    std::os::unix::fs::symlink(&state, &link).unwrap();
    let with_slash = format!("{}/", state.display());
    let dotted = state.join("sessions/../");
    let before = snapshot(&state, &[]);

    let attempts = [
        ro(&state),
        ro(Path::new(&with_slash)),
        ro(&dotted),
        ro(&link),
        ro(&state.join("credentials.json")),
        ro(d.tmp()),
        ro(&home),
        ro(&home.join(".parachute")),
        ro(Path::new("/")),
        json!({"workspace": state}),
        json!({"workspace": link}),
        json!({"workspace": home}),
        json!({"mounts": [{"hostPath": state, "mountPath": "/elsewhere", "mode": "rw"}]}),
    ];
    for extra in &attempts {
        for su in [None, Some(step_up.as_str())] {
            let mut headers = vec![("Content-Type", "application/json")];
            if let Some(s) = su {
                headers.push(("X-Step-Up-Token", s));
            }
            let body = serde_json::to_vec(&spawn_body(extra.clone())).unwrap();
            let r = d.send("POST", "/api/agents", Some(&admin), &headers, Some(&body));
            assert_eq!(
                r.status,
                400,
                "{extra} (step-up {}): {}",
                su.is_some(),
                r.body
            );
            assert!(
                r.error().contains("protected-path rule"),
                "the error names the rule: {}",
                r.body
            );
        }
    }
    // Nothing was registered or written.
    let agents = d.get("/api/agents", Some(&admin)).json();
    assert_eq!(agents["agents"], json!([]), "{agents}");
    assert_health_fast(&d);
    assert_same(&before, &snapshot(&state, &[]));

    // Still allowed: a dir inside the home, a dir elsewhere, a workspace inside W.
    let code = home.join("code");
    std::fs::create_dir_all(&code).unwrap();
    let r = d.send(
        "POST",
        "/api/agents",
        Some(&admin),
        &[("X-Step-Up-Token", &step_up)],
        Some(&serde_json::to_vec(&spawn_body(json!({"workspace": code}))).unwrap()),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn a_definition_note_binding_the_state_dir_gets_status_error() {
    let fv = FakeVault::start();
    fv.add_vault("default");
    let b = DaemonBuilder::new().env("PATH", &fakes_path());
    write_credentials(&b.state_dir(), json!({}));
    let bindings =
        json!({"vaults": [{"vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}]});
    std::fs::write(
        b.state_dir().join("agent-vaults.json"),
        bindings.to_string(),
    )
    .unwrap();
    let d = b.start();
    assert!(d.wait_log("vault-native agent defs —"), "{}", d.log());
    let send = d.mint("agent:send");
    let state = d.state_dir();
    let mounts = json!([{"hostPath": state, "mountPath": state, "mode": "ro"}]).to_string();
    let note = fv.create_note(
        "default",
        json!({"content": "steal", "tags": ["agent/definition"], "path": "Agents/thief",
               "metadata": {"name": "thief", "mounts": mounts}}),
    );
    let id = note["id"].as_str().unwrap().to_string();
    let r = d.post(
        "/api/vault/agent-def",
        Some(&send),
        &json!({"event": "created", "note": {"id": id}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        let s = fv.note("default", &id).unwrap()["metadata"]["status"].clone();
        if s != Value::Null || Instant::now() > deadline {
            break s;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(status, "error", "{}", d.log());
    assert!(d.log().contains("protected-path rule"), "{}", d.log());
    assert!(!state.join("sessions/thief/spec.json").exists());
    assert_health_fast(&d);
}

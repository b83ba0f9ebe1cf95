//! `POST/GET /api/agents`, `DELETE /api/agents/<n>`, restart, env view, `/health` rows.

use std::path::Path;

use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};

pub fn fakes_path() -> String {
    let fakes = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes");
    format!(
        "{}:{}",
        fakes.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// Writes `credentials.json` with a default Claude token (and optional env store).
pub fn write_credentials(state: &Path, env: Value) {
    std::fs::create_dir_all(state).unwrap();
    let doc = json!({"claude": {"default": "sk-ant-oat01-fake"}, "env": env});
    std::fs::write(state.join("credentials.json"), doc.to_string()).unwrap();
}

fn daemon() -> (Daemon, String) {
    let d = DaemonBuilder::new().env("PATH", &fakes_path()).start();
    let admin = d.mint("agent:admin agent:read agent:write agent:send");
    (d, admin)
}

#[test]
fn spawn_validation_and_missing_credential_register_nothing() {
    let (d, admin) = daemon();
    let r = d.post("/api/agents", None, &json!({}));
    assert_eq!(r.status, 401);
    let read = d.mint("agent:read");
    assert_eq!(d.post("/api/agents", Some(&read), &json!({})).status, 403);
    let r = d.send("POST", "/api/agents", Some(&admin), &[], Some(b"{nope"));
    assert_eq!(
        (r.status, r.error()),
        (400, "invalid JSON body".to_string())
    );
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "a b", "channels": ["x"]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        "body.name \"a b\" must be a slug (alphanumeric, dash, underscore only)"
    );
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "eng", "channels": []}),
    );
    assert_eq!(
        r.error(),
        "body.channels must be a non-empty array (the first is the wake channel)"
    );
    // No Claude credential → 400 with the spec's message; nothing written or registered.
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "eng", "channels": ["eng"]}),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        "no Claude credential for channel \"eng\": set a per-channel override or the default/operator token (POST /api/credentials/claude). Get one with `claude setup-token`."
    );
    assert!(!d.state_dir().join("sessions/eng/spec.json").exists());
    let list = d.get("/api/agents", Some(&admin)).json();
    assert_eq!(list["agents"], json!([]));
    // filesystem:"full" needs step-up (checked before the channel and credential).
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "eng", "channels": ["eng"], "filesystem": "full"}),
    );
    assert_eq!((r.status, r.error()), (403, "step_up_required".to_string()));
}

#[test]
fn spawn_list_conflict_restart_delete() {
    let (d, admin) = daemon();
    write_credentials(&d.state_dir(), json!({"default": {"GH_TOKEN": "x"}}));
    let body = json!({"name": "eng", "channels": ["eng"], "systemPrompt": "  be brief  "});
    let r = d.post("/api/agents", Some(&admin), &body);
    assert_eq!(r.status, 200, "{}", r.body);
    let ws = d.state_dir().join("sessions/eng");
    assert_eq!(
        r.json(),
        json!({"name": "eng", "channel": "eng", "backend": "programmatic",
               "workspace": ws.display().to_string(), "alreadyRunning": false})
    );
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.join("spec.json")).unwrap()).unwrap();
    assert_eq!(spec["backend"], "programmatic");
    assert_eq!(spec["systemPrompt"], "be brief");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(ws.join("spec.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // Re-posting the same name is an idempotent replace.
    let r = d.post("/api/agents", Some(&admin), &body);
    assert_eq!(r.json()["alreadyRunning"], true);
    // Another agent onto the occupied channel → 409.
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": "ops", "channels": ["eng"]}),
    );
    assert_eq!(r.status, 409);
    assert_eq!(
        r.error(),
        "programmatic agent \"eng\" already serves channel \"eng\". Kill it first, or pick a different channel."
    );
    let list = d.get("/api/agents", Some(&admin)).json();
    assert_eq!(
        list["agents"],
        json!([{"name": "eng", "session": "eng-agent", "workspace": ws.display().to_string(),
                "hasWorkspace": true, "backend": "programmatic", "status": "idle", "operatorSession": false,
                "systemPromptMode": "append"}])
    );
    let health = d.get("/health", None).json();
    assert_eq!(
        health["programmatic_agents"],
        json!([{"name": "eng", "channel": "eng", "backend": "programmatic", "status": "idle"}])
    );
    // env view: names only
    let env = d.get("/api/agents/eng/env", Some(&admin)).json();
    assert_eq!(
        env["env"],
        json!([{"name": "GH_TOKEN", "source": "default"}])
    );
    assert!(!env.to_string().contains("\"x\""));
    assert!(env["note"]
        .as_str()
        .unwrap()
        .starts_with("no vault-native #agent/definition found for \"eng\""));
    // restart
    let r = d.post("/api/agents/eng/restart", Some(&admin), &json!({}));
    assert_eq!(r.json()["session_reset"], true);
    let r = d.post("/api/agents/nope/restart", Some(&admin), &json!({}));
    assert_eq!(
        (r.status, r.error()),
        (
            404,
            "no programmatic agent named \"nope\" to restart".to_string()
        )
    );
    // delete is idempotent and really removes the spec
    let r = d.send("DELETE", "/api/agents/eng", Some(&admin), &[], None);
    assert_eq!(
        r.json(),
        json!({"ok": true, "name": "eng", "backend": "programmatic", "killed": true})
    );
    assert!(!ws.join("spec.json").exists());
    let r = d.send("DELETE", "/api/agents/eng", Some(&admin), &[], None);
    assert_eq!(
        r.json(),
        json!({"ok": true, "name": "eng", "killed": false})
    );
    assert_eq!(
        d.get("/api/agents", Some(&admin)).json()["agents"],
        json!([])
    );
}

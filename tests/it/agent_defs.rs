//! Black-box tests of agent definitions against the fake vault (spec 03 §2, spec 02 §4):
//! definition notes become live agents via the reload webhook and via the poll, invalid
//! fields stamp `status: error`, the status stamp never re-triggers itself, the
//! `/api/agent-defs` CRUD, `/api/agent-vaults`, `/api/vaults`, and boot-time trigger
//! auto-registration.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_vault::{FakeVault, Verb};

struct Rig {
    fv: FakeVault,
    d: Daemon,
    read: String,
    admin: String,
    send: String,
}

fn write_bindings(b: &DaemonBuilder, fv: &FakeVault, vaults: &[&str]) {
    let list: Vec<Value> = vaults
        .iter()
        .map(|v| json!({"vault": v, "vaultUrl": fv.url(), "token": FakeVault::TOKEN}))
        .collect();
    let dir = b.state_dir();
    std::fs::create_dir_all(&dir).unwrap();
    // programmatic agents need a Claude credential to come up (spec 03 §2.7 step 4)
    std::fs::write(
        dir.join("credentials.json"),
        json!({"claude": {"default": "sk-ant-oat01-test"}}).to_string(),
    )
    .unwrap();
    std::fs::write(
        dir.join("agent-vaults.json"),
        serde_json::to_string_pretty(&json!({ "vaults": list })).unwrap(),
    )
    .unwrap();
}

/// A fake vault with `vaults`, bound as def-vaults; the daemon polls every `poll_ms`.
fn start(poll_ms: u64, vaults: &[&str]) -> Rig {
    let fv = FakeVault::start();
    for v in vaults {
        fv.add_vault(v);
    }
    let b = DaemonBuilder::new().env("PARACHUTE_AGENT_DEF_POLL_MS", &poll_ms.to_string());
    write_bindings(&b, &fv, vaults);
    let d = b.start();
    assert!(
        d.wait_log("vault-native agent defs —"),
        "boot load did not run:\n{}",
        d.log()
    );
    let (read, admin, send) = (
        d.mint("agent:read"),
        d.mint("agent:admin"),
        d.mint("agent:send"),
    );
    Rig {
        fv,
        d,
        read,
        admin,
        send,
    }
}

fn def_note(name: &str, body: &str, meta: Value) -> Value {
    json!({"content": body, "tags": ["agent/definition"], "path": format!("Agents/{name}"),
           "metadata": meta})
}

fn wait(secs: u64, mut pred: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if pred() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    false
}

impl Rig {
    fn defs(&self) -> Vec<Value> {
        let r = self.d.get("/api/agent-defs", Some(&self.read));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()["defs"].as_array().cloned().unwrap_or_default()
    }

    fn def_named(&self, name: &str) -> Option<Value> {
        self.defs().into_iter().find(|d| d["name"] == name)
    }

    fn note_meta(&self, vault: &str, id: &str) -> Value {
        self.fv.note(vault, id).expect("note")["metadata"].clone()
    }

    fn reload(&self, body: Value) -> (u16, Value) {
        let r = self.d.post("/api/vault/agent-def", Some(&self.send), &body);
        let v = serde_json::from_str(&r.body).unwrap_or(Value::Null);
        (r.status, v)
    }

    /// Def-watch triggers pointing straight at the daemon, as the hub would provision.
    fn watch_defs(&self, vault: &str) {
        for (name, event) in [("defs-create", "created"), ("defs-edit", "updated")] {
            self.fv
                .register_trigger(
                    vault,
                    json!({"name": name, "events": [event], "when": {"tags": ["agent/definition"]},
                           "action": {"webhook": self.d.url("/api/vault/agent-def"), "send": "json",
                                      "auth": {"bearer": self.send}}}),
                )
                .unwrap();
        }
    }

    /// PATCH requests the daemon sent for note `id`.
    fn patches_of(&self, id: &str) -> usize {
        self.fv
            .requests()
            .iter()
            .filter(|r| r.method == "PATCH" && r.url.contains(&format!("/notes/{id}")))
            .count()
    }
}

#[test]
fn webhook_creates_edits_and_deletes_an_agent_without_a_self_trigger_loop() {
    let r = start(600_000, &["default"]);
    r.watch_defs("default");
    let note = r.fv.create_note(
        "default",
        def_note(
            "eng",
            "You are eng.",
            json!({"name": "eng", "model": "opus"}),
        ),
    );
    let id = note["id"].as_str().unwrap().to_string();
    assert!(
        wait(10, || r.def_named("eng").is_some()),
        "agent did not appear:\n{}",
        r.d.log()
    );
    let d = r.def_named("eng").unwrap();
    assert_eq!(d["noteId"], id.as_str());
    assert_eq!(d["vault"], "default");
    assert_eq!(d["channel"], "eng");
    assert_eq!(d["backend"], "programmatic");
    assert_eq!(d["mode"], "single-threaded");
    assert_eq!(d["model"], "opus");
    assert_eq!(d["status"], "enabled");
    assert_eq!(d["systemPromptPreview"], "You are eng.");
    assert!(wait(10, || r.note_meta("default", &id)["status"] == "enabled"));
    assert_eq!(r.note_meta("default", &id)["pending"], "");
    // registered with the programmatic engine, its wake channel a live vault channel
    let agents = r.d.get("/api/agents", Some(&r.admin)).json();
    assert!(
        agents["agents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "eng"),
        "{agents}"
    );
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(r.d.state_dir().join("sessions/eng/spec.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(spec["definition"], id.as_str());
    assert_eq!(spec["vault"], json!({"name": "default", "access": "write"}));
    assert_eq!(spec["systemPrompt"], "You are eng.");
    let channels = r.d.get("/api/channels", Some(&r.admin)).json();
    assert!(channels.to_string().contains("\"eng\""), "{channels}");

    // the stamp is an update → one more reload, which must not PATCH again
    assert!(r.fv.wait_hooks_idle(Duration::from_secs(10)));
    std::thread::sleep(Duration::from_millis(300));
    assert!(r.fv.wait_hooks_idle(Duration::from_secs(10)));
    let hooks = r.fv.hook_deliveries().len();
    assert_eq!(r.patches_of(&id), 1, "status stamped more than once");
    assert!(hooks <= 2, "self-trigger loop: {hooks} deliveries");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        r.fv.hook_deliveries().len(),
        hooks,
        "deliveries kept coming"
    );

    // edit: the vault fires each (note, trigger) pair at most once (spec 02 §1.4), and the
    // edit trigger was spent on the stamp; a hub Connection trigger delivers it instead
    let (st, _) = r.fv.patch_note(
        "default",
        &id,
        json!({"content": "You are eng, v2.", "metadata": {"mode": "multi-threaded"}, "force": true}),
    );
    assert!(st < 300);
    assert!(r.fv.wait_hooks_idle(Duration::from_secs(10)));
    assert_eq!(
        r.fv.hook_deliveries().len(),
        hooks,
        "a spent trigger fired again"
    );
    let (st, body) =
        r.reload(json!({"event": "updated", "note": {"id": id, "path": "Agents/eng"}}));
    assert_eq!((st, body["reloaded"].as_str()), (200, Some("instantiated")));
    let d = r.def_named("eng").unwrap();
    assert_eq!(d["mode"], "multi-threaded");
    assert_eq!(d["systemPromptPreview"], "You are eng, v2.");
    assert_eq!(
        r.patches_of(&id),
        1,
        "an unchanged status must not be re-stamped"
    );

    // delete: the vault has no delete trigger; a reload of the gone note deregisters it
    assert_eq!(r.fv.delete_note("default", &id), 200);
    let (st, body) = r.reload(json!({"event": "updated", "note": {"id": id}}));
    assert_eq!((st, body["reloaded"].as_str()), (200, Some("deregistered")));
    assert!(r.def_named("eng").is_none());
    // and an explicit `deleted` event deregisters without fetching
    let n2 =
        r.fv.create_note("default", def_note("ops", "", json!({"name": "ops"})));
    let id2 = n2["id"].as_str().unwrap().to_string();
    assert!(wait(10, || r.def_named("ops").is_some()));
    r.fv.clear_requests();
    let (st, body) = r.reload(json!({"event": "deleted", "note": {"id": id2}}));
    assert_eq!((st, body["reloaded"].as_str()), (200, Some("deregistered")));
    assert!(r.def_named("ops").is_none());
    assert!(
        !r.fv
            .requests()
            .iter()
            .any(|q| q.method == "GET" && q.url.contains(&id2)),
        "deleted event must not fetch"
    );
}

#[test]
fn poll_picks_up_create_edit_and_delete_without_webhooks() {
    let r = start(150, &["default"]);
    let note = r.fv.create_note(
        "default",
        def_note("scout", "first", json!({"name": "scout"})),
    );
    let id = note["id"].as_str().unwrap().to_string();
    assert!(
        wait(10, || r.def_named("scout").is_some()),
        "poll did not add:\n{}",
        r.d.log()
    );
    assert!(r.fv.hook_deliveries().is_empty());
    r.fv.patch_note(
        "default",
        &id,
        json!({"metadata": {"backend": "attached"}, "force": true}),
    );
    assert!(wait(10, || r
        .def_named("scout")
        .is_some_and(|d| d["backend"] == "attached")));
    assert_eq!(r.fv.delete_note("default", &id), 200);
    assert!(
        wait(10, || r.def_named("scout").is_none()),
        "poll did not remove"
    );
    // several poll passes over an unchanged note stamp it once
    let n2 =
        r.fv.create_note("default", def_note("calm", "", json!({"name": "calm"})));
    let id2 = n2["id"].as_str().unwrap().to_string();
    assert!(wait(10, || r.def_named("calm").is_some()));
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(r.patches_of(&id2), 1);
}

#[test]
fn every_invalid_field_stamps_error_on_the_note() {
    let r = start(600_000, &["default"]);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({}), "", "has no metadata.name"),
        (
            json!({"name": "bad name"}),
            "",
            "name \"bad name\" must be a slug",
        ),
        (
            json!({"name": "a1", "backend": "interactive"}),
            "",
            "backend is retired",
        ),
        (
            json!({"name": "a2", "backend": "remote"}),
            "",
            "backend must be \"programmatic\" or \"attached\"",
        ),
        (
            json!({"name": "a3", "mode": "resident-ish"}),
            "",
            "mode must be \"single-threaded\" or \"multi-threaded\"",
        ),
        (
            json!({"name": "a4", "systemPromptMode": "prepend"}),
            "prompt",
            "systemPromptMode must be \"append\" or \"replace\"",
        ),
        (
            json!({"name": "a5", "model": "opus 4"}),
            "",
            "is not a valid model name",
        ),
        (
            json!({"name": "a6", "workspace": "srv/x"}),
            "",
            "workspace must be an absolute path",
        ),
        (
            json!({"name": "a7", "filesystem": "all"}),
            "",
            "filesystem must be \"workspace\" or \"full\"",
        ),
        (
            json!({"name": "a8", "network": "none"}),
            "",
            "network must be \"open\" or \"restricted\"",
        ),
        (
            json!({"name": "a9", "wants": "vault:research"}),
            "",
            "a vault connection needs a verb",
        ),
        (
            json!({"name": "b1", "wants": "ssh:box"}),
            "",
            "has unknown kind \"ssh\"",
        ),
        (
            json!({"name": "b2", "wants": "env:claude-code-oauth"}),
            "",
            "protected env var CLAUDE_CODE_OAUTH_TOKEN",
        ),
    ];
    for (i, (meta, body, msg)) in cases.iter().enumerate() {
        let note =
            r.fv.create_note("default", def_note(&format!("n{i}"), body, meta.clone()));
        let id = note["id"].as_str().unwrap();
        let (st, out) = r.reload(json!({"event": "created", "note": {"id": id}}));
        assert_eq!(
            (st, out["reloaded"].as_str()),
            (200, Some("skipped")),
            "case {i}"
        );
        let m = r.note_meta("default", id);
        assert_eq!(m["status"], "error", "case {i}: {m}");
        assert_eq!(m["pending"], "", "case {i}");
        assert!(r.d.log().contains(msg), "case {i}: log lacks {msg:?}");
        // the message itself is never written to the note
        assert!(!m.to_string().contains(msg), "case {i}");
    }
    assert!(r.defs().is_empty());
    // a blank body makes a bad systemPromptMode irrelevant; uses/wants → pending
    let note = r.fv.create_note(
        "default",
        def_note(
            "p",
            "  ",
            json!({"name": "p", "systemPromptMode": "prepend", "uses": "github",
                                   "wants": "env:slack vault:research:read#pub"}),
        ),
    );
    let id = note["id"].as_str().unwrap();
    let (_, out) = r.reload(json!({"note": {"id": id}}));
    assert_eq!(out["reloaded"], "instantiated");
    let m = r.note_meta("default", id);
    assert_eq!(m["status"], "pending");
    assert_eq!(m["pending"], "github, env:slack, vault:research:read#pub");
    let d = r.def_named("p").unwrap();
    assert_eq!(
        d["pending"],
        json!(["github", "env:slack", "vault:research:read#pub"])
    );
    assert_eq!(d["wants"], json!(["env:slack", "vault:research:read#pub"]));
    assert_eq!(d["connections"][1]["kind"], "vault");
}

#[test]
fn a_missing_claude_credential_is_a_bring_up_error() {
    let r = start(600_000, &["default"]);
    std::fs::remove_file(r.d.state_dir().join("credentials.json")).unwrap();
    let note =
        r.fv.create_note("default", def_note("nocred", "", json!({"name": "nocred"})));
    let id = note["id"].as_str().unwrap();
    let (_, out) = r.reload(json!({"note": {"id": id}}));
    assert_eq!(out["reloaded"], "skipped");
    assert_eq!(r.note_meta("default", id)["status"], "error");
    assert!(r.d.log().contains("no Claude credential"), "{}", r.d.log());
    assert!(r.def_named("nocred").is_none());
    // attached agents need no credential
    let note = r.fv.create_note(
        "default",
        def_note("att", "", json!({"name": "att", "backend": "attached"})),
    );
    let id = note["id"].as_str().unwrap();
    let (_, out) = r.reload(json!({"note": {"id": id}}));
    assert_eq!(out["reloaded"], "instantiated");
    assert_eq!(r.note_meta("default", id)["status"], "enabled");
}

#[test]
fn agent_defs_api_crud() {
    let r = start(600_000, &["default"]);
    let body = json!({"vault": "default", "name": "writer", "backend": "channel",
                      "systemPrompt": "Write well.", "metadata": {"model": "sonnet", "drop": null}});
    // read tokens cannot author; admin can
    assert_eq!(
        r.d.post("/api/agent-defs", Some(&r.read), &body).status,
        403
    );
    assert_eq!(r.d.post("/api/agent-defs", None, &body).status, 401);
    let c = r.d.post("/api/agent-defs", Some(&r.admin), &body);
    assert_eq!(c.status, 201, "{}", c.body);
    let def = c.json()["def"].clone();
    assert_eq!(def["backend"], "attached");
    assert_eq!(def["model"], "sonnet");
    let id = def["noteId"].as_str().unwrap().to_string();
    let note = r.fv.note("default", &id).unwrap();
    assert_eq!(note["path"], "Agents/writer");
    assert_eq!(note["tags"], json!(["agent/definition"]));
    assert_eq!(note["metadata"]["backend"], "attached");
    assert!(note["metadata"].get("drop").is_none());

    let dup = r.d.post("/api/agent-defs", Some(&r.admin), &body);
    assert_eq!(dup.status, 409);
    assert!(dup
        .error()
        .contains("an agent named \"writer\" already exists"));
    let bad = json!({"vault": "default", "name": "x", "backend": "interactive"});
    assert_eq!(
        r.d.post("/api/agent-defs", Some(&r.admin), &bad).status,
        400
    );
    let unknown = json!({"vault": "nope", "name": "x"});
    let u = r.d.post("/api/agent-defs", Some(&r.admin), &unknown);
    assert_eq!(
        (u.status, u.error().as_str()),
        (400, "unknown def-vault \"nope\" (configure it first)")
    );
    let failing = json!({"vault": "default", "name": "broken", "wants": "nonsense"});
    assert_eq!(
        r.d.post("/api/agent-defs", Some(&r.admin), &failing).status,
        502
    );

    let enc = id.replace('/', "%2F");
    let g = r.d.get(&format!("/api/agent-defs/{enc}"), Some(&r.read));
    assert_eq!(g.status, 200, "{}", g.body);
    assert_eq!(g.json()["def"]["systemPrompt"], "Write well.");
    assert_eq!(r.d.get("/api/agent-defs/nope", Some(&r.read)).status, 404);

    let patch = |b: Value| {
        let bytes = serde_json::to_vec(&b).unwrap();
        r.d.send(
            "PATCH",
            &format!("/api/agent-defs/{enc}"),
            Some(&r.admin),
            &[("Content-Type", "application/json")],
            Some(&bytes),
        )
    };
    assert_eq!(patch(json!({})).status, 400);
    let e = patch(json!({"systemPrompt": "Write better.", "metadata": {"mode": "multi-threaded"}}));
    assert_eq!(e.status, 200, "{}", e.body);
    assert_eq!(e.json()["def"]["mode"], "multi-threaded");
    assert_eq!(e.json()["def"]["systemPromptPreview"], "Write better.");
    assert_eq!(patch(json!({"wants": "bogus"})).status, 502);

    let del = r.d.send(
        "DELETE",
        &format!("/api/agent-defs/{enc}"),
        Some(&r.admin),
        &[],
        None,
    );
    assert_eq!(del.status, 200, "{}", del.body);
    assert_eq!(
        del.json(),
        json!({"ok": true, "vault": "default", "name": "writer", "grantsReconciled": true, "removed": true})
    );
    assert!(r.fv.note("default", &id).is_none());
    assert!(r.def_named("writer").is_none());
    let again = r.d.send(
        "DELETE",
        &format!("/api/agent-defs/{enc}"),
        Some(&r.admin),
        &[],
        None,
    );
    assert_eq!(again.status, 404);
}

#[test]
fn reload_webhook_auth_and_vault_resolution() {
    let r = start(600_000, &["default", "research"]);
    let body = json!({"note": {"id": "x"}});
    let none = r.d.post("/api/vault/agent-def", None, &body);
    assert_eq!(
        (none.status, none.json()),
        (401, json!({"error": "unauthorized"}))
    );
    let wrong = r.d.post("/api/vault/agent-def", Some(&r.read), &body);
    assert_eq!(
        (wrong.status, wrong.json()),
        (401, json!({"error": "unauthorized"}))
    );
    let bad = r.d.send(
        "POST",
        "/api/vault/agent-def",
        Some(&r.send),
        &[],
        Some(b"{nope"),
    );
    assert_eq!(
        (bad.status, bad.error().as_str()),
        (400, "invalid JSON body")
    );
    let (st, out) = r.reload(json!({"note": {}}));
    assert_eq!(
        (st, out["error"].as_str()),
        (400, Some("body must include note.id"))
    );
    let (st, out) = r.reload(body.clone());
    assert_eq!(
        (st, out["error"].as_str()),
        (
            400,
            Some("body.vault is required (multiple def-vaults configured)")
        )
    );
    // the second vault's note, routed by ?vault= (what our registered triggers send)
    let n =
        r.fv.create_note("research", def_note("rs", "", json!({"name": "rs"})));
    let id = n["id"].as_str().unwrap();
    let q = r.d.post(
        "/api/vault/agent-def?vault=research",
        Some(&r.send),
        &json!({"note": {"id": id}}),
    );
    assert_eq!(
        (q.status, q.json()["reloaded"].as_str()),
        (200, Some("instantiated"))
    );
    assert_eq!(r.def_named("rs").unwrap()["vault"], "research");
    let (_, out) = r.reload(json!({"vault": "elsewhere", "note": {"id": id}}));
    assert_eq!(out["reloaded"], "skipped");
}

#[test]
fn agent_vaults_and_vaults_views() {
    let r = start(600_000, &["default", "research"]);
    let g = r.d.get("/api/agent-vaults", Some(&r.read));
    assert_eq!(g.status, 200);
    assert_eq!(
        g.json()["vaults"],
        json!([{"vault": "default", "url": r.fv.url(), "tokenPresent": true},
               {"vault": "research", "url": r.fv.url(), "tokenPresent": true}])
    );
    assert!(!g.body.contains(FakeVault::TOKEN));
    assert_eq!(
        r.d.post("/api/agent-vaults", Some(&r.read), &json!({"vault": "x"}))
            .status,
        403
    );
    // no operator token: adding fails cleanly
    let add =
        r.d.post("/api/agent-vaults", Some(&r.admin), &json!({"vault": "x"}));
    assert_eq!(add.status, 400);
    assert!(add.error().starts_with("failed to add def-vault: "));
    assert_eq!(
        r.d.post(
            "/api/agent-vaults",
            Some(&r.admin),
            &json!({"vault": "a b"})
        )
        .status,
        400
    );

    // removing a vault tears its agents down and rewrites the file
    let n =
        r.fv.create_note("research", def_note("rs", "", json!({"name": "rs"})));
    let id = n["id"].as_str().unwrap();
    r.d.post(
        "/api/vault/agent-def?vault=research",
        Some(&r.send),
        &json!({"note": {"id": id}}),
    );
    assert!(r.def_named("rs").is_some());
    let del = r.d.send(
        "DELETE",
        "/api/agent-vaults/research",
        Some(&r.admin),
        &[],
        None,
    );
    assert_eq!(
        (del.status, del.json()["removed"].as_bool()),
        (200, Some(true))
    );
    assert!(r.def_named("rs").is_none());
    let file = std::fs::read_to_string(r.d.state_dir().join("agent-vaults.json")).unwrap();
    assert!(!file.contains("research") && file.contains("default"));
    let unknown = r.d.send(
        "DELETE",
        "/api/agent-vaults/ghost",
        Some(&r.admin),
        &[],
        None,
    );
    assert_eq!(
        unknown.json(),
        json!({"ok": true, "vault": "ghost", "removed": false})
    );
    let last = r.d.send(
        "DELETE",
        "/api/agent-vaults/default",
        Some(&r.admin),
        &[],
        None,
    );
    assert_eq!(last.status, 400);

    // /api/vaults reads services.json
    let home = r.d.env_value("PARACHUTE_HOME").unwrap().to_string();
    let services = json!({"services": [{"name": "parachute-vault",
        "paths": ["/vault/zeta", "/vault/default", "/vault/alpha/api"]}]});
    let path = std::path::Path::new(&home).join("services.json");
    let mut doc: Value = std::fs::read_to_string(&path)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(json!({"services": []}));
    doc["services"]
        .as_array_mut()
        .unwrap()
        .extend(services["services"].as_array().unwrap().clone());
    std::fs::write(&path, doc.to_string()).unwrap();
    let v = r.d.get("/api/vaults", Some(&r.admin));
    assert_eq!(v.json()["vaults"], json!(["default", "alpha", "zeta"]));
    assert_eq!(r.d.get("/api/vaults", Some(&r.read)).status, 403);
}

/// A minimal hub that mints tokens (`POST /api/auth/mint-token`) and records the scopes.
struct MintHub {
    origin: String,
    scopes: Arc<Mutex<Vec<Value>>>,
    server: Arc<tiny_http::Server>,
}

impl MintHub {
    fn start() -> MintHub {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let scopes = Arc::new(Mutex::new(Vec::new()));
        let (srv, sc) = (server.clone(), scopes.clone());
        std::thread::spawn(move || {
            for mut req in srv.incoming_requests() {
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let auth = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Authorization"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                let (status, reply) = if req.url() == "/api/auth/mint-token"
                    && auth == "Bearer op-token"
                {
                    let b: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                    sc.lock().push(b.clone());
                    let scope = b["scope"].as_str().unwrap_or("").to_string();
                    (
                        200,
                        json!({"jti": "j", "token": format!("minted-{scope}"), "scope": scope}),
                    )
                } else {
                    (
                        403,
                        json!({"error": "forbidden", "error_description": "bad operator token"}),
                    )
                };
                let _ = req.respond(
                    tiny_http::Response::from_string(reply.to_string()).with_status_code(status),
                );
            }
        });
        MintHub {
            origin: format!("http://127.0.0.1:{port}"),
            scopes,
            server,
        }
    }
}

impl Drop for MintHub {
    fn drop(&mut self) {
        self.server.unblock();
    }
}

#[test]
fn boot_registers_triggers_with_an_operator_token() {
    let fv = FakeVault::start();
    fv.grant("minted-vault:default:admin", None, Verb::Admin);
    let hub = MintHub::start();
    let b = DaemonBuilder::new()
        .hub(&hub.origin)
        .env("PARACHUTE_AGENT_DEF_POLL_MS", "600000");
    write_bindings(&b, &fv, &["default"]);
    let home = b.state_dir().parent().unwrap().join("home/.parachute");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("operator.token"), "op-token\n").unwrap();
    let d = b.start();
    assert!(d.wait_log("auto-registered 3 trigger(s)"), "{}", d.log());
    let scopes: Vec<Value> = hub.scopes.lock().clone();
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
    let hub = MintHub::start();
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
        hub.scopes.lock()[0],
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
fn a_definition_note_becomes_an_agent_that_answers() {
    let fv = FakeVault::start();
    let hub = MintHub::start();
    let fakes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes");
    let path = format!(
        "{}:{}",
        fakes.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let b = DaemonBuilder::new()
        .hub(&hub.origin)
        .env("PATH", &path)
        .env("PARACHUTE_AGENT_DEF_POLL_MS", "600000");
    write_bindings(&b, &fv, &["default"]);
    let home = b.state_dir().parent().unwrap().join("home/.parachute");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("operator.token"), "op-token").unwrap();
    let d = b.start();
    assert!(d.wait_log("vault-native agent defs —"), "{}", d.log());
    let send = d.mint("agent:send");
    fv.register_trigger(
        "default",
        json!({"name": "test-inbound", "events": ["created"],
               "when": {"tags": ["agent/message/inbound"], "has_metadata": ["agent"]},
               "action": {"webhook": d.url("/api/vault/inbound"), "send": "json",
                          "auth": {"bearer": send}}}),
    )
    .unwrap();

    let prompt = "You are eng. Answer briefly.\n";
    let note = fv.create_note("default", def_note("eng", prompt, json!({"name": "eng"})));
    let id = note["id"].as_str().unwrap();
    let r = d.post(
        "/api/vault/agent-def",
        Some(&send),
        &json!({"event": "created", "note": {"id": id}}),
    );
    assert_eq!(r.json()["reloaded"], "instantiated", "{}", d.log());

    let ts = parachute_agent::util::time::now_iso();
    let (_, body) = parachute_agent::vault::notes::inbound_message_body(
        "channel",
        "eng",
        "hello there",
        "operator",
        &ts,
        &[],
    );
    fv.create_note("default", body);
    let reply = |fv: &FakeVault| {
        fv.notes_tagged("default", "agent/message/outbound")
            .into_iter()
            .find(|n| n["metadata"]["agent"] == "eng")
    };
    assert!(
        fv.wait_until(Duration::from_secs(20), |fv| reply(fv).is_some()),
        "no reply; log:\n{}",
        d.log()
    );
    let text = reply(&fv).unwrap()["content"]
        .as_str()
        .unwrap_or("")
        .to_string();
    assert!(text.contains("hello there"), "{text}");
    // the note body is the system prompt, appended (the default mode)
    let w = d.state_dir().join("sessions/eng");
    assert_eq!(
        std::fs::read_to_string(w.join("system-prompt.txt")).unwrap(),
        prompt
    );
    let calls = std::fs::read_to_string(w.join("fake-claude-calls.jsonl")).unwrap();
    assert!(calls.contains("--append-system-prompt-file"), "{calls}");
    // the turn minted a token for the def-vault the note lives in
    assert!(hub
        .scopes
        .lock()
        .iter()
        .any(|s| s["scope"] == "vault:default:write"));
}

/// A daemon bound to `vaults` on `fv`, with the minting hub and an operator token.
fn start_with_hub(fv: &FakeVault, hub: &MintHub, vaults: &[&str], op_token: &str) -> Daemon {
    let b = DaemonBuilder::new()
        .hub(&hub.origin)
        .env("PARACHUTE_AGENT_DEF_POLL_MS", "600000");
    if !vaults.is_empty() {
        write_bindings(&b, fv, vaults);
    }
    let home = b.state_dir().parent().unwrap().join("home/.parachute");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("operator.token"), op_token).unwrap();
    b.start()
}

#[test]
fn adding_a_def_vault_mints_persists_registers_triggers_and_loads() {
    let fv = FakeVault::start();
    fv.add_vault("research");
    fv.grant("minted-vault:research:write", Some("research"), Verb::Write);
    fv.grant("minted-vault:research:admin", Some("research"), Verb::Admin);
    fv.create_note("research", def_note("rs", "", json!({"name": "rs"})));
    let hub = MintHub::start();
    let d = start_with_hub(&fv, &hub, &["default"], "op-token");
    assert!(d.wait_log("vault-native agent defs —"), "{}", d.log());
    let admin = d.mint("agent:admin");
    let read = d.mint("agent:read");
    let add = d.post(
        "/api/agent-vaults",
        Some(&admin),
        &json!({"vault": "research", "url": fv.url()}),
    );
    assert_eq!(add.status, 201, "{}", add.body);
    assert_eq!(
        add.json(),
        json!({"ok": true, "vault": {"vault": "research", "url": fv.url(), "tokenPresent": true}})
    );
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(d.state_dir().join("agent-vaults.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(file["vaults"][1]["vault"], "research");
    assert_eq!(file["vaults"][1]["token"], "minted-vault:research:write");
    assert_eq!(
        file["vaults"][0]["token"],
        FakeVault::TOKEN,
        "existing entries kept"
    );
    let defs = d.get("/api/agent-defs", Some(&read)).json();
    assert_eq!(defs["defs"][0]["name"], "rs", "{defs}");
    assert_eq!(defs["defs"][0]["vault"], "research");
    // [ext] a vault added later gets its triggers too
    assert_eq!(fv.triggers("research").len(), 3);
    let dup = d.post(
        "/api/agent-vaults",
        Some(&admin),
        &json!({"vault": "research"}),
    );
    assert_eq!(dup.status, 400);
}

#[test]
fn a_refused_mint_passes_the_hub_status_and_binds_nothing() {
    let fv = FakeVault::start();
    let hub = MintHub::start();
    let d = start_with_hub(&fv, &hub, &["default"], "wrong-operator-token");
    assert!(d.wait_log("vault-native agent defs —"), "{}", d.log());
    let admin = d.mint("agent:admin");
    let add = d.post(
        "/api/agent-vaults",
        Some(&admin),
        &json!({"vault": "research"}),
    );
    assert_eq!(add.status, 403, "{}", add.body);
    assert_eq!(
        add.error(),
        "token mint failed: mint refused (forbidden): bad operator token"
    );
    let read = d.mint("agent:read");
    assert_eq!(
        d.get("/api/agent-vaults", Some(&read)).json()["vaults"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // boot could not mint the trigger tokens either: nothing was posted
    assert!(d
        .log()
        .contains("mint vault:default:admin: mint refused (forbidden)"));
    assert!(fv.triggers("default").is_empty());
}

#[test]
fn one_vaults_trigger_failure_does_not_stop_the_next() {
    let fv = FakeVault::start();
    fv.add_vault("b");
    fv.grant("minted-vault:b:admin", Some("b"), Verb::Admin);
    let hub = MintHub::start();
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
    let hub = MintHub::start();
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
    let hub = MintHub::start();
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

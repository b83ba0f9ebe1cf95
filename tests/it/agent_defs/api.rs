//! The HTTP surface: `/api/agent-defs` CRUD, the reload webhook's auth and vault
//! resolution, `/api/agent-vaults` and `/api/vaults`.

use serde_json::{json, Value};

use super::*;
use crate::support::fake_vault::{FakeVault, Verb};

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
    // a note that is not (or no longer) a definition never becomes an agent
    let other = r.fv.create_note(
        "research",
        json!({"content": "hi", "tags": ["agent/message"], "metadata": {"name": "msg"}}),
    );
    let q = r.d.post(
        "/api/vault/agent-def?vault=research",
        Some(&r.send),
        &json!({"note": {"id": other["id"]}}),
    );
    assert_eq!(q.json()["reloaded"], "deregistered");
    assert!(r.def_named("msg").is_none());
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

#[test]
fn adding_a_def_vault_mints_persists_registers_triggers_and_loads() {
    let fv = FakeVault::start();
    fv.add_vault("research");
    fv.grant("minted-vault:research:write", Some("research"), Verb::Write);
    fv.grant("minted-vault:research:admin", Some("research"), Verb::Admin);
    fv.create_note("research", def_note("rs", "", json!({"name": "rs"})));
    let hub = FakeHub::start();
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
    let hub = FakeHub::start();
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
fn wants_are_registered_with_the_hub_and_drive_the_status() {
    let fv = FakeVault::start();
    let hub = FakeHub::start();
    hub.state
        .grant_status
        .lock()
        .insert("github".into(), "approved".into());
    let d = start_with_hub(&fv, &hub, &["default"], "op-token");
    assert!(d.wait_log("vault-native agent defs —"), "{}", d.log());
    let (admin, read) = (d.mint("agent:admin"), d.mint("agent:read"));
    let c = d.post(
        "/api/agent-defs",
        Some(&admin),
        &json!({"vault": "default", "name": "gh", "wants": "env:github vault:research:read"}),
    );
    assert_eq!(c.status, 201, "{}", c.body);
    let def = c.json()["def"].clone();
    assert_eq!(def["status"], "pending");
    assert_eq!(def["pending"], json!(["vault:research:read"]));
    assert_eq!(
        def["connections"],
        json!([
            {"key": "env:github", "kind": "service", "target": "github", "status": "approved",
             "grantId": "gh--github"},
            {"key": "vault:research:read", "kind": "vault", "target": "research",
             "status": "pending", "grantId": "gh--research"}
        ])
    );
    let id = def["noteId"].as_str().unwrap().to_string();
    assert_eq!(
        fv.note("default", &id).unwrap()["metadata"]["pending"],
        "vault:research:read"
    );
    let calls = hub.state.grant_calls.lock().clone();
    assert_eq!(
        calls[0].1,
        json!({"agent": "gh", "connection":
        {"kind": "service", "target": "github", "inject": ["env"]}})
    );
    assert_eq!(
        calls[1].1["connection"],
        json!({"kind": "vault", "target": "research", "access": "read"})
    );
    assert_eq!(calls[2].0, "POST /admin/grants/reconcile");
    assert_eq!(calls[2].1["liveConnections"].as_array().unwrap().len(), 2);

    // the operator approves the vault grant: the next instantiate enables the agent
    hub.state
        .grant_status
        .lock()
        .insert("research".into(), "approved".into());
    let send = d.mint("agent:send");
    let r = d.post(
        "/api/vault/agent-def",
        Some(&send),
        &json!({"note": {"id": id}}),
    );
    assert_eq!(r.json()["reloaded"], "instantiated");
    let meta = fv.note("default", &id).unwrap()["metadata"].clone();
    assert_eq!(
        (meta["status"].as_str(), meta["pending"].as_str()),
        (Some("enabled"), Some(""))
    );
    let list = d.get("/api/agent-defs", Some(&read)).json();
    assert_eq!(list["defs"][0]["status"], "enabled");

    // deleting the definition prunes all its grants
    let del = d.send(
        "DELETE",
        &format!("/api/agent-defs/{id}"),
        Some(&admin),
        &[],
        None,
    );
    assert_eq!(del.json()["grantsReconciled"], true);
    let last = hub.state.grant_calls.lock().last().cloned().unwrap();
    assert_eq!(
        last,
        (
            "POST /admin/grants/reconcile".to_string(),
            json!({"agent": "gh", "liveConnections": []})
        )
    );
}

#[test]
fn sighup_binds_and_unbinds_def_vaults_as_agent_vaults_json_now_says() {
    let r = start(600_000, &["default"]);
    r.fv.add_vault("research");
    r.fv.create_note("research", def_note("rs", "", json!({"name": "rs"})));
    let write = |vaults: &[&str]| {
        let list: Vec<Value> = vaults
            .iter()
            .map(|v| json!({"vault": v, "vaultUrl": r.fv.url(), "token": FakeVault::TOKEN}))
            .collect();
        std::fs::write(
            r.d.state_dir().join("agent-vaults.json"),
            json!({ "vaults": list }).to_string(),
        )
        .unwrap();
    };
    let hup = |needle: &str| {
        let pid = r.d.child.as_ref().unwrap().id() as i32;
        unsafe { libc::kill(pid, libc::SIGHUP) };
        assert!(
            wait(20, || r.d.log().contains(needle)),
            "{needle}\n{}",
            r.d.log()
        );
    };
    write(&["default", "research"]);
    hup("reload: def-vaults added [research], changed [], removed []");
    assert!(wait(20, || r.def_named("rs").is_some()), "{}", r.d.log());
    let listed = || {
        r.d.get("/api/agent-vaults", Some(&r.read)).json()["vaults"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["vault"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(), ["default", "research"]);
    write(&["research"]);
    hup("reload: def-vaults added [], changed [], removed [default]");
    assert_eq!(listed(), ["research"]);
    assert!(
        r.def_named("rs").is_some(),
        "the remaining vault's agent stays"
    );
}

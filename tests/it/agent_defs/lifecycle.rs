//! Definition notes becoming live agents and going away: the reload webhook, the poll,
//! invalid fields, bring-up failures, and an end-to-end turn of a vault-defined agent.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::support::daemon::DaemonBuilder;
use crate::support::fake_vault::FakeVault;

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
    // let the create + stamp deliveries finish before counting requests
    assert!(wait(10, || r.note_meta("default", &id2)["status"] == "enabled"));
    assert!(r.fv.wait_hooks_idle(Duration::from_secs(10)));
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
fn a_definition_note_becomes_an_agent_that_answers() {
    let fv = FakeVault::start();
    let hub = FakeHub::start();
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
        .state
        .mints
        .lock()
        .iter()
        .any(|s| s["scope"] == "vault:default:write"));
}

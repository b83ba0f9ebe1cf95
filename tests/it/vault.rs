//! `VaultClient` against the fake vault (spec 02 §1.2–§1.4): URL and query encoding, bearer
//! auth, typed errors (404/409/428/401/403/unreachable), CAS and metadata merge,
//! `if_missing:"create"`, tag schema PUTs, and the trigger engine's webhook + markers.

use std::sync::Arc;
use std::time::Duration;

use parachute_agent::vault::notes::{self, TAG_INBOUND, TAG_MESSAGE};
use parachute_agent::vault::{schema, NoteQuery, SortOrder, VaultClient, VaultError};
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::support::fake_vault::{FailRule, FakeVault};

fn client(fv: &FakeVault) -> VaultClient {
    VaultClient::new(Some(&format!("{}/", fv.url())), "default", FakeVault::TOKEN)
}

#[test]
fn create_get_by_id_and_encoded_path() {
    let fv = FakeVault::start();
    let c = client(&fv);
    let created = c
        .create_note(&json!({"content": "hi", "path": "Threads/eng/eng", "tags": ["agent/thread"]}))
        .unwrap();
    let id = notes::note_id(&created).expect("id");
    assert_eq!(c.get_note(&id, true).unwrap()["content"], "hi");
    let by_path = c.get_note("Threads/eng/eng", false).unwrap();
    assert_eq!(by_path["id"], Value::String(id.clone()));

    let log = fv.requests();
    let get = log.iter().rev().find(|r| r.method == "GET").unwrap();
    assert_eq!(get.url, "/vault/default/api/notes/Threads%2Feng%2Feng");
    assert_eq!(
        get.header("authorization"),
        Some("Bearer fake-vault-write-token")
    );
    assert_eq!(
        get.header("content-type"),
        None,
        "GETs send no content-type"
    );
    let post = log.iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(post.url, "/vault/default/api/notes");
    assert_eq!(post.header("content-type"), Some("application/json"));
    let with_query = log.iter().find(|r| r.url.contains('?')).unwrap();
    assert_eq!(
        with_query.url,
        format!("/vault/default/api/notes/{id}?include_content=true")
    );
}

#[test]
fn list_by_tag_sort_and_limit() {
    let fv = FakeVault::start();
    let c = client(&fv);
    for i in 0..5 {
        let (_, body) =
            notes::inbound_message_body("channel", "eng", &format!("m{i}"), "", "T", &[]);
        c.create_note(&body).unwrap();
    }
    c.create_note(&json!({"content": "other", "tags": ["misc"]}))
        .unwrap();
    let asc = c.list_notes(&NoteQuery::tagged(TAG_MESSAGE, 3)).unwrap();
    let texts: Vec<_> = asc.iter().map(|n| n["content"].as_str().unwrap()).collect();
    assert_eq!(texts, ["m0", "m1", "m2"]);
    let desc = c
        .list_notes(&NoteQuery::tagged(TAG_INBOUND, 2).sorted(SortOrder::Desc))
        .unwrap();
    let texts: Vec<_> = desc
        .iter()
        .map(|n| n["content"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m4", "m3"]);
    let urls: Vec<_> = fv.requests().into_iter().map(|r| r.url).collect();
    assert!(urls.contains(
        &"/vault/default/api/notes?tag=agent%2Fmessage&include_content=true&limit=3".to_string()
    ));
    assert!(urls.contains(
        &"/vault/default/api/notes?tag=agent%2Fmessage%2Finbound&include_content=true&limit=2&sort=desc".to_string()
    ));
    assert!(urls.iter().all(|u| !u.contains("%23") && !u.contains('#')));
}

#[test]
fn patch_precondition_cas_and_merge() {
    let fv = FakeVault::start();
    let c = client(&fv);
    let n = c
        .create_note(
            &json!({"content": "q", "tags": [TAG_INBOUND], "metadata": {"a": "1", "b": "2"}}),
        )
        .unwrap();
    let id = n["id"].as_str().unwrap().to_string();
    let u0 = n["updatedAt"].as_str().unwrap().to_string();

    let e = c
        .patch_note(&id, &json!({"metadata": {"status": "x"}}))
        .unwrap_err();
    assert!(matches!(e, VaultError::PreconditionRequired(_)), "{e:?}");
    assert!(e.message().contains("precondition_required"));

    let e = c
        .patch_note(
            &id,
            &json!({"metadata": {"status": "x"}, "if_updated_at": "1999-01-01T00:00:00.000Z"}),
        )
        .unwrap_err();
    assert!(matches!(e, VaultError::Conflict(_)), "{e:?}");

    let ok = c
        .patch_note(
            &id,
            &json!({"metadata": {"status": "in-flight", "b": null}, "if_updated_at": u0}),
        )
        .unwrap();
    assert_eq!(ok["created"], false);
    assert_eq!(ok["metadata"], json!({"a": "1", "status": "in-flight"}));
    let u1 = ok["updatedAt"].as_str().unwrap().to_string();
    assert!(u1 > u0, "updatedAt must move forward");

    // The same CAS value again loses (the note changed).
    let e = c
        .patch_note(
            &id,
            &json!({"metadata": {"status": "y"}, "if_updated_at": u0}),
        )
        .unwrap_err();
    assert_eq!(e.status(), Some(409));

    // A plain tags array on an existing note is ignored; {add} works.
    let ok = c
        .patch_note(&id, &json!({"tags": ["zzz"], "force": true}))
        .unwrap();
    assert_eq!(ok["tags"], json!([TAG_INBOUND]));
    let ok = c
        .patch_note(&id, &json!({"tags": {"add": ["#extra"]}, "force": true}))
        .unwrap();
    assert_eq!(ok["tags"], json!([TAG_INBOUND, "extra"]));
}

#[test]
fn patch_if_missing_creates_then_updates() {
    let fv = FakeVault::start();
    let c = client(&fv);
    let path = notes::thread_path_single("eng", "eng");
    let body = json!({"content": "s1", "path": path, "tags": ["agent/thread"],
                      "metadata": {"turn_count": "1"}, "if_missing": "create", "force": true});
    let first = c.patch_note(&path, &body).unwrap();
    assert_eq!(first["created"], true);
    assert_eq!(first["path"], "Threads/eng/eng");
    let mut second = body.clone();
    second["metadata"] = json!({"turn_count": "2"});
    second["tags"] = json!(["other"]);
    let again = c.patch_note(&path, &second).unwrap();
    assert_eq!(again["created"], false);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["tags"], json!(["agent/thread"]));
    assert_eq!(again["metadata"]["turn_count"], "2");
    // Without if_missing a missing note is a 404; clearing a session on 404 is "nothing to do".
    let e = c
        .patch_note(
            "Threads/eng/none",
            &json!({"metadata": {"session": ""}, "force": true}),
        )
        .unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(fv.notes("default").len(), 1);
}

#[test]
fn conflicts_not_found_and_delete() {
    let fv = FakeVault::start();
    let c = client(&fv);
    c.create_note(&json!({"content": "a", "path": "Channels/eng/jobs/j1"}))
        .unwrap();
    let e = c
        .create_note(&json!({"content": "b", "path": "Channels/eng/jobs/j1"}))
        .unwrap_err();
    assert!(
        matches!(e, VaultError::Conflict(ref m) if m.contains("path_conflict")),
        "{e:?}"
    );
    let e = c.create_note(&json!({"content": ""})).unwrap_err();
    assert_eq!(e.status(), Some(400));
    assert!(c.get_note("nope", true).unwrap_err().is_not_found());
    c.delete_note("Channels/eng/jobs/j1").unwrap();
    assert!(c
        .delete_note("Channels/eng/jobs/j1")
        .unwrap_err()
        .is_not_found());
}

#[test]
fn auth_errors_are_statuses() {
    let fv = FakeVault::start();
    let bad = VaultClient::new(Some(&fv.url()), "default", "wrong");
    let e = bad
        .list_notes(&NoteQuery::tagged(TAG_MESSAGE, 1))
        .unwrap_err();
    assert_eq!(e.status(), Some(401));
    assert!(e
        .context("vault transport: load transcript")
        .starts_with("vault transport: load transcript failed (401) {"));
    let ro = VaultClient::new(Some(&fv.url()), "default", FakeVault::READ_TOKEN);
    assert_eq!(
        ro.create_note(&json!({"content": "x"}))
            .unwrap_err()
            .status(),
        Some(403)
    );
    let other = VaultClient::new(Some(&fv.url()), "nosuch", FakeVault::TOKEN);
    assert!(other.get_note("x", true).unwrap_err().is_not_found());
}

#[test]
fn down_vault_is_unreachable_and_comes_back() {
    let fv = FakeVault::start();
    let c = client(&fv);
    c.create_note(&json!({"content": "before"})).unwrap();
    fv.set_down(true);
    let e = c
        .list_notes(&NoteQuery::tagged(TAG_MESSAGE, 5))
        .unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    let e = c.create_note(&json!({"content": "during"})).unwrap_err();
    assert!(e.is_unreachable(), "{e:?}");
    fv.set_down(false);
    c.create_note(&json!({"content": "after"})).unwrap();
    assert_eq!(
        fv.notes("default").len(),
        2,
        "nothing was written while down"
    );
}

#[test]
fn injected_failure_keeps_the_body() {
    let fv = FakeVault::start();
    let c = client(&fv);
    fv.fail(FailRule {
        method: Some("POST".into()),
        url_contains: "/api/notes".into(),
        status: 500,
        body: json!({"error": "disk full"}),
        times: Some(1),
    });
    let e = c.create_note(&json!({"content": "x"})).unwrap_err();
    assert_eq!(
        e.context("vault transport: write reply"),
        "vault transport: write reply failed (500) {\"error\":\"disk full\"}"
    );
    c.create_note(&json!({"content": "x"})).unwrap();
}

#[test]
fn tag_schema_is_seven_encoded_puts() {
    let fv = FakeVault::start();
    let warnings = schema::declare(&client(&fv));
    assert!(warnings.is_empty(), "{warnings:?}");
    let puts: Vec<_> = fv
        .requests()
        .into_iter()
        .filter(|r| r.method == "PUT")
        .collect();
    assert_eq!(puts.len(), 7);
    assert_eq!(
        puts[3].url,
        "/vault/default/api/tags/agent%2Fmessage%2Finbound"
    );
    assert_eq!(
        fv.tag("default", "agent/message").unwrap()["fields"]["agent"]["indexed"],
        true
    );
    // A rejected PUT is a warning, never an error.
    fv.fail(FailRule::always(Some("PUT"), "/tags/agent%2Fjob", 400));
    let warnings = schema::declare(&client(&fv));
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].starts_with("vault transport: tag-schema upsert for agent/job failed (400)")
    );
}

#[test]
fn attachments_list() {
    let fv = FakeVault::start();
    let c = client(&fv);
    let n = c.create_note(&json!({"content": "pic"})).unwrap();
    let id = n["id"].as_str().unwrap();
    assert!(c.list_attachments(id).unwrap().is_empty());
    fv.add_attachment("default", id, "2026-06-24/a.png", "image/png", b"PNG");
    let refs = notes::attachment_refs(&c.list_attachments(id).unwrap());
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0].filename, "a.png");
    assert!(c.list_attachments("missing").unwrap_err().is_not_found());
}

/// (Authorization header, parsed body) of each webhook call.
type Received = Arc<Mutex<Vec<(Option<String>, Value)>>>;

/// A webhook receiver: records (authorization, body) and answers `status` + `answer`.
struct Sink {
    url: String,
    got: Received,
    _server: Arc<tiny_http::Server>,
}

fn sink(status: u16, answer: &'static str) -> Sink {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let url = format!("http://{}/hook", server.server_addr().to_ip().unwrap());
    let got: Received = Arc::new(Mutex::new(Vec::new()));
    let (s, g) = (server.clone(), got.clone());
    std::thread::spawn(move || {
        for mut rq in s.incoming_requests() {
            let mut body = String::new();
            let _ = rq.as_reader().read_to_string(&mut body);
            let auth = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("authorization"))
                .map(|h| h.value.to_string());
            g.lock()
                .push((auth, serde_json::from_str(&body).unwrap_or(Value::Null)));
            let _ = rq.respond(tiny_http::Response::from_string(answer).with_status_code(status));
        }
    });
    Sink {
        url,
        got,
        _server: server,
    }
}

#[test]
fn trigger_api_validates_and_redacts() {
    let fv = FakeVault::start();
    let admin = client(&fv).with_token(FakeVault::ADMIN_TOKEN);
    let body = json!({"name": "conn_agentinbound-default", "events": ["created"],
        "when": {"tags": [TAG_INBOUND], "has_metadata": ["agent"]},
        "action": {"webhook": "http://127.0.0.1:9/x", "send": "json", "auth": {"bearer": "sekrit"}}});
    assert_eq!(
        client(&fv).create_trigger(&body).unwrap_err().status(),
        Some(403)
    );
    let t = admin.create_trigger(&body).unwrap();
    assert_eq!(t["trigger"]["action"]["auth"]["bearer"], "[REDACTED]");
    let listed = admin.list_triggers().unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!listed[0].to_string().contains("sekrit"));
    let mut bad = body.clone();
    bad["events"] = json!(["deleted"]);
    assert_eq!(admin.create_trigger(&bad).unwrap_err().status(), Some(400));
    admin.delete_trigger("conn_agentinbound-default").unwrap();
    assert!(admin
        .delete_trigger("conn_agentinbound-default")
        .unwrap_err()
        .is_not_found());
}

#[test]
fn trigger_fires_once_with_bearer_and_markers() {
    let fv = FakeVault::start();
    let hook = sink(200, "{\"ok\":true}");
    fv.register_trigger(
        "default",
        json!({"name": "inb", "events": ["created"],
               "when": {"tags": [TAG_INBOUND], "has_metadata": ["agent"], "missing_metadata": ["channel_inbound_rendered_at"]},
               "action": {"webhook": hook.url, "send": "json", "auth": {"bearer": "agent-send-jwt"}}}),
    )
    .unwrap();
    let c = client(&fv);
    let (_, body) = notes::inbound_message_body("channel", "eng", "wake up", "", "T", &[]);
    let n = c.create_note(&body).unwrap();
    let id = n["id"].as_str().unwrap().to_string();
    // An outbound note does not match.
    let (_, out) = notes::outbound_message_body("channel", "eng", "reply", "T", None, None);
    c.create_note(&out).unwrap();
    assert!(fv.wait_until(Duration::from_secs(5), |_| !hook.got.lock().is_empty()));
    assert!(fv.wait_hooks_idle(Duration::from_secs(5)));
    let got = hook.got.lock().clone();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.as_deref(), Some("Bearer agent-send-jwt"));
    let payload = &got[0].1;
    assert_eq!(payload["trigger"], "inb");
    assert_eq!(payload["event"], "created");
    assert_eq!(payload["note"]["id"], Value::String(id.clone()));
    assert_eq!(payload["note"]["metadata"]["agent"], "eng");
    assert!(payload["note"]["metadata"].get("inb_pending_at").is_none());
    let stored = fv.note("default", &id).unwrap();
    assert!(stored["metadata"].get("inb_rendered_at").is_some());
    assert!(stored["metadata"].get("inb_pending_at").is_none());
    assert_eq!(
        stored["updatedAt"], n["updatedAt"],
        "markers do not bump updatedAt"
    );
    // Updates never re-fire a (note, trigger) pair.
    c.patch_note(&id, &json!({"content": "edited", "force": true}))
        .unwrap();
    fv.wait_hooks_idle(Duration::from_secs(5));
    assert_eq!(hook.got.lock().len(), 1);
}

#[test]
fn failed_webhook_strands_the_note_pending() {
    let fv = FakeVault::start();
    let hook = sink(401, "{\"error\":\"unauthorized\"}");
    fv.register_trigger(
        "default",
        json!({"name": "t1", "events": ["created", "updated"], "when": {"tags": ["x"]},
               "action": {"webhook": hook.url}}),
    )
    .unwrap();
    let n = fv.create_note("default", json!({"content": "a", "tags": ["x"]}));
    let id = n["id"].as_str().unwrap().to_string();
    assert!(fv.wait_until(Duration::from_secs(5), |fv| fv.hook_deliveries().len() == 1));
    assert!(fv.wait_hooks_idle(Duration::from_secs(5)));
    let d = &fv.hook_deliveries()[0];
    assert_eq!(
        (d.status, d.ok, d.authorization.clone()),
        (Some(401), false, None)
    );
    let stored = fv.note("default", &id).unwrap();
    assert!(stored["metadata"].get("t1_pending_at").is_some());
    fv.patch_note("default", &id, json!({"content": "b", "force": true}));
    fv.wait_hooks_idle(Duration::from_secs(5));
    assert_eq!(
        hook.got.lock().len(),
        1,
        "a pending note never fires that trigger again"
    );
}

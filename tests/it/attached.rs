//! The attached queue over the fake vault (spec 03 §6): claim with compare-and-swap (each
//! message claimed once under a race), TTL sweep, release, reply writing the outbound note
//! and marking the inbound handled, and claim state living only in the vault.

use std::sync::Arc;

use parachute_agent::backend::attached::queue::{self, Status};
use parachute_agent::backend::attached::vault_store::VaultQueueStore;
use parachute_agent::backend::attached::QueueStore;
use parachute_agent::vault::notes;
use parachute_agent::vault::VaultClient;
use serde_json::{json, Value};

use crate::support::fake_vault::{FailRule, FakeVault};

fn store(fv: &FakeVault) -> VaultQueueStore {
    VaultQueueStore::new(VaultClient::new(
        Some(&fv.url()),
        "default",
        FakeVault::TOKEN,
    ))
}

fn inbound(fv: &FakeVault, channel: &str, text: &str, ts: &str) -> String {
    let (_, body) = notes::inbound_message_body("channel", channel, text, "", ts, &[]);
    let note = fv.create_note("default", body);
    note["id"].as_str().unwrap().to_string()
}

fn meta(fv: &FakeVault, id: &str) -> Value {
    fv.note("default", id).unwrap()["metadata"].clone()
}

fn now() -> String {
    parachute_agent::util::time::now_iso()
}

#[test]
fn pending_claim_release_reply_against_the_vault() {
    let fv = FakeVault::start();
    let st = store(&fv);
    let a = inbound(&fv, "eng", "first", "2026-01-01T00:00:01.000Z");
    let b = inbound(&fv, "eng", "second\n\nline", "2026-01-01T00:00:02.000Z");
    inbound(&fv, "ops", "other channel", "2026-01-01T00:00:00.000Z");
    let p = queue::pending(&st, "eng").unwrap();
    assert_eq!(p["count"], 2);
    assert_eq!(p["items"][1]["preview"], "second line");

    let c = queue::claim_next(&st, "eng", "persona", &now)
        .unwrap()
        .unwrap();
    assert_eq!(c["id"], Value::String(a.clone()));
    assert_eq!(c["systemPrompt"], "persona");
    assert_eq!(meta(&fv, &a)["status"], "in-flight");
    let claim = fv
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("claim PATCH");
    let body: Value = claim.body.clone().unwrap();
    assert!(
        body.get("if_updated_at").is_some(),
        "claim must be a CAS: {body}"
    );
    assert!(body.get("force").is_none());

    queue::release(&st, &a).unwrap();
    assert_eq!(meta(&fv, &a)["status"], "pending");
    assert_eq!(meta(&fv, &a)["claimedAt"], "");

    let ids = queue::reply(&st, "eng", "the answer", Some(&b)).unwrap();
    assert_eq!(ids.len(), 1);
    let out = fv.note("default", &ids[0]).unwrap();
    assert_eq!(out["content"], "the answer");
    assert_eq!(out["metadata"]["agent"], "eng");
    assert_eq!(out["metadata"]["direction"], "outbound");
    assert_eq!(out["metadata"]["sender"], "session");
    assert_eq!(out["metadata"]["in_reply_to"], Value::String(b.clone()));
    let tags = out["tags"].as_array().unwrap();
    assert!(tags.contains(&json!("agent/message/outbound")));
    assert_eq!(meta(&fv, &b)["status"], "handled");
    assert_eq!(queue::pending(&st, "eng").unwrap()["count"], 1);
}

#[test]
fn racing_claimers_each_message_once() {
    let fv = FakeVault::start();
    for i in 0..12 {
        inbound(
            &fv,
            "eng",
            &format!("m{i}"),
            &format!("2026-01-01T00:00:{i:02}.000Z"),
        );
    }
    let st = Arc::new(store(&fv));
    let workers: Vec<_> = (0..3)
        .map(|_| {
            let st = st.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(m) = queue::claim_next(&*st, "eng", "", &now).unwrap() {
                    got.push(m["text"].as_str().unwrap().to_string());
                }
                got
            })
        })
        .collect();
    let mut all: Vec<String> = workers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    all.sort();
    let mut want: Vec<String> = (0..12).map(|i| format!("m{i}")).collect();
    want.sort();
    assert_eq!(all, want, "every message claimed exactly once");
}

#[test]
fn sweep_returns_expired_claims_and_state_survives_in_the_vault() {
    let fv = FakeVault::start();
    let st = store(&fv);
    let a = inbound(&fv, "eng", "a", "1");
    let b = inbound(&fv, "eng", "b", "2");
    queue::claim_next(&st, "eng", "", &now).unwrap().unwrap();
    queue::claim_next(&st, "eng", "", &now).unwrap().unwrap();
    // backdate one claim past the TTL
    let old = parachute_agent::util::time::iso_from_ms(
        parachute_agent::util::time::now_ms() - queue::CLAIM_TTL_MS - 1000,
    );
    fv.patch_note(
        "default",
        &a,
        json!({"metadata": {"claimedAt": old}, "force": true}),
    );
    let now_ms = parachute_agent::util::time::now_ms();
    assert_eq!(
        queue::sweep(&st, "eng", now_ms, queue::CLAIM_TTL_MS).unwrap(),
        1
    );
    assert_eq!(meta(&fv, &a)["status"], "pending");
    assert_eq!(meta(&fv, &b)["status"], "in-flight");
    // a fresh store (a daemon restart) sees the same state
    let again = store(&fv);
    let items = again.list("eng").unwrap();
    assert_eq!(
        items
            .iter()
            .filter(|i| i.status == Status::InFlight)
            .count(),
        1
    );
}

#[test]
fn vault_errors_are_reported_and_a_failed_reply_marks_nothing() {
    let fv = FakeVault::start();
    let st = store(&fv);
    let a = inbound(&fv, "eng", "a", "1");
    fv.fail(FailRule::always(Some("POST"), "/api/notes", 503));
    let err = queue::reply(&st, "eng", "x", Some(&a)).unwrap_err();
    assert!(
        err.starts_with("vault transport: write reply failed (503)"),
        "{err}"
    );
    assert_ne!(meta(&fv, &a)["status"], "handled");
    fv.clear_failures();
    fv.set_down(true);
    let err = queue::pending(&st, "eng").unwrap_err();
    assert!(
        err.starts_with("vault transport: list inbound queue failed"),
        "{err}"
    );
}

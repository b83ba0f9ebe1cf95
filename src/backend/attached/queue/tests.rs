//! Unit tests of the attached queue (claim CAS, reply, release, sweep) over an in-memory store.

use super::*;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// An in-memory store with the vault's CAS semantics (409 when `if_updated_at` differs).
#[derive(Default)]
pub(crate) struct MemStore {
    pub notes: Mutex<Vec<Value>>,
    pub replies: Mutex<Vec<(String, String, Option<String>)>>,
    pub fail_reply: Mutex<bool>,
    clock: AtomicU64,
}

impl MemStore {
    pub fn add(&self, id: &str, channel: &str, text: &str, ts: &str, extra: Value) {
        let mut meta = json!({"agent": channel, "ts": ts, "sender": "op"});
        if let Value::Object(m) = extra {
            for (k, v) in m {
                meta[k] = v;
            }
        }
        let u = self.tick();
        self.notes
            .lock()
            .push(json!({"id": id, "content": text, "metadata": meta, "updatedAt": u}));
    }

    fn tick(&self) -> String {
        format!("u{:06}", self.clock.fetch_add(1, Ordering::SeqCst))
    }

    pub fn meta(&self, id: &str, k: &str) -> Value {
        self.notes
            .lock()
            .iter()
            .find(|n| n["id"] == id)
            .map(|n| n["metadata"][k].clone())
            .unwrap_or(Value::Null)
    }
}

impl QueueStore for MemStore {
    fn list(&self, channel: &str) -> Result<Vec<QueueItem>, String> {
        Ok(items_from_notes(channel, &self.notes.lock()))
    }
    fn set_status(
        &self,
        id: &str,
        status: Status,
        claimed_at: &str,
        if_updated_at: Option<&str>,
    ) -> Result<(), StoreError> {
        let u = self.tick();
        let mut notes = self.notes.lock();
        let n = notes
            .iter_mut()
            .find(|n| n["id"] == id)
            .ok_or_else(|| StoreError::Other(format!("set inbound status {id} failed (404)")))?;
        if let Some(want) = if_updated_at {
            if n["updatedAt"] != want {
                return Err(StoreError::LostRace(format!(
                    "inbound claim {id} lost the CAS race (409)"
                )));
            }
        }
        n["metadata"]["status"] = json!(status.as_str());
        n["metadata"]["claimedAt"] = json!(claimed_at);
        n["updatedAt"] = json!(u);
        Ok(())
    }
    fn write_reply(
        &self,
        channel: &str,
        text: &str,
        irt: Option<&str>,
    ) -> Result<Vec<String>, String> {
        if *self.fail_reply.lock() {
            return Err("write reply failed (503) down".into());
        }
        let mut r = self.replies.lock();
        r.push((channel.into(), text.into(), irt.map(str::to_string)));
        Ok(vec![format!("out{}", r.len())])
    }
}

fn now() -> String {
    crate::util::time::now_iso()
}

#[test]
fn queue_from_notes_filters_and_sorts() {
    let notes = vec![
        json!({"id":"b","content":"two","metadata":{"agent":"eng","ts":"2026-01-02"},"updated_at":"x"}),
        json!({"id":"a","content":"one","metadata":{"channel":"eng","ts":"2026-01-01"}}),
        json!({"id":"h","content":"done","metadata":{"agent":"eng","ts":"2026-01-00","status":"handled"}}),
        json!({"id":"o","content":"other","metadata":{"agent":"ops","ts":"2025"}}),
        json!({"id":"z","content":"blank ts","metadata":{"agent":"eng","status":"ok"}}),
        json!({"content":"no id","metadata":{"agent":"eng"}}),
    ];
    let items = items_from_notes("eng", &notes);
    let ids: Vec<&str> = items.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(ids, ["z", "a", "b"]);
    assert_eq!(items[0].status, Status::Pending); // callback "ok" reads as pending
    assert_eq!(items[2].updated_at.as_deref(), Some("x"));
}

#[test]
fn preview_rules() {
    assert_eq!(preview("  a \n\t b  "), "a b");
    let long = "x".repeat(121);
    let p = preview(&long);
    assert_eq!(p.chars().count(), 120);
    assert!(p.ends_with('…'));
    assert_eq!(preview(&"y".repeat(120)), "y".repeat(120));
}

#[test]
fn pending_claim_reply_release() {
    let st = MemStore::default();
    st.add(
        "m1",
        "eng",
        "first  message",
        "2026-01-01T00:00:01.000Z",
        json!({}),
    );
    st.add("m2", "eng", "second", "2026-01-01T00:00:02.000Z", json!({}));
    st.add(
        "x",
        "ops",
        "not ours",
        "2026-01-01T00:00:00.000Z",
        json!({}),
    );
    let p = pending(&st, "eng").unwrap();
    assert_eq!(
        p,
        json!({"count":2,"items":[{"id":"m1","preview":"first message"},{"id":"m2","preview":"second"}]})
    );
    let c = claim_next(&st, "eng", "be kind", &now).unwrap().unwrap();
    assert_eq!(
        c,
        json!({"id":"m1","text":"first  message","inReplyTo":"m1","systemPrompt":"be kind"})
    );
    assert_eq!(st.meta("m1", "status"), "in-flight");
    assert!(st.meta("m1", "claimedAt").as_str().unwrap().ends_with('Z'));
    assert_eq!(pending(&st, "eng").unwrap()["count"], 1);
    let c2 = claim_next(&st, "eng", "", &now).unwrap().unwrap();
    assert_eq!(c2["id"], "m2");
    assert_eq!(claim_next(&st, "eng", "", &now).unwrap(), None);
    release(&st, "m2").unwrap();
    assert_eq!(st.meta("m2", "status"), "pending");
    assert_eq!(st.meta("m2", "claimedAt"), "");
    let ids = reply(&st, "eng", "answer", Some("m1")).unwrap();
    assert_eq!(ids, vec!["out1".to_string()]);
    assert_eq!(st.meta("m1", "status"), "handled");
    assert_eq!(
        st.replies.lock()[0],
        ("eng".into(), "answer".into(), Some("m1".into()))
    );
    // a failed outbound write marks nothing
    *st.fail_reply.lock() = true;
    assert!(reply(&st, "eng", "again", Some("m2")).is_err());
    assert_eq!(st.meta("m2", "status"), "pending");
}

/// Loses every CAS: claim gives up after 25 attempts with `None`.
struct AlwaysLose(MemStore, AtomicU64);
impl QueueStore for AlwaysLose {
    fn list(&self, c: &str) -> Result<Vec<QueueItem>, String> {
        self.0.list(c)
    }
    fn set_status(
        &self,
        id: &str,
        _: Status,
        _: &str,
        cas: Option<&str>,
    ) -> Result<(), StoreError> {
        assert!(cas.is_some(), "a claim must be a compare-and-swap");
        self.1.fetch_add(1, Ordering::SeqCst);
        Err(StoreError::LostRace(format!(
            "inbound claim {id} lost the CAS race (428)"
        )))
    }
    fn write_reply(&self, _: &str, _: &str, _: Option<&str>) -> Result<Vec<String>, String> {
        unreachable!()
    }
}

#[test]
fn claim_gives_up_after_25_lost_races() {
    let st = AlwaysLose(MemStore::default(), AtomicU64::new(0));
    st.0.add("m1", "eng", "t", "1", json!({}));
    assert_eq!(claim_next(&st, "eng", "", &now).unwrap(), None);
    assert_eq!(st.1.load(Ordering::SeqCst), CLAIM_ATTEMPTS as u64);
}

#[test]
fn racing_claims_take_each_message_once() {
    let st = Arc::new(MemStore::default());
    for i in 0..40 {
        st.add(
            &format!("m{i:02}"),
            "eng",
            "t",
            &format!("{i:02}"),
            json!({}),
        );
    }
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let st = st.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some(m) = claim_next(&*st, "eng", "", &now).unwrap() {
                    got.push(m["id"].as_str().unwrap().to_string());
                }
                got
            })
        })
        .collect();
    let mut all: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort();
    let want: Vec<String> = (0..40).map(|i| format!("m{i:02}")).collect();
    assert_eq!(all, want);
}

#[test]
fn sweep_releases_only_expired_claims() {
    let st = MemStore::default();
    let now_ms = 10_000_000_000_000u64;
    let iso = |ms: u64| crate::util::time::iso_from_ms(ms);
    st.add(
        "old",
        "eng",
        "t",
        "1",
        json!({"status":"in-flight","claimedAt": iso(now_ms - CLAIM_TTL_MS)}),
    );
    st.add(
        "fresh",
        "eng",
        "t",
        "2",
        json!({"status":"in-flight","claimedAt": iso(now_ms - CLAIM_TTL_MS + 1000)}),
    );
    st.add("noclaim", "eng", "t", "3", json!({"status":"in-flight"}));
    st.add(
        "garbage",
        "eng",
        "t",
        "4",
        json!({"status":"in-flight","claimedAt":"soon"}),
    );
    assert_eq!(sweep(&st, "eng", now_ms, CLAIM_TTL_MS).unwrap(), 1);
    assert_eq!(st.meta("old", "status"), "pending");
    assert_eq!(st.meta("fresh", "status"), "in-flight");
    assert_eq!(st.meta("noclaim", "status"), "in-flight");
    assert_eq!(st.meta("garbage", "status"), "in-flight");
}

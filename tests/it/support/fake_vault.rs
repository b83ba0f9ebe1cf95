//! A fake Parachute vault for black-box tests (spec 02 §1.5): a tiny_http server on a free
//! loopback port reproducing the REST semantics of spec 02 §1.3 and the trigger engine of
//! §1.4 (two-phase markers, webhook POST with `action.auth.bearer`, at most 2 handlers at
//! once), with bearer auth per token and verb, a request log, failure injection and a
//! "down" switch that really refuses connections.
//!
//! Contract followed: the vault the reference daemon 0.2.3-rc.10 needs (runtime trigger API,
//! `if_missing:"create"`, bare tags, webhook bearer auth) as described in spec 02 and as
//! implemented by parachute-vault's `src/triggers.ts` / `core/src/hooks.ts`. Not reproduced:
//! hub-JWT verification (tokens are opaque strings granted per test), tag `parent_names`
//! expansion in queries, metadata operator filters on indexed fields (the shorthand
//! `meta[f]=v` equality and the `created_at`/`updated_at` date range are), cursors, search,
//! links, attachment uploads over HTTP, `send` modes other than `json`, `include_context`.
#![allow(dead_code)]

mod http;
mod store;
mod triggers;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parachute_agent::util::time::now_iso;
use parking_lot::{Condvar, Mutex};
use serde_json::{json, Map, Value};

pub use store::Event;
use store::{Outcome, VaultData};
pub use triggers::Trigger;

/// Verbs of a token (admin ⊇ write ⊇ read).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    Read,
    Write,
    Admin,
}

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    pub method: String,
    /// Raw path + query, exactly as sent (`%2F` kept).
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub raw_body: String,
}

impl LoggedRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One webhook call of the trigger engine.
#[derive(Debug, Clone)]
pub struct HookDelivery {
    pub trigger: String,
    pub note_id: String,
    pub event: String,
    pub status: Option<u16>,
    pub authorization: Option<String>,
    pub ok: bool,
}

/// Failure injection: requests whose method matches (if set) and whose URL contains
/// `url_contains` get `status` + `body` instead of being served, `times` times (None = always).
#[derive(Debug, Clone)]
pub struct FailRule {
    pub method: Option<String>,
    pub url_contains: String,
    pub status: u16,
    pub body: Value,
    pub times: Option<usize>,
}

impl FailRule {
    pub fn always(method: Option<&str>, url_contains: &str, status: u16) -> Self {
        FailRule {
            method: method.map(str::to_string),
            url_contains: url_contains.to_string(),
            status,
            body: json!({"error": "injected failure"}),
            times: None,
        }
    }
}

#[derive(Default)]
struct State {
    vaults: BTreeMap<String, VaultData>,
    triggers: BTreeMap<String, Vec<Trigger>>,
    grants: HashMap<String, (Option<String>, Verb)>,
    log: Vec<LoggedRequest>,
    hooks: Vec<HookDelivery>,
    failures: Vec<FailRule>,
}

struct Shared {
    state: Mutex<State>,
    /// Trigger handlers running or waiting.
    in_flight: AtomicUsize,
    /// Global handler concurrency cap (HOOK_CONCURRENCY = 2).
    slots: Mutex<usize>,
    slot_free: Condvar,
}

struct Running {
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
}

/// The fake vault. Dropping it stops the server.
pub struct FakeVault {
    shared: Arc<Shared>,
    port: u16,
    running: Mutex<Option<Running>>,
}

const WORKERS: usize = 4;

impl FakeVault {
    /// Write-scoped token on every vault.
    pub const TOKEN: &'static str = "fake-vault-write-token";
    /// Admin-scoped token on every vault.
    pub const ADMIN_TOKEN: &'static str = "fake-vault-admin-token";
    /// Read-only token on every vault.
    pub const READ_TOKEN: &'static str = "fake-vault-read-token";

    /// Start with one vault, `default`, and the three tokens above.
    pub fn start() -> FakeVault {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            in_flight: AtomicUsize::new(0),
            slots: Mutex::new(2),
            slot_free: Condvar::new(),
        });
        {
            let mut st = shared.state.lock();
            st.vaults.insert("default".into(), VaultData::default());
            st.grants.insert(Self::TOKEN.into(), (None, Verb::Write));
            st.grants
                .insert(Self::ADMIN_TOKEN.into(), (None, Verb::Admin));
            st.grants
                .insert(Self::READ_TOKEN.into(), (None, Verb::Read));
        }
        let server = tiny_http::Server::http("127.0.0.1:0").expect("bind fake vault");
        let port = server.server_addr().to_ip().expect("ip listener").port();
        let fv = FakeVault {
            shared,
            port,
            running: Mutex::new(None),
        };
        fv.run(server);
        fv
    }

    /// `http://127.0.0.1:<port>` — the `vaultUrl` to configure.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn add_vault(&self, name: &str) {
        self.shared
            .state
            .lock()
            .vaults
            .entry(name.into())
            .or_default();
    }

    /// Accept `token` with `verb`, on one vault (`Some`) or all (`None`).
    pub fn grant(&self, token: &str, vault: Option<&str>, verb: Verb) {
        self.shared
            .state
            .lock()
            .grants
            .insert(token.into(), (vault.map(str::to_string), verb));
    }

    /// `true`: stop listening (connections are refused); `false`: listen again on the same
    /// port. Notes, triggers and logs survive.
    pub fn set_down(&self, down: bool) {
        let mut running = self.running.lock();
        if down {
            if let Some(r) = running.take() {
                drop(running);
                Self::shutdown(r);
            }
        } else if running.is_none() {
            drop(running);
            let deadline = Instant::now() + Duration::from_secs(5);
            let server = loop {
                match tiny_http::Server::http(("127.0.0.1", self.port)) {
                    Ok(s) => break s,
                    Err(e) if Instant::now() > deadline => panic!("fake vault rebind: {e}"),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            };
            self.run(server);
        }
    }

    pub fn fail(&self, rule: FailRule) {
        self.shared.state.lock().failures.push(rule);
    }

    pub fn clear_failures(&self) {
        self.shared.state.lock().failures.clear();
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.state.lock().log.clone()
    }

    pub fn clear_requests(&self) {
        self.shared.state.lock().log.clear();
    }

    /// Webhook calls made by the trigger engine so far.
    pub fn hook_deliveries(&self) -> Vec<HookDelivery> {
        self.shared.state.lock().hooks.clone()
    }

    /// Create a note as `POST /api/notes` would (fires triggers). Panics on a 4xx.
    pub fn create_note(&self, vault: &str, body: Value) -> Value {
        let out = self.with_vault(vault, |v| v.create(&body));
        assert!(
            out.status < 300,
            "fake vault create failed: {} {}",
            out.status,
            out.body
        );
        let note = out.body.clone();
        self.dispatch(vault, out.events);
        note
    }

    /// PATCH a note as `PATCH /api/notes/<key>` would (fires triggers).
    pub fn patch_note(&self, vault: &str, key: &str, body: Value) -> (u16, Value) {
        let out = self.with_vault(vault, |v| v.patch(key, &body));
        let ret = (out.status, out.body.clone());
        self.dispatch(vault, out.events);
        ret
    }

    pub fn delete_note(&self, vault: &str, key: &str) -> u16 {
        self.with_vault(vault, |v| v.delete(key)).status
    }

    /// A note by id or path, with content.
    pub fn note(&self, vault: &str, key: &str) -> Option<Value> {
        let st = self.shared.state.lock();
        let v = st.vaults.get(vault)?;
        v.find(key).map(|i| v.notes[i].to_json(true))
    }

    /// All notes of a vault in creation order, with content.
    pub fn notes(&self, vault: &str) -> Vec<Value> {
        let st = self.shared.state.lock();
        st.vaults
            .get(vault)
            .map(|v| v.notes.iter().map(|n| n.to_json(true)).collect())
            .unwrap_or_default()
    }

    pub fn notes_tagged(&self, vault: &str, tag: &str) -> Vec<Value> {
        self.notes(vault)
            .into_iter()
            .filter(|n| {
                n["tags"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|x| x == tag))
            })
            .collect()
    }

    /// Attach a file to a note (what an upload would do) and store its bytes.
    pub fn add_attachment(&self, vault: &str, note_id: &str, path: &str, mime: &str, bytes: &[u8]) {
        let mut st = self.shared.state.lock();
        let v = st.vaults.get_mut(vault).expect("vault");
        let i = v.find(note_id).expect("note");
        let att = json!({"id": parachute_agent::util::rand::uuid(), "noteId": v.notes[i].id,
                         "path": path, "mimeType": mime, "createdAt": now_iso()});
        v.notes[i].attachments.push(att);
        v.storage.insert(path.to_string(), bytes.to_vec());
    }

    /// Register a trigger directly (as `POST /api/triggers` with an admin token).
    pub fn register_trigger(&self, vault: &str, body: Value) -> Result<(), String> {
        let t = triggers::parse_trigger(&body, &now_iso())?;
        let mut st = self.shared.state.lock();
        let list = st.triggers.entry(vault.into()).or_default();
        list.retain(|x| x.name != t.name);
        list.push(t);
        Ok(())
    }

    /// Registered triggers, unredacted.
    pub fn triggers(&self, vault: &str) -> Vec<Trigger> {
        self.shared
            .state
            .lock()
            .triggers
            .get(vault)
            .cloned()
            .unwrap_or_default()
    }

    /// The stored record of a tag (`PUT /api/tags/<name>`).
    pub fn tag(&self, vault: &str, name: &str) -> Option<Value> {
        self.shared
            .state
            .lock()
            .vaults
            .get(vault)?
            .tags
            .get(name)
            .cloned()
    }

    /// Poll `pred` every 20 ms until it holds or `timeout` passes.
    pub fn wait_until(&self, timeout: Duration, pred: impl Fn(&FakeVault) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if pred(self) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Wait until no trigger handler is running or queued.
    pub fn wait_hooks_idle(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, |fv| {
            fv.shared.in_flight.load(Ordering::SeqCst) == 0
        })
    }

    fn with_vault(&self, vault: &str, f: impl FnOnce(&mut VaultData) -> Outcome) -> Outcome {
        let mut st = self.shared.state.lock();
        match st.vaults.get_mut(vault) {
            Some(v) => f(v),
            None => Outcome::err(404, json!({"error": "Vault not found", "vault": vault})),
        }
    }

    fn dispatch(&self, vault: &str, events: Vec<(Event, String)>) {
        dispatch(&self.shared, vault, events);
    }

    fn run(&self, server: tiny_http::Server) {
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..WORKERS)
            .map(|i| {
                let server = server.clone();
                let stop = stop.clone();
                let shared = self.shared.clone();
                std::thread::Builder::new()
                    .name(format!("fake-vault-{i}"))
                    .spawn(move || {
                        while !stop.load(Ordering::SeqCst) {
                            match server.recv() {
                                Ok(rq) => http::serve(&shared, rq),
                                Err(_) => continue,
                            }
                        }
                    })
                    .expect("spawn fake vault worker")
            })
            .collect();
        *self.running.lock() = Some(Running {
            server,
            stop,
            workers,
        });
    }

    fn shutdown(r: Running) {
        r.stop.store(true, Ordering::SeqCst);
        for _ in 0..r.workers.len() {
            r.server.unblock();
        }
        for w in r.workers {
            let _ = w.join();
        }
        drop(r.server); // last reference: tiny_http closes the listener
    }
}

impl Drop for FakeVault {
    fn drop(&mut self) {
        if let Some(r) = self.running.lock().take() {
            Self::shutdown(r);
        }
    }
}

// ---------------------------------------------------------------- trigger engine

/// Evaluate triggers for committed mutations; matching handlers run on their own threads.
fn dispatch(shared: &Arc<Shared>, vault: &str, events: Vec<(Event, String)>) {
    for (event, id) in events {
        let matches: Vec<Trigger> = {
            let st = shared.state.lock();
            let Some(note) = st
                .vaults
                .get(vault)
                .and_then(|v| v.notes.iter().find(|n| n.id == id))
            else {
                continue;
            };
            st.triggers
                .get(vault)
                .map(|ts| {
                    ts.iter()
                        .filter(|t| t.matches(event.as_str(), note))
                        .cloned()
                        .collect()
                })
                .unwrap_or_default()
        };
        for trigger in matches {
            shared.in_flight.fetch_add(1, Ordering::SeqCst);
            let shared = shared.clone();
            let vault = vault.to_string();
            let id = id.clone();
            std::thread::spawn(move || {
                acquire_slot(&shared);
                run_handler(&shared, &vault, &trigger, event, &id);
                release_slot(&shared);
                shared.in_flight.fetch_sub(1, Ordering::SeqCst);
            });
        }
    }
}

fn acquire_slot(shared: &Shared) {
    let mut slots = shared.slots.lock();
    while *slots == 0 {
        shared.slot_free.wait(&mut slots);
    }
    *slots -= 1;
}

fn release_slot(shared: &Shared) {
    *shared.slots.lock() += 1;
    shared.slot_free.notify_one();
}

/// The two-phase handler of parachute-vault `triggers.ts`: claim with `_pending_at`, POST,
/// then replace the claim with `_rendered_at` (applying the JSON answer). Marker writes do
/// not bump `updatedAt` but are `updated` events for the other triggers.
fn run_handler(shared: &Arc<Shared>, vault: &str, trigger: &Trigger, event: Event, id: &str) {
    let pending = trigger.pending_key();
    let rendered = trigger.rendered_key();
    let (note, meta_before) = {
        let mut st = shared.state.lock();
        let Some(v) = st.vaults.get_mut(vault) else {
            return;
        };
        let Some(note) = v.notes.iter().find(|n| n.id == id).cloned() else {
            return;
        };
        if note.metadata.contains_key(&pending) || note.metadata.contains_key(&rendered) {
            return;
        }
        let mut claim = Map::new();
        claim.insert(pending.clone(), Value::String(now_iso()));
        v.write_markers(id, &claim, None);
        (note.clone(), Value::Object(note.metadata.clone()))
    };
    dispatch(shared, vault, vec![(Event::Updated, id.to_string())]);
    let payload = triggers::payload(trigger, event.as_str(), &note, &meta_before);
    let (status, result) = triggers::call_webhook(trigger, &payload);
    let ok = matches!(result, triggers::WebhookResult::Applied(_));
    shared.state.lock().hooks.push(HookDelivery {
        trigger: trigger.name.clone(),
        note_id: id.to_string(),
        event: event.as_str().to_string(),
        status,
        authorization: trigger.bearer().map(|b| format!("Bearer {b}")),
        ok,
    });
    let triggers::WebhookResult::Applied(answer) = result else {
        return; // stays pending: manual recovery, never fires again
    };
    {
        let mut st = shared.state.lock();
        let Some(v) = st.vaults.get_mut(vault) else {
            return;
        };
        let mut patch = Map::new();
        patch.insert(pending, Value::Null);
        if let Some(reason) = answer.get("skipped_reason").and_then(Value::as_str) {
            patch.insert(format!("{}_skipped_reason", trigger.name), json!(reason));
            patch.insert(rendered, Value::String(now_iso()));
            v.write_markers(id, &patch, None);
        } else {
            if let Some(Value::Object(m)) = answer.get("metadata") {
                patch.extend(m.clone());
            }
            patch.insert(rendered, Value::String(now_iso()));
            let content = answer.get("content").and_then(Value::as_str);
            v.write_markers(id, &patch, content);
        }
    }
    dispatch(shared, vault, vec![(Event::Updated, id.to_string())]);
}

//! Registry + worker tests against the fake `claude`, with an in-memory [`TurnHost`].

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;

use super::events::TurnEvent;
use super::host::{NoteStore, Outbound, TurnHost};
use super::hub::TurnEventHub;
use super::registry::ProgrammaticRegistry;
use super::runner::RunLimits;
use super::turn::EngineConfig;
use super::worker::{QueuedMessage, WorkerCtx};
use crate::agents::spec::{AgentSpec, VaultAccess};
use crate::sandbox::launch::DirectLauncher;

#[derive(Default)]
struct MemStore {
    notes: Mutex<BTreeMap<String, Value>>,
    upserts: Mutex<Vec<String>>,
    created: Mutex<Vec<Value>>,
}

impl NoteStore for MemStore {
    fn note_metadata(&self, path: &str) -> Result<Option<Value>, String> {
        Ok(self.notes.lock().get(path).map(|n| n["metadata"].clone()))
    }
    fn upsert_note(&self, path: &str, body: &Value) -> Result<Option<String>, String> {
        self.notes.lock().insert(path.to_string(), body.clone());
        self.upserts.lock().push(path.to_string());
        Ok(Some(format!("id:{path}")))
    }
    fn create_note(&self, body: &Value) -> Result<Option<String>, String> {
        self.created.lock().push(body.clone());
        Ok(Some("created-id".into()))
    }
}

#[derive(Default)]
struct MemHost {
    token: Option<String>,
    replies: Mutex<Vec<(String, Outbound)>>,
    stores: HashMap<String, Arc<MemStore>>,
}

impl TurnHost for MemHost {
    fn claude_token(&self, channel: &str) -> Result<String, String> {
        self.token.clone().ok_or_else(|| format!("no Claude credential for channel \"{channel}\": set a per-channel override or the default/operator token (POST /api/credentials/claude). Get one with `claude setup-token`."))
    }
    fn channel_env(&self, _channel: &str) -> Result<BTreeMap<String, String>, String> {
        Ok(BTreeMap::new())
    }
    fn mint_vault_token(&self, vault: &VaultAccess) -> Result<String, String> {
        Ok(format!("vault-token-{}", vault.name))
    }
    fn vault_url(&self) -> String {
        "http://127.0.0.1:1940".into()
    }
    fn reply(&self, channel: &str, out: &Outbound) -> Result<Option<String>, String> {
        self.replies.lock().push((channel.to_string(), out.clone()));
        Ok(Some(format!("reply-{}", self.replies.lock().len())))
    }
    fn notes(&self, channel: &str) -> Option<Arc<dyn NoteStore>> {
        self.stores
            .get(channel)
            .map(|s| s.clone() as Arc<dyn NoteStore>)
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    sessions: PathBuf,
    host: Arc<MemHost>,
    reg: Arc<ProgrammaticRegistry>,
    hub: Arc<TurnEventHub>,
}

fn fixture(host: MemHost) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    let host = Arc::new(host);
    let hub = Arc::new(TurnEventHub::new());
    let engine = EngineConfig {
        claude_bin: Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fakes/claude")
            .into(),
        sessions_dir: sessions.clone(),
        daemon_env: vec![("PATH".into(), std::env::var("PATH").unwrap_or_default())],
        limits: RunLimits {
            timeout: Duration::from_secs(20),
            kill_grace: Duration::from_millis(200),
        },
        retry_delays: vec![Duration::from_millis(10), Duration::from_millis(10)],
        launcher: Arc::new(DirectLauncher),
    };
    let reg = ProgrammaticRegistry::new(WorkerCtx {
        engine,
        host: host.clone(),
        hub: hub.clone(),
        durable: Default::default(),
    });
    Fixture {
        _dir: dir,
        sessions,
        host,
        reg,
        hub,
    }
}

fn token_host() -> MemHost {
    MemHost {
        token: Some("tok".into()),
        ..MemHost::default()
    }
}

fn spec(json: &str) -> AgentSpec {
    serde_json::from_str(json).unwrap()
}

fn wait_replies(host: &MemHost, n: usize) -> Vec<(String, Outbound)> {
    let t0 = Instant::now();
    while host.replies.lock().len() < n {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "timed out waiting for {n} replies"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    host.replies.lock().clone()
}

fn calls(f: &Fixture, name: &str) -> Vec<Value> {
    std::fs::read_to_string(f.sessions.join(name).join("fake-claude-calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn serial_per_channel_fifo_with_status_and_parallel_channels() {
    let f = fixture(token_host());
    f.reg.register(spec(r#"{"name":"a","channels":["a"]}"#));
    f.reg.register(spec(r#"{"name":"b","channels":["b"]}"#));
    let events = f.hub.subscribe("a");
    for i in 1..=3 {
        assert!(f
            .reg
            .route("a", QueuedMessage::text(format!("[fake:sleep:300] m{i}"))));
    }
    assert!(f.reg.route("b", QueuedMessage::text("[fake:sleep:300] b1")));
    std::thread::sleep(Duration::from_millis(150));
    assert_eq!(f.reg.status_of("a").as_deref(), Some("queued:2"));
    let replies = wait_replies(&f.host, 4);
    let a: Vec<&str> = replies
        .iter()
        .filter(|(c, _)| c == "a")
        .map(|(_, o)| o.text.as_str())
        .collect();
    assert_eq!(a.len(), 3);
    for (i, text) in a.iter().enumerate() {
        assert!(text.contains(&format!("m{}", i + 1)), "{text}");
    }
    // one at a time on a: no overlap between consecutive runs
    let c = calls(&f, "a");
    assert_eq!(c.len(), 3);
    let cb = calls(&f, "b");
    // b ran while a's first turn was running
    let a0 = c[0]["t_start"].as_f64().unwrap();
    let b0 = cb[0]["t_start"].as_f64().unwrap();
    assert!((a0 - b0).abs() < 0.3, "channels run in parallel");
    assert!(
        c[1]["t_start"].as_f64().unwrap() - a0 >= 0.3,
        "serial per channel"
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(f.reg.status_of("a").as_deref(), Some("idle"));
    let got: Vec<TurnEvent> = events.try_iter().collect();
    assert_eq!(
        got.iter()
            .filter(|e| matches!(e, TurnEvent::Done { .. }))
            .count(),
        3
    );
    assert!(matches!(got[0], TurnEvent::Init { .. }));
}

#[test]
fn local_session_record_resumes_on_non_vault_channels() {
    let f = fixture(token_host());
    f.reg.register(spec(r#"{"name":"s","channels":["s"]}"#));
    f.reg.route("s", QueuedMessage::text("one"));
    wait_replies(&f.host, 1);
    f.reg.route("s", QueuedMessage::text("two"));
    let r = wait_replies(&f.host, 2);
    assert!(r[1].1.text.ends_with("(turn 2)"), "{}", r[1].1.text);
    let c = calls(&f, "s");
    assert_eq!(c[1]["argv"][9], "--resume");
    assert_eq!(c[1]["argv"][10], c[0]["argv"][10]);
}

#[test]
fn no_credential_fails_without_spawning_and_queue_continues() {
    let f = fixture(MemHost::default());
    f.reg.register(spec(r#"{"name":"n","channels":["n"]}"#));
    let events = f.hub.subscribe("n");
    f.reg.route("n", QueuedMessage::text("hi"));
    f.reg.route("n", QueuedMessage::text("again"));
    let r = wait_replies(&f.host, 2);
    assert!(r[0].1.text.starts_with(
        "⚠️ I couldn't complete that — the turn failed: no Claude credential for channel \"n\""
    ));
    assert!(calls(&f, "n").is_empty(), "claude never spawned");
    std::thread::sleep(Duration::from_millis(50));
    let errs = events
        .try_iter()
        .filter(|e| matches!(e, TurnEvent::Error { .. }))
        .count();
    assert_eq!(errs, 2);
}

fn vault_host() -> (MemHost, Arc<MemStore>, Arc<MemStore>) {
    let worker = Arc::new(MemStore::default());
    let boss = Arc::new(MemStore::default());
    let mut h = token_host();
    h.stores.insert("w".into(), worker.clone());
    h.stores.insert("boss".into(), boss.clone());
    (h, worker, boss)
}

#[test]
fn single_threaded_thread_note_and_callbacks() {
    let (h, worker, boss) = vault_host();
    let f = fixture(h);
    f.reg.register(spec(
        r#"{"name":"w","channels":["w"],"vault":{"name":"v","access":"write"},"definition":"d1"}"#,
    ));
    let mut m = QueuedMessage::text("first");
    m.in_reply_to = Some("in-1".into());
    m.reply_to = Some("boss".into());
    m.correlation_id = Some("c1".into());
    m.delegation_depth = 7;
    f.reg.route("w", m);
    let r = wait_replies(&f.host, 1);
    assert_eq!(r[0].1.in_reply_to.as_deref(), Some("in-1"));
    let mut m = QueuedMessage::text("second");
    m.reply_to = Some("boss".into());
    m.delegation_depth = 8;
    f.reg.route("w", m);
    let r = wait_replies(&f.host, 2);
    assert!(
        r[1].1.text.ends_with("(turn 2)"),
        "resumed via the thread note"
    );
    std::thread::sleep(Duration::from_millis(100));
    let notes = worker.notes.lock();
    assert_eq!(notes.len(), 1, "one upserted note");
    let note = &notes["Threads/w/w"];
    assert_eq!(note["metadata"]["turn_count"], "2");
    assert_eq!(note["metadata"]["status"], "ok");
    assert_eq!(note["metadata"]["definition"], "d1");
    assert_eq!(worker.upserts.lock().len(), 4, "start + end per turn");
    let created = boss.created.lock();
    assert_eq!(created.len(), 1, "depth 8 stops the second callback");
    let meta = &created[0]["metadata"];
    assert_eq!(meta["source_thread"], "id:Threads/w/w");
    assert_eq!(meta["source_message"], "reply-1");
    assert_eq!(meta["correlation_id"], "c1");
    assert_eq!(meta["delegation_depth"], "8");
    assert_eq!(meta["agent"], "boss");
    // the MCP config carried the minted vault token
    let mcp = std::fs::read_to_string(f.sessions.join("w/.mcp.json")).unwrap();
    assert!(mcp.contains("Bearer vault-token-v"));
}

#[test]
fn multi_threaded_writes_one_note_per_fire_and_never_resumes() {
    let (h, worker, _) = vault_host();
    let f = fixture(h);
    f.reg.register(spec(
        r#"{"name":"w","channels":["w"],"mode":"multi-threaded"}"#,
    ));
    f.reg.route("w", QueuedMessage::text("one"));
    f.reg.route("w", QueuedMessage::text("two"));
    wait_replies(&f.host, 2);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(worker.notes.lock().len(), 2);
    for n in worker.notes.lock().values() {
        assert_eq!(n["metadata"]["turn_count"], "1");
    }
    let c = calls(&f, "w");
    assert!(c.iter().all(|c| c["argv"][9] == "--session-id"));
}

#[test]
fn pending_buffer_replays_on_register_and_deregister_discards() {
    let f = fixture(token_host());
    assert!(!f.reg.route("p", QueuedMessage::text("lost")));
    f.reg.expect("p");
    for i in 0..52 {
        assert!(f
            .reg
            .route("p", QueuedMessage::text(format!("[fake:empty] {i}"))));
    }
    assert_eq!(f.reg.pending_count("p"), 50);
    f.reg.register(spec(r#"{"name":"p","channels":["p"]}"#));
    assert_eq!(f.reg.pending_count("p"), 0);
    assert!(f.reg.deregister("p"));
    assert!(!f.reg.deregister("p"));
    assert!(!f.reg.route("p", QueuedMessage::text("x")));
    std::thread::sleep(Duration::from_millis(400));
    assert!(calls(&f, "p").len() <= 1, "queued messages were discarded");
}

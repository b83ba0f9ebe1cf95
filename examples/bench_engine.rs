//! Benchmark of the turn engine (issue 6), run by `scripts/bench-engine.sh`: messages are
//! routed into the real [`ProgrammaticRegistry`] (worker thread, private files, argv and
//! env composition, launcher seam, process runner, stream-json parsing, reply delivery)
//! with `tests/fakes/claude-bench` as `claude`. Per message it measures
//! inbound → `claude` exec (the fake's first instruction, `$EPOCHREALTIME`) and
//! inbound → reply delivered minus the fake's own run time (engine overhead).
//! Usage: bench_engine [N]   (default 200)

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{unbounded, Sender};
use parachute_agent::agents::spec::{AgentSpec, VaultAccess};
use parachute_agent::backend::programmatic::host::{NoteStore, Outbound, TurnHost};
use parachute_agent::backend::programmatic::hub::TurnEventHub;
use parachute_agent::backend::programmatic::registry::ProgrammaticRegistry;
use parachute_agent::backend::programmatic::runner::RunLimits;
use parachute_agent::backend::programmatic::turn::EngineConfig;
use parachute_agent::backend::programmatic::worker::{QueuedMessage, WorkerCtx};
use parachute_agent::sandbox::launch::DirectLauncher;

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

struct BenchHost {
    record: String,
    replies: Sender<f64>,
}

impl TurnHost for BenchHost {
    fn claude_token(&self, _: &str) -> Result<String, String> {
        Ok("sk-ant-oat01-bench".into())
    }
    fn channel_env(&self, _: &str) -> Result<BTreeMap<String, String>, String> {
        Ok([("BENCH_RECORD".to_string(), self.record.clone())].into())
    }
    fn mint_vault_token(&self, _: &VaultAccess) -> Result<String, String> {
        Err("no vault in the bench".into())
    }
    fn vault_url(&self) -> String {
        "http://127.0.0.1:1940".into()
    }
    fn reply(&self, _: &str, _: &Outbound) -> Result<Option<String>, String> {
        let _ = self.replies.send(now());
        Ok(None)
    }
    fn notes(&self, _: &str) -> Option<Arc<dyn NoteStore>> {
        None
    }
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let i = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[i]
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let dir = tempfile::tempdir().unwrap();
    let record = dir.path().join("record.txt");
    let (tx, rx) = unbounded();
    let host = BenchHost {
        record: record.display().to_string(),
        replies: tx,
    };
    let engine = EngineConfig {
        claude_bin: Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fakes/claude-bench")
            .into(),
        sessions_dir: dir.path().join("sessions"),
        daemon_env: std::env::vars().collect(),
        limits: RunLimits::default(),
        retry_delays: vec![Duration::from_secs(2), Duration::from_secs(5)],
        launcher: Arc::new(DirectLauncher),
    };
    let reg = ProgrammaticRegistry::new(WorkerCtx {
        engine,
        host: Arc::new(host),
        hub: Arc::new(TurnEventHub::new()),
        durable: Default::default(),
    });
    let spec: AgentSpec =
        serde_json::from_str(r#"{"name":"bench","channels":["bench"],"mode":"multi-threaded"}"#)
            .unwrap();
    reg.register(spec);
    let mut exec = Vec::new();
    let mut overhead = Vec::new();
    let mut total = Vec::new();
    for i in 0..n + 5 {
        let t_in = now();
        reg.route("bench", QueuedMessage::text(format!("ping {i}")));
        let t_reply = rx.recv_timeout(Duration::from_secs(30)).expect("reply");
        let text = std::fs::read_to_string(&record).unwrap();
        let last = text.lines().last().unwrap();
        let mut parts = last.split(' ').map(|s| s.parse::<f64>().unwrap());
        let (f0, f1) = (parts.next().unwrap(), parts.next().unwrap());
        if i < 5 {
            continue; // warm-up
        }
        exec.push((f0 - t_in) * 1000.0);
        overhead.push(((t_reply - t_in) - (f1 - f0)) * 1000.0);
        total.push((t_reply - t_in) * 1000.0);
    }
    println!("turns measured: {n} (sequential, after 5 warm-up turns)");
    for (label, v) in [
        ("inbound -> claude exec", &mut exec),
        (
            "inbound -> reply delivered, minus fake's own time",
            &mut overhead,
        ),
        ("inbound -> reply delivered (total)", &mut total),
    ] {
        println!(
            "{label}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            pct(v, 50.0),
            pct(v, 99.0),
            pct(v, 100.0)
        );
    }
}

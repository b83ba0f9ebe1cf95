//! Benchmark of the definition registry (issue 5), run by `scripts/bench-defs.sh`: the real
//! [`DefRegistry`] and vault-backed store against the fake vault of the tests (loopback
//! HTTP), with channels and backends stubbed. It measures a cold load of N definitions
//! (parse, bring-up, status stamp), a warm poll pass over the same unchanged N (one list, no
//! PATCH — spec 03 §2.8 #1/#3), and the reload of one unchanged definition (the webhook
//! path: fetch + compare), reporting the vault requests each makes.
//! Usage: bench_defs [N] [M]   (defaults 200 definitions, 300 reloads)

// The fake vault of the integration tests, resolved as `tests/it/support/fake_vault.rs`.
#[path = "../../tests/it/support"]
mod support {
    pub mod fake_vault;
}

use std::sync::Arc;
use std::time::Instant;

use parachute_agent::agents::defs::client::VaultDefStore;
use parachute_agent::agents::registry::{DefRegistry, ReloadEvent};
use parachute_agent::agents::sink::{AgentSink, DefChannels, DefStore};
use parachute_agent::agents::spec::{AgentSpec, Backend};
use parachute_agent::agents::vaults::DefVaultBinding;
use serde_json::json;
use support::fake_vault::FakeVault;

struct NoChannels;
impl DefChannels for NoChannels {
    fn bring_up(&self, _: &str, _: &DefVaultBinding) -> Result<(), String> {
        Ok(())
    }
    fn is_live_vault(&self, _: &str) -> bool {
        true
    }
    fn tear_down(&self, _: &str) {}
}

struct NoSink;
impl AgentSink for NoSink {
    fn backend(&self) -> Backend {
        Backend::Programmatic
    }
    fn upsert(&self, _: &AgentSpec) -> Result<(), String> {
        Ok(())
    }
    fn remove(&self, _: &str, _: &str) {}
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((p / 100.0) * (v.len() - 1) as f64).round() as usize]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let m: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300);
    let fv = FakeVault::start();
    let mut ids = Vec::new();
    for i in 0..n {
        let note = fv.create_note(
            "default",
            json!({"content": format!("You are agent {i}."), "tags": ["agent/definition"],
                   "path": format!("Agents/a{i}"),
                   "metadata": {"name": format!("a{i}"), "model": "sonnet", "egress": "x.io y.io"}}),
        );
        ids.push(note["id"].as_str().unwrap().to_string());
    }
    let reg = DefRegistry::new(
        Arc::new(NoChannels),
        Arc::new(|b: &DefVaultBinding| Arc::new(VaultDefStore::new(b)) as Arc<dyn DefStore>),
    );
    reg.add_sink(Arc::new(NoSink));
    reg.bind(DefVaultBinding {
        vault: "default".into(),
        vault_url: Some(fv.url()),
        token: FakeVault::TOKEN.into(),
    })
    .unwrap();

    let count =
        |fv: &FakeVault, method: &str| fv.requests().iter().filter(|r| r.method == method).count();
    fv.clear_requests();
    let t = Instant::now();
    let live = reg.load_all();
    let cold = t.elapsed().as_secs_f64() * 1e3;
    println!(
        "cold load of {n} definitions: {cold:.1} ms ({live} live; {} GET, {} PATCH)",
        count(&fv, "GET"),
        count(&fv, "PATCH")
    );
    let mut warm = Vec::new();
    fv.clear_requests();
    for _ in 0..10 {
        let t = Instant::now();
        reg.load_all();
        warm.push(t.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "warm poll pass over {n} unchanged definitions (10 passes): median {:.1} ms, max {:.1} ms; {} GET, {} PATCH in total",
        pct(&mut warm, 50.0),
        pct(&mut warm, 100.0),
        count(&fv, "GET"),
        count(&fv, "PATCH")
    );
    let mut lat = Vec::new();
    fv.clear_requests();
    for i in 0..m {
        let id = &ids[i % ids.len()];
        let t = Instant::now();
        reg.reload("default", id, Some(ReloadEvent::Updated));
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    println!(
        "reload of an unchanged definition ({m} reloads): p50 {:.0} µs, p99 {:.0} µs; {} PATCH",
        pct(&mut lat, 50.0),
        pct(&mut lat, 99.0),
        count(&fv, "PATCH")
    );
}

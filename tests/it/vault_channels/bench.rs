//! Figures for `scripts/bench-vault.sh` (ignored by default; measures, asserts nothing about
//! time): VaultClient round trips against the fake vault, the transcript read of a busy
//! vault, and the end-to-end wake path (note created → trigger → `/api/vault/inbound` →
//! `/events`).

use std::time::{Duration, Instant};

use parachute_agent::channels::vault::VaultTransport;
use parachute_agent::channels::Transport;

use super::*;

fn pct(mut v: Vec<Duration>, p: usize) -> Duration {
    v.sort();
    v[(v.len() * p / 100).min(v.len() - 1)]
}

#[test]
#[ignore = "benchmark: run scripts/bench-vault.sh"]
fn bench_vault_paths() {
    let fv = FakeVault::start();
    let client =
        parachute_agent::vault::VaultClient::new(Some(&fv.url()), "default", FakeVault::TOKEN);
    let n = 1000;
    let start = Instant::now();
    for i in 0..n {
        let ts = parachute_agent::util::time::iso_from_ms(1_900_000_000_000 + i);
        client
            .create_note(&inbound_note("ops", &format!("m{i}"), &ts))
            .unwrap();
    }
    let el = start.elapsed();
    println!(
        "create_note x{n}: {:?} total, {:.0} µs/call",
        el,
        el.as_micros() as f64 / n as f64
    );

    let cfg =
        serde_json::json!({"vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN});
    let t = VaultTransport::new("eng", cfg.as_object()).unwrap();
    for i in 0..1000u64 {
        let ts = parachute_agent::util::time::iso_from_ms(1_900_000_100_000 + i);
        fv.create_note("default", inbound_note("eng", &format!("e{i}"), &ts));
    }
    let mut times = Vec::new();
    for _ in 0..20 {
        let s = Instant::now();
        assert_eq!(t.transcript().unwrap().len(), 200);
        times.push(s.elapsed());
    }
    println!(
        "transcript (200 newest of 2000 message notes): median {:?}, p95 {:?}",
        pct(times.clone(), 50),
        pct(times, 95)
    );

    let d = setup(&fv);
    register_inbound_trigger(&fv, &d, "conn_agentinbound-default");
    let events = subscribe(&d, "eng");
    let mut lat = Vec::new();
    for i in 0..50 {
        let s = Instant::now();
        fv.create_note(
            "default",
            inbound_note("eng", &format!("wake {i}"), "2030-01-01T00:00:00.000Z"),
        );
        events.next_event(WAIT).expect("delivered");
        lat.push(s.elapsed());
    }
    println!(
        "note created → /events frame (50 wakes): median {:?}, p95 {:?}",
        pct(lat.clone(), 50),
        pct(lat, 95)
    );
}

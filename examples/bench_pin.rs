//! How long one step-up PIN verification takes (argon2id m=64 MiB, t=2, p=1, spec 01 §5.1).
//! Run by `scripts/bench-pin.sh`; prints one line per figure. Usage: `bench_pin [rounds]`.

use parachute_agent::security::StepUpStore;
use std::time::{Duration, Instant};

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().expect("temp dir");
    let store = StepUpStore::new(dir.path(), Duration::from_secs(300));
    let started = Instant::now();
    store.set_pin("bench", "482913", None).expect("set PIN");
    let hash_time = started.elapsed();
    let text = std::fs::read_to_string(store.path()).expect("step-up.json");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let phc = doc["pinHash"].as_str().expect("pinHash").to_string();

    let mut times = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let pin = if i % 2 == 0 { "482913" } else { "000000" };
        let t = Instant::now();
        let ok = store.verify(pin, &phc);
        times.push(t.elapsed());
        assert_eq!(ok, i % 2 == 0, "verification result");
    }
    times.sort();
    let total: Duration = times.iter().sum();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("hash (set PIN):   {:8.1} ms", ms(hash_time));
    println!("verify rounds:    {rounds}");
    println!("verify min:       {:8.1} ms", ms(times[0]));
    println!("verify median:    {:8.1} ms", ms(times[rounds / 2]));
    println!("verify mean:      {:8.1} ms", ms(total / rounds as u32));
    println!("verify max:       {:8.1} ms", ms(times[rounds - 1]));
}

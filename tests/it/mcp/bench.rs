//! Round-trip latency of `tools/call` on `/mcp/<ch>`. Not a timed
//! test: `#[ignore]`d, run by `scripts/bench-mcp.sh`, prints a table. One keep-alive
//! connection, sequential calls, as one Claude Code session makes them.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::client::{sse_messages, ACCEPT_BOTH};
use super::rig::{self, inbound};

struct Session {
    agent: ureq::Agent,
    url: String,
    token: String,
    sid: String,
    next: u64,
}

impl Session {
    fn open(url: String, token: String) -> Session {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut s = Session {
            agent,
            url,
            token,
            sid: String::new(),
            next: 1,
        };
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}});
        let resp = s
            .agent
            .post(&s.url)
            .header("Authorization", &format!("Bearer {}", s.token))
            .header("Accept", ACCEPT_BOTH)
            .header("Content-Type", "application/json")
            .send(init.to_string())
            .unwrap();
        s.sid = resp
            .headers()
            .get("mcp-session-id")
            .unwrap()
            .to_str()
            .unwrap()
            .to_string();
        s
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next;
        self.next += 1;
        let body = json!({"jsonrpc":"2.0","id":id,"method":method,"params":params});
        let mut resp = self
            .agent
            .post(&self.url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Accept", ACCEPT_BOTH)
            .header("Content-Type", "application/json")
            .header("mcp-session-id", &self.sid)
            .header("mcp-protocol-version", "2025-06-18")
            .send(body.to_string())
            .unwrap();
        let text = resp.body_mut().read_to_string().unwrap();
        sse_messages(&text).remove(0)
    }
}

fn measure(label: &str, n: usize, mut f: impl FnMut()) {
    for _ in 0..10 {
        f(); // warm-up
    }
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    let pct = |p: f64| v[((v.len() as f64 * p) as usize).min(v.len() - 1)];
    let mean = v.iter().sum::<Duration>() / v.len() as u32;
    println!(
        "{label:<44} n={n:<4} p50={:>8.3?} p90={:>8.3?} p99={:>8.3?} max={:>8.3?} mean={:>8.3?}",
        pct(0.50),
        pct(0.90),
        pct(0.99),
        v[v.len() - 1],
        mean
    );
}

#[test]
#[ignore = "benchmark: run scripts/bench-mcp.sh"]
fn tools_call_round_trip_latency() {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let r = rig::start(true, &[("RUST_LOG", "info")]);
    for i in 0..20 {
        inbound(
            &r.fv,
            "eng",
            &format!("queued {i}"),
            &format!("2026-01-01T00:00:{i:02}.000Z"),
        );
    }
    let token = r.d.mint("agent:read agent:write");
    let mut push = Session::open(r.d.url("/mcp/plain"), token.clone());
    let mut pull = Session::open(r.d.url("/mcp/eng"), token);
    println!("tools/call round trip over one keep-alive connection ({n} calls each):");
    let baseline = push.agent.clone();
    let (health, channels) = (r.d.url("/health"), r.d.url("/api/channels"));
    measure("baseline: GET /health (no auth)", n, || {
        let r = baseline.get(&health).call().unwrap();
        assert_eq!(r.status(), 200);
    });
    let auth = format!("Bearer {}", push.token);
    measure("baseline: token check only (403 /api/channels)", n, || {
        let r = baseline
            .get(&channels)
            .header("Authorization", &auth)
            .call()
            .unwrap();
        assert_eq!(r.status(), 403);
    });
    measure("ping (endpoint + auth, no tool)", n, || {
        assert!(push.call("ping", json!({}))["result"].is_object());
    });
    measure("tools/list (push surface)", n, || {
        assert!(push.call("tools/list", json!({}))["result"]["tools"].is_array());
    });
    measure("tools/call react (transport lacks it)", n, || {
        let r = push.call(
            "tools/call",
            json!({"name":"react","arguments":{"message_id":"1","emoji":"x"}}),
        );
        assert_eq!(r["result"]["isError"], true);
    });
    measure("tools/call reply (vault note write)", n, || {
        let r = push.call(
            "tools/call",
            json!({"name":"reply","arguments":{"text":"bench"}}),
        );
        assert!(r["result"]["isError"].is_null(), "{r}");
    });
    measure("tools/call pending (vault list, pull)", n, || {
        let r = pull.call("tools/call", json!({"name":"pending","arguments":{}}));
        assert!(r["result"]["isError"].is_null(), "{r}");
    });
    let mut ids = Vec::new();
    measure("tools/call next-message (list + CAS claim)", 20, || {
        let r = pull.call("tools/call", json!({"name":"next-message","arguments":{}}));
        let v: Value =
            serde_json::from_str(r["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
        if let Some(id) = v["id"].as_str() {
            ids.push(id.to_string());
        } else {
            // queue drained by warm-up + run: put everything back for the next call
            for id in ids.drain(..) {
                pull.call(
                    "tools/call",
                    json!({"name":"release","arguments":{"id":id}}),
                );
            }
        }
    });
}

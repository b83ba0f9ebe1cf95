//! Added latency of sandboxing one turn (run by `scripts/bench-sandbox.sh`): the fake
//! `claude` run N times directly, in an `open` sandbox and in a `restricted` sandbox
//! (per-turn proxies + in-sandbox forwarders), through the real launchers.
//! Usage: bench_sandbox <runs> <fake claude> <parachute-agent binary>

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use parachute_agent::sandbox::launch::{DirectLauncher, LaunchContext, LaunchSpec, Launcher};
use parachute_agent::sandbox::{BwrapLauncher, Preflight, SandboxSettings};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runs: usize = args.first().and_then(|r| r.parse().ok()).unwrap_or(20);
    let claude = PathBuf::from(args.get(1).expect("fake claude path"));
    let exe = PathBuf::from(args.get(2).expect("parachute-agent binary"));
    let tmp = std::env::temp_dir().join(format!("bench-sandbox-{}", std::process::id()));
    let state = tmp.join("state");
    let w = state.join("sessions/bench");
    std::fs::create_dir_all(w.join("home/.claude")).unwrap();
    std::fs::create_dir_all(w.join("tmp")).unwrap();

    let path = std::env::var_os("PATH").unwrap_or_default();
    let pf = Preflight::run(Some(&path));
    let host = parachute_agent::config::HostConfig::from_env();
    let settings = SandboxSettings::new(&pf, &state, None, None, exe, &host);
    let sandbox: Arc<dyn Launcher> = Arc::new(BwrapLauncher::new(&pf, settings));
    let direct: Arc<dyn Launcher> = Arc::new(DirectLauncher);

    let mut base = None;
    for (label, launcher, network) in [
        ("direct (no sandbox)", &direct, "open"),
        ("sandbox, network open", &sandbox, "open"),
        ("sandbox, network restricted", &sandbox, "restricted"),
    ] {
        let spec = serde_json::from_value(serde_json::json!({
            "name": "bench", "channels": ["bench"], "network": network
        }))
        .unwrap();
        let ctx = LaunchContext {
            spec,
            private_dir: w.clone(),
        };
        let mut times = Vec::new();
        for _ in 0..runs {
            let cmd = LaunchSpec {
                program: claude.clone().into(),
                args: [
                    "-p",
                    "hello",
                    "--output-format",
                    "stream-json",
                    "--verbose",
                    "--session-id",
                ]
                .iter()
                .map(Into::into)
                .chain(std::iter::once(parachute_agent::util::rand::uuid().into()))
                .collect(),
                env: vec![
                    ("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into()),
                    ("CLAUDE_CONFIG_DIR".into(), w.join("home/.claude").into()),
                    ("FAKE_CLAUDE_RECORD".into(), "/dev/null".into()),
                ],
                cwd: w.clone(),
            };
            let start = Instant::now();
            let p = launcher.prepare(cmd, &ctx).expect("prepare");
            let out = Command::new(&p.command.program)
                .args(&p.command.args)
                .env_clear()
                .envs(p.command.env.iter().map(|(k, v)| (k, v)))
                .current_dir(&p.command.cwd)
                .stdin(Stdio::null())
                .output()
                .unwrap();
            drop(p.guard);
            times.push(start.elapsed().as_secs_f64() * 1000.0);
            assert!(
                String::from_utf8_lossy(&out.stdout).contains("\"type\": \"result\"")
                    || String::from_utf8_lossy(&out.stdout).contains("\"type\":\"result\""),
                "no result: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        times.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let median = times[times.len() / 2];
        let added = base
            .map(|b| format!(", added {:+.1} ms", median - b))
            .unwrap_or_default();
        println!(
            "{label:<28} median {median:6.1} ms  (min {:.1}, max {:.1}, {runs} runs{added})",
            times[0],
            times[times.len() - 1]
        );
        base.get_or_insert(median);
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

//! Process-level tests of the runner and the turn loop against the fake `claude`
//! (`tests/fakes/claude`), run directly through the [`DirectLauncher`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::argv::SessionChoice;
use super::events::TurnEvent;
use super::outcome::TurnResult;
use super::runner::RunLimits;
use super::turn::{run_turn, EngineConfig, TurnInput};
use super::workspace::McpServer;
use crate::agents::spec::AgentSpec;
use crate::sandbox::launch::DirectLauncher;

fn fake() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fakes/claude")
}

struct Env {
    _dir: tempfile::TempDir,
    cfg: EngineConfig,
    sessions: PathBuf,
}

fn setup() -> Env {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    let cfg = EngineConfig {
        claude_bin: fake().into(),
        sessions_dir: sessions.clone(),
        daemon_env: vec![
            ("PATH".into(), std::env::var("PATH").unwrap_or_default()),
            ("HOME".into(), dir.path().to_string_lossy().into_owned()),
            ("ANTHROPIC_API_KEY".into(), "must-not-leak".into()),
            ("SECRET_THING".into(), "nope".into()),
        ],
        limits: RunLimits {
            timeout: Duration::from_secs(20),
            kill_grace: Duration::from_millis(300),
        },
        retry_delays: vec![Duration::from_millis(10), Duration::from_millis(20)],
        launcher: Arc::new(DirectLauncher),
    };
    Env {
        _dir: dir,
        cfg,
        sessions,
    }
}

fn spec(name: &str) -> AgentSpec {
    serde_json::from_str(&format!(r#"{{"name":"{name}","channels":["{name}"]}}"#)).unwrap()
}

fn turn(
    env: &Env,
    spec: &AgentSpec,
    msg: &str,
    session: SessionChoice,
    store: &BTreeMap<String, String>,
) -> (TurnResult, Vec<TurnEvent>) {
    let mut events = Vec::new();
    let servers = [McpServer {
        name: "parachute-vault-v".into(),
        url: "http://127.0.0.1:1940/vault/v/mcp".into(),
        token: Some("vtok".into()),
    }];
    let r = run_turn(
        &env.cfg,
        &TurnInput {
            spec,
            message: msg,
            session,
            oauth_token: "sk-ant-oat01-test",
            store_env: store,
            grant_env: &BTreeMap::new(),
            mcp_servers: &servers,
            attempts: &std::cell::Cell::new(0),
        },
        &mut |e| events.push(e),
    )
    .unwrap();
    (r, events)
}

fn calls(env: &Env, name: &str) -> Vec<Value> {
    let p = env.sessions.join(name).join("fake-claude-calls.jsonl");
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn no_store() -> BTreeMap<String, String> {
    BTreeMap::new()
}

#[test]
fn ok_turn_streams_events_and_runs_with_exact_env() {
    let env = setup();
    let s = spec("eng");
    let mut store = BTreeMap::new();
    store.insert("GH_TOKEN".to_string(), "ghp".to_string());
    let (r, ev) = turn(
        &env,
        &s,
        "hello",
        SessionChoice::resume("x").clone(),
        &store,
    );
    // resume of an unknown session fell back to a fresh one
    let TurnResult::Ok {
        reply,
        session_id,
        usage,
    } = r
    else {
        panic!("{r:?}")
    };
    assert_eq!(reply, "echo: hello (turn 1)");
    let sid = session_id.unwrap();
    assert_ne!(sid, "x");
    assert_eq!(usage.unwrap().output_tokens, Some(7));
    let kinds: Vec<&str> = ev
        .iter()
        .map(|e| match e {
            TurnEvent::Init { .. } => "init",
            TurnEvent::Text { .. } => "text",
            TurnEvent::Tool { .. } => "tool",
            TurnEvent::ToolResult { .. } => "tool_result",
            _ => "other",
        })
        .collect();
    assert_eq!(kinds, ["init", "text", "tool", "tool_result", "text"]);
    let c = calls(&env, "eng");
    assert_eq!(c.len(), 2, "one failed resume + one fresh create");
    assert_eq!(c[0]["argv"][9], "--resume");
    assert_eq!(c[1]["argv"][9], "--session-id");
    assert_eq!(c[1]["argv"][10], sid.as_str());
    let w = env.sessions.join("eng");
    assert_eq!(c[1]["cwd"], w.to_string_lossy().as_ref());
    let e = c[1]["env"].as_object().unwrap();
    let mut names: Vec<&str> = e.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "CLAUDE_CODE_OAUTH_TOKEN",
            "CLAUDE_CODE_TMPDIR",
            "CLAUDE_CONFIG_DIR",
            "DISABLE_AUTOUPDATER",
            "GH_TOKEN",
            "HOME",
            "IS_SANDBOX",
            "PATH",
            "TEMP",
            "TMP",
            "TMPDIR",
            "XDG_CACHE_HOME",
            "XDG_CONFIG_HOME",
            "XDG_DATA_HOME",
            "XDG_RUNTIME_DIR",
            "XDG_STATE_HOME",
        ]
    );
    assert_eq!(e["CLAUDE_CODE_OAUTH_TOKEN"], "sk-ant-oat01-test");
    // second turn resumes the echoed session
    let (r, _) = turn(
        &env,
        &s,
        "again",
        SessionChoice::resume(sid.clone()),
        &no_store(),
    );
    match r {
        TurnResult::Ok {
            reply, session_id, ..
        } => {
            assert_eq!(reply, "echo: again (turn 2)");
            assert_eq!(session_id.as_deref(), Some(sid.as_str()));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(calls(&env, "eng").len(), 3);
}

#[test]
fn failures_are_classified() {
    let env = setup();
    let s = spec("f");
    let (r, _) = turn(&env, &s, "[fake:fail]", SessionChoice::fresh(), &no_store());
    assert_eq!(
        r,
        TurnResult::Failed {
            reason: "claude -p exited 2: boom".into(),
            session_id: None,
            retryable: true
        }
    );
    let (r, _) = turn(
        &env,
        &s,
        "[fake:is_error]",
        SessionChoice::fresh(),
        &no_store(),
    );
    match r {
        TurnResult::Failed {
            reason, session_id, ..
        } => {
            assert_eq!(reason, "API Error: 401 authentication_failed");
            assert!(session_id.is_some());
        }
        other => panic!("{other:?}"),
    }
    let (r, _) = turn(
        &env,
        &s,
        "[fake:garbage]",
        SessionChoice::fresh(),
        &no_store(),
    );
    assert!(matches!(r, TurnResult::Failed { ref reason, .. }
        if reason == "claude -p produced no success result (no result event in output)"));
    // permanent failures ran exactly once each
    assert_eq!(calls(&env, "f").len(), 3);
}

#[test]
fn noise_utf8_and_empty_reply() {
    let env = setup();
    let s = spec("n");
    let (r, ev) = turn(
        &env,
        &s,
        "[fake:noise] x",
        SessionChoice::fresh(),
        &no_store(),
    );
    assert!(
        matches!(r, TurnResult::Ok { ref reply, .. } if reply == "echo: [fake:noise] x (turn 1)")
    );
    assert_eq!(ev.len(), 5);
    let (r, ev) = turn(
        &env,
        &s,
        "[fake:utf8split]",
        SessionChoice::fresh(),
        &no_store(),
    );
    match r {
        TurnResult::Ok { reply, .. } => assert!(reply.starts_with("héllo → 世界 🎉 echo:")),
        other => panic!("{other:?}"),
    }
    assert!(ev.contains(&TurnEvent::Text {
        text: "héllo → 世界 🎉".into()
    }));
    let (r, _) = turn(
        &env,
        &s,
        "[fake:empty]",
        SessionChoice::fresh(),
        &no_store(),
    );
    assert!(matches!(r, TurnResult::Ok { ref reply, .. } if reply.is_empty()));
}

#[test]
fn transient_failures_are_retried_then_succeed_or_give_up() {
    let env = setup();
    let s = spec("t");
    let (r, ev) = turn(
        &env,
        &s,
        "[fake:transient:2]",
        SessionChoice::fresh(),
        &no_store(),
    );
    assert!(matches!(r, TurnResult::Ok { .. }), "{r:?}");
    assert_eq!(calls(&env, "t").len(), 3);
    let inits = ev
        .iter()
        .filter(|e| matches!(e, TurnEvent::Init { .. }))
        .count();
    assert_eq!(inits, 3, "each attempt re-streams its init");
    let s = spec("t2");
    let (r, _) = turn(
        &env,
        &s,
        "[fake:transient:5]",
        SessionChoice::fresh(),
        &no_store(),
    );
    assert!(matches!(r, TurnResult::Failed { ref reason, .. } if reason.contains("529")));
    assert_eq!(calls(&env, "t2").len(), 3, "at most three attempts");
}

#[test]
fn hung_claude_is_killed_at_the_timeout_and_never_retried() {
    let mut env = setup();
    env.cfg.limits.timeout = Duration::from_millis(700);
    let s = spec("h");
    let t0 = Instant::now();
    let (r, _) = turn(
        &env,
        &s,
        "[fake:hang-term]",
        SessionChoice::fresh(),
        &no_store(),
    );
    let took = t0.elapsed();
    match r {
        TurnResult::Failed {
            reason,
            session_id,
            retryable,
        } => {
            assert_eq!(reason, "turn timed out after 0s");
            assert!(session_id.is_some());
            assert!(!retryable);
        }
        other => panic!("{other:?}"),
    }
    assert!(took < Duration::from_secs(5), "{took:?}");
    let c = calls(&env, "h");
    assert_eq!(c.len(), 1);
    let pid = c[0]["pid"].as_i64().unwrap() as i32;
    assert_eq!(
        c[0]["pgid"].as_i64().unwrap() as i32,
        pid,
        "own process group"
    );
    // the process is gone (reaped, not a zombie)
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn spawn_failure_is_not_retried() {
    let mut env = setup();
    env.cfg.claude_bin = "/nonexistent/claude".into();
    let (r, _) = turn(&env, &spec("s"), "hi", SessionChoice::fresh(), &no_store());
    match r {
        TurnResult::Failed {
            reason, retryable, ..
        } => {
            assert!(reason.starts_with("claude -p spawn failed: "), "{reason}");
            assert!(!retryable);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_background_straggler_holding_stdout_does_not_hang_the_turn() {
    use super::runner::run;
    use crate::sandbox::launch::LaunchSpec;
    let dir = tempfile::tempdir().unwrap();
    // A unique fractional duration identifies the straggler in the process table.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let marker = format!("60.{nanos:09}");
    // The leader prints a success result and exits; a background child in its process
    // group keeps stdout open for a minute.
    let script = format!(
        "sleep {marker} & echo '{{\"type\":\"result\",\"subtype\":\"success\",\"result\":\"done\",\"session_id\":\"s\"}}'; exit 0"
    );
    let cmd = LaunchSpec {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into(), "sh".into()],
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        cwd: dir.path().to_path_buf(),
    };
    let t0 = Instant::now();
    let report = run(&cmd, RunLimits::default(), &mut |_| {}).unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert!(!report.timed_out);
    assert_eq!(report.summary.result.unwrap().text.as_deref(), Some("done"));
    // the straggler was killed with its group
    let alive = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| c.split(|b| *b == 0).any(|a| a == marker.as_bytes()))
                .unwrap_or(false)
        })
    };
    let t1 = Instant::now();
    while alive() {
        assert!(t1.elapsed() < Duration::from_secs(3), "straggler survived");
        std::thread::sleep(Duration::from_millis(20));
    }
}

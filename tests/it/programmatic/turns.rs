//! Turns end to end: vault channels on the fake vault, the fake vault's trigger engine
//! posting inbound notes to the daemon, the fake `claude` first on the daemon's PATH.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use parachute_agent::vault::notes::{self, TAG_INBOUND, TAG_OUTBOUND};
use serde_json::{json, Value};

use super::api::{fakes_path, write_credentials};
use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::fake_vault::FakeVault;

const WAIT: Duration = Duration::from_secs(20);

pub struct Env {
    pub fv: FakeVault,
    pub d: Daemon,
    pub admin: String,
}

/// A daemon with vault channels `w` and `boss` on the fake vault, a Claude credential
/// (plus env store `{default: {GH_TOKEN}}`), the inbound trigger, and extra env knobs.
pub fn setup(knobs: &[(&str, &str)]) -> Env {
    setup_from(DaemonBuilder::new(), knobs)
}

/// [`setup`] on a builder the caller prepared (e.g. [`DaemonBuilder::unsettled`]).
pub fn setup_from(b: DaemonBuilder, knobs: &[(&str, &str)]) -> Env {
    let fv = FakeVault::start();
    let mut b = b
        .env("PATH", &fakes_path())
        .env("ANTHROPIC_API_KEY", "sk-ant-api-daemon-must-not-leak")
        .env("SECRET_THING", "nope");
    for (k, v) in knobs {
        b = b.env(k, v);
    }
    let chan = |name: &str| {
        json!({"name": name, "transport": "vault", "config": {
            "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}})
    };
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [chan("w"), chan("boss")]}).to_string(),
    )
    .unwrap();
    write_credentials(
        &b.state_dir(),
        json!({"default": {"GH_TOKEN": "ghp_x", "ANTHROPIC_API_KEY": "planted"}}),
    );
    let d = b.start();
    fv.register_trigger(
        "default",
        json!({"name": "conn_agentinbound-default", "events": ["created"],
               "when": {"tags": [TAG_INBOUND], "has_metadata": ["agent"],
                        "missing_metadata": ["channel_inbound_rendered_at"]},
               "action": {"webhook": d.url("/api/vault/inbound"), "send": "json",
                          "auth": {"bearer": d.mint("agent:send")}}}),
    )
    .unwrap();
    let admin = d.mint("agent:admin agent:read agent:write agent:send");
    Env { fv, d, admin }
}

impl Env {
    pub fn spawn(&self, name: &str) {
        let r = self.d.post(
            "/api/agents",
            Some(&self.admin),
            &json!({"name": name, "channels": [name]}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// Write an inbound note on `channel` (the vault trigger wakes the daemon); its id.
    pub fn send(&self, channel: &str, text: &str, extras: &[(&str, &str)]) -> String {
        let extras: Vec<(String, String)> = extras
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let ts = parachute_agent::util::time::now_iso();
        let (_, body) =
            notes::inbound_message_body("channel", channel, text, "operator", &ts, &extras);
        let n = self.fv.create_note("default", body);
        n["id"].as_str().unwrap().to_string()
    }

    /// [`send`](Self::send), then wait until the vault's webhook reached the daemon, so
    /// the next message cannot overtake this one (the trigger engine delivers in parallel).
    pub fn send_ordered(&self, channel: &str, text: &str) -> String {
        let before = self.fv.hook_deliveries().len();
        let id = self.send(channel, text, &[]);
        assert!(
            self.fv
                .wait_until(WAIT, |fv| fv.hook_deliveries().len() > before),
            "webhook never delivered"
        );
        id
    }

    pub fn outbound(&self, channel: &str) -> Vec<Value> {
        let mut v: Vec<Value> = self
            .fv
            .notes_tagged("default", TAG_OUTBOUND)
            .into_iter()
            .filter(|n| n["metadata"]["agent"] == channel)
            .collect();
        v.sort_by_key(|n| n["metadata"]["ts"].as_str().unwrap_or("").to_string());
        v
    }

    pub fn wait_outbound(&self, channel: &str, n: usize) -> Vec<Value> {
        let t0 = Instant::now();
        loop {
            let v = self.outbound(channel);
            if v.len() >= n {
                return v;
            }
            assert!(
                t0.elapsed() < WAIT,
                "waited for {n} outbound notes on {channel}; log:\n{}",
                self.d.log()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    pub fn private_dir(&self, name: &str) -> PathBuf {
        self.d.state_dir().join("sessions").join(name)
    }

    pub fn calls(&self, name: &str) -> Vec<Value> {
        std::fs::read_to_string(self.private_dir(name).join("fake-claude-calls.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

/// Host pids whose command line contains `needle` as one argument (the fake's pid in its
/// own record is a sandbox-namespace pid, so the host's process table is checked).
pub fn processes_with_arg(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        if cmd.split(|b| *b == 0).any(|a| a == needle.as_bytes()) {
            out.push(pid);
        }
    }
    out
}

fn text(n: &Value) -> &str {
    n["content"].as_str().unwrap_or("")
}

#[test]
fn turn_runs_claude_with_exact_argv_and_env_and_replies() {
    let e = setup(&[]);
    e.spawn("w");
    let id = e.send("w", "hello there", &[]);
    let out = e.wait_outbound("w", 1);
    assert_eq!(text(&out[0]), "echo: hello there (turn 1)");
    assert_eq!(out[0]["metadata"]["in_reply_to"], Value::String(id));
    let calls = e.calls("w");
    assert_eq!(calls.len(), 1);
    let w = e.private_dir("w");
    let ws = w.display().to_string();
    let argv: Vec<&str> = calls[0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let sid = argv[10];
    assert_eq!(
        argv,
        [
            "-p",
            "hello there",
            "--output-format",
            "stream-json",
            "--verbose",
            "--strict-mcp-config",
            "--mcp-config",
            &format!("{ws}/.mcp.json"),
            "--dangerously-skip-permissions",
            "--session-id",
            sid
        ]
    );
    assert_eq!(calls[0]["cwd"], Value::String(ws.clone()));
    let mut env = calls[0]["env"].as_object().unwrap().clone();
    // bubblewrap's --chdir sets PWD (= the cwd); nothing else may be added.
    if let Some(pwd) = env.remove("PWD") {
        assert_eq!(pwd, Value::String(ws.clone()));
    }
    let home = e.d.tmp().join("home").display().to_string();
    let expected = json!({
        "GH_TOKEN": "ghp_x",
        "PATH": fakes_path(),
        "HOME": home,
        "IS_SANDBOX": "1",
        "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-fake",
        "CLAUDE_CONFIG_DIR": format!("{ws}/home/.claude"),
        "XDG_CONFIG_HOME": format!("{ws}/home/.config"),
        "XDG_DATA_HOME": format!("{ws}/home/.local/share"),
        "XDG_CACHE_HOME": format!("{ws}/home/.cache"),
        "XDG_STATE_HOME": format!("{ws}/home/.local/state"),
        "XDG_RUNTIME_DIR": format!("{ws}/home/.run"),
        "TMPDIR": format!("{ws}/tmp"),
        "CLAUDE_CODE_TMPDIR": format!("{ws}/tmp"),
        "TMP": format!("{ws}/tmp"),
        "TEMP": format!("{ws}/tmp"),
        "DISABLE_AUTOUPDATER": "1",
    });
    assert_eq!(Value::Object(env), expected);
    // .mcp.json: no vault on this spec → no servers; 0600.
    use std::os::unix::fs::PermissionsExt;
    let mcp = w.join(".mcp.json");
    assert_eq!(
        std::fs::read_to_string(&mcp).unwrap(),
        "{\n  \"mcpServers\": {}\n}"
    );
    assert_eq!(
        std::fs::metadata(&mcp).unwrap().permissions().mode() & 0o777,
        0o600
    );
    // Single-threaded thread note on the vault channel.
    let note = e.fv.note("default", "Threads/w/w").expect("thread note");
    assert_eq!(note["metadata"]["turn_count"], "1");
    assert_eq!(note["metadata"]["status"], "ok");
    assert_eq!(note["metadata"]["session"], Value::String(sid.to_string()));
    assert_eq!(note["metadata"]["input_tokens"], "11");
    // Second message resumes the echoed session; the thread note counts 2 turns.
    e.send("w", "again", &[]);
    let out = e.wait_outbound("w", 2);
    assert_eq!(text(&out[1]), "echo: again (turn 2)");
    let calls = e.calls("w");
    assert_eq!(calls[1]["argv"][9], "--resume");
    assert_eq!(calls[1]["argv"][10], Value::String(sid.to_string()));
    let note = e.fv.note("default", "Threads/w/w").unwrap();
    assert_eq!(note["metadata"]["turn_count"], "2");
    assert_eq!(note["metadata"]["input_tokens"], "22");
    assert_eq!(e.fv.notes_tagged("default", "agent/thread").len(), 1);
}

#[test]
fn messages_queue_in_order_one_at_a_time_and_agents_run_in_parallel() {
    let e = setup(&[]);
    e.spawn("w");
    e.spawn("boss");
    e.send("w", "[fake:sleep:600] one", &[]);
    std::thread::sleep(Duration::from_millis(300));
    e.send_ordered("w", "two");
    e.send_ordered("w", "three");
    e.send("boss", "[fake:sleep:300] parallel", &[]);
    let t0 = Instant::now();
    loop {
        let h = e.d.get("/health", None).json();
        let rows = h["programmatic_agents"].as_array().unwrap().clone();
        let w = rows.iter().find(|r| r["name"] == "w").unwrap();
        if w["status"] == "queued:2" {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "never saw queued:2: {rows:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = e.wait_outbound("w", 3);
    let texts: Vec<&str> = out.iter().map(text).collect();
    assert!(texts[0].contains("one") && texts[1].contains("two") && texts[2].contains("three"));
    e.wait_outbound("boss", 1);
    let w = e.calls("w");
    let boss = e.calls("boss");
    let f = |v: &Value| v["t_start"].as_f64().unwrap();
    assert!(
        f(&w[1]) - f(&w[0]) >= 0.6,
        "second started after the first finished"
    );
    assert!(
        f(&boss[0]) < f(&w[1]),
        "boss ran while w's first turn was running"
    );
}

#[test]
fn failures_retries_timeout_and_fallback_keep_the_queue_moving() {
    let e = setup(&[
        ("PARACHUTE_AGENT_TURN_TIMEOUT_SECS", "2"),
        ("PARACHUTE_AGENT_TURN_RETRY_DELAYS_MS", "50,50"),
    ]);
    e.spawn("w");
    // permanent failure → failure note, no retry
    e.send("w", "[fake:fail]", &[]);
    let out = e.wait_outbound("w", 1);
    assert!(
        text(&out[0])
            .starts_with("⚠️ I couldn't complete that — the turn failed: claude -p exited 2: boom"),
        "{}",
        text(&out[0])
    );
    assert_eq!(e.calls("w").len(), 1);
    let note = e.fv.note("default", "Threads/w/w").unwrap();
    assert_eq!(note["metadata"]["status"], "error");
    // transient failure → retried, then the reply
    e.send("w", "[fake:transient:1] retry me", &[]);
    let out = e.wait_outbound("w", 2);
    assert!(
        text(&out[1]).starts_with("echo: [fake:transient:1] retry me"),
        "{}",
        text(&out[1])
    );
    assert_eq!(e.calls("w").len(), 3);
    // hung claude → killed at the timeout, failure note, queue continues
    e.send_ordered("w", "[fake:hang]");
    e.send_ordered("w", "after the hang");
    let out = e.wait_outbound("w", 4);
    assert!(
        text(&out[2]).contains("turn timed out after 2s"),
        "{}",
        text(&out[2])
    );
    assert!(text(&out[3]).starts_with("echo: after the hang"));
    assert!(
        processes_with_arg("[fake:hang]").is_empty(),
        "hung claude killed"
    );
    // resume of a vanished session → one fallback to a fresh session
    std::fs::remove_dir_all(e.private_dir("w").join("home/.claude/projects")).unwrap();
    e.send("w", "where did it go", &[]);
    let out = e.wait_outbound("w", 5);
    assert_eq!(text(&out[4]), "echo: where did it go (turn 1)");
    let calls = e.calls("w");
    let n = calls.len();
    assert_eq!(calls[n - 2]["argv"][9], "--resume");
    assert_eq!(calls[n - 1]["argv"][9], "--session-id");
}

#[test]
fn callbacks_carry_the_thread_note_id_and_stop_at_the_depth_limit() {
    let e = setup(&[]);
    e.spawn("w");
    e.send(
        "w",
        "delegated",
        &[
            ("reply_to", "boss"),
            ("correlation_id", "c-1"),
            ("delegation_depth", "7"),
        ],
    );
    let out = e.wait_outbound("w", 1);
    let t0 = Instant::now();
    let callback = loop {
        let cb: Vec<Value> =
            e.fv.notes_tagged("default", TAG_INBOUND)
                .into_iter()
                .filter(|n| n["metadata"]["callback"] == "true")
                .collect();
        if let Some(c) = cb.first() {
            break c.clone();
        }
        assert!(t0.elapsed() < WAIT, "no callback; log:\n{}", e.d.log());
        std::thread::sleep(Duration::from_millis(25));
    };
    let thread_id = e.fv.note("default", "Threads/w/w").unwrap()["id"].clone();
    let m = &callback["metadata"];
    assert_eq!(m["agent"], "boss");
    assert_eq!(m["status"], "ok");
    assert_eq!(m["source_channel"], "w");
    assert_eq!(m["source_thread"], thread_id);
    assert_eq!(m["source_message"], out[0]["id"]);
    assert_eq!(m["correlation_id"], "c-1");
    assert_eq!(m["delegation_depth"], "8");
    assert!(m.get("reply_to").is_none());
    assert!(text(&callback).starts_with("[callback] w finished (ok)"));
    // depth 8 → the turn runs but nobody is called back
    e.send(
        "w",
        "too deep",
        &[("reply_to", "boss"), ("delegation_depth", "8")],
    );
    e.wait_outbound("w", 2);
    std::thread::sleep(Duration::from_millis(300));
    let cbs =
        e.fv.notes_tagged("default", TAG_INBOUND)
            .into_iter()
            .filter(|n| n["metadata"]["callback"] == "true")
            .count();
    assert_eq!(cbs, 1);
}

#[test]
fn missing_credential_fails_the_turn_without_spawning() {
    let e = setup(&[]);
    e.spawn("w");
    std::fs::remove_file(e.d.state_dir().join("credentials.json")).unwrap();
    e.send("w", "hi", &[]);
    let out = e.wait_outbound("w", 1);
    assert!(
        text(&out[0]).contains("no Claude credential for channel \"w\""),
        "{}",
        text(&out[0])
    );
    assert!(e.calls("w").is_empty(), "claude was never spawned");
}

#[test]
fn deleted_agent_stays_deleted_and_live_ones_come_back_after_restart() {
    let e = setup(&[]);
    e.spawn("w");
    e.spawn("boss");
    let r =
        e.d.send("DELETE", "/api/agents/boss", Some(&e.admin), &[], None);
    assert_eq!(r.json()["killed"], true);
    let state = e.d.state_dir();
    let Env { fv, mut d, .. } = e;
    d.terminate();
    let b = DaemonBuilder::new().env("PATH", &fakes_path());
    // Reuse the old state dir: copy it into the new builder's location.
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(&state)
        .arg(b.state_dir())
        .status()
        .unwrap();
    assert!(status.success());
    let d2 = b.start();
    let admin = d2.mint("agent:admin");
    // Re-registration runs right after the channels start (just after /health is up).
    let t0 = Instant::now();
    let names = loop {
        let list = d2.get("/api/agents", Some(&admin)).json();
        let names: Vec<String> = list["agents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["name"].as_str().unwrap().to_string())
            .collect();
        if !names.is_empty() || t0.elapsed() > Duration::from_secs(10) {
            break names;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    assert_eq!(names, ["w"]);
    drop(fv);
}

#[test]
fn an_undelivered_reply_is_recorded_on_the_thread_and_reported() {
    use crate::support::fake_vault::FailRule;
    let e = setup(&[]);
    e.spawn("w");
    let read = e.d.mint("agent:read");
    let ticket =
        e.d.post("/api/ui/sse-ticket", Some(&read), &json!({}))
            .json()["ticket"]
            .as_str()
            .unwrap()
            .to_string();
    let events = crate::support::sse::connect(
        &e.d.url(&format!("/api/channels/w/turn-events?ticket={ticket}")),
        None,
    )
    .unwrap();
    // Outbound note writes fail with 500 (3 attempts); 4xx would not be retried.
    e.fv.fail(FailRule {
        times: Some(3),
        ..FailRule::always(Some("POST"), "/api/notes", 500)
    });
    e.send_ordered("w", "unlucky");
    let last = loop {
        let (_, ev) = events.next_event(WAIT).expect("a final event");
        if ev["kind"] == "done" || ev["kind"] == "error" {
            break ev;
        }
    };
    assert_eq!(last["kind"], "error");
    assert!(last["error"]
        .as_str()
        .unwrap()
        .starts_with("reply produced but not saved: "));
    let note = e.fv.note("default", "Threads/w/w").unwrap();
    assert_eq!(note["metadata"]["status"], "error");
    assert_eq!(
        note["metadata"]["turn_count"], "1",
        "the re-record does not recount"
    );
    assert!(note["content"]
        .as_str()
        .unwrap()
        .contains("Undelivered reply text: echo: unlucky (turn 1)"));
    assert!(
        e.outbound("w").is_empty(),
        "no failure note for an undelivered reply"
    );
    // the next message goes through
    e.send_ordered("w", "lucky");
    let out = e.wait_outbound("w", 1);
    assert_eq!(text(&out[0]), "echo: lucky (turn 2)");
}

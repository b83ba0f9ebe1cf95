//! Operator sessions (`POST|DELETE /api/agents/<name>/session`): the tmux session runs the
//! fake `claude` interactively with the agent's argv flags, environment and cwd, inside the
//! sandbox where bwrap works, resuming the agent's recorded session; a programmatic turn
//! meanwhile waits and runs once the session ends; the terminal attaches to it.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::*;
use crate::programmatic::api::{fakes_path, write_credentials};
use crate::support::daemon::bwrap_usable;

fn calls(w: &Path) -> Vec<Value> {
    std::fs::read_to_string(w.join("fake-claude-calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn wait_calls(w: &Path, n: usize, d: &Daemon) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let c = calls(w);
        if c.len() >= n {
            return c;
        }
        assert!(
            Instant::now() < deadline,
            "{n} calls of the fake; log:\n{}",
            d.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn agent_row(d: &Daemon, admin: &str, name: &str) -> Value {
    let list = d.get("/api/agents", Some(admin)).json();
    list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("{name} not in {list}"))
}

#[test]
fn an_operator_session_runs_the_agent_interactively_and_turns_wait_for_it() {
    if !tmux_available() {
        return;
    }
    let tmux = Tmux::new();
    let b = DaemonBuilder::new()
        .env("PATH", &fakes_path())
        .env("TMUX_TMPDIR", &tmux.tmpdir().display().to_string());
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [{"name": "web", "transport": "http-ui"}]}).to_string(),
    )
    .unwrap();
    write_credentials(&b.state_dir(), json!({"default": {"GH_TOKEN": "ghp_x"}}));
    let d = b.start();
    let (admin, su) = admin_and_step_up(&d);
    let agent = "opbot";
    let r = d.post(
        "/api/agents",
        Some(&admin),
        &json!({"name": agent, "channels": ["web"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let w: PathBuf = d.state_dir().join("sessions").join(agent);
    let sender = d.mint("agent:send");
    let send = |text: &str| {
        let r = d.post(
            "/api/channels/web/send",
            Some(&sender),
            &json!({ "text": text }),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    send("first");
    let turn = wait_calls(&w, 1, &d).remove(0);
    let sid = turn["argv"][10].as_str().unwrap().to_string();
    assert!(w.join("session.json").exists() || wait_session(&w));

    // Gates: admin + step-up; an unknown agent is 404.
    let path = format!("/api/agents/{agent}/session");
    assert_eq!(d.post(&path, Some(&admin), &json!({})).status, 403);
    let su_h = [("X-Step-Up-Token", su.as_str())];
    let post = |p: &str| d.send("POST", p, Some(&admin), &su_h, Some(b"{}"));
    assert_eq!(post("/api/agents/nobody/session").status, 404);
    let r = post(&path);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["resumed"], json!(sid));
    assert_eq!(r.json()["session"], json!("opbot-agent"));
    assert_eq!(post(&path).status, 409, "one operator session per agent");

    // The fake ran interactively: the turn's flags without -p/stream-json, --resume <sid>,
    // the same environment and cwd, sandboxed like the turn.
    let op = wait_calls(&w, 2, &d).remove(1);
    let argv: Vec<&str> = op["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let mcp = w.join(".mcp.json").display().to_string();
    assert_eq!(
        argv,
        [
            "--strict-mcp-config",
            "--mcp-config",
            &mcp,
            "--dangerously-skip-permissions",
            "--resume",
            &sid
        ]
    );
    assert_eq!(op["cwd"], turn["cwd"]);
    assert_eq!(
        op["env"], turn["env"],
        "the same environment as the agent's turns"
    );
    assert_eq!(op["env"]["GH_TOKEN"], "ghp_x");
    if bwrap_usable() {
        let pid = op["pid"].as_u64().unwrap();
        assert!(pid < 64, "a pid of the sandbox's own namespace, got {pid}");
    }
    assert_eq!(agent_row(&d, &admin, agent)["operatorSession"], true);

    // The terminal attaches to it.
    let mut ws = attach(&d, agent, "", &admin, &su);
    let mut seen = Seen::default();
    expect_output(&mut ws, &mut seen, &format!("session {sid}"));
    type_text(&mut ws, "steer-by-hand\r");
    expect_output(&mut ws, &mut seen, "you said: steer-by-hand");

    // A programmatic turn meanwhile waits.
    send("during");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        calls(&w).len(),
        2,
        "no turn while the operator holds the conversation"
    );
    assert_eq!(agent_row(&d, &admin, agent)["status"], "queued:1");

    // DELETE ends it; the waiting turn runs, resuming the same session.
    let r = d.send("DELETE", &path, Some(&admin), &su_h, None);
    assert_eq!((r.status, r.json()["stopped"].clone()), (200, json!(true)));
    let (code, _) = expect_close(&mut ws, &mut seen);
    assert_eq!(code, 1000, "the terminal sees the session end");
    let after = wait_calls(&w, 3, &d).remove(2);
    assert_eq!(after["argv"][1], "during");
    assert_eq!(after["argv"][9], "--resume");
    assert_eq!(after["argv"][10], json!(sid));
    let deadline = Instant::now() + Duration::from_secs(10);
    while agent_row(&d, &admin, agent)["operatorSession"] != false {
        assert!(Instant::now() < deadline, "operatorSession still true");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!tmux.has_session("opbot-agent"));
    let r = d.send("DELETE", &path, Some(&admin), &su_h, None);
    assert_eq!(r.json()["stopped"], false);
}

fn wait_session(w: &Path) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if w.join("session.json").exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

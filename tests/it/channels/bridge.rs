//! `parachute-agent bridge` driven over stdin/stdout (spec 05 §4): initialize, tools/list,
//! an inbound message becomes a `notifications/claude/agent` line, `tools/call reply`
//! reaches the channel's browser page, the bridge survives a daemon restart, and a bad
//! token gets a stderr hint.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver};
use serde_json::{json, Value};

use super::{add_channel, clients, daemon, eventually, RawSse, ALL};
use crate::support::daemon::{Daemon, BIN};

const WAIT: Duration = Duration::from_secs(10);

struct Bridge {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    stderr: std::path::PathBuf,
}

impl Bridge {
    fn spawn(d: &Daemon, token: &str, channel: &str) -> Bridge {
        let stderr = d
            .tmp()
            .join(format!("bridge-{}.log", crate::support::free_port()));
        let mut child = Command::new(BIN)
            .arg("bridge")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PARACHUTE_AGENT_URL", &d.base)
            .env("PARACHUTE_AGENT_TOKEN", token)
            .env("PARACHUTE_CHANNEL_NAME", channel)
            .env("PARACHUTE_AGENT_BRIDGE_RETRY_MS", "200")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr).unwrap())
            .spawn()
            .expect("spawn bridge");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = unbounded();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|e| panic!("bridge wrote a non-JSON line ({e}): {line}"));
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Bridge {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            stderr,
        }
    }

    fn send(&mut self, msg: Value) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{msg}").unwrap();
        stdin.flush().unwrap();
    }

    /// The next stdout line matching `pred` (others are skipped).
    fn next(&self, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let left = deadline
                .checked_duration_since(std::time::Instant::now())
                .unwrap_or_else(|| panic!("bridge said nothing matching; stderr:\n{}", self.log()));
            match self.lines.recv_timeout(left) {
                Ok(v) if pred(&v) => return v,
                Ok(_) => continue,
                Err(_) => panic!("bridge output ended or timed out; stderr:\n{}", self.log()),
            }
        }
    }

    fn response(&self, id: i64) -> Value {
        self.next(|v| v["id"] == id)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ticket(d: &Daemon, token: &str) -> String {
    let r = d.post("/api/ui/sse-ticket", Some(token), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["ticket"].as_str().unwrap().to_string()
}

#[test]
fn bridge_relays_messages_and_replies_and_survives_a_restart() {
    let mut d = daemon();
    let tok = d.mint(ALL);
    add_channel(&d, &tok, "web", "http-ui");
    let session = d.mint("agent:read agent:write");
    let mut b = Bridge::spawn(&d, &session, "web");

    b.send(
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-06-18",
        "capabilities":{"experimental":{"claude/agent":{}}},
        "clientInfo":{"name":"it","version":"0"}}}),
    );
    let init = b.response(1);
    assert_eq!(
        init["result"]["serverInfo"],
        json!({"name":"parachute-agent","version":"0.1.0"})
    );
    assert_eq!(init["result"]["protocolVersion"], "2025-06-18");
    assert!(init["result"]["capabilities"]["experimental"]["claude/agent"].is_object());
    b.send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    b.send(json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}));
    let tools: Vec<String> = b.response(2)["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        tools,
        ["reply", "react", "edit_message", "download_attachment"]
    );

    // Inbound: a human sends on the channel → one notification on stdout.
    assert!(
        eventually(WAIT, || clients(&d, "web") == Some(1)),
        "bridge never subscribed: {}",
        b.log()
    );
    let r = d.post(
        "/api/channels/web/send",
        Some(&tok),
        &json!({"text": "ping from a human"}),
    );
    assert_eq!(r.status, 200);
    let note = b.next(|v| v["method"] == "notifications/claude/agent");
    assert_eq!(note["params"]["content"], "ping from a human");
    assert_eq!(note["params"]["meta"]["source"], "http-ui");
    assert!(note.get("id").is_none());

    // Outbound: tools/call reply reaches the open browser page.
    let mut page = RawSse::open(
        d.port,
        &format!("/ui/events?channel=web&ticket={}", ticket(&d, &tok)),
        None,
    );
    b.send(json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"reply","arguments":{"text":"pong","channel":"elsewhere"}}}));
    let res = b.response(3);
    let text = res["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(text.starts_with("sent 1 part (id: "), "{res}");
    assert!(res["result"].get("isError").is_none(), "{res}");
    let reply = page.event("reply", WAIT).expect("reply on the page");
    assert_eq!(reply["text"], "pong");
    assert_eq!(
        text,
        format!("sent 1 part (id: {})", reply["id"].as_str().unwrap())
    );

    // A permission request from the session is relayed to the channel (its page).
    b.send(json!({"jsonrpc":"2.0","method":"notifications/claude/agent/permission_request",
        "params":{"request_id":"abcde","tool_name":"Bash","description":"list files","input_preview":"ls"}}));
    assert_eq!(
        page.event("permission", WAIT),
        Some(
            json!({"request_id":"abcde","tool_name":"Bash","description":"list files","input_preview":"ls"})
        )
    );

    // A refused call is a tool error, not a JSON-RPC error.
    b.send(json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"react","arguments":{"message_id":"1","emoji":"👍"}}}));
    let res = b.response(4);
    assert_eq!(res["result"]["isError"], true);
    let text = res["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("react failed: ") && text.contains("does not support react"),
        "{text}"
    );

    // The daemon restarts: the bridge reconnects on its own and relays again.
    d.restart();
    assert!(
        eventually(WAIT, || clients(&d, "web") == Some(1)),
        "no reconnect: {}",
        b.log()
    );
    d.post(
        "/api/channels/web/send",
        Some(&tok),
        &json!({"text": "after restart"}),
    );
    let note = b.next(|v| v["method"] == "notifications/claude/agent");
    assert_eq!(note["params"]["content"], "after restart");

    // stdin EOF ends the bridge with status 0.
    b.stdin.take();
    let deadline = std::time::Instant::now() + WAIT;
    let status = loop {
        if let Some(s) = b.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "bridge ignored stdin EOF"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
}

#[test]
fn bridge_explains_a_refused_token_on_stderr() {
    let d = daemon();
    let b = Bridge::spawn(&d, "not-a-jwt", "web");
    assert!(
        eventually(WAIT, || b.log().contains("refused the token")),
        "stderr: {}",
        b.log()
    );
    assert!(b
        .log()
        .contains("connected to Claude Code (channel=\"web\")"));
}

//! MCP sessions were unbounded, and every `initialize` rewrote the whole
//! `mcp-sessions.json` (5,000 sessions → 12.5 ms per initialize). Now a cap with
//! least-recently-used eviction, and one appended log line per change; session ids still
//! survive a restart (spec 07 §3).

use serde_json::json;

use super::state_common::{assert_health_fast, wait_channel};
use crate::mcp::client::{McpClient, ACCEPT_BOTH};
use crate::support::daemon::DaemonBuilder;

#[test]
fn sessions_are_capped_lru_and_persisted_incrementally() {
    let b = DaemonBuilder::new().env("PARACHUTE_AGENT_MCP_SESSIONS_MAX", "5");
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [{"name": "web", "transport": "http-ui"}]}).to_string(),
    )
    .unwrap();
    let mut d = b.start();
    wait_channel(&d, "web");
    let token = d.mint("agent:read agent:write");
    let snapshot = d.state_dir().join("mcp-sessions.json");
    let mut clients: Vec<McpClient> = Vec::new();
    for _ in 0..7 {
        let mut c = McpClient::new(&d, "web", Some(&token));
        c.initialize();
        clients.push(c);
    }
    let snapshot_after_boot = std::fs::read(&snapshot).ok();
    let list = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/list", "params": {}});
    let status = |c: &McpClient| c.post_raw(&list, ACCEPT_BOTH).status;
    // The two least recently used were evicted; the five newest work.
    assert_eq!(status(&clients[0]), 404);
    assert_eq!(status(&clients[1]), 404);
    for c in &clients[2..] {
        assert_eq!(status(c), 200);
    }
    let health = d.get("/health", None).json();
    let web = health["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "web")
        .cloned()
        .unwrap();
    assert_eq!(web["mcp_sessions"], 5, "{health}");
    // Incremental: one line per change in the log, the snapshot not rewritten.
    let log = std::fs::read_to_string(d.state_dir().join("mcp-sessions.log")).unwrap();
    assert_eq!(log.lines().count(), 7 + 2, "7 puts and 2 evictions: {log}");
    assert_eq!(std::fs::read(&snapshot).ok(), snapshot_after_boot);
    assert!(!log.contains(&token), "no tokens persisted");
    assert_health_fast(&d);

    // Restart: the surviving ids are still valid, the evicted ones still gone.
    let ids: Vec<String> = clients.iter().map(|c| c.session.clone().unwrap()).collect();
    drop(clients);
    d.restart();
    wait_channel(&d, "web");
    for (i, id) in ids.iter().enumerate() {
        let mut c = McpClient::new(&d, "web", Some(&token));
        c.session = Some(id.clone());
        let expected = if i < 2 { 404 } else { 200 };
        assert_eq!(status(&c), expected, "session {i} after restart");
    }
    assert_health_fast(&d);
}

//! 60 sends of 5 MiB on one http-ui channel pinned 835 MiB (the
//! recent-messages ring was bounded by count only). Now by bytes too
//! (`PARACHUTE_AGENT_HTTP_UI_RING_BYTES`, default 4 MiB), and freed big buffers go back to
//! the kernel.

use serde_json::json;

use super::state_common::{assert_health_fast, wait_channel};
use crate::support::daemon::DaemonBuilder;

#[test]
fn http_ui_ring_is_bounded_by_bytes() {
    let b = DaemonBuilder::new();
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(
        b.state_dir().join("channels.json"),
        json!({"channels": [{"name": "web", "transport": "http-ui"}]}).to_string(),
    )
    .unwrap();
    let d = b.start();
    wait_channel(&d, "web");
    let send = d.mint("agent:send");
    let read = d.mint("agent:read");
    let mib = 1024 * 1024;
    let rss_before = rss_kib(&d);
    for i in 0..16 {
        let text = format!("{i:02}{}", "x".repeat(2 * mib - 2));
        let r = d.post(
            "/api/channels/web/send",
            Some(&send),
            &json!({ "text": text }),
        );
        assert_eq!(r.status, 200, "send {i}: {}", r.body);
    }
    let small = d.post(
        "/api/channels/web/send",
        Some(&send),
        &json!({"text": "last"}),
    );
    assert_eq!(small.status, 200);
    let r = d.get("/api/channels/web/messages", Some(&read));
    assert_eq!(r.status, 200, "{}", r.body);
    let messages = r.json()["messages"].as_array().cloned().unwrap();
    let bytes: usize = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap_or("").len())
        .sum();
    assert!(bytes <= 4 * mib, "ring holds {bytes} bytes of text");
    // Newest first kept, whole: the small one and the last big sends.
    let texts: Vec<&str> = messages
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.last(), Some(&"last"), "oldest first, newest kept");
    assert!(
        texts[texts.len() - 2].starts_with("15"),
        "the newest big send kept"
    );
    assert!(texts.len() < 16, "{} kept", texts.len());
    // 32 MiB went through; what stays resident is the 4 MiB ring plus change (freed
    // bodies go back to the kernel instead of staying in allocator arenas).
    let grown = rss_kib(&d).saturating_sub(rss_before);
    assert!(grown < 20 * 1024, "RSS grew by {grown} KiB");
    assert_health_fast(&d);
}

fn rss_kib(d: &crate::support::daemon::Daemon) -> u64 {
    let pid = d.child.as_ref().unwrap().id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

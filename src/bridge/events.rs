//! The bridge's inbound loop (spec 05 §4.4): subscribe to the daemon's `/events` stream,
//! turn `message` / `permission_verdict` events into MCP notifications on stdout, and
//! reconnect forever.
//!
//! Reconnect policy [ext]: the reference sleeps a fixed 3 s after every error or end of
//! stream. We keep 3 s as the base delay after a stream that was open (daemon restart,
//! clean end), and back off exponentially (×2, capped at 30 s) across consecutive failed
//! connection attempts, so a bridge left running against a stopped daemon does not poll it
//! every 3 s forever. The base delay can be shortened with
//! `PARACHUTE_AGENT_BRIDGE_RETRY_MS` (tests).

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::client::{DaemonClient, StreamError};
use super::sse::{SseEvent, SseParser};
use super::surface::Namespace;
use super::Output;

/// Longest wait between connection attempts.
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Run the subscribe/forward/reconnect loop until the process exits.
pub fn run_loop(
    client: Arc<DaemonClient>,
    channel: String,
    ns: Namespace,
    out: Arc<Output>,
    base_delay: Duration,
) {
    let mut delay = base_delay;
    loop {
        match client.open_events(&channel) {
            Ok(reader) => {
                eprintln!(
                    "parachute-agent bridge: subscribed to daemon events (channel=\"{channel}\")"
                );
                delay = base_delay;
                match pump(reader, ns, &out) {
                    Ok(()) => eprintln!(
                        "parachute-agent bridge: event stream ended, reconnecting in {}",
                        human(delay)
                    ),
                    Err(e) => eprintln!(
                        "parachute-agent bridge: SSE error, reconnecting in {}: {e}",
                        human(delay)
                    ),
                }
            }
            Err(e) => {
                if let StreamError::Auth { status, .. } = &e {
                    auth_hint(*status, client.has_token());
                }
                eprintln!(
                    "parachute-agent bridge: SSE error, reconnecting in {}: {e}",
                    human(delay)
                );
                std::thread::sleep(delay);
                delay = (delay * 2).min(MAX_RETRY.max(base_delay));
                continue;
            }
        }
        std::thread::sleep(delay);
    }
}

fn auth_hint(status: u16, had_token: bool) {
    if had_token {
        eprintln!(
            "parachute-agent bridge: the daemon refused the token (HTTP {status}): it is invalid, expired, \
or lacks agent:read. Re-mint it with: parachute auth mint-token --scope \"agent:read agent:write\" \
and set PARACHUTE_AGENT_TOKEN."
        );
    } else {
        eprintln!(
            "parachute-agent bridge: no token supplied (PARACHUTE_AGENT_TOKEN is unset) but the daemon \
requires one (HTTP {status}). Mint one with: parachute auth mint-token --scope \"agent:read agent:write\"."
        );
    }
}

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Read the stream until it ends, forwarding every complete event. The parser state lives
/// across reads, so events split over several reads arrive whole.
pub fn pump(mut reader: Box<dyn Read + Send>, ns: Namespace, out: &Output) -> std::io::Result<()> {
    let mut parser = SseParser::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for ev in parser.feed(&buf[..n]) {
            if let Some(note) = to_notification(&ev, ns) {
                out.send(&note);
            }
        }
    }
}

/// Map one SSE event to the MCP notification of §4.4 step 4 (`None` for other events and
/// unparseable data, which is logged).
pub fn to_notification(ev: &SseEvent, ns: Namespace) -> Option<Value> {
    if ev.data.is_empty() {
        return None;
    }
    let kind = match ev.event.as_str() {
        "message" | "permission_verdict" => ev.event.as_str(),
        _ => return None,
    };
    let data: Value = match serde_json::from_str(&ev.data) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("parachute-agent bridge: bad {kind} event data: {e}");
            return None;
        }
    };
    if kind == "message" {
        let mut meta = Map::new();
        meta.insert("source".into(), json!("parachute-agent"));
        if let Some(m) = data.get("meta").and_then(Value::as_object) {
            for (k, v) in m {
                meta.insert(k.clone(), v.clone());
            }
        }
        let content = data.get("content").cloned().unwrap_or(Value::Null);
        Some(json!({
            "jsonrpc": "2.0",
            "method": ns.message_method(),
            "params": {"content": content, "meta": meta},
        }))
    } else {
        Some(json!({
            "jsonrpc": "2.0",
            "method": ns.permission_method(),
            "params": {
                "request_id": data.get("request_id").cloned().unwrap_or(Value::Null),
                "behavior": data.get("behavior").cloned().unwrap_or(Value::Null),
            },
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_meta_overlays_default_source() {
        let ev = SseEvent {
            event: "message".into(),
            data: r#"{"content":"hi","meta":{"chat_id":"42"},"source":"telegram"}"#.into(),
        };
        let n = to_notification(&ev, Namespace::Agent).unwrap();
        assert_eq!(n["method"], "notifications/claude/agent");
        assert_eq!(n["params"]["content"], "hi");
        assert_eq!(
            n["params"]["meta"],
            json!({"source":"parachute-agent","chat_id":"42"})
        );

        let ev = SseEvent {
            event: "message".into(),
            data: r#"{"content":"x","meta":{"source":"http-ui","ts":"t"}}"#.into(),
        };
        let n = to_notification(&ev, Namespace::Agent).unwrap();
        assert_eq!(n["params"]["meta"]["source"], "http-ui");
    }

    #[test]
    fn verdicts_and_other_events() {
        let ev = SseEvent {
            event: "permission_verdict".into(),
            data: r#"{"request_id":"abcde","behavior":"allow"}"#.into(),
        };
        let n = to_notification(&ev, Namespace::Channel).unwrap();
        assert_eq!(n["method"], "notifications/claude/channel/permission");
        assert_eq!(
            n["params"],
            json!({"request_id":"abcde","behavior":"allow"})
        );
        let other = SseEvent {
            event: "turn".into(),
            data: "{}".into(),
        };
        assert!(to_notification(&other, Namespace::Agent).is_none());
        let bad = SseEvent {
            event: "message".into(),
            data: "{not json".into(),
        };
        assert!(to_notification(&bad, Namespace::Agent).is_none());
    }
}

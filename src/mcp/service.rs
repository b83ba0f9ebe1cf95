//! The MCP subsystem as the daemon wires it (spec 05 §1.6–§1.8): the session store, the
//! [`McpHost`] that runs tools against live channels and the attached queue, and the
//! fan-out sink that pushes inbound messages and permission verdicts onto open GET streams.
//!
//! [ext] Push tools resolve the channel's transport by name at call time (the reference
//! keeps calling the transport captured at session creation, even after a hot replace).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::endpoint::McpHost;
use super::protocol::NotifyNamespace;
use super::session::{McpSessionStore, SessionInfo};
use super::tools::PullQueue;
use super::tools::{self, PushError, PushTransport, ReplyArgs, Surface, ToolResult};
use super::{jsonrpc, sse};
use crate::channels::transport::{OutboundArgs, Transport, TransportError};
use crate::channels::{ChannelRegistry, FanoutEvent, FanoutSink};

pub struct McpService {
    pub sessions: McpSessionStore,
    /// When the daemon started (the boot window of [`McpService::channel_starting`]).
    started: std::time::Instant,
    pub ns: NotifyNamespace,
    pub keepalive: Duration,
    channels: Arc<ChannelRegistry>,
    attached: Arc<dyn PullQueue + Send + Sync>,
}

impl McpService {
    pub fn new(
        sessions: McpSessionStore,
        channels: Arc<ChannelRegistry>,
        attached: Arc<dyn PullQueue + Send + Sync>,
        keepalive: Duration,
        ns: NotifyNamespace,
    ) -> Arc<McpService> {
        Arc::new(McpService {
            sessions,
            started: std::time::Instant::now(),
            ns,
            keepalive,
            channels,
            attached,
        })
    }
}

/// How long after boot a known session's channel may still be coming up.
const BOOT_WINDOW: Duration = Duration::from_secs(120);

impl McpService {
    /// Whether `channel` is in the live channel map.
    pub fn channel_live(&self, channel: &str) -> bool {
        self.channels.get(channel).is_some()
    }

    /// [ext] During the boot window, a request for a not-yet-live channel that carries a
    /// session id persisted for that channel is told to retry (503) instead of 404: the
    /// channels of agent definitions come up only after their def-vault was read, and a
    /// Claude Code session whose request got 404 never recovers by itself.
    pub fn channel_starting(&self, channel: &str, session_id: Option<&str>) -> bool {
        self.started.elapsed() < BOOT_WINDOW
            && session_id
                .and_then(|id| self.sessions.get(id.trim()))
                .is_some_and(|s| s.channel == channel)
    }
}

impl McpHost for McpService {
    fn surface_for(&self, channel: &str) -> Surface {
        if self.attached.is_attached(channel) {
            Surface::Pull
        } else {
            Surface::Push
        }
    }

    fn call_tool(&self, s: &SessionInfo, name: &str, args: &Value) -> ToolResult {
        match s.surface {
            Surface::Pull => tools::call_pull(&*self.attached, &s.channel, &s.scopes, name, args),
            Surface::Push => match self.channels.get(&s.channel) {
                Some(ch) => tools::call_push(
                    &TransportTools(&*ch.transport),
                    &s.channel,
                    &s.scopes,
                    name,
                    args,
                ),
                None => {
                    ToolResult::err(format!("{name} failed: channel \"{}\" is gone", s.channel))
                }
            },
        }
    }

    fn namespace(&self) -> NotifyNamespace {
        self.ns
    }
}

/// A channel transport seen through the push surface.
struct TransportTools<'a>(&'a dyn Transport);

fn push_err(e: TransportError) -> PushError {
    match e {
        TransportError::Unsupported(_) => PushError::Unsupported,
        TransportError::Config(m) | TransportError::Runtime(m) => PushError::Failed(m),
    }
}

fn outbound(meta: Map<String, Value>) -> OutboundArgs {
    OutboundArgs {
        chat_id: meta
            .get("chat_id")
            .and_then(Value::as_str)
            .map(str::to_string),
        meta: meta.into_iter().collect(),
        ..OutboundArgs::default()
    }
}

impl PushTransport for TransportTools<'_> {
    fn kind(&self) -> String {
        self.0.kind().to_string()
    }

    fn reply(&self, a: ReplyArgs) -> Result<Vec<String>, PushError> {
        let args = OutboundArgs {
            text: a.text,
            files: a.files.unwrap_or_default(),
            reply_to: a.reply_to,
            ..outbound(a.meta)
        };
        self.0.reply(&args).map_err(push_err)
    }

    fn react(&self, id: &str, emoji: &str, meta: Map<String, Value>) -> Result<(), PushError> {
        let args = OutboundArgs {
            message_id: Some(id.to_string()),
            emoji: Some(emoji.to_string()),
            ..outbound(meta)
        };
        self.0.react(&args).map_err(push_err)
    }

    fn edit(&self, id: &str, text: &str, meta: Map<String, Value>) -> Result<(), PushError> {
        let args = OutboundArgs {
            message_id: Some(id.to_string()),
            text: Some(text.to_string()),
            ..outbound(meta)
        };
        self.0.edit(&args).map_err(push_err)
    }

    fn download(&self, file_id: &str) -> Result<String, PushError> {
        self.0.download(file_id).map_err(push_err)
    }
}

/// The notification frame for one fan-out event (spec 05 §1.7).
pub fn notification_frame(ns: NotifyNamespace, event: &FanoutEvent) -> Vec<u8> {
    let msg = match event {
        FanoutEvent::Message(data) => {
            let mut meta = Map::new();
            meta.insert("source".into(), Value::String("parachute-agent".into()));
            if let Some(m) = data.get("meta").and_then(Value::as_object) {
                for (k, v) in m {
                    meta.insert(k.clone(), v.clone());
                }
            }
            let content = data
                .get("content")
                .cloned()
                .unwrap_or(Value::String(String::new()));
            let mut params = Map::new();
            params.insert("content".into(), content);
            params.insert("meta".into(), Value::Object(meta));
            jsonrpc::notification(&ns.message_method(), Value::Object(params))
        }
        FanoutEvent::PermissionVerdict(data) => {
            jsonrpc::notification(&ns.permission_method(), data.clone())
        }
    };
    sse::message_frame(&msg)
}

impl FanoutSink for McpService {
    fn deliver(&self, channel: &str, event: &FanoutEvent) -> usize {
        self.sessions
            .push_to_channel(channel, &notification_frame(self.ns, event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(frame: &[u8]) -> Value {
        let text = std::str::from_utf8(frame).unwrap();
        let data = text
            .strip_prefix("event: message\ndata: ")
            .and_then(|t| t.strip_suffix("\n\n"))
            .unwrap();
        serde_json::from_str(data).unwrap()
    }

    #[test]
    fn message_notification_overlays_inbound_meta_on_the_default_source() {
        let ev = FanoutEvent::Message(json!({"content": "hi",
            "meta": {"chat_id": "42", "ts": "t"}, "source": "telegram"}));
        let v = parse(&notification_frame(NotifyNamespace::Agent, &ev));
        assert_eq!(
            v,
            json!({"jsonrpc":"2.0","method":"notifications/claude/agent","params":{
                "content":"hi","meta":{"source":"parachute-agent","chat_id":"42","ts":"t"}}})
        );
        let ev = FanoutEvent::Message(json!({"content": "x", "meta": {"source": "http-ui"}}));
        let v = parse(&notification_frame(NotifyNamespace::Channel, &ev));
        assert_eq!(v["method"], "notifications/claude/channel");
        assert_eq!(v["params"]["meta"]["source"], "http-ui");
    }

    #[test]
    fn permission_verdict_notification() {
        let ev =
            FanoutEvent::PermissionVerdict(json!({"request_id": "abcde", "behavior": "allow"}));
        let v = parse(&notification_frame(NotifyNamespace::Agent, &ev));
        assert_eq!(v["method"], "notifications/claude/agent/permission");
        assert_eq!(
            v["params"],
            json!({"request_id": "abcde", "behavior": "allow"})
        );
    }
}

//! The transport contract (spec 05 §0.1, §0.2, §0.4, §0.5): what every channel kind
//! (`vault`, `telegram`, `http-ui`) implements. Optional operations default to
//! [`TransportError::Unsupported`], which the REST and MCP layers turn into the spec's
//! "does not support <op>" errors.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Weak;

use serde::Serialize;
use serde_json::Value;

use super::registry::ChannelRegistry;

/// An inbound message in memory (spec 05 §0.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboundMessage {
    pub channel: String,
    pub content: String,
    pub meta: BTreeMap<String, String>,
    pub source: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment>,
    /// The message's transport identity, when it has one (`tg:<chat>:<message>`,
    /// `note:<vaultUrl>::<vault>|<note id>`): the inbound journal's dedup key. Never sent
    /// to subscribers.
    #[serde(skip)]
    pub key: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub path: String,
    pub mime_type: String,
    pub filename: String,
}

/// Arguments of the outbound operations (spec 05 §3); absent fields are `None`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboundArgs {
    pub chat_id: Option<String>,
    pub text: Option<String>,
    pub reply_to: Option<String>,
    pub message_id: Option<String>,
    pub emoji: Option<String>,
    pub files: Vec<String>,
    pub meta: BTreeMap<String, Value>,
}

/// A permission prompt (spec 05 §3, `sendPermission`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PermissionArgs {
    pub request_id: String,
    pub tool_name: String,
    pub description: String,
    pub input_preview: String,
}

/// Transport failures (spec 05 §0.5).
#[derive(Debug, Clone, PartialEq)]
pub enum TransportError {
    /// The operator must fix the configuration → HTTP 400 `{"error": msg}`.
    Config(String),
    /// Anything else → HTTP 500 `{"error": "Error: msg"}`.
    Runtime(String),
    /// The service behind the transport (the vault) answered an error or could not be
    /// reached (`status: None`). Answered like `Runtime`; callers that retry decide on
    /// `status` (spec 03 §5.7: a 4xx is permanent, a 5xx or no answer transient).
    Upstream {
        status: Option<u16>,
        message: String,
    },
    /// The transport lacks the operation (`react`, `edit`, `sendPermission`, `download`).
    Unsupported(&'static str),
}

impl std::fmt::Display for TransportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TransportError::Config(m)
            | TransportError::Runtime(m)
            | TransportError::Upstream { message: m, .. } => f.write_str(m),
            TransportError::Unsupported(op) => write!(f, "operation {op} not supported"),
        }
    }
}

/// The per-channel context a transport gets at start: it can only emit onto its own
/// channel, whatever the message claims.
#[derive(Clone)]
pub struct ChannelContext {
    pub channel: String,
    pub(crate) registry: Weak<ChannelRegistry>,
}

impl ChannelContext {
    pub fn emit(&self, mut msg: InboundMessage) {
        msg.channel = self.channel.clone();
        if let Some(reg) = self.registry.upgrade() {
            reg.emit(&self.channel, msg);
        }
    }

    /// [`ChannelContext::emit`] that reports a backend's refusal (the caller must not
    /// acknowledge the message then).
    pub fn emit_checked(&self, mut msg: InboundMessage) -> Result<super::Emitted, super::Refusal> {
        msg.channel = self.channel.clone();
        match self.registry.upgrade() {
            Some(reg) => reg.emit_checked(&self.channel, msg),
            None => Ok(super::Emitted::Delivered(0)),
        }
    }

    /// The durable offset store, when the daemon has one.
    pub fn offset_store(&self) -> Option<std::sync::Arc<dyn super::OffsetStore>> {
        self.registry.upgrade()?.offset_store()
    }

    pub fn emit_permission_verdict(&self, request_id: &str, behavior: &str) {
        if let Some(reg) = self.registry.upgrade() {
            reg.emit_permission_verdict(&self.channel, request_id, behavior);
        }
    }
}

/// One channel kind's behaviour.
pub trait Transport: Send + Sync {
    /// `vault`, `telegram` or `http-ui`.
    fn kind(&self) -> &'static str;

    fn start(&self, ctx: ChannelContext) -> Result<(), TransportError>;

    /// Stops the transport (close streams, stop pollers). Errors are logged by the caller.
    fn stop(&self);

    /// Sends a reply; returns the ids of what was sent.
    fn reply(&self, args: &OutboundArgs) -> Result<Vec<String>, TransportError>;

    fn react(&self, _args: &OutboundArgs) -> Result<(), TransportError> {
        Err(TransportError::Unsupported("react"))
    }

    fn edit(&self, _args: &OutboundArgs) -> Result<(), TransportError> {
        Err(TransportError::Unsupported("edit"))
    }

    fn send_permission(&self, _args: &PermissionArgs) -> Result<Vec<String>, TransportError> {
        Err(TransportError::Unsupported("sendPermission"))
    }

    /// Fetches an attachment; returns its local path.
    fn download(&self, _file_id: &str) -> Result<String, TransportError> {
        Err(TransportError::Unsupported("download"))
    }

    /// The transcript for `GET /api/channels/<ch>/messages` (newest last).
    fn transcript(&self) -> Result<Vec<Value>, TransportError> {
        Ok(Vec::new())
    }

    /// Liveness for `/health` (`channels[].poller`), e.g. a telegram poll loop's state.
    fn health(&self) -> Option<Value> {
        None
    }

    /// For kind-specific access (e.g. the vault transport's webhook secret).
    fn as_any(&self) -> &dyn Any;
}

//! The `http-ui` transport (spec 05 §7, routes of spec 01 §2.3): a browser ↔ session chat
//! with no external service.
//!
//! - Its two routes are ordinary handlers in `api::http_ui`: [`HttpUiTransport::emit_operator`]
//!   emits an inbound `{source:"http-ui", meta:{source, ts}}` through the routing fork, and
//!   [`HttpUiTransport::subscribe_page`] opens a page stream receiving `reply`, `edit`,
//!   `permission` and, when the transport stops, `close {}` after which the response ends
//!   [ext].
//! - Operations: `reply` → `reply {id, text, files}` (`sent=[id]` only if ≥ 1 page got it),
//!   `edit` → `edit {id, text}`, `sendPermission` → `permission {…}`; `react` and
//!   `download` are absent.
//! - [ext] A bounded ring of recent messages (`recent`) backs `transcript()`, so
//!   `GET /api/channels/<ch>/messages` returns the last exchanges instead of `[]`.
//!
//! Page streams use an [`SseHub`] of their own (one thread per page, keepalives), created
//! on the first page subscription with the daemon's keepalive interval.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use super::recent::{RecentMessages, RingLimit};
use super::transport::{
    ChannelContext, InboundMessage, OutboundArgs, PermissionArgs, Transport, TransportError,
};
use super::SseHub;
use crate::http::Resp;
use crate::util::{rand, time};

pub const KIND: &str = "http-ui";

/// Why `emit_operator` did not accept a message.
#[derive(Debug)]
pub enum OperatorSendError {
    Transport(TransportError),
    Refused(super::Refusal),
}

pub struct HttpUiTransport {
    name: String,
    ctx: Mutex<Option<ChannelContext>>,
    pages: OnceLock<Arc<SseHub>>,
    recent: RecentMessages,
}

impl HttpUiTransport {
    /// Builds the transport for channel `name`; http-ui needs no config (a `config`
    /// object is accepted and ignored), so this never fails.
    pub fn new(name: &str) -> HttpUiTransport {
        Self::with_ring(name, RingLimit::default())
    }

    /// [`new`](Self::new) with the recent-messages ring bounded by `ring`.
    pub fn with_ring(name: &str, ring: RingLimit) -> HttpUiTransport {
        HttpUiTransport {
            name: name.to_string(),
            ctx: Mutex::new(None),
            pages: OnceLock::new(),
            recent: RecentMessages::with_limit(ring),
        }
    }

    fn started(&self) -> Result<(), TransportError> {
        if self.ctx.lock().is_some() {
            Ok(())
        } else {
            Err(TransportError::Runtime(
                "http-ui transport: not started".into(),
            ))
        }
    }

    /// Pushes one event to every open page; returns how many queued it.
    fn push(&self, event: &str, data: &Value) -> usize {
        self.pages
            .get()
            .map_or(0, |hub| hub.broadcast(&self.name, event, data))
    }

    /// Number of open pages (for tests and diagnostics).
    pub fn page_count(&self) -> usize {
        self.pages.get().map_or(0, |hub| hub.count(&self.name))
    }

    /// The channel this transport serves.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// An operator message from the page (`POST /api/channels/<own>/send`): recorded in
    /// the ring and emitted through the routing fork. Fails while the transport is stopped,
    /// and when the programmatic backend could not make the message durable (spec 07 §4:
    /// the page gets no 2xx for a message that is not journaled).
    pub fn emit_operator(&self, text: String) -> Result<(), OperatorSendError> {
        let ctx = self.ctx.lock().clone().ok_or_else(|| {
            OperatorSendError::Transport(TransportError::Runtime(
                "http-ui transport: not started".into(),
            ))
        })?;
        self.recent
            .push(&rand::uuid(), &text, "inbound", "operator", &[]);
        let meta = BTreeMap::from([
            ("source".to_string(), KIND.to_string()),
            ("ts".to_string(), time::now_iso()),
        ]);
        ctx.emit_checked(InboundMessage {
            channel: self.name.clone(),
            content: text,
            meta,
            source: KIND.into(),
            attachments: Vec::new(),
            key: None,
        })
        .map_err(OperatorSendError::Refused)?;
        Ok(())
    }

    /// A page stream (`GET /ui/events?channel=<own>`); the page hub is created on first
    /// use with the daemon's keepalive interval.
    pub fn subscribe_page(
        &self,
        keepalive: std::time::Duration,
        guard: Option<super::stream_guard::StreamGuard>,
    ) -> Resp {
        let hub = self
            .pages
            .get_or_init(|| SseHub::new("ui-events", keepalive));
        hub.subscribe_guarded(&self.name, guard)
    }
}

impl Transport for HttpUiTransport {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn start(&self, ctx: ChannelContext) -> Result<(), TransportError> {
        *self.ctx.lock() = Some(ctx);
        Ok(())
    }

    /// Sends `close {}` to every open page and ends their streams.
    fn stop(&self) {
        self.ctx.lock().take();
        if let Some(hub) = self.pages.get() {
            hub.close_channel(&self.name, Some(("close", &json!({}))));
        }
    }

    fn reply(&self, args: &OutboundArgs) -> Result<Vec<String>, TransportError> {
        self.started()?;
        let id = rand::uuid();
        let text = args.text.clone().unwrap_or_default();
        self.recent
            .push(&id, &text, "outbound", "agent", &args.files);
        let data = json!({"id": id, "text": text, "files": args.files});
        Ok(if self.push("reply", &data) > 0 {
            vec![id]
        } else {
            Vec::new()
        })
    }

    fn edit(&self, args: &OutboundArgs) -> Result<(), TransportError> {
        self.started()?;
        let mut data = Map::new();
        if let Some(id) = &args.message_id {
            data.insert("id".into(), json!(id));
        }
        if let Some(text) = &args.text {
            data.insert("text".into(), json!(text));
        }
        if let (Some(id), Some(text)) = (&args.message_id, &args.text) {
            self.recent.edit(id, text);
        }
        self.push("edit", &Value::Object(data));
        Ok(())
    }

    fn send_permission(&self, args: &PermissionArgs) -> Result<Vec<String>, TransportError> {
        self.started()?;
        let data = json!({
            "request_id": args.request_id,
            "tool_name": args.tool_name,
            "description": args.description,
            "input_preview": args.input_preview,
        });
        Ok(if self.push("permission", &data) > 0 {
            vec![args.request_id.clone()]
        } else {
            Vec::new()
        })
    }

    fn transcript(&self) -> Result<Vec<Value>, TransportError> {
        Ok(self.recent.snapshot())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

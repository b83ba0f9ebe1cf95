//! The `http-ui` transport (spec 05 §7, routes of spec 01 §2.3): a browser ↔ session chat
//! with no external service.
//!
//! - Owned routes (tried after every daemon route, spec 01 §2.8 step 23):
//!   `POST /api/channels/<own>/send` (matched on the **raw** path; `agent:send`) emits an
//!   inbound `{source:"http-ui", meta:{source, ts}}` through the routing fork, and
//!   `GET /ui/events?channel=<own>&ticket=…` (one-time SSE ticket carrying `agent:read`)
//!   opens a page stream receiving `reply`, `edit`, `permission` and, when the transport
//!   stops, `close {}` after which the response ends [ext].
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

use super::recent::RecentMessages;
use super::transport::{
    ChannelContext, InboundMessage, OutboundArgs, PermissionArgs, Transport, TransportError,
};
use super::SseHub;
use crate::auth::Scope;
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;
use crate::util::{rand, time};

pub const KIND: &str = "http-ui";

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
        HttpUiTransport {
            name: name.to_string(),
            ctx: Mutex::new(None),
            pages: OnceLock::new(),
            recent: RecentMessages::new(),
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

    /// `POST /api/channels/<own>/send`.
    fn handle_send(&self, state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
        state.auth.require(req, Scope::Send)?;
        let body = req.json()?;
        if body.is_null() {
            return Err(ApiError::InvalidJson);
        }
        let text = match body.get("text").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => t.to_string(),
            _ => {
                return Err(ApiError::bad_request(
                    "body must be { text: <non-empty string> }",
                ))
            }
        };
        let ctx = self.ctx.lock().clone().ok_or_else(|| {
            ApiError::custom(
                500,
                json!({"error": "Error: http-ui transport: not started"}),
            )
        })?;
        self.recent
            .push(&rand::uuid(), &text, "inbound", "operator", &[]);
        let meta = BTreeMap::from([
            ("source".to_string(), KIND.to_string()),
            ("ts".to_string(), time::now_iso()),
        ]);
        ctx.emit(InboundMessage {
            channel: self.name.clone(),
            content: text,
            meta,
            source: KIND.into(),
            attachments: Vec::new(),
        });
        Ok(Resp::ok(&json!({"ok": true})))
    }

    /// `GET /ui/events?channel=<own>&ticket=…`.
    fn handle_events(&self, state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
        crate::security::consume_ticket(state, req, Scope::Read)?;
        let hub = self
            .pages
            .get_or_init(|| SseHub::new("ui-events", state.config.sse_keepalive));
        Ok(hub.subscribe(&self.name))
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

    fn route(&self, state: &AppState, req: &mut Req) -> Option<Result<Resp, ApiError>> {
        if req.is("POST") && req.raw_path() == format!("/api/channels/{}/send", self.name) {
            return Some(self.handle_send(state, req));
        }
        if req.is("GET")
            && req.raw_path() == "/ui/events"
            && req.query("channel") == Some(self.name.as_str())
        {
            return Some(self.handle_events(state, req));
        }
        None
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

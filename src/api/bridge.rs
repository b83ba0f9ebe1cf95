//! Session-facing HTTP routes (spec 05 §3; spec 01 §2.2.3, §2.3): the bridge REST routes
//! `POST /api/reply|react|edit|permission|download` (`agent:write`) and
//! `GET /api/channels/<ch>/messages` (`agent:read`, the transport's transcript).
//! (`GET /events` lives in `http::events`.)
//!
//! Bridge REST order: scope gate → body → channel resolve → capability → transport call.
//! Divergences [ext]: an invalid JSON body is `400 {"error":"invalid JSON body"}` (the
//! reference answers 500 `SyntaxError: …`); a non-array `files` and non-string elements
//! are ignored rather than iterated character by character. Security note: `files` are
//! paths on the daemon host — any `agent:write` holder can have a transport send any file
//! the daemon can read; that is the feature (spec 05 §3).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::gate;
use crate::auth::Scope;
use crate::channels::transport::{OutboundArgs, PermissionArgs, TransportError};
use crate::channels::Channel;
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;

type Routed = Option<Result<Resp, ApiError>>;

/// Routes of spec 01 §2.8 step 17.
pub fn route(state: &AppState, req: &mut Req) -> Routed {
    if !req.is("POST") {
        return None;
    }
    let op = match req.raw_path() {
        "/api/reply" => Op::Reply,
        "/api/react" => Op::React,
        "/api/edit" => Op::Edit,
        "/api/permission" => Op::Permission,
        "/api/download" => Op::Download,
        _ => return None,
    };
    Some(bridge_call(state, req, op))
}

/// `GET /api/channels/<ch>/messages` (spec 01 §2.8 step 20).
pub fn route_messages(state: &AppState, req: &mut Req) -> Routed {
    let segs = req.segs();
    let ["api", "channels", ch, "messages"] = segs.as_slice() else {
        return None;
    };
    if !req.is("GET") || ch.is_empty() {
        return None;
    }
    let ch = ch.to_string();
    Some(messages(state, req, &ch))
}

fn messages(state: &AppState, req: &Req, ch: &str) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Read)?;
    let channel = state.channels.get(ch).ok_or_else(|| {
        ApiError::NotFound(format!(
            "unknown channel \"{ch}\" — known channels: {}",
            state.channels.known_list()
        ))
    })?;
    let messages = channel
        .transport
        .transcript()
        .map_err(|e| ApiError::BadGateway(format!("Error: {e}")))?;
    Ok(Resp::ok(&json!({ "messages": messages })))
}

#[derive(Clone, Copy)]
enum Op {
    Reply,
    React,
    Edit,
    Permission,
    Download,
}

fn bridge_call(state: &AppState, req: &mut Req, op: Op) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Write)?;
    let body = req.json_object()?;
    let channel = resolve(state, &body)?;
    let t = &channel.transport;
    let result = match op {
        Op::Reply => t
            .reply(&outbound_args(&body))
            .map(|sent| json!({ "sent": sent })),
        Op::React => t.react(&outbound_args(&body)).map(|()| json!({"ok": true})),
        Op::Edit => t.edit(&outbound_args(&body)).map(|()| json!({"ok": true})),
        Op::Permission => t
            .send_permission(&permission_args(&body))
            .map(|sent| json!({ "sent": sent })),
        Op::Download => t
            .download(&str_field(&body, "file_id").unwrap_or_default())
            .map(|path| json!({ "path": path })),
    };
    result
        .map(|v| Resp::ok(&v))
        .map_err(|e| transport_error(&channel, e))
}

/// The live channel named by `body.channel` (400s of spec 01 §2.2.3).
fn resolve(state: &AppState, body: &Map<String, Value>) -> Result<Arc<Channel>, ApiError> {
    let name = match body.get("channel").and_then(Value::as_str) {
        Some(c) if !c.is_empty() => c,
        _ => {
            return Err(ApiError::bad_request(
                "missing 'channel' field in request body",
            ))
        }
    };
    state.channels.get(name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "unknown channel \"{name}\" — known channels: {}",
            state.channels.known_list()
        ))
    })
}

/// Maps a transport failure (spec 05 §0.4, §0.5).
pub fn transport_error(channel: &Channel, e: TransportError) -> ApiError {
    match e {
        TransportError::Unsupported(op) => ApiError::bad_request(format!(
            "transport \"{}\" for channel \"{}\" does not support {op}",
            channel.transport.kind(),
            channel.name
        )),
        TransportError::Config(m) => ApiError::bad_request(m),
        TransportError::Runtime(m) => {
            ApiError::custom(500, json!({"error": format!("Error: {m}")}))
        }
    }
}

/// A string field; numbers (telegram ids are often sent as numbers) are stringified.
fn str_field(body: &Map<String, Value>, key: &str) -> Option<String> {
    match body.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Arguments of reply/react/edit, with the meta merge of spec 05 §3: a top-level
/// `chat_id` is copied into `meta.chat_id` unless meta already has one.
pub fn outbound_args(body: &Map<String, Value>) -> OutboundArgs {
    let mut meta: BTreeMap<String, Value> = body
        .get("meta")
        .and_then(Value::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();
    let chat_id = str_field(body, "chat_id");
    if let Some(id) = &chat_id {
        meta.entry("chat_id".into()).or_insert_with(|| json!(id));
    }
    let files = body
        .get("files")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    OutboundArgs {
        chat_id,
        text: str_field(body, "text"),
        reply_to: str_field(body, "reply_to"),
        message_id: str_field(body, "message_id"),
        emoji: str_field(body, "emoji"),
        files,
        meta,
    }
}

fn permission_args(body: &Map<String, Value>) -> PermissionArgs {
    let f = |k: &str| str_field(body, k).unwrap_or_default();
    PermissionArgs {
        request_id: f("request_id"),
        tool_name: f("tool_name"),
        description: f("description"),
        input_preview: f("input_preview"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_merge_keeps_explicit_chat_id() {
        let body =
            json!({"channel":"c","chat_id":"42","text":"hi","files":["/a", 3],"meta":{"x":"y"}});
        let a = outbound_args(body.as_object().unwrap());
        assert_eq!(a.meta.get("chat_id"), Some(&json!("42")));
        assert_eq!(a.meta.get("x"), Some(&json!("y")));
        assert_eq!(a.files, vec!["/a".to_string()]);
        let body = json!({"chat_id":7,"meta":{"chat_id":"9"},"files":"abc"});
        let a = outbound_args(body.as_object().unwrap());
        assert_eq!(a.chat_id.as_deref(), Some("7"));
        assert_eq!(a.meta.get("chat_id"), Some(&json!("9")));
        assert!(a.files.is_empty());
    }
}

//! The per-request logic of `/mcp/<channel>` after auth (spec 05 §1.2–§1.5): session
//! dispatch, the SDK's Streamable-HTTP transport checks, JSON-RPC method dispatch, and the
//! choice of JSON or SSE framing. It takes plain request facts and returns a response
//! description, so it is independent of the HTTP server and unit-testable.
//!
//! Divergences from the reference, on purpose (spec 05 §1.2 [ext], spec 07 §3):
//! - a non-empty but unknown (or expired, or other-channel) `Mcp-Session-Id` on GET, DELETE
//!   or a non-initialize POST gets `404 -32001 "Session not found"`, so clients re-initialize
//!   (the reference answers 400 after a restart);
//! - a GET without a session id gets `405` with `Allow: POST, DELETE`;
//! - any known `MCP-Protocol-Version` is accepted, whatever was negotiated;
//! - a client that accepts only `application/json` gets a plain JSON response; one that
//!   accepts `text/event-stream` gets the reference's SSE-framed response.

use crossbeam_channel::Receiver;
use serde_json::{json, Value};

use super::jsonrpc::{self, Message};
use super::protocol::{self, NotifyNamespace};
use super::session::{McpSessionStore, OpenPushError, SessionInfo};
use super::sse;
use super::tools::{self, Surface, ToolResult};

/// The facts of one `/mcp/<ch>` request the endpoint needs (auth already passed).
pub struct McpHttpRequest<'a> {
    pub method: &'a str,
    pub channel: &'a str,
    pub session_id: Option<&'a str>,
    pub accept: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub protocol_version: Option<&'a str>,
    pub body: &'a [u8],
    /// The bearer token's full scope list.
    pub scopes: Vec<String>,
}

/// What to send back.
pub enum McpHttpResponse {
    /// `application/json` body (errors, JSON-mode results).
    Json {
        status: u16,
        body: Value,
        session_id: Option<String>,
        allow: Option<&'static str>,
    },
    /// `200 text/event-stream`, finite body of `event: message` frames.
    Sse { body: Vec<u8>, session_id: String },
    /// Empty body (`202`, `200` after DELETE, `204`).
    Empty { status: u16 },
    /// `200 text/event-stream` kept open; frames arrive on `rx`. Call
    /// `McpSessionStore::close_push(session_id, stream_id)` when the stream ends.
    PushStream {
        session_id: String,
        stream_id: u64,
        rx: Receiver<Vec<u8>>,
    },
}

/// What the endpoint needs from the rest of the daemon.
pub trait McpHost {
    /// Surface of a session created now on `channel` (pull iff an attached agent owns it).
    fn surface_for(&self, channel: &str) -> Surface;
    /// Run one tool for `session`.
    fn call_tool(&self, session: &SessionInfo, name: &str, args: &Value) -> ToolResult;
    fn namespace(&self) -> NotifyNamespace {
        NotifyNamespace::Agent
    }
}

fn err(status: u16, code: i64, message: &str) -> McpHttpResponse {
    McpHttpResponse::Json {
        status,
        body: jsonrpc::transport_error(code, message),
        session_id: None,
        allow: None,
    }
}

fn session_not_found() -> McpHttpResponse {
    err(404, jsonrpc::SESSION_NOT_FOUND, "Session not found")
}

fn version_error(v: Option<&str>) -> Option<McpHttpResponse> {
    let v = v.map(str::trim).filter(|v| !v.is_empty())?;
    (!protocol::is_supported(v)).then(|| {
        err(
            400,
            jsonrpc::TRANSPORT_ERROR,
            &protocol::unsupported_version_message(v),
        )
    })
}

/// Handle one request (spec 05 §1.2 session dispatch, then §1.3 per method).
pub fn handle(
    store: &McpSessionStore,
    host: &dyn McpHost,
    req: &McpHttpRequest,
) -> McpHttpResponse {
    let sid = req.session_id.map(str::trim).filter(|s| !s.is_empty());
    let session = sid
        .filter(|id| store.get(id).is_some_and(|s| s.channel == req.channel))
        .and_then(|id| store.touch(id, &req.scopes));
    match (req.method, session) {
        ("POST", session) => post(store, host, req, session, sid.is_some()),
        ("GET", Some(s)) => get(store, req, &s),
        ("GET", None) if sid.is_some() => session_not_found(),
        ("GET", None) => McpHttpResponse::Json {
            status: 405,
            body: jsonrpc::transport_error(
                jsonrpc::TRANSPORT_ERROR,
                "Method not allowed: open a session with an initialize POST first",
            ),
            session_id: None,
            allow: Some("POST, DELETE"),
        },
        ("DELETE", Some(s)) => {
            if let Some(e) = version_error(req.protocol_version) {
                return e;
            }
            store.remove(&s.id);
            McpHttpResponse::Empty { status: 200 }
        }
        ("DELETE", None) if sid.is_some() => session_not_found(),
        ("DELETE", None) => McpHttpResponse::Empty { status: 204 },
        (_, Some(_)) => McpHttpResponse::Json {
            status: 405,
            body: jsonrpc::transport_error(jsonrpc::TRANSPORT_ERROR, "Method not allowed."),
            session_id: None,
            allow: Some("GET, POST, DELETE"),
        },
        (_, None) => err(400, jsonrpc::TRANSPORT_ERROR, "No valid session"),
    }
}

fn get(store: &McpSessionStore, req: &McpHttpRequest, s: &SessionInfo) -> McpHttpResponse {
    if !req.accept.unwrap_or("").contains("text/event-stream") {
        return err(
            406,
            jsonrpc::TRANSPORT_ERROR,
            "Not Acceptable: Client must accept text/event-stream",
        );
    }
    if let Some(e) = version_error(req.protocol_version) {
        return e;
    }
    match store.open_push(&s.id) {
        Ok((stream_id, rx)) => McpHttpResponse::PushStream {
            session_id: s.id.clone(),
            stream_id,
            rx,
        },
        Err(OpenPushError::Conflict) => err(
            409,
            jsonrpc::TRANSPORT_ERROR,
            "Conflict: Only one SSE stream is allowed per session",
        ),
        Err(OpenPushError::NotFound) => session_not_found(),
    }
}

/// How the client wants POST responses framed; `None` → 406.
fn response_mode(accept: Option<&str>) -> Option<bool> {
    let a = accept.unwrap_or("");
    let sse = a.contains("text/event-stream");
    let json = a.contains("application/json") || a.contains("*/*") || a.contains("application/*");
    if sse {
        Some(true)
    } else if json {
        Some(false)
    } else {
        None
    }
}

fn post(
    store: &McpSessionStore,
    host: &dyn McpHost,
    req: &McpHttpRequest,
    session: Option<SessionInfo>,
    had_sid: bool,
) -> McpHttpResponse {
    let Some(use_sse) = response_mode(req.accept) else {
        return err(
            406,
            jsonrpc::TRANSPORT_ERROR,
            "Not Acceptable: Client must accept both application/json and text/event-stream",
        );
    };
    if !req.content_type.unwrap_or("").contains("application/json") {
        return err(
            415,
            jsonrpc::TRANSPORT_ERROR,
            "Unsupported Media Type: Content-Type must be application/json",
        );
    }
    let Ok(value) = serde_json::from_slice::<Value>(req.body) else {
        return err(400, jsonrpc::PARSE_ERROR, "Parse error: Invalid JSON");
    };
    let Some(body) = jsonrpc::classify_body(&value) else {
        return err(
            400,
            jsonrpc::PARSE_ERROR,
            "Parse error: Invalid JSON-RPC message",
        );
    };
    let init = body.messages.iter().find_map(|m| match m {
        Message::Request { id, method, params } if jsonrpc::is_valid_initialize(method, params) => {
            Some((id.clone(), params.clone()))
        }
        _ => None,
    });
    let session = match (init, session) {
        (Some(_), Some(_)) => {
            return err(
                400,
                jsonrpc::INVALID_REQUEST,
                "Invalid Request: Server already initialized",
            )
        }
        (Some(_), None) if body.messages.len() > 1 => {
            return err(
                400,
                jsonrpc::INVALID_REQUEST,
                "Invalid Request: Only one initialization request is allowed",
            )
        }
        (Some((id, params)), None) => return initialize(store, host, req, &id, &params, use_sse),
        (None, None) if had_sid => return session_not_found(),
        (None, None) => {
            return err(
                400,
                jsonrpc::TRANSPORT_ERROR,
                "Bad Request: Server not initialized",
            )
        }
        (None, Some(s)) => s,
    };
    if let Some(e) = version_error(req.protocol_version) {
        return e;
    }
    let responses: Vec<Value> = body
        .messages
        .iter()
        .filter_map(|m| dispatch(store, host, &session, m))
        .collect();
    if !body.messages.iter().any(Message::is_request) {
        return McpHttpResponse::Empty { status: 202 };
    }
    respond(responses, body.is_batch, use_sse, &session.id)
}

fn respond(responses: Vec<Value>, is_batch: bool, use_sse: bool, sid: &str) -> McpHttpResponse {
    if use_sse {
        return McpHttpResponse::Sse {
            body: sse::frames(&responses),
            session_id: sid.to_string(),
        };
    }
    if responses.is_empty() {
        // every request was cancelled
        return McpHttpResponse::Empty { status: 202 };
    }
    let body = if is_batch {
        Value::Array(responses)
    } else {
        responses.into_iter().next().unwrap_or(Value::Null)
    };
    McpHttpResponse::Json {
        status: 200,
        body,
        session_id: Some(sid.to_string()),
        allow: None,
    }
}

fn initialize(
    store: &McpSessionStore,
    host: &dyn McpHost,
    req: &McpHttpRequest,
    id: &Value,
    params: &Value,
    use_sse: bool,
) -> McpHttpResponse {
    let surface = host.surface_for(req.channel);
    let sid = store.create(req.channel, surface, req.scopes.clone());
    let version = params["protocolVersion"].as_str().unwrap_or("");
    let result = protocol::initialize_result(version, req.channel, surface, host.namespace());
    log::info!(
        "MCP session {sid} opened on channel {:?} ({:?} surface, client {:?})",
        req.channel,
        surface,
        params["clientInfo"]["name"].as_str().unwrap_or("")
    );
    respond(vec![jsonrpc::result(id, result)], false, use_sse, &sid)
}

/// One message → its response, if it is a request (and was not cancelled).
fn dispatch(
    store: &McpSessionStore,
    host: &dyn McpHost,
    session: &SessionInfo,
    msg: &Message,
) -> Option<Value> {
    let (id, method, params) = match msg {
        Message::Request { id, method, params } => (id, method, params),
        Message::Notification { method, params } => {
            if method == "notifications/cancelled" {
                if let Some(rid) = params.get("requestId") {
                    store.cancel(&session.id, jsonrpc::id_key(rid));
                }
            }
            return None;
        }
        Message::Response => return None,
    };
    let response = match method.as_str() {
        "ping" => jsonrpc::result(id, json!({})),
        "tools/list" => jsonrpc::result(id, tools::list(session.surface)),
        "tools/call" => call_tool(host, session, id, params),
        "initialize" => jsonrpc::error(id, jsonrpc::INVALID_PARAMS, "Invalid params: initialize"),
        _ => jsonrpc::error(id, jsonrpc::METHOD_NOT_FOUND, "Method not found"),
    };
    (!store.take_cancelled(&session.id, &jsonrpc::id_key(id))).then_some(response)
}

fn call_tool(host: &dyn McpHost, session: &SessionInfo, id: &Value, params: &Value) -> Value {
    let Some(name) = params.get("name").and_then(Value::as_str) else {
        return jsonrpc::error(
            id,
            jsonrpc::INVALID_PARAMS,
            "Invalid params: tools/call requires a string `name`",
        );
    };
    let args = match params.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(a @ Value::Object(_)) => a.clone(),
        Some(_) => {
            return jsonrpc::error(
                id,
                jsonrpc::INVALID_PARAMS,
                "Invalid params: `arguments` must be an object",
            )
        }
    };
    jsonrpc::result(id, host.call_tool(session, name, &args).to_json())
}

#[cfg(test)]
mod tests;

//! JSON-RPC 2.0 as the Streamable-HTTP MCP endpoint speaks it (spec 05 §1.3 check 4, §1.5):
//! classifying a POST body into requests, notifications and responses, the error codes, and
//! the response objects. Everything here is pure.

use serde_json::{json, Value};

/// `-32700`: the body is not JSON or not JSON-RPC (HTTP 400).
pub const PARSE_ERROR: i64 = -32700;
/// `-32600`: a structurally wrong request, e.g. a second `initialize` (HTTP 400).
pub const INVALID_REQUEST: i64 = -32600;
/// `-32601`: unknown method (inside a 200 response).
pub const METHOD_NOT_FOUND: i64 = -32601;
/// `-32602`: malformed params (inside a 200 response).
pub const INVALID_PARAMS: i64 = -32602;
/// `-32603`: a handler failure (inside a 200 response).
pub const INTERNAL_ERROR: i64 = -32603;
/// `-32000`: transport-level errors (400/405/406/409/415).
pub const TRANSPORT_ERROR: i64 = -32000;
/// `-32001`: the session id is not known (404) — clients re-initialize on it.
pub const SESSION_NOT_FOUND: i64 = -32001;

/// One classified JSON-RPC message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// Has an `id` (string or integer) and a `method`.
    Request {
        id: Value,
        method: String,
        params: Value,
    },
    /// Has a `method` and no `id`.
    Notification { method: String, params: Value },
    /// A result or error sent by the client (we never send requests, so these are ignored).
    Response,
}

impl Message {
    pub fn is_request(&self) -> bool {
        matches!(self, Message::Request { .. })
    }
}

/// A POST body: one message or a batch (array) of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Body {
    pub messages: Vec<Message>,
    pub is_batch: bool,
}

/// Classify a parsed body; `None` means "Parse error: Invalid JSON-RPC message".
pub fn classify_body(v: &Value) -> Option<Body> {
    match v {
        Value::Array(items) => {
            let messages = items.iter().map(classify).collect::<Option<Vec<_>>>()?;
            Some(Body {
                messages,
                is_batch: true,
            })
        }
        other => Some(Body {
            messages: vec![classify(other)?],
            is_batch: false,
        }),
    }
}

fn valid_id(id: &Value) -> bool {
    match id {
        Value::String(_) => true,
        Value::Number(n) => n.is_i64() || n.is_u64(),
        _ => false,
    }
}

/// Classify one message per the JSON-RPC 2.0 schema the MCP SDK enforces.
pub fn classify(v: &Value) -> Option<Message> {
    let obj = v.as_object()?;
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return None;
    }
    let params = obj.get("params").cloned().unwrap_or(Value::Null);
    if let Some(params_v) = obj.get("params") {
        if !params_v.is_object() && !params_v.is_null() {
            return None;
        }
    }
    match (obj.get("method"), obj.get("id")) {
        (Some(Value::String(method)), Some(id)) if valid_id(id) => Some(Message::Request {
            id: id.clone(),
            method: method.clone(),
            params,
        }),
        (Some(Value::String(method)), None) => Some(Message::Notification {
            method: method.clone(),
            params,
        }),
        (Some(_), _) => None,
        (None, Some(id)) if valid_id(id) || id.is_null() => {
            let has_result = obj.contains_key("result");
            let has_error = obj.get("error").is_some_and(Value::is_object);
            (has_result ^ has_error).then_some(Message::Response)
        }
        (None, _) => None,
    }
}

/// Whether `params` are a valid `initialize` request's params (spec 05 §1.3 check 5):
/// `protocolVersion` string, `capabilities` object, `clientInfo` with `name`/`version` strings.
pub fn is_valid_initialize(method: &str, params: &Value) -> bool {
    if method != "initialize" {
        return false;
    }
    let info = &params["clientInfo"];
    params["protocolVersion"].is_string()
        && params["capabilities"].is_object()
        && info["name"].is_string()
        && info["version"].is_string()
}

/// A success response.
pub fn result(id: &Value, result: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": result})
}

/// An error response to a request.
pub fn error(id: &Value, code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// A transport-level error body (`id: null`), as the SDK writes them.
pub fn transport_error(code: i64, message: &str) -> Value {
    error(&Value::Null, code, message)
}

/// A server → client notification.
pub fn notification(method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": params})
}

/// The id in a canonical text form, for matching `notifications/cancelled` (`requestId`).
pub fn id_key(id: &Value) -> String {
    match id {
        Value::String(s) => format!("s:{s}"),
        other => format!("n:{other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_the_three_kinds() {
        let req = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
        assert!(matches!(classify(&req), Some(Message::Request { .. })));
        let req = json!({"jsonrpc":"2.0","id":"a","method":"tools/list","params":{}});
        assert!(classify(&req).unwrap().is_request());
        let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
        assert!(matches!(
            classify(&note),
            Some(Message::Notification { .. })
        ));
        let resp = json!({"jsonrpc":"2.0","id":3,"result":{}});
        assert_eq!(classify(&resp), Some(Message::Response));
        let err = json!({"jsonrpc":"2.0","id":3,"error":{"code":1,"message":"x"}});
        assert_eq!(classify(&err), Some(Message::Response));
    }

    #[test]
    fn rejects_invalid_messages() {
        for bad in [
            json!({"id":1,"method":"ping"}),
            json!({"jsonrpc":"1.0","id":1,"method":"ping"}),
            json!({"jsonrpc":"2.0","id":1.5,"method":"ping"}),
            json!({"jsonrpc":"2.0","id":null,"method":"ping"}),
            json!({"jsonrpc":"2.0","id":{},"method":"ping"}),
            json!({"jsonrpc":"2.0","id":1,"method":7}),
            json!({"jsonrpc":"2.0","id":1,"method":"x","params":[1]}),
            json!({"jsonrpc":"2.0","id":1}),
            json!({"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}),
            json!("text"),
            json!(42),
        ] {
            assert_eq!(classify(&bad), None, "{bad}");
        }
    }

    #[test]
    fn batches() {
        let b = classify_body(&json!([
            {"jsonrpc":"2.0","id":1,"method":"ping"},
            {"jsonrpc":"2.0","method":"notifications/initialized"}
        ]))
        .unwrap();
        assert!(b.is_batch);
        assert_eq!(b.messages.len(), 2);
        assert!(classify_body(&json!([{"jsonrpc":"2.0","id":1,"method":"ping"}, 5])).is_none());
        let single = classify_body(&json!({"jsonrpc":"2.0","id":1,"method":"ping"})).unwrap();
        assert!(!single.is_batch);
    }

    #[test]
    fn initialize_params_validation() {
        let ok = json!({"protocolVersion":"2025-06-18","capabilities":{},
                        "clientInfo":{"name":"c","version":"1"}});
        assert!(is_valid_initialize("initialize", &ok));
        assert!(!is_valid_initialize("ping", &ok));
        let no_info = json!({"protocolVersion":"2025-06-18","capabilities":{}});
        assert!(!is_valid_initialize("initialize", &no_info));
        let bad_caps = json!({"protocolVersion":"x","capabilities":[],
                              "clientInfo":{"name":"c","version":"1"}});
        assert!(!is_valid_initialize("initialize", &bad_caps));
    }

    #[test]
    fn response_shapes() {
        let r = result(&json!(7), json!({}));
        assert_eq!(r, json!({"jsonrpc":"2.0","id":7,"result":{}}));
        let e = transport_error(TRANSPORT_ERROR, "No valid session");
        assert_eq!(e["id"], Value::Null);
        assert_eq!(e["error"]["code"], -32000);
        assert_ne!(id_key(&json!(1)), id_key(&json!("1")));
    }
}

//! The bridge's stdin side (spec 05 §4.2, §4.3, §4.5): classify each newline-delimited
//! JSON-RPC message, answer `initialize` / `ping` / `tools/list`, proxy `tools/call` to the
//! daemon's REST routes, and relay permission requests.
//!
//! Tool calls run on their own short-lived threads so a slow daemon call (a telegram upload)
//! never delays a `ping` or a second call; responses are matched by id. Divergences [ext]:
//! the bridge's own channel always wins over an argument named `channel`; a network failure
//! becomes a tool error `<tool> failed: <error>` rather than a JSON-RPC `-32603`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use parking_lot::Mutex;
use serde_json::{json, Map, Value};

use super::client::DaemonClient;
use super::surface::{self, Namespace};
use super::Output;

/// Standard JSON-RPC error codes used here.
const METHOD_NOT_FOUND: i64 = -32601;
const INVALID_PARAMS: i64 = -32602;

/// One bridge session: the stdio peer plus the daemon it relays to.
pub struct Session {
    client: Arc<DaemonClient>,
    channel: String,
    ns: Namespace,
    out: Arc<Output>,
    initialized: AtomicBool,
    client_capabilities: Mutex<Option<Value>>,
    workers: Mutex<Vec<JoinHandle<()>>>,
}

/// What a parsed line is.
enum Kind {
    Request { id: Value, method: String },
    Notification { method: String },
    Response,
}

impl Session {
    pub fn new(
        client: Arc<DaemonClient>,
        channel: String,
        ns: Namespace,
        out: Arc<Output>,
    ) -> Self {
        Session {
            client,
            channel,
            ns,
            out,
            initialized: AtomicBool::new(false),
            client_capabilities: Mutex::new(None),
            workers: Mutex::new(Vec::new()),
        }
    }

    /// Whether `notifications/initialized` has arrived.
    pub fn is_initialized(&self) -> bool {
        self.initialized.load(Ordering::SeqCst)
    }

    /// Handle one input line (already stripped of `\n`).
    pub fn handle_line(self: &Arc<Self>, line: &str) {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.trim().is_empty() {
            return;
        }
        let msg: Value = match serde_json::from_str(line) {
            Ok(v) => v,
            Err(e) => {
                eprintln!("parachute-agent bridge: dropping a non-JSON input line: {e}");
                return;
            }
        };
        match msg {
            Value::Array(batch) => {
                let replies: Vec<Value> = batch
                    .into_iter()
                    .filter_map(|m| self.handle_message(m, false))
                    .collect();
                if !replies.is_empty() {
                    self.out.send(&Value::Array(replies));
                }
            }
            single => {
                if let Some(reply) = self.handle_message(single, true) {
                    self.out.send(&reply);
                }
            }
        }
    }

    /// Wait for in-flight tool calls (used at stdin EOF).
    pub fn join_workers(&self) {
        let workers = std::mem::take(&mut *self.workers.lock());
        for w in workers {
            let _ = w.join();
        }
    }

    /// Handle one message; returns the response to write now, if any. With `may_defer`, a
    /// `tools/call` is answered later from a worker thread.
    fn handle_message(self: &Arc<Self>, msg: Value, may_defer: bool) -> Option<Value> {
        let Some(kind) = classify(&msg) else {
            eprintln!("parachute-agent bridge: dropping an invalid JSON-RPC message");
            return None;
        };
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        match kind {
            Kind::Response => None,
            Kind::Notification { method } => {
                self.on_notification(&method, params);
                None
            }
            Kind::Request { id, method } => {
                if method == "tools/call" && may_defer {
                    let me = Arc::clone(self);
                    let handle = std::thread::spawn(move || {
                        let reply = respond(id, me.tools_call(&params));
                        me.out.send(&reply);
                    });
                    let mut workers = self.workers.lock();
                    workers.retain(|w| !w.is_finished());
                    workers.push(handle);
                    return None;
                }
                Some(respond(id, self.on_request(&method, &params)))
            }
        }
    }

    fn on_request(&self, method: &str, params: &Value) -> Result<Value, (i64, String)> {
        match method {
            "initialize" => {
                *self.client_capabilities.lock() = params.get("capabilities").cloned();
                let requested = params.get("protocolVersion").and_then(Value::as_str);
                Ok(surface::initialize_result(self.ns, requested))
            }
            "ping" => Ok(json!({})),
            "tools/list" => Ok(surface::push_tools()),
            "tools/call" => self.tools_call(params),
            _ => Err((METHOD_NOT_FOUND, "Method not found".into())),
        }
    }

    fn on_notification(self: &Arc<Self>, method: &str, params: Value) {
        if method == "notifications/initialized" {
            self.initialized.store(true, Ordering::SeqCst);
            self.warn_if_no_channel_capability();
        } else if method == self.ns.permission_request_method() {
            self.relay_permission(params);
        }
    }

    fn warn_if_no_channel_capability(&self) {
        let cap = self.ns.capability();
        let caps = self.client_capabilities.lock();
        let has = caps
            .as_ref()
            .and_then(|c| c.get("experimental"))
            .and_then(|e| e.get(&cap))
            .is_some();
        if !has {
            eprintln!(
                "parachute-agent bridge: WARNING: the MCP client did not declare the experimental \"{cap}\" capability.\n\
                 Inbound messages will NOT reach this session. Launch Claude Code with\n\
                 --dangerously-load-development-channels=server:parachute-agent (the '=' form)."
            );
        }
    }

    fn relay_permission(self: &Arc<Self>, params: Value) {
        let fields = ["request_id", "tool_name", "description", "input_preview"];
        let mut body = Map::new();
        body.insert("channel".into(), json!(self.channel));
        for f in fields {
            match params.get(f) {
                Some(Value::String(s)) => {
                    body.insert(f.into(), json!(s));
                }
                _ => {
                    eprintln!("parachute-agent bridge: ignoring a permission request without a string {f}");
                    return;
                }
            }
        }
        let client = Arc::clone(&self.client);
        std::thread::spawn(move || {
            if let Err(e) = client.post_json("/api/permission", &Value::Object(body)) {
                eprintln!("parachute-agent bridge: failed to relay permission request: {e}");
            }
        });
    }

    fn tools_call(&self, params: &Value) -> Result<Value, (i64, String)> {
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Err((
                INVALID_PARAMS,
                "Invalid params: tools/call needs a string \"name\"".into(),
            ));
        };
        let args = params
            .get("arguments")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Ok(self.call_tool(name, args))
    }

    /// Proxy one tool call to the daemon (spec 05 §4.3) and build the tool result.
    fn call_tool(&self, name: &str, args: Map<String, Value>) -> Value {
        let Some(route) = surface::route_of(name) else {
            return surface::tool_err(format!("unknown tool: {name}"));
        };
        let verb = surface::failure_verb(name);
        let mut body = args;
        body.insert("channel".into(), json!(self.channel));
        let (status, text) = match self.client.post_json(route, &Value::Object(body)) {
            Ok(r) => r,
            Err(e) => return surface::tool_err(format!("{verb} failed: {e}")),
        };
        if !(200..300).contains(&status) {
            return surface::tool_err(format!("{verb} failed: {text}"));
        }
        let parsed: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        match name {
            "reply" => {
                let ids: Vec<String> = parsed
                    .get("sent")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(id_text).collect())
                    .unwrap_or_default();
                surface::tool_ok(surface::sent_text(&ids))
            }
            "react" => surface::tool_ok("reacted"),
            "edit_message" => surface::tool_ok("edited"),
            _ => match parsed.get("path").and_then(Value::as_str) {
                Some(p) => surface::tool_ok(p),
                None => surface::tool_err(format!("{verb} failed: no path in response: {text}")),
            },
        }
    }
}

fn id_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn classify(msg: &Value) -> Option<Kind> {
    let obj = msg.as_object()?;
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return None;
    }
    let id = obj.get("id").filter(|i| i.is_string() || i.is_number());
    match (obj.get("method").and_then(Value::as_str), id) {
        (Some(m), Some(id)) => Some(Kind::Request {
            id: id.clone(),
            method: m.to_string(),
        }),
        (Some(m), None) if !obj.contains_key("id") => Some(Kind::Notification {
            method: m.to_string(),
        }),
        (None, Some(_)) if obj.contains_key("result") || obj.contains_key("error") => {
            Some(Kind::Response)
        }
        _ => None,
    }
}

fn respond(id: Value, result: Result<Value, (i64, String)>) -> Value {
    match result {
        Ok(r) => json!({"jsonrpc": "2.0", "id": id, "result": r}),
        Err((code, message)) => {
            json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> (Arc<Session>, Arc<Output>) {
        // Port 9 (discard) on loopback: nothing listens, calls fail fast.
        let client = Arc::new(DaemonClient::new("http://127.0.0.1:9", None));
        let out = Arc::new(Output::memory());
        let s = Arc::new(Session::new(
            client,
            "eng".into(),
            Namespace::Agent,
            Arc::clone(&out),
        ));
        (s, out)
    }

    #[test]
    fn initialize_ping_list_and_unknown_methods() {
        let (s, out) = session();
        s.handle_line(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#);
        s.handle_line("{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}\r");
        s.handle_line(r#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":"x"}}"#);
        s.handle_line(r#"{"jsonrpc":"2.0","id":4,"method":"resources/list"}"#);
        s.handle_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        s.handle_line("not json");
        s.handle_line(r#"{"jsonrpc":"2.0","id":9,"result":{}}"#);
        let lines = out.lines();
        assert_eq!(lines.len(), 4, "{lines:?}");
        assert_eq!(lines[0]["result"]["protocolVersion"], "2025-06-18");
        assert_eq!(lines[0]["result"]["serverInfo"]["name"], "parachute-agent");
        assert_eq!(lines[1], json!({"jsonrpc":"2.0","id":"p","result":{}}));
        assert_eq!(lines[2]["result"]["tools"].as_array().unwrap().len(), 4);
        assert_eq!(lines[3]["error"]["code"], -32601);
        assert!(s.is_initialized());
    }

    #[test]
    fn tool_call_errors_are_tool_results() {
        let (s, out) = session();
        s.handle_line(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"nope","arguments":{}}}"#);
        s.handle_line(r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"reply","arguments":{"text":"x"}}}"#);
        s.handle_line(r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{}}"#);
        s.join_workers();
        let mut lines = out.lines();
        lines.sort_by_key(|l| l["id"].as_i64());
        assert_eq!(lines[0]["result"]["isError"], true);
        assert_eq!(
            lines[0]["result"]["content"][0]["text"],
            "unknown tool: nope"
        );
        let text = lines[1]["result"]["content"][0]["text"].as_str().unwrap();
        assert!(text.starts_with("reply failed: "), "{text}");
        assert_eq!(lines[1]["result"]["isError"], true);
        assert_eq!(lines[2]["error"]["code"], -32602);
    }

    #[test]
    fn batches_get_one_array_reply() {
        let (s, out) = session();
        s.handle_line(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":2,"method":"ping"}]"#);
        let lines = out.lines();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].as_array().unwrap().len(), 2);
    }
}

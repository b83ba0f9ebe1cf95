//! A scripted JSON-RPC client for `/mcp/<ch>` over HTTP: POSTs with the headers a real
//! Streamable-HTTP client sends, parses SSE-framed or JSON responses, and opens the GET
//! push stream on a reader thread.

use std::io::{BufRead, BufReader};
use std::time::Duration;

use crossbeam_channel::{unbounded, Receiver};
use serde_json::{json, Value};

use crate::support::daemon::Daemon;
use crate::support::http::Reply;

pub const ACCEPT_BOTH: &str = "application/json, text/event-stream";

pub struct McpClient<'a> {
    pub daemon: &'a Daemon,
    pub channel: String,
    pub token: Option<String>,
    pub session: Option<String>,
    next_id: u64,
}

/// The JSON-RPC messages of an SSE-framed body (`event: message\ndata: …\n\n`).
pub fn sse_messages(body: &str) -> Vec<Value> {
    body.split("\n\n")
        .filter(|f| !f.trim().is_empty())
        .map(|frame| {
            let mut event = None;
            let mut data = None;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = Some(v.to_string());
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = Some(v.to_string());
                }
            }
            assert_eq!(event.as_deref(), Some("message"), "frame {frame:?}");
            serde_json::from_str(&data.expect("data line")).unwrap()
        })
        .collect()
}

impl<'a> McpClient<'a> {
    pub fn new(daemon: &'a Daemon, channel: &str, token: Option<&str>) -> Self {
        McpClient {
            daemon,
            channel: channel.to_string(),
            token: token.map(str::to_string),
            session: None,
            next_id: 1,
        }
    }

    pub fn path(&self) -> String {
        format!("/mcp/{}", self.channel)
    }

    /// POST a raw JSON body with the given Accept; session header if we have one.
    pub fn post_raw(&self, body: &Value, accept: &str) -> Reply {
        let bytes = serde_json::to_vec(body).unwrap();
        let mut headers = vec![("Content-Type", "application/json"), ("Accept", accept)];
        let sid;
        if let Some(s) = &self.session {
            sid = s.clone();
            headers.push(("mcp-session-id", &sid));
            headers.push(("mcp-protocol-version", "2025-06-18"));
        }
        self.daemon.send(
            "POST",
            &self.path(),
            self.token.as_deref(),
            &headers,
            Some(&bytes),
        )
    }

    pub fn initialize(&mut self) -> Value {
        let r = self.post_raw(
            &json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                "protocolVersion":"2025-06-18","capabilities":{},
                "clientInfo":{"name":"it","version":"1"}}}),
            ACCEPT_BOTH,
        );
        assert_eq!(r.status, 200, "initialize: {}", r.body);
        assert_eq!(r.header("content-type"), Some("text/event-stream"));
        self.session = Some(r.header("mcp-session-id").expect("session id").to_string());
        let msgs = sse_messages(&r.body);
        assert_eq!(msgs.len(), 1);
        let init = msgs[0]["result"].clone();
        let n = self.post_raw(
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            ACCEPT_BOTH,
        );
        assert_eq!(n.status, 202, "{}", n.body);
        assert!(n.body.is_empty());
        init
    }

    /// One request; returns the JSON-RPC response (`result` or `error`).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let r = self.post_raw(
            &json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}),
            ACCEPT_BOTH,
        );
        assert_eq!(r.status, 200, "{method}: {}", r.body);
        let msgs = sse_messages(&r.body);
        assert_eq!(msgs.len(), 1, "{}", r.body);
        assert_eq!(msgs[0]["id"], json!(id));
        msgs[0].clone()
    }

    /// `tools/call`; returns `(text, is_error)`.
    pub fn call(&mut self, name: &str, args: Value) -> (String, bool) {
        let r = self.request("tools/call", json!({"name": name, "arguments": args}));
        let result = &r["result"];
        assert!(result.is_object(), "tools/call {name}: {r}");
        (
            result["content"][0]["text"]
                .as_str()
                .unwrap_or("")
                .to_string(),
            result["isError"] == json!(true),
        )
    }

    pub fn tool_names(&mut self) -> Vec<String> {
        let r = self.request("tools/list", json!({}));
        r["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_string())
            .collect()
    }

    pub fn delete(&self) -> Reply {
        let sid = self.session.clone().unwrap_or_default();
        self.daemon.send(
            "DELETE",
            &self.path(),
            self.token.as_deref(),
            &[("mcp-session-id", &sid)],
            None,
        )
    }

    /// Opens the GET push stream; `Err` carries a non-200 answer.
    pub fn open_stream(&self) -> Result<PushStream, Reply> {
        let url = self.daemon.url(&self.path());
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut req = agent.get(&url).header("Accept", "text/event-stream");
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        if let Some(s) = &self.session {
            req = req.header("mcp-session-id", s);
        }
        let mut resp = req.call().expect("GET stream");
        let status = resp.status().as_u16();
        let headers: Vec<(String, String)> = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        if status != 200 {
            let body = resp.body_mut().read_to_string().unwrap_or_default();
            return Err(Reply {
                status,
                headers,
                body,
            });
        }
        let (tx, rx) = unbounded();
        let reader = resp.into_body().into_reader();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(reader);
            let mut data = None;
            loop {
                let mut line = String::new();
                match lines.read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                    Ok(_) => {}
                }
                let line = line.trim_end_matches(['\r', '\n']);
                if let Some(d) = line.strip_prefix("data: ") {
                    data = serde_json::from_str::<Value>(d).ok();
                } else if line.is_empty() {
                    if let Some(v) = data.take() {
                        if tx.send(Some(v)).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(PushStream { headers, rx })
    }
}

pub struct PushStream {
    pub headers: Vec<(String, String)>,
    rx: Receiver<Option<Value>>,
}

impl PushStream {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The next pushed message, or `None` on timeout / end of stream.
    pub fn next(&self, timeout: Duration) -> Option<Value> {
        self.rx.recv_timeout(timeout).ok().flatten()
    }

    /// True if the stream ended within `timeout`.
    pub fn ended_within(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(None) => return true,
                Ok(Some(_)) => continue,
                Err(_) => return false,
            }
        }
    }
}

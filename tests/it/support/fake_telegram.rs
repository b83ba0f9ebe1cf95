//! A fake Telegram Bot API for black-box tests (spec 05 §6.2): a tiny_http server on a
//! free loopback port answering `/bot<token>/<method>` and `/file/bot<token>/<path>` the
//! way api.telegram.org does for the calls the transport makes: `getMe`, `getUpdates`
//! (long poll: `offset` confirms every earlier update, `timeout` seconds of waiting for a
//! new one), `sendMessage` (400 over 4096 UTF-16 units or empty), `sendPhoto` /
//! `sendDocument` / `sendVoice` (multipart), `editMessageText`, `setMessageReaction`,
//! `answerCallbackQuery`, `getFile` and the file download. A wrong token gets 401.
//! Tests inject updates and `409 Conflict`s and read a log of every call but `getUpdates`
//! (those are counted, with their offsets).
#![allow(dead_code)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde_json::{json, Map, Value};

/// One logged call: the method and its parameters (JSON body, query, or multipart fields;
/// a multipart file appears as `{filename, content_type, size}`).
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub params: Value,
}

#[derive(Default)]
struct State {
    pending: Vec<Value>,
    next_update_id: i64,
    next_message_id: i64,
    calls: Vec<Call>,
    conflicts: usize,
    polls: usize,
    active_polls: usize,
    max_active_polls: usize,
    offsets: Vec<Option<i64>>,
    files: HashMap<String, (String, Vec<u8>)>,
}

struct Shared {
    token: String,
    state: Mutex<State>,
    cv: Condvar,
}

pub struct FakeTelegram {
    pub port: u16,
    shared: Arc<Shared>,
    server: Arc<tiny_http::Server>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeTelegram {
    pub fn start(token: &str) -> FakeTelegram {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind fake telegram"));
        let port = server.server_addr().to_ip().unwrap().port();
        let shared = Arc::new(Shared {
            token: token.to_string(),
            state: Mutex::new(State {
                next_update_id: 1000,
                next_message_id: 500,
                ..State::default()
            }),
            cv: Condvar::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let (srv, sh, st) = (server.clone(), shared.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !st.load(Ordering::SeqCst) {
                if let Ok(Some(rq)) = srv.recv_timeout(Duration::from_millis(100)) {
                    let sh = sh.clone();
                    std::thread::spawn(move || serve(&sh, rq));
                }
            }
        });
        FakeTelegram {
            port,
            shared,
            server,
            stop,
            thread: Some(thread),
        }
    }

    /// The origin for `PARACHUTE_AGENT_TELEGRAM_API`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Queues an update (its `update_id` is assigned) and wakes waiting long polls.
    pub fn push_update(&self, mut update: Value) -> i64 {
        let mut s = self.shared.state.lock();
        s.next_update_id += 1;
        let id = s.next_update_id;
        update["update_id"] = json!(id);
        s.pending.push(update);
        self.shared.cv.notify_all();
        id
    }

    /// A private text message from `user` (chat id = user id); returns the message id.
    pub fn push_text(&self, user: i64, text: &str) -> i64 {
        self.push_message(json!({
            "from": {"id": user, "is_bot": false, "first_name": "Ann", "username": format!("user{user}")},
            "chat": {"id": user, "type": "private"},
            "text": text,
        }))
    }

    /// A message update with `message_id` and `date` filled in; returns the message id.
    pub fn push_message(&self, mut message: Value) -> i64 {
        let mid = {
            let mut s = self.shared.state.lock();
            s.next_message_id += 1;
            s.next_message_id
        };
        message["message_id"] = json!(mid);
        if message.get("date").is_none() {
            message["date"] = json!(1_700_000_000);
        }
        self.push_update(json!({ "message": message }));
        mid
    }

    /// Makes the next `n` `getUpdates` answer `409 Conflict`.
    pub fn conflict_next(&self, n: usize) {
        self.shared.state.lock().conflicts = n;
    }

    pub fn add_file(&self, file_id: &str, file_path: &str, bytes: &[u8]) {
        self.shared
            .state
            .lock()
            .files
            .insert(file_id.into(), (file_path.into(), bytes.to_vec()));
    }

    pub fn polls(&self) -> usize {
        self.shared.state.lock().polls
    }

    /// The most `getUpdates` requests that were ever open at once (one poller per token).
    pub fn max_concurrent_polls(&self) -> usize {
        self.shared.state.lock().max_active_polls
    }

    pub fn offsets(&self) -> Vec<Option<i64>> {
        self.shared.state.lock().offsets.clone()
    }

    /// Updates not yet confirmed by an `offset`.
    pub fn pending(&self) -> usize {
        self.shared.state.lock().pending.len()
    }

    pub fn calls(&self, method: &str) -> Vec<Value> {
        self.shared
            .state
            .lock()
            .calls
            .iter()
            .filter(|c| c.method == method)
            .map(|c| c.params.clone())
            .collect()
    }

    /// Waits until at least `n` calls of `method` were made; returns them all.
    pub fn wait_calls(&self, method: &str, n: usize, timeout: Duration) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls(method);
            if calls.len() >= n || Instant::now() > deadline {
                return calls;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        self.shared.cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(rq: tiny_http::Request, status: u16, body: Value) {
    let resp = tiny_http::Response::from_string(body.to_string())
        .with_status_code(status)
        .with_header(tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap());
    let _ = rq.respond(resp);
}

fn error(rq: tiny_http::Request, status: u16, description: &str) {
    respond(
        rq,
        status,
        json!({"ok": false, "error_code": status, "description": description}),
    );
}

fn serve(sh: &Arc<Shared>, mut rq: tiny_http::Request) {
    let url = rq.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    if let Some(rest) = path.strip_prefix("/file/bot") {
        return serve_file(sh, rq, rest);
    }
    let Some((token, method)) = path.strip_prefix("/bot").and_then(|r| r.split_once('/')) else {
        return error(rq, 404, "Not Found");
    };
    if token != sh.token {
        return error(rq, 401, "Unauthorized");
    }
    let content_type = rq
        .headers()
        .iter()
        .find(|h| h.field.equiv("Content-Type"))
        .map(|h| h.value.to_string())
        .unwrap_or_default();
    let mut raw = Vec::new();
    let _ = rq.as_reader().read_to_end(&mut raw);
    let mut params = Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        params.insert(k.into_owned(), json!(v.into_owned()));
    }
    if content_type.starts_with("application/json") {
        if let Ok(Value::Object(m)) = serde_json::from_slice(&raw) {
            params.extend(m);
        }
    } else if let Some(b) = content_type.split("boundary=").nth(1) {
        params.extend(parse_multipart(&raw, b.trim()));
    }
    let params = Value::Object(params);
    if method == "getUpdates" {
        return get_updates(sh, rq, &params);
    }
    sh.state.lock().calls.push(Call {
        method: method.to_string(),
        params: params.clone(),
    });
    match answer(sh, method, &params) {
        Ok(result) => respond(rq, 200, json!({"ok": true, "result": result})),
        Err((status, d)) => error(rq, status, &d),
    }
}

fn get_updates(sh: &Arc<Shared>, rq: tiny_http::Request, params: &Value) {
    let offset = params["offset"]
        .as_str()
        .and_then(|o| o.parse::<i64>().ok());
    let timeout = params["timeout"]
        .as_str()
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(timeout);
    let mut s = sh.state.lock();
    s.polls += 1;
    s.offsets.push(offset);
    if s.conflicts > 0 {
        s.conflicts -= 1;
        drop(s);
        return error(
            rq,
            409,
            "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        );
    }
    if let Some(o) = offset {
        s.pending.retain(|u| u["update_id"].as_i64().unwrap() >= o);
    }
    s.active_polls += 1;
    s.max_active_polls = s.max_active_polls.max(s.active_polls);
    while s.pending.is_empty() && !sh.cv.wait_until(&mut s, deadline).timed_out() {}
    let batch = s.pending.clone();
    s.active_polls -= 1;
    drop(s);
    respond(rq, 200, json!({"ok": true, "result": batch}));
}

fn utf16_len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.encode_utf16().count())
}

fn answer(sh: &Arc<Shared>, method: &str, p: &Value) -> Result<Value, (u16, String)> {
    let bad = |m: &str| Err((400, format!("Bad Request: {m}")));
    let needs_chat = matches!(
        method,
        "sendMessage"
            | "sendPhoto"
            | "sendDocument"
            | "sendVoice"
            | "editMessageText"
            | "setMessageReaction"
    );
    if needs_chat && p["chat_id"].is_null() {
        return bad("chat_id is empty");
    }
    if matches!(method, "editMessageText" | "setMessageReaction") && !p["message_id"].is_i64() {
        return bad("message identifier is not specified");
    }
    let new_message = || {
        let mut s = sh.state.lock();
        s.next_message_id += 1;
        json!({"message_id": s.next_message_id, "chat": {"id": p["chat_id"]}, "date": 1_700_000_000})
    };
    match method {
        "getMe" => {
            Ok(json!({"id": 1, "is_bot": true, "first_name": "Fake", "username": "fake_bot"}))
        }
        "sendMessage" | "editMessageText" => {
            let n = utf16_len(&p["text"]);
            if n == 0 {
                return bad("message text is empty");
            }
            if n > 4096 {
                return bad("message is too long");
            }
            if method == "editMessageText" {
                return Ok(json!(true));
            }
            Ok(new_message())
        }
        "sendPhoto" | "sendDocument" | "sendVoice" => {
            let field = &method[4..].to_ascii_lowercase();
            if !p[field.as_str()].is_object() {
                return bad(&format!("there is no {field} in the request"));
            }
            Ok(new_message())
        }
        "setMessageReaction" => {
            let ok = p["reaction"][0]["type"] == "emoji" && p["reaction"][0]["emoji"].is_string();
            if ok {
                Ok(json!(true))
            } else {
                bad("REACTION_INVALID")
            }
        }
        "answerCallbackQuery" => match p["callback_query_id"].as_str() {
            Some(_) => Ok(json!(true)),
            None => bad("query is too old and response timeout expired or query ID is invalid"),
        },
        "getFile" => {
            let id = p["file_id"].as_str().unwrap_or_default();
            let s = sh.state.lock();
            match s.files.get(id) {
                Some((path, bytes)) => Ok(json!({
                    "file_id": id, "file_unique_id": "u", "file_size": bytes.len(), "file_path": path,
                })),
                None => bad("invalid file_id"),
            }
        }
        _ => Err((404, "Not Found".into())),
    }
}

fn serve_file(sh: &Arc<Shared>, rq: tiny_http::Request, rest: &str) {
    let Some((token, file_path)) = rest.split_once('/') else {
        return error(rq, 404, "Not Found");
    };
    if token != sh.token {
        return error(rq, 401, "Unauthorized");
    }
    let bytes = {
        let s = sh.state.lock();
        s.files
            .values()
            .find(|(p, _)| p == file_path)
            .map(|(_, b)| b.clone())
    };
    match bytes {
        Some(b) => {
            let _ = rq.respond(tiny_http::Response::from_data(b));
        }
        None => error(rq, 404, "Not Found"),
    }
}

/// Multipart fields: text fields as strings, files as `{filename, content_type, size}`.
fn parse_multipart(raw: &[u8], boundary: &str) -> Map<String, Value> {
    let mut out = Map::new();
    let text = String::from_utf8_lossy(raw);
    let delim = format!("--{boundary}");
    for part in text.split(&delim) {
        let part = part.strip_prefix("\r\n").unwrap_or(part);
        let Some((head, body)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        let body = body.strip_suffix("\r\n").unwrap_or(body);
        let attr = |key: &str| {
            head.split(&format!("{key}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_string)
        };
        let Some(name) = attr("name") else { continue };
        let value = match attr("filename") {
            Some(filename) => {
                let content_type = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Type: "))
                    .unwrap_or("")
                    .to_string();
                json!({"filename": filename, "content_type": content_type, "size": body.len(), "text": body})
            }
            None => json!(body),
        };
        out.insert(name, value);
    }
    out
}

//! The Bot API client (spec 05 §6.2): one method per call the transport makes, on ureq
//! agents with explicit timeouts. Errors read `<method> <status>: <body>`; the bot token is
//! part of every URL, so it is redacted from every error text and never logged.
//!
//! [ext] The base URL is configurable (`PARACHUTE_AGENT_TELEGRAM_API`, default
//! `https://api.telegram.org`) so tests can use a fake server; `getFile`'s `file_id` is
//! percent-encoded; downloads are capped at [`MAX_DOWNLOAD`] bytes.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

/// Env override of the Bot API origin.
/// Largest file the transport downloads (the Bot API serves ≤ 20 MB).
pub const MAX_DOWNLOAD: u64 = 50 * 1024 * 1024;
const MAX_BODY: u64 = 16 * 1024 * 1024;

/// A failed Bot API call.
#[derive(Debug, Clone, PartialEq)]
pub enum BotApiError {
    /// Non-2xx answer (`409` = another poller holds the token, `429` = flood control).
    Status {
        method: &'static str,
        status: u16,
        body: String,
        retry_after: Option<u64>,
    },
    /// No answer, a bad body, or `ok:false` in a 2xx `getUpdates` body.
    Other(String),
}

impl std::fmt::Display for BotApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BotApiError::Status {
                method,
                status,
                body,
                ..
            } => write!(f, "{method} {status}: {body}"),
            BotApiError::Other(m) => f.write_str(m),
        }
    }
}

pub struct BotApi {
    base: String,
    token: String,
    poll: ureq::Agent,
    call: ureq::Agent,
    file: ureq::Agent,
}

fn agent(global: Duration) -> ureq::Agent {
    crate::util::http_client::lean_buffers(ureq::Agent::config_builder())
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(global))
        .build()
        .new_agent()
}

impl BotApi {
    /// `api_base` is the Bot API URL; `poll_secs` is the long-poll `timeout`; the poll
    /// agent waits 10 s longer.
    pub fn new(token: &str, api_base: &str, poll_secs: u64) -> BotApi {
        BotApi {
            base: api_base.trim_end_matches('/').to_string(),
            token: token.to_string(),
            poll: agent(Duration::from_secs(poll_secs + 10)),
            call: agent(Duration::from_secs(30)),
            file: agent(Duration::from_secs(120)),
        }
    }

    fn url(&self, method: &str) -> String {
        format!("{}/bot{}/{method}", self.base, self.token)
    }

    /// Removes the token from a text that may contain a URL.
    pub fn redact(&self, text: &str) -> String {
        if self.token.is_empty() {
            return text.to_string();
        }
        text.replace(&self.token, "<redacted>")
    }

    fn other(&self, method: &str, e: impl std::fmt::Display) -> BotApiError {
        BotApiError::Other(self.redact(&format!("{method}: {e}")))
    }

    /// Reads a JSON answer; non-2xx → [`BotApiError::Status`].
    fn finish(
        &self,
        method: &'static str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, BotApiError> {
        let mut resp = result.map_err(|e| self.other(method, e))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| self.other(method, e))?;
        let body = String::from_utf8_lossy(&bytes).to_string();
        let parsed: Option<Value> = serde_json::from_str(&body).ok();
        if !(200..300).contains(&status) {
            let retry_after = parsed
                .as_ref()
                .and_then(|v| v["parameters"]["retry_after"].as_u64());
            return Err(BotApiError::Status {
                method,
                status,
                body: self.redact(&body),
                retry_after,
            });
        }
        parsed.ok_or_else(|| self.other(method, "answer is not JSON"))
    }

    fn post_json(&self, method: &'static str, body: &Value) -> Result<Value, BotApiError> {
        let result = self
            .call
            .post(&self.url(method))
            .header("content-type", "application/json")
            .send(body.to_string().as_bytes());
        self.finish(method, result)
    }

    pub fn get_me(&self) -> Result<Value, BotApiError> {
        let result = self.call.get(&self.url("getMe")).call();
        Ok(self.finish("getMe", result)?["result"].take())
    }

    /// Long poll: the updates after `offset` (all unconfirmed ones when `None`).
    pub fn get_updates(
        &self,
        offset: Option<i64>,
        timeout: u64,
    ) -> Result<Vec<Value>, BotApiError> {
        let mut url = format!("{}?timeout={timeout}", self.url("getUpdates"));
        if let Some(o) = offset {
            url.push_str(&format!("&offset={o}"));
        }
        let v = self.finish("getUpdates", self.poll.get(&url).call())?;
        if v["ok"] != json!(true) {
            return Err(BotApiError::Other(format!(
                "getUpdates not ok: {}",
                self.redact(&v.to_string())
            )));
        }
        Ok(v["result"].as_array().cloned().unwrap_or_default())
    }

    /// `sendMessage`; returns `result.message_id`.
    pub fn send_message(
        &self,
        chat_id: &str,
        text: &str,
        reply_to: Option<i64>,
        markup: Option<&Value>,
    ) -> Result<Value, BotApiError> {
        let mut body = json!({ "chat_id": chat_id, "text": text });
        if let Some(r) = reply_to {
            body["reply_to_message_id"] = json!(r);
        }
        if let Some(m) = markup {
            body["reply_markup"] = m.clone();
        }
        Ok(self.post_json("sendMessage", &body)?["result"]["message_id"].take())
    }

    pub fn set_reaction(
        &self,
        chat_id: &str,
        message_id: Option<i64>,
        emoji: &str,
    ) -> Result<(), BotApiError> {
        let body = json!({
            "chat_id": chat_id,
            "message_id": message_id,
            "reaction": [{ "type": "emoji", "emoji": emoji }],
        });
        self.post_json("setMessageReaction", &body).map(drop)
    }

    pub fn edit_text(
        &self,
        chat_id: &str,
        message_id: Option<i64>,
        text: &str,
    ) -> Result<(), BotApiError> {
        let body = json!({ "chat_id": chat_id, "message_id": message_id, "text": text });
        self.post_json("editMessageText", &body).map(drop)
    }

    pub fn answer_callback(&self, id: &str, text: Option<&str>) -> Result<(), BotApiError> {
        let mut body = json!({ "callback_query_id": id });
        if let Some(t) = text {
            body["text"] = json!(t);
        }
        self.post_json("answerCallbackQuery", &body).map(drop)
    }

    /// `sendPhoto` / `sendDocument` / `sendVoice` with a hand-built multipart body
    /// (spec 05 §6.10); returns `result.message_id`.
    pub fn send_file(
        &self,
        method: &'static str,
        field: &str,
        chat_id: &str,
        path: &Path,
    ) -> Result<Value, BotApiError> {
        let data = std::fs::read(path)
            .map_err(|e| BotApiError::Other(format!("{method}: {}: {e}", path.display())))?;
        let filename = path
            .file_name()
            .map(|n| n.to_string_lossy().replace(['"', '\r', '\n'], "_"))
            .unwrap_or_else(|| "file".into());
        let boundary = format!("----parachute{}", crate::util::rand::token(12));
        let body = multipart(&boundary, chat_id, field, &filename, &data);
        let result = self
            .file
            .post(&self.url(method))
            .header(
                "content-type",
                &format!("multipart/form-data; boundary={boundary}"),
            )
            .send(&body[..]);
        Ok(self.finish(method, result)?["result"]["message_id"].take())
    }

    /// `getFile` then the file itself, streamed to `dest` (at most [`MAX_DOWNLOAD`]
    /// bytes); returns the Bot API's `file_path`.
    pub fn download(
        &self,
        file_id: &str,
        dest: impl Fn(&str) -> std::path::PathBuf,
    ) -> Result<std::path::PathBuf, BotApiError> {
        let enc =
            percent_encoding::utf8_percent_encode(file_id, percent_encoding::NON_ALPHANUMERIC);
        let url = format!("{}?file_id={enc}", self.url("getFile"));
        let v = self.finish("getFile", self.call.get(&url).call())?;
        let file_path = v["result"]["file_path"]
            .as_str()
            .ok_or_else(|| self.other("getFile", "no file_path in the answer"))?
            .to_string();
        let url = format!("{}/file/bot{}/{file_path}", self.base, self.token);
        let mut resp = self
            .file
            .get(&url)
            .call()
            .map_err(|e| self.other("downloadFile", e))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(BotApiError::Other(format!("downloadFile {status}")));
        }
        let path = dest(&file_path);
        let mut reader = resp
            .body_mut()
            .with_config()
            .limit(MAX_DOWNLOAD + 1)
            .reader()
            .take(MAX_DOWNLOAD + 1);
        let written = write_capped(&mut reader, &path).map_err(|e| {
            let _ = std::fs::remove_file(&path);
            self.other("downloadFile", e)
        })?;
        if written > MAX_DOWNLOAD {
            let _ = std::fs::remove_file(&path);
            return Err(BotApiError::Other(format!(
                "downloadFile: file larger than {MAX_DOWNLOAD} bytes"
            )));
        }
        Ok(path)
    }
}

fn write_capped(reader: &mut impl Read, path: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::File::create(path)?;
    std::io::copy(reader, &mut file)
}

/// Content type of an upload by extension (default `application/octet-stream`).
fn content_type(filename: &str) -> &'static str {
    let ext = filename
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("gif") => "image/gif",
        Some("webp") => "image/webp",
        Some("ogg" | "oga" | "opus") => "audio/ogg",
        Some("mp3") => "audio/mpeg",
        Some("pdf") => "application/pdf",
        Some("txt" | "md") => "text/plain",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn multipart(boundary: &str, chat_id: &str, field: &str, filename: &str, data: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(data.len() + 512);
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n{chat_id}\r\n"
        )
        .as_bytes(),
    );
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {}\r\n\r\n",
            content_type(filename)
        )
        .as_bytes(),
    );
    b.extend_from_slice(data);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_body_shape() {
        let b = multipart("XX", "42", "photo", "a.png", b"PNG");
        let s = String::from_utf8(b).unwrap();
        assert_eq!(
            s,
            "--XX\r\nContent-Disposition: form-data; name=\"chat_id\"\r\n\r\n42\r\n--XX\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"a.png\"\r\nContent-Type: image/png\r\n\r\nPNG\r\n--XX--\r\n"
        );
        assert_eq!(content_type("x.TXT"), "text/plain");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn errors_never_carry_the_token() {
        let api = BotApi::new("123:SECRET", "https://api.telegram.org", 1);
        let e = api.other("getMe", "failed to reach https://x/bot123:SECRET/getMe");
        assert!(!e.to_string().contains("SECRET"), "{e}");
    }
}

//! The two MCP tool surfaces (spec 05 §1.8): their `tools/list` entries with the exact input
//! schemas, the write-scope rule, argument coercion, and dispatch of `tools/call` onto a
//! channel transport (push surface) or the attached queue (pull surface). The concrete
//! transport and queue sit behind the small traits below so this stays testable.

use serde_json::{json, Map, Value};

/// Which tools a session sees; fixed when the session is created (spec 05 §1.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Surface {
    /// reply / react / edit_message / download_attachment (non-attached channels).
    Push,
    /// pending / next-message / reply / release (an attached agent owns the channel).
    Pull,
}

/// The outcome of one `tools/call`: `{"content":[{"type":"text","text":…}], "isError"?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolResult {
    pub text: String,
    pub is_error: bool,
}

impl ToolResult {
    pub fn ok(text: impl Into<String>) -> Self {
        ToolResult {
            text: text.into(),
            is_error: false,
        }
    }

    pub fn err(text: impl Into<String>) -> Self {
        ToolResult {
            text: text.into(),
            is_error: true,
        }
    }

    pub fn to_json(&self) -> Value {
        let mut v = json!({"content": [{"type": "text", "text": self.text}]});
        if self.is_error {
            v["isError"] = Value::Bool(true);
        }
        v
    }
}

fn schema(props: Value, required: &[&str]) -> Value {
    json!({"type": "object", "properties": props, "required": required})
}

fn s(desc: &str) -> Value {
    json!({"type": "string", "description": desc})
}

/// `tools/list` result of a surface.
pub fn list(surface: Surface) -> Value {
    let tools = match surface {
        Surface::Push => push_tools(),
        Surface::Pull => pull_tools(),
    };
    json!({ "tools": tools })
}

fn push_tools() -> Vec<Value> {
    vec![
        json!({
            "name": "reply",
            "description": "Send a message back through the channel. Pass chat_id only when the \
        inbound message carried one; reply_to (a message_id) quote-replies; files are absolute paths to attach.",
            "inputSchema": schema(json!({
                "text": s("The message text"),
                "reply_to": s("message_id to quote-reply (threading)"),
                "files": {"type": "array", "items": {"type": "string"},
                          "description": "Absolute file paths to attach"},
                "chat_id": s("Chat to reply in, when the inbound message carried one"),
            }), &[]),
        }),
        json!({
            "name": "react",
            "description": "Add an emoji reaction to a message, where the transport supports it \
        (Telegram whitelist, e.g. 👍 👎 ❤ 🔥 👀).",
            "inputSchema": schema(json!({
                "message_id": s("The message to react to"),
                "emoji": s("One emoji"),
                "chat_id": s("Chat of the message, when known"),
            }), &["message_id", "emoji"]),
        }),
        json!({
            "name": "edit_message",
            "description": "Edit a message sent earlier (progress updates; most transports send \
        no notification for edits, so finish with a fresh reply).",
            "inputSchema": schema(json!({
                "message_id": s("The message to edit"),
                "text": s("The new text"),
                "chat_id": s("Chat of the message, when known"),
            }), &["message_id", "text"]),
        }),
        json!({
            "name": "download_attachment",
            "description": "Download an inbound attachment (Telegram file_id) and return its local path.",
            "inputSchema": schema(json!({"file_id": s("attachment_file_id from the inbound meta")}),
                                  &["file_id"]),
        }),
    ]
}

fn pull_tools() -> Vec<Value> {
    vec![
        json!({
            "name": "pending",
            "description": "Count and preview the messages waiting on this channel (oldest first).",
            "inputSchema": schema(json!({}), &[]),
        }),
        json!({
            "name": "next-message",
            "description": "Claim the oldest pending message. Returns its id, text, inReplyTo and the \
        agent's systemPrompt (adopt it as your persona).",
            "inputSchema": schema(json!({}), &[]),
        }),
        json!({
            "name": "reply",
            "description": "Send your answer and mark the claimed message handled.",
            "inputSchema": schema(json!({
                "inReplyTo": s("id of the message you answer (from next-message)"),
                "text": s("Your answer"),
            }), &["text"]),
        }),
        json!({
            "name": "release",
            "description": "Give a claimed message back to the queue unhandled.",
            "inputSchema": schema(json!({"id": s("id of the claimed message")}), &["id"]),
        }),
    ]
}

/// Dual-accept write check (`agent:write` or legacy `channel:write`, spec 01 §3.7).
pub fn can_write(scopes: &[String]) -> bool {
    scopes
        .iter()
        .any(|s| s == "agent:write" || s == "channel:write")
}

fn write_denied(name: &str) -> ToolResult {
    ToolResult::err(format!(
        "tool \"{name}\" requires the agent:write scope, which this connection's token lacks"
    ))
}

/// `args.k` if it is a string.
fn str_arg(args: &Value, k: &str) -> Option<String> {
    args.get(k).and_then(Value::as_str).map(str::to_string)
}

/// `String(args.k ?? "")` in the reference's coercion: strings verbatim, numbers and
/// booleans in their JSON text, everything else empty.
fn coerce(args: &Value, k: &str) -> String {
    match args.get(k) {
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        _ => String::new(),
    }
}

/// An error from a transport operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushError {
    /// The transport kind has no such operation (`react`, `edit`, `download`).
    Unsupported,
    /// The operation failed; the message is shown after `<tool> failed: `.
    Failed(String),
}

/// What the push surface needs from a channel transport (spec 05 §0.4).
pub struct ReplyArgs {
    pub text: Option<String>,
    pub files: Option<Vec<String>>,
    pub reply_to: Option<String>,
    /// `{chat_id}` only when the tool was given a string `chat_id`.
    pub meta: Map<String, Value>,
}

pub trait PushTransport {
    /// Transport kind (`vault`, `telegram`, `http-ui`) for "does not support" errors.
    fn kind(&self) -> String;
    fn reply(&self, args: ReplyArgs) -> Result<Vec<String>, PushError>;
    fn react(
        &self,
        message_id: &str,
        emoji: &str,
        meta: Map<String, Value>,
    ) -> Result<(), PushError>;
    fn edit(&self, message_id: &str, text: &str, meta: Map<String, Value>)
        -> Result<(), PushError>;
    fn download(&self, file_id: &str) -> Result<String, PushError>;
}

fn chat_meta(args: &Value) -> Map<String, Value> {
    let mut meta = Map::new();
    if let Some(chat) = str_arg(args, "chat_id") {
        meta.insert("chat_id".into(), Value::String(chat));
    }
    meta
}

/// `sent 1 part (id: x)` / `sent 2 parts (ids: a, b)` / `sent 0 parts (ids: )`.
pub fn sent_text(ids: &[String]) -> String {
    if ids.len() == 1 {
        format!("sent 1 part (id: {})", ids[0])
    } else {
        format!("sent {} parts (ids: {})", ids.len(), ids.join(", "))
    }
}

/// `tools/call` on a push session (spec 05 §1.8.1).
pub fn call_push(
    t: &dyn PushTransport,
    channel: &str,
    scopes: &[String],
    name: &str,
    args: &Value,
) -> ToolResult {
    let needs_write = matches!(name, "reply" | "react" | "edit_message");
    if needs_write && !can_write(scopes) {
        return write_denied(name);
    }
    let unsupported = |op: &str| {
        ToolResult::err(format!(
            "transport \"{}\" for channel \"{channel}\" does not support {op}",
            t.kind()
        ))
    };
    let outcome = match name {
        "reply" => {
            let files = args.get("files").and_then(Value::as_array).map(|a| {
                a.iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    .collect()
            });
            let ra = ReplyArgs {
                text: str_arg(args, "text"),
                files,
                reply_to: str_arg(args, "reply_to"),
                meta: chat_meta(args),
            };
            t.reply(ra).map(|ids| sent_text(&ids))
        }
        "react" => t
            .react(
                &coerce(args, "message_id"),
                &coerce(args, "emoji"),
                chat_meta(args),
            )
            .map(|()| "reacted".to_string()),
        "edit_message" => t
            .edit(
                &coerce(args, "message_id"),
                &coerce(args, "text"),
                chat_meta(args),
            )
            .map(|()| "edited".to_string()),
        "download_attachment" => t.download(&coerce(args, "file_id")),
        other => return ToolResult::err(format!("unknown tool: {other}")),
    };
    match outcome {
        Ok(text) => ToolResult::ok(text),
        Err(PushError::Unsupported) => unsupported(match name {
            "edit_message" => "edit",
            "download_attachment" => "download",
            other => other,
        }),
        Err(PushError::Failed(msg)) => ToolResult::err(format!("{name} failed: {msg}")),
    }
}

/// What the pull surface needs from the attached queue (spec 03 §6.4).
pub trait PullQueue {
    /// Whether an attached agent owns `channel` right now.
    fn is_attached(&self, channel: &str) -> bool;
    /// `{count, items:[{id, preview}]}`.
    fn pending(&self, channel: &str) -> Result<Value, String>;
    /// `{id, text, inReplyTo, systemPrompt}` or `None` when nothing is claimable.
    fn next_message(&self, channel: &str) -> Result<Option<Value>, String>;
    /// Write the outbound note, then mark `in_reply_to` handled; the outbound ids.
    fn reply(
        &self,
        channel: &str,
        text: &str,
        in_reply_to: Option<&str>,
    ) -> Result<Vec<String>, String>;
    fn release(&self, channel: &str, id: &str) -> Result<(), String>;
}

/// `tools/call` on a pull session (spec 05 §1.8.2).
pub fn call_pull(
    q: &dyn PullQueue,
    channel: &str,
    scopes: &[String],
    name: &str,
    args: &Value,
) -> ToolResult {
    if !q.is_attached(channel) {
        return ToolResult::err(format!(
            "channel \"{channel}\" has no attached-backend agent — the pull/reply tools are not available here"
        ));
    }
    if matches!(name, "next-message" | "reply" | "release") && !can_write(scopes) {
        return write_denied(name);
    }
    let outcome = match name {
        "pending" => q.pending(channel).map(|v| v.to_string()),
        "next-message" => q.next_message(channel).map(|m| {
            m.unwrap_or_else(|| json!({"message": null, "note": "no pending messages"}))
                .to_string()
        }),
        "reply" => {
            let text = str_arg(args, "text").unwrap_or_default();
            let in_reply_to = str_arg(args, "inReplyTo").filter(|s| !s.is_empty());
            q.reply(channel, &text, in_reply_to.as_deref())
                .map(|ids| format!("replied + marked handled (outbound id: {})", ids.join(", ")))
        }
        "release" => {
            let id = coerce(args, "id");
            if id.is_empty() {
                return ToolResult::err("release requires an id");
            }
            q.release(channel, &id)
                .map(|()| format!("released {id} back to pending"))
        }
        other => return ToolResult::err(format!("unknown channel tool: {other}")),
    };
    match outcome {
        Ok(text) => ToolResult::ok(text),
        Err(msg) => ToolResult::err(format!("{name} failed: {msg}")),
    }
}

#[cfg(test)]
mod tests;

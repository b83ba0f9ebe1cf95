//! The MCP surface the stdio bridge presents (spec 05 §4.2, §1.8.1, §1.8.4, §1.7): the push
//! tool list with its input schemas, the instructions text, the `initialize` result with
//! protocol negotiation (§1.4), and the notification method names.
//!
//! [ext] `PARACHUTE_AGENT_NOTIFY_NAMESPACE=channel` swaps the capability keys and the
//! notification methods to the Claude Code `claude/channel` family (§1.7 interop warning);
//! the default `agent` reproduces the reference names.

use serde_json::{json, Value};

/// Protocol versions we accept, latest first (spec 05 §1.4).
pub const SUPPORTED_VERSIONS: [&str; 5] = [
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
    "2024-10-07",
];

/// The notification family: `claude/agent` (reference) or `claude/channel` (Claude Code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Namespace {
    Agent,
    Channel,
}

impl Namespace {
    /// From `PARACHUTE_AGENT_NOTIFY_NAMESPACE` (`channel` → Channel, anything else → Agent).
    pub fn from_env() -> Self {
        match std::env::var("PARACHUTE_AGENT_NOTIFY_NAMESPACE").as_deref() {
            Ok("channel") => Namespace::Channel,
            _ => Namespace::Agent,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Namespace::Agent => "agent",
            Namespace::Channel => "channel",
        }
    }

    /// Capability key, e.g. `claude/agent`.
    pub fn capability(self) -> String {
        format!("claude/{}", self.word())
    }

    /// Method of an inbound-message notification.
    pub fn message_method(self) -> String {
        format!("notifications/claude/{}", self.word())
    }

    /// Method of a permission-verdict notification.
    pub fn verdict_method(self) -> String {
        format!("notifications/claude/{}/permission", self.word())
    }

    /// Method of the client's permission-request notification.
    pub fn permission_request_method(self) -> String {
        format!("notifications/claude/{}/permission_request", self.word())
    }
}

/// Echo the client's version when we support it, else our latest.
pub fn negotiate_version(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|r| SUPPORTED_VERSIONS.iter().find(|v| **v == r))
        .copied()
        .unwrap_or(SUPPORTED_VERSIONS[0])
}

/// Instructions for a push-surface session reached through the stdio bridge (§1.8.4,
/// wording not contractual).
pub const INSTRUCTIONS: &str = "You are attached to a live chat channel. The human sees ONLY what you send with the `reply` tool — \
answer every inbound message with `reply`. Inbound messages arrive as <channel source=\"parachute-agent\" ...> tags whose \
attributes are the message meta; when the meta carries addressing fields such as chat_id, pass them back to `reply`. Use \
`reply_to` to thread a reply under a message. If the meta has image_path, Read that file; if it has attachment_file_id, \
call `download_attachment` and then Read the returned path. Use `react` for a quick emoji reaction, `edit_message` to update \
a progress message, and a fresh `reply` when the work is done. `reply` takes absolute file paths in `files`.";

/// The `initialize` result of the bridge (§4.2).
pub fn initialize_result(ns: Namespace, requested_version: Option<&str>) -> Value {
    let mut experimental = serde_json::Map::new();
    experimental.insert(ns.capability(), json!({}));
    experimental.insert(format!("{}/permission", ns.capability()), json!({}));
    json!({
        "protocolVersion": negotiate_version(requested_version),
        "capabilities": { "experimental": experimental, "tools": {} },
        "serverInfo": { "name": "parachute-agent", "version": "0.1.0" },
        "instructions": INSTRUCTIONS,
    })
}

/// The push tool surface (§1.8.1), the same names and schemas as the HTTP MCP endpoint.
pub fn push_tools() -> Value {
    let s = |d: &str| json!({"type": "string", "description": d});
    json!({ "tools": [
        {
            "name": "reply",
            "description": "Send text and/or files back through the channel. Pass chat_id only when the inbound message carried one; reply_to quote-replies to a message id.",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "text": s("The message text."),
                    "reply_to": s("Message id to reply to (threading)."),
                    "files": {"type": "array", "items": {"type": "string"}, "description": "Absolute paths of files to send."},
                    "chat_id": s("Chat id from the inbound meta, when present."),
                },
                "required": [],
            },
        },
        {
            "name": "react",
            "description": "Add an emoji reaction to a message, where the transport supports it (Telegram whitelist e.g. 👍 👎 ❤ 🔥 👀).",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "message_id": s("The message to react to."),
                    "emoji": s("The emoji."),
                    "chat_id": s("Chat id from the inbound meta, when present."),
                },
                "required": ["message_id", "emoji"],
            },
        },
        {
            "name": "edit_message",
            "description": "Edit a message you sent earlier (most transports send no notification for edits).",
            "inputSchema": {
                "type": "object",
                "properties": {
                    "message_id": s("The message to edit."),
                    "text": s("The new text."),
                    "chat_id": s("Chat id from the inbound meta, when present."),
                },
                "required": ["message_id", "text"],
            },
        },
        {
            "name": "download_attachment",
            "description": "Download a Telegram attachment by file_id; returns a local path you can Read.",
            "inputSchema": {
                "type": "object",
                "properties": { "file_id": s("attachment_file_id from the inbound meta.") },
                "required": ["file_id"],
            },
        },
    ]})
}

/// The daemon REST route behind a tool, or `None` for an unknown tool.
pub fn route_of(tool: &str) -> Option<&'static str> {
    match tool {
        "reply" => Some("/api/reply"),
        "react" => Some("/api/react"),
        "edit_message" => Some("/api/edit"),
        "download_attachment" => Some("/api/download"),
        _ => None,
    }
}

/// The verb used in `<verb> failed: …` texts (spec 05 §4.3).
pub fn failure_verb(tool: &str) -> &str {
    match tool {
        "edit_message" => "edit",
        "download_attachment" => "download",
        other => other,
    }
}

/// Success text of a `reply` from its `sent` ids: `sent 1 part (id: x)`, `sent 2 parts
/// (ids: a, b)`. For zero ids we say `sent 0 parts (ids: )` like the HTTP MCP endpoint
/// (§1.8.1), not the reference bridge's ungrammatical `sent 0 part`.
pub fn sent_text(ids: &[String]) -> String {
    if ids.len() == 1 {
        format!("sent 1 part (id: {})", ids[0])
    } else {
        format!("sent {} parts (ids: {})", ids.len(), ids.join(", "))
    }
}

/// A successful tool result.
pub fn tool_ok(text: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": text.into()}]})
}

/// A failed tool result (`isError: true`, a JSON-RPC success).
pub fn tool_err(text: impl Into<String>) -> Value {
    json!({"content": [{"type": "text", "text": text.into()}], "isError": true})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_known_versions_only() {
        assert_eq!(negotiate_version(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate_version(Some("1999-01-01")), "2025-11-25");
        assert_eq!(negotiate_version(None), "2025-11-25");
    }

    #[test]
    fn tools_have_the_spec_required_arrays() {
        let tools = push_tools();
        let list = tools["tools"].as_array().unwrap();
        let names: Vec<_> = list.iter().map(|t| t["name"].as_str().unwrap()).collect();
        assert_eq!(
            names,
            ["reply", "react", "edit_message", "download_attachment"]
        );
        assert_eq!(list[0]["inputSchema"]["required"], json!([]));
        assert_eq!(
            list[1]["inputSchema"]["required"],
            json!(["message_id", "emoji"])
        );
        assert_eq!(
            list[2]["inputSchema"]["required"],
            json!(["message_id", "text"])
        );
        assert_eq!(list[3]["inputSchema"]["required"], json!(["file_id"]));
    }

    #[test]
    fn sent_texts() {
        assert_eq!(sent_text(&["x".into()]), "sent 1 part (id: x)");
        assert_eq!(
            sent_text(&["1".into(), "2".into()]),
            "sent 2 parts (ids: 1, 2)"
        );
        assert_eq!(sent_text(&[]), "sent 0 parts (ids: )");
    }

    #[test]
    fn namespaces() {
        assert_eq!(
            Namespace::Agent.message_method(),
            "notifications/claude/agent"
        );
        assert_eq!(
            Namespace::Channel.verdict_method(),
            "notifications/claude/channel/permission"
        );
        let init = initialize_result(Namespace::Agent, Some("2025-06-18"));
        assert_eq!(init["serverInfo"]["name"], "parachute-agent");
        assert!(init["capabilities"]["experimental"]["claude/agent/permission"].is_object());
    }
}

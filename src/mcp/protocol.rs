//! MCP protocol constants and the `initialize` handshake (spec 05 §1.4, §1.7, §1.8.4):
//! supported protocol versions and negotiation, the server info, the capability keys and
//! notification names (with the [ext] `PARACHUTE_AGENT_NOTIFY_NAMESPACE` switch), and the
//! instructions text of each tool surface.

use serde_json::{json, Value};

use super::tools::Surface;

/// Versions we accept, newest first (spec 05 §1.4).
pub const SUPPORTED_VERSIONS: [&str; 5] = [
    "2025-11-25",
    "2025-06-18",
    "2025-03-26",
    "2024-11-05",
    "2024-10-07",
];

/// The version we answer when the client asks for one we do not know.
pub const LATEST_VERSION: &str = SUPPORTED_VERSIONS[0];

/// `serverInfo.version`.
pub const SERVER_VERSION: &str = "0.1.0";

/// Whether `v` is a version we know. Any known version is accepted in the
/// `MCP-Protocol-Version` header, even one other than the negotiated one (spec 07 §3).
pub fn is_supported(v: &str) -> bool {
    SUPPORTED_VERSIONS.contains(&v)
}

/// Echo the client's version if supported, else our latest.
pub fn negotiate(requested: &str) -> &'static str {
    SUPPORTED_VERSIONS
        .iter()
        .copied()
        .find(|v| *v == requested)
        .unwrap_or(LATEST_VERSION)
}

/// The message of a 400 for an unknown `MCP-Protocol-Version` header.
pub fn unsupported_version_message(v: &str) -> String {
    format!(
        "Bad Request: Unsupported protocol version: {v} (supported versions: {})",
        SUPPORTED_VERSIONS.join(", ")
    )
}

/// Names of the experimental capability and the pushed notifications. The reference renamed
/// Claude Code's `claude/channel` family to `claude/agent`; stock clients listen for the
/// former, so [ext] `PARACHUTE_AGENT_NOTIFY_NAMESPACE=channel` switches back (spec 05 §1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NotifyNamespace {
    #[default]
    Agent,
    Channel,
}

impl NotifyNamespace {
    /// `channel` for the legacy names of `Config::mcp.channel_namespace`.
    pub fn from_legacy_flag(channel: bool) -> Self {
        if channel {
            NotifyNamespace::Channel
        } else {
            NotifyNamespace::Agent
        }
    }

    pub fn parse(v: Option<&str>) -> Self {
        match v.map(str::trim) {
            Some("channel") => NotifyNamespace::Channel,
            _ => NotifyNamespace::Agent,
        }
    }

    fn word(self) -> &'static str {
        match self {
            NotifyNamespace::Agent => "agent",
            NotifyNamespace::Channel => "channel",
        }
    }

    /// `notifications/claude/agent` — an inbound message.
    pub fn message_method(self) -> String {
        format!("notifications/claude/{}", self.word())
    }

    /// `notifications/claude/agent/permission` — a permission verdict.
    pub fn permission_method(self) -> String {
        format!("notifications/claude/{}/permission", self.word())
    }

    /// `notifications/claude/agent/permission_request` — a client's permission prompt
    /// (the stdio bridge relays it, spec 05 §4.5).
    pub fn permission_request_method(self) -> String {
        format!("notifications/claude/{}/permission_request", self.word())
    }

    /// `claude/agent` — the experimental capability a client must declare to get pushes.
    pub fn capability(self) -> String {
        format!("claude/{}", self.word())
    }

    /// `capabilities.experimental` of the initialize result.
    pub fn capabilities(self) -> Value {
        let w = self.word();
        let mut exp = serde_json::Map::new();
        exp.insert(format!("claude/{w}"), json!({}));
        exp.insert(format!("claude/{w}/permission"), json!({}));
        json!({"experimental": exp, "tools": {}})
    }
}

/// The `initialize` result for a session on `channel` with the given surface.
pub fn initialize_result(
    requested_version: &str,
    channel: &str,
    surface: Surface,
    ns: NotifyNamespace,
) -> Value {
    json!({
        "protocolVersion": negotiate(requested_version),
        "capabilities": ns.capabilities(),
        "serverInfo": {"name": format!("agent-{channel}"), "version": SERVER_VERSION},
        "instructions": instructions(surface, ns),
    })
}

/// The instructions text of a surface (free text, spec 05 §1.8.4).
pub fn instructions(surface: Surface, ns: NotifyNamespace) -> String {
    match surface {
        Surface::Push => push_instructions(ns),
        Surface::Pull => PULL_INSTRUCTIONS.to_string(),
    }
}

fn push_instructions(ns: NotifyNamespace) -> String {
    format!(
        "You are attached to a live chat channel. Inbound messages arrive as \
<channel source=\"parachute-agent\" ...> tags (notifications/claude/{w}) whose attributes are \
the message's meta. The human sees ONLY what you send with the `reply` tool, never your \
transcript — answer every inbound message with `reply`. Echo addressing fields such as \
`chat_id` when the inbound carried them, and pass `reply_to` (a message_id) to thread a reply. \
If the meta has `image_path`, Read that file; if it has `attachment_file_id`, call \
`download_attachment` with it and then Read the returned path. Use `react` for a quick emoji \
acknowledgement, `edit_message` to update an earlier message with progress, and a fresh \
`reply` when the work is done. `reply` takes absolute file paths in `files` to attach.",
        w = ns.word()
    )
}

const PULL_INSTRUCTIONS: &str = "Nothing is pushed to you on this channel: you pull. Loop: call \
`pending` to see the queue, then `next-message` to claim the oldest message — adopt the returned \
`systemPrompt` as your persona for it — do the work, then call `reply` with {inReplyTo: <the \
message id>, text: <your answer>}, which sends the answer and marks the message handled. If you \
will not handle a claimed message, call `release` with {id} so another session can take it. \
Claims you neither reply to nor release return to the queue automatically after a while. The \
human sees only what you send with `reply`.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_known_versions() {
        assert_eq!(negotiate("2025-06-18"), "2025-06-18");
        assert_eq!(negotiate("2024-11-05"), "2024-11-05");
        assert_eq!(negotiate("1999-01-01"), "2025-11-25");
        assert!(is_supported("2025-03-26"));
        assert!(!is_supported("2026-07-28"));
        assert!(unsupported_version_message("x").contains("supported versions: 2025-11-25, "));
    }

    #[test]
    fn initialize_result_shape() {
        let r = initialize_result("2025-06-18", "eng", Surface::Push, NotifyNamespace::Agent);
        assert_eq!(r["protocolVersion"], "2025-06-18");
        assert_eq!(
            r["serverInfo"],
            json!({"name":"agent-eng","version":"0.1.0"})
        );
        assert_eq!(
            r["capabilities"],
            json!({"experimental":{"claude/agent":{},"claude/agent/permission":{}},"tools":{}})
        );
        assert!(r["instructions"].as_str().unwrap().contains("reply"));
        let pull = initialize_result("x", "eng", Surface::Pull, NotifyNamespace::Agent);
        assert_eq!(pull["protocolVersion"], LATEST_VERSION);
        let text = pull["instructions"].as_str().unwrap();
        assert!(text.contains("next-message") && text.contains("systemPrompt"));
    }

    #[test]
    fn namespace_switch() {
        let ns = NotifyNamespace::parse(Some("channel"));
        assert_eq!(ns.message_method(), "notifications/claude/channel");
        assert_eq!(
            ns.permission_method(),
            "notifications/claude/channel/permission"
        );
        assert!(ns.capabilities()["experimental"]["claude/channel"].is_object());
        assert_eq!(NotifyNamespace::parse(None), NotifyNamespace::Agent);
        assert_eq!(
            NotifyNamespace::parse(Some("bogus")),
            NotifyNamespace::Agent
        );
    }
}

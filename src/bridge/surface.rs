//! The MCP surface the stdio bridge presents (spec 05 §4.2, §1.8.1, §1.8.4, §1.7). It is
//! the HTTP MCP endpoint's push surface (tool list, instructions, negotiation and
//! notification names all come from `crate::mcp`), plus what only the bridge needs: the
//! REST route behind each tool and its failure texts.

use serde_json::{json, Value};

use crate::mcp::protocol::{self, NotifyNamespace};
use crate::mcp::tools::{self, Surface, ToolResult};

/// The notification family (`claude/agent` or, with the [ext] switch, `claude/channel`);
/// the same type as the HTTP MCP endpoint's.
pub type Namespace = NotifyNamespace;

/// The `initialize` result of the bridge (§4.2): the HTTP endpoint's capabilities,
/// negotiation and push instructions, under the bridge's own server name.
pub fn initialize_result(ns: Namespace, requested_version: Option<&str>) -> Value {
    json!({
        "protocolVersion": protocol::negotiate(requested_version.unwrap_or_default()),
        "capabilities": ns.capabilities(),
        "serverInfo": { "name": "parachute-agent", "version": protocol::SERVER_VERSION },
        "instructions": protocol::instructions(Surface::Push, ns),
    })
}

/// The push tool surface (§1.8.1): exactly the HTTP MCP endpoint's list.
pub fn push_tools() -> Value {
    tools::list(Surface::Push)
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

pub use crate::mcp::tools::sent_text;

/// A successful tool result.
pub fn tool_ok(text: impl Into<String>) -> Value {
    ToolResult::ok(text).to_json()
}

/// A failed tool result (`isError: true`, a JSON-RPC success).
pub fn tool_err(text: impl Into<String>) -> Value {
    ToolResult::err(text).to_json()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            Namespace::Channel.permission_method(),
            "notifications/claude/channel/permission"
        );
        let init = initialize_result(Namespace::Agent, Some("2025-06-18"));
        assert_eq!(init["serverInfo"]["name"], "parachute-agent");
        assert!(init["capabilities"]["experimental"]["claude/agent/permission"].is_object());
    }
}

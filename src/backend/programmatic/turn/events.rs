//! Live turn events (spec 03 §7): the payloads streamed to `GET /api/channels/<ch>/turn-events`
//! subscribers while a programmatic turn runs. Absent optional fields are omitted, never `null`.

use serde::Serialize;

/// One live event of a turn. Serialises to the compact JSON of spec 03 §7
/// (`{"kind":"init","sessionId":…}`, `{"kind":"tool","tool":…,"input":…}`, …).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TurnEvent {
    Init {
        #[serde(rename = "sessionId")]
        session_id: String,
    },
    Text {
        text: String,
    },
    Tool {
        tool: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        input: Option<String>,
    },
    ToolResult {
        #[serde(skip_serializing_if = "Option::is_none")]
        tool: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        ok: Option<bool>,
        #[serde(skip_serializing_if = "Option::is_none")]
        preview: Option<String>,
    },
    Done {
        reply: String,
    },
    Error {
        error: String,
    },
    /// [ext] first event of a turn that runs again because the daemon stopped
    /// during the previous attempt: `{"kind":"retry","attempt":2}`.
    Retry {
        attempt: u32,
    },
}

impl TurnEvent {
    /// Compact JSON for an SSE `data:` line.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// Cut `s` to at most `max` chars (Unicode scalar values, spec 03 §9) and append `…` when
/// something was cut.
pub fn cut_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_string(),
        Some((i, _)) => format!("{}…", &s[..i]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_like_the_reference() {
        let e = TurnEvent::Init {
            session_id: "s1".into(),
        };
        assert_eq!(e.to_json(), r#"{"kind":"init","sessionId":"s1"}"#);
        let e = TurnEvent::ToolResult {
            tool: None,
            ok: Some(false),
            preview: None,
        };
        assert_eq!(e.to_json(), r#"{"kind":"tool_result","ok":false}"#);
        let e = TurnEvent::Tool {
            tool: "Bash".into(),
            input: None,
        };
        assert_eq!(e.to_json(), r#"{"kind":"tool","tool":"Bash"}"#);
        assert_eq!(
            TurnEvent::Done { reply: "".into() }.to_json(),
            r#"{"kind":"done","reply":""}"#
        );
    }

    #[test]
    fn cut_on_char_boundaries() {
        assert_eq!(cut_chars("abc", 3), "abc");
        assert_eq!(cut_chars("abcd", 3), "abc…");
        assert_eq!(cut_chars("ééé", 2), "éé…");
    }
}

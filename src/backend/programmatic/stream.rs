//! Incremental parser of `claude -p --output-format stream-json --verbose` stdout
//! (spec 03 §4.10, 07 §2). Bytes arrive in arbitrary chunks; lines are split on `\n` at
//! the byte level (a UTF-8 continuation byte is never `\n`, so a multi-byte character split
//! across reads is reassembled before decoding). Empty lines, lines not starting with `{`,
//! and lines that do not parse as a JSON object are skipped; unknown `type`s are ignored.
//! After EOF the unterminated remainder is parsed once more. Parsing never fails.

use std::collections::HashMap;

use serde_json::Value;

use super::events::{cut_chars, TurnEvent};

/// Longest `input` / `preview` text in a live event before it is cut (spec 03 §7).
const PREVIEW_CHARS: usize = 2000;

/// Token usage and cost of a result event (spec 03 §4.11).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
    pub total_cost_usd: Option<f64>,
}

/// The `type:"result"` event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultEvent {
    pub subtype: Option<String>,
    pub is_error: bool,
    /// The string `result` (the reply, or the error text when `is_error`).
    pub text: Option<String>,
    /// Present when the result had a `usage` object or a numeric `total_cost_usd`.
    pub usage: Option<Usage>,
    /// The HTTP status of the API error that ended the run (`api_error_status`): the real
    /// CLI reports e.g. an authentication failure as `subtype:"success"`, `is_error:true`,
    /// `api_error_status:401` — a value to decide on, where the text is only for people.
    pub api_error_status: Option<u16>,
    /// The API's error type with it (`api_error_type`, e.g. `authentication_error`).
    pub api_error_type: Option<String>,
}

impl ResultEvent {
    pub fn success(&self) -> bool {
        self.subtype.as_deref() == Some("success") && !self.is_error
    }
}

/// What one attempt's stdout said.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamSummary {
    pub session_id: Option<String>,
    pub api_key_source: Option<String>,
    pub result: Option<ResultEvent>,
}

/// The incremental parser of one attempt. Feed it chunks, then call [`StreamParser::finish`].
#[derive(Default)]
pub struct StreamParser {
    pending: Vec<u8>,
    summary: StreamSummary,
    tool_names: HashMap<String, String>,
}

impl StreamParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consume one chunk of stdout, emitting live events for every complete line.
    pub fn feed(&mut self, chunk: &[u8], sink: &mut dyn FnMut(TurnEvent)) {
        self.pending.extend_from_slice(chunk);
        let mut start = 0;
        while let Some(pos) = self.pending[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let line = String::from_utf8_lossy(&self.pending[start..end]).into_owned();
            self.line(&line, sink);
            start = end + 1;
        }
        self.pending.drain(..start);
    }

    /// End of stream: parse the unterminated remainder once and return the summary.
    pub fn finish(mut self, sink: &mut dyn FnMut(TurnEvent)) -> StreamSummary {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            let line = String::from_utf8_lossy(&rest).into_owned();
            self.line(&line, sink);
        }
        self.summary
    }

    fn line(&mut self, line: &str, sink: &mut dyn FnMut(TurnEvent)) {
        let line = line.trim();
        if !line.starts_with('{') {
            return;
        }
        let Ok(Value::Object(obj)) = serde_json::from_str::<Value>(line) else {
            return;
        };
        self.object(&obj, sink);
    }

    fn object(&mut self, obj: &serde_json::Map<String, Value>, sink: &mut dyn FnMut(TurnEvent)) {
        if self.summary.session_id.is_none() {
            if let Some(id) = obj.get("session_id").and_then(Value::as_str) {
                if !id.is_empty() {
                    self.summary.session_id = Some(id.to_string());
                    sink(TurnEvent::Init {
                        session_id: id.to_string(),
                    });
                }
            }
        }
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "system" if obj.get("subtype").and_then(Value::as_str) == Some("init") => {
                if let Some(src) = obj.get("apiKeySource").and_then(Value::as_str) {
                    self.summary.api_key_source = Some(src.to_string());
                }
            }
            "assistant" => self.assistant(obj, sink),
            "user" => self.user(obj, sink),
            "result" => self.summary.result = Some(parse_result(obj)),
            _ => {}
        }
    }

    fn assistant(&mut self, obj: &serde_json::Map<String, Value>, sink: &mut dyn FnMut(TurnEvent)) {
        for block in content_blocks(obj) {
            match block.get("type").and_then(Value::as_str) {
                Some("text") => {
                    let text = block.get("text").and_then(Value::as_str).unwrap_or("");
                    if !text.is_empty() {
                        sink(TurnEvent::Text {
                            text: text.to_string(),
                        });
                    }
                }
                Some("tool_use") => {
                    let name = block.get("name").and_then(Value::as_str).unwrap_or("");
                    if name.is_empty() {
                        continue;
                    }
                    if let Some(id) = block.get("id").and_then(Value::as_str) {
                        self.tool_names.insert(id.to_string(), name.to_string());
                    }
                    let input = block
                        .get("input")
                        .filter(|v| !v.is_null())
                        .map(|v| cut_chars(&v.to_string(), PREVIEW_CHARS));
                    sink(TurnEvent::Tool {
                        tool: name.to_string(),
                        input,
                    });
                }
                _ => {}
            }
        }
    }

    fn user(&mut self, obj: &serde_json::Map<String, Value>, sink: &mut dyn FnMut(TurnEvent)) {
        for block in content_blocks(obj) {
            if block.get("type").and_then(Value::as_str) != Some("tool_result") {
                continue;
            }
            let tool = block
                .get("tool_use_id")
                .and_then(Value::as_str)
                .and_then(|id| self.tool_names.get(id).cloned());
            let ok = block.get("is_error").and_then(Value::as_bool).map(|e| !e);
            let preview = match block.get("content") {
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Array(parts)) => {
                    let texts: Vec<&str> = parts
                        .iter()
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .collect();
                    (!texts.is_empty()).then(|| texts.concat())
                }
                _ => None,
            }
            .map(|p| cut_chars(&p, PREVIEW_CHARS));
            sink(TurnEvent::ToolResult { tool, ok, preview });
        }
    }
}

fn content_blocks(obj: &serde_json::Map<String, Value>) -> impl Iterator<Item = &Value> {
    obj.get("message")
        .and_then(|m| m.get("content"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

fn parse_result(obj: &serde_json::Map<String, Value>) -> ResultEvent {
    let usage_obj = obj.get("usage").and_then(Value::as_object);
    let cost = obj.get("total_cost_usd").and_then(Value::as_f64);
    let usage = (usage_obj.is_some() || cost.is_some()).then(|| Usage {
        input_tokens: usage_obj
            .and_then(|u| u.get("input_tokens"))
            .and_then(Value::as_u64),
        output_tokens: usage_obj
            .and_then(|u| u.get("output_tokens"))
            .and_then(Value::as_u64),
        total_cost_usd: cost,
    });
    ResultEvent {
        subtype: obj
            .get("subtype")
            .and_then(Value::as_str)
            .map(str::to_string),
        is_error: obj.get("is_error") == Some(&Value::Bool(true)),
        text: obj
            .get("result")
            .and_then(Value::as_str)
            .map(str::to_string),
        usage,
        api_error_status: obj
            .get("api_error_status")
            .and_then(Value::as_u64)
            .and_then(|s| u16::try_from(s).ok()),
        api_error_type: obj
            .get("api_error_type")
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> (StreamSummary, Vec<TurnEvent>) {
        let mut events = Vec::new();
        let mut p = StreamParser::new();
        for c in chunks {
            p.feed(c, &mut |e| events.push(e));
        }
        let s = p.finish(&mut |e| events.push(e));
        (s, events)
    }

    const INIT: &str =
        r#"{"type":"system","subtype":"init","session_id":"abc","apiKeySource":"none"}"#;

    #[test]
    fn full_stream_yields_events_and_result() {
        let text = format!(
            "{INIT}\n\
             {{\"type\":\"assistant\",\"message\":{{\"content\":[{{\"type\":\"text\",\"text\":\"hi\"}},{{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"Bash\",\"input\":{{\"command\":\"ls\"}}}}]}},\"session_id\":\"abc\"}}\n\
             {{\"type\":\"user\",\"message\":{{\"content\":[{{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"is_error\":false,\"content\":[{{\"type\":\"text\",\"text\":\"a\"}},{{\"type\":\"text\",\"text\":\"b\"}}]}}]}}}}\n\
             {{\"type\":\"rate_limit_event\"}}\n\
             {{\"type\":\"result\",\"subtype\":\"success\",\"is_error\":false,\"result\":\"done\",\"usage\":{{\"input_tokens\":3,\"output_tokens\":4}},\"total_cost_usd\":0.5}}\n"
        );
        let (s, ev) = parse_chunks(&[text.as_bytes()]);
        assert_eq!(s.session_id.as_deref(), Some("abc"));
        assert_eq!(s.api_key_source.as_deref(), Some("none"));
        let r = s.result.unwrap();
        assert!(r.success());
        assert_eq!(r.text.as_deref(), Some("done"));
        assert_eq!(
            r.usage,
            Some(Usage {
                input_tokens: Some(3),
                output_tokens: Some(4),
                total_cost_usd: Some(0.5)
            })
        );
        assert_eq!(
            ev,
            vec![
                TurnEvent::Init {
                    session_id: "abc".into()
                },
                TurnEvent::Text { text: "hi".into() },
                TurnEvent::Tool {
                    tool: "Bash".into(),
                    input: Some(r#"{"command":"ls"}"#.into())
                },
                TurnEvent::ToolResult {
                    tool: Some("Bash".into()),
                    ok: Some(true),
                    preview: Some("ab".into())
                },
            ]
        );
    }

    #[test]
    fn noise_blank_and_broken_lines_are_skipped() {
        let text = format!(
            "\n   \nhook output here\n[1,2]\n{{not json\n{INIT}\n\"str\"\n{{\"type\":\"mystery\",\"x\":1}}\n"
        );
        let (s, ev) = parse_chunks(&[text.as_bytes()]);
        assert_eq!(s.session_id.as_deref(), Some("abc"));
        assert_eq!(ev.len(), 1);
        assert!(s.result.is_none());
    }

    #[test]
    fn chunks_split_mid_line_and_mid_character() {
        let line = "{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"text\",\"text\":\"héllo → 世界 🎉\"}]}}\n";
        let bytes = line.as_bytes();
        // Split at every possible byte position, including inside multi-byte characters.
        for cut in 1..bytes.len() {
            let (s, ev) = parse_chunks(&[&bytes[..cut], &bytes[cut..]]);
            assert!(s.result.is_none());
            assert_eq!(
                ev,
                vec![TurnEvent::Text {
                    text: "héllo → 世界 🎉".into()
                }],
                "cut at {cut}"
            );
        }
        // One byte at a time.
        let singles: Vec<&[u8]> = bytes.chunks(1).collect();
        let (_, ev) = parse_chunks(&singles);
        assert_eq!(ev.len(), 1);
    }

    #[test]
    fn unterminated_final_result_line_parses_and_truncated_tail_is_ignored() {
        let (s, _) = parse_chunks(&[
            INIT.as_bytes(),
            b"\n{\"type\":\"result\",\"subtype\":\"success\",\"result\":\"x\"}",
        ]);
        assert_eq!(s.result.unwrap().text.as_deref(), Some("x"));
        let (s, _) = parse_chunks(&[b"{\"type\":\"result\",\"subtype\":\"succ"]);
        assert!(s.result.is_none());
    }

    #[test]
    fn result_flags() {
        let (s, _) = parse_chunks(&[
            br#"{"type":"result","subtype":"success","is_error":true,"result":"API Error: 401","api_error_status":401}"#,
        ]);
        let r = s.result.unwrap();
        assert!(r.is_error && !r.success());
        assert_eq!(r.api_error_status, Some(401));
        assert_eq!(r.api_error_type, None);
        assert!(r.usage.is_none());
        let (s, _) = parse_chunks(&[
            br#"{"type":"result","subtype":"success","is_error":"true","usage":{}}"#,
        ]);
        let r = s.result.unwrap();
        assert!(r.success(), "is_error must be literally true");
        assert_eq!(r.usage, Some(Usage::default()));
        let (s, _) = parse_chunks(&[br#"{"type":"result","subtype":"error_max_turns"}"#]);
        assert!(!s.result.unwrap().success());
    }

    #[test]
    fn first_session_id_wins_and_long_inputs_are_cut() {
        let big = "x".repeat(2500);
        let text = format!(
            "{{\"session_id\":\"\"}}\n{{\"session_id\":\"one\"}}\n{{\"session_id\":\"two\"}}\n\
             {{\"type\":\"user\",\"message\":{{\"content\":[{{\"type\":\"tool_result\",\"tool_use_id\":\"zz\",\"content\":\"{big}\"}}]}}}}\n"
        );
        let (s, ev) = parse_chunks(&[text.as_bytes()]);
        assert_eq!(s.session_id.as_deref(), Some("one"));
        assert_eq!(ev.len(), 2);
        match &ev[1] {
            TurnEvent::ToolResult { tool, ok, preview } => {
                assert!(tool.is_none() && ok.is_none());
                let p = preview.as_ref().unwrap();
                assert_eq!(p.chars().count(), 2001);
                assert!(p.ends_with('…'));
            }
            other => panic!("{other:?}"),
        }
    }
}

//! Incremental parser for `text/event-stream` bodies (spec 05 §4.4 step 3).
//!
//! The parser keeps its line buffer and its event/data accumulators **across reads**, so an
//! event split over several network reads (or a UTF-8 character split over two reads) is
//! still delivered whole. This fixes the reference bug of §4.4, whose parser reset its
//! accumulators at every read and lost split events.
//!
//! Field rules (a subset of the WHATWG EventSource algorithm, as the reference reads it):
//! lines end with `\n` (a trailing `\r` is stripped); `event:` sets the event name; `data:`
//! lines are concatenated **without separators** (the daemon never emits multi-line data,
//! its JSON has no raw newlines); one space after the colon is optional; a line starting
//! with `:` is a comment (`: connected`, `:` keepalives); an empty line dispatches the
//! accumulated event and resets; any other line is ignored.

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, `message` when the event named none (SSE default).
    pub event: String,
    /// The concatenated `data:` payload.
    pub data: String,
}

/// Incremental SSE parser: feed it raw bytes as they arrive.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    event: Option<String>,
    data: String,
    has_data: bool,
}

/// Upper bound for one unterminated line; a peer sending more without a newline is broken
/// or hostile, and the partial line is discarded rather than growing without bound.
const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Consume `bytes` and return every event completed by them, in stream order.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseEvent> {
        let mut out = Vec::new();
        let mut rest = bytes;
        while let Some(pos) = rest.iter().position(|&b| b == b'\n') {
            self.line.extend_from_slice(&rest[..pos]);
            rest = &rest[pos + 1..];
            let mut line = std::mem::take(&mut self.line);
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Some(ev) = self.take_line(&String::from_utf8_lossy(&line)) {
                out.push(ev);
            }
        }
        self.line.extend_from_slice(rest);
        if self.line.len() > MAX_LINE_BYTES {
            self.line.clear();
        }
        out
    }

    /// Forget any partial line and event (used when a connection is replaced).
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    fn take_line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            return self.dispatch();
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "event" => self.event = Some(value.to_string()),
            "data" => {
                self.data.push_str(value);
                self.has_data = true;
            }
            _ => {}
        }
        None
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let event = self.event.take();
        let data = std::mem::take(&mut self.data);
        let had_data = std::mem::replace(&mut self.has_data, false);
        if event.is_none() && !had_data {
            return None;
        }
        Some(SseEvent {
            event: event
                .filter(|e| !e.is_empty())
                .unwrap_or_else(|| "message".into()),
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(event: &str, data: &str) -> SseEvent {
        SseEvent {
            event: event.into(),
            data: data.into(),
        }
    }

    #[test]
    fn whole_stream_in_one_read() {
        let mut p = SseParser::new();
        let got = p.feed(b": connected\n\nevent: message\ndata: {\"a\":1}\n\nevent: permission_verdict\ndata: {\"b\":2}\n\n");
        assert_eq!(
            got,
            vec![
                ev("message", "{\"a\":1}"),
                ev("permission_verdict", "{\"b\":2}")
            ]
        );
    }

    #[test]
    fn event_split_at_every_byte_is_still_delivered() {
        let stream = "event: message\ndata: {\"content\":\"h\u{e9}llo \u{1f600}\"}\n\n";
        let mut p = SseParser::new();
        let mut got = Vec::new();
        for b in stream.as_bytes() {
            got.extend(p.feed(std::slice::from_ref(b)));
        }
        assert_eq!(
            got,
            vec![ev("message", "{\"content\":\"h\u{e9}llo \u{1f600}\"}")]
        );
    }

    #[test]
    fn split_between_event_and_data_lines() {
        let mut p = SseParser::new();
        assert!(p.feed(b"event: message\n").is_empty());
        assert!(p.feed(b"data: {\"x\"").is_empty());
        assert!(p.feed(b":1}\n").is_empty());
        assert_eq!(p.feed(b"\n"), vec![ev("message", "{\"x\":1}")]);
    }

    #[test]
    fn crlf_comments_no_space_and_data_concatenation() {
        let mut p = SseParser::new();
        let got = p.feed(b":\r\n\r\nevent:turn\r\ndata:ab\r\ndata: cd\r\nid: 7\r\n\r\n");
        assert_eq!(got, vec![ev("turn", "abcd")]);
    }

    #[test]
    fn data_without_event_name_defaults_to_message_and_blank_lines_are_ignored() {
        let mut p = SseParser::new();
        assert_eq!(p.feed(b"\n\n\ndata: x\n\n"), vec![ev("message", "x")]);
    }

    #[test]
    fn keepalives_between_events_do_not_disturb_accumulation() {
        let mut p = SseParser::new();
        let got = p.feed(b"event: message\n: keepalive\ndata: y\n\n");
        assert_eq!(got, vec![ev("message", "y")]);
    }

    #[test]
    fn reset_drops_partial_state() {
        let mut p = SseParser::new();
        p.feed(b"event: message\ndata: half");
        p.reset();
        assert_eq!(p.feed(b"\n\n"), vec![]);
    }
}

//! The vault notes a programmatic turn writes besides the reply (spec 03 §5.6–§5.9), as
//! pure builders: the `agent/thread` note (path, PATCH-upsert body, metadata aggregates,
//! regenerated body), the failure-note text and the agent-to-agent callback note.

use serde_json::{json, Map, Value};

use super::events::cut_chars;
use super::stream::Usage;
use crate::agents::spec::ThreadMode;
use crate::vault::notes::safe_name;

/// Callbacks stop at this delegation depth (spec 03 §5.9).
pub const MAX_DELEGATION_DEPTH: u32 = 8;

/// `Threads/<safe channel>/<safe name>` (single) or `Threads/<safe channel>/<turn id>`.
pub fn thread_path(channel: &str, name: &str, mode: ThreadMode, turn_thread_id: &str) -> String {
    match mode {
        ThreadMode::SingleThreaded => {
            format!("Threads/{}/{}", safe_name(channel), safe_name(name))
        }
        ThreadMode::MultiThreaded => {
            format!("Threads/{}/{}", safe_name(channel), turn_thread_id)
        }
    }
}

pub fn mode_str(mode: ThreadMode) -> &'static str {
    match mode {
        ThreadMode::SingleThreaded => "single-threaded",
        ThreadMode::MultiThreaded => "multi-threaded",
    }
}

/// Aggregates read from a single-threaded agent's thread note before the turn.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prior {
    pub started_at: Option<String>,
    pub turn_count: u64,
    pub last_turn_at: Option<String>,
    pub session: Option<String>,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_cost_usd: f64,
}

fn meta_str(meta: &Value, key: &str) -> Option<String> {
    match meta.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl Prior {
    /// From a note's `metadata` object (values are strings in the vault; numbers tolerated).
    pub fn from_metadata(meta: &Value) -> Prior {
        let num = |k: &str| {
            meta_str(meta, k)
                .and_then(|s| s.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        Prior {
            started_at: meta_str(meta, "started_at"),
            turn_count: num("turn_count").max(0.0) as u64,
            last_turn_at: meta_str(meta, "last_turn_at"),
            session: meta_str(meta, "session"),
            input_tokens: num("input_tokens").max(0.0) as u64,
            output_tokens: num("output_tokens").max(0.0) as u64,
            total_cost_usd: num("total_cost_usd").max(0.0),
        }
    }
}

/// The identity of one turn's thread note.
pub struct ThreadTurn<'a> {
    pub channel: &'a str,
    pub name: &'a str,
    pub mode: ThreadMode,
    pub definition: Option<&'a str>,
    pub input: &'a str,
    pub turn_thread_id: &'a str,
    /// When this turn started (ISO).
    pub started_at: &'a str,
    /// Single-threaded only: what the note carried before this turn.
    pub prior: Prior,
}

/// Which of the three writes of a turn (spec 03 §5.6).
pub enum ThreadWrite<'a> {
    Start,
    End {
        ok: bool,
        output: &'a str,
        usage: Option<&'a Usage>,
        session: Option<&'a str>,
    },
    /// The reply could not be delivered: same counts as `End`, status `error`.
    ReRecord {
        output: &'a str,
        usage: Option<&'a Usage>,
        session: Option<&'a str>,
    },
}

fn plural(n: u64) -> String {
    if n == 1 {
        "1 turn".into()
    } else {
        format!("{n} turns")
    }
}

impl ThreadTurn<'_> {
    pub fn path(&self) -> String {
        thread_path(self.channel, self.name, self.mode, self.turn_thread_id)
    }

    fn single(&self) -> bool {
        self.mode == ThreadMode::SingleThreaded
    }

    /// The PATCH-upsert body of one write, `now` being the write time (ISO).
    pub fn body(&self, write: &ThreadWrite, now: &str) -> Value {
        let single = self.single();
        let p = &self.prior;
        let (status, output, usage, session) = match write {
            ThreadWrite::Start => ("working", "", None, None),
            ThreadWrite::End {
                ok,
                output,
                usage,
                session,
            } => (if *ok { "ok" } else { "error" }, *output, *usage, *session),
            ThreadWrite::ReRecord {
                output,
                usage,
                session,
            } => ("error", *output, *usage, *session),
        };
        let started = matches!(write, ThreadWrite::Start);
        let turn_count = match (single, started) {
            (true, true) => p.turn_count,
            (true, false) => p.turn_count + 1,
            (false, true) => 0,
            (false, false) => 1,
        };
        let last_turn_at = if started {
            if single {
                p.last_turn_at.clone()
            } else {
                None
            }
        } else {
            Some(now.to_string())
        };
        let started_at = if single {
            p.started_at
                .clone()
                .unwrap_or_else(|| self.started_at.to_string())
        } else {
            self.started_at.to_string()
        };
        let session =
            session
                .map(str::to_string)
                .or_else(|| if single { p.session.clone() } else { None });
        let (mut inp, mut outp, mut cost) = if single {
            (p.input_tokens, p.output_tokens, p.total_cost_usd)
        } else {
            (0, 0, 0.0)
        };
        if let Some(u) = usage {
            inp += u.input_tokens.unwrap_or(0);
            outp += u.output_tokens.unwrap_or(0);
            cost += u.total_cost_usd.unwrap_or(0.0);
        }
        let mut meta = Map::new();
        let mut put = |k: &str, v: String| {
            meta.insert(k.to_string(), Value::String(v));
        };
        put("agent", self.channel.to_string());
        put("mode", mode_str(self.mode).to_string());
        put("status", status.to_string());
        put("started_at", started_at);
        put("turn_count", turn_count.to_string());
        if let Some(l) = &last_turn_at {
            put("last_turn_at", l.clone());
        }
        if let Some(d) = self.definition {
            put("definition", d.to_string());
        }
        if let Some(s) = session {
            put("session", s);
        }
        if inp > 0 {
            put("input_tokens", inp.to_string());
        }
        if outp > 0 {
            put("output_tokens", outp.to_string());
        }
        if cost > 0.0 {
            put("total_cost_usd", format_cost(cost));
        }
        let content = self.content(status, output, turn_count, last_turn_at.as_deref());
        let path = self.path();
        json!({
            "content": content,
            "path": path,
            "tags": ["agent/thread"],
            "metadata": meta,
            "if_missing": "create",
            "force": true,
        })
    }

    fn content(&self, status: &str, output: &str, turns: u64, last: Option<&str>) -> String {
        let mode = mode_str(self.mode);
        if status == "working" {
            let when = if turns == 0 {
                "the first turn (first turn, awaiting reply)".to_string()
            } else {
                format!("the next turn ({} so far, awaiting reply)", plural(turns))
            };
            return format!(
                "## Summary\n\n{mode} thread for {} — working on {when}.\n\n## Latest turn\n\n**Input:** {}\n\n**Status:** working — awaiting reply.\n",
                self.name, self.input
            );
        }
        let label = if status == "error" { "Error" } else { "Reply" };
        format!(
            "## Summary\n\n{mode} thread for {} — {}, last {status} at {}.\n\n## Latest turn\n\n**Input:** {}\n\n**{label}:** {output}\n",
            self.name,
            plural(turns),
            last.unwrap_or(""),
            self.input
        )
    }
}

/// Cost rounded to 9 decimals, without trailing zeros (like `Number(x.toFixed(9))`).
fn format_cost(c: f64) -> String {
    let s = format!("{c:.9}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

/// The text of the re-record after an undelivered reply.
pub fn undelivered_text(err: &str, reply: &str) -> String {
    format!(
        "reply produced but NOT delivered (outbound write failed: {err}). Undelivered reply text: {reply}"
    )
}

/// The failure note text (spec 03 §5.8).
pub fn failure_text(reason: &str) -> String {
    format!(
        "⚠️ I couldn't complete that — the turn failed: {}\n\nThis is often temporary; please try again in a moment.",
        cut_chars(reason, 240)
    )
}

/// `delegation_depth` parsed as a number, floored, kept only if finite and > 0.
pub fn parse_depth(s: Option<&str>) -> u32 {
    s.and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|d| d.is_finite() && *d > 0.0)
        .map(|d| d.floor().min(u32::MAX as f64) as u32)
        .unwrap_or(0)
}

/// What a callback reports.
pub struct Callback<'a> {
    /// The sender's channel (`reply_to`).
    pub to_channel: &'a str,
    /// The channel that ran the turn.
    pub source_channel: &'a str,
    pub ok: bool,
    pub source_thread: &'a str,
    pub source_message: Option<&'a str>,
    pub correlation_id: Option<&'a str>,
    pub depth: u32,
}

impl Callback<'_> {
    /// The inbound note written onto the sender's channel (spec 03 §5.9).
    pub fn note(&self, now: &str) -> Value {
        let status = if self.ok { "ok" } else { "error" };
        let finished = if self.ok {
            "finished (ok)"
        } else {
            "finished with an error"
        };
        let content = format!(
            "[callback] {} {finished} — see source_message / source_thread in this note's metadata to pull the full result.",
            self.source_channel
        );
        let mut meta = Map::new();
        let mut put = |k: &str, v: &str| {
            meta.insert(k.to_string(), Value::String(v.to_string()));
        };
        put("agent", self.to_channel);
        put("direction", "inbound");
        put("sender", &format!("callback:{}", self.source_channel));
        put("ts", now);
        put("callback", "true");
        put("status", status);
        put("source_channel", self.source_channel);
        put("source_thread", self.source_thread);
        if let Some(m) = self.source_message {
            put("source_message", m);
        }
        if let Some(c) = self.correlation_id {
            put("correlation_id", c);
        }
        put("delegation_depth", &(self.depth + 1).to_string());
        json!({
            "content": content,
            "path": format!("channel/{}/{}", safe_name(self.to_channel), crate::util::rand::uuid()),
            "tags": ["agent/message", "agent/message/inbound"],
            "metadata": meta,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(mode: ThreadMode, prior: Prior) -> ThreadTurn<'static> {
        ThreadTurn {
            channel: "eng ops",
            name: "eng",
            mode,
            definition: Some("def-1"),
            input: "hi",
            turn_thread_id: "tt-1",
            started_at: "2026-01-01T00:00:00.000Z",
            prior,
        }
    }

    #[test]
    fn single_threaded_aggregates() {
        let t = turn(ThreadMode::SingleThreaded, Prior::default());
        assert_eq!(t.path(), "Threads/eng-ops/eng");
        let start = t.body(&ThreadWrite::Start, "2026-01-01T00:00:01.000Z");
        let m = &start["metadata"];
        assert_eq!(m["status"], "working");
        assert_eq!(m["turn_count"], "0");
        assert!(m.get("last_turn_at").is_none() && m.get("session").is_none());
        assert_eq!(start["if_missing"], "create");
        assert_eq!(start["force"], true);
        assert!(start["content"]
            .as_str()
            .unwrap()
            .contains("working on the first turn (first turn, awaiting reply)."));
        let usage = Usage {
            input_tokens: Some(10),
            output_tokens: Some(5),
            total_cost_usd: Some(0.0012),
        };
        let end = t.body(
            &ThreadWrite::End {
                ok: true,
                output: "yo",
                usage: Some(&usage),
                session: Some("s1"),
            },
            "2026-01-01T00:00:02.000Z",
        );
        let m = &end["metadata"];
        assert_eq!(m["turn_count"], "1");
        assert_eq!(m["session"], "s1");
        assert_eq!(m["input_tokens"], "10");
        assert_eq!(m["total_cost_usd"], "0.0012");
        assert_eq!(m["definition"], "def-1");
        assert_eq!(
            end["content"],
            "## Summary\n\nsingle-threaded thread for eng — 1 turn, last ok at 2026-01-01T00:00:02.000Z.\n\n## Latest turn\n\n**Input:** hi\n\n**Reply:** yo\n"
        );
        // second turn adds to the prior
        let prior = Prior::from_metadata(m);
        assert_eq!(prior.turn_count, 1);
        let t2 = turn(ThreadMode::SingleThreaded, prior);
        let end2 = t2.body(
            &ThreadWrite::End {
                ok: false,
                output: "bad",
                usage: None,
                session: None,
            },
            "2026-01-01T00:00:03.000Z",
        );
        assert_eq!(end2["metadata"]["turn_count"], "2");
        assert_eq!(end2["metadata"]["session"], "s1", "prior session kept");
        assert_eq!(end2["metadata"]["input_tokens"], "10");
        assert_eq!(end2["metadata"]["started_at"], "2026-01-01T00:00:00.000Z");
        assert!(end2["content"].as_str().unwrap().contains("**Error:** bad"));
    }

    #[test]
    fn multi_threaded_is_per_turn() {
        let t = turn(ThreadMode::MultiThreaded, Prior::default());
        assert_eq!(t.path(), "Threads/eng-ops/tt-1");
        let end = t.body(
            &ThreadWrite::ReRecord {
                output: "x",
                usage: None,
                session: Some("s"),
            },
            "now",
        );
        assert_eq!(end["metadata"]["turn_count"], "1");
        assert_eq!(end["metadata"]["status"], "error");
        assert!(end["metadata"].get("input_tokens").is_none());
    }

    #[test]
    fn callback_and_failure_text() {
        let c = Callback {
            to_channel: "boss",
            source_channel: "worker",
            ok: false,
            source_thread: "Threads/worker/worker",
            source_message: None,
            correlation_id: Some("c-1"),
            depth: 7,
        };
        let n = c.note("t");
        assert_eq!(n["metadata"]["delegation_depth"], "8");
        assert_eq!(n["metadata"]["status"], "error");
        assert_eq!(n["metadata"]["sender"], "callback:worker");
        assert!(n["metadata"].get("reply_to").is_none());
        assert!(n["metadata"].get("source_message").is_none());
        assert!(n["content"]
            .as_str()
            .unwrap()
            .contains("worker finished with an error"));
        assert!(n["path"].as_str().unwrap().starts_with("channel/boss/"));
        assert_eq!(parse_depth(Some("3.7")), 3);
        assert_eq!(parse_depth(Some("-2")), 0);
        assert_eq!(parse_depth(Some("x")), 0);
        assert_eq!(parse_depth(None), 0);
        let long = "r".repeat(300);
        assert!(failure_text(&long).contains(&format!("{}…\n\n", "r".repeat(240))));
        assert_eq!(format_cost(0.1 + 0.2), "0.3");
    }
}

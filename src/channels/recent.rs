//! [ext] A bounded, in-memory ring of an http-ui channel's recent messages, served by
//! `GET /api/channels/<ch>/messages` so a browser that (re)opens the chat sees the last
//! exchanges (spec 05 §7 allows it; the reference keeps nothing). Entries use the vault
//! transcript's message shape (spec 02 §6.1): `{id, text, direction, sender, ts}`, plus
//! `files` on replies that carried some. Nothing is persisted.
//!
//! [ext] Bounded by bytes as well as by count ([`RingLimit`]): the oldest
//! messages go until both hold, and one message larger than the whole byte budget is kept
//! with its text cut to fit (`"truncated": true`), so 60 sends of 5 MiB cannot pin 300 MiB.

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde_json::{json, Value};

/// Messages kept per channel by default.
pub const CAPACITY: usize = crate::config::RING_MESSAGES_DEFAULT;
/// What one entry costs beyond its strings (the JSON object, the time stamp).
const ENTRY_OVERHEAD: usize = 64;

pub use crate::config::RingLimit;

#[derive(Default)]
struct Ring {
    entries: VecDeque<(Value, usize)>,
    bytes: usize,
}

#[derive(Default)]
pub struct RecentMessages {
    ring: Mutex<Ring>,
    limit: RingLimit,
}

/// The cost of one entry in bytes.
fn cost(v: &Value) -> usize {
    let strings: usize = ["id", "text", "direction", "sender"]
        .iter()
        .map(|k| v[*k].as_str().map_or(0, str::len))
        .sum();
    let files: usize = v["files"].as_array().map_or(0, |f| {
        f.iter().map(|p| p.as_str().map_or(0, str::len) + 8).sum()
    });
    strings + files + ENTRY_OVERHEAD
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = max.min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

impl RecentMessages {
    pub fn new() -> Self {
        Self::with_limit(RingLimit::default())
    }

    /// A ring holding at most `limit` (both fields at least 1).
    pub fn with_limit(limit: RingLimit) -> Self {
        RecentMessages {
            ring: Mutex::new(Ring::default()),
            limit: RingLimit {
                messages: limit.messages.max(1),
                bytes: limit.bytes.max(ENTRY_OVERHEAD + 1),
            },
        }
    }

    /// Appends one message, evicting the oldest until the count and byte limits hold.
    pub fn push(&self, id: &str, text: &str, direction: &str, sender: &str, files: &[String]) {
        let mut msg = json!({
            "id": id,
            "text": "",
            "direction": direction,
            "sender": sender,
            "ts": crate::util::time::now_iso(),
        });
        if !files.is_empty() {
            msg["files"] = json!(files);
        }
        let room = self.limit.bytes.saturating_sub(cost(&msg));
        msg["text"] = json!(cut(text, room));
        if room < text.len() {
            msg["truncated"] = json!(true);
        }
        let size = cost(&msg);
        let mut ring = self.ring.lock();
        while !ring.entries.is_empty()
            && (ring.entries.len() >= self.limit.messages || ring.bytes + size > self.limit.bytes)
        {
            if let Some((_, n)) = ring.entries.pop_front() {
                ring.bytes -= n;
            }
        }
        ring.bytes += size;
        ring.entries.push_back((msg, size));
    }

    /// Replaces the text of the message `id` (an edit); false if it is no longer kept.
    pub fn edit(&self, id: &str, text: &str) -> bool {
        let mut ring = self.ring.lock();
        let Some(pos) = ring.entries.iter().rposition(|(m, _)| m["id"] == id) else {
            return false;
        };
        let (mut msg, old) = ring.entries.remove(pos).expect("position found");
        ring.bytes -= old;
        msg["text"] = json!("");
        let room = self.limit.bytes.saturating_sub(cost(&msg));
        msg["text"] = json!(cut(text, room));
        if room < text.len() {
            msg["truncated"] = json!(true);
        } else if let Some(o) = msg.as_object_mut() {
            o.remove("truncated");
        }
        let size = cost(&msg);
        // The edited message keeps its place; older ones make room if it grew.
        let mut keep_from = 0;
        let mut total: usize = ring.bytes + size;
        while total > self.limit.bytes && keep_from < pos {
            total -= ring.entries[keep_from].1;
            keep_from += 1;
        }
        ring.entries.insert(pos, (msg, size));
        ring.bytes += size;
        for _ in 0..keep_from {
            if let Some((_, n)) = ring.entries.pop_front() {
                ring.bytes -= n;
            }
        }
        true
    }

    /// The kept messages, oldest first.
    pub fn snapshot(&self) -> Vec<Value> {
        self.ring
            .lock()
            .entries
            .iter()
            .map(|(m, _)| m.clone())
            .collect()
    }

    /// Bytes currently held (as counted against the limit).
    pub fn bytes(&self) -> usize {
        self.ring.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_ordered_and_editable() {
        let r = RecentMessages::new();
        for i in 0..CAPACITY + 5 {
            r.push(
                &format!("m{i}"),
                &format!("t{i}"),
                "inbound",
                "operator",
                &[],
            );
        }
        let all = r.snapshot();
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all[0]["id"], "m5");
        assert_eq!(all[CAPACITY - 1]["id"], format!("m{}", CAPACITY + 4));
        assert!(r.edit("m7", "changed"));
        assert!(!r.edit("m0", "gone"));
        assert_eq!(r.snapshot()[2]["text"], "changed");
        r.push(
            "x",
            "with file",
            "outbound",
            "agent",
            &["/tmp/a.png".into()],
        );
        assert_eq!(r.snapshot().last().unwrap()["files"], json!(["/tmp/a.png"]));
        assert!(r.snapshot()[0].get("files").is_none());
    }

    #[test]
    fn bounded_by_bytes_big_messages_cut_and_edits_accounted() {
        let r = RecentMessages::with_limit(RingLimit {
            messages: 100,
            bytes: 10_000,
        });
        let big = "é".repeat(3000); // 6000 bytes
        r.push("a", &big, "inbound", "operator", &[]);
        r.push("b", &big, "inbound", "operator", &[]);
        let all = r.snapshot();
        assert_eq!(all.len(), 1, "a was evicted to make room for b");
        assert_eq!(all[0]["id"], "b");
        assert!(r.bytes() <= 10_000);
        let huge = "x".repeat(50_000);
        r.push("c", &huge, "inbound", "operator", &[]);
        let all = r.snapshot();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0]["truncated"], true);
        assert!(all[0]["text"].as_str().unwrap().len() < 10_000);
        assert!(r.bytes() <= 10_000);
        // Small messages, then an edit that grows one: older ones make room.
        for i in 0..5 {
            r.push(&format!("s{i}"), "short", "inbound", "operator", &[]);
        }
        assert_eq!(
            r.snapshot().len(),
            5,
            "c was evicted by the bytes of the new ones"
        );
        assert!(r.edit("s3", &"y".repeat(9_800)));
        assert!(r.bytes() <= 10_000);
        let ids: Vec<Value> = r.snapshot().iter().map(|m| m["id"].clone()).collect();
        assert_eq!(ids, [json!("s3"), json!("s4")]);
    }
}

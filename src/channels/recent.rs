//! [ext] A bounded, in-memory ring of an http-ui channel's recent messages, served by
//! `GET /api/channels/<ch>/messages` so a browser that (re)opens the chat sees the last
//! exchanges (spec 05 §7 allows it; the reference keeps nothing). Entries use the vault
//! transcript's message shape (spec 02 §6.1): `{id, text, direction, sender, ts}`, plus
//! `files` on replies that carried some. Nothing is persisted.

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde_json::{json, Value};

/// Messages kept per channel.
pub const CAPACITY: usize = 200;

#[derive(Default)]
pub struct RecentMessages {
    ring: Mutex<VecDeque<Value>>,
}

impl RecentMessages {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one message, evicting the oldest beyond [`CAPACITY`].
    pub fn push(&self, id: &str, text: &str, direction: &str, sender: &str, files: &[String]) {
        let mut msg = json!({
            "id": id,
            "text": text,
            "direction": direction,
            "sender": sender,
            "ts": crate::util::time::now_iso(),
        });
        if !files.is_empty() {
            msg["files"] = json!(files);
        }
        let mut ring = self.ring.lock();
        if ring.len() == CAPACITY {
            ring.pop_front();
        }
        ring.push_back(msg);
    }

    /// Replaces the text of the message `id` (an edit); false if it is no longer kept.
    pub fn edit(&self, id: &str, text: &str) -> bool {
        let mut ring = self.ring.lock();
        match ring.iter_mut().rev().find(|m| m["id"] == id) {
            Some(m) => {
                m["text"] = json!(text);
                true
            }
            None => false,
        }
    }

    /// The kept messages, oldest first.
    pub fn snapshot(&self) -> Vec<Value> {
        self.ring.lock().iter().cloned().collect()
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
}

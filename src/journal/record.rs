//! The records of the inbound journal (JSON payloads of [`super::frame`] frames). One
//! message's life is `accept` → zero or more `start` (one per attempt) → `done`; `done`
//! carries the outcome, so marking a message finished and recording how it ended are one
//! atomic append. `offset` persists a Telegram channel's next update offset; `seen` keeps
//! the dedup keys of finished messages across compaction, and of vault notes that went to
//! a backend other than the journal's (the attached queue) or to subscribers.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a journaled message ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The turn ran and its reply (or failure text) went to the channel.
    Replied,
    /// Failed visibly with this reason (turn error, attempt limit, age cut-off).
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum Record {
    Accept {
        id: u64,
        channel: String,
        agent: String,
        /// Transport identity of the message (`tg:<chat>:<message>`, `note:<id>`): a second
        /// accept with the same key is a duplicate.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
        /// ISO time accepted.
        at: String,
        /// Milliseconds since the epoch, for the age cut-off.
        at_ms: u64,
        /// The queued message as the turn engine serialised it.
        msg: Value,
    },
    Start {
        id: u64,
        attempt: u32,
    },
    Done {
        id: u64,
        #[serde(flatten)]
        outcome: Outcome,
    },
    Offset {
        channel: String,
        next: i64,
    },
    Seen {
        key: String,
    },
}

impl Record {
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_have_a_stable_compact_shape() {
        let r = Record::Done {
            id: 7,
            outcome: Outcome::Failed {
                reason: "boom".into(),
            },
        };
        assert_eq!(
            String::from_utf8(r.to_bytes()).unwrap(),
            r#"{"t":"done","id":7,"status":"failed","reason":"boom"}"#
        );
        let back: Record = serde_json::from_slice(&r.to_bytes()).unwrap();
        assert_eq!(back, r);
        let s = Record::Start { id: 7, attempt: 2 };
        assert_eq!(
            String::from_utf8(s.to_bytes()).unwrap(),
            r#"{"t":"start","id":7,"attempt":2}"#
        );
    }
}

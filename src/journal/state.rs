//! The journal's in-memory view, rebuilt by replaying records: messages not yet done (in
//! accept order) with the attempts started, the dedup keys (pending ones and the most
//! recent finished ones), and the Telegram offsets. [`JournalState::snapshot`] is the
//! minimal record list that rebuilds the same view — what compaction writes.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde_json::Value;

use super::record::Record;

/// Finished messages whose dedup key is still remembered (a redelivery after this many
/// newer finished keyed messages is no longer recognised).
pub const SEEN_KEYS: usize = 4096;

/// A message accepted and not yet done.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub id: u64,
    pub channel: String,
    pub agent: String,
    pub key: Option<String>,
    pub at: String,
    pub at_ms: u64,
    pub msg: Value,
    /// Attempts started so far (each `start` record; a crash mid-turn leaves it counted).
    pub started: u32,
}

#[derive(Debug, Default)]
pub struct JournalState {
    pub pending: BTreeMap<u64, Pending>,
    pending_keys: HashSet<String>,
    done_keys: VecDeque<String>,
    done_set: HashSet<String>,
    pub offsets: BTreeMap<String, i64>,
    pub next_id: u64,
}

impl JournalState {
    pub fn apply(&mut self, rec: Record) {
        match rec {
            Record::Accept {
                id,
                channel,
                agent,
                key,
                at,
                at_ms,
                msg,
            } => {
                if let Some(k) = &key {
                    self.pending_keys.insert(k.clone());
                }
                self.next_id = self.next_id.max(id + 1);
                self.pending.insert(
                    id,
                    Pending {
                        id,
                        channel,
                        agent,
                        key,
                        at,
                        at_ms,
                        msg,
                        started: 0,
                    },
                );
            }
            Record::Start { id, attempt } => {
                if let Some(p) = self.pending.get_mut(&id) {
                    p.started = p.started.max(attempt);
                }
            }
            Record::Done { id, .. } => {
                if let Some(p) = self.pending.remove(&id) {
                    if let Some(k) = p.key {
                        self.pending_keys.remove(&k);
                        self.remember(k);
                    }
                }
            }
            Record::Offset { channel, next } => {
                self.offsets.insert(channel, next);
            }
            Record::Seen { key } => self.remember(key),
        }
    }

    fn remember(&mut self, key: String) {
        if self.done_set.insert(key.clone()) {
            self.done_keys.push_back(key);
        }
        while self.done_keys.len() > SEEN_KEYS {
            if let Some(old) = self.done_keys.pop_front() {
                self.done_set.remove(&old);
            }
        }
    }

    /// Whether a message with this key is pending or finished recently.
    pub fn knows(&self, key: &str) -> bool {
        self.pending_keys.contains(key) || self.done_set.contains(key)
    }

    /// The records that rebuild this state.
    pub fn snapshot(&self) -> Vec<Record> {
        let mut out = Vec::new();
        for (channel, next) in &self.offsets {
            out.push(Record::Offset {
                channel: channel.clone(),
                next: *next,
            });
        }
        for key in &self.done_keys {
            out.push(Record::Seen { key: key.clone() });
        }
        for p in self.pending.values() {
            out.push(Record::Accept {
                id: p.id,
                channel: p.channel.clone(),
                agent: p.agent.clone(),
                key: p.key.clone(),
                at: p.at.clone(),
                at_ms: p.at_ms,
                msg: p.msg.clone(),
            });
            if p.started > 0 {
                out.push(Record::Start {
                    id: p.id,
                    attempt: p.started,
                });
            }
        }
        out
    }
}

//! `markSeen` (spec 02 §3.5): the dedup of inbound webhook deliveries. Several triggers
//! (different names) can fire for one note; only the first delivery is ingested. In memory:
//! an insertion-ordered set with capacity 2048 — the 2049th key evicts the oldest.
//!
//! [ext] (spec 02 D9): the key is the note's journal key `note:<vaultKey>|<id>`, not the
//! note id alone — ids are only unique within one vault.
//!
//! [ext] The reference loses the set on restart, so a webhook redelivered after a restart
//! runs the note again. Here a [`SeenStore`] (the inbound journal) keeps the keys of notes
//! the daemon took care of across restarts, bounded like the journal's other dedup keys:
//! a note a programmatic agent accepted is known by its `accept` record, one that went to
//! the attached queue or reached a subscriber gets a `seen` record. A note nobody took is
//! not remembered, so the backlog scan of an agent registering later still finds it.

use std::collections::{HashSet, VecDeque};

use parking_lot::Mutex;

/// Capacity of the reference.
pub const SEEN_CAPACITY: usize = 2048;

/// Dedup keys that outlive the process.
pub trait SeenStore: Send + Sync {
    /// Whether the note with this key was taken care of (in this run or an earlier one).
    fn knows(&self, key: &str) -> bool;
    /// Remember `key`; durable when it returns `Ok`.
    fn remember(&self, key: &str) -> Result<(), String>;
}

impl SeenStore for crate::journal::Journal {
    fn knows(&self, key: &str) -> bool {
        crate::journal::Journal::knows(self, key)
    }

    fn remember(&self, key: &str) -> Result<(), String> {
        crate::journal::Journal::remember(self, key).map_err(|e| e.to_string())
    }
}

pub struct SeenSet {
    cap: usize,
    inner: Mutex<(HashSet<String>, VecDeque<String>)>,
}

impl Default for SeenSet {
    fn default() -> Self {
        SeenSet::new(SEEN_CAPACITY)
    }
}

impl SeenSet {
    pub fn new(cap: usize) -> Self {
        SeenSet {
            cap: cap.max(1),
            inner: Mutex::new((HashSet::new(), VecDeque::new())),
        }
    }

    /// Record `key`; true on the first sighting, false on a repeat.
    pub fn mark_seen(&self, key: &str) -> bool {
        let mut guard = self.inner.lock();
        let (set, order) = &mut *guard;
        if set.contains(key) {
            return false;
        }
        set.insert(key.to_string());
        order.push_back(key.to_string());
        while order.len() > self.cap {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }

    /// Forget `key` (its delivery was refused, so a later one must be ingested).
    pub fn forget(&self, key: &str) {
        let mut guard = self.inner.lock();
        let (set, order) = &mut *guard;
        if set.remove(key) {
            order.retain(|k| k != key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sighting_only_and_fifo_eviction() {
        let s = SeenSet::default();
        assert!(s.mark_seen("note:v|n0"));
        assert!(!s.mark_seen("note:v|n0"));
        assert!(s.mark_seen("note:w|n0"), "ids are per vault");
        for i in 1..=SEEN_CAPACITY {
            assert!(s.mark_seen(&format!("note:v|x{i}")));
        }
        // 2048 newer entries were inserted after both n0 keys: both evicted.
        assert!(s.mark_seen("note:v|n0"));
        assert!(!s.mark_seen(&format!("note:v|x{SEEN_CAPACITY}")));
        s.forget("note:v|n0");
        assert!(s.mark_seen("note:v|n0"), "a forgotten key is new again");
    }
}

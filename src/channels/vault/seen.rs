//! `markSeen` (spec 02 §3.5): the per-process dedup of inbound webhook deliveries. Several
//! triggers (different names) can fire for one note; only the first delivery is ingested.
//! An insertion-ordered set with capacity 2048 — the 2049th id evicts the oldest.
//!
//! [ext] (spec 02 D9): the key is `(vault key, note id)`, not the note id alone — ids are
//! only unique within one vault.

use std::collections::{HashSet, VecDeque};

use parking_lot::Mutex;

/// Capacity of the reference.
pub const SEEN_CAPACITY: usize = 2048;

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

    /// Record `(vault_key, note_id)`; true on the first sighting, false on a repeat.
    pub fn mark_seen(&self, vault_key: &str, note_id: &str) -> bool {
        let key = format!("{vault_key}\u{0}{note_id}");
        let mut guard = self.inner.lock();
        let (set, order) = &mut *guard;
        if set.contains(&key) {
            return false;
        }
        set.insert(key.clone());
        order.push_back(key);
        while order.len() > self.cap {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sighting_only_and_fifo_eviction() {
        let s = SeenSet::default();
        assert!(s.mark_seen("v", "n0"));
        assert!(!s.mark_seen("v", "n0"));
        assert!(s.mark_seen("w", "n0"), "ids are per vault");
        for i in 1..=SEEN_CAPACITY {
            assert!(s.mark_seen("v", &format!("x{i}")));
        }
        // 2048 newer entries were inserted after ("v","n0") and ("w","n0"): both evicted.
        assert!(s.mark_seen("v", "n0"));
        assert!(!s.mark_seen("v", &format!("x{SEEN_CAPACITY}")));
    }
}

//! The delivery high-water mark `<state dir>/delivery-state.json` (spec 05 §2.7, spec 02
//! §5.1): `{"<channel>": "<ISO ts>"}`, advanced when a push channel delivered an inbound
//! message to at least one live subscriber. Nothing reads it at rc.10 (the backlog replay was
//! retired). [ext] A vault channel served by a programmatic agent advances it too, each time
//! one of its messages is handled (replied or failed visibly), and the channel's backlog
//! scan starts there (`backlog`); the first scan of such a channel stores the default mark,
//! so a later start knows where to look from.
//!
//! Rules: loaded once at boot (missing → empty; corrupt or not an object → warning, empty;
//! non-string/empty values skipped); default mark = boot time; `advance` moves only forward
//! (plain string compare of ISO strings), ignores an empty ts, and rewrites the whole file
//! (2-space indented, no trailing newline, mode 0644). [ext] the rewrite is atomic
//! (temp + rename) instead of in place; a write failure is a warning and the mark is kept in
//! memory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde_json::Value;

use crate::util::fsx;

pub const DELIVERY_STATE_FILE: &str = "delivery-state.json";

#[derive(Debug)]
pub struct DeliveryState {
    path: PathBuf,
    default_mark: String,
    marks: Mutex<BTreeMap<String, String>>,
}

impl DeliveryState {
    /// Load `<state_dir>/delivery-state.json`; `default_mark` is the boot time.
    pub fn load(state_dir: &Path, default_mark: &str) -> Self {
        let path = state_dir.join(DELIVERY_STATE_FILE);
        let marks = match std::fs::read_to_string(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                Self::warn_unreadable(&path, &e.to_string());
                BTreeMap::new()
            }
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => map
                    .into_iter()
                    .filter_map(|(k, v)| match v {
                        Value::String(s) if !s.is_empty() => Some((k, s)),
                        _ => None,
                    })
                    .collect(),
                Ok(_) => {
                    Self::warn_unreadable(&path, "not a JSON object");
                    BTreeMap::new()
                }
                Err(e) => {
                    Self::warn_unreadable(&path, &e.to_string());
                    BTreeMap::new()
                }
            },
        };
        DeliveryState {
            path,
            default_mark: default_mark.to_string(),
            marks: Mutex::new(marks),
        }
    }

    fn warn_unreadable(path: &Path, msg: &str) {
        log::warn!(
            "parachute-agent: delivery-state file {} is unreadable ({msg}); starting with empty marks.",
            path.display()
        );
    }

    /// The stored mark of `channel`, else the boot-time default.
    pub fn last_delivered(&self, channel: &str) -> String {
        self.marks
            .lock()
            .get(channel)
            .cloned()
            .unwrap_or_else(|| self.default_mark.clone())
    }

    /// Stores the default mark for `channel` unless it has one (so a restart scans from
    /// this run's boot); returns the mark now in effect.
    pub fn seed(&self, channel: &str) -> String {
        let snapshot = {
            let mut marks = self.marks.lock();
            if let Some(m) = marks.get(channel) {
                return m.clone();
            }
            marks.insert(channel.to_string(), self.default_mark.clone());
            marks.clone()
        };
        self.persist(&snapshot);
        self.default_mark.clone()
    }

    /// Move `channel`'s mark to `ts` if it is strictly newer; returns whether it moved.
    pub fn advance(&self, channel: &str, ts: &str) -> bool {
        if ts.is_empty() {
            return false;
        }
        let snapshot = {
            let mut marks = self.marks.lock();
            let current = marks.get(channel).unwrap_or(&self.default_mark);
            if ts <= current.as_str() {
                return false;
            }
            marks.insert(channel.to_string(), ts.to_string());
            marks.clone()
        };
        self.persist(&snapshot);
        true
    }

    fn persist(&self, snapshot: &BTreeMap<String, String>) {
        let text = serde_json::to_string_pretty(snapshot).unwrap_or_else(|_| "{}".into());
        if let Err(e) = fsx::write_atomic(&self.path, text.as_bytes(), fsx::PUBLIC_FILE) {
            log::warn!(
                "parachute-agent: failed to persist delivery-state to {} ({e}); the mark is held in memory only.",
                self.path.display()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOOT: &str = "2026-06-01T00:00:00.000Z";

    #[test]
    fn advance_is_monotonic_and_persisted() {
        let dir = tempfile::tempdir().unwrap();
        let s = DeliveryState::load(dir.path(), BOOT);
        assert_eq!(s.last_delivered("eng"), BOOT, "unknown channel → boot time");
        assert!(!s.advance("eng", ""), "blank ts never advances");
        assert!(
            !s.advance("eng", "2026-05-01T00:00:00.000Z"),
            "older than boot"
        );
        assert!(s.advance("eng", "2026-06-02T00:00:00.000Z"));
        assert!(
            !s.advance("eng", "2026-06-02T00:00:00.000Z"),
            "equal is not newer"
        );
        assert!(
            s.advance("ops", "2026-06-01T00:00:01.000Z"),
            "channels independent"
        );
        let text = std::fs::read_to_string(dir.path().join(DELIVERY_STATE_FILE)).unwrap();
        assert!(!text.ends_with('\n'));
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["eng"], "2026-06-02T00:00:00.000Z");
        let again = DeliveryState::load(dir.path(), "2027-01-01T00:00:00.000Z");
        assert_eq!(again.last_delivered("eng"), "2026-06-02T00:00:00.000Z");
        assert_eq!(again.last_delivered("new"), "2027-01-01T00:00:00.000Z");
        assert_eq!(
            again.seed("eng"),
            "2026-06-02T00:00:00.000Z",
            "a mark is kept"
        );
        assert_eq!(again.seed("new"), "2027-01-01T00:00:00.000Z");
        let third = DeliveryState::load(dir.path(), "2028-01-01T00:00:00.000Z");
        assert_eq!(
            third.last_delivered("new"),
            "2027-01-01T00:00:00.000Z",
            "the seeded mark was persisted"
        );
    }

    #[test]
    fn corrupt_file_is_tolerated_and_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(DELIVERY_STATE_FILE);
        std::fs::write(&file, "{not json").unwrap();
        let s = DeliveryState::load(dir.path(), BOOT);
        assert_eq!(s.last_delivered("eng"), BOOT);
        assert!(s.advance("eng", "2026-06-03T00:00:00.000Z"));
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        assert_eq!(v, serde_json::json!({"eng": "2026-06-03T00:00:00.000Z"}));
        std::fs::write(&file, "{\"a\": 5, \"b\": \"\", \"c\": \"x\"}").unwrap();
        let s = DeliveryState::load(dir.path(), BOOT);
        assert_eq!(s.last_delivered("a"), BOOT);
        assert_eq!(s.last_delivered("c"), "x");
    }
}

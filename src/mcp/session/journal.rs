//! Incremental persistence of the MCP session table ([ext]): a
//! compacted snapshot `mcp-sessions.json` (the format earlier versions wrote, so their
//! files still load) plus an append-only log `mcp-sessions.log` of one JSON line per
//! change (`{"op":"put",…}` / `{"op":"del","id":…}`). An `initialize` appends one line
//! instead of rewriting the whole table, so its cost no longer grows with the number of
//! sessions.
//!
//! Crash safety: a line is one `write` on an `O_APPEND` file (it reaches the kernel before
//! the request is answered, so a killed daemon loses nothing; a power cut may lose the last
//! lines the kernel had not flushed). A torn last line is skipped at load. Compaction writes
//! the snapshot atomically (temp, fsync, rename) *before* truncating the log; replaying a
//! log over a snapshot that already contains it is idempotent (every line sets or removes
//! one id), so a crash between the two steps changes nothing. Both files are 0600.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::super::tools::Surface;
use crate::util::fsx;

/// File name of the compacted snapshot in the state dir.
pub const SNAPSHOT_FILE: &str = "mcp-sessions.json";
/// File name of the append log in the state dir.
pub const LOG_FILE: &str = "mcp-sessions.log";
/// The log is compacted once it has this many lines and twice as many as live sessions.
const COMPACT_MIN_LINES: usize = 1024;

/// One persisted session: id, channel and surface only (never scopes or tokens).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersistedSession {
    pub id: String,
    pub channel: String,
    pub surface: Surface,
    pub created_ms: u64,
    pub last_seen_ms: u64,
}

#[derive(Serialize, Deserialize, Default)]
struct SnapshotFile {
    sessions: Vec<PersistedSession>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
enum Line {
    Put(PersistedSession),
    Del { id: String },
}

/// The two files of one state dir and the open append handle.
pub struct Journal {
    snapshot: PathBuf,
    log: PathBuf,
    file: Option<File>,
    lines: usize,
}

impl Journal {
    pub fn new(state_dir: &Path) -> Journal {
        Journal {
            snapshot: state_dir.join(SNAPSHOT_FILE),
            log: state_dir.join(LOG_FILE),
            file: None,
            lines: 0,
        }
    }

    /// The persisted sessions: the snapshot with the log replayed over it, oldest first.
    /// Also reports whether the log had lines (the caller then compacts).
    pub fn load(&mut self) -> (Vec<PersistedSession>, bool) {
        let mut table: HashMap<String, PersistedSession> = HashMap::new();
        match std::fs::read(&self.snapshot) {
            Ok(data) => match serde_json::from_slice::<SnapshotFile>(&data) {
                Ok(f) => table.extend(f.sessions.into_iter().map(|s| (s.id.clone(), s))),
                Err(e) => log::warn!("ignoring unreadable {}: {e}", self.snapshot.display()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("cannot read {}: {e}", self.snapshot.display()),
        }
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let mut replayed = 0;
        for raw in text.lines().filter(|l| !l.trim().is_empty()) {
            replayed += 1;
            match serde_json::from_str::<Line>(raw) {
                Ok(Line::Put(s)) => {
                    table.insert(s.id.clone(), s);
                }
                Ok(Line::Del { id }) => {
                    table.remove(&id);
                }
                Err(e) => log::warn!("skipping a torn line of {}: {e}", self.log.display()),
            }
        }
        self.lines = replayed;
        let mut out: Vec<PersistedSession> = table.into_values().collect();
        out.sort_by(|a, b| a.created_ms.cmp(&b.created_ms).then(a.id.cmp(&b.id)));
        (out, replayed > 0)
    }

    /// Records that `s` exists with these values.
    pub fn put(&mut self, s: &PersistedSession) {
        self.append(&Line::Put(s.clone()));
    }

    /// Records that session `id` is gone.
    pub fn del(&mut self, id: &str) {
        self.append(&Line::Del { id: id.to_string() });
    }

    /// Whether the log is long enough, relative to `live` sessions, to be folded.
    pub fn wants_compaction(&self, live: usize) -> bool {
        self.lines >= COMPACT_MIN_LINES && self.lines >= 2 * live
    }

    /// Writes `all` as the new snapshot, then empties the log.
    pub fn compact(&mut self, all: Vec<PersistedSession>) {
        let bytes = serde_json::to_vec_pretty(&SnapshotFile { sessions: all }).unwrap_or_default();
        if let Err(e) = fsx::write_atomic(&self.snapshot, &bytes, fsx::PRIVATE_FILE) {
            log::warn!("cannot write {}: {e}", self.snapshot.display());
            return;
        }
        self.file = None;
        match std::fs::OpenOptions::new().write(true).open(&self.log) {
            Ok(f) => match f.set_len(0) {
                Ok(()) => self.lines = 0,
                Err(e) => log::warn!("cannot truncate {}: {e}", self.log.display()),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.lines = 0,
            Err(e) => log::warn!("cannot open {}: {e}", self.log.display()),
        }
    }

    fn append(&mut self, line: &Line) {
        let mut bytes = serde_json::to_vec(line).unwrap_or_default();
        bytes.push(b'\n');
        if self.file.is_none() {
            match std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .mode(fsx::PRIVATE_FILE)
                .open(&self.log)
            {
                Ok(f) => self.file = Some(f),
                Err(e) => {
                    log::warn!("cannot open {}: {e}", self.log.display());
                    return;
                }
            }
        }
        let written = self.file.as_mut().map(|f| f.write_all(&bytes));
        match written {
            Some(Ok(())) => self.lines += 1,
            Some(Err(e)) => {
                log::warn!("cannot append to {}: {e}", self.log.display());
                self.file = None;
            }
            None => {}
        }
    }
}

//! The durable inbound journal ([ext]; spec 07 §4 "accept a message only once it
//! is durable"): every message for a programmatic agent is appended and fsynced here
//! before the transport acknowledges it (HTTP 2xx, Telegram offset), so a crash, `kill -9`
//! or power cut loses nothing that was acknowledged.
//!
//! One file, `<state>/journal/inbound.log` (dir 0700, file 0600): the 8-byte magic
//! `PAJRNL1\n`, then length + CRC-32 framed JSON records ([`frame`], [`record`]). Each
//! append is one `write` followed by `fdatasync`. At open the records are replayed into
//! [`JournalState`]; a torn last record (short, or failing its checksum) is reported,
//! ignored and cut off. When the file outgrows both the compaction threshold and twice
//! its size after the last compaction, it is rewritten as the snapshot of its live state
//! (temp file, fsync, rename, fsync of the directory), so it stays bounded by the
//! messages still pending plus [`state::SEEN_KEYS`] dedup keys.
//!
//! The journal knows nothing of turns: the programmatic backend records `accept`,
//! `start` (each attempt) and `done` (with the outcome), and asks for the pending records
//! of a channel when its agent registers.

pub mod frame;
pub mod record;
pub mod state;

#[cfg(test)]
mod tests;

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::Value;

pub use record::{Outcome, Record};
pub use state::{JournalState, Pending};

/// The journal's folder under the state dir, and its file.
pub const DIR: &str = "journal";
pub const FILE: &str = "inbound.log";

/// Why an append failed; the message was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalError(pub String);

impl std::fmt::Display for JournalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "journal write failed: {}", self.0)
    }
}

/// Result of [`Journal::accept`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// Durable under this id.
    New(u64),
    /// A message with the same key is pending or finished: nothing was written.
    Duplicate,
}

/// What opening the journal found.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenReport {
    pub records: usize,
    pub pending: usize,
    pub torn: Option<frame::Torn>,
    pub elapsed: Duration,
}

/// Size and activity figures (`/health`, `STATUS=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub bytes: u64,
    pub pending: usize,
    pub compactions: u64,
}

struct Inner {
    file: File,
    len: u64,
    compact_at: u64,
    compactions: u64,
    state: JournalState,
    /// Set when a failed append could not be undone: nothing more is accepted.
    broken: Option<String>,
    /// Pending ids already handed to a queue in this process.
    handed_out: std::collections::HashSet<u64>,
}

pub struct Journal {
    dir: PathBuf,
    compact_bytes: u64,
    /// fdatasync after each append (always, except in unit tests of the file logic).
    sync: bool,
    inner: Mutex<Inner>,
}

fn open_append(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .read(true)
        .mode(0o600)
        .open(path)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

impl Journal {
    /// Opens (or creates) `<state_dir>/journal/inbound.log` and replays it.
    /// `compact_bytes`: the size below which the file is never compacted.
    pub fn open(
        state_dir: &Path,
        compact_bytes: u64,
    ) -> std::io::Result<(Arc<Journal>, OpenReport)> {
        Self::open_with(state_dir, compact_bytes, true)
    }

    fn open_with(
        state_dir: &Path,
        compact_bytes: u64,
        sync: bool,
    ) -> std::io::Result<(Arc<Journal>, OpenReport)> {
        let t0 = Instant::now();
        let dir = state_dir.join(DIR);
        std::fs::create_dir_all(&dir)?;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        let path = dir.join(FILE);
        let _ = std::fs::remove_file(dir.join(format!("{FILE}.tmp")));
        let mut file = open_append(&path)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        let mut state = JournalState::default();
        let mut records = 0;
        let mut torn = None;
        if data.is_empty() {
            file.write_all(frame::MAGIC)?;
            file.sync_all()?;
            sync_dir(&dir)?;
        } else if data.len() < frame::MAGIC.len() || &data[..frame::MAGIC.len()] != frame::MAGIC {
            return Err(std::io::Error::other(format!(
                "{} is not a parachute-agent journal (bad magic); move it away to start empty",
                path.display()
            )));
        } else {
            let base = frame::MAGIC.len() as u64;
            let (payloads, t) = frame::decode(&data[frame::MAGIC.len()..], base);
            for p in payloads {
                match serde_json::from_slice::<Record>(p) {
                    Ok(r) => {
                        state.apply(r);
                        records += 1;
                    }
                    Err(e) => log::warn!("journal: skipping an unreadable record: {e}"),
                }
            }
            if let Some(t) = &t {
                file.set_len(t.offset)?;
                file.sync_all()?;
            }
            torn = t;
        }
        let len = file.metadata()?.len();
        let report = OpenReport {
            records,
            pending: state.pending.len(),
            torn,
            elapsed: t0.elapsed(),
        };
        let journal = Journal {
            dir,
            compact_bytes: compact_bytes.max(4096),
            sync,
            inner: Mutex::new(Inner {
                file,
                len,
                compact_at: compact_bytes.max(4096),
                compactions: 0,
                state,
                broken: None,
                handed_out: Default::default(),
            }),
        };
        Ok((Arc::new(journal), report))
    }

    pub fn path(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Appends `rec` and fsyncs; on success applies it to the state. A failed write is
    /// cut back off the file; if even that fails the journal refuses further appends.
    fn append(&self, inner: &mut Inner, rec: Record) -> Result<(), JournalError> {
        if let Some(why) = &inner.broken {
            return Err(JournalError(why.clone()));
        }
        let bytes = frame::encode(&rec.to_bytes());
        let written = inner.file.write_all(&bytes).and_then(|()| {
            if self.sync {
                inner.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            let undo = inner
                .file
                .set_len(inner.len)
                .and_then(|()| inner.file.sync_data());
            if let Err(u) = undo {
                inner.broken = Some(format!("{e}; could not cut the failed record off: {u}"));
                log::error!("journal: {}", inner.broken.as_deref().unwrap_or_default());
            }
            return Err(JournalError(e.to_string()));
        }
        inner.len += bytes.len() as u64;
        inner.state.apply(rec);
        Ok(())
    }

    /// Accepts one message for `agent` on `channel`: durable when this returns `New`.
    pub fn accept(
        &self,
        channel: &str,
        agent: &str,
        key: Option<&str>,
        msg: Value,
    ) -> Result<Accepted, JournalError> {
        self.accept_written(channel, agent, key, msg, crate::util::time::now_ms())
    }

    /// [`Journal::accept`] of a message written at `at_ms` (a note found in the vault
    /// long after it was written): its age counts from then.
    pub fn accept_written(
        &self,
        channel: &str,
        agent: &str,
        key: Option<&str>,
        msg: Value,
        at_ms: u64,
    ) -> Result<Accepted, JournalError> {
        let mut inner = self.inner.lock();
        if key.is_some_and(|k| inner.state.knows(k)) {
            return Ok(Accepted::Duplicate);
        }
        let id = inner.state.next_id;
        let rec = Record::Accept {
            id,
            channel: channel.to_string(),
            agent: agent.to_string(),
            key: key.map(str::to_string),
            at: crate::util::time::iso_from_ms(at_ms),
            at_ms,
            msg,
        };
        self.append(&mut inner, rec)?;
        inner.handed_out.insert(id);
        Ok(Accepted::New(id))
    }

    /// Attempt `attempt` of message `id` starts now.
    pub fn start(&self, id: u64, attempt: u32) -> Result<(), JournalError> {
        let mut inner = self.inner.lock();
        self.append(&mut inner, Record::Start { id, attempt })
    }

    /// Message `id` is done with `outcome` (one atomic record); may compact.
    pub fn finish(&self, id: u64, outcome: Outcome) -> Result<(), JournalError> {
        let mut inner = self.inner.lock();
        if !inner.state.pending.contains_key(&id) {
            return Ok(());
        }
        self.append(&mut inner, Record::Done { id, outcome })?;
        inner.handed_out.remove(&id);
        self.maybe_compact(&mut inner);
        Ok(())
    }

    /// Persists the next Telegram update offset of `channel`.
    pub fn set_offset(&self, channel: &str, next: i64) -> Result<(), JournalError> {
        let mut inner = self.inner.lock();
        if inner.state.offsets.get(channel) == Some(&next) {
            return Ok(());
        }
        self.append(
            &mut inner,
            Record::Offset {
                channel: channel.to_string(),
                next,
            },
        )?;
        self.maybe_compact(&mut inner);
        Ok(())
    }

    /// The persisted next update offset of `channel`.
    pub fn offset(&self, channel: &str) -> Option<i64> {
        self.inner.lock().state.offsets.get(channel).copied()
    }

    /// Whether a message with `key` is pending or recently finished.
    pub fn knows(&self, key: &str) -> bool {
        self.inner.lock().state.knows(key)
    }

    /// Remembers `key` as taken care of (a `seen` record), unless it is known already;
    /// it then dedups like the key of a finished message.
    pub fn remember(&self, key: &str) -> Result<(), JournalError> {
        let mut inner = self.inner.lock();
        if inner.state.knows(key) {
            return Ok(());
        }
        self.append(
            &mut inner,
            Record::Seen {
                key: key.to_string(),
            },
        )?;
        self.maybe_compact(&mut inner);
        Ok(())
    }

    /// The pending messages of `channel` not yet handed to a queue in this process, in
    /// accept order; they count as handed out from now on.
    pub fn take_replay(&self, channel: &str) -> Vec<Pending> {
        let mut inner = self.inner.lock();
        let Inner {
            state, handed_out, ..
        } = &mut *inner;
        state
            .pending
            .values()
            .filter(|p| p.channel == channel && handed_out.insert(p.id))
            .cloned()
            .collect()
    }

    /// Puts a pending message back into the replay set of this process (it was accepted
    /// for a channel whose agent had not registered yet).
    pub fn release(&self, id: u64) {
        self.inner.lock().handed_out.remove(&id);
    }

    /// Pending messages per channel (for `STATUS=` and `/health`).
    pub fn depths(&self) -> std::collections::BTreeMap<String, usize> {
        let mut out = std::collections::BTreeMap::new();
        for p in self.inner.lock().state.pending.values() {
            *out.entry(p.channel.clone()).or_insert(0) += 1;
        }
        out
    }

    pub fn stats(&self) -> Stats {
        let inner = self.inner.lock();
        Stats {
            bytes: inner.len,
            pending: inner.state.pending.len(),
            compactions: inner.compactions,
        }
    }

    fn maybe_compact(&self, inner: &mut Inner) {
        if inner.len < inner.compact_at {
            return;
        }
        match self.compact(inner) {
            Ok(()) => {
                inner.compactions += 1;
                inner.compact_at = self.compact_bytes.max(inner.len.saturating_mul(2));
                log::debug!(
                    "journal: compacted to {} bytes ({} pending)",
                    inner.len,
                    inner.state.pending.len()
                );
            }
            Err(e) => {
                // The old file is intact; try again after it grew as much again.
                inner.compact_at = inner.len.saturating_mul(2);
                log::warn!("journal: compaction failed (the journal stays as it is): {e}");
            }
        }
    }

    /// Rewrites the file as the snapshot of the live state.
    fn compact(&self, inner: &mut Inner) -> std::io::Result<()> {
        let path = self.path();
        let tmp = self.dir.join(format!("{FILE}.tmp"));
        let mut buf = frame::MAGIC.to_vec();
        for rec in inner.state.snapshot() {
            buf.extend(frame::encode(&rec.to_bytes()));
        }
        {
            let mut f = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&buf)?;
            f.sync_all()?;
        }
        std::fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        inner.file = open_append(&path)?;
        inner.len = buf.len() as u64;
        Ok(())
    }
}

//! The MCP session store (spec 05 §1.6, spec 07 §3): session id → channel, tool surface,
//! current scopes, last activity and the optional push-stream sender.
//!
//! Divergences from the reference, on purpose:
//! - [ext] Sessions are reaped after `idle` without a request and without an open push stream
//!   (`PARACHUTE_AGENT_MCP_SESSION_IDLE_SECS`, default 24 h), so abandoned sessions cannot pile
//!   up. A reaped client gets 404 and re-initializes.
//! - [ext] Session ids (with channel and surface, never scopes or tokens) are persisted in
//!   the state dir (0600), so a daemon restart does not kill the tools of a connected Claude
//!   Code, which never re-initializes after a 404 (spec 07 §3). The bearer token is still
//!   validated on every request, so a persisted id grants nothing by itself. Persistence is
//!   incremental ([`journal`]: one appended line per change, compacted now and then), so an
//!   `initialize` costs the same with 5 sessions or 5,000.
//! - [ext] At most `max` sessions (`PARACHUTE_AGENT_MCP_SESSIONS_MAX`, default 1000): a new
//!   one evicts the least recently used, preferring sessions without an open push stream.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use parking_lot::Mutex;

use super::tools::Surface;
use crate::util::time;
use journal::{Journal, PersistedSession};

mod journal;

/// File name of the persisted session snapshot in the state dir.
pub const SESSIONS_FILE: &str = journal::SNAPSHOT_FILE;
/// File name of the append log next to it.
pub const SESSIONS_LOG: &str = journal::LOG_FILE;
/// Default cap on live sessions.
pub const DEFAULT_MAX_SESSIONS: usize = 1000;
/// Frames buffered per push stream before further pushes to it are dropped.
const PUSH_QUEUE: usize = 1024;
/// Activity is re-persisted at most this often per session.
const PERSIST_SEEN_EVERY_MS: u64 = 5 * 60 * 1000;

/// A snapshot of one session, handed to the request handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: String,
    pub channel: String,
    pub surface: Surface,
    pub scopes: Vec<String>,
}

struct PushSlot {
    stream_id: u64,
    tx: Sender<Vec<u8>>,
}

struct Session {
    channel: String,
    surface: Surface,
    scopes: Vec<String>,
    created_ms: u64,
    last_seen_ms: u64,
    persisted_seen_ms: u64,
    push: Option<PushSlot>,
    cancelled: HashSet<String>,
}

impl Session {
    fn info(&self, id: &str) -> SessionInfo {
        SessionInfo {
            id: id.to_string(),
            channel: self.channel.clone(),
            surface: self.surface,
            scopes: self.scopes.clone(),
        }
    }
}

impl Session {
    fn persisted(&self, id: &str) -> PersistedSession {
        PersistedSession {
            id: id.to_string(),
            channel: self.channel.clone(),
            surface: self.surface,
            created_ms: self.created_ms,
            last_seen_ms: self.last_seen_ms,
        }
    }
}

/// Why a push stream could not be opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenPushError {
    NotFound,
    /// A stream is already open for the session (409).
    Conflict,
}

/// All MCP sessions of the daemon (one global table, spec 05 §1.6).
///
/// Lock order: `sessions`, then `journal` (a change is logged while the table is held, so
/// the log's order is the table's order).
pub struct McpSessionStore {
    sessions: Mutex<HashMap<String, Session>>,
    journal: Option<Mutex<Journal>>,
    max: usize,
    idle_ms: u64,
    next_stream: AtomicU64,
    last_reap_ms: AtomicU64,
}

impl McpSessionStore {
    /// A store persisting to `<state_dir>` (loaded now; expired entries dropped), or a
    /// memory-only store when `state_dir` is `None`; at most [`DEFAULT_MAX_SESSIONS`].
    pub fn new(state_dir: Option<PathBuf>, idle: Duration) -> Self {
        Self::with_max(state_dir, idle, DEFAULT_MAX_SESSIONS)
    }

    /// [`new`](Self::new) with a cap of `max` live sessions (at least 1).
    pub fn with_max(state_dir: Option<PathBuf>, idle: Duration, max: usize) -> Self {
        let store = McpSessionStore {
            sessions: Mutex::new(HashMap::new()),
            journal: state_dir.map(|d| Mutex::new(Journal::new(&d))),
            max: max.max(1),
            idle_ms: idle.as_millis() as u64,
            next_stream: AtomicU64::new(1),
            last_reap_ms: AtomicU64::new(time::now_ms()),
        };
        store.load();
        store
    }

    fn load(&self) {
        let Some(journal) = &self.journal else { return };
        let mut journal = journal.lock();
        let (persisted, replayed) = journal.load();
        let now = time::now_ms();
        let total = persisted.len();
        let mut map = self.sessions.lock();
        let mut live: Vec<PersistedSession> = persisted
            .into_iter()
            .filter(|p| now.saturating_sub(p.last_seen_ms) < self.idle_ms)
            .collect();
        // Over the cap (a lowered knob): keep the most recently used.
        if live.len() > self.max {
            live.sort_by_key(|p| std::cmp::Reverse(p.last_seen_ms));
            live.truncate(self.max);
            live.sort_by_key(|p| p.created_ms);
        }
        let changed = replayed || live.len() != total;
        for p in &live {
            map.insert(
                p.id.clone(),
                Session {
                    channel: p.channel.clone(),
                    surface: p.surface,
                    scopes: Vec::new(),
                    created_ms: p.created_ms,
                    last_seen_ms: p.last_seen_ms,
                    persisted_seen_ms: p.last_seen_ms,
                    push: None,
                    cancelled: HashSet::new(),
                },
            );
        }
        if changed {
            journal.compact(live);
        }
        if !map.is_empty() {
            log::info!("restored {} MCP session(s)", map.len());
        }
    }

    /// Logs the current values of `put` and the removal of `del` (caller holds `map`),
    /// compacting when the log has grown long.
    fn record(&self, map: &HashMap<String, Session>, put: Option<&str>, del: &[String]) {
        let Some(journal) = &self.journal else { return };
        let mut journal = journal.lock();
        for id in del {
            journal.del(id);
        }
        if let Some(s) = put.and_then(|id| map.get(id).map(|s| s.persisted(id))) {
            journal.put(&s);
        }
        if journal.wants_compaction(map.len()) {
            let mut all: Vec<PersistedSession> =
                map.iter().map(|(id, s)| s.persisted(id)).collect();
            all.sort_by_key(|p| p.created_ms);
            journal.compact(all);
        }
    }

    /// The least recently used session, preferring those without an open push stream.
    fn lru_victim(map: &HashMap<String, Session>) -> Option<String> {
        map.iter()
            .min_by_key(|(_, s)| (s.push.is_some(), s.last_seen_ms))
            .map(|(id, _)| id.clone())
    }

    /// Register a new session (at a successful `initialize`); returns its id (UUID v4).
    pub fn create(&self, channel: &str, surface: Surface, scopes: Vec<String>) -> String {
        self.reap();
        let id = crate::util::rand::uuid();
        let now = time::now_ms();
        let mut map = self.sessions.lock();
        let mut evicted = Vec::new();
        while map.len() >= self.max {
            let Some(victim) = Self::lru_victim(&map) else {
                break;
            };
            map.remove(&victim);
            evicted.push(victim);
        }
        if !evicted.is_empty() {
            log::info!(
                "MCP session cap ({}) reached: evicted {} least recently used",
                self.max,
                evicted.len()
            );
        }
        map.insert(
            id.clone(),
            Session {
                channel: channel.to_string(),
                surface,
                scopes,
                created_ms: now,
                last_seen_ms: now,
                persisted_seen_ms: now,
                push: None,
                cancelled: HashSet::new(),
            },
        );
        self.record(&map, Some(&id), &evicted);
        id
    }

    /// Look a session up, refresh its scopes from this request and its activity time.
    pub fn touch(&self, id: &str, scopes: &[String]) -> Option<SessionInfo> {
        let now = time::now_ms();
        let mut map = self.sessions.lock();
        let s = map.get_mut(id)?;
        s.scopes = scopes.to_vec();
        s.last_seen_ms = now;
        let stale = now.saturating_sub(s.persisted_seen_ms) >= PERSIST_SEEN_EVERY_MS;
        if stale {
            s.persisted_seen_ms = now;
        }
        let info = s.info(id);
        if stale {
            self.record(&map, Some(id), &[]);
        }
        Some(info)
    }

    /// A session's snapshot without touching it.
    pub fn get(&self, id: &str) -> Option<SessionInfo> {
        self.sessions.lock().get(id).map(|s| s.info(id))
    }

    /// Close and unregister a session (DELETE); its push stream ends. False if unknown.
    pub fn remove(&self, id: &str) -> bool {
        let mut map = self.sessions.lock();
        let removed = map.remove(id).is_some();
        if removed {
            self.record(&map, None, &[id.to_string()]);
        }
        removed
    }

    /// Close and unregister every session of a deleted channel; returns how many.
    pub fn remove_channel(&self, channel: &str) -> usize {
        let mut map = self.sessions.lock();
        let gone: Vec<String> = map
            .iter()
            .filter(|(_, s)| s.channel == channel)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            map.remove(id);
        }
        if !gone.is_empty() {
            self.record(&map, None, &gone);
        }
        gone.len()
    }

    /// Open the session's push stream; the receiver yields SSE frames. One per session.
    pub fn open_push(&self, id: &str) -> Result<(u64, Receiver<Vec<u8>>), OpenPushError> {
        let mut map = self.sessions.lock();
        let s = map.get_mut(id).ok_or(OpenPushError::NotFound)?;
        if s.push.is_some() {
            return Err(OpenPushError::Conflict);
        }
        let (tx, rx) = crossbeam_channel::bounded(PUSH_QUEUE);
        let stream_id = self.next_stream.fetch_add(1, Ordering::Relaxed);
        s.push = Some(PushSlot { stream_id, tx });
        s.last_seen_ms = time::now_ms();
        Ok((stream_id, rx))
    }

    /// The push stream `stream_id` of session `id` ended (client went away).
    pub fn close_push(&self, id: &str, stream_id: u64) {
        let mut map = self.sessions.lock();
        if let Some(s) = map.get_mut(id) {
            if s.push.as_ref().is_some_and(|p| p.stream_id == stream_id) {
                s.push = None;
                s.last_seen_ms = time::now_ms();
            }
        }
    }

    /// Push one frame to every session on `channel` with an open push stream; returns the
    /// number of sessions attempted (spec 05 §1.7 counting). Dead streams are cleared.
    pub fn push_to_channel(&self, channel: &str, frame: &[u8]) -> usize {
        let mut map = self.sessions.lock();
        let mut attempted = 0;
        for (id, s) in map.iter_mut().filter(|(_, s)| s.channel == channel) {
            let Some(slot) = &s.push else { continue };
            attempted += 1;
            match slot.tx.try_send(frame.to_vec()) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => {
                    log::warn!("MCP session {id}: push stream backlog full, frame dropped")
                }
                Err(TrySendError::Disconnected(_)) => s.push = None,
            }
        }
        attempted
    }

    /// Registered sessions on `channel` (`/health` `mcp_sessions`).
    pub fn count_for_channel(&self, channel: &str) -> usize {
        self.sessions
            .lock()
            .values()
            .filter(|s| s.channel == channel)
            .count()
    }

    /// Mark request `key` of session `id` as cancelled (`notifications/cancelled`).
    pub fn cancel(&self, id: &str, key: String) {
        if let Some(s) = self.sessions.lock().get_mut(id) {
            if s.cancelled.len() < 1024 {
                s.cancelled.insert(key);
            }
        }
    }

    /// Whether request `key` was cancelled (consumes the mark).
    pub fn take_cancelled(&self, id: &str, key: &str) -> bool {
        self.sessions
            .lock()
            .get_mut(id)
            .is_some_and(|s| s.cancelled.remove(key))
    }

    /// [`reap`](Self::reap), at most once a minute (called from hot paths such as `/health`).
    pub fn maybe_reap(&self) {
        let now = time::now_ms();
        let last = self.last_reap_ms.load(Ordering::Relaxed);
        if now.saturating_sub(last) >= 60_000
            && self
                .last_reap_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.reap();
        }
    }

    /// Drop sessions idle for the configured time with no open push stream; how many.
    pub fn reap(&self) -> usize {
        let now = time::now_ms();
        let mut map = self.sessions.lock();
        let gone: Vec<String> = map
            .iter()
            .filter(|(_, s)| s.push.is_none() && now.saturating_sub(s.last_seen_ms) >= self.idle_ms)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &gone {
            map.remove(id);
        }
        if !gone.is_empty() {
            log::info!("reaped {} idle MCP session(s)", gone.len());
            self.record(&map, None, &gone);
        }
        gone.len()
    }
}

#[cfg(test)]
mod tests;

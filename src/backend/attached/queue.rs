//! The attached backend's queue operations over a durable store (spec 03 §6.2–§6.4):
//! reading the queue from inbound notes, `pending` previews, claim with compare-and-swap on
//! the note's `updatedAt` (up to 25 attempts), reply-then-mark-handled, release, and the TTL
//! sweep. The store is a trait so the logic is tested without a vault; the vault-backed store
//! is `super::vault_store`.

use serde_json::{json, Value};

/// Claim attempts before `next-message` gives up (lost races).
pub const CLAIM_ATTEMPTS: usize = 25;
/// Items listed by `pending`.
pub const PENDING_ITEMS: usize = 20;
/// A claim older than this (or exactly this) is released by the sweep.
pub const CLAIM_TTL_MS: u64 = 15 * 60 * 1000;

/// Claim state of an inbound note (`metadata.status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    InFlight,
    Handled,
}

impl Status {
    /// absent / empty / unknown (e.g. a callback's `ok`/`error`) → pending.
    pub fn parse(s: Option<&str>) -> Self {
        match s {
            Some("in-flight") => Status::InFlight,
            Some("handled") => Status::Handled,
            _ => Status::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::InFlight => "in-flight",
            Status::Handled => "handled",
        }
    }
}

/// One queued inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueItem {
    pub id: String,
    pub text: String,
    pub sender: String,
    pub ts: String,
    pub status: Status,
    pub claimed_at: Option<String>,
    pub updated_at: Option<String>,
}

/// A store error: a lost compare-and-swap, or anything else (message shown to the caller).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    LostRace(String),
    Other(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::LostRace(m) | StoreError::Other(m) => f.write_str(m),
        }
    }
}

/// The durable store behind one attached channel (the channel's vault).
pub trait QueueStore: Send + Sync {
    /// Unhandled inbound items of `channel`, oldest first (see [`items_from_notes`]).
    fn list(&self, channel: &str) -> Result<Vec<QueueItem>, String>;
    /// Write `status` + `claimedAt`; with `if_updated_at` as a compare-and-swap (a conflict is
    /// [`StoreError::LostRace`]), else as a forced write.
    fn set_status(
        &self,
        id: &str,
        status: Status,
        claimed_at: &str,
        if_updated_at: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Write the outbound note (with `in_reply_to` when given); its id(s).
    fn write_reply(
        &self,
        channel: &str,
        text: &str,
        in_reply_to: Option<&str>,
    ) -> Result<Vec<String>, String>;
}

fn meta_str<'a>(meta: &'a Value, k: &str) -> Option<&'a str> {
    meta.get(k).and_then(Value::as_str)
}

/// Turn a vault list of `agent/message/inbound` notes into `channel`'s queue: keep notes
/// whose `metadata.agent` (fallback `metadata.channel`) is the channel, drop `handled`, sort
/// ascending by the `ts` string (blank first; stable).
pub fn items_from_notes(channel: &str, notes: &[Value]) -> Vec<QueueItem> {
    let mut items: Vec<QueueItem> = notes
        .iter()
        .filter_map(|n| {
            let meta = n.get("metadata").unwrap_or(&Value::Null);
            let key = meta_str(meta, "agent").or_else(|| meta_str(meta, "channel"));
            if key != Some(channel) {
                return None;
            }
            let status = Status::parse(meta_str(meta, "status"));
            if status == Status::Handled {
                return None;
            }
            Some(QueueItem {
                id: n.get("id")?.as_str()?.to_string(),
                text: n
                    .get("content")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                sender: meta_str(meta, "sender").unwrap_or("").to_string(),
                ts: meta_str(meta, "ts").unwrap_or("").to_string(),
                status,
                claimed_at: meta_str(meta, "claimedAt").map(str::to_string),
                updated_at: n
                    .get("updatedAt")
                    .or_else(|| n.get("updated_at"))
                    .and_then(Value::as_str)
                    .map(str::to_string),
            })
        })
        .collect();
    items.sort_by(|a, b| a.ts.cmp(&b.ts));
    items
}

/// Whitespace runs → one space, trimmed, cut to 119 chars + `…` when longer than 120.
pub fn preview(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() > 120 {
        let mut cut: String = collapsed.chars().take(119).collect();
        cut.push('…');
        cut
    } else {
        collapsed
    }
}

/// `{count, items:[{id, preview}]}` of the pending items (first 20, oldest first).
pub fn pending(store: &dyn QueueStore, channel: &str) -> Result<Value, String> {
    let items = store.list(channel)?;
    let pending: Vec<&QueueItem> = items
        .iter()
        .filter(|i| i.status == Status::Pending)
        .collect();
    let shown: Vec<Value> = pending
        .iter()
        .take(PENDING_ITEMS)
        .map(|i| json!({"id": i.id, "preview": preview(&i.text)}))
        .collect();
    Ok(json!({"count": pending.len(), "items": shown}))
}

/// Claim the oldest pending message; `None` when nothing is claimable (or every attempt lost
/// its race). The result is `{id, text, inReplyTo, systemPrompt}`.
pub fn claim_next(
    store: &dyn QueueStore,
    channel: &str,
    system_prompt: &str,
    now_iso: &dyn Fn() -> String,
) -> Result<Option<Value>, String> {
    for _ in 0..CLAIM_ATTEMPTS {
        let items = store.list(channel)?;
        let Some(item) = items.into_iter().find(|i| i.status == Status::Pending) else {
            return Ok(None);
        };
        match store.set_status(
            &item.id,
            Status::InFlight,
            &now_iso(),
            item.updated_at.as_deref(),
        ) {
            Ok(()) => {
                return Ok(Some(json!({
                    "id": item.id,
                    "text": item.text,
                    "inReplyTo": item.id,
                    "systemPrompt": system_prompt,
                })))
            }
            Err(StoreError::LostRace(m)) => log::debug!("{m}; retrying claim"),
            Err(StoreError::Other(m)) => return Err(m),
        }
    }
    Ok(None)
}

/// Write the outbound note first, then mark `in_reply_to` handled. If the write fails
/// nothing is marked.
pub fn reply(
    store: &dyn QueueStore,
    channel: &str,
    text: &str,
    in_reply_to: Option<&str>,
) -> Result<Vec<String>, String> {
    let ids = store.write_reply(channel, text, in_reply_to)?;
    if let Some(id) = in_reply_to {
        store
            .set_status(id, Status::Handled, "", None)
            .map_err(|e| e.to_string())?;
    }
    Ok(ids)
}

/// Put a message back to pending (any id; not checked).
pub fn release(store: &dyn QueueStore, id: &str) -> Result<(), String> {
    store
        .set_status(id, Status::Pending, "", None)
        .map_err(|e| e.to_string())
}

/// Reset every in-flight item of `channel` whose parseable `claimedAt` is at least
/// `ttl_ms` old; returns how many. Per-note failures are logged and skipped.
pub fn sweep(
    store: &dyn QueueStore,
    channel: &str,
    now_ms: u64,
    ttl_ms: u64,
) -> Result<usize, String> {
    let mut released = 0;
    for item in store.list(channel)? {
        if item.status != Status::InFlight {
            continue;
        }
        let Some(claimed) = item
            .claimed_at
            .as_deref()
            .and_then(crate::util::time::parse_iso_ms)
        else {
            continue;
        };
        if now_ms.saturating_sub(claimed) < ttl_ms {
            continue;
        }
        match store.set_status(&item.id, Status::Pending, "", None) {
            Ok(()) => released += 1,
            Err(e) => log::warn!(
                "attached sweep: cannot release {} on {channel}: {e}",
                item.id
            ),
        }
    }
    Ok(released)
}

#[cfg(test)]
pub(crate) mod tests;

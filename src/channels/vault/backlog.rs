//! The backlog of a vault channel ([ext] over spec 02 §5.2, the retired backlog replay
//! done for turns): which inbound notes of the channel no reply answers. The programmatic
//! backend asks for it when an agent's worker starts on a vault channel, so a note whose
//! webhook reached a daemon that was down, stopping, or died before it journaled the note
//! is found again from the vault itself.
//!
//! A note belongs to the backlog when it is an inbound note routed to the channel
//! (`agent ?? channel`), written (`metadata.ts`, else `createdAt`) at or after the channel's
//! delivered mark minus [`SLACK_MS`] (notes can arrive out of `ts` order), not carrying
//! the attached queue's `status: handled`, and no outbound note of the channel names it in
//! `in_reply_to`. The vault is asked newest first with `meta[agent]=<ch>` and
//! `meta[created_at][gte]=<bound>` (spec 02 §1.3: equality filters scan metadata, the
//! date bound is the `created_at` column); every condition is checked again on the
//! answer, so a vault that ignores the filters costs pages, never a wrong answer. At
//! most [`MAX_PAGES`] pages of [`PAGE`] notes are read per list; a longer backlog is
//! reported as truncated (its oldest notes are not examined). Whether the daemon already
//! handled a note is the journal's business, not this module's.

use std::collections::HashSet;

use serde_json::Value;

use crate::util::time::{iso_from_ms, parse_iso_ms};
use crate::vault::client::{NoteQuery, SortOrder, VaultClient};
use crate::vault::error::VaultError;
use crate::vault::notes::{self, meta, TAG_INBOUND, TAG_OUTBOUND};

/// How far before the delivered mark the scan starts.
pub const SLACK_MS: u64 = 10 * 60 * 1000;
/// Notes per page.
pub const PAGE: usize = 100;
/// Pages read per list at most.
pub const MAX_PAGES: usize = 5;

/// The unanswered inbound notes, oldest first.
#[derive(Debug, Default)]
pub struct Backlog {
    pub notes: Vec<Value>,
    /// More inbound notes matched than were read: the oldest were not examined.
    pub truncated: bool,
}

/// When the note was written: `metadata.ts`, else the vault's `createdAt`.
pub fn written(note: &Value) -> Option<&str> {
    note.get("metadata")
        .and_then(|m| m.get(meta::TS))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| note.get("createdAt").and_then(Value::as_str))
}

fn created(note: &Value) -> Option<u64> {
    note.get("createdAt")
        .or_else(|| note.get("created_at"))
        .and_then(Value::as_str)
        .and_then(parse_iso_ms)
}

fn id_of(note: &Value) -> Option<&str> {
    note.get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn routed_to(note: &Value, channel: &str) -> bool {
    note.get("metadata")
        .and_then(notes::routing_key)
        .is_some_and(|k| k == channel)
}

/// At or after the bound; a note whose time cannot be read is kept (checked, not lost).
fn recent(note: &Value, bound_ms: u64) -> bool {
    written(note)
        .and_then(parse_iso_ms)
        .is_none_or(|ms| ms >= bound_ms)
}

/// Whether an inbound note still waits for an answer as far as the note itself says.
pub fn is_open(note: &Value) -> bool {
    let handled = note
        .get("metadata")
        .and_then(|m| m.get("status"))
        .and_then(Value::as_str)
        == Some("handled");
    id_of(note).is_some() && !notes::is_outbound(note) && !handled
}

/// The notes tagged `tag` routed to `channel`, written at or after `bound_ms`, newest
/// first; `true` when the page limit cut the list.
fn list_since(
    client: &VaultClient,
    tag: &str,
    channel: &str,
    bound_ms: u64,
) -> Result<(Vec<Value>, bool), VaultError> {
    let bound = iso_from_ms(bound_ms);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for page in 0..MAX_PAGES {
        let query = NoteQuery::tagged(tag, PAGE)
            .sorted(SortOrder::Desc)
            .offset(page * PAGE)
            .meta(meta::AGENT, channel)
            .created_from(&bound);
        let batch = client.list_notes(&query)?;
        let full = batch.len() >= PAGE;
        // A vault without the date filter answers older notes too: stop once past it.
        let past = batch
            .last()
            .and_then(created)
            .is_some_and(|ms| ms < bound_ms);
        for note in batch {
            let fresh = id_of(&note).is_some_and(|id| seen.insert(id.to_string()));
            if fresh && routed_to(&note, channel) && recent(&note, bound_ms) {
                out.push(note);
            }
        }
        if !full || past {
            return Ok((out, false));
        }
    }
    Ok((out, true))
}

/// Whether an outbound note of `channel` answers `id` (the exact question, for when the
/// bulk reply list was cut).
fn has_reply(client: &VaultClient, channel: &str, id: &str) -> Result<bool, VaultError> {
    let query = NoteQuery::tagged(TAG_OUTBOUND, PAGE)
        .meta(meta::IN_REPLY_TO, id)
        .meta(meta::AGENT, channel);
    Ok(client
        .list_notes(&query)?
        .iter()
        .any(|n| in_reply_to(n) == Some(id) && routed_to(n, channel)))
}

fn in_reply_to(note: &Value) -> Option<&str> {
    note.get("metadata")
        .and_then(|m| m.get(meta::IN_REPLY_TO))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The start of the scan for a channel whose delivered mark is `mark` (ISO).
pub fn bound_ms(mark: &str, now_ms: u64) -> u64 {
    parse_iso_ms(mark)
        .unwrap_or(now_ms)
        .saturating_sub(SLACK_MS)
}

/// The unanswered inbound notes of `channel` written since about `mark`, oldest first.
pub fn unanswered(client: &VaultClient, channel: &str, mark: &str) -> Result<Backlog, VaultError> {
    let bound = bound_ms(mark, crate::util::time::now_ms());
    let (inbound, truncated) = list_since(client, TAG_INBOUND, channel, bound)?;
    let open: Vec<Value> = inbound.into_iter().filter(is_open).collect();
    if open.is_empty() {
        return Ok(Backlog {
            notes: Vec::new(),
            truncated,
        });
    }
    let (replies, replies_cut) = list_since(client, TAG_OUTBOUND, channel, bound)?;
    let answered: HashSet<&str> = replies.iter().filter_map(in_reply_to).collect();
    let mut notes = Vec::new();
    for note in open {
        let id = id_of(&note).unwrap_or_default();
        if answered.contains(id) || (replies_cut && has_reply(client, channel, id)?) {
            continue;
        }
        notes.push(note);
    }
    notes.sort_by(|a, b| {
        let key = |n: &Value| {
            (
                written(n).unwrap_or_default().to_string(),
                id_of(n).map(str::to_string),
            )
        };
        key(a).cmp(&key(b))
    });
    Ok(Backlog { notes, truncated })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_counts_as_open_and_recent() {
        let inbound = json!({"id": "n1", "tags": [TAG_INBOUND], "metadata": {"agent": "eng",
            "ts": "2026-06-01T10:00:00.000Z"}});
        assert!(is_open(&inbound));
        assert!(routed_to(&inbound, "eng"));
        assert!(!routed_to(&inbound, "ops"));
        let handled = json!({"id": "n2", "metadata": {"agent": "eng", "status": "handled"}});
        assert!(!is_open(&handled), "the attached queue's handled marker");
        let callback = json!({"id": "n3", "metadata": {"agent": "eng", "status": "ok",
            "callback": "true"}});
        assert!(
            is_open(&callback),
            "a callback's status is not a handled marker"
        );
        let outbound = json!({"id": "n4", "metadata": {"agent": "eng", "direction": "outbound"}});
        assert!(!is_open(&outbound));
        assert!(!is_open(&json!({"metadata": {"agent": "eng"}})), "no id");
        let at = parse_iso_ms("2026-06-01T10:00:00.000Z").unwrap();
        assert!(recent(&inbound, at));
        assert!(!recent(&inbound, at + 1));
        let no_ts = json!({"id": "n5", "createdAt": "2026-06-01T09:00:00.000Z"});
        assert_eq!(written(&no_ts), Some("2026-06-01T09:00:00.000Z"));
        assert!(
            recent(&json!({"id": "n6"}), at),
            "an unreadable time is kept"
        );
    }

    #[test]
    fn the_scan_starts_before_the_mark() {
        let mark = "2026-06-01T10:00:00.000Z";
        let at = parse_iso_ms(mark).unwrap();
        assert_eq!(bound_ms(mark, 0), at - SLACK_MS);
        assert_eq!(bound_ms("garbage", at), at - SLACK_MS);
    }
}

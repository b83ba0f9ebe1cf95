//! Message I/O of a vault channel: the outbound reply note (spec 02 §1.2 #1, §2.3), the
//! inbound note written by chat send / runner / callbacks (#2), and the transcript read
//! (#6, §6.1).
//!
//! [ext] (spec 02 D1, reference defect): the reference reads the transcript with one
//! ascending query of 800 notes, so once a vault holds more than 800 message notes new
//! messages never show. We query newest-first (`sort=desc`) and, when other channels' notes
//! crowd the page, read further pages (`offset`) until `limit` messages of this channel are
//! found or the vault has no more (bounded by `MAX_TRANSCRIPT_PAGES`). The client-side
//! ascending `ts` sort and "keep the last `limit`" are unchanged.

use std::collections::HashSet;

use serde_json::Value;

use super::config::VaultChannelConfig;
use crate::util::time::now_iso;
use crate::vault::client::{NoteQuery, SortOrder, VaultClient};
use crate::vault::error::VaultError;
use crate::vault::notes::{self, TranscriptMessage, TAG_MESSAGE};

/// Default number of transcript messages (`GET /api/channels/<ch>/messages`).
pub const TRANSCRIPT_LIMIT: usize = 200;
/// Upper bound of pages read for one transcript.
pub const MAX_TRANSCRIPT_PAGES: usize = 5;

/// Error prefixes of the reference (spec 02 §1.2).
pub const PREFIX_REPLY: &str = "vault transport: write reply";
pub const PREFIX_INBOUND: &str = "vault transport: write inbound";
pub const PREFIX_TRANSCRIPT: &str = "vault transport: load transcript";

/// Write an outbound reply note; returns its id (the vault's, else the proposed uuid).
pub fn reply(
    cfg: &VaultChannelConfig,
    channel: &str,
    text: &str,
    in_reply_to: Option<&str>,
    thread: Option<&str>,
) -> Result<String, VaultError> {
    let (uuid, body) = notes::outbound_message_body(
        &cfg.note_path_prefix,
        channel,
        text,
        &now_iso(),
        in_reply_to,
        thread,
    );
    let resp = cfg.client().create_note(&body)?;
    Ok(notes::note_id(&resp).unwrap_or(uuid))
}

/// Write an inbound note (`sender` empty → `operator`); returns its id.
pub fn write_inbound(
    cfg: &VaultChannelConfig,
    channel: &str,
    text: &str,
    sender: &str,
    extras: &[(String, String)],
) -> Result<String, VaultError> {
    let (uuid, body) = notes::inbound_message_body(
        &cfg.note_path_prefix,
        channel,
        text,
        sender,
        &now_iso(),
        extras,
    );
    let resp = cfg.client().create_note(&body)?;
    Ok(notes::note_id(&resp).unwrap_or(uuid))
}

/// `fetchLimit = min(max(4·limit, 500), 2000)`.
pub fn fetch_limit(limit: usize) -> usize {
    (4 * limit).clamp(500, 2000)
}

/// The newest `limit` messages of `channel`, ascending by `ts`.
pub fn load_transcript(
    client: &VaultClient,
    channel: &str,
    limit: usize,
) -> Result<Vec<TranscriptMessage>, VaultError> {
    let page = fetch_limit(limit);
    let mut collected: Vec<Value> = Vec::new();
    let mut ids: HashSet<String> = HashSet::new();
    let mut matched = 0usize;
    for n in 0..MAX_TRANSCRIPT_PAGES {
        let query = NoteQuery::tagged(TAG_MESSAGE, page)
            .sorted(SortOrder::Desc)
            .offset(n * page);
        let batch = client.list_notes(&query)?;
        let got = batch.len();
        for note in batch {
            let id = note.get("id").and_then(Value::as_str).unwrap_or_default();
            if id.is_empty() || !ids.insert(id.to_string()) {
                continue;
            }
            let routed = note
                .get("metadata")
                .and_then(|m| notes::routing_key(m))
                .is_some_and(|k| k == channel);
            if routed {
                matched += 1;
                collected.push(note);
            }
        }
        if got < page || matched >= limit {
            break;
        }
    }
    Ok(notes::transcript(&collected, channel, limit))
}

#[cfg(test)]
mod tests {
    #[test]
    fn fetch_limit_formula() {
        assert_eq!(super::fetch_limit(200), 800);
        assert_eq!(super::fetch_limit(10), 500);
        assert_eq!(super::fetch_limit(1000), 2000);
    }
}

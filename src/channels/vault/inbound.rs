//! The pure steps of the inbound webhook `POST /api/vault/inbound` (spec 02 §3.2–§3.4): body
//! validation (the three 400s that come before any auth), the deprecated shared-secret
//! check, and the conversion of a note into the in-memory inbound message (flattened meta,
//! attachment refs). The route itself (auth, dedup, emit) is in `routes`.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::util::secret_eq;
use crate::vault::client::VaultClient;
use crate::vault::notes::{self, meta, AttachmentRef};

/// The 400s of steps 1–3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookBodyError {
    InvalidJson,
    MissingNoteId,
    MissingRoutingKey,
}

impl WebhookBodyError {
    pub fn message(self) -> &'static str {
        match self {
            WebhookBodyError::InvalidJson => "invalid JSON body",
            WebhookBodyError::MissingNoteId => "body must include note.id",
            WebhookBodyError::MissingRoutingKey => {
                "note.metadata.agent (or legacy channel) is required to route the message"
            }
        }
    }
}

/// A webhook body that passed steps 1–3.
#[derive(Debug, Clone)]
pub struct WebhookNote {
    pub note_id: String,
    /// `metadata.agent ?? metadata.channel`.
    pub routing_key: String,
    /// The `note` object as sent.
    pub note: Value,
}

/// Steps 1–3: parse, require `note.id`, require a routing key.
pub fn parse_webhook(body: &[u8]) -> Result<WebhookNote, WebhookBodyError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| WebhookBodyError::InvalidJson)?;
    let note = v
        .get("note")
        .filter(|n| n.is_object())
        .ok_or(WebhookBodyError::MissingNoteId)?;
    let note_id = note
        .get("id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or(WebhookBodyError::MissingNoteId)?;
    let routing_key = note
        .get("metadata")
        .and_then(notes::routing_key)
        .ok_or(WebhookBodyError::MissingRoutingKey)?;
    Ok(WebhookNote {
        note_id: note_id.to_string(),
        routing_key: routing_key.to_string(),
        note: note.clone(),
    })
}

/// The deprecated shared secret: valid only if the channel has a non-empty secret and the
/// presented value is equal (constant time, byte lengths compared first).
pub fn secret_valid(configured: Option<&str>, presented: &str) -> bool {
    match configured {
        Some(c) if !c.is_empty() => secret_eq(c.as_bytes(), presented.as_bytes()),
        _ => false,
    }
}

/// `meta` of the emitted message (§3.4 step 4): flattened metadata, then `agent=<channel>`,
/// `source="vault"`, `note_id`, `sender` (string or ""), `direction="inbound"`.
pub fn message_meta(note: &Value, channel: &str, note_id: &str) -> BTreeMap<String, String> {
    let metadata = note.get("metadata").cloned().unwrap_or(Value::Null);
    let mut m = notes::flatten_metadata(&metadata);
    let sender = metadata
        .get(meta::SENDER)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    m.insert(meta::AGENT.into(), channel.into());
    m.insert(meta::SOURCE.into(), "vault".into());
    m.insert(meta::NOTE_ID.into(), note_id.into());
    m.insert(meta::SENDER.into(), sender);
    m.insert(meta::DIRECTION.into(), meta::INBOUND.into());
    m
}

/// `note.content ?? ""`.
pub fn message_content(note: &Value) -> String {
    note.get("content")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Attachments (§3.4 step 3): only when the payload has inline attachments, the
/// authoritative list is fetched; any failure → none (warning), the message still goes.
pub fn attachments(
    client: &VaultClient,
    note: &Value,
    note_id: &str,
) -> Option<Vec<AttachmentRef>> {
    if !notes::has_inline_attachments(note) {
        return None;
    }
    fetch_attachments(client, note_id)
}

/// The authoritative attachment list of a note (call #9); any failure → none (warning).
pub fn fetch_attachments(client: &VaultClient, note_id: &str) -> Option<Vec<AttachmentRef>> {
    match client.list_attachments(note_id) {
        Ok(items) => Some(notes::attachment_refs(&items)),
        Err(e) => {
            log::warn!(
                "vault transport: attachment list for note {note_id} failed; delivering without attachments: {}",
                e.context("list attachments")
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_errors_in_order() {
        assert_eq!(
            parse_webhook(b"{").unwrap_err(),
            WebhookBodyError::InvalidJson
        );
        assert_eq!(
            parse_webhook(b"{}").unwrap_err(),
            WebhookBodyError::MissingNoteId
        );
        assert_eq!(
            parse_webhook(br#"{"note":{"id":""}}"#).unwrap_err(),
            WebhookBodyError::MissingNoteId
        );
        assert_eq!(
            parse_webhook(br#"{"note":{"id":"n","metadata":{"agent":""}}}"#).unwrap_err(),
            WebhookBodyError::MissingRoutingKey
        );
        let ok = parse_webhook(br#"{"note":{"id":"n","metadata":{"channel":"eng"}}}"#).unwrap();
        assert_eq!((ok.note_id.as_str(), ok.routing_key.as_str()), ("n", "eng"));
    }

    #[test]
    fn secrets() {
        assert!(secret_valid(Some("s3cret"), "s3cret"));
        assert!(!secret_valid(Some("s3cret"), "s3cre"));
        assert!(!secret_valid(Some(""), ""));
        assert!(!secret_valid(None, "x"));
        assert!(!secret_valid(Some("é"), "e"));
    }

    #[test]
    fn meta_overrides() {
        let note = json!({"id":"n1","content":"hi","metadata":{
            "agent":"other","channel":"c","sender":5,"ts":"T","reply_to":"x","delegation_depth":2}});
        let m = message_meta(&note, "eng", "n1");
        assert_eq!(m["agent"], "eng");
        assert_eq!(m["source"], "vault");
        assert_eq!(m["note_id"], "n1");
        assert_eq!(m["sender"], "", "non-string sender → empty");
        assert_eq!(m["direction"], "inbound");
        assert_eq!(m["ts"], "T");
        assert_eq!(m["delegation_depth"], "2");
        assert_eq!(m["channel"], "c");
        assert_eq!(message_content(&note), "hi");
        assert_eq!(message_content(&json!({})), "");
    }
}

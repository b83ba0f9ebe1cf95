//! Note shapes of the vault contract (spec 02 §2): tag names (bare, §2.1), the safe-name rule
//! and note paths (§2.2), `agent/message` bodies and metadata (§2.3), the metadata reading
//! rules (§2.8: routing key, flattening to strings), response envelopes (§0), the transcript
//! projection (§6.1) and inbound attachment refs (§3.4 step 3).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{json, Map, Value};

pub const TAG_AGENT: &str = "agent";
pub const TAG_MESSAGE: &str = "agent/message";
pub const TAG_INBOUND: &str = "agent/message/inbound";
pub const TAG_OUTBOUND: &str = "agent/message/outbound";
pub const TAG_THREAD: &str = "agent/thread";
pub const TAG_DEFINITION: &str = "agent/definition";
pub const TAG_JOB: &str = "agent/job";

/// Default `notePathPrefix` of a vault channel.
pub const DEFAULT_NOTE_PATH_PREFIX: &str = "channel";

/// Metadata keys of `agent/message` notes (§2.3).
pub mod meta {
    pub const AGENT: &str = "agent";
    pub const CHANNEL: &str = "channel";
    pub const DIRECTION: &str = "direction";
    pub const SENDER: &str = "sender";
    pub const TS: &str = "ts";
    pub const IN_REPLY_TO: &str = "in_reply_to";
    pub const THREAD: &str = "thread";
    pub const SOURCE: &str = "source";
    pub const NOTE_ID: &str = "note_id";
    pub const INBOUND: &str = "inbound";
    pub const OUTBOUND: &str = "outbound";
    /// Sender of outbound notes.
    pub const SENDER_SESSION: &str = "session";
    /// Default sender of inbound notes written by the daemon (chat send).
    pub const SENDER_OPERATOR: &str = "operator";
}

/// `safe(x)`: every char outside `[a-zA-Z0-9_-]` becomes `-` (§2.2).
pub fn safe_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// `<prefix>/<safe(channel)>/<uuid>`; trailing `/` of the prefix stripped, empty → default.
pub fn message_path(prefix: &str, channel: &str, uuid: &str) -> String {
    let p = prefix.trim_end_matches('/');
    let p = if p.is_empty() {
        DEFAULT_NOTE_PATH_PREFIX
    } else {
        p
    };
    format!("{p}/{}/{uuid}", safe_name(channel))
}

/// `Threads/<safe(channel)>/<safe(name)>` — single-threaded thread note.
pub fn thread_path_single(channel: &str, name: &str) -> String {
    format!("Threads/{}/{}", safe_name(channel), safe_name(name))
}

/// `Threads/<safe(channel)>/<thread id>` — multi-threaded thread note.
pub fn thread_path_multi(channel: &str, thread_id: &str) -> String {
    format!("Threads/{}/{thread_id}", safe_name(channel))
}

/// `Channels/<safe(channel)>/jobs/<safe(job id)>`.
pub fn job_path(channel: &str, job_id: &str) -> String {
    format!("Channels/{}/jobs/{}", safe_name(channel), safe_name(job_id))
}

/// A non-empty string value of `map[key]`.
fn non_empty_str<'a>(map: &'a Value, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Routing key (§2.8): `agent` if a non-empty string, else `channel` if one, else none.
pub fn routing_key(metadata: &Value) -> Option<&str> {
    non_empty_str(metadata, meta::AGENT).or_else(|| non_empty_str(metadata, meta::CHANNEL))
}

/// JavaScript `String(v)` of a metadata value (§2.8): numbers in shortest form, booleans
/// `true`/`false`, `null` → `"null"`, arrays joined with `,` (elements converted the same
/// way, `null` elements empty), objects `"[object Object]"` — the reference's rule, kept for
/// arrays and objects too so `meta` matches what a TypeScript bridge saw.
pub fn js_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "null".to_string(),
        Value::Number(n) => js_number(n),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".to_string(),
    }
}

fn js_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    let f = n.as_f64().unwrap_or(0.0);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{}", f as i128)
    } else {
        format!("{f}")
    }
}

/// Every metadata value as a string (§2.8, inbound flattening).
pub fn flatten_metadata(metadata: &Value) -> BTreeMap<String, String> {
    metadata
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), js_string(v))).collect())
        .unwrap_or_default()
}

/// True if the note is one of our own replies: tag `agent/message/outbound` or
/// `metadata.direction == "outbound"` (§3.4 step 1).
pub fn is_outbound(note: &Value) -> bool {
    let tagged = note
        .get("tags")
        .and_then(Value::as_array)
        .is_some_and(|tags| tags.iter().any(|t| t.as_str() == Some(TAG_OUTBOUND)));
    let directed = note
        .get("metadata")
        .and_then(|m| m.get(meta::DIRECTION))
        .and_then(Value::as_str)
        == Some(meta::OUTBOUND);
    tagged || directed
}

/// An outbound reply note (§1.2 #1, metadata order of §2.3): returns the proposed uuid and
/// the `POST B/notes` body.
pub fn outbound_message_body(
    prefix: &str,
    channel: &str,
    text: &str,
    ts: &str,
    in_reply_to: Option<&str>,
    thread: Option<&str>,
) -> (String, Value) {
    let uuid = crate::util::rand::uuid();
    let mut metadata = Map::new();
    metadata.insert(meta::AGENT.into(), channel.into());
    metadata.insert(meta::DIRECTION.into(), meta::OUTBOUND.into());
    metadata.insert(meta::SENDER.into(), meta::SENDER_SESSION.into());
    metadata.insert(meta::TS.into(), ts.into());
    if let Some(r) = in_reply_to.filter(|s| !s.is_empty()) {
        metadata.insert(meta::IN_REPLY_TO.into(), r.into());
    }
    if let Some(t) = thread.filter(|s| !s.is_empty()) {
        metadata.insert(meta::THREAD.into(), t.into());
    }
    let body = json!({
        "content": text,
        "path": message_path(prefix, channel, &uuid),
        "tags": [TAG_MESSAGE, TAG_OUTBOUND],
        "metadata": metadata,
    });
    (uuid, body)
}

/// An inbound message note (§1.2 #2): caller extras first, then `agent`, `direction`,
/// `sender`, `ts` — so extras never override those four. Empty `sender` → `operator`.
pub fn inbound_message_body(
    prefix: &str,
    channel: &str,
    text: &str,
    sender: &str,
    ts: &str,
    extras: &[(String, String)],
) -> (String, Value) {
    let uuid = crate::util::rand::uuid();
    let mut metadata = Map::new();
    for (k, v) in extras {
        metadata.insert(k.clone(), Value::String(v.clone()));
    }
    let sender = if sender.is_empty() {
        meta::SENDER_OPERATOR
    } else {
        sender
    };
    metadata.insert(meta::AGENT.into(), channel.into());
    metadata.insert(meta::DIRECTION.into(), meta::INBOUND.into());
    metadata.insert(meta::SENDER.into(), sender.into());
    metadata.insert(meta::TS.into(), ts.into());
    let body = json!({
        "content": text,
        "path": message_path(prefix, channel, &uuid),
        "tags": [TAG_MESSAGE, TAG_INBOUND],
        "metadata": metadata,
    });
    (uuid, body)
}

/// The note id of a create/patch answer: `id`, else `note.id` (non-empty strings only).
pub fn note_id(resp: &Value) -> Option<String> {
    non_empty_str(resp, "id")
        .or_else(|| resp.get("note").and_then(|n| non_empty_str(n, "id")))
        .map(str::to_string)
}

/// A list answer: a bare array, or `{notes:[…]}`.
pub fn unwrap_list(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(items) => Some(items.clone()),
        Value::Object(m) => m.get("notes").and_then(Value::as_array).cloned(),
        _ => None,
    }
}

/// A single-note answer: a bare note, `{note:{…}}`, or a one-element array.
pub fn unwrap_note(v: &Value) -> Option<Value> {
    match v {
        Value::Object(m) => match m.get("note") {
            Some(n @ Value::Object(_)) => Some(n.clone()),
            _ => Some(v.clone()),
        },
        Value::Array(items) if items.len() == 1 && items[0].is_object() => Some(items[0].clone()),
        _ => None,
    }
}

/// One message of `GET /api/channels/<ch>/messages` (§6.1; key order as the reference).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranscriptMessage {
    pub id: String,
    pub text: String,
    pub direction: &'static str,
    pub sender: String,
    pub ts: String,
    #[serde(rename = "inReplyTo", skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<String>,
}

/// Project `agent/message` notes onto the transcript of `channel` (§6.1 steps 2–5): notes
/// without an id or of other channels skipped, stable ascending sort by `ts` (blank first),
/// the last `limit` kept.
pub fn transcript(notes: &[Value], channel: &str, limit: usize) -> Vec<TranscriptMessage> {
    let mut out: Vec<TranscriptMessage> = notes
        .iter()
        .filter_map(|note| transcript_message(note, channel))
        .collect();
    out.sort_by(|a, b| a.ts.cmp(&b.ts));
    let skip = out.len().saturating_sub(limit);
    out.split_off(skip)
}

fn transcript_message(note: &Value, channel: &str) -> Option<TranscriptMessage> {
    let id = non_empty_str(note, "id")?;
    let metadata = note.get("metadata").cloned().unwrap_or(Value::Null);
    if routing_key(&metadata) != Some(channel) {
        return None;
    }
    let direction = match metadata.get(meta::DIRECTION).and_then(Value::as_str) {
        Some(meta::INBOUND) => meta::INBOUND,
        Some(meta::OUTBOUND) => meta::OUTBOUND,
        _ if is_outbound(note) => meta::OUTBOUND,
        _ => meta::INBOUND,
    };
    let string_of = |key: &str| {
        metadata
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Some(TranscriptMessage {
        id: id.to_string(),
        text: note
            .get("content")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        direction,
        sender: string_of(meta::SENDER),
        ts: string_of(meta::TS),
        in_reply_to: metadata
            .get(meta::IN_REPLY_TO)
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// A staged attachment reference `{path, mimeType, filename}` (§3.4 step 3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttachmentRef {
    pub path: String,
    #[serde(rename = "mimeType")]
    pub mime_type: String,
    pub filename: String,
}

/// True if the webhook payload carries at least one attachment with a non-empty `path`.
pub fn has_inline_attachments(note: &Value) -> bool {
    note.get("attachments")
        .and_then(Value::as_array)
        .is_some_and(|items| items.iter().any(|a| non_empty_str(a, "path").is_some()))
}

/// Map an attachment list (call #9) to refs; entries without a non-empty `path` skipped.
pub fn attachment_refs(items: &[Value]) -> Vec<AttachmentRef> {
    items
        .iter()
        .filter_map(|a| {
            let path = non_empty_str(a, "path")?;
            let mime = non_empty_str(a, "mimeType")
                .or_else(|| non_empty_str(a, "mime_type"))
                .unwrap_or("application/octet-stream");
            Some(AttachmentRef {
                path: path.to_string(),
                mime_type: mime.to_string(),
                filename: basename(path),
            })
        })
        .collect()
}

/// Last segment of a path split on runs of `/` or `\`, ignoring empty and `..` segments.
pub fn basename(path: &str) -> String {
    path.split(['/', '\\'])
        .rfind(|s| !s.is_empty() && *s != "..")
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_name_and_paths() {
        assert_eq!(safe_name("eng team/ü"), "eng-team--");
        assert_eq!(safe_name("a_b-C9"), "a_b-C9");
        assert_eq!(message_path("channel/", "eng", "u1"), "channel/eng/u1");
        assert_eq!(message_path("", "e g", "u1"), "channel/e-g/u1");
        assert_eq!(thread_path_single("eng", "eng"), "Threads/eng/eng");
        assert_eq!(job_path("eng", "daily run"), "Channels/eng/jobs/daily-run");
    }

    #[test]
    fn routing_key_rules() {
        assert_eq!(routing_key(&json!({"agent":"a","channel":"c"})), Some("a"));
        assert_eq!(routing_key(&json!({"channel":"c"})), Some("c"));
        assert_eq!(routing_key(&json!({"agent":"","channel":"c"})), Some("c"));
        assert_eq!(routing_key(&json!({"agent":5,"channel":""})), None);
        assert_eq!(routing_key(&json!({})), None);
        assert_eq!(routing_key(&Value::Null), None);
    }

    #[test]
    fn flattening_is_javascript_string() {
        let m = flatten_metadata(&json!({
            "s":"x","i":1,"f":1.5,"t":true,"n":null,"a":[1,"b",null],"o":{"k":1},"big":1e21
        }));
        assert_eq!(m["s"], "x");
        assert_eq!(m["i"], "1");
        assert_eq!(m["f"], "1.5");
        assert_eq!(m["t"], "true");
        assert_eq!(m["n"], "null");
        assert_eq!(m["a"], "1,b,");
        assert_eq!(m["o"], "[object Object]");
        assert_eq!(js_string(&json!(2.0)), "2");
    }

    #[test]
    fn outbound_body_shape() {
        let (uuid, body) = outbound_message_body("channel", "eng", "hi", "T", Some("n1"), Some(""));
        assert_eq!(body["path"], format!("channel/eng/{uuid}"));
        assert_eq!(body["tags"], json!([TAG_MESSAGE, TAG_OUTBOUND]));
        assert_eq!(
            body["metadata"],
            json!({"agent":"eng","direction":"outbound","sender":"session","ts":"T","in_reply_to":"n1"})
        );
        assert!(body["metadata"].get("channel").is_none());
        assert!(is_outbound(&body));
    }

    #[test]
    fn inbound_body_extras_cannot_override() {
        let extras = vec![
            ("agent".to_string(), "evil".to_string()),
            ("reply_to".to_string(), "x".to_string()),
        ];
        let (_, body) = inbound_message_body("channel", "eng", "hi", "", "T", &extras);
        assert_eq!(
            body["metadata"],
            json!({"agent":"eng","direction":"inbound","sender":"operator","ts":"T","reply_to":"x"})
        );
        assert_eq!(body["tags"], json!([TAG_MESSAGE, TAG_INBOUND]));
        assert!(!is_outbound(&body));
    }

    #[test]
    fn envelopes() {
        assert_eq!(note_id(&json!({"id":"a"})), Some("a".into()));
        assert_eq!(note_id(&json!({"note":{"id":"b"}})), Some("b".into()));
        assert_eq!(note_id(&json!({"id":""})), None);
        assert_eq!(unwrap_list(&json!({"notes":[1]})), Some(vec![json!(1)]));
        assert_eq!(unwrap_list(&json!([2])), Some(vec![json!(2)]));
        assert_eq!(unwrap_list(&json!("x")), None);
        assert_eq!(unwrap_note(&json!([{"id":"c"}])), Some(json!({"id":"c"})));
        assert_eq!(
            unwrap_note(&json!({"note":{"id":"d"}})),
            Some(json!({"id":"d"}))
        );
    }

    #[test]
    fn transcript_projection() {
        let notes = vec![
            json!({"id":"3","content":"c","tags":[TAG_MESSAGE,TAG_OUTBOUND],"metadata":{"agent":"eng","ts":"2026-01-01T00:00:03.000Z","in_reply_to":""}}),
            json!({"id":"1","content":"a","metadata":{"channel":"eng","ts":"2026-01-01T00:00:01.000Z","sender":"operator"}}),
            json!({"id":"x","content":"other","metadata":{"agent":"ops","ts":"2026-01-01T00:00:02.000Z"}}),
            json!({"content":"no id","metadata":{"agent":"eng"}}),
            json!({"id":"0","metadata":{"agent":"eng","direction":"outbound"}}),
        ];
        let t = transcript(&notes, "eng", 200);
        let ids: Vec<_> = t.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["0", "1", "3"]);
        assert_eq!(t[0].direction, "outbound");
        assert_eq!(t[1].direction, "inbound");
        assert_eq!(t[2].direction, "outbound");
        assert_eq!(t[2].in_reply_to.as_deref(), Some(""));
        assert_eq!(t[1].in_reply_to, None);
        let last = transcript(&notes, "eng", 2);
        assert_eq!(last.len(), 2);
        assert_eq!(last[1].id, "3");
        let v = serde_json::to_value(&t[1]).unwrap();
        assert!(v.get("inReplyTo").is_none());
    }

    #[test]
    fn attachments() {
        assert_eq!(basename("2026-06-24/x.png"), "x.png");
        assert_eq!(basename("a\\\\b//c/../"), "c");
        assert_eq!(basename(""), "");
        let refs = attachment_refs(&[
            json!({"path":"d/a.png","mimeType":"image/png"}),
            json!({"path":"d/b.bin","mime_type":"x/y"}),
            json!({"path":"c"}),
            json!({"path":""}),
        ]);
        assert_eq!(refs.len(), 3);
        assert_eq!(refs[1].mime_type, "x/y");
        assert_eq!(refs[2].mime_type, "application/octet-stream");
        assert!(has_inline_attachments(
            &json!({"attachments":[{"path":"p"}]})
        ));
        assert!(!has_inline_attachments(
            &json!({"attachments":[{"path":""}]})
        ));
    }
}

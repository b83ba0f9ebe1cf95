//! One Telegram update → the channel (spec 05 §6.5, §6.6): the access gate, the
//! permission-reply intercept, attachment detection, photo download, and the inbound
//! message's `meta`; inline-button presses become permission verdicts.

use std::collections::BTreeMap;

use serde_json::Value;

use super::access::Access;
use super::Core;
use crate::channels::{ChannelContext, InboundMessage, Refusal};

/// Handles one update; other update kinds (edits, channel posts, …) are skipped. `Err`:
/// a backend refused the message (draining, journal unwritable) — the update must not be
/// confirmed, Telegram delivers it again.
pub fn handle_update(core: &Core, ctx: &ChannelContext, update: &Value) -> Result<(), Refusal> {
    if let Some(cb) = update.get("callback_query").filter(|v| v.is_object()) {
        handle_callback(core, ctx, cb);
    } else if let Some(msg) = update.get("message").filter(|v| v.is_object()) {
        return handle_message(core, ctx, msg);
    }
    Ok(())
}

/// An id (number or string) as its decimal string.
fn id_str(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn access(core: &Core) -> Access {
    let (gate, problem) = Access::load(&core.access_path);
    if let Some(p) = problem {
        log::warn!(
            "parachute-agent[{}]: {} {p}; denying everyone",
            core.name,
            core.access_path.display()
        );
    }
    gate
}

fn handle_message(core: &Core, ctx: &ChannelContext, msg: &Value) -> Result<(), Refusal> {
    let Some(user_id) = id_str(&msg["from"]["id"]) else {
        return Ok(());
    };
    let chat_id = id_str(&msg["chat"]["id"]);
    if !access(core).allowed(&user_id, chat_id.as_deref()) {
        log::debug!(
            "parachute-agent[{}]: dropped a message from a non-allowed sender",
            core.name
        );
        return Ok(());
    }
    let chat = chat_id.unwrap_or_default();
    log::info!(
        "parachute-agent[{}]: rx from {} in chat {chat}",
        core.name,
        sender_label(&msg["from"], &user_id)
    );
    let message_id = id_str(&msg["message_id"]).unwrap_or_default();
    let text = msg["text"].as_str().filter(|s| !s.is_empty());
    if let Some((request_id, behavior)) = text.and_then(parse_verdict) {
        ctx.emit_permission_verdict(&request_id, behavior);
        let emoji = if behavior == "allow" { "✅" } else { "❌" };
        if let Err(e) = core.api.set_reaction(&chat, message_id.parse().ok(), emoji) {
            log::debug!(
                "parachute-agent[{}]: verdict reaction failed: {e}",
                core.name
            );
        }
        return Ok(());
    }
    let attachment = detect_attachment(msg);
    let caption = msg["caption"].as_str().filter(|s| !s.is_empty());
    let content = match (text, caption, &attachment) {
        (Some(t), _, _) | (None, Some(t), _) => t.to_string(),
        (None, None, Some(a)) => format!("({})", a.kind),
        (None, None, None) => return Ok(()),
    };
    let key =
        (!chat.is_empty() && !message_id.is_empty()).then(|| format!("tg:{chat}:{message_id}"));
    let mut meta = BTreeMap::new();
    meta.insert("chat_id".to_string(), chat.clone());
    meta.insert("message_id".to_string(), message_id);
    meta.insert("user".to_string(), user_name(&msg["from"]));
    meta.insert("user_id".to_string(), user_id);
    let date = msg["date"].as_u64().unwrap_or(0);
    meta.insert(
        "ts".to_string(),
        crate::util::time::iso_from_ms(date * 1000),
    );
    if let Some(a) = &attachment {
        a.fill(&mut meta);
        if a.kind == "photo" {
            if let Some(path) = fetch_photo(core, msg) {
                meta.insert("image_path".into(), path);
            }
        }
    }
    ctx.emit_checked(InboundMessage {
        channel: ctx.channel.clone(),
        content,
        meta,
        source: "telegram".into(),
        attachments: Vec::new(),
        key,
    })
    .map(|_| ())
}

fn sender_label(from: &Value, user_id: &str) -> String {
    if let Some(u) = from["username"].as_str().filter(|s| !s.is_empty()) {
        format!("@{u}")
    } else if let Some(f) = from["first_name"].as_str().filter(|s| !s.is_empty()) {
        f.to_string()
    } else {
        format!("user {user_id}")
    }
}

fn user_name(from: &Value) -> String {
    from["username"]
        .as_str()
        .filter(|s| !s.is_empty())
        .or_else(|| from["first_name"].as_str().filter(|s| !s.is_empty()))
        .unwrap_or("unknown")
        .to_string()
}

/// Request ids use a–z without `l`.
fn is_request_id(s: &str) -> bool {
    s.len() == 5 && s.bytes().all(|b| b.is_ascii_lowercase() && b != b'l')
}

/// `^\s*(y|yes|n|no)\s+([a-km-z]{5})\s*$`, case-insensitive → (request id, behavior).
pub fn parse_verdict(text: &str) -> Option<(String, &'static str)> {
    let mut words = text.split_whitespace();
    let (answer, id) = (words.next()?, words.next()?);
    if words.next().is_some() {
        return None;
    }
    let behavior = match answer.to_ascii_lowercase().as_str() {
        "y" | "yes" => "allow",
        "n" | "no" => "deny",
        _ => return None,
    };
    let id = id.to_ascii_lowercase();
    is_request_id(&id).then_some((id, behavior))
}

/// `^perm_(allow|deny)_([a-km-z]{5})$` (case-sensitive) → (request id, behavior).
pub fn parse_callback_data(data: &str) -> Option<(String, &'static str)> {
    let rest = data.strip_prefix("perm_")?;
    let (behavior, id) = if let Some(id) = rest.strip_prefix("allow_") {
        ("allow", id)
    } else {
        ("deny", rest.strip_prefix("deny_")?)
    };
    is_request_id(id).then(|| (id.to_string(), behavior))
}

/// A recognised attachment (spec 05 §6.5 step 4).
#[derive(Debug, Clone, PartialEq)]
pub struct Detected {
    pub kind: &'static str,
    pub file_id: String,
    pub size: Option<u64>,
    pub mime: Option<String>,
}

impl Detected {
    fn fill(&self, meta: &mut BTreeMap<String, String>) {
        meta.insert("attachment_kind".into(), self.kind.into());
        meta.insert("attachment_file_id".into(), self.file_id.clone());
        if let Some(s) = self.size {
            meta.insert("attachment_size".into(), s.to_string());
        }
        if let Some(m) = &self.mime {
            meta.insert("attachment_mime".into(), m.clone());
        }
    }
}

/// First match wins: voice, audio, document, photo (largest size).
pub fn detect_attachment(msg: &Value) -> Option<Detected> {
    let found = |kind: &'static str, v: &Value, default_mime: Option<&str>| {
        let file_id = v["file_id"].as_str()?.to_string();
        let mime = v["mime_type"]
            .as_str()
            .map(str::to_string)
            .or(default_mime.map(str::to_string));
        Some(Detected {
            kind,
            file_id,
            size: v["file_size"].as_u64().filter(|&s| s > 0),
            mime,
        })
    };
    if msg["voice"].is_object() {
        return found("voice", &msg["voice"], Some("audio/ogg"));
    }
    if msg["audio"].is_object() {
        return found("audio", &msg["audio"], None);
    }
    if msg["document"].is_object() {
        return found("document", &msg["document"], None);
    }
    let largest = msg["photo"].as_array().and_then(|a| a.last())?;
    let mut d = found("photo", largest, None)?;
    d.mime = Some("image/jpeg".into());
    Some(d)
}

/// Downloads the largest photo size into the inbox; `None` (logged) on failure.
fn fetch_photo(core: &Core, msg: &Value) -> Option<String> {
    let photo = msg["photo"].as_array()?.last()?;
    let file_id = photo["file_id"].as_str()?;
    let unique = safe_part(photo["file_unique_id"].as_str().unwrap_or("photo"));
    let result = core.api.download(file_id, |file_path| {
        let ext = extension(file_path).unwrap_or_else(|| "jpg".into());
        core.inbox
            .join(format!("{}-{unique}.{ext}", crate::util::time::now_ms()))
    });
    match result {
        Ok(path) => Some(path.display().to_string()),
        Err(e) => {
            log::warn!("parachute-agent[{}]: photo download failed: {e}", core.name);
            None
        }
    }
}

/// The text after the last `.` of a Bot API `file_path`'s last segment (file-name safe).
pub fn extension(file_path: &str) -> Option<String> {
    let name = file_path.rsplit('/').next()?;
    let (_, ext) = name.rsplit_once('.')?;
    let ext = safe_part(ext);
    (!ext.is_empty()).then_some(ext)
}

/// Keeps `[A-Za-z0-9_-]` so an id can never escape the inbox.
pub fn safe_part(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect()
}

fn handle_callback(core: &Core, ctx: &ChannelContext, cb: &Value) {
    let id = cb["id"].as_str().unwrap_or_default();
    let answer = |text: Option<&str>| {
        if let Err(e) = core.api.answer_callback(id, text) {
            log::debug!(
                "parachute-agent[{}]: answerCallbackQuery failed: {e}",
                core.name
            );
        }
    };
    let user_id = id_str(&cb["from"]["id"]).unwrap_or_default();
    let chat_id = id_str(&cb["message"]["chat"]["id"]);
    if user_id.is_empty() || !access(core).allowed(&user_id, chat_id.as_deref()) {
        return answer(None);
    }
    let Some((request_id, behavior)) = cb["data"].as_str().and_then(parse_callback_data) else {
        return answer(None);
    };
    ctx.emit_permission_verdict(&request_id, behavior);
    let label = if behavior == "allow" {
        "✅ Allowed"
    } else {
        "❌ Denied"
    };
    answer(Some(label));
    if let (Some(chat), Some(mid)) = (chat_id, cb["message"]["message_id"].as_i64()) {
        let original = cb["message"]["text"].as_str().unwrap_or_default();
        let text = format!("{label}\n\n{original}");
        if let Err(e) = core.api.edit_text(&chat, Some(mid), &text) {
            log::debug!(
                "parachute-agent[{}]: resolving the prompt failed: {e}",
                core.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn verdict_replies() {
        assert_eq!(parse_verdict("yes abcde"), Some(("abcde".into(), "allow")));
        assert_eq!(parse_verdict("  NO ABCDE "), Some(("abcde".into(), "deny")));
        assert_eq!(parse_verdict("y zzzzz"), Some(("zzzzz".into(), "allow")));
        assert_eq!(parse_verdict("yes abcdl"), None);
        assert_eq!(parse_verdict("yes abcd"), None);
        assert_eq!(parse_verdict("yes abcde please"), None);
        assert_eq!(parse_verdict("sure abcde"), None);
    }

    #[test]
    fn callback_data() {
        assert_eq!(
            parse_callback_data("perm_allow_abcde"),
            Some(("abcde".into(), "allow"))
        );
        assert_eq!(
            parse_callback_data("perm_deny_zyxwv"),
            Some(("zyxwv".into(), "deny"))
        );
        assert_eq!(parse_callback_data("perm_allow_ABCDE"), None);
        assert_eq!(parse_callback_data("perm_maybe_abcde"), None);
        assert_eq!(parse_callback_data("perm_allow_abcdl"), None);
    }

    #[test]
    fn attachments_first_match_wins() {
        let voice =
            json!({"voice": {"file_id": "v1", "file_size": 0}, "document": {"file_id": "d"}});
        assert_eq!(
            detect_attachment(&voice),
            Some(Detected {
                kind: "voice",
                file_id: "v1".into(),
                size: None,
                mime: Some("audio/ogg".into())
            })
        );
        let audio = json!({"audio": {"file_id": "a1", "file_size": 9}});
        assert_eq!(detect_attachment(&audio).unwrap().mime, None);
        let photo = json!({"photo": [{"file_id": "small"}, {"file_id": "big", "file_size": 5}]});
        let d = detect_attachment(&photo).unwrap();
        assert_eq!(
            (d.kind, d.file_id.as_str(), d.size),
            ("photo", "big", Some(5))
        );
        assert_eq!(d.mime.as_deref(), Some("image/jpeg"));
        assert_eq!(detect_attachment(&json!({"photo": []})), None);
        assert_eq!(
            detect_attachment(&json!({"sticker": {"file_id": "s"}})),
            None
        );
    }

    #[test]
    fn file_name_parts_are_safe() {
        assert_eq!(extension("photos/file_1.JPG"), Some("JPG".into()));
        assert_eq!(extension("documents/noext"), None);
        assert_eq!(extension("a.b/c"), None);
        assert_eq!(safe_part("../x/y"), "xy");
    }
}

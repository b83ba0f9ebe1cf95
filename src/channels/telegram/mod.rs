//! The `telegram` channel transport (spec 05 §6, capability row of §0.4, config of §5.2):
//! a Bot API long-poll loop per channel feeding the routing fork, and the outbound
//! operations `reply` (chunked at 4096 UTF-16 units, files by extension), `react`,
//! `edit`, `sendPermission` (inline keyboard to every `allowFrom` user) and `download`
//! (into `<stateDir>/inbox/`). Plain text both ways: no `parse_mode`, no escaping (§6.9).
//!
//! Modules: [`access`] (`access.json`, fail-closed), [`api`] (Bot API client, token
//! redaction), [`chunk`], [`inbound`] (one update → the channel), [`poller`] (the thread,
//! token lease, back-off, liveness). Security note (spec 05 §3): `files` of a reply are
//! paths on the daemon host; any `agent:write` token holder can have any file the daemon
//! can read uploaded to a chat. That is the feature; keep the token scopes tight.

pub mod access;
pub mod api;
pub mod chunk;
pub mod inbound;
pub mod poller;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value};

use super::transport::{OutboundArgs, PermissionArgs, Transport, TransportError};
use super::ChannelContext;
use crate::config::TelegramConfig;
use access::Access;
use api::BotApi;
use poller::{Knobs, Poller};

pub const KIND: &str = "telegram";

/// What the poll thread and the outbound calls share.
pub struct Core {
    pub name: String,
    pub token: String,
    pub api: BotApi,
    pub access_path: PathBuf,
    pub inbox: PathBuf,
}

pub struct TelegramTransport {
    core: Arc<Core>,
    knobs: Knobs,
    poller: Mutex<Option<Arc<Poller>>>,
}

impl TelegramTransport {
    /// Validates `config` (spec 05 §5.2) and creates `<stateDir>/inbox/`.
    pub fn new(
        name: &str,
        config: Option<&Map<String, Value>>,
        state_dir: &Path,
        settings: &TelegramConfig,
    ) -> Result<TelegramTransport, TransportError> {
        let token = config
            .and_then(|c| c.get("token"))
            .and_then(Value::as_str)
            .filter(|t| !t.trim().is_empty());
        let Some(token) = token else {
            let shown = if name.is_empty() { "(unnamed)" } else { name };
            return Err(TransportError::Config(format!(
                "telegram channel {shown} requires a per-channel bot token in its config"
            )));
        };
        let dir = config
            .and_then(|c| c.get("stateDir"))
            .and_then(Value::as_str)
            .filter(|d| !d.is_empty())
            .map_or_else(|| state_dir.to_path_buf(), PathBuf::from);
        let inbox = dir.join("inbox");
        std::fs::create_dir_all(&inbox).map_err(|e| {
            TransportError::Config(format!("cannot create {}: {e}", inbox.display()))
        })?;
        let knobs = Knobs::new(settings);
        Ok(TelegramTransport {
            core: Arc::new(Core {
                name: name.to_string(),
                token: token.to_string(),
                api: BotApi::new(token, &settings.api_base, knobs.poll_secs),
                access_path: dir.join("access.json"),
                inbox,
            }),
            knobs,
            poller: Mutex::new(None),
        })
    }

    fn runtime(&self, e: impl std::fmt::Display) -> TransportError {
        TransportError::Runtime(self.core.api.redact(&e.to_string()))
    }
}

/// `meta.chat_id` (string or number), else the top-level `chat_id`.
fn chat_id(args: &OutboundArgs) -> Result<String, TransportError> {
    let from_meta = match args.meta.get("chat_id") {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    from_meta
        .or_else(|| args.chat_id.clone())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            TransportError::Runtime("telegram transport: meta.chat_id is required".into())
        })
}

/// JS `parseInt`: optional sign and the leading digits (`"12abc"` → 12).
pub fn parse_int_prefix(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let (sign, rest) = match t.strip_prefix('-') {
        Some(r) => (-1, r),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<i64>().ok().map(|n| sign * n)
}

/// The Bot API method and form field for a file, by lower-cased extension.
pub fn file_method(path: &str) -> (&'static str, &'static str) {
    let name = path.rsplit('/').next().unwrap_or(path);
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("jpg" | "jpeg" | "png" | "gif" | "webp") => ("sendPhoto", "photo"),
        Some("ogg" | "oga" | "opus") => ("sendVoice", "voice"),
        _ => ("sendDocument", "document"),
    }
}

fn id_string(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl Transport for TelegramTransport {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn start(&self, ctx: ChannelContext) -> Result<(), TransportError> {
        let poller = Poller::spawn(self.core.clone(), ctx, self.knobs)
            .map_err(|e| TransportError::Runtime(format!("cannot start the poller: {e}")))?;
        if let Some(old) = self.poller.lock().replace(poller) {
            old.stop();
        }
        Ok(())
    }

    fn stop(&self) {
        if let Some(p) = self.poller.lock().take() {
            p.stop();
        }
    }

    fn reply(&self, args: &OutboundArgs) -> Result<Vec<String>, TransportError> {
        let chat = chat_id(args)?;
        let reply_to = args
            .reply_to
            .as_deref()
            .and_then(parse_int_prefix)
            .filter(|&n| n != 0);
        let mut sent = Vec::new();
        let text = args.text.as_deref().unwrap_or_default();
        if !text.is_empty() {
            for part in chunk::chunk(text, chunk::MAX_MESSAGE) {
                let id = self
                    .core
                    .api
                    .send_message(&chat, &part, reply_to, None)
                    .map_err(|e| self.runtime(e))?;
                sent.push(id_string(&id));
            }
        }
        for file in &args.files {
            let (method, field) = file_method(file);
            let id = self
                .core
                .api
                .send_file(method, field, &chat, Path::new(file))
                .map_err(|e| self.runtime(e))?;
            sent.push(id_string(&id));
        }
        Ok(sent)
    }

    fn react(&self, args: &OutboundArgs) -> Result<(), TransportError> {
        let chat = chat_id(args)?;
        let mid = args
            .message_id
            .as_deref()
            .and_then(|m| m.trim().parse().ok());
        let emoji = args.emoji.as_deref().unwrap_or_default();
        self.core
            .api
            .set_reaction(&chat, mid, emoji)
            .map_err(|e| self.runtime(e))
    }

    fn edit(&self, args: &OutboundArgs) -> Result<(), TransportError> {
        let chat = chat_id(args)?;
        let mid = args
            .message_id
            .as_deref()
            .and_then(|m| m.trim().parse().ok());
        let text = args.text.as_deref().unwrap_or_default();
        self.core
            .api
            .edit_text(&chat, mid, text)
            .map_err(|e| self.runtime(e))
    }

    fn send_permission(&self, args: &PermissionArgs) -> Result<Vec<String>, TransportError> {
        let (gate, _) = Access::load(&self.core.access_path);
        if gate.allow_from.is_empty() {
            return Err(TransportError::Config(
                "no allowlisted users to send permission prompt to".into(),
            ));
        }
        let text = format!(
            "🔐 Permission: {}\n\n{}\n\n{}",
            args.tool_name, args.description, args.input_preview
        );
        let markup = serde_json::json!({"inline_keyboard": [[
            {"text": "✅ Allow", "callback_data": format!("perm_allow_{}", args.request_id)},
            {"text": "❌ Deny", "callback_data": format!("perm_deny_{}", args.request_id)},
        ]]});
        let mut sent = Vec::new();
        for user in &gate.allow_from {
            match self.core.api.send_message(user, &text, None, Some(&markup)) {
                Ok(id) => sent.push(id_string(&id)),
                Err(e) => log::warn!(
                    "parachute-agent[{}]: permission prompt to {user} failed: {e}",
                    self.core.name
                ),
            }
        }
        Ok(sent)
    }

    fn download(&self, file_id: &str) -> Result<String, TransportError> {
        let tail: String = {
            let safe = inbound::safe_part(file_id);
            let n = safe.chars().count();
            safe.chars().skip(n.saturating_sub(10)).collect()
        };
        let inbox = self.core.inbox.clone();
        let path = self
            .core
            .api
            .download(file_id, |file_path| {
                let ext = inbound::extension(file_path).unwrap_or_else(|| "bin".into());
                inbox.join(format!("{}-{tail}.{ext}", crate::util::time::now_ms()))
            })
            .map_err(|e| self.runtime(e))?;
        let abs = std::fs::canonicalize(&path).unwrap_or(path);
        Ok(abs.display().to_string())
    }

    fn health(&self) -> Option<Value> {
        self.poller.lock().as_ref().map(|p| p.health())
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_validation() {
        let dir = tempfile::tempdir().unwrap();
        let err = TelegramTransport::new(
            "tg",
            json!({}).as_object(),
            dir.path(),
            &TelegramConfig::default(),
        )
        .err();
        assert_eq!(
            err,
            Some(TransportError::Config(
                "telegram channel tg requires a per-channel bot token in its config".into()
            ))
        );
        let err = TelegramTransport::new("", None, dir.path(), &TelegramConfig::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("channel (unnamed) requires"));
        let own = dir.path().join("own");
        let cfg = json!({"token": "1:x", "stateDir": own.display().to_string(), "extra": 1});
        let t = TelegramTransport::new(
            "tg",
            cfg.as_object(),
            dir.path(),
            &TelegramConfig::default(),
        )
        .unwrap();
        assert!(own.join("inbox").is_dir());
        assert_eq!(t.core.access_path, own.join("access.json"));
    }

    #[test]
    fn reply_needs_a_chat_id_before_sending_anything() {
        let dir = tempfile::tempdir().unwrap();
        let t = TelegramTransport::new(
            "tg",
            json!({"token": "1:x"}).as_object(),
            dir.path(),
            &TelegramConfig::default(),
        )
        .unwrap();
        let args = OutboundArgs {
            files: vec!["/etc/hostname".into()],
            ..OutboundArgs::default()
        };
        assert_eq!(
            t.reply(&args),
            Err(TransportError::Runtime(
                "telegram transport: meta.chat_id is required".into()
            ))
        );
    }

    #[test]
    fn small_parsers() {
        assert_eq!(parse_int_prefix("12abc"), Some(12));
        assert_eq!(parse_int_prefix(" -7"), Some(-7));
        assert_eq!(parse_int_prefix("abc"), None);
        assert_eq!(file_method("/x/a.JPG"), ("sendPhoto", "photo"));
        assert_eq!(file_method("/x/v.opus"), ("sendVoice", "voice"));
        assert_eq!(file_method("/x.d/noext"), ("sendDocument", "document"));
    }
}

//! What a turn needs from the rest of the daemon, as one seam ([`TurnHost`]): the Claude
//! credential and channel env store (spec 04 §2.3), the per-turn vault token mint
//! (spec 03 §4.3), the channel's reply path (spec 03 §5.7) and, for vault-transport
//! channels, a [`NoteStore`] for thread notes and callbacks (§5.6, §5.9) and the
//! channel's backlog of unanswered notes with its delivered mark ([ext]). The daemon
//! implements it over the live channels (`daemon_host`); tests implement it in memory.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::agents::spec::VaultAccess;

/// A failed channel delivery or vault-note write, with the upstream HTTP status when there
/// was one, so callers decide on the value: the reply retry treats a 4xx as permanent and a
/// 5xx or no answer (`None`) as transient (spec 03 §5.7); a 404 on clearing a session is
/// ignored.
#[derive(Debug, Clone, PartialEq)]
pub struct HostError {
    pub status: Option<u16>,
    pub message: String,
}

impl HostError {
    /// A failure with no upstream status (no live transport, a transport's own error).
    pub fn other(message: impl Into<String>) -> HostError {
        HostError {
            status: None,
            message: message.into(),
        }
    }

    /// Whether a retry may help: no status, or a 5xx.
    pub fn is_transient(&self) -> bool {
        self.status.is_none_or(|s| (500..=599).contains(&s))
    }
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A reply (or failure note) to deliver on a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    pub text: String,
    /// The inbound note id this answers (`in_reply_to`).
    pub in_reply_to: Option<String>,
    /// The per-turn thread id (`metadata.thread`).
    pub thread: String,
    /// `meta.chat_id` of the inbound message, for chat transports (telegram) whose reply
    /// must name the chat; `None` on vault and http-ui channels.
    pub chat_id: Option<String>,
}

/// Notes of one vault-transport channel's vault.
pub trait NoteStore: Send + Sync {
    /// `metadata` of the note at `path`; `Ok(None)` on 404. Other errors are `Err`.
    fn note_metadata(&self, path: &str) -> Result<Option<Value>, HostError>;
    /// PATCH-upsert the note at `path` with `body`; returns the note id if the vault gave one.
    fn upsert_note(&self, path: &str, body: &Value) -> Result<Option<String>, HostError>;
    /// POST a new note; returns its id if the vault gave one.
    fn create_note(&self, body: &Value) -> Result<Option<String>, HostError>;
}

pub trait TurnHost: Send + Sync {
    /// The Claude OAuth token for the wake channel; `Err` carries the
    /// `no Claude credential for channel "<ch>": …` message.
    fn claude_token(&self, channel: &str) -> Result<String, String>;
    /// `env.default` overlaid by `env.channels[<channel>]`.
    fn channel_env(&self, channel: &str) -> Result<BTreeMap<String, String>, String>;
    /// Mint the per-turn vault token (`vault:<name>:<access>`, audience `vault.<name>`).
    fn mint_vault_token(&self, vault: &VaultAccess) -> Result<String, String>;
    /// The daemon-wide vault URL (no trailing `/`), for the agent's MCP server.
    fn vault_url(&self) -> String;
    /// Deliver `out` through the channel's transport; returns the written note/message id.
    /// Errors of a vault write carry the vault's status so 4xx can be told from 5xx.
    fn reply(&self, channel: &str, out: &Outbound) -> Result<Option<String>, HostError>;
    /// The note store of a live vault-transport channel; `None` for other transports.
    fn notes(&self, channel: &str) -> Option<Arc<dyn NoteStore>>;
    /// Bytes of an attachment in `vault`'s storage, read with the turn's vault `token`.
    /// Default: unsupported.
    fn fetch_attachment(&self, _vault: &str, _token: &str, path: &str) -> Result<Vec<u8>, String> {
        Err(format!("no vault storage to fetch {path} from"))
    }
    /// Approved grants of agent `name`, fetched fresh (spec 04 §3.4). Default: none (no
    /// grants client).
    fn grants(&self, _name: &str) -> super::turn::grants::GrantInjection {
        super::turn::grants::GrantInjection::default()
    }
    /// [ext] The unanswered inbound messages of a vault channel since its delivered mark,
    /// oldest first (`channels::vault::backlog`). Default: none (not a vault channel).
    fn backlog(&self, _channel: &str) -> Result<Vec<crate::channels::InboundMessage>, String> {
        Ok(Vec::new())
    }
    /// [ext] A vault channel's message written at `ts` was handled: advance the channel's
    /// delivered mark. Default: nothing to advance.
    fn handled(&self, _channel: &str, _ts: &str) {}
}

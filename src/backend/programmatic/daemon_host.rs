//! The daemon's [`TurnHost`]: the credential store (read fresh every turn), the hub mint
//! client (spec 03 §4.3; resolved once at boot), the live channel map for replies
//! (`Transport::reply`) and, for `vault` channels, a [`VaultClient`] on the channel's own
//! vault and token for thread notes and callbacks.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::host::{HostError, NoteStore, Outbound, TurnHost};
use crate::agents::spec::VaultAccess;
use crate::channels::transport::{OutboundArgs, TransportError};
use crate::channels::ChannelRegistry;
use crate::credentials::{CredentialError, CredentialStore};
use crate::hub::mint::{MintClient, MintRequest};
use crate::vault::VaultClient;

pub struct DaemonHost {
    pub channels: Arc<ChannelRegistry>,
    /// The daemon's one credential store (shared with the credentials API).
    pub credentials: Arc<CredentialStore>,
    /// `None` when the operator token was missing at boot.
    pub mint: Option<MintClient>,
    /// Hub grants client; `None` without an operator token.
    pub grants: Option<crate::hub::grants::GrantsClient>,
    /// Daemon-wide vault URL (`PARACHUTE_VAULT_URL`, default `http://127.0.0.1:1940`).
    pub vault_url: String,
}

fn id_of(v: &Value) -> Option<String> {
    v.get("id")
        .or_else(|| v.get("note").and_then(|n| n.get("id")))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// A vault failure with its status.
fn note_error(e: &crate::vault::VaultError, prefix: &str) -> HostError {
    HostError {
        status: e.status(),
        message: e.context(prefix),
    }
}

/// Thread notes and callbacks on one vault channel's vault.
struct VaultNotes(VaultClient);

impl NoteStore for VaultNotes {
    fn note_metadata(&self, path: &str) -> Result<Option<Value>, HostError> {
        match self.0.get_note(path, false) {
            Ok(n) => Ok(Some(n.get("metadata").cloned().unwrap_or(Value::Null))),
            Err(e) if e.is_not_found() || e.is_unreachable() => Ok(None),
            Err(e) => Err(note_error(&e, "vault transport: read thread note")),
        }
    }
    fn upsert_note(&self, path: &str, body: &Value) -> Result<Option<String>, HostError> {
        self.0
            .patch_note(path, body)
            .map(|v| id_of(&v))
            .map_err(|e| note_error(&e, "vault transport: write thread note"))
    }
    fn create_note(&self, body: &Value) -> Result<Option<String>, HostError> {
        self.0
            .create_note(body)
            .map(|v| id_of(&v))
            .map_err(|e| note_error(&e, "vault transport: write callback note"))
    }
}

impl TurnHost for DaemonHost {
    fn claude_token(&self, channel: &str) -> Result<String, String> {
        self.credentials
            .resolve_claude_token(channel)
            .map_err(|e: CredentialError| e.to_string())
    }

    fn channel_env(&self, channel: &str) -> Result<BTreeMap<String, String>, String> {
        self.credentials
            .try_env_for(channel)
            .map(|v| v.into_iter().collect())
            .map_err(|e| e.to_string())
    }

    fn mint_vault_token(&self, vault: &VaultAccess) -> Result<String, String> {
        let Some(mint) = &self.mint else {
            return Err(
                "mint request failed to reach hub: no operator token was found at boot".into(),
            );
        };
        let mut req = MintRequest::scope(format!("vault:{}:{}", vault.name, vault.access));
        req.audience = Some(format!("vault.{}", vault.name));
        if let Some(tags) = vault.tags.as_ref().filter(|t| !t.is_empty()) {
            let mut p = Map::new();
            p.insert("scoped_tags".into(), json!(tags));
            req.permissions = Some(p);
        }
        mint.mint(&req).map_err(|e| e.message)
    }

    fn vault_url(&self) -> String {
        self.vault_url.clone()
    }

    fn reply(&self, channel: &str, out: &Outbound) -> Result<Option<String>, HostError> {
        let ch = self.channels.get(channel).ok_or_else(|| {
            HostError::other(format!("no live transport for channel \"{channel}\""))
        })?;
        let mut meta = BTreeMap::new();
        meta.insert("thread".to_string(), Value::String(out.thread.clone()));
        if let Some(id) = &out.in_reply_to {
            meta.insert("in_reply_to".to_string(), Value::String(id.clone()));
        }
        if let Some(chat) = &out.chat_id {
            meta.insert("chat_id".to_string(), Value::String(chat.clone()));
        }
        let args = OutboundArgs {
            chat_id: out.chat_id.clone(),
            text: Some(out.text.clone()),
            reply_to: out.in_reply_to.clone(),
            meta,
            ..OutboundArgs::default()
        };
        ch.transport
            .reply(&args)
            .map(|ids| ids.into_iter().next())
            .map_err(|e| match e {
                TransportError::Upstream { status, message } => HostError { status, message },
                other => HostError::other(other.to_string()),
            })
    }

    fn fetch_attachment(&self, vault: &str, token: &str, path: &str) -> Result<Vec<u8>, String> {
        VaultClient::new(Some(&self.vault_url), vault, token)
            .get_storage(path)
            .map_err(|e| e.context("vault: fetch attachment"))
    }

    fn grants(&self, name: &str) -> super::turn::grants::GrantInjection {
        match &self.grants {
            Some(client) => super::turn::grants::resolve(client, name),
            None => super::turn::grants::GrantInjection::default(),
        }
    }

    fn backlog(&self, channel: &str) -> Result<Vec<crate::channels::InboundMessage>, String> {
        let Some(ch) = self.channels.get(channel) else {
            return Ok(Vec::new());
        };
        match crate::channels::vault::VaultTransport::of(ch.transport.as_ref()) {
            Some(vault) => vault.backlog().map_err(|e| e.to_string()),
            None => Ok(Vec::new()),
        }
    }

    fn handled(&self, channel: &str, ts: &str) {
        if let Some(ch) = self.channels.get(channel) {
            if let Some(vault) = crate::channels::vault::VaultTransport::of(ch.transport.as_ref()) {
                vault.handled(ts);
            }
        }
    }

    fn notes(&self, channel: &str) -> Option<Arc<dyn NoteStore>> {
        let ch = self.channels.get(channel)?;
        if ch.entry.transport != "vault" {
            return None;
        }
        let vault = ch.entry.config_str("vault")?;
        let token = ch.entry.config_str("token").unwrap_or("");
        let client = VaultClient::new(ch.entry.config_str("vaultUrl"), vault, token);
        Some(Arc::new(VaultNotes(client)))
    }
}

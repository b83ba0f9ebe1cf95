//! How attached agents become live (spec 03 §2.7 step 4): the definition registry's
//! [`AgentSink`] for the `attached` backend. A definition registers its wake channel
//! (`channels[0]`, = the agent name for vault definitions) with its system prompt; the store
//! is that channel's vault, resolved from the live channel's config **at each call**, so a
//! hot-replaced channel (new vault or token) is picked up without re-registering.
//! Switching a definition's backend deregisters it here (the registry calls `remove` on the
//! other backend's sinks) — no restart needed.

use std::sync::{Arc, Weak};

use serde_json::Value;

use super::queue::{QueueItem, QueueStore, Status, StoreError};
use super::vault_store::VaultQueueStore;
use super::AttachedRegistry;
use crate::agents::sink::AgentSink;
use crate::agents::spec::{AgentSpec, Backend};
use crate::channels::ChannelRegistry;
use crate::vault::VaultClient;

/// The `attached` backend's sink in the definition registry.
pub struct AttachedSink {
    registry: Arc<AttachedRegistry>,
    channels: Weak<ChannelRegistry>,
}

impl AttachedSink {
    pub fn new(registry: Arc<AttachedRegistry>, channels: Arc<ChannelRegistry>) -> Arc<Self> {
        Arc::new(AttachedSink {
            registry,
            channels: Arc::downgrade(&channels),
        })
    }
}

impl AgentSink for AttachedSink {
    fn backend(&self) -> Backend {
        Backend::Attached
    }

    fn upsert(&self, spec: &AgentSpec) -> Result<(), String> {
        let channel = spec
            .channels
            .first()
            .map(|c| c.name().to_string())
            .unwrap_or_else(|| spec.name.clone());
        let store = Arc::new(ChannelVaultStore {
            channels: self.channels.clone(),
            channel: channel.clone(),
        });
        let prompt = spec.system_prompt.clone().unwrap_or_default();
        self.registry.register(&spec.name, &channel, &prompt, store);
        Ok(())
    }

    fn remove(&self, name: &str, _channel: &str) {
        if self.registry.deregister(name) {
            log::info!("attached agent {name:?} deregistered");
        }
    }
}

/// The vault behind a live `vault` channel, looked up by name on every operation.
pub struct ChannelVaultStore {
    channels: Weak<ChannelRegistry>,
    channel: String,
}

fn config_str<'a>(config: &'a serde_json::Map<String, Value>, k: &str) -> Option<&'a str> {
    config
        .get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

impl ChannelVaultStore {
    fn store(&self) -> Result<VaultQueueStore, String> {
        let missing = || {
            format!(
                "attached-queue: channel \"{}\" is not a live vault transport",
                self.channel
            )
        };
        let ch = self
            .channels
            .upgrade()
            .and_then(|r| r.get(&self.channel))
            .ok_or_else(missing)?;
        if ch.entry.transport != "vault" {
            return Err(missing());
        }
        let config = ch.entry.config.clone().unwrap_or_default();
        let vault = config_str(&config, "vault").ok_or_else(missing)?;
        let token = config_str(&config, "token").ok_or_else(missing)?;
        let client = VaultClient::new(config_str(&config, "vaultUrl"), vault, token);
        let prefix = config_str(&config, "notePathPrefix")
            .map(|p| p.trim_end_matches('/'))
            .filter(|p| !p.is_empty())
            .unwrap_or(crate::vault::notes::DEFAULT_NOTE_PATH_PREFIX);
        Ok(VaultQueueStore::new(client).with_prefix(prefix))
    }
}

impl QueueStore for ChannelVaultStore {
    fn list(&self, channel: &str) -> Result<Vec<QueueItem>, String> {
        self.store()?.list(channel)
    }

    fn set_status(
        &self,
        id: &str,
        status: Status,
        claimed_at: &str,
        if_updated_at: Option<&str>,
    ) -> Result<(), StoreError> {
        self.store()
            .map_err(StoreError::Other)?
            .set_status(id, status, claimed_at, if_updated_at)
    }

    fn write_reply(
        &self,
        channel: &str,
        text: &str,
        in_reply_to: Option<&str>,
    ) -> Result<Vec<String>, String> {
        self.store()?.write_reply(channel, text, in_reply_to)
    }
}

//! Wiring of the definition registry into the daemon: wake channels on the live channel
//! map (spec 05 §0.1 — definitions add vault channels live, never to `channels.json`) and
//! def-vault stores on the vault client.

use std::sync::Arc;

use serde_json::{json, Map};

use crate::channels::factory::{self, TransportDeps};
use crate::channels::store::ChannelEntry;
use crate::channels::ChannelRegistry;

use super::def_client::VaultDefStore;
use super::registry::DefRegistry;
use super::sink::{DefChannels, DefStore};
use super::vaults::DefVaultBinding;

/// [`DefChannels`] on the daemon's channel registry.
pub struct LiveChannels {
    channels: Arc<ChannelRegistry>,
    deps: TransportDeps,
}

impl DefChannels for LiveChannels {
    fn bring_up(&self, name: &str, binding: &DefVaultBinding) -> Result<(), String> {
        let mut config = Map::new();
        config.insert("vault".into(), json!(binding.vault));
        if let Some(url) = &binding.vault_url {
            config.insert("vaultUrl".into(), json!(url));
        }
        config.insert("token".into(), json!(binding.token));
        let entry = ChannelEntry {
            name: name.to_string(),
            transport: "vault".into(),
            config: Some(config),
        };
        let transport = factory::build(&entry, &self.deps).map_err(|e| e.to_string())?;
        self.channels
            .insert(entry, transport)
            .map_err(|e| e.to_string())
    }

    fn is_live_vault(&self, name: &str) -> bool {
        self.channels
            .get(name)
            .is_some_and(|c| c.transport.kind() == "vault")
    }

    fn tear_down(&self, name: &str) {
        self.channels.remove(name);
    }
}

/// The registry of a running daemon.
pub fn new_registry(channels: Arc<ChannelRegistry>, deps: TransportDeps) -> Arc<DefRegistry> {
    let live = Arc::new(LiveChannels { channels, deps });
    DefRegistry::new(
        live,
        Arc::new(|b: &DefVaultBinding| Arc::new(VaultDefStore::new(b)) as Arc<dyn DefStore>),
    )
}

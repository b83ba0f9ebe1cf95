//! Builds a transport from a `channels.json` entry (spec 05 §5.2). Building is
//! validation: the same messages appear in boot failures and in the channel API's 400.
//! Each transport kind adds its arm here.

use std::sync::Arc;

use super::recent::RingLimit;
use super::store::ChannelEntry;
use super::transport::{Transport, TransportError};

/// Everything a transport constructor may need from the daemon.
#[derive(Debug, Clone)]
pub struct TransportDeps {
    pub state_dir: std::path::PathBuf,
    pub telegram: crate::config::TelegramConfig,
    /// Size of each http-ui channel's ring of recent messages.
    pub http_ui_ring: RingLimit,
    /// The delivery marks vault channels read their backlog from and advance.
    pub delivery: Option<Arc<crate::channels::vault::delivery::DeliveryState>>,
}

impl PartialEq for TransportDeps {
    /// Whether channels built with either would differ (the marks are the daemon's own).
    fn eq(&self, other: &Self) -> bool {
        self.state_dir == other.state_dir
            && self.telegram == other.telegram
            && self.http_ui_ring == other.http_ui_ring
    }
}

impl TransportDeps {
    pub fn from_config(config: &crate::config::Config) -> TransportDeps {
        TransportDeps {
            state_dir: config.state_dir.clone(),
            telegram: config.telegram.clone(),
            http_ui_ring: config.http_ui_ring,
            delivery: None,
        }
    }

    pub fn with_delivery(
        mut self,
        delivery: Arc<crate::channels::vault::delivery::DeliveryState>,
    ) -> Self {
        self.delivery = Some(delivery);
        self
    }
}

pub const KNOWN_KINDS: &str = "telegram, http-ui, vault";

pub fn build(
    entry: &ChannelEntry,
    deps: &TransportDeps,
) -> Result<Arc<dyn Transport>, TransportError> {
    match entry.transport.as_str() {
        super::http_ui::KIND => Ok(Arc::new(super::http_ui::HttpUiTransport::with_ring(
            &entry.name,
            deps.http_ui_ring,
        ))),
        crate::channels::vault::transport::KIND => Ok(Arc::new(
            crate::channels::vault::VaultTransport::new(&entry.name, entry.config.as_ref())?
                .with_delivery(deps.delivery.clone()),
        )),
        super::telegram::KIND => Ok(Arc::new(super::telegram::TelegramTransport::new(
            &entry.name,
            entry.config.as_ref(),
            &deps.state_dir,
            &deps.telegram,
        )?)),
        other => Err(TransportError::Config(format!(
            "registry: unknown transport kind \"{other}\" for channel \"{}\" (known: {KNOWN_KINDS})",
            entry.name
        ))),
    }
}

//! The vault subsystem's daemon-wide state (`AppState::vault`): the inbound dedup set
//! (`markSeen`, spec 02 §3.5) and the delivery marks (spec 05 §2.7), which advance through
//! the channel registry's "delivered" hook after a fan-out reached a live subscriber.

use std::path::Path;
use std::sync::Arc;

use super::delivery::DeliveryState;
use super::seen::SeenSet;
use crate::channels::ChannelRegistry;

pub struct VaultService {
    pub seen: SeenSet,
    pub delivery: Arc<DeliveryState>,
}

impl VaultService {
    /// `boot_iso` is the default delivery mark (the daemon's boot time).
    pub fn new(state_dir: &Path, boot_iso: &str) -> Self {
        VaultService {
            seen: SeenSet::default(),
            delivery: Arc::new(DeliveryState::load(state_dir, boot_iso)),
        }
    }

    /// Advance `channel`'s mark to the message's `meta.ts` whenever a fan-out delivered it
    /// to at least one `/events` or MCP subscriber (spec 05 §0.3 step 5).
    pub fn install(&self, channels: &ChannelRegistry) {
        let delivery = self.delivery.clone();
        channels.on_delivered(Box::new(move |channel, msg| {
            if let Some(ts) = msg.meta.get("ts") {
                delivery.advance(channel, ts);
            }
        }));
    }
}

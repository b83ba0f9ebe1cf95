//! The vault subsystem's daemon-wide state (`AppState::vault`): the inbound dedup
//! (`markSeen`, spec 02 §3.5, kept across restarts by the journal — see `seen`), the
//! webhook's ingest step with it ([`VaultService::receive`]), and the delivery marks
//! (spec 05 §2.7), which advance through the channel registry's "delivered" hook after a
//! fan-out reached a live subscriber.

use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::delivery::DeliveryState;
use super::seen::{SeenSet, SeenStore};
use super::transport::{Ingest, VaultTransport};
use crate::channels::{ChannelRegistry, Refusal};

pub struct VaultService {
    pub seen: SeenSet,
    /// Where dedup keys survive a restart (the inbound journal), when the daemon has one.
    pub store: Option<Arc<dyn SeenStore>>,
    pub delivery: Arc<DeliveryState>,
}

impl VaultService {
    /// `boot_iso` is the default delivery mark (the daemon's boot time).
    pub fn new(state_dir: &Path, boot_iso: &str, store: Option<Arc<dyn SeenStore>>) -> Self {
        VaultService {
            seen: SeenSet::default(),
            store,
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

    /// Webhook steps 6–7 (spec 02 §3.3): dedup, then ingest. `Err` when the backend
    /// that owns the channel refused the note (nothing was accepted: the webhook must not
    /// be acknowledged as a success, and the note stays findable by the backlog scan).
    pub fn receive(
        &self,
        transport: &VaultTransport,
        note: &Value,
        note_id: &str,
    ) -> Result<(), Refusal> {
        let key = transport.dedup_key(note_id);
        if !self.seen.mark_seen(&key) {
            log::debug!(
                "vault inbound: note {note_id} already seen; acknowledged without delivery"
            );
            return Ok(());
        }
        if self.store.as_ref().is_some_and(|s| s.knows(&key)) {
            log::info!(
                "vault inbound: note {note_id} was taken care of already (the journal knows it, also across a restart); acknowledged without delivery"
            );
            return Ok(());
        }
        let remember = match transport.ingest(note, note_id) {
            Ingest::Refused(r) => {
                self.seen.forget(&key);
                return Err(r);
            }
            Ingest::Taken => true,
            Ingest::Delivered(n) => n > 0,
            Ingest::Outbound | Ingest::Stopped => false,
        };
        if let Some(store) = self.store.as_ref().filter(|_| remember) {
            // A journaled turn is known by its accept record already.
            if !store.knows(&key) {
                if let Err(e) = store.remember(&key) {
                    log::warn!(
                        "vault inbound: could not persist the dedup key of note {note_id}: {e}"
                    );
                }
            }
        }
        Ok(())
    }
}

//! The vault as the attached queue's durable store (spec 03 §6.2–§6.3, spec 02 §1.2 calls
//! #1, #7, #8): list the channel's inbound notes, PATCH claim state (compare-and-swap on
//! `updatedAt` for a claim, `force` otherwise), and write the outbound reply note.

use serde_json::{json, Value};

use super::queue::{items_from_notes, QueueItem, QueueStore, Status, StoreError};
use crate::vault::notes::{self, TAG_INBOUND};
use crate::vault::{NoteQuery, SortOrder, VaultClient, VaultError};

/// `min(max(4×200, 500), 2000)`: how many newest inbound notes a queue read looks at.
pub const LIST_LIMIT: usize = 800;

/// The queue store of one attached channel: its vault.
pub struct VaultQueueStore {
    client: VaultClient,
    /// Path prefix of message notes (`channel` unless the channel config says otherwise).
    prefix: String,
}

impl VaultQueueStore {
    pub fn new(client: VaultClient) -> Self {
        VaultQueueStore {
            client,
            prefix: notes::DEFAULT_NOTE_PATH_PREFIX.to_string(),
        }
    }

    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_string();
        self
    }
}

impl QueueStore for VaultQueueStore {
    fn list(&self, channel: &str) -> Result<Vec<QueueItem>, String> {
        let query = NoteQuery::tagged(TAG_INBOUND, LIST_LIMIT).sorted(SortOrder::Desc);
        let found = self
            .client
            .list_notes(&query)
            .map_err(|e| e.context("vault transport: list inbound queue"))?;
        Ok(items_from_notes(channel, &found))
    }

    fn set_status(
        &self,
        id: &str,
        status: Status,
        claimed_at: &str,
        if_updated_at: Option<&str>,
    ) -> Result<(), StoreError> {
        let metadata = json!({"status": status.as_str(), "claimedAt": claimed_at});
        let body = match if_updated_at {
            Some(u) => json!({"metadata": metadata, "if_updated_at": u}),
            None => json!({"metadata": metadata, "force": true}),
        };
        match self.client.patch_note(id, &body) {
            Ok(_) => Ok(()),
            Err(e @ (VaultError::Conflict(_) | VaultError::PreconditionRequired(_)))
                if if_updated_at.is_some() =>
            {
                Err(StoreError::LostRace(format!(
                    "vault transport: inbound claim {id} lost the CAS race ({})",
                    e.status().unwrap_or(409)
                )))
            }
            Err(e) => Err(StoreError::Other(
                e.context(&format!("vault transport: set inbound status {id}")),
            )),
        }
    }

    fn write_reply(
        &self,
        channel: &str,
        text: &str,
        in_reply_to: Option<&str>,
    ) -> Result<Vec<String>, String> {
        let ts = crate::util::time::now_iso();
        let (uuid, body) =
            notes::outbound_message_body(&self.prefix, channel, text, &ts, in_reply_to, None);
        let resp: Value = self
            .client
            .create_note(&body)
            .map_err(|e| e.context("vault transport: write reply"))?;
        Ok(vec![notes::note_id(&resp).unwrap_or(uuid)])
    }
}

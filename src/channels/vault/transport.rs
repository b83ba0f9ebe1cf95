//! The `vault` channel transport (spec 02 §4.8, spec 05 §0.4): outbound `reply` writes an
//! `agent/message` note with both tags and the metadata of spec 02 §2.3; the transcript is
//! read from the vault (newest first, see `messages`); inbound notes arrive through the
//! webhook (`routes`) and are handed to [`VaultTransport::ingest`], which emits them on this
//! channel only. On start the tag schema is declared (spec 02 §2.7, once per vault).
//!
//! [ext] Ingest is infallible after auth (spec 02 §3.3): a note that cannot be emitted
//! (transport stopped mid-flight) is logged and acknowledged, so the vault never strands it;
//! only a backend's refusal (the daemon is stopping, the journal cannot be written) is
//! reported, so the webhook is not acknowledged as accepted. [ext] `backlog` lists the
//! channel's unanswered inbound notes since its delivered mark (see `backlog`), and
//! `handled` advances that mark.

use std::any::Any;
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Map, Value};

use super::backlog;
use super::config::VaultChannelConfig;
use super::delivery::DeliveryState;
use super::inbound;
use super::messages::{self, PREFIX_INBOUND, PREFIX_REPLY, PREFIX_TRANSCRIPT, TRANSCRIPT_LIMIT};
use crate::channels::transport::{Attachment, OutboundArgs};
use crate::channels::{
    ChannelContext, Emitted, InboundMessage, Refusal, Transport, TransportError,
};
use crate::vault::notes;
use crate::vault::schema;

pub const KIND: &str = "vault";

/// Error prefix of the backlog read.
pub const PREFIX_BACKLOG: &str = "vault transport: list unanswered notes";

pub struct VaultTransport {
    name: String,
    cfg: VaultChannelConfig,
    ctx: Mutex<Option<ChannelContext>>,
    /// The daemon's delivery marks (`None` in tools and unit tests).
    delivery: Option<Arc<DeliveryState>>,
}

/// What [`VaultTransport::ingest`] did with a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingest {
    /// Our own reply (or marked outbound): never emitted.
    Outbound,
    /// The transport is stopped: not delivered.
    Stopped,
    /// A backend took it (journaled turn, attached queue, pending buffer).
    Taken,
    /// Fanned out to this many session streams.
    Delivered(usize),
    /// A backend owns it but did not accept it.
    Refused(Refusal),
}

impl VaultTransport {
    /// Validate the entry's config (spec 05 §5.2 texts as configuration errors).
    pub fn new(name: &str, config: Option<&Map<String, Value>>) -> Result<Self, TransportError> {
        let value = config.map(|m| Value::Object(m.clone()));
        let cfg = VaultChannelConfig::from_json(value.as_ref()).map_err(TransportError::Config)?;
        Ok(VaultTransport {
            name: name.to_string(),
            cfg,
            ctx: Mutex::new(None),
            delivery: None,
        })
    }

    /// Gives the channel the daemon's delivery marks (backlog scans, `handled`).
    pub fn with_delivery(mut self, delivery: Option<Arc<DeliveryState>>) -> Self {
        self.delivery = delivery;
        self
    }

    /// The journal's dedup key of note `note_id` of this channel's vault ([ext] spec 02
    /// D9: ids are unique per vault only).
    pub fn dedup_key(&self, note_id: &str) -> String {
        format!("note:{}|{note_id}", self.vault_key())
    }

    pub fn config(&self) -> &VaultChannelConfig {
        &self.cfg
    }

    /// `vaultUrl::vault` of this channel (the dedup key space, spec 02 D9).
    pub fn vault_key(&self) -> String {
        self.cfg.client().vault_key()
    }

    /// The transport behind a live channel, if it is a vault transport.
    pub fn of(transport: &dyn Transport) -> Option<&VaultTransport> {
        transport.as_any().downcast_ref::<VaultTransport>()
    }

    /// Spec 02 §3.4: drop our own replies, resolve attachments, emit on this channel.
    pub fn ingest(&self, note: &Value, note_id: &str) -> Ingest {
        if notes::is_outbound(note) {
            log::debug!(
                "vault channel {}: dropped outbound note {note_id}",
                self.name
            );
            return Ingest::Outbound;
        }
        let Some(ctx) = self.ctx.lock().clone() else {
            log::warn!(
                "vault channel {}: note {note_id} arrived while the transport is stopped; not delivered",
                self.name
            );
            return Ingest::Stopped;
        };
        let attachments = inbound::attachments(&self.cfg.client(), note, note_id);
        match ctx.emit_checked(self.message(note, note_id, attachments)) {
            Ok(Emitted::Taken) => Ingest::Taken,
            Ok(Emitted::Delivered(n)) => Ingest::Delivered(n),
            Err(r) => {
                log::warn!(
                    "vault channel {}: note {note_id} not accepted: {r}",
                    self.name
                );
                Ingest::Refused(r)
            }
        }
    }

    /// The in-memory message of an inbound note (spec 02 §3.4 step 4).
    fn message(
        &self,
        note: &Value,
        note_id: &str,
        attachments: Option<Vec<notes::AttachmentRef>>,
    ) -> InboundMessage {
        let attachments = attachments
            .unwrap_or_default()
            .into_iter()
            .map(|a| Attachment {
                path: a.path,
                mime_type: a.mime_type,
                filename: a.filename,
            })
            .collect();
        InboundMessage {
            channel: self.name.clone(),
            content: inbound::message_content(note),
            meta: inbound::message_meta(note, &self.name, note_id),
            source: KIND.to_string(),
            attachments,
            key: Some(self.dedup_key(note_id)),
        }
    }

    /// The channel's unanswered inbound notes since its delivered mark (stored now if it
    /// had none), oldest first, as the messages the webhook would have emitted.
    pub fn backlog(&self) -> Result<Vec<InboundMessage>, TransportError> {
        let Some(delivery) = &self.delivery else {
            return Ok(Vec::new());
        };
        let mark = delivery.seed(&self.name);
        let client = self.cfg.client();
        let found = backlog::unanswered(&client, &self.name, &mark)
            .map_err(|e| upstream(&e, PREFIX_BACKLOG))?;
        if found.truncated {
            log::warn!(
                "vault channel {}: more unanswered notes than one scan reads ({} pages of {}); older ones were not examined",
                self.name,
                backlog::MAX_PAGES,
                backlog::PAGE
            );
        }
        Ok(found
            .notes
            .iter()
            .map(|note| {
                let id = note["id"].as_str().unwrap_or_default();
                // A listed note may omit its attachments: ask for them.
                self.message(note, id, inbound::fetch_attachments(&client, id))
            })
            .collect())
    }

    /// One of this channel's messages was handled (replied or failed visibly): its
    /// delivered mark moves to `ts` if that is newer.
    pub fn handled(&self, ts: &str) {
        if let Some(d) = &self.delivery {
            d.advance(&self.name, ts);
        }
    }

    /// Chat send / runner injection: write an inbound note (the vault trigger is the wake).
    pub fn write_inbound(
        &self,
        text: &str,
        sender: &str,
        extras: &[(String, String)],
    ) -> Result<String, TransportError> {
        messages::write_inbound(&self.cfg, &self.name, text, sender, extras)
            .map_err(|e| upstream(&e, PREFIX_INBOUND))
    }
}

/// A vault failure with its status, so retrying callers decide on the value.
fn upstream(e: &crate::vault::VaultError, prefix: &str) -> TransportError {
    TransportError::Upstream {
        status: e.status(),
        message: e.context(prefix),
    }
}

fn meta_str<'a>(args: &'a OutboundArgs, key: &str) -> Option<&'a str> {
    args.meta.get(key).and_then(Value::as_str)
}

impl Transport for VaultTransport {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn start(&self, ctx: ChannelContext) -> Result<(), TransportError> {
        *self.ctx.lock() = Some(ctx);
        if self.cfg.declare_schema_on_start {
            schema::declare_once_in_background(&self.cfg.client());
        }
        Ok(())
    }

    fn stop(&self) {
        self.ctx.lock().take();
    }

    fn reply(&self, args: &OutboundArgs) -> Result<Vec<String>, TransportError> {
        let text = args.text.as_deref().unwrap_or_default();
        let id = messages::reply(
            &self.cfg,
            &self.name,
            text,
            meta_str(args, notes::meta::IN_REPLY_TO),
            meta_str(args, notes::meta::THREAD),
        )
        .map_err(|e| upstream(&e, PREFIX_REPLY))?;
        Ok(vec![id])
    }

    fn transcript(&self) -> Result<Vec<Value>, TransportError> {
        let client = self.cfg.client();
        let msgs = messages::load_transcript(&client, &self.name, TRANSCRIPT_LIMIT)
            .map_err(|e| upstream(&e, PREFIX_TRANSCRIPT))?;
        Ok(msgs
            .iter()
            .filter_map(|m| serde_json::to_value(m).ok())
            .collect())
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn construction_errors_are_configuration_errors() {
        let err = VaultTransport::new("eng", None).err().unwrap();
        assert_eq!(
            err,
            TransportError::Config("VaultTransport: config.vault (vault name) is required".into())
        );
        let cfg = json!({"vault": "default", "token": "t"});
        let t = VaultTransport::new("eng", cfg.as_object()).unwrap();
        assert_eq!(t.kind(), "vault");
        assert_eq!(t.vault_key(), "http://127.0.0.1:1940::default");
        assert!(VaultTransport::of(&t).is_some());
    }
}

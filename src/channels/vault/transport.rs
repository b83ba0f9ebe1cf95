//! The `vault` channel transport (spec 02 §4.8, spec 05 §0.4): outbound `reply` writes an
//! `agent/message` note with both tags and the metadata of spec 02 §2.3; the transcript is
//! read from the vault (newest first, see `messages`); inbound notes arrive through the
//! webhook (`routes`) and are handed to [`VaultTransport::ingest`], which emits them on this
//! channel only. On start the tag schema is declared (spec 02 §2.7, once per vault).
//!
//! [ext] Ingest is infallible after auth (spec 02 §3.3): a note that cannot be emitted
//! (transport stopped mid-flight) is logged and acknowledged, so the vault never strands it.

use std::any::Any;

use parking_lot::Mutex;
use serde_json::{Map, Value};

use super::config::VaultChannelConfig;
use super::inbound;
use super::messages::{self, PREFIX_INBOUND, PREFIX_REPLY, PREFIX_TRANSCRIPT, TRANSCRIPT_LIMIT};
use crate::channels::transport::{Attachment, OutboundArgs};
use crate::channels::{ChannelContext, InboundMessage, Transport, TransportError};
use crate::vault::notes;
use crate::vault::schema;

pub const KIND: &str = "vault";

pub struct VaultTransport {
    name: String,
    cfg: VaultChannelConfig,
    ctx: Mutex<Option<ChannelContext>>,
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
        })
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
    pub fn ingest(&self, note: &Value, note_id: &str) {
        if notes::is_outbound(note) {
            log::debug!(
                "vault channel {}: dropped outbound note {note_id}",
                self.name
            );
            return;
        }
        let Some(ctx) = self.ctx.lock().clone() else {
            log::warn!(
                "vault channel {}: note {note_id} arrived while the transport is stopped; not delivered",
                self.name
            );
            return;
        };
        let attachments = inbound::attachments(&self.cfg.client(), note, note_id)
            .unwrap_or_default()
            .into_iter()
            .map(|a| Attachment {
                path: a.path,
                mime_type: a.mime_type,
                filename: a.filename,
            })
            .collect();
        ctx.emit(InboundMessage {
            channel: ctx.channel.clone(),
            content: inbound::message_content(note),
            meta: inbound::message_meta(note, &ctx.channel, note_id),
            source: KIND.to_string(),
            attachments,
        });
    }

    /// Chat send / runner injection: write an inbound note (the vault trigger is the wake).
    pub fn write_inbound(
        &self,
        text: &str,
        sender: &str,
        extras: &[(String, String)],
    ) -> Result<String, TransportError> {
        messages::write_inbound(&self.cfg, &self.name, text, sender, extras)
            .map_err(|e| TransportError::Runtime(e.context(PREFIX_INBOUND)))
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
        .map_err(|e| TransportError::Runtime(e.context(PREFIX_REPLY)))?;
        Ok(vec![id])
    }

    fn transcript(&self) -> Result<Vec<Value>, TransportError> {
        let client = self.cfg.client();
        let msgs = messages::load_transcript(&client, &self.name, TRANSCRIPT_LIMIT)
            .map_err(|e| TransportError::Runtime(e.context(PREFIX_TRANSCRIPT)))?;
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

//! The seams of the definition registry (spec 03 §2.7): where live agents go
//! ([`AgentSink`]: the programmatic registry of the turn engine, the attached-queue
//! registry), how their wake channels come up ([`DefChannels`]), and how one def-vault's
//! notes are read and written ([`DefStore`]).
//!
//! The registry owns no backend: a backend registers one `AgentSink` at boot
//! (`state.agent_defs.add_sink(..)`); the registry calls it for every definition that
//! becomes live, changes or disappears. A sink added after definitions went live is
//! replayed the live set of its backend at once.

use serde_json::Value;

use super::definition::DefNote;
use super::defs::status::DefStamp;
use super::spec::{AgentSpec, Backend};
use super::vaults::DefVaultBinding;

/// A backend registry that runs agents of one [`Backend`].
pub trait AgentSink: Send + Sync {
    /// The backend whose agents this sink runs.
    fn backend(&self) -> Backend;

    /// A definition maps to `channel` and is about to be registered: buffer inbound
    /// messages for it (spec 03 §5.3). Called for every backend's sinks. Default: no-op.
    fn expect_channel(&self, _channel: &str) {}

    /// Register `spec` or replace the agent of the same name. `Err(message)` is a
    /// bring-up failure (e.g. no Claude credential for the wake channel): the definition
    /// is stamped `error` and any earlier registration stays as it was.
    fn upsert(&self, spec: &AgentSpec) -> Result<(), String>;

    /// Deregister agent `name` (no-op if unknown) and drop any expected mark and buffered
    /// messages of its wake channel `channel`. Also called on the sinks of the *other*
    /// backend when a definition switches backend (spec 03 §2.8 #2).
    fn remove(&self, name: &str, channel: &str);

    /// Whether agent `name` is still registered here. A poll skips re-registering an
    /// unchanged definition (spec 03 §2.8 #3) only while every sink of its backend still
    /// holds it, so an agent deregistered behind the registry's back (e.g. `DELETE
    /// /api/agents/<name>`) comes back on the next poll, as in the reference. Default:
    /// true (the sink cannot tell).
    fn contains(&self, _name: &str) -> bool {
        true
    }
}

/// The live channel map as seen by the registry.
pub trait DefChannels: Send + Sync {
    /// Start (or stop + restart) the vault channel `name` on `binding`'s vault and token.
    /// Not persisted to `channels.json`.
    fn bring_up(&self, name: &str, binding: &DefVaultBinding) -> Result<(), String>;
    /// Whether `name` is a live channel of the `vault` transport.
    fn is_live_vault(&self, name: &str) -> bool;
    /// Stop and remove channel `name` (no-op if not live).
    fn tear_down(&self, name: &str);
}

/// One def-vault's definition notes (spec 02 §1.2 calls #12–#17). Errors are the
/// reference's texts (`def-vault "<v>": …`).
pub trait DefStore: Send + Sync {
    /// Every `agent/definition` note (limit 500, vault order).
    fn list_defs(&self) -> Result<Vec<DefNote>, String>;
    /// One note; `Ok(None)` when it is gone (404 or a body without an id).
    fn get_def(&self, id: &str) -> Result<Option<DefNote>, String>;
    /// PATCH `{metadata:{status,pending},force:true}`.
    fn stamp(&self, id: &str, stamp: &DefStamp) -> Result<(), String>;
    /// POST a new definition note; returns its id.
    fn create_def(&self, body: &Value) -> Result<String, String>;
    /// PATCH a definition note (`force:true` is in `body`).
    fn patch_def(&self, id: &str, body: &Value) -> Result<(), String>;
    /// DELETE a definition note; a 404 counts as success.
    fn delete_def(&self, id: &str) -> Result<(), String>;
}

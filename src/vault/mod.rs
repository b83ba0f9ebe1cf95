//! Our side of the vault contract (spec 02): the blocking REST client (`client`), its typed
//! errors (`error`), the id/path/query encodings (`encode`), the note shapes, tag constants
//! and metadata reading rules (`notes`), the tag schema declared on connect (`schema`), the
//! vault channel's config (`config`), message I/O (`messages`), the inbound webhook's pure
//! steps (`inbound`), its dedup (`seen`), the delivery mark file (`delivery`), the `vault`
//! channel transport (`transport`), the daemon-wide vault state (`service`) and the HTTP
//! routes `/api/vault/inbound` and vault `/send` (`routes`).
//!
//! The client, encodings and note shapes know nothing about channels or HTTP routes; only
//! `transport`, `service` and `routes` plug into the daemon.

pub mod client;
pub mod config;
pub mod delivery;
pub mod encode;
pub mod error;
pub mod inbound;
pub mod messages;
pub mod notes;
pub mod schema;
pub mod seen;
pub mod service;
pub mod transport;

pub use client::{NoteQuery, SortOrder, VaultClient, DEFAULT_VAULT_URL};
pub use error::VaultError;
pub use service::VaultService;
pub use transport::VaultTransport;

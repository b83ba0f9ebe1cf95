//! Our side of the vault contract (spec 02): the blocking REST client (`client`), its typed
//! errors (`error`), the id/path/query encodings (`encode`), the note shapes, tag constants
//! and metadata reading rules (`notes`), the tag schema declared on connect (`schema`), the
//! vault channel's config (`config`), message I/O (`messages`), the inbound webhook's pure
//! steps (`inbound`), its dedup (`seen`) and the delivery mark file (`delivery`).
//!
//! Everything here is plain HTTP + JSON; nothing here knows about channels or HTTP routes.

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

pub use client::{NoteQuery, SortOrder, VaultClient, DEFAULT_VAULT_URL};
pub use error::VaultError;

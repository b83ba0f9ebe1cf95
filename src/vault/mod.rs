//! Our side of the vault contract (spec 02 §0–§2), as a client library: the blocking REST
//! client (`client`), its typed errors (`error`), the id/path/query encodings (`encode`),
//! the note shapes, tag constants and metadata reading rules (`notes`) and the tag schema
//! declared on connect (`schema`). It knows nothing about channels or HTTP routes; the
//! `vault` channel transport built on it is `channels::vault`.

pub mod client;
pub mod encode;
pub mod error;
pub mod notes;
pub mod schema;

pub use client::{NoteQuery, SortOrder, VaultClient, DEFAULT_VAULT_URL};
pub use error::VaultError;

//! The `vault` channel (spec 02 §3–§5, spec 05 §2.7), beside `telegram` and `http-ui`:
//! the channel's config (`config`), message I/O (`messages`), the inbound webhook's pure
//! steps (`inbound`), its dedup (`seen`), the delivery mark file (`delivery`), the
//! unanswered notes since that mark (`backlog`), the
//! transport (`transport`) and the daemon-wide vault channel state (`service`). Built on the
//! `vault` client library; its HTTP routes are `api/vault.rs`.

pub mod backlog;
pub mod config;
pub mod delivery;
pub mod inbound;
pub mod messages;
pub mod seen;
pub mod service;
pub mod transport;

pub use service::VaultService;
pub use transport::VaultTransport;

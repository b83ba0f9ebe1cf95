//! The operator's credentials (spec 04 §2.3–§2.5): the Claude OAuth token (default +
//! per-channel override) and the env-var store (default + per-channel layer) in
//! `<state>/credentials.json`, the env-name rules and denylist, and the effective-env
//! view. The turn engine resolves with [`CredentialStore::claude_token`] and
//! [`CredentialStore::env_for`]; the HTTP routes live in the security routes module.

pub mod names;
pub mod store;
pub mod view;

pub use store::{
    not_configured_message, CredentialError, CredentialStore, EnvSummary, TokenSummary,
};
pub use view::{EnvViewEntry, GrantVar};

#[cfg(test)]
mod tests;

//! The turn sandbox (spec 04 §1, §5, §6): every programmatic turn runs inside bubblewrap.
//!
//! - [`policy`]: agent spec → what a turn may read, write and reach (pure).
//! - [`hosts`]: origin reduction, host canonicalisation, allowlist matching (pure).
//! - [`bwrap`]: policy → the exact `bwrap` argv, filesystem probe injected (pure).

pub mod bwrap;
pub mod hosts;
pub mod policy;

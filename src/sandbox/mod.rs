//! The turn sandbox (spec 04 §1, §5, §6): every programmatic turn runs inside bubblewrap,
//! behind the launcher seam of the turn engine (`crate::sandbox::launch`).
//!
//! - [`exposure`]: the protected-path rule every bind of a spec must pass (pure + realpath).
//! - [`policy`]: agent spec → what a turn may read, write and reach (pure).
//! - [`hosts`]: origin reduction, host canonicalisation, allowlist matching (pure).
//! - [`bwrap`]: policy → the exact `bwrap` argv, filesystem probe injected (pure).
//! - [`proxy`]: per-turn HTTP-CONNECT + SOCKS5 filtering proxies on Unix sockets.
//! - [`helper`]: the in-sandbox `sandbox-helper` (TCP → Unix forwarders, seccomp, exec).
//! - [`seccomp`]: the AF_UNIX/io_uring filter, compiled with `seccompiler`.
//! - [`preflight`]: boot dependency check (`bwrap`, `claude`, user namespaces).
//! - [`launcher`]: [`BwrapLauncher`], the `Launcher` the daemon uses by default.
//! - [`boot`]: the preflight at boot, `/health.dependencies`, `state.sandbox.launcher()`.

pub mod boot;
pub mod bwrap;
pub mod exposure;
pub mod helper;
pub mod hosts;
pub mod launch;
pub mod launcher;
pub mod liveness;
pub mod policy;
pub mod preflight;
pub mod proxy;
pub mod seccomp;

pub use boot::Sandbox;
pub use launcher::{BwrapLauncher, SandboxSettings};
pub use preflight::Preflight;

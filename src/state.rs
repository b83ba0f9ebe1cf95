//! The daemon's shared state: one [`AppState`] behind an `Arc`, handed to every request
//! handler. Only the struct: each subsystem owns one field, and `daemon.rs` (the
//! composition root) builds and wires them all; subsystems that report into `/health`
//! get a hook in [`HealthHooks`] at boot. No feature module imports this file.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;

use crate::auth::Auth;
use crate::channels::{ChannelRegistry, SseHub};
use crate::config::Config;
use crate::sandbox::boot::Dependencies;

type ChannelCount = Arc<dyn Fn(&str) -> usize + Send + Sync>;
type AgentRows = Arc<dyn Fn() -> Vec<Value> + Send + Sync>;

/// Extension points through which subsystems feed `/health`.
#[derive(Default)]
pub struct HealthHooks {
    /// Registered MCP sessions on a channel (`channels[].mcp_sessions`).
    pub mcp_sessions: RwLock<Option<ChannelCount>>,
    /// Rows of `programmatic_agents` (`{name, channel, backend, status}`).
    pub programmatic_agents: RwLock<Option<AgentRows>>,
    /// The preflight result, once it ran.
    pub dependencies: RwLock<Option<Dependencies>>,
    /// [ext] True while the boot sequence is still bringing up what is configured:
    /// `/health.status` is `starting` instead of `ok`.
    pub starting: AtomicBool,
}

pub struct AppState {
    pub config: Config,
    /// Running or draining for a stop.
    pub lifecycle: Arc<crate::lifecycle::Lifecycle>,
    /// The durable inbound journal.
    pub journal: Option<Arc<crate::journal::Journal>>,
    /// Shared so long-lived streams can re-validate their token.
    pub auth: Arc<Auth>,
    pub channels: Arc<ChannelRegistry>,
    /// Bridge `/events` subscribers (spec 05 §2.2).
    pub events: Arc<SseHub>,
    pub health: HealthHooks,
    /// The turn sandbox: the launcher every programmatic turn must use (spec 04 §6).
    pub sandbox: crate::sandbox::Sandbox,
    /// Attached-backend agents by channel (spec 03 §6); first route of the routing fork.
    pub attached: Arc<crate::backend::attached::AttachedRegistry>,
    /// The Streamable-HTTP MCP endpoint's sessions and push fan-out (spec 05 §1).
    pub mcp: Arc<crate::mcp::service::McpService>,
    /// Vault subsystem: inbound dedup and delivery marks.
    pub vault: crate::channels::vault::VaultService,
    /// `channels.json`: the change lock, the entries it owns, what channels are built with.
    pub channel_file: crate::channels::file::ChannelFile,
    /// Agent definitions read from def-vaults (spec 03 §2); backends add their sinks.
    pub agent_defs: Arc<crate::agents::registry::DefRegistry>,
    /// What def-vault boot, poll and administration use (the registry and its paths).
    pub def_vaults: crate::agents::defs::boot::DefVaults,
    /// Programmatic agents: `claude -p` per message (spec 03 §3–§5).
    pub programmatic: Arc<crate::backend::programmatic::service::ProgrammaticService>,
    /// `GET /api/channels/<ch>/turn-events` subscribers (spec 03 §7).
    pub turn_events: Arc<SseHub>,
    /// One-time SSE tickets (spec 01 §4).
    pub tickets: crate::security::TicketStore,
    /// Step-up PIN, its tokens and lockout (spec 01 §5).
    pub step_up: crate::security::StepUpStore,
    /// `credentials.json`: Claude tokens and the env store (spec 04 §2.3).
    pub credentials: Arc<crate::credentials::CredentialStore>,
    /// Scheduled jobs: the store over the vault and the runner (spec 06 §1).
    pub jobs: Arc<crate::jobs::JobService>,
    /// The web UI's files and its one-time login exchange (spec 06 §3).
    pub webui: crate::webui::WebUi,
    /// The browser terminal (spec 06 §2).
    pub terminal: crate::terminal::TerminalService,
}

//! The daemon's shared state: one [`AppState`] behind an `Arc`, handed to every request
//! worker. Each subsystem owns one field; subsystems that report into `/health` register
//! a hook in [`HealthHooks`] at boot.

use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::Value;

use crate::auth::Auth;
use crate::channels::{ChannelRegistry, SseHub};
use crate::config::Config;

/// Result of the boot dependency preflight (`/health.dependencies`, spec 01 §2.1.1).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Dependencies {
    pub ok: bool,
    pub missing: Vec<String>,
    /// [ext] Present but unusable dependencies (e.g. bwrap without user namespaces).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

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
}

pub struct AppState {
    pub config: Config,
    pub auth: Auth,
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
    pub vault: crate::vault::VaultService,
    /// Agent definitions read from def-vaults (spec 03 §2); backends add their sinks.
    pub agent_defs: Arc<crate::agents::registry::DefRegistry>,
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
}

impl AppState {
    pub fn new(config: Config) -> AppState {
        let auth = Auth::new(
            config.state_dir.clone(),
            config.parachute_home.clone(),
            &config.auth,
        );
        let channels = ChannelRegistry::new();
        let events = SseHub::new("events", config.sse_keepalive);
        channels.add_sink(events.clone());
        let attached = Arc::new(crate::backend::attached::AttachedRegistry::new());
        channels.add_route(attached.clone());
        let mcp = crate::mcp::service::McpService::new(
            crate::mcp::McpSessionStore::new(
                Some(config.state_dir.clone()),
                config.mcp.session_idle,
            ),
            channels.clone(),
            attached.clone(),
            config.sse_keepalive,
            crate::mcp::protocol::NotifyNamespace::from_legacy_flag(config.mcp.channel_namespace),
        );
        channels.add_sink(mcp.clone());
        let health = HealthHooks::default();
        let sessions = mcp.clone();
        *health.mcp_sessions.write() = Some(Arc::new(move |ch: &str| {
            sessions.sessions.maybe_reap();
            sessions.sessions.count_for_channel(ch)
        }));
        let vault =
            crate::vault::VaultService::new(&config.state_dir, &crate::util::time::now_iso());
        vault.install(&channels);
        let agent_defs = crate::agents::def_live::new_registry(
            channels.clone(),
            crate::channels::factory::TransportDeps::from_config(&config),
        );
        let turn_events = SseHub::new("turn-events", config.sse_keepalive);
        // Turns go through the sandbox; it refuses them until the boot preflight installs
        // the bubblewrap launcher (spec 04 §5, §6).
        let sandbox = crate::sandbox::Sandbox::new();
        let credentials = Arc::new(crate::credentials::CredentialStore::new(&config.state_dir));
        let programmatic = crate::backend::programmatic::boot::build(
            &config,
            channels.clone(),
            &auth.hub_origin(),
            turn_events.clone(),
            turn_launcher(&sandbox, &config.test),
            credentials.clone(),
        );
        channels.add_route(programmatic.clone());
        agent_defs.add_sink(programmatic.clone());
        let tickets = crate::security::TicketStore::new(config.sse_ticket_ttl);
        let step_up = crate::security::StepUpStore::new(&config.state_dir, config.step_up_ttl);
        let jobs = crate::jobs::JobService::new(channels.clone(), config.test.job_clock_offset_ms);
        let webui = crate::webui::WebUi::new(config.static_dir.clone(), config.state_dir.clone());
        AppState {
            webui,
            jobs,
            tickets,
            step_up,
            credentials,
            config,
            auth,
            channels,
            events,
            health,
            sandbox,
            attached,
            mcp,
            vault,
            agent_defs,
            programmatic,
            turn_events,
        }
    }
}

/// The launcher every programmatic turn goes through: the bubblewrap sandbox. Debug builds
/// have one escape hatch for tests on hosts where bwrap cannot run (`cargo test` must pass
/// on a bare machine): with `PARACHUTE_AGENT_TEST_HOOKS=1` and
/// `PARACHUTE_AGENT_TEST_UNSANDBOXED=1` (`Config::test.unsandboxed`), turns run
/// unsandboxed. Release builds have no such switch; CI runs the same tests sandboxed.
fn turn_launcher(
    sandbox: &crate::sandbox::Sandbox,
    test: &crate::config::TestHooks,
) -> Arc<dyn crate::backend::launch::Launcher> {
    if test.unsandboxed {
        log::warn!("TEST BUILD: programmatic turns run WITHOUT the sandbox (PARACHUTE_AGENT_TEST_UNSANDBOXED=1)");
        return Arc::new(crate::backend::launch::DirectLauncher);
    }
    sandbox.launcher()
}

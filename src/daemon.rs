//! The composition root and the `serve` boot sequence and shutdown (spec 01 §6.4, §6.7):
//! state dir, `.env`, `channels.json`, bind, [`build`] (every subsystem built and wired
//! here, both agent sinks included), self-registration, channel start, subsystem threads,
//! then wait for SIGTERM/SIGINT (SIGHUP meanwhile: `reload.rs`) and stop in order
//! (in-flight requests finish). Boot helpers
//! of the features get the parts they use, never the whole `AppState`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::agents::defs::boot::DefVaults;
use crate::auth::Auth;
use crate::backend::attached::sink::AttachedSink;
use crate::backend::attached::AttachedRegistry;
use crate::backend::programmatic::durable::Durable;
use crate::channels::{factory, store, ChannelRegistry, SseHub};
use crate::config::{self, Config};
use crate::http::HttpServer;
use crate::hub::origin::HubOrigin;
use crate::mcp::protocol::NotifyNamespace;
use crate::mcp::service::McpService;
use crate::mcp::McpSessionStore;
use crate::sandbox::launch::{DirectLauncher, Launcher};
use crate::sandbox::Sandbox;
use crate::state::{AppState, HealthHooks};
use crate::util::fsx;

/// Requests handled at once (each on its connection's thread, under a permit). Streams
/// give their permit back once their head is out, so this only bounds ordinary requests.
const HTTP_CONCURRENT: usize = 16;

/// Runs the daemon until a signal; returns the process exit code.
pub fn serve(config: Config) -> i32 {
    match run(config) {
        Ok(()) => 0,
        Err(msg) => {
            log::error!("{msg}");
            1
        }
    }
}

fn run(mut config: Config) -> Result<(), String> {
    process_setup();
    let state_dir = config.state_dir.clone();
    fsx::ensure_private_dir(&state_dir)
        .map_err(|e| format!("cannot create state dir {}: {e}", state_dir.display()))?;
    // One daemon per state dir: a second one exits here, before it binds or starts anything.
    let _instance = crate::instance::acquire(&state_dir)?;
    std::fs::create_dir_all(state_dir.join("inbox"))
        .map_err(|e| format!("cannot create inbox: {e}"))?;
    let dotenv = config::load_dotenv(&state_dir);
    config.reload_subsystems();
    if dotenv > 0 {
        log::info!(
            "loaded {dotenv} variable(s) from {}/.env",
            state_dir.display()
        );
    }
    // Checked before anything binds (the entries are built and started below).
    store::load(&state_dir.join(store::FILE))?;
    // Signals are installed before anything starts, so an early SIGTERM is not lost.
    let mut signals = Signals::new([SIGTERM, SIGINT, SIGHUP])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;

    // Bound before the state is built: with `--port 0` the kernel picks the port, and
    // everything that names our port (services.json, trigger and discovery URLs) must see
    // the real one.
    let server = HttpServer::bind(config.port, &config.http, config.max_body_bytes)?;
    if let Some(port) = server.port() {
        config.port = port;
    }
    let durable = crate::supervision::open_durable(&config)?;
    let state = Arc::new(build(config, durable));
    state.health.starting.store(true, Ordering::Relaxed);
    // Before any agent registers: turns replayed from the journal at registration wait
    // for the sandbox instead of failing closed while the preflight has not started.
    start_preflight(&state);
    // Channels and re-registered agents are live before the server answers the first
    // request (connections made meanwhile wait in the accept queue), so no request ever
    // sees a configured channel as unknown. All of this is in-memory work: transports
    // start their own threads for anything slow.
    start_channels(&state)?;
    crate::backend::programmatic::boot::start(&state.programmatic, &state.channels);
    let svc = state.programmatic.clone();
    *state.health.programmatic_agents.write() = Some(Arc::new(move || svc.health_rows()));
    let http = HttpServer::start(
        server,
        crate::api::handler(state.clone()),
        HTTP_CONCURRENT,
        state.config.max_body_bytes,
        crate::http::cors::CorsOrigins::from_list(&state.config.cors_origins),
    )?;
    log::info!(
        "parachute-agent: daemon listening on http://127.0.0.1:{}",
        state.config.port
    );
    log::info!("state dir: {}", state_dir.display());

    register_service(&state);
    let (stop_sweep, sweep_stop_rx) = crossbeam_channel::bounded::<()>(1);
    let sweeper = state.attached.spawn_sweeper(
        state.config.attached.sweep_interval,
        state.config.attached.claim_ttl_ms,
        sweep_stop_rx,
    );
    crate::agents::defs::boot::start(state.def_vaults.clone());
    let (stop_jobs, jobs_stop_rx) = crossbeam_channel::bounded::<()>(1);
    let scheduler = state.jobs.spawn_scheduler(
        state.config.jobs.tick,
        state.config.poll_backoff,
        jobs_stop_rx,
    );
    state.health.starting.store(false, Ordering::Relaxed);

    let mut supervisor = crate::supervision::announce_ready(&state);

    let signal = wait_for_stop(&mut signals, &state, &supervisor);
    log::info!("received signal {signal}, shutting down");
    supervisor.drain(&state);
    drop(stop_sweep);
    drop(stop_jobs);
    if let Ok(h) = scheduler {
        let _ = h.join();
    }
    if let Ok(h) = sweeper {
        let _ = h.join();
    }
    state.terminal.operator.stop_all();
    state.programmatic.shutdown();
    state.channels.stop_all();
    http.shutdown();
    log::info!("stopped");
    Ok(())
}

/// Blocks until SIGTERM or SIGINT (returned); each SIGHUP meanwhile starts a reload on a
/// thread of its own (`reload.rs`), so a stop is never held up by one.
fn wait_for_stop(
    signals: &mut Signals,
    state: &Arc<AppState>,
    supervisor: &crate::supervision::Supervisor,
) -> i32 {
    for signal in signals.forever() {
        if signal != SIGHUP {
            return signal;
        }
        let (st, notifier) = (state.clone(), supervisor.notifier());
        let spawned = std::thread::Builder::new()
            .name("reload".into())
            .spawn(move || crate::reload::reload(&st, &notifier));
        if let Err(e) = spawned {
            log::error!("SIGHUP: cannot start the reload thread ({e}); nothing reloaded");
        }
    }
    SIGTERM
}

/// Large buffers (request bodies, big messages) go straight to `mmap` and back to the
/// kernel when freed. glibc otherwise raises its mmap threshold after the first big free
/// (up to 32 MiB), so 5 MiB bodies land in per-thread arenas that keep the memory: 60 such
/// sends left ~530 MiB resident although the daemon held 4 MiB of them.
/// Setting the threshold explicitly turns the dynamic adjustment off.
fn process_setup() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any worker thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Builds every subsystem and wires them: the routing fork's routes (attached, then
/// programmatic) and fan-out sinks (`/events`, MCP), the definition registry's two agent
/// sinks (programmatic, then attached), the vault channel's dedup and delivery marks, the
/// `/health` hook of MCP sessions.
pub fn build(config: Config, durable: Durable) -> AppState {
    let auth = Auth::new(
        config.state_dir.clone(),
        config.parachute_home.clone(),
        &config.auth,
    );
    let channels = ChannelRegistry::new();
    let events = SseHub::new("events", config.sse_keepalive);
    channels.add_sink(events.clone());
    let attached = Arc::new(AttachedRegistry::new());
    channels.add_route(attached.clone());
    let mcp = McpService::new(
        McpSessionStore::with_max(
            Some(config.state_dir.clone()),
            config.mcp.session_idle,
            config.mcp.sessions_max,
        ),
        channels.clone(),
        attached.clone(),
        config.sse_keepalive,
        NotifyNamespace::from_legacy_flag(config.mcp.channel_namespace),
    );
    channels.add_sink(mcp.clone());
    let health = HealthHooks::default();
    let sessions = mcp.clone();
    *health.mcp_sessions.write() = Some(Arc::new(move |ch: &str| {
        sessions.sessions.maybe_reap();
        sessions.sessions.count_for_channel(ch)
    }));
    // The inbound journal also keeps the Telegram offsets and the vault dedup keys.
    let (lifecycle, journal) = (durable.lifecycle.clone(), durable.journal.clone());
    let seen_store = journal
        .clone()
        .map(|j| j as Arc<dyn crate::channels::vault::seen::SeenStore>);
    let vault = crate::channels::vault::VaultService::new(
        &config.state_dir,
        &crate::util::time::now_iso(),
        seen_store,
    );
    vault.install(&channels);
    let deps = factory::TransportDeps::from_config(&config).with_delivery(vault.delivery.clone());
    let agent_defs = crate::agents::defs::live::new_registry(channels.clone(), deps.clone());
    let def_vaults = DefVaults {
        registry: agent_defs.clone(),
        state_dir: config.state_dir.clone(),
        parachute_home: config.parachute_home.clone(),
        hub: HubOrigin::new(
            config.auth.hub_origin.clone(),
            config.parachute_home.clone(),
        ),
        poll_interval: config.def_poll_interval,
        poll_backoff: config.poll_backoff,
    };
    let turn_events = SseHub::new("turn-events", config.sse_keepalive);
    // Turns go through the sandbox; it refuses them until the boot preflight installs
    // the bubblewrap launcher (spec 04 §5, §6).
    let sandbox = Sandbox::new();
    let credentials = Arc::new(crate::credentials::CredentialStore::new(&config.state_dir));
    if let Some(j) = &journal {
        channels.set_offset_store(j.clone());
    }
    let programmatic = crate::backend::programmatic::boot::build(
        &config,
        channels.clone(),
        &auth.hub_origin(),
        turn_events.clone(),
        turn_launcher(&sandbox, &config.test),
        credentials.clone(),
        durable,
    );
    channels.add_route(programmatic.clone());
    agent_defs.add_sink(programmatic.clone());
    agent_defs.add_sink(AttachedSink::new(attached.clone(), channels.clone()));
    let tickets = crate::security::TicketStore::new(config.sse_ticket_ttl);
    let step_up = crate::security::StepUpStore::new(&config.state_dir, config.step_up_ttl);
    let jobs = crate::jobs::JobService::new(channels.clone(), config.test.job_clock_offset_ms);
    let webui = crate::webui::WebUi::new(config.static_dir.clone(), config.state_dir.clone());
    let terminal =
        crate::terminal::TerminalService::new(config.terminal_stall, config.host.path.clone());
    AppState {
        channel_file: crate::channels::file::ChannelFile::new(&config.state_dir, deps),
        webui,
        lifecycle,
        journal,
        terminal,
        jobs,
        tickets,
        step_up,
        credentials,
        config,
        auth: Arc::new(auth),
        channels,
        events,
        health,
        sandbox,
        attached,
        mcp,
        vault,
        agent_defs,
        def_vaults,
        programmatic,
        turn_events,
    }
}

/// The launcher every programmatic turn goes through: the bubblewrap sandbox. Debug builds
/// have one escape hatch for tests on hosts where bwrap cannot run (`cargo test` must pass
/// on a bare machine): with `PARACHUTE_AGENT_TEST_HOOKS=1` and
/// `PARACHUTE_AGENT_TEST_UNSANDBOXED=1` (`Config::test.unsandboxed`), turns run
/// unsandboxed. Release builds have no such switch; CI runs the same tests sandboxed.
fn turn_launcher(sandbox: &Sandbox, test: &crate::config::TestHooks) -> Arc<dyn Launcher> {
    if test.unsandboxed {
        log::warn!("TEST BUILD: programmatic turns run WITHOUT the sandbox (PARACHUTE_AGENT_TEST_UNSANDBOXED=1)");
        return Arc::new(DirectLauncher);
    }
    sandbox.launcher()
}

/// The boot preflight spawns probes, so it runs on a thread of its own while requests are
/// answered: until it is done `/health.dependencies` says `checking` and turns wait for its
/// verdict (they never run unsandboxed).
fn start_preflight(state: &Arc<AppState>) {
    state.sandbox.mark_pending();
    *state.health.dependencies.write() = Some(crate::sandbox::boot::Dependencies::checking());
    let run = |st: &AppState| {
        let deps = crate::sandbox::boot::boot(&st.sandbox, &st.config, st.auth.hub_origin());
        *st.health.dependencies.write() = Some(deps);
    };
    let st = state.clone();
    let spawned = std::thread::Builder::new()
        .name("preflight".into())
        .spawn(move || run(&st));
    if let Err(e) = spawned {
        log::warn!("sandbox: cannot start the preflight thread ({e}); running it inline");
        run(state);
    }
}

fn register_service(state: &AppState) {
    let path = crate::services::manifest_path(&state.config.parachute_home);
    let row = crate::services::our_row(
        state.config.port,
        &state.config.install_dir,
        crate::services::Served {
            terminal: state.terminal.advertised(),
            ..crate::services::Served::this_build()
        },
    );
    match crate::services::register(&path, row) {
        Ok(()) => log::info!("registered in {}", path.display()),
        Err(e) => log::warn!("services.json not updated: {e}"),
    }
}

/// Builds every `channels.json` entry (any failure is fatal, spec 01 §6.4 step 4) and
/// starts it.
fn start_channels(state: &AppState) -> Result<(), String> {
    if state.channel_file.start(&state.channels)? == 0 {
        log::warn!(
            "no channels configured ({}/channels.json): starting idle",
            state.config.state_dir.display()
        );
    }
    Ok(())
}

//! The `serve` boot sequence and shutdown (spec 01 §6.4, §6.7): state dir, `.env`,
//! `channels.json`, shared state, bind, self-registration, channel start, subsystem
//! threads, then wait for SIGTERM/SIGINT and stop in order (in-flight requests finish).

use std::sync::Arc;

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::channels::{factory, store};
use crate::config::{self, Config};
use crate::http::HttpServer;
use crate::state::AppState;
use crate::util::fsx;

/// Request worker threads. Streams run on threads of their own, so this only bounds
/// concurrent ordinary requests.
const HTTP_WORKERS: usize = 16;

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
    let entries = store::load(&state_dir.join(store::FILE))?;
    // Signals are installed before anything starts, so an early SIGTERM is not lost.
    let mut signals = Signals::new([SIGTERM, SIGINT])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;

    // Bound before the state is built: with `--port 0` the kernel picks the port, and
    // everything that names our port (services.json, trigger and discovery URLs) must see
    // the real one.
    let server = HttpServer::bind(config.port, &config.http, config.max_body_bytes)?;
    if let Some(addr) = server.server_addr().to_ip() {
        config.port = addr.port();
    }
    let state = Arc::new(AppState::new(config));
    crate::sandbox::boot::boot(&state);
    let http = HttpServer::start(
        server,
        crate::api::handler(state.clone()),
        HTTP_WORKERS,
        state.config.max_body_bytes,
    );
    log::info!(
        "parachute-agent: daemon listening on http://127.0.0.1:{}",
        state.config.port
    );
    log::info!("state dir: {}", state_dir.display());

    register_service(&state);
    start_channels(&state, entries.unwrap_or_default())?;
    let (stop_sweep, sweep_stop_rx) = crossbeam_channel::bounded::<()>(1);
    let sweeper = state.attached.spawn_sweeper(
        state.config.attached.sweep_interval,
        state.config.attached.claim_ttl_ms,
        sweep_stop_rx,
    );
    state
        .agent_defs
        .add_sink(crate::backend::attached::sink::AttachedSink::new(
            state.attached.clone(),
            state.channels.clone(),
        ));
    crate::backend::programmatic::boot::start(&state);
    crate::agents::def_boot::start(state.clone());
    let (stop_jobs, jobs_stop_rx) = crossbeam_channel::bounded::<()>(1);
    let scheduler = state
        .jobs
        .spawn_scheduler(state.config.jobs.tick, jobs_stop_rx);

    let signal = signals.forever().next();
    log::info!(
        "received signal {}, shutting down",
        signal.unwrap_or_default()
    );
    drop(stop_sweep);
    drop(stop_jobs);
    if let Ok(h) = scheduler {
        let _ = h.join();
    }
    if let Ok(h) = sweeper {
        let _ = h.join();
    }
    state.programmatic.shutdown();
    state.channels.stop_all();
    http.shutdown();
    log::info!("stopped");
    Ok(())
}

fn register_service(state: &AppState) {
    let path = crate::services::manifest_path(&state.config.parachute_home);
    let row = crate::services::our_row(
        state.config.port,
        &state.config.install_dir,
        crate::services::Served::this_build(),
    );
    match crate::services::register(&path, row) {
        Ok(()) => log::info!("registered in {}", path.display()),
        Err(e) => log::warn!("services.json not updated: {e}"),
    }
}

/// Builds every `channels.json` entry (any failure is fatal, spec 01 §6.4 step 4) and
/// starts it.
fn start_channels(state: &AppState, entries: Vec<store::ChannelEntry>) -> Result<(), String> {
    if entries.is_empty() {
        log::warn!(
            "no channels configured ({}/channels.json): starting idle",
            state.config.state_dir.display()
        );
        return Ok(());
    }
    let deps = factory::TransportDeps::from_config(&state.config);
    let mut summary = Vec::new();
    for entry in entries {
        let transport = factory::build(&entry, &deps).map_err(|e| e.to_string())?;
        summary.push(format!("{}→{}", entry.name, entry.transport));
        let name = entry.name.clone();
        if let Err(e) = state.channels.insert(entry, transport) {
            log::error!("channel {name} failed to start: {e}");
        }
    }
    log::info!("{} channel(s): {}", summary.len(), summary.join(", "));
    Ok(())
}

//! Building the programmatic backend at daemon start (spec 03 §4.2): the `claude` binary
//! (PATH lookup, its real path), the operator token and hub origin for the mint client,
//! the daemon-wide vault URL, the turn timeout (`Config::turn_timeout`, spec 08) and the
//! retry delays (`Config::turns`, a test knob not in the reference).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::daemon_host::DaemonHost;
use super::hub::TurnEventSink;
use super::registry::ProgrammaticRegistry;
use super::runner::RunLimits;
use super::service::ProgrammaticService;
use super::turn::{default_retry_delays, EngineConfig};
use super::worker::WorkerCtx;
use crate::channels::ChannelRegistry;
use crate::config::Config;
use crate::credentials::CredentialStore;
use crate::mint::{read_operator_token, MintClient};
use crate::sandbox::exposure::ProtectedPaths;
use crate::sandbox::launch::Launcher;

/// First executable `name` on `path`, canonicalised.
pub fn which(name: &str, path: Option<&str>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    path?.split(':').filter(|d| !d.is_empty()).find_map(|d| {
        let p = Path::new(d).join(name);
        let meta = std::fs::metadata(&p).ok()?;
        (meta.is_file() && meta.permissions().mode() & 0o111 != 0)
            .then(|| p.canonicalize().unwrap_or(p))
    })
}

/// The backend, ready to register agents. `launcher` is the sandbox seam.
pub fn build(
    config: &Config,
    channels: Arc<ChannelRegistry>,
    hub_origin: &str,
    events: Arc<dyn TurnEventSink>,
    launcher: Arc<dyn Launcher>,
    credentials: Arc<CredentialStore>,
    durable: super::durable::Durable,
) -> Arc<ProgrammaticService> {
    let daemon_env = crate::config::process_env();
    let path_var = daemon_env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    let claude_bin: OsString = match which("claude", path_var) {
        Some(p) => p.into(),
        None => {
            log::warn!("claude not found on PATH: turns will fail until it is installed");
            "claude".into()
        }
    };
    let operator = read_operator_token(&config.parachute_home);
    let grants = operator
        .as_deref()
        .map(|tok| crate::grants::GrantsClient::new(hub_origin, tok));
    let mint = match operator {
        Some(tok) => Some(MintClient::new(hub_origin, &tok)),
        None => {
            log::warn!(
                "no operator token in {}: vault-bound programmatic agents cannot mint tokens",
                config.parachute_home.display()
            );
            None
        }
    };
    let sessions_dir = config.state_dir.join("sessions");
    let host = DaemonHost {
        channels,
        credentials,
        mint,
        grants,
        vault_url: config.vault_url.trim_end_matches('/').to_string(),
    };
    let engine = EngineConfig {
        claude_bin,
        sessions_dir: sessions_dir.clone(),
        daemon_env,
        limits: RunLimits {
            timeout: config.turn_timeout,
            kill_grace: Duration::from_secs(5),
        },
        retry_delays: config
            .turns
            .retry_delays
            .clone()
            .unwrap_or_else(default_retry_delays),
        launcher,
    };
    let registry = ProgrammaticRegistry::new(WorkerCtx {
        engine,
        host: Arc::new(host),
        hub: events,
        durable,
    });
    let protected = ProtectedPaths::new(
        &config.state_dir,
        Some(&config.parachute_home),
        config.host.home.as_deref(),
    );
    ProgrammaticService::new(registry, sessions_dir, protected)
}

/// After the channels started: re-register persisted agents whose wake channel is live
/// (spec 03 §3 "Boot re-register").
pub fn start(programmatic: &ProgrammaticService, channels: &ChannelRegistry) {
    let n = programmatic.reregister_at_boot(&|ch| channels.get(ch).is_some());
    if n > 0 {
        log::info!("re-registered {n} programmatic agent(s)");
    }
}

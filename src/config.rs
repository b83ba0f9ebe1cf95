//! Daemon configuration in two stages (spec 01 §6.1, spec 08): [`RawConfig`] collects what
//! the command line said, [`Config::resolve`] combines it with the environment and the
//! defaults into one validated value. Precedence for every knob: flag > env > default.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// Flags given to `serve` (or to `token …`, which honours `--state-dir`).
#[derive(Debug, Default, Clone)]
pub struct RawConfig {
    pub port: Option<u16>,
    pub state_dir: Option<PathBuf>,
    pub turn_timeout_secs: Option<u64>,
    pub max_body_bytes: Option<u64>,
    pub static_dir: Option<PathBuf>,
}

/// The validated configuration of one daemon run.
#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub state_dir: PathBuf,
    /// `$PARACHUTE_HOME` or `~/.parachute`: operator.token, expose-state.json, services.json.
    pub parachute_home: PathBuf,
    /// The daemon user's home (`$HOME`, `/` when unset): agents may never bind it or a
    /// parent of it (the sandbox's protected-path rule).
    pub home: PathBuf,
    pub turn_timeout: Duration,
    pub max_body_bytes: u64,
    pub sse_ticket_ttl: Duration,
    pub step_up_ttl: Duration,
    pub sse_keepalive: Duration,
    pub sweep_interval: Duration,
    pub def_poll_interval: Duration,
    /// Where `static/` lives (next to the binary's install dir, or the source tree).
    pub install_dir: PathBuf,
    /// Development override of the web UI (`--static-dir`, env `PARACHUTE_AGENT_STATIC_DIR`;
    /// default none): serve `<dir>/app/…` from disk on every request instead of the files
    /// built into the binary, so edits show on reload without a rebuild.
    pub static_dir: Option<PathBuf>,
    /// `PARACHUTE_AGENT_METRICS_OPEN` (`1`/`true`, default off): `GET /metrics` without a
    /// token for direct loopback clients (a request forwarded by a proxy still needs
    /// `agent:read`).
    pub metrics_open: bool,
}

/// An error in the configuration: the message is shown to the operator as is.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub const DEFAULT_PORT: u16 = 1941;

/// Reads one environment variable; an empty value counts as unset.
pub fn env_nonempty(key: &str) -> Option<String> {
    std::env::var(key).ok().filter(|v| !v.is_empty())
}

/// `PARACHUTE_AGENT_<key>` with fallback to the legacy `PARACHUTE_CHANNEL_<key>`.
pub fn env_alias(key: &str) -> Option<String> {
    env_nonempty(&format!("PARACHUTE_AGENT_{key}"))
        .or_else(|| env_nonempty(&format!("PARACHUTE_CHANNEL_{key}")))
}

/// Leading decimal integer of `s` (JavaScript `parseInt` style); 0 counts as absent.
fn leading_port(s: &str) -> Option<u16> {
    let digits: String = s
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse::<u16>().ok().filter(|p| *p != 0)
}

/// `PORT` > `PARACHUTE_AGENT_PORT` > `PARACHUTE_CHANNEL_PORT` > 1941 (spec 01 §6.1).
pub fn port_from_env() -> u16 {
    ["PORT", "PARACHUTE_AGENT_PORT", "PARACHUTE_CHANNEL_PORT"]
        .iter()
        .find_map(|k| env_nonempty(k).and_then(|v| leading_port(&v)))
        .unwrap_or(DEFAULT_PORT)
}

pub fn home_dir() -> PathBuf {
    env_nonempty("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

/// `$PARACHUTE_HOME`, else `~/.parachute`.
pub fn parachute_home() -> PathBuf {
    env_nonempty("PARACHUTE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home_dir().join(".parachute"))
}

/// Explicit env > `~/.parachute/agent` > an existing legacy `~/.parachute/channel`.
pub fn state_dir_from_env() -> PathBuf {
    if let Some(dir) = env_alias("STATE_DIR") {
        return PathBuf::from(dir);
    }
    let base = home_dir().join(".parachute");
    let modern = base.join("agent");
    let legacy = base.join("channel");
    if !modern.exists() && legacy.is_dir() {
        legacy
    } else {
        modern
    }
}

fn env_u64(key: &str) -> Result<Option<u64>, ConfigError> {
    match env_nonempty(key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ConfigError(format!("{key} must be a whole number (got {v:?})"))),
    }
}

/// `RUST_LOG` and `JOURNAL_STREAM`, read before anything logs (spec 08: log level).
pub fn log_settings() -> crate::logging::LogSettings {
    crate::logging::LogSettings {
        rust_log: env_nonempty("RUST_LOG"),
        journal: std::env::var_os("JOURNAL_STREAM").is_some(),
    }
}

/// A boolean knob: `1`, `true`, `yes`, `on` (any case) are on; anything else is off.
fn env_flag(key: &str) -> bool {
    env_nonempty(key).is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// The directory `static/` and `.parachute/module.json` are resolved from: the
/// `PARACHUTE_AGENT_INSTALL_DIR` override, else the first ancestor of the executable
/// that has a `static/` folder, else the executable's directory.
pub fn install_dir() -> PathBuf {
    if let Some(d) = env_nonempty("PARACHUTE_AGENT_INSTALL_DIR") {
        return PathBuf::from(d);
    }
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.canonicalize().ok());
    let start = exe
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    start
        .ancestors()
        .find(|a| a.join("static").is_dir())
        .map(Path::to_path_buf)
        .unwrap_or(start)
}

impl Config {
    pub fn resolve(raw: RawConfig) -> Result<Config, ConfigError> {
        let secs = |v: u64| Duration::from_secs(v);
        let turn_timeout = raw
            .turn_timeout_secs
            .or(env_u64("PARACHUTE_AGENT_TURN_TIMEOUT_SECS")?)
            .unwrap_or(1800);
        if turn_timeout == 0 {
            return Err(ConfigError("turn timeout must be at least 1 second".into()));
        }
        let max_body_bytes = raw
            .max_body_bytes
            .or(env_u64("PARACHUTE_AGENT_MAX_BODY_BYTES")?)
            .unwrap_or(10 * 1024 * 1024);
        // These two may only shorten (spec 08): clamp to the reference's lifetimes.
        let ticket_ttl = env_u64("PARACHUTE_AGENT_SSE_TICKET_TTL_SECS")?
            .unwrap_or(60)
            .clamp(1, 60);
        let step_up_ttl = env_u64("PARACHUTE_AGENT_STEP_UP_TTL_SECS")?
            .unwrap_or(300)
            .clamp(1, 300);
        let keepalive = env_u64("PARACHUTE_AGENT_SSE_KEEPALIVE_SECS")?
            .unwrap_or(25)
            .max(1);
        let sweep_ms = env_u64("PARACHUTE_AGENT_SWEEP_MS")?
            .unwrap_or(30_000)
            .max(10);
        // spec 02 §4.4: a missing, invalid or zero value means 60 s (never a boot failure).
        let poll_ms = env_nonempty("PARACHUTE_AGENT_DEF_POLL_MS")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|v| *v > 0)
            .unwrap_or(60_000)
            .max(10);
        Ok(Config {
            port: raw.port.unwrap_or_else(port_from_env),
            state_dir: raw.state_dir.unwrap_or_else(state_dir_from_env),
            parachute_home: parachute_home(),
            home: home_dir(),
            turn_timeout: secs(turn_timeout),
            max_body_bytes,
            sse_ticket_ttl: secs(ticket_ttl),
            step_up_ttl: secs(step_up_ttl),
            sse_keepalive: secs(keepalive),
            sweep_interval: Duration::from_millis(sweep_ms),
            def_poll_interval: Duration::from_millis(poll_ms),
            install_dir: install_dir(),
            static_dir: raw
                .static_dir
                .or_else(|| env_nonempty("PARACHUTE_AGENT_STATIC_DIR").map(PathBuf::from)),
            metrics_open: env_flag("PARACHUTE_AGENT_METRICS_OPEN"),
        })
    }
}

/// Loads `<state>/.env` (spec 01 §6.2): chmod 0600; each `KEY=VALUE` line sets the
/// variable only if it is not already set; values verbatim. Returns how many were set.
pub fn load_dotenv(state_dir: &Path) -> usize {
    use std::os::unix::fs::PermissionsExt;
    let path = state_dir.join(".env");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return 0;
    };
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    let mut set = 0;
    for line in text.lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let valid = !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if valid && std::env::var_os(key).is_none() {
            std::env::set_var(key, value);
            set += 1;
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::leading_port;

    #[test]
    fn port_parsing_is_parse_int_like() {
        assert_eq!(leading_port("8080"), Some(8080));
        assert_eq!(leading_port("8080abc"), Some(8080));
        assert_eq!(leading_port("abc"), None);
        assert_eq!(leading_port("0"), None);
        assert_eq!(leading_port(""), None);
    }
}

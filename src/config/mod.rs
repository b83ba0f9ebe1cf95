//! Daemon configuration in two stages (spec 01 §6.1, spec 08): [`RawConfig`] collects what
//! the command line said, [`Config::resolve`] combines it with the environment and the
//! defaults into one validated value. Precedence for every knob: flag > env > default.
//!
//! This is the one place that reads the environment (with `cli.rs`, which reads only
//! `JOURNAL_STREAM` for the log format). Every knob is a documented field: what it does,
//! the env name, the default, the clamp. The top-level fields are fixed before
//! `<state>/.env` is loaded; the subsystem sub-structs ([`TelegramConfig`], [`AuthConfig`],
//! [`AttachedConfig`], [`McpConfig`], [`JobsConfig`], [`TurnConfig`], [`HostConfig`],
//! [`TestHooks`]) are read again by [`Config::reload_subsystems`] once `.env` is loaded, so
//! `.env` can set them (spec 01 §6.2). Subsystem knobs never fail the boot: a value that
//! does not parse means the default.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::http::limits::HttpLimits;

mod dotenv;

pub use dotenv::{load_dotenv, reload_dotenv};
use dotenv::{var, var_os};

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
    pub turn_timeout: Duration,
    pub max_body_bytes: u64,
    pub sse_ticket_ttl: Duration,
    pub step_up_ttl: Duration,
    pub sse_keepalive: Duration,
    /// [ext] How often an open stream re-validates the token that opened it (expiry,
    /// revocation, key rotation): `PARACHUTE_AGENT_SSE_AUTH_CHECK_SECS`, default 2, at
    /// least 1.
    pub sse_auth_check: Duration,
    pub def_poll_interval: Duration,
    /// Terminal (spec 06 §2.6): how long a client whose output queue is full (16 MiB) may
    /// accept nothing before it is closed 1013. `PARACHUTE_AGENT_TERMINAL_STALL_SECS`,
    /// default 10, clamped to 1..=600.
    pub terminal_stall: Duration,
    /// Limits of the HTTP front door (connections, heads, bodies, timeouts).
    pub http: HttpLimits,
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
    /// Back-off of the def-vault and job polls while they keep failing (spec 06 §6):
    /// `PARACHUTE_AGENT_BACKOFF_BASE_MS` (default 60 000, at least 10) and
    /// `PARACHUTE_AGENT_BACKOFF_CAP_MS` (default 1 800 000, at least the base); ±20 % jitter.
    pub poll_backoff: crate::util::backoff::BackoffPolicy,
    /// Origins allowed to read responses (CORS, spec 01 §10): `PARACHUTE_AGENT_CORS_ORIGINS`,
    /// comma-separated, trimmed, one trailing `/` dropped, empties ignored; empty or `*`
    /// (the default, as upstream) = any origin.
    pub cors_origins: Vec<String>,
    /// The daemon-wide vault URL as given: `PARACHUTE_VAULT_URL`, default
    /// `http://127.0.0.1:1940` (spec 02 §1). Turn env and the sandbox's vault origin.
    pub vault_url: String,
    /// [ext] Each http-ui channel's ring of recent messages: at most
    /// `PARACHUTE_AGENT_HTTP_UI_RING_MESSAGES` (default 200, 1..=100 000) and
    /// `PARACHUTE_AGENT_HTTP_UI_RING_BYTES` (default 4 MiB, 1..=1 GiB).
    pub http_ui_ring: RingLimit,
    pub auth: AuthConfig,
    pub telegram: TelegramConfig,
    pub attached: AttachedConfig,
    pub mcp: McpConfig,
    pub jobs: JobsConfig,
    pub turns: TurnConfig,
    pub host: HostConfig,
    pub test: TestHooks,
    /// Inbound journal, graceful stop and systemd knobs (re-read once `.env` is loaded,
    /// and on SIGHUP: see [`RELOADABLE`]).
    pub durability: Durability,
}

/// Hub token validation (spec 01 §3).
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// The hub origin override: `PARACHUTE_HUB_ORIGIN` (trailing `/` stripped by the
    /// resolver). Unset: `expose-state.json`, else `http://127.0.0.1:1939` (spec 01 §3.2).
    pub hub_origin: Option<String>,
    /// Extra accepted token issuers (spec 01 §10): `PARACHUTE_HUB_ORIGINS`, comma-separated,
    /// trimmed, one trailing `/` dropped, empties dropped, deduplicated. The canonical origin
    /// is always accepted; `iss` is checked only after the signature.
    pub hub_origins: Vec<String>,
    /// How long a fetched revocation list is trusted: `PARACHUTE_AGENT_REVOCATION_MAX_AGE_MS`;
    /// unset or unparsable: the validator's default (60 s).
    pub revocation_max_age: Option<Duration>,
    /// Minimum gap between JWKS refetches for an unknown `kid`:
    /// `PARACHUTE_AGENT_JWKS_COOLDOWN_MS`; unset or unparsable: the default (30 s).
    pub jwks_cooldown: Option<Duration>,
    /// [ext] Bound of the verified-token cache: `PARACHUTE_AGENT_TOKEN_CACHE_ENTRIES`,
    /// default 4096, clamped to 1 000 000; 0 disables the cache (every request verifies
    /// the signature); unparsable: the default.
    pub token_cache_entries: usize,
}

/// Default bound of the verified-token cache (about 300 bytes per token).
pub const TOKEN_CACHE_DEFAULT_ENTRIES: usize = 4096;
/// Upper clamp of `PARACHUTE_AGENT_TOKEN_CACHE_ENTRIES`.
pub const TOKEN_CACHE_MAX_ENTRIES: usize = 1_000_000;

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            hub_origin: None,
            hub_origins: Vec::new(),
            revocation_max_age: None,
            jwks_cooldown: None,
            token_cache_entries: TOKEN_CACHE_DEFAULT_ENTRIES,
        }
    }
}

/// Telegram channels (spec 05 §6); read when a telegram channel is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TelegramConfig {
    /// Bot API base URL: `PARACHUTE_AGENT_TELEGRAM_API` (blank = unset), default
    /// `https://api.telegram.org`; one trailing `/` is dropped. Tests point it at a fake.
    pub api_base: String,
    /// Long-poll `timeout` of `getUpdates` in seconds: `PARACHUTE_AGENT_TELEGRAM_POLL_SECS`,
    /// default 30, clamped to 1..=50.
    pub poll_secs: u64,
    /// Back-off after a failed poll: `PARACHUTE_AGENT_TELEGRAM_RETRY_MS`, default 5 000 ms.
    pub retry: Duration,
    /// Back-off after a 409 (another poller holds the bot):
    /// `PARACHUTE_AGENT_TELEGRAM_CONFLICT_MS`, default 60 000 ms.
    pub conflict: Duration,
}

/// The attached backend's durable queue (spec 03 §6).
#[derive(Debug, Clone, Default)]
pub struct AttachedConfig {
    /// How often expired claims return to pending: `PARACHUTE_AGENT_SWEEP_MS`, default
    /// 30 000 ms, at least 10 ms.
    pub sweep_interval: Duration,
    /// [ext] Claim lifetime in ms: `PARACHUTE_AGENT_CLAIM_TTL_MS`, default 15 min.
    pub claim_ttl_ms: u64,
}

/// The Streamable-HTTP MCP endpoint (spec 05 §1).
#[derive(Debug, Clone, Default)]
pub struct McpConfig {
    /// Idle lifetime of a session: `PARACHUTE_AGENT_MCP_SESSION_IDLE_SECS`, default 24 h,
    /// at least 1 s.
    pub session_idle: Duration,
    /// [ext] `PARACHUTE_AGENT_NOTIFY_NAMESPACE=channel` switches push notifications back to
    /// the former `notifications/claude/channel*` names (default: `…/agent*`, spec 05 §1.7).
    pub channel_namespace: bool,
    /// [ext] Cap on live sessions: `PARACHUTE_AGENT_MCP_SESSIONS_MAX`, default 1000,
    /// 1..=1 000 000; a new session beyond it evicts the least recently used one.
    pub sessions_max: usize,
}

/// Scheduled jobs (spec 06 §1).
#[derive(Debug, Clone, Default)]
pub struct JobsConfig {
    /// The scheduler tick: `PARACHUTE_AGENT_JOB_TICK_MS`, default 30 000 ms (spec 06 §1.8),
    /// at least 10 ms.
    pub tick: Duration,
}

/// Programmatic turns (spec 03 §8).
#[derive(Debug, Clone, Default)]
pub struct TurnConfig {
    /// Test knob (not in the reference): delays before attempts 2 and 3 of a transient
    /// failure, `PARACHUTE_AGENT_TURN_RETRY_DELAYS_MS` as comma-separated ms; unset or
    /// unparsable: the engine's default `2000,5000`.
    pub retry_delays: Option<Vec<Duration>>,
}

/// What the daemon inherits from its host environment for the turn sandbox (spec 04).
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// `HOME` (empty = unset): the daemon's home, hidden inside the sandbox.
    pub home: Option<PathBuf>,
    /// `PARACHUTE_HOME` (empty = unset), else `$HOME/.parachute`; `None` without either.
    pub parachute_home: Option<PathBuf>,
    /// `PATH`: where the boot preflight looks for `bwrap` and `claude`.
    pub path: Option<std::ffi::OsString>,
}

/// Test hooks, documented and deliberate: all off in release builds.
#[derive(Debug, Clone, Default)]
pub struct TestHooks {
    /// Debug builds with `PARACHUTE_AGENT_TEST_HOOKS=1`: the `/__test/*` routes and the
    /// switches below.
    pub enabled: bool,
    /// With hooks on, `PARACHUTE_AGENT_TEST_UNSANDBOXED=1` runs turns without bubblewrap
    /// (for `cargo test` on hosts where bwrap cannot run).
    pub unsandboxed: bool,
    /// With hooks on, the job runner's initial clock offset:
    /// `PARACHUTE_AGENT_TEST_JOB_CLOCK_OFFSET_MS`, default 0.
    pub job_clock_offset_ms: i64,
}

/// The `.env` / environment knobs a SIGHUP applies to the running daemon (`reload.rs`):
/// the journal's attempt and age limits and the stop grace take effect at once; the
/// Telegram knobs restart the telegram channels with them. Every other knob is read at
/// boot only (a reload that finds one changed says so in the log).
pub const RELOADABLE: [&str; 7] = [
    "PARACHUTE_AGENT_JOURNAL_MAX_ATTEMPTS",
    "PARACHUTE_AGENT_JOURNAL_MAX_AGE_SECS",
    "PARACHUTE_AGENT_STOP_GRACE_SECS",
    "PARACHUTE_AGENT_TELEGRAM_API",
    "PARACHUTE_AGENT_TELEGRAM_POLL_SECS",
    "PARACHUTE_AGENT_TELEGRAM_RETRY_MS",
    "PARACHUTE_AGENT_TELEGRAM_CONFLICT_MS",
];

/// The knobs of the inbound journal, the graceful stop and the systemd integration.
#[derive(Debug, Clone, PartialEq)]
pub struct Durability {
    /// `PARACHUTE_AGENT_JOURNAL_MAX_ATTEMPTS` (default 3, clamped to 1..=100): turns a
    /// journaled message may start; a message whose attempts all died with the daemon is
    /// then failed visibly.
    pub max_attempts: u32,
    /// `PARACHUTE_AGENT_JOURNAL_MAX_AGE_SECS` (default 86400, at least 1): a replayed
    /// message accepted longer ago is failed visibly instead of run.
    pub max_age: Duration,
    /// `PARACHUTE_AGENT_JOURNAL_COMPACT_BYTES` (default 1048576, at least 4096): the
    /// journal file is never compacted below this size.
    pub compact_bytes: u64,
    /// `PARACHUTE_AGENT_STOP_GRACE_SECS` (default 20, at most 3600): how long running
    /// turns may finish after SIGTERM/SIGINT before they are stopped.
    pub stop_grace: Duration,
    /// `$NOTIFY_SOCKET` (set by systemd for `Type=notify`).
    pub notify_socket: Option<String>,
    /// `$WATCHDOG_USEC` (when `$WATCHDOG_PID` is unset or ours): the watchdog interval.
    pub watchdog: Option<Duration>,
}

impl Durability {
    fn from_env() -> Result<Durability, ConfigError> {
        let ours =
            env_nonempty("WATCHDOG_PID").is_none_or(|p| p.trim() == std::process::id().to_string());
        let watchdog = env_u64("WATCHDOG_USEC")
            .ok()
            .flatten()
            .filter(|us| *us > 0 && ours)
            .map(Duration::from_micros);
        Ok(Durability {
            max_attempts: env_u64("PARACHUTE_AGENT_JOURNAL_MAX_ATTEMPTS")?
                .unwrap_or(3)
                .clamp(1, 100) as u32,
            max_age: Duration::from_secs(
                env_u64("PARACHUTE_AGENT_JOURNAL_MAX_AGE_SECS")?
                    .unwrap_or(86_400)
                    .max(1),
            ),
            compact_bytes: env_u64("PARACHUTE_AGENT_JOURNAL_COMPACT_BYTES")?
                .unwrap_or(1024 * 1024)
                .max(4096),
            stop_grace: Duration::from_secs(
                env_u64("PARACHUTE_AGENT_STOP_GRACE_SECS")?
                    .unwrap_or(20)
                    .min(3600),
            ),
            notify_socket: env_nonempty("NOTIFY_SOCKET"),
            watchdog,
        })
    }
}

/// The front door's limits from the environment (each clamped; see [`HttpLimits`]).
fn http_limits(max_body_bytes: u64) -> Result<HttpLimits, ConfigError> {
    let get = |key: &str, default: u64, lo: u64, hi: u64| -> Result<u64, ConfigError> {
        Ok(env_u64(key)?.unwrap_or(default).clamp(lo, hi))
    };
    const MIB: u64 = 1024 * 1024;
    Ok(HttpLimits {
        max_header_bytes: get("PARACHUTE_AGENT_MAX_HEADER_BYTES", 64 * 1024, 1024, MIB)? as usize,
        max_headers: get("PARACHUTE_AGENT_MAX_HEADERS", 100, 8, 10_000)? as usize,
        header_timeout: Duration::from_secs(get(
            "PARACHUTE_AGENT_HEADER_TIMEOUT_SECS",
            10,
            1,
            3600,
        )?),
        body_idle_timeout: Duration::from_secs(get(
            "PARACHUTE_AGENT_BODY_IDLE_TIMEOUT_SECS",
            10,
            1,
            3600,
        )?),
        body_buffer_bytes: get(
            "PARACHUTE_AGENT_BODY_BUFFER_BYTES",
            64 * MIB,
            max_body_bytes,
            u64::MAX,
        )?,
        drain_bytes: get("PARACHUTE_AGENT_DRAIN_BYTES", 64 * 1024, 0, 16 * MIB)? as usize,
        max_connections: env_u64("PARACHUTE_AGENT_MAX_CONNECTIONS")?
            .map(|n| n.clamp(1, 1 << 20) as usize),
    })
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
    var(key).filter(|v| !v.is_empty())
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

/// A comma-separated origin list: trimmed, one trailing `/` dropped, empties ignored,
/// duplicates removed (first kept).
pub fn origin_list(spec: Option<&str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for o in spec.unwrap_or("").split(',') {
        let o = o.trim();
        let o = o.strip_suffix('/').unwrap_or(o);
        if !o.is_empty() && !out.iter().any(|x| x == o) {
            out.push(o.to_string());
        }
    }
    out
}

fn backoff_from_env() -> crate::util::backoff::BackoffPolicy {
    let ms = |k: &str| {
        env_nonempty(k)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
    };
    let d = crate::util::backoff::BackoffPolicy::default();
    let base = ms("PARACHUTE_AGENT_BACKOFF_BASE_MS")
        .unwrap_or(d.base)
        .max(Duration::from_millis(10));
    let cap = ms("PARACHUTE_AGENT_BACKOFF_CAP_MS")
        .unwrap_or(d.cap)
        .max(base);
    crate::util::backoff::BackoffPolicy { base, cap }
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
        let sse_auth_check = env_u64("PARACHUTE_AGENT_SSE_AUTH_CHECK_SECS")?
            .unwrap_or(2)
            .clamp(1, 3600);
        let keepalive = env_u64("PARACHUTE_AGENT_SSE_KEEPALIVE_SECS")?
            .unwrap_or(25)
            .max(1);
        // spec 02 §4.4: a missing, invalid or zero value means 60 s (never a boot failure).
        let poll_ms = env_nonempty("PARACHUTE_AGENT_DEF_POLL_MS")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|v| *v > 0)
            .unwrap_or(60_000)
            .max(10);
        let terminal_stall = env_u64("PARACHUTE_AGENT_TERMINAL_STALL_SECS")?
            .unwrap_or(10)
            .clamp(1, 600);
        let mut config = Config {
            terminal_stall: secs(terminal_stall),
            port: raw.port.unwrap_or_else(port_from_env),
            state_dir: raw.state_dir.unwrap_or_else(state_dir_from_env),
            parachute_home: parachute_home(),
            turn_timeout: secs(turn_timeout),
            max_body_bytes,
            sse_ticket_ttl: secs(ticket_ttl),
            step_up_ttl: secs(step_up_ttl),
            sse_keepalive: secs(keepalive),
            sse_auth_check: secs(sse_auth_check),
            def_poll_interval: Duration::from_millis(poll_ms),
            http: http_limits(max_body_bytes)?,
            install_dir: install_dir(),
            static_dir: raw
                .static_dir
                .or_else(|| env_nonempty("PARACHUTE_AGENT_STATIC_DIR").map(PathBuf::from)),
            metrics_open: env_flag("PARACHUTE_AGENT_METRICS_OPEN"),
            poll_backoff: backoff_from_env(),
            cors_origins: origin_list(env_nonempty("PARACHUTE_AGENT_CORS_ORIGINS").as_deref()),

            vault_url: String::new(),
            http_ui_ring: RingLimit::default(),
            auth: AuthConfig::default(),
            telegram: TelegramConfig::default(),
            attached: AttachedConfig::default(),
            mcp: McpConfig::default(),
            jobs: JobsConfig::default(),
            turns: TurnConfig::default(),
            host: HostConfig::default(),
            test: TestHooks::default(),
            durability: Durability::from_env()?,
        };
        config.reload_subsystems();
        Ok(config)
    }

    /// Re-reads the subsystem knobs (every field from `vault_url` down), e.g. after
    /// `<state>/.env` set some of them.
    pub fn reload_subsystems(&mut self) {
        self.vault_url = env_nonempty("PARACHUTE_VAULT_URL")
            .unwrap_or_else(|| "http://127.0.0.1:1940".to_string());
        self.auth = AuthConfig {
            hub_origin: env_nonempty("PARACHUTE_HUB_ORIGIN"),
            hub_origins: origin_list(env_nonempty("PARACHUTE_HUB_ORIGINS").as_deref()),
            revocation_max_age: env_ms("PARACHUTE_AGENT_REVOCATION_MAX_AGE_MS"),
            jwks_cooldown: env_ms("PARACHUTE_AGENT_JWKS_COOLDOWN_MS"),
            token_cache_entries: env_lenient("PARACHUTE_AGENT_TOKEN_CACHE_ENTRIES")
                .map_or(TOKEN_CACHE_DEFAULT_ENTRIES, |n: u64| {
                    n.min(TOKEN_CACHE_MAX_ENTRIES as u64) as usize
                }),
        };
        self.http_ui_ring = ring_from_env();
        self.telegram = TelegramConfig::from_env();
        self.attached = AttachedConfig::from_env();
        self.mcp = McpConfig::from_env();
        self.jobs = JobsConfig::from_env();
        self.turns = TurnConfig {
            retry_delays: env_nonempty("PARACHUTE_AGENT_TURN_RETRY_DELAYS_MS").and_then(|v| {
                v.split(',')
                    .map(|s| s.trim().parse::<u64>().ok().map(Duration::from_millis))
                    .collect()
            }),
        };
        self.host = HostConfig::from_env();
        self.test = TestHooks::from_env();
        match Durability::from_env() {
            Ok(d) => self.durability = d,
            Err(e) => log::warn!("{e}: keeping the journal and stop knobs as they were"),
        }
    }
}

/// A lenient whole number: unset, empty or unparsable (after trimming) is `None`.
fn env_lenient<T: std::str::FromStr>(key: &str) -> Option<T> {
    var(key)?.trim().parse().ok()
}

/// Milliseconds, untrimmed (as the auth caches always parsed them).
fn env_ms(key: &str) -> Option<Duration> {
    env_nonempty(key)
        .and_then(|v| v.parse().ok())
        .map(Duration::from_millis)
}

impl TelegramConfig {
    fn from_env() -> TelegramConfig {
        let ms = |k: &str, d: u64| Duration::from_millis(env_lenient(k).unwrap_or(d));
        TelegramConfig {
            api_base: var("PARACHUTE_AGENT_TELEGRAM_API")
                .filter(|s| !s.trim().is_empty())
                .unwrap_or_else(|| "https://api.telegram.org".to_string()),
            poll_secs: env_lenient("PARACHUTE_AGENT_TELEGRAM_POLL_SECS")
                .unwrap_or(30)
                .clamp(1, 50),
            retry: ms("PARACHUTE_AGENT_TELEGRAM_RETRY_MS", 5_000),
            conflict: ms("PARACHUTE_AGENT_TELEGRAM_CONFLICT_MS", 60_000),
        }
    }
}

impl AttachedConfig {
    fn from_env() -> AttachedConfig {
        let sweep: u64 = env_lenient("PARACHUTE_AGENT_SWEEP_MS").unwrap_or(30_000);
        AttachedConfig {
            sweep_interval: Duration::from_millis(sweep.max(10)),
            claim_ttl_ms: env_lenient("PARACHUTE_AGENT_CLAIM_TTL_MS").unwrap_or(15 * 60 * 1000),
        }
    }
}

impl McpConfig {
    fn from_env() -> McpConfig {
        let idle: u64 = env_lenient("PARACHUTE_AGENT_MCP_SESSION_IDLE_SECS").unwrap_or(24 * 3600);
        McpConfig {
            session_idle: Duration::from_secs(idle.max(1)),
            channel_namespace: var("PARACHUTE_AGENT_NOTIFY_NAMESPACE")
                .is_some_and(|v| v.trim() == "channel"),
            sessions_max: env_lenient("PARACHUTE_AGENT_MCP_SESSIONS_MAX")
                .unwrap_or(crate::mcp::session::DEFAULT_MAX_SESSIONS)
                .clamp(1, 1_000_000),
        }
    }
}

/// Messages an http-ui channel's ring keeps by default.
pub const RING_MESSAGES_DEFAULT: usize = 200;
/// Bytes an http-ui channel's ring keeps by default (texts, ids, senders, file paths).
pub const RING_BYTES_DEFAULT: usize = 4 * 1024 * 1024;

/// How much one http-ui channel's ring of recent messages may hold (`channels::recent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingLimit {
    pub messages: usize,
    pub bytes: usize,
}

impl Default for RingLimit {
    fn default() -> Self {
        RingLimit {
            messages: RING_MESSAGES_DEFAULT,
            bytes: RING_BYTES_DEFAULT,
        }
    }
}

/// The http-ui ring limits from the environment (unparsable values: the default).
fn ring_from_env() -> RingLimit {
    let d = RingLimit::default();
    RingLimit {
        messages: env_lenient("PARACHUTE_AGENT_HTTP_UI_RING_MESSAGES")
            .map_or(d.messages, |v: usize| v.clamp(1, 100_000)),
        bytes: env_lenient("PARACHUTE_AGENT_HTTP_UI_RING_BYTES")
            .map_or(d.bytes, |v: usize| v.clamp(1, 1 << 30)),
    }
}

impl JobsConfig {
    fn from_env() -> JobsConfig {
        JobsConfig {
            tick: env_lenient("PARACHUTE_AGENT_JOB_TICK_MS")
                .map(|ms: u64| Duration::from_millis(ms.max(10)))
                .unwrap_or(Duration::from_secs(30)),
        }
    }
}

impl HostConfig {
    /// The host facts of this process's environment.
    pub fn from_env() -> HostConfig {
        let dir = |k: &str| var_os(k).filter(|h| !h.is_empty()).map(PathBuf::from);
        let home = dir("HOME");
        let parachute_home =
            dir("PARACHUTE_HOME").or_else(|| home.as_ref().map(|h| h.join(".parachute")));
        HostConfig {
            home,
            parachute_home,
            path: var_os("PATH"),
        }
    }
}

impl TestHooks {
    fn from_env() -> TestHooks {
        let flag = |k: &str| var(k).as_deref() == Some("1");
        let enabled = cfg!(debug_assertions) && flag("PARACHUTE_AGENT_TEST_HOOKS");
        TestHooks {
            enabled,
            unsandboxed: enabled && flag("PARACHUTE_AGENT_TEST_UNSANDBOXED"),
            job_clock_offset_ms: if enabled {
                env_lenient("PARACHUTE_AGENT_TEST_JOB_CLOCK_OFFSET_MS").unwrap_or(0)
            } else {
                0
            },
        }
    }
}

/// `parachute-agent bridge` (spec 05 §4.1), a process of its own: its environment only.
#[derive(Debug, Clone)]
pub struct BridgeSettings {
    /// Daemon URL: `PARACHUTE_AGENT_URL` (legacy `PARACHUTE_CHANNEL_URL`); `None` means the
    /// bridge's default `http://127.0.0.1:1941`.
    pub url: Option<String>,
    /// Bearer token: `PARACHUTE_AGENT_TOKEN` (legacy `PARACHUTE_CHANNEL_TOKEN`).
    pub token: Option<String>,
    /// Channel: `PARACHUTE_CHANNEL_NAME` (empty = unset [ext]); `None` means `telegram`.
    pub channel: Option<String>,
    /// [ext] `PARACHUTE_AGENT_NOTIFY_NAMESPACE=channel`: the legacy notification names.
    pub channel_namespace: bool,
    /// Delay before reconnecting after a stream ended: `PARACHUTE_AGENT_BRIDGE_RETRY_MS`,
    /// default 3 000 ms (0 or unparsable = default; see `bridge::events` for the backoff).
    pub retry_base: Duration,
}

impl BridgeSettings {
    pub fn from_env() -> BridgeSettings {
        let first = |names: &[&str]| names.iter().find_map(|n| env_nonempty(n));
        let retry_ms = env_nonempty("PARACHUTE_AGENT_BRIDGE_RETRY_MS")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .unwrap_or(3000);
        BridgeSettings {
            url: first(&["PARACHUTE_AGENT_URL", "PARACHUTE_CHANNEL_URL"]),
            token: first(&["PARACHUTE_AGENT_TOKEN", "PARACHUTE_CHANNEL_TOKEN"]),
            channel: first(&["PARACHUTE_CHANNEL_NAME"]),
            channel_namespace: McpConfig::from_env().channel_namespace,
            retry_base: Duration::from_millis(retry_ms),
        }
    }
}

/// The daemon's own environment: the base every turn's child env is built from (spec 04
/// §2; `backend::programmatic::turn::env` decides what passes). Read once, at engine build.
pub fn process_env() -> Vec<(String, String)> {
    std::env::vars().collect()
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

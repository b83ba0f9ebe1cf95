//! One turn of a programmatic agent (spec 03 §4.1 steps 6–12): write the private files,
//! compose argv and environment, hand the command to the [`Launcher`] (the sandbox seam),
//! run it, classify the outcome, retry transient failures (§4.12: at most 3 attempts,
//! sleeping 2 s then 5 s) and fall back once to a fresh session when a resumed one is
//! missing (§4.13). Credential resolution, token minting and grants happen before this
//! (the caller passes their results), so a missing credential never spawns anything.
//!
//! Beyond the reference (spec 03 §4.14, 08): a wall-clock limit per process; a timed-out
//! turn fails with `turn timed out after <n>s` and is never retried.
//! Deviation from the reference (which re-runs the identical argv): a retried *create*
//! attempt gets a fresh session id, because `claude` may have written the failed
//! attempt's transcript and then refuses the same `--session-id` as "already in use".
//! A resumed session is retried with the same `--resume <id>`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::argv::{claude_args, has_prompt, SessionChoice};
use super::env::{compose, EnvInputs};
use super::events::TurnEvent;
use super::outcome::{classify, is_session_not_found, is_transient, TurnResult};
use super::runner::{self, RunLimits};
use super::workspace::{self, McpServer};
use crate::agents::spec::{AgentLimits, AgentSpec};
use crate::sandbox::launch::{LaunchContext, LaunchSpec, Launcher};

/// Process-wide settings of the engine, resolved once at boot.
#[derive(Clone)]
pub struct EngineConfig {
    /// Absolute path of `claude` (PATH lookup at boot), else `claude`.
    pub claude_bin: OsString,
    /// `<state>/sessions`.
    pub sessions_dir: PathBuf,
    /// Snapshot of the daemon's environment (source of the passthrough layers).
    pub daemon_env: Vec<(String, String)>,
    pub limits: RunLimits,
    /// Sleeps before attempts 2 and 3 (2 000 ms, 5 000 ms).
    pub retry_delays: Vec<Duration>,
    pub launcher: Arc<dyn Launcher>,
}

impl EngineConfig {
    /// The operator's `HOME` (source of the home seed).
    pub fn operator_home(&self) -> Option<PathBuf> {
        self.daemon_env
            .iter()
            .find(|(k, v)| k == "HOME" && !v.is_empty())
            .map(|(_, v)| PathBuf::from(v))
    }
}

/// Default retry delays of spec 03 §4.12.
pub fn default_retry_delays() -> Vec<Duration> {
    vec![Duration::from_millis(2000), Duration::from_millis(5000)]
}

/// What a run of an agent gets that the caller resolved: the Claude token, the env store,
/// granted env, and the MCP servers (own vault + grants).
pub struct TurnInputs {
    pub token: String,
    pub store_env: BTreeMap<String, String>,
    pub grant_env: BTreeMap<String, String>,
    pub servers: Vec<McpServer>,
    /// The own-vault token (attachments are fetched with it).
    pub vault_token: Option<String>,
}

/// Everything a turn needs that the caller resolved (credentials, env store, servers).
pub struct TurnInput<'a> {
    pub spec: &'a AgentSpec,
    pub message: &'a str,
    pub session: SessionChoice,
    pub oauth_token: &'a str,
    pub store_env: &'a BTreeMap<String, String>,
    pub grant_env: &'a BTreeMap<String, String>,
    pub mcp_servers: &'a [McpServer],
    /// Counts the `claude` runs of this turn (retries and the session fallback included).
    pub attempts: &'a std::cell::Cell<u32>,
}

/// The private dir `W` (files written: `.mcp.json`, prompt, home seed), the cwd and the
/// exact child environment of one run of an agent — a turn, or an operator session.
pub struct PreparedPrivate {
    pub dir: PathBuf,
    pub cwd: PathBuf,
    pub env: Vec<(String, String)>,
}

/// Writes the agent's private files and composes its environment (spec 03 §4.1 steps 6–9).
pub fn prepare_private(
    cfg: &EngineConfig,
    spec: &AgentSpec,
    servers: &[McpServer],
    oauth_token: &str,
    store_env: &BTreeMap<String, String>,
    grant_env: &BTreeMap<String, String>,
) -> Result<PreparedPrivate, String> {
    let w = workspace::private_dir(&cfg.sessions_dir, &spec.name);
    let cwd = spec
        .workspace
        .as_deref()
        .map(PathBuf::from)
        .unwrap_or_else(|| w.clone());
    let prompt = has_prompt(spec).then(|| spec.system_prompt.as_deref().unwrap_or(""));
    workspace::prepare(&w, servers, prompt, &cwd, cfg.operator_home().as_deref())
        .map_err(|e| format!("preparing the agent's private dir failed: {e}"))?;
    let env = compose(&EnvInputs {
        grant_env,
        store_env,
        daemon_env: &cfg.daemon_env,
        oauth_token,
        private_dir: &w,
    });
    Ok(PreparedPrivate { dir: w, cwd, env })
}

/// Run one turn. `Err` is branch T of spec 03 §8 (the turn threw: a file could not be
/// written, the launcher refused); `Ok` carries success or failure (branch D / F).
pub fn run_turn(
    cfg: &EngineConfig,
    input: &TurnInput,
    sink: &mut dyn FnMut(TurnEvent),
) -> Result<TurnResult, String> {
    let PreparedPrivate { dir: w, cwd, env } = prepare_private(
        cfg,
        input.spec,
        input.mcp_servers,
        input.oauth_token,
        input.store_env,
        input.grant_env,
    )?;
    let ctx = LaunchContext {
        spec: input.spec.clone(),
        private_dir: w.clone(),
    };
    let first = attempt_loop(cfg, input, &input.session, &env, &cwd, &w, &ctx, sink)?;
    match &first {
        TurnResult::Failed { reason, .. }
            if input.session.resume && is_session_not_found(reason) =>
        {
            log::warn!(
                "agent {}: session {} not found ({reason}); starting a fresh session",
                input.spec.name,
                input.session.id
            );
            let fresh = SessionChoice::fresh();
            attempt_loop(cfg, input, &fresh, &env, &cwd, &w, &ctx, sink)
        }
        _ => Ok(first),
    }
}

#[allow(clippy::too_many_arguments)]
fn attempt_loop(
    cfg: &EngineConfig,
    input: &TurnInput,
    session: &SessionChoice,
    env: &[(String, String)],
    cwd: &Path,
    w: &Path,
    ctx: &LaunchContext,
    sink: &mut dyn FnMut(TurnEvent),
) -> Result<TurnResult, String> {
    let env: Vec<(OsString, OsString)> = env
        .iter()
        .map(|(k, v)| (OsString::from(k), OsString::from(v)))
        .collect();
    let max_attempts = cfg.retry_delays.len() + 1;
    let mut attempt = 0;
    let mut session = session.clone();
    loop {
        let command = LaunchSpec {
            program: cfg.claude_bin.clone(),
            args: claude_args(input.spec, w, input.message, &session),
            env: env.clone(),
            cwd: cwd.to_path_buf(),
        };
        input.attempts.set(input.attempts.get() + 1);
        let result = run_once(cfg, command, ctx, sink)?;
        attempt += 1;
        let retry = match &result {
            TurnResult::Failed {
                reason, retryable, ..
            } => *retryable && is_transient(reason) && attempt < max_attempts,
            TurnResult::Ok { .. } => false,
        };
        if !retry {
            return Ok(result);
        }
        let delay = cfg.retry_delays[attempt - 1];
        if let TurnResult::Failed { reason, .. } = &result {
            log::warn!(
                "agent {}: transient failure (attempt {attempt}/{max_attempts}), retrying in {}ms: {reason}",
                input.spec.name,
                delay.as_millis()
            );
        }
        std::thread::sleep(delay);
        if !session.resume {
            // A failed create may already have written its transcript, and `--session-id`
            // on an existing session fails ("already in use"): retry a create with a new id.
            session = SessionChoice::fresh();
        }
    }
}

fn run_once(
    cfg: &EngineConfig,
    command: LaunchSpec,
    ctx: &LaunchContext,
    sink: &mut dyn FnMut(TurnEvent),
) -> Result<TurnResult, String> {
    let prepared = cfg
        .launcher
        .prepare(command, ctx)
        .map_err(|e| e.to_string())?;
    let limits = effective_limits(cfg.limits, &ctx.spec.limits);
    let report = match runner::run(&prepared.command, limits, sink) {
        Ok(r) => r,
        Err(spawn) => return Ok(TurnResult::failed(spawn, false)),
    };
    drop(prepared.guard);
    if report.timed_out {
        let own = if ctx.spec.limits.turn_timeout_secs.is_some() {
            " (the agent's turn_timeout_secs)"
        } else {
            ""
        };
        return Ok(TurnResult::Failed {
            reason: format!("turn timed out after {}s{own}", limits.timeout.as_secs()),
            session_id: report.summary.session_id,
            retryable: false,
        });
    }
    Ok(name_limit(
        classify(report.summary, report.exit, &report.stderr),
        &ctx.spec.limits,
    ))
}

/// The daemon's limits with the agent's own wall-clock limit, where it set one.
fn effective_limits(daemon: RunLimits, agent: &AgentLimits) -> RunLimits {
    match agent.turn_timeout_secs {
        Some(secs) => RunLimits {
            timeout: Duration::from_secs(secs),
            ..daemon
        },
        None => daemon,
    }
}

/// A run `claude` ended on one of the agent's limits gets a reason that names the limit
/// (the subtype stays in the text, so the outcome is still classified as a limit).
fn name_limit(result: TurnResult, limits: &AgentLimits) -> TurnResult {
    let TurnResult::Failed {
        reason,
        session_id,
        retryable,
    } = result
    else {
        return result;
    };
    let named = if reason.contains("error_max_turns") {
        limits
            .max_turns
            .map(|n| format!("turn stopped by the agent's limit max_turns={n} (error_max_turns)"))
    } else if reason.contains("error_max_budget_usd") {
        limits.max_budget_usd.map(|usd| {
            format!("turn stopped by the agent's limit max_budget_usd={usd} (error_max_budget_usd)")
        })
    } else {
        None
    };
    TurnResult::Failed {
        reason: named.unwrap_or(reason),
        session_id,
        retryable,
    }
}

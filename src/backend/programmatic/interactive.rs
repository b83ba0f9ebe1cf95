//! [ext] The interactive `claude` of an operator session: the same private dir,
//! cwd, MCP servers, credentials, environment and sandbox as the agent's turns — built by
//! the same functions ([`super::worker::resolve_inputs`], [`super::turn::prepare_private`],
//! the agent's `Launcher`) — with the interactive flags instead of `-p … stream-json`
//! ([`super::turn::argv::interactive_args`]), resuming the agent's current conversation when it
//! has one.

use std::ffi::OsString;
use std::path::PathBuf;

use super::turn::argv::interactive_args;
use super::turn::prepare_private;
use super::worker::{current_session, resolve_inputs, WorkerCtx};
use crate::agents::spec::AgentSpec;
use crate::sandbox::launch::{LaunchContext, LaunchSpec, PreparedLaunch};

/// The sandboxed interactive command of one agent.
pub struct InteractiveLaunch {
    pub launch: PreparedLaunch,
    pub private_dir: PathBuf,
    /// The session it resumes, if the agent had one.
    pub resumed: Option<String>,
}

/// Builds the command; `Err` names what is missing (a credential, a vault token, …).
pub fn prepare(ctx: &WorkerCtx, spec: &AgentSpec) -> Result<InteractiveLaunch, String> {
    let inputs = resolve_inputs(ctx, spec)?;
    let resumed = current_session(ctx, spec)?;
    let private = prepare_private(
        &ctx.engine,
        spec,
        &inputs.servers,
        &inputs.token,
        &inputs.store_env,
        &inputs.grant_env,
    )?;
    let command = LaunchSpec {
        program: ctx.engine.claude_bin.clone(),
        args: interactive_args(spec, &private.dir, resumed.as_deref()),
        env: private
            .env
            .iter()
            .map(|(k, v)| (OsString::from(k), OsString::from(v)))
            .collect(),
        cwd: private.cwd.clone(),
    };
    let launch = ctx
        .engine
        .launcher
        .prepare(
            command,
            &LaunchContext {
                spec: spec.clone(),
                private_dir: private.dir.clone(),
            },
        )
        .map_err(|e| e.to_string())?;
    Ok(InteractiveLaunch {
        launch,
        private_dir: private.dir,
        resumed,
    })
}

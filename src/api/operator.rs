//! [ext] Operator sessions: `POST /api/agents/<name>/session` starts the tmux
//! session `<name>-agent` running an interactive `claude` in the agent's own sandbox,
//! workspace, environment and credentials (built by the turn engine,
//! `backend::programmatic::interactive`), resuming the agent's current conversation when it
//! has one; `DELETE` ends it. Both `agent:admin` + step-up. While the session runs the
//! agent's programmatic turns **wait** (`backend::programmatic::hold`): messages queue in
//! order and run when the session ends, so two writers never fork one conversation. An
//! agent in the middle of a turn is refused (`409`), so the operator never joins a
//! conversation while a turn is still writing to it.

use serde_json::json;

use super::gate;
use crate::auth::Scope;
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;
use crate::terminal::operator::{StartError, StartRequest};

type Routed = Option<Result<Resp, ApiError>>;

/// `POST|DELETE /api/agents/<name>/session` (next to step 12, the agents routes).
pub fn route(state: &AppState, req: &Req) -> Routed {
    let segs = req.segs();
    let ["api", "agents", name, "session"] = segs.as_slice() else {
        return None;
    };
    let name = name.to_string();
    if req.is("POST") {
        Some(gated(state, req).and_then(|()| start(state, &name)))
    } else if req.is("DELETE") {
        Some(gated(state, req).and_then(|()| stop(state, &name)))
    } else {
        None
    }
}

fn gated(state: &AppState, req: &Req) -> Result<(), ApiError> {
    gate::require(state, req, Scope::Admin)?;
    gate::require_step_up(state, req)
}

fn conflict(message: String) -> ApiError {
    ApiError::custom(409, json!({ "error": message }))
}

fn start(state: &AppState, name: &str) -> Result<Resp, ApiError> {
    let tmux = state.terminal.tmux().ok_or_else(|| {
        ApiError::custom(
            503,
            json!({"error": "operator sessions unavailable: tmux is not installed (not found on PATH)"}),
        )
    })?;
    let registry = &state.programmatic.registry;
    let spec = registry
        .get(name)
        .ok_or_else(|| ApiError::NotFound(format!("unknown agent \"{name}\"")))?;
    let hold = registry.hold();
    if !hold.hold(name) {
        return Err(conflict(format!(
            "an operator session for \"{name}\" is already running"
        )));
    }
    if registry.is_busy(name) {
        hold.release(name);
        return Err(conflict(format!(
            "agent \"{name}\" is running a turn; try again when it is idle"
        )));
    }
    let prepared = match crate::backend::programmatic::interactive::prepare(registry.ctx(), &spec) {
        Ok(p) => p,
        Err(e) => {
            hold.release(name);
            return Err(ApiError::bad_request(format!(
                "cannot start an operator session: {e}"
            )));
        }
    };
    let self_exe = std::env::current_exe()
        .map_err(|e| ApiError::custom(500, json!({"error": format!("no executable: {e}")})))?;
    let resumed = prepared.resumed.clone();
    let releaser = hold.clone();
    let agent = name.to_string();
    let started = state.terminal.operator.start(StartRequest {
        agent: name.to_string(),
        tmux,
        launch: prepared.launch,
        private_dir: prepared.private_dir,
        self_exe,
        on_end: Box::new(move || releaser.release(&agent)),
    });
    match started {
        Ok(()) => Ok(Resp::ok(&json!({
            "ok": true,
            "name": name,
            "session": crate::terminal::tmux::session_name(name),
            "resumed": resumed,
        }))),
        Err(e) => {
            hold.release(name);
            Err(match e {
                StartError::AlreadyRunning => conflict(format!(
                    "tmux session \"{}\" already exists",
                    crate::terminal::tmux::session_name(name)
                )),
                StartError::Failed(why) => ApiError::custom(
                    502,
                    json!({ "error": format!("cannot start an operator session: {why}") }),
                ),
            })
        }
    }
}

fn stop(state: &AppState, name: &str) -> Result<Resp, ApiError> {
    let stopped = state.terminal.operator.stop(name);
    Ok(Resp::ok(
        &json!({ "ok": true, "name": name, "stopped": stopped }),
    ))
}

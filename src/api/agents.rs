//! The agents API (spec 01 §2.5, spec 03 §3, spec 04 §4): `GET|POST /api/agents`,
//! `DELETE /api/agents/<name>`, `POST /api/agents/<name>/restart`,
//! `GET /api/agents/<name>/env` (names only), and the live stream
//! `GET /api/channels/<ch>/turn-events?ticket=…` (spec 03 §7). All admin-scoped; a
//! `filesystem:"full"` spawn is step-up gated, and [ext] (spec 04 G9) so is one whose
//! `workspace` or a read-write mount lies outside the sessions dir. Improvement over the reference: DELETE
//! removes `spec.json`, so the agent stays deleted across restarts.

use serde_json::{json, Value};

use super::gate;
use crate::agents::spec::SystemPromptMode;
use crate::auth::Scope;
use crate::backend::programmatic::persist;
use crate::backend::programmatic::spawn_request::build_spec;
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;

type Routed = Option<Result<Resp, ApiError>>;

/// Step 12 of the route table (the agents routes).
pub fn route(state: &AppState, req: &mut Req) -> Routed {
    let segs: Vec<String> = req.segs().iter().map(|s| s.to_string()).collect();
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (
        req.is("GET"),
        req.is("POST"),
        req.is("DELETE"),
        s.as_slice(),
    ) {
        (true, _, _, ["api", "agents"]) => Some(list(state, req)),
        (_, true, _, ["api", "agents"]) => Some(spawn(state, req)),
        (_, true, _, ["api", "agents", name, "restart"]) => Some(restart(state, req, name)),
        (_, _, true, ["api", "agents", name]) => Some(delete(state, req, name)),
        (true, _, _, ["api", "agents", name, "env"]) => Some(env_view(state, req, name)),
        _ => None,
    }
}

/// Step 20: `GET /api/channels/<ch>/turn-events?ticket=…` (ticket consumed first; an
/// unknown channel gives an idle open stream).
pub fn route_turn_events(state: &AppState, req: &mut Req) -> Routed {
    let segs = req.segs();
    if !req.is("GET")
        || segs.len() != 4
        || segs[..2] != ["api", "channels"]
        || segs[3] != "turn-events"
    {
        return None;
    }
    let channel = segs[2].to_string();
    Some(
        gate::consume_ticket_for_stream(state, req, Scope::Read)
            .map(|guard| state.turn_events.subscribe_guarded(&channel, guard)),
    )
}

fn list(state: &AppState, req: &Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let svc = &state.programmatic;
    let agents: Vec<Value> = svc
        .registry
        .list()
        .into_iter()
        .map(|a| {
            let name = a.spec.name.clone();
            let w = svc.sessions_dir.join(&name);
            let mut row = json!({
                "name": name,
                "session": format!("{name}-agent"),
                "workspace": w.display().to_string(),
                "hasWorkspace": persist::spec_exists(&svc.sessions_dir, &name),
                "backend": "programmatic",
                "status": a.status,
                // [ext] an operator session holds the conversation.
                "operatorSession": state.terminal.operator.running(&name),
            });
            if a.spec.system_prompt.is_some() {
                let mode = match a.spec.system_prompt_mode.unwrap_or_default() {
                    SystemPromptMode::Append => "append",
                    SystemPromptMode::Replace => "replace",
                };
                row["systemPromptMode"] = json!(mode);
            }
            if let Some(ws) = a
                .spec
                .workspace
                .as_deref()
                .filter(|p| std::path::Path::new(p).exists())
            {
                row["workingDir"] = json!(ws);
            }
            // [ext] the agent's own limits, only those set.
            if let Ok(Value::Object(limits)) = serde_json::to_value(a.spec.limits) {
                if !limits.is_empty() {
                    row["limits"] = Value::Object(limits);
                }
            }
            row
        })
        .collect();
    let mut agents = agents;
    agents.extend(attached_rows(state));
    Ok(Resp::ok(&json!({ "agents": agents })))
}

/// Attached agents after the programmatic ones, sorted by name (spec 03 §3 `AgentInfo`):
/// status `queued:<N>` with N pending messages, `idle` when none or the read failed.
fn attached_rows(state: &AppState) -> Vec<Value> {
    let sessions = &state.programmatic.sessions_dir;
    let mut list = state.attached.list();
    list.sort_by(|a, b| a.0.cmp(&b.0));
    list.into_iter()
        .filter_map(|(name, channel)| {
            let agent = state.attached.get(&channel)?;
            let pending = crate::backend::attached::queue::pending(&*agent.store, &channel)
                .ok()
                .and_then(|v| v["count"].as_u64())
                .unwrap_or(0);
            let status = if pending > 0 {
                format!("queued:{pending}")
            } else {
                "idle".into()
            };
            let mut row = json!({
                "name": name,
                "session": format!("{name}-agent"),
                "workspace": sessions.join(&name).display().to_string(),
                "hasWorkspace": persist::spec_exists(sessions, &name),
                "backend": "attached",
                "status": status,
                "channel": channel,
            });
            if !agent.system_prompt.is_empty() {
                row["systemPromptMode"] = json!("append");
            }
            Some(row)
        })
        .collect()
}

fn spawn(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let body = req.json()?;
    let spec = build_spec(&body).map_err(ApiError::BadRequest)?;
    // The protected-path rule comes first: no step-up makes such a bind acceptable.
    state
        .programmatic
        .check_binds(&spec)
        .map_err(|e| ApiError::BadRequest(format!("body.{e}")))?;
    // Step-up for `filesystem: full`, and [ext] (spec 04 G9) for a workspace or rw mount
    // outside the sessions dir — wider than broad reads.
    let sessions = state.config.state_dir.join("sessions");
    if crate::sandbox::policy::step_up_reason(&spec, &sessions).is_some() {
        gate::require_step_up(state, req)?;
    }
    let channel = spec.wake_channel().to_string();
    let svc = &state.programmatic;
    if let Some(other) = svc.registry.agent_on(&channel).filter(|o| *o != spec.name) {
        return Err(ApiError::Conflict(format!(
            "programmatic agent \"{other}\" already serves channel \"{channel}\". Kill it first, or pick a different channel."
        )));
    }
    let existed = svc.setup(&spec).map_err(ApiError::BadRequest)?;
    Ok(Resp::ok(&json!({
        "name": spec.name,
        "channel": channel,
        "backend": "programmatic",
        "workspace": svc.sessions_dir.join(&spec.name).display().to_string(),
        "alreadyRunning": existed,
    })))
}

fn delete(state: &AppState, req: &Req, name: &str) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let killed = state
        .programmatic
        .delete(name)
        .map_err(|e| ApiError::custom(500, json!({ "error": e })))?;
    if killed {
        Ok(Resp::ok(
            &json!({"ok": true, "name": name, "backend": "programmatic", "killed": true}),
        ))
    } else {
        Ok(Resp::ok(
            &json!({"ok": true, "name": name, "killed": false}),
        ))
    }
}

fn restart(state: &AppState, req: &Req, name: &str) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    match state.programmatic.restart(name) {
        Some(()) => Ok(Resp::ok(&json!({
            "ok": true,
            "name": name,
            "backend": "programmatic",
            "session_reset": true,
            "note": "programmatic agent — conversation reset (next message starts a fresh session); no process to restart.",
        }))),
        None => Err(ApiError::NotFound(format!(
            "no programmatic agent named \"{name}\" to restart"
        ))),
    }
}

fn env_view(state: &AppState, req: &Req, name: &str) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    // Approved service connections of the live definition named `name` (resolved at its
    // last instantiate; no hub call, no material fetch).
    let def = state
        .agent_defs
        .live_defs()
        .into_iter()
        .find(|d| d.name() == name);
    let grants: Vec<(String, String)> = def
        .as_ref()
        .map(|d| {
            d.connections()
                .iter()
                .filter(|c| c["kind"] == "service" && c["status"] == "approved")
                .filter_map(|c| c["target"].as_str())
                .map(|t| (t.to_string(), crate::agents::wants::service_env_var(t)))
                .collect()
        })
        .unwrap_or_default();
    let entries = state
        .credentials
        .effective_env_view(name, &grants)
        .unwrap_or_else(|e| {
            log::warn!("env view for {name}: {e}");
            Vec::new()
        });
    let mut body = json!({ "env": entries });
    if def.is_none() {
        body["note"] = json!(format!("no vault-native #agent/definition found for \"{name}\" — showing the env-store layers only (operator default + per-agent override); approved-grant service env names are unavailable without a registered def."));
    }
    Ok(Resp::ok(&body))
}

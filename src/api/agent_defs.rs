//! HTTP routes of the definition registry (spec 01 §2.4, §2.5, §2.5.3, §2.5.4; spec 02
//! §4.5, §4.7): `/api/agent-defs`, `/api/agent-vaults`, `/api/vaults` and the reload
//! webhook `POST /api/vault/agent-def`.
//!
//! [ext] (spec 02 D7) The webhook accepts `?vault=` when the body names no vault (the
//! def-watch triggers we register carry it), so deliveries are unambiguous with two or
//! more def-vaults.

use serde_json::{json, Map, Value};

use super::gate;
use crate::auth::Scope;
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;

use crate::agents::def_ops::{CreateDef, DefOpError, EditDef};
use crate::agents::registry::{DefRegistry, ReloadEvent};
use crate::agents::{def_admin, vaults};

type Routed = Option<Result<Resp, ApiError>>;

/// Steps 12 (`GET /api/vaults`), 13 and 14 of the route precedence (spec 01 §2.8).
pub fn route(state: &AppState, req: &mut Req) -> Routed {
    let segs: Vec<String> = req.segs().iter().map(|s| s.to_string()).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["api", "vaults"]) => Some(list_vault_names(state, req)),
        ("GET", ["api", "agent-defs"]) => Some(list_defs(state, req)),
        ("POST", ["api", "agent-defs"]) => Some(create_def(state, req)),
        (m @ ("GET" | "PATCH" | "DELETE"), ["api", "agent-defs", _, ..]) => {
            let id = req.rest_from(2)?;
            Some(match m {
                "GET" => get_def(state, req, &id),
                "PATCH" => edit_def(state, req, &id),
                _ => delete_def(state, req, &id),
            })
        }
        ("GET", ["api", "agent-vaults"]) => Some(list_vaults(state, req)),
        ("POST", ["api", "agent-vaults"]) => Some(add_vault(state, req)),
        ("DELETE", ["api", "agent-vaults", name]) => Some(remove_vault(state, req, name)),
        _ => None,
    }
}

/// Step 18 (second half): `POST /api/vault/agent-def`.
pub fn route_webhook(state: &AppState, req: &mut Req) -> Routed {
    (req.is("POST") && req.raw_path() == "/api/vault/agent-def").then(|| reload_hook(state, req))
}

fn op_error(e: DefOpError) -> ApiError {
    match e {
        DefOpError::BadRequest(m) => ApiError::BadRequest(m),
        DefOpError::NotFound(m) => ApiError::NotFound(m),
        DefOpError::Conflict(m) => ApiError::Conflict(m),
        DefOpError::Upstream(m) => ApiError::BadGateway(m),
    }
}

fn registry(state: &AppState) -> &DefRegistry {
    &state.agent_defs
}

fn list_defs(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Read)?;
    let defs: Vec<Value> = registry(state)
        .live_defs()
        .iter()
        .map(|d| d.detail())
        .collect();
    Ok(Resp::ok(&json!({ "defs": defs })))
}

fn get_def(state: &AppState, req: &mut Req, id: &str) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Read)?;
    let full = registry(state).full_view(id).map_err(op_error)?;
    Ok(Resp::ok(&json!({ "def": full })))
}

/// A string field: absent/null → None; a string → Some; anything else → 400 `msg`.
fn opt_string(body: &Map<String, Value>, key: &str, msg: &str) -> Result<Option<String>, ApiError> {
    match body.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ApiError::bad_request(msg)),
    }
}

/// `metadata` must be a plain object; values are stringified, null dropped.
fn metadata_bag(body: &Map<String, Value>) -> Result<Option<Map<String, Value>>, ApiError> {
    match body.get("metadata") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| {
                    let text = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), Value::String(text))
                })
                .collect(),
        )),
        Some(_) => Err(ApiError::bad_request("body.metadata must be an object")),
    }
}

fn create_def(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let body = req.json_object()?;
    let vault = opt_string(&body, "vault", "body.vault (string) is required")?
        .ok_or_else(|| ApiError::bad_request("body.vault (string) is required"))?;
    let name = opt_string(&body, "name", "body.name (string) is required")?
        .ok_or_else(|| ApiError::bad_request("body.name (string) is required"))?;
    let bad_backend = "body.backend must be \"programmatic\" or \"attached\"";
    let backend = opt_string(&body, "backend", bad_backend)?;
    if backend
        .as_deref()
        .is_some_and(|b| crate::agents::definition::backend_from_word(b).is_none())
    {
        return Err(ApiError::bad_request(bad_backend));
    }
    let req_def = CreateDef {
        vault,
        name,
        backend,
        system_prompt: opt_string(&body, "systemPrompt", "body.systemPrompt must be a string")?
            .unwrap_or_default(),
        wants: opt_string(
            &body,
            "wants",
            "body.wants must be a string (comma-separated)",
        )?,
        metadata: metadata_bag(&body)?.unwrap_or_default(),
    };
    let def = registry(state).create_def(req_def).map_err(op_error)?;
    Ok(Resp::json(201, &json!({ "ok": true, "def": def.detail() })))
}

fn edit_def(state: &AppState, req: &mut Req, id: &str) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let body = req.json_object()?;
    let edit = EditDef {
        system_prompt: opt_string(&body, "systemPrompt", "body.systemPrompt must be a string")?,
        wants: opt_string(
            &body,
            "wants",
            "body.wants must be a string (comma-separated)",
        )?,
        metadata: metadata_bag(&body)?,
    };
    let def = registry(state).edit_def(id, edit).map_err(op_error)?;
    Ok(Resp::ok(&json!({ "ok": true, "def": def.detail() })))
}

fn delete_def(state: &AppState, req: &mut Req, id: &str) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let d = registry(state).delete_def(id).map_err(op_error)?;
    Ok(Resp::ok(&json!({
        "ok": true, "vault": d.vault, "name": d.name,
        "grantsReconciled": d.grants_reconciled, "removed": true,
    })))
}

fn vault_view(b: &vaults::DefVaultBinding) -> Value {
    json!({ "vault": b.vault, "url": b.url(), "tokenPresent": !b.token.is_empty() })
}

fn list_vaults(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Read)?;
    let mut bindings = registry(state).bindings();
    bindings.sort_by(|a, b| a.vault.cmp(&b.vault));
    let views: Vec<Value> = bindings.iter().map(vault_view).collect();
    Ok(Resp::ok(&json!({ "vaults": views })))
}

fn add_vault(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let body = req.json_object()?;
    let vault = opt_string(&body, "vault", "body.vault (string) is required")?
        .ok_or_else(|| ApiError::bad_request("body.vault (string) is required"))?;
    if !crate::agents::spec::is_slug(&vault) {
        return Err(ApiError::bad_request(format!(
            "vault \"{vault}\" must be a slug (alphanumeric, dash, underscore)"
        )));
    }
    let url = opt_string(&body, "url", "body.url must be a string")?.filter(|u| !u.is_empty());
    let binding = def_admin::add_vault(&state.def_vaults, &vault, url)?;
    Ok(Resp::json(
        201,
        &json!({ "ok": true, "vault": vault_view(&binding) }),
    ))
}

fn remove_vault(state: &AppState, req: &mut Req, name: &str) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let removed = def_admin::remove_vault(&state.def_vaults, name)?;
    Ok(Resp::ok(
        &json!({ "ok": true, "vault": name, "removed": removed }),
    ))
}

fn list_vault_names(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let path = state.config.parachute_home.join("services.json");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    Ok(Resp::ok(&json!({ "vaults": vault_names(&text) })))
}

/// Vault names from a `services.json` text: every `paths[]` entry `/vault/<name>…`,
/// deduped, sorted, `default` first; `[]` when unreadable.
pub fn vault_names(services_json: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<Value>(services_json) else {
        return Vec::new();
    };
    let rows = doc
        .get("services")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut names: Vec<String> = rows
        .iter()
        .filter_map(|r| r.get("paths").and_then(Value::as_array))
        .flatten()
        .filter_map(Value::as_str)
        .filter_map(|p| p.strip_prefix("/vault/"))
        .filter_map(|rest| rest.split('/').next().filter(|n| !n.is_empty()))
        .map(str::to_string)
        .collect();
    names.sort_by(|a, b| {
        (a != "default", a.to_lowercase(), a).cmp(&(b != "default", b.to_lowercase(), b))
    });
    names.dedup();
    names
}

/// `POST /api/vault/agent-def` in the order of spec 01 §2.4.
fn reload_hook(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require_uniform(state, req, Scope::Send)?;
    let body = req.json()?;
    let note = body.get("note");
    let field = |k: &str| note.and_then(|n| n.get(k)).and_then(Value::as_str);
    let key = field("id")
        .filter(|s| !s.is_empty())
        .or_else(|| field("path"))
        .ok_or_else(|| ApiError::bad_request("body must include note.id"))?
        .to_string();
    let reg = registry(state);
    let named = body
        .get("vault")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .or_else(|| req.query("vault").filter(|s| !s.is_empty()))
        .map(str::to_string);
    let vault = named.or_else(|| sole_vault(reg)).ok_or_else(|| {
        ApiError::bad_request("body.vault is required (multiple def-vaults configured)")
    })?;
    let event = body
        .get("event")
        .and_then(Value::as_str)
        .and_then(ReloadEvent::parse);
    let outcome = reg.reload(&vault, &key, event);
    Ok(Resp::ok(
        &json!({ "ok": true, "reloaded": outcome.as_str() }),
    ))
}

/// The sole bound def-vault, else the one vault every live definition comes from.
fn sole_vault(reg: &DefRegistry) -> Option<String> {
    let bindings = reg.bindings();
    if bindings.len() == 1 {
        return Some(bindings[0].vault.clone());
    }
    let mut vaults: Vec<String> = reg.live_defs().into_iter().map(|d| d.def.vault).collect();
    vaults.dedup();
    vaults.sort();
    vaults.dedup();
    (vaults.len() == 1).then(|| vaults.remove(0))
}

#[cfg(test)]
mod tests {
    use super::vault_names;

    #[test]
    fn vault_names_from_services_json() {
        let text = r#"{"services":[
            {"name":"parachute-vault","paths":["/vault/research","/vault/default/x","/vault/Alpha","/vault/"]},
            {"name":"other","paths":["/agent","/vault/research"]},
            {"name":"broken","paths":"nope"}]}"#;
        assert_eq!(vault_names(text), vec!["default", "Alpha", "research"]);
        assert!(vault_names("not json").is_empty());
        assert!(vault_names("{}").is_empty());
    }
}

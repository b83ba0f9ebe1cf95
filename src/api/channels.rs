//! The channel CRUD API (spec 05 §5.3, spec 01 §2.5 / §2.5.1), `agent:admin`:
//! `POST /api/channels` (validate by building the transport, upsert
//! `channels.json` atomically at 0600, hot add/replace), `DELETE /api/channels/<name>`
//! (rewrite the file, then stop + remove live: persist first, mutate after), and `GET /api/channels` (spec 05 §5.3): the live
//! channels in map order — name, transport kind and, for vault channels, the vault name;
//! never tokens or secrets.
//!
//! Divergences [ext]: channel names must match `^[A-Za-z0-9_-]{1,64}$` (names with `/` or
//! spaces can never be addressed by path routes; the http-ui routes compare raw paths);
//! a deleted channel's `/events` subscribers are closed (the reference leaves them
//! dangling). Changes are serialised by one lock so two concurrent POSTs cannot lose
//! each other's entry in the file (the lock of `channels::file`, which a SIGHUP reload
//! takes too).

use serde_json::{json, Map, Value};

use super::gate;
use crate::auth::Scope;
use crate::channels::factory;
use crate::channels::store::{self, ChannelEntry};
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;

type Routed = Option<Result<Resp, ApiError>>;

/// Longest accepted channel name.
const MAX_NAME: usize = 64;

/// Routes of spec 01 §2.8 step 8.
pub fn route(state: &AppState, req: &mut Req) -> Routed {
    let segs = req.segs();
    match (req.method.as_str(), segs.as_slice()) {
        ("POST", ["api", "channels"]) => Some(upsert(state, req)),
        ("DELETE", ["api", "channels", name]) if !name.is_empty() => {
            let name = name.to_string();
            Some(delete(state, req, &name))
        }
        _ => None,
    }
}

/// Checks a channel name for the API [ext].
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "channel name \"{name}\" must be 1–{MAX_NAME} letters, digits, '-' or '_'"
        ))
    }
}

fn required_str(body: &Map<String, Value>, key: &str) -> Result<String, ApiError> {
    match body.get(key).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(ApiError::bad_request(format!(
            "body.{key} (string) is required"
        ))),
    }
}

/// `POST /api/channels` in the order of spec 05 §5.3.
fn upsert(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let body = req.json_object()?;
    let name = required_str(&body, "name")?;
    let kind = required_str(&body, "transport")?;
    let config = body.get("config").and_then(Value::as_object).cloned();
    let invalid = |msg: String| ApiError::bad_request(format!("invalid channel config: {msg}"));
    validate_name(&name).map_err(invalid)?;
    let entry = ChannelEntry {
        name: name.clone(),
        transport: kind.clone(),
        config,
    };
    let file = &state.channel_file;
    let transport = factory::build(&entry, &file.deps()).map_err(|e| invalid(e.to_string()))?;

    let mut owned = file.lock();
    let mut entries = store::load(file.path())
        .map_err(|e| write_failed("write", &e))?
        .unwrap_or_default();
    match entries.iter_mut().find(|e| e.name == name) {
        Some(slot) => *slot = entry.clone(),
        None => entries.push(entry.clone()),
    }
    store::save(file.path(), &entries).map_err(|e| write_failed("write", &e.to_string()))?;
    *owned = entries;

    match state.channels.insert(entry, transport) {
        Ok(()) => {
            log::info!("channel {name} ({kind}) added");
            Ok(Resp::ok(
                &json!({"ok": true, "name": name, "transport": kind, "live": true}),
            ))
        }
        Err(e) => {
            log::error!("channel {name} persisted but hot-add failed: {e}");
            Ok(Resp::ok(&json!({
                "ok": true, "name": name, "transport": kind, "live": false,
                "restart_needed": true,
                "error": format!("channel persisted but hot-add failed: {e}"),
            })))
        }
    }
}

fn write_failed(verb: &str, msg: &str) -> ApiError {
    ApiError::custom(
        500,
        json!({"error": format!("failed to {verb} channels.json: {msg}")}),
    )
}

/// `DELETE /api/channels/<name>`: rewrite `channels.json` without it first, then stop +
/// remove the live channel and close its `/events` subscribers [ext]. A failed write
/// (full disk) is a 500 and changes nothing, so the channel cannot come back after a
/// restart that the live map already forgot.
fn delete(state: &AppState, req: &Req, name: &str) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let file = &state.channel_file;
    let mut owned = file.lock();
    let rewrite = || -> Result<Option<Vec<ChannelEntry>>, String> {
        let Some(mut entries) = store::load(file.path())? else {
            return Ok(None);
        };
        let before = entries.len();
        entries.retain(|e| e.name != name);
        if entries.len() == before {
            return Ok(None); // live-only (or unknown): nothing to persist
        }
        store::save(file.path(), &entries).map_err(|e| e.to_string())?;
        Ok(Some(entries))
    };
    if let Some(entries) = rewrite().map_err(|e| write_failed("update", &e))? {
        *owned = entries;
    }
    let removed = state.channels.remove(name);
    state.events.close_channel(name, None);
    if removed {
        log::info!("channel {name} removed");
    }
    Ok(Resp::ok(
        &json!({"ok": true, "name": name, "removed": removed}),
    ))
}

/// `GET /api/channels`.
pub fn list(state: &AppState, req: &Req) -> Result<Resp, ApiError> {
    gate::require(state, req, Scope::Admin)?;
    let live = state.channels.list();
    let channels: Vec<ChannelRow> = live
        .iter()
        .map(|c| ChannelRow {
            name: &c.name,
            transport: c.transport.kind(),
            vault: c.entry.config_str("vault"),
        })
        .collect();
    Ok(Resp::ok(&ChannelList { channels }))
}

/// One row of `GET /api/channels`, serialised straight from the live channel (no
/// intermediate `Value` tree: this is the most frequent authenticated call).
#[derive(serde::Serialize)]
struct ChannelRow<'a> {
    name: &'a str,
    transport: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    vault: Option<&'a str>,
}

#[derive(serde::Serialize)]
struct ChannelList<'a> {
    channels: Vec<ChannelRow<'a>>,
}

#[cfg(test)]
mod tests {
    use super::validate_name;

    #[test]
    fn names() {
        assert!(validate_name("web-1_A").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name("a b").is_err());
        assert!(validate_name("é").is_err());
        assert!(validate_name(&"x".repeat(65)).is_err());
    }
}

//! `GET /api/channels` (spec 05 §5.3): the live channels in map order — name, transport
//! kind and, for vault channels, the vault name. Never tokens or secrets.

use serde_json::{json, Value};

use super::{ApiError, Req, Resp};
use crate::auth::Scope;
use crate::state::AppState;

pub fn list(state: &AppState, req: &Req) -> Result<Resp, ApiError> {
    state.auth.require(req, Scope::Admin)?;
    let channels: Vec<Value> = state
        .channels
        .list()
        .iter()
        .map(|c| {
            let mut row = json!({ "name": c.name, "transport": c.transport.kind() });
            if let Some(vault) = c.entry.config_str("vault") {
                row["vault"] = json!(vault);
            }
            row
        })
        .collect();
    Ok(Resp::ok(&json!({ "channels": channels })))
}

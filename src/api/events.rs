//! `GET /events?channel=<ch>` (spec 05 §2.2): the bridge's SSE stream of inbound messages
//! and permission verdicts. Bearer `agent:read`; a missing channel subscribes to the
//! legacy `telegram` channel with a deprecation warning; the channel is not validated.
//! [ext] The stream ends with `event: error` once its token expires or is revoked.

use super::gate;
use crate::auth::Scope;
use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;

pub fn events(state: &AppState, req: &Req) -> Result<Resp, ApiError> {
    let guard = gate::require_for_stream(state, req, Scope::Read)?;
    let channel = match req.query("channel").filter(|c| !c.is_empty()) {
        Some(c) => c.to_string(),
        None => {
            log::warn!("GET /events without ?channel= is deprecated; subscribing to \"telegram\"");
            "telegram".to_string()
        }
    };
    Ok(state.events.subscribe_guarded(&channel, Some(guard)))
}

//! Test hooks, all in one place: debug builds only, and only when
//! `PARACHUTE_AGENT_TEST_HOOKS=1`, so black-box tests can reach what no product route
//! exposes. Tried last among the daemon routes (no product route matches `/__test/…`).
//! - `/__test/panic` panics inside a handler (the HTTP core's `catch_unwind`);
//! - `POST /__test/echo` parses the JSON body and echoes it;
//! - `GET /__test/ticket?scope=<scope>&ticket=<t>` runs [`gate::consume_ticket`] and answers
//!   `{"ok":true,"scopes":[…]}`, so the SSE-ticket tests need no streaming route;
//! - `POST /__test/job-clock {"offsetMs":n}` shifts the job runner's clock, so scheduler
//!   tests cross cron slots without waiting for them.

use crate::http::{ApiError, Req, Resp};
use crate::state::AppState;

type Routed = Option<Result<Resp, ApiError>>;

#[cfg(debug_assertions)]
pub fn route(state: &AppState, req: &mut Req) -> Routed {
    use super::gate;
    use crate::auth::Scope;
    use serde_json::{json, Value};

    if !state.config.test.enabled {
        return None;
    }
    match (req.method.as_str(), req.raw_path()) {
        (_, "/__test/panic") => panic!("test hook: deliberate panic"),
        ("POST", "/__test/echo") => Some(req.json().map(|v| Resp::ok(&v))),
        ("GET", "/__test/ticket") => {
            let scope = req
                .query("scope")
                .and_then(Scope::parse)
                .unwrap_or(Scope::Read);
            Some(
                gate::consume_ticket(state, req, scope)
                    .map(|scopes| Resp::ok(&json!({ "ok": true, "scopes": scopes }))),
            )
        }
        ("POST", "/__test/job-clock") => Some(req.json().and_then(|body| {
            let ms = body
                .get("offsetMs")
                .and_then(Value::as_i64)
                .ok_or_else(|| ApiError::bad_request("offsetMs must be an integer"))?;
            state.jobs.set_clock_offset_ms(ms);
            Ok(Resp::ok(&json!({"ok": true, "offsetMs": ms})))
        })),
        _ => None,
    }
}

#[cfg(not(debug_assertions))]
pub fn route(_state: &AppState, _req: &mut Req) -> Routed {
    None
}

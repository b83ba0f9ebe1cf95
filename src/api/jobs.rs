//! The jobs API (spec 06 §1.4, spec 01 §2.5.2; route step 9 of spec 01 §2.8), all behind
//! `agent:admin`, no step-up:
//! - `GET /api/jobs` → `{jobs:[Job]}`, `nextRunAt` for enabled jobs computed now (a job
//!   whose cron/zone cannot be scheduled just lacks it); vault failure → 502.
//! - `POST /api/jobs` → validate (rows 1–9), write the note → `{ok:true, job}`; 502 on a
//!   vault failure.
//! - `POST /api/jobs/<id>/run` → fire now (ignores schedule and `enabled`); a failed fire is
//!   still 200 with `status:"error: …"`; unknown id → 404 (the spec's Rust choice).
//! - `DELETE /api/jobs/<id>` → `removed:true|false`; failures → 502.
//!
//! `<id>` is one path segment, percent-decoded.

use serde_json::{json, Value};

use super::gate;
use crate::auth::Scope;
use crate::http::{ApiError, Req, Resp};
use crate::jobs::runner::{next_fire, RunNow, RunNowError};
use crate::jobs::validate;
use crate::state::AppState;
use crate::util::time::{iso_from_ms, now_iso};

type Routed = Option<Result<Resp, ApiError>>;

/// Step 9: `/api/jobs` GET|POST; POST `/api/jobs/<id>/run`; DELETE `/api/jobs/<id>`.
pub fn route(state: &AppState, req: &mut Req) -> Routed {
    let segs: Vec<String> = req.segs().iter().map(|s| s.to_string()).collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match (req.method.as_str(), segs.as_slice()) {
        ("GET", ["api", "jobs"]) => Some(admin(state, req).and_then(|_| list(state))),
        ("POST", ["api", "jobs"]) => Some(admin(state, req).and_then(|_| create(state, req))),
        ("POST", ["api", "jobs", id, "run"]) if !id.is_empty() => {
            Some(admin(state, req).and_then(|_| run(state, id)))
        }
        ("DELETE", ["api", "jobs", id]) if !id.is_empty() => {
            Some(admin(state, req).and_then(|_| delete(state, id)))
        }
        _ => None,
    }
}

fn admin(state: &AppState, req: &Req) -> Result<(), ApiError> {
    gate::require(state, req, Scope::Admin).map(|_| ())
}

fn list(state: &AppState) -> Result<Resp, ApiError> {
    let jobs = state
        .jobs
        .store
        .list()
        .map_err(|e| ApiError::BadGateway(format!("failed to list jobs: {e}")))?;
    let now = state.jobs.runner.now();
    let rows: Vec<Value> = jobs
        .iter()
        .map(|job| {
            let mut row = job.to_json();
            if job.enabled {
                if let Ok(Some(next)) = next_fire(job, now) {
                    let ms = next.as_millisecond().max(0) as u64;
                    row.insert("nextRunAt".into(), iso_from_ms(ms).into());
                }
            }
            Value::Object(row)
        })
        .collect();
    Ok(Resp::ok(&json!({"jobs": rows})))
}

fn create(state: &AppState, req: &mut Req) -> Result<Resp, ApiError> {
    let body = req.json()?;
    let store = &state.jobs.store;
    let mut job = validate::new_job(&body, |ch| store.channel_is_vault(ch), &now_iso())
        .map_err(ApiError::BadRequest)?;
    job.note_id = store
        .create(&job)
        .map_err(|e| ApiError::BadGateway(format!("failed to write job: {e}")))?;
    Ok(Resp::ok(&json!({"ok": true, "job": job.created_json()})))
}

fn run(state: &AppState, id: &str) -> Result<Resp, ApiError> {
    match state.jobs.runner.run_now(id) {
        Ok(RunNow::Fired(status)) | Ok(RunNow::AlreadyRunning(status)) => {
            Ok(Resp::ok(&json!({"ok": true, "id": id, "status": status})))
        }
        Err(RunNowError::UnknownJob) => Err(ApiError::NotFound(format!("unknown job \"{id}\""))),
        Err(RunNowError::Load(e)) => Err(ApiError::BadGateway(format!("failed to run job: {e}"))),
    }
}

fn delete(state: &AppState, id: &str) -> Result<Resp, ApiError> {
    let store = &state.jobs.store;
    let failed = |e: String| ApiError::BadGateway(format!("failed to delete job: {e}"));
    let job = store.find(id).map_err(failed)?;
    let Some(job) = job.filter(|j| !j.note_id.is_empty()) else {
        return Ok(Resp::ok(&json!({"ok": true, "id": id, "removed": false})));
    };
    store.delete(&job).map_err(failed)?;
    Ok(Resp::ok(&json!({"ok": true, "id": id, "removed": true})))
}

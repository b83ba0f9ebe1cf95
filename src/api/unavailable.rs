//! The one answer for a message a backend refused: `503` with `Retry-After`,
//! so a client retries instead of assuming the message was accepted — while the daemon
//! drains for a restart, or when the inbound journal cannot be written.

use serde_json::json;

use crate::channels::Refusal;
use crate::http::ApiError;

/// Seconds a client should wait before retrying.
pub const RETRY_AFTER_SECS: u64 = 5;

pub fn refused(r: &Refusal) -> ApiError {
    let code = match r {
        Refusal::Draining => "draining",
        Refusal::Unavailable(_) => "unavailable",
    };
    ApiError::Custom {
        status: 503,
        body: json!({ "error": r.to_string(), "code": code }),
        headers: vec![("Retry-After".into(), RETRY_AFTER_SECS.to_string())],
    }
}

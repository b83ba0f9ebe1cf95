//! The HTTP layer's error type: every handler failure is one [`ApiError`], mapped once
//! (in [`ApiError::into_response`]) to a status code and a JSON body with an `error`
//! string (spec 01 §0, §3.8).

use serde_json::{json, Value};

use super::response::Resp;

#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// 400 with the given `error` text.
    BadRequest(String),
    /// 400 `{"error":"invalid JSON body"}`.
    InvalidJson,
    /// 401 `{"error":"unauthorized","message":…}`.
    Unauthorized(String),
    /// 401 `{"error":"unauthorized"}` — the webhooks' uniform answer (spec 01 §3.8).
    UnauthorizedUniform,
    /// 403 `{"error":"insufficient_scope","message":"requires <scope>","granted":[…]}`.
    InsufficientScope {
        required: String,
        granted: Vec<String>,
    },
    /// 404 with the given `error` text (`not found` for unknown routes).
    NotFound(String),
    /// 409 with the given `error` text.
    Conflict(String),
    /// 413 `{"error":"payload too large"}` (spec 08).
    PayloadTooLarge,
    /// 500 `{"error":"internal error"}`: never leaks details.
    Internal,
    /// 502 with the given `error` text (an upstream such as the vault failed).
    BadGateway(String),
    /// Any other status with a full JSON body (e.g. 403 step_up_required, 429 rate_limited).
    Custom {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
}

impl ApiError {
    pub fn not_found() -> Self {
        ApiError::NotFound("not found".into())
    }

    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }

    pub fn custom(status: u16, body: Value) -> Self {
        ApiError::Custom {
            status,
            body,
            headers: Vec::new(),
        }
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidJson => 400,
            ApiError::Unauthorized(_) | ApiError::UnauthorizedUniform => 401,
            ApiError::InsufficientScope { .. } => 403,
            ApiError::NotFound(_) => 404,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge => 413,
            ApiError::Internal => 500,
            ApiError::BadGateway(_) => 502,
            ApiError::Custom { status, .. } => *status,
        }
    }

    pub fn body(&self) -> Value {
        match self {
            ApiError::BadRequest(m)
            | ApiError::NotFound(m)
            | ApiError::Conflict(m)
            | ApiError::BadGateway(m) => {
                json!({ "error": m })
            }
            ApiError::InvalidJson => json!({ "error": "invalid JSON body" }),
            ApiError::Unauthorized(m) => json!({ "error": "unauthorized", "message": m }),
            ApiError::UnauthorizedUniform => json!({ "error": "unauthorized" }),
            ApiError::InsufficientScope { required, granted } => json!({
                "error": "insufficient_scope",
                "message": format!("requires {required}"),
                "granted": granted,
            }),
            ApiError::PayloadTooLarge => json!({ "error": "payload too large" }),
            ApiError::Internal => json!({ "error": "internal error" }),
            ApiError::Custom { body, .. } => body.clone(),
        }
    }

    pub fn into_response(self) -> Resp {
        let mut resp = Resp::json(self.status(), &self.body());
        if let ApiError::Custom { headers, .. } = self {
            for (k, v) in headers {
                resp = resp.header(&k, &v);
            }
        }
        resp
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status(), self.body())
    }
}

impl std::error::Error for ApiError {}

//! HTTP handlers of the web UI: `GET /app`, `/app/…` (spec 01 §2.1.4 with the [ext]s of
//! spec 06 §3.1) and `POST /api/ui/login` (the one-time link exchange, [`crate::webui::login`]).
//!
//! The shell carries a strict Content-Security-Policy (scripts and styles from the app's
//! own origin only, no inline code, `frame-ancestors 'none'`), `X-Content-Type-Options`,
//! `X-Frame-Options` and `Referrer-Policy`, and no cache headers (it changes with the
//! request's base). Assets carry `Cache-Control: no-cache` and a strong `ETag` and answer
//! `304` to a matching `If-None-Match`, so a browser revalidates cheaply and never runs a
//! stale module after an upgrade.

use serde_json::{json, Value};

use crate::http::{ApiError, Req, Resp};
use crate::util::time;
use crate::webui::assets::Lookup;
use crate::webui::{login, WebUi};

/// The shell's policy: everything from the app's own origin, nothing inline, no framing.
pub const SHELL_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'self'; \
    form-action 'self'; frame-ancestors 'none'";

/// `GET /app`, `/app/…`.
pub fn spa(ui: &WebUi, req: &Req) -> Result<Resp, ApiError> {
    let sub = &req.raw_path()["/app".len()..];
    Ok(match ui.source.lookup(sub) {
        Lookup::Asset(a) => {
            let fresh = req
                .header("If-None-Match")
                .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag));
            let resp = if fresh {
                Resp::empty(304)
            } else {
                Resp::new(200, a.content_type, a.body.into_owned())
            };
            resp.header("ETag", &a.etag)
                .header("Cache-Control", "no-cache")
                .header("X-Content-Type-Options", "nosniff")
        }
        Lookup::Shell(body) => Resp::new(200, "text/html; charset=utf-8", body)
            .header("Content-Security-Policy", SHELL_CSP)
            .header("X-Content-Type-Options", "nosniff")
            .header("X-Frame-Options", "DENY")
            .header("Referrer-Policy", "no-referrer"),
        Lookup::Escapes => Resp::text(404, "text/plain; charset=utf-8", "not found"),
        Lookup::Missing => Resp::text(
            503,
            "text/plain; charset=utf-8",
            "web UI bundle missing: --static-dir must contain app/index.html \
             (or drop the flag to serve the files built into the binary)",
        ),
    })
}

/// `POST /api/ui/login {code}` → `{token, expires_at, scopes}` (open route: the code is
/// the credential). 400 without a code, 429 past the rate limit, 401 for an unknown,
/// used or expired code.
pub fn exchange(ui: &WebUi, req: &mut Req) -> Result<Resp, ApiError> {
    if let Err(wait) = ui.login_limiter.attempt("ui-login") {
        return Err(ApiError::custom(
            429,
            json!({"error": "too many login attempts", "retryAfter": wait.seconds}),
        ));
    }
    let body = req.json_object()?;
    let Some(code) = body
        .get("code")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
    else {
        return Err(ApiError::bad_request("body must be { code: <string> }"));
    };
    let redeemed = login::redeem(&ui.state_dir, code).map_err(|e| {
        log::warn!("login code exchange failed: {e}");
        ApiError::Internal
    })?;
    if !redeemed {
        return Err(ApiError::custom(
            401,
            json!({"error": "invalid or expired login code"}),
        ));
    }
    let scopes: Vec<String> = login::TOKEN_SCOPES.iter().map(|s| s.to_string()).collect();
    let token = ui.issuer.mint(&scopes, login::TOKEN_TTL).map_err(|e| {
        log::warn!("login code exchange: cannot mint a local token: {e}");
        ApiError::Internal
    })?;
    log::info!("web UI sign-in by one-time link");
    let expires_ms = time::now_ms() + login::TOKEN_TTL.as_millis() as u64;
    Ok(Resp::ok(&json!({
        "token": token,
        "expires_at": time::iso_from_ms(expires_ms),
        "scopes": scopes.join(" "),
    })))
}

/// Both routes, for the route table: `None` when the request is not ours.
pub fn route(ui: &WebUi, req: &mut Req) -> Option<Result<Resp, ApiError>> {
    let path = req.raw_path();
    if req.is("GET") && (path == "/app" || path.starts_with("/app/")) {
        return Some(spa(ui, req));
    }
    if req.is("POST") && path == "/api/ui/login" {
        return Some(exchange(ui, req));
    }
    None
}

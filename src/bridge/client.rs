//! HTTP client of the stdio bridge towards the daemon (spec 05 §4.3, §4.4): JSON POSTs to
//! the bridge REST routes and the long-lived `GET /events` stream. Two ureq agents: one for
//! short calls (explicit global timeout, 4xx/5xx bodies returned as data), one for the
//! stream (no global budget, a per-read timeout so a silently dead daemon is noticed —
//! the daemon writes a keepalive comment every ~25 s).

use std::io::Read;
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

/// Budget of one REST call (a telegram reply with files can take a while).
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest silence tolerated on `/events` (three missed keepalives plus slack).
const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the event stream could not be opened.
#[derive(Debug)]
pub enum StreamError {
    /// 401/403: the token is missing, invalid, expired or lacks `agent:read`.
    Auth { status: u16, body: String },
    /// Any other non-2xx status.
    Status { status: u16, body: String },
    /// Network or protocol failure.
    Transport(String),
}

impl std::fmt::Display for StreamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamError::Auth { status, body } | StreamError::Status { status, body } => {
                write!(f, "HTTP {status}: {body}")
            }
            StreamError::Transport(e) => f.write_str(e),
        }
    }
}

/// The daemon as seen by one bridge: base URL and optional bearer token.
pub struct DaemonClient {
    base: String,
    token: Option<String>,
    calls: ureq::Agent,
    stream: ureq::Agent,
}

impl DaemonClient {
    pub fn new(base_url: &str, token: Option<String>) -> Self {
        let calls = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_global(Some(CALL_TIMEOUT))
            .build()
            .into();
        let stream = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(Duration::from_secs(30)))
            .timeout_per_read(Some(STREAM_IDLE_TIMEOUT))
            .build()
            .into();
        DaemonClient {
            base: base_url.trim_end_matches('/').to_string(),
            token: token.filter(|t| !t.is_empty()),
            calls,
            stream,
        }
    }

    /// Whether a bearer token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    fn auth_header(&self) -> Option<String> {
        self.token.as_ref().map(|t| format!("Bearer {t}"))
    }

    /// POST `body` as JSON to `path`; returns the status and the raw response text.
    pub fn post_json(&self, path: &str, body: &Value) -> Result<(u16, String), String> {
        let mut req = self
            .calls
            .post(format!("{}{}", self.base, path))
            .header("content-type", "application/json");
        if let Some(h) = self.auth_header() {
            req = req.header("authorization", h);
        }
        let mut resp = req
            .send(serde_json::to_vec(body).map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok((status, text))
    }

    /// Open `GET /events?channel=<ch>`; on success returns the body reader.
    pub fn open_events(&self, channel: &str) -> Result<Box<dyn Read + Send>, StreamError> {
        let url = format!(
            "{}/events?channel={}",
            self.base,
            utf8_percent_encode(channel, NON_ALPHANUMERIC)
        );
        // `Connection: close`: the stream is the connection's only request. tiny_http then
        // releases the thread that would otherwise sit reading for a next request on this
        // connection for the stream's whole life (one thread per subscriber instead of two).
        let mut req = self
            .stream
            .get(url)
            .header("accept", "text/event-stream")
            .header("connection", "close");
        if let Some(h) = self.auth_header() {
            req = req.header("authorization", h);
        }
        let mut resp = req
            .call()
            .map_err(|e| StreamError::Transport(e.to_string()))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let body = resp.body_mut().read_to_string().unwrap_or_default();
            return Err(if status == 401 || status == 403 {
                StreamError::Auth { status, body }
            } else {
                StreamError::Status { status, body }
            });
        }
        Ok(Box::new(resp.into_body().into_reader()))
    }
}

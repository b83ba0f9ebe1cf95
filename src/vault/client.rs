//! `VaultClient`: every REST call of spec 02 §1.2 against one vault
//! (`<vaultUrl>/vault/<vault>/api/...`), blocking, on one shared ureq agent.
//!
//! - Auth: `Authorization: Bearer <token>` on every call; writes add
//!   `content-type: application/json`, GETs send none (spec 02 §0).
//! - Ids, paths and tag names in the URL are `encodeURIComponent`-encoded (`%2F`), queries
//!   are form-encoded in the order of the call catalogue.
//! - [ext] Timeouts (spec 02 D3): connect 5 s, whole call 30 s, so a webhook handler never
//!   blocks unboundedly. 4xx/5xx bodies are read (`http_status_as_error(false)`).
//! - Retries: the reference retries nothing at this layer (spec 02 §0); the outbound-reply
//!   retry lives in the turn engine. The only retry here is [ext]: a GET or tag PUT — safe,
//!   idempotent calls — is sent once more when the connection failed before any answer
//!   (a stale pooled connection), never after the vault answered. Creates (POST), PATCH and
//!   DELETE are never retried: a POST repeated after a lost answer would write a second note.
//! - Responses are parsed as `serde_json::Value` and unwrapped defensively (bare array or
//!   `{notes}`, bare note or `{note}`); see `notes` for the readers.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

use super::encode::{encode_uri_component, form_query};
use super::error::VaultError;
use super::notes;

/// The vault a channel or def-vault binding talks to when it names none.
pub const DEFAULT_VAULT_URL: &str = "http://127.0.0.1:1940";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response body we read (a transcript of 2,000 notes fits comfortably).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// The process-wide connection pool for vault calls.
fn shared_agent() -> ureq::Agent {
    static AGENT: OnceLock<ureq::Agent> = OnceLock::new();
    AGENT
        .get_or_init(|| {
            crate::util::http_client::lean_buffers(ureq::Agent::config_builder())
                .http_status_as_error(false)
                .timeout_connect(Some(CONNECT_TIMEOUT))
                .timeout_global(Some(CALL_TIMEOUT))
                .max_redirects(0)
                .user_agent(concat!("parachute-agent/", env!("CARGO_PKG_VERSION")))
                .middleware(crate::metrics::CallTimer(crate::metrics::Upstream::Vault))
                .build()
                .new_agent()
        })
        .clone()
}

/// Order of a note list (spec 02 §1.3: default `created_at` ascending).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// Parameters of `GET /api/notes`, serialised as `tag`, `include_content`, `limit`, `sort`.
#[derive(Debug, Clone)]
pub struct NoteQuery {
    pub tag: String,
    pub include_content: bool,
    pub limit: usize,
    pub sort: Option<SortOrder>,
    /// Sent as `offset=` when non-zero.
    pub offset: usize,
    /// `meta[<field>]=<value>` equality filters (the vault scans metadata as JSON; no
    /// indexed field needed). A vault that does not know them returns more notes, so
    /// callers still filter what they get.
    pub meta_eq: Vec<(String, String)>,
    /// `meta[created_at][gte]=<ISO>`: notes the vault created at or after this time.
    pub created_from: Option<String>,
}

impl NoteQuery {
    /// `tag=<tag>&include_content=true&limit=<limit>` (the shape of calls #6, #12, #18).
    pub fn tagged(tag: &str, limit: usize) -> Self {
        NoteQuery {
            tag: tag.to_string(),
            include_content: true,
            limit,
            sort: None,
            offset: 0,
            meta_eq: Vec::new(),
            created_from: None,
        }
    }

    /// Adds `meta[<field>]=<value>`.
    pub fn meta(mut self, field: &str, value: &str) -> Self {
        self.meta_eq
            .push((format!("meta[{field}]"), value.to_string()));
        self
    }

    /// Adds `meta[created_at][gte]=<iso>`.
    pub fn created_from(mut self, iso: &str) -> Self {
        self.created_from = Some(iso.to_string());
        self
    }

    pub fn offset(mut self, offset: usize) -> Self {
        self.offset = offset;
        self
    }

    pub fn sorted(mut self, sort: SortOrder) -> Self {
        self.sort = Some(sort);
        self
    }

    fn to_query(&self) -> String {
        let limit = self.limit.to_string();
        let offset = self.offset.to_string();
        let mut pairs = vec![("tag", self.tag.as_str())];
        if self.include_content {
            pairs.push(("include_content", "true"));
        }
        pairs.push(("limit", &limit));
        match self.sort {
            Some(SortOrder::Desc) => pairs.push(("sort", "desc")),
            Some(SortOrder::Asc) => pairs.push(("sort", "asc")),
            None => {}
        }
        if self.offset > 0 {
            pairs.push(("offset", &offset));
        }
        for (k, v) in &self.meta_eq {
            pairs.push((k, v));
        }
        if let Some(from) = &self.created_from {
            pairs.push(("meta[created_at][gte]", from));
        }
        form_query(&pairs)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Get,
    Post,
    Patch,
    Put,
    Delete,
}

impl Method {
    /// Safe to send again when no answer arrived (idempotent and read-only or upsert).
    fn retry_safe(self) -> bool {
        matches!(self, Method::Get | Method::Put)
    }
}

/// A client bound to one vault with one bearer token. Cheap to clone.
#[derive(Clone)]
pub struct VaultClient {
    base: String,
    vault: String,
    token: String,
    agent: ureq::Agent,
}

impl std::fmt::Debug for VaultClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultClient")
            .field("base", &self.base)
            .field("vault", &self.vault)
            .finish_non_exhaustive()
    }
}

impl VaultClient {
    /// `vault_url` of `None` or `""` means [`DEFAULT_VAULT_URL`]; one trailing `/` is
    /// stripped (spec 02 §0).
    pub fn new(vault_url: Option<&str>, vault: &str, token: &str) -> Self {
        let url = vault_url
            .filter(|u| !u.is_empty())
            .unwrap_or(DEFAULT_VAULT_URL);
        let base = url.strip_suffix('/').unwrap_or(url).to_string();
        VaultClient {
            base,
            vault: vault.to_string(),
            token: token.to_string(),
            agent: shared_agent(),
        }
    }

    /// The same vault with another bearer (the admin token of trigger registration, a
    /// per-turn token for attachment bytes).
    pub fn with_token(&self, token: &str) -> Self {
        VaultClient {
            token: token.to_string(),
            ..self.clone()
        }
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn vault(&self) -> &str {
        &self.vault
    }

    /// `<vaultUrl>::<vault>` — identifies one vault across channels sharing it.
    pub fn vault_key(&self) -> String {
        format!("{}::{}", self.base, self.vault)
    }

    /// `B/<rest>` with `B = <vaultUrl>/vault/<vault>/api`.
    pub fn api_url(&self, rest: &str) -> String {
        format!(
            "{}/vault/{}/api/{rest}",
            self.base,
            encode_uri_component(&self.vault)
        )
    }

    /// `GET B/notes?…` (calls #6, #7, #12, #18): the notes, from a bare array or `{notes}`.
    pub fn list_notes(&self, query: &NoteQuery) -> Result<Vec<Value>, VaultError> {
        let url = self.api_url(&format!("notes?{}", query.to_query()));
        let value = self.call_json(Method::Get, &url, None)?;
        notes::unwrap_list(&value)
            .ok_or_else(|| VaultError::BadJson("expected an array of notes".into()))
    }

    /// `GET B/notes/enc(id_or_path)` (call #3), or with `?include_content=true` (call #13).
    pub fn get_note(&self, id_or_path: &str, include_content: bool) -> Result<Value, VaultError> {
        let mut url = self.api_url(&format!("notes/{}", encode_uri_component(id_or_path)));
        if include_content {
            url.push_str("?include_content=true");
        }
        let value = self.call_json(Method::Get, &url, None)?;
        notes::unwrap_note(&value).ok_or_else(|| VaultError::BadJson("expected a note".into()))
    }

    /// `POST B/notes` (calls #1, #2, #15, #19). Returns the created note as the vault sent it
    /// (`Value::Null` when the 2xx body is not JSON — callers fall back to the id they
    /// proposed, spec 02 §1.2 #1).
    pub fn create_note(&self, body: &Value) -> Result<Value, VaultError> {
        let url = self.api_url("notes");
        let text = self.call(Method::Post, &url, Some(body))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(notes::unwrap_note(&value).unwrap_or(value))
    }

    /// `PATCH B/notes/enc(id_or_path)` (calls #4, #5, #8, #14, #16, #20).
    pub fn patch_note(&self, id_or_path: &str, body: &Value) -> Result<Value, VaultError> {
        let url = self.api_url(&format!("notes/{}", encode_uri_component(id_or_path)));
        let text = self.call(Method::Patch, &url, Some(body))?;
        let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        Ok(notes::unwrap_note(&value).unwrap_or(value))
    }

    /// `DELETE B/notes/enc(id)` (calls #17, #21). A 404 is returned as `NotFound`; the
    /// callers that count it as success say so.
    pub fn delete_note(&self, id: &str) -> Result<(), VaultError> {
        let url = self.api_url(&format!("notes/{}", encode_uri_component(id)));
        self.call(Method::Delete, &url, None).map(|_| ())
    }

    /// `GET B/notes/enc(id)/attachments` (call #9): bare array or `{attachments}`.
    pub fn list_attachments(&self, note_id: &str) -> Result<Vec<Value>, VaultError> {
        let url = self.api_url(&format!(
            "notes/{}/attachments",
            encode_uri_component(note_id)
        ));
        let value = self.call_json(Method::Get, &url, None)?;
        match value {
            Value::Array(items) => Ok(items),
            Value::Object(mut map) => match map.remove("attachments") {
                Some(Value::Array(items)) => Ok(items),
                _ => Err(VaultError::BadJson(
                    "expected an array of attachments".into(),
                )),
            },
            _ => Err(VaultError::BadJson(
                "expected an array of attachments".into(),
            )),
        }
    }

    /// `GET B/storage/enc(path)` (call #10): the attachment bytes.
    pub fn get_storage(&self, path: &str) -> Result<Vec<u8>, VaultError> {
        let url = self.api_url(&format!("storage/{}", encode_uri_component(path)));
        self.send_bytes(Method::Get, &url, None)
    }

    /// `PUT B/tags/enc(name)` (call #11).
    pub fn put_tag(&self, name: &str, body: &Value) -> Result<(), VaultError> {
        let url = self.api_url(&format!("tags/{}", encode_uri_component(name)));
        self.call(Method::Put, &url, Some(body)).map(|_| ())
    }

    /// `POST B/triggers` (call #22; needs an admin token — see [`Self::with_token`]).
    pub fn create_trigger(&self, body: &Value) -> Result<Value, VaultError> {
        self.call_json(Method::Post, &self.api_url("triggers"), Some(body))
    }

    /// `GET B/triggers` → the `triggers` array.
    pub fn list_triggers(&self) -> Result<Vec<Value>, VaultError> {
        let value = self.call_json(Method::Get, &self.api_url("triggers"), None)?;
        match value.get("triggers") {
            Some(Value::Array(items)) => Ok(items.clone()),
            _ => Err(VaultError::BadJson("expected {triggers:[…]}".into())),
        }
    }

    /// `DELETE B/triggers/enc(name)`.
    pub fn delete_trigger(&self, name: &str) -> Result<(), VaultError> {
        let url = self.api_url(&format!("triggers/{}", encode_uri_component(name)));
        self.call(Method::Delete, &url, None).map(|_| ())
    }

    fn call_json(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, VaultError> {
        let text = self.call(method, url, body)?;
        serde_json::from_str(&text).map_err(|e| VaultError::BadJson(e.to_string()))
    }

    fn call(&self, method: Method, url: &str, body: Option<&Value>) -> Result<String, VaultError> {
        let bytes = self.send_bytes(method, url, body)?;
        String::from_utf8(bytes).map_err(|e| VaultError::BadJson(e.to_string()))
    }

    /// One call, plus one resend for retry-safe methods when no answer arrived.
    fn send_bytes(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, VaultError> {
        match self.send_once(method, url, body) {
            Err(Attempt::NoAnswer(_)) if method.retry_safe() => {
                std::thread::sleep(Duration::from_millis(100));
                self.send_once(method, url, body)
                    .map_err(Attempt::into_error)
            }
            other => other.map_err(Attempt::into_error),
        }
    }

    fn send_once(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, Attempt> {
        let auth = format!("Bearer {}", self.token);
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let result = match method {
            Method::Get => self.agent.get(url).header("Authorization", &auth).call(),
            Method::Delete => self.agent.delete(url).header("Authorization", &auth).call(),
            Method::Post | Method::Patch | Method::Put => {
                let req = match method {
                    Method::Post => self.agent.post(url),
                    Method::Patch => self.agent.patch(url),
                    _ => self.agent.put(url),
                };
                req.header("Authorization", &auth)
                    .header("content-type", "application/json")
                    .send(payload.as_bytes())
            }
        };
        let mut resp = result.map_err(|e| match e {
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed => Attempt::NoAnswer(e.to_string()),
            other => Attempt::Failed(VaultError::Unreachable(other.to_string())),
        })?;
        let code = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| Attempt::Failed(VaultError::Unreachable(e.to_string())))?;
        if (200..300).contains(&code) {
            Ok(bytes)
        } else {
            Err(Attempt::Failed(VaultError::from_status(
                code,
                &String::from_utf8_lossy(&bytes),
            )))
        }
    }
}

/// Outcome of one attempt: `NoAnswer` may be retried (safe methods only).
enum Attempt {
    NoAnswer(String),
    Failed(VaultError),
}

impl Attempt {
    fn into_error(self) -> VaultError {
        match self {
            Attempt::NoAnswer(m) => VaultError::Unreachable(m),
            Attempt::Failed(e) => e,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_encoded_like_the_reference() {
        let c = VaultClient::new(Some("http://127.0.0.1:1940/"), "default", "t");
        assert_eq!(c.base_url(), "http://127.0.0.1:1940");
        assert_eq!(
            c.api_url("notes/Threads%2Feng%2Feng"),
            "http://127.0.0.1:1940/vault/default/api/notes/Threads%2Feng%2Feng"
        );
        assert_eq!(c.vault_key(), "http://127.0.0.1:1940::default");
        let d = VaultClient::new(None, "v", "t");
        assert_eq!(d.base_url(), DEFAULT_VAULT_URL);
        let e = VaultClient::new(Some(""), "v", "t");
        assert_eq!(e.base_url(), DEFAULT_VAULT_URL);
    }

    #[test]
    fn queries_keep_catalogue_order() {
        let q = NoteQuery::tagged("agent/message", 800).sorted(SortOrder::Desc);
        assert_eq!(
            q.to_query(),
            "tag=agent%2Fmessage&include_content=true&limit=800&sort=desc"
        );
        assert_eq!(
            NoteQuery::tagged("agent/definition", 500).to_query(),
            "tag=agent%2Fdefinition&include_content=true&limit=500"
        );
        let q = NoteQuery::tagged("agent/message/inbound", 100)
            .sorted(SortOrder::Desc)
            .offset(100)
            .meta("agent", "eng")
            .created_from("2026-06-01T00:00:00.000Z");
        assert_eq!(
            q.to_query(),
            "tag=agent%2Fmessage%2Finbound&include_content=true&limit=100&sort=desc&offset=100\
             &meta%5Bagent%5D=eng&meta%5Bcreated_at%5D%5Bgte%5D=2026-06-01T00%3A00%3A00.000Z"
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let c = VaultClient::new(None, "v", "secret-token");
        assert!(!format!("{c:?}").contains("secret-token"));
    }
}

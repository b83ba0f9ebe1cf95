//! Runtime triggers of the fake vault (spec 02 §1.3 `/api/triggers`, §1.4 trigger engine):
//! validation, the `when` predicate with the two-phase markers, and the webhook call with
//! `action.auth.bearer`. The engine itself (threads, concurrency cap) lives in `fake_vault`.
//! Modelled on parachute-vault `src/triggers.ts` + `core/src/hooks.ts`.

use serde_json::{json, Value};

use super::store::Note;

/// A registered trigger (stored unredacted; redacted on the wire).
#[derive(Debug, Clone)]
pub struct Trigger {
    pub name: String,
    pub events: Vec<String>,
    pub when: Value,
    pub action: Value,
    pub created_at: String,
    pub updated_at: String,
}

impl Trigger {
    pub fn pending_key(&self) -> String {
        format!("{}_pending_at", self.name)
    }

    pub fn rendered_key(&self) -> String {
        format!("{}_rendered_at", self.name)
    }

    pub fn bearer(&self) -> Option<String> {
        self.action
            .get("auth")
            .and_then(|a| a.get("bearer"))
            .and_then(Value::as_str)
            .map(str::to_string)
    }

    pub fn webhook(&self) -> String {
        self.action
            .get("webhook")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    }

    /// Webhook timeout: `action.timeout` ms, default 60 s.
    pub fn timeout_ms(&self) -> u64 {
        self.action
            .get("timeout")
            .and_then(Value::as_u64)
            .unwrap_or(60_000)
    }

    /// The wire shape with `action.auth.bearer` → `"[REDACTED]"`.
    pub fn to_json_redacted(&self) -> Value {
        let mut action = self.action.clone();
        if action.get("auth").and_then(|a| a.get("bearer")).is_some() {
            action["auth"]["bearer"] = json!("[REDACTED]");
        }
        json!({"name": self.name, "events": self.events, "when": self.when, "action": action,
               "created_at": self.created_at, "updated_at": self.updated_at})
    }

    /// The predicate of §1.4, all conditions ANDed.
    pub fn matches(&self, event: &str, note: &Note) -> bool {
        if !self.events.iter().any(|e| e == event) {
            return false;
        }
        let meta = &note.metadata;
        let present = |k: &str| meta.get(k).is_some_and(|v| !v.is_null());
        if present(&self.pending_key()) || present(&self.rendered_key()) {
            return false;
        }
        let strs = |key: &str| -> Vec<String> {
            self.when
                .get(key)
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        if !strs("tags").iter().all(|t| note.tags.contains(t)) {
            return false;
        }
        if !strs("has_metadata").iter().all(|k| present(k)) {
            return false;
        }
        if strs("missing_metadata").iter().any(|k| present(k)) {
            return false;
        }
        match self.when.get("has_content").and_then(Value::as_bool) {
            Some(true) if note.content.trim().is_empty() => return false,
            Some(false) if !note.content.trim().is_empty() => return false,
            _ => {}
        }
        if let Some(Value::Object(wanted)) = self.when.get("metadata") {
            for (k, v) in wanted {
                if !v.is_object() && meta.get(k) != Some(v) {
                    return false;
                }
            }
        }
        true
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Validate a `POST /api/triggers` body (§1.3) into a trigger, or the 400 message.
pub fn parse_trigger(body: &Value, now: &str) -> Result<Trigger, String> {
    let name = body.get("name").and_then(Value::as_str).unwrap_or_default();
    if !valid_name(name) {
        return Err("name must match ^[A-Za-z0-9][A-Za-z0-9_-]*$".into());
    }
    let events = match body.get("events") {
        None | Some(Value::Null) => vec!["created".to_string(), "updated".to_string()],
        Some(Value::Array(items)) => {
            let mut out = Vec::new();
            for e in items {
                match e.as_str() {
                    Some(s @ ("created" | "updated")) => out.push(s.to_string()),
                    _ => {
                        return Err(format!(
                            "events may only contain \"created\" and \"updated\" (got {e})"
                        ))
                    }
                }
            }
            out
        }
        Some(_) => return Err("events must be an array".into()),
    };
    let when = match body.get("when") {
        Some(w @ Value::Object(_)) => w.clone(),
        _ => return Err("when must be an object".into()),
    };
    let action = match body.get("action") {
        Some(a @ Value::Object(_)) => a.clone(),
        _ => return Err("action must be an object".into()),
    };
    let webhook = action
        .get("webhook")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !(webhook.starts_with("http://") || webhook.starts_with("https://")) {
        return Err("action.webhook must be an http(s) URL".into());
    }
    if let Some(auth) = action.get("auth") {
        match auth.get("bearer") {
            None => {}
            Some(Value::String(s)) if !s.is_empty() => {}
            Some(_) => return Err("action.auth.bearer must be a non-empty string".into()),
        }
    }
    Ok(Trigger {
        name: name.to_string(),
        events,
        when,
        action,
        created_at: now.to_string(),
        updated_at: now.to_string(),
    })
}

/// The `send:"json"` payload (§1.4): metadata as it was before the pending marker.
pub fn payload(trigger: &Trigger, event: &str, note: &Note, meta_before: &Value) -> Value {
    json!({
        "trigger": trigger.name,
        "event": event,
        "note": {
            "id": note.id,
            "content": note.content,
            "path": note.path,
            "tags": note.tags,
            "metadata": meta_before,
            "attachments": note.attachments,
            "createdAt": note.created_at,
            "updatedAt": note.updated_at,
        }
    })
}

/// Outcome of one webhook call.
pub enum WebhookResult {
    /// 2xx with a JSON (or empty) body.
    Applied(Value),
    /// Non-2xx, non-JSON 2xx, timeout or network error: the note stays pending.
    Failed(String),
}

/// POST the payload to the trigger's webhook.
pub fn call_webhook(trigger: &Trigger, payload: &Value) -> (Option<u16>, WebhookResult) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_millis(trigger.timeout_ms())))
        .build()
        .new_agent();
    let mut req = agent
        .post(trigger.webhook())
        .header("Content-Type", "application/json");
    if let Some(b) = trigger.bearer() {
        req = req.header("Authorization", format!("Bearer {b}"));
    }
    let mut resp = match req.send(payload.to_string().as_bytes()) {
        Ok(r) => r,
        Err(e) => return (None, WebhookResult::Failed(e.to_string())),
    };
    let code = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    if !(200..300).contains(&code) {
        return (
            Some(code),
            WebhookResult::Failed(format!("webhook returned {code}: {text}")),
        );
    }
    if text.trim().is_empty() {
        return (Some(code), WebhookResult::Applied(json!({})));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => (Some(code), WebhookResult::Applied(v)),
        Err(e) => (
            Some(code),
            WebhookResult::Failed(format!("bad JSON from webhook: {e}")),
        ),
    }
}

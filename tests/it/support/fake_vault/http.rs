//! The fake vault's HTTP side: request parsing, failure injection, auth, and the REST
//! routes of spec 02 §1.2 over the shared store.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;

use parachute_agent::util::time::now_iso;
use serde_json::{json, Value};

use super::store::Outcome;
use super::*;

/// Key of an outcome body that stands for raw bytes (base64), e.g. storage downloads.
const RAW_BODY: &str = "$raw-bytes-base64";

pub(super) fn base64_std(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(super) fn respond(rq: tiny_http::Request, status: u16, body: &Value) {
    // Written raw so the answer can carry `Connection: close` (tiny_http strips that
    // header): no keep-alive, so a "down" vault refuses the very next call instead of
    // leaving a pooled connection nobody serves any more.
    let raw = body.get(RAW_BODY).and_then(Value::as_str).and_then(|b| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(b).ok()
    });
    let (ctype, body) = match raw {
        Some(bytes) => ("application/octet-stream", bytes),
        None => ("application/json", body.to_string().into_bytes()),
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        if status < 400 { "OK" } else { "Error" },
        body.len()
    );
    let mut w = rq.into_writer();
    let _ = w.write_all(head.as_bytes());
    let _ = w.write_all(&body);
    let _ = w.flush();
}

pub(super) fn serve(shared: &Arc<Shared>, mut rq: tiny_http::Request) {
    let method = rq.method().as_str().to_uppercase();
    let url = rq.url().to_string();
    let headers: Vec<(String, String)> = rq
        .headers()
        .iter()
        .map(|h| {
            (
                h.field.as_str().as_str().to_string(),
                h.value.as_str().to_string(),
            )
        })
        .collect();
    let mut raw = String::new();
    let _ = rq.as_reader().read_to_string(&mut raw);
    let body: Option<Value> = serde_json::from_str(&raw).ok();
    let logged = LoggedRequest {
        method: method.clone(),
        url: url.clone(),
        headers,
        body: body.clone(),
        raw_body: raw.clone(),
    };
    let injected = {
        let mut st = shared.state.lock();
        st.log.push(logged.clone());
        take_failure(&mut st.failures, &method, &url)
    };
    if let Some((status, body)) = injected {
        return respond(rq, status, &body);
    }
    let (status, body, vault, events) = route(shared, &logged, body.as_ref(), &raw);
    respond(rq, status, &body);
    if let Some(vault) = vault {
        dispatch(shared, &vault, events);
    }
}

pub(super) fn take_failure(
    rules: &mut Vec<FailRule>,
    method: &str,
    url: &str,
) -> Option<(u16, Value)> {
    let i = rules.iter().position(|r| {
        r.method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method))
            && url.contains(&r.url_contains)
    })?;
    let rule = rules[i].clone();
    if let Some(n) = rules[i].times.as_mut() {
        *n = n.saturating_sub(1);
        if *n == 0 {
            rules.remove(i);
        }
    }
    Some((rule.status, rule.body))
}

type Routed = (u16, Value, Option<String>, Vec<(Event, String)>);

pub(super) fn decode(seg: &str) -> String {
    percent_encoding::percent_decode_str(seg)
        .decode_utf8_lossy()
        .into_owned()
}

pub(super) fn route(
    shared: &Arc<Shared>,
    rq: &LoggedRequest,
    body: Option<&Value>,
    raw: &str,
) -> Routed {
    let (path, query) = rq.url.split_once('?').unwrap_or((rq.url.as_str(), ""));
    let q: BTreeMap<String, String> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let not_found = (404, json!({"error": "Not found"}), None, vec![]);
    if segs.len() < 3 || segs[0] != "vault" || segs[2] != "api" {
        return not_found;
    }
    let vault = decode(segs[1]);
    let rest = &segs[3..];
    let mut st = shared.state.lock();
    if !st.vaults.contains_key(&vault) {
        return (
            404,
            json!({"error": "Vault not found", "vault": vault}),
            None,
            vec![],
        );
    }
    let needed = match (rest.first().copied(), rq.method.as_str()) {
        (Some("triggers"), _) => Verb::Admin,
        (_, "GET" | "HEAD" | "OPTIONS") => Verb::Read,
        _ => Verb::Write,
    };
    if let Err((status, body)) = authorize(&st, rq, &q, &vault, needed) {
        return (status, body, None, vec![]);
    }
    let needs_json = matches!(rq.method.as_str(), "POST" | "PATCH" | "PUT");
    if needs_json && body.is_none() {
        let _ = raw;
        return (400, json!({"error": "Invalid JSON body"}), None, vec![]);
    }
    let empty = Value::Null;
    let body = body.unwrap_or(&empty);
    let m = rq.method.as_str();
    let out = match (m, rest) {
        (_, ["triggers"]) | (_, ["triggers", _]) => {
            return route_triggers(&mut st, &vault, m, rest, body)
        }
        ("GET", ["notes"]) => st.vaults[&vault].list(&q),
        ("POST", ["notes"]) => st.vaults.get_mut(&vault).unwrap().create(body),
        ("GET", ["notes", key]) => {
            let key = decode(key);
            let v = &st.vaults[&vault];
            match v.find(&key) {
                Some(i) => {
                    let include = q.get("include_content").map(String::as_str) != Some("false");
                    Outcome::err(200, v.notes[i].to_json(include))
                }
                None => Outcome::err(404, json!({"error": "Not found"})),
            }
        }
        ("PATCH", ["notes", key]) => st.vaults.get_mut(&vault).unwrap().patch(&decode(key), body),
        ("DELETE", ["notes", key]) => st.vaults.get_mut(&vault).unwrap().delete(&decode(key)),
        ("GET", ["notes", key, "attachments"]) => {
            let v = &st.vaults[&vault];
            match v.find(&decode(key)) {
                Some(i) => Outcome::err(200, Value::Array(v.notes[i].attachments.clone())),
                None => store::not_found(&decode(key)),
            }
        }
        ("GET", ["storage", p]) => match st.vaults[&vault].storage.get(&decode(p)) {
            // served as raw bytes, like the real vault (see `respond`)
            Some(bytes) => Outcome::err(200, json!({ RAW_BODY: base64_std(bytes) })),
            None => Outcome::err(404, json!({"error": "Not found"})),
        },
        ("PUT", ["tags", name]) => {
            let name = decode(name).trim_start_matches('#').to_string();
            let v = st.vaults.get_mut(&vault).unwrap();
            let rec = v
                .tags
                .entry(name.clone())
                .or_insert_with(|| json!({"name": name}));
            if let Value::Object(b) = body {
                for (k, val) in b {
                    if k == "fields"
                        && val.is_object()
                        && rec.get("fields").is_some_and(Value::is_object)
                    {
                        let mut fields = rec["fields"].as_object().cloned().unwrap_or_default();
                        store::merge_metadata(&mut fields, val.as_object().unwrap());
                        rec["fields"] = Value::Object(fields);
                    } else {
                        rec[k] = val.clone();
                    }
                }
            }
            Outcome::err(200, rec.clone())
        }
        ("GET", ["tags", name]) => match st.vaults[&vault].tags.get(&decode(name)) {
            Some(t) => Outcome::err(200, t.clone()),
            None => Outcome::err(404, json!({"error": "Not found"})),
        },
        (_, ["notes"])
        | (_, ["notes", _])
        | (_, ["notes", _, "attachments"])
        | (_, ["tags", _]) => Outcome::err(405, json!({"error": "Method not allowed"})),
        _ => Outcome::err(404, json!({"error": "Not found"})),
    };
    (out.status, out.body, Some(vault), out.events)
}

pub(super) fn authorize(
    st: &State,
    rq: &LoggedRequest,
    q: &BTreeMap<String, String>,
    vault: &str,
    needed: Verb,
) -> Result<(), (u16, Value)> {
    let bearer = rq
        .header("authorization")
        .and_then(|h| {
            h.strip_prefix("Bearer ")
                .or_else(|| h.strip_prefix("bearer "))
        })
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let token = bearer
        .or_else(|| rq.header("x-api-key"))
        .or_else(|| q.get("key").map(String::as_str));
    let Some(token) = token else {
        return Err((
            401,
            json!({"error": "Unauthorized", "message": "API key required"}),
        ));
    };
    let Some((scope, verb)) = st.grants.get(token) else {
        return Err((
            401,
            json!({"error": "Unauthorized", "message": "Invalid API key"}),
        ));
    };
    if scope.as_deref().is_some_and(|s| s != vault) {
        return Err((
            401,
            json!({"error": "Unauthorized", "message": "Invalid API key"}),
        ));
    }
    if *verb < needed {
        let name = match needed {
            Verb::Read => "vault:read",
            Verb::Write => "vault:write",
            Verb::Admin => "vault:admin",
        };
        return Err((
            403,
            json!({"error": "Forbidden", "error_type": "insufficient_scope",
                   "message": format!("this call requires {name}"), "required_scope": name,
                   "granted_scopes": [format!("{verb:?}").to_lowercase()]}),
        ));
    }
    Ok(())
}

pub(super) fn route_triggers(
    st: &mut State,
    vault: &str,
    method: &str,
    rest: &[&str],
    body: &Value,
) -> Routed {
    let list = st.triggers.entry(vault.to_string()).or_default();
    let out = match (method, rest) {
        ("POST", ["triggers"]) => match triggers::parse_trigger(body, &now_iso()) {
            Ok(mut t) => {
                if let Some(old) = list.iter().find(|x| x.name == t.name) {
                    t.created_at = old.created_at.clone();
                }
                list.retain(|x| x.name != t.name);
                let wire = t.to_json_redacted();
                list.push(t);
                (200, json!({"trigger": wire}))
            }
            Err(msg) => (400, json!({"error": msg})),
        },
        ("GET", ["triggers"]) => (
            200,
            json!({"triggers": list.iter().map(Trigger::to_json_redacted).collect::<Vec<_>>()}),
        ),
        ("GET", ["triggers", name]) => match list.iter().find(|t| t.name == decode(name)) {
            Some(t) => (200, json!({"trigger": t.to_json_redacted()})),
            None => (404, json!({"error": "Not found"})),
        },
        ("DELETE", ["triggers", name]) => {
            let name = decode(name);
            let before = list.len();
            list.retain(|t| t.name != name);
            if list.len() < before {
                (200, json!({"deleted": name}))
            } else {
                (404, json!({"error": "Not found"}))
            }
        }
        _ => (405, json!({"error": "Method not allowed"})),
    };
    (out.0, out.1, None, vec![])
}

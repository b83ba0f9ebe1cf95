//! The `wants:` grammar of an `agent/definition` note (spec 03 §2.4): connection specs an
//! agent asks the hub to grant beyond its own def-vault, and their canonical grant keys.
//!
//! Pure: no I/O. A malformed entry makes the whole definition a parse error (the caller
//! prefixes the message with `#agent/definition note <id>: `).

use serde_json::Value;
use std::fmt;

use super::spec::is_slug;

/// Env names a grant may never set (the session's managed Claude auth, spec 03 §4.2).
pub const DENYLISTED_ENV: [&str; 3] = [
    "ANTHROPIC_API_KEY",
    "CLAUDE_API_KEY",
    "CLAUDE_CODE_OAUTH_TOKEN",
];

pub use crate::hub::connection::{Connection, Inject};

/// A malformed `wants:` entry. `Display` is the spec's text (without the note prefix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantsError(pub String);

impl fmt::Display for WantsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for WantsError {}

/// The env var a service credential is injected as: `GITHUB_TOKEN`, `CLOUDFLARE_API_TOKEN`,
/// else the upper-cased name with every run of non-alphanumerics turned into `_`, + `_TOKEN`.
pub fn service_env_var(service: &str) -> String {
    match service {
        "github" => return "GITHUB_TOKEN".into(),
        "cloudflare" => return "CLOUDFLARE_API_TOKEN".into(),
        _ => {}
    }
    let mut out = String::new();
    let mut in_run = false;
    for c in service.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_uppercase());
            in_run = false;
        } else if !in_run {
            out.push('_');
            in_run = true;
        }
    }
    out.push_str("_TOKEN");
    out
}

/// Split a `wants` metadata value into entries: an array → each element as text; a string
/// → split on commas/whitespace; absent/null → nothing; any other scalar → its text.
pub fn entries(raw: Option<&Value>) -> Vec<String> {
    let parts: Vec<String> = match raw {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items.iter().map(value_text).collect(),
        Some(Value::String(s)) => split_list(s),
        Some(other) => vec![value_text(other)],
    };
    parts
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Split on runs of commas and whitespace (`/[,\s]+/`).
pub(crate) fn split_list(s: &str) -> Vec<String> {
    s.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::to_string)
        .collect()
}

/// A JSON value as text, the way a JavaScript `String(x)` renders scalars.
pub(crate) fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// Parse a `wants` value into connections, merging `env:X` + `mcp:X` into one service
/// entry at the first one's position (inject order env, mcp).
pub fn parse_wants(raw: Option<&Value>) -> Result<Vec<Connection>, WantsError> {
    let mut out: Vec<Connection> = Vec::new();
    for entry in entries(raw) {
        let conn = parse_one(&entry)?;
        if let Connection::Service { target, inject } = &conn {
            let existing = out.iter_mut().find_map(|c| match c {
                Connection::Service {
                    target: t,
                    inject: i,
                } if t == target => Some(i),
                _ => None,
            });
            if let Some(modes) = existing {
                for m in inject {
                    if !modes.contains(m) {
                        modes.push(*m);
                    }
                }
                modes.sort();
                continue;
            }
        }
        out.push(conn);
    }
    Ok(out)
}

fn parse_one(entry: &str) -> Result<Connection, WantsError> {
    let Some((prefix, rest)) = entry.split_once(':') else {
        return Err(WantsError(format!(
            "wants: \"{entry}\" is malformed — expected \"<kind>:<target>…\" \
             (e.g. \"vault:research:read\", \"env:github\", \"mcp:https://…\")."
        )));
    };
    match prefix {
        "vault" => parse_vault(entry, rest),
        "env" => parse_service(entry, rest, Inject::Env),
        "mcp" if has_http_scheme(rest) => parse_mcp_url(entry, rest),
        "mcp" => parse_service(entry, rest, Inject::Mcp),
        other => Err(WantsError(format!(
            "wants: \"{entry}\" has unknown kind \"{other}\" — expected one of vault | env | mcp."
        ))),
    }
}

fn parse_vault(entry: &str, rest: &str) -> Result<Connection, WantsError> {
    let Some((name, verb_and_tags)) = rest.split_once(':') else {
        return Err(WantsError(format!(
            "wants: \"{entry}\" is malformed — a vault connection needs a verb: \
             \"vault:<name>:<read|write>\"."
        )));
    };
    if !is_slug(name) {
        return Err(WantsError(format!(
            "wants: \"{entry}\" — vault name \"{name}\" must be a slug (alphanumeric, dash, underscore)."
        )));
    }
    let (verb, tags) = match verb_and_tags.find('#') {
        Some(i) => {
            let tags: Vec<String> = verb_and_tags[i..]
                .split('#')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| format!("#{t}"))
                .collect();
            (&verb_and_tags[..i], (!tags.is_empty()).then_some(tags))
        }
        None => (verb_and_tags, None),
    };
    let verb = verb.trim();
    if verb != "read" && verb != "write" {
        return Err(WantsError(format!(
            "wants: \"{entry}\" — vault access must be \"read\" or \"write\" (got \"{verb}\")."
        )));
    }
    Ok(Connection::Vault {
        target: name.to_string(),
        access: verb.to_string(),
        tags,
    })
}

fn parse_service(entry: &str, service: &str, mode: Inject) -> Result<Connection, WantsError> {
    let target = service.trim();
    if !is_slug(target) {
        return Err(WantsError(format!(
            "wants: \"{entry}\" — service name \"{target}\" must be a slug (alphanumeric, dash, underscore)."
        )));
    }
    let var = service_env_var(target);
    if DENYLISTED_ENV.contains(&var.as_str()) {
        return Err(WantsError(format!(
            "wants: \"{entry}\" — service \"{target}\" maps to the protected env var {var}, \
             which a grant can never set (it's the session's managed Claude auth)."
        )));
    }
    Ok(Connection::Service {
        target: target.to_string(),
        inject: vec![mode],
    })
}

fn has_http_scheme(s: &str) -> bool {
    let lower = s.get(..8).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

fn parse_mcp_url(entry: &str, url: &str) -> Result<Connection, WantsError> {
    if !is_valid_http_url(url) {
        return Err(WantsError(format!(
            "wants: \"{entry}\" — \"{url}\" is not a valid URL."
        )));
    }
    Ok(Connection::Mcp {
        target: url.to_string(),
    })
}

/// A WHATWG-style sanity check for an `http(s)://` URL: a non-empty host without spaces or
/// forbidden characters, and a numeric port (≤ 65535) when one is given.
fn is_valid_http_url(url: &str) -> bool {
    let after = match url.find("://") {
        Some(i) => &url[i + 3..],
        None => return false,
    };
    let authority = after.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit('@').next().unwrap_or("");
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        match rest.split_once(']') {
            Some((h, p)) => (h, p.strip_prefix(':')),
            None => return false,
        }
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        }
    };
    let host_ok = !host.is_empty()
        && !host
            .chars()
            .any(|c| c.is_whitespace() || "<>^|%\\\"`{}".contains(c));
    let port_ok = match port {
        None | Some("") => true,
        Some(p) => {
            p.bytes().all(|b| b.is_ascii_digit()) && p.parse::<u32>().is_ok_and(|n| n <= 65535)
        }
    };
    host_ok && port_ok && !url.chars().any(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<Vec<Connection>, WantsError> {
        parse_wants(Some(&v))
    }

    fn keys(v: Value) -> Vec<String> {
        parse(v).unwrap().iter().map(Connection::key).collect()
    }

    #[test]
    fn vault_entries_with_and_without_tags() {
        let c = parse(json!("vault:research:read#wip#published")).unwrap();
        assert_eq!(
            c,
            vec![Connection::Vault {
                target: "research".into(),
                access: "read".into(),
                tags: Some(vec!["#wip".into(), "#published".into()]),
            }]
        );
        assert_eq!(c[0].key(), "vault:research:read#published#wip");
        assert_eq!(keys(json!("vault:r:write")), vec!["vault:r:write"]);
        // a lone `#` yields no tags
        assert_eq!(keys(json!("vault:r:write#")), vec!["vault:r:write"]);
        let j = serde_json::to_value(&c[0]).unwrap();
        assert_eq!(
            j,
            json!({"kind":"vault","target":"research","access":"read","tags":["#wip","#published"]})
        );
    }

    #[test]
    fn services_merge_at_first_position() {
        let c = parse(json!("mcp:github, vault:a:read env:github env:slack")).unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(
            c[0],
            Connection::Service {
                target: "github".into(),
                inject: vec![Inject::Env, Inject::Mcp]
            }
        );
        assert_eq!(c[0].key(), "env+mcp:github");
        assert_eq!(c[1].key(), "vault:a:read");
        assert_eq!(c[2].key(), "env:slack");
        assert_eq!(
            serde_json::to_value(&c[0]).unwrap(),
            json!({"kind":"service","target":"github","inject":["env","mcp"]})
        );
    }

    #[test]
    fn mcp_urls_and_array_input() {
        let c = parse(json!([
            "mcp:https://example.com/mcp",
            " mcp:HTTP://x.io:8080 "
        ]))
        .unwrap();
        assert_eq!(c[0].key(), "mcp:https://example.com/mcp");
        assert_eq!(c[1].kind(), "mcp");
        assert_eq!(c[1].target(), "HTTP://x.io:8080");
        assert_eq!(parse(json!("")).unwrap(), vec![]);
        assert_eq!(parse_wants(None).unwrap(), vec![]);
        assert_eq!(parse(Value::Null).unwrap(), vec![]);
    }

    #[test]
    fn every_error_message() {
        let err = |v: Value| parse(v).unwrap_err().to_string();
        assert_eq!(
            err(json!("github")),
            "wants: \"github\" is malformed — expected \"<kind>:<target>…\" (e.g. \"vault:research:read\", \"env:github\", \"mcp:https://…\")."
        );
        assert_eq!(
            err(json!("ssh:box")),
            "wants: \"ssh:box\" has unknown kind \"ssh\" — expected one of vault | env | mcp."
        );
        assert_eq!(
            err(json!("vault:research")),
            "wants: \"vault:research\" is malformed — a vault connection needs a verb: \"vault:<name>:<read|write>\"."
        );
        assert_eq!(
            err(json!("vault:re.search:read")),
            "wants: \"vault:re.search:read\" — vault name \"re.search\" must be a slug (alphanumeric, dash, underscore)."
        );
        assert_eq!(
            err(json!("vault:r:admin")),
            "wants: \"vault:r:admin\" — vault access must be \"read\" or \"write\" (got \"admin\")."
        );
        assert_eq!(
            err(json!("env:git.hub")),
            "wants: \"env:git.hub\" — service name \"git.hub\" must be a slug (alphanumeric, dash, underscore)."
        );
        assert_eq!(
            err(json!("env:claude-code-oauth")),
            "wants: \"env:claude-code-oauth\" — service \"claude-code-oauth\" maps to the protected env var CLAUDE_CODE_OAUTH_TOKEN, which a grant can never set (it's the session's managed Claude auth)."
        );
        assert_eq!(
            err(json!("mcp:https://")),
            "wants: \"mcp:https://\" — \"https://\" is not a valid URL."
        );
        assert!(err(json!("mcp:https://a:99999")).contains("is not a valid URL"));
        // a number is stringified and then malformed
        assert!(err(json!(5)).contains("\"5\" is malformed"));
        // the first bad entry wins even after good ones
        assert!(err(json!("env:github,bad")).starts_with("wants: \"bad\""));
    }

    #[test]
    fn env_var_names() {
        assert_eq!(service_env_var("github"), "GITHUB_TOKEN");
        assert_eq!(service_env_var("cloudflare"), "CLOUDFLARE_API_TOKEN");
        assert_eq!(service_env_var("my--svc_x"), "MY_SVC_X_TOKEN");
        assert_eq!(
            service_env_var("claude_code_oauth"),
            "CLAUDE_CODE_OAUTH_TOKEN"
        );
    }
}

//! Approved-grant injection at every turn (spec 04 §3.4, spec 03 §4.4): for each
//! `approved` grant of the agent, fetched fresh (never cached, never logged), material of
//! kind `vault`/`mcp` becomes an MCP server in `.mcp.json` and kind `service` becomes an
//! env var (layer 1, below the env store) and/or a known MCP server. Failures only warn:
//! the turn runs without the affected connection.

use std::collections::BTreeMap;

use serde_json::Value;

use super::workspace::McpServer;
use crate::agents::wants::service_env_var;
use crate::hub::grants::{GrantRecord, GrantsClient};

/// What a turn receives from its grants.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GrantInjection {
    pub servers: Vec<McpServer>,
    pub env: BTreeMap<String, String>,
}

/// Known MCP endpoints of services granted with `inject: mcp`.
fn service_mcp_url(service: &str) -> Option<&'static str> {
    match service {
        "github" => Some("https://api.githubcopilot.com/mcp/"),
        _ => None,
    }
}

fn s<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str).filter(|x| !x.is_empty())
}

/// Add one grant's material to `out` (pure).
pub fn apply_material(
    agent: &str,
    grant: &GrantRecord,
    material: &Value,
    out: &mut GrantInjection,
) {
    let target = grant
        .raw
        .get("connection")
        .and_then(|c| s(c, "target"))
        .or_else(|| s(material, "target"))
        .unwrap_or_default()
        .to_string();
    let token = s(material, "token").map(str::to_string);
    let mut add_server = |name: String, url: &str| {
        out.servers.retain(|x| x.name != name);
        out.servers.push(McpServer {
            name,
            url: url.to_string(),
            token: token.clone(),
        });
    };
    match s(material, "kind") {
        Some("vault") => {
            if let Some(url) = s(material, "mcpUrl") {
                add_server(format!("grant-vault-{target}"), url);
            }
        }
        Some("mcp") => {
            if let Some(url) = s(material, "mcpUrl") {
                add_server(format!("grant-mcp-{}", grant.id), url);
            }
        }
        Some("service") => {
            let inject: Vec<&str> = material
                .get("inject")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if inject.contains(&"env") {
                if let Some(t) = &token {
                    out.env.insert(service_env_var(&target), t.clone());
                }
            }
            if inject.contains(&"mcp") {
                match service_mcp_url(&target) {
                    Some(url) => add_server(format!("grant-service-{target}"), url),
                    None => log::warn!(
                        "parachute-agent: grant for \"{agent}\" ({target}) granted with inject:\"mcp\" but no known MCP URL — skipping the MCP injection (the env injection, if any, still applies)."
                    ),
                }
            }
        }
        other => log::warn!(
            "parachute-agent: grant {} for \"{agent}\" has unknown material kind {other:?}; skipped",
            grant.id
        ),
    }
}

/// List the agent's grants and fetch the material of each approved one.
pub fn resolve(client: &GrantsClient, agent: &str) -> GrantInjection {
    let mut out = GrantInjection::default();
    let grants = match client.list(agent) {
        Ok(g) => g,
        Err(e) => {
            log::warn!("parachute-agent: resolving grants for \"{agent}\" failed (running this turn WITHOUT cross-resource grants — own-vault unaffected): {e}");
            return out;
        }
    };
    for g in grants.iter().filter(|g| g.status == "approved") {
        match client.material(&g.id) {
            Ok(Some(m)) => apply_material(agent, g, &m, &mut out),
            Ok(None) => {}
            Err(e) => log::warn!(
                "parachute-agent: fetching grant material for \"{agent}\" ({}) failed (skipping this connection): {e}",
                g.id
            ),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn grant(id: &str, target: &str) -> GrantRecord {
        GrantRecord {
            id: id.into(),
            status: "approved".into(),
            raw: json!({"id": id, "status": "approved", "connection": {"target": target}}),
        }
    }

    #[test]
    fn materials_map_to_servers_and_env() {
        let mut out = GrantInjection::default();
        apply_material(
            "eng",
            &grant("g1", "research"),
            &json!({"kind": "vault", "token": "vt", "mcpUrl": "https://hub/vault/research/mcp"}),
            &mut out,
        );
        apply_material(
            "eng",
            &grant("g2", "https://x.example/mcp"),
            &json!({"kind": "mcp", "token": "mt", "mcpUrl": "https://x.example/mcp"}),
            &mut out,
        );
        apply_material(
            "eng",
            &grant("g3", "github"),
            &json!({"kind": "service", "token": "ght", "inject": ["env", "mcp"]}),
            &mut out,
        );
        apply_material(
            "eng",
            &grant("g4", "my-svc"),
            &json!({"kind": "service", "token": "st", "inject": ["env", "mcp"]}),
            &mut out,
        );
        apply_material(
            "eng",
            &grant("g5", "z"),
            &json!({"kind": "weird"}),
            &mut out,
        );
        let names: Vec<&str> = out.servers.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "grant-vault-research",
                "grant-mcp-g2",
                "grant-service-github"
            ]
        );
        assert_eq!(out.servers[2].url, "https://api.githubcopilot.com/mcp/");
        assert_eq!(out.servers[0].token.as_deref(), Some("vt"));
        assert_eq!(out.env.get("GITHUB_TOKEN").map(String::as_str), Some("ght"));
        assert_eq!(out.env.get("MY_SVC_TOKEN").map(String::as_str), Some("st"));
        assert_eq!(out.env.len(), 2);
    }
}

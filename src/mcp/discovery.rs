//! OAuth discovery for the MCP endpoint (spec 05 §1.9, spec 01 §2.6): the public base URL
//! built from `X-Forwarded-*`, the RFC 9728 protected-resource document, the RFC 8414
//! forwarding document, the `WWW-Authenticate` challenge of a `/mcp/<ch>` 401, and the
//! [ext] `Origin` check of spec 07 §3 (missing passes; a foreign origin gets 403).

use serde_json::{json, Value};

/// The scopes an MCP client should ask for.
pub const SCOPES: [&str; 2] = ["agent:read", "agent:write"];

/// Where the daemon is reachable from the client's side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicBase {
    /// `https://host` or `http://127.0.0.1:1941`.
    pub origin: String,
    /// `/agent` behind the hub's proxy, empty when addressed directly.
    pub prefix: &'static str,
}

impl PublicBase {
    /// From the request headers: `x-forwarded-host` present → `<x-forwarded-proto or https>://
    /// <x-forwarded-host>` + `/agent`; else `http://<Host>`, else `http://127.0.0.1:<port>`.
    pub fn from_headers(
        forwarded_host: Option<&str>,
        forwarded_proto: Option<&str>,
        host: Option<&str>,
        port: u16,
    ) -> Self {
        if let Some(fh) = forwarded_host {
            let proto = forwarded_proto.filter(|p| !p.is_empty()).unwrap_or("https");
            return PublicBase {
                origin: format!("{proto}://{fh}"),
                prefix: "/agent",
            };
        }
        let origin = match host.filter(|h| !h.is_empty()) {
            Some(h) => format!("http://{h}"),
            None => format!("http://127.0.0.1:{port}"),
        };
        PublicBase { origin, prefix: "" }
    }

    /// `<base><prefix>/mcp/<ch>`.
    pub fn resource(&self, channel: &str) -> String {
        format!("{}{}/mcp/{channel}", self.origin, self.prefix)
    }

    /// `<base><prefix>/.well-known/oauth-protected-resource/mcp/<ch>`.
    pub fn resource_metadata(&self, channel: &str) -> String {
        format!(
            "{}{}/.well-known/oauth-protected-resource/mcp/{channel}",
            self.origin, self.prefix
        )
    }

    /// The `WWW-Authenticate` value of a `/mcp/<ch>` 401.
    pub fn challenge(&self, channel: &str) -> String {
        format!(
            "Bearer resource_metadata=\"{}\"",
            self.resource_metadata(channel)
        )
    }
}

/// RFC 9728 document.
pub fn protected_resource(base: &PublicBase, channel: &str, hub: &str) -> Value {
    json!({
        "resource": base.resource(channel),
        "authorization_servers": [hub],
        "scopes_supported": SCOPES,
        "bearer_methods_supported": ["header"],
    })
}

/// RFC 8414 forwarding document (points at the hub).
pub fn authorization_server(hub: &str) -> Value {
    json!({
        "issuer": hub,
        "authorization_endpoint": format!("{hub}/oauth/authorize"),
        "token_endpoint": format!("{hub}/oauth/token"),
        "registration_endpoint": format!("{hub}/oauth/register"),
        "jwks_uri": format!("{hub}/.well-known/jwks.json"),
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_post"],
        "scopes_supported": SCOPES,
    })
}

/// The `host[:port]` of an origin URL (`scheme://authority`), lower-cased.
fn authority(origin: &str) -> Option<String> {
    let rest = origin.split_once("://")?.1;
    let auth = rest.split('/').next()?;
    (!auth.is_empty()).then(|| auth.to_ascii_lowercase())
}

fn is_loopback(auth: &str) -> bool {
    let host = if let Some(rest) = auth.strip_prefix('[') {
        rest.split(']')
            .next()
            .map(|h| format!("[{h}]"))
            .unwrap_or_default()
    } else {
        auth.split(':').next().unwrap_or("").to_string()
    };
    matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]")
}

/// The [ext] DNS-rebinding guard: a request with an `Origin` header passes only if that
/// origin is loopback, equals the `Host` / `X-Forwarded-Host` authority, or is the hub's.
pub fn origin_allowed(
    origin: Option<&str>,
    host: Option<&str>,
    forwarded_host: Option<&str>,
    hub_origin: &str,
) -> bool {
    let Some(origin) = origin.map(str::trim).filter(|o| !o.is_empty()) else {
        return true;
    };
    let Some(auth) = authority(origin) else {
        return false; // "null" or garbage
    };
    if is_loopback(&auth) {
        return true;
    }
    let same = |h: Option<&str>| h.is_some_and(|h| h.trim().eq_ignore_ascii_case(&auth));
    same(host) || same(forwarded_host) || authority(hub_origin).is_some_and(|h| h == auth)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_direct_and_proxied() {
        let direct = PublicBase::from_headers(None, None, Some("127.0.0.1:1941"), 1941);
        assert_eq!(
            direct.challenge("ui1"),
            "Bearer resource_metadata=\"http://127.0.0.1:1941/.well-known/oauth-protected-resource/mcp/ui1\""
        );
        let proxied = PublicBase::from_headers(
            Some("parachute.example.ts.net"),
            Some("https"),
            Some("127.0.0.1:1941"),
            1941,
        );
        assert_eq!(
            proxied.challenge("ui1"),
            "Bearer resource_metadata=\"https://parachute.example.ts.net/agent/.well-known/oauth-protected-resource/mcp/ui1\""
        );
        let no_proto = PublicBase::from_headers(Some("h.example"), Some(""), None, 1941);
        assert_eq!(no_proto.resource("a b"), "https://h.example/agent/mcp/a b");
        let no_host = PublicBase::from_headers(None, None, None, 5000);
        assert_eq!(no_host.resource("x"), "http://127.0.0.1:5000/mcp/x");
    }

    #[test]
    fn documents() {
        let base = PublicBase::from_headers(None, None, Some("localhost:1941"), 1941);
        let pr = protected_resource(&base, "eng", "http://127.0.0.1:1939");
        assert_eq!(pr["resource"], "http://localhost:1941/mcp/eng");
        assert_eq!(
            pr["authorization_servers"],
            json!(["http://127.0.0.1:1939"])
        );
        assert_eq!(pr["scopes_supported"], json!(["agent:read", "agent:write"]));
        assert_eq!(pr["bearer_methods_supported"], json!(["header"]));
        let asd = authorization_server("https://hub.x");
        assert_eq!(asd["issuer"], "https://hub.x");
        assert_eq!(asd["token_endpoint"], "https://hub.x/oauth/token");
        assert_eq!(asd["registration_endpoint"], "https://hub.x/oauth/register");
        assert_eq!(asd["jwks_uri"], "https://hub.x/.well-known/jwks.json");
        assert_eq!(asd["code_challenge_methods_supported"], json!(["S256"]));
    }

    #[test]
    fn origin_rules() {
        let hub = "https://hub.example";
        assert!(origin_allowed(None, Some("127.0.0.1:1941"), None, hub));
        assert!(origin_allowed(
            Some("http://localhost:6274"),
            None,
            None,
            hub
        ));
        assert!(origin_allowed(Some("http://[::1]:3000"), None, None, hub));
        assert!(origin_allowed(
            Some("http://127.0.0.1:1941"),
            Some("127.0.0.1:1941"),
            None,
            hub
        ));
        assert!(origin_allowed(
            Some("https://p.ts.net"),
            None,
            Some("p.ts.net"),
            hub
        ));
        assert!(origin_allowed(Some("https://hub.example"), None, None, hub));
        assert!(!origin_allowed(
            Some("https://evil.example"),
            Some("127.0.0.1:1941"),
            None,
            hub
        ));
        assert!(!origin_allowed(Some("null"), None, None, hub));
        assert!(!origin_allowed(
            Some("http://localhost.evil.com"),
            None,
            None,
            hub
        ));
    }
}

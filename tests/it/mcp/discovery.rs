//! OAuth discovery documents and the route's pre-auth behaviour (spec 05 §1.1, §1.9).

use serde_json::json;

use crate::support::daemon::DaemonBuilder;

#[test]
fn unknown_channel_is_404_before_auth() {
    let d = DaemonBuilder::new().start();
    for method in ["POST", "GET", "DELETE"] {
        let r = d.send(method, "/mcp/nope", None, &[], None);
        assert_eq!(r.status, 404, "{method}");
        assert!(
            r.error().starts_with("unknown channel \"nope\""),
            "{}",
            r.body
        );
        assert!(r.header("www-authenticate").is_none());
    }
    // not this route at all: the final 404
    for path in ["/mcp", "/mcp/", "/mcp/a/b", "/mcp/a/"] {
        let r = d.send("POST", path, None, &[], None);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json(), json!({"error": "not found"}), "{path}");
    }
}

#[test]
fn discovery_documents_direct_and_forwarded() {
    let d = DaemonBuilder::new()
        .env("PARACHUTE_HUB_ORIGIN", "https://hub.example")
        .start();
    let r = d.get("/.well-known/oauth-protected-resource/mcp/anything", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=utf-8")
    );
    assert_eq!(
        r.json(),
        json!({
            "resource": format!("http://127.0.0.1:{}/mcp/anything", d.port),
            "authorization_servers": ["https://hub.example"],
            "scopes_supported": ["agent:read", "agent:write"],
            "bearer_methods_supported": ["header"],
        })
    );
    let fwd = d.send(
        "GET",
        "/.well-known/oauth-protected-resource/mcp/ui%201",
        None,
        &[("x-forwarded-host", "p.example.ts.net")],
        None,
    );
    assert_eq!(
        fwd.json()["resource"],
        "https://p.example.ts.net/agent/mcp/ui 1"
    );
    let asd = d.get("/.well-known/oauth-authorization-server/mcp/x", None);
    assert_eq!(asd.status, 200);
    let doc = asd.json();
    assert_eq!(doc["issuer"], "https://hub.example");
    assert_eq!(
        doc["authorization_endpoint"],
        "https://hub.example/oauth/authorize"
    );
    assert_eq!(doc["token_endpoint"], "https://hub.example/oauth/token");
    assert_eq!(
        doc["registration_endpoint"],
        "https://hub.example/oauth/register"
    );
    assert_eq!(doc["jwks_uri"], "https://hub.example/.well-known/jwks.json");
    assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        doc["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    // GET only
    let post = d.send(
        "POST",
        "/.well-known/oauth-authorization-server/mcp/x",
        None,
        &[],
        None,
    );
    assert_eq!(post.status, 404);
}

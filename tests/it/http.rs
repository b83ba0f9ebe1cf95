//! The HTTP core, black-box (spec 01 §0, §2.1): error conventions, path tricks,
//! body limits, panics, and the open routes.

use serde_json::json;

use crate::support::daemon::DaemonBuilder;

#[test]
fn unknown_routes_and_wrong_methods_are_json_404() {
    let d = DaemonBuilder::new().start();
    for (method, path) in [
        ("GET", "/nope"),
        ("POST", "/.parachute/config"),
        ("DELETE", "/api/channels"),
        ("HEAD", "/events"),
    ] {
        let r = d.send(method, path, None, &[], None);
        assert_eq!(r.status, 404, "{method} {path}");
        if method != "HEAD" {
            assert_eq!(r.json(), json!({"error":"not found"}));
            assert_eq!(r.header("content-type"), Some("application/json"));
        }
    }
}

#[test]
fn path_tricks_are_rejected_before_routing() {
    let d = DaemonBuilder::new().start();
    for path in [
        "/api/../health",
        "/api/%2e%2e/health",
        "/x/%E0%A4",
        "/x/%zz",
        "/a/b%2F..%2Fc",
    ] {
        let r = raw_get(d.port, path);
        assert!(r.starts_with("HTTP/1.1 400"), "{path}: {r}");
        assert!(r.contains("\"error\""), "{path}: {r}");
    }
}

/// Sends a request line exactly as given (clients normalise `..` themselves).
fn raw_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn bad_json_is_400_and_big_bodies_413() {
    let d = DaemonBuilder::new()
        .env("PARACHUTE_AGENT_MAX_BODY_BYTES", "1024")
        .start();
    let r = d.send(
        "POST",
        "/__test/echo",
        None,
        &[("Content-Type", "application/json")],
        Some(b"{not json"),
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.json(), json!({"error":"invalid JSON body"}));
    let r = d.send("POST", "/__test/echo", None, &[], Some(b""));
    assert_eq!(r.status, 400);
    let ok = d.post("/__test/echo", None, &json!({"a":1}));
    assert_eq!(ok.json(), json!({"a":1}));
    let big = vec![b'x'; 4096];
    let r = d.send("POST", "/__test/echo", None, &[], Some(&big));
    assert_eq!(r.status, 413);
    assert_eq!(r.json(), json!({"error":"payload too large"}));
    assert_eq!(d.get("/health", None).status, 200, "still serving");
}

#[test]
fn a_panicking_handler_is_a_500_and_the_server_lives_on() {
    let d = DaemonBuilder::new().start();
    for _ in 0..20 {
        let r = d.get("/__test/panic", None);
        assert_eq!(r.status, 500);
        assert_eq!(r.json(), json!({"error":"internal error"}));
    }
    assert_eq!(d.get("/health", None).status, 200);
}

#[test]
fn health_has_the_reference_shape_for_any_method() {
    let d = DaemonBuilder::new().start();
    for method in ["GET", "POST", "PUT"] {
        let r = d.send(method, "/health", None, &[], None);
        assert_eq!(r.status, 200, "{method}");
    }
    // Since upstream 0.2.5 every OPTIONS is the CORS preflight, answered before routing.
    assert_eq!(d.send("OPTIONS", "/health", None, &[], None).status, 204);
    let h = d.get("/health", None).json();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["channels"], json!([]));
    assert_eq!(h["total_clients"], 0);
    assert_eq!(h["programmatic_agents"], json!([]));
    assert_eq!(d.get("/health/", None).status, 404, "exact path only");
}

#[test]
fn config_documents_and_redirects() {
    let d = DaemonBuilder::new().start();
    let c = d.get("/.parachute/config", None).json();
    assert_eq!(c["channels"], json!([]));
    assert_eq!(c["triggerTemplate"]["name"], "channel_inbound_<channel>");
    assert_eq!(
        c["triggerTemplate"]["when"]["tags"],
        json!(["agent/message/inbound"])
    );
    assert_eq!(
        c["triggerTemplate"]["when"]["has_metadata"],
        json!(["agent"])
    );
    assert_eq!(
        c["triggerTemplate"]["action"]["webhook"],
        "<hub-origin>/agent/api/vault/inbound"
    );
    let s = d.get("/.parachute/config/schema", None).json();
    assert_eq!(s["required"], json!(["channels"]));
    assert_eq!(
        s["properties"]["channels"]["items"]["properties"]["transport"]["enum"],
        json!(["telegram", "http-ui", "vault"])
    );
    for (path, loc) in [
        ("/", "app/"),
        ("/agents", "app/"),
        ("/jobs", "app/"),
        ("/home", "app/"),
        ("/admin", "app/"),
        ("/ui", "app/chat"),
    ] {
        let r = d.get(path, None);
        assert_eq!(r.status, 302, "{path}");
        assert_eq!(r.header("location"), Some(loc), "{path}");
    }
    assert_eq!(
        d.get("/ui/events", None).status,
        404,
        "/ui/events is not redirected"
    );
}

/// Regression test for the patched tiny_http pool (vendor/tiny_http/PATCHED.md): a burst
/// of keep-alive SSE clients connecting at once must all be served, none left queued
/// behind the long-lived connections that the idle pool threads picked up first.
#[test]
fn a_burst_of_keepalive_streams_is_all_served() {
    use std::io::{Read, Write};
    use std::time::Duration;
    const CLIENTS: usize = 300;
    let d = DaemonBuilder::new().start();
    let token = d.mint("agent:read");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(CLIENTS));
    let port = d.port;
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (barrier, token) = (barrier.clone(), token.clone());
            std::thread::spawn(move || {
                barrier.wait();
                let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                write!(s, "GET /events?channel=burst HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n").unwrap();
                let mut seen = Vec::new();
                let mut buf = [0u8; 1024];
                while !String::from_utf8_lossy(&seen).contains(": connected") {
                    match s.read(&mut buf) {
                        Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                        _ => return None,
                    }
                }
                Some(s)
            })
        })
        .collect();
    let streams: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let served = streams.iter().filter(|s| s.is_some()).count();
    assert_eq!(served, CLIENTS, "every client of the burst got its stream");
    assert_eq!(
        d.get("/health", None).json()["total_clients"],
        CLIENTS,
        "/health counts every /events stream"
    );
}

//! The bridge REST routes (spec 05 §3, spec 01 §2.2.3): auth, channel resolution, the
//! capability errors, and the http-ui results with no page open.

use serde_json::json;

use super::{add_channel, daemon, ALL};

const ROUTES: [&str; 5] = [
    "/api/reply",
    "/api/react",
    "/api/edit",
    "/api/permission",
    "/api/download",
];

#[test]
fn bridge_routes_need_agent_write() {
    let d = daemon();
    let body = json!({"channel": "web", "text": "x"});
    let read = d.mint("agent:read agent:send agent:admin");
    for route in ROUTES {
        let r = d.post(route, None, &body);
        assert_eq!(
            (r.status, r.error()),
            (401, "unauthorized".into()),
            "{route}"
        );
        assert_eq!(r.header("www-authenticate"), None);
        assert_eq!(
            d.post(route, Some("not-a-jwt"), &body).status,
            401,
            "{route}"
        );
        let r = d.post(route, Some(&read), &body);
        assert_eq!(r.status, 403, "{route}");
        assert_eq!(r.json()["message"], "requires agent:write");
    }
}

#[test]
fn bridge_routes_resolve_the_channel_and_check_capabilities() {
    let d = daemon();
    let tok = d.mint(ALL);
    for route in ROUTES {
        let r = d.post(route, Some(&tok), &json!({"text": "x"}));
        assert_eq!(
            (r.status, r.error()),
            (400, "missing 'channel' field in request body".into()),
            "{route}"
        );
        let r = d.post(route, Some(&tok), &json!({"channel": "ghost"}));
        assert_eq!(
            (r.status, r.error()),
            (
                400,
                "unknown channel \"ghost\" — known channels: (none)".into()
            )
        );
    }
    add_channel(&d, &tok, "web", "http-ui");
    add_channel(&d, &tok, "web2", "http-ui");
    let r = d.post("/api/reply", Some(&tok), &json!({"channel": "nope"}));
    assert_eq!(
        r.error(),
        "unknown channel \"nope\" — known channels: web, web2"
    );
    let r = d.post("/api/reply", Some(&tok), &json!(["channel", "web"]));
    assert_eq!(r.error(), "missing 'channel' field in request body");
    let r = d.send(
        "POST",
        "/api/reply",
        Some(&tok),
        &[("content-type", "application/json")],
        Some(b"{oops"),
    );
    assert_eq!((r.status, r.error()), (400, "invalid JSON body".into()));

    for (route, op) in [("/api/react", "react"), ("/api/download", "download")] {
        let r = d.post(
            route,
            Some(&tok),
            &json!({"channel": "web", "message_id": "1", "emoji": "👍", "file_id": "f"}),
        );
        assert_eq!(
            (r.status, r.error()),
            (
                400,
                format!("transport \"http-ui\" for channel \"web\" does not support {op}")
            )
        );
    }
    // No page open: reply and permission deliver to nobody, edit is always ok.
    let r = d.post(
        "/api/reply",
        Some(&tok),
        &json!({"channel": "web", "text": "anyone?"}),
    );
    assert_eq!((r.status, r.json()), (200, json!({"sent": []})));
    let r = d.post(
        "/api/edit",
        Some(&tok),
        &json!({"channel": "web", "message_id": "m", "text": "t"}),
    );
    assert_eq!(r.json(), json!({"ok": true}));
    let r = d.post(
        "/api/permission",
        Some(&tok),
        &json!({"channel": "web", "request_id": "abcde"}),
    );
    assert_eq!(r.json(), json!({"sent": []}));
}

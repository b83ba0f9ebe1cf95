//! The upstream fixes after rc.10 (spec 01 §10, 06 §6): CORS on every response and
//! `OPTIONS` → 204 before routing; the `PARACHUTE_HUB_ORIGINS` issuer set.

use serde_json::json;

use crate::support::daemon::DaemonBuilder;
use crate::support::hub::FakeHub;

#[test]
fn options_is_a_204_preflight_and_every_response_carries_cors() {
    let d = DaemonBuilder::new().start();
    for path in ["/api/agents", "/nope", "/mcp/x", "/health"] {
        let r = d.send(
            "OPTIONS",
            path,
            None,
            &[
                ("Origin", "https://app.example"),
                ("Access-Control-Request-Method", "DELETE"),
                (
                    "Access-Control-Request-Headers",
                    "authorization, x-step-up-token",
                ),
            ],
            None,
        );
        assert_eq!(r.status, 204, "{path}: {}", r.body);
        assert!(r.body.is_empty());
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
        let methods = r.header("access-control-allow-methods").unwrap();
        for m in ["GET", "POST", "OPTIONS", "DELETE"] {
            assert!(methods.contains(m), "{methods}");
        }
        let headers = r
            .header("access-control-allow-headers")
            .unwrap()
            .to_ascii_lowercase();
        assert!(
            headers.contains("authorization") && headers.contains("content-type"),
            "{headers}"
        );
        assert!(r.header("access-control-allow-credentials").is_none());
    }
    // Ordinary answers, errors and open routes all carry the headers.
    for (method, path, status) in [
        ("GET", "/health", 200),
        ("GET", "/api/agents", 401),
        ("GET", "/nope", 404),
        ("GET", "/a/%zz", 400),
    ] {
        let r = d.send(
            method,
            path,
            None,
            &[("Origin", "https://app.example")],
            None,
        );
        assert_eq!(r.status, status, "{path}");
        assert_eq!(r.header("access-control-allow-origin"), Some("*"), "{path}");
        assert!(
            r.header("access-control-allow-credentials").is_none(),
            "{path}"
        );
    }
}

#[test]
fn a_cors_origin_list_echoes_only_listed_origins() {
    let d = DaemonBuilder::new()
        .env(
            "PARACHUTE_AGENT_CORS_ORIGINS",
            " https://app.example/ , https://b.example",
        )
        .start();
    let r = d.send(
        "GET",
        "/health",
        None,
        &[("Origin", "https://app.example")],
        None,
    );
    assert_eq!(
        r.header("access-control-allow-origin"),
        Some("https://app.example")
    );
    assert_eq!(r.header("vary"), Some("Origin"));
    let r = d.send(
        "OPTIONS",
        "/health",
        None,
        &[("Origin", "https://evil.example")],
        None,
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = d.send("GET", "/health", None, &[], None);
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn hub_origins_add_accepted_issuers_after_the_signature() {
    let hub = FakeHub::start();
    let other = |iss: &str| hub.token("agent:read", json!({ "iss": iss }));
    // Without the knob only the canonical origin is an accepted issuer.
    let d = DaemonBuilder::new().hub(&hub.origin).start();
    assert_eq!(
        d.get("/metrics", Some(&other("https://hub.example")))
            .status,
        401
    );
    assert_eq!(
        d.get("/metrics", Some(&hub.token("agent:read", json!({}))))
            .status,
        200
    );
    drop(d);
    let d = DaemonBuilder::new()
        .hub(&hub.origin)
        .env(
            "PARACHUTE_HUB_ORIGINS",
            " https://hub.example/ ,, https://alt.example,https://hub.example",
        )
        .start();
    for iss in ["https://hub.example", "https://alt.example", &hub.origin] {
        let r = d.get("/metrics", Some(&other(iss)));
        assert_eq!(r.status, 200, "{iss}: {}", r.body);
    }
    let r = d.get("/metrics", Some(&other("https://evil.example")));
    assert_eq!(r.status, 401, "{}", r.body);
    // The issuer set never replaces the signature check.
    let forged = hub.token_wrong_key("agent:read");
    assert_eq!(d.get("/metrics", Some(&forged)).status, 401);
}

#[test]
fn a_job_subject_is_stored_and_stamped_on_the_inbound_note_it_fires() {
    use crate::support::fake_vault::FakeVault;
    let fv = FakeVault::start();
    let b = DaemonBuilder::new();
    let channels = json!({"channels": [{"name": "eng", "transport": "vault", "config": {
        "vault": "default", "vaultUrl": fv.url(), "token": FakeVault::TOKEN}}]});
    std::fs::create_dir_all(b.state_dir()).unwrap();
    std::fs::write(b.state_dir().join("channels.json"), channels.to_string()).unwrap();
    let d = b.start();
    let admin = d.mint("agent:admin");
    let job = json!({"id": "weekly", "channel": "eng", "message": "Review the week",
                     "schedule": {"cron": "0 9 * * 1"}, "subject": "weekly-review"});
    let r = d.post("/api/jobs", Some(&admin), &job);
    assert_eq!(r.status, 200, "{}", r.body);
    let list = d.get("/api/jobs", Some(&admin)).json();
    assert_eq!(list["jobs"][0]["subject"], "weekly-review", "{list}");
    let r = d.post("/api/jobs/weekly/run", Some(&admin), &json!({}));
    assert_eq!(r.json()["status"], "ok", "{}", r.body);
    let fired: Vec<_> = fv
        .notes_tagged("default", "agent/message/inbound")
        .into_iter()
        .filter(|n| n["metadata"]["sender"] == "runner:weekly")
        .collect();
    assert_eq!(fired.len(), 1);
    assert_eq!(
        fired[0]["metadata"]["subject"], "weekly-review",
        "{}",
        fired[0]
    );
    let bad = json!({"id": "x", "channel": "eng", "message": "m", "schedule": {"cron": "* * * * *"}, "subject": 3});
    let r = d.post("/api/jobs", Some(&admin), &bad);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.error(),
        "subject must be a non-empty string of at most 200 characters"
    );
}

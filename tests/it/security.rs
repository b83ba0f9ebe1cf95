//! Operator security, black-box (issue 3; spec 01 §4, §5; spec 04 §2.3–§2.4): one-time
//! SSE tickets, the step-up PIN and its lockout, and the credentials store with its routes.
//! Tickets are consumed through the debug-only hook `GET /__test/ticket?scope=<scope>`,
//! which runs exactly the guard the SSE routes use (`security::consume_ticket`).

use std::os::unix::fs::PermissionsExt;
use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::{json, Value};

use crate::support::daemon::{Daemon, DaemonBuilder};
use crate::support::hub::FakeHub;

const ADMIN: &str = "agent:read agent:send agent:admin";

/// Produced by the Argon2 reference C implementation's CLI (`echo -n 482913 | argon2
/// "reference-salt-32-bytes-long!!!!" -id -m 16 -t 2 -p 1 -l 32 -e`): the format the
/// reference daemon writes to `step-up.json`.
const REFERENCE_PHC: &str = "$argon2id$v=19$m=65536,t=2,p=1$cmVmZXJlbmNlLXNhbHQtMzItYnl0ZXMtbG9uZyEhISE$hEjknBTaI6+ZMM0l3JPvzPlY4Vas7ek6iYbQC7dulnA";

fn daemon() -> Daemon {
    DaemonBuilder::new().start()
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// `send` with a JSON body and optional step-up token.
fn call(
    d: &Daemon,
    method: &str,
    path: &str,
    token: &str,
    step_up: Option<&str>,
    body: Option<Value>,
) -> crate::support::http::Reply {
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(s) = step_up {
        headers.push(("X-Step-Up-Token", s));
    }
    let bytes = body.map(|b| serde_json::to_vec(&b).unwrap());
    d.send(method, path, Some(token), &headers, bytes.as_deref())
}

fn set_pin(d: &Daemon, token: &str, pin: &str) {
    let r = d.post("/api/step-up/pin", Some(token), &json!({"newPin": pin}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"ok": true, "configured": true}));
}

fn exchange(d: &Daemon, token: &str, pin: &str) -> String {
    let r = d.post("/api/step-up", Some(token), &json!({"pin": pin}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["stepUpToken"].as_str().unwrap().to_string()
}

fn mint_ticket(d: &Daemon, token: &str) -> String {
    let r = d.post("/api/ui/sse-ticket", Some(token), &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["ticket"].as_str().unwrap().to_string()
}

fn consume(d: &Daemon, ticket: &str, scope: &str) -> crate::support::http::Reply {
    d.get(
        &format!("/__test/ticket?scope={scope}&ticket={ticket}"),
        None,
    )
}

// ---- SSE tickets ---------------------------------------------------------------------

#[test]
fn ticket_mint_needs_a_bearer_with_read() {
    let d = daemon();
    let read = d.mint("agent:read agent:send");
    let r = d.post("/api/ui/sse-ticket", None, &json!({}));
    assert_eq!((r.status, r.error()), (401, "unauthorized".into()));
    let r = d.post(
        &format!("/api/ui/sse-ticket?token={read}"),
        None,
        &json!({}),
    );
    assert_eq!(r.status, 401, "?token= is not a credential here");
    let admin_only = d.mint("agent:admin");
    let r = d.post("/api/ui/sse-ticket", Some(&admin_only), &json!({}));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["granted"], json!(["agent:admin"]));
    let r = d.post("/api/ui/sse-ticket", Some(&read), &json!({}));
    assert_eq!(r.status, 200);
    let ticket = r.json()["ticket"].as_str().unwrap().to_string();
    assert_eq!(ticket.len(), 43);
    assert!(ticket
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
    let expires = r.json()["expires_at"].as_str().unwrap().to_string();
    assert!(expires.ends_with('Z') && expires.len() == 24, "{expires}");
}

#[test]
fn ticket_is_single_use_and_carries_the_minting_scopes() {
    let d = daemon();
    let token = d.mint("agent:read agent:send");
    let ticket = mint_ticket(&d, &token);
    let r = consume(&d, &ticket, "agent:read");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["scopes"], json!(["agent:read", "agent:send"]));
    let r = consume(&d, &ticket, "agent:read");
    assert_eq!(r.status, 401);
    assert_eq!(
        r.json(),
        json!({"error": "unauthorized", "message": "valid one-time SSE ticket required"})
    );
    assert_eq!(
        d.get("/__test/ticket?scope=agent:read", None).status,
        401,
        "no ticket"
    );
    assert_eq!(consume(&d, "made-up", "agent:read").status, 401);
    // A read+send ticket fails an admin check, is 403, and is consumed all the same.
    let ticket = mint_ticket(&d, &token);
    let r = consume(&d, &ticket, "agent:admin");
    assert_eq!(r.status, 403);
    assert_eq!(
        r.json(),
        json!({"error": "insufficient_scope", "message": "ticket lacks agent:admin", "granted": ["agent:read", "agent:send"]})
    );
    assert_eq!(consume(&d, &ticket, "agent:read").status, 401);
}

#[test]
fn legacy_channel_read_ticket_passes() {
    let hub = FakeHub::start();
    let d = DaemonBuilder::new().hub(&hub.origin).start();
    let ticket = mint_ticket(&d, &hub.token("channel:read", json!({})));
    assert_eq!(consume(&d, &ticket, "agent:read").status, 200);
}

#[test]
fn expired_ticket_is_401() {
    let d = DaemonBuilder::new()
        .env("PARACHUTE_AGENT_SSE_TICKET_TTL_SECS", "1")
        .start();
    let ticket = mint_ticket(&d, &d.mint("agent:read"));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(consume(&d, &ticket, "agent:read").status, 401);
}

#[test]
fn eight_racing_consumers_exactly_one_wins() {
    let d = Arc::new(daemon());
    let token = d.mint("agent:read");
    for _ in 0..3 {
        let ticket = mint_ticket(&d, &token);
        let barrier = Arc::new(Barrier::new(8));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (d, ticket, barrier) = (d.clone(), ticket.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    consume(&d, &ticket, "agent:read").status
                })
            })
            .collect();
        let mut statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        statuses.sort();
        assert_eq!(statuses, vec![200, 401, 401, 401, 401, 401, 401, 401]);
    }
}

// ---- step-up PIN ---------------------------------------------------------------------

#[test]
fn step_up_routes_need_admin() {
    let d = daemon();
    let read = d.mint("agent:read");
    for (method, path) in [
        ("GET", "/api/step-up"),
        ("POST", "/api/step-up"),
        ("POST", "/api/step-up/pin"),
    ] {
        let body = json!({"pin": "1234", "newPin": "1234"});
        let r = d.send(method, path, None, &[], Some(body.to_string().as_bytes()));
        assert_eq!(r.status, 401, "{method} {path}");
        let r = call(&d, method, path, &read, None, Some(body));
        assert_eq!(
            (r.status, r.error()),
            (403, "insufficient_scope".into()),
            "{method} {path}"
        );
    }
    assert!(!d.state_dir().join("step-up.json").exists());
}

#[test]
fn pin_lifecycle_gate_and_reusable_token() {
    let d = daemon();
    let admin = d.mint(ADMIN);
    let gated = |step_up: Option<&str>| {
        call(
            &d,
            "POST",
            "/api/credentials/claude",
            &admin,
            step_up,
            Some(json!({"token": "sk-ant-oat01-x"})),
        )
    };
    assert_eq!(
        d.get("/api/step-up", Some(&admin)).json(),
        json!({"configured": false})
    );
    let r = gated(None);
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["error"], "step_up_required");
    assert_eq!(r.json()["reason"], "setup");
    let r = d.post("/api/step-up", Some(&admin), &json!({"pin": "1234"}));
    assert_eq!(
        (r.status, r.error()),
        (409, "step_up_not_configured".into())
    );

    set_pin(&d, &admin, "482913");
    assert_eq!(
        d.get("/api/step-up", Some(&admin)).json(),
        json!({"configured": true})
    );
    let path = d.state_dir().join("step-up.json");
    assert_eq!(mode(&path), 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("$argon2id$v=19$m=65536,t=2,p=1$") && !text.contains("482913"),
        "{text}"
    );

    let r = gated(None);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, json!("token"))
    );
    assert_eq!(gated(Some("not-a-real-token")).json()["reason"], "token");
    let r = d.post("/api/step-up", Some(&admin), &json!({"pin": "482913"}));
    assert_eq!(r.status, 200);
    assert!(!r.body.contains("482913"));
    let step_up = r.json()["stepUpToken"].as_str().unwrap().to_string();
    assert!(step_up.len() >= 43);
    assert!(r.json()["expires_at"].as_str().unwrap().ends_with('Z'));
    for _ in 0..3 {
        assert_eq!(
            gated(Some(&step_up)).status,
            200,
            "reusable within its lifetime"
        );
    }
    let log = d.log();
    assert!(
        !log.contains("482913") && !log.contains(&step_up),
        "PIN and token never logged"
    );
    // Exchange body errors.
    let r = d.send("POST", "/api/step-up", Some(&admin), &[], Some(b"{nope"));
    assert_eq!((r.status, r.error()), (400, "invalid JSON body".into()));
    let r = d.post("/api/step-up", Some(&admin), &json!({"pin": 482913}));
    assert_eq!(
        (r.status, r.error()),
        (400, "body.pin (non-empty string) is required".into())
    );
    let r = d.post("/api/step-up", Some(&admin), &json!({"pin": ""}));
    assert_eq!(r.status, 400);
}

#[test]
fn step_up_token_expires() {
    let d = DaemonBuilder::new()
        .env("PARACHUTE_AGENT_STEP_UP_TTL_SECS", "1")
        .start();
    let admin = d.mint(ADMIN);
    set_pin(&d, &admin, "1357");
    let step_up = exchange(&d, &admin, "1357");
    let env = |s: &str| {
        call(
            &d,
            "POST",
            "/api/credentials/env",
            &admin,
            Some(s),
            Some(json!({"name": "A", "value": "1"})),
        )
    };
    assert_eq!(env(&step_up).status, 200);
    std::thread::sleep(Duration::from_millis(1100));
    let r = env(&step_up);
    assert_eq!(
        (r.status, r.json()["reason"].clone()),
        (403, json!("token"))
    );
}

#[test]
fn five_wrong_pins_then_429_and_denials_are_not_counted() {
    let hub = FakeHub::start();
    let d = DaemonBuilder::new().hub(&hub.origin).start();
    let alice = hub.token(ADMIN, json!({"sub": "alice"}));
    let bob = hub.token(ADMIN, json!({"sub": "bob"}));
    set_pin(&d, &alice, "2468");
    for _ in 0..5 {
        let r = d.post("/api/step-up", Some(&alice), &json!({"pin": "0000"}));
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json(),
            json!({"error": "invalid_pin", "message": "incorrect PIN"})
        );
    }
    let r = d.post("/api/step-up", Some(&alice), &json!({"pin": "2468"}));
    assert_eq!((r.status, r.error()), (429, "rate_limited".into()));
    let retry: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=300).contains(&retry));
    assert_eq!(r.json()["retry_after_seconds"], json!(retry));
    // Hammering is denied without being recorded: the wait never grows.
    for _ in 0..3 {
        let r = d.post("/api/step-up", Some(&alice), &json!({"pin": "2468"}));
        assert_eq!(r.status, 429);
        assert!(r.json()["retry_after_seconds"].as_u64().unwrap() <= retry);
    }
    // Rotation shares the bucket; another subject has its own.
    let r = d.post(
        "/api/step-up/pin",
        Some(&alice),
        &json!({"newPin": "1111", "currentPin": "2468"}),
    );
    assert_eq!(r.status, 429);
    exchange(&d, &bob, "2468");
}

#[test]
fn correct_pin_after_four_wrong_resets_the_bucket() {
    let d = daemon();
    let admin = d.mint(ADMIN);
    set_pin(&d, &admin, "97531");
    for round in 0..2 {
        for _ in 0..4 {
            assert_eq!(
                d.post("/api/step-up", Some(&admin), &json!({"pin": "1"}))
                    .status,
                401,
                "round {round}"
            );
        }
        exchange(&d, &admin, "97531");
    }
}

#[test]
fn rotation_requires_the_current_pin_and_formats_are_checked() {
    let d = daemon();
    let admin = d.mint(ADMIN);
    for bad in [
        json!("12"),
        json!("1234567890123"),
        json!("12a4"),
        json!(1234),
        json!(null),
    ] {
        let r = d.post("/api/step-up/pin", Some(&admin), &json!({"newPin": bad}));
        assert_eq!(
            (r.status, r.error()),
            (400, "body.newPin must be 4–12 digits".into()),
            "{bad}"
        );
    }
    let r = d.send("POST", "/api/step-up/pin", Some(&admin), &[], Some(b""));
    assert_eq!((r.status, r.error()), (400, "invalid JSON body".into()));
    assert!(!d.state_dir().join("step-up.json").exists());
    set_pin(&d, &admin, "1111");
    let before = std::fs::read_to_string(d.state_dir().join("step-up.json")).unwrap();
    for current in [None, Some("9999"), Some("")] {
        let mut body = json!({"newPin": "2222"});
        if let Some(c) = current {
            body["currentPin"] = json!(c);
        }
        let r = d.post("/api/step-up/pin", Some(&admin), &body);
        assert_eq!(r.status, 401);
        assert_eq!(
            r.json(),
            json!({"error": "invalid_pin", "message": "the current PIN is required to change it"})
        );
    }
    assert_eq!(
        std::fs::read_to_string(d.state_dir().join("step-up.json")).unwrap(),
        before
    );
    let r = d.post(
        "/api/step-up/pin",
        Some(&admin),
        &json!({"newPin": "2222", "currentPin": "1111"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        d.post("/api/step-up", Some(&admin), &json!({"pin": "1111"}))
            .status,
        401
    );
    exchange(&d, &admin, "2222");
    let after = std::fs::read_to_string(d.state_dir().join("step-up.json")).unwrap();
    assert_ne!(before, after, "a new salt and hash");
    assert_eq!(mode(&d.state_dir().join("step-up.json")), 0o600);
}

#[test]
fn pin_file_in_the_reference_format_verifies() {
    let b = DaemonBuilder::new();
    std::fs::create_dir_all(b.state_dir()).unwrap();
    let doc = json!({"pinHash": REFERENCE_PHC, "setAt": "2026-01-01T00:00:00.000Z"});
    std::fs::write(
        b.state_dir().join("step-up.json"),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
    let d = b.start();
    let admin = d.mint(ADMIN);
    assert_eq!(
        d.get("/api/step-up", Some(&admin)).json(),
        json!({"configured": true})
    );
    assert_eq!(
        d.post("/api/step-up", Some(&admin), &json!({"pin": "482914"}))
            .status,
        401
    );
    exchange(&d, &admin, "482913");
    // Rotation keeps the file's other keys.
    let r = d.post(
        "/api/step-up/pin",
        Some(&admin),
        &json!({"newPin": "5555", "currentPin": "482913"}),
    );
    assert_eq!(r.status, 200);
    let text = std::fs::read_to_string(d.state_dir().join("step-up.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["setAt"], "2026-01-01T00:00:00.000Z");
    assert_ne!(v["pinHash"], REFERENCE_PHC);
}

// ---- credentials ---------------------------------------------------------------------

const CRED_ROUTES: [(&str, &str); 7] = [
    ("GET", "/api/credentials/claude"),
    ("POST", "/api/credentials/claude"),
    ("POST", "/api/credentials/claude/eng"),
    ("DELETE", "/api/credentials/claude/eng"),
    ("GET", "/api/credentials/env"),
    ("POST", "/api/credentials/env"),
    ("DELETE", "/api/credentials/env"),
];

/// A daemon with a PIN set, an admin token and a live step-up token.
fn with_step_up() -> (Daemon, String, String) {
    let d = daemon();
    let admin = d.mint(ADMIN);
    set_pin(&d, &admin, "8080");
    let step_up = exchange(&d, &admin, "8080");
    (d, admin, step_up)
}

#[test]
fn credential_routes_need_admin_and_writes_need_step_up() {
    let d = daemon();
    let read = d.mint("agent:read agent:send");
    let admin = d.mint(ADMIN);
    let body = json!({"token": "t", "name": "A", "value": "v"});
    for (method, path) in CRED_ROUTES {
        assert_eq!(
            d.send(method, path, None, &[], Some(b"{}")).status,
            401,
            "{method} {path}"
        );
        assert_eq!(
            call(&d, method, path, &read, None, Some(body.clone())).status,
            403,
            "{method} {path}"
        );
        let r = call(&d, method, path, &admin, None, Some(body.clone()));
        if method == "GET" {
            assert_eq!(r.status, 200, "GETs are never gated: {path}");
        } else {
            assert_eq!(
                (r.status, r.json()["reason"].clone()),
                (403, json!("setup")),
                "{method} {path}"
            );
        }
    }
    set_pin(&d, &admin, "8080");
    for (method, path) in CRED_ROUTES.iter().filter(|(m, _)| *m != "GET") {
        let r = call(&d, method, path, &admin, None, Some(body.clone()));
        assert_eq!(
            (r.status, r.json()["reason"].clone()),
            (403, json!("token")),
            "{method} {path}"
        );
        // Step-up comes before body parsing.
        let r = d.send(method, path, Some(&admin), &[], Some(b"{nope"));
        assert_eq!(r.status, 403, "{method} {path}");
    }
    assert!(
        !d.state_dir().join("credentials.json").exists(),
        "nothing written"
    );
}

#[test]
fn claude_token_routes() {
    let (d, admin, su) = with_step_up();
    let post = |path: &str, body: Value| call(&d, "POST", path, &admin, Some(&su), Some(body));
    assert_eq!(
        d.get("/api/credentials/claude", Some(&admin)).json(),
        json!({"defaultSet": false, "channels": []})
    );
    for bad in [
        json!({}),
        json!({"token": ""}),
        json!({"token": 42}),
        json!(["x"]),
    ] {
        let r = post("/api/credentials/claude", bad.clone());
        assert_eq!(
            (r.status, r.error()),
            (400, "body.token (non-empty string) is required".into()),
            "{bad}"
        );
        let r = post("/api/credentials/claude/eng", bad);
        assert_eq!(r.status, 400);
    }
    let r = d.send(
        "POST",
        "/api/credentials/claude",
        Some(&admin),
        &[("X-Step-Up-Token", &su)],
        Some(b"{nope"),
    );
    assert_eq!((r.status, r.error()), (400, "invalid JSON body".into()));
    assert!(!d.state_dir().join("credentials.json").exists());

    let r = post(
        "/api/credentials/claude",
        json!({"token": "sk-ant-oat01-DEFAULT"}),
    );
    assert_eq!(r.json(), json!({"ok": true, "scope": "default"}));
    let r = post(
        "/api/credentials/claude/eng",
        json!({"token": "sk-ant-oat01-ENG"}),
    );
    assert_eq!(
        r.json(),
        json!({"ok": true, "scope": "channel", "channel": "eng"})
    );
    let r = post(
        "/api/credentials/claude/ops%20team",
        json!({"token": "sk-ant-oat01-OPS"}),
    );
    assert_eq!(r.json()["channel"], "ops team");
    let r = d.get("/api/credentials/claude", Some(&admin));
    assert_eq!(
        r.json(),
        json!({"defaultSet": true, "channels": ["eng", "ops team"]})
    );
    assert!(!r.body.contains("sk-ant"));

    let file = d.state_dir().join("credentials.json");
    assert_eq!(mode(&file), 0o600);
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored["claude"]["channels"]["eng"], "sk-ant-oat01-ENG");

    let del = || {
        call(
            &d,
            "DELETE",
            "/api/credentials/claude/eng",
            &admin,
            Some(&su),
            None,
        )
    };
    assert_eq!(
        del().json(),
        json!({"ok": true, "channel": "eng", "removed": true})
    );
    assert_eq!(
        del().json(),
        json!({"ok": true, "channel": "eng", "removed": false})
    );
    assert!(!d.log().contains("sk-ant-oat01"), "values never logged");
}

#[test]
fn env_routes() {
    let (d, admin, su) = with_step_up();
    let post = |body: Value| {
        call(
            &d,
            "POST",
            "/api/credentials/env",
            &admin,
            Some(&su),
            Some(body),
        )
    };
    let del = |body: Option<Value>| {
        call(
            &d,
            "DELETE",
            "/api/credentials/env",
            &admin,
            Some(&su),
            body,
        )
    };
    assert_eq!(
        d.get("/api/credentials/env", Some(&admin)).json(),
        json!({"default": [], "channels": {}})
    );

    let bad = [
        (json!({"value": "v"}), "body.name (non-empty string) is required"),
        (json!({"name": "", "value": "v"}), "body.name (non-empty string) is required"),
        (json!({"name": "A"}), "body.value (non-empty string) is required"),
        (json!({"name": "A", "value": 5}), "body.value (non-empty string) is required"),
        (
            json!({"name": "9LIVES", "value": "v"}),
            "credentials: env var name \"9LIVES\" is invalid (letters, digits, underscore; no leading digit)",
        ),
        (
            json!({"name": "A-B", "value": "v"}),
            "credentials: env var name \"A-B\" is invalid (letters, digits, underscore; no leading digit)",
        ),
    ];
    for (body, error) in bad {
        let r = post(body.clone());
        assert_eq!((r.status, r.error()), (400, error.to_string()), "{body}");
    }
    for name in [
        "ANTHROPIC_API_KEY",
        "CLAUDE_API_KEY",
        "CLAUDE_CODE_OAUTH_TOKEN",
    ] {
        let r = post(json!({"channel": "eng", "name": name, "value": "sk-secret"}));
        assert_eq!(r.status, 400, "{name}");
        assert!(
            r.error()
                .starts_with(&format!("env var \"{name}\" is not settable here")),
            "{}",
            r.body
        );
    }
    assert!(
        !d.state_dir().join("credentials.json").exists(),
        "rejected calls write nothing"
    );

    let r = post(json!({"name": "GH_TOKEN", "value": "ghp_VALUE1"}));
    assert_eq!(
        r.json(),
        json!({"ok": true, "scope": "default", "name": "GH_TOKEN"})
    );
    let r = post(json!({"channel": "", "name": "ZED", "value": "VALUE2"}));
    assert_eq!(
        r.json()["scope"],
        "default",
        "empty channel = default layer"
    );
    let r = post(json!({"channel": 7, "name": "ZED", "value": "VALUE2"}));
    assert_eq!(
        r.json()["scope"],
        "default",
        "non-string channel = default layer"
    );
    let r = post(json!({"channel": "eng", "name": "GH_TOKEN", "value": "ghp_VALUE3"}));
    assert_eq!(
        r.json(),
        json!({"ok": true, "scope": "channel", "channel": "eng", "name": "GH_TOKEN"})
    );
    post(json!({"channel": "eng", "name": "CLOUDFLARE_API_TOKEN", "value": "VALUE4"}));
    let r = d.get("/api/credentials/env", Some(&admin));
    assert_eq!(
        r.json(),
        json!({"default": ["GH_TOKEN", "ZED"], "channels": {"eng": ["CLOUDFLARE_API_TOKEN", "GH_TOKEN"]}})
    );
    assert!(!r.body.contains("VALUE"));
    assert_eq!(mode(&d.state_dir().join("credentials.json")), 0o600);

    // DELETE needs a JSON body; query parameters are not read.
    let r = del(None);
    assert_eq!((r.status, r.error()), (400, "invalid JSON body".into()));
    let r = call(
        &d,
        "DELETE",
        "/api/credentials/env?name=ZED",
        &admin,
        Some(&su),
        None,
    );
    assert_eq!(r.status, 400);
    let r = del(Some(json!({})));
    assert_eq!(
        (r.status, r.error()),
        (400, "body.name (non-empty string) is required".into())
    );
    let r = del(Some(json!({"channel": "eng", "name": "GH_TOKEN"})));
    assert_eq!(
        r.json(),
        json!({"ok": true, "scope": "channel", "channel": "eng", "name": "GH_TOKEN", "removed": true})
    );
    let r = del(Some(json!({"channel": "eng", "name": "GH_TOKEN"})));
    assert_eq!(r.json()["removed"], false);
    let r = del(Some(json!({"name": "ZED"})));
    assert_eq!(
        r.json(),
        json!({"ok": true, "scope": "default", "name": "ZED", "removed": true})
    );
    let r = d.get("/api/credentials/env", Some(&admin));
    assert_eq!(
        r.json(),
        json!({"default": ["GH_TOKEN"], "channels": {"eng": ["CLOUDFLARE_API_TOKEN"]}})
    );
    assert!(!d.log().contains("VALUE"), "values never logged");
}

#[test]
fn malformed_credentials_file_is_500_on_read_and_left_alone_on_write() {
    let (d, admin, su) = with_step_up();
    let file = d.state_dir().join("credentials.json");
    std::fs::write(&file, "{broken").unwrap();
    assert_eq!(d.get("/api/credentials/claude", Some(&admin)).status, 500);
    let r = call(
        &d,
        "POST",
        "/api/credentials/claude",
        &admin,
        Some(&su),
        Some(json!({"token": "t"})),
    );
    assert_eq!(r.status, 500);
    assert!(
        r.error().starts_with("failed to write credentials.json: "),
        "{}",
        r.body
    );
    let writes = [
        (
            "POST",
            "/api/credentials/claude/eng",
            json!({"token": "t"}),
            "write",
        ),
        ("DELETE", "/api/credentials/claude/eng", json!({}), "update"),
        (
            "POST",
            "/api/credentials/env",
            json!({"name": "A", "value": "v"}),
            "write",
        ),
        (
            "DELETE",
            "/api/credentials/env",
            json!({"name": "A"}),
            "update",
        ),
    ];
    for (method, path, body, verb) in writes {
        let r = call(&d, method, path, &admin, Some(&su), Some(body));
        assert_eq!(r.status, 500, "{method} {path}");
        let prefix = format!("failed to {verb} credentials.json: ");
        assert!(
            r.error().starts_with(&prefix),
            "{method} {path}: {}",
            r.body
        );
    }
    assert_eq!(d.get("/api/credentials/env", Some(&admin)).status, 500);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "{broken");
}

#[test]
fn every_write_route_rejects_invalid_json() {
    let (d, admin, su) = with_step_up();
    let headers = [("X-Step-Up-Token", su.as_str())];
    for (method, path) in CRED_ROUTES.iter().filter(|(m, _)| *m == "POST") {
        for body in [&b"{nope"[..], b""] {
            let r = d.send(method, path, Some(&admin), &headers, Some(body));
            assert_eq!(
                (r.status, r.error()),
                (400, "invalid JSON body".into()),
                "{method} {path}"
            );
        }
    }
    assert!(!d.state_dir().join("credentials.json").exists());
}

/// A daemon killed by the kernel while it writes the temp file (its file-size limit is
/// lowered under it, then a token larger than the limit is stored) leaves the old
/// `credentials.json` byte for byte; a new daemon on the same state dir serves it.
#[test]
fn crash_between_temp_write_and_rename_leaves_the_old_file() {
    let (mut d, admin, su) = with_step_up();
    let r = call(
        &d,
        "POST",
        "/api/credentials/claude",
        &admin,
        Some(&su),
        Some(json!({"token": "sk-ant-oat01-OLD"})),
    );
    assert_eq!(r.status, 200);
    let file = d.state_dir().join("credentials.json");
    let before = std::fs::read(&file).unwrap();

    let pid = d.child.as_ref().unwrap().id() as libc::pid_t;
    let log_len = std::fs::metadata(d.tmp().join("daemon.log")).unwrap().len();
    let limit = (log_len + 256 * 1024) as libc::rlim_t;
    let lim = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: plain syscall on our own child with valid pointers.
    assert_eq!(
        unsafe { libc::prlimit(pid, libc::RLIMIT_FSIZE, &lim, std::ptr::null_mut()) },
        0
    );
    let huge = "N".repeat(2 * limit as usize);
    let body = serde_json::to_vec(&json!({"token": huge})).unwrap();
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Step-Up-Token", su.as_str()),
    ];
    let url = d.url("/api/credentials/claude");
    // The connection dies with the daemon; the request's outcome is not a reply.
    let _ = std::thread::spawn({
        let admin = admin.clone();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move || {
            let h: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            std::panic::catch_unwind(|| {
                crate::support::http::send("POST", &url, Some(&admin), &h, Some(&body))
            })
        }
    })
    .join();
    let status = d.child.as_mut().unwrap().wait().unwrap();
    d.child = None;
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(libc::SIGXFSZ),
        "the daemon must die mid-write: {status:?}\n{}",
        d.log()
    );

    let leftovers: Vec<String> = std::fs::read_dir(d.state_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".credentials.json.tmp"))
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "a torn temp file proves the crash was mid-write: {leftovers:?}"
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
    assert_eq!(mode(&file), 0o600);

    let d2 = DaemonBuilder::new()
        .env(
            "PARACHUTE_AGENT_STATE_DIR",
            &d.state_dir().display().to_string(),
        )
        .start();
    // The local signing key lives in the shared state dir, so mint against that one.
    let admin2 = crate::support::daemon::mint_in(&d.state_dir(), ADMIN, "1h");
    assert_eq!(
        d2.get("/api/credentials/claude", Some(&admin2)).json(),
        json!({"defaultSet": true, "channels": []})
    );
    let su2 = exchange(&d2, &admin2, "8080");
    let r = call(
        &d2,
        "POST",
        "/api/credentials/claude",
        &admin2,
        Some(&su2),
        Some(json!({"token": "sk-ant-oat01-NEW"})),
    );
    assert_eq!(r.status, 200);
    let stored: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(stored["claude"]["default"], "sk-ant-oat01-NEW");
}

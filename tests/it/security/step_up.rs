//! Step-up PIN (spec 01 §5): set, exchange, gate reasons, lockout, rotation, file format.

use std::time::Duration;

use serde_json::{json, Value};

use super::*;
use crate::support::daemon::DaemonBuilder;
use crate::support::hub::FakeHub;

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

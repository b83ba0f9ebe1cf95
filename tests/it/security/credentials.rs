//! Credentials store routes (spec 04 §2.3–§2.4): every route, its 400s and 500s, step-up
//! on every write, values never returned, file mode, and the crash property.

use serde_json::{json, Value};

use super::*;
use crate::support::daemon::DaemonBuilder;

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

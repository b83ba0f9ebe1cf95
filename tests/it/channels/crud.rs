//! The channel CRUD API (spec 05 §5.3): auth, validation, persistence at 0600, hot
//! add/replace/remove, and survival across a restart.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use serde_json::{json, Value};

use super::{add_channel, clients, daemon, eventually, health, RawSse, ALL};

fn names(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

fn file_names(d: &crate::support::daemon::Daemon) -> Vec<String> {
    let text = std::fs::read_to_string(d.state_dir().join("channels.json")).unwrap();
    names(&serde_json::from_str(&text).unwrap(), "channels")
}

#[test]
fn crud_needs_admin_scope() {
    let d = daemon();
    let body = json!({"name": "web", "transport": "http-ui"});
    assert_eq!(d.post("/api/channels", None, &body).status, 401);
    let send = d.mint("agent:send");
    let r = d.post("/api/channels", Some(&send), &body);
    assert_eq!(r.status, 403);
    assert_eq!(r.error(), "insufficient_scope");
    let read = d.mint("agent:read");
    assert_eq!(d.get("/api/channels", Some(&read)).status, 403);
    assert_eq!(
        d.send("DELETE", "/api/channels/web", Some(&read), &[], None)
            .status,
        403
    );
    assert_eq!(
        d.send("DELETE", "/api/channels/web", None, &[], None)
            .status,
        401
    );
    assert!(!d.state_dir().join("channels.json").exists());
}

#[test]
fn post_validates_and_leaves_the_file_alone_on_error() {
    let d = daemon();
    let admin = d.mint("agent:admin");
    let post_raw = |body: &[u8]| {
        d.send(
            "POST",
            "/api/channels",
            Some(&admin),
            &[("content-type", "application/json")],
            Some(body),
        )
    };
    let r = post_raw(b"{nope");
    assert_eq!((r.status, r.error()), (400, "invalid JSON body".into()));
    let cases = [
        (
            json!({"transport": "http-ui"}),
            "body.name (string) is required",
        ),
        (
            json!({"name": "", "transport": "http-ui"}),
            "body.name (string) is required",
        ),
        (
            json!({"name": 7, "transport": "http-ui"}),
            "body.name (string) is required",
        ),
        (
            json!({"name": "web"}),
            "body.transport (string) is required",
        ),
        (json!([1, 2]), "body.name (string) is required"),
    ];
    for (body, want) in cases {
        let r = d.post("/api/channels", Some(&admin), &body);
        assert_eq!((r.status, r.error()), (400, want.to_string()), "{body}");
    }
    for bad in ["a/b", "a b", "dots.no", "ü"] {
        let r = d.post(
            "/api/channels",
            Some(&admin),
            &json!({"name": bad, "transport": "http-ui"}),
        );
        assert_eq!(r.status, 400, "{bad}");
        assert!(
            r.error().starts_with("invalid channel config: "),
            "{}",
            r.body
        );
    }
    let r = d.post(
        "/api/channels",
        Some(&admin),
        &json!({"name": "x", "transport": "carrier-pigeon"}),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.error().starts_with("invalid channel config: ")
            && r.error()
                .contains("unknown transport kind \"carrier-pigeon\""),
        "{}",
        r.body
    );
    for config in [json!({}), json!({"token": ""}), json!({"token": 7})] {
        let r = d.post(
            "/api/channels",
            Some(&admin),
            &json!({"name": "tg", "transport": "telegram", "config": config}),
        );
        assert_eq!(
            (r.status, r.error()),
            (
                400,
                "invalid channel config: telegram channel tg requires a per-channel bot token in its config".to_string()
            ),
            "{config}"
        );
    }
    assert!(!d.state_dir().join("channels.json").exists());
    assert_eq!(health(&d)["channels"], json!([]));
}

/// A telegram channel goes live (its Bot API is an unreachable loopback port here), its
/// token is persisted at 0600 and never shown by the API or `/health`.
#[test]
fn telegram_channel_is_live_and_its_token_stays_secret() {
    let d = daemon();
    let admin = d.mint(ALL);
    let secret = "123456:AAsecretBOTtoken";
    let r = d.post(
        "/api/channels",
        Some(&admin),
        &json!({"name": "tg", "transport": "telegram", "config": {"token": secret}}),
    );
    assert_eq!(
        r.json(),
        json!({"ok": true, "name": "tg", "transport": "telegram", "live": true})
    );
    let path = d.state_dir().join("channels.json");
    assert!(std::fs::read_to_string(&path).unwrap().contains(secret));
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let list = d.get("/api/channels", Some(&admin));
    assert_eq!(
        list.json(),
        json!({"channels": [{"name": "tg", "transport": "telegram"}]})
    );
    let h = health(&d);
    assert_eq!(h["channels"][0]["kind"], "telegram");
    for body in [list.body, h.to_string()] {
        assert!(!body.contains(secret) && !body.contains("token"), "{body}");
    }
    assert!(eventually(Duration::from_secs(10), || d
        .log()
        .contains("poll error")));
    assert!(
        !d.log().contains("AAsecretBOTtoken"),
        "the token reached the log"
    );
}

#[test]
fn add_replace_delete_persist_and_survive_restart() {
    let mut d = daemon();
    let admin = d.mint(ALL);
    add_channel(&d, &admin, "a", "http-ui");
    let r = d.post(
        "/api/channels",
        Some(&admin),
        &json!({"name": "b", "transport": "http-ui", "config": {"ignored": true}}),
    );
    assert_eq!(
        r.json(),
        json!({"ok": true, "name": "b", "transport": "http-ui", "live": true})
    );
    let path = d.state_dir().join("channels.json");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.ends_with("}\n") && text.contains("\n  \"channels\""),
        "{text}"
    );

    // Re-POST of a name replaces it: in place in the file, moved to the end of the live map.
    add_channel(&d, &admin, "a", "http-ui");
    assert_eq!(file_names(&d), ["a", "b"]);
    let listed = d.get("/api/channels", Some(&admin)).json();
    assert_eq!(
        listed,
        json!({"channels": [{"name": "b", "transport": "http-ui"}, {"name": "a", "transport": "http-ui"}]})
    );
    assert_eq!(names(&health(&d), "channels"), ["b", "a"]);

    // Restart: the file is the source of truth (file order). Channels start right
    // after the listener, so wait for them.
    d.restart();
    assert!(eventually(Duration::from_secs(5), || names(
        &health(&d),
        "channels"
    ) == ["a", "b"]));
    let kinds: Vec<Value> = health(&d)["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].clone())
        .collect();
    assert_eq!(kinds, [json!("http-ui"), json!("http-ui")]);

    // Delete: gone from the live map and the file; a second delete reports removed:false.
    let r = d.send("DELETE", "/api/channels/a", Some(&admin), &[], None);
    assert_eq!(r.json(), json!({"ok": true, "name": "a", "removed": true}));
    assert_eq!(file_names(&d), ["b"]);
    assert_eq!(names(&health(&d), "channels"), ["b"]);
    let r = d.send("DELETE", "/api/channels/a", Some(&admin), &[], None);
    assert_eq!(r.json(), json!({"ok": true, "name": "a", "removed": false}));
    let send = d.mint("agent:send");
    let r = d.post("/api/channels/a/send", Some(&send), &json!({"text": "hi"}));
    assert_eq!((r.status, r.error()), (404, "not found".into()));

    d.restart();
    assert!(eventually(Duration::from_secs(5), || names(
        &health(&d),
        "channels"
    ) == ["b"]));
}

#[test]
fn hot_removal_closes_the_channels_streams_only() {
    let d = daemon();
    let admin = d.mint(ALL);
    add_channel(&d, &admin, "gone", "http-ui");
    add_channel(&d, &admin, "stays", "http-ui");
    let read = d.mint("agent:read");
    let mut doomed = RawSse::open(d.port, "/events?channel=gone", Some(&read));
    let mut other = RawSse::open(d.port, "/events?channel=stays", Some(&read));
    assert!(eventually(Duration::from_secs(5), || clients(&d, "gone") == Some(1)));

    let r = d.send("DELETE", "/api/channels/gone", Some(&admin), &[], None);
    assert_eq!(r.json()["removed"], true);
    assert!(
        doomed.ended_within(Duration::from_secs(5)),
        "stream of a deleted channel stays open"
    );
    assert!(!other.ended_within(Duration::from_millis(300)));
    assert_eq!(health(&d)["total_clients"], 1);

    // The surviving stream still gets traffic.
    let send = d.mint("agent:send");
    let r = d.post(
        "/api/channels/stays/send",
        Some(&send),
        &json!({"text": "still here"}),
    );
    assert_eq!(r.status, 200);
    assert!(other.wait_for("still here", Duration::from_secs(5)));
}

#[test]
fn vault_channels_are_validated_and_never_leak_their_token() {
    let d = daemon();
    let admin = d.mint(ALL);
    let r = d.post(
        "/api/channels",
        Some(&admin),
        &json!({"name": "eng", "transport": "vault", "config": {"vault": "default"}}),
    );
    assert_eq!(r.status, 400);
    assert!(
        r.error().starts_with("invalid channel config: "),
        "{}",
        r.body
    );
    assert!(!d.state_dir().join("channels.json").exists());
    let secret = "vault-secret-jwt-value";
    let r = d.post(
        "/api/channels",
        Some(&admin),
        &json!({"name": "eng", "transport": "vault",
                "config": {"vault": "default", "vaultUrl": "http://127.0.0.1:9", "token": secret,
                           "declareSchemaOnStart": false}}),
    );
    assert_eq!(r.json()["live"], true, "{}", r.body);
    let listed = d.get("/api/channels", Some(&admin));
    assert_eq!(
        listed.json(),
        json!({"channels": [{"name": "eng", "transport": "vault", "vault": "default"}]})
    );
    let h = d.get("/health", None).body;
    for body in [&listed.body, &h] {
        assert!(!body.contains(secret) && !body.contains("token"), "{body}");
    }
    let file = std::fs::read_to_string(d.state_dir().join("channels.json")).unwrap();
    assert!(file.contains(secret), "the file keeps the config");
}

#[test]
fn replacing_or_deleting_an_http_ui_channel_closes_its_pages() {
    let d = daemon();
    let admin = d.mint(ALL);
    add_channel(&d, &admin, "web", "http-ui");
    let ticket = |d: &crate::support::daemon::Daemon| {
        d.post("/api/ui/sse-ticket", Some(&admin), &json!({}))
            .json()["ticket"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let mut page = RawSse::open(
        d.port,
        &format!("/ui/events?channel=web&ticket={}", ticket(&d)),
        None,
    );
    add_channel(&d, &admin, "web", "http-ui");
    assert_eq!(page.event("close", Duration::from_secs(5)), Some(json!({})));
    assert!(page.ended_within(Duration::from_secs(5)));

    let mut page = RawSse::open(
        d.port,
        &format!("/ui/events?channel=web&ticket={}", ticket(&d)),
        None,
    );
    let r = d.send("DELETE", "/api/channels/web", Some(&admin), &[], None);
    assert_eq!(r.json()["removed"], true);
    assert_eq!(page.event("close", Duration::from_secs(5)), Some(json!({})));
    assert!(page.ended_within(Duration::from_secs(5)));
}

#[test]
fn a_corrupt_channels_file_fails_writes_with_500() {
    let d = daemon();
    let admin = d.mint(ALL);
    add_channel(&d, &admin, "web", "http-ui");
    let path = d.state_dir().join("channels.json");
    std::fs::write(&path, "{ not json").unwrap();
    let r = d.post(
        "/api/channels",
        Some(&admin),
        &json!({"name": "more", "transport": "http-ui"}),
    );
    assert_eq!(r.status, 500);
    assert!(
        r.error().starts_with("failed to write channels.json: "),
        "{}",
        r.body
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
    assert_eq!(names(&health(&d), "channels"), ["web"], "nothing went live");
    // DELETE persists first: the file failure is reported and the live
    // channel stays, so the live map never disagrees with what a restart would load.
    let r = d.send("DELETE", "/api/channels/web", Some(&admin), &[], None);
    assert_eq!(r.status, 500);
    assert!(
        r.error().starts_with("failed to update channels.json: "),
        "{}",
        r.body
    );
    assert_eq!(names(&health(&d), "channels"), ["web"], "nothing changed");
}

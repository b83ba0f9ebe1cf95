//! `/app` over plain HTTP (spec 01 §2.1.4 with the [ext]s of spec 06 §3.1): embedded files,
//! the shell's relative base and security headers, asset ETags, the `--static-dir`
//! override, and the `login-url` → `POST /api/ui/login` exchange.

use serde_json::json;

use crate::support::daemon::DaemonBuilder;

#[test]
fn app_serves_the_embedded_shell_with_a_relative_base_and_strict_headers() {
    let d = DaemonBuilder::new().start();
    for (path, base) in [
        ("/app", "app/"),
        ("/app/", "./"),
        ("/app/chat", "./"),
        ("/app/chat/eng", "../"),
        ("/app/chat/eng/x.js", "../../"),
    ] {
        let r = d.get(path, None);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(
            r.body.contains(&format!("<base href=\"{base}\">")),
            "{path}: {}",
            r.body
        );
        let csp = r
            .header("content-security-policy")
            .expect("CSP on the shell");
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(
            r.header("cache-control"),
            None,
            "no cache headers on the shell"
        );
        assert!(r.body.contains("<title>Parachute Agent</title>"));
        assert!(!r.body.contains("<script>"), "no inline script");
    }
}

#[test]
fn assets_carry_a_validator_and_answer_304_when_unchanged() {
    let d = DaemonBuilder::new().start();
    let r = d.get("/app/js/app.js", None);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/javascript; charset=utf-8")
    );
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    let etag = r.header("etag").expect("ETag").to_string();
    let again = d.send(
        "GET",
        "/app/js/app.js",
        None,
        &[("If-None-Match", &etag)],
        None,
    );
    assert_eq!(again.status, 304);
    assert!(again.body.is_empty());
    let css = d.get("/app/app.css", None);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert_ne!(css.header("etag"), Some(etag.as_str()));
    // A missing asset-shaped path is the shell; a path trick never leaves the bundle.
    assert!(d.get("/app/nope.js", None).body.contains("<base href"));
    let trick = d.get("/app/..%2f..%2fCargo.toml", None);
    assert!(!trick.body.contains("[package]"), "{}", trick.body);
}

#[test]
fn static_dir_serves_from_disk_and_without_an_app_folder_answers_503() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("app")).unwrap();
    std::fs::write(
        dir.path().join("app/index.html"),
        "<html><base href=\"./\">dev shell</html>",
    )
    .unwrap();
    std::fs::write(dir.path().join("app/x.js"), "export const v = 1;").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "outside").unwrap();
    let d = DaemonBuilder::new()
        .arg("--static-dir")
        .arg(dir.path().to_str().unwrap())
        .start();
    let shell = d.get("/app/chat/eng", None);
    assert!(shell.body.contains("dev shell") && shell.body.contains("../"));
    assert_eq!(d.get("/app/x.js", None).body, "export const v = 1;");
    std::fs::write(dir.path().join("app/x.js"), "export const v = 2;").unwrap();
    assert_eq!(
        d.get("/app/x.js", None).body,
        "export const v = 2;",
        "read per request"
    );
    std::os::unix::fs::symlink(
        dir.path().join("secret.txt"),
        dir.path().join("app/leak.txt"),
    )
    .unwrap();
    let leak = d.get("/app/leak.txt", None);
    assert_eq!((leak.status, leak.body.as_str()), (404, "not found"));

    let empty = tempfile::tempdir().unwrap();
    let d = DaemonBuilder::new()
        .env("PARACHUTE_AGENT_STATIC_DIR", empty.path().to_str().unwrap())
        .start();
    let r = d.get("/app/", None);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
}

fn code_of(link: &str) -> String {
    link.trim()
        .split_once("#login=")
        .expect("the code rides in the fragment")
        .1
        .to_string()
}

#[test]
fn login_url_prints_a_single_use_link_that_buys_a_short_lived_admin_token() {
    let d = DaemonBuilder::new().start();
    let out = d.run_cli(&["login-url", "--port", &d.port.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = String::from_utf8(out.stdout).unwrap();
    assert!(
        link.starts_with(&format!("http://127.0.0.1:{}/app/#login=", d.port)),
        "{link}"
    );
    assert_eq!(link.lines().count(), 1, "the link alone on stdout");
    let code = code_of(&link);
    let file = d.state_dir().join("ui-login-codes.json");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains(&code), "only a hash of the code is stored");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let r = d.post("/api/ui/login", None, &json!({"code": code}));
    assert_eq!(r.status, 200, "{}", r.body);
    let token = r.json()["token"].as_str().unwrap().to_string();
    assert_eq!(r.json()["scopes"], "agent:read agent:send agent:admin");
    assert_eq!(d.get("/api/agents", Some(&token)).status, 200);
    assert_eq!(d.get("/api/agent-defs", Some(&token)).status, 200);
    let again = d.post("/api/ui/login", None, &json!({"code": code}));
    assert_eq!(again.status, 401, "single use");
    assert_eq!(again.error(), "invalid or expired login code");
    assert_eq!(d.post("/api/ui/login", None, &json!({})).status, 400);
    // The exchange is rate-limited: a flood of guesses gets 429 before the window resets.
    let statuses: Vec<u16> = (0..12)
        .map(|_| {
            d.post("/api/ui/login", None, &json!({"code": "guess"}))
                .status
        })
        .collect();
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(!d.log().contains(&code), "the code is never logged");
    assert!(!d.log().contains(&token), "the token is never logged");
}

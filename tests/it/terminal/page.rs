//! The page and its assets over plain HTTP (spec 06 §2.2 rows 2–3, §5 "Terminal page"),
//! and the page in a real browser (`tests/browser/terminal_page.py`: Debian chromium +
//! Playwright; skips without them, fails under `PARACHUTE_TEST_REQUIRE_ALL=1`).

use std::process::Command;

use super::*;
use crate::support::browser;

#[test]
fn the_page_and_its_assets_are_served_with_their_types() {
    let d = DaemonBuilder::new().start();
    for path in ["/terminal", "/terminal/eng", "/terminal/assets"] {
        let r = d.get(path, None);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert!(r.body.contains("<title>parachute-agent · terminal</title>"));
    }
    for (name, ty) in [
        ("xterm.js", "text/javascript; charset=utf-8"),
        ("addon-fit.js", "text/javascript; charset=utf-8"),
        ("xterm.css", "text/css; charset=utf-8"),
    ] {
        let r = d.get(&format!("/terminal/assets/{name}"), None);
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(r.header("content-type"), Some(ty), "{name}");
        assert_eq!(
            r.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
    }
    assert!(d
        .get("/terminal/assets/xterm.js", None)
        .body
        .contains("Terminal"));
    for path in [
        "/terminal/assets/evil.js",
        "/terminal/assets/xterm.js.map",
        "/terminal/assets/",
        "/terminal/",
    ] {
        let r = d.get(path, None);
        assert_eq!(
            (r.status, r.error()),
            (404, "not found".to_string()),
            "{path}"
        );
    }
    let r = d.get("/terminal/assets/..%2F..%2Fetc%2Fpasswd", None);
    assert!(r.status == 404 || r.status == 400, "{}", r.status);
    assert!(!r.body.contains("root:"));
}

#[test]
fn the_page_in_a_real_browser() {
    if !tmux_available() || !browser::available("the terminal page browser test") {
        return;
    }
    let tmux = Tmux::new();
    let agent = agent_name("page");
    tmux.session(&format!("{agent}-agent"));
    let d = daemon(&tmux, &[]);
    let admin = d.mint("agent:admin");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/browser/terminal_page.py"
    );
    let out = Command::new("timeout")
        .args([
            "180", "python3", script, "--base", &d.base, "--token", &admin,
        ])
        .args(["--agent", &agent])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}\ndaemon log tail:\n{}",
        String::from_utf8_lossy(&out.stderr),
        d.log()
            .lines()
            .rev()
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        stdout.contains("OK: terminal page checks passed"),
        "{stdout}"
    );
}

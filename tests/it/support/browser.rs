//! The real browser the UI tests drive: Debian's chromium (`/usr/bin/chromium`) through the
//! Playwright Python package (`executable_path`, never Playwright's own browser download).
//! A test that needs it skips with a visible reason on a machine without them and fails
//! under `PARACHUTE_TEST_REQUIRE_ALL=1` (CI, `.ci/run` installs both).

use std::path::Path;
use std::process::Command;

pub const CHROMIUM: &str = "/usr/bin/chromium";

/// What is missing for a browser test, if anything.
fn missing() -> Option<String> {
    if !Path::new(CHROMIUM).exists() {
        return Some(format!("{CHROMIUM} is missing (apt-get install chromium)"));
    }
    let playwright = Command::new("python3")
        .args(["-c", "import playwright.sync_api"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !playwright {
        return Some("the playwright Python package is missing (pip install playwright)".into());
    }
    None
}

/// Whether chromium and Playwright are here. When not: panics under
/// `PARACHUTE_TEST_REQUIRE_ALL=1`, else prints `SKIPPED <test>: <why>` and returns false.
pub fn available(test: &str) -> bool {
    let Some(why) = missing() else {
        return true;
    };
    assert!(
        std::env::var("PARACHUTE_TEST_REQUIRE_ALL").as_deref() != Ok("1"),
        "{test} needs a real browser here (PARACHUTE_TEST_REQUIRE_ALL=1): {why}"
    );
    eprintln!("SKIPPED {test}: {why}");
    false
}

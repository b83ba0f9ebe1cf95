//! `parachute-agent doctor` (beyond the reference): checks an install the way an
//! operator would, and says for every failed check how to fix it. Exit 0 when nothing
//! failed, 1 otherwise; `--json` prints `{"ok", "checks":[{name, status, detail, fix?}]}`.
//! Each check is read-only: files are only read, the port only probed, the hub and the
//! def-vaults only sent GETs.

mod checks;
mod claude;
mod files;
mod network;

use serde::Serialize;

use crate::config::Config;

/// How one check came out. `Warn` and `Skip` never fail the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warn,
    Fail,
    Skip,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: String,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    pub fn ok(name: &str, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Ok, detail, None)
    }
    pub fn skip(name: &str, detail: impl Into<String>) -> Check {
        Check::new(name, Status::Skip, detail, None)
    }
    pub fn warn(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(name, Status::Warn, detail, Some(fix.into()))
    }
    pub fn fail(name: &str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check::new(name, Status::Fail, detail, Some(fix.into()))
    }
    fn new(name: &str, status: Status, detail: impl Into<String>, fix: Option<String>) -> Check {
        Check {
            name: name.to_string(),
            status,
            detail: detail.into(),
            fix,
        }
    }
}

/// Runs every check against `config` (the same configuration `serve` would use).
pub fn run_checks(config: &Config) -> Vec<Check> {
    checks::all(config)
}

/// The human report: one line per check, the fix indented under a failure or warning.
pub fn render_text(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = match c.status {
            Status::Ok => "ok  ",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        };
        out.push_str(&format!("[{mark}] {}: {}\n", c.name, c.detail));
        if let Some(fix) = &c.fix {
            out.push_str(&format!("       fix: {fix}\n"));
        }
    }
    let failed = checks.iter().filter(|c| c.status == Status::Fail).count();
    if failed == 0 {
        out.push_str("doctor: all checks passed\n");
    } else {
        out.push_str(&format!("doctor: {failed} check(s) failed\n"));
    }
    out
}

/// `doctor [--json]`: prints the report, returns the exit code.
pub fn main(config: &Config, json: bool) -> i32 {
    let checks = run_checks(config);
    let ok = checks.iter().all(|c| c.status != Status::Fail);
    if json {
        let doc = serde_json::json!({ "ok": ok, "checks": checks });
        println!("{doc}");
    } else {
        print!("{}", render_text(&checks));
    }
    if ok {
        0
    } else {
        1
    }
}

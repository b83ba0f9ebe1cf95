//! The `claude` checks: on `PATH`, its version, a Claude credential the turns can use, and
//! whether `claude --help` lists every flag the daemon's argv uses.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::Check;
use crate::config::Config;

const PROBE_TIMEOUT: Duration = Duration::from_secs(15);

/// Output of a short probe command.
pub struct Probe {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `program args` with stdin closed, killing it after [`PROBE_TIMEOUT`].
pub fn probe(
    program: &Path,
    args: &[&str],
    path: Option<&std::ffi::OsStr>,
) -> Result<Probe, String> {
    let mut cmd = Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
    let read = |r: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut s = String::new();
            if let Some(mut r) = r {
                let _ = r.read_to_string(&mut s);
            }
            s
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>),
    );
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) if started.elapsed() < PROBE_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(20))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "{} {} did not finish within {}s",
                    program.display(),
                    args.join(" "),
                    PROBE_TIMEOUT.as_secs()
                ));
            }
        }
    };
    Ok(Probe {
        success: status.success(),
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}

pub fn checks(config: &Config, out: &mut Vec<Check>) {
    let path = config.host.path.as_deref();
    let Some(claude) = crate::sandbox::preflight::which_in("claude", path) else {
        out.push(Check::fail(
            "claude",
            "the Claude Code CLI is not on PATH",
            "curl -fsSL https://claude.ai/install.sh | bash  (then make sure the daemon's PATH includes it)",
        ));
        return;
    };
    match probe(&claude, &["--version"], path) {
        Ok(p) if p.success => out.push(Check::ok(
            "claude",
            format!("{} ({})", claude.display(), p.stdout.trim()),
        )),
        Ok(p) => out.push(Check::fail(
            "claude",
            format!("{} --version failed: {}", claude.display(), p.stderr.trim()),
            "reinstall the Claude Code CLI: curl -fsSL https://claude.ai/install.sh | bash",
        )),
        Err(e) => out.push(Check::fail("claude", e, "reinstall the Claude Code CLI")),
    }
    out.push(credential(config, &claude));
    out.push(flags(&claude, path));
}

/// Turns run under a private HOME with the token stored in `credentials.json`, so that
/// token is what counts; `claude auth status` only tells whether the CLI itself is logged in.
fn credential(config: &Config, claude: &Path) -> Check {
    let name = "claude credential";
    let stored = stored_credentials(&config.state_dir);
    if !stored.is_empty() {
        return Check::ok(
            name,
            format!("stored in credentials.json: {}", stored.join(", ")),
        );
    }
    let cli = match probe(claude, &["auth", "status", "--json"], config.host.path.as_deref()) {
        Ok(p) if p.success => "the CLI itself is logged in (`claude auth status`), but turns run under a private HOME and do not see that login",
        _ => "`claude auth status` reports no login either",
    };
    Check::fail(
        name,
        format!("no Claude token in {}/credentials.json; {cli}", config.state_dir.display()),
        "run `claude setup-token`, then store the token: POST /api/credentials/claude {\"token\":\"…\"} (step-up needed; see README \"Step-up PIN and the Claude token\")",
    )
}

/// Which Claude tokens `credentials.json` holds (`default`, `channel <name>`), never values.
fn stored_credentials(state_dir: &Path) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(state_dir.join("credentials.json")) else {
        return Vec::new();
    };
    let Ok(doc) = serde_json::from_str::<serde_json::Value>(&text) else {
        return Vec::new();
    };
    let set = |v: &serde_json::Value| v.as_str().is_some_and(|s| !s.trim().is_empty());
    let mut names = Vec::new();
    if set(&doc["claude"]["default"]) {
        names.push("default".to_string());
    }
    if let Some(chs) = doc["claude"]["channels"].as_object() {
        names.extend(
            chs.iter()
                .filter(|(_, v)| set(v))
                .map(|(k, _)| format!("channel {k}")),
        );
    }
    names
}

fn flags(claude: &Path, path: Option<&std::ffi::OsStr>) -> Check {
    let name = "claude flags";
    let help = match probe(claude, &["--help"], path) {
        Ok(p) => format!("{}\n{}", p.stdout, p.stderr),
        Err(e) => return Check::warn(name, e, "check that `claude --help` runs"),
    };
    let used = crate::backend::programmatic::argv::flags_used();
    let missing: Vec<&str> = used
        .iter()
        .copied()
        .filter(|f| !help_lists(&help, f))
        .collect();
    if missing.is_empty() {
        Check::ok(
            name,
            format!(
                "`claude --help` lists all {} flags the daemon uses",
                used.len()
            ),
        )
    } else {
        Check::warn(
            name,
            format!("`claude --help` does not list: {}", missing.join(" ")),
            "update the Claude Code CLI (`claude update`); a flag the CLI does not know fails every turn that uses it (some flags are hidden from --help: try one turn)",
        )
    }
}

/// `flag` appears in the help text as a whole word.
fn help_lists(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| {
        let before = help[..i].chars().next_back();
        let after = help[i + flag.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_match_is_whole_word() {
        let help = "  -p, --print  Print\n  --model <m>\n  --max-turns-ish";
        assert!(help_lists(help, "-p"));
        assert!(help_lists(help, "--model"));
        assert!(!help_lists(help, "--max-turns"));
        assert!(!help_lists(help, "--mod"));
    }
}

//! The `claude` checks: on `PATH`, its version, a Claude credential the turns can use, and
//! whether the CLI accepts every flag the daemon's argv uses. `--help` is not the authority
//! there: the real CLI hides flags it accepts (2.1.332 leaves `--max-turns` and
//! `--append-system-prompt-file` out of its help), so the daemon's own command lines are
//! handed to the CLI without a prompt — it parses every option, then stops at "Input must
//! be provided" (or "No conversation found" for `--resume`) before any API call, while an
//! unknown flag stops it at "unknown option '<flag>'".

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
    cmd.args(args);
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    run_probe(cmd, program, args)
}

fn run_probe(mut cmd: Command, program: &Path, args: &[&str]) -> Result<Probe, String> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
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
    let used = crate::backend::programmatic::argv::flags_used();
    let dir = match ProbeDir::create() {
        Ok(d) => d,
        Err(e) => return Check::warn(name, e, "check that the temp dir is writable"),
    };
    let mut rejected: Vec<String> = Vec::new();
    for argv in crate::backend::programmatic::argv::sample_argvs(&dir.0) {
        let out = match parse_probe(claude, path, &dir.0, &argv) {
            Ok(out) => out,
            Err(e) => return Check::warn(name, e, "check that `claude -p` runs"),
        };
        match parse_verdict(&out) {
            Verdict::Accepted => {}
            Verdict::Rejected(flag) => {
                if !rejected.contains(&flag) {
                    rejected.push(flag);
                }
            }
            Verdict::Unclear => {
                let tail: String = out.trim().chars().take(300).collect();
                return Check::warn(
                    name,
                    format!("could not tell whether `claude` accepts the daemon's flags: {tail}"),
                    "run one turn and read its failure, if any",
                );
            }
        }
    }
    if !rejected.is_empty() {
        return Check::fail(
            name,
            format!("`claude` rejects {} (the daemon passes it on turns)", rejected.join(" ")),
            "install a Claude Code CLI that knows the flag (`claude update`, or the version the daemon was tested with: 2.1.332); every turn that uses it fails",
        );
    }
    let hidden = match probe(claude, &["--help"], path) {
        Ok(p) => {
            let help = format!("{}\n{}", p.stdout, p.stderr);
            used.iter()
                .copied()
                .filter(|f| !help_lists(&help, f))
                .collect()
        }
        Err(_) => Vec::new(),
    };
    let note = if hidden.is_empty() {
        String::new()
    } else {
        format!(" ({} hidden from --help)", hidden.join(" "))
    };
    Check::ok(
        name,
        format!(
            "`claude` accepts all {} flags the daemon uses{note}",
            used.len()
        ),
    )
}

/// What the CLI said about one prompt-less command line.
#[derive(Debug, PartialEq)]
enum Verdict {
    Accepted,
    Rejected(String),
    Unclear,
}

fn parse_verdict(out: &str) -> Verdict {
    if let Some(rest) = out.split("unknown option '").nth(1) {
        let flag = rest.split('\'').next().unwrap_or("").to_string();
        return Verdict::Rejected(flag);
    }
    if out.contains("Input must be provided") || out.contains("No conversation found") {
        return Verdict::Accepted;
    }
    Verdict::Unclear
}

/// Runs the CLI on `argv` minus its prompt (the element after `-p`), in a private dir with
/// its own HOME and config dir, so nothing of the operator's `~/.claude` is touched.
fn parse_probe(
    claude: &Path,
    path: Option<&std::ffi::OsStr>,
    dir: &Path,
    argv: &[String],
) -> Result<String, String> {
    let mut args: Vec<&str> = Vec::with_capacity(argv.len());
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        args.push(a);
        if a == "-p" {
            it.next();
        }
    }
    let mut cmd = Command::new(claude);
    cmd.args(&args)
        .current_dir(dir)
        .env("HOME", dir.join("home"))
        .env("CLAUDE_CONFIG_DIR", dir.join("home/.claude"))
        .env("TMPDIR", dir)
        .env("IS_SANDBOX", "1")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("CLAUDE_CODE_OAUTH_TOKEN");
    if let Some(p) = path {
        cmd.env("PATH", p);
    }
    let p = run_probe(cmd, claude, &args)?;
    Ok(format!("{}\n{}", p.stdout, p.stderr))
}

/// A private scratch dir for the parse probe (the files the argv names), removed on drop.
struct ProbeDir(std::path::PathBuf);

impl ProbeDir {
    fn create() -> Result<ProbeDir, String> {
        let dir =
            std::env::temp_dir().join(format!("parachute-doctor-{}", crate::util::rand::token(9)));
        let fail = |e: std::io::Error| format!("cannot create {}: {e}", dir.display());
        crate::util::fsx::ensure_private_dir(&dir.join("home/.claude")).map_err(fail)?;
        std::fs::write(dir.join(".mcp.json"), "{\"mcpServers\":{}}").map_err(fail)?;
        std::fs::write(dir.join("system-prompt.txt"), "doctor").map_err(fail)?;
        Ok(ProbeDir(dir))
    }
}

impl Drop for ProbeDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
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
    fn parse_verdicts_of_the_real_cli() {
        assert_eq!(
            parse_verdict("\nError: Input must be provided either through stdin or as a prompt argument when using --print"),
            Verdict::Accepted
        );
        assert_eq!(
            parse_verdict("No conversation found with session ID: 0000"),
            Verdict::Accepted
        );
        assert_eq!(
            parse_verdict("error: unknown option '--max-turnz'\n"),
            Verdict::Rejected("--max-turnz".into())
        );
        assert_eq!(parse_verdict("Segmentation fault"), Verdict::Unclear);
    }

    #[test]
    fn help_match_is_whole_word() {
        let help = "  -p, --print  Print\n  --model <m>\n  --max-turns-ish";
        assert!(help_lists(help, "-p"));
        assert!(help_lists(help, "--model"));
        assert!(!help_lists(help, "--max-turns"));
        assert!(!help_lists(help, "--mod"));
    }
}

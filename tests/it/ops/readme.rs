//! The README cannot rot: every ```sh block of `README.md` runs, in order, in
//! one bash session against a daemon started like the README starts it (standalone, the
//! fake `claude` and this build's `parachute-agent` on PATH), with `set -e`: a command that
//! fails fails the test. A block preceded by `<!-- readme-test: skip: <reason> -->` is not
//! run (it needs a hub, a vault, Telegram, a real Claude login, or it installs or starts
//! things itself); the reason is printed. What the harness changes, and only this: the
//! port `1941` becomes the test daemon's, `curl -N` streams are cut after 3 s, and `HOME`
//! is a scratch dir with a `claude-oauth-token` file.

use std::path::Path;
use std::process::Command;

use crate::programmatic::api::fakes_path;
use crate::support::daemon::{DaemonBuilder, BIN};

struct Block {
    line: usize,
    text: String,
    skip: Option<String>,
}

fn blocks(readme: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut marker: Option<String> = None;
    let mut current: Option<Block> = None;
    for (i, line) in readme.lines().enumerate() {
        if let Some(b) = current.as_mut() {
            if line.trim_start().starts_with("```") {
                out.push(current.take().unwrap());
            } else {
                b.text.push_str(line);
                b.text.push('\n');
            }
            continue;
        }
        if line.trim() == "```sh" {
            current = Some(Block {
                line: i + 1,
                text: String::new(),
                skip: marker.take(),
            });
        } else if let Some(rest) = line.trim().strip_prefix("<!-- readme-test: skip:") {
            marker = Some(rest.trim_end_matches("-->").trim().to_string());
        } else if !line.trim().is_empty() {
            marker = None;
        }
    }
    out
}

fn script(blocks: &[Block], port: u16) -> String {
    let mut s = String::from("set -euo pipefail\n");
    for b in blocks.iter().filter(|b| b.skip.is_none()) {
        s.push_str(&format!("echo '### README.md line {}' >&2\n", b.line));
        for line in b.text.lines() {
            let line = line.replace("127.0.0.1:1941", &format!("127.0.0.1:{port}"));
            let line = if line.trim_start().starts_with("curl -N") {
                format!("timeout 3 {line} || true")
            } else {
                line
            };
            s.push_str(&line);
            s.push('\n');
        }
    }
    s
}

#[test]
fn the_readme_blocks_are_marked_and_parsed() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let all = blocks(&readme);
    assert!(all.len() >= 10, "{}", all.len());
    assert!(all.iter().any(|b| b.skip.is_none()), "nothing runs");
    for b in &all {
        if let Some(reason) = &b.skip {
            assert!(
                !reason.is_empty(),
                "README.md line {}: a skip needs its reason",
                b.line
            );
        }
    }
}

#[test]
fn every_standalone_readme_command_works_as_written() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let all = blocks(&readme);
    let bin_dir = Path::new(BIN).parent().unwrap().display().to_string();
    let path = format!("{bin_dir}:{}", fakes_path());
    let d = DaemonBuilder::new().env("PATH", &path).start();
    let home = d.tmp().join("home");
    std::fs::write(home.join("claude-oauth-token"), "sk-ant-oat01-readme-test").unwrap();
    for b in all.iter().filter(|b| b.skip.is_some()) {
        eprintln!(
            "README.md line {}: skipped ({})",
            b.line,
            b.skip.as_deref().unwrap()
        );
    }
    let text = script(&all, d.port);
    let mut cmd = Command::new("timeout");
    cmd.arg("240").arg("bash").arg("-c").arg(&text).env_clear();
    for k in [
        "PATH",
        "HOME",
        "PARACHUTE_HOME",
        "PARACHUTE_AGENT_STATE_DIR",
        "PARACHUTE_HUB_ORIGIN",
    ] {
        if let Some(v) = d.env_value(k) {
            cmd.env(k, v);
        }
    }
    cmd.current_dir(d.tmp());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "a README command failed ({:?}):\n--- stderr\n{}\n--- stdout\n{}\n--- daemon log\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout),
        d.log()
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The agents walkthrough wakes a turn whose reply reaches the channel.
    assert!(
        stdout.contains("echo: "),
        "no turn reply in the README run:\n{stdout}\n{}",
        d.log()
    );
}
